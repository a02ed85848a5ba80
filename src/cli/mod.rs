//! The command line: one file per command.

pub mod dev_cert;
pub mod seal;
mod seal_input;
mod seal_output;
pub mod serve;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

use crate::config::ConfigError;
use crate::signing::SignerSetupError;

/// Exit code of a command that failed (I/O, signer, anything unexpected).
pub const EXIT_FAILED: u8 = 1;

/// Exit code of a command that was refused: a bad setting, a document the core will not seal.
/// clap's usage errors use the same code.
pub const EXIT_REFUSED: u8 = 2;

/// The settings that are environment variables only, listed under `serve --help` and
/// `seal --help`.
const ENVIRONMENT_HELP: &str = "\
Environment only:
  PDF_SEAL_SIGNING_KEY_PASSWORD    password of an encrypted PEM key
  PDF_SEAL_PKCS12_PASSWORD         password of the PKCS#12 file (empty when unset)
  PDF_SEAL_MAX_BODY_BYTES          largest PDF the service accepts [default: 52428800]
  PDF_SEAL_BODY_IDLE_TIMEOUT_SECS  longest pause in a request body [default: 30]
  PDF_SEAL_BODY_TIMEOUT_SECS       longest time to receive a request body [default: 110]
  PDF_SEAL_MAX_CONCURRENT_SEALS    seals at once; more are answered 503 [default: 4 per CPU]
  PDF_SEAL_LOG                     log filter, such as info or pdf_seal=debug [default: info]
  PDF_SEAL_LOG_FORMAT              json or text [default: text on a terminal, else json]
Logs go to standard error.";

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
    #[command(after_help = ENVIRONMENT_HELP)]
    Serve(serve::ServeArgs),
    /// Seal one PDF file
    #[command(after_help = ENVIRONMENT_HELP)]
    Seal(seal::SealArgs),
    /// Make a development root CA and seal certificate
    DevCert(dev_cert::DevCertArgs),
}

/// Why a command did not succeed.
#[derive(Debug, thiserror::Error)]
pub enum CliError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error(transparent)]
    Signer(#[from] SignerSetupError),
    /// The input was refused; the message names the cause.
    #[error("{0}")]
    Refused(String),
    #[error("{0:#}")]
    Failed(#[from] anyhow::Error),
}

impl CliError {
    /// The process exit code for this error.
    pub fn exit_code(&self) -> u8 {
        match self {
            Self::Config(_) | Self::Refused(_) => EXIT_REFUSED,
            Self::Signer(error) if error.is_configuration() => EXIT_REFUSED,
            Self::Signer(_) | Self::Failed(_) => EXIT_FAILED,
        }
    }
}

/// Runs a parsed command line and reports a failure on standard error.
pub fn run(cli: Cli) -> ExitCode {
    let result = match cli.command {
        Command::Serve(args) => serve::run(args),
        Command::Seal(args) => seal::run(args),
        Command::DevCert(args) => dev_cert::run(args),
    };

    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("pdf-seal: error: {error}");
            ExitCode::from(error.exit_code())
        }
    }
}
