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
pub mod timestamp;

#[cfg(test)]
mod tests;

use std::sync::atomic::{AtomicUsize, Ordering};

use ::cms::signed_data::UnsignedAttributes;
use async_trait::async_trait;
use der::asn1::{Any, SetOfVec};
use der::{Encode, Tag};
use x509_cert::Certificate;

pub use attributes::{SignedAttributes, signed_attributes, signed_attributes_hash};
pub use cms::{SignedDataParts, build_signed_data};
pub use error::CmsError;
pub use inspect::{SignedDataSummary, inspect_signed_data};
pub use timestamp::{TimeStamper, TimestampError};

use crate::signer::verify::verify_signature;
use crate::signer::{DigestAlgorithm, DocumentDigest, RawSigner, Signer, SignerError};

/// The length [`Signer::estimated_cms_len`] answers when the dry run itself fails (no
/// certificate, an unsupported digest). Signing then fails with the real cause anyway.
pub const FALLBACK_CMS_LEN: usize = 16 * 1024;

/// How much a time-stamp token may grow beyond the largest one seen before the placeholder no
/// longer fits at the first try: its serial number, time, nonce and signature vary by a few
/// bytes from one token to the next.
pub const TOKEN_SLACK: usize = 64;

/// Turns a [`RawSigner`] into a [`Signer`] by building the PAdES CMS around its signature: B-B,
/// or B-T when a [`TimeStamper`] adds a time-stamp on the signature value.
pub struct CadesSigner<R> {
    raw: R,
    stamper: Option<Box<dyn TimeStamper>>,
    /// The DER length of the largest time-stamp token received so far, 0 before the first.
    largest_token: AtomicUsize,
}

impl<R: RawSigner> CadesSigner<R> {
    /// Wraps `raw`: its certificates go into the CMS, its signature over the signed attributes
    /// becomes the SignerInfo signature.
    pub fn new(raw: R) -> Self {
        Self {
            raw,
            stamper: None,
            largest_token: AtomicUsize::new(0),
        }
    }

    /// Like [`CadesSigner::new`], and each signature value is time-stamped by `stamper`, whose
    /// token becomes the unsigned attribute `id-aa-signatureTimeStampToken` (PAdES B-T).
    pub fn with_timestamps(raw: R, stamper: Box<dyn TimeStamper>) -> Self {
        Self {
            stamper: Some(stamper),
            ..Self::new(raw)
        }
    }

    /// The raw signer this CMS builder wraps.
    pub fn raw(&self) -> &R {
        &self.raw
    }

    /// Gives the raw signer back.
    pub fn into_raw(self) -> R {
        self.raw
    }

    /// The room kept for a time-stamp token: the largest seen so far and some slack, or the
    /// stamper's own estimate before the first; 0 without a stamper.
    pub fn token_allowance(&self) -> usize {
        let Some(stamper) = &self.stamper else {
            return 0;
        };
        match self.largest_token.load(Ordering::Relaxed) {
            0 => stamper.estimated_token_len(),
            largest => largest + TOKEN_SLACK,
        }
    }
}

#[async_trait]
impl<R: RawSigner> Signer for CadesSigner<R> {
    fn default_digest(&self) -> DigestAlgorithm {
        self.raw.default_digest()
    }

    /// The exact length of the CMS built around a signature of `max_signature_len()` bytes, and
    /// a time-stamp token of [`CadesSigner::token_allowance`] bytes when time-stamping.
    ///
    /// Everything else in the structure has a fixed size for a given digest algorithm and
    /// chain, and a shorter signature (an ECDSA value whose integers have fewer bytes) never
    /// makes the DER longer, so no margin is added. A token larger than its allowance makes
    /// the CMS too long for its placeholder: the pipeline then lays the document out again with
    /// a larger one and signs again (`seal::Prepared::sign`), and this estimate has grown too.
    fn estimated_cms_len(&self, algorithm: DigestAlgorithm) -> usize {
        dry_run_len_with_token(&self.raw, algorithm, self.token_allowance())
            .unwrap_or(FALLBACK_CMS_LEN)
    }

    async fn sign(&self, digest: &DocumentDigest) -> Result<Vec<u8>, SignerError> {
        match &self.stamper {
            None => sign_detached(&self.raw, digest).await,
            Some(stamper) => {
                let (cms, token_len) =
                    sign_timestamped(&self.raw, stamper.as_ref(), digest).await?;
                self.largest_token.fetch_max(token_len, Ordering::Relaxed);
                Ok(cms)
            }
        }
    }

    fn certificates(&self) -> &[Certificate] {
        self.raw.certificates()
    }
}

/// What [`sign_detached`] and [`sign_timestamped`] share: the attributes, their hash, and the
/// signature over it.
struct Signed {
    signature_algorithm: spki::AlgorithmIdentifierOwned,
    attributes: SignedAttributes,
    signature: Vec<u8>,
}

async fn sign_attributes<R: RawSigner + ?Sized>(
    raw: &R,
    digest: &DocumentDigest,
) -> Result<Signed, SignerError> {
    let certificates = raw.certificates();
    let signer = certificates.first().ok_or(CmsError::NoCertificate)?;
    let signature_algorithm = raw.signature_algorithm(digest.algorithm)?;
    let attributes = signed_attributes(digest, signer)?;
    let hash = signed_attributes_hash(&attributes, digest.algorithm)?;

    let signature = raw.sign_hash(digest.algorithm, &hash).await?;
    if signature.is_empty() {
        return Err(SignerError::BadAnswer(
            "the signer returned an empty signature".into(),
        ));
    }
    // A remote key that answers with a signature over something else (or a damaged one)
    // would give a seal that every validator rejects: it is checked here, for microseconds.
    verify_signature(
        signer,
        &signature_algorithm,
        digest.algorithm,
        &hash,
        &signature,
    )
    .map_err(|reason| {
        SignerError::BadAnswer(format!(
            "the signature does not verify with the seal certificate's key: {reason}"
        ))
    })?;
    Ok(Signed {
        signature_algorithm,
        attributes,
        signature,
    })
}

/// Builds the detached PAdES B-B CMS for `digest`, asking `raw` to sign the hash of the signed
/// attributes (RFC 5652 section 5.4).
pub async fn sign_detached<R: RawSigner + ?Sized>(
    raw: &R,
    digest: &DocumentDigest,
) -> Result<Vec<u8>, SignerError> {
    let signed = sign_attributes(raw, digest).await?;
    let parts = SignedDataParts {
        digest: digest.algorithm,
        certificates: raw.certificates(),
        signed_attributes: &signed.attributes,
        signature_algorithm: &signed.signature_algorithm,
        signature: &signed.signature,
        unsigned_attributes: None,
    };
    Ok(build_signed_data(&parts)?)
}

/// Builds the detached PAdES B-T CMS for `digest`: the B-B signature, then a time-stamp from
/// `stamper` on the digest (with the document's digest algorithm) of the signature value,
/// checked and added as the unsigned attribute `id-aa-signatureTimeStampToken` (ETSI EN
/// 319 122-1 section 5.3). Returns the CMS and the token's length.
pub async fn sign_timestamped<R: RawSigner + ?Sized>(
    raw: &R,
    stamper: &dyn TimeStamper,
    digest: &DocumentDigest,
) -> Result<(Vec<u8>, usize), SignerError> {
    let signed = sign_attributes(raw, digest).await?;
    let imprint = digest.algorithm.digest(&signed.signature);
    let token = stamper.timestamp(digest.algorithm, &imprint).await?;
    // The stamper has checked the answer against its request; checked again here so that no
    // stamper can put a token about something else into a seal.
    timestamp::check_token(&token, digest.algorithm, &imprint, None)
        .map_err(|error| SignerError::Failed(error.to_string()))?;
    let attribute = timestamp::signature_time_stamp_attribute(&token)
        .map_err(|error| SignerError::Failed(error.to_string()))?;
    let unsigned = unsigned_attributes(attribute)?;
    let parts = SignedDataParts {
        digest: digest.algorithm,
        certificates: raw.certificates(),
        signed_attributes: &signed.attributes,
        signature_algorithm: &signed.signature_algorithm,
        signature: &signed.signature,
        unsigned_attributes: Some(&unsigned),
    };
    Ok((build_signed_data(&parts)?, token.len()))
}

fn unsigned_attributes(
    attribute: x509_cert::attr::Attribute,
) -> Result<UnsignedAttributes, CmsError> {
    Ok(SetOfVec::try_from(vec![attribute])?)
}

/// The length of the CMS that [`sign_detached`] would build, from a dry run with a zero digest
/// and a placeholder signature of `raw.max_signature_len()` bytes. Nothing is signed.
pub fn dry_run_len<R: RawSigner + ?Sized>(
    raw: &R,
    algorithm: DigestAlgorithm,
) -> Result<usize, SignerError> {
    dry_run_len_with_token(raw, algorithm, 0)
}

/// Like [`dry_run_len`], with a stand-in time-stamp token of `token_len` DER bytes in the
/// unsigned attributes when `token_len` is not 0.
pub fn dry_run_len_with_token<R: RawSigner + ?Sized>(
    raw: &R,
    algorithm: DigestAlgorithm,
    token_len: usize,
) -> Result<usize, SignerError> {
    let certificates = raw.certificates();
    let signer = certificates.first().ok_or(CmsError::NoCertificate)?;
    let signature_algorithm = raw.signature_algorithm(algorithm)?;
    let digest = DocumentDigest {
        algorithm,
        value: vec![0; algorithm.output_len()],
    };
    let attributes = signed_attributes(&digest, signer)?;

    let unsigned = match token_len {
        0 => None,
        len => {
            let attribute = x509_cert::attr::Attribute {
                oid: oids::ID_AA_SIGNATURE_TIME_STAMP_TOKEN,
                values: SetOfVec::try_from(vec![stand_in_token(len)?]).map_err(CmsError::from)?,
            };
            Some(unsigned_attributes(attribute)?)
        }
    };
    let placeholder = vec![0xff; raw.max_signature_len().max(1)];
    let parts = SignedDataParts {
        digest: algorithm,
        certificates,
        signed_attributes: &attributes,
        signature_algorithm: &signature_algorithm,
        signature: &placeholder,
        unsigned_attributes: unsigned.as_ref(),
    };
    Ok(build_signed_data(&parts)?.len())
}

/// A SEQUENCE whose whole DER encoding is `len` bytes long (at least 2), standing in for a
/// token in the dry run.
fn stand_in_token(len: usize) -> Result<Any, CmsError> {
    let mut value_len = len.saturating_sub(2);
    loop {
        let any = Any::new(Tag::Sequence, vec![0; value_len])?;
        let encoded = usize::try_from(any.encoded_len()?)?;
        if encoded <= len.max(2) || value_len == 0 {
            return Ok(any);
        }
        value_len -= encoded - len.max(2);
    }
}
