//! The CMS `signatureAlgorithm` identifiers of the local signer's keys.

use der::asn1::{Any, AnyRef, ObjectIdentifier};
use rsa::pkcs1::RsaPssParams;
use sha2::{Sha256, Sha384, Sha512};
use spki::AlgorithmIdentifierOwned;

use super::RsaPadding;
use super::key::PrivateKey;
use crate::signer::{DigestAlgorithm, SignerError};

/// `id-RSASSA-PSS` (RFC 4055 section 3.1).
pub(super) const ID_RSASSA_PSS: ObjectIdentifier =
    ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.10");

/// The identifier of a signature by `key` with `padding` over a hash made with `digest`.
///
/// - RSA PKCS#1 v1.5: `sha256WithRSAEncryption` and siblings with NULL parameters (RFC 4055
///   section 5, RFC 5754 section 3.2);
/// - RSA PSS: `id-RSASSA-PSS` with explicit RSASSA-PSS-params: the digest, MGF1 with the same
///   digest, a salt as long as the digest and the default trailer field, left out
///   (RFC 4055 section 3.1; the hash identifiers inside carry NULL parameters, as that
///   section's `sha256Identifier` does);
/// - ECDSA: `ecdsa-with-SHA256` and siblings without parameters (RFC 5758 section 3.2).
pub(super) fn signature_algorithm(
    key: &PrivateKey,
    padding: RsaPadding,
    digest: DigestAlgorithm,
) -> Result<AlgorithmIdentifierOwned, SignerError> {
    match (key, padding) {
        (PrivateKey::Rsa { .. }, RsaPadding::Pkcs1v15) => Ok(AlgorithmIdentifierOwned {
            oid: rsa_pkcs1v15_oid(digest),
            parameters: Some(Any::null()),
        }),
        (PrivateKey::Rsa { .. }, RsaPadding::Pss) => Ok(AlgorithmIdentifierOwned {
            oid: ID_RSASSA_PSS,
            parameters: Some(pss_parameters(digest)?),
        }),
        (PrivateKey::P256(_) | PrivateKey::P384(_), _) => Ok(AlgorithmIdentifierOwned {
            oid: ecdsa_oid(digest),
            parameters: None,
        }),
    }
}

fn rsa_pkcs1v15_oid(digest: DigestAlgorithm) -> ObjectIdentifier {
    match digest {
        DigestAlgorithm::Sha256 => ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.11"),
        DigestAlgorithm::Sha384 => ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.12"),
        DigestAlgorithm::Sha512 => ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.13"),
    }
}

fn ecdsa_oid(digest: DigestAlgorithm) -> ObjectIdentifier {
    match digest {
        DigestAlgorithm::Sha256 => ObjectIdentifier::new_unwrap("1.2.840.10045.4.3.2"),
        DigestAlgorithm::Sha384 => ObjectIdentifier::new_unwrap("1.2.840.10045.4.3.3"),
        DigestAlgorithm::Sha512 => ObjectIdentifier::new_unwrap("1.2.840.10045.4.3.4"),
    }
}

/// RSASSA-PSS-params for `digest` (RFC 4055 section 3.1):
///
/// ```text
/// RSASSA-PSS-params ::= SEQUENCE {
///     hashAlgorithm      [0] HashAlgorithm DEFAULT sha1Identifier,
///     maskGenAlgorithm   [1] MaskGenAlgorithm DEFAULT mgf1SHA1Identifier,
///     saltLength         [2] INTEGER DEFAULT 20,
///     trailerField       [3] INTEGER DEFAULT 1 }
/// ```
fn pss_parameters(digest: DigestAlgorithm) -> Result<Any, SignerError> {
    let salt_len = u8::try_from(digest.output_len()).expect("digests are at most 64 bytes");
    let params: RsaPssParams<AnyRef<'static>> = match digest {
        DigestAlgorithm::Sha256 => RsaPssParams::new::<Sha256>(salt_len),
        DigestAlgorithm::Sha384 => RsaPssParams::new::<Sha384>(salt_len),
        DigestAlgorithm::Sha512 => RsaPssParams::new::<Sha512>(salt_len),
    };
    Any::encode_from(&params)
        .map_err(|e| SignerError::Failed(format!("cannot encode the PSS parameters: {e}")))
}
