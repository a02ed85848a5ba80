//! `GET /api/health` and `HEAD /api/health`.

use actix_web::HttpResponse;
use serde::Serialize;

#[derive(Serialize)]
struct Health {
    status: &'static str,
    version: &'static str,
}

/// Check that the service is up.
///
/// Answers `200` with `{"status": "ok", "version": "<pdf-seal version>"}`. It does not call
/// the signer, so it stays cheap enough for frequent probes. `HEAD` answers the same status
/// and headers without the body (actix-http leaves the body out for `HEAD`).
pub async fn health() -> HttpResponse {
    HttpResponse::Ok().json(Health {
        status: "ok",
        version: env!("CARGO_PKG_VERSION"),
    })
}
