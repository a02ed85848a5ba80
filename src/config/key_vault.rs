//! How pdf-seal reaches Azure Key Vault, shared by the key backend and by `keyvault:` secrets:
//! the vault, the identity, and where the vault's host name connects.
//!
//! | variable | meaning |
//! |---|---|
//! | `PDF_SEAL_KEY_VAULT_URL` | the vault, `https://NAME.vault.azure.net` (or a Managed HSM) |
//! | `PDF_SEAL_KEY_VAULT_CREDENTIAL` | `managed-identity` (default), `workload-identity`, `azure-cli` |
//! | `PDF_SEAL_MANAGED_IDENTITY_CLIENT_ID` | a user-assigned identity, for `managed-identity` |
//! | `PDF_SEAL_KEY_VAULT_CONNECT_TO` | `IP:PORT` the vault's host name connects to |
//! | `PDF_SEAL_KEY_VAULT_TIMEOUT_SECS` | the limit of one request, 30 s by default |
//! | `PDF_SEAL_SECRETS_REFRESH_SECS` | how often `keyvault:` secrets are read again, 300 s by default |

use std::net::SocketAddr;
use std::time::Duration;

use url::Url;

use super::{ConfigError, Environment};

/// `PDF_SEAL_KEY_VAULT_URL`.
pub const URL_VARIABLE: &str = "PDF_SEAL_KEY_VAULT_URL";
const CREDENTIAL_VARIABLE: &str = "PDF_SEAL_KEY_VAULT_CREDENTIAL";
const CLIENT_ID_VARIABLE: &str = "PDF_SEAL_MANAGED_IDENTITY_CLIENT_ID";
const CONNECT_TO_VARIABLE: &str = "PDF_SEAL_KEY_VAULT_CONNECT_TO";
const TIMEOUT_VARIABLE: &str = "PDF_SEAL_KEY_VAULT_TIMEOUT_SECS";
const REFRESH_VARIABLE: &str = "PDF_SEAL_SECRETS_REFRESH_SECS";

const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);
const DEFAULT_REFRESH: Duration = Duration::from_secs(300);

/// `PDF_SEAL_SECRETS_REFRESH_SECS`: how often the `keyvault:` secrets are read again, 300 s by
/// default, from 1 s to a day.
pub fn secrets_refresh_interval(env: &Environment) -> Result<Duration, ConfigError> {
    match env.get_non_empty(REFRESH_VARIABLE)? {
        Some(text) => match text.trim().parse::<u64>() {
            Ok(secs) if (1..=86_400).contains(&secs) => Ok(Duration::from_secs(secs)),
            _ => Err(ConfigError::new(
                REFRESH_VARIABLE,
                format!("expected whole seconds from 1 to 86400, found {text:?}"),
            )),
        },
        None => Ok(DEFAULT_REFRESH),
    }
}

/// The identity that pdf-seal shows Key Vault: an Entra ID token credential.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TokenIdentity {
    /// `managed-identity`: the app's system-assigned identity, or the user-assigned one whose
    /// client id is `PDF_SEAL_MANAGED_IDENTITY_CLIENT_ID`.
    ManagedIdentity { client_id: Option<String> },
    /// `workload-identity`: a Kubernetes workload identity (the variables AKS sets).
    WorkloadIdentity,
    /// `azure-cli`: the account signed in to `az`, for development.
    AzureCli,
}

impl TokenIdentity {
    /// The value of the credential setting that selects this identity.
    pub fn name(&self) -> &'static str {
        match self {
            Self::ManagedIdentity { .. } => "managed-identity",
            Self::WorkloadIdentity => "workload-identity",
            Self::AzureCli => "azure-cli",
        }
    }
}

/// How to reach Key Vault.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KeyVaultAccess {
    /// `PDF_SEAL_KEY_VAULT_URL`: the default vault, `https://NAME.vault.azure.net/`; `None` when
    /// unset (then only secrets named with their full URL can be read).
    pub vault: Option<Url>,
    /// `PDF_SEAL_KEY_VAULT_CREDENTIAL`.
    pub identity: TokenIdentity,
    /// `PDF_SEAL_KEY_VAULT_CONNECT_TO`: like curl's `--resolve`, every vault host name connects
    /// to this address (a private endpoint whose DNS is not in place yet, or a test). TLS still
    /// checks the certificate against the vault's host name.
    pub connect_to: Option<SocketAddr>,
    /// `PDF_SEAL_KEY_VAULT_TIMEOUT_SECS`: the limit of one request to the vault.
    pub timeout: Duration,
}

impl KeyVaultAccess {
    /// Reads the access settings; none is required here (the key backend requires the vault).
    pub fn resolve(env: &Environment) -> Result<Self, ConfigError> {
        let vault = match env.get_non_empty(URL_VARIABLE)? {
            Some(text) => Some(parse_vault_url(URL_VARIABLE, text.trim())?),
            None => None,
        };
        let client_id = env.get_non_empty(CLIENT_ID_VARIABLE)?;
        let identity = match env
            .get_non_empty(CREDENTIAL_VARIABLE)?
            .as_deref()
            .map(str::trim)
        {
            None | Some("managed-identity") => TokenIdentity::ManagedIdentity { client_id },
            Some("workload-identity") => TokenIdentity::WorkloadIdentity,
            Some("azure-cli") => TokenIdentity::AzureCli,
            Some(other) => {
                return Err(ConfigError::new(
                    CREDENTIAL_VARIABLE,
                    format!(
                        "expected managed-identity, workload-identity or azure-cli, found {other:?}"
                    ),
                ));
            }
        };
        let connect_to = match env.get_non_empty(CONNECT_TO_VARIABLE)? {
            Some(text) => Some(text.trim().parse::<SocketAddr>().map_err(|_| {
                ConfigError::new(
                    CONNECT_TO_VARIABLE,
                    format!("expected IP:PORT (such as 10.0.0.4:443), found {text:?}"),
                )
            })?),
            None => None,
        };
        let timeout = match env.get_non_empty(TIMEOUT_VARIABLE)? {
            Some(text) => match text.trim().parse::<u64>() {
                Ok(secs) if (1..=600).contains(&secs) => Duration::from_secs(secs),
                _ => {
                    return Err(ConfigError::new(
                        TIMEOUT_VARIABLE,
                        format!("expected whole seconds from 1 to 600, found {text:?}"),
                    ));
                }
            },
            None => DEFAULT_TIMEOUT,
        };
        Ok(Self {
            vault,
            identity,
            connect_to,
            timeout,
        })
    }

    /// The vault, or an error naming `PDF_SEAL_KEY_VAULT_URL` as required by `what`.
    pub fn required_vault(&self, what: &str) -> Result<&Url, ConfigError> {
        self.vault.as_ref().ok_or_else(|| {
            ConfigError::new(URL_VARIABLE, format!("missing, and required with {what}"))
        })
    }
}

/// The DNS suffixes of Key Vault and Managed HSM in Azure's clouds. The SDK sends a token only to
/// a host under the suffix its challenge names, so another host would fail at the first request
/// with an obscure error; it is refused here instead. A private endpoint keeps these names.
const KEY_VAULT_SUFFIXES: [&str; 6] = [
    ".vault.azure.net",
    ".vault.azure.cn",
    ".vault.usgovcloudapi.net",
    ".managedhsm.azure.net",
    ".managedhsm.azure.cn",
    ".managedhsm.usgovcloudapi.net",
];

/// True when `host` is a vault's or a Managed HSM's name in one of Azure's clouds.
pub fn is_key_vault_host(host: &str) -> bool {
    let host = host.to_ascii_lowercase();
    KEY_VAULT_SUFFIXES
        .iter()
        .any(|suffix| host.len() > suffix.len() && host.ends_with(suffix))
}

/// An https URL with a host and nothing after it: the vault. Its path is set to `/`.
pub fn parse_vault_url(variable: &str, text: &str) -> Result<Url, ConfigError> {
    let invalid = |why: &str| {
        ConfigError::new(
            variable,
            format!("{why}: expected https://NAME.vault.azure.net, found {text:?}"),
        )
    };
    let mut url = Url::parse(text).map_err(|e| invalid(&e.to_string()))?;
    if url.scheme() != "https" {
        return Err(invalid("Key Vault is reached over https only"));
    }
    if url.host_str().is_none_or(|host| !host.contains('.')) {
        return Err(invalid("the URL needs the vault's full host name"));
    }
    if url.host_str().is_some_and(|host| !is_key_vault_host(host)) {
        return Err(invalid(
            "the host is not a Key Vault or Managed HSM name (such as NAME.vault.azure.net)",
        ));
    }
    let extras = url.query().is_some() || url.fragment().is_some();
    if extras || !url.username().is_empty() || url.password().is_some() {
        return Err(invalid(
            "the vault URL has no user information, query or fragment",
        ));
    }
    if !matches!(url.path(), "" | "/") {
        return Err(invalid("the vault URL has no path or query"));
    }
    url.set_path("/");
    Ok(url)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn resolve(pairs: &[(&str, &str)]) -> Result<KeyVaultAccess, ConfigError> {
        KeyVaultAccess::resolve(&Environment::from_pairs(pairs.iter().copied()))
    }

    #[test]
    fn managed_identity_is_the_default_and_takes_the_client_id() {
        let access = resolve(&[
            (URL_VARIABLE, "https://seal.vault.azure.net"),
            (CLIENT_ID_VARIABLE, "1234"),
        ])
        .unwrap();

        assert_eq!(
            access.vault.unwrap().as_str(),
            "https://seal.vault.azure.net/"
        );
        let client_id = Some("1234".to_string());
        assert_eq!(
            access.identity,
            TokenIdentity::ManagedIdentity { client_id }
        );
        assert_eq!(access.timeout, DEFAULT_TIMEOUT);
    }

    #[test]
    fn connect_to_is_an_address_and_port() {
        let access = resolve(&[(CONNECT_TO_VARIABLE, "127.0.0.1:8443")]).unwrap();
        assert_eq!(access.connect_to, Some("127.0.0.1:8443".parse().unwrap()));

        let error = resolve(&[(CONNECT_TO_VARIABLE, "vault.local")]).unwrap_err();
        assert_eq!(error.variable, CONNECT_TO_VARIABLE);
    }

    #[test]
    fn refuses_bad_vault_urls_naming_the_variable() {
        for url in [
            "http://seal.vault.azure.net",
            "https://localhost",
            "https://seal.vault.azure.net/keys/a",
            "seal.vault.azure.net",
            "https://seal.example.com",
            "https://vault.azure.net",
            "https://user@seal.vault.azure.net",
        ] {
            let error = resolve(&[(URL_VARIABLE, url)]).unwrap_err();
            assert_eq!(error.variable, URL_VARIABLE, "{url}");
        }
    }

    #[test]
    fn refuses_an_unknown_credential_and_a_zero_timeout() {
        let credential = resolve(&[(CREDENTIAL_VARIABLE, "sas")]).unwrap_err();
        let timeout = resolve(&[(TIMEOUT_VARIABLE, "0")]).unwrap_err();

        assert_eq!(credential.variable, CREDENTIAL_VARIABLE);
        assert_eq!(timeout.variable, TIMEOUT_VARIABLE);
    }

    #[test]
    fn the_secrets_refresh_defaults_to_five_minutes() {
        let env = |pairs: &[(&str, &str)]| Environment::from_pairs(pairs.iter().copied());

        assert_eq!(
            secrets_refresh_interval(&env(&[])).unwrap(),
            DEFAULT_REFRESH
        );
        assert_eq!(
            secrets_refresh_interval(&env(&[(REFRESH_VARIABLE, "5")])).unwrap(),
            Duration::from_secs(5)
        );
        let error = secrets_refresh_interval(&env(&[(REFRESH_VARIABLE, "soon")])).unwrap_err();
        assert_eq!(error.variable, REFRESH_VARIABLE);
    }
}
