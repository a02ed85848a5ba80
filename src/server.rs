//! The HTTP server: the API's routes behind the request log and the auth guard.

use std::io;
use std::net::TcpListener;

use actix_web::dev::Server;
use actix_web::middleware::from_fn;
use actix_web::{App, HttpServer, web};

use crate::api::{self, AppState, fallback, request_log};
use crate::auth::guard;

/// Serves the API on `listener`, which is already bound, with a worker thread for each CPU
/// the process may use. The returned server runs when awaited (or spawned) and stops on
/// SIGINT or SIGTERM after the requests in flight.
///
/// Known shortcoming: a few answers are written by actix-http itself, before the request
/// reaches the app, so they have an empty body instead of problem+json, no request summary
/// in the log, and `Connection: close`. They are 400 for a request head that cannot be
/// parsed (a bad request line or header, a bad `Content-Length`, a request target over
/// 65,534 bytes), 431 for a head over 128 KiB or with more than 96 headers, and 408 for a
/// head not complete within 5 seconds (actix-web's `client_request_timeout`). actix-web 4
/// has no hook for them: middleware and `ErrorHandlers` wrap only the app. actix-http also
/// logs the parse errors at error level, under its own target, though the client is at
/// fault.
pub fn listen(listener: TcpListener, state: AppState) -> io::Result<Server> {
    listen_with_workers(listener, state, default_workers())
}

/// Like [`listen`] with `workers` worker threads; tests use one, so that a request after a
/// panic is served by the worker that panicked.
pub fn listen_with_workers(
    listener: TcpListener,
    state: AppState,
    workers: usize,
) -> io::Result<Server> {
    let state = web::Data::new(state);
    let server = HttpServer::new(move || {
        App::new()
            .app_data(state.clone())
            .wrap(from_fn(guard::check))
            .wrap(from_fn(request_log::summarise))
            .configure(api::routes)
            .default_service(web::to(fallback::not_found))
    })
    .workers(workers.max(1))
    .listen(listener)?
    .run();
    Ok(server)
}

fn default_workers() -> usize {
    std::thread::available_parallelism().map_or(1, usize::from)
}
