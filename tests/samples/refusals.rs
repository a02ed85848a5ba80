//! The checks refuse what they guard against: each test breaks a copy of a real sample in
//! memory (a wrong operation, path, parameter or property) and expects a problem that names it.

use serde_json::Value;

use super::{connector, flows, name_of, power_apps_name, power_platform_name, problems, root};
use super::{scripts, unchecked};

/// The text of `samples/SAMPLE` with `from` replaced by `to`; `from` must be in it once.
fn broken(sample: &str, from: &str, to: &str) -> String {
    let text = super::read(&root().join("samples").join(sample));
    assert_eq!(
        text.matches(from).count(),
        1,
        "{sample} should hold {from:?} once"
    );
    text.replacen(from, to, 1)
}

/// Asserts that one of `found` mentions `name`.
fn assert_named(found: &[String], name: &str) {
    assert!(
        found.iter().any(|problem| problem.contains(name)),
        "no problem names {name:?}: {found:?}"
    );
}

fn flow_problems(sample: &str, text: &str) -> Vec<String> {
    let connector = connector();
    let flow: Value = serde_json::from_str(text).unwrap();
    let calls = flows::power_automate(sample, &flow, &power_platform_name(&connector)).unwrap();
    let mut found = problems(&connector, &calls.ours);
    found.extend(unchecked(&calls.foreign));
    found
}

fn workflow_problems(text: &str) -> Vec<String> {
    let workflow: Value = serde_json::from_str(text).unwrap();
    let calls = flows::logic_apps("workflow", &workflow).unwrap();
    problems(&connector(), &calls.ours)
}

#[test]
fn a_flow_naming_an_operation_the_connector_lacks_is_refused() {
    let sample = "power-automate/seal-sharepoint-file.json";
    let text = broken(
        sample,
        r#""operationId": "SealPdf""#,
        r#""operationId": "SealPDF""#,
    );

    assert_named(&flow_problems(sample, &text), "SealPDF");
}

#[test]
fn a_flow_passing_what_the_operation_lacks_or_reading_what_it_does_not_answer_is_refused() {
    let sharepoint = "power-automate/seal-sharepoint-file.json";
    let blob = "power-automate/seal-blob.json";
    let cases = [
        (
            sharepoint,
            r#""reason": "Issued"#,
            r#""reasons": "Issued"#,
            "reasons",
        ),
        (
            sharepoint,
            r#""inferContentType": true"#,
            r#""inferContent": true"#,
            "inferContent",
        ),
        (
            blob,
            r#""body/source/container""#,
            r#""body/source/containr""#,
            "containr",
        ),
        (
            blob,
            r#""body/destination/blob""#,
            r#""body/target/blob""#,
            "target",
        ),
        (
            blob,
            r#""body/source/blob""#,
            r#""body/reason/blob""#,
            "source/blob",
        ),
        (blob, "['body/sha256']", "['body/sha1']", "sha1"),
        (
            blob,
            r#""Idempotency-Key""#,
            r#""Idempotency-Token""#,
            "Idempotency-Token",
        ),
    ];
    for (sample, from, to, named) in cases {
        assert_named(&flow_problems(sample, &broken(sample, from, to)), named);
    }
}

#[test]
fn a_flow_whose_action_and_connection_reference_disagree_is_refused() {
    let sample = "power-automate/seal-sharepoint-file.json";
    let text = broken(
        sample,
        r#""connectionName": "shared_pdf-20seal""#,
        r#""connectionName": "pdfseal""#,
    );
    let flow: Value = serde_json::from_str(&text).unwrap();

    let error = flows::power_automate(sample, &flow, "shared_pdf-20seal-5f").unwrap_err();
    assert!(error.contains("pdfseal"), "{error}");
}

#[test]
fn a_workflow_calling_a_wrong_path_or_passing_what_the_operation_lacks_is_refused() {
    let sample = "logic-apps/seal-workflow.json";
    let cases = [
        (
            r#""path": "/api/seal-jobs""#,
            r#""path": "/api/seal-job""#,
            "/api/seal-job",
        ),
        (
            r#""method": "post",
                "path": "/api/seal""#,
            r#""method": "put",
                "path": "/api/seal""#,
            "put",
        ),
        (
            r#""container": "sealed""#,
            r#""containers": "sealed""#,
            "containers",
        ),
        (
            r#""queries": {
                  "reason""#,
            r#""queries": {
                  "reasons""#,
            "reasons",
        ),
        (
            r#""Idempotency-Key":"#,
            r#""Idempotency-Token":"#,
            "Idempotency-Token",
        ),
        ("?['sha256']", "?['sha1']", "sha1"),
    ];
    for (from, to, named) in cases {
        assert_named(&workflow_problems(&broken(sample, from, to)), named);
    }
}

#[test]
fn a_power_apps_call_of_a_missing_function_or_option_is_refused() {
    let sample = "power-apps/seal-button.pa.fx";
    let name = power_apps_name(&connector());
    let cases = [
        ("PDFSeal.SealPdf(", "PDFSeal.SealPDF(", "SealPDF"),
        (
            "reason: txtReason.Text",
            "reasons: txtReason.Text",
            "reasons",
        ),
        ("First(attPdf.Attachments).Value,\n", "", "required"),
    ];
    for (from, to, named) in cases {
        let text = broken(sample, from, to);
        let uses = scripts::power_apps(sample, &text, &name).unwrap();
        assert_named(&problems(&connector(), &uses), named);
    }
}

#[test]
fn a_curl_script_calling_a_wrong_path_or_passing_what_the_operation_lacks_is_refused() {
    let cases = [
        (
            "curl/seal-pdf.sh",
            r#""$base_url/api/seal""#,
            r#""$base_url/api/seals""#,
            "/api/seals",
        ),
        (
            "curl/seal-pdf.sh",
            r#""reason=$SEAL_REASON""#,
            r#""reasons=$SEAL_REASON""#,
            "reasons",
        ),
        (
            "curl/seal-blob-pdf.sh",
            r#""overwrite": %s"#,
            r#""overwrites": %s"#,
            "overwrites",
        ),
        (
            "curl/seal-blob-pdf.sh",
            "--header \"Idempotency-Key:",
            "--header \"Idem-Key:",
            "Idem-Key",
        ),
        (
            "curl/get-seal-job.sh",
            "/api/seal-jobs/$job_id",
            "/api/seal-job/$job_id",
            "seal-job/",
        ),
        (
            "curl/test-connection.sh",
            "--output",
            "--request POST --output",
            "POST",
        ),
    ];
    for (sample, from, to, named) in cases {
        let text = broken(sample, from, to);
        let name = name_of(&root().join("samples").join(sample));
        let using = scripts::curl(&name, &text).unwrap();
        assert_named(&problems(&connector(), &[using]), named);
    }
}
