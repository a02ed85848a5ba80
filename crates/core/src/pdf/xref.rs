//! The cross-reference chain (ISO 32000-2 sections 7.5.4 to 7.5.8): `startxref`, classic tables,
//! cross-reference streams, hybrid files and `/Prev` chains, and the check that every entry
//! points at the object it names.

use std::collections::{HashMap, HashSet};

use super::object::{Dictionary, Object};
use super::parser::{ParseResult, Parser};
use super::reader::{Document, MAX_OBJECT_NUMBER, XrefEntry, XrefKind, malformed};
use super::{PdfError, Source};

/// More sections than this in one chain are taken for a loop.
const MAX_SECTIONS: usize = 10_000;

/// The entries of one section and its trailer dictionary.
type Section = (Vec<(u32, XrefEntry)>, Dictionary);

impl<S: Source + ?Sized> Document<'_, S> {
    pub(crate) fn read_xref_chain(&mut self) -> Result<(), PdfError> {
        let start = self.find_startxref()?;
        let (first, kind) = self.locate_section(start)?;
        self.last_section = Some((first, kind));

        let mut visited = HashSet::new();
        let mut next = Some((first, kind));
        while let Some((offset, kind)) = next {
            if !visited.insert(offset) || visited.len() > MAX_SECTIONS {
                return Err(malformed(
                    offset,
                    "the /Prev chain of cross-reference sections loops",
                ));
            }
            let (section, trailer) = match kind {
                XrefKind::Table => self.read_table_section(offset)?,
                XrefKind::Stream => self.read_stream_section(offset)?,
            };
            for (num, entry) in section {
                self.entries.entry(num).or_insert(entry);
            }
            if self.entries.len() > self.max_entries() {
                return Err(malformed(offset, "more objects than the file has bytes"));
            }
            for key in [&b"Root"[..], b"Info", b"ID", b"Encrypt", b"Size"] {
                if let (None, Some(value)) = (self.trailer.get(key), trailer.get(key)) {
                    self.trailer.set(key, value.clone());
                }
            }
            next = match trailer.integer(b"Prev").and_then(|p| u64::try_from(p).ok()) {
                Some(prev) => Some(self.locate_section(prev)?),
                None => None,
            };
        }
        Ok(())
    }

    /// The offset after the last `startxref` keyword.
    fn find_startxref(&self) -> Result<u64, PdfError> {
        for window in [1024u64, 64 << 10, 1 << 20] {
            let start = self.len.saturating_sub(window);
            let tail = self.read(start, (self.len - start) as usize)?;
            if let Some(at) = memchr::memmem::rfind(&tail, b"startxref") {
                let after = at + b"startxref".len();
                let mut parser = Parser::new(&tail[after..], start + after as u64, true);
                return parser
                    .unsigned()
                    .map_err(|_| malformed(start + after as u64, "bad startxref"));
            }
            if start == 0 {
                break;
            }
        }
        Err(malformed(
            self.len,
            "no `startxref` near the end of the file",
        ))
    }

    /// The section at `offset`; an offset a few bytes off is corrected to the nearest `xref`.
    fn locate_section(&self, offset: u64) -> Result<(u64, XrefKind), PdfError> {
        if offset < self.len {
            let head = self.read(offset, 32)?;
            let trimmed = head
                .iter()
                .position(|b| !b.is_ascii_whitespace())
                .unwrap_or(head.len());
            let found = offset + trimmed as u64;
            if head[trimmed..].starts_with(b"xref") {
                return Ok((found, XrefKind::Table));
            }
            if head.get(trimmed).is_some_and(u8::is_ascii_digit) && self.is_object_start(offset) {
                return Ok((found, XrefKind::Stream));
            }
        }
        let from = offset.saturating_sub(64).min(self.len);
        let near = self.read(from, 128)?;
        if let Some(at) = memchr::memmem::find(&near, b"xref") {
            let corrected = from + at as u64;
            let preceded_by_space = at == 0 || near[at - 1].is_ascii_whitespace();
            if preceded_by_space && corrected != offset {
                return Ok((corrected, XrefKind::Table));
            }
        }
        Err(malformed(
            offset,
            "no cross-reference section at this offset",
        ))
    }

    fn is_object_start(&self, offset: u64) -> bool {
        self.parse_at(offset, |p| {
            p.unsigned()?;
            p.unsigned()?;
            p.expect_keyword(b"obj")
        })
        .is_ok()
    }

    fn read_table_section(&mut self, offset: u64) -> Result<Section, PdfError> {
        let limit = self.max_entries();
        let (mut section, trailer) = self.parse_at(offset, |p| parse_table(p, limit))?;
        // A hybrid file: the table's trailer names a stream with the compressed objects, which
        // fills what the table leaves free (ISO 32000-2 section 7.5.8.4).
        if let Some(at) = trailer
            .integer(b"XRefStm")
            .and_then(|o| u64::try_from(o).ok())
        {
            let (compressed, _) = self.read_stream_section(at)?;
            let mut merged: HashMap<u32, XrefEntry> = compressed.into_iter().collect();
            merged.extend(section);
            section = merged.into_iter().collect();
        }
        Ok((section, trailer))
    }

    fn read_stream_section(&mut self, offset: u64) -> Result<Section, PdfError> {
        let (_, object) = self.parse_at(offset, |p| p.indirect_object())?;
        let Object::Stream(stream) = object else {
            return Err(malformed(offset, "expected a cross-reference stream"));
        };
        if stream.dict.name(b"Type") != Some(b"XRef") {
            return Err(malformed(
                offset,
                "the object here is not a cross-reference stream",
            ));
        }
        let data = self.stream_data(&stream)?;
        let limit = self.max_entries();
        let entries =
            parse_stream_entries(&stream.dict, &data, limit).map_err(|r| malformed(offset, r))?;
        Ok((entries, stream.dict))
    }

    /// Checks that every in-file entry points at the object it names and that the catalog is
    /// there; any failure means the cross-reference data cannot be trusted.
    pub(crate) fn verify(&mut self) -> Result<(), PdfError> {
        let mut in_file: Vec<(u64, u32)> = self
            .entries
            .iter()
            .filter_map(|(&num, entry)| match entry {
                XrefEntry::InFile { offset, .. } => Some((*offset, num)),
                _ => None,
            })
            .collect();
        in_file.sort_unstable();
        for (offset, num) in in_file {
            if offset >= self.len {
                return Err(malformed(
                    offset,
                    format!("object {num} lies beyond the end of the file"),
                ));
            }
            let head = self.read(offset, 40)?;
            let mut parser = Parser::new(&head, offset, true);
            let found = parser.unsigned().ok();
            if found != Some(u64::from(num))
                || parser.unsigned().is_err()
                || parser.expect_keyword(b"obj").is_err()
            {
                return Err(malformed(
                    offset,
                    format!("the entry of object {num} does not point to it"),
                ));
            }
        }
        self.catalog().map(drop)
    }
}

/// Parses a classic table; free entries are left out (see [`XrefEntry`]), and more than `limit`
/// entries, or an object number beyond [`MAX_OBJECT_NUMBER`], make the section malformed.
fn parse_table(p: &mut Parser<'_>, limit: usize) -> ParseResult<Section> {
    p.expect_keyword(b"xref")?;
    let mut section = Vec::new();
    loop {
        let before = p.position();
        if p.token()? == b"trailer" {
            break;
        }
        p.set_position(before);
        let first = p.unsigned()?;
        let count = p.unsigned()?;
        let mut first = u32::try_from(first).or_else(|_| p.syntax("object number out of range"))?;
        for i in 0..count {
            let offset = p.unsigned()?;
            let generation = p.unsigned()?;
            let kind = p.token()?;
            // A common writer bug numbers the first subsection from 1 while listing the free
            // head of object 0: shift it back.
            if i == 0 && first == 1 && kind == b"f" && generation == 65535 {
                first = 0;
            }
            let num = u64::from(first) + i;
            if num > u64::from(MAX_OBJECT_NUMBER) || section.len() >= limit {
                return p.syntax("more cross-reference entries than a PDF may have");
            }
            match kind {
                b"n" if offset > 0 => section.push((
                    num as u32,
                    XrefEntry::InFile {
                        offset,
                        generation: generation.min(65535) as u16,
                    },
                )),
                b"n" | b"f" => {}
                _ => return p.syntax("a cross-reference entry must end with `n` or `f`"),
            }
        }
    }
    let trailer = match p.object()? {
        Object::Dictionary(dict) => dict,
        _ => return p.syntax("the trailer is not a dictionary"),
    };
    Ok((section, trailer))
}

/// Decodes the entries of a cross-reference stream (ISO 32000-2 section 7.5.8.2); free entries
/// are left out, and the same limits as for tables apply.
fn parse_stream_entries(
    dict: &Dictionary,
    data: &[u8],
    limit: usize,
) -> Result<Vec<(u32, XrefEntry)>, String> {
    let widths: Vec<usize> = dict
        .get(b"W")
        .and_then(Object::as_array)
        .ok_or("cross-reference stream without /W")?
        .iter()
        .map(|w| {
            w.as_integer()
                .and_then(|w| usize::try_from(w).ok())
                .filter(|&w| w <= 8)
        })
        .collect::<Option<_>>()
        .ok_or("bad /W in cross-reference stream")?;
    let [w1, w2, w3] = widths[..] else {
        return Err("/W must have three entries".into());
    };
    let row = w1 + w2 + w3;
    if row == 0 {
        return Err("/W describes empty entries".into());
    }

    let size = dict
        .integer(b"Size")
        .ok_or("cross-reference stream without /Size")?;
    let index = match dict.get(b"Index").and_then(Object::as_array) {
        Some(items) => items
            .iter()
            .map(Object::as_integer)
            .collect::<Option<Vec<_>>>()
            .ok_or("bad /Index")?,
        None => vec![0, size],
    };

    let mut entries = Vec::new();
    let mut rows = data.chunks_exact(row);
    for pair in index.chunks(2) {
        let [first, count] = pair else {
            return Err("odd /Index".into());
        };
        let (Ok(first), Ok(count)) = (u32::try_from(*first), u32::try_from(*count)) else {
            return Err("negative /Index".into());
        };
        if u64::from(first) + u64::from(count) > u64::from(MAX_OBJECT_NUMBER) + 1 {
            return Err("more cross-reference entries than a PDF may have".into());
        }
        for i in 0..count {
            let Some(bytes) = rows.next() else {
                return Err("cross-reference stream too short".into());
            };
            let field = |from: usize, width: usize| {
                bytes[from..from + width]
                    .iter()
                    .fold(0u64, |acc, &b| (acc << 8) | u64::from(b))
            };
            let kind = if w1 == 0 { 1 } else { field(0, w1) };
            let (second, third) = (field(w1, w2), field(w1 + w2, w3));
            let entry = match kind {
                1 if second > 0 => XrefEntry::InFile {
                    offset: second,
                    generation: third.min(65535) as u16,
                },
                2 => XrefEntry::InStream {
                    stream: u32::try_from(second).map_err(|_| "bad object stream number")?,
                    index: u32::try_from(third).map_err(|_| "bad object stream index")?,
                },
                _ => continue,
            };
            if entries.len() >= limit {
                return Err("more cross-reference entries than the file has bytes".into());
            }
            entries.push((first + i, entry));
        }
    }
    Ok(entries)
}
