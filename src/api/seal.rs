//! `POST /api/seal`: direct mode.

use std::sync::Arc;

use actix_web::{HttpMessage as _, HttpRequest, HttpResponse, web};
use bytes::Bytes;
use pdf_seal_core::signer::Signer;
use pdf_seal_core::{SealOptions, Sealed};

use super::AppState;
use super::openapi::{DigestName, PdfFile};
use super::problem::{ApiError, ProblemType};
use super::request_body::{BodyTimeouts, content_length, read_limited, refuse_content_encoding};
use super::request_log::PdfSize;
use super::seal_json::{SealPdfJson, parse_json};
use super::seal_request::{BodyKind, RequestedOptions};
use super::seal_response::{SealedPdfJson, respond};

/// Seal PDF
///
/// Applies an electronic seal (a PAdES signature made with the organisation's certificate) to
/// a PDF and answers the sealed PDF. Only a digest of the document reaches the signing key.
/// Send the PDF as the request body; the options are optional.
// The body may also be JSON carrying the PDF as base64, as flows hold files (`{"file":
// {"$content-type", "$content"}}`) or as `{"fileContent": "<base64>"}`, with the options
// beside it under the same names; an option given in the query too must have the same value.
// The answer is JSON (`SealedPdfJson`) when `Accept` ranks `application/json` first. The PDF
// may have `PDF_SEAL_MAX_BODY_BYTES`; any `Content-Encoding` but `identity` is a 415; a body
// that pauses for `PDF_SEAL_BODY_IDLE_TIMEOUT_SECS` or is not complete after
// `PDF_SEAL_BODY_TIMEOUT_SECS` is a 408; past `PDF_SEAL_MAX_CONCURRENT_SEALS` seals at once
// the answer is an immediate 503 with `Retry-After`. Nothing of the document is kept on disk.
#[utoipa::path(
    post,
    path = "/api/seal",
    operation_id = "SealPdf",
    tag = "seal",
    extensions(("x-ms-visibility" = json!("important"))),
    params(
        ("reason" = Option<String>, Query, description = "Why the document is sealed, as the seal shows it (at most 1000 characters).", max_length = 1000, extensions(("x-ms-summary" = json!("Reason")), ("x-ms-visibility" = json!("advanced")))),
        ("location" = Option<String>, Query, description = "Where the document is sealed, as the seal shows it (at most 1000 characters).", max_length = 1000, extensions(("x-ms-summary" = json!("Location")), ("x-ms-visibility" = json!("advanced")))),
        ("contactInfo" = Option<String>, Query, description = "How to reach the organisation that sealed the document (at most 1000 characters).", max_length = 1000, extensions(("x-ms-summary" = json!("Contact information")), ("x-ms-visibility" = json!("advanced")))),
        ("fieldName" = Option<String>, Query, description = "The name of the new signature field (no dots, at most 100 characters); by default the first free name of Seal1, Seal2 and so on.", max_length = 100, pattern = "^[^.]*$", extensions(("x-ms-summary" = json!("Signature field name")), ("x-ms-visibility" = json!("advanced")))),
        ("digest" = Option<DigestName>, Query, description = "The digest algorithm; by default the signing key's own (SHA-256 for most keys).", extensions(("x-ms-summary" = json!("Digest algorithm")), ("x-ms-visibility" = json!("advanced")))),
    ),
    request_body(
        description = "The PDF to seal.",
        content(
            (PdfFile = "application/pdf"),
            (PdfFile = "application/octet-stream"),
            (SealPdfJson = "application/json"),
        ),
        extensions(("x-ms-summary" = json!("PDF file"))),
    ),
    responses(
        (status = 200, description = "The sealed PDF.",
            content(
                (PdfFile = "application/pdf"),
                (SealedPdfJson = "application/json"),
            ),
            headers(
                ("X-Seal-Field-Name" = String, description = "The name of the signature field that holds the seal, percent-encoded beyond visible ASCII."),
                ("X-Seal-Document-SHA256" = String, description = "The SHA-256 of the sealed PDF, as lowercase hex."),
            ),
        ),
    ),
)]
pub async fn seal(
    request: HttpRequest,
    body: web::Payload,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let query = RequestedOptions::from_query(request.query_string())?;
    // Checked now so that a bad option is refused before a large body is read.
    query.to_seal_options(state.signer.default_digest())?;
    let kind = BodyKind::of(&request)?;
    refuse_content_encoding(&request)?;
    let limits = &state.limits;
    let size_limit = kind.body_limit(limits.max_body_bytes);
    let timeouts = BodyTimeouts {
        idle: limits.body_idle_timeout,
        total: limits.body_timeout,
    };

    // Held until the answer is built, so that the documents in memory stay within the limit.
    let _seal_permit = state.start_seal()?;
    let raw = read_limited(body, content_length(&request), size_limit, timeouts).await?;
    if raw.is_empty() {
        return Err(not_a_pdf("the request body is empty; send the PDF"));
    }
    let (pdf, options) = match kind {
        BodyKind::Pdf => (raw, query),
        BodyKind::Json => {
            let (pdf, body_options) = parse_json(&raw, limits.max_body_bytes)?;
            drop(raw);
            (pdf, query.merge(body_options)?)
        }
    };
    if pdf.is_empty() {
        return Err(not_a_pdf("the file content is empty; send the PDF"));
    }
    request.extensions_mut().insert(PdfSize(pdf.len() as u64));

    let options = options.to_seal_options(state.signer.default_digest())?;
    let sealed = seal_off_the_worker(pdf.clone(), options, state.signer.clone()).await?;
    Ok(respond(&request, pdf, sealed))
}

/// Runs the pipeline on the blocking pool: reading and hashing the document is CPU work that
/// grows with its size, and must not hold up the other connections of this worker. The signer's
/// own I/O still runs on this worker's runtime, which keeps polling while the pool waits.
async fn seal_off_the_worker(
    pdf: Bytes,
    options: SealOptions,
    signer: Arc<dyn Signer>,
) -> Result<Sealed, ApiError> {
    let runtime = tokio::runtime::Handle::current();
    let task = move || runtime.block_on(pdf_seal_core::seal(&pdf[..], &options, signer.as_ref()));
    match web::block(task).await {
        Ok(sealed) => Ok(sealed?),
        Err(_) => Err(ApiError::internal(anyhow::anyhow!(
            "the sealing task panicked"
        ))),
    }
}

fn not_a_pdf(detail: &str) -> ApiError {
    ApiError::new(ProblemType::NotPdf, detail)
}
