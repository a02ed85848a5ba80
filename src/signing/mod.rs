//! Turns the signer settings into a ready [`Signer`], shared by `seal` and `serve`.

pub mod csc;
pub mod dev_files;
pub mod key_vault;
pub mod timestamps;
pub mod trusted_signatures;

use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use pdf_seal_core::signer::local::LocalSigner;
use pdf_seal_core::signer::{RawSigner, Signer, SignerError, dev};

pub use dev_files::{DevCredentialFiles, DevCredentialsError};

use crate::config::signer::SignerBackend;
use crate::config::{SignerSettings, SigningKeySource};
use crate::secrets::{Secrets, SecretsError};

/// The organisation named in development certificates.
pub const DEVELOPMENT_ORGANISATION: &str = "pdf-seal development (not trusted)";

/// A signer ready to seal.
pub struct LoadedSigner {
    /// The signer, which builds the PAdES CMS around the key's signature.
    pub signer: Arc<dyn Signer>,
    /// The development credentials in use, when no key is configured.
    pub development: Option<DevCredentialFiles>,
}

/// Why the configured signer cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum SignerSetupError {
    /// A key or certificate file cannot be read.
    #[error("{variable}: reading {path}: {source}")]
    Read {
        variable: &'static str,
        path: PathBuf,
        source: io::Error,
    },
    /// The key or its certificates were read but cannot be used.
    #[error("{variable}: {source}")]
    Key {
        variable: &'static str,
        source: SignerError,
    },
    /// The development credentials cannot be made or read.
    #[error(transparent)]
    Development(#[from] DevCredentialsError),
    /// A secret the signer needs cannot be read.
    #[error(transparent)]
    Secret(#[from] SecretsError),
    /// A remote signing service refused or could not be reached while the signer was set up
    /// (fetching its certificates, checking its key).
    #[error("{variable}: {reason}")]
    Remote { variable: String, reason: String },
}

impl SignerSetupError {
    /// True when the configuration is at fault rather than the machine.
    pub fn is_configuration(&self) -> bool {
        !matches!(self, Self::Development(_))
    }
}

/// Sets up the backend that `settings` choose: the local key (or the development credentials,
/// made on first use, when there is none), or a remote service, whose certificates are fetched
/// now so that a wrong setting fails at start rather than at the first seal.
pub async fn load(
    settings: &SignerSettings,
    secrets: &Secrets,
) -> Result<LoadedSigner, SignerSetupError> {
    let timestamps = settings.timestamps.as_ref();
    let (raw, development): (Box<dyn RawSigner>, _) = match &settings.backend {
        SignerBackend::Local(key) => {
            let (local, development) = load_local(key, secrets).await?;
            (
                Box::new(local.with_rsa_padding(settings.rsa_padding)),
                development,
            )
        }
        SignerBackend::TrustedSignatures(ts) => {
            let signer = trusted_signatures::open(ts, secrets).await?;
            return Ok(LoadedSigner {
                signer,
                development: None,
            });
        }
        SignerBackend::Csc(csc) => (csc::open(csc, settings.rsa_padding, secrets).await?, None),
        SignerBackend::AzureKeyVault(key) => {
            (key_vault::open(key, settings.rsa_padding).await?, None)
        }
    };
    Ok(LoadedSigner {
        signer: timestamps::cades(raw, timestamps)?,
        development,
    })
}

/// The local key, or the development credentials.
async fn load_local(
    key: &SigningKeySource,
    secrets: &Secrets,
) -> Result<(LocalSigner, Option<DevCredentialFiles>), SignerSetupError> {
    let (local, development) = match key {
        SigningKeySource::Pem {
            key,
            certificates,
            password,
        } => {
            let key_pem = read(key, "PDF_SEAL_SIGNING_KEY")?;
            let chain_pem = read(certificates, "PDF_SEAL_SIGNING_CERTS")?;
            let password = match password {
                Some(setting) => Some(
                    secrets
                        .cell(setting, "PDF_SEAL_SIGNING_KEY_PASSWORD")
                        .await?
                        .current(),
                ),
                None => None,
            };
            let password = password.as_ref().map(|secret| secret.expose());
            let signer = LocalSigner::from_pem(&key_pem, &chain_pem, password)
                .map_err(key_error("PDF_SEAL_SIGNING_KEY"))?;
            (signer, None)
        }
        SigningKeySource::Pkcs12 { path, password } => {
            let der = read(path, "PDF_SEAL_PKCS12")?;
            let password = secrets
                .cell(password, "PDF_SEAL_PKCS12_PASSWORD")
                .await?
                .current();
            let signer = LocalSigner::from_pkcs12(&der, password.expose())
                .map_err(key_error("PDF_SEAL_PKCS12"))?;
            (signer, None)
        }
        SigningKeySource::Development { state_dir } => {
            let generate = || dev::generate(DEVELOPMENT_ORGANISATION);
            let (files, _) = dev_files::ensure_in_state_dir(state_dir, generate)?;
            let key_pem = read(&files.key(), "PDF_SEAL_STATE_DIR")?;
            let chain_pem = read(&files.chain(), "PDF_SEAL_STATE_DIR")?;
            let signer = LocalSigner::from_pem(&key_pem, &chain_pem, None)
                .map_err(key_error("PDF_SEAL_STATE_DIR"))?;
            (signer, Some(files))
        }
    };
    Ok((local, development))
}

/// Says loudly, in the log and on standard error, that seals are made with development
/// credentials.
pub fn warn_development(files: &DevCredentialFiles) {
    tracing::warn!(
        signer.dev_cert_dir = %files.dir.display(),
        "no signing key is configured: sealing with development credentials, which are for \
         development only"
    );
    eprintln!(
        "pdf-seal: WARNING: no signing key is configured, so seals are made with the development \
         certificate in {}. They are for development only: nobody should trust them. Configure \
         PDF_SEAL_SIGNING_KEY and PDF_SEAL_SIGNING_CERTS, or PDF_SEAL_PKCS12.",
        files.dir.display()
    );
}

fn read(path: &Path, variable: &'static str) -> Result<Vec<u8>, SignerSetupError> {
    std::fs::read(path).map_err(|source| SignerSetupError::Read {
        variable,
        path: path.to_path_buf(),
        source,
    })
}

fn key_error(variable: &'static str) -> impl FnOnce(SignerError) -> SignerSetupError {
    move |source| SignerSetupError::Key { variable, source }
}
