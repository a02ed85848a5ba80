//! `GET /api/connection`: the connector's connection test.

use actix_web::{HttpResponse, web};
use serde::Serialize;
use utoipa::ToSchema;

use super::AppState;

/// What the connection test answers.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ConnectionCheck {
    /// Always `ok`: any other outcome is an error answer.
    #[schema(extensions(("x-ms-summary" = json!("Status"))))]
    status: &'static str,
    /// The version of pdf-seal that answered.
    #[schema(extensions(("x-ms-summary" = json!("Version"))))]
    version: &'static str,
    /// True when this service seals PDFs in Blob Storage.
    #[schema(extensions(("x-ms-summary" = json!("Blob mode"))))]
    blob_mode: bool,
}

/// Test the connection
///
/// Checks that the connection's credentials are accepted, without sealing anything. Answers
/// the service's version and whether it seals PDFs in Blob Storage.
#[utoipa::path(
    get,
    path = "/api/connection",
    operation_id = "TestConnection",
    tag = "connection",
    extensions(("x-ms-visibility" = json!("internal"))),
    responses(
        (status = 200, description = "The connection works.", body = ConnectionCheck),
    ),
)]
pub async fn connection(state: web::Data<AppState>) -> HttpResponse {
    // The route sits behind the same credential check as the seal actions, so reaching this
    // handler is the test.
    HttpResponse::Ok().json(ConnectionCheck {
        status: "ok",
        version: env!("CARGO_PKG_VERSION"),
        blob_mode: state.jobs.is_some(),
    })
}
