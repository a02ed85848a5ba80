//! Settings of the Trusted Signatures backend (`PDF_SEAL_SIGNER=trusted-signatures`).

use crate::config::{ConfigError, Environment};

/// Settings of the Trusted Signatures API.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TrustedSignaturesSettings {}

impl TrustedSignaturesSettings {
    /// Reads the `PDF_SEAL_TS_*` settings.
    pub fn resolve(_env: &Environment) -> Result<Self, ConfigError> {
        Err(ConfigError::new(
            super::SIGNER,
            "trusted-signatures is not available yet",
        ))
    }
}
