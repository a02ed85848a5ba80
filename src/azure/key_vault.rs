//! The Key Vault clients' set-up: one transport per vault (with the `CONNECT_TO` override and
//! the timeouts), the token credential, and errors that say what the vault answered.

use std::sync::Arc;
use std::time::Duration;

use azure_core::credentials::TokenCredential;
use azure_core::error::ErrorKind;
use azure_core::http::policies::Policy;
use azure_core::http::policies::auth::BearerTokenAuthorizationPolicy;
use azure_core::http::{
    AsyncRawResponse, ClientOptions, Context, ExponentialRetryOptions, HttpClient, Method,
    Pipeline, Request, RetryOptions, Transport, Url,
};
use futures_util::StreamExt as _;
use pdf_seal_core::signer::SignerError;

use crate::config::key_vault::KeyVaultAccess;

/// How often one request to the vault is tried again after a timeout, a 408, 429 or 5xx, or a
/// lost connection (the SDK waits longer each time).
const MAX_RETRIES: u32 = 2;

/// The API version of the certificate read, the same as the keys crate's.
const CERTIFICATES_API_VERSION: &str = "2025-07-01";

/// The vault of `url`, reached as `access` says: a client of its own whose host name connects
/// to `PDF_SEAL_KEY_VAULT_CONNECT_TO` when set, with the request timeout and a few retries.
pub fn client_options(access: &KeyVaultAccess, vault: &Url) -> Result<ClientOptions, String> {
    let host = vault.host_str().ok_or("the vault URL has no host")?;
    let mut builder = reqwest::Client::builder()
        .connect_timeout(access.timeout.min(Duration::from_secs(10)))
        .timeout(access.timeout)
        .redirect(reqwest::redirect::Policy::none());
    if let Some(address) = access.connect_to {
        builder = builder.resolve(host, address);
    }
    let client = builder
        .build()
        .map_err(|e| format!("cannot set up the https client: {e}"))?;
    Ok(ClientOptions {
        transport: Some(Transport::new(Arc::new(CappedClient { inner: client }))),
        retry: RetryOptions::exponential(ExponentialRetryOptions {
            max_retries: MAX_RETRIES,
            ..Default::default()
        }),
        ..Default::default()
    })
}

/// The most a vault's answer may hold. Key Vault answers with a key, a certificate, a secret or
/// a signature, a few kilobytes each; a larger answer is refused rather than read into memory.
pub const MAX_ANSWER_BYTES: usize = 1024 * 1024;

/// The https client that stops reading an answer beyond [`MAX_ANSWER_BYTES`]. azure_core has no
/// such limit of its own, so it is added here around the same reqwest client.
#[derive(Debug)]
struct CappedClient {
    inner: reqwest::Client,
}

#[async_trait::async_trait]
impl HttpClient for CappedClient {
    async fn execute_request(&self, request: &Request) -> azure_core::Result<AsyncRawResponse> {
        let response = HttpClient::execute_request(&self.inner, request).await?;
        let (status, headers, body) = response.deconstruct();
        let mut read = 0usize;
        let capped = body.map(move |chunk| {
            let chunk = chunk?;
            read += chunk.len();
            if read > MAX_ANSWER_BYTES {
                return Err(azure_core::Error::with_message(
                    ErrorKind::Other,
                    format!("the vault's answer is larger than {MAX_ANSWER_BYTES} bytes"),
                ));
            }
            Ok(chunk)
        });
        Ok(AsyncRawResponse::new(status, headers, Box::pin(capped)))
    }
}

/// The token credential of `access`, or why it cannot be made.
pub fn credential(access: &KeyVaultAccess) -> Result<Arc<dyn TokenCredential>, String> {
    super::token_credential(&access.identity).map_err(|e| {
        format!(
            "the {} credential cannot be used: {e}",
            access.identity.name()
        )
    })
}

/// What a failed vault call means, for an error message: the status and Key Vault's error code
/// and message, or the connection failure. Key Vault's messages hold no secret values.
pub fn describe_error(error: &azure_core::Error) -> String {
    let text = shorten(&error.to_string());
    match error.kind() {
        ErrorKind::HttpResponse {
            status, error_code, ..
        } => {
            let status = u16::from(*status);
            match error_code {
                Some(code) if !text.contains(code.as_str()) => {
                    format!("the vault answered {status} {code}: {text}")
                }
                _ => format!("the vault answered {status}: {text}"),
            }
        }
        ErrorKind::Connection | ErrorKind::Io => {
            format!("the vault could not be reached: {}", root_cause(error))
        }
        ErrorKind::Credential => format!("no access token for the vault: {text}"),
        _ => text,
    }
}

/// The signer failure for a vault call that failed: an outage, a throttled or failing vault or
/// a missing token is passing ([`SignerError::Unavailable`]); a refusal of the request, the
/// identity or the key is for an operator ([`SignerError::Refused`]); anything else is an
/// answer that cannot be used ([`SignerError::BadAnswer`]).
pub fn signer_error(what: &str, error: &azure_core::Error) -> SignerError {
    let text = format!("{what}: {}", describe_error(error));
    match error.kind() {
        ErrorKind::HttpResponse { status, .. } => {
            let status = u16::from(*status);
            if status >= 500 || status == 429 || status == 408 {
                SignerError::Unavailable(text)
            } else {
                SignerError::Refused(text)
            }
        }
        ErrorKind::Connection | ErrorKind::Io | ErrorKind::Credential => {
            SignerError::Unavailable(text)
        }
        // An answer that is not what Key Vault sends: not JSON, too large.
        _ => SignerError::BadAnswer(text),
    }
}

/// The innermost cause of `error`: "connection refused", "operation timed out".
fn root_cause(error: &azure_core::Error) -> String {
    let mut cause: &dyn std::error::Error = error;
    while let Some(inner) = cause.source() {
        cause = inner;
    }
    shorten(&cause.to_string())
}

fn shorten(text: &str) -> String {
    let line = text.lines().next().unwrap_or_default();
    match line.char_indices().nth(300) {
        Some((cut, _)) => format!("{}...", &line[..cut]),
        None => line.to_string(),
    }
}

/// Reads Key Vault certificates: `GET {vault}/certificates/{name}[/{version}]`, whose `cer` is
/// the DER certificate.
///
/// No stable certificates crate of the Azure SDK exists yet, so this one request goes through
/// an azure_core pipeline of its own. Its token scope comes from the vault's host name
/// (`https://vault.azure.net/.default` for `NAME.vault.azure.net`), which is the resource that
/// Key Vault's authentication challenge names, rather than from the challenge itself.
pub struct CertificateReader {
    pipeline: Pipeline,
    vault: Url,
}

impl CertificateReader {
    /// A reader of the certificates of `vault`.
    pub fn new(access: &KeyVaultAccess, vault: &Url) -> Result<Self, String> {
        let host = vault.host_str().unwrap_or_default();
        let resource = host.split_once('.').map(|(_, rest)| rest).unwrap_or(host);
        let scope = format!("https://{resource}/.default");
        let auth: Arc<dyn Policy> = Arc::new(BearerTokenAuthorizationPolicy::new(
            credential(access)?,
            [scope],
        ));
        let pipeline = Pipeline::new(
            Some("pdf-seal"),
            Some(env!("CARGO_PKG_VERSION")),
            client_options(access, vault)?,
            Vec::new(),
            vec![auth],
            None,
        );
        Ok(Self {
            pipeline,
            vault: vault.clone(),
        })
    }

    /// The DER certificate `name` (at `version`, or the latest).
    pub async fn read(&self, name: &str, version: Option<&str>) -> Result<Vec<u8>, String> {
        let mut url = self.vault.clone();
        url.path_segments_mut()
            .map_err(|()| "the vault URL cannot take a path".to_string())?
            .pop_if_empty()
            .push("certificates")
            .push(name)
            .extend(version);
        url.query_pairs_mut()
            .append_pair("api-version", CERTIFICATES_API_VERSION);
        let mut request = Request::new(url, Method::Get);
        request.insert_header("accept", "application/json");

        let response = self
            .pipeline
            .send(&Context::new(), &mut request, None)
            .await
            .map_err(|e| describe_error(&e))?;
        let body: serde_json::Value = serde_json::from_slice(response.body())
            .map_err(|e| format!("the vault's answer is not JSON: {e}"))?;
        let cer = body
            .get("cer")
            .and_then(|cer| cer.as_str())
            .ok_or("the vault's answer has no cer (the certificate may still be pending)")?;
        decode_base64(cer).ok_or_else(|| "the certificate's cer is not base64".to_string())
    }
}

/// Key Vault writes `cer` in standard base64; the URL-safe alphabet is accepted as well.
fn decode_base64(text: &str) -> Option<Vec<u8>> {
    use base64::Engine as _;
    use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};

    STANDARD
        .decode(text)
        .ok()
        .or_else(|| URL_SAFE_NO_PAD.decode(text.trim_end_matches('=')).ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cer_is_read_in_either_base64_alphabet() {
        let bytes = vec![0xfb, 0xff, 0x01, 0x3e];

        assert_eq!(decode_base64("+/8BPg==").unwrap(), bytes);
        assert_eq!(decode_base64("-_8BPg").unwrap(), bytes);
        assert_eq!(decode_base64("not base64!"), None);
    }

    #[test]
    fn long_messages_are_cut_to_one_short_line() {
        let long = format!("{}\nsecond line", "x".repeat(400));

        let short = shorten(&long);

        assert_eq!(short.len(), 303);
        assert!(!short.contains("second"));
    }
}
