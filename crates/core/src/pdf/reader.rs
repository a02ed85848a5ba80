//! A document read from its tail: the cross-reference chain, the trailer, and objects on demand
//! (ISO 32000-2 sections 7.5.4 to 7.5.8).
//!
//! Only the objects that are asked for are parsed, from windows of the source; the whole object
//! graph is never loaded. When the cross-reference data cannot be trusted (a section that does not
//! parse, an offset that does not hold the object it names), the reader scans the file for
//! objects instead (see `recover.rs`) and the update then carries a complete cross-reference
//! section of its own.

use std::collections::HashMap;

use super::decode::decode;
use super::object::{Dictionary, ObjRef, Object, Stream};
use super::parser::{ParseError, ParseResult, Parser};
use super::{PdfError, Source};

/// Objects, cross-reference sections and the streams the reader decodes may not be larger
/// than this: it bounds what one read holds in memory.
pub(crate) const MAX_WINDOW: usize = 64 << 20;
const FIRST_WINDOW: usize = 4096;

/// The largest object number a PDF may use (ISO 32000-1 annex C.2; readers such as poppler
/// refuse larger ones). Entries beyond it are taken for damage.
pub(crate) const MAX_OBJECT_NUMBER: u32 = 8_388_607;

/// What all decoded streams of one document may add up to; past it the document is refused, so
/// that a small file of compressed streams cannot take the memory or the time of a large one.
const DECODE_BUDGET: u64 = 256 << 20;

/// What the cache of decoded object streams may hold at once.
const OBJECT_STREAM_CACHE: usize = 64 << 20;

/// The kind of a cross-reference section.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum XrefKind {
    Table,
    Stream,
}

/// Where an object lives. Free entries are not kept: a free entry in a newer section lets an
/// older definition of the same number show through, which matters only for an object that
/// nothing refers to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum XrefEntry {
    Free,
    InFile { offset: u64, generation: u16 },
    InStream { stream: u32, index: u32 },
}

/// A decoded object stream: its data and the offsets of the objects it holds.
struct ObjectStream {
    data: Vec<u8>,
    members: Vec<(u32, usize)>,
}

/// A PDF document opened for an incremental update.
pub struct Document<'s, S: Source + ?Sized> {
    pub(crate) source: &'s S,
    pub(crate) len: u64,
    pub(crate) entries: HashMap<u32, XrefEntry>,
    pub(crate) trailer: Dictionary,
    /// The section `startxref` points to, when the chain was read without repair.
    pub(crate) last_section: Option<(u64, XrefKind)>,
    pub(crate) recovered: bool,
    objects: HashMap<u32, Object>,
    object_streams: HashMap<u32, ObjectStream>,
    /// Object streams being decoded now: a stream whose /Length lies inside itself is refused
    /// instead of recursing without end.
    decoding: Vec<u32>,
    /// Bytes decoded so far, against [`DECODE_BUDGET`].
    decoded: u64,
}

impl<'s, S: Source + ?Sized> Document<'s, S> {
    /// Opens `source`: checks the header, reads the cross-reference chain (or recovers it) and
    /// refuses encrypted documents.
    pub fn open(source: &'s S) -> Result<Self, PdfError> {
        check_header(source)?;
        let mut doc = Self {
            source,
            len: source.len(),
            entries: HashMap::new(),
            trailer: Dictionary::new(),
            last_section: None,
            recovered: false,
            objects: HashMap::new(),
            object_streams: HashMap::new(),
            decoding: Vec::new(),
            decoded: 0,
        };

        let read = doc.read_xref_chain();
        if let Err(error) = read.and_then(|()| doc.verify()) {
            tracing::debug!(%error, "cross-reference data is damaged; recovering by a scan");
            doc.recover()?;
        }
        if doc.trailer.get(b"Encrypt").is_some() {
            return Err(PdfError::Encrypted);
        }
        Ok(doc)
    }

    /// The trailer of the newest section (or the recovered one).
    pub fn trailer(&self) -> &Dictionary {
        &self.trailer
    }

    /// True when the cross-reference data had to be rebuilt by a scan.
    pub fn recovered(&self) -> bool {
        self.recovered
    }

    /// The section kind and offset the update's /Prev must name, unless the file was recovered.
    pub fn last_section(&self) -> Option<(u64, XrefKind)> {
        self.last_section
    }

    /// All known entries, for a complete cross-reference section after recovery.
    pub fn entries(&self) -> &HashMap<u32, XrefEntry> {
        &self.entries
    }

    /// The first object number free for new objects.
    pub fn next_object_number(&self) -> u32 {
        let highest = self.entries.keys().max().map_or(1, |n| n + 1);
        // Every key is at most MAX_OBJECT_NUMBER, so `highest` cannot overflow.
        let declared = self
            .trailer
            .integer(b"Size")
            .and_then(|s| u32::try_from(s).ok())
            .filter(|&s| s <= MAX_OBJECT_NUMBER + 1)
            .unwrap_or(0);
        highest.max(declared)
    }

    /// The object `reference` names; a reference to a missing object is null (ISO 32000-2
    /// section 7.3.10). A damaged entry makes the reader recover once, then try again.
    pub fn get(&mut self, reference: ObjRef) -> Result<Object, PdfError> {
        if let Some(object) = self.objects.get(&reference.num) {
            return Ok(object.clone());
        }
        let object = match self.load(reference.num) {
            Ok(object) => object,
            Err(error) if !self.recovered => {
                tracing::debug!(%error, object = reference.num, "damaged entry; recovering");
                self.recover()?;
                self.load(reference.num)?
            }
            Err(error) => return Err(error),
        };
        self.objects.insert(reference.num, object.clone());
        Ok(object)
    }

    /// `object` itself, or the object it refers to.
    pub fn resolve(&mut self, object: &Object) -> Result<Object, PdfError> {
        match object {
            Object::Reference(reference) => self.get(*reference),
            other => Ok(other.clone()),
        }
    }

    /// The decoded data of a stream.
    pub fn stream_data(&mut self, stream: &Stream) -> Result<Vec<u8>, PdfError> {
        let raw = self.raw_stream_data(stream)?;
        let data =
            decode(&stream.dict, &raw).map_err(|reason| malformed(stream.data_offset, reason))?;
        self.decoded += data.len() as u64;
        if self.decoded > DECODE_BUDGET {
            let reason = format!("its compressed streams expand beyond {DECODE_BUDGET} bytes");
            return Err(malformed(stream.data_offset, reason));
        }
        Ok(data)
    }

    /// At most one entry per byte of the file, and never beyond the largest object number.
    pub(crate) fn max_entries(&self) -> usize {
        usize::try_from(self.len)
            .unwrap_or(usize::MAX)
            .clamp(1000, MAX_OBJECT_NUMBER as usize + 1)
    }

    fn load(&mut self, num: u32) -> Result<Object, PdfError> {
        match self.entries.get(&num).copied() {
            None | Some(XrefEntry::Free) => Ok(Object::Null),
            Some(XrefEntry::InFile { offset, .. }) => {
                let (found, object) = self.parse_at(offset, |p| p.indirect_object())?;
                if found.num != num {
                    return Err(malformed(
                        offset,
                        format!("expected object {num}, found {found}"),
                    ));
                }
                Ok(object)
            }
            Some(XrefEntry::InStream { stream, index }) => {
                self.load_from_stream(num, stream, index)
            }
        }
    }

    fn load_from_stream(&mut self, num: u32, stream: u32, index: u32) -> Result<Object, PdfError> {
        if !self.object_streams.contains_key(&stream) {
            if self.decoding.contains(&stream) {
                return Err(malformed(
                    0,
                    format!("object stream {stream} depends on itself"),
                ));
            }
            self.decoding.push(stream);
            let decoded = self.read_object_stream(stream);
            self.decoding.pop();
            let decoded = decoded?;
            let cached: usize = self.object_streams.values().map(|s| s.data.len()).sum();
            if cached + decoded.data.len() > OBJECT_STREAM_CACHE {
                self.object_streams.clear();
            }
            self.object_streams.insert(stream, decoded);
        }
        let objstm = &self.object_streams[&stream];
        let at_index = objstm
            .members
            .get(index as usize)
            .filter(|(n, _)| *n == num);
        let Some(&(_, start)) = at_index.or_else(|| objstm.members.iter().find(|(n, _)| *n == num))
        else {
            return Err(malformed(
                0,
                format!("object {num} is not in object stream {stream}"),
            ));
        };
        let mut parser = Parser::new(&objstm.data[start..], 0, true);
        parser.object().map_err(|error| match error {
            ParseError::Syntax { offset, reason } => malformed(
                0,
                format!(
                    "object {num} in object stream {stream}, at byte {offset} of its data: {reason}"
                ),
            ),
            ParseError::Incomplete => malformed(0, "incomplete object in object stream"),
        })
    }

    fn read_object_stream(&mut self, num: u32) -> Result<ObjectStream, PdfError> {
        let Some(XrefEntry::InFile { offset, .. }) = self.entries.get(&num).copied() else {
            return Err(malformed(
                0,
                format!("object stream {num} is not a plain object"),
            ));
        };
        let (_, object) = self.parse_at(offset, |p| p.indirect_object())?;
        let Object::Stream(stream) = object else {
            return Err(malformed(
                offset,
                format!("object {num} is not an object stream"),
            ));
        };
        let count = stream.dict.integer(b"N").unwrap_or(0);
        let first = stream.dict.integer(b"First").unwrap_or(0);
        let (Ok(count), Ok(first)) = (usize::try_from(count), usize::try_from(first)) else {
            return Err(malformed(
                offset,
                "object stream with a negative /N or /First",
            ));
        };
        let data = self.stream_data(&stream)?;
        if first > data.len() || count > data.len() {
            return Err(malformed(offset, "object stream header out of bounds"));
        }

        let mut header = Parser::new(&data[..first], 0, true);
        let mut members = Vec::with_capacity(count);
        for _ in 0..count {
            let pair = header.unsigned().and_then(|n| Ok((n, header.unsigned()?)));
            let (member, relative) =
                pair.map_err(|_| malformed(offset, "bad object stream header"))?;
            let start = first.saturating_add(relative as usize);
            if start >= data.len() || member > u64::from(u32::MAX) {
                return Err(malformed(offset, "object stream offset out of bounds"));
            }
            members.push((member as u32, start));
        }
        Ok(ObjectStream { data, members })
    }

    fn raw_stream_data(&mut self, stream: &Stream) -> Result<Vec<u8>, PdfError> {
        let length = match stream.dict.get(b"Length") {
            Some(Object::Integer(n)) => u64::try_from(*n).ok(),
            Some(Object::Reference(r)) => {
                let r = *r;
                self.get(r)?
                    .as_integer()
                    .and_then(|n| u64::try_from(n).ok())
            }
            _ => None,
        };
        let start = stream.data_offset;
        if let Some(length) = length.filter(|&n| start + n <= self.len && n <= MAX_WINDOW as u64) {
            let data = self.read(start, length as usize)?;
            let tail = self.read(start + length, 32.min((self.len - start - length) as usize))?;
            let mut check = Parser::new(&tail, start + length, true);
            if check.expect_keyword(b"endstream").is_ok() {
                return Ok(data);
            }
        }
        // A missing or wrong /Length: the data ends at the `endstream` keyword.
        self.data_until_endstream(start)
    }

    fn data_until_endstream(&self, start: u64) -> Result<Vec<u8>, PdfError> {
        let mut window = FIRST_WINDOW * 16;
        loop {
            let available = (self.len - start) as usize;
            let data = self.read(start, window.min(available))?;
            if let Some(end) = memchr::memmem::find(&data, b"endstream") {
                let mut end = end;
                if data[..end].ends_with(b"\r\n") {
                    end -= 2;
                } else if data[..end].ends_with(b"\n") || data[..end].ends_with(b"\r") {
                    end -= 1;
                }
                return Ok(data[..end].to_vec());
            }
            if window >= available || window >= MAX_WINDOW {
                return Err(malformed(start, "stream without `endstream`"));
            }
            window = (window * 4).min(MAX_WINDOW);
        }
    }

    /// Tells the source which objects will be read next, so that a remote one can fetch their
    /// first windows together (objects in object streams: the stream's).
    pub fn prefetch(&self, references: &[ObjRef]) {
        let mut ranges: Vec<(u64, usize)> = references
            .iter()
            .filter_map(|reference| match self.entries.get(&reference.num)? {
                XrefEntry::InFile { offset, .. } => Some(*offset),
                XrefEntry::InStream { stream, .. } => match self.entries.get(stream)? {
                    XrefEntry::InFile { offset, .. } => Some(*offset),
                    _ => None,
                },
                XrefEntry::Free => None,
            })
            .filter(|offset| *offset < self.len)
            .map(|offset| (offset, FIRST_WINDOW))
            .collect();
        ranges.sort_unstable();
        ranges.dedup();
        if !ranges.is_empty() {
            self.source.prefetch(&ranges);
        }
    }

    /// Reads up to `len` bytes at `offset`, fewer at the end of the file.
    pub(crate) fn read(&self, offset: u64, len: usize) -> Result<Vec<u8>, PdfError> {
        let len = len.min(self.len.saturating_sub(offset) as usize);
        let mut buf = vec![0; len];
        self.source.read_at(offset, &mut buf)?;
        Ok(buf)
    }

    /// Runs `parse` on a window at `offset`, growing the window until the object fits.
    pub(crate) fn parse_at<T>(
        &self,
        offset: u64,
        mut parse: impl FnMut(&mut Parser<'_>) -> ParseResult<T>,
    ) -> Result<T, PdfError> {
        if offset >= self.len {
            return Err(malformed(offset, "offset beyond the end of the file"));
        }
        let mut window = FIRST_WINDOW;
        loop {
            let available = (self.len - offset) as usize;
            let at_eof = window >= available;
            let buf = self.read(offset, window.min(available))?;
            match parse(&mut Parser::new(&buf, offset, at_eof)) {
                Ok(value) => return Ok(value),
                Err(ParseError::Syntax { offset, reason }) => {
                    return Err(malformed(offset, reason));
                }
                Err(ParseError::Incomplete) if window >= MAX_WINDOW => {
                    return Err(malformed(offset, "object too large"));
                }
                Err(ParseError::Incomplete) => window = (window * 8).min(MAX_WINDOW),
            }
        }
    }
    /// The document catalog.
    pub fn catalog(&mut self) -> Result<(ObjRef, Dictionary), PdfError> {
        let Some(root) = self.trailer.reference(b"Root") else {
            return Err(malformed(0, "the trailer has no /Root reference"));
        };
        match self.get(root)? {
            Object::Dictionary(dict) if dict.get(b"Pages").is_some() => Ok((root, dict)),
            _ => Err(malformed(
                0,
                format!("/Root {root} is not a document catalog"),
            )),
        }
    }
}

/// The header must open the file; a few bytes of something else first are refused, since the
/// file's offsets are then ambiguous.
fn check_header<S: Source + ?Sized>(source: &S) -> Result<(), PdfError> {
    let mut head = vec![0; source.len().min(1024) as usize];
    source.read_at(0, &mut head)?;
    if head.is_empty() {
        return Err(PdfError::NotPdf("the input is empty".into()));
    }
    if head.starts_with(b"%PDF-") {
        return Ok(());
    }
    match memchr::memmem::find(&head, b"%PDF-") {
        Some(at) => Err(malformed(
            0,
            format!(
                "{at} bytes of other data come before the %PDF- header; such a file's offsets are ambiguous"
            ),
        )),
        None => Err(PdfError::NotPdf(
            "the input does not start with %PDF-".into(),
        )),
    }
}

pub(crate) fn malformed(offset: u64, reason: impl Into<String>) -> PdfError {
    PdfError::Malformed {
        offset,
        reason: reason.into(),
    }
}
