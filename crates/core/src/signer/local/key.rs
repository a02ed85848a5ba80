//! The private key types the local signer accepts, how they are decoded, and how they sign.
//!
//! RSA keys of 2048 to 4096 bits, and ECDSA keys on P-256 or P-384. Each key type wipes its
//! secret from memory when dropped (rsa and ecdsa implement `ZeroizeOnDrop`).

use der::Decode;
use der::asn1::ObjectIdentifier;
use p256::ecdsa::signature::hazmat::PrehashSigner;
use pkcs8::{DecodePublicKey, PrivateKeyInfoRef};
use rsa::pkcs1::DecodeRsaPrivateKey;
use rsa::traits::PublicKeyParts;
use sha2::{Sha256, Sha384, Sha512};
use spki::SubjectPublicKeyInfoOwned;

use super::RsaPadding;
use crate::signer::{DigestAlgorithm, SignerError};

/// `rsaEncryption` (RFC 8017 appendix A.1).
const RSA_ENCRYPTION: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.1");
/// `id-RSASSA-PSS` used as a key type: a key restricted to PSS (RFC 4055 section 1.2).
const RSASSA_PSS: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.10");
/// `id-ecPublicKey` (RFC 5480 section 2.1.1).
const EC_PUBLIC_KEY: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.2.1");
/// `secp256r1`, NIST P-256 (RFC 5480 section 2.1.1.1).
const SECP256R1: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.3.1.7");
/// `secp384r1`, NIST P-384 (RFC 5480 section 2.1.1.1).
const SECP384R1: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.132.0.34");

/// The RSA modulus sizes accepted, in bits.
pub(super) const RSA_BITS: std::ops::RangeInclusive<usize> = 2048..=4096;

/// A private key held in memory.
pub(super) enum PrivateKey {
    Rsa {
        key: Box<rsa::PrivateKey>,
        bits: usize,
    },
    P256(p256::ecdsa::SigningKey),
    P384(p384::ecdsa::SigningKey),
}

impl PrivateKey {
    /// Decodes a PKCS#8 `PrivateKeyInfo` (RFC 5208 section 5).
    pub fn from_pkcs8_der(der: &[u8]) -> Result<Self, SignerError> {
        let info = PrivateKeyInfoRef::try_from(der)
            .map_err(|e| SignerError::Key(format!("cannot read the PKCS#8 private key: {e}")))?;
        let inner = info.private_key.as_bytes();

        match info.algorithm.oid {
            RSA_ENCRYPTION => Self::from_pkcs1_der(inner),
            EC_PUBLIC_KEY => {
                let curve = info
                    .algorithm
                    .parameters
                    .and_then(|p| p.decode_as::<ObjectIdentifier>().ok());
                Self::from_sec1_der(inner, curve)
            }
            RSASSA_PSS => Err(SignerError::Key(
                "RSA keys restricted to PSS (id-RSASSA-PSS) are not supported: use a plain \
                 rsaEncryption key and choose PSS padding"
                    .into(),
            )),
            other => Err(SignerError::Key(format!(
                "the private key algorithm {other} is not supported: use RSA, or ECDSA on P-256 \
                 or P-384"
            ))),
        }
    }

    /// Decodes a PKCS#1 `RSAPrivateKey` (RFC 8017 appendix A.1.2), refusing sizes outside
    /// [`RSA_BITS`] before anything else.
    pub fn from_pkcs1_der(der: &[u8]) -> Result<Self, SignerError> {
        let unreadable = |e: &dyn std::fmt::Display| {
            SignerError::Key(format!("cannot read the RSA private key: {e}"))
        };
        let parsed = rsa::pkcs1::RsaPrivateKeyRef::from_der(der).map_err(|e| unreadable(&e))?;
        let bits = bit_length(parsed.modulus.as_bytes());
        if !RSA_BITS.contains(&bits) {
            return Err(SignerError::Key(format!(
                "RSA keys of {bits} bits are not accepted: use a key of {} to {} bits",
                RSA_BITS.start(),
                RSA_BITS.end()
            )));
        }

        let key = rsa::PrivateKey::from_pkcs1_der(der).map_err(|e| unreadable(&e))?;
        Ok(Self::Rsa {
            key: Box::new(key),
            bits,
        })
    }

    /// Decodes a SEC1 `ECPrivateKey` (RFC 5915 section 3). The curve comes from the PKCS#8
    /// algorithm parameters when there are some, else from the key's own parameters.
    pub fn from_sec1_der(der: &[u8], curve: Option<ObjectIdentifier>) -> Result<Self, SignerError> {
        let unreadable = |e: &dyn std::fmt::Display| {
            SignerError::Key(format!("cannot read the EC private key: {e}"))
        };
        let parsed = sec1::EcPrivateKey::try_from(der).map_err(|e| unreadable(&e))?;
        let own_curve = parsed.parameters.map(|p| match p {
            sec1::EcParameters::NamedCurve(oid) => oid,
        });

        match curve.or(own_curve) {
            Some(SECP256R1) => p256::SecretKey::from_sec1_der(der)
                .map(|secret| Self::P256(secret.into()))
                .map_err(|e| unreadable(&e)),
            Some(SECP384R1) => p384::SecretKey::from_sec1_der(der)
                .map(|secret| Self::P384(secret.into()))
                .map_err(|e| unreadable(&e)),
            Some(other) => Err(SignerError::Key(format!(
                "the elliptic curve {other} is not supported: use P-256 or P-384"
            ))),
            None => Err(SignerError::Key(
                "the EC private key does not name its curve".into(),
            )),
        }
    }

    /// A short human description, without anything secret: "RSA 3072 bits", "ECDSA P-256".
    pub fn describe(&self) -> String {
        match self {
            Self::Rsa { bits, .. } => format!("RSA {bits} bits"),
            Self::P256(_) => "ECDSA P-256".into(),
            Self::P384(_) => "ECDSA P-384".into(),
        }
    }

    /// The largest signature this key makes: the modulus length for RSA (RFC 8017 section
    /// 8.2.1), the longest DER `Ecdsa-Sig-Value` for ECDSA (two integers one byte longer than
    /// the field when their high bit is set, RFC 3279 section 2.2.3).
    pub fn max_signature_len(&self) -> usize {
        match self {
            Self::Rsa { key, .. } => key.size(),
            Self::P256(_) => ecdsa_der_max_len(32),
            Self::P384(_) => ecdsa_der_max_len(48),
        }
    }

    /// Whether `spki`, a certificate's public key, is the public half of this key.
    pub fn matches(&self, spki: &SubjectPublicKeyInfoOwned) -> bool {
        let Ok(der) = der::Encode::to_der(spki) else {
            return false;
        };
        match self {
            Self::Rsa { key, .. } => rsa::PublicKey::from_public_key_der(&der)
                .is_ok_and(|public| &public == key.as_public_key()),
            Self::P256(key) => p256::ecdsa::VerifyingKey::from_public_key_der(&der)
                .is_ok_and(|public| &public == key.verifying_key()),
            Self::P384(key) => p384::ecdsa::VerifyingKey::from_public_key_der(&der)
                .is_ok_and(|public| &public == key.verifying_key()),
        }
    }

    /// Signs `hash`, already computed with `digest`.
    ///
    /// RSA PSS uses MGF1 with the same hash and a salt as long as the hash, matching
    /// [`super::algorithm::signature_algorithm`]. ECDSA follows FIPS 186-5 section 6.4.1: a hash
    /// longer than the curve order keeps its leftmost bits, which ecdsa 0.17 does when it turns
    /// the prehash into a scalar; the nonce is deterministic (RFC 6979).
    pub fn sign(
        &self,
        padding: RsaPadding,
        digest: DigestAlgorithm,
        hash: &[u8],
    ) -> Result<Vec<u8>, SignerError> {
        let failed = |e: &dyn std::fmt::Display| SignerError::Failed(e.to_string());
        match self {
            Self::Rsa { key, .. } => sign_rsa(key, padding, digest, hash).map_err(|e| failed(&e)),
            Self::P256(key) => PrehashSigner::<p256::ecdsa::DerSignature>::sign_prehash(key, hash)
                .map(|signature| signature.as_bytes().to_vec())
                .map_err(|e| failed(&e)),
            Self::P384(key) => PrehashSigner::<p384::ecdsa::DerSignature>::sign_prehash(key, hash)
                .map(|signature| signature.as_bytes().to_vec())
                .map_err(|e| failed(&e)),
        }
    }
}

fn sign_rsa(
    key: &rsa::PrivateKey,
    padding: RsaPadding,
    digest: DigestAlgorithm,
    hash: &[u8],
) -> rsa::Result<Vec<u8>> {
    match (padding, digest) {
        (RsaPadding::Pkcs1v15, DigestAlgorithm::Sha256) => {
            key.pkcs1v15_sign_prehash::<Sha256>(hash)
        }
        (RsaPadding::Pkcs1v15, DigestAlgorithm::Sha384) => {
            key.pkcs1v15_sign_prehash::<Sha384>(hash)
        }
        (RsaPadding::Pkcs1v15, DigestAlgorithm::Sha512) => {
            key.pkcs1v15_sign_prehash::<Sha512>(hash)
        }
        (RsaPadding::Pss, DigestAlgorithm::Sha256) => key.pss_sign_prehash::<Sha256>(hash),
        (RsaPadding::Pss, DigestAlgorithm::Sha384) => key.pss_sign_prehash::<Sha384>(hash),
        (RsaPadding::Pss, DigestAlgorithm::Sha512) => key.pss_sign_prehash::<Sha512>(hash),
    }
}

/// The number of significant bits of a big-endian unsigned integer.
fn bit_length(bytes: &[u8]) -> usize {
    let bytes = match bytes.iter().position(|&b| b != 0) {
        Some(first) => &bytes[first..],
        None => return 0,
    };
    bytes.len() * 8 - bytes[0].leading_zeros() as usize
}

/// `SEQUENCE { INTEGER r, INTEGER s }` with both integers at their longest: a leading zero
/// byte before `field_len` bytes; below 128 bytes of content every length fits in one byte.
const fn ecdsa_der_max_len(field_len: usize) -> usize {
    let integer = 2 + field_len + 1;
    2 + 2 * integer
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bit_length_ignores_leading_zero_bytes_and_bits() {
        assert_eq!(bit_length(&[0x00, 0x80, 0x00]), 16);
        assert_eq!(bit_length(&[0x01, 0xff]), 9);
        assert_eq!(bit_length(&[0x00]), 0);
    }

    #[test]
    fn longest_ecdsa_signatures_are_72_and_104_bytes() {
        assert_eq!(ecdsa_der_max_len(32), 72);
        assert_eq!(ecdsa_der_max_len(48), 104);
    }
}
