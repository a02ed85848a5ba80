//! The connector's operations sent through the handler as the host forwards them: SealPdf,
//! SealBlobPdf followed by GetSealJob, and TestConnection, each judged as the connector and
//! the validators would.

use std::path::Path;
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use super::Deployment;
use super::support::connector_api::{Operation, operation};
use super::support::functions_app::WEBSITE_HOSTNAME;
use super::support::jobs::{check_problem, check_success, corpus};
use super::support::server::Reply;
use super::support::validators::Validators;

/// The name a flow run gives its calls' `Idempotency-Key` (`workflow()['run']['name']`).
const RUN_NAME: &str = "08584601920000000000000000000CU12";

/// How long a blob job may take to end.
const JOB_LIMIT: Duration = Duration::from_secs(120);

/// The content type the connector sends a body parameter with: the operation's first
/// `consumes`.
fn consumes(operation: &Operation) -> String {
    let consumes = &operation.spec["consumes"][0];
    consumes
        .as_str()
        .unwrap_or_else(|| panic!("{} consumes nothing: {}", operation.id, operation.spec))
        .to_owned()
}

/// Checks that `operation` declares each of `names` `in` `place`.
fn check_declares(operation: &Operation, place: &str, names: &[&str]) {
    let declared = operation.parameters_in(place);
    for name in names {
        assert!(
            declared.iter().any(|declared| declared == name),
            "{} declares no {place} parameter {name}: {declared:?}",
            operation.id
        );
    }
}

#[test]
fn seal_pdf_answers_the_sealed_pdf_with_the_options_of_its_query() {
    let deployment = Deployment::start();
    let seal = operation("SealPdf");
    let options = [
        ("reason", "Approved by the flow"),
        ("location", "Zürich"),
        ("contactInfo", "seal-desk@example.test"),
        ("fieldName", "FlowSeal"),
        ("digest", "sha384"),
    ];
    check_declares(&seal, "query", &options.map(|(name, _)| name));
    let query = url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs(options)
        .finish();
    let original = Path::new(env!("CARGO_MANIFEST_DIR")).join("samples/delivery-note.pdf");
    let input = std::fs::read(&original).unwrap();
    let bearer = deployment.bearer();
    let content_type = consumes(&seal);

    let reply = deployment.forward(
        seal.http_method(),
        &format!("{}?{query}", seal.path),
        &[("Authorization", &bearer), ("Content-Type", &content_type)],
        input.clone(),
    );

    let text = String::from_utf8_lossy(&reply.body);
    assert_eq!(reply.status, 200, "{text}");
    assert_eq!(
        reply.header("content-type").as_deref(),
        Some("application/pdf")
    );
    assert_eq!(
        reply.header("x-seal-field-name").as_deref(),
        Some("FlowSeal")
    );
    let digest = hex::encode(Sha256::digest(&reply.body));
    assert_eq!(reply.header("x-seal-document-sha256"), Some(digest));
    assert!(
        reply.body.starts_with(&input),
        "the original bytes are not kept"
    );

    let sealed = deployment.fixture.path().join("sealed.pdf");
    std::fs::write(&sealed, &reply.body).unwrap();
    let validators = Validators::find();
    let verdict = validators.validate(&sealed, &original, &[&deployment.fixture.root_ca]);
    assert!(
        verdict.passed,
        "the sealed PDF does not validate:\n{}",
        verdict.report
    );
    let facts = validators.newest_signature_facts(&sealed);
    assert_eq!(facts["field"], "FlowSeal", "{facts}");
    assert_eq!(facts["digest"], "sha384", "{facts}");
    assert_eq!(facts["reason"], "Approved by the flow", "{facts}");
    assert_eq!(facts["location"], "Zürich", "{facts}");
    assert_eq!(facts["contact"], "seal-desk@example.test", "{facts}");
    eprintln!(
        "SealPdf: {} bytes in, {} bytes out; validate-pdf:\n{}",
        input.len(),
        reply.body.len(),
        verdict.report.trim()
    );
}

#[test]
fn seal_blob_pdf_answers_202_on_the_public_host_and_get_seal_job_follows_it_to_the_sealed_blob() {
    let deployment = Deployment::start();
    let start = operation("SealBlobPdf");
    let status = operation("GetSealJob");
    check_declares(&start, "header", &["Idempotency-Key"]);
    let input = corpus("pk__pdfa_graph_ocred.pdf");
    let source = deployment.blob_path("inbox", "q3/graph.pdf");
    std::fs::create_dir_all(source.parent().unwrap()).unwrap();
    std::fs::copy(&input, &source).unwrap();
    std::fs::create_dir_all(deployment.blob_path("sealed", "")).unwrap();
    let body = json!({
        "source": {"container": "inbox", "blob": "q3/graph.pdf"},
        "destination": {"container": "sealed", "blob": "q3/graph.pdf"},
        "reason": "Filed by the flow",
    });
    let bearer = deployment.bearer();
    let content_type = consumes(&start);
    let headers = [
        ("Authorization", bearer.as_str()),
        ("Content-Type", content_type.as_str()),
        ("Idempotency-Key", RUN_NAME),
    ];
    let method = start.http_method();
    let send = || {
        let body = serde_json::to_vec(&body).unwrap();
        deployment.forward(method.clone(), &start.path, &headers, body)
    };

    let accepted = send();
    // The platform retries a call whose answer it lost; the key makes it the same job.
    let retried = send();

    let path = status_path(&accepted, &status);
    assert_eq!(
        status_path(&retried, &status),
        path,
        "a retry made another job"
    );
    let finished = follow(&deployment, &status, &path, &bearer);
    let output = deployment.blob_path("sealed", "q3/graph.pdf");
    let validators = Validators::find();
    let job = check_success(&finished, &output, &input, &deployment.fixture, &validators);
    for key in [
        "id",
        "status",
        "source",
        "destination",
        "createdAt",
        "finishedAt",
        "attempts",
        "sizeBytes",
        "sha256",
        "fieldName",
        "timings",
    ] {
        assert!(job.get(key).is_some(), "the job has no {key}: {job}");
    }
    assert!(
        path.ends_with(&format!("/{}", job["id"].as_str().unwrap())),
        "{path}: {job}"
    );
    eprintln!(
        "SealBlobPdf: {} bytes in, {} bytes out (job {}, {} attempt(s), {} ms); validate-pdf: PASS",
        std::fs::metadata(&input).unwrap().len(),
        job["sizeBytes"],
        job["id"],
        job["attempts"],
        job["timings"]["totalMs"]
    );
}

/// The status URL of a 202 checked as the platform uses it: on the public host, not the
/// loopback address the host forwards to; of the GetSealJob operation; with `Retry-After` in
/// seconds. Returned as the path, which the host forwards unchanged.
fn status_path(reply: &Reply, status: &Operation) -> String {
    let text = String::from_utf8_lossy(&reply.body);
    assert_eq!(reply.status, 202, "{text}");
    let location = reply.header("location").expect("a 202 without Location");
    let public = format!("https://{WEBSITE_HOSTNAME}");
    let path = location
        .strip_prefix(&public)
        .unwrap_or_else(|| panic!("Location {location} is not on the public host {public}"));
    assert!(
        status.matches(path),
        "Location {location} is not {}",
        status.path
    );
    let retry_after = reply
        .header("retry-after")
        .expect("a 202 without Retry-After");
    assert_eq!(retry_after, "5", "the default Retry-After");
    path.to_owned()
}

/// Asks GetSealJob at `path` until it answers other than 202, as the platform polls; every
/// 202 must keep the same status URL.
fn follow(deployment: &Deployment, status: &Operation, path: &str, bearer: &str) -> Reply {
    let method = status.http_method();
    let started = Instant::now();
    loop {
        let reply = deployment.forward(
            method.clone(),
            path,
            &[("Authorization", bearer)],
            Vec::new(),
        );
        if reply.status != 202 {
            return reply;
        }
        assert_eq!(
            status_path(&reply, status),
            path,
            "a 202 moved the status URL"
        );
        assert!(
            started.elapsed() < JOB_LIMIT,
            "the job at {path} is still pending; the handler's log:\n{}",
            deployment.server().log_tail()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn test_connection_answers_ok_with_the_connectors_token_and_401_without() {
    let deployment = Deployment::start();
    let test = operation("TestConnection");
    let method = test.http_method();
    let bearer = deployment.bearer();

    let with = deployment.forward(
        method.clone(),
        &test.path,
        &[("Authorization", &bearer)],
        Vec::new(),
    );
    let without = deployment.forward(method, &test.path, &[], Vec::new());

    let answer: Value = with.json();
    assert_eq!(with.status, 200, "{answer}");
    assert_eq!(answer["status"], "ok", "{answer}");
    assert_eq!(answer["version"], env!("CARGO_PKG_VERSION"), "{answer}");
    assert_eq!(answer["blobMode"], true, "{answer}");
    check_problem(&without, 401, "authentication-required", "");
    let challenge = without.header("www-authenticate").unwrap_or_default();
    assert!(challenge.starts_with("Bearer "), "{challenge}");
}
