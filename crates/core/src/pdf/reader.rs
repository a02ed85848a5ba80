//! A document read from its tail: the cross-reference chain, the trailer, and objects on demand
//! (ISO 32000-2 sections 7.5.4 to 7.5.8).
//!
//! Only the objects that are asked for are parsed, from windows of the source; the whole object
//! graph is never loaded. When the cross-reference data cannot be trusted (a section that does not
//! parse, an offset that does not hold the object it names), the reader scans the file for
//! objects instead (see `recover.rs`) and the update then carries a complete cross-reference
//! section of its own.

use std::collections::{HashMap, HashSet};

use super::decode::decode;
use super::object::{Dictionary, ObjRef, Object, Stream};
use super::parser::{ParseError, ParseResult, Parser};
use super::{PdfError, Source};

/// Objects (and cross-reference sections) larger than this are refused.
pub(crate) const MAX_WINDOW: usize = 256 << 20;
const FIRST_WINDOW: usize = 4096;
const MAX_SECTIONS: usize = 10_000;

/// The kind of a cross-reference section.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum XrefKind {
    Table,
    Stream,
}

/// Where an object lives.
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
        let declared = self
            .trailer
            .integer(b"Size")
            .and_then(|s| u32::try_from(s).ok())
            .filter(|&s| s < 8_000_000)
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
        decode(&stream.dict, &raw).map_err(|reason| malformed(stream.data_offset, reason))
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
            let decoded = self.read_object_stream(stream)?;
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
            window *= 4;
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
                Err(ParseError::Incomplete) => window *= 8,
            }
        }
    }

    fn read_xref_chain(&mut self) -> Result<(), PdfError> {
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

    fn read_table_section(
        &mut self,
        offset: u64,
    ) -> Result<(Vec<(u32, XrefEntry)>, Dictionary), PdfError> {
        let (mut section, trailer) = self.parse_at(offset, parse_table)?;
        // A hybrid file: the table's trailer names a stream with the compressed objects, which
        // fills what the table leaves free (ISO 32000-2 section 7.5.8.4).
        if let Some(at) = trailer
            .integer(b"XRefStm")
            .and_then(|o| u64::try_from(o).ok())
        {
            let (extra, _) = self.read_stream_section(at)?;
            let known: HashMap<u32, XrefEntry> = section.iter().copied().collect();
            for (num, entry) in extra {
                if matches!(known.get(&num), None | Some(XrefEntry::Free)) {
                    section.retain(|(n, _)| *n != num);
                    section.push((num, entry));
                }
            }
        }
        Ok((section, trailer))
    }

    fn read_stream_section(
        &mut self,
        offset: u64,
    ) -> Result<(Vec<(u32, XrefEntry)>, Dictionary), PdfError> {
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
        let entries =
            parse_stream_entries(&stream.dict, &data).map_err(|r| malformed(offset, r))?;
        Ok((entries, stream.dict))
    }

    /// Checks that every in-file entry points at the object it names and that the catalog is
    /// there; any failure means the cross-reference data cannot be trusted.
    fn verify(&mut self) -> Result<(), PdfError> {
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

fn parse_table(p: &mut Parser<'_>) -> ParseResult<(Vec<(u32, XrefEntry)>, Dictionary)> {
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
            let num = first + i as u32;
            let entry = match kind {
                b"n" if offset > 0 => XrefEntry::InFile {
                    offset,
                    generation: generation.min(65535) as u16,
                },
                b"n" | b"f" => XrefEntry::Free,
                _ => return p.syntax("a cross-reference entry must end with `n` or `f`"),
            };
            section.push((num, entry));
        }
    }
    let trailer = match p.object()? {
        Object::Dictionary(dict) => dict,
        _ => return p.syntax("the trailer is not a dictionary"),
    };
    Ok((section, trailer))
}

/// Decodes the entries of a cross-reference stream (ISO 32000-2 section 7.5.8.2).
fn parse_stream_entries(dict: &Dictionary, data: &[u8]) -> Result<Vec<(u32, XrefEntry)>, String> {
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
                0 => XrefEntry::Free,
                1 if second > 0 => XrefEntry::InFile {
                    offset: second,
                    generation: third.min(65535) as u16,
                },
                2 => XrefEntry::InStream {
                    stream: u32::try_from(second).map_err(|_| "bad object stream number")?,
                    index: u32::try_from(third).map_err(|_| "bad object stream index")?,
                },
                _ => XrefEntry::Free,
            };
            entries.push((first.saturating_add(i), entry));
        }
    }
    Ok(entries)
}

pub(crate) fn malformed(offset: u64, reason: impl Into<String>) -> PdfError {
    PdfError::Malformed {
        offset,
        reason: reason.into(),
    }
}
