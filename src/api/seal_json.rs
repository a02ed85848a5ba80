//! The JSON forms of a seal request: the PDF as base64, beside the options.

use std::borrow::Cow;

use base64::Engine as _;
use base64::alphabet;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
use bytes::Bytes;
use serde::Deserialize;
use utoipa::ToSchema;

use super::openapi::{DigestName, FlowFile};
use super::problem::{ApiError, ProblemType};
use super::seal_request::RequestedOptions;

/// Standard base64, with or without the final padding.
const BASE64: GeneralPurpose = GeneralPurpose::new(
    &alphabet::STANDARD,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

/// Base64 text borrowed from the request body when it has no JSON escapes (the usual case),
/// so that a large document is not copied once more.
#[derive(Deserialize)]
struct Base64Text<'a>(#[serde(borrow)] Cow<'a, str>);

/// A file as flows hold it: `{"$content-type": "application/pdf", "$content": "<base64>"}`.
/// The `$content-type` is not checked: the content itself must be a PDF.
#[derive(Deserialize)]
struct FileObject<'a> {
    #[serde(rename = "$content", borrow)]
    content: Base64Text<'a>,
}

/// The JSON body of a seal request: the PDF as base64, in `file` or in `fileContent`, and the
/// options of the query string beside it.
#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SealPdfJson<'a> {
    /// The PDF as flows hold files.
    #[serde(borrow)]
    #[schema(value_type = Option<FlowFile>)]
    file: Option<FileObject<'a>>,
    /// The PDF as base64, when `file` is not given.
    #[serde(borrow)]
    #[schema(value_type = Option<String>, format = Byte, extensions(("x-ms-summary" = json!("File content"))))]
    file_content: Option<Base64Text<'a>>,
    /// As the query parameter `reason`.
    #[schema(extensions(("x-ms-summary" = json!("Reason"))))]
    reason: Option<String>,
    /// As the query parameter `location`.
    #[schema(extensions(("x-ms-summary" = json!("Location"))))]
    location: Option<String>,
    /// As the query parameter `contactInfo`.
    #[schema(extensions(("x-ms-summary" = json!("Contact information"))))]
    contact_info: Option<String>,
    /// As the query parameter `fieldName`.
    #[schema(extensions(("x-ms-summary" = json!("Signature field name"))))]
    field_name: Option<String>,
    /// As the query parameter `digest`.
    #[schema(value_type = Option<DigestName>)]
    digest: Option<String>,
}

/// Reads a JSON body: `{"file": {"$content-type": ..., "$content": "<base64>"}}` or
/// `{"fileContent": "<base64>"}`, with the options beside the file. Returns the decoded PDF,
/// which may have at most `max_pdf_bytes`, and the options.
pub fn parse_json(raw: &[u8], max_pdf_bytes: u64) -> Result<(Bytes, RequestedOptions), ApiError> {
    let body: SealPdfJson<'_> = serde_json::from_slice(raw).map_err(|error| {
        let detail = format!("the JSON body cannot be read: {error}");
        ApiError::new(ProblemType::InvalidRequest, detail)
    })?;

    let content = match (body.file, body.file_content) {
        (Some(file), None) => file.content.0,
        (None, Some(content)) => content.0,
        (Some(_), Some(_)) => return Err(invalid("give either file or fileContent, not both")),
        (None, None) => {
            return Err(invalid(
                "the JSON body has no file: send {\"file\": {\"$content-type\": \"application/pdf\", \
             \"$content\": \"<base64>\"}} or {\"fileContent\": \"<base64>\"}",
            ));
        }
    };
    let pdf = decode_base64(&content, max_pdf_bytes)?;

    let options = RequestedOptions {
        reason: body.reason,
        location: body.location,
        contact_info: body.contact_info,
        field_name: body.field_name,
        digest: body.digest,
    };
    Ok((Bytes::from(pdf), options))
}

fn invalid(detail: &str) -> ApiError {
    ApiError::new(ProblemType::InvalidRequest, detail)
}

/// Decodes standard base64, padded or not; line breaks and spaces are skipped, as some
/// encoders wrap their output.
pub fn decode_base64(text: &str, max_pdf_bytes: u64) -> Result<Vec<u8>, ApiError> {
    let compact: Cow<'_, [u8]> = match text.bytes().any(|byte| byte.is_ascii_whitespace()) {
        true => text
            .bytes()
            .filter(|byte| !byte.is_ascii_whitespace())
            .collect(),
        false => Cow::Borrowed(text.as_bytes()),
    };

    let pdf = BASE64.decode(compact).map_err(|error| {
        let detail = format!("the file content is not valid base64: {error}");
        ApiError::new(ProblemType::InvalidBase64, detail)
    })?;
    if pdf.len() as u64 > max_pdf_bytes {
        let detail = format!("the PDF is larger than the limit of {max_pdf_bytes} bytes");
        return Err(ApiError::new(ProblemType::PayloadTooLarge, detail));
    }
    Ok(pdf)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_flow_file_object() {
        let raw = br#"{"file": {"$content-type": "application/pdf", "$content": "JVBERi0="},
                       "reason": "approved"}"#;

        let (pdf, options) = parse_json(raw, 100).unwrap();

        assert_eq!(&pdf[..], b"%PDF-");
        assert_eq!(options.reason.as_deref(), Some("approved"));
    }

    #[test]
    fn reads_the_plain_base64_field_with_escapes_and_line_breaks() {
        let raw = br#"{"fileContent": "JVBE\nRi0\/", "fieldName": "Approval"}"#;

        let (pdf, options) = parse_json(raw, 100).unwrap();

        assert_eq!(&pdf[..], b"%PDF-?");
        assert_eq!(options.field_name.as_deref(), Some("Approval"));
    }

    #[test]
    fn accepts_base64_without_padding() {
        assert_eq!(decode_base64("JVBERi0", 100).unwrap(), b"%PDF-");
    }

    #[test]
    fn refuses_invalid_base64() {
        let error = decode_base64("JVBER*0=", 100).unwrap_err();

        assert_eq!(error.problem(), ProblemType::InvalidBase64);
    }

    #[test]
    fn refuses_a_decoded_pdf_over_the_limit() {
        let error = decode_base64("JVBERi0=", 4).unwrap_err();

        assert_eq!(error.problem(), ProblemType::PayloadTooLarge);
    }

    #[test]
    fn refuses_json_without_a_file_or_with_two() {
        let both = br#"{"file": {"$content": "JVBERi0="}, "fileContent": "JVBERi0="}"#;

        for raw in [&br#"{"reason": "x"}"#[..], both, b"[1, 2]", b"{"] {
            let error = parse_json(raw, 100).unwrap_err();

            assert_eq!(error.problem(), ProblemType::InvalidRequest);
        }
    }
}
