//! The credential's key, the `signAlgo` asked of the service for it, the CMS
//! `signatureAlgorithm` that describes the answer, and ECDSA answers brought to DER.
//!
//! Supported: RSA with PKCS#1 v1.5 (`sha256WithRSAEncryption` and siblings, or `rsaEncryption`
//! with a separate hash algorithm) or RSASSA-PSS (`id-RSASSA-PSS` with `signAlgoParams`: the
//! hash, MGF1 with the same hash, a salt as long as the hash), and ECDSA on P-256 and P-384.

use der::asn1::{Any, ObjectIdentifier, UintRef};
use der::{Decode, Encode};
use pdf_seal_core::signer::local::RsaPadding;
use pdf_seal_core::signer::{DigestAlgorithm, SignerError, algorithm};
use spki::AlgorithmIdentifierOwned;
use x509_cert::Certificate;

/// `rsaEncryption` (RFC 8017 appendix A.1): as a CSC `signAlgo`, PKCS#1 v1.5 over a hash named
/// separately.
const RSA_ENCRYPTION: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.1");
/// `id-RSASSA-PSS` (RFC 4055 section 3.1).
const RSASSA_PSS: ObjectIdentifier = algorithm::ID_RSASSA_PSS;
/// `id-ecPublicKey` (RFC 5480 section 2.1.1), which some services list as a `signAlgo`.
const EC_PUBLIC_KEY: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.2.1");
/// `secp256r1` (RFC 5480 section 2.1.1.1).
const SECP256R1: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.3.1.7");
/// `secp384r1` (RFC 5480 section 2.1.1.1).
const SECP384R1: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.132.0.34");

/// The key of the credential, read from its certificate.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KeyKind {
    Rsa { bits: usize },
    P256,
    P384,
}

impl KeyKind {
    /// The key of `certificate`, or why pdf-seal cannot use it.
    pub fn of(certificate: &Certificate) -> Result<Self, String> {
        let spki = certificate.tbs_certificate().subject_public_key_info();
        match spki.algorithm.oid {
            RSA_ENCRYPTION => {
                let bits = spki
                    .subject_public_key
                    .as_bytes()
                    .ok_or("the RSA public key is not a whole number of bytes")?;
                let key = Vec::<UintRef<'_>>::from_der(bits)
                    .map_err(|e| format!("cannot read the RSA public key: {e}"))?;
                let modulus = key.first().ok_or("the RSA public key has no modulus")?;
                Ok(Self::Rsa {
                    bits: bit_length(modulus.as_bytes()),
                })
            }
            RSASSA_PSS => Err("RSA keys restricted to PSS are not supported with CSC".into()),
            EC_PUBLIC_KEY => {
                let curve = spki
                    .algorithm
                    .parameters
                    .as_ref()
                    .and_then(|p| p.decode_as::<ObjectIdentifier>().ok());
                match curve {
                    Some(SECP256R1) => Ok(Self::P256),
                    Some(SECP384R1) => Ok(Self::P384),
                    other => Err(format!(
                        "the EC curve {other:?} is not supported: use P-256 or P-384"
                    )),
                }
            }
            other => Err(format!(
                "the key algorithm {other} is not supported: use RSA, or ECDSA on P-256 or P-384"
            )),
        }
    }

    /// The longest signature value the key makes, in bytes: the modulus for RSA, the DER
    /// `ECDSA-Sig-Value` with both integers at full length plus a sign byte for ECDSA.
    pub fn max_signature_len(self) -> usize {
        match self {
            Self::Rsa { bits } => bits.div_ceil(8),
            Self::P256 => 2 + 2 * (2 + 33),
            Self::P384 => 2 + 2 * (2 + 49),
        }
    }

    /// How the key is described in messages.
    pub fn describe(self) -> String {
        match self {
            Self::Rsa { bits } => format!("RSA {bits}"),
            Self::P256 => "ECDSA P-256".into(),
            Self::P384 => "ECDSA P-384".into(),
        }
    }
}

/// What to ask the service for: `signAlgo`, its DER `signAlgoParams` (PSS only), and the hash
/// algorithm sent beside it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SignAlgo {
    pub sign_algo: ObjectIdentifier,
    pub params: Option<Vec<u8>>,
    pub hash_algo: ObjectIdentifier,
}

impl SignAlgo {
    /// The CMS `signatureAlgorithm` that describes the signature the service makes:
    /// `sha256WithRSAEncryption` and siblings with NULL parameters (RFC 4055 section 5),
    /// `id-RSASSA-PSS` with its parameters (RFC 4055 section 3.1), `ecdsa-with-SHA256` and
    /// siblings without parameters (RFC 5758 section 3.2).
    pub fn cms_identifier(
        &self,
        key: KeyKind,
        digest: DigestAlgorithm,
    ) -> AlgorithmIdentifierOwned {
        match (key, &self.params) {
            (KeyKind::Rsa { .. }, Some(params)) => AlgorithmIdentifierOwned {
                oid: RSASSA_PSS,
                parameters: Some(Any::from_der(params).expect("the PSS parameters are DER")),
            },
            (KeyKind::Rsa { .. }, None) => AlgorithmIdentifierOwned {
                oid: algorithm::rsa_pkcs1v15_oid(digest),
                parameters: Some(Any::null()),
            },
            (KeyKind::P256 | KeyKind::P384, _) => AlgorithmIdentifierOwned {
                oid: algorithm::ecdsa_oid(digest),
                parameters: None,
            },
        }
    }
}

/// The `signAlgo` for a signature by `key` over a `digest` hash, chosen among `offered` (the
/// credential's `key.algo`): the combined identifier (`sha256WithRSAEncryption`,
/// `ecdsa-with-SHA256`) when offered, else the bare key algorithm with the hash named apart.
/// RSA uses PSS when `padding` asks for it, or when the credential offers nothing else.
pub fn choose(
    key: KeyKind,
    padding: RsaPadding,
    digest: DigestAlgorithm,
    offered: &[ObjectIdentifier],
) -> Result<SignAlgo, String> {
    let pss = SignAlgo {
        sign_algo: RSASSA_PSS,
        params: Some(pss_parameters(digest)),
        hash_algo: digest.oid(),
    };
    let (combined, bare) = match key {
        KeyKind::Rsa { .. } if padding == RsaPadding::Pss => {
            return match offered.contains(&RSASSA_PSS) {
                true => Ok(pss),
                false => Err(format!(
                    "PSS padding was asked for, but the credential does not offer RSASSA-PSS \
                     ({RSASSA_PSS}); it offers {}",
                    list(offered)
                )),
            };
        }
        KeyKind::Rsa { .. } => (algorithm::rsa_pkcs1v15_oid(digest), RSA_ENCRYPTION),
        KeyKind::P256 | KeyKind::P384 => (algorithm::ecdsa_oid(digest), EC_PUBLIC_KEY),
    };
    if let Some(sign_algo) = [combined, bare]
        .into_iter()
        .find(|oid| offered.contains(oid))
    {
        return Ok(SignAlgo {
            sign_algo,
            params: None,
            hash_algo: digest.oid(),
        });
    }
    if matches!(key, KeyKind::Rsa { .. }) && offered.contains(&RSASSA_PSS) {
        return Ok(pss);
    }
    Err(format!(
        "the credential offers none of {combined} and {bare} for a {} key with {digest} (it \
         offers {})",
        key.describe(),
        list(offered)
    ))
}

fn list(offered: &[ObjectIdentifier]) -> String {
    match offered {
        [] => "nothing".into(),
        _ => offered
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join(", "),
    }
}

/// The DER of RSASSA-PSS-params for `digest`, as `signAlgoParams` carries it.
fn pss_parameters(digest: DigestAlgorithm) -> Vec<u8> {
    algorithm::pss_parameters(digest)
        .and_then(|params| {
            params
                .to_der()
                .map_err(|e| SignerError::Failed(e.to_string()))
        })
        .expect("the PSS parameters of a known digest encode")
}

/// The signature value as CMS wants it: RSA as it came; ECDSA as a DER `ECDSA-Sig-Value`
/// (RFC 5753 section 7.2), whether the service answered in DER or as the raw `r || s` of
/// IEEE P1363 (both occur among CSC services).
pub fn normalise_signature(key: KeyKind, signature: Vec<u8>) -> Result<Vec<u8>, SignerError> {
    let invalid = |form: &str| {
        SignerError::Failed(format!(
            "the CSC service answered a {} signature that is neither DER nor r||s ({} bytes, \
             {form})",
            key.describe(),
            signature.len()
        ))
    };
    match key {
        KeyKind::Rsa { bits } => {
            if signature.len() != bits.div_ceil(8) {
                return Err(SignerError::Failed(format!(
                    "the CSC service answered a {}-byte signature for an {bits}-bit RSA key",
                    signature.len()
                )));
            }
            Ok(signature)
        }
        KeyKind::P256 => {
            let parsed = p256::ecdsa::Signature::from_der(&signature)
                .or_else(|_| p256::ecdsa::Signature::from_slice(&signature))
                .map_err(|_| invalid("P-256"))?;
            Ok(parsed.to_der().as_bytes().to_vec())
        }
        KeyKind::P384 => {
            let parsed = p384::ecdsa::Signature::from_der(&signature)
                .or_else(|_| p384::ecdsa::Signature::from_slice(&signature))
                .map_err(|_| invalid("P-384"))?;
            Ok(parsed.to_der().as_bytes().to_vec())
        }
    }
}

/// The number of significant bits of a big-endian unsigned integer.
fn bit_length(bytes: &[u8]) -> usize {
    let bytes = match bytes.iter().position(|&b| b != 0) {
        Some(start) => &bytes[start..],
        None => return 0,
    };
    bytes.len() * 8 - bytes[0].leading_zeros() as usize
}

#[cfg(test)]
mod tests {
    use super::*;

    const SHA256_RSA: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.11");
    const ECDSA_SHA256: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.4.3.2");
    const ECDSA_SHA384: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.4.3.3");

    const PKCS1: RsaPadding = RsaPadding::Pkcs1v15;

    #[test]
    fn prefers_the_combined_identifier_and_falls_back_to_the_bare_key_algorithm() {
        let rsa = KeyKind::Rsa { bits: 2048 };
        let both = [RSA_ENCRYPTION, SHA256_RSA, RSASSA_PSS];
        let chosen = choose(rsa, PKCS1, DigestAlgorithm::Sha256, &both).unwrap();
        assert_eq!((chosen.sign_algo, chosen.params), (SHA256_RSA, None));
        let bare = choose(rsa, PKCS1, DigestAlgorithm::Sha256, &[RSA_ENCRYPTION]).unwrap();
        assert_eq!(bare.sign_algo, RSA_ENCRYPTION);
        assert_eq!(bare.hash_algo, DigestAlgorithm::Sha256.oid());

        let offered = [ECDSA_SHA256, ECDSA_SHA384];
        let ec = choose(KeyKind::P384, PKCS1, DigestAlgorithm::Sha384, &offered);
        assert_eq!(ec.unwrap().sign_algo, ECDSA_SHA384);
    }

    #[test]
    fn pss_when_asked_for_or_when_the_credential_offers_nothing_else() {
        let rsa = KeyKind::Rsa { bits: 3072 };
        let both = [SHA256_RSA, RSASSA_PSS];
        let asked = choose(rsa, RsaPadding::Pss, DigestAlgorithm::Sha256, &both).unwrap();
        assert_eq!(asked.sign_algo, RSASSA_PSS);
        let only = choose(rsa, PKCS1, DigestAlgorithm::Sha256, &[RSASSA_PSS]).unwrap();
        assert_eq!(only, asked);

        let cms = asked.cms_identifier(rsa, DigestAlgorithm::Sha256);
        assert_eq!(cms.oid, RSASSA_PSS);
        assert_eq!(
            cms.parameters.unwrap().to_der().unwrap(),
            asked.params.unwrap()
        );

        let refused = choose(rsa, RsaPadding::Pss, DigestAlgorithm::Sha256, &[SHA256_RSA]);
        assert!(refused.unwrap_err().contains("RSASSA-PSS"));
    }

    #[test]
    fn refuses_a_credential_without_an_algorithm_for_its_key() {
        let p256 = KeyKind::P256;
        assert!(choose(p256, PKCS1, DigestAlgorithm::Sha256, &[SHA256_RSA]).is_err());
        assert!(choose(p256, PKCS1, DigestAlgorithm::Sha256, &[RSASSA_PSS]).is_err());
        let none = choose(p256, PKCS1, DigestAlgorithm::Sha256, &[]).unwrap_err();
        assert!(none.contains("nothing"), "{none}");
    }

    #[test]
    fn cms_identifiers_carry_null_for_rsa_and_nothing_for_ecdsa() {
        let rsa = KeyKind::Rsa { bits: 2048 };
        let sha512 = choose(rsa, PKCS1, DigestAlgorithm::Sha512, &[RSA_ENCRYPTION]).unwrap();
        let cms = sha512.cms_identifier(rsa, DigestAlgorithm::Sha512);
        assert_eq!(cms.oid.to_string(), "1.2.840.113549.1.1.13");
        assert_eq!(cms.parameters, Some(Any::null()));
        let ec = choose(
            KeyKind::P256,
            PKCS1,
            DigestAlgorithm::Sha256,
            &[ECDSA_SHA256],
        )
        .unwrap();
        let cms = ec.cms_identifier(KeyKind::P256, DigestAlgorithm::Sha256);
        assert_eq!((cms.oid, cms.parameters), (ECDSA_SHA256, None));
    }

    #[test]
    fn raw_ecdsa_signatures_become_der_and_der_stays_der() {
        let mut raw = vec![0u8; 64];
        raw[0] = 0x80; // r needs a leading zero in DER
        raw[31] = 1;
        raw[63] = 2;
        let der = normalise_signature(KeyKind::P256, raw.clone()).unwrap();
        assert_eq!(der[0], 0x30);
        assert_eq!(&der[2..5], &[0x02, 33, 0x00]);
        assert!(der.len() <= KeyKind::P256.max_signature_len());

        assert_eq!(
            normalise_signature(KeyKind::P256, der.clone()).unwrap(),
            der
        );
        let back = p256::ecdsa::Signature::from_der(&der).unwrap().to_bytes();
        assert_eq!(back.as_slice(), raw.as_slice());
    }

    #[test]
    fn refuses_signatures_of_the_wrong_size() {
        assert!(normalise_signature(KeyKind::P256, vec![1; 63]).is_err());
        assert!(normalise_signature(KeyKind::P384, vec![1; 64]).is_err());
        assert!(normalise_signature(KeyKind::Rsa { bits: 2048 }, vec![1; 255]).is_err());
        assert_eq!(
            normalise_signature(KeyKind::Rsa { bits: 2048 }, vec![1; 256]).unwrap(),
            vec![1; 256]
        );
    }

    #[test]
    fn bit_length_ignores_leading_zeros() {
        assert_eq!(bit_length(&[0, 0x80, 0]), 16);
        assert_eq!(bit_length(&[0x01, 0xff]), 9);
        assert_eq!(bit_length(&[0, 0]), 0);
    }
}
