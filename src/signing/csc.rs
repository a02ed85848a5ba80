//! A Cloud Signature Consortium trust service (CSC API v1 or v2): it signs the hash of the
//! signed attributes; pdf-seal builds the CMS. Only that hash leaves (DESIGN.md section 4).
//!
//! At start, `credentials/info` gives the chain (signer first), the key's algorithms and how
//! the credential is authorised. Each signature is then two calls: `credentials/authorize`
//! for a SAD bound to the one hash, and `signatures/signHash`. Authorisation modes:
//! `implicit` (no PIN; the service decides) and `explicit` with a PIN from `PDF_SEAL_CSC_PIN`
//! are supported; `oauth2code` needs a person to log in and is refused at start, as is an OTP.

mod algorithm;
mod protocol;
mod service;

use async_trait::async_trait;
use der::Decode;
use der::asn1::ObjectIdentifier;
use pdf_seal_core::signer::local::RsaPadding;
use pdf_seal_core::signer::{DigestAlgorithm, RawSigner, SignerError, check_hash_len};
use spki::AlgorithmIdentifierOwned;
use x509_cert::Certificate;

use self::algorithm::KeyKind;
use self::protocol::{AuthMode, CredentialInfo};
use self::service::{CallError, Service, TokenError, TokenSource};
use super::SignerSetupError;
use crate::config::service_url::is_loopback_url;
use crate::config::signer::csc::{
    CLIENT_ID, CLIENT_SECRET, CREDENTIAL_ID, CscSettings, CscVersion, PIN, TOKEN_URL, URL, VERSION,
};
use crate::secrets::{SecretCell, Secrets};

/// The setting that asks for PSS, named when the credential cannot do it.
const RSA_PADDING: &str = "PDF_SEAL_RSA_PADDING";

/// The raw signer for `settings`: the credential's certificates are fetched now, and a
/// credential that pdf-seal cannot use is refused naming the setting to look at.
pub async fn open(
    settings: &CscSettings,
    rsa_padding: RsaPadding,
    secrets: &Secrets,
) -> Result<Box<dyn RawSigner>, SignerSetupError> {
    let http = http_client(settings)?;
    let tokens = match &settings.oauth {
        Some(oauth) => {
            let secret = secrets.cell(&oauth.client_secret, CLIENT_SECRET).await?;
            Some(TokenSource::new(http.clone(), oauth, secret))
        }
        None => None,
    };
    let base = settings
        .url
        .join(&format!("csc/{}/", settings.version.segment()))
        .expect("a base URL ending in / takes a relative path");
    let service = Service::new(http, base, tokens);

    let request = protocol::info_request(settings.version, &settings.credential_id);
    let answer = service
        .call("credentials/info", &request)
        .await
        .map_err(|e| setup_error(settings, "credentials/info", e))?;
    let info = CredentialInfo::parse(&answer).map_err(|reason| remote(CREDENTIAL_ID, reason))?;
    let pin = match (&info.auth_mode, &settings.pin) {
        (AuthMode::Implicit, pin) => {
            if pin.is_some() {
                tracing::warn!("{PIN} is set, but the credential's authMode is implicit: unused");
            }
            None
        }
        (AuthMode::Explicit, Some(pin)) => Some(secrets.cell(pin, PIN).await?),
        (AuthMode::Explicit, None) => {
            return Err(remote(
                PIN,
                "the credential's authMode is explicit: it needs its PIN, and none is set",
            ));
        }
        (AuthMode::Other(mode), _) => {
            return Err(remote(
                CREDENTIAL_ID,
                format!(
                    "the credential's authMode is {mode:?}, which needs a person to authorise \
                     each signature; a seal needs implicit, or explicit with a PIN"
                ),
            ));
        }
    };
    let signer = CscSigner::new(settings, rsa_padding, service, info, pin)?;
    tracing::info!(
        csc.version = settings.version.segment(),
        csc.credential = %settings.credential_id,
        csc.key = %signer.key.describe(),
        csc.subject = %signer.certificates[0].tbs_certificate().subject(),
        "CSC credential ready"
    );
    Ok(Box::new(signer))
}

/// A CSC credential that signs hashes.
struct CscSigner {
    service: Service,
    version: CscVersion,
    credential_id: String,
    certificates: Vec<Certificate>,
    key: KeyKind,
    padding: RsaPadding,
    algorithms: Vec<ObjectIdentifier>,
    pin: Option<SecretCell>,
}

impl CscSigner {
    /// Checks the credential's chain and key against what pdf-seal can use.
    fn new(
        settings: &CscSettings,
        padding: RsaPadding,
        service: Service,
        info: CredentialInfo,
        pin: Option<SecretCell>,
    ) -> Result<Self, SignerSetupError> {
        let certificates = info
            .certificates
            .iter()
            .enumerate()
            .map(|(index, der)| {
                Certificate::from_der(der).map_err(|e| {
                    remote(
                        CREDENTIAL_ID,
                        format!("certificate {index} of the credential cannot be read: {e}"),
                    )
                })
            })
            .collect::<Result<Vec<_>, _>>()?;
        let signer_certificate = certificates.first().ok_or_else(|| {
            remote(
                CREDENTIAL_ID,
                "the service sent no certificate for the credential: a seal needs its chain",
            )
        })?;
        let key =
            KeyKind::of(signer_certificate).map_err(|reason| remote(CREDENTIAL_ID, reason))?;
        algorithm::choose(key, padding, DigestAlgorithm::Sha256, &info.algorithms).map_err(
            |reason| match (key, padding) {
                (KeyKind::Rsa { .. }, RsaPadding::Pss) => remote(RSA_PADDING, reason),
                _ => remote(CREDENTIAL_ID, reason),
            },
        )?;

        Ok(Self {
            service,
            version: settings.version,
            credential_id: settings.credential_id.clone(),
            certificates,
            key,
            padding,
            algorithms: info.algorithms,
            pin,
        })
    }

    /// `credentials/authorize` for one signature of `hash`: the SAD that signHash wants.
    async fn authorize(&self, digest: DigestAlgorithm, hash: &[u8]) -> Result<String, SignerError> {
        let pin = self.pin.as_ref().map(SecretCell::current);
        let request = protocol::authorize_request(
            self.version,
            &self.credential_id,
            digest.oid(),
            hash,
            pin.as_ref(),
        );
        let answer = self
            .service
            .call("credentials/authorize", &request)
            .await
            .map_err(|e| failed("credentials/authorize", &e))?;
        protocol::sad(&answer)
            .map_err(|reason| SignerError::Failed(format!("CSC credentials/authorize: {reason}")))
    }
}

#[async_trait]
impl RawSigner for CscSigner {
    fn certificates(&self) -> &[Certificate] {
        &self.certificates
    }

    fn signature_algorithm(
        &self,
        digest: DigestAlgorithm,
    ) -> Result<AlgorithmIdentifierOwned, SignerError> {
        let algo = algorithm::choose(self.key, self.padding, digest, &self.algorithms)
            .map_err(SignerError::Unsupported)?;
        Ok(algo.cms_identifier(self.key, digest))
    }

    fn max_signature_len(&self) -> usize {
        self.key.max_signature_len()
    }

    async fn sign_hash(
        &self,
        digest: DigestAlgorithm,
        hash: &[u8],
    ) -> Result<Vec<u8>, SignerError> {
        check_hash_len(digest, hash)?;
        let algo = algorithm::choose(self.key, self.padding, digest, &self.algorithms)
            .map_err(SignerError::Unsupported)?;

        let sad = self.authorize(digest, hash).await?;
        let request =
            protocol::sign_hash_request(self.version, &self.credential_id, &sad, hash, &algo);
        let answer = self
            .service
            .call("signatures/signHash", &request)
            .await
            .map_err(|e| failed("signatures/signHash", &e))?;
        let signature = protocol::single_signature(&answer)
            .map_err(|reason| SignerError::Failed(format!("CSC signatures/signHash: {reason}")))?;
        algorithm::normalise_signature(self.key, signature)
    }
}

/// The HTTP client: the timeout on every request and on connecting, no redirects (a signing
/// request must not wander), no proxy for a loopback service.
fn http_client(settings: &CscSettings) -> Result<reqwest::Client, SignerSetupError> {
    let mut builder = reqwest::Client::builder()
        .timeout(settings.timeout)
        .connect_timeout(settings.timeout)
        .redirect(reqwest::redirect::Policy::none())
        .user_agent(concat!("pdf-seal/", env!("CARGO_PKG_VERSION")));
    let token_local = settings
        .oauth
        .as_ref()
        .is_none_or(|oauth| is_loopback_url(&oauth.token_url));
    if is_loopback_url(&settings.url) && token_local {
        builder = builder.no_proxy();
    }
    builder
        .build()
        .map_err(|e| remote(URL, format!("cannot make the HTTP client: {e}")))
}

/// The start-up error for a failed call, naming the setting most likely at fault.
fn setup_error(settings: &CscSettings, method: &str, error: CallError) -> SignerSetupError {
    let variable = match &error {
        CallError::Unreachable { .. } | CallError::NotJson { .. } => URL,
        CallError::Token(TokenError::Refused(_)) => CLIENT_SECRET,
        CallError::Token(TokenError::Failed(inner)) => match &**inner {
            CallError::Status { status, .. } if status.is_client_error() => CLIENT_ID,
            _ => TOKEN_URL,
        },
        CallError::Status { status, .. } if status.as_u16() == 401 || status.as_u16() == 403 => {
            if settings.oauth.is_some() {
                CLIENT_ID
            } else {
                TOKEN_URL
            }
        }
        CallError::Status {
            status,
            description,
            ..
        } if description
            .as_deref()
            .is_some_and(|d| d.to_ascii_lowercase().contains("credential")) =>
        {
            return remote(
                CREDENTIAL_ID,
                format!(
                    "the service does not know the credential {:?}: {method}: {error}",
                    settings.credential_id
                ),
            );
        }
        // certomancer-csc-dummy answers an unknown credential with a bare 404, as any server
        // answers a path it does not serve (a wrong version or base URL).
        CallError::Status { status, .. } if status.as_u16() == 404 => {
            return remote(
                CREDENTIAL_ID,
                format!(
                    "the service does not know the credential {:?}, or does not speak CSC {} \
                     at {URL} (see also {VERSION}): {method}: {error}",
                    settings.credential_id,
                    settings.version.segment(),
                ),
            );
        }
        CallError::Status { .. } => URL,
    };
    remote(variable, format!("CSC {method}: {error}"))
}

/// The signer failure for a call that failed: no answer, a failing or throttled service is
/// passing ([`SignerError::Unavailable`]); a refusal of the request or of the client's
/// credentials is for an operator ([`SignerError::Refused`]).
fn failed(method: &str, error: &CallError) -> SignerError {
    let text = format!("CSC {method}: {error}");
    match error {
        CallError::Unreachable { .. } => SignerError::Unavailable(text),
        CallError::Status { status, .. }
            if status.is_server_error() || status.as_u16() == 429 || status.as_u16() == 408 =>
        {
            SignerError::Unavailable(text)
        }
        CallError::Status { .. } | CallError::Token(TokenError::Refused(_)) => {
            SignerError::Refused(text)
        }
        CallError::Token(TokenError::Failed(inner)) => match failed(method, inner) {
            SignerError::Unavailable(_) => SignerError::Unavailable(text),
            _ => SignerError::Failed(text),
        },
        CallError::NotJson { .. } => SignerError::Failed(text),
    }
}

fn remote(variable: &str, reason: impl Into<String>) -> SignerSetupError {
    SignerSetupError::Remote {
        variable: variable.to_string(),
        reason: reason.into(),
    }
}
