//! PAdES B-T with the real `pdf-seal` binary and a real time-stamp authority: `certomancer
//! animate` on loopback, with the test PKI of `support::certomancer`. pyHanko judges the seals
//! (B-T, the time-stamp intact, valid and trusted), validate-pdf passes them; the failover to
//! the next authority, the failure when none answers (CLI and service), and what the authority
//! receives (a digest, no document bytes) are checked on the wire.

mod common;
mod support;

use std::ffi::OsStr;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::Path;
use std::process::Command;
use std::thread;
use std::time::{Duration, Instant};

use support::certomancer::{Service, TestPki, free_port};
use support::egress::{RecordingRelay, assert_only_digests};
use support::fixture::Fixture;
use support::process;
use support::validators::Validators;

/// What pyHanko says of the newest signature's time-stamp, as JSON: whether the signature and
/// its time-stamp token are intact, valid and trusted (with both roots as trust anchors, no
/// fetching), the time-stamp's time, and the AdES level it reaches.
const TIMESTAMP_FACTS: &str = r#"
import json, sys
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign.validation import validate_pdf_signature
from pyhanko_certvalidator import ValidationContext
from pyhanko.keys import load_cert_from_pemder
path, roots = sys.argv[1], sys.argv[2:]
context = ValidationContext(trust_roots=[load_cert_from_pemder(r) for r in roots],
                            allow_fetching=False, revocation_mode="soft-fail")
with open(path, "rb") as f:
    sig = max(PdfFileReader(f, strict=False).embedded_signatures, key=lambda s: s.signed_revision)
    status = validate_pdf_signature(sig, signer_validation_context=context,
                                    ts_validation_context=context)
    ts = status.timestamp_validity
    print(json.dumps({
        "intact": status.intact, "valid": status.valid, "trusted": status.trusted,
        "signer": status.signing_cert.subject.human_friendly,
        "timestamp": None if ts is None else {
            "intact": ts.intact, "valid": ts.valid, "trusted": ts.trusted,
            "time": ts.timestamp.isoformat(),
            "tsa": ts.signing_cert.subject.human_friendly},
    }))
"#;

/// The input every test seals.
fn input(fixture: &Fixture) -> std::path::PathBuf {
    let path = fixture.subdir("in").join("input.pdf");
    std::fs::write(&path, common::minimal_pdf()).unwrap();
    path
}

/// Checks that `sealed` is a PAdES B-T seal whose time-stamp pyHanko accepts, issued by the
/// test TSA within a few minutes of now, and that validate-pdf passes it; returns what pyHanko
/// said.
fn assert_b_t(
    fixture: &Fixture,
    pki: &TestPki,
    original: &Path,
    sealed: &Path,
) -> serde_json::Value {
    let validators = Validators::find();
    let facts = validators.newest_signature_facts(sealed);
    assert_eq!(facts["level"], "B-T", "{facts}");

    let mut command = validators.python_command(&["-c", TIMESTAMP_FACTS]);
    command.arg(sealed).arg(&fixture.root_ca).arg(&pki.root_ca);
    let ran = process::run(&mut command, Duration::from_secs(120));
    let judged: serde_json::Value = serde_json::from_str(ran.stdout_text().trim())
        .unwrap_or_else(|_| panic!("pyHanko: {}\n{}", ran.ending(), ran.stderr_text()));
    for key in ["intact", "valid", "trusted"] {
        assert_eq!(judged[key], true, "signature {key}: {judged}");
        assert_eq!(judged["timestamp"][key], true, "time-stamp {key}: {judged}");
    }
    assert!(
        judged["timestamp"]["tsa"]
            .as_str()
            .unwrap()
            .contains("pdf-seal test TSA"),
        "{judged}"
    );
    let time = time::OffsetDateTime::parse(
        judged["timestamp"]["time"].as_str().unwrap(),
        &time::format_description::well_known::Iso8601::DEFAULT,
    )
    .unwrap();
    let skew = (time::OffsetDateTime::now_utc() - time).abs();
    assert!(skew < time::Duration::minutes(5), "time-stamp at {time}");

    let verdict = validators.validate(sealed, original, &[&fixture.root_ca, &pki.root_ca]);
    assert!(verdict.passed, "validate-pdf:\n{}", verdict.report);

    // pyHanko's AdES validation (ETSI EN 319 102-1) with both roots trusted.
    let mut command = Command::new(Path::new(env!("CARGO_MANIFEST_DIR")).join(".venv/bin/pyhanko"));
    command
        .args([
            "sign",
            "adesverify",
            "--no-revocation-check",
            "--trust-replace",
        ])
        .arg("--trust")
        .arg(&fixture.root_ca)
        .arg("--trust")
        .arg(&pki.root_ca)
        .arg(sealed);
    let ran = process::run(&mut command, Duration::from_secs(120));
    let summary = ran.stdout_text();
    assert_eq!(
        ran.code(),
        Some(0),
        "adesverify: {}\n{summary}\n{}",
        ran.ending(),
        ran.stderr_text()
    );
    assert!(
        summary.contains(":INTACT:TRUSTED,") && summary.contains("TIMESTAMP_TOKEN<INTACT:TRUSTED>"),
        "adesverify: {summary}"
    );
    judged
}

/// The size of a sealed file, for the figures.
/// `pdf-seal seal ORIGINAL -o SEALED` with `env` added, to its deadline.
fn seal_with(
    fixture: &Fixture,
    env: &[(&str, &dyn AsRef<OsStr>)],
    original: &Path,
    sealed: &Path,
) -> process::Finished {
    let mut command = fixture.command();
    for (name, value) in env {
        command.env(name, value);
    }
    command.arg("seal").arg(original).arg("-o").arg(sealed);
    process::run(&mut command, support::fixture::COMMAND_LIMIT)
}

fn sealed_len(sealed: &Path) -> u64 {
    std::fs::metadata(sealed).unwrap().len()
}

#[test]
fn a_seal_with_a_time_stamp_authority_is_pades_b_t() {
    let pki = TestPki::generate();
    let tsa = pki.animate();
    let fixture = Fixture::new();
    let original = input(&fixture);
    let sealed = fixture.path().join("sealed.pdf");

    let started = Instant::now();
    let ran = seal_with(
        &fixture,
        &[("PDF_SEAL_TSA_URLS", &tsa.tsa_url())],
        &original,
        &sealed,
    );
    let elapsed = started.elapsed();

    assert_eq!(
        ran.code(),
        Some(0),
        "{}: {}",
        ran.ending(),
        ran.stderr_text()
    );
    let log = ran.stderr_text();
    assert!(
        log.contains("time-stamp received") && log.contains(&tsa.tsa_url()),
        "the log names the authority that answered:\n{log}"
    );
    let token_len = received_line(&log)
        .split("token_len")
        .nth(1)
        .map(|rest| {
            rest.chars()
                .skip_while(|c| !c.is_ascii_digit())
                .take_while(char::is_ascii_digit)
                .collect::<String>()
        })
        .unwrap_or_default();
    eprintln!(
        "sealed at B-T in {} ms: {} bytes from {} of input, token of {token_len} bytes",
        elapsed.as_millis(),
        sealed_len(&sealed),
        sealed_len(&original),
    );
    assert_b_t(&fixture, &pki, &original, &sealed);
}

#[test]
fn a_seal_by_the_test_pkis_rsa_signer_is_b_t_too() {
    let pki = TestPki::generate();
    let tsa = pki.animate();
    let fixture = Fixture::new();
    let original = input(&fixture);
    let sealed = fixture.path().join("sealed.pdf");

    let ran = seal_with(
        &fixture,
        &[
            ("PDF_SEAL_SIGNING_KEY", &&pki.signer_rsa.key),
            ("PDF_SEAL_SIGNING_CERTS", &&pki.signer_rsa.chain),
            ("PDF_SEAL_TSA_URLS", &tsa.tsa_url()),
        ],
        &original,
        &sealed,
    );

    assert_eq!(
        ran.code(),
        Some(0),
        "{}: {}",
        ran.ending(),
        ran.stderr_text()
    );
    let judged = assert_b_t(&fixture, &pki, &original, &sealed);
    assert!(
        judged["signer"]
            .as_str()
            .unwrap()
            .contains("pdf-seal test signer RSA"),
        "{judged}"
    );
}

/// The log line that says which authority answered.
fn received_line(log: &str) -> &str {
    log.lines()
        .find(|line| line.contains("time-stamp received"))
        .unwrap_or_else(|| panic!("no authority answered in the log:\n{log}"))
}

/// How a stand-in authority misbehaves.
#[derive(Clone)]
enum Misbehaviour {
    /// Accepts the connection, reads the request and never answers.
    Hang,
    /// Answers 200 with this content type and body.
    Answer(&'static str, Vec<u8>),
    /// Answers 307 to this URL.
    Redirect(String),
}

/// A stand-in for a failing authority on a loopback port; its threads end with the process.
fn misbehaving_authority(how: Misbehaviour) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let address = listener.local_addr().unwrap();
    thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { break };
            let how = how.clone();
            thread::spawn(move || {
                read_request(&mut stream);
                match how {
                    Misbehaviour::Hang => thread::sleep(Duration::from_secs(60)),
                    Misbehaviour::Answer(content_type, body) => {
                        let head = format!(
                            "HTTP/1.1 200 OK\r\nContent-Type: {content_type}\r\n\
                             Content-Length: {}\r\nConnection: close\r\n\r\n",
                            body.len()
                        );
                        let _ = stream.write_all(head.as_bytes());
                        let _ = stream.write_all(&body);
                    }
                    Misbehaviour::Redirect(to) => {
                        let head = format!(
                            "HTTP/1.1 307 Temporary Redirect\r\nLocation: {to}\r\n\
                             Content-Length: 0\r\nConnection: close\r\n\r\n"
                        );
                        let _ = stream.write_all(head.as_bytes());
                    }
                }
            });
        }
    });
    format!("http://{address}/tsa")
}

/// Reads one HTTP/1.1 request (head and Content-Length body) from `stream`.
fn read_request(stream: &mut TcpStream) -> Vec<u8> {
    let _ = stream.set_read_timeout(Some(Duration::from_secs(10)));
    let mut bytes = Vec::new();
    let mut buffer = [0u8; 4096];
    loop {
        if let Some(end) = bytes.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&bytes[..end]).to_ascii_lowercase();
            let length = head
                .lines()
                .find_map(|line| line.strip_prefix("content-length:"))
                .and_then(|value| value.trim().parse::<usize>().ok())
                .unwrap_or(0);
            if bytes.len() >= end + 4 + length {
                return bytes;
            }
        }
        match stream.read(&mut buffer) {
            Ok(0) | Err(_) => return bytes,
            Ok(n) => bytes.extend_from_slice(&buffer[..n]),
        }
    }
}

/// A real answer of `tsa` to another request (openssl's, for other data): a valid token
/// that answers a different question.
fn foreign_reply(tsa: &Service, scratch: &Path) -> Vec<u8> {
    let data = scratch.join("other.txt");
    let query = scratch.join("other.tsq");
    std::fs::write(&data, b"some other document").unwrap();
    let mut command = Command::new("openssl");
    command
        .args(["ts", "-query", "-sha256", "-cert", "-data"])
        .arg(&data)
        .arg("-out")
        .arg(&query);
    let made = process::run(&mut command, Duration::from_secs(30));
    assert_eq!(
        made.code(),
        Some(0),
        "openssl ts -query: {}",
        made.stderr_text()
    );
    let body = std::fs::read(&query).unwrap();

    let address = SocketAddr::from(([127, 0, 0, 1], tsa.port));
    let mut stream = TcpStream::connect(address).unwrap();
    let path = tsa.tsa_url().replacen(&tsa.base_url, "", 1);
    let head = format!(
        "POST {path} HTTP/1.0\r\nHost: 127.0.0.1\r\nContent-Type: application/timestamp-query\r\n\
         Content-Length: {}\r\n\r\n",
        body.len()
    );
    stream.write_all(head.as_bytes()).unwrap();
    stream.write_all(&body).unwrap();
    let mut answer = Vec::new();
    stream.read_to_end(&mut answer).unwrap();
    let end = answer.windows(4).position(|w| w == b"\r\n\r\n").unwrap();
    assert!(
        answer.starts_with(b"HTTP/1.0 200"),
        "{:?}",
        String::from_utf8_lossy(&answer[..end])
    );
    answer[end + 4..].to_vec()
}

#[test]
fn the_next_authority_answers_when_the_first_ones_fail() {
    let pki = TestPki::generate();
    let tsa = pki.animate();
    let fixture = Fixture::new();
    let original = input(&fixture);
    let sealed = fixture.path().join("sealed.pdf");
    let closed = format!("http://127.0.0.1:{}/tsa", free_port());
    let hanging = misbehaving_authority(Misbehaviour::Hang);
    let html = misbehaving_authority(Misbehaviour::Answer(
        "text/html",
        b"<html>maintenance</html>".to_vec(),
    ));
    let replayed = misbehaving_authority(Misbehaviour::Answer(
        "application/timestamp-reply",
        foreign_reply(&tsa, fixture.path()),
    ));
    // Redirects are not followed, even to a good authority.
    let redirecting = misbehaving_authority(Misbehaviour::Redirect(tsa.tsa_url()));
    let oversized = misbehaving_authority(Misbehaviour::Answer(
        "application/timestamp-reply",
        vec![0x30; 70 * 1024],
    ));
    let failing = [
        &closed,
        &hanging,
        &html,
        &replayed,
        &redirecting,
        &oversized,
    ];
    let urls: Vec<String> = failing
        .iter()
        .map(|u| u.to_string())
        .chain([tsa.tsa_url()])
        .collect();

    let started = Instant::now();
    let ran = seal_with(
        &fixture,
        &[
            ("PDF_SEAL_TSA_URLS", &urls.join(",")),
            ("PDF_SEAL_TSA_TIMEOUT_SECS", &"2"),
        ],
        &original,
        &sealed,
    );
    let elapsed = started.elapsed();

    assert_eq!(
        ran.code(),
        Some(0),
        "{}: {}",
        ran.ending(),
        ran.stderr_text()
    );
    let log = ran.stderr_text();
    let received = received_line(&log);
    assert!(received.contains(&tsa.tsa_url()), "{received}");
    for failed in failing {
        assert!(
            log.lines()
                .any(|line| line.contains("time-stamp authority failed")
                    && line.contains(failed.as_str())),
            "the log names the failed authority {failed}:\n{log}"
        );
    }
    assert!(log.contains("did not answer within 2 s"), "{log}");
    assert!(log.contains("text/html"), "{log}");
    assert!(log.contains("answered HTTP 307"), "{log}");
    assert!(log.contains("answered more than 65536 bytes"), "{log}");
    assert!(log.contains("nonce") || log.contains("imprint"), "{log}");
    // The hanging authority costs its timeout, not more.
    assert!(elapsed >= Duration::from_secs(2), "{elapsed:?}");
    eprintln!(
        "sealed after six failing authorities in {} ms",
        elapsed.as_millis()
    );
    assert_b_t(&fixture, &pki, &original, &sealed);
}

#[test]
fn with_every_authority_down_the_cli_fails_naming_each() {
    let fixture = Fixture::new();
    let original = input(&fixture);
    let sealed = fixture.path().join("sealed.pdf");
    let first = format!("http://127.0.0.1:{}/tsa", free_port());
    let second = misbehaving_authority(Misbehaviour::Hang);

    let ran = seal_with(
        &fixture,
        &[
            ("PDF_SEAL_TSA_URLS", &format!("{first},{second}")),
            ("PDF_SEAL_TSA_TIMEOUT_SECS", &"1"),
        ],
        &original,
        &sealed,
    );

    assert_eq!(
        ran.code(),
        Some(1),
        "{}: {}",
        ran.ending(),
        ran.stderr_text()
    );
    let stderr = ran.stderr_text();
    let message = stderr
        .lines()
        .find(|line| line.contains("time-stamping failed"))
        .unwrap_or_else(|| panic!("no error names the cause:\n{stderr}"));
    assert!(
        message.contains(&first) && message.contains("could not be reached"),
        "{message}"
    );
    assert!(
        message.contains(&second) && message.contains("did not answer within 1 s"),
        "{message}"
    );
    assert!(!sealed.exists(), "no output is left behind");
}

#[test]
fn with_every_authority_down_the_service_answers_503_timestamp_unavailable() {
    let fixture = Fixture::new();
    let closed = format!("http://127.0.0.1:{}/tsa", free_port());
    let server = fixture.serve_with("tsa-down", &[("PDF_SEAL_TSA_URLS", closed.as_ref())]);

    let reply = server
        .send(
            reqwest::Method::POST,
            "/api/seal",
            &[("Content-Type", "application/pdf")],
            common::minimal_pdf(),
        )
        .unwrap();

    let text = String::from_utf8_lossy(&reply.body).into_owned();
    assert_eq!(reply.status, 503, "{text}");
    assert_eq!(
        reply.header("content-type").as_deref(),
        Some("application/problem+json")
    );
    assert_eq!(reply.header("retry-after").as_deref(), Some("30"));
    let body: serde_json::Value = serde_json::from_slice(&reply.body).unwrap();
    assert_eq!(body["type"], "/problems/timestamp-unavailable");
    assert_eq!(body["title"], "Time-stamp authority unavailable");
    assert!(!text.contains("127.0.0.1"), "{text}");
    let log = server.log_text();
    assert!(
        log.contains(&closed) && log.contains("could not be reached"),
        "the log names the authority:\n{log}"
    );
}

#[test]
fn the_service_seals_at_b_t_and_the_authority_receives_only_a_digest() {
    let pki = TestPki::generate();
    let tsa = pki.animate();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let relay = runtime.block_on(RecordingRelay::start(SocketAddr::from((
        [127, 0, 0, 1],
        tsa.port,
    ))));
    let through_relay =
        tsa.tsa_url()
            .replacen(&tsa.base_url, &format!("http://{}", relay.address), 1);
    let fixture = Fixture::new();
    let server = fixture.serve_with("tsa", &[("PDF_SEAL_TSA_URLS", through_relay.as_ref())]);
    let document = common::minimal_pdf();

    let mut timings = Vec::new();
    let mut last = Vec::new();
    for _ in 0..2 {
        let started = Instant::now();
        let answer = server
            .post_seal(document.clone(), Duration::from_secs(60))
            .unwrap();
        timings.push((started.elapsed().as_millis(), answer.body.len()));
        assert_eq!(
            answer.status,
            200,
            "{}",
            String::from_utf8_lossy(&answer.body)
        );
        last = answer.body;
    }

    // The first seal keeps room for a token of any usual size; the next, sized from the token
    // the first one received, is smaller.
    assert!(timings[1].1 < timings[0].1, "{timings:?}");
    let requests = relay.requests();
    assert_eq!(requests.len(), 2, "one time-stamp request per seal");
    assert_only_digests("the time-stamp authority", &requests, &document);
    for request in &requests {
        let text = String::from_utf8_lossy(request).to_ascii_lowercase();
        assert!(text.starts_with("post "), "{text}");
        assert!(
            text.contains("content-type: application/timestamp-query"),
            "{text}"
        );
    }
    eprintln!(
        "service seals at B-T (ms, bytes): {timings:?}; TSA requests of {:?} bytes",
        requests.iter().map(Vec::len).collect::<Vec<_>>()
    );

    let original = fixture.subdir("svc").join("original.pdf");
    let sealed = fixture.subdir("svc").join("sealed.pdf");
    std::fs::write(&original, &document).unwrap();
    std::fs::write(&sealed, &last).unwrap();
    assert_b_t(&fixture, &pki, &original, &sealed);
    assert!(
        server.log_text().contains(&through_relay),
        "the log names the authority that answered"
    );
}
