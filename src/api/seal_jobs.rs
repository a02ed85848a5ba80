//! `POST /api/seal-jobs` and `GET /api/seal-jobs/{id}`: blob mode, with the asynchronous
//! pattern that Power Automate and Logic Apps follow by themselves (DESIGN.md section 5).

use actix_web::http::StatusCode;
use actix_web::http::header::{LOCATION, RETRY_AFTER};
use actix_web::{HttpRequest, HttpResponse, web};
use pdf_seal_core::signer::DigestAlgorithm;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use utoipa::ToSchema;

use super::AppState;
use super::openapi::DigestName;
use super::problem::{ApiError, ProblemType};
use super::request_body::{BodyTimeouts, content_length, read_limited, refuse_content_encoding};
use super::seal_request::{RequestedOptions, media_type};
use crate::jobs::{JobError, JobId, JobRecord, JobRequest, JobStatus, Jobs, Timings};
use crate::storage::{BlobPath, StorageError};

/// The largest job request body, in bytes: names and options only.
pub const MAX_JOB_REQUEST_BYTES: u64 = 64 * 1024;

/// The longest `Idempotency-Key`, in characters.
pub const MAX_IDEMPOTENCY_KEY_CHARS: usize = 255;

/// The body of `POST /api/seal-jobs`.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
#[schema(as = SealJobRequest)]
pub struct CreateJob {
    /// The PDF blob to seal.
    source: BlobPath,
    /// Where to write the sealed PDF; by default beside the source, with `.sealed` before
    /// `.pdf` (`scans/a.pdf` gives `scans/a.sealed.pdf`). It may not be the source.
    destination: Option<BlobPath>,
    /// Replace the destination blob if it exists; otherwise the job fails with
    /// `destination-exists`.
    #[serde(default)]
    #[schema(extensions(("x-ms-summary" = json!("Overwrite")), ("x-ms-visibility" = json!("advanced"))))]
    overwrite: bool,
    /// Why the document is sealed, as the seal shows it (at most 1000 characters).
    #[schema(max_length = 1000, extensions(("x-ms-summary" = json!("Reason")), ("x-ms-visibility" = json!("advanced"))))]
    reason: Option<String>,
    /// Where the document is sealed, as the seal shows it (at most 1000 characters).
    #[schema(max_length = 1000, extensions(("x-ms-summary" = json!("Location")), ("x-ms-visibility" = json!("advanced"))))]
    location: Option<String>,
    /// How to reach the organisation that sealed the document (at most 1000 characters).
    #[schema(max_length = 1000, extensions(("x-ms-summary" = json!("Contact information")), ("x-ms-visibility" = json!("advanced"))))]
    contact_info: Option<String>,
    /// The name of the new signature field (no dots, at most 100 characters); by default the
    /// first free name of Seal1, Seal2 and so on.
    #[schema(max_length = 100, pattern = "^[^.]*$", extensions(("x-ms-summary" = json!("Signature field name")), ("x-ms-visibility" = json!("advanced"))))]
    field_name: Option<String>,
    /// The digest algorithm; by default the signing key's own.
    #[schema(value_type = Option<DigestName>)]
    digest: Option<String>,
}

/// Seal a PDF in Blob Storage
///
/// Starts a job that seals a PDF blob of any size and writes the sealed PDF to another blob.
/// The action waits for the job by itself: it ends when the sealed PDF is in place, with its
/// name, size and SHA-256.
// The answer is `202 Accepted` at once, with the job's status URL in `Location` and the
// seconds to wait before asking it in `Retry-After`; Power Automate and Logic Apps follow it
// until it answers 200 or an error. With an `Idempotency-Key` header, a retried request
// creates no second job: the same key with the same body answers the same job; the same key
// with another body is a 409.
#[utoipa::path(
    post,
    path = "/api/seal-jobs",
    operation_id = "SealBlobPdf",
    tag = "seal",
    extensions(("x-ms-visibility" = json!("important"))),
    params(
        ("Idempotency-Key" = Option<String>, Header, description = "A key of 1 to 255 visible characters that makes a retried request answer the same job, such as the flow run's name.", min_length = 1, max_length = 255, pattern = "^[ -~]*[!-~][ -~]*$", extensions(("x-ms-summary" = json!("Idempotency key")), ("x-ms-visibility" = json!("advanced")))),
    ),
    request_body(
        content = CreateJob,
        content_type = "application/json",
        description = "The blobs and the options of the seal.",
        extensions(("x-ms-summary" = json!("Seal request"))),
    ),
    responses(
        (status = 200, description = "The job is done: the sealed PDF is in place. The action's result, once the platform has followed `Location`.", body = JobView),
        (status = 202, description = "The job is queued or running; ask `Location` after `Retry-After` seconds.", body = JobView,
            headers(
                ("Location" = String, description = "The job's status URL."),
                ("Retry-After" = u32, description = "Seconds to wait before asking the status URL."),
            ),
        ),
    ),
)]
pub async fn create(
    request: HttpRequest,
    body: web::Payload,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let jobs = jobs_of(&state)?;
    require_json(&request)?;
    refuse_content_encoding(&request)?;
    let key = idempotency_key(&request)?;
    let query = RequestedOptions::from_query(request.query_string())?;
    let timeouts = BodyTimeouts {
        idle: state.limits.body_idle_timeout,
        total: state.limits.body_timeout,
    };
    let raw = read_limited(
        body,
        content_length(&request),
        MAX_JOB_REQUEST_BYTES,
        timeouts,
    )
    .await?;
    let job_request = parse_request(&raw, query)?;

    let record = jobs
        .create(job_request, key.as_deref())
        .await
        .map_err(|error| job_error(error, jobs))?;
    // Always 202, as when the job was created, even for a retry that finds it finished: the
    // caller then follows `Location` as it would have the first time.
    Ok(pending(&record, jobs))
}

/// Get the status of a seal job
///
/// The status URL of a job, which the platform follows by itself: `202` while the job is
/// queued or running, `200` with the result once the sealed PDF is in place, and an error
/// naming the cause when the job failed for good.
// The failures for good: the source is missing, is not a PDF or cannot be sealed, the source
// changed during the job, the destination exists.
#[utoipa::path(
    get,
    path = "/api/seal-jobs/{id}",
    operation_id = "GetSealJob",
    tag = "seal",
    extensions(("x-ms-visibility" = json!("internal"))),
    params(
        ("id" = String, Path, description = "The job's id, from the status URL.", extensions(("x-ms-summary" = json!("Job id")))),
    ),
    responses(
        (status = 200, description = "The job is done: the sealed PDF is in place.", body = JobView),
        (status = 202, description = "The job is queued or running; ask again after `Retry-After` seconds.", body = JobView,
            headers(
                ("Location" = String, description = "The job's status URL."),
                ("Retry-After" = u32, description = "Seconds to wait before asking again."),
            ),
        ),
    ),
)]
pub async fn status(
    request: HttpRequest,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let jobs = jobs_of(&state)?;
    let text = request.match_info().get("id").unwrap_or_default();
    let not_found = || ApiError::new(ProblemType::NotFound, format!("there is no job {text:?}"));
    let id = JobId::parse(text).ok_or_else(not_found)?;
    let record = jobs
        .get(&id)
        .await
        .map_err(|error| job_error(error, jobs))?
        .ok_or_else(not_found)?;
    match (&record.status, &record.problem) {
        (JobStatus::Failed, Some(problem)) => {
            let kind = ProblemType::from_slug(&problem.slug).unwrap_or(ProblemType::Internal);
            Err(ApiError::new(kind, problem.detail.clone()))
        }
        _ => Ok(answer(&record, jobs)),
    }
}

fn jobs_of(state: &AppState) -> Result<&Jobs, ApiError> {
    state.jobs.as_ref().ok_or_else(|| {
        ApiError::new(
            ProblemType::NotFound,
            "blob mode is not enabled on this service",
        )
    })
}

fn require_json(request: &HttpRequest) -> Result<(), ApiError> {
    let essence = media_type(request);
    match essence.as_deref() {
        Some("application/json") => Ok(()),
        other => {
            let found = other.map_or("no Content-Type".to_owned(), |t| {
                format!("Content-Type {t:?}")
            });
            Err(ApiError::new(
                ProblemType::UnsupportedMediaType,
                format!("{found}: a seal job is created with application/json"),
            ))
        }
    }
}

/// The `Idempotency-Key` header: 1 to 255 visible ASCII characters.
fn idempotency_key(request: &HttpRequest) -> Result<Option<String>, ApiError> {
    let mut values = request.headers().get_all("idempotency-key");
    let Some(value) = values.next() else {
        return Ok(None);
    };
    if values.next().is_some() {
        return Err(ApiError::new(
            ProblemType::InvalidRequest,
            "the request has more than one Idempotency-Key header; send one",
        ));
    }
    let invalid = || {
        ApiError::new(
            ProblemType::InvalidRequest,
            format!(
                "the Idempotency-Key must have 1 to {MAX_IDEMPOTENCY_KEY_CHARS} visible ASCII \
                 characters"
            ),
        )
    };
    let text = value.to_str().map_err(|_| invalid())?.trim();
    if text.is_empty()
        || text.len() > MAX_IDEMPOTENCY_KEY_CHARS
        || !text.bytes().all(|b| b.is_ascii_graphic() || b == b' ')
    {
        return Err(invalid());
    }
    Ok(Some(text.to_owned()))
}

fn parse_request(raw: &[u8], query: RequestedOptions) -> Result<JobRequest, ApiError> {
    let invalid = |detail: String| ApiError::new(ProblemType::InvalidRequest, detail);
    let body: CreateJob = serde_json::from_slice(raw)
        .map_err(|error| invalid(format!("the job request is not valid: {error}")))?;
    let options = query.merge(RequestedOptions {
        reason: body.reason,
        location: body.location,
        contact_info: body.contact_info,
        field_name: body.field_name,
        digest: body.digest,
    })?;
    // Checked now, so that a bad option is refused before any job exists; the worker
    // chooses the digest, which this check does not look at.
    pdf_seal_core::check_options(&options.to_seal_options(DigestAlgorithm::Sha256)?)?;
    let destination = match body.destination {
        Some(destination) => destination,
        None => body
            .source
            .sealed_sibling()
            .map_err(|error| invalid(format!("no default destination: {error}")))?,
    };
    if destination == body.source {
        return Err(invalid(format!(
            "the destination is the source ({}); name another blob",
            body.source
        )));
    }
    Ok(JobRequest {
        source: body.source,
        destination,
        overwrite: body.overwrite,
        options,
    })
}

fn job_error(error: JobError, jobs: &Jobs) -> ApiError {
    match error {
        JobError::KeyReused => ApiError::new(ProblemType::IdempotencyKeyReused, error.to_string()),
        JobError::ReservedContainer(_) => {
            ApiError::new(ProblemType::InvalidRequest, error.to_string())
        }
        JobError::Storage(StorageError::Transient(_)) => {
            tracing::warn!(error = %error, "storage did not answer a job request");
            ApiError::storage_unavailable(jobs.settings().retry_after_secs)
        }
        other => ApiError::internal(other),
    }
}

/// What the job API says of a job.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = SealJob)]
pub struct JobView<'a> {
    /// The job's id.
    #[schema(value_type = String, extensions(("x-ms-summary" = json!("Job id"))))]
    id: &'a JobId,
    /// Where the job is: `queued`, `running` or `succeeded` (a failed job is answered with
    /// an error).
    status: JobStatus,
    /// The PDF blob sealed.
    #[schema(value_type = BlobPath)]
    source: &'a BlobPath,
    /// The blob that holds, or will hold, the sealed PDF.
    #[schema(value_type = BlobPath)]
    destination: &'a BlobPath,
    /// When the job was created (RFC 3339).
    #[serde(with = "time::serde::rfc3339")]
    #[schema(extensions(("x-ms-summary" = json!("Created at"))))]
    created_at: OffsetDateTime,
    /// When the job finished (RFC 3339).
    #[serde(
        skip_serializing_if = "Option::is_none",
        with = "time::serde::rfc3339::option"
    )]
    #[schema(extensions(("x-ms-summary" = json!("Finished at"))))]
    finished_at: Option<OffsetDateTime>,
    /// How many times a worker started the job.
    #[schema(extensions(("x-ms-summary" = json!("Attempts")), ("x-ms-visibility" = json!("advanced"))))]
    attempts: u32,
    /// The size of the sealed PDF in bytes, once it is in place.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(extensions(("x-ms-summary" = json!("Size in bytes"))))]
    size_bytes: Option<u64>,
    /// The SHA-256 of the sealed PDF as lowercase hex, once it is in place.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<String>, extensions(("x-ms-summary" = json!("SHA-256"))))]
    sha256: Option<&'a str>,
    /// The name of the signature field that holds the seal, once it is in place.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<String>, extensions(("x-ms-summary" = json!("Signature field name"))))]
    field_name: Option<&'a str>,
    /// How long the job took, once it is done.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Timings>)]
    timings: Option<&'a Timings>,
}

/// 200 with the result once the job succeeded; 202 with `Location` and `Retry-After` before.
fn answer(record: &JobRecord, jobs: &Jobs) -> HttpResponse {
    if record.status == JobStatus::Succeeded {
        return HttpResponse::Ok().json(view_of(record));
    }
    pending(record, jobs)
}

fn view_of(record: &JobRecord) -> JobView<'_> {
    let output = record.output.as_ref();
    JobView {
        id: &record.id,
        status: record.status,
        source: &record.request.source,
        destination: &record.request.destination,
        created_at: record.created_at,
        finished_at: record.finished_at,
        attempts: record.attempts,
        size_bytes: output.map(|o| o.size_bytes),
        sha256: output.map(|o| o.sha256.as_str()),
        field_name: output.map(|o| o.field_name.as_str()),
        timings: record.timings.as_ref(),
    }
}

/// 202 with `Location` and `Retry-After`, and the job's view.
fn pending(record: &JobRecord, jobs: &Jobs) -> HttpResponse {
    let view = view_of(record);
    accepted(record, jobs).json(view)
}

fn accepted(record: &JobRecord, jobs: &Jobs) -> actix_web::HttpResponseBuilder {
    let settings = jobs.settings();
    let location = format!("{}/api/seal-jobs/{}", settings.public_base_url, record.id);
    let mut builder = HttpResponse::build(StatusCode::ACCEPTED);
    builder
        .insert_header((LOCATION, location))
        .insert_header((RETRY_AFTER, settings.retry_after_secs.to_string()));
    builder
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(json: &str) -> Result<JobRequest, ApiError> {
        parse_request(json.as_bytes(), RequestedOptions::default())
    }

    #[test]
    fn the_destination_defaults_to_a_sealed_sibling() {
        let request = parse(r#"{"source": {"container": "scans", "blob": "q3/a.pdf"}}"#).unwrap();
        assert_eq!(request.destination.to_string(), "scans/q3/a.sealed.pdf");
        assert!(!request.overwrite);
    }

    #[test]
    fn options_sit_beside_the_blobs_and_empty_ones_are_dropped() {
        let request = parse(
            r#"{"source": {"container": "scans", "blob": "a.pdf"},
                "destination": {"container": "sealed", "blob": "a.pdf"},
                "overwrite": true, "reason": "Approved", "location": "", "digest": "sha384"}"#,
        )
        .unwrap();
        assert!(request.overwrite);
        assert_eq!(request.options.reason.as_deref(), Some("Approved"));
        assert_eq!(request.options.location, None);
        assert_eq!(request.options.digest.as_deref(), Some("sha384"));
    }

    #[test]
    fn one_idempotency_key_of_visible_ascii_is_accepted() {
        use actix_web::test::TestRequest;
        let with = |values: &[&str]| {
            let mut request = TestRequest::default();
            for value in values {
                request = request.append_header(("Idempotency-Key", *value));
            }
            idempotency_key(&request.to_http_request())
        };
        assert_eq!(with(&[]).unwrap(), None);
        assert_eq!(with(&["run 42"]).unwrap().as_deref(), Some("run 42"));
        for bad in [&["a", "b"][..], &[""], &["tab\there"], &[&"k".repeat(256)]] {
            let error = with(bad).unwrap_err();
            assert_eq!(error.problem(), ProblemType::InvalidRequest, "{bad:?}");
        }
    }

    #[test]
    fn options_no_document_could_take_are_refused_at_once() {
        let long = "x".repeat(1001);
        for extra in [
            format!(r#""reason": "{long}""#),
            format!(r#""fieldName": "{}""#, "f".repeat(101)),
            r#""fieldName": "a.b""#.to_owned(),
        ] {
            let json =
                format!(r#"{{"source": {{"container": "scans", "blob": "a.pdf"}}, {extra}}}"#);
            let error = parse(&json).unwrap_err();
            assert_eq!(error.problem(), ProblemType::InvalidOption, "{extra}");
        }
    }

    #[test]
    fn bad_requests_name_their_cause() {
        for (json, cause) in [
            (
                r#"{"source": {"container": "scans", "blob": "a.pdf"}, "sauce": 1}"#,
                "sauce",
            ),
            (
                r#"{"destination": {"container": "scans", "blob": "a.pdf"}}"#,
                "source",
            ),
            (
                r#"{"source": {"container": "Scans", "blob": "a.pdf"}}"#,
                "container name",
            ),
            (
                r#"{"source": {"container": "scans", "blob": "../a.pdf"}}"#,
                "segment",
            ),
            (
                r#"{"source": {"container": "scans", "blob": "a.pdf"},
                    "destination": {"container": "scans", "blob": "a.pdf"}}"#,
                "the destination is the source",
            ),
            (
                r#"{"source": {"container": "scans", "blob": "a.pdf"}, "digest": "md5"}"#,
                "digest",
            ),
            ("[1, 2", "not valid"),
        ] {
            let error = parse(json).unwrap_err();
            assert_eq!(error.problem(), ProblemType::InvalidRequest, "{json}");
            assert!(error.to_string().contains(cause), "{json}: {error}");
        }
    }
}
