//! Development certificates: a throw-away root CA and a seal certificate it issued.

use super::SignerError;

/// A development root CA and a seal certificate, as PEM text.
pub struct DevCredentials {
    /// The root CA certificate, to trust when validating development seals.
    pub root_certificate_pem: String,
    /// The seal certificate followed by the root CA certificate.
    pub chain_pem: String,
    /// The seal key as unencrypted PKCS#8 PEM.
    pub key_pem: String,
}

/// Makes a new development root CA and a seal certificate issued by it.
pub fn generate(organisation: &str) -> Result<DevCredentials, SignerError> {
    let _ = organisation;
    Err(SignerError::Unsupported(
        "development certificates are not built yet".into(),
    ))
}
