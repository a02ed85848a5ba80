//! Why a CMS structure could not be built.

use crate::signer::{DigestAlgorithm, SignerError};

/// Why the CMS SignedData or its signed attributes could not be built.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CmsError {
    /// The signer gave no certificate, so there is nothing to identify it by.
    #[error("the signer has no certificate")]
    NoCertificate,
    /// The document digest does not have the length of its algorithm.
    #[error("a {algorithm} digest is {expected} bytes long, not {actual}")]
    DigestLength {
        algorithm: DigestAlgorithm,
        expected: usize,
        actual: usize,
    },
    /// A CMS structure received from elsewhere cannot be read as expected.
    #[error("cannot read the CMS: {0}")]
    Unreadable(String),
    /// DER encoding failed (a value too long for its type, for example).
    #[error("cannot encode the CMS structure: {0}")]
    Encoding(#[from] der::Error),
}

impl From<CmsError> for SignerError {
    fn from(error: CmsError) -> Self {
        match error {
            CmsError::NoCertificate => SignerError::Key(error.to_string()),
            _ => SignerError::Failed(error.to_string()),
        }
    }
}
