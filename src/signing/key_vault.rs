//! A key in Azure Key Vault or Managed HSM: it signs the hash of the signed attributes;
//! pdf-seal builds the CMS.

use pdf_seal_core::signer::RawSigner;
use pdf_seal_core::signer::local::RsaPadding;

use super::SignerSetupError;
use crate::config::signer::key_vault::KeyVaultKeySettings;

/// The raw signer for `settings`: the key and its certificate chain are read now.
pub async fn open(
    _settings: &KeyVaultKeySettings,
    _rsa_padding: RsaPadding,
) -> Result<Box<dyn RawSigner>, SignerSetupError> {
    Err(SignerSetupError::Remote {
        variable: "PDF_SEAL_SIGNER".into(),
        reason: "azure-key-vault is not available yet".into(),
    })
}
