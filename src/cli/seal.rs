//! `pdf-seal seal IN.pdf -o OUT.pdf`: seals one file with the same engine as the service.

use std::io::IsTerminal as _;
use std::path::{Path, PathBuf};

use anyhow::Context as _;
use pdf_seal_core::signer::DigestAlgorithm;
use pdf_seal_core::{ErrorKind, SealError, SealOptions};

use super::interrupt::{PartialOutput, remove_partial_output_on_signals};
use super::seal_input::Input;
use super::seal_output::Output;
use super::{CliError, describe};
use crate::config::{Environment, LogSettings, SignerArgs, SignerSettings};
use crate::secrets::Secrets;
use crate::{signing, telemetry};

/// The arguments of `pdf-seal seal`.
#[derive(Debug, clap::Args)]
pub struct SealArgs {
    /// The PDF to seal; - reads standard input
    #[arg(value_name = "IN.pdf")]
    pub input: PathBuf,

    /// Where to write the sealed PDF (replaced whole, never left half-written, keeping its
    /// permissions; a symbolic link is followed and kept); - writes standard output
    #[arg(short, long, value_name = "OUT.pdf")]
    pub output: PathBuf,

    /// Reason for the seal, shown by PDF readers
    #[arg(long)]
    pub reason: Option<String>,

    /// Where the seal was made
    #[arg(long)]
    pub location: Option<String>,

    /// How to reach the sealing organisation
    #[arg(long)]
    pub contact: Option<String>,

    /// Name of the new signature field [default: a free Seal<n>]
    #[arg(long, value_name = "NAME")]
    pub field_name: Option<String>,

    /// Digest algorithm [default: sha256, or sha384 for a Key Vault key on P-384, which signs
    /// nothing else]
    #[arg(long, value_name = "sha256|sha384|sha512")]
    pub digest: Option<DigestAlgorithm>,

    #[command(flatten)]
    pub signer: SignerArgs,
}

/// Seals the input, writes the output and prints a one-line summary on standard error.
///
/// SIGINT and SIGTERM remove the temporary output before the process exits (see the
/// `interrupt` module); SIGKILL cannot be caught and can leave it behind.
pub fn run(args: SealArgs) -> Result<(), CliError> {
    let env = Environment::from_process();
    let log = LogSettings::resolve(&env, std::io::stderr().is_terminal())?;
    let signer_settings = SignerSettings::resolve(&args.signer, &env)?;
    let secrets = Secrets::from_settings(&env)?;
    telemetry::init(&log);
    let partial = PartialOutput::default();
    remove_partial_output_on_signals(partial.clone())?;

    let stdin = args.input == Path::new("-");
    let file = match stdin {
        true => None,
        false => Some(Input::open_file(&args.input)?),
    };
    let mut output = Output::create(&args.output, &partial)?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    let loaded = runtime.block_on(signing::load(&signer_settings, &secrets))?;
    if let Some(files) = &loaded.development {
        signing::warn_development(files);
    }
    // Standard input is read last, so that a destination or a signer that cannot be used is
    // refused before a long input is waited for.
    let input = match file {
        Some(file) => file,
        None => Input::read_stdin()?,
    };

    let options = SealOptions {
        reason: args.reason,
        location: args.location,
        contact_info: args.contact,
        field_name: args.field_name,
        digest: args
            .digest
            .unwrap_or_else(|| loaded.signer.default_digest()),
        ..SealOptions::default()
    };
    let sealing = pdf_seal_core::seal(&input, &options, loaded.signer.as_ref());
    let (sealed, prefix) = std::thread::scope(|scope| {
        let copying = scope.spawn(|| output.write_prefix(&input));
        let sealed = runtime.block_on(sealing);
        (sealed, copying.join())
    });
    let sealed = sealed.map_err(refusal_or_failure)?;
    prefix.map_err(|_| CliError::Failed(anyhow::anyhow!("copying the input panicked")))??;

    let written = output.finish(&input, &sealed.increment)?;
    // The field name is quoted and escaped like a Rust string: it comes from the user or the
    // document, and a line break in it must not start a line of its own.
    eprintln!(
        "pdf-seal: sealed {} into {} (field {:?}, {written} bytes)",
        describe(&args.input, "standard input"),
        describe(&args.output, "standard output"),
        sealed.field_name,
    );
    Ok(())
}

/// A document the core will not seal is a refusal (exit code 2); a signer or read failure is
/// a failure (exit code 1).
fn refusal_or_failure(error: SealError) -> CliError {
    match error.kind() {
        ErrorKind::Signer
        | ErrorKind::SignerUnavailable
        | ErrorKind::SignerBadAnswer
        | ErrorKind::Timestamp
        | ErrorKind::Io => CliError::Failed(error.into()),
        // The signing service refused the configured credentials: a setting to fix.
        ErrorKind::SignerRefused
        | ErrorKind::NotPdf
        | ErrorKind::Unreadable
        | ErrorKind::Encrypted
        | ErrorKind::Certified
        | ErrorKind::InvalidOption => CliError::Refused(error.to_string()),
    }
}
