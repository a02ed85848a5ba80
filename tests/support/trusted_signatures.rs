//! A stand-in for the Trusted Signatures API on loopback, since the real one cannot run here.
//!
//! It follows the protocol of DESIGN.md section 4 strictly and refuses what the service
//! refuses: anything but `POST /v1/sign` with `application/json`; a missing or wrong
//! `X-Authorization-Algorithm`; an `X-Authorization-Time` that is not ISO 8601 UTC with
//! milliseconds or is over a minute from its clock; an `X-Authorization-Key` that is not one of
//! its active keys; an `X-Authorization` that is not the HMAC-SHA256 of the raw body followed by
//! the time (all 401, with an error JSON); a body without `digestAlgorithm: "SHA256"`, a
//! base64 `digest` of 32 bytes and a boolean `tsaTimestamp` (400). It signs with a test key
//! through pdf-seal-core's local signer and CAdES builder, and answers the whole CMS with the
//! chain, as the service does. The MAC is checked with aws-lc-rs, not with pdf-seal's code.
//!
//! What it does not do: `tsaTimestamp: true` is recorded but adds no time-stamp (there is no
//! time-stamp authority behind it), so its seals are B-B either way.
//!
//! Tests can revoke a key, make it answer an error status a number of times, hang, sign
//! another digest than the one sent, or pad its CMS with extra certificates; it counts the
//! requests per key id.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use actix_web::http::StatusCode;
use actix_web::http::header::CONTENT_TYPE;
use actix_web::{App, HttpRequest, HttpResponse, HttpServer, web};
use async_trait::async_trait;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use pdf_seal_core::pades::CadesSigner;
use pdf_seal_core::signer::local::LocalSigner;
use pdf_seal_core::signer::{DigestAlgorithm, DocumentDigest, RawSigner, Signer, SignerError, dev};
use serde_json::{Value, json};
use time::OffsetDateTime;
use time::macros::format_description;
use x509_cert::Certificate;
use x509_cert::spki::AlgorithmIdentifierOwned;

/// One API key of the stand-in: its id (a UUID) and its value (hex).
#[derive(Clone, Debug)]
pub struct TestKey {
    pub id: String,
    pub hex: String,
}

impl TestKey {
    /// A fresh random key.
    pub fn random() -> TestKey {
        let mut bytes = [0u8; 48];
        getrandom::fill(&mut bytes).unwrap();
        let id = hex::encode(&bytes[..16]);
        let id = format!(
            "{}-{}-4{}-a{}-{}",
            &id[..8],
            &id[8..12],
            &id[13..16],
            &id[17..20],
            &id[20..32]
        );
        TestKey {
            id,
            hex: hex::encode(&bytes[16..]),
        }
    }
}

/// What the tests can change while the stand-in runs.
#[derive(Default)]
struct State {
    /// The active keys: id to decoded key.
    keys: HashMap<String, Vec<u8>>,
    /// Statuses (with a `Retry-After` in seconds) to answer before anything else, one per
    /// request, first first.
    failures: Vec<(u16, Option<u64>)>,
    /// Hold every request this long before answering.
    hang: Option<Duration>,
    /// Sign a digest other than the one sent.
    sign_other_digest: bool,
    /// Requests that reached `/v1/sign`, by the key id they named ("" for none).
    per_key: HashMap<String, usize>,
    /// The `tsaTimestamp` of each request that was signed.
    tsa_timestamps: Vec<bool>,
}

/// The running stand-in; stopped when dropped.
pub struct TrustedSignaturesStandIn {
    pub address: SocketAddr,
    /// `http://127.0.0.1:PORT`, the value for `PDF_SEAL_TS_URL`.
    pub base_url: String,
    state: Arc<Mutex<State>>,
    handle: actix_web::dev::ServerHandle,
}

impl TrustedSignaturesStandIn {
    /// Starts the stand-in with `keys` active, signing with a fresh development chain whose
    /// root it writes to `root_pem` (to trust when validating); `padding` extra certificates
    /// go into each CMS beside the chain.
    pub fn start(keys: &[&TestKey], root_pem: &Path, padding: usize) -> TrustedSignaturesStandIn {
        let credentials = dev::generate("Trusted Signatures stand-in").unwrap();
        std::fs::write(root_pem, &credentials.root_certificate_pem).unwrap();
        let local = LocalSigner::from_pem(
            credentials.key_pem.as_bytes(),
            credentials.chain_pem.as_bytes(),
            None,
        )
        .unwrap();
        let signer = Arc::new(CadesSigner::new(Padded::new(local, padding)));

        let state = Arc::new(Mutex::new(State::default()));
        for key in keys {
            state
                .lock()
                .unwrap()
                .keys
                .insert(key.id.clone(), hex::decode(&key.hex).unwrap());
        }
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let address = listener.local_addr().unwrap();
        let (sender, receiver) = std::sync::mpsc::channel();
        let shared = (state.clone(), signer);
        std::thread::spawn(move || {
            actix_web::rt::System::new().block_on(async move {
                let server = HttpServer::new(move || {
                    App::new()
                        .app_data(web::Data::new(shared.clone()))
                        .service(
                            web::resource("/v1/sign")
                                .route(web::post().to(sign))
                                .default_service(web::to(|| async {
                                    error(StatusCode::METHOD_NOT_ALLOWED, "use POST")
                                })),
                        )
                        .default_service(web::to(|| async {
                            error(StatusCode::NOT_FOUND, "no such operation")
                        }))
                })
                .workers(1)
                .disable_signals()
                .listen(listener)
                .unwrap()
                .run();
                sender.send(server.handle()).unwrap();
                let _ = server.await;
            });
        });
        let handle = receiver.recv_timeout(Duration::from_secs(10)).unwrap();
        TrustedSignaturesStandIn {
            base_url: format!("http://{address}"),
            address,
            state,
            handle,
        }
    }

    /// Revokes `key`: from now on it is answered 401.
    pub fn revoke(&self, key: &TestKey) {
        self.state.lock().unwrap().keys.remove(&key.id);
    }

    /// Answers the next `times` requests with `status`.
    pub fn fail_next(&self, status: u16, times: usize) {
        self.state.lock().unwrap().failures = vec![(status, None); times];
    }

    /// Answers the next `times` requests with `status` and `Retry-After: seconds`.
    pub fn fail_next_asking_to_wait(&self, status: u16, times: usize, seconds: u64) {
        self.state.lock().unwrap().failures = vec![(status, Some(seconds)); times];
    }

    /// Holds every request for `duration` before answering.
    pub fn hang(&self, duration: Duration) {
        self.state.lock().unwrap().hang = Some(duration);
    }

    /// Signs another digest than the one each request sends.
    pub fn sign_other_digest(&self) {
        self.state.lock().unwrap().sign_other_digest = true;
    }

    /// The requests that named `key`.
    pub fn requests_with(&self, key: &TestKey) -> usize {
        let state = self.state.lock().unwrap();
        state.per_key.get(&key.id).copied().unwrap_or(0)
    }

    /// Every request to `/v1/sign`.
    pub fn requests(&self) -> usize {
        self.state.lock().unwrap().per_key.values().sum()
    }

    /// The `tsaTimestamp` of each request signed so far.
    pub fn tsa_timestamps(&self) -> Vec<bool> {
        self.state.lock().unwrap().tsa_timestamps.clone()
    }
}

impl Drop for TrustedSignaturesStandIn {
    fn drop(&mut self) {
        // The stop command is sent when `stop` is called; its future only waits for the end.
        drop(self.handle.stop(false));
    }
}

type Shared = (Arc<Mutex<State>>, Arc<CadesSigner<Padded>>);

fn error(status: StatusCode, message: &str) -> HttpResponse {
    HttpResponse::build(status).json(json!({
        "error": status.canonical_reason().unwrap_or_default(),
        "message": message,
    }))
}

async fn sign(request: HttpRequest, body: web::Bytes, shared: web::Data<Shared>) -> HttpResponse {
    let (state, signer) = shared.get_ref();
    let header = |name: &str| {
        request
            .headers()
            .get(name)
            .and_then(|value| value.to_str().ok())
            .map(str::to_owned)
    };
    let key_id = header("X-Authorization-Key").unwrap_or_default();
    let (failure, hang) = {
        let mut state = state.lock().unwrap();
        *state.per_key.entry(key_id.clone()).or_default() += 1;
        let failure = (!state.failures.is_empty()).then(|| state.failures.remove(0));
        (failure, state.hang)
    };
    if let Some(hang) = hang {
        actix_web::rt::time::sleep(hang).await;
    }
    if let Some((status, retry_after)) = failure {
        let mut answer = error(StatusCode::from_u16(status).unwrap(), "failing as told");
        if let Some(seconds) = retry_after {
            let value = actix_web::http::header::HeaderValue::from(seconds);
            answer
                .headers_mut()
                .insert(actix_web::http::header::RETRY_AFTER, value);
        }
        return answer;
    }

    let content_type = header(CONTENT_TYPE.as_str()).unwrap_or_default();
    if content_type.split(';').next().unwrap_or_default().trim() != "application/json" {
        return error(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "expected application/json",
        );
    }
    let key = state.lock().unwrap().keys.get(&key_id).cloned();
    if let Err(reason) = authenticate(&body, &header, key.as_deref()) {
        return error(StatusCode::UNAUTHORIZED, reason);
    }
    let (digest, tsa_timestamp) = match read_body(&body) {
        Ok(read) => read,
        Err(reason) => return error(StatusCode::BAD_REQUEST, &reason),
    };

    let other = state.lock().unwrap().sign_other_digest;
    let value = match other {
        true => DigestAlgorithm::Sha256.digest(&digest),
        false => digest,
    };
    let digest = DocumentDigest {
        algorithm: DigestAlgorithm::Sha256,
        value,
    };
    let cms = signer.sign(&digest).await.unwrap();
    state.lock().unwrap().tsa_timestamps.push(tsa_timestamp);
    HttpResponse::Ok().json(json!({ "signature": STANDARD.encode(cms) }))
}

/// The four authorization headers, checked as the service checks them.
fn authenticate(
    body: &[u8],
    header: &dyn Fn(&str) -> Option<String>,
    key: Option<&[u8]>,
) -> Result<(), &'static str> {
    if header("X-Authorization-Algorithm").as_deref() != Some("HmacSHA256") {
        return Err("X-Authorization-Algorithm must be HmacSHA256");
    }
    let time = header("X-Authorization-Time").ok_or("X-Authorization-Time is missing")?;
    let format =
        format_description!("[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:3]Z");
    let parsed = time::PrimitiveDateTime::parse(&time, format)
        .map_err(|_| "X-Authorization-Time is not ISO 8601 UTC with milliseconds")?
        .assume_utc();
    if (OffsetDateTime::now_utc() - parsed).abs() > time::Duration::minutes(1) {
        return Err("X-Authorization-Time is more than a minute from the server's clock");
    }
    let key = key.ok_or("X-Authorization-Key is not an active key")?;
    let mac = header("X-Authorization").ok_or("X-Authorization is missing")?;
    let mac = STANDARD
        .decode(mac)
        .map_err(|_| "X-Authorization is not base64")?;
    let mut signed = body.to_vec();
    signed.extend_from_slice(time.as_bytes());
    let key = aws_lc_rs::hmac::Key::new(aws_lc_rs::hmac::HMAC_SHA256, key);
    aws_lc_rs::hmac::verify(&key, &signed, &mac).map_err(|_| "X-Authorization does not match")
}

/// The digest and the time-stamp choice of a well-formed body.
fn read_body(body: &[u8]) -> Result<(Vec<u8>, bool), String> {
    let json: Value = serde_json::from_slice(body).map_err(|e| format!("not JSON: {e}"))?;
    if json["digestAlgorithm"] != "SHA256" {
        return Err("digestAlgorithm must be SHA256".into());
    }
    let digest = json["digest"].as_str().ok_or("digest is missing")?;
    let digest = STANDARD
        .decode(digest)
        .map_err(|_| "digest is not base64".to_owned())?;
    if digest.len() != 32 {
        return Err(format!("a SHA256 digest is 32 bytes, not {}", digest.len()));
    }
    let tsa_timestamp = json["tsaTimestamp"]
        .as_bool()
        .ok_or("tsaTimestamp must be true or false")?;
    Ok((digest, tsa_timestamp))
}

/// The stand-in's key, whose CMS carries `padding` extra certificates beside its chain.
struct Padded {
    local: LocalSigner,
    certificates: Vec<Certificate>,
}

impl Padded {
    fn new(local: LocalSigner, padding: usize) -> Padded {
        let mut certificates = local.certificates().to_vec();
        while certificates.len() < local.certificates().len() + padding {
            let extra = dev::generate("padding").unwrap();
            let chain =
                LocalSigner::from_pem(extra.key_pem.as_bytes(), extra.chain_pem.as_bytes(), None)
                    .unwrap();
            certificates.extend_from_slice(chain.certificates());
        }
        Padded {
            local,
            certificates,
        }
    }
}

#[async_trait]
impl RawSigner for Padded {
    fn certificates(&self) -> &[Certificate] {
        &self.certificates
    }

    fn signature_algorithm(
        &self,
        digest: DigestAlgorithm,
    ) -> Result<AlgorithmIdentifierOwned, SignerError> {
        self.local.signature_algorithm(digest)
    }

    fn max_signature_len(&self) -> usize {
        self.local.max_signature_len()
    }

    async fn sign_hash(
        &self,
        digest: DigestAlgorithm,
        hash: &[u8],
    ) -> Result<Vec<u8>, SignerError> {
        self.local.sign_hash(digest, hash).await
    }
}
