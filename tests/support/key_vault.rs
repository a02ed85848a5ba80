//! A stand-in for the Azure Key Vault data plane, over https on loopback: no emulator of Key
//! Vault exists, so the tests run the real SDK against this server, which follows the published
//! protocol strictly and rejects what the real service rejects:
//!
//! - every request needs `api-version`; a request without a bearer token gets the 401
//!   challenge (`WWW-Authenticate: Bearer authorization="...", resource="https://vault.azure.net"`),
//!   a wrong token a 401 too;
//! - `GET /keys/{name}[/{version}]` answers the public JWK (`kid`, `kty`, `n`/`e` or
//!   `crv`/`x`/`y`, `key_ops`); `POST /keys/{name}/{version}/sign` takes `alg` and a base64url
//!   `value` whose length must match the algorithm's digest, and answers the signature (raw
//!   `r || s` for ECDSA, RFC 7518 section 3.4);
//! - `GET /certificates/{name}[/{version}]` answers `cer`; `GET /secrets/{name}[/{version}]`
//!   answers `value` and `attributes` (`enabled`, `exp`);
//! - errors are Key Vault's JSON: `{"error":{"code":"...","message":"..."}}`.
//!
//! It keeps every decrypted request (head and body) for the proof that only digests leave, and
//! can be told to fail (503) or to hang, and to rotate a secret.
//!
//! The keys sign with the core's local signer, from PEM files the test made with openssl.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use der::{Decode as _, Encode as _};
use pdf_seal_core::signer::local::{LocalSigner, RsaPadding};
use pdf_seal_core::signer::{DigestAlgorithm, RawSigner};
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio_rustls::TlsAcceptor;
use tokio_rustls::rustls;
use tokio_rustls::rustls::pki_types::pem::PemObject;
use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer};
use x509_cert::Certificate;

/// The resource that the challenge names, as the public cloud's vaults do.
pub const RESOURCE: &str = "https://vault.azure.net";

/// The version of every key the stand-in holds.
pub const KEY_VERSION: &str = "0a1b2c3d4e5f60718293a4b5c6d7e8f9";

/// How the stand-in answers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    Normal,
    /// 503 ServiceUnavailable to everything.
    Unavailable,
    /// Reads requests and never answers.
    Hang,
    /// Answers as usual, but `sign` signs another hash than the one sent, as a faulty key
    /// would.
    SignOtherHash,
    /// Answers as usual, but `sign` answers with 4 MiB of JSON.
    HugeSignAnswer,
}

/// One request as the stand-in decrypted it.
#[derive(Clone, Debug)]
pub struct Recorded {
    pub method: String,
    /// The path and query.
    pub target: String,
    pub authorized: bool,
    /// The whole request: head and body.
    pub raw: Vec<u8>,
    pub body: Vec<u8>,
}

struct Key {
    /// The PEM files the signer is made from for each signature (a [`LocalSigner`] is not
    /// `Clone`, and the state's lock is not held across a signature).
    key_pem: Vec<u8>,
    cert_pem: Vec<u8>,
    jwk: Value,
    digests: Option<(&'static str, usize)>,
}

struct SecretVersion {
    version: String,
    value: String,
    enabled: bool,
    expires: Option<i64>,
}

struct State {
    host: String,
    token: String,
    mode: Mode,
    keys: HashMap<String, Key>,
    certificates: HashMap<String, Vec<u8>>,
    secrets: HashMap<String, Vec<SecretVersion>>,
    requests: Vec<Recorded>,
}

/// The running stand-in; stops when dropped.
pub struct KeyVaultStandIn {
    /// Where it listens (127.0.0.1).
    pub address: SocketAddr,
    /// `https://NAME.vault.azure.net/`, which the client resolves to `address`.
    pub vault_url: String,
    state: Arc<Mutex<State>>,
    runtime: Option<tokio::runtime::Runtime>,
}

impl KeyVaultStandIn {
    /// Starts the stand-in for the vault `name`, serving `cert_pem` (for `NAME.vault.azure.net`)
    /// with `key_pem`, accepting only `token`.
    pub fn start(name: &str, cert_pem: &Path, key_pem: &Path, token: &str) -> Self {
        let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(cert_pem)
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        let key = PrivateKeyDer::from_pem_file(key_pem).unwrap();
        let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
        let config = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_no_client_auth()
            .with_single_cert(chain, key)
            .unwrap();
        let acceptor = TlsAcceptor::from(Arc::new(config));

        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        let listener = runtime.block_on(TcpListener::bind("127.0.0.1:0")).unwrap();
        let address = listener.local_addr().unwrap();
        let host = format!("{name}.vault.azure.net");
        let state = Arc::new(Mutex::new(State {
            host: host.clone(),
            token: token.to_string(),
            mode: Mode::Normal,
            keys: HashMap::new(),
            certificates: HashMap::new(),
            secrets: HashMap::new(),
            requests: Vec::new(),
        }));
        let shared = state.clone();
        runtime.spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let acceptor = acceptor.clone();
                let state = shared.clone();
                tokio::spawn(async move {
                    if let Ok(tls) = acceptor.accept(stream).await {
                        serve_connection(tls, state).await;
                    }
                });
            }
        });
        Self {
            address,
            vault_url: format!("https://{host}/"),
            state,
            runtime: Some(runtime),
        }
    }

    /// Adds the key `name` (version [`KEY_VERSION`]) from a PEM private key and its PEM
    /// certificate, with the operations `key_ops`.
    pub fn add_key(&self, name: &str, key_pem: &[u8], cert_pem: &[u8], key_ops: &[&str]) {
        LocalSigner::from_pem(key_pem, cert_pem, None).expect("a key and its certificate");
        let certificate = Certificate::load_pem_chain(cert_pem).unwrap().remove(0);
        let mut state = self.state.lock().unwrap();
        let kid = format!("https://{}/keys/{name}/{KEY_VERSION}", state.host);
        let (mut jwk, digests) = public_jwk(&certificate);
        jwk["kid"] = json!(kid);
        jwk["key_ops"] = json!(key_ops);
        state.keys.insert(
            name.to_string(),
            Key {
                key_pem: key_pem.to_vec(),
                cert_pem: cert_pem.to_vec(),
                jwk,
                digests,
            },
        );
    }

    /// Adds the certificate `name` (its `cer` is the first certificate of `cert_pem`).
    pub fn add_certificate(&self, name: &str, cert_pem: &[u8]) {
        let certificate = Certificate::load_pem_chain(cert_pem).unwrap().remove(0);
        let der = certificate.to_der().unwrap();
        let mut state = self.state.lock().unwrap();
        state.certificates.insert(name.to_string(), der);
    }

    /// Sets the secret `name` to a new version holding `value`, expiring at `expires` (Unix
    /// seconds) when given: a rotation when the secret exists.
    pub fn set_secret(&self, name: &str, value: &str, expires: Option<i64>) {
        let mut state = self.state.lock().unwrap();
        let versions = state.secrets.entry(name.to_string()).or_default();
        let version = format!("{:032x}", versions.len() + 1);
        versions.push(SecretVersion {
            version,
            value: value.to_string(),
            enabled: true,
            expires,
        });
    }

    /// Changes how the stand-in answers from now on.
    pub fn set_mode(&self, mode: Mode) {
        self.state.lock().unwrap().mode = mode;
    }

    /// Every request so far.
    pub fn requests(&self) -> Vec<Recorded> {
        self.state.lock().unwrap().requests.clone()
    }

    /// Forgets the requests so far.
    pub fn clear_requests(&self) {
        self.state.lock().unwrap().requests.clear();
    }
}

impl Drop for KeyVaultStandIn {
    fn drop(&mut self) {
        if let Some(runtime) = self.runtime.take() {
            runtime.shutdown_timeout(Duration::from_secs(1));
        }
    }
}

/// The public JWK of a certificate's key, and for EC keys the algorithm and digest length the
/// curve signs with.
fn public_jwk(certificate: &Certificate) -> (Value, Option<(&'static str, usize)>) {
    let spki = certificate.tbs_certificate().subject_public_key_info();
    let bits = spki.subject_public_key.raw_bytes();
    let b64 = |bytes: &[u8]| URL_SAFE_NO_PAD.encode(bytes);
    if spki.algorithm.oid.to_string() == "1.2.840.113549.1.1.1" {
        let public = rsa::pkcs1::RsaPublicKey::<der::asn1::UintRef<'_>>::from_der(bits).unwrap();
        let jwk = json!({
            "kty": "RSA",
            "n": b64(public.modulus.as_bytes()),
            "e": b64(public.public_exponent.as_bytes()),
        });
        return (jwk, None);
    }
    let curve: der::asn1::ObjectIdentifier = spki
        .algorithm
        .parameters
        .as_ref()
        .unwrap()
        .decode_as()
        .unwrap();
    let (crv, alg, size) = match curve.to_string().as_str() {
        "1.2.840.10045.3.1.7" => ("P-256", "ES256", 32),
        "1.3.132.0.34" => ("P-384", "ES384", 48),
        other => panic!("no test curve {other}"),
    };
    let jwk = json!({
        "kty": "EC",
        "crv": crv,
        "x": b64(&bits[1..1 + size]),
        "y": b64(&bits[1 + size..]),
    });
    (jwk, Some((alg, size)))
}

/// Answers the requests of one connection, keeping it open between them (HTTP/1.1).
async fn serve_connection<S>(mut stream: S, state: Arc<Mutex<State>>)
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
{
    let mut buffer = Vec::new();
    loop {
        let Some(request) = read_request(&mut stream, &mut buffer).await else {
            return;
        };
        let mode = state.lock().unwrap().mode;
        let (status, headers, body) = match mode {
            Mode::Hang => {
                record(&state, &request, false);
                tokio::time::sleep(Duration::from_secs(3600)).await;
                return;
            }
            Mode::Unavailable => {
                record(&state, &request, false);
                error(503, "ServiceUnavailable", "The service is unavailable.")
            }
            Mode::HugeSignAnswer if request.target.contains("/sign?") => {
                record(&state, &request, true);
                let value = "A".repeat(4 * 1024 * 1024);
                ok(json!({"kid": "k", "value": value}))
            }
            Mode::Normal | Mode::SignOtherHash | Mode::HugeSignAnswer => {
                answer(&state, &request).await
            }
        };
        let mut head = format!(
            "HTTP/1.1 {status} {}\r\ncontent-type: application/json; charset=utf-8\r\n\
             content-length: {}\r\nx-ms-keyvault-service-version: 1.9.0.0\r\n",
            reason(status),
            body.len()
        );
        for (name, value) in headers {
            head.push_str(&format!("{name}: {value}\r\n"));
        }
        head.push_str("\r\n");
        let mut out = head.into_bytes();
        out.extend_from_slice(&body);
        if stream.write_all(&out).await.is_err() || stream.flush().await.is_err() {
            return;
        }
    }
}

struct Request {
    method: String,
    target: String,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
    raw: Vec<u8>,
}

impl Request {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

async fn read_request<S>(stream: &mut S, buffer: &mut Vec<u8>) -> Option<Request>
where
    S: tokio::io::AsyncRead + Unpin,
{
    let head_end = loop {
        if let Some(end) = buffer.windows(4).position(|w| w == b"\r\n\r\n") {
            break end + 4;
        }
        let mut chunk = [0u8; 8192];
        let n = stream.read(&mut chunk).await.ok()?;
        if n == 0 {
            return None;
        }
        buffer.extend_from_slice(&chunk[..n]);
    };
    let head = String::from_utf8_lossy(&buffer[..head_end]).to_string();
    let mut lines = head.split("\r\n");
    let mut first = lines.next()?.split(' ');
    let method = first.next()?.to_string();
    let target = first.next()?.to_string();
    let headers: Vec<(String, String)> = lines
        .filter_map(|line| line.split_once(':'))
        .map(|(n, v)| (n.trim().to_string(), v.trim().to_string()))
        .collect();
    let length = headers
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case("content-length"))
        .and_then(|(_, v)| v.parse::<usize>().ok())
        .unwrap_or(0);
    while buffer.len() < head_end + length {
        let mut chunk = [0u8; 8192];
        let n = stream.read(&mut chunk).await.ok()?;
        if n == 0 {
            return None;
        }
        buffer.extend_from_slice(&chunk[..n]);
    }
    let raw: Vec<u8> = buffer.drain(..head_end + length).collect();
    Some(Request {
        method,
        target,
        headers,
        body: raw[head_end..].to_vec(),
        raw,
    })
}

fn record(state: &Arc<Mutex<State>>, request: &Request, authorized: bool) {
    state.lock().unwrap().requests.push(Recorded {
        method: request.method.clone(),
        target: request.target.clone(),
        authorized,
        raw: request.raw.clone(),
        body: request.body.clone(),
    });
}

type Answer = (u16, Vec<(&'static str, String)>, Vec<u8>);

fn error(status: u16, code: &str, message: &str) -> Answer {
    let body = json!({"error": {"code": code, "message": message}});
    (status, Vec::new(), body.to_string().into_bytes())
}

fn ok(body: Value) -> Answer {
    (200, Vec::new(), body.to_string().into_bytes())
}

fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        _ => "Service Unavailable",
    }
}

async fn answer(state: &Arc<Mutex<State>>, request: &Request) -> Answer {
    let (path, query) = request
        .target
        .split_once('?')
        .unwrap_or((&request.target, ""));
    let expected = format!("Bearer {}", state.lock().unwrap().token);
    let authorized = request.header("authorization") == Some(expected.as_str());
    record(state, request, authorized);

    let has_version = query
        .split('&')
        .any(|pair| pair.starts_with("api-version=") && pair.len() > "api-version=".len());
    if !has_version {
        return error(
            400,
            "BadParameter",
            "The 'api-version' query parameter is missing.",
        );
    }
    if !authorized {
        let challenge = format!(
            "Bearer authorization=\"https://login.microsoftonline.com/00000000-0000-0000-0000-000000000001\", resource=\"{RESOURCE}\""
        );
        let message = match request.header("authorization") {
            None => "AKV10000: Request is missing a Bearer or PoP token.",
            Some(_) => "AKV10022: Invalid audience or token.",
        };
        let (status, _, body) = error(401, "Unauthorized", message);
        return (status, vec![("www-authenticate", challenge)], body);
    }

    let segments: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    match (request.method.as_str(), segments.as_slice()) {
        ("GET", ["keys", name] | ["keys", name, ""]) => get_key(state, name, None),
        ("GET", ["keys", name, version]) => get_key(state, name, Some(version)),
        ("POST", ["keys", name, version, "sign"]) => sign(state, name, version, request).await,
        ("GET", ["certificates", name] | ["certificates", name, ""]) => {
            get_certificate(state, name)
        }
        ("GET", ["certificates", name, KEY_VERSION]) => get_certificate(state, name),
        ("GET", ["secrets", name] | ["secrets", name, ""]) => get_secret(state, name, None),
        ("GET", ["secrets", name, version]) => get_secret(state, name, Some(version)),
        _ => error(404, "NotFound", "The requested resource does not exist."),
    }
}

fn get_key(state: &Arc<Mutex<State>>, name: &str, version: Option<&str>) -> Answer {
    let state = state.lock().unwrap();
    match state.keys.get(name) {
        Some(key) if version.is_none_or(|v| v == KEY_VERSION) => ok(json!({
            "key": key.jwk,
            "attributes": {
                "enabled": true,
                "created": 1_700_000_000,
                "updated": 1_700_000_000,
                "recoveryLevel": "Recoverable+Purgeable",
            },
        })),
        _ => error(
            404,
            "KeyNotFound",
            &format!("A key with (name/id) {name} was not found in this key vault."),
        ),
    }
}

async fn sign(state: &Arc<Mutex<State>>, name: &str, version: &str, request: &Request) -> Answer {
    if !request
        .header("content-type")
        .is_some_and(|t| t.starts_with("application/json"))
    {
        return error(400, "BadParameter", "The request content type is not JSON.");
    }
    let Ok(body) = serde_json::from_slice::<Value>(&request.body) else {
        return error(400, "BadParameter", "The request body is not valid JSON.");
    };
    let alg = body["alg"].as_str().unwrap_or_default().to_string();
    let Some(value) = body["value"]
        .as_str()
        .and_then(|v| URL_SAFE_NO_PAD.decode(v.trim_end_matches('=')).ok())
    else {
        return error(
            400,
            "BadParameter",
            "Property 'value' is not valid base64url.",
        );
    };

    let (signer, digests, may_sign) = {
        let state = state.lock().unwrap();
        let Some(key) = state.keys.get(name).filter(|_| version == KEY_VERSION) else {
            return error(
                404,
                "KeyNotFound",
                "The key was not found in this key vault.",
            );
        };
        let may_sign = key.jwk["key_ops"]
            .as_array()
            .is_some_and(|ops| ops.iter().any(|op| op == "sign"));
        let signer = LocalSigner::from_pem(&key.key_pem, &key.cert_pem, None).unwrap();
        (signer, key.digests, may_sign)
    };
    if !may_sign {
        return error(
            403,
            "Forbidden",
            "Operation sign is not permitted on this key.",
        );
    }
    let (digest, padding) = match (alg.as_str(), digests) {
        ("RS256", None) => (DigestAlgorithm::Sha256, RsaPadding::Pkcs1v15),
        ("RS384", None) => (DigestAlgorithm::Sha384, RsaPadding::Pkcs1v15),
        ("RS512", None) => (DigestAlgorithm::Sha512, RsaPadding::Pkcs1v15),
        ("PS256", None) => (DigestAlgorithm::Sha256, RsaPadding::Pss),
        ("PS384", None) => (DigestAlgorithm::Sha384, RsaPadding::Pss),
        ("PS512", None) => (DigestAlgorithm::Sha512, RsaPadding::Pss),
        ("ES256", Some(("ES256", _))) => (DigestAlgorithm::Sha256, RsaPadding::Pkcs1v15),
        ("ES384", Some(("ES384", _))) => (DigestAlgorithm::Sha384, RsaPadding::Pkcs1v15),
        _ => {
            return error(
                400,
                "BadParameter",
                &format!("Algorithm '{alg}' is not supported for this key type."),
            );
        }
    };
    if value.len() != digest.output_len() {
        return error(
            400,
            "BadParameter",
            &format!(
                "Invalid length of 'value': {} bytes; {alg} signs {}-byte digests.",
                value.len(),
                digest.output_len()
            ),
        );
    }

    let signer = signer.with_rsa_padding(padding);
    let value = match state.lock().unwrap().mode {
        Mode::SignOtherHash => digest.digest(b"another document"),
        _ => value,
    };
    let signature = signer.sign_hash(digest, &value).await.unwrap();
    let signature = match digests {
        None => signature,
        Some((_, size)) => raw_ecdsa(&signature, size),
    };
    let kid = format!(
        "https://{}/keys/{name}/{KEY_VERSION}",
        state.lock().unwrap().host
    );
    ok(json!({"kid": kid, "value": URL_SAFE_NO_PAD.encode(signature)}))
}

/// DER `Ecdsa-Sig-Value` to `r || s`, each `size` bytes.
fn raw_ecdsa(der: &[u8], size: usize) -> Vec<u8> {
    match size {
        32 => p256::ecdsa::Signature::from_der(der)
            .unwrap()
            .to_bytes()
            .to_vec(),
        _ => p384::ecdsa::Signature::from_der(der)
            .unwrap()
            .to_bytes()
            .to_vec(),
    }
}

fn get_certificate(state: &Arc<Mutex<State>>, name: &str) -> Answer {
    let state = state.lock().unwrap();
    match state.certificates.get(name) {
        Some(der) => ok(json!({
            "id": format!("https://{}/certificates/{name}/{KEY_VERSION}", state.host),
            "kid": format!("https://{}/keys/{name}/{KEY_VERSION}", state.host),
            "sid": format!("https://{}/secrets/{name}/{KEY_VERSION}", state.host),
            "cer": STANDARD.encode(der),
            "attributes": {"enabled": true, "created": 1_700_000_000, "updated": 1_700_000_000},
        })),
        None => error(
            404,
            "CertificateNotFound",
            &format!("A certificate with (name/id) {name} was not found in this key vault."),
        ),
    }
}

fn get_secret(state: &Arc<Mutex<State>>, name: &str, version: Option<&str>) -> Answer {
    let state = state.lock().unwrap();
    let found = state.secrets.get(name).and_then(|versions| match version {
        Some(v) => versions.iter().find(|s| s.version == v),
        None => versions.last(),
    });
    match found {
        Some(secret) if !secret.enabled => error(
            403,
            "Forbidden",
            "Operation get is not allowed on a disabled secret.",
        ),
        Some(secret) => {
            let mut attributes = json!({
                "enabled": true,
                "created": 1_700_000_000,
                "updated": 1_700_000_000,
                "recoveryLevel": "Recoverable+Purgeable",
            });
            if let Some(expires) = secret.expires {
                attributes["exp"] = json!(expires);
            }
            ok(json!({
                "value": secret.value,
                "id": format!("https://{}/secrets/{name}/{}", state.host, secret.version),
                "attributes": attributes,
            }))
        }
        None => error(
            404,
            "SecretNotFound",
            &format!("A secret with (name/id) {name} was not found in this key vault."),
        ),
    }
}
