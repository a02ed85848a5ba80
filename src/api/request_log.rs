//! The middleware around every request: one summary event each, and a 500 instead of a
//! dropped connection when a handler panics.

use std::panic::AssertUnwindSafe;
use std::time::Instant;

use actix_web::body::{BoxBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::middleware::Next;
use actix_web::{Error, HttpMessage as _, HttpResponse};
use futures_util::FutureExt as _;
use tracing::Instrument as _;

use super::problem::ApiError;

/// The size of the request's PDF, which a handler records in the request's extensions for
/// the summary.
#[derive(Clone, Copy, Debug)]
pub struct PdfSize(pub u64);

/// Runs the request and logs one summary event: method, path without its query string
/// (function keys travel as `?code=`), status, `duration_ms` (until the answer's head is
/// ready), `pdf.size_bytes` when known, and the problem type of a failure. Client errors are
/// logged at info, 5xx at error with their cause; bodies, headers and query values never.
///
/// A panic in the handler is caught here and answered as a generic 500, so the worker keeps
/// serving; the panic itself is logged by the hook that `serve` installs. This relies on
/// panics unwinding: a `panic = "abort"` profile would end the process instead.
pub async fn summarise(
    request: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, Error> {
    let started = Instant::now();
    let method = request.method().clone();
    let path = request.path().to_owned();
    let http_request = request.request().clone();
    let span = tracing::info_span!("request", http.method = %method, http.path = %path);

    let outcome = AssertUnwindSafe(next.call(request))
        .catch_unwind()
        .instrument(span.clone())
        .await;
    let response = match outcome {
        Ok(Ok(response)) => response.map_into_boxed_body(),
        Ok(Err(error)) => ServiceResponse::from_err(error, http_request),
        Err(_panic) => {
            let error = ApiError::internal(anyhow::anyhow!("the request handler panicked"));
            ServiceResponse::new(http_request, HttpResponse::from_error(error))
        }
    };

    let _entered = span.enter();
    log_summary(&response, method.as_str(), &path, started);
    Ok(response)
}

fn log_summary(response: &ServiceResponse<BoxBody>, method: &str, path: &str, started: Instant) {
    let status = response.status().as_u16();
    let duration_ms = started.elapsed().as_secs_f64() * 1000.0;
    let pdf_size = response
        .request()
        .extensions()
        .get::<PdfSize>()
        .map(|size| size.0);
    let api_error = response
        .response()
        .error()
        .and_then(|error| error.as_error::<ApiError>());
    let problem = api_error.map(|error| error.problem().uri());

    if response.status().is_server_error() {
        let cause = api_error
            .and_then(ApiError::cause)
            .map(|cause| format!("{cause:#}"));
        tracing::error!(
            http.method = method,
            http.path = path,
            http.status = status,
            duration_ms,
            pdf.size_bytes = pdf_size,
            problem.r#type = problem,
            error.cause = cause,
            "request failed"
        );
    } else {
        tracing::info!(
            http.method = method,
            http.path = path,
            http.status = status,
            duration_ms,
            pdf.size_bytes = pdf_size,
            problem.r#type = problem,
            "request"
        );
    }
}
