//! Secrets as the signers use them: a fixed value from the environment, or a Key Vault secret
//! that is cached, refreshed on a schedule and re-read when a service refuses it.
//!
//! A Key Vault secret is read when its cell is made (at start: an unreadable secret stops the
//! start, naming its setting). After that a failed read keeps the last good value, and the
//! failure shows in [`Secrets::health`] (and so in `GET /api/health`) until a read succeeds.
//! A secret whose `exp` attribute is within [`EXPIRY_WARNING`] gets a warning in the log at
//! each scheduled refresh and in the health details; an expired one an error.

mod key_vault;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use serde::Serialize;
use time::OffsetDateTime;

pub use key_vault::KeyVaultSource;

use crate::config::key_vault::{KeyVaultAccess, secrets_refresh_interval};
use crate::config::{ConfigError, Environment, Secret, SecretReference, SecretSetting};

/// How long before a secret's expiry the warnings start.
pub const EXPIRY_WARNING: Duration = Duration::from_secs(30 * 24 * 3600);

/// The shortest time between two reads of one secret after rejections: a burst of refused
/// requests makes one read, not one each.
pub const REJECTION_INTERVAL: Duration = Duration::from_secs(10);

/// What a read of a secret gives.
#[derive(Clone, Debug)]
pub struct Fetched {
    pub value: Secret,
    /// The version read (the last part of the secret's id), which health shows.
    pub version: Option<String>,
    /// The `exp` attribute.
    pub expires: Option<OffsetDateTime>,
}

/// Where secrets are read: one vault.
#[async_trait]
pub trait SecretSource: Send + Sync {
    /// Reads `name` (at `version`, or the latest); the error says why, without the value.
    async fn fetch(&self, name: &str, version: Option<&str>) -> Result<Fetched, String>;
}

/// The time now; tests give a clock of their own.
pub type Clock = Arc<dyn Fn() -> OffsetDateTime + Send + Sync>;

/// Makes the source of a vault (its URL); tests give sources of their own.
pub type SourceMaker =
    Arc<dyn Fn(&url::Url) -> Result<Arc<dyn SecretSource>, String> + Send + Sync>;

/// One secret, read on each use so that a rotated value is picked up without a restart.
#[derive(Clone)]
pub struct SecretCell {
    inner: Arc<Inner>,
}

enum Inner {
    Fixed(Secret),
    Vault(Arc<VaultSecret>),
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
            Inner::Vault(secret) => secret.state.lock().unwrap().value.clone(),
        }
    }

    /// Called when a service refused the current value: reads the secret again now (at most
    /// once in a short interval) and says whether the value changed, so that the caller
    /// retries only when it did.
    pub async fn refresh_after_rejection(&self) -> bool {
        match &*self.inner {
            Inner::Fixed(_) => false,
            Inner::Vault(secret) => secret.refresh(Trigger::Rejection).await,
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

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Trigger {
    Schedule,
    Rejection,
}

/// A Key Vault secret with its last good value.
struct VaultSecret {
    variable: String,
    name: String,
    version: Option<String>,
    source: Arc<dyn SecretSource>,
    clock: Clock,
    state: Mutex<CellState>,
    /// Held during a read, so that concurrent refreshes make one read.
    flight: tokio::sync::Mutex<()>,
}

struct CellState {
    value: Secret,
    version: Option<String>,
    expires: Option<OffsetDateTime>,
    /// When the last read after a rejection was started. Reads on the schedule do not count:
    /// a value rotated just after one must still be read when a service refuses the old one.
    last_rejection_read: Option<OffsetDateTime>,
    /// When a read last found a new value.
    last_change: Option<OffsetDateTime>,
    /// Since when reads fail, and the last failure's reason.
    failing: Option<(OffsetDateTime, String)>,
}

impl VaultSecret {
    /// Reads the secret again; true when the value changed.
    ///
    /// A caller that finds a read in flight waits for it and learns whether it changed the
    /// value. After a rejection: when the value changed within [`REJECTION_INTERVAL`], the
    /// refused request may have used the value before it, so the answer is yes without a read;
    /// otherwise the secret is read, unless another rejection read it within that interval.
    async fn refresh(&self, trigger: Trigger) -> bool {
        let before = self.state.lock().unwrap().value.clone();
        let _flight = match self.flight.try_lock() {
            Ok(guard) => guard,
            Err(_) => {
                let _finished = self.flight.lock().await;
                return self.state.lock().unwrap().value != before;
            }
        };
        if trigger == Trigger::Rejection {
            let now = (self.clock)();
            let state = self.state.lock().unwrap();
            let recent =
                |at: Option<OffsetDateTime>| at.is_some_and(|at| now - at < REJECTION_INTERVAL);
            // A value that changed just now may be newer than the one the refused request
            // used: worth a retry without a read. Otherwise read, unless another rejection
            // read a moment ago.
            if recent(state.last_change) {
                return true;
            }
            if recent(state.last_rejection_read) {
                return false;
            }
        }

        let now = (self.clock)();
        if trigger == Trigger::Rejection {
            self.state.lock().unwrap().last_rejection_read = Some(now);
        }
        let fetched = self.source.fetch(&self.name, self.version.as_deref()).await;

        let mut state = self.state.lock().unwrap();
        match fetched {
            Ok(fetched) => {
                if let Some((since, _)) = state.failing.take() {
                    tracing::info!(
                        secret.setting = %self.variable,
                        secret.failing_since = %rfc3339(since),
                        "Key Vault secret read again; the failure is over"
                    );
                }
                if state.value != fetched.value {
                    state.last_change = Some(now);
                }
                state.value = fetched.value;
                state.version = fetched.version;
                state.expires = fetched.expires;
                log_expiry(&self.variable, state.expires, now);
            }
            Err(reason) => {
                tracing::warn!(
                    secret.setting = %self.variable,
                    secret.reason = %reason,
                    "cannot read the Key Vault secret: keeping the last good value"
                );
                let since = state.failing.take().map_or(now, |(since, _)| since);
                state.failing = Some((since, reason));
            }
        }
        state.value != before
    }

    fn status(&self, now: OffsetDateTime) -> SecretStatus {
        let state = self.state.lock().unwrap();
        SecretStatus {
            setting: self.variable.clone(),
            secret: self.name.clone(),
            version: state.version.clone(),
            status: if state.failing.is_some() {
                "failing"
            } else {
                "ok"
            },
            failing_since: state.failing.as_ref().map(|(since, _)| rfc3339(*since)),
            error: state.failing.as_ref().map(|(_, reason)| reason.clone()),
            expires: state.expires.map(rfc3339),
            expiry: expiry_note(state.expires, now),
        }
    }
}

/// What health says of one Key Vault secret: never its value.
#[derive(Clone, Debug, Serialize, PartialEq, Eq, utoipa::ToSchema)]
pub struct SecretStatus {
    /// The setting that names the secret.
    pub setting: String,
    /// The secret's name in the vault.
    pub secret: String,
    /// The version read last.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    /// `ok`, or `failing` while reads fail (the last good value is in use).
    pub status: &'static str,
    /// When reads began to fail (RFC 3339), while they fail.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub failing_since: Option<String>,
    /// Why the last read failed, while reads fail.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// When the secret expires (RFC 3339), if it has an expiry date.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expires: Option<String>,
    /// `expires-soon` within 30 days of `expires`, `expired` after it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expiry: Option<&'static str>,
}

fn expiry_note(expires: Option<OffsetDateTime>, now: OffsetDateTime) -> Option<&'static str> {
    let expires = expires?;
    if expires <= now {
        Some("expired")
    } else if expires - now <= EXPIRY_WARNING {
        Some("expires-soon")
    } else {
        None
    }
}

fn log_expiry(variable: &str, expires: Option<OffsetDateTime>, now: OffsetDateTime) {
    let Some(expires) = expires else { return };
    match expiry_note(Some(expires), now) {
        Some("expired") => tracing::error!(
            secret.setting = %variable,
            secret.expires = %rfc3339(expires),
            "the Key Vault secret has expired: rotate it"
        ),
        Some(_) => tracing::warn!(
            secret.setting = %variable,
            secret.expires = %rfc3339(expires),
            secret.days_left = (expires - now).whole_days(),
            "the Key Vault secret expires within 30 days: rotate it"
        ),
        None => {}
    }
}

fn rfc3339(time: OffsetDateTime) -> String {
    time.format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}

/// Makes [`SecretCell`]s from settings and keeps the Key Vault ones fresh.
#[derive(Clone)]
pub struct Secrets {
    inner: Arc<SecretsInner>,
}

struct SecretsInner {
    default_vault: Option<url::Url>,
    make_source: Option<SourceMaker>,
    clock: Clock,
    refresh_every: Duration,
    sources: Mutex<HashMap<String, Arc<dyn SecretSource>>>,
    cells: Mutex<Vec<Arc<VaultSecret>>>,
}

impl Default for Secrets {
    fn default() -> Self {
        Self::build(None, None, Arc::new(OffsetDateTime::now_utc), Duration::MAX)
    }
}

impl Secrets {
    /// Secrets from the environment only.
    pub fn environment_only() -> Self {
        Self::default()
    }

    /// Secrets as the settings say: Key Vault reached through `PDF_SEAL_KEY_VAULT_*`, refreshed
    /// every `PDF_SEAL_SECRETS_REFRESH_SECS`.
    pub fn from_settings(env: &Environment) -> Result<Self, ConfigError> {
        let access = KeyVaultAccess::resolve(env)?;
        Ok(Self::key_vault(access, secrets_refresh_interval(env)?))
    }

    /// Secrets from the environment and from Key Vault, reached as `access` says, refreshed
    /// every `refresh_every` once [`Secrets::spawn_refresher`] runs.
    pub fn key_vault(access: KeyVaultAccess, refresh_every: Duration) -> Self {
        let default_vault = access.vault.clone();
        let make: SourceMaker = Arc::new(move |vault: &url::Url| {
            KeyVaultSource::new(&access, vault).map(|s| Arc::new(s) as Arc<dyn SecretSource>)
        });
        Self::build(
            default_vault,
            Some(make),
            Arc::new(OffsetDateTime::now_utc),
            refresh_every,
        )
    }

    /// Secrets read through `make_source`, on `clock`: for tests.
    pub fn with_source(
        default_vault: url::Url,
        make_source: SourceMaker,
        clock: Clock,
        refresh_every: Duration,
    ) -> Self {
        Self::build(Some(default_vault), Some(make_source), clock, refresh_every)
    }

    fn build(
        default_vault: Option<url::Url>,
        make_source: Option<SourceMaker>,
        clock: Clock,
        refresh_every: Duration,
    ) -> Self {
        Self {
            inner: Arc::new(SecretsInner {
                default_vault,
                make_source,
                clock,
                refresh_every,
                sources: Mutex::default(),
                cells: Mutex::default(),
            }),
        }
    }

    /// The cell for `setting`, read from Key Vault first when it names a secret there.
    pub async fn cell(
        &self,
        setting: &SecretSetting,
        variable: &str,
    ) -> Result<SecretCell, SecretsError> {
        let reference = match setting {
            SecretSetting::Value(value) => return Ok(SecretCell::fixed(value.clone())),
            SecretSetting::KeyVault(reference) => reference,
        };
        let error = |reason: String| SecretsError {
            variable: variable.to_string(),
            reason,
        };
        let source = self.source(reference).map_err(error)?;
        let fetched = source
            .fetch(&reference.name, reference.version.as_deref())
            .await
            .map_err(|reason| {
                error(format!(
                    "reading Key Vault secret {:?}: {reason}",
                    reference.name
                ))
            })?;

        let now = (self.inner.clock)();
        log_expiry(variable, fetched.expires, now);
        let secret = Arc::new(VaultSecret {
            variable: variable.to_string(),
            name: reference.name.clone(),
            version: reference.version.clone(),
            source,
            clock: self.inner.clock.clone(),
            state: Mutex::new(CellState {
                value: fetched.value,
                version: fetched.version,
                expires: fetched.expires,
                last_rejection_read: None,
                last_change: None,
                failing: None,
            }),
            flight: tokio::sync::Mutex::new(()),
        });
        self.inner.cells.lock().unwrap().push(secret.clone());
        Ok(SecretCell {
            inner: Arc::new(Inner::Vault(secret)),
        })
    }

    /// The source of the reference's vault, made once per vault.
    fn source(&self, reference: &SecretReference) -> Result<Arc<dyn SecretSource>, String> {
        let vault = reference
            .vault
            .as_ref()
            .or(self.inner.default_vault.as_ref())
            .ok_or(
                "names a Key Vault secret without its vault: set PDF_SEAL_KEY_VAULT_URL or give \
                 keyvault:https://VAULT.vault.azure.net/secrets/NAME",
            )?;
        let make = self
            .inner
            .make_source
            .as_ref()
            .ok_or("Key Vault secrets are not read by this command")?;
        let mut sources = self.inner.sources.lock().unwrap();
        if let Some(source) = sources.get(vault.as_str()) {
            return Ok(source.clone());
        }
        let source = make(vault)?;
        sources.insert(vault.to_string(), source.clone());
        Ok(source)
    }

    /// Reads every Key Vault secret again: one step of the schedule.
    pub async fn refresh_all(&self) {
        let cells: Vec<Arc<VaultSecret>> = self.inner.cells.lock().unwrap().clone();
        for cell in cells {
            cell.refresh(Trigger::Schedule).await;
        }
    }

    /// Refreshes the Key Vault secrets every `refresh_every` on `runtime`, for as long as it
    /// runs; nothing when there are none.
    pub fn spawn_refresher(&self, runtime: &tokio::runtime::Handle) {
        if self.inner.cells.lock().unwrap().is_empty() {
            return;
        }
        let secrets = self.clone();
        let every = self.inner.refresh_every;
        runtime.spawn(async move {
            loop {
                tokio::time::sleep(every).await;
                secrets.refresh_all().await;
            }
        });
    }

    /// The state of each Key Vault secret, for `GET /api/health`.
    pub fn health(&self) -> Vec<SecretStatus> {
        let now = (self.inner.clock)();
        let cells = self.inner.cells.lock().unwrap();
        cells.iter().map(|cell| cell.status(now)).collect()
    }
}

#[cfg(test)]
mod tests;
