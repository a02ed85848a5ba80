//! The outside judges of a sealed file: `../shared/tools/validate-pdf` (pyHanko, pdfsig and qpdf)
//! run with the Python that has pyHanko, as scripts/setup-tests installs it.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use super::fixture::shared_dir;
use super::process::{self, Finished};

/// One validation may take this long; the slowest corpus file (10,000 pages) takes about 1 s.
const VALIDATE_LIMIT: Duration = Duration::from_secs(180);

const SETUP_HINT: &str = "run scripts/setup-tests first (or set PDF_SEAL_TEST_PYTHON to a Python \
                          that has pyhanko, and put pdfsig and qpdf on PATH)";

pub struct Validators {
    python: PathBuf,
    validate_pdf: PathBuf,
}

/// validate-pdf's judgement of one file.
pub struct Verdict {
    /// The whole verdict: every signature, pdfsig and qpdf pass.
    pub passed: bool,
    /// One entry per signature, from the `pyhanko:` lines.
    pub signatures: Vec<SignatureLine>,
    pub pdfsig_ok: bool,
    pub qpdf_ok: bool,
    /// What validate-pdf printed, to show in a failure.
    pub report: String,
}

pub struct SignatureLine {
    pub field: String,
    pub ok: bool,
    /// The rest of the line: `intact=... valid=... trusted=... changes_after=... docmdp_ok=...`.
    pub detail: String,
}

impl SignatureLine {
    /// The `intact=` and `valid=` words: the signature itself, whatever came after it.
    pub fn intact_and_valid(&self) -> String {
        let words = self.detail.split_whitespace();
        let own = words.filter(|word| word.starts_with("intact=") || word.starts_with("valid="));
        own.collect::<Vec<_>>().join(" ")
    }
}

impl Validators {
    /// Finds the validators; panics with the way to install them when one is missing, so that a
    /// machine without them fails the test instead of passing it silently.
    pub fn find() -> Validators {
        let python = match std::env::var_os("PDF_SEAL_TEST_PYTHON") {
            Some(path) => Path::new(env!("CARGO_MANIFEST_DIR")).join(path),
            None => Path::new(env!("CARGO_MANIFEST_DIR")).join(".venv/bin/python"),
        };
        let validators = Validators {
            validate_pdf: shared_dir().join("tools/validate-pdf"),
            python,
        };

        assert!(
            validators.validate_pdf.is_file(),
            "{} is missing: the tests need ../shared beside the project root",
            validators.validate_pdf.display()
        );
        let checks: [(&str, Command); 3] = [
            (
                "pyHanko",
                validators.python_command(&["-c", "import pyhanko.sign, pyhanko.cli"]),
            ),
            ("pdfsig", command("pdfsig", &["-v"])),
            ("qpdf", command("qpdf", &["--version"])),
        ];
        for (name, mut check) in checks {
            let ran = process::run(&mut check, Duration::from_secs(60));
            assert!(
                ran.code() == Some(0),
                "the validator {name} is missing ({:?}: {}; {}): {SETUP_HINT}",
                check.get_program(),
                ran.ending(),
                ran.stderr_text().trim()
            );
        }
        validators
    }

    /// `python ARGS...` with the Python that has pyHanko.
    pub fn python_command(&self, args: &[&str]) -> Command {
        let mut command = Command::new(&self.python);
        command.args(args);
        command
    }

    /// Runs validate-pdf on `sealed`, trusting `anchors`, allowing what `original` already had.
    pub fn validate(&self, sealed: &Path, original: &Path, anchors: &[&Path]) -> Verdict {
        let mut command = Command::new(&self.python);
        command.arg(&self.validate_pdf);
        for anchor in anchors {
            command.arg("--trust").arg(anchor);
        }
        command.arg("--original").arg(original).arg(sealed);
        let ran = process::run(&mut command, VALIDATE_LIMIT);
        parse(&ran)
    }

    /// What pyHanko reads from the newest signature of `file` (field, digest algorithm, reason,
    /// location, contact) and its PAdES level by `../shared/tools/pades-level`, as JSON.
    pub fn newest_signature_facts(&self, file: &Path) -> serde_json::Value {
        let pades_level = shared_dir().join("tools/pades-level");
        let mut command = self.python_command(&["-c", NEWEST_SIGNATURE_FACTS]);
        command.arg(file).arg(pades_level);
        let ran = process::run(&mut command, VALIDATE_LIMIT);
        serde_json::from_str(ran.stdout_text().trim()).unwrap_or_else(|_| {
            panic!(
                "reading the seal with pyHanko: {}\n{}",
                ran.ending(),
                ran.stderr_text()
            )
        })
    }

    /// The signature lines validate-pdf gives for a file, whether or not it passes.
    pub fn signatures_of(&self, file: &Path) -> Vec<SignatureLine> {
        let mut command = Command::new(&self.python);
        command.arg(&self.validate_pdf).arg(file);
        parse(&process::run(&mut command, VALIDATE_LIMIT)).signatures
    }
}

const NEWEST_SIGNATURE_FACTS: &str = r#"
import json, subprocess, sys
from pyhanko.pdf_utils.reader import PdfFileReader
path, pades_level = sys.argv[1], sys.argv[2]
with open(path, "rb") as f:
    sig = max(PdfFileReader(f, strict=False).embedded_signatures, key=lambda s: s.signed_revision)
    entry = lambda key: str(sig.sig_object.get(key, ""))
    facts = {"field": sig.field_name, "digest": sig.md_algorithm, "reason": entry("/Reason"),
             "location": entry("/Location"), "contact": entry("/ContactInfo")}
levels = subprocess.run([sys.executable, pades_level, path], capture_output=True, text=True)
for line in levels.stdout.splitlines():
    if line.split("\t")[0] == facts["field"]:
        facts["level"] = line.rsplit("level=", 1)[-1]
print(json.dumps(facts))
"#;

fn command(program: &str, args: &[&str]) -> Command {
    let mut command = Command::new(program);
    command.args(args);
    command
}

fn parse(ran: &Finished) -> Verdict {
    let stdout = ran.stdout_text();
    let signatures = stdout
        .lines()
        .filter_map(|line| line.strip_prefix("pyhanko: "))
        .filter_map(|rest| {
            let (ok, rest) = rest.split_once(' ')?;
            let (field, detail) = rest.rsplit_once(": intact=")?;
            Some(SignatureLine {
                field: field.to_owned(),
                ok: ok == "ok",
                detail: format!("intact={detail}"),
            })
        })
        .collect();
    let line_ok = |prefix: &str| stdout.lines().any(|line| line.starts_with(prefix));

    let mut report = stdout.clone();
    if ran.failure.is_some() || !ran.stderr.is_empty() {
        report.push_str(&format!(
            "[validate-pdf: {}]\n{}",
            ran.ending(),
            ran.stderr_text()
        ));
    }
    Verdict {
        passed: ran.code() == Some(0) && stdout.contains("verdict: PASS"),
        signatures,
        pdfsig_ok: line_ok("pdfsig: ok"),
        qpdf_ok: line_ok("qpdf: ok"),
        report,
    }
}
