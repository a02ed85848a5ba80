//! The sealing pipeline: prepare the revision, digest, sign, embed (DESIGN.md section 3).

use time::OffsetDateTime;

use crate::pdf::{PdfError, Source};
use crate::signer::{DigestAlgorithm, Signer, SignerError};

/// What the caller may choose about a seal.
#[derive(Clone, Debug)]
pub struct SealOptions {
    /// /Reason of the signature dictionary.
    pub reason: Option<String>,
    /// /Location of the signature dictionary.
    pub location: Option<String>,
    /// /ContactInfo of the signature dictionary.
    pub contact_info: Option<String>,
    /// The signature field's name; a unique `Seal<n>` when absent.
    pub field_name: Option<String>,
    /// The digest of the byte ranges and of the signed attributes.
    pub digest: DigestAlgorithm,
    /// The signing time written in /M.
    pub signing_time: OffsetDateTime,
    /// Also compute the SHA-256 of the whole sealed document (costs one more hash of it).
    pub document_sha256: bool,
}

impl Default for SealOptions {
    fn default() -> Self {
        Self {
            reason: None,
            location: None,
            contact_info: None,
            field_name: None,
            digest: DigestAlgorithm::Sha256,
            signing_time: OffsetDateTime::now_utc(),
            document_sha256: false,
        }
    }
}

/// A sealed document: the original bytes followed by `increment`.
#[derive(Debug)]
pub struct Sealed {
    /// The bytes to append to the original document.
    pub increment: Vec<u8>,
    /// The name of the signature field that holds the seal.
    pub field_name: String,
    /// SHA-256 of the whole sealed document, when asked for.
    pub document_sha256: Option<[u8; 32]>,
}

/// Why a document was not sealed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SealError {
    #[error(transparent)]
    Pdf(#[from] PdfError),
    #[error(
        "the document is certified with DocMDP permission level 1, which allows no change at all, \
         so it cannot be sealed"
    )]
    CertifiedNoChanges,
    #[error("invalid option: {0}")]
    InvalidOption(String),
    #[error(transparent)]
    Signer(#[from] SignerError),
}

/// The stable cause of a [`SealError`], for status codes and problem types.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ErrorKind {
    /// The input is not a PDF at all.
    NotPdf,
    /// A PDF that cannot be read or sealed (damaged beyond repair, no pages, page-tree cycle).
    Unreadable,
    /// An encrypted PDF.
    Encrypted,
    /// A PDF whose certification forbids any change.
    Certified,
    /// An option the caller gave is not acceptable (field name taken, ...).
    InvalidOption,
    /// The signer failed.
    Signer,
    /// Reading the input failed.
    Io,
}

impl SealError {
    pub fn kind(&self) -> ErrorKind {
        match self {
            Self::Pdf(PdfError::NotPdf(_)) => ErrorKind::NotPdf,
            Self::Pdf(PdfError::Encrypted) => ErrorKind::Encrypted,
            Self::Pdf(PdfError::Io(_)) => ErrorKind::Io,
            Self::Pdf(_) => ErrorKind::Unreadable,
            Self::CertifiedNoChanges => ErrorKind::Certified,
            Self::InvalidOption(_) => ErrorKind::InvalidOption,
            Self::Signer(_) => ErrorKind::Signer,
        }
    }
}

/// Seals `source` with `signer`: the result is the increment to append to the original bytes.
pub async fn seal(
    source: &(impl Source + ?Sized),
    options: &SealOptions,
    signer: &dyn Signer,
) -> Result<Sealed, SealError> {
    let _ = (source, options, signer);
    Err(SealError::InvalidOption("the sealing pipeline is not built yet".into()))
}
