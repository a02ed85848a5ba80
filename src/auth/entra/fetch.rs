//! Fetching the provider's OpenID configuration, then its JWK Set, over HTTP.
//!
//! The configuration document (OpenID Connect Discovery 1.0 section 3) gives `issuer` and
//! `jwks_uri`. Both requests are GETs with a timeout, no redirects followed, a body limit,
//! and `https` required except to a loopback host, so that a tampered document cannot send
//! the service to fetch keys in clear text or from an internal address over http.
//!
//! Each fetch builds its own client: fetches are rare, and a client's connection pool
//! belongs to the runtime it was first used on, while actix runs one runtime per worker.

use std::time::Duration;

use reqwest::header::ACCEPT;
use serde::Deserialize;
use url::Url;

use super::jwks::{self, KeySet};
use super::key_cache::KeySource;
use crate::config::service_url::is_loopback_url;

/// The longest one HTTP request to the provider may take.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);

/// The largest configuration document or key set read. Entra's are a few KiB.
pub const MAX_BODY_BYTES: usize = 1024 * 1024;

/// What one fetch brought: the provider's issuer and its usable keys.
pub struct ProviderKeys {
    /// `issuer` of the OpenID configuration.
    pub issuer: String,
    /// Where the keys came from, for the log.
    pub jwks_uri: Url,
    pub keys: KeySet,
}

/// Why a fetch failed. The messages name URLs (which are not secret) but no key material.
#[derive(Debug, thiserror::Error)]
pub enum FetchError {
    #[error("{url} is neither https nor http to a loopback host")]
    InsecureUrl { url: String },
    #[error("the jwks_uri of the OpenID configuration at {url} is not an absolute URL")]
    BadJwksUri { url: Url },
    #[error("cannot build an HTTP client")]
    Client(#[source] reqwest::Error),
    #[error("GET {url} failed")]
    Request {
        url: Url,
        #[source]
        source: reqwest::Error,
    },
    #[error("GET {url} answered {status} (redirects are not followed)")]
    Status { url: Url, status: u16 },
    #[error("GET {url} answered more than {MAX_BODY_BYTES} bytes")]
    TooLarge { url: Url },
    #[error("the answer to GET {url} is not {what}")]
    Unreadable {
        url: Url,
        what: &'static str,
        #[source]
        source: serde_json::Error,
    },
    #[error(
        "the key set at {url} has no usable key ({skipped} skipped; RSA signing keys for \
         RS256 of at least 2048 bits are needed)"
    )]
    NoUsableKeys { url: Url, skipped: usize },
    #[error("the fetch took longer than {} s", .0.as_secs())]
    TimedOut(Duration),
    #[error("the fetch was abandoned before it finished: its caller stopped waiting")]
    Abandoned,
}

/// The provider behind an OpenID configuration URL.
pub struct HttpKeySource {
    metadata_url: Url,
}

impl HttpKeySource {
    pub fn new(metadata_url: Url) -> Self {
        Self { metadata_url }
    }
}

#[derive(Deserialize)]
struct Configuration {
    issuer: String,
    jwks_uri: String,
}

impl KeySource for HttpKeySource {
    async fn fetch(&self) -> Result<ProviderKeys, FetchError> {
        let body = get(&self.metadata_url).await?;
        let configuration: Configuration =
            serde_json::from_slice(&body).map_err(|source| FetchError::Unreadable {
                url: self.metadata_url.clone(),
                what: "an OpenID configuration with issuer and jwks_uri",
                source,
            })?;
        let jwks_uri = Url::parse(&configuration.jwks_uri).map_err(|_| FetchError::BadJwksUri {
            url: self.metadata_url.clone(),
        })?;

        let body = get(&jwks_uri).await?;
        let keys = jwks::parse(&body).map_err(|source| FetchError::Unreadable {
            url: jwks_uri.clone(),
            what: "a JWK Set",
            source,
        })?;
        if keys.keys.is_empty() {
            return Err(FetchError::NoUsableKeys {
                url: jwks_uri,
                skipped: keys.skipped,
            });
        }
        Ok(ProviderKeys {
            issuer: configuration.issuer,
            jwks_uri,
            keys,
        })
    }
}

/// The body of `GET url`, at most [`MAX_BODY_BYTES`], when the answer is a success.
async fn get(url: &Url) -> Result<Vec<u8>, FetchError> {
    check_url(url)?;
    let client = client_for(url)?;
    let failed = |source| FetchError::Request {
        url: url.clone(),
        source,
    };
    let too_large = || FetchError::TooLarge { url: url.clone() };

    let mut response = client
        .get(url.clone())
        .header(ACCEPT, "application/json")
        .send()
        .await
        .map_err(failed)?;
    let status = response.status();
    if !status.is_success() {
        return Err(FetchError::Status {
            url: url.clone(),
            status: status.as_u16(),
        });
    }
    if response
        .content_length()
        .is_some_and(|length| length > MAX_BODY_BYTES as u64)
    {
        return Err(too_large());
    }

    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await.map_err(failed)? {
        if body.len() + chunk.len() > MAX_BODY_BYTES {
            return Err(too_large());
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

/// `https`, or `http` to a loopback host; no user information.
fn check_url(url: &Url) -> Result<(), FetchError> {
    let scheme_ok = match url.scheme() {
        "https" => true,
        "http" => is_loopback_url(url),
        _ => false,
    };
    if !scheme_ok || url.host().is_none() || !url.username().is_empty() || url.password().is_some()
    {
        let mut shown = url.clone();
        let _ = shown.set_username("");
        let _ = shown.set_password(None);
        return Err(FetchError::InsecureUrl {
            url: shown.to_string(),
        });
    }
    Ok(())
}

fn client_for(url: &Url) -> Result<reqwest::Client, FetchError> {
    let mut builder = reqwest::Client::builder()
        .timeout(REQUEST_TIMEOUT)
        .connect_timeout(REQUEST_TIMEOUT)
        .redirect(reqwest::redirect::Policy::none())
        .pool_max_idle_per_host(0)
        .user_agent(concat!("pdf-seal/", env!("CARGO_PKG_VERSION")));
    if is_loopback_url(url) {
        builder = builder.no_proxy();
    }
    builder.build().map_err(FetchError::Client)
}

#[cfg(test)]
#[path = "fetch/tests.rs"]
mod tests;
