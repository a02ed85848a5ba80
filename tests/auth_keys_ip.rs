//! Who may call `pdf-seal serve`, checked from outside on the real binary: function keys, the
//! client address allow-list behind trusted proxies, their combinations with the policy, the
//! start-up refusals, and what an outsider tries to get past them. Every server listens on
//! loopback; on Linux every 127.0.0.0/8 address is loopback, so requests from 127.0.0.2,
//! 127.0.0.3... are different clients on the same machine.

mod common;
#[path = "common/raw_http.rs"]
mod raw_http;
mod support;

#[path = "auth_keys_ip/addresses.rs"]
mod addresses;
#[path = "auth_keys_ip/combinations.rs"]
mod combinations;
#[path = "auth_keys_ip/function_keys.rs"]
mod function_keys;
#[path = "auth_keys_ip/outsider.rs"]
mod outsider;
#[path = "auth_keys_ip/start_up.rs"]
mod start_up;

use std::ffi::OsStr;
use std::net::SocketAddr;

use reqwest::Method;
use serde_json::Value;

use raw_http::{RawResponse, read_response, send_partial};
use support::fixture::Fixture;
use support::jobs::check_problem;
use support::server::{Reply, Server};

/// A function key, long enough to be accepted and distinctive enough to search the log for.
const KEY: &str = "pdfsealTestKeyA-0f5c3e9d7b1a46f2a8c4e6d0b2f4a6c8";

/// A second valid key, for two-key setups and rotations.
const NEW_KEY: &str = "pdfsealTestKeyB-9e1d3c5b7a2f48e6b0d2c4a6e8f0b2d4";

/// A well-formed key that is not configured.
const WRONG_KEY: &str = "pdfsealTestKeyX-1234567890abcdef1234567890abcdef";

/// The challenge of a 401 when the policy takes function keys only.
const KEY_CHALLENGE: &str = "FunctionKey realm=\"pdf-seal\"";

/// The headers of one request, for tables of cases.
type Headers<'a> = Vec<(&'a str, &'a str)>;

/// A server that takes [`KEY`] and `extra` settings, on 127.0.0.1.
fn serve_with_key(fixture: &Fixture, name: &str, extra: &[(&str, &str)]) -> Server {
    let mut env = vec![
        ("PDF_SEAL_AUTH", "function-key"),
        ("PDF_SEAL_FUNCTION_KEYS", KEY),
    ];
    env.extend_from_slice(extra);
    serve(fixture, name, &env)
}

/// A server on 127.0.0.1 with `env` added.
fn serve(fixture: &Fixture, name: &str, env: &[(&str, &str)]) -> Server {
    let env: Vec<(&str, &OsStr)> = env
        .iter()
        .map(|(name, value)| (*name, OsStr::new(*value)))
        .collect();
    fixture.serve_with(name, &env)
}

/// `method target` with `headers` and no body; panics when no answer comes.
fn send(server: &Server, method: Method, target: &str, headers: &[(&str, &str)]) -> Reply {
    server
        .send(method, target, headers, Vec::new())
        .unwrap_or_else(|error| panic!("{error}; the server's log:\n{}", server.log_tail()))
}

/// `POST target` with a small PDF and `headers`.
fn post_pdf(server: &Server, target: &str, headers: &[(&str, &str)]) -> Reply {
    let mut headers = headers.to_vec();
    headers.push(("content-type", "application/pdf"));
    server
        .send(Method::POST, target, &headers, common::minimal_pdf())
        .unwrap_or_else(|error| panic!("{error}; the server's log:\n{}", server.log_tail()))
}

/// Checks that `reply` is a sealed PDF.
fn check_sealed(reply: &Reply, what: &str) {
    let text = String::from_utf8_lossy(&reply.body);
    assert_eq!(reply.status, 200, "{what}: {text}");
    assert_eq!(
        reply.header("content-type").as_deref(),
        Some("application/pdf"),
        "{what}"
    );
    assert!(
        reply.body.starts_with(&common::minimal_pdf()),
        "{what}: the answer does not extend the PDF sent"
    );
}

/// Checks that `reply` is a 401 problem `slug` that challenges with `challenge`.
fn check_unauthorised(reply: &Reply, slug: &str, challenge: &str, what: &str) {
    let text = String::from_utf8_lossy(&reply.body);
    assert_eq!(reply.status, 401, "{what}: {text}");
    check_problem(reply, 401, slug, "");
    assert_eq!(
        reply.header("www-authenticate").as_deref(),
        Some(challenge),
        "{what}"
    );
}

/// Checks that `reply` is a 403 `address-not-allowed` without a challenge, whose detail names
/// `word`.
fn check_address_refused(reply: &Reply, word: &str, what: &str) {
    let text = String::from_utf8_lossy(&reply.body);
    assert_eq!(reply.status, 403, "{what}: {text}");
    check_problem(reply, 403, "address-not-allowed", word);
    assert_eq!(reply.header("www-authenticate"), None, "{what}");
}

/// The server's log events whose message is `message`.
fn events(server: &Server, message: &str) -> Vec<Value> {
    server
        .log_events()
        .into_iter()
        .filter(|event| event["message"] == message)
        .collect()
}

/// The one request summary of `method path` answered with `status`; panics unless there is
/// exactly one.
fn summary(server: &Server, method: &str, path: &str, status: u16) -> Value {
    let mut summaries: Vec<Value> = events(server, "request")
        .into_iter()
        .filter(|event| {
            event["http.method"] == method
                && event["http.path"] == path
                && event["http.status"] == status
        })
        .collect();
    assert_eq!(
        summaries.len(),
        1,
        "one summary of {method} {path} {status}; the log:\n{}",
        server.log_text()
    );
    summaries.remove(0)
}

/// Checks that none of `secrets` appears anywhere in the server's log.
fn check_log_hides(server: &Server, secrets: &[&str]) {
    let log = server.log_text();
    for secret in secrets {
        assert!(!log.contains(secret), "{secret:?} reached the log:\n{log}");
    }
}

/// Sends `head` (request line and headers; `Host` is added) and `body` as they are written,
/// on a fresh connection, and reads the answer.
fn send_raw(server: &Server, head: &str, body: &[u8]) -> RawResponse {
    let address = address_of(server);
    runtime().block_on(async {
        let mut stream = send_partial(address, head, body).await;
        read_response(&mut stream).await
    })
}

/// The address the server listens on.
fn address_of(server: &Server) -> SocketAddr {
    let authority = server.base_url.trim_start_matches("http://");
    authority.parse().unwrap()
}

/// A runtime for the raw client, apart from the server handle's own.
fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}
