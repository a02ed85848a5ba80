//! Signing keys and tokens made by the tests themselves, to hand a service tokens that the
//! provider would never issue (expired, for another audience, with `alg: none`, ...). The unit
//! tests of token validation use this file too (`src/auth/entra/testing.rs`).

use std::sync::OnceLock;

use aws_lc_rs::encoding::AsDer as _;
use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::rsa::{KeyPair, KeySize};
use aws_lc_rs::signature::{KeyPair as _, RSA_PKCS1_SHA256};
use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use serde_json::{Value, json};

/// An RSA 2048 key pair with a `kid`, made by aws-lc-rs.
pub struct TestKey {
    pub kid: String,
    pair: KeyPair,
}

impl TestKey {
    pub fn generate(kid: &str) -> Self {
        Self {
            kid: kid.to_owned(),
            pair: KeyPair::generate(KeySize::Rsa2048).expect("an RSA key"),
        }
    }

    /// One key for the whole test binary, with the kid `test-key-1`.
    pub fn shared() -> &'static TestKey {
        static KEY: OnceLock<TestKey> = OnceLock::new();
        KEY.get_or_init(|| TestKey::generate("test-key-1"))
    }

    /// The public key as Entra publishes it: `kty`, `use`, `kid`, `n`, `e` (and `alg`).
    pub fn jwk(&self) -> Value {
        let public = self.pair.public_key();
        json!({
            "kty": "RSA",
            "use": "sig",
            "alg": "RS256",
            "kid": self.kid,
            "n": URL_SAFE_NO_PAD.encode(public.modulus().big_endian_without_leading_zero()),
            "e": URL_SAFE_NO_PAD.encode(public.exponent().big_endian_without_leading_zero()),
        })
    }

    /// The private key as PKCS#8 PEM, for the provider's `add-key` command.
    pub fn private_pem(&self) -> String {
        let der = self.pair.as_der().expect("a PKCS#8 encoding");
        pem("PRIVATE KEY", der.as_ref())
    }

    /// The public key as SubjectPublicKeyInfo PEM: the HMAC secret of the classic RS256 to
    /// HS256 confusion.
    pub fn public_pem(&self) -> String {
        let der = self.pair.public_key().as_der().expect("an SPKI encoding");
        pem("PUBLIC KEY", der.as_ref())
    }

    /// The public key's modulus, big-endian: what a confused verifier might take for an HMAC
    /// secret.
    pub fn modulus(&self) -> Vec<u8> {
        let public = self.pair.public_key();
        public.modulus().big_endian_without_leading_zero().to_vec()
    }

    /// A compact JWS of `claims` under `header`, signed RS256 whatever the header says.
    pub fn sign(&self, header: &Value, claims: &Value) -> String {
        let input = signing_input(header, claims);
        let mut signature = vec![0; self.pair.public_modulus_len()];
        self.pair
            .sign(
                &RSA_PKCS1_SHA256,
                &SystemRandom::new(),
                input.as_bytes(),
                &mut signature,
            )
            .expect("an RSA signature");
        format!("{input}.{}", URL_SAFE_NO_PAD.encode(signature))
    }

    /// A token of `claims` with the header Entra ID writes: `typ`, `alg` RS256 and the kid.
    pub fn token(&self, claims: &Value) -> String {
        let header = json!({"typ": "JWT", "alg": "RS256", "kid": self.kid});
        self.sign(&header, claims)
    }
}

/// `der` in PEM armour with `label`, 64 characters a line (RFC 7468).
fn pem(label: &str, der: &[u8]) -> String {
    let text = STANDARD.encode(der);
    let lines: Vec<&str> = text
        .as_bytes()
        .chunks(64)
        .map(|line| std::str::from_utf8(line).unwrap())
        .collect();
    format!(
        "-----BEGIN {label}-----\n{}\n-----END {label}-----\n",
        lines.join("\n")
    )
}

/// `BASE64URL(header) . BASE64URL(claims)`.
pub fn signing_input(header: &Value, claims: &Value) -> String {
    format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(header.to_string()),
        URL_SAFE_NO_PAD.encode(claims.to_string())
    )
}

/// A token with the header `{"alg": "HS256", "kid": kid}`, its MAC keyed with `secret`.
pub fn hs256_token(kid: &str, claims: &Value, secret: &[u8]) -> String {
    use aws_lc_rs::hmac;

    let input = signing_input(&json!({"alg": "HS256", "kid": kid}), claims);
    let key = hmac::Key::new(hmac::HMAC_SHA256, secret);
    let mac = hmac::sign(&key, input.as_bytes());
    format!("{input}.{}", URL_SAFE_NO_PAD.encode(mac.as_ref()))
}

/// Seconds since the epoch, now.
pub fn now() -> i64 {
    let elapsed = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap();
    i64::try_from(elapsed.as_secs()).unwrap()
}
