//! The offline checks of the connector's files (DESIGN.md sections 7 and 9): swagger-cli and
//! Spectral, which scripts/setup-tests installs into `tools/connector-lint/node_modules`, and
//! openapi-spec-validator and check-jsonschema, which it installs into `.venv`; and the copies
//! of the contract files, each broken on purpose, that show each check can fail.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use serde_json::Value;
use tempfile::TempDir;

use super::process::{self, Finished};

/// One check may take this long; Spectral, the slowest, takes a few seconds on a busy machine.
const CHECK_LIMIT: Duration = Duration::from_secs(180);

const SETUP_HINT: &str = "run scripts/setup-tests first";

/// A proxy address where nothing listens: a validator that reaches for a remote reference (a
/// schema on a web host, say) fails there at once instead of leaving the machine.
const NOWHERE: &str = "http://127.0.0.1:9";

/// The project root.
pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// `tools/connector-lint/power-platform.spectral.yaml`: `spectral:oas` and our Power Platform
/// rules.
pub fn ruleset() -> PathBuf {
    root().join("tools/connector-lint/power-platform.spectral.yaml")
}

/// `swagger-cli validate FILE`.
pub fn swagger_cli(file: &Path) -> Finished {
    let mut command = npm_tool("swagger-cli");
    command.arg("validate").arg(file);
    run(&mut command)
}

/// One finding of Spectral.
#[derive(Debug)]
pub struct Finding {
    /// The rule's name, such as `pp-summary-ending` or `info-contact`.
    pub code: String,
    /// 0 error, 1 warning, 2 information, 3 hint.
    pub severity: u64,
    /// The file it is in, as given on the command line (made absolute by Spectral).
    pub source: String,
    pub path: String,
    pub message: String,
}

/// `spectral lint` with our ruleset on `files`, and what it found; panics when Spectral could
/// not run or did not answer JSON (a ruleset it cannot load, say).
pub fn spectral(files: &[&Path]) -> Vec<Finding> {
    let mut command = npm_tool("spectral");
    command
        .arg("lint")
        .arg("--ruleset")
        .arg(ruleset())
        .args(["--format", "json", "--quiet"])
        .args(files);
    let ran = run(&mut command);

    let answer: Value = serde_json::from_slice(&ran.stdout).unwrap_or_else(|err| {
        panic!(
            "spectral did not answer JSON ({err}; {}): {}{}",
            ran.ending(),
            ran.stdout_text(),
            ran.stderr_text()
        )
    });
    let findings = answer.as_array().expect("spectral answers a JSON array");
    let text = |finding: &Value, key: &str| finding[key].as_str().unwrap_or_default().to_owned();
    findings
        .iter()
        .map(|finding| Finding {
            code: text(finding, "code"),
            severity: finding["severity"].as_u64().expect("a severity"),
            source: text(finding, "source"),
            path: finding["path"].to_string(),
            message: text(finding, "message"),
        })
        .collect()
}

/// `openapi-spec-validator FILE` (it tells Swagger 2.0 from OpenAPI 3.1 by the document).
pub fn openapi_spec_validator(file: &Path) -> Finished {
    let mut command = python_module("openapi_spec_validator");
    command.arg(file);
    run(&mut command)
}

/// `check-jsonschema --schemafile SCHEMA FILE`, every error shown.
pub fn check_jsonschema(schema: &Path, file: &Path) -> Finished {
    let mut command = python_module("check_jsonschema");
    command
        .arg("--verbose")
        .arg("--schemafile")
        .arg(schema)
        .arg(file);
    run(&mut command)
}

/// A command of `tools/connector-lint`; panics with the way to install it when it is missing.
fn npm_tool(name: &str) -> Command {
    let path = root()
        .join("tools/connector-lint/node_modules/.bin")
        .join(name);
    assert!(
        path.is_file(),
        "{} is missing: {SETUP_HINT}",
        path.display()
    );
    Command::new(path)
}

/// `python -m MODULE` with the Python of the tests (`.venv`, or `PDF_SEAL_TEST_PYTHON`).
fn python_module(module: &str) -> Command {
    let python = match std::env::var_os("PDF_SEAL_TEST_PYTHON") {
        Some(path) => root().join(path),
        None => root().join(".venv/bin/python"),
    };
    assert!(
        python.is_file(),
        "{} is missing: {SETUP_HINT}",
        python.display()
    );
    let mut command = Command::new(python);
    command.args(["-m", module]);
    command
}

/// Runs a check with no way out of the machine, and panics when it could not start or hung:
/// a check that never ran must not count as a verdict.
fn run(command: &mut Command) -> Finished {
    for name in ["HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy"] {
        command.env(name, NOWHERE);
    }
    command.env_remove("NO_PROXY").env_remove("no_proxy");
    let ran = process::run(command, CHECK_LIMIT);
    assert!(
        ran.code().is_some(),
        "{:?} did not finish ({}): {SETUP_HINT}; stderr:\n{}",
        command.get_program(),
        ran.ending(),
        ran.stderr_text()
    );
    ran
}

pub fn read_json(path: &Path) -> Value {
    serde_json::from_slice(&std::fs::read(path).unwrap())
        .unwrap_or_else(|err| panic!("{} is not JSON: {err}", path.display()))
}

/// A scratch directory for broken copies, and the record of how each was made.
pub struct Copies {
    dir: TempDir,
    made_by: String,
}

impl Copies {
    pub fn new() -> Copies {
        let dir = tempfile::Builder::new()
            .prefix("pdf-seal-connector-checks-")
            .tempdir()
            .unwrap();
        Copies {
            dir,
            made_by: "Broken copies written by tests/connector_checks.rs:\n".to_owned(),
        }
    }

    /// Writes `original` changed by `change` as `name`, noting `how` in `MADE-BY.txt`.
    pub fn write(
        &mut self,
        name: &str,
        original: &Path,
        how: &str,
        change: impl FnOnce(&mut Value),
    ) -> PathBuf {
        let mut document = read_json(original);
        change(&mut document);

        let path = self.dir.path().join(name);
        std::fs::write(&path, serde_json::to_vec_pretty(&document).unwrap()).unwrap();
        writeln!(self.made_by, "{name}: {} with {how}", original.display()).unwrap();
        std::fs::write(self.dir.path().join("MADE-BY.txt"), &self.made_by).unwrap();
        path
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }
}

/// Sets the value at JSON pointer `pointer`, which must exist.
pub fn set(document: &mut Value, pointer: &str, value: Value) {
    *document
        .pointer_mut(pointer)
        .unwrap_or_else(|| panic!("nothing at {pointer}")) = value;
}

/// Removes the member at JSON pointer `pointer`, which must exist.
pub fn remove(document: &mut Value, pointer: &str) {
    let (parent, key) = pointer.rsplit_once('/').unwrap();
    let removed = document
        .pointer_mut(parent)
        .and_then(Value::as_object_mut)
        .and_then(|object| object.remove(key));
    assert!(removed.is_some(), "nothing at {pointer}");
}
