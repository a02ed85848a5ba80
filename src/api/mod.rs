//! The HTTP API: one file per action, one error type ([`problem::ApiError`]), the
//! middleware that logs each request once, and the guard that turns a handler's panic into a
//! 500.

pub mod fallback;
pub mod health;
pub mod panic_guard;
pub mod problem;
pub mod request_body;
pub mod request_log;
pub mod seal;
pub mod seal_json;
pub mod seal_request;
pub mod seal_response;

use std::sync::Arc;

use actix_web::web;
use pdf_seal_core::signer::Signer;

use crate::config::SealLimits;
use panic_guard::guarded;

/// What every request handler shares.
#[derive(Clone)]
pub struct AppState {
    /// The signer of every seal.
    pub signer: Arc<dyn Signer>,
    /// What a seal request may take.
    pub limits: SealLimits,
}

impl AppState {
    /// The state of a service that seals with `signer` within `limits`.
    pub fn new(signer: Arc<dyn Signer>, limits: SealLimits) -> Self {
        Self { signer, limits }
    }
}

/// Registers the API's routes, each behind the panic guard; a known path with another method
/// answers 405.
pub fn routes(config: &mut web::ServiceConfig) {
    config
        .service(
            web::resource("/api/health")
                .route(web::get().to(guarded(health::health)))
                .default_service(fallback::method_not_allowed("GET")),
        )
        .service(
            web::resource("/api/seal")
                .route(web::post().to(guarded(seal::seal)))
                .default_service(fallback::method_not_allowed("POST")),
        );
}
