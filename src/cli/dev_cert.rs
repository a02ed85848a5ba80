//! `pdf-seal dev-cert --out DIR`.

use std::path::PathBuf;

use anyhow::Context as _;
use pdf_seal_core::signer::dev;

use super::CliError;
use crate::signing::{DEVELOPMENT_ORGANISATION, dev_files};

/// The arguments of `pdf-seal dev-cert`.
#[derive(Debug, clap::Args)]
pub struct DevCertArgs {
    /// Directory to write root-ca.pem, seal-chain.pem and seal-key.pem into (created if missing)
    #[arg(long, value_name = "DIR")]
    pub out: PathBuf,

    /// Replace the files if they exist
    #[arg(long)]
    pub force: bool,
}

/// Makes a development root CA and a seal certificate it issued, writes them and says what
/// each file is for.
pub fn run(args: DevCertArgs) -> Result<(), CliError> {
    let credentials =
        dev::generate(DEVELOPMENT_ORGANISATION).context("making the development certificates")?;
    let files =
        dev_files::write_files(&args.out, &credentials, args.force).map_err(
            |error| match error {
                dev_files::DevCredentialsError::Exists { .. } => {
                    CliError::Refused(error.to_string())
                }
                other => CliError::Failed(other.into()),
            },
        )?;

    println!(
        "wrote {}: the development root CA; trust it only in validators you test with",
        files.root_certificate().display()
    );
    println!(
        "wrote {}: the seal certificate, then the root CA",
        files.chain().display()
    );
    println!(
        "wrote {}: the seal key, readable by you only (mode 0600)",
        files.key().display()
    );
    println!(
        "These credentials are for development only: seals made with them prove nothing to \
         anyone else. Use them with --signing-key and --signing-certs."
    );
    Ok(())
}
