//! The command line: one file per command.

pub mod dev_cert;
pub mod seal;
mod seal_io;
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

/// PAdES electronic seals for PDFs.
#[derive(Debug, Parser)]
#[command(name = "pdf-seal", version, about, long_about = None)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the HTTP service
    Serve(serve::ServeArgs),
    /// Seal one PDF file
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
