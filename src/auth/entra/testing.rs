//! Keys, settings and tokens for the unit tests of token validation. Keys are RSA 2048 made by
//! aws-lc-rs in the test (the crypto library the verifier itself uses is a different code path:
//! jsonwebtoken verifies from the JWK's modulus and exponent).

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use tokio::sync::Semaphore;
use url::Url;

use super::fetch::{FetchError, ProviderKeys};
use super::jwks;
use super::key_cache::KeySource;
use crate::config::{AllowedClients, EntraSettings};

// The integration tests' key and token maker, so that both levels sign tokens the same way.
#[allow(dead_code)]
#[path = "../../../tests/support/jwt.rs"]
mod jwt;
pub use jwt::{TestKey, now, signing_input};

/// The home tenant of the test settings.
pub const TENANT: &str = "11111111-2222-3333-4444-555555555555";
/// A second tenant, not allowed by default.
pub const OTHER_TENANT: &str = "66666666-7777-8888-9999-000000000000";
/// The API's client id; the audiences are it and `api://` it.
pub const API: &str = "99999999-8888-7777-6666-555555555555";
/// The connector's client id, the one allowed caller.
pub const CLIENT: &str = "aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee";
/// The issuer the test provider's metadata names.
pub const ISSUER: &str = "https://login.example.test/11111111-2222-3333-4444-555555555555/v2.0";

/// Settings as an administrator would give them: one tenant, the API's client id, the
/// connector as the one client, the default scope and one app role.
pub fn settings() -> EntraSettings {
    EntraSettings {
        tenant_id: TENANT.to_owned(),
        allowed_tenants: vec![TENANT.to_owned()],
        audiences: vec![API.to_owned(), format!("api://{API}")],
        allowed_clients: AllowedClients::Only(vec![CLIENT.to_owned()]),
        scopes: vec!["user_impersonation".to_owned()],
        roles: vec!["Seal.All".to_owned()],
        metadata_url: Url::parse("https://login.example.test/meta").unwrap(),
        issuers: None,
        clock_skew: Duration::from_secs(60),
        keys_min_refresh: Duration::from_secs(300),
    }
}

/// The claims of a valid v2 delegated token for [`settings`].
pub fn v2_claims() -> Value {
    let now = now();
    json!({
        "aud": API,
        "iss": ISSUER,
        "iat": now - 10,
        "nbf": now - 10,
        "exp": now + 3600,
        "tid": TENANT,
        "oid": "0a0a0a0a-1111-2222-3333-444444444444",
        "azp": CLIENT,
        "scp": "user_impersonation",
        "ver": "2.0",
    })
}

/// A provider for the key cache's tests: serves the keys it holds now, or fails, counting
/// fetches; a gated one waits for a permit before each fetch.
pub struct FakeSource {
    pub issuer: String,
    keys: Mutex<Option<Vec<Value>>>,
    fetches: AtomicUsize,
    gate: Option<Semaphore>,
}

impl FakeSource {
    /// A provider that publishes `keys`.
    pub fn with_keys(keys: &[&TestKey]) -> Arc<Self> {
        Arc::new(Self::new(keys, None))
    }

    /// Like [`FakeSource::with_keys`], each fetch waiting for [`FakeSource::open_gate`].
    pub fn gated(keys: &[&TestKey]) -> Arc<Self> {
        Arc::new(Self::new(keys, Some(Semaphore::new(0))))
    }

    fn new(keys: &[&TestKey], gate: Option<Semaphore>) -> Self {
        Self {
            issuer: ISSUER.to_owned(),
            keys: Mutex::new(Some(keys.iter().map(|key| key.jwk()).collect())),
            fetches: AtomicUsize::new(0),
            gate,
        }
    }

    /// Publishes `keys` from the next fetch on.
    pub fn publish(&self, keys: &[&TestKey]) {
        *self.keys.lock().unwrap() = Some(keys.iter().map(|key| key.jwk()).collect());
    }

    /// Makes every fetch fail from now on, until [`FakeSource::publish`].
    pub fn fail(&self) {
        *self.keys.lock().unwrap() = None;
    }

    /// How many fetches started.
    pub fn fetches(&self) -> usize {
        self.fetches.load(Ordering::SeqCst)
    }

    /// Lets `count` waiting or future fetches go on.
    pub fn open_gate(&self, count: usize) {
        self.gate
            .as_ref()
            .expect("a gated source")
            .add_permits(count);
    }
}

impl KeySource for Arc<FakeSource> {
    async fn fetch(&self) -> Result<ProviderKeys, FetchError> {
        self.fetches.fetch_add(1, Ordering::SeqCst);
        if let Some(gate) = &self.gate {
            gate.acquire().await.expect("an open semaphore").forget();
        }

        let published = self.keys.lock().unwrap().clone();
        let jwks_uri = Url::parse("https://login.example.test/keys").unwrap();
        let Some(keys) = published else {
            return Err(FetchError::Status {
                url: jwks_uri,
                status: 503,
            });
        };
        let set = json!({ "keys": keys }).to_string();
        Ok(ProviderKeys {
            issuer: self.issuer.clone(),
            jwks_uri,
            keys: jwks::parse(set.as_bytes()).unwrap(),
        })
    }
}

/// A clock that stands still until moved on.
#[derive(Clone)]
pub struct TestClock(Arc<Mutex<Instant>>);

impl TestClock {
    pub fn new() -> Self {
        Self(Arc::new(Mutex::new(Instant::now())))
    }

    pub fn advance(&self, by: Duration) {
        *self.0.lock().unwrap() += by;
    }

    /// The clock as the key cache takes it.
    pub fn boxed(&self) -> Box<dyn Fn() -> Instant + Send + Sync> {
        let time = Arc::clone(&self.0);
        Box::new(move || *time.lock().unwrap())
    }
}
