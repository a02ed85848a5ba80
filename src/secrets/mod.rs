//! Secrets as the signers use them: a fixed value from the environment, or a Key Vault secret
//! that is cached, refreshed on a schedule and re-read when a service refuses it.

use std::sync::Arc;

use crate::config::{Secret, SecretSetting};

/// One secret, read on each use so that a rotated value is picked up without a restart.
#[derive(Clone)]
pub struct SecretCell {
    inner: Arc<Inner>,
}

enum Inner {
    Fixed(Secret),
}

impl SecretCell {
    /// A value that never changes, such as one from the environment.
    pub fn fixed(value: Secret) -> Self {
        Self {
            inner: Arc::new(Inner::Fixed(value)),
        }
    }

    /// The current value: the last good one read.
    pub fn current(&self) -> Secret {
        match &*self.inner {
            Inner::Fixed(value) => value.clone(),
        }
    }

    /// Called when a service refused the current value: reads the secret again now (at most
    /// once in a short interval) and says whether the value changed, so that the caller
    /// retries only when it did.
    pub async fn refresh_after_rejection(&self) -> bool {
        match &*self.inner {
            Inner::Fixed(_) => false,
        }
    }
}

impl std::fmt::Debug for SecretCell {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SecretCell([redacted])")
    }
}

/// Why a secret cannot be had.
#[derive(Debug, thiserror::Error)]
#[error("{variable}: {reason}")]
pub struct SecretsError {
    /// The setting that names the secret.
    pub variable: String,
    pub reason: String,
}

/// Makes [`SecretCell`]s from settings and keeps the Key Vault ones fresh.
#[derive(Clone, Default)]
pub struct Secrets {}

impl Secrets {
    /// Secrets from the environment only.
    pub fn environment_only() -> Self {
        Self::default()
    }

    /// The cell for `setting`, read from Key Vault first when it names a secret there.
    pub async fn cell(
        &self,
        setting: &SecretSetting,
        variable: &str,
    ) -> Result<SecretCell, SecretsError> {
        match setting {
            SecretSetting::Value(value) => Ok(SecretCell::fixed(value.clone())),
            SecretSetting::KeyVault(_) => Err(SecretsError {
                variable: variable.to_string(),
                reason: "Key Vault secrets are not available yet".into(),
            }),
        }
    }
}
