//! What the service writes to its log for a request, read back as JSON lines.

#[path = "common/app.rs"]
mod app;

use std::io::Write;
use std::sync::{Arc, Mutex, OnceLock};

use reqwest::header::CONTENT_TYPE;
use serde_json::Value;

use app::{FixedSigner, spawn_app};

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

    let summaries = summaries_for(&buffer, "/api/seal");
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
