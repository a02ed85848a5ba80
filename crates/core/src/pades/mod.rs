//! PAdES baseline CMS: SignedData with the signed attributes of ETSI EN 319 142-1.

use async_trait::async_trait;
use x509_cert::Certificate;

use crate::signer::{DigestAlgorithm, DocumentDigest, RawSigner, Signer, SignerError};

/// Turns a [`RawSigner`] into a [`Signer`] by building the PAdES B-B CMS around its signature.
pub struct CadesSigner<R> {
    raw: R,
}

impl<R: RawSigner> CadesSigner<R> {
    pub fn new(raw: R) -> Self {
        Self { raw }
    }
}

#[async_trait]
impl<R: RawSigner> Signer for CadesSigner<R> {
    fn estimated_cms_len(&self, algorithm: DigestAlgorithm) -> usize {
        let _ = algorithm;
        0
    }

    async fn sign(&self, digest: &DocumentDigest) -> Result<Vec<u8>, SignerError> {
        let _ = digest;
        Err(SignerError::Unsupported(
            "the CMS builder is not built yet".into(),
        ))
    }

    fn certificates(&self) -> &[Certificate] {
        self.raw.certificates()
    }
}
