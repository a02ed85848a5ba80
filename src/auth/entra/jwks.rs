//! The provider's signing keys: a JWK Set (RFC 7517 section 5) read into the RS256 keys this
//! service will verify with.
//!
//! Entra ID publishes RSA keys (`"kty": "RSA"`, RFC 7518 section 6.3.1) with `use` `sig`,
//! usually without `alg`. A key is kept when it is RSA, its `use` is `sig` or absent, its `alg`
//! RS256 or absent, and its modulus has at least 2048 bits (RFC 7518 section 3.3). Everything
//! else (EC keys, encryption keys, short moduli, keys without `kid`) is skipped and counted.

use std::collections::HashMap;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::DecodingKey;
use serde::Deserialize;

use super::header::ALGORITHM;

/// The least RSA modulus accepted, in bits.
pub const MIN_MODULUS_BITS: usize = 2048;

/// The usable keys of one JWK Set, by `kid`.
#[derive(Clone, Default)]
pub struct KeySet {
    pub keys: HashMap<String, DecodingKey>,
    /// How many keys of the set were not usable.
    pub skipped: usize,
}

#[derive(Deserialize)]
struct Document {
    keys: Vec<serde_json::Value>,
}

/// One key as the set gives it; fields of the wrong type make the key unusable, not the set.
#[derive(Deserialize)]
struct Jwk {
    kty: String,
    kid: String,
    #[serde(rename = "use")]
    usage: Option<String>,
    alg: Option<String>,
    n: String,
    e: String,
}

/// Reads a JWK Set document. Fails only when the document is not a set at all.
pub fn parse(body: &[u8]) -> Result<KeySet, serde_json::Error> {
    let document: Document = serde_json::from_slice(body)?;
    let mut set = KeySet::default();
    for value in document.keys {
        match usable_key(value) {
            Some((kid, key)) => {
                set.keys.insert(kid, key);
            }
            None => set.skipped += 1,
        }
    }
    Ok(set)
}

fn usable_key(value: serde_json::Value) -> Option<(String, DecodingKey)> {
    let jwk: Jwk = serde_json::from_value(value).ok()?;
    let signing = jwk.usage.as_deref().is_none_or(|usage| usage == "sig");
    let rs256 = jwk.alg.as_deref().is_none_or(|alg| alg == ALGORITHM);
    if jwk.kty != "RSA" || !signing || !rs256 || jwk.kid.is_empty() {
        return None;
    }

    let modulus = URL_SAFE_NO_PAD.decode(&jwk.n).ok()?;
    let exponent = URL_SAFE_NO_PAD.decode(&jwk.e).ok()?;
    if modulus_bits(&modulus) < MIN_MODULUS_BITS || exponent.is_empty() {
        return None;
    }
    let key = DecodingKey::from_rsa_raw_components(&modulus, &exponent);
    Some((jwk.kid, key))
}

/// The bit length of a big-endian unsigned integer.
fn modulus_bits(bytes: &[u8]) -> usize {
    let significant = match bytes.iter().position(|&byte| byte != 0) {
        Some(first) => &bytes[first..],
        None => return 0,
    };
    significant.len() * 8 - significant[0].leading_zeros() as usize
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::auth::entra::testing::TestKey;

    fn set_of(keys: Vec<serde_json::Value>) -> KeySet {
        parse(json!({ "keys": keys }).to_string().as_bytes()).unwrap()
    }

    #[test]
    fn keeps_rsa_signing_keys_with_or_without_use_and_alg() {
        let key = TestKey::shared();
        let mut bare = key.jwk();
        bare.as_object_mut().unwrap().remove("use");
        bare.as_object_mut().unwrap().remove("alg");
        bare["kid"] = json!("bare");

        let set = set_of(vec![key.jwk(), bare]);

        assert_eq!(set.keys.len(), 2);
        assert!(set.keys.contains_key(&key.kid) && set.keys.contains_key("bare"));
        assert_eq!(set.skipped, 0);
    }

    #[test]
    fn skips_encryption_keys_other_algorithms_and_other_key_types() {
        let key = TestKey::shared();
        let with = |field: &str, value: serde_json::Value| {
            let mut jwk = key.jwk();
            jwk[field] = value;
            jwk
        };

        let set = set_of(vec![
            with("use", json!("enc")),
            with("alg", json!("PS256")),
            with("alg", json!("RS512")),
            with("kty", json!("EC")),
            with("kid", json!("")),
            with("n", json!(42)),
            with("e", json!("")),
            json!({"kty": "oct", "kid": "mac", "k": "c2VjcmV0"}),
        ]);

        assert!(set.keys.is_empty());
        assert_eq!(set.skipped, 8);
    }

    #[test]
    fn skips_a_modulus_shorter_than_2048_bits() {
        let key = TestKey::shared();
        let mut short = key.jwk();
        // 1024 bits, with a leading zero byte that does not count.
        let mut modulus = vec![0u8];
        modulus.extend([0xC3; 128]);
        short["n"] = json!(URL_SAFE_NO_PAD.encode(&modulus));

        let set = set_of(vec![short]);

        assert!(set.keys.is_empty());
        assert_eq!(set.skipped, 1);
    }

    #[test]
    fn counts_modulus_bits_from_the_first_set_bit() {
        assert_eq!(modulus_bits(&[]), 0);
        assert_eq!(modulus_bits(&[0, 0]), 0);
        assert_eq!(modulus_bits(&[0, 1]), 1);
        assert_eq!(modulus_bits(&[0x80, 0]), 16);
        assert_eq!(modulus_bits(&[0, 0x7F, 0xFF]), 15);
    }

    #[test]
    fn a_document_without_a_key_list_is_an_error() {
        assert!(parse(b"{}").is_err());
        assert!(parse(b"[]").is_err());
        assert!(parse(b"not json").is_err());
        assert!(parse(br#"{"keys": []}"#).unwrap().keys.is_empty());
    }
}
