//! A parser for PDF objects in a window of bytes (ISO 32000-2 sections 7.2 and 7.3).
//!
//! Written by hand: the PDF crates parse whole documents, while pdf-seal reads a handful of
//! objects from windows of a file that may not fit in memory. The window may end before the
//! object does; the parser then answers [`ParseError::Incomplete`] and the reader retries with a
//! larger window.

use super::object::{Dictionary, ObjRef, Object, Stream, is_delimiter, is_whitespace};

/// Deeper nesting than this is refused: no real document needs it, and it bounds the stack.
const MAX_DEPTH: usize = 64;

#[derive(Debug, PartialEq)]
pub enum ParseError {
    /// The window ended inside the object: read more and try again.
    Incomplete,
    /// The bytes at `offset` are not valid PDF syntax.
    Syntax { offset: u64, reason: String },
}

pub type ParseResult<T> = Result<T, ParseError>;

/// A cursor over a window of the file. `base` is the file offset of the window's first byte;
/// `at_eof` says that the window ends where the file ends.
pub struct Parser<'a> {
    buf: &'a [u8],
    pos: usize,
    base: u64,
    at_eof: bool,
}

impl<'a> Parser<'a> {
    pub fn new(buf: &'a [u8], base: u64, at_eof: bool) -> Self {
        Self {
            buf,
            pos: 0,
            base,
            at_eof,
        }
    }

    /// The file offset of the cursor.
    pub fn offset(&self) -> u64 {
        self.base + self.pos as u64
    }

    pub fn position(&self) -> usize {
        self.pos
    }

    pub fn set_position(&mut self, pos: usize) {
        self.pos = pos;
    }

    pub fn syntax<T>(&self, reason: impl Into<String>) -> ParseResult<T> {
        Err(ParseError::Syntax {
            offset: self.offset(),
            reason: reason.into(),
        })
    }

    fn end<T>(&self) -> ParseResult<T> {
        if self.at_eof {
            self.syntax("unexpected end of file")
        } else {
            Err(ParseError::Incomplete)
        }
    }

    fn peek(&self) -> Option<u8> {
        self.buf.get(self.pos).copied()
    }

    /// Skips white space and comments.
    pub fn skip_whitespace(&mut self) {
        while let Some(b) = self.peek() {
            if is_whitespace(b) {
                self.pos += 1;
            } else if b == b'%' {
                while let Some(c) = self.peek() {
                    if c == b'\r' || c == b'\n' {
                        break;
                    }
                    self.pos += 1;
                }
            } else {
                break;
            }
        }
    }

    /// Reads a run of regular characters (a keyword or a number), after white space.
    pub fn token(&mut self) -> ParseResult<&'a [u8]> {
        self.skip_whitespace();
        let start = self.pos;
        while let Some(b) = self.peek() {
            if is_whitespace(b) || is_delimiter(b) {
                break;
            }
            self.pos += 1;
        }
        if self.pos == self.buf.len() && !self.at_eof {
            return Err(ParseError::Incomplete);
        }
        Ok(&self.buf[start..self.pos])
    }

    /// Reads `keyword` or fails.
    pub fn expect_keyword(&mut self, keyword: &[u8]) -> ParseResult<()> {
        let start = self.pos;
        let token = self.token()?;
        if token == keyword {
            return Ok(());
        }
        self.pos = start;
        self.skip_whitespace();
        self.syntax(format!("expected `{}`", String::from_utf8_lossy(keyword)))
    }

    /// Reads an unsigned integer token.
    pub fn unsigned(&mut self) -> ParseResult<u64> {
        let token = self.token()?;
        parse_unsigned(token).map_or_else(|| self.syntax("expected an unsigned integer"), Ok)
    }

    /// Reads an indirect object `num generation obj ... endobj`; a stream's data is not read.
    pub fn indirect_object(&mut self) -> ParseResult<(ObjRef, Object)> {
        let num = self.unsigned()?;
        let generation = self.unsigned()?;
        self.expect_keyword(b"obj")?;
        let (Ok(num), Ok(generation)) = (u32::try_from(num), u16::try_from(generation)) else {
            return self.syntax("object number out of range");
        };
        let object = self.object()?;
        let object = match object {
            Object::Dictionary(dict) => self.maybe_stream(dict)?,
            other => other,
        };
        Ok((ObjRef::new(num, generation), object))
    }

    fn maybe_stream(&mut self, dict: Dictionary) -> ParseResult<Object> {
        let after_dict = self.pos;
        self.skip_whitespace();
        if self.buf.len() - self.pos < 7 && !self.at_eof {
            return Err(ParseError::Incomplete);
        }
        if !self.buf[self.pos..].starts_with(b"stream") {
            self.pos = after_dict;
            return Ok(Object::Dictionary(dict));
        }
        self.pos += b"stream".len();
        // The keyword is followed by CRLF or LF; a lone CR is tolerated as many writers emit it.
        match (self.peek(), self.buf.get(self.pos + 1)) {
            (Some(b'\r'), Some(b'\n')) => self.pos += 2,
            (Some(b'\r' | b'\n'), _) => self.pos += 1,
            (None, _) => return self.end(),
            _ => {}
        }
        Ok(Object::Stream(Stream {
            dict,
            data_offset: self.offset(),
        }))
    }

    /// Reads one direct object (an `n g R` reference counts as one).
    pub fn object(&mut self) -> ParseResult<Object> {
        self.object_at_depth(0)
    }

    fn object_at_depth(&mut self, depth: usize) -> ParseResult<Object> {
        if depth > MAX_DEPTH {
            return self.syntax("objects nested too deeply");
        }
        self.skip_whitespace();
        let Some(b) = self.peek() else {
            return self.end();
        };
        match b {
            b'/' => self.name().map(Object::Name),
            b'(' => self.literal_string().map(Object::String),
            b'[' => self.array(depth),
            b'<' if self.buf.get(self.pos + 1) == Some(&b'<') => {
                self.dictionary(depth).map(Object::Dictionary)
            }
            b'<' => self.hex_string().map(Object::String),
            b'+' | b'-' | b'.' | b'0'..=b'9' => self.number_or_reference(),
            _ => self.keyword_object(),
        }
    }

    fn keyword_object(&mut self) -> ParseResult<Object> {
        let start = self.pos;
        let token = self.token()?;
        match token {
            b"true" => Ok(Object::Bool(true)),
            b"false" => Ok(Object::Bool(false)),
            b"null" => Ok(Object::Null),
            _ => {
                self.pos = start;
                // The document's own bytes stay out of messages, which may reach a log.
                if token.is_empty() {
                    self.syntax(format!("unexpected character 0x{:02x}", self.buf[start]))
                } else {
                    self.syntax(format!("unexpected keyword of {} bytes", token.len()))
                }
            }
        }
    }

    fn number_or_reference(&mut self) -> ParseResult<Object> {
        let start = self.pos;
        let token = self.token()?;
        let Some(first) = parse_unsigned(token).and_then(|n| u32::try_from(n).ok()) else {
            return self.number(start, token);
        };

        // `num generation R` is a reference; anything else leaves the cursor after the first integer.
        let after_first = self.pos;
        if let Some(reference) = self.reference_tail(first)? {
            return Ok(Object::Reference(reference));
        }
        self.pos = after_first;
        Ok(Object::Integer(i64::from(first)))
    }

    fn reference_tail(&mut self, num: u32) -> ParseResult<Option<ObjRef>> {
        self.skip_whitespace();
        if !matches!(self.peek(), Some(b'0'..=b'9')) {
            return if self.peek().is_none() {
                self.end()
            } else {
                Ok(None)
            };
        }
        let generation = self.token()?;
        let Some(generation) = parse_unsigned(generation).and_then(|g| u16::try_from(g).ok())
        else {
            return Ok(None);
        };
        self.skip_whitespace();
        match self.peek() {
            None => self.end(),
            Some(b'R') => {
                let next = self.buf.get(self.pos + 1).copied();
                if next.is_none() && !self.at_eof {
                    return Err(ParseError::Incomplete);
                }
                if next.is_none_or(|c| is_whitespace(c) || is_delimiter(c)) {
                    self.pos += 1;
                    Ok(Some(ObjRef::new(num, generation)))
                } else {
                    Ok(None)
                }
            }
            Some(_) => Ok(None),
        }
    }

    fn number(&mut self, start: usize, token: &[u8]) -> ParseResult<Object> {
        if token.contains(&b'.') {
            let digits = token.iter().filter(|b| b.is_ascii_digit()).count();
            let valid = digits > 0
                && token
                    .iter()
                    .skip(1)
                    .all(|&b| b.is_ascii_digit() || b == b'.')
                && token.iter().filter(|&&b| b == b'.').count() == 1;
            if valid {
                return Ok(Object::Real(token.to_vec()));
            }
        } else if let Some(value) = std::str::from_utf8(token).ok().and_then(|s| s.parse().ok()) {
            return Ok(Object::Integer(value));
        }
        self.pos = start;
        self.syntax("malformed number")
    }

    fn name(&mut self) -> ParseResult<Vec<u8>> {
        self.pos += 1;
        let mut name = Vec::new();
        while let Some(b) = self.peek() {
            if is_whitespace(b) || is_delimiter(b) {
                break;
            }
            let escaped = self.buf.get(self.pos + 1..self.pos + 3).and_then(hex_byte);
            if let (b'#', Some(value)) = (b, escaped) {
                name.push(value);
                self.pos += 3;
                continue;
            }
            name.push(b);
            self.pos += 1;
        }
        if self.peek().is_none() && !self.at_eof {
            return Err(ParseError::Incomplete);
        }
        Ok(name)
    }

    fn literal_string(&mut self) -> ParseResult<Vec<u8>> {
        self.pos += 1;
        let mut out = Vec::new();
        let mut depth = 1;
        loop {
            let Some(b) = self.peek() else {
                return self.end();
            };
            self.pos += 1;
            match b {
                b'(' => depth += 1,
                b')' => {
                    depth -= 1;
                    if depth == 0 {
                        return Ok(out);
                    }
                }
                b'\\' => {
                    self.escape(&mut out)?;
                    continue;
                }
                _ => {}
            }
            out.push(b);
        }
    }

    fn escape(&mut self, out: &mut Vec<u8>) -> ParseResult<()> {
        let Some(b) = self.peek() else {
            return self.end();
        };
        self.pos += 1;
        match b {
            b'n' => out.push(b'\n'),
            b'r' => out.push(b'\r'),
            b't' => out.push(b'\t'),
            b'b' => out.push(0x08),
            b'f' => out.push(0x0c),
            b'\r' => {
                if self.peek() == Some(b'\n') {
                    self.pos += 1;
                }
            }
            b'\n' => {}
            b'0'..=b'7' => {
                let mut value = u32::from(b - b'0');
                for _ in 0..2 {
                    match self.peek() {
                        Some(d @ b'0'..=b'7') => {
                            value = value * 8 + u32::from(d - b'0');
                            self.pos += 1;
                        }
                        _ => break,
                    }
                }
                out.push((value & 0xff) as u8);
            }
            other => out.push(other),
        }
        Ok(())
    }

    fn hex_string(&mut self) -> ParseResult<Vec<u8>> {
        self.pos += 1;
        let mut out = Vec::new();
        let mut high: Option<u8> = None;
        loop {
            let Some(b) = self.peek() else {
                return self.end();
            };
            self.pos += 1;
            if b == b'>' {
                if let Some(h) = high {
                    out.push(h << 4);
                }
                return Ok(out);
            }
            if is_whitespace(b) {
                continue;
            }
            let Some(value) = (b as char).to_digit(16) else {
                self.pos -= 1;
                return self.syntax("invalid character in hex string");
            };
            match high.take() {
                Some(h) => out.push((h << 4) | value as u8),
                None => high = Some(value as u8),
            }
        }
    }

    fn array(&mut self, depth: usize) -> ParseResult<Object> {
        self.pos += 1;
        let mut items = Vec::new();
        loop {
            self.skip_whitespace();
            match self.peek() {
                None => return self.end(),
                Some(b']') => {
                    self.pos += 1;
                    return Ok(Object::Array(items));
                }
                Some(_) => items.push(self.object_at_depth(depth + 1)?),
            }
        }
    }

    fn dictionary(&mut self, depth: usize) -> ParseResult<Dictionary> {
        self.pos += 2;
        let mut dict = Dictionary::new();
        loop {
            self.skip_whitespace();
            match self.peek() {
                None => return self.end(),
                Some(b'>') => {
                    if self.buf.get(self.pos + 1).is_none() {
                        return self.end();
                    }
                    if self.buf[self.pos + 1] != b'>' {
                        return self.syntax("expected `>>`");
                    }
                    self.pos += 2;
                    return Ok(dict);
                }
                Some(b'/') => {
                    let key = self.name()?;
                    let value = self.object_at_depth(depth + 1)?;
                    // A null value is the same as an absent entry (ISO 32000-2 section 7.3.7).
                    if value != Object::Null {
                        dict.set(&key, value);
                    }
                }
                Some(_) => return self.syntax("expected a name as dictionary key"),
            }
        }
    }
}

fn parse_unsigned(token: &[u8]) -> Option<u64> {
    if token.is_empty() || token.len() > 19 || !token.iter().all(u8::is_ascii_digit) {
        return None;
    }
    std::str::from_utf8(token).ok()?.parse().ok()
}

fn hex_byte(pair: &[u8]) -> Option<u8> {
    let text = std::str::from_utf8(pair).ok()?;
    u8::from_str_radix(text, 16).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &[u8]) -> ParseResult<Object> {
        Parser::new(text, 0, true).object()
    }

    #[test]
    fn reads_nested_dictionaries_arrays_and_references() {
        let object = parse(b"<</Type/Page/Kids[1 0 R 2 0 R]/N -3/R .5/S(a\\)b)/H<41 4>>>").unwrap();
        let dict = object.as_dict().unwrap();
        assert_eq!(dict.name(b"Type"), Some(&b"Page"[..]));
        let kids = dict.get(b"Kids").unwrap().as_array().unwrap();
        assert_eq!(kids[1], Object::Reference(ObjRef::new(2, 0)));
        assert_eq!(dict.integer(b"N"), Some(-3));
        assert_eq!(dict.get(b"R"), Some(&Object::Real(b".5".to_vec())));
        assert_eq!(dict.get(b"S"), Some(&Object::String(b"a)b".to_vec())));
        assert_eq!(dict.get(b"H"), Some(&Object::String(b"A@".to_vec())));
    }

    #[test]
    fn two_integers_without_r_stay_integers() {
        let object = parse(b"[1 2 3]").unwrap();
        assert_eq!(
            object,
            Object::Array(vec![
                Object::Integer(1),
                Object::Integer(2),
                Object::Integer(3)
            ])
        );
    }

    #[test]
    fn a_window_that_ends_inside_an_object_is_incomplete() {
        let mut parser = Parser::new(b"<</Kids[1 0 R 2 0", 0, false);
        assert_eq!(parser.object(), Err(ParseError::Incomplete));
        let mut parser = Parser::new(b"12 0 obj\n<</A 1>>\nstre", 0, false);
        assert_eq!(parser.indirect_object(), Err(ParseError::Incomplete));
    }

    #[test]
    fn the_end_of_the_file_inside_an_object_is_a_syntax_error_with_its_offset() {
        let error = Parser::new(b"<</A (open", 100, true).object().unwrap_err();
        assert_eq!(
            error,
            ParseError::Syntax {
                offset: 110,
                reason: "unexpected end of file".into()
            }
        );
    }

    #[test]
    fn reads_a_stream_header_and_the_offset_of_its_data() {
        let text = b"7 0 obj\r\n<</Length 3>>stream\r\nabc\r\nendstream";
        let (reference, object) = Parser::new(text, 1000, true).indirect_object().unwrap();
        assert_eq!(reference, ObjRef::new(7, 0));
        let Object::Stream(stream) = object else {
            panic!("not a stream")
        };
        assert_eq!(stream.data_offset, 1000 + 30);
    }

    #[test]
    fn octal_escapes_and_line_continuations_decode() {
        assert_eq!(
            parse(b"(\\101\\7a\\\nb)").unwrap(),
            Object::String(b"A\x07ab".to_vec())
        );
    }

    #[test]
    fn name_escapes_decode() {
        assert_eq!(parse(b"/A#20B").unwrap(), Object::Name(b"A B".to_vec()));
    }

    #[test]
    fn deep_nesting_is_refused_not_a_stack_overflow() {
        let text = vec![b'['; 10_000];
        assert!(matches!(parse(&text), Err(ParseError::Syntax { .. })));
    }

    #[test]
    fn null_values_drop_the_key() {
        let object = parse(b"<</A null/B 1>>").unwrap();
        assert_eq!(object.as_dict().unwrap().len(), 1);
    }
}
