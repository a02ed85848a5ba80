//! The Trusted Signatures backend end to end: the real `pdf-seal` binary (`seal` and `serve`)
//! with `PDF_SEAL_SIGNER=trusted-signatures`, against the strict stand-in of
//! `support::trusted_signatures` on loopback, judged by the validators.
//!
//! One test per behaviour of the backend, all on one `Setup`, which is why the file is long.

mod support;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use serde_json::Value;
use tempfile::TempDir;

use support::egress::{RecordingRelay, assert_only_digests};
use support::fixture::{COMMAND_LIMIT, binary, shared_dir};
use support::process::{self, Finished};
use support::server::Server;
use support::trusted_signatures::{TestKey, TrustedSignaturesStandIn};
use support::validators::Validators;

/// Corpus files whose `expect` is `seal`, of each cross-reference kind, and the sample.
const DOCUMENTS: &[&str] = &[
    "corpus/ph__minimal-hybrid-xref.pdf",
    "corpus/qpdf__compress-objstm-xref.pdf",
    "corpus/ph__minimal-one-field-indir-annots.pdf",
];

fn sample() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("samples/delivery-note.pdf")
}

/// A scratch directory, two keys, and the stand-in with `active` of them.
struct Setup {
    dir: TempDir,
    root: PathBuf,
    primary: TestKey,
    secondary: TestKey,
    stand_in: TrustedSignaturesStandIn,
}

impl Setup {
    fn new(active: &[usize], padding: usize) -> Setup {
        let dir = tempfile::Builder::new()
            .prefix("pdf-seal-ts-")
            .tempdir()
            .unwrap();
        let root = dir.path().join("stand-in-root.pem");
        let (primary, secondary) = (TestKey::random(), TestKey::random());
        let keys = [&primary, &secondary];
        let active: Vec<&TestKey> = active.iter().map(|at| keys[*at]).collect();
        let stand_in = TrustedSignaturesStandIn::start(&active, &root, padding);
        Setup {
            dir,
            root,
            primary,
            secondary,
            stand_in,
        }
    }

    /// `pdf-seal` with the stand-in as its signer (through `url` when given), both keys, and
    /// none of the caller's own settings.
    fn command(&self, url: Option<&str>, extra: &[(&str, &str)]) -> Command {
        let mut command = Command::new(binary());
        for (name, _) in std::env::vars_os() {
            if name.to_string_lossy().starts_with("PDF_SEAL_") {
                command.env_remove(name);
            }
        }
        command
            .env("PDF_SEAL_SIGNER", "trusted-signatures")
            .env("PDF_SEAL_TS_URL", url.unwrap_or(&self.stand_in.base_url))
            .env("PDF_SEAL_TS_KEY_ID", &self.primary.id)
            .env("PDF_SEAL_TS_API_KEY", &self.primary.hex)
            .env("PDF_SEAL_TS_KEY_ID_SECONDARY", &self.secondary.id)
            .env("PDF_SEAL_TS_API_KEY_SECONDARY", &self.secondary.hex)
            .env("PDF_SEAL_STATE_DIR", self.dir.path().join("state"))
            .env("PDF_SEAL_DATA_DIR", self.dir.path().join("data"))
            .env("PDF_SEAL_LOG_FORMAT", "json");
        for (name, value) in extra {
            match value.is_empty() {
                true => command.env_remove(name),
                false => command.env(name, value),
            };
        }
        command
    }

    fn seal(&self, input: &Path, output: &Path, extra: &[(&str, &str)]) -> Finished {
        let mut command = self.command(None, extra);
        command.arg("seal").arg(input).arg("-o").arg(output);
        process::run(&mut command, COMMAND_LIMIT)
    }

    fn serve(&self, url: Option<&str>, extra: &[(&str, &str)]) -> Server {
        let mut command = self.command(url, extra);
        command.args(["serve", "--bind", "127.0.0.1:0"]);
        let log = self.dir.path().join(format!("serve-{}.log", rand_suffix()));
        Server::start(command, &log)
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// Asserts that validate-pdf passes `sealed` with the stand-in's root trusted.
    fn assert_valid(&self, validators: &Validators, sealed: &Path, original: &Path) {
        let verdict = validators.validate(sealed, original, &[&self.root]);
        assert!(
            verdict.passed,
            "{} does not validate:\n{}",
            original.display(),
            verdict.report
        );
    }
}

fn rand_suffix() -> u64 {
    getrandom::u64().unwrap()
}

/// Seals `document` over HTTP and returns the answer.
fn post(server: &Server, document: &[u8]) -> support::server::Answer {
    server
        .post_seal(document.to_vec(), Duration::from_secs(90))
        .unwrap()
}

fn problem(body: &[u8]) -> Value {
    serde_json::from_slice(body).unwrap_or_else(|_| {
        panic!("not problem JSON: {}", String::from_utf8_lossy(body));
    })
}

#[test]
fn seal_signs_corpus_files_that_validate_with_only_one_request_each() {
    let setup = Setup::new(&[0, 1], 0);
    let validators = Validators::find();
    let mut inputs = vec![sample()];
    inputs.extend(DOCUMENTS.iter().map(|file| shared_dir().join(file)));

    for (index, input) in inputs.iter().enumerate() {
        let output = setup.path(&format!("sealed-{index}.pdf"));
        let sealed = setup.seal(input, &output, &[]);

        assert_eq!(
            sealed.code(),
            Some(0),
            "{}: {}\n{}",
            input.display(),
            sealed.ending(),
            sealed.stderr_text()
        );
        setup.assert_valid(&validators, &output, input);
    }

    assert_eq!(setup.stand_in.requests_with(&setup.primary), inputs.len());
    assert_eq!(setup.stand_in.requests(), inputs.len());
    assert_eq!(setup.stand_in.tsa_timestamps(), vec![true; inputs.len()]);
}

#[test]
fn the_time_stamp_choice_reaches_the_service() {
    let setup = Setup::new(&[0], 0);
    let output = setup.path("sealed.pdf");

    let sealed = setup.seal(
        &sample(),
        &output,
        &[("PDF_SEAL_TS_TSA_TIMESTAMP", "false")],
    );

    assert_eq!(sealed.code(), Some(0), "{}", sealed.stderr_text());
    assert_eq!(setup.stand_in.tsa_timestamps(), vec![false]);
}

#[test]
fn serve_seals_over_http_and_only_the_digest_leaves() {
    let setup = Setup::new(&[0, 1], 0);
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let relay = runtime.block_on(RecordingRelay::start(setup.stand_in.address));
    let url = format!("http://{}", relay.address);
    let server = setup.serve(Some(&url), &[]);
    assert_eq!(setup.stand_in.requests(), 0, "nothing is signed at start");
    let document = std::fs::read(sample()).unwrap();

    let answer = post(&server, &document);

    assert_eq!(
        answer.status,
        200,
        "{}",
        String::from_utf8_lossy(&answer.body)
    );
    let sealed = setup.path("sealed.pdf");
    std::fs::write(&sealed, &answer.body).unwrap();
    setup.assert_valid(&Validators::find(), &sealed, &sample());
    let requests = relay.requests();
    assert_eq!(requests.len(), 1);
    assert_only_digests("trusted signatures", &requests, &document);
    let request = String::from_utf8_lossy(&requests[0]).to_string();
    assert!(
        request.starts_with("POST /v1/sign HTTP/1.1\r\n"),
        "{request}"
    );
    assert!(!request.contains(&setup.primary.hex), "{request}");
    let mac = request
        .lines()
        .find(|line| line.to_ascii_lowercase().starts_with("x-authorization:"))
        .and_then(|line| line.split_once(':'))
        .map(|(_, value)| value.trim().to_owned())
        .expect("the request has an X-Authorization header");
    let log = server.log_text();
    assert!(
        log.contains(&setup.primary.id),
        "the key id is logged:\n{log}"
    );
    assert!(
        !log.contains(&mac) && !log.contains(&setup.primary.hex),
        "{log}"
    );
}

#[test]
fn the_egress_check_fails_on_a_request_that_carries_document_bytes() {
    let setup = Setup::new(&[0], 0);
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let relay = runtime.block_on(RecordingRelay::start(setup.stand_in.address));
    let document = std::fs::read(sample()).unwrap();
    // A leaky client: a small request, but with 300 bytes of the document in base64.
    use base64::Engine as _;
    let leaked = base64::engine::general_purpose::STANDARD.encode(&document[400..700]);
    let body = format!(r#"{{"digestAlgorithm":"SHA256","digest":"{leaked}","tsaTimestamp":true}}"#);
    let url = format!("http://{}/v1/sign", relay.address);
    let status = runtime.block_on(async {
        let client = reqwest::Client::new();
        let sent = client.post(&url).header("Content-Type", "application/json");
        sent.body(body).send().await.unwrap().status()
    });
    assert_eq!(
        status, 401,
        "the stand-in refuses an unauthenticated request"
    );

    let requests = relay.requests();
    let checked = std::panic::catch_unwind(|| {
        assert_only_digests("a leaky client", &requests, &document);
    });

    let message = checked.expect_err("the egress check passed a request with document bytes");
    let message = message
        .downcast_ref::<String>()
        .cloned()
        .unwrap_or_default();
    assert!(
        message.contains("holds document bytes (base64)"),
        "{message}"
    );
    assert!(
        requests[0].len() < 2048,
        "the size check alone did not catch it"
    );
}

#[test]
fn a_wrong_api_key_is_a_502_that_names_the_refusal_and_hides_the_key() {
    let setup = Setup::new(&[], 0);
    let server = setup.serve(
        None,
        &[
            ("PDF_SEAL_TS_KEY_ID_SECONDARY", ""),
            ("PDF_SEAL_TS_API_KEY_SECONDARY", ""),
        ],
    );

    let answer = post(&server, &std::fs::read(sample()).unwrap());

    assert_eq!(answer.status, 502);
    let body = problem(&answer.body);
    assert_eq!(body["type"], "/problems/signing-service-refused");
    assert!(
        body["detail"].as_str().unwrap().contains("refused"),
        "{body}"
    );
    assert_eq!(
        setup.stand_in.requests_with(&setup.primary),
        1,
        "a 401 is not retried"
    );
    let log = server.log_text();
    assert!(
        log.contains(&setup.primary.id),
        "the log names the key id:\n{log}"
    );
    assert!(
        !log.contains(&setup.primary.hex),
        "the log holds the key:\n{log}"
    );
    assert!(!log.contains("X-Authorization:"), "{log}");

    let output = setup.path("refused.pdf");
    let sealed = setup.seal(
        &sample(),
        &output,
        &[
            ("PDF_SEAL_TS_KEY_ID_SECONDARY", ""),
            ("PDF_SEAL_TS_API_KEY_SECONDARY", ""),
        ],
    );
    assert_eq!(sealed.code(), Some(2), "{}", sealed.stderr_text());
    assert!(
        sealed
            .stderr_text()
            .contains("signing service refused the request"),
        "{}",
        sealed.stderr_text()
    );
    assert!(!output.exists());
}

#[test]
fn a_revoked_primary_key_gives_way_to_the_secondary_without_a_restart() {
    let setup = Setup::new(&[0, 1], 0);
    let server = setup.serve(None, &[]);
    let document = std::fs::read(sample()).unwrap();

    let before = post(&server, &document);
    setup.stand_in.revoke(&setup.primary);
    let during = post(&server, &document);
    let after = post(&server, &document);

    for answer in [&before, &during, &after] {
        assert_eq!(
            answer.status,
            200,
            "{}",
            String::from_utf8_lossy(&answer.body)
        );
    }
    // The primary signed the first, was refused once, and is not tried again.
    assert_eq!(setup.stand_in.requests_with(&setup.primary), 2);
    assert_eq!(setup.stand_in.requests_with(&setup.secondary), 2);
    let switched = server.log_events().into_iter().any(|event| {
        event["signer.key_id"] == setup.secondary.id.as_str() && event["level"] == "WARN"
    });
    assert!(
        switched,
        "no warning names the secondary key:\n{}",
        server.log_tail()
    );
    let sealed = setup.path("after.pdf");
    std::fs::write(&sealed, &after.body).unwrap();
    setup.assert_valid(&Validators::find(), &sealed, &sample());
}

#[test]
fn two_503s_are_retried_into_a_seal() {
    let setup = Setup::new(&[0], 0);
    setup.stand_in.fail_next(503, 2);
    let output = setup.path("sealed.pdf");

    let sealed = setup.seal(&sample(), &output, &[]);

    assert_eq!(sealed.code(), Some(0), "{}", sealed.stderr_text());
    assert_eq!(setup.stand_in.requests(), 3);
    assert!(
        sealed.elapsed < Duration::from_secs(30),
        "{:?}",
        sealed.elapsed
    );
}

#[test]
fn a_429_is_retried_after_the_wait_it_asks_for_within_a_cap() {
    let setup = Setup::new(&[0], 0);
    setup.stand_in.fail_next_asking_to_wait(429, 1, 2);
    let waited = setup.seal(&sample(), &setup.path("waited.pdf"), &[]);
    let after_waiting = setup.stand_in.requests();
    setup.stand_in.fail_next_asking_to_wait(429, 1, 3600);
    let refused = setup.seal(&sample(), &setup.path("refused.pdf"), &[]);

    assert_eq!(waited.code(), Some(0), "{}", waited.stderr_text());
    assert!(
        waited.elapsed >= Duration::from_secs(2),
        "{:?}",
        waited.elapsed
    );
    assert_eq!(after_waiting, 2);
    assert_eq!(refused.code(), Some(1), "{}", refused.stderr_text());
    assert!(
        refused.stderr_text().contains("asks to wait 3600 s"),
        "{}",
        refused.stderr_text()
    );
    assert_eq!(
        setup.stand_in.requests(),
        3,
        "an hour's wait is not retried"
    );
}

#[test]
fn a_400_is_not_retried() {
    let setup = Setup::new(&[0], 0);
    setup.stand_in.fail_next(400, 3);
    let output = setup.path("sealed.pdf");

    let sealed = setup.seal(&sample(), &output, &[]);

    assert_eq!(sealed.code(), Some(1), "{}", sealed.stderr_text());
    assert!(
        sealed.stderr_text().contains("400"),
        "{}",
        sealed.stderr_text()
    );
    assert_eq!(setup.stand_in.requests(), 1);
}

#[test]
fn a_hanging_service_is_given_up_after_the_timeouts_and_retries() {
    let setup = Setup::new(&[0], 0);
    setup.stand_in.hang(Duration::from_secs(60));
    let limits = [
        ("PDF_SEAL_TS_TIMEOUT_SECS", "1"),
        ("PDF_SEAL_TS_RETRIES", "1"),
    ];
    let server = setup.serve(None, &limits);

    let answer = post(&server, &std::fs::read(sample()).unwrap());

    assert_eq!(answer.status, 503);
    assert_eq!(
        problem(&answer.body)["type"],
        "/problems/signing-service-unavailable"
    );
    assert!(
        answer.elapsed < Duration::from_secs(10),
        "{:?}",
        answer.elapsed
    );
    assert_eq!(setup.stand_in.requests(), 2);
    assert!(
        server.log_text().contains("did not answer in time"),
        "{}",
        server.log_tail()
    );
}

#[test]
fn a_cms_over_another_digest_is_not_used() {
    let setup = Setup::new(&[0], 0);
    setup.stand_in.sign_other_digest();
    let output = setup.path("sealed.pdf");

    let sealed = setup.seal(&sample(), &output, &[]);

    assert_eq!(sealed.code(), Some(1), "{}", sealed.stderr_text());
    assert!(
        sealed.stderr_text().contains("signed another digest"),
        "{}",
        sealed.stderr_text()
    );
    assert!(!output.exists());
}

#[test]
fn a_digest_other_than_sha256_is_refused_before_anything_is_sent() {
    let setup = Setup::new(&[0], 0);
    let server = setup.serve(None, &[]);

    let reply = server
        .send(
            reqwest::Method::POST,
            "/api/seal?digest=sha384",
            &[("Content-Type", "application/pdf")],
            std::fs::read(sample()).unwrap(),
        )
        .unwrap();

    assert_eq!(reply.status, 400);
    let body = reply.json();
    assert_eq!(body["type"], "/problems/invalid-option");
    assert!(
        body["detail"].as_str().unwrap().contains("SHA-256"),
        "{body}"
    );
    assert_eq!(setup.stand_in.requests(), 0);
}

#[test]
fn a_cms_larger_than_the_allowance_is_resealed_once_and_then_learned() {
    // About 40 extra certificates make the CMS larger than the 12 KiB allowance.
    let setup = Setup::new(&[0], 40);
    let server = setup.serve(None, &[("PDF_SEAL_TS_TSA_TIMESTAMP", "false")]);
    let document = std::fs::read(sample()).unwrap();

    let first = post(&server, &document);
    let after_first = setup.stand_in.requests();
    let second = post(&server, &document);

    assert_eq!(
        first.status,
        200,
        "{}",
        String::from_utf8_lossy(&first.body)
    );
    assert_eq!(
        second.status,
        200,
        "{}",
        String::from_utf8_lossy(&second.body)
    );
    assert_eq!(
        after_first, 2,
        "the first seal signs again in a larger placeholder"
    );
    assert_eq!(setup.stand_in.requests(), 3, "the second fits at once");
    let sealed = setup.path("large.pdf");
    std::fs::write(&sealed, &second.body).unwrap();
    setup.assert_valid(&Validators::find(), &sealed, &sample());
}

#[test]
fn start_up_refusals_name_the_variable() {
    let setup = Setup::new(&[0], 0);
    let cases = [
        ("PDF_SEAL_TS_KEY_ID", "not-a-uuid"),
        ("PDF_SEAL_TS_API_KEY", "0123456789abcdefXYZ"),
        ("PDF_SEAL_TS_API_KEY", "abc"),
        ("PDF_SEAL_TS_URL", "http://signer.example.com"),
        ("PDF_SEAL_TS_TSA_TIMESTAMP", "maybe"),
        ("PDF_SEAL_TS_TIMEOUT_SECS", "0"),
    ];
    let half_pair = [("PDF_SEAL_TS_API_KEY_SECONDARY", "")];

    let mut runs: Vec<(&str, Finished)> = Vec::new();
    for (variable, value) in cases {
        let output = setup.path("never.pdf");
        runs.push((
            variable,
            setup.seal(&sample(), &output, &[(variable, value)]),
        ));
    }
    let output = setup.path("never.pdf");
    runs.push((
        "PDF_SEAL_TS_API_KEY_SECONDARY",
        setup.seal(&sample(), &output, &half_pair),
    ));

    for (variable, ran) in runs {
        let stderr = ran.stderr_text();
        assert_eq!(
            ran.code(),
            Some(2),
            "{variable}: {}\n{stderr}",
            ran.ending()
        );
        assert!(stderr.contains(variable), "{variable}: {stderr}");
        assert!(!stderr.contains(&setup.primary.hex), "{stderr}");
    }
    assert_eq!(setup.stand_in.requests(), 0);
}

/// A request as the protocol wants it, with the MAC made here (aws-lc-rs) over `mac_input`
/// followed by the time; the fields of `changes` replace the headers.
fn stand_in_request(
    runtime: &tokio::runtime::Runtime,
    url: &str,
    key: &TestKey,
    body: &str,
    changes: &[(&str, String)],
    mac_input: Option<&[u8]>,
) -> u16 {
    use base64::Engine as _;
    let time = time::OffsetDateTime::now_utc();
    let format = time::macros::format_description!(
        "[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:3]Z"
    );
    let mut time = time.format(format).unwrap();
    if let Some((_, changed)) = changes
        .iter()
        .find(|(name, _)| *name == "X-Authorization-Time")
    {
        time = changed.clone();
    }
    let mut signed = mac_input.unwrap_or(body.as_bytes()).to_vec();
    signed.extend_from_slice(time.as_bytes());
    let mac_key = aws_lc_rs::hmac::Key::new(
        aws_lc_rs::hmac::HMAC_SHA256,
        &hex::decode(&key.hex).unwrap(),
    );
    let mac = aws_lc_rs::hmac::sign(&mac_key, &signed);
    let mut headers = vec![
        ("Content-Type", "application/json".to_owned()),
        ("X-Authorization-Algorithm", "HmacSHA256".to_owned()),
        ("X-Authorization-Time", time),
        ("X-Authorization-Key", key.id.clone()),
        (
            "X-Authorization",
            base64::engine::general_purpose::STANDARD.encode(mac.as_ref()),
        ),
    ];
    for (name, value) in changes {
        headers.retain(|(other, _)| other != name);
        headers.push((name, value.clone()));
    }
    runtime.block_on(async {
        let mut request = reqwest::Client::new().post(url).body(body.to_owned());
        for (name, value) in &headers {
            request = request.header(*name, value);
        }
        request.send().await.unwrap().status().as_u16()
    })
}

#[test]
fn the_stand_in_refuses_what_the_service_refuses() {
    use sha2::Digest as _;

    let setup = Setup::new(&[0], 0);
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let url = format!("{}/v1/sign", setup.stand_in.base_url);
    let digest = "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=";
    let good =
        format!(r#"{{"digestAlgorithm":"SHA256","digest":"{digest}","tsaTimestamp":false}}"#);
    let send = |key: &TestKey, body: &str, changes: &[(&str, String)]| {
        stand_in_request(&runtime, &url, key, body, changes, None)
    };
    let stale = (time::OffsetDateTime::now_utc() - time::Duration::minutes(2))
        .format(time::macros::format_description!(
            "[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:3]Z"
        ))
        .unwrap();
    let hashed_body = sha2::Sha256::digest(good.as_bytes()).to_vec();

    assert_eq!(send(&setup.primary, &good, &[]), 200);
    let unauthorized = [
        send(&setup.secondary, &good, &[]),
        send(
            &setup.primary,
            &good,
            &[("X-Authorization-Algorithm", "HmacSHA1".into())],
        ),
        send(&setup.primary, &good, &[("X-Authorization-Time", stale)]),
        send(
            &setup.primary,
            &good,
            &[("X-Authorization-Time", "2026-12-04 23:00:00".into())],
        ),
        send(&setup.primary, &good, &[("X-Authorization", "AAAA".into())]),
        stand_in_request(
            &runtime,
            &url,
            &setup.primary,
            &good,
            &[],
            Some(&hashed_body),
        ),
    ];
    assert_eq!(unauthorized, [401; 6]);
    let sha1 = good.replace("SHA256", "SHA1");
    let short = good.replace(digest, "AAAA");
    let no_flag = format!(r#"{{"digestAlgorithm":"SHA256","digest":"{digest}"}}"#);
    for body in [sha1, short, no_flag] {
        assert_eq!(send(&setup.primary, &body, &[]), 400, "{body}");
    }
    let text = [("Content-Type", "text/plain".to_owned())];
    assert_eq!(send(&setup.primary, &good, &text), 415);
    let get = runtime.block_on(async { reqwest::get(&url).await.unwrap().status().as_u16() });
    assert_eq!(get, 405);
}
