//! HTTP to the trust service and its token endpoint: timeouts on every call, retries with
//! backoff on 5xx, timeouts and refused connections (none on 4xx), bearer tokens from the
//! OAuth2 client-credentials grant, cached until shortly before they expire.
//!
//! Written by hand over reqwest: the OAuth2 crates bring their own HTTP stacks, and this grant
//! is one form POST. Tokens, the client secret and SADs never reach a log line or an error.

use std::time::{Duration, Instant};

use async_trait::async_trait;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use reqwest::StatusCode;
use reqwest::header::{ACCEPT, AUTHORIZATION, CONTENT_TYPE};
use serde_json::Value;
use tokio::sync::Mutex;
use url::Url;

use crate::config::Secret;
use crate::config::signer::csc::OAuthSettings;
use crate::secrets::SecretCell;

/// Attempts per call: the first and two retries.
const ATTEMPTS: u32 = 3;
/// The wait before the first retry; doubled for the next, plus up to 100 ms of jitter.
const FIRST_BACKOFF: Duration = Duration::from_millis(200);
/// The largest answer read, in bytes: a certificate chain fits many times over.
const MAX_ANSWER_BYTES: usize = 1024 * 1024;
/// The longest a token is kept, whatever its `expires_in` says.
const MAX_TOKEN_LIFE: Duration = Duration::from_secs(24 * 3600);

/// A token is renewed when less than this is left of its life (or a tenth of it, if shorter).
const RENEW_BEFORE_EXPIRY: Duration = Duration::from_secs(60);
/// How long a token without `expires_in` is kept.
const DEFAULT_TOKEN_LIFE: Duration = Duration::from_secs(300);

/// Why a call did not give an answer.
#[derive(Debug, thiserror::Error)]
pub enum CallError {
    /// No answer: the connection failed or timed out, after the retries.
    #[error("{url} could not be reached: {cause}")]
    Unreachable { url: String, cause: String },
    /// An answer that is not a success, with the OAuth-style `error` fields when present.
    #[error("{url} answered {status}{}", describe(error, description))]
    Status {
        url: String,
        status: StatusCode,
        error: Option<String>,
        description: Option<String>,
    },
    /// A success whose body is not the expected JSON.
    #[error("{url} answered something that is not JSON: {cause}")]
    NotJson { url: String, cause: String },
    /// No token could be had.
    #[error(transparent)]
    Token(#[from] TokenError),
}

/// Why no token could be had from the token endpoint.
#[derive(Debug, thiserror::Error)]
pub enum TokenError {
    /// The endpoint refused the client (`invalid_client`, `unauthorized_client`, 401), after
    /// the secret was read again.
    #[error("the token endpoint refused the client credentials: {0}")]
    Refused(Box<CallError>),
    /// The endpoint failed or answered nonsense.
    #[error("no token from the token endpoint: {0}")]
    Failed(Box<CallError>),
}

fn describe(error: &Option<String>, description: &Option<String>) -> String {
    match (error, description) {
        (None, None) => String::new(),
        (Some(e), None) => format!(" ({e})"),
        (None, Some(d)) => format!(" ({d})"),
        (Some(e), Some(d)) => format!(" ({e}: {d})"),
    }
}

/// The trust service's API under `base` (`…/csc/v2/`), with its token source when it wants
/// one.
pub struct Service {
    http: reqwest::Client,
    base: Url,
    tokens: Option<TokenSource>,
}

impl Service {
    pub fn new(http: reqwest::Client, base: Url, tokens: Option<TokenSource>) -> Self {
        Self { http, base, tokens }
    }

    /// POSTs `body` to `method` (`credentials/info`) and returns the JSON answer. A 401 with
    /// a token gets one retry with a fresh token.
    pub async fn call(&self, method: &str, body: &Value) -> Result<Value, CallError> {
        let url = self.base.join(method).expect("method paths are relative");
        let body = serde_json::to_vec(body).expect("JSON values serialise");
        let mut token = self.token().await?;
        let mut renewed = false;
        loop {
            let request = || {
                let mut request = self
                    .http
                    .post(url.clone())
                    .header(CONTENT_TYPE, "application/json")
                    .header(ACCEPT, "application/json")
                    .body(body.clone());
                if let Some(token) = &token {
                    request = request.header(AUTHORIZATION, format!("Bearer {}", token.expose()));
                }
                request
            };
            let (status, answer) = send(&url, method, request).await?;
            if status == StatusCode::UNAUTHORIZED
                && !renewed
                && let (Some(tokens), Some(rejected)) = (&self.tokens, &token)
            {
                tracing::info!(
                    csc.endpoint = method,
                    "CSC service refused the token; renewing"
                );
                tokens.invalidate(rejected).await;
                token = Some(tokens.token().await?);
                renewed = true;
                continue;
            }
            return json_answer(&url, status, &answer);
        }
    }

    async fn token(&self) -> Result<Option<Secret>, TokenError> {
        match &self.tokens {
            Some(tokens) => tokens.token().await.map(Some),
            None => Ok(None),
        }
    }
}

/// Where the client secret comes from: a [`SecretCell`] in the service, a fake in the tests.
#[async_trait]
pub trait ClientSecret: Send + Sync {
    /// The value to use now.
    fn current(&self) -> Secret;
    /// Reads the secret again after a refusal; true when the value changed.
    async fn refresh_after_rejection(&self) -> bool;
}

#[async_trait]
impl ClientSecret for SecretCell {
    fn current(&self) -> Secret {
        SecretCell::current(self)
    }

    async fn refresh_after_rejection(&self) -> bool {
        SecretCell::refresh_after_rejection(self).await
    }
}

/// OAuth2 access tokens by the client-credentials grant (RFC 6749 section 4.4), the client
/// authenticated with HTTP Basic (section 2.3.1), cached until shortly before expiry.
pub struct TokenSource {
    http: reqwest::Client,
    token_url: Url,
    client_id: String,
    secret: Box<dyn ClientSecret>,
    scope: Option<String>,
    cached: Mutex<Option<(Secret, Instant)>>,
}

impl TokenSource {
    pub fn new(
        http: reqwest::Client,
        settings: &OAuthSettings,
        secret: impl ClientSecret + 'static,
    ) -> Self {
        Self {
            http,
            token_url: settings.token_url.clone(),
            client_id: settings.client_id.clone(),
            secret: Box::new(secret),
            scope: settings.scope.clone(),
            cached: Mutex::new(None),
        }
    }

    /// A token with some life left: the cached one, or a new one.
    pub async fn token(&self) -> Result<Secret, TokenError> {
        let mut cached = self.cached.lock().await;
        if let Some((token, renew_at)) = &*cached
            && Instant::now() < *renew_at
        {
            return Ok(token.clone());
        }
        let (token, life) = self.fetch().await?;
        // A token endpoint may announce any lifetime; a day is plenty and keeps the arithmetic
        // of the instant in range.
        let life = life.min(MAX_TOKEN_LIFE);
        let margin = RENEW_BEFORE_EXPIRY.min(life / 10);
        *cached = Some((token.clone(), Instant::now() + (life - margin)));
        Ok(token)
    }

    /// Forgets `rejected` if it is still the cached token.
    pub async fn invalidate(&self, rejected: &Secret) {
        let mut cached = self.cached.lock().await;
        if cached
            .as_ref()
            .is_some_and(|(t, _)| t.expose() == rejected.expose())
        {
            *cached = None;
        }
    }

    /// Asks the token endpoint; when it refuses the client, reads the secret again and asks
    /// once more if the secret changed (a rotation).
    async fn fetch(&self) -> Result<(Secret, Duration), TokenError> {
        match self.fetch_once().await {
            Err(TokenError::Refused(error)) => {
                if !self.secret.refresh_after_rejection().await {
                    return Err(TokenError::Refused(error));
                }
                tracing::info!("CSC token endpoint refused the client secret; trying the new one");
                self.fetch_once().await
            }
            other => other,
        }
    }

    async fn fetch_once(&self) -> Result<(Secret, Duration), TokenError> {
        let secret = self.secret.current();
        let basic = STANDARD.encode(format!(
            "{}:{}",
            form_encode(&self.client_id),
            form_encode(secret.expose())
        ));
        let body = {
            let mut form = url::form_urlencoded::Serializer::new(String::new());
            form.append_pair("grant_type", "client_credentials");
            if let Some(scope) = &self.scope {
                form.append_pair("scope", scope);
            }
            form.finish()
        };
        let request = || {
            self.http
                .post(self.token_url.clone())
                .header(AUTHORIZATION, format!("Basic {basic}"))
                .header(CONTENT_TYPE, "application/x-www-form-urlencoded")
                .header(ACCEPT, "application/json")
                .body(body.clone())
        };

        let failed = |e: CallError| TokenError::Failed(Box::new(e));
        let (status, answer) = send(&self.token_url, "token", request)
            .await
            .map_err(failed)?;
        let json = match json_answer(&self.token_url, status, &answer) {
            Ok(json) => json,
            Err(error @ CallError::Status { .. }) if refuses_client(&error) => {
                return Err(TokenError::Refused(Box::new(error)));
            }
            Err(error) => return Err(failed(error)),
        };
        let invalid = |cause: &str| {
            failed(CallError::NotJson {
                url: self.token_url.to_string(),
                cause: cause.into(),
            })
        };
        let token = json["access_token"]
            .as_str()
            .filter(|t| !t.is_empty())
            .ok_or_else(|| invalid("no access_token"))?;
        let token_type = json["token_type"].as_str().unwrap_or_default();
        if !token_type.eq_ignore_ascii_case("bearer") {
            return Err(invalid("token_type is not Bearer"));
        }
        let life = json["expires_in"]
            .as_u64()
            .map_or(DEFAULT_TOKEN_LIFE, Duration::from_secs);
        Ok((Secret::new(token), life))
    }
}

/// True when the token endpoint said the client itself is refused: 401, or 400 with
/// `invalid_client` / `unauthorized_client` (RFC 6749 section 5.2).
fn refuses_client(error: &CallError) -> bool {
    let CallError::Status { status, error, .. } = error else {
        return false;
    };
    *status == StatusCode::UNAUTHORIZED
        || matches!(
            error.as_deref(),
            Some("invalid_client" | "unauthorized_client")
        )
}

/// `application/x-www-form-urlencoded` of one value, as Basic client authentication wants
/// (RFC 6749 section 2.3.1).
fn form_encode(value: &str) -> String {
    url::form_urlencoded::byte_serialize(value.as_bytes()).collect()
}

/// Sends the request `build` makes, retrying on 5xx, timeouts and failed connections, and
/// returns the status and the body (at most [`MAX_ANSWER_BYTES`]).
async fn send(
    url: &Url,
    what: &str,
    build: impl Fn() -> reqwest::RequestBuilder,
) -> Result<(StatusCode, Vec<u8>), CallError> {
    let unreachable = |cause: String| CallError::Unreachable {
        url: url.to_string(),
        cause,
    };
    let mut attempt = 0;
    loop {
        attempt += 1;
        let started = Instant::now();
        let outcome = match build().send().await {
            Ok(response) => read(response).await,
            Err(error) => Err(error),
        };
        let retry = match &outcome {
            Ok((status, _)) => status.is_server_error(),
            Err(error) => error.is_timeout() || error.is_connect(),
        };
        let elapsed_ms = started.elapsed().as_millis() as u64;
        match &outcome {
            Ok((status, _)) => tracing::debug!(
                csc.endpoint = what,
                http.status = status.as_u16(),
                duration_ms = elapsed_ms,
                "CSC call"
            ),
            Err(error) => tracing::debug!(
                csc.endpoint = what,
                duration_ms = elapsed_ms,
                error = %error_chain(error),
                "CSC call failed"
            ),
        }
        if !retry || attempt >= ATTEMPTS {
            return outcome.map_err(|e| unreachable(error_chain(&e)));
        }
        let backoff = FIRST_BACKOFF * 2u32.pow(attempt - 1) + jitter();
        tracing::warn!(
            csc.endpoint = what,
            attempt,
            retry_in_ms = backoff.as_millis() as u64,
            "CSC call failed; retrying"
        );
        tokio::time::sleep(backoff).await;
    }
}

async fn read(mut response: reqwest::Response) -> Result<(StatusCode, Vec<u8>), reqwest::Error> {
    let status = response.status();
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await? {
        if body.len() + chunk.len() > MAX_ANSWER_BYTES {
            break;
        }
        body.extend_from_slice(&chunk);
    }
    Ok((status, body))
}

/// The JSON of a 2xx answer, or the error with the OAuth-style fields of any other.
fn json_answer(url: &Url, status: StatusCode, body: &[u8]) -> Result<Value, CallError> {
    let json: Result<Value, _> = serde_json::from_slice(body);
    if !status.is_success() {
        let field = |name: &str| {
            json.as_ref()
                .ok()
                .and_then(|j| j[name].as_str())
                .map(|s| s.chars().take(200).collect::<String>())
        };
        return Err(CallError::Status {
            url: url.to_string(),
            status,
            error: field("error"),
            description: field("error_description"),
        });
    }
    json.map_err(|e| CallError::NotJson {
        url: url.to_string(),
        cause: e.to_string(),
    })
}

/// The error and its causes, which for reqwest say what actually failed.
fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

fn jitter() -> Duration {
    let mut byte = [0u8; 1];
    let _ = getrandom::fill(&mut byte);
    Duration::from_millis(u64::from(byte[0]) * 100 / 255)
}

#[cfg(test)]
mod tests;
