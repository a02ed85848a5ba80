//! Sealing one file by the command line or by the API, and what came of it, checked as far as
//! the contract goes without the validators.

use std::path::{Path, PathBuf};
use std::time::Duration;

use super::fixture::{COMMAND_LIMIT, Fixture};
use super::server::{Answer, Server};

/// What one way of sealing gave.
pub enum Outcome {
    /// A sealed file that begins with the input's exact bytes.
    Sealed {
        output: PathBuf,
        /// The API's `X-Seal-Field-Name`; the command line does not tell.
        field_name: Option<String>,
    },
    /// A clean refusal: exit 2 with a message and no output, or a 4xx problem+json.
    Refused { refusal: Refusal, elapsed: Duration },
    /// Anything else: a crash, a 5xx, a hang, an output that does not extend the input...
    Broken(String),
}

pub enum Refusal {
    Cli { message: String },
    Api { status: u16, problem_type: String },
}

impl Refusal {
    /// Whether the refusal names the cause: the command line's message holds `word`, or the
    /// problem type is `/problems/SLUG`.
    pub fn names(&self, slug: &str, word: &str) -> bool {
        match self {
            Refusal::Cli { message } => message.to_lowercase().contains(word),
            Refusal::Api { problem_type, .. } => {
                problem_type.ends_with(&format!("/problems/{slug}"))
            }
        }
    }

    pub fn describe(&self) -> String {
        match self {
            Refusal::Cli { message } => format!("exit 2: {message}"),
            Refusal::Api {
                status,
                problem_type,
            } => format!("{status} {problem_type}"),
        }
    }
}

/// `pdf-seal seal INPUT -o DIR/sealed.pdf`; DIR must be empty. `original` holds INPUT's bytes.
pub fn seal_by_cli(fixture: &Fixture, input: &Path, original: &[u8], dir: &Path) -> Outcome {
    let output = dir.join("sealed.pdf");
    let ran = fixture.seal(input, &output, &[]);
    let message = ran.stderr_text().trim().to_owned();
    let left = std::fs::read_dir(dir).map_or(0, |entries| entries.count());

    match ran.code() {
        Some(0) => match std::fs::read(&output) {
            Ok(sealed) => match extends_input(original, &sealed) {
                Ok(()) => Outcome::Sealed {
                    output,
                    field_name: None,
                },
                Err(why) => Outcome::Broken(why),
            },
            Err(_) => Outcome::Broken(format!("exit 0 but no output file; stderr:\n{message}")),
        },
        Some(2) if left > 0 => Outcome::Broken(format!(
            "exit 2, but {left} file(s) left in the output directory; stderr:\n{message}"
        )),
        Some(2) if message.is_empty() => Outcome::Broken("exit 2 without a word on stderr".into()),
        Some(2) => Outcome::Refused {
            refusal: Refusal::Cli { message },
            elapsed: ran.elapsed,
        },
        _ => Outcome::Broken(format!("{}; stderr:\n{message}", ran.ending())),
    }
}

/// `POST /api/seal` with `original` as an `application/pdf` body; a sealed answer is written to
/// `DIR/sealed.pdf`.
pub fn seal_by_api(server: &Server, original: &[u8], dir: &Path) -> Outcome {
    let answer = match server.post_seal(original.to_vec(), COMMAND_LIMIT) {
        Ok(answer) => answer,
        Err(why) => return Outcome::Broken(why),
    };
    match answer.status {
        200 => sealed_by_api(original, dir, answer),
        400..=499 => refused_by_api(answer),
        status => Outcome::Broken(format!(
            "answered {status} {}:\n{}",
            answer.content_type,
            String::from_utf8_lossy(&answer.body)
        )),
    }
}

fn sealed_by_api(original: &[u8], dir: &Path, answer: Answer) -> Outcome {
    if !answer.content_type.starts_with("application/pdf") {
        return Outcome::Broken(format!("200 with Content-Type '{}'", answer.content_type));
    }
    if let Err(why) = extends_input(original, &answer.body) {
        return Outcome::Broken(why);
    }
    let hex_digest = |hex: &String| hex.len() == 64 && hex.bytes().all(|b| b.is_ascii_hexdigit());
    if answer.field_name.is_none() || !answer.document_sha256.as_ref().is_some_and(hex_digest) {
        return Outcome::Broken(format!(
            "200 without the seal headers: X-Seal-Field-Name {:?}, X-Seal-Document-SHA256 {:?}",
            answer.field_name, answer.document_sha256
        ));
    }

    let output = dir.join("sealed.pdf");
    std::fs::write(&output, &answer.body).unwrap();
    Outcome::Sealed {
        output,
        field_name: answer.field_name,
    }
}

fn refused_by_api(answer: Answer) -> Outcome {
    let text = String::from_utf8_lossy(&answer.body).into_owned();
    if !answer.content_type.starts_with("application/problem+json") {
        return Outcome::Broken(format!(
            "answered {} with Content-Type '{}', not a problem+json:\n{text}",
            answer.status, answer.content_type
        ));
    }
    let problem_type = serde_json::from_str::<serde_json::Value>(&text)
        .ok()
        .and_then(|problem| problem.get("type")?.as_str().map(str::to_owned))
        .filter(|kind| kind.contains("/problems/"));
    match problem_type {
        Some(problem_type) => Outcome::Refused {
            refusal: Refusal::Api {
                status: answer.status,
                problem_type,
            },
            elapsed: answer.elapsed,
        },
        None => Outcome::Broken(format!(
            "answered {} without a /problems/ type:\n{text}",
            answer.status
        )),
    }
}

/// The output must be the input's exact bytes followed by something.
fn extends_input(original: &[u8], output: &[u8]) -> Result<(), String> {
    if output.len() <= original.len() {
        return Err(format!(
            "the output ({} bytes) is not longer than the input ({} bytes)",
            output.len(),
            original.len()
        ));
    }
    match original.iter().zip(output).position(|(a, b)| a != b) {
        Some(offset) => Err(format!(
            "the output differs from the input at byte {offset}"
        )),
        None => Ok(()),
    }
}
