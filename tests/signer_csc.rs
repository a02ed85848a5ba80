//! The CSC backend (`PDF_SEAL_SIGNER=csc`) driven through the real `pdf-seal` binary:
//! - CSC v1 against certomancer-csc-dummy (a real third-party CSC server) over the test PKI of
//!   tests/support/certomancer.rs, with RSA and ECDSA credentials;
//! - CSC v2 against the strict in-process stand-in of tests/support/csc_v2.rs, with OAuth2;
//! - the seals judged by validate-pdf (pyHanko, pdfsig, qpdf) with the test root trusted;
//! - start-up failures that name the setting, and the proof that only digests leave: a
//!   recording relay in front of each service, every request checked.

mod support;

use std::path::{Path, PathBuf};
use std::process::Command;

use support::certomancer::{SignerFiles, TestPki};
use support::csc_v2::{CscV2, Options};
use support::egress::{RecordingRelay, assert_only_digests};
use support::fixture::{COMMAND_LIMIT, Fixture};
use support::manifest::corpus_dir;
use support::process::{self, Finished};
use support::server::Server;
use support::validators::Validators;

/// A few corpus files whose `expect` is `seal`, of different kinds: hybrid cross-references,
/// linearized with a form, three revisions with object streams, an xref stream.
const CORPUS: &[&str] = &[
    "ph__minimal-hybrid-xref.pdf",
    "pk__form.pdf",
    "pypdf__commented.pdf",
    "ph__minimal-xref.pdf",
];

fn sample() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("samples/delivery-note.pdf")
}

/// `pdf-seal` with `PDF_SEAL_SIGNER=csc`, the local key's settings removed, and `env` added.
fn csc_command(fixture: &Fixture, env: &[(&str, String)]) -> Command {
    let mut command = fixture.command();
    command
        .env_remove("PDF_SEAL_SIGNING_KEY")
        .env_remove("PDF_SEAL_SIGNING_CERTS")
        .env("PDF_SEAL_SIGNER", "csc")
        .env("PDF_SEAL_LOG", "pdf_seal=debug");
    for (name, value) in env {
        command.env(name, value);
    }
    command
}

fn seal(fixture: &Fixture, env: &[(&str, String)], input: &Path, output: &Path) -> Finished {
    let mut command = csc_command(fixture, env);
    command.arg("seal").arg(input).arg("-o").arg(output);
    process::run(&mut command, COMMAND_LIMIT)
}

fn v1_env(url: &str, signer: &SignerFiles) -> Vec<(&'static str, String)> {
    vec![
        ("PDF_SEAL_CSC_URL", url.to_string()),
        ("PDF_SEAL_CSC_VERSION", "v1".into()),
        ("PDF_SEAL_CSC_CREDENTIAL_ID", signer.credential_id()),
        ("PDF_SEAL_CSC_TIMEOUT_SECS", "20".into()),
    ]
}

fn v2_env(csc: &CscV2, base: &str, token_url: &str) -> Vec<(&'static str, String)> {
    vec![
        ("PDF_SEAL_CSC_URL", base.to_string()),
        (
            "PDF_SEAL_CSC_CREDENTIAL_ID",
            csc.options().credential_id.clone(),
        ),
        ("PDF_SEAL_CSC_TOKEN_URL", token_url.to_string()),
        ("PDF_SEAL_CSC_CLIENT_ID", csc.options().client_id.clone()),
        (
            "PDF_SEAL_CSC_CLIENT_SECRET",
            csc.options().client_secret.clone(),
        ),
        ("PDF_SEAL_CSC_TIMEOUT_SECS", "10".into()),
    ]
}

/// A tokio runtime for the relays, which outlive single calls.
fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap()
}

fn relay_to(runtime: &tokio::runtime::Runtime, port: u16) -> RecordingRelay {
    runtime.block_on(RecordingRelay::start(([127, 0, 0, 1], port).into()))
}

/// Seals `input` through a fresh relay in front of `port` and checks that the seal validates
/// with `root` trusted and that only digests went through the relay.
fn seal_and_judge(
    fixture: &Fixture,
    runtime: &tokio::runtime::Runtime,
    port: u16,
    env: impl Fn(&str) -> Vec<(&'static str, String)>,
    input: &Path,
    root: &Path,
) -> usize {
    let relay = relay_to(runtime, port);
    let name = input.file_name().unwrap().to_string_lossy().into_owned();
    let output = fixture
        .subdir(&format!("out-{}", relay.address.port()))
        .join(&name);
    let ran = seal(
        fixture,
        &env(&format!("http://{}", relay.address)),
        input,
        &output,
    );
    assert_eq!(
        ran.code(),
        Some(0),
        "{name}: {}\n{}",
        ran.ending(),
        ran.stderr_text()
    );

    let verdict = Validators::find().validate(&output, input, &[root]);
    assert!(verdict.passed, "{name}:\n{}", verdict.report);
    let original = std::fs::read(input).unwrap();
    let requests = relay.requests();
    assert_only_digests(&format!("CSC for {name}"), &requests, &original);
    requests.len()
}

#[test]
fn v1_with_the_dummy_seals_samples_and_corpus_files_that_validate_with_rsa_and_ecdsa() {
    let fixture = Fixture::new();
    let pki = TestPki::generate();
    // SCAL 2: the dummy binds each SAD to the hashes it authorises.
    let dummy = pki.csc_dummy(2);
    let runtime = runtime();

    let mut inputs = vec![sample()];
    inputs.extend(CORPUS.iter().map(|file| corpus_dir().join(file)));
    for input in &inputs {
        let requests = seal_and_judge(
            &fixture,
            &runtime,
            dummy.port,
            |url| v1_env(url, &pki.signer_rsa),
            input,
            &pki.root_ca,
        );
        // credentials/info at start, then credentials/authorize and signatures/signHash.
        assert_eq!(requests, 3, "{}", input.display());
    }

    let requests = seal_and_judge(
        &fixture,
        &runtime,
        dummy.port,
        |url| v1_env(url, &pki.signer_ec),
        &sample(),
        &pki.root_ca,
    );
    assert_eq!(requests, 3);

    // RSASSA-PSS on request: signAlgo id-RSASSA-PSS with its parameters.
    let relay = relay_to(&runtime, dummy.port);
    let mut env = v1_env(&format!("http://{}", relay.address), &pki.signer_rsa);
    env.push(("PDF_SEAL_RSA_PADDING", "pss".into()));
    let output = fixture.subdir("pss").join("sealed.pdf");
    let ran = seal(&fixture, &env, &sample(), &output);
    assert_eq!(ran.code(), Some(0), "{}", ran.stderr_text());
    let verdict = Validators::find().validate(&output, &sample(), &[&pki.root_ca]);
    assert!(verdict.passed, "{}", verdict.report);
    let sign_hash = String::from_utf8_lossy(&relay.requests()[2]).into_owned();
    assert!(sign_hash.contains("signatures/signHash"), "{sign_hash}");
    assert!(
        sign_hash.contains(r#""signAlgo":"1.2.840.113549.1.1.10""#),
        "{sign_hash}"
    );
    assert!(sign_hash.contains("signAlgoParams"), "{sign_hash}");
    drop(dummy);
}

#[test]
fn v1_seals_through_serve_with_the_dummy_without_hash_pinning() {
    let fixture = Fixture::new();
    let pki = TestPki::generate();
    let dummy = pki.csc_dummy(1);
    let env: Vec<(&str, String)> = v1_env(&dummy.base_url, &pki.signer_ec);
    let server = serve(&fixture, "serve-v1", &env);

    let original = std::fs::read(sample()).unwrap();
    for round in 0..2 {
        let answer = server
            .post_seal(original.clone(), COMMAND_LIMIT)
            .unwrap_or_else(|e| panic!("round {round}: {e}"));
        assert_eq!(
            answer.status,
            200,
            "{}\n{}",
            String::from_utf8_lossy(&answer.body),
            server.log_tail()
        );
        let sealed = fixture
            .subdir(&format!("serve-v1-{round}"))
            .join("sealed.pdf");
        std::fs::write(&sealed, &answer.body).unwrap();
        let verdict = Validators::find().validate(&sealed, &sample(), &[&pki.root_ca]);
        assert!(verdict.passed, "{}", verdict.report);
    }
}

fn serve(fixture: &Fixture, name: &str, env: &[(&str, String)]) -> Server {
    let mut command = csc_command(fixture, env);
    command.args(["serve", "--bind", "127.0.0.1:0"]);
    Server::start(command, &fixture.path().join(format!("{name}.log")))
}

/// The development key and chain of `fixture`, for the v2 stand-in.
fn dev_key(fixture: &Fixture) -> (Vec<u8>, Vec<u8>) {
    let certs = fixture.path().join("certs");
    (
        std::fs::read(certs.join("seal-key.pem")).unwrap(),
        std::fs::read(certs.join("seal-chain.pem")).unwrap(),
    )
}

#[test]
fn v2_with_the_stand_in_seals_through_serve_reusing_one_token_and_only_digests_leave() {
    let fixture = Fixture::new();
    let (key, chain) = dev_key(&fixture);
    let csc = CscV2::start(&key, &chain, Options::default());
    let runtime = runtime();
    let relay = relay_to(&runtime, csc.address.port());
    let base = format!("http://{}", relay.address);
    let env = v2_env(&csc, &base, &format!("{base}/oauth2/token"));
    let server = serve(&fixture, "serve-v2", &env);

    let original = std::fs::read(sample()).unwrap();
    for round in 0..3 {
        let answer = server.post_seal(original.clone(), COMMAND_LIMIT).unwrap();
        assert_eq!(answer.status, 200, "{}", server.log_tail());
        let sealed = fixture
            .subdir(&format!("serve-v2-{round}"))
            .join("sealed.pdf");
        std::fs::write(&sealed, &answer.body).unwrap();
        let verdict = Validators::find().validate(&sealed, &sample(), &[&fixture.root_ca]);
        assert!(verdict.passed, "{}", verdict.report);
    }

    assert_eq!(csc.count("/oauth2/token"), 1, "the token is cached");
    assert_eq!(csc.count("/csc/v2/credentials/info"), 1);
    assert_eq!(csc.count("/csc/v2/credentials/authorize"), 3);
    assert_eq!(csc.count("/csc/v2/signatures/signHash"), 3);
    let requests = relay.requests();
    assert_eq!(requests.len(), 8);
    assert_only_digests("CSC v2 stand-in", &requests, &original);
    // The log (at debug) names the calls but holds no secret, token or SAD.
    let log = server.log_text();
    assert!(log.contains("signatures/signHash"), "{log}");
    let issued = csc.issued_secrets();
    assert_eq!(issued.len(), 4, "one token and three SADs");
    for secret in issued.iter().chain([&csc.options().client_secret]) {
        assert!(
            !log.contains(secret.as_str()),
            "{secret} in the log:\n{log}"
        );
    }
}

#[test]
fn v2_seals_corpus_files_by_cli_and_raw_ecdsa_answers_become_der() {
    let fixture = Fixture::new();
    let (key, chain) = dev_key(&fixture);
    let options = Options {
        raw_ecdsa: true,
        ..Options::default()
    };
    let csc = CscV2::start(&key, &chain, options);
    let runtime = runtime();
    for input in [sample(), corpus_dir().join(CORPUS[1])] {
        let requests = seal_and_judge(
            &fixture,
            &runtime,
            csc.address.port(),
            |url| v2_env(&csc, url, &format!("{url}/oauth2/token")),
            &input,
            &fixture.root_ca,
        );
        // token, credentials/info, credentials/authorize, signatures/signHash.
        assert_eq!(requests, 4, "{}", input.display());
    }
}

#[test]
fn v2_retries_503_answers_renews_a_revoked_token_and_stops_at_a_refused_secret() {
    let fixture = Fixture::new();
    let (key, chain) = dev_key(&fixture);
    let csc = CscV2::start(&key, &chain, Options::default());
    let env = v2_env(&csc, &csc.base_url(), &csc.token_url());

    // Two failures: the token request and its first retry; the second retry gets through.
    csc.fail_next(2);
    let output = fixture.subdir("retried").join("sealed.pdf");
    let ran = seal(&fixture, &env, &sample(), &output);
    assert_eq!(ran.code(), Some(0), "{}", ran.stderr_text());
    assert_eq!(csc.count("/oauth2/token"), 3);

    // Three failures in a row exhaust the retries: the seal fails, it does not hang.
    csc.fail_next(3);
    let output = fixture.subdir("failed").join("sealed.pdf");
    let ran = seal(&fixture, &env, &sample(), &output);
    assert_eq!(ran.code(), Some(2), "{}", ran.stderr_text());
    assert!(ran.stderr_text().contains("503"), "{}", ran.stderr_text());

    // A running server whose token is revoked (the stand-in rotated to the same secret,
    // dropping its tokens) gets a new token on the 401 and seals.
    let server = serve(&fixture, "revoked", &env);
    let original = std::fs::read(sample()).unwrap();
    assert_eq!(
        server
            .post_seal(original.clone(), COMMAND_LIMIT)
            .unwrap()
            .status,
        200
    );
    let tokens = csc.count("/oauth2/token");
    csc.rotate_secret(&csc.options().client_secret.clone());
    let answer = server.post_seal(original.clone(), COMMAND_LIMIT).unwrap();
    assert_eq!(answer.status, 200, "{}", server.log_tail());
    assert_eq!(csc.count("/oauth2/token"), tokens + 1);

    // A real rotation: the secret from the environment is fixed, so reading it again gives
    // the same value; the seal fails at once, without a loop of token requests, and the log
    // says why without showing either secret.
    csc.rotate_secret("second-secret-9876543210");
    let answer = server.post_seal(original, COMMAND_LIMIT).unwrap();
    assert_eq!(answer.status, 502, "{}", server.log_tail());
    assert!(
        String::from_utf8_lossy(&answer.body).contains("/problems/signing-service-refused"),
        "{}",
        String::from_utf8_lossy(&answer.body)
    );
    assert_eq!(csc.count("/oauth2/token"), tokens + 2);
    let log = server.log_text();
    assert!(log.contains("invalid_client"), "{log}");
    assert!(
        !log.contains("second-secret-9876543210") && !log.contains(&csc.options().client_secret)
    );
}

#[test]
fn v2_explicit_credential_is_authorised_with_the_pin() {
    let fixture = Fixture::new();
    let (key, chain) = dev_key(&fixture);
    let options = Options {
        pin: Some("20481".into()),
        ..Options::default()
    };
    let csc = CscV2::start(&key, &chain, options);
    let mut env = v2_env(&csc, &csc.base_url(), &csc.token_url());
    let output = fixture.subdir("pin").join("sealed.pdf");

    // Without the PIN the credential is refused at start, naming the setting.
    let ran = seal(&fixture, &env, &sample(), &output);
    assert_eq!(ran.code(), Some(2), "{}", ran.stderr_text());
    assert!(
        ran.stderr_text().contains("PDF_SEAL_CSC_PIN"),
        "{}",
        ran.stderr_text()
    );

    // A wrong PIN is refused by authorize, a setting to fix (exit 2); the message does not
    // show it.
    env.push(("PDF_SEAL_CSC_PIN", "11111".into()));
    let ran = seal(&fixture, &env, &sample(), &output);
    assert_eq!(ran.code(), Some(2), "{}", ran.stderr_text());
    assert!(
        ran.stderr_text().contains("Invalid PIN"),
        "{}",
        ran.stderr_text()
    );
    assert!(
        !ran.stderr_text().contains("11111"),
        "{}",
        ran.stderr_text()
    );

    env.last_mut().unwrap().1 = "20481".into();
    let ran = seal(&fixture, &env, &sample(), &output);
    assert_eq!(ran.code(), Some(0), "{}", ran.stderr_text());
    let verdict = Validators::find().validate(&output, &sample(), &[&fixture.root_ca]);
    assert!(verdict.passed, "{}", verdict.report);
}

#[test]
fn start_up_failures_name_the_setting() {
    let fixture = Fixture::new();
    let (key, chain) = dev_key(&fixture);
    let csc = CscV2::start(&key, &chain, Options::default());
    let output = fixture.subdir("none").join("sealed.pdf");
    let fails_naming = |env: Vec<(&'static str, String)>, variable: &str, secret: Option<&str>| {
        let ran = seal(&fixture, &env, &sample(), &output);
        let stderr = ran.stderr_text();
        assert_eq!(
            ran.code(),
            Some(2),
            "{variable}: {}\n{stderr}",
            ran.ending()
        );
        assert!(
            stderr.contains(variable),
            "expected {variable} in:\n{stderr}"
        );
        if let Some(secret) = secret {
            assert!(!stderr.contains(secret), "the secret leaked:\n{stderr}");
        }
        assert!(!output.exists());
    };
    let v2 = || v2_env(&csc, &csc.base_url(), &csc.token_url());

    let mut unknown = v2();
    unknown[1].1 = "no-such-credential".into();
    fails_naming(unknown, "PDF_SEAL_CSC_CREDENTIAL_ID", None);

    let mut wrong_secret = v2();
    wrong_secret[4].1 = "not-the-secret-4242".into();
    fails_naming(
        wrong_secret,
        "PDF_SEAL_CSC_CLIENT_SECRET",
        Some("not-the-secret-4242"),
    );

    let closed = support::certomancer::free_port();
    let mut unreachable = v2();
    unreachable[0].1 = format!("http://127.0.0.1:{closed}");
    fails_naming(unreachable, "PDF_SEAL_CSC_URL", None);

    // A service that accepts connections but never answers: the timeout, then the retries,
    // then a clear failure; no hang.
    let silent = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let mut hanging = v2();
    hanging[0].1 = format!("http://{}", silent.local_addr().unwrap());
    hanging[2].1 = format!("http://{}/token", silent.local_addr().unwrap());
    hanging[5].1 = "1".into();
    let started = std::time::Instant::now();
    fails_naming(hanging, "PDF_SEAL_CSC_TOKEN_URL", None);
    assert!(started.elapsed() < std::time::Duration::from_secs(30));

    let mut not_https = v2();
    not_https[0].1 = "http://csc.example.test".into();
    fails_naming(not_https, "PDF_SEAL_CSC_URL", None);

    let mut no_credential = v2();
    no_credential.remove(1);
    fails_naming(no_credential, "PDF_SEAL_CSC_CREDENTIAL_ID", None);

    // The real v1 server: an unknown credential is a 404 there.
    let pki = TestPki::generate();
    let dummy = pki.csc_dummy(2);
    let mut env = v1_env(&dummy.base_url, &pki.signer_rsa);
    env[2].1 = format!("{}/no-such-signer", support::certomancer::ARCH);
    fails_naming(env, "PDF_SEAL_CSC_CREDENTIAL_ID", None);

    // A v1 client at the v2 stand-in: the paths differ, and the message points at the version.
    let mut wrong_version = v2();
    wrong_version.push(("PDF_SEAL_CSC_VERSION", "v1".into()));
    fails_naming(wrong_version, "PDF_SEAL_CSC_VERSION", None);
}
