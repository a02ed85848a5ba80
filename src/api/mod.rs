//! The HTTP API: one file per action, one error type ([`problem::ApiError`]), the
//! middleware that logs each request once, and the guard that turns a handler's panic into a
//! 500.

pub mod connection;
pub mod fallback;
pub mod health;
pub mod openapi;
pub mod panic_guard;
pub mod problem;
pub mod request_body;
pub mod request_log;
pub mod seal;
pub mod seal_jobs;
pub mod seal_json;
pub mod seal_request;
pub mod seal_response;

use std::sync::Arc;

use actix_web::web;
use pdf_seal_core::signer::Signer;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use crate::auth::Auth;
use crate::config::SealLimits;
use crate::jobs::Jobs;
use crate::secrets::Secrets;
use panic_guard::guarded;
use problem::ApiError;

/// What every request handler shares; its clones share one count of seals in progress.
#[derive(Clone)]
pub struct AppState {
    /// The signer of every seal.
    pub signer: Arc<dyn Signer>,
    /// What a seal request may take.
    pub limits: SealLimits,
    /// Blob mode, when it is enabled.
    pub jobs: Option<Jobs>,
    /// Who may call.
    pub auth: Auth,
    /// The Key Vault secrets the signer reads, whose state health reports.
    pub secrets: Secrets,
    /// A permit for each seal that may run at once.
    seals: Arc<Semaphore>,
}

impl AppState {
    /// The state of a service that seals with `signer` within `limits`.
    pub fn new(signer: Arc<dyn Signer>, limits: SealLimits) -> Self {
        let seals = Arc::new(Semaphore::new(limits.max_concurrent_seals));
        Self {
            signer,
            limits,
            jobs: None,
            auth: Auth::disabled(),
            secrets: Secrets::environment_only(),
            seals,
        }
    }

    /// The same state with blob mode served by `jobs`.
    pub fn with_jobs(self, jobs: Jobs) -> Self {
        Self {
            jobs: Some(jobs),
            ..self
        }
    }

    /// The same state with the signer's `secrets`, for health.
    pub fn with_secrets(self, secrets: Secrets) -> Self {
        Self { secrets, ..self }
    }

    /// The same state with callers checked by `auth`.
    pub fn with_auth(self, auth: Auth) -> Self {
        Self { auth, ..self }
    }

    /// Takes one of the `max_concurrent_seals` permits, or refuses at once with a 503 when all
    /// are taken: waiting would keep the request's connection open and its body unread for
    /// an unknown time. The permit is given back when dropped.
    pub fn start_seal(&self) -> Result<OwnedSemaphorePermit, ApiError> {
        Arc::clone(&self.seals)
            .try_acquire_owned()
            .map_err(|_| ApiError::busy())
    }
}

/// Registers the API's routes, each behind the panic guard; a known path with another method
/// answers 405.
pub fn routes(config: &mut web::ServiceConfig) {
    config
        .service(
            web::resource("/api/health")
                .route(web::get().to(guarded(health::health)))
                .route(web::head().to(guarded(health::health)))
                .default_service(fallback::method_not_allowed("GET, HEAD")),
        )
        .service(
            web::resource("/api/connection")
                .route(web::get().to(guarded(connection::connection)))
                .route(web::head().to(guarded(connection::connection)))
                .default_service(fallback::method_not_allowed("GET, HEAD")),
        )
        .service(
            web::resource("/api/openapi.json")
                .route(web::get().to(guarded(openapi::openapi_json)))
                .route(web::head().to(guarded(openapi::openapi_json)))
                .default_service(fallback::method_not_allowed("GET, HEAD")),
        )
        .service(
            web::resource("/api/seal")
                .route(web::post().to(guarded(seal::seal)))
                .default_service(fallback::method_not_allowed("POST")),
        )
        .service(
            web::resource("/api/seal-jobs")
                .route(web::post().to(guarded(seal_jobs::create)))
                .default_service(fallback::method_not_allowed("POST")),
        )
        .service(
            web::resource("/api/seal-jobs/{id}")
                .route(web::get().to(guarded(seal_jobs::status)))
                .route(web::head().to(guarded(seal_jobs::status)))
                .default_service(fallback::method_not_allowed("GET, HEAD")),
        );
}
