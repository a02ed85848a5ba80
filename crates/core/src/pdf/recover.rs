//! Rebuilding the cross-reference data by scanning the file for objects, when the file's own
//! cross-reference sections are missing or wrong.
//!
//! The scan reads the file once in large windows. It finds `num generation obj` headers (a later
//! definition of a number wins, as in an incremental update), the last trailer that names a
//! catalog, and the members of object streams. Its cost grows with the file, so it runs only when
//! the cross-reference chain failed.

use super::object::{Dictionary, Object, is_delimiter, is_whitespace};
use super::parser::Parser;
use super::reader::{Document, MAX_OBJECT_NUMBER, MAX_WINDOW, XrefEntry, malformed};
use super::{PdfError, Source};

/// An object header found by the scan: number, generation, offset.
type Header = (u32, u16, u64);

const SCAN_WINDOW: usize = 1 << 20;
const OVERLAP: usize = 64;

impl<S: Source + ?Sized> Document<'_, S> {
    /// Replaces the cross-reference data by what a scan of the file finds.
    pub(crate) fn recover(&mut self) -> Result<(), PdfError> {
        self.recovered = true;
        self.last_section = None;
        self.entries.clear();
        self.trailer = Dictionary::new();
        let (headers, trailers) = self.scan()?;
        let mut bounds: Vec<u64> = headers
            .iter()
            .map(|h| h.2)
            .chain(trailers.iter().copied())
            .collect();
        bounds.sort_unstable();
        let bounds = Bounds(bounds);
        for (num, generation, offset) in headers {
            self.entries
                .insert(num, XrefEntry::InFile { offset, generation });
        }
        self.add_object_stream_members(&bounds);
        self.trailer = self.recovered_trailer(&trailers, &bounds)?;
        self.catalog().map(drop)
    }

    /// Finds every `num generation obj` header and every `trailer` keyword, in file order.
    fn scan(&self) -> Result<(Vec<Header>, Vec<u64>), PdfError> {
        let mut headers = Vec::new();
        let mut trailers = Vec::new();
        let mut start = 0u64;
        while start < self.len {
            let window = self.read(start, SCAN_WINDOW + OVERLAP)?;
            let fresh = SCAN_WINDOW.min(window.len());
            for at in memchr::memmem::find_iter(&window, b"obj") {
                let header = (at < fresh)
                    .then(|| object_header_before(&window, at))
                    .flatten();
                let header = header.filter(|(num, _, _)| *num <= MAX_OBJECT_NUMBER);
                if let Some((num, generation, header)) = header {
                    headers.push((num, generation, start + header as u64));
                }
            }
            for at in memchr::memmem::find_iter(&window[..fresh], b"trailer") {
                trailers.push(start + at as u64);
            }
            if names_encryption(&window) {
                return Err(PdfError::Encrypted);
            }
            start += SCAN_WINDOW as u64;
        }
        Ok((headers, trailers))
    }

    /// Registers the objects held in object streams that no plain object defines again.
    fn add_object_stream_members(&mut self, bounds: &Bounds) {
        let candidates: Vec<(u32, u64)> = self
            .entries
            .iter()
            .filter_map(|(&num, entry)| match entry {
                XrefEntry::InFile { offset, .. } => Some((num, *offset)),
                _ => None,
            })
            .collect();
        for (stream, offset) in candidates {
            let Ok((_, Object::Stream(object))) =
                self.parse_bounded(offset, bounds, |p| p.indirect_object())
            else {
                continue;
            };
            if object.dict.name(b"Type") != Some(b"ObjStm") {
                continue;
            }
            let Ok(data) = self.stream_data(&object) else {
                continue;
            };
            let first = object.dict.integer(b"First").unwrap_or(0).max(0) as usize;
            let count = object.dict.integer(b"N").unwrap_or(0).max(0);
            let mut header = Parser::new(&data[..first.min(data.len())], 0, true);
            for index in 0..count {
                let Ok(num) = header.unsigned() else { break };
                if header.unsigned().is_err() {
                    break;
                }
                let (Ok(num), Ok(index)) = (u32::try_from(num), u32::try_from(index)) else {
                    break;
                };
                self.entries
                    .entry(num)
                    .or_insert(XrefEntry::InStream { stream, index });
            }
        }
    }

    /// The last trailer dictionary that names a catalog; else a cross-reference stream's
    /// dictionary; else a trailer made up around the last catalog found.
    fn recovered_trailer(
        &mut self,
        trailers: &[u64],
        bounds: &Bounds,
    ) -> Result<Dictionary, PdfError> {
        for &at in trailers.iter().rev() {
            let parsed = self.parse_bounded(at, bounds, |p| {
                p.expect_keyword(b"trailer")?;
                p.object()
            });
            if let Ok(Object::Dictionary(dict)) = parsed
                && dict.reference(b"Root").is_some()
            {
                return Ok(dict);
            }
        }

        let mut nums: Vec<u32> = self.entries.keys().copied().collect();
        nums.sort_unstable_by(|a, b| b.cmp(a));
        let mut catalog = None;
        for num in nums {
            let Some(XrefEntry::InFile { offset, generation }) = self.entries.get(&num).copied()
            else {
                continue;
            };
            let Ok((_, object)) = self.parse_bounded(offset, bounds, |p| p.indirect_object())
            else {
                continue;
            };
            let Some(dict) = object.as_dict() else {
                continue;
            };
            if dict.name(b"Type") == Some(b"XRef") && dict.reference(b"Root").is_some() {
                return Ok(dict.clone());
            }
            if dict.name(b"Type") == Some(b"Catalog") && catalog.is_none() {
                catalog = Some(super::ObjRef::new(num, generation));
            }
        }
        let root = catalog.ok_or_else(|| malformed(0, "no document catalog found in the file"))?;
        let mut dict = Dictionary::new();
        dict.set(b"Root", Object::Reference(root));
        Ok(dict)
    }
}

impl<S: Source + ?Sized> Document<'_, S> {
    /// Parses at `offset` within the bytes up to the next header or trailer the scan found.
    /// Without that bound, a file of many unterminated objects would cost a read to the end of
    /// the file for each of them.
    fn parse_bounded<T>(
        &self,
        offset: u64,
        bounds: &Bounds,
        parse: impl FnOnce(&mut Parser<'_>) -> super::parser::ParseResult<T>,
    ) -> Result<T, PdfError> {
        let end = bounds.next_after(offset).unwrap_or(self.len);
        let len = usize::try_from(end - offset)
            .unwrap_or(usize::MAX)
            .min(MAX_WINDOW);
        let window = self.read(offset, len)?;
        parse(&mut Parser::new(&window, offset, true)).map_err(|error| match error {
            super::parser::ParseError::Syntax { offset, reason } => malformed(offset, reason),
            super::parser::ParseError::Incomplete => malformed(offset, "incomplete object"),
        })
    }
}

/// The sorted offsets of every header and trailer the scan found.
struct Bounds(Vec<u64>);

impl Bounds {
    /// The first bound after `offset`.
    fn next_after(&self, offset: u64) -> Option<u64> {
        let index = self.0.partition_point(|&b| b <= offset);
        self.0.get(index).copied()
    }
}

/// True when `window` holds a name that only encrypted files use: the trailer's /Encrypt, or
/// the /Standard and /Recipients of the encryption dictionary (ISO 32000-2 section 7.6). When
/// the trailer is what was damaged, the encryption dictionary still tells that the strings and
/// streams are encrypted, and such a file must not be taken for a plain one. (A plain file
/// that spells such a name in an uncompressed stream is refused too, but only when damaged.)
fn names_encryption(window: &[u8]) -> bool {
    [&b"/Encrypt"[..], b"/Standard", b"/Recipients"]
        .iter()
        .any(|name| {
            memchr::memmem::find_iter(window, name).any(|at| {
                let next = window.get(at + name.len()).copied();
                next.is_none_or(|b| is_whitespace(b) || is_delimiter(b))
            })
        })
}

/// When `window[at..]` starts the keyword `obj` of a `num generation obj` header, the object number,
/// generation and the offset of the header's first digit.
fn object_header_before(window: &[u8], at: usize) -> Option<(u32, u16, usize)> {
    let after = window.get(at + 3).copied();
    if after.is_some_and(|b| !is_whitespace(b) && !is_delimiter(b)) {
        return None;
    }
    let mut i = at;
    let gen_end = skip_back_whitespace(window, i)?;
    i = skip_back_digits(window, gen_end)?;
    let generation = parse_digits(&window[i..gen_end])?;
    let num_end = skip_back_whitespace(window, i)?;
    i = skip_back_digits(window, num_end)?;
    let num = parse_digits(&window[i..num_end])?;
    if i > 0 && !is_whitespace(window[i - 1]) && !is_delimiter(window[i - 1]) {
        return None;
    }
    Some((u32::try_from(num).ok()?, u16::try_from(generation).ok()?, i))
}

/// The index where a run of at least one white-space byte ending at `end` starts.
fn skip_back_whitespace(window: &[u8], end: usize) -> Option<usize> {
    let mut i = end;
    while i > 0 && is_whitespace(window[i - 1]) {
        i -= 1;
    }
    (i < end).then_some(i)
}

/// The index where a run of at least one digit ending at `end` starts.
fn skip_back_digits(window: &[u8], end: usize) -> Option<usize> {
    let mut i = end;
    while i > 0 && window[i - 1].is_ascii_digit() && end - i < 10 {
        i -= 1;
    }
    (i < end).then_some(i)
}

fn parse_digits(digits: &[u8]) -> Option<u64> {
    std::str::from_utf8(digits).ok()?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_object_headers_and_rejects_look_alikes() {
        let text = b"x\n12 0 obj\n<<>>\nendobj 3 1 obj ab 4 0 object";
        let found: Vec<_> = memchr::memmem::find_iter(text, b"obj")
            .filter_map(|at| object_header_before(text, at))
            .collect();
        assert_eq!(found, vec![(12, 0, 2), (3, 1, 23)]);
    }
}
