//! The JSON of the three CSC calls the backend makes, in both versions of the API.
//!
//! | call | v1 (1.0.4) | v2 |
//! |---|---|---|
//! | `credentials/info` | `credentialID`, `certificates: "chain"` | the same, and `authInfo: true` |
//! | `credentials/authorize` | `numSignatures`, `hash`, `PIN` | `numSignatures`, `hashes`, `hashAlgorithmOID`, `authData` |
//! | `signatures/signHash` | `SAD`, `hash`, `hashAlgo`, `signAlgo` | `SAD`, `hashes`, `hashAlgorithmOID`, `signAlgo` |
//!
//! Both answer `credentials/info` with `key.status`, `key.algo` (OIDs) and `cert.certificates`
//! (base64 DER, signer first), and the authorisation mode: `authMode` in v1, `auth.mode` in v2;
//! `signHash` with `signatures` in the order of the hashes.

use base64::Engine as _;
use base64::engine::DecodePaddingMode;
use base64::engine::general_purpose::{GeneralPurpose, GeneralPurposeConfig, STANDARD};
use der::asn1::ObjectIdentifier;
use serde_json::{Value, json};

use super::algorithm::SignAlgo;
use crate::config::Secret;
use crate::config::signer::csc::CscVersion;

/// Base64 as services send it: the standard alphabet, with or without padding.
const LENIENT: GeneralPurpose = GeneralPurpose::new(
    &base64::alphabet::STANDARD,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

/// How the credential's signatures are authorised (`authMode`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AuthMode {
    /// The service decides without a PIN from the caller.
    Implicit,
    /// The caller sends a PIN (or OTP) to `credentials/authorize`.
    Explicit,
    /// Anything else, such as `oauth2code`.
    Other(String),
}

/// What `credentials/info` says of the credential.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CredentialInfo {
    /// DER certificates, signer first.
    pub certificates: Vec<Vec<u8>>,
    /// The signature algorithms the key offers (`key.algo`).
    pub algorithms: Vec<ObjectIdentifier>,
    pub auth_mode: AuthMode,
}

/// The body of `credentials/info`, asking for the whole chain.
pub fn info_request(version: CscVersion, credential_id: &str) -> Value {
    match version {
        CscVersion::V1 => json!({
            "credentialID": credential_id,
            "certificates": "chain",
            "certInfo": false,
        }),
        CscVersion::V2 => json!({
            "credentialID": credential_id,
            "certificates": "chain",
            "certInfo": false,
            "authInfo": true,
        }),
    }
}

impl CredentialInfo {
    /// Reads the answer of `credentials/info`; a disabled key is an error. A missing
    /// authorisation mode counts as `implicit`.
    pub fn parse(answer: &Value) -> Result<Self, String> {
        let status = answer["key"]["status"].as_str().unwrap_or("enabled");
        if status != "enabled" {
            return Err(format!("the credential's key is {status:?}, not enabled"));
        }
        let algorithms = answer["key"]["algo"]
            .as_array()
            .ok_or("credentials/info gave no key.algo list")?
            .iter()
            .map(|oid| {
                oid.as_str()
                    .and_then(|text| ObjectIdentifier::new(text).ok())
                    .ok_or_else(|| format!("key.algo holds {oid}, which is not an OID"))
            })
            .collect::<Result<Vec<_>, _>>()?;
        let certificates = answer["cert"]["certificates"]
            .as_array()
            .ok_or("credentials/info gave no cert.certificates: the chain is missing")?
            .iter()
            .map(|text| {
                text.as_str()
                    .and_then(|text| LENIENT.decode(text).ok())
                    .ok_or("cert.certificates holds something that is not base64")
            })
            .collect::<Result<Vec<_>, _>>()?;
        // v2 answers `auth.mode` (with `authInfo`), v1 the top-level `authMode`.
        let mode = answer["auth"]["mode"]
            .as_str()
            .or(answer["authMode"].as_str());
        let auth_mode = match mode {
            None | Some("implicit") => AuthMode::Implicit,
            Some("explicit") => AuthMode::Explicit,
            Some(other) => AuthMode::Other(other.to_string()),
        };
        Ok(Self {
            certificates,
            algorithms,
            auth_mode,
        })
    }
}

/// The body of `credentials/authorize` for one signature of `hash`, with the PIN of an
/// explicit credential.
pub fn authorize_request(
    version: CscVersion,
    credential_id: &str,
    hash_algo: ObjectIdentifier,
    hash: &[u8],
    pin: Option<&Secret>,
) -> Value {
    let hashes = [STANDARD.encode(hash)];
    let mut body = match version {
        CscVersion::V1 => json!({
            "credentialID": credential_id,
            "numSignatures": 1,
            "hash": hashes,
        }),
        CscVersion::V2 => json!({
            "credentialID": credential_id,
            "numSignatures": 1,
            "hashes": hashes,
            "hashAlgorithmOID": hash_algo.to_string(),
        }),
    };
    if let Some(pin) = pin {
        match version {
            CscVersion::V1 => body["PIN"] = json!(pin.expose()),
            CscVersion::V2 => body["authData"] = json!([{ "id": "PIN", "value": pin.expose() }]),
        }
    }
    body
}

/// The `SAD` of an authorize answer.
pub fn sad(answer: &Value) -> Result<String, String> {
    answer["SAD"]
        .as_str()
        .filter(|sad| !sad.is_empty())
        .map(str::to_string)
        .ok_or_else(|| "the answer has no SAD".into())
}

/// The body of `signatures/signHash` for one hash.
pub fn sign_hash_request(
    version: CscVersion,
    credential_id: &str,
    sad: &str,
    hash: &[u8],
    algo: &SignAlgo,
) -> Value {
    let hashes = [STANDARD.encode(hash)];
    let mut body = match version {
        CscVersion::V1 => json!({
            "credentialID": credential_id,
            "SAD": sad,
            "hash": hashes,
            "hashAlgo": algo.hash_algo.to_string(),
            "signAlgo": algo.sign_algo.to_string(),
        }),
        CscVersion::V2 => json!({
            "credentialID": credential_id,
            "SAD": sad,
            "hashes": hashes,
            "hashAlgorithmOID": algo.hash_algo.to_string(),
            "signAlgo": algo.sign_algo.to_string(),
        }),
    };
    if let Some(params) = &algo.params {
        body["signAlgoParams"] = json!(STANDARD.encode(params));
    }
    body
}

/// The one signature of a signHash answer for one hash.
pub fn single_signature(answer: &Value) -> Result<Vec<u8>, String> {
    let signatures = answer["signatures"]
        .as_array()
        .ok_or("the answer has no signatures list")?;
    let [signature] = signatures.as_slice() else {
        return Err(format!(
            "the answer has {} signatures for one hash",
            signatures.len()
        ));
    };
    signature
        .as_str()
        .and_then(|text| LENIENT.decode(text).ok())
        .filter(|bytes| !bytes.is_empty())
        .ok_or_else(|| "the signature is not base64".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    const SHA256: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.16.840.1.101.3.4.2.1");

    #[test]
    fn v1_and_v2_sign_hash_bodies_use_their_own_field_names() {
        let algo = SignAlgo {
            sign_algo: ObjectIdentifier::new_unwrap("1.2.840.10045.4.3.2"),
            params: None,
            hash_algo: SHA256,
        };
        let v1 = sign_hash_request(CscVersion::V1, "ca/signer", "sad", &[1, 2, 3], &algo);
        assert_eq!(
            v1,
            json!({"credentialID": "ca/signer", "SAD": "sad", "hash": ["AQID"],
                   "hashAlgo": "2.16.840.1.101.3.4.2.1", "signAlgo": "1.2.840.10045.4.3.2"})
        );
        let v2 = sign_hash_request(CscVersion::V2, "c", "sad", &[1, 2, 3], &algo);
        assert_eq!(v2["hashes"], json!(["AQID"]));
        assert_eq!(v2["hashAlgorithmOID"], json!("2.16.840.1.101.3.4.2.1"));
        assert!(v2.get("hash").is_none() && v2.get("hashAlgo").is_none());

        let pss = SignAlgo {
            sign_algo: ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.10"),
            params: Some(vec![0x30, 0x00]),
            hash_algo: SHA256,
        };
        let v1 = sign_hash_request(CscVersion::V1, "c", "sad", &[1], &pss);
        assert_eq!(v1["signAlgoParams"], json!("MAA="));
        assert!(v2.get("signAlgoParams").is_none());
    }

    #[test]
    fn the_pin_goes_where_each_version_wants_it() {
        let pin = Secret::new("4711");
        let v1 = authorize_request(CscVersion::V1, "c", SHA256, &[9], Some(&pin));
        assert_eq!(v1["PIN"], json!("4711"));
        assert_eq!(v1["hash"], json!(["CQ=="]));
        assert_eq!(v1["numSignatures"], json!(1));
        let v2 = authorize_request(CscVersion::V2, "c", SHA256, &[9], Some(&pin));
        assert_eq!(v2["authData"], json!([{"id": "PIN", "value": "4711"}]));
        assert!(v2.get("PIN").is_none());
        let implicit = authorize_request(CscVersion::V1, "c", SHA256, &[9], None);
        assert!(implicit.get("PIN").is_none());
    }

    #[test]
    fn reads_the_chain_algorithms_and_auth_mode_of_an_info_answer() {
        let answer = json!({
            "key": {"status": "enabled", "algo": ["1.2.840.113549.1.1.11"], "len": 2048},
            "cert": {"certificates": ["AQI=", "AwQ"]},
            "authMode": "explicit",
        });
        let info = CredentialInfo::parse(&answer).unwrap();
        assert_eq!(info.certificates, vec![vec![1, 2], vec![3, 4]]);
        assert_eq!(info.algorithms[0].to_string(), "1.2.840.113549.1.1.11");
        assert_eq!(info.auth_mode, AuthMode::Explicit);

        let v2 = json!({"key": {"algo": []}, "cert": {"certificates": []},
                        "auth": {"mode": "oauth2code"}});
        let info = CredentialInfo::parse(&v2).unwrap();
        assert_eq!(info.auth_mode, AuthMode::Other("oauth2code".into()));
    }

    #[test]
    fn an_info_answer_without_chain_or_with_a_disabled_key_is_refused() {
        let no_chain = json!({"key": {"status": "enabled", "algo": []}});
        assert!(
            CredentialInfo::parse(&no_chain)
                .unwrap_err()
                .contains("chain")
        );
        let disabled = json!({"key": {"status": "disabled", "algo": []},
                              "cert": {"certificates": []}});
        assert!(
            CredentialInfo::parse(&disabled)
                .unwrap_err()
                .contains("disabled")
        );
    }

    #[test]
    fn a_sign_answer_must_hold_exactly_one_signature() {
        assert_eq!(
            single_signature(&json!({"signatures": ["AQID"]})).unwrap(),
            vec![1, 2, 3]
        );
        assert!(single_signature(&json!({"signatures": []})).is_err());
        assert!(single_signature(&json!({"signatures": ["AQ==", "AQ=="]})).is_err());
        assert!(single_signature(&json!({"signatures": ["!!"]})).is_err());
        assert!(sad(&json!({"SAD": ""})).is_err());
    }
}
