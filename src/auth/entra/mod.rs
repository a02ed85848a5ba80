//! Entra ID (Azure AD) access tokens: the signing keys from the tenant's OpenID metadata, and
//! the checks of a token's signature and claims.
//!
//! A token is judged in this order, and the first failure answers:
//! 1. its header ([`header`]): three parts, `alg` RS256 and a `kid`, before any key is used;
//! 2. its key ([`key_cache`]): the one the `kid` names among the provider's keys
//!    ([`jwks`], fetched by [`fetch`]), refreshed when the `kid` is unknown;
//! 3. its signature and times ([`signature`]): RS256, `exp` and `nbf` with the clock skew;
//! 4. its claims ([`claims`]): audience, tenant and issuer ([`issuers`]), then the rights:
//!    tenant allow-list, calling application, scope or app role.
//!
//! Every failure up to the issuer gives 401 `invalid_token`; a missing right gives 403, and
//! keys that cannot be had 503.

pub mod claims;
pub mod fetch;
pub mod header;
pub mod issuers;
pub mod jwks;
pub mod key_cache;
pub mod signature;

#[cfg(test)]
mod testing;
#[cfg(test)]
mod tests;

use std::time::Duration;

use crate::config::EntraSettings;
use fetch::HttpKeySource;
use key_cache::{KeyCache, KeyError, KeySource};

/// How long start-up waits for the first fetch of the signing keys. Azure Functions gives a
/// custom handler 60 s to listen; the rest is left to the signer and the storage.
pub const WARM_UP_LIMIT: Duration = Duration::from_secs(15);

/// Who an accepted token speaks for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EntraIdentity {
    /// `oid`: the user or service principal, when the token has one.
    pub object_id: Option<String>,
    /// `azp` (v2) or `appid` (v1): the calling application, in lower case.
    pub client_id: Option<String>,
    /// `tid`: the tenant the token was issued in, in lower case.
    pub tenant_id: String,
}

/// Why a token was not accepted.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TokenRejection {
    /// Not a valid token for this API: 401 with `error="invalid_token"`.
    Invalid {
        /// A stable slug for the log, such as `expired` or `wrong-audience`.
        reason: &'static str,
        /// What is wrong, for the client; never quotes the token.
        detail: String,
    },
    /// A valid token without the right to call: 403. `insufficient_scope` is true when the
    /// missing right is a scope or role.
    Forbidden {
        reason: &'static str,
        detail: String,
        insufficient_scope: bool,
    },
    /// The signing keys cannot be had now: 503.
    Unavailable { detail: String },
}

impl TokenRejection {
    /// A 401 with `reason` and `detail`.
    pub fn invalid(reason: &'static str, detail: impl Into<String>) -> Self {
        Self::Invalid {
            reason,
            detail: detail.into(),
        }
    }

    /// A 403 for a right the token lacks other than a scope or role.
    pub fn forbidden(reason: &'static str, detail: impl Into<String>) -> Self {
        Self::Forbidden {
            reason,
            detail: detail.into(),
            insufficient_scope: false,
        }
    }

    /// The stable slug of the cause (`identity-provider-unavailable` for a 503).
    pub fn reason(&self) -> &'static str {
        match self {
            Self::Invalid { reason, .. } | Self::Forbidden { reason, .. } => reason,
            Self::Unavailable { .. } => "identity-provider-unavailable",
        }
    }
}

/// Checks Entra ID access tokens against [`EntraSettings`]. One validator serves every HTTP
/// worker: its key cache is shared, and fetches are rare and single-flight. The keys come
/// from the provider over HTTP; tests put a fake provider in its place.
pub struct EntraValidator<S: KeySource = HttpKeySource> {
    settings: EntraSettings,
    keys: KeyCache<S>,
}

impl EntraValidator {
    /// A validator that fetches the signing keys when first needed.
    pub fn new(settings: EntraSettings) -> Self {
        let source = HttpKeySource::new(settings.metadata_url.clone());
        Self::with_source(settings, source)
    }
}

impl<S: KeySource> EntraValidator<S> {
    /// A validator whose keys come from `source`.
    pub fn with_source(settings: EntraSettings, source: S) -> Self {
        let keys = KeyCache::new(source, settings.keys_min_refresh);
        Self { settings, keys }
    }

    /// Fetches the metadata and the signing keys once, within [`WARM_UP_LIMIT`], so that the
    /// first request does not wait for them. Never fails: a failure is logged by the cache,
    /// and the fetch is tried again when a request needs the keys.
    pub async fn warm_up(&self) {
        if tokio::time::timeout(WARM_UP_LIMIT, self.keys.refresh())
            .await
            .is_err()
        {
            tracing::warn!(
                limit_secs = WARM_UP_LIMIT.as_secs(),
                "entra.warm_up_timed_out"
            );
        }
    }

    /// Checks `token` (the compact JWT, without `Bearer `).
    pub async fn validate(&self, token: &str) -> Result<EntraIdentity, TokenRejection> {
        let kid = header::read(token)?;

        let found = self.keys.key(&kid).await.map_err(|error| match error {
            KeyError::Unknown => TokenRejection::invalid(
                "unknown-key",
                "the token is signed with a key that the identity provider does not publish",
            ),
            KeyError::Unavailable => TokenRejection::Unavailable {
                detail: "the signing keys of the identity provider cannot be fetched now; \
                         try again later"
                    .to_owned(),
            },
        })?;

        let claims = signature::verify(token, &found.key, self.settings.clock_skew)?;
        let issuers = issuers::templates(&self.settings, &found.keys.issuer);
        claims::check(&claims, &self.settings, &issuers)
    }
}
