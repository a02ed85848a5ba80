//! The CMS `signatureAlgorithm` identifiers of the local signer's keys.

use spki::AlgorithmIdentifierOwned;

use super::RsaPadding;
use super::key::PrivateKey;
use crate::signer::algorithm::{ecdsa, rsa_pkcs1v15, rsa_pss};
use crate::signer::{DigestAlgorithm, SignerError};

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
        (PrivateKey::Rsa { .. }, RsaPadding::Pkcs1v15) => Ok(rsa_pkcs1v15(digest)),
        (PrivateKey::Rsa { .. }, RsaPadding::Pss) => rsa_pss(digest),
        (PrivateKey::P256(_) | PrivateKey::P384(_), _) => Ok(ecdsa(digest)),
    }
}
