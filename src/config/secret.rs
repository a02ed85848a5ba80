//! Secret values such as key passwords and API keys, and settings that name a secret in Key
//! Vault instead of holding it.

use std::fmt;

use super::{ConfigError, Environment};

/// The prefix of a setting's value that names a Key Vault secret instead of holding the value:
/// `keyvault:NAME` (in the vault of `PDF_SEAL_KEY_VAULT_URL`) or
/// `keyvault:https://VAULT.vault.azure.net/secrets/NAME`.
pub const KEY_VAULT_PREFIX: &str = "keyvault:";

/// How an App Service Key Vault reference starts; the platform replaces it with the secret, so
/// a value that still starts this way was not resolved.
const PLATFORM_REFERENCE_PREFIX: &str = "@Microsoft.KeyVault(";

/// A secret setting: its value, or where in Key Vault to read it (and read it again, after a
/// rotation).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SecretSetting {
    /// The value itself, from the environment (perhaps put there by the platform from a Key
    /// Vault reference).
    Value(Secret),
    /// A Key Vault secret that pdf-seal reads, caches and refreshes itself.
    KeyVault(SecretReference),
}

/// A secret in Key Vault: `name` in `vault`, or in `PDF_SEAL_KEY_VAULT_URL` when `vault` is
/// `None`; the latest version unless `version` is given.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SecretReference {
    pub vault: Option<url::Url>,
    pub name: String,
    pub version: Option<String>,
}

impl SecretSetting {
    /// Reads the secret setting `variable`: `None` when unset or empty.
    ///
    /// An App Service Key Vault reference that the platform left unresolved is refused with
    /// what to check, rather than used as a password.
    pub fn read(env: &Environment, variable: &str) -> Result<Option<Self>, ConfigError> {
        let Some(value) = env.get_non_empty(variable)? else {
            return Ok(None);
        };
        let start = value.trim_start();
        let prefix = start
            .get(..PLATFORM_REFERENCE_PREFIX.len())
            .unwrap_or_default();
        if prefix.eq_ignore_ascii_case(PLATFORM_REFERENCE_PREFIX) {
            return Err(ConfigError::new(
                variable,
                "holds a Key Vault reference that the platform did not resolve: check that the \
                 app's identity may read the secret and that the reference names an existing \
                 secret",
            ));
        }
        match value.strip_prefix(KEY_VAULT_PREFIX) {
            None => Ok(Some(Self::Value(Secret::new(value)))),
            Some(reference) => parse_reference(reference.trim())
                .map(|reference| Some(Self::KeyVault(reference)))
                .map_err(|reason| ConfigError::new(variable, reason)),
        }
    }
}

/// `NAME` or `https://VAULT/secrets/NAME[/VERSION]`. Secret names are 1 to 127 letters, digits
/// and dashes (Key Vault's own rule).
fn parse_reference(text: &str) -> Result<SecretReference, String> {
    let valid_name = |name: &str| {
        (1..=127).contains(&name.len())
            && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
    };
    if !text.contains('/') {
        if !valid_name(text) {
            return Err(format!(
                "{KEY_VAULT_PREFIX}{text:?}: a secret name is 1 to 127 letters, digits and dashes"
            ));
        }
        return Ok(SecretReference {
            vault: None,
            name: text.to_string(),
            version: None,
        });
    }
    let url = url::Url::parse(text).map_err(|e| format!("{KEY_VAULT_PREFIX}{text}: {e}"))?;
    let extras = url.query().is_some() || url.fragment().is_some();
    if url.scheme() != "https" || extras || !url.username().is_empty() || url.password().is_some() {
        return Err(format!(
            "{KEY_VAULT_PREFIX}{text}: expected https://VAULT/secrets/NAME[/VERSION]"
        ));
    }
    let segments: Vec<&str> = url.path_segments().into_iter().flatten().collect();
    let (name, version) = match segments.as_slice() {
        ["secrets", name] | ["secrets", name, ""] => (*name, None),
        ["secrets", name, version] => (*name, Some(version.to_string())),
        _ => {
            return Err(format!(
                "{KEY_VAULT_PREFIX}{text}: expected https://VAULT/secrets/NAME[/VERSION]"
            ));
        }
    };
    if !valid_name(name) {
        return Err(format!(
            "{KEY_VAULT_PREFIX}{text}: a secret name is 1 to 127 letters, digits and dashes"
        ));
    }
    if url
        .host_str()
        .is_none_or(|host| !super::key_vault::is_key_vault_host(host))
    {
        return Err(format!(
            "{KEY_VAULT_PREFIX}{text}: the host is not a Key Vault or Managed HSM name (such as \
             NAME.vault.azure.net)"
        ));
    }
    let mut vault = url.clone();
    vault.set_path("/");
    Ok(SecretReference {
        vault: Some(vault),
        name: name.to_string(),
        version,
    })
}

/// A secret string: its `Debug` output is `[redacted]` and it has no `Display`, so it cannot
/// reach a log line or an error message by accident. Read it with [`Secret::expose`] where it
/// is used.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// Wraps `value`.
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    /// The secret value itself, for the one place that needs it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_output_is_redacted() {
        let secret = Secret::new("correct horse battery staple");

        assert_eq!(format!("{secret:?}"), "[redacted]");
        assert_eq!(format!("{:?}", Some(&secret)), "Some([redacted])");
    }

    fn read(value: &str) -> Result<Option<SecretSetting>, ConfigError> {
        SecretSetting::read(&Environment::from_pairs([("X", value)]), "X")
    }

    #[test]
    fn a_plain_value_is_the_secret_itself() {
        assert_eq!(
            read("0123abcd").unwrap(),
            Some(SecretSetting::Value(Secret::new("0123abcd")))
        );
        assert_eq!(read("").unwrap(), None);
    }

    #[test]
    fn a_key_vault_reference_names_the_secret_and_perhaps_its_vault() {
        let Some(SecretSetting::KeyVault(short)) = read("keyvault:ts-api-key").unwrap() else {
            panic!("expected a reference");
        };
        assert_eq!((short.vault, short.name.as_str()), (None, "ts-api-key"));

        let long = read("keyvault:https://seal.vault.azure.net/secrets/ts-key/0a1b").unwrap();
        let Some(SecretSetting::KeyVault(long)) = long else {
            panic!("expected a reference");
        };
        assert_eq!(
            long.vault.unwrap().as_str(),
            "https://seal.vault.azure.net/"
        );
        assert_eq!(long.name, "ts-key");
        assert_eq!(long.version.as_deref(), Some("0a1b"));
    }

    #[test]
    fn bad_references_are_refused_naming_the_variable() {
        for value in [
            "keyvault:",
            "keyvault:no spaces",
            "keyvault:http://seal.vault.azure.net/secrets/x",
            "keyvault:https://seal.vault.azure.net/keys/x",
            "keyvault:https://user:pw@seal.vault.azure.net/secrets/x",
            "keyvault:https://evil.example/secrets/x",
            "keyvault:https://seal.vault.azure.net/secrets/x#part",
            "@microsoft.keyvault(SecretUri=https://seal.vault.azure.net/secrets/x/)",
            "@Microsoft.KeyVault(SecretUri=https://seal.vault.azure.net/secrets/x/)",
        ] {
            let error = read(value).unwrap_err();
            assert_eq!(error.variable, "X", "{value}");
        }
    }

    #[test]
    fn expose_gives_the_value_back() {
        assert_eq!(Secret::new("pw").expose(), "pw");
    }
}
