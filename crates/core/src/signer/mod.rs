//! The signer trait, the digest algorithms and the backends.
//!
//! Two shapes share one engine (DESIGN.md section 4):
//! - a [`RawSigner`] signs the hash of the DER-encoded signed attributes and pdf-seal builds
//!   the CMS around it ([`crate::pades::CadesSigner`]): a local key, Key Vault, CSC;
//! - a [`Signer`] that returns a whole CMS for the document digest: the Trusted Signatures API.
//!
//! Either way only a digest leaves the process.

pub mod algorithm;
pub mod dev;
pub mod local;
pub mod verify;

use std::fmt;
use std::str::FromStr;

use async_trait::async_trait;
use der::asn1::ObjectIdentifier;
use sha2::Digest as _;
use spki::AlgorithmIdentifierOwned;
use x509_cert::Certificate;

/// The message digest used for the byte ranges and the signed attributes.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum DigestAlgorithm {
    #[default]
    Sha256,
    Sha384,
    Sha512,
}

impl DigestAlgorithm {
    /// The NIST algorithm identifier (RFC 5754 section 2).
    pub fn oid(self) -> ObjectIdentifier {
        match self {
            Self::Sha256 => ObjectIdentifier::new_unwrap("2.16.840.1.101.3.4.2.1"),
            Self::Sha384 => ObjectIdentifier::new_unwrap("2.16.840.1.101.3.4.2.2"),
            Self::Sha512 => ObjectIdentifier::new_unwrap("2.16.840.1.101.3.4.2.3"),
        }
    }

    /// The algorithm whose identifier is `oid`, if it is one of these.
    pub fn from_oid(oid: &ObjectIdentifier) -> Option<Self> {
        [Self::Sha256, Self::Sha384, Self::Sha512]
            .into_iter()
            .find(|algorithm| algorithm.oid() == *oid)
    }

    /// The length of the digest in bytes.
    pub fn output_len(self) -> usize {
        match self {
            Self::Sha256 => 32,
            Self::Sha384 => 48,
            Self::Sha512 => 64,
        }
    }

    /// The lowercase name used on the command line and in the API (`sha256`).
    pub fn name(self) -> &'static str {
        match self {
            Self::Sha256 => "sha256",
            Self::Sha384 => "sha384",
            Self::Sha512 => "sha512",
        }
    }

    /// A fresh incremental hasher for this algorithm.
    pub fn hasher(self) -> Hasher {
        match self {
            Self::Sha256 => Hasher::Sha256(sha2::Sha256::new()),
            Self::Sha384 => Hasher::Sha384(sha2::Sha384::new()),
            Self::Sha512 => Hasher::Sha512(sha2::Sha512::new()),
        }
    }

    /// The digest of `data` in one call.
    pub fn digest(self, data: &[u8]) -> Vec<u8> {
        let mut hasher = self.hasher();
        hasher.update(data);
        hasher.finalize()
    }
}

impl fmt::Display for DigestAlgorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for DigestAlgorithm {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.to_ascii_lowercase().replace('-', "").as_str() {
            "sha256" => Ok(Self::Sha256),
            "sha384" => Ok(Self::Sha384),
            "sha512" => Ok(Self::Sha512),
            _ => Err(format!(
                "unknown digest algorithm {s:?}: use sha256, sha384 or sha512"
            )),
        }
    }
}

/// An incremental hasher over one of the [`DigestAlgorithm`]s; cloning it forks the state.
#[derive(Clone)]
pub enum Hasher {
    Sha256(sha2::Sha256),
    Sha384(sha2::Sha384),
    Sha512(sha2::Sha512),
}

impl Hasher {
    pub fn update(&mut self, data: &[u8]) {
        match self {
            Self::Sha256(h) => h.update(data),
            Self::Sha384(h) => h.update(data),
            Self::Sha512(h) => h.update(data),
        }
    }

    pub fn finalize(self) -> Vec<u8> {
        match self {
            Self::Sha256(h) => h.finalize().to_vec(),
            Self::Sha384(h) => h.finalize().to_vec(),
            Self::Sha512(h) => h.finalize().to_vec(),
        }
    }
}

/// The digest of the document's signed byte ranges, the only thing a signer receives.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DocumentDigest {
    pub algorithm: DigestAlgorithm,
    pub value: Vec<u8>,
}

/// Refuses a `hash` whose length is not that of `digest`, before it goes to a key.
pub fn check_hash_len(digest: DigestAlgorithm, hash: &[u8]) -> Result<(), SignerError> {
    if hash.len() == digest.output_len() {
        return Ok(());
    }
    Err(SignerError::Failed(format!(
        "a {digest} hash is {} bytes long, not {}",
        digest.output_len(),
        hash.len()
    )))
}

/// Why a signer could not sign.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SignerError {
    /// The key or certificate cannot be used (unreadable file, wrong password, unsupported key).
    #[error("signing key: {0}")]
    Key(String),
    /// The requested combination is not supported by this key or backend.
    #[error("unsupported: {0}")]
    Unsupported(String),
    /// The signing operation itself failed.
    #[error("signing failed: {0}")]
    Failed(String),
    /// A remote signing service (or time-stamp authority) could not be reached, timed out or
    /// failed on its side, after the backend's own retries: trying again later may work.
    #[error("signing service unavailable: {0}")]
    Unavailable(String),
    /// A remote signing service refused the request: its credentials, the key or the request
    /// itself were not accepted. Trying again will not help until an operator acts.
    #[error("signing service refused the request: {0}")]
    Refused(String),
    /// No time-stamp authority gave a usable time-stamp for a PAdES B-T seal: none could be
    /// reached in time, or their answers were refused or did not match the request.
    #[error("time-stamping failed: {0}")]
    Timestamp(String),
    /// The key or remote service answered with something that cannot be used: a signature
    /// that does not verify with the certificate's key, a CMS over another digest, garbage.
    /// Nothing was put into the document.
    #[error("the signing service's answer is unusable: {0}")]
    BadAnswer(String),
}

/// Produces the CMS SignedData (DER) for a document digest.
#[async_trait]
pub trait Signer: Send + Sync {
    /// The digest a seal uses when the caller chooses none: SHA-256, unless the key signs
    /// only another (a Key Vault key on P-384 signs SHA-384 hashes only).
    fn default_digest(&self) -> DigestAlgorithm {
        DigestAlgorithm::Sha256
    }

    /// An upper bound of the DER length of the CMS this signer returns for `algorithm`; the
    /// /Contents placeholder is sized from it (a dry run, not a guess, where the backend allows).
    fn estimated_cms_len(&self, algorithm: DigestAlgorithm) -> usize;

    /// The CMS SignedData (a DER `ContentInfo`), detached, for `digest`.
    async fn sign(&self, digest: &DocumentDigest) -> Result<Vec<u8>, SignerError>;

    /// The signer's certificate, signer first then its chain, when the signer knows them.
    fn certificates(&self) -> &[Certificate];
}

/// Signs a hash with a private key that pdf-seal does not necessarily hold.
#[async_trait]
pub trait RawSigner: Send + Sync {
    /// The digest a seal uses when the caller chooses none; see [`Signer::default_digest`].
    fn default_digest(&self) -> DigestAlgorithm {
        DigestAlgorithm::Sha256
    }

    /// The signer certificate first, then the rest of its chain.
    fn certificates(&self) -> &[Certificate];

    /// The CMS `signatureAlgorithm` for a signature over a hash made with `digest`.
    fn signature_algorithm(
        &self,
        digest: DigestAlgorithm,
    ) -> Result<AlgorithmIdentifierOwned, SignerError>;

    /// The largest signature value this key produces, in bytes.
    fn max_signature_len(&self) -> usize;

    /// Signs `hash`, the `digest` of the DER-encoded signed attributes.
    async fn sign_hash(&self, digest: DigestAlgorithm, hash: &[u8])
    -> Result<Vec<u8>, SignerError>;
}

/// A boxed raw signer is a raw signer, so that backends chosen at run time can share
/// [`crate::pades::CadesSigner`].
#[async_trait]
impl<T: RawSigner + ?Sized> RawSigner for Box<T> {
    fn default_digest(&self) -> DigestAlgorithm {
        (**self).default_digest()
    }

    fn certificates(&self) -> &[Certificate] {
        (**self).certificates()
    }

    fn signature_algorithm(
        &self,
        digest: DigestAlgorithm,
    ) -> Result<AlgorithmIdentifierOwned, SignerError> {
        (**self).signature_algorithm(digest)
    }

    fn max_signature_len(&self) -> usize {
        (**self).max_signature_len()
    }

    async fn sign_hash(
        &self,
        digest: DigestAlgorithm,
        hash: &[u8],
    ) -> Result<Vec<u8>, SignerError> {
        (**self).sign_hash(digest, hash).await
    }
}
