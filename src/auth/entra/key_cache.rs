//! The provider's signing keys, cached for every HTTP worker, and when to fetch them again.
//!
//! - Keys older than 24 hours are refreshed by the request that finds them so; other requests
//!   keep using them meanwhile, and they stay in use when the refresh fails.
//! - A token that names an unknown `kid` (the provider rotated its keys) causes a fetch, at
//!   most once per `keys_min_refresh` since the last successful fetch: a stream of tokens
//!   with made-up kids cannot turn the service into a client that hammers the provider.
//! - After a failed fetch, the next may start after a short backoff ([`RETRY_BACKOFF`], or
//!   `keys_min_refresh` when shorter), whatever the reason it is wanted.
//! - Fetches are single-flight: requests that need one while it runs wait for it, then judge
//!   again with what it brought, so a burst of requests causes one fetch.
//!
//! Known shortcoming: the request that refreshes stale keys waits for the fetch (up to the
//! HTTP timeouts when the provider hangs) while the others go on with the stale keys; while
//! the provider stays unreachable, one request every backoff pays that wait.

use std::error::Error as _;
use std::future::Future;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use jsonwebtoken::DecodingKey;

use super::fetch::{FetchError, ProviderKeys};

/// How long fetched keys are used before they are fetched again.
pub const MAX_AGE: Duration = Duration::from_secs(24 * 60 * 60);

/// The wait after a failed fetch before another may start.
pub const RETRY_BACKOFF: Duration = Duration::from_secs(10);

/// The longest one fetch (the metadata, then the keys) may take.
pub const FETCH_LIMIT: Duration = Duration::from_secs(25);

/// Where the keys come from: the provider over HTTP, or a fake in tests.
pub trait KeySource: Send + Sync {
    /// The provider's issuer and usable signing keys.
    fn fetch(&self) -> impl Future<Output = Result<ProviderKeys, FetchError>> + Send;
}

/// The key a token names, and the provider's keys it came from.
#[derive(Clone)]
pub struct Found {
    pub keys: Arc<ProviderKeys>,
    pub key: DecodingKey,
}

/// Why no key could be given.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KeyError {
    /// The provider does not publish the `kid`, and may not be asked again yet.
    Unknown,
    /// No keys were ever fetched, and the provider cannot be reached now.
    Unavailable,
}

/// The signing keys of one provider, shared by every HTTP worker.
pub struct KeyCache<S> {
    source: S,
    min_refresh: Duration,
    backoff: Duration,
    clock: Box<dyn Fn() -> Instant + Send + Sync>,
    state: Mutex<State>,
    /// Held by the one fetch that runs; others wait on it.
    fetching: tokio::sync::Mutex<()>,
}

#[derive(Default)]
struct State {
    /// The last keys fetched, and when.
    keys: Option<(Arc<ProviderKeys>, Instant)>,
    /// After a failure: when the next fetch may start.
    retry_at: Option<Instant>,
}

/// What a request should do about its `kid`.
enum Plan {
    Use(Found),
    /// Use the key, after refreshing the stale keys unless another request does so.
    Refresh(Found),
    /// Wait for a fetch (this one's or a running one), then judge again.
    Fetch,
    Refuse(KeyError),
}

impl<S: KeySource> KeyCache<S> {
    /// An empty cache that fetches from `source`, on unknown kids at most once per
    /// `min_refresh`.
    pub fn new(source: S, min_refresh: Duration) -> Self {
        Self::with_clock(source, min_refresh, Box::new(Instant::now))
    }

    /// Like [`KeyCache::new`], with `clock` telling the time (tests move it on).
    pub fn with_clock(
        source: S,
        min_refresh: Duration,
        clock: Box<dyn Fn() -> Instant + Send + Sync>,
    ) -> Self {
        Self {
            source,
            min_refresh,
            backoff: RETRY_BACKOFF.min(min_refresh),
            clock,
            state: Mutex::new(State::default()),
            fetching: tokio::sync::Mutex::new(()),
        }
    }

    /// The key named `kid`, fetching the provider's keys when the rules above allow.
    pub async fn key(&self, kid: &str) -> Result<Found, KeyError> {
        match self.plan(kid) {
            Plan::Use(found) => Ok(found),
            Plan::Refuse(error) => Err(error),
            Plan::Refresh(stale) => {
                let Ok(_fetching) = self.fetching.try_lock() else {
                    return Ok(stale);
                };
                if matches!(self.plan(kid), Plan::Refresh(_)) {
                    self.fetch().await;
                }
                self.settle(kid)
            }
            Plan::Fetch => {
                let _fetching = self.fetching.lock().await;
                if matches!(self.plan(kid), Plan::Fetch | Plan::Refresh(_)) {
                    self.fetch().await;
                }
                self.settle(kid)
            }
        }
    }

    /// Fetches the keys now (after the running fetch, if any), whatever their age.
    pub async fn refresh(&self) {
        let _fetching = self.fetching.lock().await;
        self.fetch().await;
    }

    fn plan(&self, kid: &str) -> Plan {
        let now = (self.clock)();
        let state = self.state();
        let may_fetch = state.retry_at.is_none_or(|at| now >= at);
        let Some((keys, fetched_at)) = &state.keys else {
            return if may_fetch {
                Plan::Fetch
            } else {
                Plan::Refuse(KeyError::Unavailable)
            };
        };

        match found(keys, kid) {
            Some(found) if may_fetch && now >= *fetched_at + MAX_AGE => Plan::Refresh(found),
            Some(found) => Plan::Use(found),
            None if may_fetch && now >= *fetched_at + self.min_refresh => Plan::Fetch,
            None => Plan::Refuse(KeyError::Unknown),
        }
    }

    /// The key named `kid` among the keys held now, fetching nothing.
    fn settle(&self, kid: &str) -> Result<Found, KeyError> {
        match &self.state().keys {
            Some((keys, _)) => found(keys, kid).ok_or(KeyError::Unknown),
            None => Err(KeyError::Unavailable),
        }
    }

    async fn fetch(&self) {
        let attempt = Attempt {
            cache: self,
            finished: false,
        };
        let outcome = match tokio::time::timeout(FETCH_LIMIT, self.source.fetch()).await {
            Ok(outcome) => outcome,
            Err(_) => Err(FetchError::TimedOut(FETCH_LIMIT)),
        };
        attempt.finish(outcome);
    }

    fn record(&self, outcome: Result<ProviderKeys, FetchError>) {
        let now = (self.clock)();
        let mut state = self.state();
        match outcome {
            Ok(keys) => {
                tracing::info!(
                    entra.keys = keys.keys.keys.len(),
                    entra.keys_skipped = keys.keys.skipped,
                    entra.issuer = %keys.issuer,
                    entra.jwks_uri = %keys.jwks_uri,
                    "entra.keys_fetched"
                );
                state.keys = Some((Arc::new(keys), now));
                state.retry_at = None;
            }
            Err(error) => {
                state.retry_at = Some(now + self.backoff);
                tracing::warn!(
                    error.cause = %cause_chain(&error),
                    entra.stale_keys_in_use = state.keys.is_some(),
                    entra.retry_in_secs = self.backoff.as_secs(),
                    "entra.keys_fetch_failed"
                );
            }
        }
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

fn found(keys: &Arc<ProviderKeys>, kid: &str) -> Option<Found> {
    let key = keys.keys.keys.get(kid)?.clone();
    Some(Found {
        keys: Arc::clone(keys),
        key,
    })
}

/// One fetch under way: records its outcome, or a failure when the request that ran it went
/// away before it finished (so that the next one starts only after the backoff).
struct Attempt<'a, S: KeySource> {
    cache: &'a KeyCache<S>,
    finished: bool,
}

impl<S: KeySource> Attempt<'_, S> {
    fn finish(mut self, outcome: Result<ProviderKeys, FetchError>) {
        self.finished = true;
        self.cache.record(outcome);
    }
}

impl<S: KeySource> Drop for Attempt<'_, S> {
    fn drop(&mut self) {
        if !self.finished {
            self.cache.record(Err(FetchError::Abandoned));
        }
    }
}

/// `error` and its sources, joined by `: `.
fn cause_chain(error: &FetchError) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

#[cfg(test)]
#[path = "key_cache/tests.rs"]
mod tests;
