//! The one error type of the HTTP API, answered as `application/problem+json` (RFC 9457).
//!
//! Each cause has a stable problem `type`, a relative reference `/problems/<slug>` that
//! clients and flows can test for. Client errors carry a `detail` that names the cause; a 5xx
//! answer has a fixed detail for its type, and its cause goes to the log once, in the request
//! summary (see [`super::request_log`]).

use actix_web::http::StatusCode;
use actix_web::http::header::{ALLOW, CONTENT_TYPE, HeaderName, RETRY_AFTER};
use actix_web::{HttpResponse, ResponseError};
use pdf_seal_core::{ErrorKind, SealError};
use serde::Serialize;
use utoipa::ToSchema;

/// The media type of every error answer.
pub const PROBLEM_JSON: &str = "application/problem+json";

/// The `detail` of every 500 answer.
pub const INTERNAL_DETAIL: &str = "internal error";

/// The seconds a client should wait before it sends a request refused as busy again.
pub const BUSY_RETRY_AFTER_SECS: &str = "5";

/// The seconds a client should wait after the signing service could not sign.
pub const SIGNING_SERVICE_RETRY_AFTER_SECS: &str = "30";

/// The `detail` of a signing service's refusal of pdf-seal's credentials: fixed, since the
/// cause (which key, what the service said) is for the administrator's log.
pub const SIGNING_SERVICE_REFUSED_DETAIL: &str = "the signing service refused this service's \
    request, so nothing was signed; the administrator must check the signer's credentials and \
    settings";

/// The `detail` of a signing service (or time-stamp authority) that cannot sign now.
pub const SIGNING_SERVICE_UNAVAILABLE_DETAIL: &str = "the signing service cannot be reached or \
    cannot sign now; retry in 30 seconds";

/// A stable cause of failure: one problem `type`, status and title each.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ProblemType {
    NotPdf,
    InvalidBase64,
    InvalidRequest,
    InvalidOption,
    PayloadTooLarge,
    UnsupportedMediaType,
    RequestTimeout,
    EncryptedPdf,
    CertifiedPdf,
    UnreadablePdf,
    NotFound,
    MethodNotAllowed,
    Busy,
    SourceNotFound,
    SourceChanged,
    DestinationExists,
    DestinationContainerNotFound,
    DestinationUnusable,
    JobGaveUp,
    StorageAccessDenied,
    StorageFailed,
    StorageUnavailable,
    IdempotencyKeyReused,
    AuthenticationRequired,
    InvalidToken,
    InvalidFunctionKey,
    AccessDenied,
    AddressNotAllowed,
    IdentityProviderUnavailable,
    SigningServiceUnavailable,
    SigningServiceRefused,
    TimestampUnavailable,
    SigningServiceFailed,
    Internal,
}

impl ProblemType {
    /// The `type` member: `/problems/<slug>`.
    pub fn uri(self) -> &'static str {
        match self {
            Self::NotPdf => "/problems/not-a-pdf",
            Self::InvalidBase64 => "/problems/invalid-base64",
            Self::InvalidRequest => "/problems/invalid-request",
            Self::InvalidOption => "/problems/invalid-option",
            Self::PayloadTooLarge => "/problems/payload-too-large",
            Self::UnsupportedMediaType => "/problems/unsupported-media-type",
            Self::RequestTimeout => "/problems/request-timeout",
            Self::EncryptedPdf => "/problems/encrypted-pdf-not-supported",
            Self::CertifiedPdf => "/problems/certified-pdf",
            Self::UnreadablePdf => "/problems/unreadable-pdf",
            Self::NotFound => "/problems/not-found",
            Self::MethodNotAllowed => "/problems/method-not-allowed",
            Self::Busy => "/problems/busy",
            Self::SourceNotFound => "/problems/source-not-found",
            Self::SourceChanged => "/problems/source-changed",
            Self::DestinationExists => "/problems/destination-exists",
            Self::DestinationContainerNotFound => "/problems/destination-container-not-found",
            Self::DestinationUnusable => "/problems/destination-unusable",
            Self::JobGaveUp => "/problems/job-gave-up",
            Self::StorageAccessDenied => "/problems/storage-access-denied",
            Self::StorageFailed => "/problems/storage-failed",
            Self::StorageUnavailable => "/problems/storage-unavailable",
            Self::IdempotencyKeyReused => "/problems/idempotency-key-reused",
            Self::AuthenticationRequired => "/problems/authentication-required",
            Self::InvalidToken => "/problems/invalid-token",
            Self::InvalidFunctionKey => "/problems/invalid-function-key",
            Self::AccessDenied => "/problems/access-denied",
            Self::AddressNotAllowed => "/problems/address-not-allowed",
            Self::IdentityProviderUnavailable => "/problems/identity-provider-unavailable",
            Self::SigningServiceUnavailable => "/problems/signing-service-unavailable",
            Self::SigningServiceRefused => "/problems/signing-service-refused",
            Self::TimestampUnavailable => "/problems/timestamp-unavailable",
            Self::SigningServiceFailed => "/problems/signing-service-failed",
            Self::Internal => "/problems/internal-error",
        }
    }

    /// Every problem type, for lookups by slug.
    pub const ALL: [Self; 34] = [
        Self::NotPdf,
        Self::InvalidBase64,
        Self::InvalidRequest,
        Self::InvalidOption,
        Self::PayloadTooLarge,
        Self::UnsupportedMediaType,
        Self::RequestTimeout,
        Self::EncryptedPdf,
        Self::CertifiedPdf,
        Self::UnreadablePdf,
        Self::NotFound,
        Self::MethodNotAllowed,
        Self::Busy,
        Self::SourceNotFound,
        Self::SourceChanged,
        Self::DestinationExists,
        Self::DestinationContainerNotFound,
        Self::DestinationUnusable,
        Self::JobGaveUp,
        Self::StorageAccessDenied,
        Self::StorageFailed,
        Self::StorageUnavailable,
        Self::IdempotencyKeyReused,
        Self::AuthenticationRequired,
        Self::InvalidToken,
        Self::InvalidFunctionKey,
        Self::AccessDenied,
        Self::AddressNotAllowed,
        Self::IdentityProviderUnavailable,
        Self::SigningServiceUnavailable,
        Self::SigningServiceRefused,
        Self::TimestampUnavailable,
        Self::SigningServiceFailed,
        Self::Internal,
    ];

    /// The last segment of the `type`, as job records keep it.
    pub fn slug(self) -> &'static str {
        self.uri().trim_start_matches("/problems/")
    }

    /// The problem type whose slug is `slug`.
    pub fn from_slug(slug: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|problem| problem.slug() == slug)
    }

    /// The HTTP status of this cause, also the `status` member.
    pub fn status(self) -> StatusCode {
        match self {
            Self::NotPdf | Self::InvalidBase64 | Self::InvalidRequest | Self::InvalidOption => {
                StatusCode::BAD_REQUEST
            }
            Self::PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            Self::UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Self::RequestTimeout => StatusCode::REQUEST_TIMEOUT,
            Self::EncryptedPdf
            | Self::CertifiedPdf
            | Self::UnreadablePdf
            | Self::SourceNotFound
            | Self::DestinationContainerNotFound
            | Self::DestinationUnusable => StatusCode::UNPROCESSABLE_ENTITY,
            Self::JobGaveUp => StatusCode::INTERNAL_SERVER_ERROR,
            Self::SourceChanged | Self::DestinationExists | Self::IdempotencyKeyReused => {
                StatusCode::CONFLICT
            }
            Self::AuthenticationRequired | Self::InvalidToken | Self::InvalidFunctionKey => {
                StatusCode::UNAUTHORIZED
            }
            Self::StorageAccessDenied | Self::AccessDenied | Self::AddressNotAllowed => {
                StatusCode::FORBIDDEN
            }
            Self::IdentityProviderUnavailable
            | Self::SigningServiceUnavailable
            | Self::TimestampUnavailable => StatusCode::SERVICE_UNAVAILABLE,
            Self::SigningServiceRefused | Self::SigningServiceFailed => StatusCode::BAD_GATEWAY,
            Self::StorageFailed => StatusCode::BAD_GATEWAY,
            Self::StorageUnavailable => StatusCode::SERVICE_UNAVAILABLE,
            Self::NotFound => StatusCode::NOT_FOUND,
            Self::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            Self::Busy => StatusCode::SERVICE_UNAVAILABLE,
            Self::Internal => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// The `title` member: a short summary that does not change from one occurrence to the
    /// next.
    pub fn title(self) -> &'static str {
        match self {
            Self::NotPdf => "Not a PDF",
            Self::InvalidBase64 => "Invalid base64",
            Self::InvalidRequest => "Invalid request",
            Self::InvalidOption => "Invalid option",
            Self::PayloadTooLarge => "Payload too large",
            Self::UnsupportedMediaType => "Unsupported media type",
            Self::RequestTimeout => "Request timeout",
            Self::EncryptedPdf => "Encrypted PDF not supported",
            Self::CertifiedPdf => "Certified PDF",
            Self::UnreadablePdf => "Unreadable PDF",
            Self::NotFound => "Not found",
            Self::MethodNotAllowed => "Method not allowed",
            Self::Busy => "Busy",
            Self::SourceNotFound => "Source not found",
            Self::SourceChanged => "Source changed",
            Self::DestinationExists => "Destination exists",
            Self::DestinationContainerNotFound => "Destination container not found",
            Self::DestinationUnusable => "Destination unusable",
            Self::JobGaveUp => "Job gave up",
            Self::StorageAccessDenied => "Storage access denied",
            Self::StorageFailed => "Storage failed",
            Self::StorageUnavailable => "Storage unavailable",
            Self::IdempotencyKeyReused => "Idempotency key reused",
            Self::AuthenticationRequired => "Authentication required",
            Self::InvalidToken => "Invalid token",
            Self::InvalidFunctionKey => "Invalid function key",
            Self::AccessDenied => "Access denied",
            Self::AddressNotAllowed => "Address not allowed",
            Self::IdentityProviderUnavailable => "Identity provider unavailable",
            Self::SigningServiceUnavailable => "Signing service unavailable",
            Self::SigningServiceRefused => "Signing service refused the request",
            Self::TimestampUnavailable => "Time-stamp authority unavailable",
            Self::SigningServiceFailed => "Signing service failed",
            Self::Internal => "Internal error",
        }
    }
}

/// A failed request: its problem type, a detail for the client and, for 5xx, the cause.
#[derive(Debug, thiserror::Error)]
#[error("{detail}")]
pub struct ApiError {
    problem: ProblemType,
    detail: String,
    cause: Option<anyhow::Error>,
    header: Option<(HeaderName, String)>,
}

impl ApiError {
    /// A client error whose `detail` names the cause.
    pub fn new(problem: ProblemType, detail: impl Into<String>) -> Self {
        Self {
            problem,
            detail: detail.into(),
            cause: None,
            header: None,
        }
    }

    /// A 5xx with a fixed `detail` for the client and a `cause` for the log.
    pub fn with_cause(
        problem: ProblemType,
        detail: impl Into<String>,
        cause: impl Into<anyhow::Error>,
    ) -> Self {
        Self {
            cause: Some(cause.into()),
            ..Self::new(problem, detail)
        }
    }

    /// A 500 whose cause is logged and never shown to the client.
    pub fn internal(cause: impl Into<anyhow::Error>) -> Self {
        Self {
            problem: ProblemType::Internal,
            detail: INTERNAL_DETAIL.to_owned(),
            cause: Some(cause.into()),
            header: None,
        }
    }

    /// A 503 for a request that finds every seal in use; `Retry-After` says when to try again,
    /// and Power Automate does.
    pub fn busy() -> Self {
        let detail = format!(
            "the service is sealing as many documents as it may at once; retry in \
             {BUSY_RETRY_AFTER_SECS} seconds"
        );
        Self {
            header: Some((RETRY_AFTER, BUSY_RETRY_AFTER_SECS.to_owned())),
            ..Self::new(ProblemType::Busy, detail)
        }
    }

    /// A 405 that lists the allowed methods in the `Allow` header.
    pub fn method_not_allowed(method: &str, path: &str, allow: &'static str) -> Self {
        let detail = format!("{method} is not allowed on {path}; use {allow}");
        Self {
            header: Some((ALLOW, allow.to_owned())),
            ..Self::new(ProblemType::MethodNotAllowed, detail)
        }
    }

    /// A 503 for storage that does not answer now; `Retry-After` says when to try again.
    pub fn storage_unavailable(retry_after_secs: u64) -> Self {
        let detail =
            format!("the storage account does not answer now; retry in {retry_after_secs} seconds");
        Self {
            header: Some((RETRY_AFTER, retry_after_secs.to_string())),
            ..Self::new(ProblemType::StorageUnavailable, detail)
        }
    }

    /// The same error with one header added, such as `WWW-Authenticate` on a 401 or
    /// `Retry-After` on a 503.
    pub fn with_header(self, name: HeaderName, value: impl Into<String>) -> Self {
        Self {
            header: Some((name, value.into())),
            ..self
        }
    }

    /// The cause of this error.
    pub fn problem(&self) -> ProblemType {
        self.problem
    }

    /// The cause of a 5xx, with its chain, for the log.
    pub fn cause(&self) -> Option<&anyhow::Error> {
        self.cause.as_ref()
    }
}

impl ProblemType {
    /// The problem of a document or an option the core refused; `None` for the failures that
    /// are not the caller's (the signer's, reading's).
    pub fn of_seal_error(kind: ErrorKind) -> Option<Self> {
        match kind {
            ErrorKind::NotPdf => Some(Self::NotPdf),
            ErrorKind::Unreadable => Some(Self::UnreadablePdf),
            ErrorKind::Encrypted => Some(Self::EncryptedPdf),
            ErrorKind::Certified => Some(Self::CertifiedPdf),
            ErrorKind::InvalidOption => Some(Self::InvalidOption),
            ErrorKind::Signer
            | ErrorKind::SignerUnavailable
            | ErrorKind::SignerRefused
            | ErrorKind::SignerBadAnswer
            | ErrorKind::Timestamp
            | ErrorKind::Io => None,
        }
    }
}

impl From<SealError> for ApiError {
    fn from(error: SealError) -> Self {
        match error.kind() {
            // The remote service's answer may name hosts and key ids: the log has it, the
            // client gets the fixed text of the type.
            ErrorKind::SignerUnavailable => {
                let detail = SIGNING_SERVICE_UNAVAILABLE_DETAIL;
                Self::with_cause(ProblemType::SigningServiceUnavailable, detail, error)
                    .with_header(RETRY_AFTER, SIGNING_SERVICE_RETRY_AFTER_SECS)
            }
            ErrorKind::SignerRefused => {
                let detail = SIGNING_SERVICE_REFUSED_DETAIL;
                Self::with_cause(ProblemType::SigningServiceRefused, detail, error)
            }
            ErrorKind::SignerBadAnswer => {
                let detail = "the signing service answered with a signature that cannot be \
                              used (it does not verify, or signs something else), so nothing \
                              was sealed; the log has the details";
                Self::with_cause(ProblemType::SigningServiceFailed, detail, error)
            }
            // The authorities' answers name their hosts: the log has them.
            ErrorKind::Timestamp => {
                let detail = format!(
                    "no time-stamp authority gave a usable time-stamp, so the seal could not be \
                     made at PAdES B-T; retry in {SIGNING_SERVICE_RETRY_AFTER_SECS} seconds"
                );
                Self::with_cause(ProblemType::TimestampUnavailable, detail, error)
                    .with_header(RETRY_AFTER, SIGNING_SERVICE_RETRY_AFTER_SECS)
            }
            kind => match ProblemType::of_seal_error(kind) {
                Some(problem) => Self::new(problem, error.to_string()),
                None => Self::internal(error),
            },
        }
    }
}

/// The problem details object of RFC 9457 section 3.1.
#[derive(Serialize, ToSchema)]
#[schema(as = Problem)]
pub struct ProblemBody<'a> {
    /// The cause, stable: `/problems/<slug>`, such as `/problems/not-a-pdf`.
    #[serde(rename = "type")]
    #[schema(extensions(("x-ms-summary" = json!("Problem type"))))]
    problem_type: &'a str,
    /// A short summary of the cause, the same for every occurrence.
    #[schema(extensions(("x-ms-summary" = json!("Title"))))]
    title: &'a str,
    /// The HTTP status code.
    #[schema(extensions(("x-ms-summary" = json!("Status"))))]
    status: u16,
    /// What went wrong this time, in words that name the cause.
    #[schema(extensions(("x-ms-summary" = json!("Detail"))))]
    detail: &'a str,
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        self.problem.status()
    }

    fn error_response(&self) -> HttpResponse {
        let body = ProblemBody {
            problem_type: self.problem.uri(),
            title: self.problem.title(),
            status: self.problem.status().as_u16(),
            // A cause of a 500 may hold anything, so only a fixed text goes out.
            detail: match self.problem {
                ProblemType::Internal => INTERNAL_DETAIL,
                _ => &self.detail,
            },
        };

        let mut response = HttpResponse::build(self.status_code());
        response.insert_header((CONTENT_TYPE, PROBLEM_JSON));
        if let Some((name, value)) = &self.header {
            response.insert_header((name.clone(), value.as_str()));
        }
        // Serialising four plain fields cannot fail.
        response.body(serde_json::to_vec(&body).unwrap_or_default())
    }
}

#[cfg(test)]
mod tests {
    use actix_web::body::to_bytes;
    use pdf_seal_core::pdf::PdfError;
    use pdf_seal_core::signer::SignerError;
    use serde_json::Value;

    use super::*;

    async fn body_of(error: ApiError) -> (StatusCode, String, Value) {
        let response = error.error_response();
        let status = response.status();
        let content_type = response
            .headers()
            .get(CONTENT_TYPE)
            .unwrap()
            .to_str()
            .unwrap()
            .to_owned();
        let bytes = to_bytes(response.into_body()).await.unwrap();
        (
            status,
            content_type,
            serde_json::from_slice(&bytes).unwrap(),
        )
    }

    #[test]
    fn every_problem_type_is_found_by_its_slug() {
        for problem in ProblemType::ALL {
            assert_eq!(ProblemType::from_slug(problem.slug()), Some(problem));
        }
        assert_eq!(ProblemType::from_slug("no-such-problem"), None);
    }

    #[actix_web::test]
    async fn a_client_error_names_its_cause_in_problem_json() {
        let error = ApiError::new(ProblemType::InvalidBase64, "bad byte at offset 3");

        let (status, content_type, body) = body_of(error).await;

        assert_eq!(status, 400);
        assert_eq!(content_type, PROBLEM_JSON);
        assert_eq!(body["type"], "/problems/invalid-base64");
        assert_eq!(body["title"], "Invalid base64");
        assert_eq!(body["status"], 400);
        assert_eq!(body["detail"], "bad byte at offset 3");
    }

    #[actix_web::test]
    async fn an_internal_error_hides_its_cause() {
        let error = ApiError::internal(anyhow::anyhow!("vault password is swordfish"));

        let (status, _, body) = body_of(error).await;

        assert_eq!(status, 500);
        assert_eq!(body["type"], "/problems/internal-error");
        assert_eq!(body["detail"], INTERNAL_DETAIL);
        assert!(!body.to_string().contains("swordfish"));
    }

    #[test]
    fn each_core_error_kind_has_its_problem_type() {
        let cases = [
            (
                SealError::from(PdfError::NotPdf("no header".into())),
                "not-a-pdf",
                400,
            ),
            (SealError::from(PdfError::NoPages), "unreadable-pdf", 422),
            (
                SealError::from(PdfError::Encrypted),
                "encrypted-pdf-not-supported",
                422,
            ),
            (SealError::CertifiedNoChanges, "certified-pdf", 422),
            (
                SealError::InvalidOption("field taken".into()),
                "invalid-option",
                400,
            ),
            (
                SealError::from(SignerError::Failed("hsm".into())),
                "internal-error",
                500,
            ),
            (
                SealError::from(SignerError::Unsupported("sha512".into())),
                "invalid-option",
                400,
            ),
            (
                SealError::from(SignerError::Refused("401".into())),
                "signing-service-refused",
                502,
            ),
            (
                SealError::from(SignerError::Unavailable("503".into())),
                "signing-service-unavailable",
                503,
            ),
            (
                SealError::from(PdfError::Io(std::io::ErrorKind::Other.into())),
                "internal-error",
                500,
            ),
        ];

        for (error, slug, status) in cases {
            let api = ApiError::from(error);

            assert_eq!(api.problem().uri(), format!("/problems/{slug}"));
            assert_eq!(api.problem().status().as_u16(), status);
        }
    }

    #[test]
    fn a_signer_failure_keeps_its_cause_for_the_log() {
        let api = ApiError::from(SealError::from(SignerError::Failed("hsm offline".into())));

        assert!(format!("{:#}", api.cause().unwrap()).contains("hsm offline"));
    }

    #[actix_web::test]
    async fn an_unavailable_signing_service_is_a_503_with_retry_after_and_a_fixed_detail() {
        let cause = SignerError::Unavailable("ts.example answered 503 three times".into());
        let error = ApiError::from(SealError::from(cause));
        let retry_after = error.error_response().headers().get(RETRY_AFTER).cloned();
        assert!(format!("{:#}", error.cause().unwrap()).contains("answered 503"));

        let (status, _, body) = body_of(error).await;

        assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(body["type"], "/problems/signing-service-unavailable");
        assert!(
            !body["detail"].as_str().unwrap().contains("ts.example"),
            "{body}"
        );
        assert_eq!(retry_after.unwrap(), SIGNING_SERVICE_RETRY_AFTER_SECS);
    }

    #[actix_web::test]
    async fn a_refusing_signing_service_is_a_502_that_hides_the_answer() {
        let cause = SignerError::Refused("401 for key id 5f0c".into());
        let error = ApiError::from(SealError::from(cause));
        assert!(format!("{:#}", error.cause().unwrap()).contains("5f0c"));

        let (status, _, body) = body_of(error).await;

        assert_eq!(status, StatusCode::BAD_GATEWAY);
        assert_eq!(body["type"], "/problems/signing-service-refused");
        assert!(!body["detail"].as_str().unwrap().contains("5f0c"), "{body}");
    }

    #[actix_web::test]
    async fn failed_time_stamping_is_a_503_of_its_own_that_hides_the_authorities() {
        let cause = SignerError::Timestamp("http://tsa.test/ timed out after 10 s".into());
        let error = ApiError::from(SealError::from(cause));
        let retry_after = error.error_response().headers().get(RETRY_AFTER).cloned();
        assert!(format!("{:#}", error.cause().unwrap()).contains("tsa.test"));

        let (status, _, body) = body_of(error).await;

        assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(body["type"], "/problems/timestamp-unavailable");
        assert_eq!(body["title"], "Time-stamp authority unavailable");
        assert!(
            !body["detail"].as_str().unwrap().contains("tsa.test"),
            "{body}"
        );
        assert_eq!(retry_after.unwrap(), SIGNING_SERVICE_RETRY_AFTER_SECS);
    }

    #[actix_web::test]
    async fn busy_says_when_to_retry_in_header_and_detail() {
        let error = ApiError::busy();
        let retry_after = error.error_response().headers().get(RETRY_AFTER).cloned();

        let (status, _, body) = body_of(error).await;

        assert_eq!(status, 503);
        assert_eq!(retry_after.unwrap(), "5");
        assert_eq!(body["type"], "/problems/busy");
        assert!(body["detail"].as_str().unwrap().contains("retry"), "{body}");
    }

    #[test]
    fn method_not_allowed_lists_the_allowed_methods() {
        let response = ApiError::method_not_allowed("PUT", "/api/seal", "POST").error_response();

        assert_eq!(response.status(), 405);
        assert_eq!(response.headers().get(ALLOW).unwrap(), "POST");
    }
}
