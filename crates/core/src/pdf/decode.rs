//! Stream filters the reader needs: FlateDecode with PNG and TIFF predictors (ISO 32000-2
//! section 7.4.4), for cross-reference streams and object streams.

use std::io::Read;

use flate2::read::ZlibDecoder;

use super::object::{Dictionary, Object};

/// Decoded streams larger than this are refused, so that a compressed bomb cannot exhaust memory.
const MAX_DECODED_BYTES: u64 = 64 << 20;

/// Decodes stream data according to its /Filter and /DecodeParms; only what the reader needs.
pub fn decode(dict: &Dictionary, data: &[u8]) -> Result<Vec<u8>, String> {
    let filters: Vec<&[u8]> = match dict.get(b"Filter") {
        None => Vec::new(),
        Some(Object::Name(name)) => vec![name.as_slice()],
        Some(Object::Array(items)) => items
            .iter()
            .map(|item| match item {
                Object::Name(name) => Ok(name.as_slice()),
                _ => Err("a /Filter entry is not a name".to_string()),
            })
            .collect::<Result<_, _>>()?,
        Some(_) => return Err("/Filter is neither a name nor an array".into()),
    };
    let params = decode_params(dict, filters.len());

    let mut bytes = data.to_vec();
    for (filter, params) in filters.iter().zip(params) {
        bytes = match *filter {
            b"FlateDecode" | b"Fl" => {
                let inflated = inflate(&bytes)?;
                apply_predictor(inflated, params.as_ref())?
            }
            other => {
                return Err(format!(
                    "unsupported filter /{}",
                    String::from_utf8_lossy(other)
                ));
            }
        };
    }
    Ok(bytes)
}

fn decode_params(dict: &Dictionary, count: usize) -> Vec<Option<Dictionary>> {
    match dict.get(b"DecodeParms").or_else(|| dict.get(b"DP")) {
        Some(Object::Dictionary(params)) => {
            let mut all = vec![None; count];
            if let Some(first) = all.first_mut() {
                *first = Some(params.clone());
            }
            all
        }
        Some(Object::Array(items)) => (0..count)
            .map(|i| items.get(i).and_then(Object::as_dict).cloned())
            .collect(),
        _ => vec![None; count],
    }
}

/// Inflates zlib data. A truncated or damaged tail keeps what was decoded before it, as readers
/// commonly do; a stream that yields nothing at all is an error.
fn inflate(data: &[u8]) -> Result<Vec<u8>, String> {
    let mut out = Vec::new();
    let mut decoder = ZlibDecoder::new(data).take(MAX_DECODED_BYTES + 1);
    match decoder.read_to_end(&mut out) {
        Ok(_) => {}
        Err(error) if out.is_empty() => return Err(format!("FlateDecode: {error}")),
        Err(_) => {}
    }
    if out.len() as u64 > MAX_DECODED_BYTES {
        return Err(format!("decoded stream exceeds {MAX_DECODED_BYTES} bytes"));
    }
    Ok(out)
}

fn apply_predictor(data: Vec<u8>, params: Option<&Dictionary>) -> Result<Vec<u8>, String> {
    let Some(params) = params else {
        return Ok(data);
    };
    let predictor = params.integer(b"Predictor").unwrap_or(1);
    if predictor <= 1 {
        return Ok(data);
    }
    let colors = params.integer(b"Colors").unwrap_or(1);
    let bits = params.integer(b"BitsPerComponent").unwrap_or(8);
    let columns = params.integer(b"Columns").unwrap_or(1);
    if !(1..=32).contains(&colors)
        || ![1, 2, 4, 8, 16].contains(&bits)
        || !(1..=1 << 20).contains(&columns)
    {
        return Err("unsupported predictor parameters".into());
    }
    let bytes_per_pixel = ((colors * bits + 7) / 8) as usize;
    let row_len = ((colors * bits * columns + 7) / 8) as usize;
    match predictor {
        2 if bits == 8 => Ok(tiff_predictor(data, bytes_per_pixel, row_len)),
        10..=15 => png_predictor(&data, bytes_per_pixel, row_len),
        other => Err(format!("unsupported predictor {other}")),
    }
}

fn tiff_predictor(mut data: Vec<u8>, bpp: usize, row_len: usize) -> Vec<u8> {
    for row in data.chunks_mut(row_len.max(1)) {
        for i in bpp..row.len() {
            row[i] = row[i].wrapping_add(row[i - bpp]);
        }
    }
    data
}

/// Undoes PNG row filters (RFC 2083 section 6): every row starts with its filter type byte.
fn png_predictor(data: &[u8], bpp: usize, row_len: usize) -> Result<Vec<u8>, String> {
    // A row cannot be longer than the data: a huge /Columns must not size the buffers.
    let row_len = row_len.min(data.len());
    let mut out = Vec::with_capacity(data.len());
    let mut previous = vec![0u8; row_len];
    for chunk in data.chunks(row_len + 1) {
        let (&filter, encoded) = chunk.split_first().ok_or("empty predictor row")?;
        let mut row = encoded.to_vec();
        row.resize(row_len, 0);
        for i in 0..row_len {
            let left = if i >= bpp { row[i - bpp] } else { 0 };
            let up = previous[i];
            let up_left = if i >= bpp { previous[i - bpp] } else { 0 };
            row[i] = match filter {
                0 => row[i],
                1 => row[i].wrapping_add(left),
                2 => row[i].wrapping_add(up),
                3 => row[i].wrapping_add(((u16::from(left) + u16::from(up)) / 2) as u8),
                4 => row[i].wrapping_add(paeth(left, up, up_left)),
                other => return Err(format!("unknown PNG row filter {other}")),
            };
        }
        out.extend_from_slice(&row);
        previous = row;
    }
    Ok(out)
}

fn paeth(a: u8, b: u8, c: u8) -> u8 {
    let p = i16::from(a) + i16::from(b) - i16::from(c);
    let (pa, pb, pc) = (
        (p - i16::from(a)).abs(),
        (p - i16::from(b)).abs(),
        (p - i16::from(c)).abs(),
    );
    if pa <= pb && pa <= pc {
        a
    } else if pb <= pc {
        b
    } else {
        c
    }
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use flate2::Compression;
    use flate2::write::ZlibEncoder;

    use super::*;
    use crate::pdf::parser::Parser;

    fn dict(text: &str) -> Dictionary {
        Parser::new(text.as_bytes(), 0, true)
            .object()
            .unwrap()
            .as_dict()
            .unwrap()
            .clone()
    }

    fn deflate(data: &[u8]) -> Vec<u8> {
        let mut encoder = ZlibEncoder::new(Vec::new(), Compression::default());
        encoder.write_all(data).unwrap();
        encoder.finish().unwrap()
    }

    #[test]
    fn png_up_rows_decode_against_the_previous_row() {
        // Two rows of three columns with the Up filter (2): the second adds the first.
        let raw = [2, 1, 2, 3, 2, 1, 1, 1];
        let stream = dict("<</Filter/FlateDecode/DecodeParms<</Predictor 12/Columns 3>>>>");
        assert_eq!(
            decode(&stream, &deflate(&raw)).unwrap(),
            vec![1, 2, 3, 2, 3, 4]
        );
    }

    #[test]
    fn a_huge_column_count_costs_no_more_than_the_data() {
        let raw = [2u8, 0, 0, 0];
        let params = "<</Filter/FlateDecode/DecodeParms<</Predictor 12/Colors 32/BitsPerComponent 16/Columns 1048576>>>>";
        assert_eq!(
            decode(&dict(params), &deflate(&raw)).unwrap(),
            vec![0, 0, 0, 0]
        );
    }

    #[test]
    fn unfiltered_data_passes_through() {
        assert_eq!(decode(&dict("<<>>"), b"abc").unwrap(), b"abc");
    }

    #[test]
    fn unknown_filters_are_named_in_the_error() {
        let error = decode(&dict("<</Filter/LZWDecode>>"), b"").unwrap_err();
        assert!(error.contains("LZWDecode"), "{error}");
    }
}
