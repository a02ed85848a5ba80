//! The offline checks of the contract files (DESIGN.md sections 7 and 9): swagger-cli, Spectral
//! with `spectral:oas` and our Power Platform rules, openapi-spec-validator, and
//! check-jsonschema against the PowerPlatformConnectors schemas. Each check runs on the
//! checked-in files, and on a copy broken on purpose, to show that it can fail.
//!
//! The broken copies are the checked-in files with one change each, written to a temporary
//! directory beside a `MADE-BY.txt` that lists the changes. `paconn validate` and `pac` need a
//! Power Platform login and do not run here.

mod support;

use std::path::{Path, PathBuf};

use serde_json::{Value, json};
use tempfile::TempDir;

use support::connector_tools::{
    Copies, Finding, check_jsonschema, openapi_spec_validator, remove, root, set, spectral,
    swagger_cli,
};
use support::power_platform_schema::{
    PATCHES, Patch, Schema, published, strip_line_comments, write_patched,
};

/// The warnings of `spectral:oas` that we accept on purpose, with the reason; any other
/// warning fails the test, and so does an accepted one that no longer shows.
const ACCEPTED_WARNINGS: [(&str, &str); 1] = [(
    "info-contact",
    "the contact is the organisation that deploys the connector, which the `connector` \
     command does not know; the platform's schema of the definition does not require one",
)];

fn connector_file(name: &str) -> PathBuf {
    root().join("connector").join(name)
}

const SEAL: &str = "/paths/~1api~1seal/post";
const SEAL_BLOB: &str = "/paths/~1api~1seal-jobs/post";

// swagger-cli

#[test]
fn swagger_cli_finds_the_api_definition_valid() {
    let ran = swagger_cli(&connector_file("apiDefinition.swagger.json"));

    assert_eq!(
        ran.code(),
        Some(0),
        "{}{}",
        ran.stdout_text(),
        ran.stderr_text()
    );
    assert!(
        ran.stdout_text().contains("is valid"),
        "{}",
        ran.stdout_text()
    );
}

#[test]
fn swagger_cli_rejects_a_definition_with_a_reference_to_nothing() {
    let mut copies = Copies::new();
    let broken = copies.write(
        "bad-ref.swagger.json",
        &connector_file("apiDefinition.swagger.json"),
        "a response schema that refers to a missing definition",
        |document| {
            set(
                document,
                &format!("{SEAL}/responses/400/schema"),
                json!({"$ref": "#/definitions/Missing"}),
            )
        },
    );

    let ran = swagger_cli(&broken);

    assert_eq!(
        ran.code(),
        Some(1),
        "{}{}",
        ran.stdout_text(),
        ran.stderr_text()
    );
    assert!(
        ran.stderr_text()
            .contains("Token \"definitions\" does not exist"),
        "{}",
        ran.stderr_text()
    );
}

// Spectral

#[test]
fn spectral_finds_no_error_and_no_unaccepted_warning_in_the_api_definition() {
    let findings = spectral(&[&connector_file("apiDefinition.swagger.json")]);

    let accepted = |finding: &Finding| {
        finding.severity == 1
            && ACCEPTED_WARNINGS
                .iter()
                .any(|(code, _)| finding.code == *code)
    };
    let refused: Vec<&Finding> = findings
        .iter()
        .filter(|finding| finding.severity <= 1 && !accepted(finding))
        .collect();
    assert!(refused.is_empty(), "{refused:#?}");
    for (code, reason) in ACCEPTED_WARNINGS {
        assert!(
            findings.iter().any(|finding| finding.code == code),
            "the accepted warning {code} no longer shows: drop it from ACCEPTED_WARNINGS \
             (accepted because {reason})"
        );
    }
}

/// One change to the API definition, and the rule that must report it.
struct Breakage {
    file: &'static str,
    how: &'static str,
    rule: &'static str,
    change: fn(&mut Value),
}

const BREAKAGES: [Breakage; 13] = [
    Breakage {
        file: "final-period.json",
        how: "a summary with a final period",
        rule: "pp-summary-ending",
        change: |d| set(d, &format!("{SEAL}/summary"), json!("Seal PDF.")),
    },
    Breakage {
        file: "visibility-hidden.json",
        how: "an x-ms-visibility of hidden",
        rule: "pp-visibility-values",
        change: |d| set(d, &format!("{SEAL}/x-ms-visibility"), json!("hidden")),
    },
    Breakage {
        file: "parameter-without-summary.json",
        how: "a parameter without x-ms-summary",
        rule: "pp-parameter-summary",
        change: |d| remove(d, &format!("{SEAL}/parameters/0/x-ms-summary")),
    },
    Breakage {
        file: "long-summary.json",
        how: "a summary of 81 characters",
        rule: "pp-summary-length",
        change: |d| {
            set(
                d,
                &format!("{SEAL}/summary"),
                json!(format!("Seal {}", "a".repeat(76))),
            )
        },
    },
    Breakage {
        file: "title-case.json",
        how: "a summary in title case",
        rule: "pp-summary-sentence-case",
        change: |d| set(d, &format!("{SEAL}/summary"), json!("Seal A PDF Document")),
    },
    Breakage {
        file: "lowercase-summary.json",
        how: "a summary that starts in lowercase",
        rule: "pp-summary-sentence-case",
        change: |d| set(d, &format!("{SEAL}/summary"), json!("seal PDF")),
    },
    Breakage {
        file: "slash.json",
        how: "a summary with a slash",
        rule: "pp-summary-no-slash",
        change: |d| set(d, &format!("{SEAL}/summary"), json!("Seal PDF or PDF/A")),
    },
    Breakage {
        file: "no-summary.json",
        how: "an operation without summary",
        rule: "pp-operation-summary",
        change: |d| remove(d, &format!("{SEAL}/summary")),
    },
    Breakage {
        file: "no-description.json",
        how: "an operation without description",
        rule: "pp-operation-description",
        change: |d| remove(d, &format!("{SEAL}/description")),
    },
    Breakage {
        file: "camel-case-id.json",
        how: "an operationId in camelCase",
        rule: "pp-operation-id-pascal-case",
        change: |d| set(d, &format!("{SEAL}/operationId"), json!("sealPdf")),
    },
    Breakage {
        file: "parameter-without-description.json",
        how: "a parameter without description",
        rule: "pp-parameter-description",
        change: |d| remove(d, &format!("{SEAL}/parameters/0/description")),
    },
    Breakage {
        file: "property-without-summary.json",
        how: "a body property without x-ms-summary",
        rule: "pp-property-summary",
        change: |d| {
            remove(
                d,
                &format!("{SEAL_BLOB}/parameters/1/schema/properties/overwrite/x-ms-summary"),
            )
        },
    },
    Breakage {
        file: "property-without-description.json",
        how: "a response property without description",
        rule: "pp-property-description",
        change: |d| {
            remove(
                d,
                &format!("{SEAL}/responses/400/schema/properties/detail/description"),
            )
        },
    },
];

#[test]
fn spectral_reports_each_broken_power_platform_rule_as_an_error() {
    let mut copies = Copies::new();
    let original = connector_file("apiDefinition.swagger.json");
    let mut files = Vec::new();
    for breakage in &BREAKAGES {
        files.push(copies.write(breakage.file, &original, breakage.how, breakage.change));
    }
    // A rule of `spectral:oas` itself, to show that the ruleset extends it.
    let duplicate = copies.write(
        "duplicate-id.json",
        &original,
        "two operations with the same operationId",
        |d| {
            set(
                d,
                "/paths/~1api~1connection/get/operationId",
                json!("SealPdf"),
            )
        },
    );
    files.push(duplicate.clone());

    let paths: Vec<&Path> = files.iter().map(PathBuf::as_path).collect();
    let findings = spectral(&paths);

    let errors_in = |file: &Path| -> Vec<&str> {
        let file = file.to_string_lossy();
        findings
            .iter()
            .filter(|finding| finding.source == file && finding.severity == 0)
            .map(|finding| finding.code.as_str())
            .collect()
    };
    for (breakage, file) in BREAKAGES.iter().zip(&files) {
        assert!(
            errors_in(file).contains(&breakage.rule),
            "{} should be an error of {}, Spectral said {:?} (copies in {})",
            breakage.how,
            breakage.rule,
            errors_in(file),
            copies.path().display()
        );
    }
    assert!(
        errors_in(&duplicate).contains(&"operation-operationId-unique"),
        "{:?}",
        errors_in(&duplicate)
    );
}

// openapi-spec-validator

#[test]
fn openapi_spec_validator_finds_the_openapi_document_and_the_api_definition_valid() {
    for file in [
        root().join("openapi/openapi.json"),
        connector_file("apiDefinition.swagger.json"),
    ] {
        let ran = openapi_spec_validator(&file);

        assert_eq!(
            ran.code(),
            Some(0),
            "{}: {}{}",
            file.display(),
            ran.stdout_text(),
            ran.stderr_text()
        );
        assert!(
            ran.stdout_text().trim_end().ends_with(": OK"),
            "{}",
            ran.stdout_text()
        );
    }
}

#[test]
fn openapi_spec_validator_rejects_documents_with_a_reference_to_nothing() {
    let mut copies = Copies::new();
    let openapi = copies.write(
        "bad-ref.openapi.json",
        &root().join("openapi/openapi.json"),
        "a response schema that refers to a missing component",
        |d| {
            set(
                d,
                &format!("{SEAL}/responses/400/content/application~1problem+json/schema"),
                json!({"$ref": "#/components/schemas/Missing"}),
            )
        },
    );
    let swagger = copies.write(
        "bad-ref.swagger.json",
        &connector_file("apiDefinition.swagger.json"),
        "a response schema that refers to a missing definition",
        |d| {
            set(
                d,
                &format!("{SEAL}/responses/400/schema"),
                json!({"$ref": "#/definitions/Missing"}),
            )
        },
    );

    for (file, missing) in [
        (openapi, "'/components/schemas/Missing' does not exist"),
        (swagger, "'/definitions/Missing' does not exist"),
    ] {
        let ran = openapi_spec_validator(&file);

        assert!(
            ran.code().is_some_and(|code| code != 0),
            "{}: {}",
            file.display(),
            ran.ending()
        );
        assert!(
            ran.stdout_text().contains(missing),
            "{}{}",
            ran.stdout_text(),
            ran.stderr_text()
        );
    }
}

// check-jsonschema against the PowerPlatformConnectors schemas

#[test]
fn the_connector_files_match_the_patched_power_platform_schemas() {
    let dir = TempDir::new().unwrap();
    let patches: Vec<&Patch> = PATCHES.iter().collect();

    for schema in Schema::ALL {
        let schema_file = write_patched(schema, &patches, dir.path());
        let ran = check_jsonschema(&schema_file, &connector_file(schema.judges()));

        assert_eq!(
            ran.code(),
            Some(0),
            "{} against {}: {}{}",
            schema.judges(),
            schema.file_name(),
            ran.stdout_text(),
            ran.stderr_text()
        );
        assert!(
            ran.stdout_text().contains("ok -- validation done"),
            "{}",
            ran.stdout_text()
        );
    }
}

#[test]
fn each_schema_patch_is_still_needed() {
    let dir = TempDir::new().unwrap();

    for (index, patch) in PATCHES.iter().enumerate() {
        let others: Vec<&Patch> = PATCHES
            .iter()
            .enumerate()
            .filter(|(other, _)| *other != index)
            .map(|(_, other)| other)
            .collect();
        let schema_file = write_patched(patch.schema, &others, dir.path());
        let ran = check_jsonschema(&schema_file, &connector_file(patch.schema.judges()));

        assert_eq!(
            ran.code(),
            Some(1),
            "without the patch {} gains {} ({}), {} should fail: drop the patch if the schema \
             has caught up ({})",
            patch.pointer,
            patch.value,
            patch.reason,
            patch.schema.judges(),
            ran.ending()
        );
        assert!(
            ran.stdout_text().contains(patch.rejection),
            "without the patch for {}, the rejection should name it ({}): {}",
            patch.value,
            patch.rejection,
            ran.stdout_text()
        );
    }
}

#[test]
fn check_jsonschema_rejects_broken_connector_files() {
    let dir = TempDir::new().unwrap();
    let patches: Vec<&Patch> = PATCHES.iter().collect();
    let mut copies = Copies::new();
    let cases = [
        (
            Schema::ApiProperties,
            copies.write(
                "no-brand-colour.json",
                &connector_file("apiProperties.json"),
                "no iconBrandColor",
                |d| remove(d, "/properties/iconBrandColor"),
            ),
            "'iconBrandColor' is a required property",
        ),
        (
            Schema::ApiDefinition,
            copies.write(
                "visibility-hidden.json",
                &connector_file("apiDefinition.swagger.json"),
                "an x-ms-visibility of hidden",
                |d| set(d, &format!("{SEAL}/x-ms-visibility"), json!("hidden")),
            ),
            "'hidden' is not one of ['important', 'advanced', 'internal']",
        ),
        (
            Schema::Settings,
            copies.write(
                "unknown-api-version.json",
                &connector_file("settings.json"),
                "a powerAppsApiVersion the schema does not list",
                |d| set(d, "/powerAppsApiVersion", json!("2023-01-01")),
            ),
            "'2023-01-01' is not one of ['2016-11-01']",
        ),
    ];

    for (schema, broken, rejection) in cases {
        let schema_file = write_patched(schema, &patches, dir.path());
        let ran = check_jsonschema(&schema_file, &broken);

        assert_eq!(
            ran.code(),
            Some(1),
            "{}: {}",
            broken.display(),
            ran.ending()
        );
        assert!(
            ran.stdout_text().contains(rejection),
            "{}{}",
            ran.stdout_text(),
            ran.stderr_text()
        );
    }
}

#[test]
fn the_published_schemas_read_as_json_once_their_comments_are_stripped() {
    for schema in Schema::ALL {
        let document = published(schema);

        assert!(
            document["$schema"].as_str().is_some(),
            "{}",
            schema.file_name()
        );
    }
    let settings = published(Schema::Settings);
    assert_eq!(
        settings["properties"]["powerAppsUrl"]["default"],
        "https://api.powerapps.com"
    );
}

#[test]
fn comment_stripping_keeps_slashes_inside_strings() {
    let text =
        "{\"url\": \"https://host/a\", // a comment\n \"quote\": \"\\\"//\\\"\" // another\n}";

    let stripped = strip_line_comments(text);

    let value: Value = serde_json::from_str(&stripped).unwrap();
    assert_eq!(value["url"], "https://host/a");
    assert_eq!(value["quote"], "\"//\"");
    assert!(!stripped.contains("comment"), "{stripped}");
}
