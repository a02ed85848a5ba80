//! A Cloud Signature Consortium trust service (CSC API v1 or v2): it signs the hash of the
//! signed attributes; pdf-seal builds the CMS.

use pdf_seal_core::signer::RawSigner;

use super::SignerSetupError;
use crate::config::signer::csc::CscSettings;
use crate::secrets::Secrets;

/// The raw signer for `settings`: the credential's certificates are fetched now.
pub async fn open(
    _settings: &CscSettings,
    _secrets: &Secrets,
) -> Result<Box<dyn RawSigner>, SignerSetupError> {
    Err(SignerSetupError::Remote {
        variable: "PDF_SEAL_SIGNER".into(),
        reason: "csc is not available yet".into(),
    })
}
