//! `GET /api/health` and `HEAD /api/health`.

use actix_web::{HttpResponse, web};
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
    /// The Key Vault secrets the signer reads, when there are any: never their values.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    secrets: Vec<SecretStatus>,
}

/// Check that the service is up
///
/// Answers `200` with `{"status": "ok", "version": "<pdf-seal version>"}`. It does not call
/// the signer, so it stays cheap enough for frequent probes, and needs no credential. `HEAD`
/// answers the same status and headers without the body.
///
/// With secrets in Key Vault, `secrets` lists each one (its setting, name, version, expiry,
/// never its value), and `status` is `degraded` while one cannot be read: the service goes on
/// with the last good value. The status code stays `200`, since the service still seals.
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
pub async fn health(state: Option<web::Data<AppState>>) -> HttpResponse {
    // The state is optional: health answers even in an app that has none.
    let secrets = state
        .map(|state| state.secrets.health())
        .unwrap_or_default();
    let degraded = secrets.iter().any(|secret| secret.status != "ok");
    HttpResponse::Ok().json(Health {
        status: if degraded { "degraded" } else { "ok" },
        version: env!("CARGO_PKG_VERSION"),
        secrets,
    })
}
