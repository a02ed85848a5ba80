//! A signer whose key is held in this process: PKCS#12, or a PEM key with its certificate chain.

use async_trait::async_trait;
use spki::AlgorithmIdentifierOwned;
use x509_cert::Certificate;

use super::{DigestAlgorithm, RawSigner, SignerError};

/// The RSA signature scheme: PKCS#1 v1.5 (the default) or PSS.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum RsaPadding {
    #[default]
    Pkcs1v15,
    Pss,
}

/// A private key and its certificate chain, loaded once and kept in memory.
pub struct LocalSigner {
    certificates: Vec<Certificate>,
}

impl LocalSigner {
    /// Loads a PKCS#12 (PFX) file.
    pub fn from_pkcs12(der: &[u8], password: &str) -> Result<Self, SignerError> {
        let _ = (der, password);
        Err(SignerError::Unsupported(
            "the local signer is not built yet".into(),
        ))
    }

    /// Loads a PEM private key (PKCS#8, encrypted PKCS#8, PKCS#1 or SEC1) and a PEM chain.
    pub fn from_pem(
        key_pem: &[u8],
        certificates_pem: &[u8],
        password: Option<&str>,
    ) -> Result<Self, SignerError> {
        let _ = (key_pem, certificates_pem, password);
        Err(SignerError::Unsupported(
            "the local signer is not built yet".into(),
        ))
    }

    /// Chooses the RSA signature scheme; ignored for EC keys.
    pub fn with_rsa_padding(self, padding: RsaPadding) -> Self {
        let _ = padding;
        self
    }
}

#[async_trait]
impl RawSigner for LocalSigner {
    fn certificates(&self) -> &[Certificate] {
        &self.certificates
    }

    fn signature_algorithm(
        &self,
        digest: DigestAlgorithm,
    ) -> Result<AlgorithmIdentifierOwned, SignerError> {
        let _ = digest;
        Err(SignerError::Unsupported(
            "the local signer is not built yet".into(),
        ))
    }

    fn max_signature_len(&self) -> usize {
        0
    }

    async fn sign_hash(
        &self,
        digest: DigestAlgorithm,
        hash: &[u8],
    ) -> Result<Vec<u8>, SignerError> {
        let _ = (digest, hash);
        Err(SignerError::Unsupported(
            "the local signer is not built yet".into(),
        ))
    }
}
