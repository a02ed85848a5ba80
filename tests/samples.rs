//! The samples under `samples/` call only what the connector has: every operation, parameter,
//! body property and answer property they name is in `connector/apiDefinition.swagger.json`.
//! And each curl script works against a real `pdf-seal serve` on loopback, its sealed output
//! judged by the validators.

mod support;

#[path = "samples/flows.rs"]
mod flows;
#[path = "samples/live.rs"]
mod live;
#[path = "samples/refusals.rs"]
mod refusals;
#[path = "samples/scripts.rs"]
mod scripts;
#[path = "samples/uses.rs"]
mod uses;

use std::path::{Path, PathBuf};

use serde_json::Value;

use flows::{Calls, ForeignCall};
use support::connector_api::Connector;
use uses::Use;

/// The operations of Microsoft's connectors that the flows call, with every parameter they
/// pass, as flows exported from Power Automate call them (samples/README.md names the exports
/// these were read from). A flow that calls anything else needs its shape checked first.
const CHECKED_FOREIGN_OPERATIONS: [(&str, &str, &[&str]); 4] = [
    (
        "shared_sharepointonline",
        "GetOnNewFileItems",
        &["dataset", "table", "folderPath"],
    ),
    (
        "shared_sharepointonline",
        "GetFileContent",
        &["dataset", "id", "inferContentType"],
    ),
    (
        "shared_sharepointonline",
        "CreateFile",
        &["dataset", "folderPath", "name", "body"],
    ),
    (
        "shared_azureblob",
        "OnUpdatedFiles_V2",
        &["dataset", "folderId"],
    ),
];

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn connector() -> Connector {
    Connector::load(&root().join("connector/apiDefinition.swagger.json"))
}

/// The internal name Power Platform gives a custom connector, up to the suffix that differs in
/// each environment: `shared_`, the title in lower case with a space written `-20`, then `-5f`
/// (an underscore) before the suffix. "PDF Seal" gives `shared_pdf-20seal-5f`.
fn power_platform_name(connector: &Connector) -> String {
    let title = connector.title.to_lowercase().replace(' ', "-20");
    format!("shared_{title}-5f")
}

/// The name of the connector's data source in Power Apps: its title without spaces.
fn power_apps_name(connector: &Connector) -> String {
    connector.title.replace(' ', "")
}

/// The files in `samples/DIR` whose names end with `suffix`, sorted.
fn samples(dir: &str, suffix: &str) -> Vec<PathBuf> {
    let dir = root().join("samples").join(dir);
    let entries = std::fs::read_dir(&dir).unwrap_or_else(|err| panic!("{}: {err}", dir.display()));
    let mut files: Vec<PathBuf> = entries
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.to_string_lossy().ends_with(suffix))
        .collect();
    files.sort();
    assert!(!files.is_empty(), "no *{suffix} in {}", dir.display());
    files
}

/// `power-automate/seal-blob.json`, for messages.
fn name_of(file: &Path) -> String {
    let relative = file.strip_prefix(root().join("samples")).unwrap_or(file);
    relative.to_string_lossy().into_owned()
}

fn read(file: &Path) -> String {
    std::fs::read_to_string(file).unwrap_or_else(|err| panic!("{}: {err}", file.display()))
}

fn read_json(file: &Path) -> Value {
    serde_json::from_str(&read(file))
        .unwrap_or_else(|err| panic!("{} is not JSON: {err}", name_of(file)))
}

/// Every problem of every use, one line each.
fn problems(connector: &Connector, uses: &[Use]) -> Vec<String> {
    uses.iter()
        .flat_map(|using| using.problems(connector))
        .collect()
}

/// The foreign calls that are not in [`CHECKED_FOREIGN_OPERATIONS`], or pass a parameter it
/// does not list.
fn unchecked(foreign: &[ForeignCall]) -> Vec<String> {
    let mut found = Vec::new();
    for call in foreign {
        let checked = CHECKED_FOREIGN_OPERATIONS
            .iter()
            .find(|(api, operation, _)| call.api == *api && call.operation == *operation);
        match checked {
            None => found.push(format!(
                "{}: {} {} is not a checked operation",
                call.place, call.api, call.operation
            )),
            Some((_, _, parameters)) => found.extend(
                call.parameters
                    .iter()
                    .filter(|p| !parameters.contains(&p.as_str()))
                    .map(|p| {
                        format!(
                            "{}: {} passes {p:?}, which was not checked",
                            call.place, call.operation
                        )
                    }),
            ),
        }
    }
    found
}

fn flow_calls(connector: &Connector, file: &Path) -> Calls {
    let ours = power_platform_name(connector);
    flows::power_automate(&name_of(file), &read_json(file), &ours)
        .unwrap_or_else(|err| panic!("{err}"))
}

/// The operation ids of the uses, in order.
fn ids(connector: &Connector, uses: &[Use]) -> Vec<String> {
    let resolved = uses.iter().filter_map(|using| using.resolve(connector));
    resolved.map(|operation| operation.id.clone()).collect()
}

#[test]
fn every_json_sample_parses_and_is_a_flow_or_a_workflow() {
    let mut pending = vec![root().join("samples")];
    let mut count = 0;
    while let Some(dir) = pending.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                pending.push(path);
            } else if path.extension().is_some_and(|e| e == "json") {
                let kind = path.parent().unwrap().file_name().unwrap();
                assert!(
                    kind == "power-automate" || kind == "logic-apps",
                    "{}: a JSON sample belongs in power-automate/ or logic-apps/, where this test \
                     checks it",
                    name_of(&path)
                );
                read_json(&path);
                count += 1;
            }
        }
    }
    assert_eq!(count, 3, "expected 2 flows and 1 Logic Apps workflow");
}

#[test]
fn the_flows_call_only_operations_and_parameters_the_connector_has() {
    let connector = connector();
    for file in samples("power-automate", ".json") {
        let calls = flow_calls(&connector, &file);
        assert!(
            !calls.ours.is_empty(),
            "{} calls no PDF Seal action",
            name_of(&file)
        );
        let found = problems(&connector, &calls.ours);
        assert!(found.is_empty(), "{}", found.join("\n"));
        let found = unchecked(&calls.foreign);
        assert!(found.is_empty(), "{}", found.join("\n"));
    }
}

#[test]
fn the_sharepoint_flow_seals_between_get_file_content_and_create_file() {
    let connector = connector();
    let file = root().join("samples/power-automate/seal-sharepoint-file.json");
    let calls = flow_calls(&connector, &file);
    let actions = &read_json(&file)["properties"]["definition"]["actions"];
    let run_after = |step: &str| {
        let after = actions[step]["runAfter"].as_object().unwrap();
        after.keys().cloned().collect::<Vec<_>>()
    };

    assert_eq!(ids(&connector, &calls.ours), ["SealPdf"]);
    assert_eq!(
        actions["Seal_PDF"]["inputs"]["parameters"]["file"],
        "@body('Get_file_content')"
    );
    assert_eq!(
        actions["Get_file_content"]["inputs"]["host"]["operationId"],
        "GetFileContent"
    );
    assert_eq!(
        actions["Create_file"]["inputs"]["host"]["operationId"],
        "CreateFile"
    );
    assert_eq!(run_after("Seal_PDF"), ["Get_file_content"]);
    assert_eq!(run_after("Create_file"), ["Seal_PDF"]);
    assert_eq!(
        actions["Create_file"]["inputs"]["parameters"]["body"],
        "@body('Seal_PDF')"
    );
}

#[test]
fn the_blob_flow_passes_its_run_name_as_idempotency_key_and_reads_the_result() {
    let connector = connector();
    let calls = flow_calls(
        &connector,
        &root().join("samples/power-automate/seal-blob.json"),
    );
    let text = read(&root().join("samples/power-automate/seal-blob.json"));

    assert_eq!(ids(&connector, &calls.ours), ["SealBlobPdf"]);
    let using = &calls.ours[0];
    assert!(using.flow_keys.contains(&"Idempotency-Key".to_owned()));
    assert!(text.contains(r#""Idempotency-Key": "@{workflow()['run']['name']}""#));
    let reads: Vec<String> = using.reads.iter().map(|path| path.join("/")).collect();
    for wanted in ["destination/container", "destination/blob", "sha256"] {
        assert!(
            reads.contains(&wanted.to_owned()),
            "{reads:?} lacks {wanted}"
        );
    }
}

#[test]
fn the_logic_apps_workflow_calls_both_actions_by_method_and_path() {
    let connector = connector();
    for file in samples("logic-apps", ".json") {
        let calls =
            flows::logic_apps(&name_of(&file), &read_json(&file)).unwrap_or_else(|e| panic!("{e}"));

        let found = problems(&connector, &calls.ours);
        assert!(found.is_empty(), "{}", found.join("\n"));
        assert!(calls.foreign.is_empty(), "{:?}", calls.foreign);
        let mut called = ids(&connector, &calls.ours);
        called.sort();
        assert_eq!(called, ["SealBlobPdf", "SealPdf"], "{}", name_of(&file));
    }
}

#[test]
fn the_power_apps_formula_calls_only_functions_the_connector_has() {
    let connector = connector();
    let name = power_apps_name(&connector);
    for file in samples("power-apps", ".pa.fx") {
        let uses = scripts::power_apps(&name_of(&file), &read(&file), &name)
            .unwrap_or_else(|e| panic!("{e}"));

        let found = problems(&connector, &uses);
        assert!(found.is_empty(), "{}", found.join("\n"));
        assert_eq!(ids(&connector, &uses), ["SealPdf"], "{}", name_of(&file));
    }
}

#[test]
fn the_curl_scripts_call_every_operation_with_parameters_it_has() {
    let connector = connector();
    let mut uses = Vec::new();
    for file in samples("curl", ".sh")
        .iter()
        .filter(|f| !f.ends_with("lib.sh"))
    {
        uses.push(scripts::curl(&name_of(file), &read(file)).unwrap_or_else(|e| panic!("{e}")));
    }

    let found = problems(&connector, &uses);
    assert!(found.is_empty(), "{}", found.join("\n"));
    let mut called = ids(&connector, &uses);
    called.sort();
    let mut all: Vec<String> = connector.operations.iter().map(|o| o.id.clone()).collect();
    all.sort();
    assert_eq!(called, all, "one curl script per operation");
}

#[test]
fn every_sample_is_in_the_table_of_the_samples_readme() {
    let readme = read(&root().join("samples/README.md"));
    let mut pending = vec![root().join("samples")];
    while let Some(dir) = pending.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                pending.push(path);
                continue;
            }
            let name = name_of(&path);
            if name != "README.md" {
                assert!(
                    readme.contains(&format!("`{name}`")),
                    "samples/README.md does not list `{name}`"
                );
            }
        }
    }
}
