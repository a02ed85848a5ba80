//! The contract files against the code: the checked-in OpenAPI document and connector package
//! are what the code generates now, and the running service serves the same document. A
//! change to the API shows in review as a change to these files.
//!
//! To bring the files up to date after a change: `cargo run -- openapi --out
//! openapi/openapi.json` and `cargo run -- connector --out connector`.

mod support;

use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

use support::fixture::{Fixture, binary};
use support::process::run;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

const FIX: &str = "run `cargo run -- openapi --out openapi/openapi.json` and \
                   `cargo run -- connector --out connector`, and review the difference";

#[test]
fn the_checked_in_openapi_document_is_what_the_code_generates() {
    let fixture = Fixture::new();
    let out = fixture.path().join("openapi.json");

    let finished = run(
        Command::new(binary()).args(["openapi", "--out"]).arg(&out),
        Duration::from_secs(30),
    );

    assert_eq!(finished.code(), Some(0), "{}", finished.ending());
    let generated = std::fs::read_to_string(&out).unwrap();
    let checked_in = std::fs::read_to_string(root().join("openapi/openapi.json")).unwrap();
    assert!(
        generated == checked_in,
        "openapi/openapi.json differs from the code: {FIX}"
    );
    let document: serde_json::Value = serde_json::from_str(&generated).unwrap();
    assert_eq!(document["openapi"], "3.1.0");
}

#[test]
fn the_checked_in_connector_package_is_what_the_code_generates() {
    let fixture = Fixture::new();
    let out = fixture.path().join("package");

    let finished = run(
        Command::new(binary())
            .args(["connector", "--out"])
            .arg(&out),
        Duration::from_secs(30),
    );

    assert_eq!(finished.code(), Some(0), "{}", finished.ending());
    let mut names: Vec<String> = std::fs::read_dir(&out)
        .unwrap()
        .map(|entry| entry.unwrap().file_name().into_string().unwrap())
        .collect();
    names.sort();
    assert_eq!(
        names,
        [
            "README.md",
            "apiDefinition.swagger.json",
            "apiProperties.json",
            "icon.png",
            "settings.json"
        ]
    );
    for name in &names {
        let generated = std::fs::read(out.join(name)).unwrap();
        let checked_in = std::fs::read(root().join("connector").join(name)).unwrap();
        assert!(
            generated == checked_in,
            "connector/{name} differs from the code: {FIX}"
        );
    }
}

#[test]
fn the_api_definition_is_swagger_2_under_one_megabyte() {
    let bytes = std::fs::read(root().join("connector/apiDefinition.swagger.json")).unwrap();

    let definition: serde_json::Value = serde_json::from_slice(&bytes).unwrap();

    assert!(bytes.len() < 1_000_000, "{} bytes", bytes.len());
    assert_eq!(definition["swagger"], "2.0");
    assert!(definition.get("openapi").is_none());
}

#[test]
fn the_connector_command_fills_in_the_deployment_and_refuses_bad_values() {
    let fixture = Fixture::new();
    let out = fixture.path().join("package");
    let client_id = "11111111-2222-3333-4444-555555555555";

    let finished = run(
        Command::new(binary())
            .args(["connector", "--host", "contoso-seal.azurewebsites.net"])
            .args([
                "--client-id",
                client_id,
                "--resource-uri",
                "api://contoso-seal",
            ])
            .args(["--tenant", "aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee", "--out"])
            .arg(&out),
        Duration::from_secs(30),
    );
    let refused = run(
        Command::new(binary())
            .args([
                "connector",
                "--host",
                "https://contoso-seal.azurewebsites.net/api",
                "--out",
            ])
            .arg(fixture.path().join("refused")),
        Duration::from_secs(30),
    );

    assert_eq!(finished.code(), Some(0), "{}", finished.ending());
    let read = |name: &str| -> serde_json::Value {
        serde_json::from_slice(&std::fs::read(out.join(name)).unwrap()).unwrap()
    };
    let definition = read("apiDefinition.swagger.json");
    let properties = read("apiProperties.json");
    let oauth = &properties["properties"]["connectionParameters"]["token"]["oAuthSettings"];
    assert_eq!(definition["host"], "contoso-seal.azurewebsites.net");
    assert_eq!(oauth["clientId"], client_id);
    assert_eq!(
        oauth["customParameters"]["resourceUri"]["value"],
        "api://contoso-seal"
    );
    assert_eq!(
        oauth["customParameters"]["tenantId"]["value"],
        "aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee"
    );
    assert_eq!(refused.code(), Some(2), "{}", refused.ending());
    assert!(
        refused.stderr_text().contains("--host"),
        "{}",
        refused.ending()
    );
    assert!(!fixture.path().join("refused").exists());
}

#[test]
fn writing_the_package_again_keeps_the_deployment_settings_and_warns_of_placeholders() {
    use std::os::unix::fs::PermissionsExt as _;
    let fixture = Fixture::new();
    let out = fixture.path().join("package");
    let connector = |extra: &[&str]| {
        run(
            Command::new(binary())
                .arg("connector")
                .args(extra)
                .arg("--out")
                .arg(&out),
            Duration::from_secs(30),
        )
    };
    let environment = "aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee";

    let first = connector(&["--host", "seal.contoso.com"]);
    let settings_path = out.join("settings.json");
    let mut settings: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&settings_path).unwrap()).unwrap();
    settings["environment"] = environment.into();
    settings["connectorId"] = "shared_pdf-20seal-5f0123456789abcdef".into();
    std::fs::write(&settings_path, serde_json::to_vec(&settings).unwrap()).unwrap();
    let second = connector(&[
        "--host",
        "seal.contoso.com",
        "--client-id",
        "11111111-2222-3333-4444-555555555555",
        "--resource-uri",
        "api://contoso-seal",
    ]);

    assert_eq!(first.code(), Some(0), "{}", first.ending());
    let warning = first.stderr_text();
    assert!(
        warning.contains("placeholders for --client-id, --resource-uri"),
        "{warning}"
    );
    assert_eq!(second.code(), Some(0), "{}", second.ending());
    assert!(second.stderr_text().is_empty(), "{}", second.ending());
    let kept: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&settings_path).unwrap()).unwrap();
    assert_eq!(kept["environment"], environment);
    assert_eq!(kept["connectorId"], "shared_pdf-20seal-5f0123456789abcdef");
    assert_eq!(kept["apiDefinition"], "apiDefinition.swagger.json");
    let mode = std::fs::metadata(&settings_path)
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o644);
}

#[test]
fn an_output_that_is_not_a_directory_is_refused() {
    let fixture = Fixture::new();
    let file = fixture.path().join("a-file");
    std::fs::write(&file, b"mine").unwrap();

    let refused = run(
        Command::new(binary())
            .args(["connector", "--out"])
            .arg(&file),
        Duration::from_secs(30),
    );

    assert_eq!(refused.code(), Some(2), "{}", refused.ending());
    assert!(
        refused.stderr_text().contains("is not a directory"),
        "{}",
        refused.ending()
    );
    assert_eq!(std::fs::read(&file).unwrap(), b"mine");
}

#[test]
fn a_closed_standard_output_is_an_error_not_a_panic() {
    let fixture = Fixture::new();
    for args in [&["openapi"][..], &["connector", "--out", "package"]] {
        let mut child = Command::new(binary())
            .args(args)
            .current_dir(fixture.path())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        drop(child.stdout.take());

        let output = child.wait_with_output().unwrap();

        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(1), "{args:?}: {stderr}");
        assert!(
            stderr.contains("cannot write to standard output"),
            "{args:?}: {stderr}"
        );
        assert!(!stderr.contains("panicked"), "{args:?}: {stderr}");
    }
}

#[test]
fn the_service_serves_the_checked_in_openapi_document() {
    let fixture = Fixture::new();
    let server = fixture.serve();

    let reply = server
        .send(reqwest::Method::GET, "/api/openapi.json", &[], Vec::new())
        .unwrap();

    assert_eq!(reply.status, 200);
    assert_eq!(
        reply.header("content-type").as_deref(),
        Some("application/json")
    );
    let checked_in = std::fs::read(root().join("openapi/openapi.json")).unwrap();
    assert!(
        reply.body == checked_in,
        "the served document differs from openapi/openapi.json"
    );
}
