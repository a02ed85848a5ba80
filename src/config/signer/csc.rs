//! Settings of the CSC backend (`PDF_SEAL_SIGNER=csc`).

use crate::config::{ConfigError, Environment};

/// Settings of a Cloud Signature Consortium trust service.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CscSettings {}

impl CscSettings {
    /// Reads the `PDF_SEAL_CSC_*` settings.
    pub fn resolve(_env: &Environment) -> Result<Self, ConfigError> {
        Err(ConfigError::new(super::SIGNER, "csc is not available yet"))
    }
}
