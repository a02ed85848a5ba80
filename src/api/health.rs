//! `GET /api/health` and `HEAD /api/health`.

use actix_web::{HttpResponse, web};
use serde::Serialize;

use super::AppState;
use crate::secrets::SecretStatus;

#[derive(Serialize)]
struct Health {
    status: &'static str,
    version: &'static str,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    secrets: Vec<SecretStatus>,
}

/// Check that the service is up.
///
/// Answers `200` with `{"status": "ok", "version": "<pdf-seal version>"}`. It does not call
/// the signer, so it stays cheap enough for frequent probes. `HEAD` answers the same status
/// and headers without the body (actix-http leaves the body out for `HEAD`).
///
/// With secrets in Key Vault, `secrets` lists each one (its setting, name, version, expiry,
/// never its value), and `status` is `degraded` while one cannot be read: the service goes on
/// with the last good value. The status code stays `200`, since the service still seals.
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
