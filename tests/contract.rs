//! The contract test: schemathesis (pinned in scripts/requirements-tests.txt) makes requests from
//! each API definition, the connector's Swagger 2.0 file and the OpenAPI 3.1 document, sends
//! them to the real `pdf-seal serve` on loopback, and holds every answer to the definition: a
//! documented status, a documented media type, documented headers and a body that matches the
//! documented schema, no server error, a 401 without a token, a 405 for other methods, and
//! valid requests accepted and invalid ones refused.
//!
//! The service runs as in Azure: Entra ID tokens (from the OpenID provider of
//! `tools/oidc-provider`), blob mode on the local storage default, the development certificate.
//! Random data reaches only the refusals, so `tests/contract/hooks.py` mixes in real inputs: the
//! PDF of `samples/`, a blob holding it, and a job that sealed it. The test also checks that the
//! success answers were among those judged.

mod support;

use std::collections::{BTreeMap, BTreeSet};
use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use reqwest::Method;
use serde_json::json;

use support::fixture::Fixture;
use support::oidc_provider::OidcProvider;
use support::process;
use support::server::Server;

const TENANT: &str = "11111111-2222-3333-4444-555555555555";
/// The API's client id: the audience of the tokens.
const API: &str = "99999999-8888-7777-6666-555555555555";
/// The connector's client id, the one application allowed to call.
const CLIENT: &str = "aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee";
const USER: &str = "0a0a0a0a-1111-2222-3333-444444444444";

/// The container and blob of the real PDF in the service's storage.
const CONTAINER: &str = "contract";
const BLOB: &str = "in/delivery-note.pdf";

/// Schemathesis' seed: with it (and no example database) a run makes the same requests each
/// time.
const SEED: &str = "20261205";
/// Test cases per operation in the fuzzing phase; the coverage and stateful phases add their
/// own, a few hundred requests in all per definition.
const MAX_EXAMPLES: &str = "10";
/// How long one schemathesis run may take on a debug build and two busy cores.
const RUN_LIMIT: Duration = Duration::from_secs(300);

/// The service in front of its provider, with a real PDF blob and a job that sealed it.
struct Setup {
    fixture: Fixture,
    _provider: OidcProvider,
    server: Server,
    token: String,
    pdf: PathBuf,
    job_id: String,
}

impl Setup {
    fn start() -> Self {
        let provider = OidcProvider::start(TENANT);
        let fixture = Fixture::new();
        let env = [
            ("PDF_SEAL_AUTH", OsString::from("entra-id")),
            ("PDF_SEAL_ENTRA_TENANT_ID", TENANT.into()),
            ("PDF_SEAL_ENTRA_AUDIENCE", API.into()),
            ("PDF_SEAL_ENTRA_ALLOWED_CLIENTS", CLIENT.into()),
            (
                "PDF_SEAL_ENTRA_METADATA_URL",
                provider.metadata_url().into(),
            ),
        ];
        let env: Vec<(&str, &std::ffi::OsStr)> = env
            .iter()
            .map(|(name, value)| (*name, value.as_os_str()))
            .collect();
        let server = fixture.serve_with("contract-server", &env);
        let token = provider.token(json!({
            "tid": TENANT, "aud": API, "azp": CLIENT, "oid": USER,
            "scp": "user_impersonation", "ver": "2.0",
        }));

        let pdf = Path::new(env!("CARGO_MANIFEST_DIR")).join("samples/delivery-note.pdf");
        let blob = fixture.path().join("data/blobs").join(CONTAINER).join(BLOB);
        std::fs::create_dir_all(blob.parent().unwrap()).unwrap();
        std::fs::copy(&pdf, &blob).unwrap();

        let mut setup = Setup {
            fixture,
            _provider: provider,
            server,
            token,
            pdf,
            job_id: String::new(),
        };
        setup.job_id = setup.sealed_job();
        setup
    }

    /// Seals the blob through the job API and waits for the job to succeed; returns its id.
    fn sealed_job(&self) -> String {
        let authorization = format!("Bearer {}", self.token);
        let headers = [
            ("Authorization", authorization.as_str()),
            ("Content-Type", "application/json"),
        ];
        let body = json!({"source": {"container": CONTAINER, "blob": BLOB}}).to_string();
        let created = self
            .server
            .send(Method::POST, "/api/seal-jobs", &headers, body.into_bytes())
            .unwrap();
        assert_eq!(
            created.status,
            202,
            "the job was not created: {}\n{}",
            String::from_utf8_lossy(&created.body),
            self.server.log_tail()
        );
        let id = created.json()["id"].as_str().unwrap().to_owned();
        let started = Instant::now();
        loop {
            let status = self
                .server
                .send(
                    Method::GET,
                    &format!("/api/seal-jobs/{id}"),
                    &headers[..1],
                    Vec::new(),
                )
                .unwrap();
            if status.status == 200 {
                return id;
            }
            assert!(
                status.status == 202 && started.elapsed() < Duration::from_secs(120),
                "job {id} did not succeed: {} {}\n{}",
                status.status,
                String::from_utf8_lossy(&status.body),
                self.server.log_tail()
            );
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    /// Runs schemathesis on `definition` (relative to the project root) with every check, with
    /// the token or, for `Caller::Anonymous`, without it; returns its report and the answers the
    /// hooks recorded, as (operationId, status, media type).
    fn schemathesis(
        &self,
        definition: &str,
        caller: Caller,
    ) -> (process::Finished, Vec<(String, u16, String)>) {
        let root = Path::new(env!("CARGO_MANIFEST_DIR"));
        let st = root.join(".venv/bin/st");
        assert!(
            st.is_file(),
            "{} is missing: run scripts/setup-tests, which installs schemathesis into .venv",
            st.display()
        );
        let stem = Path::new(definition).file_stem().unwrap().to_string_lossy();
        let name = format!("{stem}-{caller:?}").to_lowercase();
        let answers = self.fixture.path().join(format!("answers-{name}.txt"));
        let work = self.fixture.subdir(&format!("schemathesis-{name}"));
        let mut command = Command::new(st);
        command
            .current_dir(&work)
            .env("SCHEMATHESIS_HOOKS", root.join("tests/contract/hooks.py"))
            .env("CONTRACT_PDFS", &self.pdf)
            .env("CONTRACT_SOURCE", format!("{CONTAINER}/{BLOB}"))
            .env("CONTRACT_JOB_IDS", &self.job_id)
            .env("CONTRACT_ANSWERS", &answers)
            .arg("--no-color")
            .arg("--config-file")
            .arg(root.join("tests/contract/schemathesis.toml"))
            .arg("run")
            .arg(root.join(definition))
            .args(["--url", &self.server.base_url])
            .args(["--checks", "all"])
            .args(["--seed", SEED])
            .args(["--generation-database", "none"])
            .args(["--request-timeout", "60"]);
        match caller {
            Caller::Connector => {
                command
                    .args(["--header", &format!("Authorization: Bearer {}", self.token)])
                    .args(["--max-examples", MAX_EXAMPLES]);
            }
            // Every answer is the same refusal, so a few requests of one phase judge it.
            Caller::Anonymous => {
                command.args(["--max-examples", "2", "--phases", "fuzzing"]);
            }
        }
        let finished = process::run(&mut command, RUN_LIMIT);
        let answers = std::fs::read_to_string(&answers)
            .unwrap_or_default()
            .lines()
            .filter_map(|line| {
                let mut parts = line.split(' ');
                let operation = parts.next()?.to_owned();
                let status = parts.next()?.parse().ok()?;
                let media_type = parts.next()?.to_owned();
                Some((operation, status, media_type))
            })
            .collect();
        (finished, answers)
    }

    /// Runs schemathesis on `definition` and prints its report and what each operation
    /// answered; `Err` says why the definition and the service disagree: schemathesis found
    /// something, or an answer in `expected` was never judged.
    fn check(
        &self,
        definition: &str,
        caller: Caller,
        expected: &[(&str, u16, &str)],
    ) -> Result<(), String> {
        let (finished, answers) = self.schemathesis(definition, caller);
        let report = format!("{}{}", finished.stdout_text(), finished.stderr_text());
        let table = answer_table(&answers);
        println!(
            "schemathesis on {definition}, {caller:?} caller ({}, {:.0} s):\n{report}",
            finished.ending(),
            finished.elapsed.as_secs_f64()
        );
        println!("answers judged, per operation:\n{table}");
        if finished.code() != Some(0) {
            return Err(format!(
                "schemathesis found answers of the service that {definition} does not document \
                 ({}, after {:.0} s); its report:\n{report}\nanswers per operation:\n{table}\n\
                 the server's last lines:\n{}",
                finished.ending(),
                finished.elapsed.as_secs_f64(),
                self.server.log_tail()
            ));
        }
        let seen: BTreeSet<(&str, u16, &str)> = answers
            .iter()
            .map(|(operation, status, media_type)| {
                (operation.as_str(), *status, media_type.as_str())
            })
            .collect();
        let missing: Vec<_> = expected
            .iter()
            .filter(|answer| !seen.contains(answer))
            .collect();
        if !missing.is_empty() {
            return Err(format!(
                "schemathesis passed on {definition}, but never judged these answers: \
                 {missing:?}; answers per operation:\n{table}"
            ));
        }
        Ok(())
    }
}

/// One line per operation: each status and media type it answered, with how often.
fn answer_table(answers: &[(String, u16, String)]) -> String {
    let mut counts: BTreeMap<&str, BTreeMap<(u16, &str), usize>> = BTreeMap::new();
    for (operation, status, media_type) in answers {
        *counts
            .entry(operation.as_str())
            .or_default()
            .entry((*status, media_type.as_str()))
            .or_default() += 1;
    }
    counts
        .iter()
        .map(|(operation, statuses)| {
            let total: usize = statuses.values().sum();
            let list: Vec<String> = statuses
                .iter()
                .map(|((status, media_type), count)| format!("{status} {media_type} x{count}"))
                .collect();
            format!("  {operation} ({total} requests): {}\n", list.join(", "))
        })
        .collect()
}

/// Who schemathesis calls as.
#[derive(Clone, Copy, Debug)]
enum Caller {
    /// With the connector's token: every answer there is.
    Connector,
    /// Without a token: the 401 of every operation but health. (Schemathesis' `ignored_auth`
    /// check also drops the token on the connector's requests, but does not judge the answer.)
    Anonymous,
}

/// The success answer of each connector operation.
const CONNECTOR_ANSWERS: &[(&str, u16, &str)] = &[
    ("SealPdf", 200, "application/pdf"),
    ("SealBlobPdf", 202, "application/json"),
    ("GetSealJob", 200, "application/json"),
    ("TestConnection", 200, "application/json"),
];

/// The refusal of each connector operation to a caller without a token.
const ANONYMOUS_ANSWERS: &[(&str, u16, &str)] = &[
    ("SealPdf", 401, "application/problem+json"),
    ("SealBlobPdf", 401, "application/problem+json"),
    ("GetSealJob", 401, "application/problem+json"),
    ("TestConnection", 401, "application/problem+json"),
];

#[test]
fn every_answer_to_requests_made_from_the_definitions_is_documented() {
    let setup = Setup::start();
    let swagger = "connector/apiDefinition.swagger.json";
    let openapi = "openapi/openapi.json";
    let mut openapi_answers = CONNECTOR_ANSWERS.to_vec();
    openapi_answers.extend([
        ("SealPdf", 200, "application/json"),
        ("GetHealth", 200, "application/json"),
        ("GetOpenApiDocument", 200, "application/json"),
    ]);

    let outcomes = [
        setup.check(swagger, Caller::Connector, CONNECTOR_ANSWERS),
        setup.check(swagger, Caller::Anonymous, ANONYMOUS_ANSWERS),
        setup.check(openapi, Caller::Connector, &openapi_answers),
        setup.check(openapi, Caller::Anonymous, ANONYMOUS_ANSWERS),
    ];

    // Every run is judged before any failure is reported.
    let failures: Vec<String> = outcomes.into_iter().filter_map(Result::err).collect();
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}
