//! PAdES baseline CMS: SignedData with the signed attributes of ETSI EN 319 142-1.
//!
//! A [`RawSigner`] only signs a hash; [`CadesSigner`] builds everything around that signature:
//! the signed attributes ([`attributes`]), their hash, and the detached SignedData ([`cms`]).
//! Backends that sign remotely reuse the same pieces.

pub mod attributes;
pub mod cms;
mod error;
pub mod ess;
pub mod inspect;
pub mod oids;

#[cfg(test)]
mod tests;

use async_trait::async_trait;
use x509_cert::Certificate;

pub use attributes::{SignedAttributes, signed_attributes, signed_attributes_hash};
pub use cms::{SignedDataParts, build_signed_data};
pub use error::CmsError;
pub use inspect::{SignedDataSummary, inspect_signed_data};

use crate::signer::{DigestAlgorithm, DocumentDigest, RawSigner, Signer, SignerError};

/// The length [`Signer::estimated_cms_len`] answers when the dry run itself fails (no
/// certificate, an unsupported digest). Signing then fails with the real cause anyway.
pub const FALLBACK_CMS_LEN: usize = 16 * 1024;

/// Turns a [`RawSigner`] into a [`Signer`] by building the PAdES B-B CMS around its signature.
pub struct CadesSigner<R> {
    raw: R,
}

impl<R: RawSigner> CadesSigner<R> {
    /// Wraps `raw`: its certificates go into the CMS, its signature over the signed attributes
    /// becomes the SignerInfo signature.
    pub fn new(raw: R) -> Self {
        Self { raw }
    }

    /// The raw signer this CMS builder wraps.
    pub fn raw(&self) -> &R {
        &self.raw
    }

    /// Gives the raw signer back.
    pub fn into_raw(self) -> R {
        self.raw
    }
}

#[async_trait]
impl<R: RawSigner> Signer for CadesSigner<R> {
    /// The exact length of the CMS built around a signature of `max_signature_len()` bytes.
    ///
    /// Everything else in the structure has a fixed size for a given digest algorithm and
    /// chain, and a shorter signature (an ECDSA value whose integers have fewer bytes) never
    /// makes the DER longer, so no margin is added.
    fn estimated_cms_len(&self, algorithm: DigestAlgorithm) -> usize {
        dry_run_len(&self.raw, algorithm).unwrap_or(FALLBACK_CMS_LEN)
    }

    async fn sign(&self, digest: &DocumentDigest) -> Result<Vec<u8>, SignerError> {
        sign_detached(&self.raw, digest).await
    }

    fn certificates(&self) -> &[Certificate] {
        self.raw.certificates()
    }
}

/// Builds the detached PAdES B-B CMS for `digest`, asking `raw` to sign the hash of the signed
/// attributes (RFC 5652 section 5.4).
pub async fn sign_detached<R: RawSigner + ?Sized>(
    raw: &R,
    digest: &DocumentDigest,
) -> Result<Vec<u8>, SignerError> {
    let certificates = raw.certificates();
    let signer = certificates.first().ok_or(CmsError::NoCertificate)?;
    let signature_algorithm = raw.signature_algorithm(digest.algorithm)?;
    let attributes = signed_attributes(digest, signer)?;
    let hash = signed_attributes_hash(&attributes, digest.algorithm)?;

    let signature = raw.sign_hash(digest.algorithm, &hash).await?;
    if signature.is_empty() {
        return Err(SignerError::Failed(
            "the signer returned an empty signature".into(),
        ));
    }

    let parts = SignedDataParts {
        digest: digest.algorithm,
        certificates,
        signed_attributes: &attributes,
        signature_algorithm: &signature_algorithm,
        signature: &signature,
        unsigned_attributes: None,
    };
    Ok(build_signed_data(&parts)?)
}

/// The length of the CMS that [`sign_detached`] would build, from a dry run with a zero digest
/// and a placeholder signature of `raw.max_signature_len()` bytes. Nothing is signed.
pub fn dry_run_len<R: RawSigner + ?Sized>(
    raw: &R,
    algorithm: DigestAlgorithm,
) -> Result<usize, SignerError> {
    let certificates = raw.certificates();
    let signer = certificates.first().ok_or(CmsError::NoCertificate)?;
    let signature_algorithm = raw.signature_algorithm(algorithm)?;
    let digest = DocumentDigest {
        algorithm,
        value: vec![0; algorithm.output_len()],
    };
    let attributes = signed_attributes(&digest, signer)?;

    let placeholder = vec![0xff; raw.max_signature_len().max(1)];
    let parts = SignedDataParts {
        digest: algorithm,
        certificates,
        signed_attributes: &attributes,
        signature_algorithm: &signature_algorithm,
        signature: &placeholder,
        unsigned_attributes: None,
    };
    Ok(build_signed_data(&parts)?.len())
}
