//! Reading a seal request: the body's media type, its size limit and the options. The body
//! itself is read by [`super::request_body`]; its JSON forms are in [`super::seal_json`].

use actix_web::HttpRequest;
use actix_web::http::header::CONTENT_TYPE;
use pdf_seal_core::SealOptions;
use pdf_seal_core::signer::DigestAlgorithm;
use serde::{Deserialize, Serialize};

use super::problem::{ApiError, ProblemType};

/// The media types a seal request may have, as named in the 415 answer.
pub const ACCEPTED_MEDIA_TYPES: &str =
    "application/pdf, application/octet-stream or application/json";

/// What a JSON body may hold beyond the base64 of the largest PDF: the options and the JSON
/// punctuation.
pub const JSON_OVERHEAD_BYTES: u64 = 64 * 1024;

/// How the PDF travels in the request body.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BodyKind {
    /// The raw PDF bytes (`application/pdf` or `application/octet-stream`).
    Pdf,
    /// JSON carrying the PDF as base64 (`application/json`).
    Json,
}

impl BodyKind {
    /// The kind named by the request's `Content-Type`; any other type, or none, is a 415.
    pub fn of(request: &HttpRequest) -> Result<Self, ApiError> {
        match media_type(request).as_deref() {
            Some("application/pdf" | "application/octet-stream") => Ok(Self::Pdf),
            Some("application/json") => Ok(Self::Json),
            Some(other) => Err(unsupported(&format!(
                "Content-Type {other:?} is not accepted"
            ))),
            None => Err(unsupported("the request has no Content-Type")),
        }
    }

    /// The most bytes a body of this kind may have when the PDF may have `max_pdf_bytes`.
    pub fn body_limit(self, max_pdf_bytes: u64) -> u64 {
        match self {
            Self::Pdf => max_pdf_bytes,
            Self::Json => max_pdf_bytes.div_ceil(3) * 4 + JSON_OVERHEAD_BYTES,
        }
    }
}

/// The media type of the request's `Content-Type`, lowercase, without its parameters.
pub fn media_type(request: &HttpRequest) -> Option<String> {
    let header = request.headers().get(CONTENT_TYPE)?.to_str().ok()?;
    Some(
        header
            .split(';')
            .next()
            .unwrap_or("")
            .trim()
            .to_ascii_lowercase(),
    )
}

fn unsupported(what: &str) -> ApiError {
    let detail = format!("{what}; send the PDF as {ACCEPTED_MEDIA_TYPES}");
    ApiError::new(ProblemType::UnsupportedMediaType, detail)
}

/// The options of a seal as the caller wrote them, from the query string or the JSON body.
/// An empty value counts as absent, since flows send empty strings for unset fields.
#[derive(Clone, Debug, Default, Deserialize, Serialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct RequestedOptions {
    /// `reason`: the /Reason of the signature.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// `location`: the /Location of the signature.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub location: Option<String>,
    /// `contactInfo`: the /ContactInfo of the signature.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub contact_info: Option<String>,
    /// `fieldName`: the name of the new signature field.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub field_name: Option<String>,
    /// `digest`: `sha256`, `sha384` or `sha512`, checked by [`Self::to_seal_options`].
    #[serde(skip_serializing_if = "Option::is_none")]
    pub digest: Option<String>,
}

impl RequestedOptions {
    /// The options in a query string; other parameters (such as a function key's `code`) are
    /// ignored.
    pub fn from_query(query: &str) -> Result<Self, ApiError> {
        Ok(query_options(query)?.without_empty_values())
    }

    /// Combines the query's options with the JSON body's. The rule: an option may be given in
    /// either place, or in both with the same value; different values are a 400 that names
    /// the option, so that no value is silently dropped.
    pub fn merge(self, body: Self) -> Result<Self, ApiError> {
        let body = body.without_empty_values();
        Ok(Self {
            reason: pick("reason", self.reason, body.reason)?,
            location: pick("location", self.location, body.location)?,
            contact_info: pick("contactInfo", self.contact_info, body.contact_info)?,
            field_name: pick("fieldName", self.field_name, body.field_name)?,
            digest: pick("digest", self.digest, body.digest)?,
        })
    }

    /// The core's options, with `default_digest` (the signer's) unless the caller chose one;
    /// an unknown digest is a 400.
    pub fn to_seal_options(
        &self,
        default_digest: DigestAlgorithm,
    ) -> Result<SealOptions, ApiError> {
        let digest = match &self.digest {
            Some(name) => name.parse::<DigestAlgorithm>().map_err(|reason| {
                ApiError::new(ProblemType::InvalidRequest, format!("digest: {reason}"))
            })?,
            None => default_digest,
        };

        Ok(SealOptions {
            reason: self.reason.clone(),
            location: self.location.clone(),
            contact_info: self.contact_info.clone(),
            field_name: self.field_name.clone(),
            digest,
            document_sha256: true,
            ..SealOptions::default()
        })
    }

    /// The same options without those given as empty strings, which flows send for unset
    /// fields.
    pub fn without_empty_values(self) -> Self {
        let keep = |value: Option<String>| value.filter(|text| !text.is_empty());
        Self {
            reason: keep(self.reason),
            location: keep(self.location),
            contact_info: keep(self.contact_info),
            field_name: keep(self.field_name),
            digest: keep(self.digest),
        }
    }
}

fn query_options(query: &str) -> Result<RequestedOptions, ApiError> {
    actix_web::web::Query::<RequestedOptions>::from_query(query)
        .map(actix_web::web::Query::into_inner)
        .map_err(|error| {
            let detail = format!("the query string cannot be read: {error}");
            ApiError::new(ProblemType::InvalidRequest, detail)
        })
}

fn pick(
    name: &str,
    query: Option<String>,
    body: Option<String>,
) -> Result<Option<String>, ApiError> {
    match (query, body) {
        (Some(query), Some(body)) if query != body => Err(ApiError::new(
            ProblemType::InvalidRequest,
            format!("{name} is given in the query and in the body with different values"),
        )),
        (query, body) => Ok(query.or(body)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_json_limit_is_the_base64_of_the_pdf_limit_plus_64_kib() {
        assert_eq!(BodyKind::Json.body_limit(3), 4 + 65_536);
        assert_eq!(BodyKind::Json.body_limit(52_428_800), 69_905_068 + 65_536);
        assert_eq!(BodyKind::Pdf.body_limit(52_428_800), 52_428_800);
    }

    #[test]
    fn query_options_ignore_other_parameters_and_empty_values() {
        let options = RequestedOptions::from_query("code=secret&reason=ok&location=").unwrap();

        assert_eq!(options.reason.as_deref(), Some("ok"));
        assert_eq!(options.location, None);
    }

    #[test]
    fn an_option_in_both_places_must_have_the_same_value() {
        let query = RequestedOptions::from_query("reason=a&digest=sha384").unwrap();
        let same = RequestedOptions {
            reason: Some("a".into()),
            field_name: Some("F".into()),
            ..RequestedOptions::default()
        };
        let different = RequestedOptions {
            reason: Some("b".into()),
            ..RequestedOptions::default()
        };

        let merged = query.clone().merge(same).unwrap();
        let error = query.merge(different).unwrap_err();

        assert_eq!(merged.reason.as_deref(), Some("a"));
        assert_eq!(merged.field_name.as_deref(), Some("F"));
        assert_eq!(merged.digest.as_deref(), Some("sha384"));
        assert!(error.to_string().contains("reason"), "{error}");
    }

    #[test]
    fn an_unknown_digest_is_an_invalid_request() {
        let options = RequestedOptions::from_query("digest=md5").unwrap();

        let error = options
            .to_seal_options(DigestAlgorithm::Sha256)
            .unwrap_err();

        assert_eq!(error.problem(), ProblemType::InvalidRequest);
    }

    #[test]
    fn seal_options_ask_the_core_for_the_document_hash() {
        let options = RequestedOptions::from_query("digest=SHA-512").unwrap();

        let seal_options = options.to_seal_options(DigestAlgorithm::Sha256).unwrap();

        assert!(seal_options.document_sha256);
        assert_eq!(seal_options.digest, DigestAlgorithm::Sha512);
    }
}
