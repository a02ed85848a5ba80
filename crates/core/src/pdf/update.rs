//! Writing the incremental update (ISO 32000-2 section 7.5.6): the changed and new objects, the
//! signature dictionary with its placeholders, a cross-reference section of the file's own kind,
//! and the trailer.

use std::collections::BTreeMap;
use std::ops::Range;

use super::object::{Dictionary, ObjRef, Object};
use super::reader::{XrefEntry, XrefKind};

/// Width of each /ByteRange number slot: enough for any file size a u64 can hold.
const BYTE_RANGE_SLOT: usize = 20;

/// Everything the update will write, independent of where it is written.
#[derive(Clone, Debug)]
pub struct Update {
    /// Changed and new objects by number, except the signature dictionary.
    pub objects: BTreeMap<u32, (u16, Object)>,
    /// The signature dictionary's number and its entries other than /ByteRange and /Contents.
    pub signature: (u32, Dictionary),
    /// The kind of cross-reference section to write.
    pub xref_kind: XrefKind,
    /// The offset of the previous section, unless the file was recovered.
    pub prev: Option<u64>,
    /// /Root, /Info and /ID for the new trailer.
    pub trailer: Dictionary,
    /// The first unused object number.
    pub next_number: u32,
    /// After a recovery: every other object of the file, so the new section stands alone.
    pub carried_entries: Vec<(u32, XrefEntry)>,
}

/// An update laid out after `base` original bytes.
#[derive(Debug)]
pub struct WrittenUpdate {
    pub bytes: Vec<u8>,
    /// The `<...>` hex string of /Contents, brackets included: the gap of the byte range.
    pub contents: Range<usize>,
}

impl WrittenUpdate {
    /// Writes `der` as hex into the /Contents placeholder; false when it does not fit.
    pub fn embed(&mut self, der: &[u8]) -> bool {
        let hex_area = self.contents.start + 1..self.contents.end - 1;
        if der.len() * 2 > hex_area.len() {
            return false;
        }
        let encoded = hex::encode_upper(der);
        self.bytes[hex_area.start..hex_area.start + encoded.len()]
            .copy_from_slice(encoded.as_bytes());
        true
    }
}

impl Update {
    /// Lays out the update after `base` bytes of original document, with room for a CMS of
    /// `capacity` bytes, and fills in /ByteRange.
    pub fn write(&self, base: u64, capacity: usize) -> WrittenUpdate {
        // A line end first: the original may end without one (ISO 32000-2 section 7.5.5).
        let mut out = b"\n".to_vec();
        let mut offsets: BTreeMap<u32, (u16, u64)> = BTreeMap::new();

        let (sig_num, sig_dict) = &self.signature;
        offsets.insert(*sig_num, (0, base + out.len() as u64));
        let (byte_range, contents) = write_signature(&mut out, *sig_num, sig_dict, capacity);

        for (&num, (generation, object)) in &self.objects {
            offsets.insert(num, (*generation, base + out.len() as u64));
            out.extend_from_slice(format!("{num} {generation} obj\n").as_bytes());
            object.write_to(&mut out);
            out.extend_from_slice(b"\nendobj\n");
        }

        let xref_offset = base + out.len() as u64;
        let mut entries: BTreeMap<u32, XrefEntry> = self.carried_entries.iter().copied().collect();
        for (&num, &(generation, offset)) in &offsets {
            entries.insert(num, XrefEntry::InFile { offset, generation });
        }
        match self.xref_kind {
            XrefKind::Table => self.write_table(&mut out, &entries),
            XrefKind::Stream => self.write_stream(&mut out, entries, xref_offset),
        }
        out.extend_from_slice(format!("startxref\n{xref_offset}\n%%EOF\n").as_bytes());

        let total = base + out.len() as u64;
        let gap = (base + contents.start as u64, base + contents.end as u64);
        let values = [0, gap.0, gap.1, total - gap.1];
        for (i, value) in values.iter().enumerate() {
            let text = value.to_string();
            let at = byte_range.start + i * (BYTE_RANGE_SLOT + 1);
            out[at..at + text.len()].copy_from_slice(text.as_bytes());
        }
        WrittenUpdate {
            bytes: out,
            contents,
        }
    }

    fn trailer_entries(&self, size: u32) -> Dictionary {
        let mut trailer = Dictionary::new();
        trailer.set(b"Size", Object::Integer(i64::from(size)));
        for (key, value) in self.trailer.iter() {
            trailer.set(key, value.clone());
        }
        if let Some(prev) = self.prev {
            trailer.set(b"Prev", Object::Integer(prev as i64));
        }
        trailer
    }

    fn write_table(&self, out: &mut Vec<u8>, entries: &BTreeMap<u32, XrefEntry>) {
        let mut entries = entries.clone();
        if !self.carried_entries.is_empty() {
            entries.insert(0, XrefEntry::Free);
        }
        out.extend_from_slice(b"xref\n");
        for run in runs(entries.keys().copied()) {
            out.extend_from_slice(format!("{} {}\n", run.start, run.len()).as_bytes());
            for num in run {
                let line = match entries[&num] {
                    XrefEntry::InFile { offset, generation } => {
                        format!("{offset:010} {generation:05} n\r\n")
                    }
                    _ if num == 0 => "0000000000 65535 f\r\n".to_string(),
                    _ => "0000000000 00000 f\r\n".to_string(),
                };
                out.extend_from_slice(line.as_bytes());
            }
        }
        out.extend_from_slice(b"trailer\n");
        Object::Dictionary(self.trailer_entries(self.next_number)).write_to(out);
        out.push(b'\n');
    }

    fn write_stream(&self, out: &mut Vec<u8>, mut entries: BTreeMap<u32, XrefEntry>, at: u64) {
        let own = self.next_number;
        entries.insert(
            own,
            XrefEntry::InFile {
                offset: at,
                generation: 0,
            },
        );
        let (second, third) = entries
            .values()
            .fold((1u64, 1u64), |(s, t), entry| match *entry {
                XrefEntry::InFile { offset, generation } => {
                    (s.max(offset), t.max(u64::from(generation)))
                }
                XrefEntry::InStream { stream, index } => {
                    (s.max(u64::from(stream)), t.max(u64::from(index)))
                }
                XrefEntry::Free => (s, t),
            });
        let widths = [1, byte_width(second), byte_width(third)];

        let mut data = Vec::new();
        let mut index = Vec::new();
        for run in runs(entries.keys().copied()) {
            index.extend([
                Object::Integer(i64::from(run.start)),
                Object::Integer(run.len() as i64),
            ]);
            for num in run {
                let (kind, a, b) = match entries[&num] {
                    XrefEntry::Free => (0, 0, 0),
                    XrefEntry::InFile { offset, generation } => (1, offset, u64::from(generation)),
                    XrefEntry::InStream { stream, index } => {
                        (2, u64::from(stream), u64::from(index))
                    }
                };
                data.push(kind);
                data.extend_from_slice(&a.to_be_bytes()[8 - widths[1]..]);
                data.extend_from_slice(&b.to_be_bytes()[8 - widths[2]..]);
            }
        }

        let mut dict = self.trailer_entries(own + 1);
        dict.set(b"Type", Object::name("XRef"));
        dict.set(
            b"W",
            Object::Array(widths.iter().map(|&w| Object::Integer(w as i64)).collect()),
        );
        dict.set(b"Index", Object::Array(index));
        dict.set(b"Length", Object::Integer(data.len() as i64));
        out.extend_from_slice(format!("{own} 0 obj\n").as_bytes());
        Object::Dictionary(dict).write_to(out);
        out.extend_from_slice(b"\nstream\n");
        out.extend_from_slice(&data);
        out.extend_from_slice(b"\nendstream\nendobj\n");
    }
}

/// Writes the signature dictionary with a /ByteRange of four blank slots and a /Contents
/// placeholder of zeros; answers the range of the slots and of the `<...>` string.
fn write_signature(
    out: &mut Vec<u8>,
    num: u32,
    dict: &Dictionary,
    capacity: usize,
) -> (Range<usize>, Range<usize>) {
    out.extend_from_slice(format!("{num} 0 obj\n<</Type/Sig").as_bytes());
    for (key, value) in dict.iter().filter(|(k, _)| *k != b"Type") {
        Object::Name(key.to_vec()).write_to(out);
        out.push(b' ');
        value.write_to(out);
    }
    out.extend_from_slice(b"/ByteRange [");
    let slots_start = out.len();
    for i in 0..4 {
        out.extend(std::iter::repeat_n(b' ', BYTE_RANGE_SLOT));
        if i < 3 {
            out.push(b' ');
        }
    }
    let slots = slots_start..out.len();
    out.extend_from_slice(b"]/Contents ");
    let contents_start = out.len();
    out.push(b'<');
    out.extend(std::iter::repeat_n(b'0', capacity * 2));
    out.push(b'>');
    let contents = contents_start..out.len();
    out.extend_from_slice(b">>\nendobj\n");
    (slots, contents)
}

/// Consecutive runs of sorted numbers, for cross-reference subsections.
fn runs(nums: impl Iterator<Item = u32>) -> Vec<Range<u32>> {
    let mut runs: Vec<Range<u32>> = Vec::new();
    for num in nums {
        match runs.last_mut() {
            Some(run) if run.end == num => run.end += 1,
            _ => runs.push(num..num + 1),
        }
    }
    runs
}

fn byte_width(value: u64) -> usize {
    (8 - value.leading_zeros() as usize / 8).max(1)
}

/// The reference of a new object in the update.
pub fn new_ref(num: u32) -> ObjRef {
    ObjRef::new(num, 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(kind: XrefKind) -> Update {
        let mut objects = BTreeMap::new();
        objects.insert(1, (0, Object::Integer(7)));
        let mut trailer = Dictionary::new();
        trailer.set(b"Root", Object::Reference(ObjRef::new(1, 0)));
        Update {
            objects,
            signature: (5, Dictionary::new()),
            xref_kind: kind,
            prev: Some(9),
            trailer,
            next_number: 6,
            carried_entries: Vec::new(),
        }
    }

    #[test]
    fn byte_range_covers_everything_but_the_contents_string() {
        let written = sample(XrefKind::Table).write(100, 8);
        let text = String::from_utf8(written.bytes.clone()).unwrap();
        let start = text.find("/ByteRange [").unwrap() + 12;
        let numbers: Vec<u64> = text[start..]
            .split(']')
            .next()
            .unwrap()
            .split_whitespace()
            .map(|n| n.parse().unwrap())
            .collect();
        let total = 100 + written.bytes.len() as u64;
        assert_eq!(
            numbers,
            vec![
                0,
                100 + written.contents.start as u64,
                100 + written.contents.end as u64,
                total - 100 - written.contents.end as u64
            ]
        );
        assert_eq!(
            &written.bytes[written.contents.clone()],
            format!("<{}>", "0".repeat(16)).as_bytes()
        );
    }

    #[test]
    fn table_sections_use_twenty_byte_entries_and_name_prev() {
        let written = sample(XrefKind::Table).write(0, 4);
        let text = String::from_utf8(written.bytes).unwrap();
        let xref = &text[text.find("xref\n").unwrap()..];
        assert!(xref.starts_with("xref\n1 1\n"), "{xref}");
        assert!(xref.contains("5 1\n"), "{xref}");
        let entry = xref.split('\n').nth(2).unwrap();
        assert_eq!(entry.len() + 1, 20);
        assert!(xref.contains("/Size 6/Root 1 0 R/Prev 9>>"), "{xref}");
    }

    #[test]
    fn stream_sections_list_themselves() {
        let written = sample(XrefKind::Stream).write(0, 4);
        let text = String::from_utf8_lossy(&written.bytes);
        assert!(
            text.contains(
                "6 0 obj\n<</Size 7/Root 1 0 R/Prev 9/Type /XRef/W [1 1 1]/Index [1 1 5 2]"
            ),
            "{text}"
        );
    }

    #[test]
    fn embed_refuses_a_cms_larger_than_the_placeholder() {
        let mut written = sample(XrefKind::Table).write(0, 4);
        assert!(!written.embed(&[1, 2, 3, 4, 5]));
        assert!(written.embed(&[0xab, 0xcd]));
        assert_eq!(&written.bytes[written.contents.clone()], b"<ABCD0000>");
    }

    #[test]
    fn consecutive_numbers_form_one_subsection() {
        assert_eq!(
            runs([1, 2, 3, 7, 8, 10].into_iter()),
            vec![1..4, 7..9, 10..11]
        );
    }
}
