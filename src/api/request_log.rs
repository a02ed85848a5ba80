//! The middleware around every request: one summary event each.

use std::borrow::Cow;
use std::time::Instant;

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::StatusCode;
use actix_web::middleware::Next;
use actix_web::{Error, HttpMessage as _};
use tracing::Instrument as _;

use super::problem::{ApiError, ProblemType};
use crate::auth::Caller;
use crate::auth::client_address::ClientAddress;

/// The most bytes of a request's method or path that the log holds. Both come from the client
/// before any credential is looked at, and a refused request writes its path four times (in
/// the denial and in the summary, each with the request's span): uncut, one request of 64 KiB
/// without a key would add a quarter of a megabyte to the log.
const MAX_LOGGED_BYTES: usize = 512;

/// The size of the request's PDF, which a handler records in the request's extensions for
/// the summary.
#[derive(Clone, Copy, Debug)]
pub struct PdfSize(pub u64);

/// Runs the request in a span and logs one summary event: method, path without its query
/// string (function keys travel as `?code=`), status, `duration_ms` (until the answer's head
/// is ready), `pdf.size_bytes` when known, the problem type of a failure, the client address
/// and who the caller was admitted as (`auth.method`, `auth.object_id`, `auth.client_id`,
/// `auth.tenant_id`, `auth.key_id`). Client errors are logged at info, a refusal for being
/// busy at warn, other 5xx at error with their cause; bodies, credentials, headers and query
/// values never.
pub async fn summarise(
    request: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, Error> {
    let started = Instant::now();
    let method = loggable(request.method().as_str()).into_owned();
    let path = loggable(request.path()).into_owned();
    let span = tracing::info_span!("request", http.method = %method, http.path = %path);

    let outcome = next.call(request).instrument(span.clone()).await;
    let _entered = span.enter();
    let mut summary = Summary {
        method: &method,
        path: &path,
        started,
        client: None,
        caller: None,
    };
    match &outcome {
        Ok(response) => {
            let extensions = response.request().extensions();
            let pdf_size = extensions.get::<PdfSize>().map(|size| size.0);
            summary.client = extensions.get::<ClientAddress>().copied();
            summary.caller = extensions.get::<Caller>().cloned();
            drop(extensions);
            let error = response.response().error();
            summary.log(response.status(), pdf_size, error);
        }
        Err(error) => summary.log(error.error_response().status(), None, Some(error)),
    }
    outcome
}

/// `text` as the log holds it: whole up to [`MAX_LOGGED_BYTES`], else cut there and followed by
/// its length (`/api/aaaa... (65000 bytes)`; a path has no spaces of its own).
pub fn loggable(text: &str) -> Cow<'_, str> {
    if text.len() <= MAX_LOGGED_BYTES {
        return Cow::Borrowed(text);
    }
    let mut end = MAX_LOGGED_BYTES;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    Cow::Owned(format!("{}... ({} bytes)", &text[..end], text.len()))
}

struct Summary<'a> {
    method: &'a str,
    path: &'a str,
    started: Instant,
    client: Option<ClientAddress>,
    caller: Option<Caller>,
}

impl Summary<'_> {
    fn log(&self, status: StatusCode, pdf_size: Option<u64>, error: Option<&Error>) {
        let duration_ms = self.started.elapsed().as_secs_f64() * 1000.0;
        let api_error = error.and_then(|error| error.as_error::<ApiError>());
        let problem = api_error.map(|error| error.problem().uri());

        // Refusals for a passing want, at warn: a few busy refusals in a burst are expected
        // (many mean PDF_SEAL_MAX_CONCURRENT_SEALS or the capacity behind it is too small), and
        // an unreachable identity provider is logged once per fetch by the key cache.
        let busy = api_error.is_some_and(|error| {
            matches!(
                error.problem(),
                ProblemType::Busy | ProblemType::IdentityProviderUnavailable
            )
        });
        let client = self
            .client
            .and_then(|address| address.client)
            .map(|client| client.to_string());
        let caller = self.caller.as_ref();
        let auth_method = caller.map(Caller::method_names);
        let object_id = caller.and_then(|caller| caller.object_id.as_deref());
        let client_id = caller.and_then(|caller| caller.client_id.as_deref());
        let tenant_id = caller.and_then(|caller| caller.tenant_id.as_deref());
        let key_id = caller.and_then(|caller| caller.key_id.as_deref());
        if busy {
            tracing::warn!(
                http.method = self.method,
                http.path = self.path,
                http.status = status.as_u16(),
                duration_ms,
                problem.r#type = problem,
                client.address = client,
                auth.method = auth_method,
                auth.object_id = object_id,
                auth.client_id = client_id,
                auth.tenant_id = tenant_id,
                auth.key_id = key_id,
                "request refused for now"
            );
        } else if status.is_server_error() {
            let cause = match api_error {
                Some(api_error) => api_error.cause().map(|cause| format!("{cause:#}")),
                None => error.map(ToString::to_string),
            };
            tracing::error!(
                http.method = self.method,
                http.path = self.path,
                http.status = status.as_u16(),
                duration_ms,
                pdf.size_bytes = pdf_size,
                problem.r#type = problem,
                error.cause = cause,
                client.address = client,
                auth.method = auth_method,
                auth.object_id = object_id,
                auth.client_id = client_id,
                auth.tenant_id = tenant_id,
                auth.key_id = key_id,
                "request failed"
            );
        } else {
            tracing::info!(
                http.method = self.method,
                http.path = self.path,
                http.status = status.as_u16(),
                duration_ms,
                pdf.size_bytes = pdf_size,
                problem.r#type = problem,
                client.address = client,
                auth.method = auth_method,
                auth.object_id = object_id,
                auth.client_id = client_id,
                auth.tenant_id = tenant_id,
                auth.key_id = key_id,
                "request"
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_text_is_logged_whole() {
        let path = "/api/seal-jobs/0123456789abcdef";

        assert!(matches!(loggable(path), Cow::Borrowed(p) if p == path));
    }

    #[test]
    fn long_text_is_cut_and_says_how_long_it_was() {
        let path = format!("/{}", "a".repeat(65_000));

        let logged = loggable(&path);

        assert_eq!(logged.len(), MAX_LOGGED_BYTES + "... (65001 bytes)".len());
        assert!(logged.starts_with("/aaa"), "{logged}");
        assert!(logged.ends_with("aaa... (65001 bytes)"), "{logged}");
    }

    #[test]
    fn text_is_cut_between_characters() {
        // Every 'é' takes two bytes and starts at an odd offset, so the limit falls inside one.
        let text = format!("a{}", "\u{e9}".repeat(600));

        let logged = loggable(&text);

        let kept = format!("a{}", "\u{e9}".repeat((MAX_LOGGED_BYTES - 1) / 2));
        assert_eq!(logged, format!("{kept}... (1201 bytes)"));
    }
}
