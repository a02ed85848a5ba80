//! Settings of the Azure Key Vault key backend (`PDF_SEAL_SIGNER=azure-key-vault`).

use crate::config::{ConfigError, Environment};

/// Settings of a key in Azure Key Vault or Managed HSM.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KeyVaultKeySettings {}

impl KeyVaultKeySettings {
    /// Reads the `PDF_SEAL_KEY_VAULT_*` settings of the key.
    pub fn resolve(_env: &Environment) -> Result<Self, ConfigError> {
        Err(ConfigError::new(
            super::SIGNER,
            "azure-key-vault is not available yet",
        ))
    }
}
