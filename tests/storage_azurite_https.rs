//! Token authentication against Azurite over https: the real `azure-cli` credential runs a fake
//! `az` that prints a token, and the SDK's TLS stack (rustls with the platform verifier) trusts
//! Azurite's certificate only because `SSL_CERT_FILE` names the test CA, the standard variable
//! the verifier reads on Linux. Nothing in the product is loosened for it.
//!
//! A test cannot change its own process's `PATH` (that is unsafe in Rust 2024, and the project
//! forbids unsafe code), so the checks run in a child: this test binary again, running the
//! ignored `child_opens_storage_with_the_azure_cli_credential` with the environment it needs.

mod support;

use std::fs;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use pdf_seal::api::seal_request::RequestedOptions;
use pdf_seal::config::{AzureCredential, Environment, StorageSettings};
use pdf_seal::jobs::{JobId, JobRecord, JobRequest};
use pdf_seal::storage::azure;
use pdf_seal::storage::{BlobPath, Created};
use support::azurite::Azurite;
use support::fake_az;
use support::process;
use tempfile::TempDir;
use time::OffsetDateTime;

/// What the child is told to expect.
const EXPECT_VARIABLE: &str = "PDF_SEAL_TEST_TOKEN_EXPECT";

#[test]
fn the_azure_cli_credential_works_over_https_with_a_trusted_certificate() {
    let dir = TempDir::new().unwrap();
    make_certificates(dir.path());
    let cert = dir.path().join("server.pem");
    let key = dir.path().join("server.key");
    let azurite = Azurite::start_with(&[
        "--oauth",
        "basic",
        "--cert",
        cert.to_str().unwrap(),
        "--key",
        key.to_str().unwrap(),
    ]);
    assert!(azurite.blob_endpoint.starts_with("https://127.0.0.1:"));
    write_fake_az(dir.path());

    let trusted = run_child(&azurite, dir.path(), "works", true);
    assert_eq!(trusted.code(), Some(0), "{}", describe(&trusted));
    let asked = fs::read_to_string(dir.path().join("az-args")).expect("az was run");
    assert!(
        asked.contains("account get-access-token")
            && asked.contains("https://storage.azure.com/.default"),
        "az was asked: {asked}"
    );

    // Without the test CA, the same token goes nowhere: the certificate is checked.
    let untrusted = run_child(&azurite, dir.path(), "untrusted", false);
    assert_eq!(untrusted.code(), Some(0), "{}", describe(&untrusted));
}

/// The body of the test above, in the child it starts.
#[tokio::test]
#[ignore = "run by the_azure_cli_credential_works_over_https_with_a_trusted_certificate in a \
            child process with its own PATH and SSL_CERT_FILE"]
async fn child_opens_storage_with_the_azure_cli_credential() {
    let expect = std::env::var(EXPECT_VARIABLE).expect("run by the parent test");
    let StorageSettings::Azure(settings) =
        StorageSettings::resolve(&Environment::from_process()).expect("valid settings")
    else {
        panic!("the parent selects azure storage");
    };
    assert_eq!(settings.credential, AzureCredential::AzureCli);

    match (expect.as_str(), azure::open(&settings).await) {
        ("works", Ok(storage)) => {
            let source = BlobPath::new("inbox", "a.pdf").unwrap();
            let request = JobRequest {
                destination: source.sealed_sibling().unwrap(),
                source: source.clone(),
                overwrite: false,
                options: RequestedOptions::default(),
            };
            let record = JobRecord::queued(JobId::random(), request, OffsetDateTime::now_utc());
            assert!(matches!(
                storage.jobs.create(&record).await.unwrap(),
                Created::New(_)
            ));
            storage.queue.send(&record.id).await.unwrap();
            let delivery = storage
                .queue
                .receive(Duration::from_secs(30))
                .await
                .unwrap();
            assert_eq!(delivery.map(|d| d.job), Some(record.id));
            assert_eq!(storage.blobs.properties(&source).await.unwrap(), None);
        }
        ("untrusted", Err(error)) => {
            let text = error.to_string();
            assert!(error.is_transient(), "{error:?}");
            assert!(text.contains("certificate"), "{text}");
        }
        (expect, outcome) => panic!(
            "expected {expect}, got {:?}",
            outcome.map(|_| "storage that opened")
        ),
    }
}

/// Runs the child test with the fake `az` first on `PATH`, and the test CA as `SSL_CERT_FILE`
/// when `trust` is set.
fn run_child(azurite: &Azurite, dir: &Path, expect: &str, trust: bool) -> process::Finished {
    let path = format!(
        "{}:{}",
        dir.join("bin").display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let mut child = Command::new(std::env::current_exe().unwrap());
    child
        .args([
            "--exact",
            "child_opens_storage_with_the_azure_cli_credential",
        ])
        .args(["--ignored", "--nocapture", "--test-threads", "1"])
        .env("PATH", path)
        .env(EXPECT_VARIABLE, expect)
        .env("PDF_SEAL_STORAGE", "azure")
        .env("PDF_SEAL_BLOB_ENDPOINT", &azurite.blob_endpoint)
        .env("PDF_SEAL_QUEUE_ENDPOINT", &azurite.queue_endpoint)
        .env("PDF_SEAL_STORAGE_CREDENTIAL", "azure-cli")
        .env_remove("PDF_SEAL_STORAGE_SAS")
        .env_remove("SSL_CERT_DIR");
    if trust {
        child.env("SSL_CERT_FILE", dir.join("ca.pem"));
    } else {
        child.env_remove("SSL_CERT_FILE");
    }
    process::run(&mut child, Duration::from_secs(120))
}

fn describe(finished: &process::Finished) -> String {
    format!(
        "the child ended with {}:\n{}\n{}",
        finished.ending(),
        finished.stdout_text(),
        finished.stderr_text()
    )
}

/// A test CA and a server certificate for 127.0.0.1 that it signed, made with openssl.
fn make_certificates(dir: &Path) {
    fs::write(
        dir.join("server.ext"),
        "subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth\nbasicConstraints=CA:FALSE\n",
    )
    .unwrap();
    let steps: [&[&str]; 3] = [
        &[
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-nodes",
            "-keyout",
            "ca.key",
            "-out",
            "ca.pem",
            "-days",
            "2",
            "-subj",
            "/CN=pdf-seal test CA",
            "-addext",
            "basicConstraints=critical,CA:TRUE",
            "-addext",
            "keyUsage=critical,keyCertSign",
        ],
        &[
            "req",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-nodes",
            "-keyout",
            "server.key",
            "-out",
            "server.csr",
            "-subj",
            "/CN=127.0.0.1",
        ],
        &[
            "x509",
            "-req",
            "-in",
            "server.csr",
            "-CA",
            "ca.pem",
            "-CAkey",
            "ca.key",
            "-CAcreateserial",
            "-out",
            "server.pem",
            "-days",
            "2",
            "-extfile",
            "server.ext",
        ],
    ];
    for args in steps {
        process::openssl(dir, args);
    }
}

/// An `az` that records its arguments and prints a token Azurite's basic OAuth check accepts:
/// a JWT for the storage audience from an Entra issuer, issued a minute ago, valid for an hour.
/// Its signature is not checked at that level, so it is a placeholder.
fn write_fake_az(dir: &Path) {
    let now = OffsetDateTime::now_utc().unix_timestamp();
    let tenant = "00000000-0000-0000-0000-000000000001";
    let claims = serde_json::json!({
        "aud": "https://storage.azure.com",
        "iss": format!("https://sts.windows.net/{tenant}/"),
        "iat": now - 60,
        "nbf": now - 60,
        "exp": now + 3600,
        "oid": "00000000-0000-0000-0000-000000000002",
        "tid": tenant,
    })
    .to_string();
    let token = format!(
        "{}.{}.{}",
        URL_SAFE_NO_PAD.encode(r#"{"alg":"RS256","typ":"JWT"}"#),
        URL_SAFE_NO_PAD.encode(claims),
        URL_SAFE_NO_PAD.encode("not checked")
    );
    fake_az::write(dir, &[], &token);
}
