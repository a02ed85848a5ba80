//! Settings of the Azure Key Vault key backend (`PDF_SEAL_SIGNER=azure-key-vault`).
//!
//! | variable | meaning |
//! |---|---|
//! | `PDF_SEAL_KEY_VAULT_URL` | the vault (required) |
//! | `PDF_SEAL_KEY_VAULT_KEY` | the key: `NAME` or `NAME/VERSION` (required) |
//! | `PDF_SEAL_KEY_VAULT_CERTIFICATE` | a Key Vault certificate, `NAME[/VERSION]`, that is the seal's |
//! | `PDF_SEAL_KEY_VAULT_CHAIN` | a PEM file: the seal certificate and its issuers, or the issuers |
//!
//! One of the last two is required. The access settings are in [`crate::config::key_vault`].

use std::path::PathBuf;

use url::Url;

use crate::config::key_vault::KeyVaultAccess;
use crate::config::{ConfigError, Environment};

/// `PDF_SEAL_KEY_VAULT_KEY`.
pub const KEY_VARIABLE: &str = "PDF_SEAL_KEY_VAULT_KEY";
/// `PDF_SEAL_KEY_VAULT_CERTIFICATE`.
pub const CERTIFICATE_VARIABLE: &str = "PDF_SEAL_KEY_VAULT_CERTIFICATE";
/// `PDF_SEAL_KEY_VAULT_CHAIN`.
pub const CHAIN_VARIABLE: &str = "PDF_SEAL_KEY_VAULT_CHAIN";

/// An object in the vault: its name and perhaps a version (the latest otherwise).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VaultObject {
    pub name: String,
    pub version: Option<String>,
}

/// Settings of a key in Azure Key Vault or Managed HSM.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KeyVaultKeySettings {
    /// The vault and how to reach it.
    pub access: KeyVaultAccess,
    /// `PDF_SEAL_KEY_VAULT_URL`, which this backend requires.
    pub vault: Url,
    /// `PDF_SEAL_KEY_VAULT_KEY`.
    pub key: VaultObject,
    /// `PDF_SEAL_KEY_VAULT_CERTIFICATE`.
    pub certificate: Option<VaultObject>,
    /// `PDF_SEAL_KEY_VAULT_CHAIN`.
    pub chain: Option<PathBuf>,
}

impl KeyVaultKeySettings {
    /// Reads the `PDF_SEAL_KEY_VAULT_*` settings of the key.
    pub fn resolve(env: &Environment) -> Result<Self, ConfigError> {
        let access = KeyVaultAccess::resolve(env)?;
        let vault = access
            .required_vault("PDF_SEAL_SIGNER=azure-key-vault")?
            .clone();
        let key = match env.get_non_empty(KEY_VARIABLE)? {
            Some(text) => parse_object(KEY_VARIABLE, text.trim())?,
            None => {
                return Err(ConfigError::new(
                    KEY_VARIABLE,
                    "missing, and required with PDF_SEAL_SIGNER=azure-key-vault: the name of the \
                     key, NAME or NAME/VERSION",
                ));
            }
        };
        let certificate = match env.get_non_empty(CERTIFICATE_VARIABLE)? {
            Some(text) => Some(parse_object(CERTIFICATE_VARIABLE, text.trim())?),
            None => None,
        };
        let chain = env.get_non_empty(CHAIN_VARIABLE)?.map(PathBuf::from);
        if certificate.is_none() && chain.is_none() {
            return Err(ConfigError::new(
                CERTIFICATE_VARIABLE,
                format!(
                    "missing: the seal needs its certificate, from a Key Vault certificate \
                     ({CERTIFICATE_VARIABLE}) or a PEM file ({CHAIN_VARIABLE})"
                ),
            ));
        }
        Ok(Self {
            access,
            vault,
            key,
            certificate,
            chain,
        })
    }
}

/// `NAME` or `NAME/VERSION`; names are 1 to 127 letters, digits and dashes (Key Vault's rule),
/// versions letters and digits.
fn parse_object(variable: &str, text: &str) -> Result<VaultObject, ConfigError> {
    let (name, version) = match text.split_once('/') {
        Some((name, version)) => (name, Some(version)),
        None => (text, None),
    };
    let name_ok = (1..=127).contains(&name.len())
        && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-');
    let version_ok =
        version.is_none_or(|v| !v.is_empty() && v.bytes().all(|b| b.is_ascii_alphanumeric()));
    if !name_ok || !version_ok {
        return Err(ConfigError::new(
            variable,
            format!(
                "expected NAME or NAME/VERSION (a name is 1 to 127 letters, digits and dashes), \
                 found {text:?}"
            ),
        ));
    }
    Ok(VaultObject {
        name: name.to_string(),
        version: version.map(str::to_string),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn resolve(pairs: &[(&str, &str)]) -> Result<KeyVaultKeySettings, ConfigError> {
        let mut all = vec![("PDF_SEAL_KEY_VAULT_URL", "https://seal.vault.azure.net")];
        all.extend_from_slice(pairs);
        KeyVaultKeySettings::resolve(&Environment::from_pairs(all))
    }

    #[test]
    fn a_key_with_its_version_and_a_certificate() {
        let settings = resolve(&[
            (KEY_VARIABLE, "seal-key/0123abcd"),
            (CERTIFICATE_VARIABLE, "seal-cert"),
        ])
        .unwrap();

        assert_eq!(settings.key.name, "seal-key");
        assert_eq!(settings.key.version.as_deref(), Some("0123abcd"));
        assert_eq!(settings.certificate.unwrap().name, "seal-cert");
        assert_eq!(settings.vault.as_str(), "https://seal.vault.azure.net/");
    }

    #[test]
    fn refuses_a_missing_key_a_bad_name_and_no_certificate() {
        let no_key = resolve(&[(CHAIN_VARIABLE, "chain.pem")]).unwrap_err();
        let bad_name = resolve(&[(KEY_VARIABLE, "a key"), (CHAIN_VARIABLE, "c")]).unwrap_err();
        let no_certificate = resolve(&[(KEY_VARIABLE, "k")]).unwrap_err();

        assert_eq!(no_key.variable, KEY_VARIABLE);
        assert_eq!(bad_name.variable, KEY_VARIABLE);
        assert_eq!(no_certificate.variable, CERTIFICATE_VARIABLE);
    }

    #[test]
    fn the_vault_is_required() {
        let env = Environment::from_pairs([(KEY_VARIABLE, "k"), (CHAIN_VARIABLE, "c")]);

        let error = KeyVaultKeySettings::resolve(&env).unwrap_err();

        assert_eq!(error.variable, "PDF_SEAL_KEY_VAULT_URL");
    }
}
