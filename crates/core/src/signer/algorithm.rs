//! The CMS `signatureAlgorithm` identifiers of RSA and ECDSA signatures, shared by every
//! raw signer (the local key, Key Vault keys, CSC credentials).

use der::asn1::{Any, AnyRef, ObjectIdentifier};
use rsa::pkcs1::RsaPssParams;
use sha2::{Sha256, Sha384, Sha512};
use spki::AlgorithmIdentifierOwned;

use super::{DigestAlgorithm, SignerError};

/// `id-RSASSA-PSS` (RFC 4055 section 3.1).
pub const ID_RSASSA_PSS: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.10");

/// `sha256WithRSAEncryption` and its siblings with NULL parameters (RFC 4055 section 5, RFC 5754
/// section 3.2).
pub fn rsa_pkcs1v15(digest: DigestAlgorithm) -> AlgorithmIdentifierOwned {
    AlgorithmIdentifierOwned {
        oid: rsa_pkcs1v15_oid(digest),
        parameters: Some(Any::null()),
    }
}

/// `id-RSASSA-PSS` with explicit parameters: the digest, MGF1 with the same digest, a salt as
/// long as the digest and the default trailer field, left out (RFC 4055 section 3.1; the hash
/// identifiers inside carry NULL parameters, as that section's `sha256Identifier` does).
pub fn rsa_pss(digest: DigestAlgorithm) -> Result<AlgorithmIdentifierOwned, SignerError> {
    Ok(AlgorithmIdentifierOwned {
        oid: ID_RSASSA_PSS,
        parameters: Some(pss_parameters(digest)?),
    })
}

/// `ecdsa-with-SHA256` and its siblings, without parameters (RFC 5758 section 3.2).
pub fn ecdsa(digest: DigestAlgorithm) -> AlgorithmIdentifierOwned {
    AlgorithmIdentifierOwned {
        oid: ecdsa_oid(digest),
        parameters: None,
    }
}

/// The OID of [`rsa_pkcs1v15`].
pub fn rsa_pkcs1v15_oid(digest: DigestAlgorithm) -> ObjectIdentifier {
    match digest {
        DigestAlgorithm::Sha256 => ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.11"),
        DigestAlgorithm::Sha384 => ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.12"),
        DigestAlgorithm::Sha512 => ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.13"),
    }
}

/// The OID of [`ecdsa`].
pub fn ecdsa_oid(digest: DigestAlgorithm) -> ObjectIdentifier {
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
pub fn pss_parameters(digest: DigestAlgorithm) -> Result<Any, SignerError> {
    let salt_len = u8::try_from(digest.output_len()).expect("digests are at most 64 bytes");
    let params: RsaPssParams<AnyRef<'static>> = match digest {
        DigestAlgorithm::Sha256 => RsaPssParams::new::<Sha256>(salt_len),
        DigestAlgorithm::Sha384 => RsaPssParams::new::<Sha384>(salt_len),
        DigestAlgorithm::Sha512 => RsaPssParams::new::<Sha512>(salt_len),
    };
    Any::encode_from(&params)
        .map_err(|e| SignerError::Failed(format!("cannot encode the PSS parameters: {e}")))
}

#[cfg(test)]
mod tests {
    use der::Encode;

    use super::*;

    #[test]
    fn pss_parameters_for_sha256_are_the_well_known_der() {
        // SHA-256, MGF1 with SHA-256, salt 32: the encoding OpenSSL writes for
        // `-sigopt rsa_padding_mode:pss -sigopt rsa_pss_saltlen:32`.
        let expected = "3034a00f300d06096086480165030402010500a11c301a06092a864886f70d010108\
                        300d06096086480165030402010500a203020120";
        let der = pss_parameters(DigestAlgorithm::Sha256)
            .unwrap()
            .to_der()
            .unwrap();
        assert_eq!(hex::encode(der), expected);
        let sha512 = pss_parameters(DigestAlgorithm::Sha512)
            .unwrap()
            .to_der()
            .unwrap();
        assert_eq!(&sha512[sha512.len() - 3..], &[0x02, 0x01, 64]);
    }
}
