//! A strict stand-in for a CSC API v2 trust service, in this process on loopback, for the tests
//! of the CSC backend: no v2 server can run here (certomancer-csc-dummy speaks v1).
//!
//! It follows the published protocol and refuses what a real service refuses:
//! - `POST /oauth2/token`: the client-credentials grant only, the client authenticated with
//!   HTTP Basic or in the form (RFC 6749 sections 2.3.1 and 4.4); issues random bearer tokens
//!   that expire after [`Options::token_life`]; `invalid_client` (401) for a wrong secret.
//! - `POST /csc/v2/credentials/info`, `/credentials/authorize`, `/signatures/signHash`: a valid,
//!   unexpired bearer token (401 `invalid_token` otherwise), a JSON body with every required
//!   field, the known credential id, hashes as long as their algorithm says, a `signAlgo` the
//!   key offers and that agrees with the hash algorithm, and a SAD from `authorize` bound to the
//!   very hashes, used once. Errors are OAuth-style JSON (`error`, `error_description`).
//!
//! It signs with pdf-seal-core's local signer (`RawSigner::sign_hash`) over a test key, and can
//! answer ECDSA signatures as raw `r || s`, rotate its client secret, fail the next N requests
//! with 503, and count requests per path.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use actix_web::{App, HttpRequest, HttpResponse, HttpServer, web};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use der::Encode;
use pdf_seal_core::signer::local::LocalSigner;
use pdf_seal_core::signer::{DigestAlgorithm, RawSigner};
use serde_json::{Value, json};

/// The token endpoint's path.
pub const TOKEN_PATH: &str = "/oauth2/token";

/// How the stand-in behaves.
pub struct Options {
    pub client_id: String,
    pub client_secret: String,
    pub credential_id: String,
    pub token_life: Duration,
    /// Answer ECDSA signatures as raw `r || s` instead of DER.
    pub raw_ecdsa: bool,
    /// Make the credential `explicit`, authorised with this PIN in `authData`.
    pub pin: Option<String>,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            client_id: "pdf-seal-test-client".into(),
            client_secret: "first-secret-0123456789".into(),
            credential_id: "seal-credential-1".into(),
            token_life: Duration::from_secs(3600),
            raw_ecdsa: false,
            pin: None,
        }
    }
}

struct State {
    options: Options,
    secret: Mutex<String>,
    signer: LocalSigner,
    certificates_b64: Vec<String>,
    algorithms: Vec<&'static str>,
    is_ec: bool,
    tokens: Mutex<HashMap<String, Instant>>,
    sads: Mutex<HashMap<String, Vec<Vec<u8>>>>,
    issued: Mutex<Vec<String>>,
    fail_next: AtomicUsize,
    counts: Mutex<HashMap<String, usize>>,
}

/// A running stand-in; stopped when dropped.
pub struct CscV2 {
    pub address: SocketAddr,
    state: Arc<State>,
    handle: actix_web::dev::ServerHandle,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl CscV2 {
    /// Starts the stand-in on 127.0.0.1 with the key and chain (PEM, signer first or in any
    /// order) that the credential holds.
    pub fn start(key_pem: &[u8], chain_pem: &[u8], options: Options) -> CscV2 {
        let signer = LocalSigner::from_pem(key_pem, chain_pem, None).expect("the test key");
        let certificates_b64 = signer
            .certificates()
            .iter()
            .map(|c| STANDARD.encode(c.to_der().unwrap()))
            .collect();
        let key_oid = signer.certificates()[0]
            .tbs_certificate()
            .subject_public_key_info()
            .algorithm
            .oid
            .to_string();
        let is_ec = key_oid == "1.2.840.10045.2.1";
        let algorithms = if is_ec {
            vec![
                "1.2.840.10045.4.3.2",
                "1.2.840.10045.4.3.3",
                "1.2.840.10045.4.3.4",
            ]
        } else {
            vec![
                "1.2.840.113549.1.1.11",
                "1.2.840.113549.1.1.12",
                "1.2.840.113549.1.1.13",
            ]
        };
        let state = Arc::new(State {
            secret: Mutex::new(options.client_secret.clone()),
            options,
            signer,
            certificates_b64,
            algorithms,
            is_ec,
            tokens: Mutex::default(),
            sads: Mutex::default(),
            issued: Mutex::default(),
            fail_next: AtomicUsize::new(0),
            counts: Mutex::default(),
        });

        let (sender, receiver) = std::sync::mpsc::channel();
        let shared = state.clone();
        let thread = std::thread::spawn(move || {
            actix_web::rt::System::new().block_on(async move {
                let data = web::Data::from(shared);
                let server = HttpServer::new(move || {
                    App::new()
                        .app_data(data.clone())
                        .app_data(web::PayloadConfig::new(64 * 1024))
                        .route(TOKEN_PATH, web::post().to(token))
                        .route("/csc/v2/{group}/{method}", web::post().to(csc))
                        .default_service(web::to(|| async {
                            oauth_error(404, "invalid_request", "no such endpoint")
                        }))
                })
                .workers(1)
                .disable_signals()
                .bind(("127.0.0.1", 0))
                .expect("bind the CSC v2 stand-in");
                let address = server.addrs()[0];
                let server = server.run();
                sender.send((address, server.handle())).unwrap();
                let _ = server.await;
            });
        });
        let (address, handle) = receiver.recv().expect("the stand-in started");
        CscV2 {
            address,
            state,
            handle,
            thread: Some(thread),
        }
    }

    /// `http://127.0.0.1:PORT`.
    pub fn base_url(&self) -> String {
        format!("http://{}", self.address)
    }

    /// The token endpoint's URL.
    pub fn token_url(&self) -> String {
        format!("{}{TOKEN_PATH}", self.base_url())
    }

    pub fn options(&self) -> &Options {
        &self.state.options
    }

    /// From now on only `secret` is accepted, and every token issued so far is revoked.
    pub fn rotate_secret(&self, secret: &str) {
        *self.state.secret.lock().unwrap() = secret.to_string();
        self.state.tokens.lock().unwrap().clear();
    }

    /// The next `n` requests, to any endpoint, are answered 503.
    pub fn fail_next(&self, n: usize) {
        self.state.fail_next.store(n, Ordering::SeqCst);
    }

    /// Every token and SAD handed out so far, to look for in logs.
    pub fn issued_secrets(&self) -> Vec<String> {
        self.state.issued.lock().unwrap().clone()
    }

    /// How many requests reached `path` (failed ones included).
    pub fn count(&self, path: &str) -> usize {
        *self.state.counts.lock().unwrap().get(path).unwrap_or(&0)
    }
}

impl Drop for CscV2 {
    fn drop(&mut self) {
        let stop = self.handle.stop(false);
        std::thread::spawn(move || futures_lite_block_on(stop));
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// Waits for a future on a throw-away runtime (the server's own runtime is on its thread).
fn futures_lite_block_on<F: std::future::Future>(future: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap()
        .block_on(future)
}

fn oauth_error(status: u16, error: &str, description: &str) -> HttpResponse {
    let mut answer = HttpResponse::build(actix_web::http::StatusCode::from_u16(status).unwrap());
    if status == 401 {
        answer.insert_header(("WWW-Authenticate", format!("Bearer error=\"{error}\"")));
    }
    answer.json(json!({"error": error, "error_description": description}))
}

/// Counts the request and says whether it must fail now (503).
fn counted(state: &State, path: &str) -> Option<HttpResponse> {
    *state
        .counts
        .lock()
        .unwrap()
        .entry(path.to_string())
        .or_default() += 1;
    let failing = state
        .fail_next
        .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
        .is_ok();
    failing.then(|| oauth_error(503, "temporarily_unavailable", "try again later"))
}

async fn token(request: HttpRequest, body: web::Bytes, state: web::Data<State>) -> HttpResponse {
    if let Some(failure) = counted(&state, TOKEN_PATH) {
        return failure;
    }
    let content_type = header(&request, "content-type").unwrap_or_default();
    if !content_type.starts_with("application/x-www-form-urlencoded") {
        return oauth_error(400, "invalid_request", "the body must be a form");
    }
    let form: HashMap<String, String> = url::form_urlencoded::parse(&body).into_owned().collect();
    if form.get("grant_type").map(String::as_str) != Some("client_credentials") {
        return oauth_error(400, "unsupported_grant_type", "only client_credentials");
    }

    let basic = header(&request, "authorization").and_then(|value| {
        let encoded = value.strip_prefix("Basic ")?;
        let decoded = String::from_utf8(STANDARD.decode(encoded).ok()?).ok()?;
        let (id, secret) = decoded.split_once(':')?;
        let unform = |s: &str| {
            url::form_urlencoded::parse(format!("x={s}").as_bytes())
                .next()
                .map(|(_, v)| v.into_owned())
        };
        Some((unform(id)?, unform(secret)?))
    });
    let in_form = form
        .get("client_id")
        .cloned()
        .zip(form.get("client_secret").cloned());
    let (id, secret) = match (basic, in_form) {
        (Some(_), Some(_)) => {
            return oauth_error(
                400,
                "invalid_request",
                "more than one client authentication",
            );
        }
        (Some(pair), None) | (None, Some(pair)) => pair,
        (None, None) => return oauth_error(401, "invalid_client", "no client authentication"),
    };
    if id != state.options.client_id || secret != *state.secret.lock().unwrap() {
        return oauth_error(401, "invalid_client", "client authentication failed");
    }

    let token = random_text();
    state.issued.lock().unwrap().push(token.clone());
    let life = state.options.token_life;
    state
        .tokens
        .lock()
        .unwrap()
        .insert(token.clone(), Instant::now() + life);
    HttpResponse::Ok()
        .insert_header(("Cache-Control", "no-store"))
        .json(json!({"access_token": token, "token_type": "Bearer", "expires_in": life.as_secs()}))
}

async fn csc(
    request: HttpRequest,
    path: web::Path<(String, String)>,
    body: web::Bytes,
    state: web::Data<State>,
) -> HttpResponse {
    let (group, method) = path.into_inner();
    if let Some(failure) = counted(&state, request.path()) {
        return failure;
    }
    let bearer = header(&request, "authorization")
        .and_then(|value| value.strip_prefix("Bearer ").map(str::to_string));
    let valid = bearer.is_some_and(|token| {
        state
            .tokens
            .lock()
            .unwrap()
            .get(&token)
            .is_some_and(|expiry| Instant::now() < *expiry)
    });
    if !valid {
        return oauth_error(
            401,
            "invalid_token",
            "the access token is missing, wrong or expired",
        );
    }
    if !header(&request, "content-type").is_some_and(|t| t.starts_with("application/json")) {
        return oauth_error(400, "invalid_request", "the body must be JSON");
    }
    let Ok(params) = serde_json::from_slice::<Value>(&body) else {
        return oauth_error(400, "invalid_request", "the body is not JSON");
    };
    let outcome = match (group.as_str(), method.as_str()) {
        ("credentials", "info") => info(&state, &params),
        ("credentials", "authorize") => authorize(&state, &params),
        ("signatures", "signHash") => sign_hash(&state, &params).await,
        _ => return oauth_error(404, "invalid_request", "no such method"),
    };
    match outcome {
        Ok(answer) => HttpResponse::Ok().json(answer),
        Err(description) => oauth_error(400, "invalid_request", &description),
    }
}

fn credential(state: &State, params: &Value) -> Result<(), String> {
    match params["credentialID"].as_str() {
        None => Err("Missing (or invalid type) string parameter credentialID".into()),
        Some(id) if id == state.options.credential_id => Ok(()),
        Some(_) => Err("Invalid parameter credentialID".into()),
    }
}

fn info(state: &State, params: &Value) -> Result<Value, String> {
    credential(state, params)?;
    let certificates = match params.get("certificates").map(|v| v.as_str()) {
        None | Some(Some("single")) => state.certificates_b64[..1].to_vec(),
        Some(Some("chain")) => state.certificates_b64.clone(),
        Some(Some("none")) => Vec::new(),
        _ => return Err("Invalid parameter certificates".into()),
    };
    let mut key = json!({"status": "enabled", "algo": state.algorithms, "len": 256});
    if state.is_ec {
        key["curve"] = json!("1.2.840.10045.3.1.7");
    } else {
        key["len"] = json!(2048);
    }
    let mut answer = json!({
        "key": key,
        "cert": {"status": "valid", "certificates": certificates},
        "SCAL": "1",
        "multisign": 1,
    });
    if params["authInfo"].as_bool() == Some(true) {
        let mode = if state.options.pin.is_some() {
            "explicit"
        } else {
            "implicit"
        };
        answer["auth"] = json!({"mode": mode});
        if mode == "explicit" {
            answer["auth"]["objects"] = json!([{"type": "Password", "id": "PIN", "format": "N"}]);
        }
    }
    Ok(answer)
}

/// The hash algorithm named by `oid`, if it is one the stand-in knows.
fn digest_of(oid: &str) -> Option<DigestAlgorithm> {
    [
        DigestAlgorithm::Sha256,
        DigestAlgorithm::Sha384,
        DigestAlgorithm::Sha512,
    ]
    .into_iter()
    .find(|d| d.oid().to_string() == oid)
}

/// The `hashes` and `hashAlgorithmOID` of `params`, each hash checked for its length.
fn hashes(params: &Value) -> Result<(Vec<Vec<u8>>, DigestAlgorithm), String> {
    let digest = params["hashAlgorithmOID"]
        .as_str()
        .ok_or("Missing (or invalid type) string parameter hashAlgorithmOID")?;
    let digest = digest_of(digest).ok_or("Invalid parameter hashAlgorithmOID")?;
    let list = params["hashes"]
        .as_array()
        .filter(|list| !list.is_empty())
        .ok_or("Missing (or invalid type) array parameter hashes")?;
    let decoded = list
        .iter()
        .map(|h| {
            h.as_str()
                .and_then(|h| STANDARD.decode(h).ok())
                .filter(|h| h.len() == digest.output_len())
                .ok_or_else(|| "Invalid Base64 hashes string parameter".to_string())
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok((decoded, digest))
}

fn authorize(state: &State, params: &Value) -> Result<Value, String> {
    credential(state, params)?;
    let count = params["numSignatures"]
        .as_u64()
        .filter(|n| *n >= 1)
        .ok_or("Missing (or invalid type) integer parameter numSignatures")?;
    let (hashes, _) = hashes(params)?;
    if let Some(pin) = &state.options.pin {
        let given = params["authData"].as_array().and_then(|data| {
            data.iter()
                .find(|d| d["id"].as_str() == Some("PIN"))
                .and_then(|d| d["value"].as_str())
        });
        match given {
            None => return Err("Missing (or invalid type) array parameter authData".into()),
            Some(given) if given != pin => return Err("Invalid PIN".into()),
            Some(_) => {}
        }
    }
    if hashes.len() as u64 != count {
        return Err("Numbers of signatures is not equal to the number of hashes".into());
    }
    let sad = random_text();
    state.issued.lock().unwrap().push(sad.clone());
    state.sads.lock().unwrap().insert(sad.clone(), hashes);
    Ok(json!({"SAD": sad, "expiresIn": 300}))
}

async fn sign_hash(state: &State, params: &Value) -> Result<Value, String> {
    credential(state, params)?;
    let (hashes, digest) = hashes(params)?;
    let sign_algo = params["signAlgo"]
        .as_str()
        .ok_or("Missing (or invalid type) string parameter signAlgo")?;
    let position = state
        .algorithms
        .iter()
        .position(|a| *a == sign_algo)
        .ok_or("Invalid parameter signAlgo")?;
    let implied = [
        DigestAlgorithm::Sha256,
        DigestAlgorithm::Sha384,
        DigestAlgorithm::Sha512,
    ];
    if implied[position] != digest {
        return Err("signAlgo and hashAlgorithmOID do not agree".into());
    }
    let sad = params["SAD"]
        .as_str()
        .ok_or("Missing (or invalid type) string parameter SAD")?;
    let pinned = state
        .sads
        .lock()
        .unwrap()
        .remove(sad)
        .ok_or("Invalid parameter SAD")?;
    if !hashes.iter().all(|h| pinned.contains(h)) {
        return Err("Invalid parameter hashes: not the hashes the SAD authorises".into());
    }

    let mut signatures = Vec::new();
    for hash in &hashes {
        let mut signature = state
            .signer
            .sign_hash(digest, hash)
            .await
            .map_err(|e| e.to_string())?;
        if state.is_ec && state.options.raw_ecdsa {
            let der = p256::ecdsa::Signature::from_der(&signature).expect("a P-256 key");
            signature = der.to_bytes().to_vec();
        }
        signatures.push(STANDARD.encode(signature));
    }
    Ok(json!({"signatures": signatures}))
}

fn header(request: &HttpRequest, name: &str) -> Option<String> {
    request
        .headers()
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string)
}

fn random_text() -> String {
    let mut bytes = [0u8; 24];
    getrandom::fill(&mut bytes).unwrap();
    hex::encode(bytes)
}
