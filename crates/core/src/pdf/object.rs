//! The PDF object model (ISO 32000-2 section 7.3) and its serialisation.

use std::fmt;

use indexmap::IndexMap;

/// An indirect reference `num generation R`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ObjRef {
    pub num: u32,
    pub generation: u16,
}

impl ObjRef {
    pub fn new(num: u32, generation: u16) -> Self {
        Self { num, generation }
    }
}

impl fmt::Display for ObjRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {} R", self.num, self.generation)
    }
}

/// A PDF object as read from a file, or built for the update.
#[derive(Clone, Debug, PartialEq)]
pub enum Object {
    Null,
    Bool(bool),
    Integer(i64),
    /// A real number, kept as written so that a rewritten object keeps its exact value.
    Real(Vec<u8>),
    String(Vec<u8>),
    Name(Vec<u8>),
    Array(Vec<Object>),
    Dictionary(Dictionary),
    Reference(ObjRef),
    Stream(Stream),
}

/// A stream: its dictionary and where its data starts in the file (the data is read on demand).
#[derive(Clone, Debug, PartialEq)]
pub struct Stream {
    pub dict: Dictionary,
    /// Absolute offset of the first data byte.
    pub data_offset: u64,
}

/// A dictionary that keeps the order of its keys, so that rewritten objects stay recognisable,
/// with lookups in constant time whatever its size.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Dictionary {
    entries: IndexMap<Vec<u8>, Object>,
}

impl Dictionary {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn get(&self, key: &[u8]) -> Option<&Object> {
        self.entries.get(key)
    }

    pub fn get_mut(&mut self, key: &[u8]) -> Option<&mut Object> {
        self.entries.get_mut(key)
    }

    /// Sets `key`, replacing an earlier value in place or appending a new entry.
    pub fn set(&mut self, key: &[u8], value: Object) {
        match self.entries.get_mut(key) {
            Some(slot) => *slot = value,
            None => {
                self.entries.insert(key.to_vec(), value);
            }
        }
    }

    pub fn remove(&mut self, key: &[u8]) -> Option<Object> {
        self.entries.shift_remove(key)
    }

    pub fn iter(&self) -> impl Iterator<Item = (&[u8], &Object)> {
        self.entries.iter().map(|(k, v)| (k.as_slice(), v))
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The value of `key` when it is a name.
    pub fn name(&self, key: &[u8]) -> Option<&[u8]> {
        match self.get(key) {
            Some(Object::Name(n)) => Some(n),
            _ => None,
        }
    }

    /// The value of `key` when it is an integer.
    pub fn integer(&self, key: &[u8]) -> Option<i64> {
        match self.get(key) {
            Some(Object::Integer(i)) => Some(*i),
            _ => None,
        }
    }

    /// The value of `key` when it is an indirect reference.
    pub fn reference(&self, key: &[u8]) -> Option<ObjRef> {
        match self.get(key) {
            Some(Object::Reference(r)) => Some(*r),
            _ => None,
        }
    }
}

impl FromIterator<(Vec<u8>, Object)> for Dictionary {
    fn from_iter<T: IntoIterator<Item = (Vec<u8>, Object)>>(iter: T) -> Self {
        let mut dict = Self::new();
        for (k, v) in iter {
            dict.set(&k, v);
        }
        dict
    }
}

impl Object {
    pub fn name(name: &str) -> Self {
        Self::Name(name.as_bytes().to_vec())
    }

    pub fn string(text: &str) -> Self {
        Self::String(text.as_bytes().to_vec())
    }

    pub fn as_dict(&self) -> Option<&Dictionary> {
        match self {
            Self::Dictionary(d) => Some(d),
            Self::Stream(s) => Some(&s.dict),
            _ => None,
        }
    }

    pub fn as_array(&self) -> Option<&[Object]> {
        match self {
            Self::Array(a) => Some(a),
            _ => None,
        }
    }

    pub fn as_integer(&self) -> Option<i64> {
        match self {
            Self::Integer(i) => Some(*i),
            _ => None,
        }
    }

    pub fn as_reference(&self) -> Option<ObjRef> {
        match self {
            Self::Reference(r) => Some(*r),
            _ => None,
        }
    }

    /// Appends the PDF syntax of this object to `out`. Streams cannot be written this way: the
    /// update never rewrites a stream.
    pub fn write_to(&self, out: &mut Vec<u8>) {
        match self {
            Self::Null => out.extend_from_slice(b"null"),
            Self::Bool(b) => out.extend_from_slice(if *b { b"true" } else { b"false" }),
            Self::Integer(i) => out.extend_from_slice(i.to_string().as_bytes()),
            Self::Real(text) => out.extend_from_slice(text),
            Self::String(bytes) => write_string(bytes, out),
            Self::Name(name) => write_name(name, out),
            Self::Array(items) => {
                out.push(b'[');
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        out.push(b' ');
                    }
                    item.write_to(out);
                }
                out.push(b']');
            }
            Self::Dictionary(dict) => write_dict(dict, out),
            Self::Reference(r) => out.extend_from_slice(r.to_string().as_bytes()),
            Self::Stream(stream) => write_dict(&stream.dict, out),
        }
    }

    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::new();
        self.write_to(&mut out);
        out
    }
}

fn write_dict(dict: &Dictionary, out: &mut Vec<u8>) {
    out.extend_from_slice(b"<<");
    for (key, value) in dict.iter() {
        write_name(key, out);
        out.push(b' ');
        value.write_to(out);
    }
    out.extend_from_slice(b">>");
}

/// Writes a name, escaping delimiters, white space, `#` and bytes outside 0x21..0x7E as `#xx`
/// (ISO 32000-2 section 7.3.5).
fn write_name(name: &[u8], out: &mut Vec<u8>) {
    out.push(b'/');
    for &b in name {
        if (0x21..=0x7e).contains(&b) && !is_delimiter(b) && b != b'#' {
            out.push(b);
        } else {
            out.extend_from_slice(format!("#{b:02X}").as_bytes());
        }
    }
}

/// Writes a literal string; parentheses, backslashes and line ends are escaped so that the bytes
/// read back unchanged (ISO 32000-2 section 7.3.4.2).
fn write_string(bytes: &[u8], out: &mut Vec<u8>) {
    out.push(b'(');
    for &b in bytes {
        match b {
            b'(' | b')' | b'\\' => out.extend_from_slice(&[b'\\', b]),
            b'\r' => out.extend_from_slice(b"\\r"),
            b'\n' => out.extend_from_slice(b"\\n"),
            _ => out.push(b),
        }
    }
    out.push(b')');
}

/// A PDF white-space character (ISO 32000-2 table 1).
pub fn is_whitespace(b: u8) -> bool {
    matches!(b, b'\0' | b'\t' | b'\n' | b'\x0c' | b'\r' | b' ')
}

/// A PDF delimiter character (ISO 32000-2 table 2).
pub fn is_delimiter(b: u8) -> bool {
    matches!(
        b,
        b'(' | b')' | b'<' | b'>' | b'[' | b']' | b'{' | b'}' | b'/' | b'%'
    )
}

/// A text string for the update: PDFDocEncoding-compatible ASCII stays as it is, anything else is
/// written as UTF-16BE with a byte order mark (ISO 32000-2 section 7.9.2.2).
pub fn text_string(text: &str) -> Object {
    if text.bytes().all(|b| (0x20..0x7f).contains(&b)) {
        return Object::string(text);
    }
    let mut bytes = vec![0xfe, 0xff];
    for unit in text.encode_utf16() {
        bytes.extend_from_slice(&unit.to_be_bytes());
    }
    Object::String(bytes)
}

/// The text of a text string (ISO 32000-2 section 7.9.2.2): UTF-16BE or UTF-8 after their byte
/// order marks, else PDFDocEncoding. PDFDocEncoding is read as Latin-1, which it equals for
/// printable ASCII and for 0xA1 to 0xFF; its few other characters (typographic quotes, dashes,
/// ligatures at 0x80 to 0x9F and 0x18 to 0x1F) come out as the Latin-1 control characters there.
pub fn decode_text(bytes: &[u8]) -> String {
    if let Some(utf16) = bytes.strip_prefix(&[0xfe, 0xff]) {
        let units: Vec<u16> = utf16
            .chunks_exact(2)
            .map(|pair| u16::from_be_bytes([pair[0], pair[1]]))
            .collect();
        return String::from_utf16_lossy(&units);
    }
    if let Some(utf8) = bytes.strip_prefix(&[0xef, 0xbb, 0xbf]) {
        return String::from_utf8_lossy(utf8).into_owned();
    }
    bytes.iter().map(|&b| char::from(b)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_escape_delimiters_and_non_ascii() {
        assert_eq!(
            Object::Name(b"A B#(\xe9".to_vec()).to_bytes(),
            b"/A#20B#23#28#E9"
        );
    }

    #[test]
    fn strings_escape_parentheses_backslashes_and_line_ends() {
        assert_eq!(
            Object::String(b"a(b)\\\r\n".to_vec()).to_bytes(),
            b"(a\\(b\\)\\\\\\r\\n)"
        );
    }

    #[test]
    fn dictionaries_keep_key_order_and_replace_in_place() {
        let mut dict = Dictionary::new();
        dict.set(b"B", Object::Integer(1));
        dict.set(b"A", Object::Bool(true));
        dict.set(b"B", Object::Reference(ObjRef::new(4, 0)));
        assert_eq!(Object::Dictionary(dict).to_bytes(), b"<</B 4 0 R/A true>>");
    }

    #[test]
    fn text_strings_decode_from_each_encoding() {
        assert_eq!(decode_text(b"\xfe\xff\x00S\x00\xe9"), "Sé");
        assert_eq!(decode_text(b"\xef\xbb\xbfS\xc3\xa9"), "Sé");
        assert_eq!(decode_text(b"S\xe9"), "Sé");
    }

    #[test]
    fn non_ascii_text_becomes_utf16_with_bom() {
        assert_eq!(
            text_string("é"),
            Object::String(vec![0xfe, 0xff, 0x00, 0xe9])
        );
        assert_eq!(text_string("Paris"), Object::string("Paris"));
    }
}
