//! Sending a sign request with one key: timeouts, and retries with exponential backoff and
//! jitter when the service fails for now (5xx, 429, 408, timeouts, lost connections). Other
//! answers are final: a 401 goes back to the caller, which may try the other key.

use std::time::{Duration, Instant};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use pdf_seal_core::signer::SignerError;
use reqwest::StatusCode;
use reqwest::header::{ACCEPT, CONTENT_TYPE, RETRY_AFTER};
use time::OffsetDateTime;
use url::Url;

use super::keys::Credentials;
use super::request::{self, ALGORITHM, ALGORITHM_HEADER, KEY_HEADER, MAC_HEADER, TIME_HEADER};

/// The first pause before a retry; each next one doubles, up to [`MAX_BACKOFF`].
const FIRST_BACKOFF: Duration = Duration::from_millis(250);
const MAX_BACKOFF: Duration = Duration::from_secs(4);
/// The longest `Retry-After` waited for; a service that asks for more is reported unavailable.
const MAX_RETRY_AFTER: Duration = Duration::from_secs(10);
/// The largest answer read: a CMS with its chain and a time-stamp is a few tens of KiB.
const MAX_ANSWER_BYTES: usize = 1024 * 1024;
/// How much of an error answer goes into the error, in characters.
const MAX_ERROR_TEXT: usize = 200;

/// How a request with one key ended, when it did not give a signature.
#[derive(Debug)]
pub enum Failure {
    /// 401: the service does not accept this key (wrong, revoked, expired, or a clock far off).
    Unauthorized(String),
    /// Anything else that ends the request: the error to report.
    Final(SignerError),
}

/// The client for `POST {base}/v1/sign`.
pub struct Transport {
    client: reqwest::Client,
    url: Url,
    retries: u32,
}

/// What one attempt gave.
enum Attempt {
    Signed(Vec<u8>),
    Failed(Failure),
    /// Worth another attempt; with the wait the service asked for, if any.
    Transient {
        reason: String,
        retry_after: Option<Duration>,
    },
}

impl Transport {
    /// A client whose every request (connection included) ends within `timeout`. Redirects
    /// are not followed: the API has none, and a signed request must not go elsewhere.
    pub fn new(url: Url, timeout: Duration, retries: u32) -> Result<Self, String> {
        let client = reqwest::Client::builder()
            .timeout(timeout)
            .connect_timeout(timeout.min(Duration::from_secs(10)))
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("pdf-seal/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| format!("cannot make the HTTP client: {e}"))?;
        Ok(Self {
            client,
            url,
            retries,
        })
    }

    /// Sends `body` signed with `credentials`, retrying what is worth it; the answer's
    /// decoded `signature`.
    pub async fn sign(&self, credentials: &Credentials, body: &[u8]) -> Result<Vec<u8>, Failure> {
        let mut last = String::new();
        for attempt in 0..=self.retries {
            let (reason, retry_after) = match self.attempt(credentials, body).await {
                Attempt::Signed(cms) => return Ok(cms),
                Attempt::Failed(failure) => return Err(failure),
                Attempt::Transient {
                    reason,
                    retry_after,
                } => (reason, retry_after),
            };
            if let Some(wait) = retry_after.filter(|wait| *wait > MAX_RETRY_AFTER) {
                return Err(Failure::Final(SignerError::Unavailable(format!(
                    "{reason}, and it asks to wait {} s",
                    wait.as_secs()
                ))));
            }
            if attempt < self.retries {
                let wait = retry_after.unwrap_or_else(|| backoff(attempt));
                tracing::warn!(
                    signer.key_id = %credentials.key_id,
                    signer.attempt = attempt + 1,
                    retry_in_ms = wait.as_millis() as u64,
                    reason = %reason,
                    "the signing service failed for now; retrying"
                );
                tokio::time::sleep(wait).await;
            }
            last = reason;
        }
        Err(Failure::Final(SignerError::Unavailable(format!(
            "{last} ({} attempts)",
            self.retries + 1
        ))))
    }

    async fn attempt(&self, credentials: &Credentials, body: &[u8]) -> Attempt {
        let time = request::time_header(OffsetDateTime::now_utc());
        let mac = request::mac(&credentials.key, body, &time);
        let started = Instant::now();
        let sent = self
            .client
            .post(self.url.clone())
            .header(CONTENT_TYPE, "application/json")
            .header(ACCEPT, "application/json")
            .header(ALGORITHM_HEADER, ALGORITHM)
            .header(TIME_HEADER, &time)
            .header(KEY_HEADER, &credentials.key_id)
            .header(MAC_HEADER, mac)
            .body(body.to_vec())
            .send()
            .await;
        let response = match sent {
            Ok(response) => response,
            Err(error) => return transport_error(&error, started),
        };
        let status = response.status();
        let retry_after = retry_after(&response);
        let answer = match read_limited(response).await {
            Ok(answer) => answer,
            Err(error) => return transport_error(&error, started),
        };
        judge(status, &answer, retry_after)
    }
}

/// The attempt's outcome from the status and body of the answer.
fn judge(status: StatusCode, answer: &[u8], retry_after: Option<Duration>) -> Attempt {
    let said = || format!("the signing service answered {status}: {}", excerpt(answer));
    match status.as_u16() {
        200 => match signature(answer) {
            Ok(cms) => Attempt::Signed(cms),
            Err(reason) => Attempt::Failed(Failure::Final(SignerError::Failed(format!(
                "the signing service answered 200 with {reason}"
            )))),
        },
        401 => Attempt::Failed(Failure::Unauthorized(said())),
        403 => Attempt::Failed(Failure::Final(SignerError::Refused(said()))),
        408 | 429 | 500..=599 => Attempt::Transient {
            reason: said(),
            retry_after,
        },
        _ => Attempt::Failed(Failure::Final(SignerError::Failed(said()))),
    }
}

/// The `signature` member of the answer, decoded.
fn signature(answer: &[u8]) -> Result<Vec<u8>, String> {
    #[derive(serde::Deserialize)]
    struct Answer {
        signature: String,
    }
    let answer: Answer =
        serde_json::from_slice(answer).map_err(|e| format!("no JSON signature member: {e}"))?;
    STANDARD
        .decode(answer.signature.trim())
        .map_err(|e| format!("a signature that is not base64: {e}"))
}

/// Timeouts and connection failures are worth a retry; a request that could not even be
/// built is not.
fn transport_error(error: &reqwest::Error, started: Instant) -> Attempt {
    let elapsed_ms = started.elapsed().as_millis();
    if error.is_builder() {
        return Attempt::Failed(Failure::Final(SignerError::Failed(format!(
            "cannot build the request: {error}"
        ))));
    }
    let what = if error.is_timeout() {
        "did not answer in time"
    } else if error.is_connect() {
        "cannot be reached"
    } else {
        "broke off the exchange"
    };
    Attempt::Transient {
        reason: format!("the signing service {what} ({elapsed_ms} ms): {error}"),
        retry_after: None,
    }
}

/// The body, up to [`MAX_ANSWER_BYTES`]: more is cut off (and then fails to parse).
async fn read_limited(mut response: reqwest::Response) -> Result<Vec<u8>, reqwest::Error> {
    let mut answer = Vec::new();
    while let Some(chunk) = response.chunk().await? {
        let room = MAX_ANSWER_BYTES - answer.len();
        answer.extend_from_slice(&chunk[..chunk.len().min(room)]);
        if answer.len() == MAX_ANSWER_BYTES {
            break;
        }
    }
    Ok(answer)
}

/// `Retry-After` in seconds; an HTTP date is not read (the backoff applies instead).
fn retry_after(response: &reqwest::Response) -> Option<Duration> {
    let value = response.headers().get(RETRY_AFTER)?.to_str().ok()?;
    value.trim().parse().ok().map(Duration::from_secs)
}

/// The pause before retry `attempt + 1`: half of the exponential step, plus a random part up
/// to the other half, so that many clients refused together do not come back together.
fn backoff(attempt: u32) -> Duration {
    let step = FIRST_BACKOFF
        .saturating_mul(1 << attempt.min(16))
        .min(MAX_BACKOFF);
    let half = step / 2;
    let random = getrandom::u64().unwrap_or(0) % (half.as_millis() as u64 + 1);
    half + Duration::from_millis(random)
}

/// A short, printable excerpt of an error answer.
fn excerpt(answer: &[u8]) -> String {
    let text = String::from_utf8_lossy(answer);
    let text: String = text
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .take(MAX_ERROR_TEXT)
        .collect();
    match text.trim() {
        "" => "(no body)".into(),
        text => text.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_to_its_cap_with_jitter_in_the_upper_half() {
        for attempt in 0..8 {
            let step = FIRST_BACKOFF.saturating_mul(1 << attempt).min(MAX_BACKOFF);
            let wait = backoff(attempt);
            assert!(wait >= step / 2 && wait <= step, "{attempt}: {wait:?}");
        }
    }

    #[test]
    fn only_failures_for_now_are_retried() {
        let transient = |status: u16| {
            let status = StatusCode::from_u16(status).unwrap();
            matches!(judge(status, b"{}", None), Attempt::Transient { .. })
        };

        for status in [408, 429, 500, 502, 503, 504] {
            assert!(transient(status), "{status}");
        }
        for status in [400, 401, 403, 404, 415] {
            assert!(!transient(status), "{status}");
        }
    }

    #[test]
    fn a_401_asks_for_another_key_and_a_403_is_a_refusal() {
        let unauthorized = judge(StatusCode::UNAUTHORIZED, br#"{"error":"bad mac"}"#, None);
        let forbidden = judge(StatusCode::FORBIDDEN, b"", None);

        assert!(
            matches!(unauthorized, Attempt::Failed(Failure::Unauthorized(reason)) if reason.contains("bad mac"))
        );
        assert!(matches!(
            forbidden,
            Attempt::Failed(Failure::Final(SignerError::Refused(_)))
        ));
    }

    #[test]
    fn a_200_without_a_base64_signature_is_a_failure() {
        for answer in [&b"{}"[..], br#"{"signature":"***"}"#, b"<html>"] {
            let judged = judge(StatusCode::OK, answer, None);
            assert!(
                matches!(
                    judged,
                    Attempt::Failed(Failure::Final(SignerError::Failed(_)))
                ),
                "{}",
                String::from_utf8_lossy(answer)
            );
        }
        assert!(matches!(
            judge(StatusCode::OK, br#"{"signature":"MAMCAQA="}"#, None),
            Attempt::Signed(cms) if cms == [0x30, 0x03, 0x02, 0x01, 0x00]
        ));
    }
}
