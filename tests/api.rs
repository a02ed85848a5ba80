//! The HTTP API, served for real on a free loopback port and called with reqwest.

#[path = "common/app.rs"]
mod app;
mod common;
#[path = "common/raw_http.rs"]
mod raw_http;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use actix_web::middleware::from_fn;
use actix_web::{App, HttpServer, web};
use async_trait::async_trait;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use pdf_seal::api::panic_guard::guarded;
use pdf_seal::config::SealLimits;
use pdf_seal_core::signer::{DigestAlgorithm, DocumentDigest, Signer, SignerError};
use reqwest::StatusCode;
use reqwest::header::{ACCEPT, ALLOW, CONTENT_ENCODING, CONTENT_TYPE, RETRY_AFTER};
use serde_json::{Value, json};
use x509_cert::Certificate;

use app::{FAKE_CMS, FixedSigner, TestApp, spawn_app, spawn_app_with_limits};
use common::minimal_pdf;
use raw_http::{RawResponse, read_response, send_partial};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

const LIMIT: u64 = 64 * 1024;

fn fixed_app() -> TestApp {
    spawn_app(Arc::new(FixedSigner), LIMIT)
}

/// Checks that `response` is problem+json with `status` and `/problems/<slug>`, and returns
/// its body.
async fn assert_problem(response: reqwest::Response, status: u16, slug: &str) -> Value {
    assert_eq!(response.status().as_u16(), status);
    let content_type = response.headers()[CONTENT_TYPE]
        .to_str()
        .unwrap()
        .to_owned();
    assert_eq!(content_type, "application/problem+json");

    let body: Value = response.json().await.unwrap();
    assert_eq!(body["type"], format!("/problems/{slug}"));
    assert_eq!(body["status"], status);
    assert!(body["title"].is_string(), "{body}");
    assert!(
        body["detail"].as_str().is_some_and(|d| !d.is_empty()),
        "{body}"
    );
    body
}

async fn post_seal(
    app: &TestApp,
    content_type: &str,
    body: impl Into<reqwest::Body>,
) -> reqwest::Response {
    let request = app
        .client
        .post(app.url("/api/seal"))
        .header(CONTENT_TYPE, content_type);
    request.body(body).send().await.unwrap()
}

#[tokio::test]
async fn health_answers_ok_with_the_version() {
    let app = fixed_app();

    let response = app.client.get(app.url("/api/health")).send().await.unwrap();

    assert_eq!(response.status(), StatusCode::OK);
    let body: Value = response.json().await.unwrap();
    assert_eq!(
        body,
        json!({"status": "ok", "version": env!("CARGO_PKG_VERSION")})
    );
}

#[tokio::test]
async fn health_answers_head_with_ok_and_no_body() {
    let app = fixed_app();
    let head = "HEAD /api/health HTTP/1.1\r\nConnection: close";

    // Read to the end of the connection, so that a body sent by mistake would show.
    let mut stream = send_partial(address_of(&app), head, b"").await;
    let mut answer = Vec::new();
    stream.read_to_end(&mut answer).await.unwrap();

    let answer = String::from_utf8(answer).unwrap();
    assert!(answer.starts_with("HTTP/1.1 200 OK\r\n"), "{answer}");
    assert!(answer.ends_with("\r\n\r\n"), "{answer}");
}

#[tokio::test]
async fn an_unknown_path_answers_404() {
    let app = fixed_app();

    let response = app
        .client
        .get(app.url("/api/nothing-here"))
        .send()
        .await
        .unwrap();

    let body = assert_problem(response, 404, "not-found").await;
    assert!(
        body["detail"]
            .as_str()
            .unwrap()
            .contains("/api/nothing-here")
    );
}

#[tokio::test]
async fn a_wrong_method_answers_405_with_the_allowed_method() {
    let app = fixed_app();

    let get_seal = app.client.get(app.url("/api/seal")).send().await.unwrap();
    let post_health = app
        .client
        .post(app.url("/api/health"))
        .send()
        .await
        .unwrap();

    assert_eq!(get_seal.headers()[ALLOW], "POST");
    assert_problem(get_seal, 405, "method-not-allowed").await;
    assert_eq!(post_health.headers()[ALLOW], "GET, HEAD");
    assert_problem(post_health, 405, "method-not-allowed").await;
}

#[tokio::test]
async fn a_seal_without_content_type_answers_415() {
    let app = fixed_app();

    let response = app
        .client
        .post(app.url("/api/seal"))
        .body(minimal_pdf())
        .send()
        .await;

    assert_problem(response.unwrap(), 415, "unsupported-media-type").await;
}

#[tokio::test]
async fn a_seal_with_another_content_type_answers_415_naming_the_accepted_types() {
    let app = fixed_app();

    let response = post_seal(&app, "text/plain", minimal_pdf()).await;

    let body = assert_problem(response, 415, "unsupported-media-type").await;
    let detail = body["detail"].as_str().unwrap();
    for accepted in [
        "application/pdf",
        "application/octet-stream",
        "application/json",
    ] {
        assert!(detail.contains(accepted), "{detail}");
    }
}

async fn post_encoded(app: &TestApp, encoding: &str, body: Vec<u8>) -> reqwest::Response {
    let request = app
        .client
        .post(app.url("/api/seal"))
        .header(CONTENT_TYPE, "application/pdf")
        .header(CONTENT_ENCODING, encoding);
    request.body(body).send().await.unwrap()
}

#[tokio::test]
async fn a_body_with_a_content_coding_answers_415_naming_it() {
    let app = fixed_app();
    // The gzip of an empty member: whatever the body holds, the coding alone is refused.
    let gzip = vec![
        0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 3, 3, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    ];

    let gzipped = post_encoded(&app, "gzip", gzip).await;
    let plain_but_labelled = post_encoded(&app, "br", minimal_pdf()).await;

    let body = assert_problem(gzipped, 415, "unsupported-media-type").await;
    assert!(body["detail"].as_str().unwrap().contains("gzip"), "{body}");
    let body = assert_problem(plain_but_labelled, 415, "unsupported-media-type").await;
    assert!(body["detail"].as_str().unwrap().contains("br"), "{body}");
}

#[tokio::test]
async fn a_body_marked_identity_is_sealed() {
    let app = fixed_app();

    let response = post_encoded(&app, "identity", minimal_pdf()).await;

    assert_eq!(response.status(), StatusCode::OK);
}

#[tokio::test]
async fn a_body_declared_larger_than_the_limit_answers_413() {
    let app = fixed_app();

    let response = post_seal(&app, "application/pdf", vec![b'%'; LIMIT as usize + 1]).await;

    assert_problem(response, 413, "payload-too-large").await;
}

#[tokio::test]
async fn a_chunked_body_larger_than_the_limit_answers_413() {
    let app = fixed_app();
    let chunks = (0..16).map(|_| Ok::<_, std::io::Error>(vec![b'%'; 8 * 1024]));
    let body = reqwest::Body::wrap_stream(futures_util::stream::iter(chunks));

    let response = post_seal(&app, "application/octet-stream", body).await;

    assert_problem(response, 413, "payload-too-large").await;
}

#[tokio::test]
async fn a_json_body_whose_pdf_is_larger_than_the_limit_answers_413() {
    let app = fixed_app();
    let content = STANDARD.encode(vec![b'%'; LIMIT as usize + 1]);

    let body = json!({"fileContent": content}).to_string();
    let response = post_seal(&app, "application/json", body).await;

    assert_problem(response, 413, "payload-too-large").await;
}

#[tokio::test]
async fn an_empty_body_answers_400_not_a_pdf() {
    let app = fixed_app();

    let response = post_seal(&app, "application/pdf", Vec::new()).await;

    assert_problem(response, 400, "not-a-pdf").await;
}

#[tokio::test]
async fn invalid_base64_answers_400() {
    let app = fixed_app();
    let body = json!({"file": {"$content-type": "application/pdf", "$content": "JVBE*i0="}});

    let response = post_seal(&app, "application/json", body.to_string()).await;

    assert_problem(response, 400, "invalid-base64").await;
}

#[tokio::test]
async fn malformed_json_or_json_without_a_file_answers_400_invalid_request() {
    let app = fixed_app();

    for body in [
        r#"{"fileContent": "#,
        r#"{"reason": "no file"}"#,
        r#"{"file": "JVBERi0="}"#,
    ] {
        let response = post_seal(&app, "application/json; charset=utf-8", body).await;

        assert_problem(response, 400, "invalid-request").await;
    }
}

#[tokio::test]
async fn an_unknown_digest_answers_400_invalid_request_before_the_body_is_used() {
    let app = fixed_app();
    let url = app.url("/api/seal?digest=md5");

    let request = app.client.post(url).header(CONTENT_TYPE, "application/pdf");
    let response = request.body(minimal_pdf()).send().await.unwrap();

    let body = assert_problem(response, 400, "invalid-request").await;
    assert!(
        body["detail"].as_str().unwrap().contains("digest"),
        "{body}"
    );
}

#[tokio::test]
async fn an_option_given_in_query_and_body_with_different_values_answers_400() {
    let app = fixed_app();
    let content = STANDARD.encode(minimal_pdf());
    let body = json!({"fileContent": content, "reason": "from the body"});

    let request = app.client.post(app.url("/api/seal?reason=from+the+query"));
    let response = request.json(&body).send().await.unwrap();

    let body = assert_problem(response, 400, "invalid-request").await;
    assert!(
        body["detail"].as_str().unwrap().contains("reason"),
        "{body}"
    );
}

/// Panics on its first signature, then behaves like [`FixedSigner`].
#[derive(Default)]
pub struct PanicOnceSigner {
    panicked: AtomicBool,
}

#[async_trait]
impl Signer for PanicOnceSigner {
    fn estimated_cms_len(&self, _algorithm: DigestAlgorithm) -> usize {
        FAKE_CMS.len()
    }

    async fn sign(&self, _digest: &DocumentDigest) -> Result<Vec<u8>, SignerError> {
        if !self.panicked.swap(true, Ordering::SeqCst) {
            panic!("the test signer panics once");
        }
        Ok(FAKE_CMS.to_vec())
    }

    fn certificates(&self) -> &[Certificate] {
        &[]
    }
}

async fn panicking_handler() -> &'static str {
    panic!("secret cause")
}

#[tokio::test]
async fn a_handler_panic_answers_a_generic_500_and_the_worker_keeps_serving() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let base_url = format!("http://{}", listener.local_addr().unwrap());
    let server = HttpServer::new(|| {
        App::new()
            .wrap(from_fn(pdf_seal::api::request_log::summarise))
            .route("/boom", web::get().to(guarded(panicking_handler)))
            .configure(pdf_seal::api::routes)
    })
    .workers(1)
    .listen(listener)
    .unwrap()
    .run();
    tokio::spawn(server);
    let client = app::client();

    let boom = client.get(format!("{base_url}/boom")).send().await.unwrap();
    let body = assert_problem(boom, 500, "internal-error").await;
    let health = client
        .get(format!("{base_url}/api/health"))
        .send()
        .await
        .unwrap();

    assert_eq!(body["detail"], "internal error");
    assert!(!body.to_string().contains("secret cause"));
    assert_eq!(health.status(), StatusCode::OK);
}

#[tokio::test]
async fn a_panic_in_the_signer_answers_500_and_the_server_keeps_serving() {
    let app = spawn_app(Arc::new(PanicOnceSigner::default()), LIMIT);

    let first = post_seal(&app, "application/pdf", minimal_pdf()).await;
    assert_problem(first, 500, "internal-error").await;
    let second = post_seal(&app, "application/pdf", minimal_pdf()).await;

    assert_eq!(second.status(), StatusCode::OK);
}

#[tokio::test]
async fn bytes_that_are_not_a_pdf_answer_400_not_a_pdf() {
    let app = fixed_app();

    let response = post_seal(&app, "application/pdf", "just some text").await;

    assert_problem(response, 400, "not-a-pdf").await;
}

#[tokio::test]
async fn a_raw_pdf_is_answered_sealed_with_its_facts_in_headers() {
    let app = fixed_app();
    let original = minimal_pdf();

    let url = app.url("/api/seal?code=function-key&reason=approved&fieldName=Approval");
    let request = app.client.post(url).header(CONTENT_TYPE, "application/pdf");
    let response = request.body(original.clone()).send().await.unwrap();

    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()[CONTENT_TYPE], "application/pdf");
    assert_eq!(response.headers()["x-seal-field-name"], "Approval");
    let sha256 = response.headers()["x-seal-document-sha256"]
        .to_str()
        .unwrap()
        .to_owned();
    let sealed = response.bytes().await.unwrap();
    assert!(sealed.len() > original.len());
    assert_eq!(&sealed[..original.len()], &original[..]);
    assert_eq!(
        sha256,
        hex::encode(<sha2::Sha256 as sha2::Digest>::digest(&sealed))
    );
}

#[tokio::test]
async fn both_json_forms_are_sealed_and_json_is_answered_when_asked_for() {
    let app = fixed_app();
    let original = minimal_pdf();
    let content = STANDARD.encode(&original);
    let forms = [
        json!({"file": {"$content-type": "application/pdf", "$content": content}}),
        json!({"fileContent": content, "fieldName": "Approval"}),
    ];

    for form in forms {
        let request = app
            .client
            .post(app.url("/api/seal"))
            .header(ACCEPT, "application/json");
        let response = request.json(&form).send().await.unwrap();

        assert_eq!(response.status(), StatusCode::OK, "{form}");
        assert_eq!(response.headers()[CONTENT_TYPE], "application/json");
        let body: Value = response.json().await.unwrap();
        let sealed = STANDARD.decode(body["$content"].as_str().unwrap()).unwrap();
        assert_eq!(&sealed[..original.len()], &original[..]);
        assert_eq!(body["$content-type"], "application/pdf");
        assert!(
            body["fieldName"].is_string() && body["documentSha256"].is_string(),
            "{body}"
        );
    }
}

/// A service whose request bodies may pause for `idle` and take `total` in all.
fn impatient_app(idle: Duration, total: Duration) -> TestApp {
    let limits = SealLimits {
        max_body_bytes: LIMIT,
        body_idle_timeout: idle,
        body_timeout: total,
        ..SealLimits::default()
    };
    spawn_app_with_limits(Arc::new(FixedSigner), limits)
}

fn address_of(app: &TestApp) -> std::net::SocketAddr {
    app.base_url.trim_start_matches("http://").parse().unwrap()
}

fn assert_raw_problem(response: &RawResponse, status: u16, slug: &str) -> Value {
    assert_eq!(response.status, status, "{response:?}");
    assert_eq!(
        response.header("content-type"),
        Some("application/problem+json")
    );
    let body = response.json();
    assert_eq!(body["type"], format!("/problems/{slug}"));
    assert_eq!(body["status"], status);
    body
}

#[tokio::test]
async fn a_body_that_stalls_with_a_content_length_answers_408() {
    let idle = Duration::from_millis(300);
    let app = impatient_app(idle, Duration::from_secs(10));
    let head = "POST /api/seal HTTP/1.1\r\nContent-Type: application/pdf\r\nContent-Length: 1000";

    let started = Instant::now();
    let mut stream = send_partial(address_of(&app), head, b"%PDF-1.7\n").await;
    let response = read_response(&mut stream).await;

    let body = assert_raw_problem(&response, 408, "request-timeout");
    assert!(started.elapsed() >= idle, "{:?}", started.elapsed());
    assert!(body["detail"].as_str().unwrap().contains("300ms"), "{body}");
}

#[tokio::test]
async fn a_chunked_body_that_stalls_answers_408() {
    let app = impatient_app(Duration::from_millis(300), Duration::from_secs(10));
    let head = "POST /api/seal HTTP/1.1\r\nContent-Type: application/pdf\r\n\
                Transfer-Encoding: chunked";

    let mut stream = send_partial(address_of(&app), head, b"9\r\n%PDF-1.7\n\r\n").await;
    let response = read_response(&mut stream).await;

    assert_raw_problem(&response, 408, "request-timeout");
}

#[tokio::test]
async fn a_body_that_trickles_past_the_overall_timeout_answers_408() {
    let total = Duration::from_millis(600);
    let app = impatient_app(Duration::from_millis(300), total);
    let head = "POST /api/seal HTTP/1.1\r\nContent-Type: application/pdf\r\nContent-Length: 10000";
    let stream = send_partial(address_of(&app), head, b"%").await;

    let started = Instant::now();
    let (mut reader, mut writer) = stream.into_split();
    let trickle = tokio::spawn(async move {
        // A byte every 50 ms never trips the idle timeout; writing stops when the server
        // closes the connection.
        while writer.write_all(b"x").await.is_ok() {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    });
    let response = read_response(&mut reader).await;
    trickle.abort();

    let body = assert_raw_problem(&response, 408, "request-timeout");
    assert!(started.elapsed() >= total, "{:?}", started.elapsed());
    assert!(
        body["detail"].as_str().unwrap().contains("not complete"),
        "{body}"
    );
}

/// Seals `minimal_pdf` until the service refuses for being busy, and returns that answer. A
/// seal that got in before the one the test holds open must succeed.
async fn first_refusal(app: &TestApp) -> reqwest::Response {
    for _ in 0..200 {
        let response = post_seal(app, "application/pdf", minimal_pdf()).await;
        if response.status() == StatusCode::SERVICE_UNAVAILABLE {
            return response;
        }
        assert_eq!(response.status(), StatusCode::OK);
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("every seal was accepted while another was in progress")
}

#[tokio::test]
async fn a_seal_beyond_the_concurrent_limit_answers_503_with_retry_after() {
    let limits = SealLimits {
        max_body_bytes: LIMIT,
        body_idle_timeout: Duration::from_secs(2),
        body_timeout: Duration::from_secs(10),
        max_concurrent_seals: 1,
    };
    let app = spawn_app_with_limits(Arc::new(FixedSigner), limits);
    let head = "POST /api/seal HTTP/1.1\r\nContent-Type: application/pdf\r\nContent-Length: 1000";

    let mut stalled = send_partial(address_of(&app), head, b"%PDF-1.7\n").await;
    let refused = first_refusal(&app).await;

    assert_eq!(refused.headers()[RETRY_AFTER], "5");
    assert_problem(refused, 503, "busy").await;
    assert_eq!(read_response(&mut stalled).await.status, 408);
    let after = post_seal(&app, "application/pdf", minimal_pdf()).await;
    assert_eq!(
        after.status(),
        StatusCode::OK,
        "the permit was not given back"
    );
}
