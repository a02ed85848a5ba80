//! Settings of the time-stamp authorities that make seals PAdES B-T (`PDF_SEAL_TSA_URLS`).

use crate::config::{ConfigError, Environment};

/// The time-stamp authorities, tried in order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TimestampSettings {}

impl TimestampSettings {
    /// Reads `PDF_SEAL_TSA_*`; `None` when no authority is configured.
    pub fn resolve(_env: &Environment) -> Result<Option<Self>, ConfigError> {
        Ok(None)
    }
}
