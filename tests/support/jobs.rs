//! The blob-mode scenarios, written once and run on each storage backend: the local default
//! and Azurite. A backend is a [`Blobs`]: how the test puts and gets blobs, and the settings
//! that point the server at them.

use std::ffi::OsString;
use std::fs::File;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use reqwest::Method;
use serde_json::{Value, json};
use sha2::Digest as _;

use super::fixture::{Fixture, shared_dir};
use super::server::{Reply, Server};
use super::validators::Validators;

/// The base URL the servers are told callers use; `Location` headers must be built on it.
pub const PUBLIC_BASE_URL: &str = "https://seal.example.test/fn";

/// How long a test waits for a job to end.
const JOB_LIMIT: Duration = Duration::from_secs(600);

/// A storage backend as the tests see it.
pub trait Blobs {
    /// The settings that point `pdf-seal serve` at this backend.
    fn server_env(&self) -> Vec<(String, OsString)>;
    fn create_container(&self, name: &str);
    /// Uploads `file` without holding it in memory.
    fn put_file(&self, container: &str, blob: &str, file: &Path);
    /// Downloads the blob to `file`; false when there is no such blob.
    fn get_file(&self, container: &str, blob: &str, file: &Path) -> bool;
}

/// A server on `blobs`, with short waits so that the tests poll quickly.
pub fn serve(fixture: &Fixture, blobs: &dyn Blobs, name: &str) -> Server {
    let mut env: Vec<(String, OsString)> = blobs.server_env();
    env.push(("PDF_SEAL_PUBLIC_BASE_URL".into(), PUBLIC_BASE_URL.into()));
    env.push(("PDF_SEAL_JOB_RETRY_AFTER_SECS".into(), "1".into()));
    env.push(("PDF_SEAL_JOB_VISIBILITY_SECS".into(), "6".into()));
    let env: Vec<(&str, &std::ffi::OsStr)> = env
        .iter()
        .map(|(name, value)| (name.as_str(), value.as_os_str()))
        .collect();
    fixture.serve_with(name, &env)
}

/// `POST /api/seal-jobs` with `body`, and an `Idempotency-Key` when given.
pub fn create_job(server: &Server, body: &Value, key: Option<&str>) -> Reply {
    let mut headers = vec![("Content-Type", "application/json")];
    if let Some(key) = key {
        headers.push(("Idempotency-Key", key));
    }
    server
        .send(
            Method::POST,
            "/api/seal-jobs",
            &headers,
            serde_json::to_vec(body).unwrap(),
        )
        .unwrap()
}

/// The status URL of a 202, checked: absolute, on [`PUBLIC_BASE_URL`], with a `Retry-After`
/// in whole seconds. Returned as a path on the test's server.
pub fn status_path(reply: &Reply) -> String {
    assert_eq!(
        reply.status,
        202,
        "expected 202, got {}: {}",
        reply.status,
        String::from_utf8_lossy(&reply.body)
    );
    let location = reply.header("location").expect("a 202 without Location");
    let path = location
        .strip_prefix(PUBLIC_BASE_URL)
        .unwrap_or_else(|| panic!("Location {location} is not on {PUBLIC_BASE_URL}"));
    assert!(path.starts_with("/api/seal-jobs/"), "{location}");
    let retry_after = reply
        .header("retry-after")
        .expect("a 202 without Retry-After");
    assert!(
        retry_after.parse::<u64>().is_ok(),
        "Retry-After: {retry_after}"
    );
    path.to_owned()
}

/// Asks the status URL until it answers something other than 202, as Power Automate does;
/// every 202 on the way must carry the same headers. `seen` receives each pending status.
pub fn follow(server: &Server, path: &str, mut seen: impl FnMut(&str)) -> Reply {
    let started = Instant::now();
    loop {
        let reply = server.send(Method::GET, path, &[], Vec::new()).unwrap();
        if reply.status != 202 {
            return reply;
        }
        assert_eq!(status_path(&reply), path, "a 202 moved the status URL");
        seen(reply.json()["status"].as_str().unwrap_or(""));
        assert!(
            started.elapsed() < JOB_LIMIT,
            "the job at {path} is still pending after {} s; server log:\n{}",
            JOB_LIMIT.as_secs(),
            server.log_tail()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// A job request body.
pub fn job(source: (&str, &str), destination: Option<(&str, &str)>, extra: Value) -> Value {
    let mut body = json!({"source": {"container": source.0, "blob": source.1}});
    if let Some((container, blob)) = destination {
        body["destination"] = json!({"container": container, "blob": blob});
    }
    if let Value::Object(extra) = extra {
        body.as_object_mut().unwrap().extend(extra);
    }
    body
}

/// A corpus file.
pub fn corpus(name: &str) -> PathBuf {
    shared_dir().join("corpus").join(name)
}

/// SHA-256 of a file, lowercase hex, read in chunks.
pub fn sha256_file(path: &Path) -> String {
    let mut file = File::open(path).unwrap();
    let mut hash = sha2::Sha256::new();
    let mut buf = vec![0; 1 << 20];
    loop {
        let n = file.read(&mut buf).unwrap();
        if n == 0 {
            break;
        }
        hash.update(&buf[..n]);
    }
    hex::encode(hash.finalize())
}

/// True when `output` begins with every byte of `input`, compared in chunks.
pub fn starts_with_file(output: &Path, input: &Path) -> bool {
    let (mut a, mut b) = (File::open(input).unwrap(), File::open(output).unwrap());
    let (mut x, mut y) = (vec![0; 1 << 20], vec![0; 1 << 20]);
    loop {
        let n = a.read(&mut x).unwrap();
        if n == 0 {
            return true;
        }
        if b.read_exact(&mut y[..n]).is_err() || x[..n] != y[..n] {
            return false;
        }
    }
}

/// Checks that `reply` is the problem `slug` with `status`, and that its detail contains
/// `word`; returns the problem.
pub fn check_problem(reply: &Reply, status: u16, slug: &str, word: &str) -> Value {
    let text = String::from_utf8_lossy(&reply.body);
    assert_eq!(reply.status, status, "expected {status} {slug}: {text}");
    assert_eq!(
        reply.header("content-type").as_deref(),
        Some("application/problem+json"),
        "{text}"
    );
    let problem = reply.json();
    assert_eq!(problem["type"], format!("/problems/{slug}"), "{problem}");
    let detail = problem["detail"].as_str().unwrap_or("");
    assert!(
        detail.contains(word),
        "the detail {detail:?} does not name {word:?}"
    );
    problem
}

/// Checks a succeeded job's answer against its output and judges the output.
pub fn check_success(
    reply: &Reply,
    output: &Path,
    input: &Path,
    fixture: &Fixture,
    validators: &Validators,
) -> Value {
    assert_eq!(
        reply.status,
        200,
        "the job did not succeed: {}",
        String::from_utf8_lossy(&reply.body)
    );
    let body = reply.json();
    assert_eq!(body["status"], "succeeded", "{body}");
    let size = std::fs::metadata(output).unwrap().len();
    assert_eq!(body["sizeBytes"], size, "{body}");
    assert_eq!(body["sha256"], sha256_file(output), "{body}");
    assert!(
        body["fieldName"]
            .as_str()
            .is_some_and(|name| !name.is_empty()),
        "{body}"
    );
    assert!(
        starts_with_file(output, input),
        "the output does not start with the source"
    );
    let verdict = validators.validate(output, input, &[&fixture.root_ca]);
    assert!(
        verdict.passed,
        "the output does not validate:\n{}",
        verdict.report
    );
    assert_eq!(
        verdict.signatures.len(),
        validators.signatures_of(input).len() + 1,
        "not exactly one new signature:\n{}",
        verdict.report
    );
    body
}

/// The peak resident memory of process `pid` so far, in KiB (VmHWM).
pub fn peak_rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmHWM:"))
        .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmHWM in /proc/PID/status")
}

/// Writes a PDF of about `mib` MiB with `../shared/tools/mkpdf.py` (one page per MiB, each
/// with an incompressible image), streamed to disk.
pub fn make_large_pdf(path: &Path, mib: u32) {
    let tool = shared_dir().join("tools/mkpdf.py");
    let status = Command::new("python3")
        .arg(&tool)
        .arg(path)
        .arg(mib.to_string())
        .arg((1u32 << 20).to_string())
        .status()
        .unwrap();
    assert!(status.success(), "{} failed: {status}", tool.display());
}
