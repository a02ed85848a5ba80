//! `POST /api/seal`: direct mode.

use std::sync::Arc;

use actix_web::{HttpMessage as _, HttpRequest, HttpResponse, web};
use bytes::Bytes;
use pdf_seal_core::signer::Signer;
use pdf_seal_core::{SealOptions, Sealed};

use super::AppState;
use super::problem::{ApiError, ProblemType};
use super::request_body::{BodyTimeouts, content_length, read_limited, refuse_content_encoding};
use super::request_log::PdfSize;
use super::seal_json::parse_json;
use super::seal_request::{BodyKind, RequestedOptions};
use super::seal_response::respond;

/// Seal a PDF
///
/// Applies an electronic seal (a PAdES signature with the organisation's certificate) to the
/// PDF in the request and answers the sealed PDF.
///
/// The body is the PDF itself (`application/pdf` or `application/octet-stream`), or JSON
/// (`application/json`) carrying it as base64: `{"file": {"$content-type": "application/pdf",
/// "$content": "<base64>"}}` as flows hold files, or `{"fileContent": "<base64>"}`. The PDF
/// may have at most `PDF_SEAL_MAX_BODY_BYTES` bytes. It is taken as sent: any
/// `Content-Encoding` but `identity` is answered 415. A body that stops arriving for
/// `PDF_SEAL_BODY_IDLE_TIMEOUT_SECS`, or is not complete after `PDF_SEAL_BODY_TIMEOUT_SECS`, is
/// answered 408. At most `PDF_SEAL_MAX_CONCURRENT_SEALS` seals run at once; one more is
/// answered 503 at once with `Retry-After`.
///
/// Options, all optional, go in the query string (`reason`, `location`, `contactInfo`,
/// `fieldName`, `digest` = `sha256` | `sha384` | `sha512`) or, with a JSON body, beside the
/// file under the same names. An option given in both places must have the same value.
///
/// The answer is the sealed PDF, or JSON `{"$content-type", "$content", "fieldName",
/// "documentSha256"}` when `Accept` asks for `application/json`. The headers
/// `X-Seal-Field-Name` and `X-Seal-Document-SHA256` carry the same facts either way. Nothing
/// of the document is kept on disk.
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
