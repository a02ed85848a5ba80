//! The corpus test. Every file of `../shared/corpus/MANIFEST.tsv` goes through `pdf-seal seal`
//! and through `POST /api/seal` on one server, and each outcome is judged by the file's `expect`
//! column (DESIGN.md section 10) with `../shared/tools/validate-pdf`. Every file is tried; the
//! failures are reported together at the end, each with what the validators said.

mod support;

use std::panic::{self, AssertUnwindSafe};
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use support::fixture::{COMMAND_LIMIT, Fixture};
use support::manifest::{self, Row, corpus_dir};
use support::outcome::{self, Outcome};
use support::server::Server;
use support::validators::Validators;

/// Encrypted files that the manifest expects sealed, but that pdf-seal refuses for now, with the
/// `encrypted-pdf-not-supported` cause: it cannot write a revision into an encrypted file yet.
/// When that lands, take a file off this list and the manifest's expectation applies to it.
const ENCRYPTION_PENDING: &[(&str, &str)] = &[
    ("ph__minimal-aes256.pdf", "AES-256 (V5 R6), user password"),
    ("ph__minimal-rc4.pdf", "RC4-128 (V2 R3), user password"),
    (
        "pypdf__encryption_r2-owner-password.pdf",
        "RC4-40 (V1 R2), owner password only",
    ),
    (
        "pypdf__encryption_r4-aes-user-password.pdf",
        "AES-128 (V4 R4), user password",
    ),
    (
        "pypdf__encryption_r4-aes-v2-no-key-length.pdf",
        "AES-128, crypt filter without /Length",
    ),
    (
        "pypdf__encryption_r4-owner-password.pdf",
        "RC4-128 by crypt filters, owner password only",
    ),
    (
        "qpdf__enc-R3_V2_O-master.pdf",
        "RC4-128 (V2 R3), owner password only, linearized",
    ),
];

/// A refusal cause: the problem type's slug, and a word the command line's message contains.
#[derive(Clone, Copy)]
struct Cause {
    slug: &'static str,
    word: &'static str,
}

const ENCRYPTED: Cause = Cause {
    slug: "encrypted-pdf-not-supported",
    word: "encrypt",
};
const CERTIFIED: Cause = Cause {
    slug: "certified-pdf",
    word: "certif",
};

/// The causes that `refuse` rows must name. The public-key file is encrypted for a recipient's
/// certificate, so it is refused as encrypted input.
const REFUSAL_CAUSES: &[(&str, Cause)] = &[
    ("ph__certified-with-indirect-refs-in-dir.pdf", CERTIFIED),
    ("ph__minimal-pubkey-aes256.pdf", ENCRYPTED),
];

/// A refusal must come at least this fast ("quickly, never a hang").
const REFUSAL_LIMIT: Duration = Duration::from_secs(5);

/// What the test asks of one file.
#[derive(Clone, Copy)]
enum Want {
    Seal,
    Refuse(Option<Cause>),
    SealOrRefuse,
    SealNewOnly,
}

struct Context<'a> {
    fixture: &'a Fixture,
    server: &'a Server,
    validators: &'a Validators,
    anchors: [PathBuf; 2],
}

#[test]
fn every_corpus_file_is_sealed_or_refused_as_the_manifest_expects() {
    let validators = Validators::find();
    let rows = manifest::rows();
    let fixture = Fixture::new();
    let server = fixture.serve();
    let context = Context {
        fixture: &fixture,
        server: &server,
        validators: &validators,
        anchors: [
            fixture.root_ca.clone(),
            corpus_dir().join("ph__testing-ca-root.cert.pem"),
        ],
    };

    let mut failures = stale_pending_entries(&rows);
    failures.extend(check_all(&context, &rows));
    if failures.is_empty() {
        println!("{} corpus files: all as expected", rows.len());
        return;
    }

    let mut server = server;
    let state = if server.is_running() {
        "its last log lines"
    } else {
        "it has stopped; its log"
    };
    let log = format!("The server, {state}:\n{}", server.log_tail());
    drop(server);
    let kept = fixture.keep();
    panic!(
        "{} of {} corpus files failed (outputs kept in {}):\n\n{}\n\n{log}",
        failures.len(),
        rows.len(),
        kept.display(),
        failures.join("\n\n")
    );
}

#[test]
fn a_seal_on_top_of_our_own_seal_leaves_both_valid() {
    let validators = Validators::find();
    let fixture = Fixture::new();
    let server = fixture.serve();
    let dir = fixture.subdir("twice");
    let (first, second) = (dir.join("first.pdf"), dir.join("second.pdf"));

    let ran = fixture.seal(&corpus_dir().join("ph__minimal.pdf"), &first, &[]);
    assert_eq!(
        ran.code(),
        Some(0),
        "the first seal: {}\n{}",
        ran.ending(),
        ran.stderr_text()
    );
    let answer = server
        .post_seal(std::fs::read(&first).unwrap(), COMMAND_LIMIT)
        .unwrap();
    let text = String::from_utf8_lossy(&answer.body);
    assert_eq!(answer.status, 200, "the second seal, by the API:\n{text}");
    std::fs::write(&second, &answer.body).unwrap();

    let verdict = validators.validate(&second, &first, &[&fixture.root_ca]);
    assert!(
        verdict.passed,
        "the two seals do not both validate:\n{}",
        verdict.report
    );
    let fields: Vec<&str> = verdict
        .signatures
        .iter()
        .map(|s| s.field.as_str())
        .collect();
    assert!(
        fields.len() == 2 && fields[0] != fields[1],
        "expected two signatures in two fields:\n{}",
        verdict.report
    );
}

#[test]
fn sha384_and_sha512_seals_validate_and_carry_the_given_details() {
    let validators = Validators::find();
    let fixture = Fixture::new();
    let input = corpus_dir().join("qpdf__good13.pdf");

    for digest in ["sha384", "sha512"] {
        let output = fixture.subdir(digest).join("sealed.pdf");
        let field = format!("Seal {digest}");
        let details = [
            "--reason",
            "Geprüft",
            "--location",
            "Zürich",
            "--contact",
            "seal-desk@example.test",
        ];
        let options = [&["--digest", digest, "--field-name", &field][..], &details].concat();
        let ran = fixture.seal(&input, &output, &options);
        assert_eq!(
            ran.code(),
            Some(0),
            "{options:?}: {}\n{}",
            ran.ending(),
            ran.stderr_text()
        );

        let verdict = validators.validate(&output, &input, &[&fixture.root_ca]);
        assert!(
            verdict.passed,
            "{options:?}: the seal does not validate:\n{}",
            verdict.report
        );
        let expected = serde_json::json!({
            "field": field, "digest": digest, "reason": "Geprüft", "location": "Zürich",
            "contact": "seal-desk@example.test", "level": "B-B",
        });
        let facts = validators.newest_signature_facts(&output);
        assert_eq!(
            facts, expected,
            "{options:?}: what pyHanko reads from the seal"
        );
    }
}

/// Runs every row on worker threads, the largest files first, and gives the failures in
/// manifest order. A panic while checking a file is that file's failure, not the run's end.
fn check_all(context: &Context, rows: &[Row]) -> Vec<String> {
    let size = |row: &Row| std::fs::metadata(corpus_dir().join(&row.file)).map_or(0, |m| m.len());
    let mut order: Vec<usize> = (0..rows.len()).collect();
    order.sort_by_key(|&i| std::cmp::Reverse(size(&rows[i])));
    let next = AtomicUsize::new(0);
    let results = Mutex::new(Vec::new());
    let workers = std::thread::available_parallelism()
        .map_or(2, |n| n.get())
        .min(4);

    std::thread::scope(|scope| {
        for _ in 0..workers {
            scope.spawn(|| {
                while let Some(&i) = order.get(next.fetch_add(1, Ordering::SeqCst)) {
                    let row = &rows[i];
                    let problems =
                        panic::catch_unwind(AssertUnwindSafe(|| check_file(context, row)))
                            .unwrap_or_else(|_| {
                                vec!["the check panicked (message above)".to_owned()]
                            });
                    println!(
                        "{}: {}",
                        row.file,
                        if problems.is_empty() { "ok" } else { "FAILED" }
                    );
                    results.lock().unwrap().push((i, problems));
                }
            });
        }
    });

    let mut results = results.into_inner().unwrap();
    results.sort_by_key(|(i, _)| *i);
    results
        .into_iter()
        .filter(|(_, problems)| !problems.is_empty())
        .map(|(i, problems)| {
            format!(
                "== {} (expect {})\n{}",
                rows[i].file,
                rows[i].expect,
                problems.join("\n")
            )
        })
        .collect()
}

fn check_file(context: &Context, row: &Row) -> Vec<String> {
    let want = match want_for(row) {
        Ok(want) => want,
        Err(problem) => return vec![problem],
    };
    let input = corpus_dir().join(&row.file);
    let original = std::fs::read(&input).unwrap();
    let mut problems = Vec::new();

    let dir = context.fixture.subdir(&format!("cli/{}", row.file));
    let by_cli = outcome::seal_by_cli(context.fixture, &input, &original, &dir);
    problems.extend(judge(context, want, &input, by_cli).map(|p| format!("command line: {p}")));

    let dir = context.fixture.subdir(&format!("api/{}", row.file));
    let by_api = outcome::seal_by_api(context.server, &original, &dir);
    problems.extend(judge(context, want, &input, by_api).map(|p| format!("POST /api/seal: {p}")));
    problems
}

fn want_for(row: &Row) -> Result<Want, String> {
    if ENCRYPTION_PENDING.iter().any(|(file, _)| *file == row.file) {
        return Ok(Want::Refuse(Some(ENCRYPTED)));
    }
    let cause = REFUSAL_CAUSES
        .iter()
        .find(|(file, _)| *file == row.file)
        .map(|(_, c)| *c);
    match row.expect.as_str() {
        "seal" => Ok(Want::Seal),
        "refuse" => Ok(Want::Refuse(cause)),
        "seal-or-refuse" => Ok(Want::SealOrRefuse),
        "seal-new-only" => Ok(Want::SealNewOnly),
        expect if expect.starts_with("seal-with-password:") => Err(format!(
            "'{expect}': this test cannot hand pdf-seal a password yet; teach it the option \
             (and keep checking the refusal without it) before taking the file off \
             ENCRYPTION_PENDING"
        )),
        other => Err(format!("unknown expect value '{other}' in MANIFEST.tsv")),
    }
}

/// Holds one outcome to the file's expectation; gives what is wrong with it, if anything.
fn judge(context: &Context, want: Want, input: &Path, outcome: Outcome) -> Option<String> {
    match (want, outcome) {
        (_, Outcome::Broken(why)) => Some(why),
        (Want::Refuse(_), Outcome::Sealed { .. }) => {
            Some("sealed a file that must be refused".into())
        }
        (Want::Seal | Want::SealNewOnly, Outcome::Refused { refusal, .. }) => Some(format!(
            "refused a file that must be sealed: {}",
            refusal.describe()
        )),
        (Want::Refuse(cause), Outcome::Refused { refusal, .. })
            if cause.is_some_and(|cause| !refusal.names(cause.slug, cause.word)) =>
        {
            let slug = cause.map_or("", |cause| cause.slug);
            Some(format!(
                "refused, but not as {slug}: {}",
                refusal.describe()
            ))
        }
        (Want::Refuse(_) | Want::SealOrRefuse, Outcome::Refused { elapsed, .. }) => {
            let slow = elapsed > REFUSAL_LIMIT;
            slow.then(|| format!("refused only after {:.1} s", elapsed.as_secs_f64()))
        }
        (Want::Seal | Want::SealOrRefuse, Outcome::Sealed { output, field_name }) => {
            let verdict = context
                .validators
                .validate(&output, input, &context.anchors());
            let named = |name: &String| verdict.signatures.iter().any(|s| &s.field == name);
            if !verdict.passed {
                Some(format!(
                    "the sealed file does not validate:\n{}",
                    verdict.report
                ))
            } else if let Some(name) = field_name.filter(|name| !named(name)) {
                Some(format!(
                    "X-Seal-Field-Name '{name}' names no signature:\n{}",
                    verdict.report
                ))
            } else {
                None
            }
        }
        (Want::SealNewOnly, Outcome::Sealed { output, .. }) => {
            only_new_seal_valid(context, input, &output).err()
        }
    }
}

/// For a file whose earlier signature was already broken: the one new signature must pass, the
/// earlier ones must be judged as before, and pdfsig and qpdf no worse than on the input.
fn only_new_seal_valid(context: &Context, input: &Path, output: &Path) -> Result<(), String> {
    let before = context.validators.signatures_of(input);
    let verdict = context
        .validators
        .validate(output, input, &context.anchors());
    let report = &verdict.report;

    let is_new = |field: &str| !before.iter().any(|earlier| earlier.field == field);
    let new: Vec<_> = verdict
        .signatures
        .iter()
        .filter(|s| is_new(&s.field))
        .collect();
    match new.as_slice() {
        [seal] if seal.ok => {}
        [_] => return Err(format!("the new seal does not validate:\n{report}")),
        _ => {
            return Err(format!(
                "expected one new signature, found {}:\n{report}",
                new.len()
            ));
        }
    }
    for earlier in &before {
        let now = verdict.signatures.iter().find(|s| s.field == earlier.field);
        if now.map(|s| s.intact_and_valid()) != Some(earlier.intact_and_valid()) {
            let was = &earlier.detail;
            return Err(format!(
                "the earlier signature {} changed; it was {was}:\n{report}",
                earlier.field
            ));
        }
    }
    if !verdict.pdfsig_ok || !verdict.qpdf_ok {
        return Err(format!(
            "pdfsig or qpdf judge the output worse than the input:\n{report}"
        ));
    }
    Ok(())
}

impl Context<'_> {
    fn anchors(&self) -> [&Path; 2] {
        [&self.anchors[0], &self.anchors[1]]
    }
}

/// Pending entries must name encrypted rows that the manifest expects sealed; any other entry
/// is a typo or out of date.
fn stale_pending_entries(rows: &[Row]) -> Vec<String> {
    let pending_row = |file: &str| {
        rows.iter().any(|row| {
            row.file == file
                && row.encrypted
                && (row.expect == "seal" || row.expect.starts_with("seal-with-password:"))
        })
    };
    ENCRYPTION_PENDING
        .iter()
        .filter(|(file, _)| !pending_row(file))
        .map(|(file, _)| format!("ENCRYPTION_PENDING names {file}: no encrypted 'seal' row"))
        .collect()
}
