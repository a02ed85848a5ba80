//! The answer to a seal: the sealed PDF as a binary body, or JSON with base64 content.

use std::convert::Infallible;
use std::io::Write as _;

use actix_web::body::SizedStream;
use actix_web::http::header::{ACCEPT, CACHE_CONTROL, CONTENT_TYPE, HeaderName, HeaderValue, VARY};
use actix_web::{HttpRequest, HttpResponse};
use base64::engine::general_purpose::STANDARD;
use base64::write::EncoderWriter;
use bytes::Bytes;
use futures_util::stream;
use pdf_seal_core::Sealed;
use sha2::{Digest as _, Sha256};
use utoipa::ToSchema;

/// The name of the signature field that holds the seal, percent-encoded (see
/// [`field_name_header`]).
pub const FIELD_NAME_HEADER: HeaderName = HeaderName::from_static("x-seal-field-name");

/// The SHA-256 of the whole sealed document, as lowercase hex.
pub const DOCUMENT_SHA256_HEADER: HeaderName = HeaderName::from_static("x-seal-document-sha256");

/// The sealed PDF as JSON, for a caller whose `Accept` ranks `application/json` first.
// Written by `json_parts` without this type, which only describes it.
#[derive(ToSchema)]
pub struct SealedPdfJson {
    /// Always `application/pdf`.
    #[schema(rename = "$content-type", example = "application/pdf")]
    pub content_type: String,
    /// The sealed PDF as base64.
    #[schema(rename = "$content", format = Byte)]
    pub content: String,
    /// The name of the signature field that holds the seal.
    #[schema(rename = "fieldName")]
    pub field_name: String,
    /// The SHA-256 of the sealed PDF, as lowercase hex.
    #[schema(rename = "documentSha256")]
    pub document_sha256: String,
}

/// Answers the sealed document: `original` followed by the seal's increment.
///
/// The body is binary `application/pdf` unless `Accept` prefers `application/json` (see
/// [`prefers_json`]); then it is `{"$content-type": "application/pdf", "$content": "<base64>",
/// "fieldName": ..., "documentSha256": ...}`, the shape flows use for files. Either way the
/// original bytes are sent from the request's own buffer, not copied into a new one.
pub fn respond(request: &HttpRequest, original: Bytes, sealed: Sealed) -> HttpResponse {
    let sha256 = hex::encode(document_sha256(&original, &sealed));
    let accept = request
        .headers()
        .get(ACCEPT)
        .and_then(|value| value.to_str().ok());
    let increment = Bytes::from(sealed.increment);

    let (content_type, parts) = match prefers_json(accept) {
        true => {
            let json = json_parts(&original, &increment, &sealed.field_name, &sha256);
            ("application/json", json)
        }
        false => ("application/pdf", vec![original, increment]),
    };

    let length = parts.iter().map(|part| part.len() as u64).sum();
    let body = stream::iter(parts.into_iter().map(Ok::<_, Infallible>));
    HttpResponse::Ok()
        .insert_header((CONTENT_TYPE, content_type))
        .insert_header((FIELD_NAME_HEADER, field_name_header(&sealed.field_name)))
        .insert_header((DOCUMENT_SHA256_HEADER, sha256))
        .insert_header((VARY, "Accept"))
        .insert_header((CACHE_CONTROL, "no-store"))
        .body(SizedStream::new(length, body))
}

/// The core's hash of the sealed document, or one computed here if it gave none.
fn document_sha256(original: &[u8], sealed: &Sealed) -> [u8; 32] {
    if let Some(hash) = sealed.document_sha256 {
        return hash;
    }
    let mut hasher = Sha256::new();
    hasher.update(original);
    hasher.update(&sealed.increment);
    hasher.finalize().into()
}

/// True when the `Accept` header ranks `application/json` above the binary types.
///
/// Each media range counts with its `q` (1 when absent); `*/*` and `application/*` count for
/// the binary answer, and among equals the binary answer wins. No header, or one that names
/// none of these types, gets the binary answer (no 406).
pub fn prefers_json(accept: Option<&str>) -> bool {
    let mut json = 0.0_f32;
    let mut binary = 0.0_f32;
    for range in accept.unwrap_or("").split(',') {
        let mut params = range.split(';');
        let media = params.next().unwrap_or("").trim().to_ascii_lowercase();
        let quality = params
            .filter_map(|param| param.trim().strip_prefix("q="))
            .find_map(|q| q.trim().parse::<f32>().ok())
            .unwrap_or(1.0);

        match media.as_str() {
            "application/json" => json = json.max(quality),
            "application/pdf" | "application/octet-stream" | "application/*" | "*/*" => {
                binary = binary.max(quality)
            }
            _ => {}
        }
    }
    json > 0.0 && json > binary
}

/// The field name as a header value: visible ASCII stays as it is, every other byte of its
/// UTF-8 form and `%` itself become `%XX`, so any name fits in a header.
pub fn field_name_header(name: &str) -> HeaderValue {
    let mut encoded = String::with_capacity(name.len());
    for byte in name.bytes() {
        match byte {
            b'!'..=b'~' if byte != b'%' => encoded.push(char::from(byte)),
            _ => encoded.push_str(&format!("%{byte:02X}")),
        }
    }
    // Only visible ASCII is left, which is always a valid header value.
    HeaderValue::from_str(&encoded).unwrap_or(HeaderValue::from_static(""))
}

/// The JSON answer in three parts, so that the base64 (the bulk of it) is written once and
/// never copied into another buffer. Base64 text needs no JSON escaping.
fn json_parts(original: &[u8], increment: &[u8], field_name: &str, sha256: &str) -> Vec<Bytes> {
    let prefix = r#"{"$content-type":"application/pdf","$content":""#;
    let field_name = serde_json::Value::from(field_name).to_string();
    let suffix = format!(r#"","fieldName":{field_name},"documentSha256":"{sha256}"}}"#);

    let length = original.len() + increment.len();
    let capacity = base64::encoded_len(length, true).unwrap_or(0);
    let mut encoder = EncoderWriter::new(Vec::with_capacity(capacity), &STANDARD);
    // Writing into a Vec cannot fail.
    let _ = encoder.write_all(original);
    let _ = encoder.write_all(increment);
    let content = encoder.finish().unwrap_or_default();

    vec![
        Bytes::from_static(prefix.as_bytes()),
        Bytes::from(content),
        Bytes::from(suffix),
    ]
}

#[cfg(test)]
mod tests {
    use base64::Engine as _;

    use super::*;

    #[test]
    fn binary_is_the_default_answer() {
        assert!(!prefers_json(None));
        assert!(!prefers_json(Some("*/*")));
        assert!(!prefers_json(Some("text/html")));
        assert!(!prefers_json(Some("application/json, application/pdf")));
    }

    #[test]
    fn json_is_answered_when_it_ranks_first() {
        assert!(prefers_json(Some("application/json")));
        assert!(prefers_json(Some("application/json, */*;q=0.8")));
        assert!(prefers_json(Some(
            "application/pdf;q=0.5, application/json"
        )));
        assert!(!prefers_json(Some("application/json;q=0")));
    }

    #[test]
    fn field_names_are_percent_encoded_beyond_visible_ascii() {
        assert_eq!(field_name_header("Seal1"), "Seal1");
        assert_eq!(field_name_header("Sceau é 100%"), "Sceau%20%C3%A9%20100%25");
    }

    #[test]
    fn the_json_answer_holds_the_whole_document_and_its_facts() {
        let parts = json_parts(b"%PDF-1.7 original", b" increment", "Seal \"1\"", "ab12");

        let joined: Vec<u8> = parts.concat();
        let json: serde_json::Value = serde_json::from_slice(&joined).unwrap();

        let content = STANDARD.decode(json["$content"].as_str().unwrap()).unwrap();
        assert_eq!(content, b"%PDF-1.7 original increment");
        assert_eq!(json["$content-type"], "application/pdf");
        assert_eq!(json["fieldName"], "Seal \"1\"");
        assert_eq!(json["documentSha256"], "ab12");
    }

    #[test]
    fn the_document_hash_is_computed_when_the_core_gives_none() {
        let sealed = Sealed {
            increment: b"def".to_vec(),
            field_name: "Seal1".into(),
            document_sha256: None,
        };

        let hash = document_sha256(b"abc", &sealed);

        assert_eq!(hash[..], Sha256::digest(b"abcdef")[..]);
    }
}
