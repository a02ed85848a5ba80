//! The Trusted Signatures API: the digest goes out, a whole CMS comes back (DESIGN.md
//! section 4).
//!
//! Only the SHA-256 of the byte ranges leaves: `{"digestAlgorithm": "SHA256", "digest": ...,
//! "tsaTimestamp": ...}`, authenticated by an HMAC of the body with the API key. The CMS that
//! comes back is read before use: it must be a SignedData whose message-digest is the digest
//! sent, or the service signed something else and the seal fails.

mod keys;
mod request;
mod transport;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Instant;

use async_trait::async_trait;
use pdf_seal_core::pades::inspect_signed_data;
use pdf_seal_core::signer::{DigestAlgorithm, DocumentDigest, Signer, SignerError};
use x509_cert::Certificate;

use self::keys::ApiKeys;
use self::transport::{Failure, Transport};
use super::SignerSetupError;
use crate::config::signer::trusted_signatures::{TIMEOUT_SECS, TrustedSignaturesSettings};
use crate::secrets::Secrets;

/// The placeholder allowed for a CMS before one was seen, without and with the service's
/// time-stamp. Their chain is three RSA certificates (about 5 KiB with the signature) and a
/// time-stamp token with its own chain adds about as much again; the allowances leave twice
/// that. A signature that does not fit costs a second signature at the service, which is
/// dearer than some kilobytes of zeros in the document, so the allowance never shrinks.
const CMS_ALLOWANCE: usize = 12 * 1024;
const CMS_ALLOWANCE_WITH_TIMESTAMP: usize = 24 * 1024;
/// Room above the largest CMS seen: time-stamp tokens and signatures vary by a few bytes.
const LEARNED_MARGIN: usize = 1024;

/// The signer for `settings`, with its API keys read through `secrets`. Nothing is signed now:
/// every signature is billed, so the keys are only checked for form.
pub async fn open(
    settings: &TrustedSignaturesSettings,
    secrets: &Secrets,
) -> Result<Arc<dyn Signer>, SignerSetupError> {
    Ok(Arc::new(
        TrustedSignaturesSigner::new(settings, secrets).await?,
    ))
}

/// A [`Signer`] whose CMS the Trusted Signatures API builds.
pub struct TrustedSignaturesSigner {
    keys: ApiKeys,
    transport: Transport,
    tsa_timestamp: bool,
    /// The largest CMS received, so that the placeholder grows once and not on every seal.
    largest_cms: AtomicUsize,
    /// The chain of the first CMS received.
    certificates: OnceLock<Vec<Certificate>>,
}

impl TrustedSignaturesSigner {
    /// Reads the keys and makes the HTTP client.
    pub async fn new(
        settings: &TrustedSignaturesSettings,
        secrets: &Secrets,
    ) -> Result<Self, SignerSetupError> {
        let keys = ApiKeys::open(settings, secrets).await?;
        let transport = Transport::new(settings.sign_url(), settings.timeout, settings.retries)
            .map_err(|reason| SignerSetupError::Remote {
                variable: TIMEOUT_SECS.into(),
                reason,
            })?;
        tracing::info!(
            signer.url = %settings.sign_url(),
            signer.key_id = %keys.credentials(0).map(|c| c.key_id).unwrap_or_default(),
            signer.secondary_key = settings.secondary.is_some(),
            signer.tsa_timestamp = settings.tsa_timestamp,
            "signing with the Trusted Signatures API"
        );
        Ok(Self {
            keys,
            transport,
            tsa_timestamp: settings.tsa_timestamp,
            largest_cms: AtomicUsize::new(0),
            certificates: OnceLock::new(),
        })
    }

    /// Tries the keys, the one that last worked first. When every key is refused, the secrets
    /// are read again (a rotation in Key Vault) and, if one changed, the keys are tried once
    /// more.
    async fn sign_with_keys(&self, body: &[u8]) -> Result<Vec<u8>, SignerError> {
        let mut refusals = Vec::new();
        for round in 0..2 {
            let preferred = self.keys.preferred();
            for slot in self.keys.order() {
                let credentials = self.keys.credentials(slot)?;
                let started = Instant::now();
                match self.transport.sign(&credentials, body).await {
                    Ok(cms) => {
                        self.keys.worked(slot);
                        if slot != preferred {
                            tracing::warn!(
                                signer.key_id = %credentials.key_id,
                                signer.key = credentials.name,
                                "signing with the {} API key from now on: the other was \
                                 refused; replace it",
                                credentials.name
                            );
                        }
                        tracing::info!(
                            signer.key_id = %credentials.key_id,
                            duration_ms = started.elapsed().as_secs_f64() * 1000.0,
                            cms_len = cms.len(),
                            "the signing service signed the digest"
                        );
                        return Ok(cms);
                    }
                    Err(Failure::Unauthorized(reason)) => {
                        tracing::warn!(
                            signer.key_id = %credentials.key_id,
                            signer.key = credentials.name,
                            reason = %reason,
                            "the signing service refused the {} API key",
                            credentials.name
                        );
                        refusals.push(format!(
                            "key {} ({}): {reason}",
                            credentials.key_id, credentials.name
                        ));
                    }
                    Err(Failure::Final(error)) => return Err(error),
                }
            }
            if round == 1 || !self.keys.refresh_after_rejection().await {
                break;
            }
            tracing::info!("an API key changed in Key Vault; trying the keys again");
        }
        Err(SignerError::Refused(refusals.join("; ")))
    }

    /// Checks the CMS received for `digest` and learns its size and chain.
    fn accept(&self, cms: Vec<u8>, digest: &DocumentDigest) -> Result<Vec<u8>, SignerError> {
        let summary =
            inspect_signed_data(&cms).map_err(|e| SignerError::BadAnswer(e.to_string()))?;
        if summary.message_digest != digest.value {
            return Err(SignerError::BadAnswer(format!(
                "the signing service signed another digest ({}) than the one sent ({}); the \
                 signature was not used",
                hex::encode(&summary.message_digest),
                hex::encode(&digest.value)
            )));
        }
        self.largest_cms.fetch_max(cms.len(), Ordering::Relaxed);
        let _ = self.certificates.set(summary.certificates);
        Ok(cms)
    }
}

#[async_trait]
impl Signer for TrustedSignaturesSigner {
    /// No dry run is possible without a billed signature: a fixed allowance, or the largest CMS
    /// seen so far and a margin when that is more.
    fn estimated_cms_len(&self, _algorithm: DigestAlgorithm) -> usize {
        let allowance = match self.tsa_timestamp {
            true => CMS_ALLOWANCE_WITH_TIMESTAMP,
            false => CMS_ALLOWANCE,
        };
        let learned = self.largest_cms.load(Ordering::Relaxed);
        allowance.max(learned + LEARNED_MARGIN)
    }

    async fn sign(&self, digest: &DocumentDigest) -> Result<Vec<u8>, SignerError> {
        if digest.algorithm != DigestAlgorithm::Sha256 {
            return Err(SignerError::Unsupported(format!(
                "the Trusted Signatures API signs SHA-256 digests only, not {}: use digest \
                 sha256 (the default)",
                digest.algorithm
            )));
        }
        if digest.value.len() != DigestAlgorithm::Sha256.output_len() {
            return Err(SignerError::Failed(format!(
                "a SHA-256 digest is 32 bytes long, not {}",
                digest.value.len()
            )));
        }

        let body = request::body(&digest.value, self.tsa_timestamp);
        let cms = self.sign_with_keys(&body).await?;
        self.accept(cms, digest)
    }

    /// Empty until the first signature; then the certificates that CMS carried.
    fn certificates(&self) -> &[Certificate] {
        self.certificates.get().map_or(&[], Vec::as_slice)
    }
}

#[cfg(test)]
mod tests {
    use pdf_seal_core::pades::CadesSigner;
    use pdf_seal_core::signer::dev;
    use pdf_seal_core::signer::local::LocalSigner;

    use super::*;
    use crate::config::Environment;

    async fn signer(tsa_timestamp: &str) -> TrustedSignaturesSigner {
        let env = Environment::from_pairs([
            ("PDF_SEAL_TS_URL", "http://127.0.0.1:9"),
            ("PDF_SEAL_TS_KEY_ID", "0b1c5a3e-6f7d-4c2b-9a8e-1d2f3a4b5c6d"),
            ("PDF_SEAL_TS_API_KEY", "00112233445566778899aabbccddeeff"),
            ("PDF_SEAL_TS_TSA_TIMESTAMP", tsa_timestamp),
        ]);
        let settings = TrustedSignaturesSettings::resolve(&env).unwrap();
        TrustedSignaturesSigner::new(&settings, &Secrets::environment_only())
            .await
            .unwrap()
    }

    async fn cms_over(value: &[u8]) -> Vec<u8> {
        let credentials = dev::generate("accept test").unwrap();
        let key = credentials.key_pem.as_bytes();
        let local = LocalSigner::from_pem(key, credentials.chain_pem.as_bytes(), None);
        let digest = DocumentDigest {
            algorithm: DigestAlgorithm::Sha256,
            value: value.to_vec(),
        };
        CadesSigner::new(local.unwrap())
            .sign(&digest)
            .await
            .unwrap()
    }

    fn digest(value: &[u8]) -> DocumentDigest {
        DocumentDigest {
            algorithm: DigestAlgorithm::Sha256,
            value: value.to_vec(),
        }
    }

    #[tokio::test]
    async fn a_cms_over_the_digest_sent_is_accepted_and_its_chain_learned() {
        let signer = signer("false").await;
        let cms = cms_over(&[1; 32]).await;
        assert!(signer.certificates().is_empty());

        let accepted = signer.accept(cms.clone(), &digest(&[1; 32])).unwrap();

        assert_eq!(accepted, cms);
        assert_eq!(signer.certificates().len(), 2);
        assert_eq!(
            signer.estimated_cms_len(DigestAlgorithm::Sha256),
            CMS_ALLOWANCE
        );
    }

    #[tokio::test]
    async fn a_cms_over_another_digest_or_no_cms_is_refused() {
        let signer = signer("true").await;
        let cms = cms_over(&[1; 32]).await;

        let other = signer.accept(cms, &digest(&[2; 32])).unwrap_err();
        let garbage = signer.accept(b"not a cms".to_vec(), &digest(&[1; 32]));

        assert!(other.to_string().contains("another digest"), "{other}");
        assert!(matches!(other, SignerError::BadAnswer(_)), "{other}");
        assert!(matches!(garbage, Err(SignerError::BadAnswer(_))));
        assert!(signer.certificates().is_empty());
        let estimate = signer.estimated_cms_len(DigestAlgorithm::Sha256);
        assert_eq!(estimate, CMS_ALLOWANCE_WITH_TIMESTAMP);
    }

    #[tokio::test]
    async fn a_cms_whose_signature_does_not_verify_is_refused() {
        let signer = signer("true").await;
        let mut cms = cms_over(&[1; 32]).await;
        // The stand-in's CMS ends with the SignerInfo's signature value.
        *cms.last_mut().unwrap() ^= 0x01;

        let error = signer.accept(cms, &digest(&[1; 32])).unwrap_err();

        assert!(matches!(error, SignerError::BadAnswer(_)), "{error}");
        assert!(error.to_string().contains("does not verify"), "{error}");
    }

    #[tokio::test]
    async fn only_sha256_digests_are_sent() {
        let signer = signer("true").await;
        let sha384 = DocumentDigest {
            algorithm: DigestAlgorithm::Sha384,
            value: vec![0; 48],
        };

        let error = signer.sign(&sha384).await.unwrap_err();

        assert!(matches!(error, SignerError::Unsupported(_)), "{error}");
    }
}
