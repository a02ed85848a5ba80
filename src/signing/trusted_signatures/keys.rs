//! The API keys: a primary and perhaps a secondary (two are active during a rotation), each
//! read on every request so that a value rotated in Key Vault is used without a restart.

use std::sync::atomic::{AtomicUsize, Ordering};

use pdf_seal_core::signer::SignerError;

use crate::config::signer::trusted_signatures::{
    ApiKeySettings, TrustedSignaturesSettings, check_api_key, check_key_id,
};
use crate::secrets::{SecretCell, Secrets, SecretsError};

/// One configured key.
struct Slot {
    /// `primary` or `secondary`, for the log.
    name: &'static str,
    key_id: SecretCell,
    api_key: SecretCell,
    key_id_variable: &'static str,
    api_key_variable: &'static str,
}

/// A key as one request uses it. `Debug` shows the id only: it is not secret, the key is.
pub struct Credentials {
    pub name: &'static str,
    pub key_id: String,
    pub key: Vec<u8>,
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Credentials")
            .field("name", &self.name)
            .field("key_id", &self.key_id)
            .finish_non_exhaustive()
    }
}

/// The keys, and which one to try first.
pub struct ApiKeys {
    slots: Vec<Slot>,
    /// The slot of the key that last worked: requests start with it, so that after the
    /// primary key is revoked each request does not pay for a refusal first.
    preferred: AtomicUsize,
}

impl ApiKeys {
    /// Reads the keys (from Key Vault, for `keyvault:` settings) and checks their form.
    pub async fn open(
        settings: &TrustedSignaturesSettings,
        secrets: &Secrets,
    ) -> Result<Self, SecretsError> {
        let mut slots = vec![open_slot("primary", &settings.primary, secrets).await?];
        if let Some(secondary) = &settings.secondary {
            slots.push(open_slot("secondary", secondary, secrets).await?);
        }
        for slot in &slots {
            slot.read().map_err(|(variable, reason)| SecretsError {
                variable: variable.to_string(),
                reason,
            })?;
        }
        Ok(Self {
            slots,
            preferred: AtomicUsize::new(0),
        })
    }

    /// The slots in the order to try them: the one that last worked first.
    pub fn order(&self) -> Vec<usize> {
        let first = self.preferred.load(Ordering::Relaxed);
        let mut order = vec![first];
        order.extend((0..self.slots.len()).filter(|slot| *slot != first));
        order
    }

    /// The slot requests start with.
    pub fn preferred(&self) -> usize {
        self.preferred.load(Ordering::Relaxed)
    }

    /// Remembers that `slot` worked.
    pub fn worked(&self, slot: usize) {
        self.preferred.store(slot, Ordering::Relaxed);
    }

    /// The current values of `slot`; a value rotated into an unusable form is a key error that
    /// names its variable.
    pub fn credentials(&self, slot: usize) -> Result<Credentials, SignerError> {
        let (key_id, key) = self.slots[slot]
            .read()
            .map_err(|(variable, reason)| SignerError::Key(format!("{variable}: {reason}")))?;
        Ok(Credentials {
            name: self.slots[slot].name,
            key_id,
            key,
        })
    }

    /// After every key was refused: reads each secret again and says whether any changed, in
    /// which case the keys are worth one more try.
    pub async fn refresh_after_rejection(&self) -> bool {
        let mut changed = false;
        for slot in &self.slots {
            changed |= slot.key_id.refresh_after_rejection().await;
            changed |= slot.api_key.refresh_after_rejection().await;
        }
        changed
    }
}

async fn open_slot(
    name: &'static str,
    settings: &ApiKeySettings,
    secrets: &Secrets,
) -> Result<Slot, SecretsError> {
    Ok(Slot {
        name,
        key_id: secrets
            .cell(&settings.key_id, settings.key_id_variable)
            .await?,
        api_key: secrets
            .cell(&settings.api_key, settings.api_key_variable)
            .await?,
        key_id_variable: settings.key_id_variable,
        api_key_variable: settings.api_key_variable,
    })
}

impl Slot {
    /// The key id (canonical form) and the decoded key, or the variable at fault and why.
    fn read(&self) -> Result<(String, Vec<u8>), (&'static str, String)> {
        let key_id = check_key_id(self.key_id.current().expose())
            .map_err(|reason| (self.key_id_variable, reason))?;
        let key = check_api_key(self.api_key.current().expose())
            .map_err(|reason| (self.api_key_variable, reason))?;
        Ok((key_id, key))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Environment;

    const PRIMARY: &str = "0b1c5a3e-6f7d-4c2b-9a8e-1d2f3a4b5c6d";
    const SECONDARY: &str = "7e6d5c4b-3a29-4180-8f7e-6d5c4b3a2918";

    async fn keys() -> ApiKeys {
        let env = Environment::from_pairs([
            ("PDF_SEAL_TS_KEY_ID", PRIMARY),
            ("PDF_SEAL_TS_API_KEY", "00112233445566778899aabbccddeeff"),
            ("PDF_SEAL_TS_KEY_ID_SECONDARY", SECONDARY),
            (
                "PDF_SEAL_TS_API_KEY_SECONDARY",
                "ffeeddccbbaa99887766554433221100",
            ),
        ]);
        let settings = TrustedSignaturesSettings::resolve(&env).unwrap();
        ApiKeys::open(&settings, &Secrets::environment_only())
            .await
            .unwrap()
    }

    #[tokio::test]
    async fn requests_start_with_the_key_that_last_worked() {
        let keys = keys().await;
        assert_eq!(keys.order(), [0, 1]);

        keys.worked(1);

        assert_eq!(keys.order(), [1, 0]);
        assert_eq!(keys.credentials(1).unwrap().key_id, SECONDARY);
    }

    #[tokio::test]
    async fn credentials_show_their_key_id_but_not_their_key() {
        let credentials = keys().await.credentials(0).unwrap();

        let shown = format!("{credentials:?}");

        assert!(shown.contains(PRIMARY), "{shown}");
        // Neither in hex nor as the bytes' decimal list that a derived Debug would print.
        assert!(!shown.contains("00112233"), "{shown}");
        assert!(
            !shown.contains("17, 34") && !shown.contains("key:"),
            "{shown}"
        );
        assert_eq!(
            credentials.key,
            hex::decode("00112233445566778899aabbccddeeff").unwrap()
        );
    }

    #[tokio::test]
    async fn values_from_the_environment_never_change_on_refresh() {
        assert!(!keys().await.refresh_after_rejection().await);
    }
}
