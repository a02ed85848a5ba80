//! The command line: one file per command.

pub mod connector;
pub mod dev_cert;
mod interrupt;
pub mod openapi;
pub mod seal;
mod seal_destination;
mod seal_input;
mod seal_output;
pub mod serve;

use std::borrow::Cow;
use std::fmt::Write as _;
use std::io;
use std::path::Path;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use rustix::io::Errno;

use crate::config::ConfigError;
use crate::signing::SignerSetupError;

/// Exit code of a command that failed through no fault of what it was given: reading or
/// writing failed, the signer failed, anything unexpected. Trying again may work.
pub const EXIT_FAILED: u8 = 1;

/// Exit code of a command that was refused: the document, an option, a setting or a path the
/// user gave is wrong or cannot be used. clap's usage errors use the same code.
pub const EXIT_REFUSED: u8 = 2;

/// The settings that are environment variables only and that every command reads.
const COMMON_ENVIRONMENT: &[(&str, &str)] = &[
    (
        "PDF_SEAL_SIGNING_KEY_PASSWORD",
        "password of an encrypted PEM key",
    ),
    (
        "PDF_SEAL_PKCS12_PASSWORD",
        "password of the PKCS#12 file (empty when unset)",
    ),
    (
        "PDF_SEAL_LOG",
        "log filter, such as info or pdf_seal=debug [default: info]",
    ),
    (
        "PDF_SEAL_LOG_FORMAT",
        "json or text [default: text on a terminal, else json]",
    ),
];

/// The settings of the service that are environment variables only.
const SERVICE_ENVIRONMENT: &[(&str, &str)] = &[
    (
        "PDF_SEAL_MAX_BODY_BYTES",
        "largest PDF the service accepts [default: 52428800]",
    ),
    (
        "PDF_SEAL_BODY_IDLE_TIMEOUT_SECS",
        "longest pause in a request body [default: 30]",
    ),
    (
        "PDF_SEAL_BODY_TIMEOUT_SECS",
        "longest time to receive a request body [default: 110]",
    ),
    (
        "PDF_SEAL_MAX_CONCURRENT_SEALS",
        "seals at once; more are answered 503 [default: 4 per CPU]",
    ),
];

/// The exit codes of `seal`, which scripts test.
const SEAL_EXIT_CODES: &str = "\
Exit codes:
  0    sealed
  1    failed: reading, writing or signing did not work; trying again may work
  2    refused: the document, an option, a setting or a path given cannot be used as it is
  130  stopped by SIGINT (Ctrl-C), 143 by SIGTERM; the temporary output was removed
SIGKILL cannot be caught: a seal killed with it can leave a .pdf-seal-*.partial file beside
the output, which may be deleted.";

/// The text under `serve --help`.
fn serve_help() -> String {
    environment_help(&[SERVICE_ENVIRONMENT, COMMON_ENVIRONMENT])
}

/// The text under `seal --help`.
fn seal_help() -> String {
    format!(
        "{SEAL_EXIT_CODES}\n\n{}",
        environment_help(&[COMMON_ENVIRONMENT])
    )
}

/// The variables of `groups` in aligned columns, under a heading.
fn environment_help(groups: &[&[(&str, &str)]]) -> String {
    let mut text = String::from("Environment only:\n");
    for (name, meaning) in groups.iter().copied().flatten() {
        let _ = writeln!(text, "  {name:<33}{meaning}");
    }
    text.push_str("Logs go to standard error.");
    text
}

/// PAdES electronic seals for PDFs.
#[derive(Debug, Parser)]
#[command(name = "pdf-seal", version, about, long_about = None)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The commands of `pdf-seal`.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the HTTP service
    #[command(after_help = serve_help())]
    Serve(serve::ServeArgs),
    /// Seal one PDF file
    #[command(after_help = seal_help())]
    Seal(seal::SealArgs),
    /// Make a development root CA and seal certificate
    DevCert(dev_cert::DevCertArgs),
    /// Write the OpenAPI 3.1 document of the HTTP API
    Openapi(openapi::OpenApiArgs),
    /// Write the Power Platform custom connector package
    Connector(connector::ConnectorArgs),
}

/// Why a command did not succeed.
#[derive(Debug, thiserror::Error)]
pub enum CliError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error(transparent)]
    Signer(#[from] SignerSetupError),
    /// What the command was given was refused; the message names the cause.
    #[error("{0}")]
    Refused(String),
    /// The command failed; the message is the error and its causes, each said once.
    #[error("{}", causes_once(.0))]
    Failed(#[from] anyhow::Error),
}

impl CliError {
    /// An I/O error on a path the user gave, as `doing` (such as "cannot read in.pdf") and
    /// the cause. A path that cannot be used as given (missing, a directory, not permitted, on
    /// a read-only file system, a loop of symbolic links) is a refusal; any other error, such
    /// as a full disk, a failure.
    pub fn from_path_io(doing: impl std::fmt::Display, error: io::Error) -> Self {
        let refused = matches!(
            error.kind(),
            io::ErrorKind::NotFound
                | io::ErrorKind::PermissionDenied
                | io::ErrorKind::IsADirectory
                | io::ErrorKind::NotADirectory
                | io::ErrorKind::ReadOnlyFilesystem
                | io::ErrorKind::InvalidFilename
        ) || Errno::from_io_error(&error) == Some(Errno::LOOP);
        let message = format!("{doing}: {}", innermost_io_error(&error));
        match refused {
            true => Self::Refused(message),
            false => Self::Failed(anyhow::Error::msg(message)),
        }
    }

    /// The process exit code for this error.
    pub fn exit_code(&self) -> u8 {
        match self {
            Self::Config(_) | Self::Refused(_) => EXIT_REFUSED,
            Self::Signer(error) if error.is_configuration() => EXIT_REFUSED,
            Self::Signer(_) | Self::Failed(_) => EXIT_FAILED,
        }
    }
}

/// The I/O error that `error` wraps, if it wraps one: the tempfile crate adds the temporary
/// file's name, which means nothing to the user.
fn innermost_io_error(error: &io::Error) -> &io::Error {
    let inner = error.get_ref().and_then(|inner| inner.source());
    inner
        .and_then(|source| source.downcast_ref::<io::Error>())
        .unwrap_or(error)
}

/// The error and its chain of causes joined by ": ", leaving out a cause that the text
/// already says: many errors print their source in their own message and also return it as
/// their source, which would print it twice.
fn causes_once(error: &anyhow::Error) -> String {
    let mut text = String::new();
    for cause in error.chain() {
        let cause = cause.to_string();
        if text.contains(&cause) {
            continue;
        }
        if !text.is_empty() {
            text.push_str(": ");
        }
        text.push_str(&cause);
    }
    text
}

/// `text` with its control characters (line breaks, escapes) written as Rust escapes such as
/// `\n`, so that a value from the user cannot break or forge a line on the terminal.
pub fn printable(text: &str) -> Cow<'_, str> {
    if !text.chars().any(char::is_control) {
        return Cow::Borrowed(text);
    }
    let mut escaped = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        match c.is_control() {
            true => {
                let _ = write!(escaped, "{}", c.escape_default());
            }
            false => escaped.push(c),
        }
    }
    Cow::Owned(escaped)
}

/// How a path is shown in messages: `-` as `stdio_name`, control characters escaped.
pub fn describe(path: &Path, stdio_name: &str) -> String {
    match path == Path::new("-") {
        true => stdio_name.to_owned(),
        false => printable(&path.display().to_string()).into_owned(),
    }
}

/// Runs a parsed command line and reports a failure on standard error.
pub fn run(cli: Cli) -> ExitCode {
    let result = match cli.command {
        Command::Serve(args) => serve::run(args),
        Command::Seal(args) => seal::run(args),
        Command::DevCert(args) => dev_cert::run(args),
        Command::Openapi(args) => openapi::run(args),
        Command::Connector(args) => connector::run(args),
    };

    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("pdf-seal: error: {}", printable(&error.to_string()));
            ExitCode::from(error.exit_code())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_path_is_a_refusal_and_a_full_disk_a_failure() {
        let missing = io::Error::from(io::ErrorKind::NotFound);
        let full = io::Error::from(io::ErrorKind::StorageFull);

        let missing = CliError::from_path_io("cannot read in.pdf", missing);
        let full = CliError::from_path_io("cannot write out.pdf", full);

        assert_eq!(missing.exit_code(), EXIT_REFUSED);
        assert!(
            missing.to_string().starts_with("cannot read in.pdf: "),
            "{missing}"
        );
        assert_eq!(full.exit_code(), EXIT_FAILED);
    }

    #[test]
    fn a_cause_that_its_error_already_prints_is_said_once() {
        #[derive(Debug, thiserror::Error)]
        #[error("reading the document: {0}")]
        struct Repeats(#[source] io::Error);
        let error = anyhow::Error::new(Repeats(io::ErrorKind::IsADirectory.into()))
            .context("sealing in.pdf");

        let text = CliError::Failed(error).to_string();

        assert_eq!(text, "sealing in.pdf: reading the document: is a directory");
    }

    #[test]
    fn control_characters_are_escaped_and_other_text_kept() {
        assert_eq!(printable("Sceau é"), "Sceau é");
        assert_eq!(printable("A\nB\tC\u{1b}[31m"), "A\\nB\\tC\\u{1b}[31m");
    }
}
