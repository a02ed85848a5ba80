//! Secrets read from Key Vault through the official `azure_security_keyvault_secrets` crate.

use async_trait::async_trait;
use azure_security_keyvault_secrets::models::SecretClientGetSecretOptions;
use azure_security_keyvault_secrets::{SecretClient, SecretClientOptions};

use super::{Fetched, SecretSource};
use crate::azure::key_vault::{client_options, credential, describe_error};
use crate::config::Secret;
use crate::config::key_vault::KeyVaultAccess;

/// The secrets of one vault.
pub struct KeyVaultSource {
    client: SecretClient,
}

impl KeyVaultSource {
    /// A client of `vault`, reached as `access` says. Nothing is sent yet.
    pub fn new(access: &KeyVaultAccess, vault: &url::Url) -> Result<Self, String> {
        let options = SecretClientOptions {
            client_options: client_options(access, vault)?,
            ..Default::default()
        };
        let client = SecretClient::new(vault.as_str(), credential(access)?, Some(options))
            .map_err(|e| describe_error(&e))?;
        Ok(Self { client })
    }
}

#[async_trait]
impl SecretSource for KeyVaultSource {
    async fn fetch(&self, name: &str, version: Option<&str>) -> Result<Fetched, String> {
        let options = SecretClientGetSecretOptions {
            secret_version: version.map(str::to_string),
            ..Default::default()
        };
        let secret = self
            .client
            .get_secret(name, Some(options))
            .await
            .and_then(|response| response.into_model())
            .map_err(|e| describe_error(&e))?;
        let value = secret.value.ok_or("the vault's answer holds no value")?;
        let version = secret
            .id
            .as_deref()
            .and_then(|id| id.rsplit('/').next())
            .filter(|v| !v.is_empty())
            .map(str::to_string);
        let expires = secret.attributes.and_then(|a| a.expires);
        Ok(Fetched {
            value: Secret::new(value),
            version,
            expires,
        })
    }
}
