//! `GET /api/health` and `HEAD /api/health`.

use actix_web::{HttpRequest, HttpResponse, web};
use serde::Serialize;
use utoipa::ToSchema;

use super::AppState;
use crate::secrets::SecretStatus;

/// What health answers.
#[derive(Serialize, ToSchema)]
pub struct Health {
    /// `ok`, or `degraded` while a Key Vault secret cannot be read (the last good value is in
    /// use).
    #[schema(example = "ok")]
    status: &'static str,
    /// The version of pdf-seal.
    version: &'static str,
    /// The Key Vault secrets the signer reads, when there are any and the caller gave an
    /// accepted credential: never their values.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    secrets: Vec<SecretStatus>,
}

/// Check that the service is up
///
/// Answers `200` with `{"status": "ok", "version": "<pdf-seal version>"}`. It does not call
/// the signer, so it stays cheap enough for frequent probes, and needs no credential. `HEAD`
/// answers the same status and headers without the body.
///
/// With secrets in Key Vault, `status` is `degraded` while one cannot be read: the service
/// goes on with the last good value, so the status code stays `200`. A caller that sends a
/// credential the service accepts (or any caller, when the service runs without
/// authentication on loopback) also gets `secrets`: each one's setting, name, version, expiry
/// and last error, never its value. A credential that is refused is logged and gets the
/// answer without `secrets`.
#[utoipa::path(
    get,
    path = "/api/health",
    operation_id = "GetHealth",
    tag = "service",
    security(()),
    responses(
        (status = 200, description = "The service is up.", body = Health),
        (status = 403, description = "The caller's address is not allowed.", body = super::problem::ProblemBody, content_type = "application/problem+json"),
    ),
)]
// actix-http leaves the body out of the answer to `HEAD`.
pub async fn health(request: HttpRequest, state: Option<web::Data<AppState>>) -> HttpResponse {
    // The state is optional: health answers even in an app that has none.
    let (secrets, trusted) = state.map_or((Vec::new(), false), |state| {
        (state.secrets.health(), state.auth.trusts(&request))
    });
    let degraded = secrets.iter().any(|secret| secret.status != "ok");
    HttpResponse::Ok().json(Health {
        status: if degraded { "degraded" } else { "ok" },
        version: env!("CARGO_PKG_VERSION"),
        secrets: if trusted { secrets } else { Vec::new() },
    })
}
