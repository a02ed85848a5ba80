//! `PDF_SEAL_AUTH=function-key`: a key in `x-functions-key` or `?code=` admits, anything else
//! is a 401 with a challenge; the log tells why without holding a key.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use reqwest::Method;
use serde_json::json;

use super::support::fixture::Fixture;
use super::support::server::Server;
use super::{
    Headers, KEY, KEY_CHALLENGE, NEW_KEY, WRONG_KEY, check_log_hides, check_sealed,
    check_unauthorised, events, post_pdf, send, serve, serve_with_key, summary,
};

/// How long a removed key may still be admitted: the keys file is looked at every 5 seconds
/// at most, on a request.
const ROTATION_LIMIT: Duration = Duration::from_secs(20);

#[test]
fn a_key_in_the_header_or_the_query_admits_a_seal_and_a_job() {
    let fixture = Fixture::new();
    let server = serve_with_key(&fixture, "keys", &[]);

    let by_header = post_pdf(&server, "/api/seal", &[("x-functions-key", KEY)]);
    let by_query = post_pdf(&server, &format!("/api/seal?code={KEY}"), &[]);
    let job = server
        .send(
            Method::POST,
            "/api/seal-jobs",
            &[
                ("x-functions-key", KEY),
                ("content-type", "application/json"),
            ],
            json!({"source": {"container": "scans", "blob": "a.pdf"}})
                .to_string()
                .into_bytes(),
        )
        .unwrap();

    check_sealed(&by_header, "key in x-functions-key");
    check_sealed(&by_query, "key in ?code=");
    let text = String::from_utf8_lossy(&job.body);
    assert_eq!(job.status, 202, "POST /api/seal-jobs with a key: {text}");

    let sealed = events(&server, "request")
        .into_iter()
        .filter(|event| event["http.path"] == "/api/seal" && event["http.status"] == 200)
        .collect::<Vec<_>>();
    assert_eq!(sealed.len(), 2, "{}", server.log_text());
    for summary in &sealed {
        let key_id = summary["auth.key_id"].as_str().unwrap_or_default();
        assert_eq!(key_id.len(), 8, "a key id in {summary}");
        assert!(
            !KEY.contains(key_id),
            "the key id is part of the key: {key_id}"
        );
        assert_eq!(summary["auth.method"], "function-key", "{summary}");
        assert_eq!(summary["client.address"], "127.0.0.1", "{summary}");
    }
    assert_eq!(sealed[0]["auth.key_id"], sealed[1]["auth.key_id"]);
    check_log_hides(&server, &[KEY, "code="]);
}

#[test]
fn a_missing_wrong_or_doubled_key_is_refused_with_a_challenge() {
    let fixture = Fixture::new();
    let server = serve_with_key(&fixture, "keys", &[]);
    let other_case: String = KEY
        .chars()
        .map(|c| match c {
            c if c.is_ascii_lowercase() => c.to_ascii_uppercase(),
            c => c.to_ascii_lowercase(),
        })
        .collect();
    let query = |key: &str| format!("/api/seal?code={key}");
    let cases: [(&str, String, Headers, &str, &str); 8] = [
        (
            "no key",
            "/api/seal".into(),
            vec![],
            "authentication-required",
            "missing-credentials",
        ),
        (
            "a wrong key",
            "/api/seal".into(),
            vec![("x-functions-key", WRONG_KEY)],
            "invalid-function-key",
            "wrong-function-key",
        ),
        (
            "a wrong key in the query",
            query(WRONG_KEY),
            vec![],
            "invalid-function-key",
            "wrong-function-key",
        ),
        (
            "the key in another case",
            "/api/seal".into(),
            vec![("x-functions-key", &other_case)],
            "invalid-function-key",
            "wrong-function-key",
        ),
        (
            "an empty key",
            query(""),
            vec![],
            "invalid-function-key",
            "wrong-function-key",
        ),
        (
            "the key in the header and the query",
            query(KEY),
            vec![("x-functions-key", KEY)],
            "invalid-function-key",
            "several-function-keys",
        ),
        (
            "two key headers",
            "/api/seal".into(),
            vec![("x-functions-key", KEY), ("x-functions-key", KEY)],
            "invalid-function-key",
            "several-function-keys",
        ),
        (
            "two codes",
            format!("/api/seal?code={KEY}&code={WRONG_KEY}"),
            vec![],
            "invalid-function-key",
            "several-function-keys",
        ),
    ];

    for (what, target, headers, slug, _) in &cases {
        let reply = post_pdf(&server, target, headers);
        check_unauthorised(&reply, slug, KEY_CHALLENGE, what);
    }

    let denials = events(&server, "auth.denied");
    assert_eq!(denials.len(), cases.len(), "{}", server.log_text());
    for (denial, (what, _, _, slug, reason)) in denials.iter().zip(&cases) {
        assert_eq!(denial["level"], "INFO", "{what}: {denial}");
        assert_eq!(denial["auth.reason"], *reason, "{what}: {denial}");
        assert_eq!(denial["problem.type"], format!("/problems/{slug}"));
        assert_eq!(denial["client.address"], "127.0.0.1", "{what}: {denial}");
    }
    check_log_hides(&server, &[KEY, WRONG_KEY, &other_case, "code="]);
}

#[test]
fn health_needs_no_key_and_unknown_paths_need_one() {
    let fixture = Fixture::new();
    let server = serve_with_key(&fixture, "keys", &[]);

    let health = send(&server, Method::GET, "/api/health", &[]);
    let head = send(&server, Method::HEAD, "/api/health", &[]);
    let unknown = send(&server, Method::GET, "/nowhere", &[]);
    let unknown_with_key = send(
        &server,
        Method::GET,
        "/nowhere",
        &[("x-functions-key", KEY)],
    );

    assert_eq!(health.status, 200);
    assert_eq!(head.status, 200);
    check_unauthorised(
        &unknown,
        "authentication-required",
        KEY_CHALLENGE,
        "/nowhere",
    );
    assert_eq!(unknown_with_key.status, 404, "/nowhere with the key");
    let health = summary(&server, "GET", "/api/health", 200);
    assert!(health.get("auth.method").is_none(), "{health}");
}

#[test]
fn the_connection_test_and_the_openapi_document_need_the_key() {
    let fixture = Fixture::new();
    let server = serve_with_key(&fixture, "keys", &[]);

    for path in ["/api/connection", "/api/openapi.json"] {
        let without = send(&server, Method::GET, path, &[]);
        let with = send(&server, Method::GET, path, &[("x-functions-key", KEY)]);
        let head = send(&server, Method::HEAD, path, &[("x-functions-key", KEY)]);

        check_unauthorised(&without, "authentication-required", KEY_CHALLENGE, path);
        assert_eq!(with.status, 200, "{path} with the key");
        assert_eq!(head.status, 200, "HEAD {path} with the key");
        assert!(head.body.is_empty(), "HEAD {path}");
    }
    let check = send(
        &server,
        Method::GET,
        "/api/connection",
        &[("x-functions-key", KEY)],
    );
    let check: serde_json::Value = serde_json::from_slice(&check.body).unwrap();
    assert_eq!(check["status"], "ok");
    assert_eq!(check["blobMode"], true);
    assert_eq!(check["version"], env!("CARGO_PKG_VERSION"));
}

#[test]
fn a_key_removed_from_the_keys_file_is_refused_without_a_restart() {
    let fixture = Fixture::new();
    let (mut server, keys_file) =
        serve_with_keys_file(&fixture, "rotation", &format!("{KEY}\n{NEW_KEY}\n"));
    let status_with = |key: &str| status_with_key(&server, key);
    assert_eq!(status_with(KEY), 404, "the old key before the rotation");
    assert_eq!(status_with(NEW_KEY), 404, "the new key before the rotation");

    // As a secret store replaces the file: a new file renamed over the old one.
    let replacement = fixture.path().join("function-keys.new");
    std::fs::write(&replacement, format!("{NEW_KEY}\n")).unwrap();
    std::fs::rename(&replacement, &keys_file).unwrap();
    let rotated = Instant::now();
    while status_with(KEY) != 401 {
        assert!(
            rotated.elapsed() < ROTATION_LIMIT,
            "the removed key is still admitted after {} s; the log:\n{}",
            ROTATION_LIMIT.as_secs(),
            server.log_tail()
        );
        std::thread::sleep(Duration::from_millis(200));
    }

    assert_eq!(status_with(NEW_KEY), 404, "the new key after the rotation");
    assert!(server.is_running());
    let reads = events(&server, "function keys read");
    let counts: Vec<u64> = reads
        .iter()
        .map(|event| event["auth.key_count"].as_u64().unwrap())
        .collect();
    assert_eq!(counts.last(), Some(&1), "{reads:?}");
    check_log_hides(&server, &[KEY, NEW_KEY]);
}

/// Found by the outside attack: a comment or a bad line in a rotated file kept the whole old
/// list, and a FIFO at the file's path hung every request, health included.
#[test]
fn a_rotated_file_with_a_bad_line_still_revokes_and_a_fifo_blocks_nothing() {
    let fixture = Fixture::new();
    let (server, keys_file) = serve_with_keys_file(&fixture, "bad-line", &format!("{KEY}\n"));
    let status_with = |key: &str| status_with_key(&server, key);
    assert_eq!(status_with(KEY), 404);

    std::fs::write(
        &keys_file,
        format!("# rotated\r\n{NEW_KEY}\r\ntoo-short\r\n"),
    )
    .unwrap();
    let rotated = Instant::now();
    while status_with(KEY) != 401 {
        assert!(
            rotated.elapsed() < ROTATION_LIMIT,
            "the removed key is still admitted; the log:\n{}",
            server.log_tail()
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    assert_eq!(status_with(NEW_KEY), 404);
    let skipped = events(&server, "function keys file line skipped");
    assert_eq!(skipped.len(), 1, "{skipped:?}");
    assert_eq!(skipped[0]["auth.keys_file_line"], 3);

    std::fs::remove_file(&keys_file).unwrap();
    let made = std::process::Command::new("mkfifo")
        .arg(&keys_file)
        .status()
        .unwrap();
    assert!(made.success());
    // Two reloads' time: a reader that opened the FIFO would block from the first.
    std::thread::sleep(Duration::from_secs(11));
    let started = Instant::now();
    assert_eq!(send(&server, Method::GET, "/api/health", &[]).status, 200);
    assert_eq!(status_with(NEW_KEY), 404, "the keys read last stay in use");
    assert!(started.elapsed() < Duration::from_secs(5));
    assert!(
        !events(
            &server,
            "function keys file unreadable; the keys read last stay in use"
        )
        .is_empty()
    );
    check_log_hides(&server, &[KEY, NEW_KEY]);
}

/// A server whose function keys come from a file first holding `keys`, and that file.
fn serve_with_keys_file(fixture: &Fixture, name: &str, keys: &str) -> (Server, PathBuf) {
    let keys_file = fixture.path().join("function-keys");
    std::fs::write(&keys_file, keys).unwrap();
    let server = serve(
        fixture,
        name,
        &[
            ("PDF_SEAL_AUTH", "function-key"),
            ("PDF_SEAL_FUNCTION_KEYS_FILE", keys_file.to_str().unwrap()),
        ],
    );
    (server, keys_file)
}

/// The status of a request for an unknown path with `key`: 404 when the key admits it, 401
/// when not.
fn status_with_key(server: &Server, key: &str) -> u16 {
    send(server, Method::GET, "/nowhere", &[("x-functions-key", key)]).status
}
