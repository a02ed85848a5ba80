//! Typed settings per area, read from the environment and checked at start.
//!
//! Every variable of pdf-seal starts with [`PREFIX`]. The few that are also command-line flags
//! are read by clap (see [`signer::SignerArgs`]); the rest are read here from an
//! [`Environment`] snapshot, so that tests can pass their own variables instead of changing the
//! process environment. A bad value is a [`ConfigError`] that names the variable: the commands
//! print it and stop with exit code 2.

pub mod auth;
pub mod entra;
pub mod http;
pub mod jobs;
pub mod key_vault;
pub mod keys_file;
pub mod limits;
pub mod log;
pub mod network;
pub mod secret;
pub mod service_url;
pub mod signer;
pub mod storage;

use std::collections::HashMap;
use std::ffi::OsString;

pub use auth::{AuthMethod, AuthPolicy, AuthSettings, FunctionKeySettings};
pub use entra::{AllowedClients, EntraSettings};
pub use http::HttpSettings;
pub use jobs::JobSettings;
pub use limits::SealLimits;
pub use log::{LogFormat, LogSettings};
pub use network::NetworkSettings;
pub use secret::{Secret, SecretReference, SecretSetting};
pub use signer::{SignerArgs, SignerSettings, SigningKeySource};
pub use storage::{AzureCredential, AzureStorageSettings, LocalStorageSettings, StorageSettings};

/// The prefix of every environment variable that pdf-seal reads.
pub const PREFIX: &str = "PDF_SEAL_";

/// A setting that cannot be used as given.
#[derive(Debug, thiserror::Error)]
#[error("{variable}: {reason}")]
pub struct ConfigError {
    /// The variable (and flag, where there is one) that holds the bad value.
    pub variable: String,
    /// What is wrong with it and what is expected instead.
    pub reason: String,
}

impl ConfigError {
    /// A bad value of `variable`.
    pub fn new(variable: impl Into<String>, reason: impl Into<String>) -> Self {
        Self {
            variable: variable.into(),
            reason: reason.into(),
        }
    }
}

/// A snapshot of environment variables.
#[derive(Clone, Default)]
pub struct Environment {
    vars: HashMap<String, OsString>,
}

impl Environment {
    /// The variables of this process.
    pub fn from_process() -> Self {
        Self::from_pairs(std::env::vars_os().filter_map(|(k, v)| Some((k.into_string().ok()?, v))))
    }

    /// The given variables only, for tests and for embedding.
    pub fn from_pairs<K, V>(pairs: impl IntoIterator<Item = (K, V)>) -> Self
    where
        K: Into<String>,
        V: Into<OsString>,
    {
        let vars = pairs
            .into_iter()
            .map(|(k, v)| (k.into(), v.into()))
            .collect();
        Self { vars }
    }

    /// The value of `name`, or `None` when it is not set; a value that is not UTF-8 is an error.
    pub fn get(&self, name: &str) -> Result<Option<String>, ConfigError> {
        let Some(value) = self.vars.get(name) else {
            return Ok(None);
        };
        let text = value
            .to_str()
            .ok_or_else(|| ConfigError::new(name, "the value is not UTF-8"))?;
        Ok(Some(text.to_owned()))
    }

    /// Like [`Environment::get`], but an empty value counts as not set.
    pub fn get_non_empty(&self, name: &str) -> Result<Option<String>, ConfigError> {
        Ok(self.get(name)?.filter(|value| !value.is_empty()))
    }

    /// True when `name` is set, whatever its value.
    pub fn is_set(&self, name: &str) -> bool {
        self.vars.contains_key(name)
    }
}

// The values may be secrets, so only the names are shown.
impl std::fmt::Debug for Environment {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut names: Vec<&str> = self.vars.keys().map(String::as_str).collect();
        names.sort_unstable();
        f.debug_struct("Environment")
            .field("names", &names)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use std::os::unix::ffi::OsStringExt;

    use super::*;

    #[test]
    fn a_value_that_is_not_utf8_is_an_error_naming_the_variable() {
        let env = Environment::from_pairs([("PDF_SEAL_LOG", OsString::from_vec(vec![0xff]))]);

        let error = env.get("PDF_SEAL_LOG").unwrap_err();

        assert!(error.to_string().starts_with("PDF_SEAL_LOG: "), "{error}");
    }

    #[test]
    fn an_empty_value_counts_as_unset_only_when_asked() {
        let env = Environment::from_pairs([("PDF_SEAL_LOG", "")]);

        assert_eq!(env.get("PDF_SEAL_LOG").unwrap().as_deref(), Some(""));
        assert_eq!(env.get_non_empty("PDF_SEAL_LOG").unwrap(), None);
    }

    #[test]
    fn debug_output_shows_names_but_not_values() {
        let env = Environment::from_pairs([("PDF_SEAL_PKCS12_PASSWORD", "hunter2")]);

        let shown = format!("{env:?}");

        assert!(shown.contains("PDF_SEAL_PKCS12_PASSWORD"));
        assert!(!shown.contains("hunter2"));
    }
}
