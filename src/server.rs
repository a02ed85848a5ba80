//! The HTTP server: the API's routes behind the request middleware.

use std::io;
use std::net::TcpListener;

use actix_web::dev::Server;
use actix_web::middleware::from_fn;
use actix_web::{App, HttpServer, web};

use crate::api::{self, AppState, fallback, request_log};

/// Serves the API on `listener`, which is already bound. The returned server runs when
/// awaited (or spawned) and stops on SIGINT or SIGTERM after the requests in flight.
pub fn listen(listener: TcpListener, state: AppState) -> io::Result<Server> {
    let state = web::Data::new(state);
    let server = HttpServer::new(move || {
        App::new()
            .app_data(state.clone())
            .wrap(from_fn(request_log::summarise))
            .configure(api::routes)
            .default_service(web::to(fallback::not_found))
    })
    .listen(listener)?
    .run();
    Ok(server)
}
