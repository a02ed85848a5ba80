//! Checks of signatures made elsewhere, before they go into a document: a remote key, a
//! signing service or a time-stamp authority that answers with a signature that does not
//! verify would otherwise give a seal that every validator rejects.

use cms::cert::CertificateChoices;
use cms::signed_data::{SignedData, SignerIdentifier};
use der::Encode;

use super::DigestAlgorithm;

/// Checks `signature` over `hash` with the public key of `certificate`, using the Rust
/// verifiers of rsa, p256 and p384; `algorithm` is the CMS signatureAlgorithm (PSS or not).
pub fn verify_signature(
    certificate: &x509_cert::Certificate,
    algorithm: &spki::AlgorithmIdentifierOwned,
    digest: crate::signer::DigestAlgorithm,
    hash: &[u8],
    signature: &[u8],
) -> Result<(), String> {
    use der::Encode;
    use p256::ecdsa::signature::hazmat::PrehashVerifier;
    use pkcs8::DecodePublicKey;
    use sha2::{Sha256, Sha384, Sha512};

    use crate::signer::DigestAlgorithm::{Sha256 as S256, Sha384 as S384, Sha512 as S512};

    let spki = certificate.tbs_certificate().subject_public_key_info();
    let spki_der = spki.to_der().map_err(|e| e.to_string())?;
    let pss = algorithm.oid == crate::signer::algorithm::ID_RSASSA_PSS;

    if let Ok(public) = rsa::PublicKey::from_public_key_der(&spki_der) {
        let result = match (pss, digest) {
            (false, S256) => public.pkcs1v15_verify_prehash::<Sha256>(hash, signature),
            (false, S384) => public.pkcs1v15_verify_prehash::<Sha384>(hash, signature),
            (false, S512) => public.pkcs1v15_verify_prehash::<Sha512>(hash, signature),
            (true, S256) => public.pss_verify_prehash::<Sha256>(hash, signature),
            (true, S384) => public.pss_verify_prehash::<Sha384>(hash, signature),
            (true, S512) => public.pss_verify_prehash::<Sha512>(hash, signature),
        };
        return result.map_err(|e| e.to_string());
    }
    if let Ok(public) = p256::ecdsa::VerifyingKey::from_public_key_der(&spki_der) {
        let signature =
            p256::ecdsa::DerSignature::try_from(signature).map_err(|e| e.to_string())?;
        return public
            .verify_prehash(hash, &signature)
            .map_err(|e| e.to_string());
    }
    if let Ok(public) = p384::ecdsa::VerifyingKey::from_public_key_der(&spki_der) {
        let signature =
            p384::ecdsa::DerSignature::try_from(signature).map_err(|e| e.to_string())?;
        return public
            .verify_prehash(hash, &signature)
            .map_err(|e| e.to_string());
    }
    Err("the certificate's key is neither RSA, P-256 nor P-384".into())
}

/// Checks the one SignerInfo of `signed_data`: the signature over its signed attributes, with
/// the key of the certificate it names among the SignedData's certificates (by issuer and
/// serial number; a signer named by key identifier is checked against each certificate).
pub fn verify_signer_info(signed_data: &SignedData) -> Result<(), String> {
    let [signer] = signed_data.signer_infos.0.as_slice() else {
        return Err("the SignedData does not have exactly one SignerInfo".into());
    };
    let attributes = signer
        .signed_attrs
        .as_ref()
        .ok_or("the SignerInfo has no signed attributes")?;
    let digest = DigestAlgorithm::from_oid(&signer.digest_alg.oid).ok_or_else(|| {
        format!(
            "digest algorithm {} is not supported",
            signer.digest_alg.oid
        )
    })?;
    let hash = digest.digest(&attributes.to_der().map_err(|e| e.to_string())?);
    let certificates = signed_data
        .certificates
        .iter()
        .flat_map(|set| set.0.iter())
        .filter_map(|choice| match choice {
            CertificateChoices::Certificate(certificate) => Some(certificate),
            CertificateChoices::Other(_) => None,
        });
    let candidates: Vec<_> = match &signer.sid {
        SignerIdentifier::IssuerAndSerialNumber(named) => certificates
            .filter(|c| {
                c.tbs_certificate().issuer() == &named.issuer
                    && c.tbs_certificate().serial_number() == &named.serial_number
            })
            .collect(),
        SignerIdentifier::SubjectKeyIdentifier(_) => certificates.collect(),
    };
    if candidates.is_empty() {
        return Err("the SignedData does not hold the signer's certificate".into());
    }
    let signature = signer.signature.as_bytes();
    let mut last = String::new();
    for certificate in candidates {
        match verify_signature(
            certificate,
            &signer.signature_algorithm,
            digest,
            &hash,
            signature,
        ) {
            Ok(()) => return Ok(()),
            Err(error) => last = error,
        }
    }
    Err(format!("the signature does not verify: {last}"))
}

#[cfg(test)]
mod tests {
    use async_trait::async_trait;
    use spki::AlgorithmIdentifierOwned;
    use x509_cert::Certificate;

    use crate::pades::{CadesSigner, inspect_signed_data};
    use crate::signer::local::LocalSigner;
    use crate::signer::{DigestAlgorithm, DocumentDigest, RawSigner, Signer, SignerError, dev};

    fn local() -> LocalSigner {
        let credentials = dev::generate("verify test").unwrap();
        LocalSigner::from_pem(
            credentials.key_pem.as_bytes(),
            credentials.chain_pem.as_bytes(),
            None,
        )
        .unwrap()
    }

    /// A key that signs another hash than the one it is given, as a faulty remote key would.
    struct OtherHash(LocalSigner);

    #[async_trait]
    impl RawSigner for OtherHash {
        fn certificates(&self) -> &[Certificate] {
            self.0.certificates()
        }

        fn signature_algorithm(
            &self,
            digest: DigestAlgorithm,
        ) -> Result<AlgorithmIdentifierOwned, SignerError> {
            self.0.signature_algorithm(digest)
        }

        fn max_signature_len(&self) -> usize {
            self.0.max_signature_len()
        }

        async fn sign_hash(
            &self,
            digest: DigestAlgorithm,
            _hash: &[u8],
        ) -> Result<Vec<u8>, SignerError> {
            self.0.sign_hash(digest, &digest.digest(b"other")).await
        }
    }

    fn document() -> DocumentDigest {
        DocumentDigest {
            algorithm: DigestAlgorithm::Sha256,
            value: DigestAlgorithm::Sha256.digest(b"byte ranges"),
        }
    }

    #[tokio::test]
    async fn a_signature_over_another_hash_is_refused_before_it_is_used() {
        let signer = CadesSigner::new(OtherHash(local()));

        let error = signer.sign(&document()).await.unwrap_err();

        assert!(matches!(error, SignerError::BadAnswer(_)), "{error}");
        assert!(error.to_string().contains("does not verify"), "{error}");
    }

    #[tokio::test]
    async fn a_cms_whose_signature_was_damaged_is_refused_when_read_back() {
        let mut cms = CadesSigner::new(local()).sign(&document()).await.unwrap();
        assert!(inspect_signed_data(&cms).is_ok());
        // The CMS ends with the SignerInfo's signature value (no unsigned attributes).
        *cms.last_mut().unwrap() ^= 0x01;

        let error = inspect_signed_data(&cms).unwrap_err();

        assert!(error.to_string().contains("does not verify"), "{error}");
    }
}
