//! PAdES B-T: an RFC 3161 time-stamp on the signature value, from the configured authorities.
//!
//! The request and the checks on the answer are the core's
//! ([`pdf_seal_core::pades::timestamp`]); this module carries them over HTTP (RFC 3161
//! section 3.4): a POST of `application/timestamp-query`, an `application/timestamp-reply`
//! back. The authorities are tried in their configured order; the next one is asked when one
//! cannot be reached, is too slow, answers anything but 200 with a time-stamp reply, or answers
//! a token that is refused or does not match the request. Only the digest of the signature
//! value leaves the process.

use std::sync::Arc;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use pdf_seal_core::pades::CadesSigner;
use pdf_seal_core::pades::timestamp::{TimeStamper, TimestampQuery};
use pdf_seal_core::signer::{DigestAlgorithm, RawSigner, Signer, SignerError};
use reqwest::header::{ACCEPT, CONTENT_TYPE};
use url::Url;

use super::SignerSetupError;
use crate::config::signer::timestamps::{TimestampSettings, URLS};

/// The largest answer read from an authority. Tokens with a certificate chain are a few KiB.
pub const MAX_ANSWER_BYTES: usize = 64 * 1024;

/// The room kept for a token before any has been received: enough for a token that carries
/// the authority's certificate and a chain of two more. Once a token has been seen, the
/// largest one sizes the placeholder instead (see [`CadesSigner::token_allowance`]).
pub const INITIAL_TOKEN_ESTIMATE: usize = 6 * 1024;

/// The media type of a request (RFC 3161 section 3.4).
const QUERY_TYPE: &str = "application/timestamp-query";

/// The media type of an answer (RFC 3161 section 3.4), and the one some servers use instead.
const REPLY_TYPES: [&str; 2] = [
    "application/timestamp-reply",
    "application/timestamp-response",
];

/// The CMS builder around `raw`, time-stamping each signature when authorities are configured.
pub fn cades(
    raw: Box<dyn RawSigner>,
    timestamps: Option<&TimestampSettings>,
) -> Result<Arc<dyn Signer>, SignerSetupError> {
    match timestamps {
        None => Ok(Arc::new(CadesSigner::new(raw))),
        Some(settings) => {
            let stamper = HttpTimeStamper::new(settings)?;
            Ok(Arc::new(CadesSigner::with_timestamps(
                raw,
                Box::new(stamper),
            )))
        }
    }
}

/// One authority: its URL, how logs and errors name it, and the client that asks it.
struct Authority {
    url: Url,
    name: String,
    client: reqwest::Client,
}

/// The URL as logs and errors show it: without its query, which may hold an access key.
fn display_name(url: &Url) -> String {
    let mut shown = url.clone();
    if shown.query().is_some() {
        shown.set_query(Some("..."));
    }
    shown.to_string()
}

/// Asks the configured authorities in turn for a time-stamp token.
pub struct HttpTimeStamper {
    authorities: Vec<Authority>,
    timeout: Duration,
}

impl HttpTimeStamper {
    /// The clients for `settings`: no redirects followed, the timeout on each whole exchange,
    /// and no proxy for loopback authorities.
    pub fn new(settings: &TimestampSettings) -> Result<Self, SignerSetupError> {
        let authorities = settings
            .urls
            .iter()
            .map(|url| {
                let mut builder = reqwest::Client::builder()
                    .timeout(settings.timeout)
                    .connect_timeout(settings.timeout)
                    .redirect(reqwest::redirect::Policy::none())
                    .user_agent(concat!("pdf-seal/", env!("CARGO_PKG_VERSION")));
                if crate::config::service_url::is_loopback_url(url) {
                    builder = builder.no_proxy();
                }
                let name = display_name(url);
                let client = builder.build().map_err(|e| SignerSetupError::Remote {
                    variable: URLS.into(),
                    reason: format!("no HTTP client for {name}: {e}"),
                })?;
                Ok(Authority {
                    url: url.clone(),
                    name,
                    client,
                })
            })
            .collect::<Result<_, SignerSetupError>>()?;
        Ok(Self {
            authorities,
            timeout: settings.timeout,
        })
    }

    /// Asks one authority; the error says what went wrong, without the URL.
    async fn ask(&self, authority: &Authority, query: &TimestampQuery) -> Result<Answer, String> {
        let body = query.to_der().map_err(|e| e.to_string())?;
        let mut response = authority
            .client
            .post(authority.url.clone())
            .header(CONTENT_TYPE, QUERY_TYPE)
            .header(ACCEPT, REPLY_TYPES[0])
            .body(body)
            .send()
            .await
            .map_err(|e| self.transport_error(&e))?;
        let status = response.status();
        if status != reqwest::StatusCode::OK {
            return Err(format!("answered HTTP {}", status.as_u16()));
        }
        let content_type = response
            .headers()
            .get(CONTENT_TYPE)
            .and_then(|value| value.to_str().ok())
            .unwrap_or("")
            .to_owned();
        let essence = content_type
            .split(';')
            .next()
            .unwrap_or("")
            .trim()
            .to_ascii_lowercase();
        if !REPLY_TYPES.contains(&essence.as_str()) {
            return Err(format!(
                "answered {:?} instead of {}",
                content_type.chars().take(80).collect::<String>(),
                REPLY_TYPES[0]
            ));
        }
        if response
            .content_length()
            .is_some_and(|length| length > MAX_ANSWER_BYTES as u64)
        {
            return Err(format!("answered more than {MAX_ANSWER_BYTES} bytes"));
        }
        let mut answer = Vec::new();
        while let Some(chunk) = response
            .chunk()
            .await
            .map_err(|e| self.transport_error(&e))?
        {
            if answer.len() + chunk.len() > MAX_ANSWER_BYTES {
                return Err(format!("answered more than {MAX_ANSWER_BYTES} bytes"));
            }
            answer.extend_from_slice(&chunk);
        }
        let (token, facts) = query.check_response(&answer).map_err(|e| e.to_string())?;
        Ok(Answer {
            token,
            gen_time: facts.gen_time,
        })
    }

    fn transport_error(&self, error: &reqwest::Error) -> String {
        if error.is_timeout() {
            format!("did not answer within {} s", self.timeout.as_secs())
        } else if error.is_connect() {
            "could not be reached".to_owned()
        } else {
            format!("the exchange failed ({})", without_url(error))
        }
    }
}

/// A usable answer.
struct Answer {
    token: Vec<u8>,
    gen_time: String,
}

#[async_trait]
impl TimeStamper for HttpTimeStamper {
    fn estimated_token_len(&self) -> usize {
        INITIAL_TOKEN_ESTIMATE
    }

    async fn timestamp(
        &self,
        algorithm: DigestAlgorithm,
        digest: &[u8],
    ) -> Result<Vec<u8>, SignerError> {
        let mut failures = Vec::new();
        for authority in &self.authorities {
            // A fresh nonce for each authority: an answer meant for another request is refused.
            let query = TimestampQuery::new(algorithm, digest)
                .map_err(|e| SignerError::Failed(e.to_string()))?;
            let started = Instant::now();
            match self.ask(authority, &query).await {
                Ok(answer) => {
                    tracing::info!(
                        tsa.url = %authority.name,
                        tsa.gen_time = %answer.gen_time,
                        tsa.token_len = answer.token.len(),
                        tsa.elapsed_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX),
                        tsa.failed_before = failures.len(),
                        "time-stamp received"
                    );
                    return Ok(answer.token);
                }
                Err(reason) => {
                    tracing::warn!(
                        tsa.url = %authority.name,
                        tsa.error = %reason,
                        "time-stamp authority failed"
                    );
                    failures.push(format!("{} {reason}", authority.name));
                }
            }
        }
        Err(SignerError::Timestamp(format!(
            "no time-stamp authority gave a usable time-stamp ({} tried): {}",
            failures.len(),
            failures.join("; ")
        )))
    }
}

/// A reqwest error's text without the URL it carries (the caller names the authority).
fn without_url(error: &reqwest::Error) -> String {
    let mut text = error.to_string();
    if let Some(url) = error.url() {
        text = text
            .replace(&format!(" ({url})"), "")
            .replace(url.as_str(), "");
    }
    // The source chain says what failed underneath (a TLS alert, a reset).
    let mut source = std::error::Error::source(error);
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_query_that_may_hold_a_key_is_not_shown() {
        let url = Url::parse("https://tsa.test/stamp?apikey=s3cret").unwrap();
        assert_eq!(display_name(&url), "https://tsa.test/stamp?...");
        let plain = Url::parse("http://127.0.0.1:8080/tsa").unwrap();
        assert_eq!(display_name(&plain), "http://127.0.0.1:8080/tsa");
    }
}
