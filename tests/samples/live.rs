//! Each curl script run against a real `pdf-seal serve` (this build, on loopback, blob mode on
//! the local data directory), as a user would run it; the sealed files are judged by the
//! validators.

use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use serde_json::Value;
use sha2::{Digest as _, Sha256};

use super::root;
use super::support::fixture::Fixture;
use super::support::process::{self, Finished};
use super::support::server::Server;
use super::support::validators::Validators;

/// One script may take this long; the blob job polls every second here.
const SCRIPT_LIMIT: Duration = Duration::from_secs(180);

fn script(name: &str) -> PathBuf {
    root().join("samples/curl").join(name)
}

/// Runs `samples/curl/NAME ARGS` with `SEAL_URL` set to `server` and no other `SEAL_`
/// setting of the caller.
fn run(server: &Server, name: &str, args: &[&OsStr], env: &[(&str, &str)]) -> Finished {
    run_at(&server.base_url, name, args, env)
}

fn run_at(base_url: &str, name: &str, args: &[&OsStr], env: &[(&str, &str)]) -> Finished {
    let mut command = Command::new(script(name));
    for (variable, _) in std::env::vars_os() {
        if variable.to_string_lossy().starts_with("SEAL_") {
            command.env_remove(variable);
        }
    }
    command
        .args(args)
        .env("SEAL_URL", base_url)
        .envs(env.iter().copied());
    process::run(&mut command, SCRIPT_LIMIT)
}

fn assert_succeeded(ran: &Finished, what: &str) {
    assert_eq!(
        ran.code(),
        Some(0),
        "{what}: {}\nstdout:\n{}\nstderr:\n{}",
        ran.ending(),
        ran.stdout_text(),
        ran.stderr_text()
    );
}

fn json_of(ran: &Finished, what: &str) -> Value {
    serde_json::from_str(ran.stdout_text().trim())
        .unwrap_or_else(|err| panic!("{what} printed no JSON ({err}): {}", ran.stdout_text()))
}

fn assert_valid(validators: &Validators, fixture: &Fixture, sealed: &Path, original: &Path) {
    let verdict = validators.validate(sealed, original, &[&fixture.root_ca]);
    assert!(
        verdict.passed,
        "{} does not validate:\n{}",
        sealed.display(),
        verdict.report
    );
}

#[test]
fn every_curl_script_succeeds_against_a_local_service() {
    let fixture = Fixture::new();
    let validators = Validators::find();
    let server = fixture.serve_with(
        "serve",
        &[("PDF_SEAL_JOB_RETRY_AFTER_SECS", OsStr::new("1"))],
    );
    let original = root().join("samples/delivery-note.pdf");

    let sealed = fixture.path().join("delivery-note.sealed.pdf");
    let args = [original.as_os_str(), sealed.as_os_str()];
    let ran = run(
        &server,
        "seal-pdf.sh",
        &args,
        &[("SEAL_REASON", "Sample run"), ("SEAL_DIGEST", "sha384")],
    );
    assert_succeeded(&ran, "seal-pdf.sh");
    assert_valid(&validators, &fixture, &sealed, &original);
    let facts = validators.newest_signature_facts(&sealed);
    assert_eq!(
        (&facts["reason"], &facts["digest"]),
        (&"Sample run".into(), &"sha384".into())
    );

    let blobs = fixture.path().join("data/blobs");
    std::fs::create_dir_all(blobs.join("scans")).unwrap();
    std::fs::create_dir_all(blobs.join("sealed")).unwrap();
    std::fs::copy(&original, blobs.join("scans/delivery note.pdf")).unwrap();
    let args = ["scans", "delivery note.pdf", "sealed", "delivery note.pdf"].map(OsStr::new);
    let ran = run(
        &server,
        "seal-blob-pdf.sh",
        &args,
        &[("SEAL_REASON", "Blob \"run\"")],
    );
    assert_succeeded(&ran, "seal-blob-pdf.sh");
    let job = json_of(&ran, "seal-blob-pdf.sh");
    let output = blobs.join("sealed/delivery note.pdf");
    let bytes = std::fs::read(&output).unwrap();
    assert_eq!(job["status"], "succeeded");
    assert_eq!(
        job["sha256"].as_str(),
        Some(hex::encode(Sha256::digest(&bytes)).as_str())
    );
    assert_valid(&validators, &fixture, &output, &original);
    assert_eq!(
        validators.newest_signature_facts(&output)["reason"],
        "Blob \"run\""
    );

    let id = job["id"].as_str().expect("the job has an id");
    let ran = run(&server, "get-seal-job.sh", &[OsStr::new(id)], &[]);
    assert_succeeded(&ran, "get-seal-job.sh");
    assert_eq!(json_of(&ran, "get-seal-job.sh")["sha256"], job["sha256"]);

    let ran = run(&server, "test-connection.sh", &[], &[]);
    assert_succeeded(&ran, "test-connection.sh");
    let answer = json_of(&ran, "test-connection.sh");
    assert_eq!(
        (&answer["status"], &answer["blobMode"]),
        (&"ok".into(), &true.into())
    );
}

#[test]
fn the_curl_scripts_exit_non_zero_with_the_cause_when_the_service_refuses() {
    let fixture = Fixture::new();
    let server = fixture.serve();
    let not_a_pdf = fixture.path().join("note.txt");
    std::fs::write(&not_a_pdf, "not a PDF").unwrap();
    let out = fixture.path().join("out.pdf");

    let refused = [
        ("seal-pdf.sh", vec![not_a_pdf.as_os_str(), out.as_os_str()]),
        (
            "seal-blob-pdf.sh",
            ["scans", "missing.pdf", "sealed", "missing.pdf"]
                .map(OsStr::new)
                .to_vec(),
        ),
        ("get-seal-job.sh", vec![OsStr::new("no-such-job")]),
    ];
    for (name, args) in refused {
        let ran = run(&server, name, &args, &[]);
        assert_eq!(
            ran.code(),
            Some(1),
            "{name}: {}\n{}",
            ran.ending(),
            ran.stderr_text()
        );
        assert!(
            ran.stderr_text().contains("the service answered 4"),
            "{name}: {}",
            ran.stderr_text()
        );
    }
    assert!(!out.exists(), "seal-pdf.sh left {} behind", out.display());
}

#[test]
fn each_curl_script_prints_its_usage_line_when_called_wrongly() {
    // Nothing listens on the discard port; a script that called the service would fail there.
    let nowhere = "http://127.0.0.1:9";
    for name in [
        "seal-pdf.sh",
        "seal-blob-pdf.sh",
        "get-seal-job.sh",
        "test-connection.sh",
    ] {
        let ran = run_at(
            nowhere,
            name,
            &[OsStr::new("a"), OsStr::new("b"), OsStr::new("c")],
            &[],
        );

        assert_eq!(ran.code(), Some(2), "{name}: {}", ran.ending());
        let first = ran
            .stderr_text()
            .lines()
            .next()
            .unwrap_or_default()
            .to_owned();
        assert!(
            first.starts_with("usage: ") && first.contains(name),
            "{name}: {first}"
        );
    }
}
