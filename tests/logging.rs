//! What the service writes to its log for a request, read back as JSON lines.

#[path = "common/app.rs"]
mod app;
mod common;
#[path = "common/raw_http.rs"]
mod raw_http;

use std::io::Write;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use pdf_seal::config::SealLimits;
use reqwest::header::CONTENT_TYPE;
use serde_json::Value;

use app::{FixedSigner, spawn_app, spawn_app_with_limits};
use common::minimal_pdf;
use raw_http::{read_response, send_partial};

static LOG: OnceLock<Arc<Mutex<Vec<u8>>>> = OnceLock::new();

/// Appends log lines to the shared buffer.
struct Capture(Arc<Mutex<Vec<u8>>>);

impl Write for Capture {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Sends every event of this test binary, JSON-formatted as in production, to a buffer.
fn capture_logs() -> Arc<Mutex<Vec<u8>>> {
    let buffer = LOG.get_or_init(|| {
        let buffer = Arc::new(Mutex::new(Vec::new()));
        let writer = Arc::clone(&buffer);
        tracing_subscriber::fmt()
            .json()
            .flatten_event(true)
            .with_writer(move || Capture(Arc::clone(&writer)))
            .init();
        buffer
    });
    Arc::clone(buffer)
}

fn summaries_for(buffer: &Mutex<Vec<u8>>, path: &str) -> Vec<Value> {
    let text = String::from_utf8(buffer.lock().unwrap().clone()).unwrap();
    text.lines()
        .filter_map(|line| serde_json::from_str::<Value>(line).ok())
        .filter(|event| event["http.path"] == path && event.get("http.status").is_some())
        .collect()
}

#[tokio::test]
async fn a_failed_request_is_summarised_once_without_its_query_or_body() {
    let buffer = capture_logs();
    let app = spawn_app(Arc::new(FixedSigner), 1024);

    let url = app.url("/api/seal?code=function-key-value&reason=private-reason");
    let request = app.client.post(url).header(CONTENT_TYPE, "application/pdf");
    let response = request.body("body-bytes-value").send().await.unwrap();
    let status = response.status().as_u16();

    // Other tests of this binary seal too; only this one sends a body of 16 bytes.
    let summaries: Vec<Value> = summaries_for(&buffer, "/api/seal")
        .into_iter()
        .filter(|summary| summary["pdf.size_bytes"] == 16)
        .collect();
    let log = String::from_utf8(buffer.lock().unwrap().clone()).unwrap();
    assert_eq!(summaries.len(), 1, "{log}");
    let summary = &summaries[0];
    assert_eq!(summary["http.method"], "POST");
    assert_eq!(summary["http.status"], status);
    assert_eq!(summary["pdf.size_bytes"], 16);
    assert_eq!(summary["level"], "INFO");
    assert!(summary["duration_ms"].is_number(), "{summary}");
    assert!(
        summary["problem.type"]
            .as_str()
            .unwrap()
            .starts_with("/problems/")
    );
    for secret in ["function-key-value", "private-reason", "body-bytes-value"] {
        assert!(!log.contains(secret), "{secret} reached the log: {log}");
    }
}

#[tokio::test]
async fn an_unknown_path_is_summarised_with_its_problem_type() {
    let buffer = capture_logs();
    let app = spawn_app(Arc::new(FixedSigner), 1024);

    app.client.get(app.url("/nowhere")).send().await.unwrap();

    let summaries = summaries_for(&buffer, "/nowhere");
    assert_eq!(summaries.len(), 1);
    assert_eq!(summaries[0]["problem.type"], "/problems/not-found");
    assert_eq!(summaries[0]["http.status"], 404);
}

#[tokio::test]
async fn a_busy_refusal_is_summarised_at_warn_and_a_stalled_body_at_info() {
    let buffer = capture_logs();
    let limits = SealLimits {
        body_idle_timeout: Duration::from_millis(500),
        max_concurrent_seals: 1,
        ..SealLimits::default()
    };
    let app = spawn_app_with_limits(Arc::new(FixedSigner), limits);
    let address = app.base_url.trim_start_matches("http://").parse().unwrap();
    let head = "POST /api/seal HTTP/1.1\r\nContent-Type: application/pdf\r\nContent-Length: 1000";
    let mut stalled = send_partial(address, head, b"%PDF-1.7\n").await;

    let mut status = 0;
    for _ in 0..40 {
        let request = app.client.post(app.url("/api/seal"));
        let request = request.header(CONTENT_TYPE, "application/pdf");
        status = request
            .body(minimal_pdf())
            .send()
            .await
            .unwrap()
            .status()
            .as_u16();
        if status == 503 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let timed_out = read_response(&mut stalled).await;

    assert_eq!(status, 503);
    assert_eq!(timed_out.status, 408);
    assert_eq!(
        timed_out.header("content-type"),
        Some("application/problem+json")
    );
    assert_eq!(timed_out.json()["type"], "/problems/request-timeout");
    let summaries = summaries_for(&buffer, "/api/seal");
    let level_of = |problem: &str| {
        let matching: Vec<&Value> = summaries
            .iter()
            .filter(|summary| summary["problem.type"] == problem)
            .collect();
        assert_eq!(matching.len(), 1, "{problem}: {summaries:?}");
        matching[0]["level"].clone()
    };
    assert_eq!(level_of("/problems/busy"), "WARN");
    assert_eq!(level_of("/problems/request-timeout"), "INFO");
}
