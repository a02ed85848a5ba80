//! The Trusted Signatures API: the digest goes out, a whole CMS comes back (DESIGN.md
//! section 4).

use std::sync::Arc;

use pdf_seal_core::signer::Signer;

use super::SignerSetupError;
use crate::config::signer::trusted_signatures::TrustedSignaturesSettings;
use crate::secrets::Secrets;

/// The signer for `settings`, with its API keys read through `secrets`.
pub async fn open(
    _settings: &TrustedSignaturesSettings,
    _secrets: &Secrets,
) -> Result<Arc<dyn Signer>, SignerSetupError> {
    Err(SignerSetupError::Remote {
        variable: "PDF_SEAL_SIGNER".into(),
        reason: "trusted-signatures is not available yet".into(),
    })
}
