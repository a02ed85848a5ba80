//! A signer whose key is held in this process: PKCS#12, or a PEM key with its certificate chain.
//!
//! Accepted keys: RSA of 2048 to 4096 bits (PKCS#1 v1.5 or PSS signatures) and ECDSA on P-256
//! or P-384. The key is decoded once; the decoded DER is wiped right after, and the key types
//! wipe themselves when the signer is dropped. `Debug` shows only the subject and algorithm.

mod algorithm;
mod chain;
mod key;
mod pem;
mod pkcs12;

#[cfg(test)]
pub(crate) mod testing;
#[cfg(test)]
mod tests;

use std::fmt;

use async_trait::async_trait;
use der::Decode;
use spki::AlgorithmIdentifierOwned;
use x509_cert::Certificate;

use self::key::PrivateKey;
use super::{DigestAlgorithm, RawSigner, SignerError, check_hash_len};

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
    key: PrivateKey,
    padding: RsaPadding,
}

impl LocalSigner {
    /// Loads a PKCS#12 (PFX) file.
    ///
    /// The certificate that matches the key comes first, then its issuers; other certificates
    /// of the file follow.
    pub fn from_pkcs12(der: &[u8], password: &str) -> Result<Self, SignerError> {
        let (key, certificates) = pkcs12::load(der, password)?;
        Self::new(key, certificates)
    }

    /// Loads a PEM private key (PKCS#8, encrypted PKCS#8, PKCS#1 or SEC1) and a PEM chain.
    ///
    /// `password` decrypts an `ENCRYPTED PRIVATE KEY`; the legacy OpenSSL encryption
    /// (`Proc-Type` headers) is refused. `certificates_pem` may hold several certificates in any
    /// order: the one that matches the key is put first, then its issuers.
    pub fn from_pem(
        key_pem: &[u8],
        certificates_pem: &[u8],
        password: Option<&str>,
    ) -> Result<Self, SignerError> {
        let key = key_from_pem(key_pem, password)?;
        let certificates = certificates_from_pem(certificates_pem)?;
        Self::new(key, certificates)
    }

    /// Chooses the RSA signature scheme; ignored for EC keys.
    pub fn with_rsa_padding(self, padding: RsaPadding) -> Self {
        Self { padding, ..self }
    }

    fn new(key: PrivateKey, certificates: Vec<Certificate>) -> Result<Self, SignerError> {
        let certificates = chain::order(&key, certificates)?;
        Ok(Self {
            certificates,
            key,
            padding: RsaPadding::default(),
        })
    }

    /// What `Debug` shows of the key: its type and size, and the padding for RSA.
    fn algorithm(&self) -> String {
        match (&self.key, self.padding) {
            (PrivateKey::Rsa { .. }, RsaPadding::Pkcs1v15) => {
                format!("{} PKCS#1 v1.5", self.key.describe())
            }
            (PrivateKey::Rsa { .. }, RsaPadding::Pss) => format!("{} PSS", self.key.describe()),
            _ => self.key.describe(),
        }
    }
}

impl fmt::Debug for LocalSigner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let subject = self
            .certificates
            .first()
            .map(|c| c.tbs_certificate().subject().to_string())
            .unwrap_or_default();
        f.debug_struct("LocalSigner")
            .field("subject", &subject)
            .field("algorithm", &self.algorithm())
            .finish_non_exhaustive()
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
        algorithm::signature_algorithm(&self.key, self.padding, digest)
    }

    fn max_signature_len(&self) -> usize {
        self.key.max_signature_len()
    }

    async fn sign_hash(
        &self,
        digest: DigestAlgorithm,
        hash: &[u8],
    ) -> Result<Vec<u8>, SignerError> {
        check_hash_len(digest, hash)?;
        self.key.sign(self.padding, digest, hash)
    }
}

/// The first private key block of `text`, decoded by its PEM label.
fn key_from_pem(text: &[u8], password: Option<&str>) -> Result<PrivateKey, SignerError> {
    let blocks = pem::blocks(text, "key file")?;
    let block = blocks
        .iter()
        .find(|b| b.label.ends_with("PRIVATE KEY"))
        .ok_or_else(|| {
            SignerError::Key(
                "the key file holds no private key (expected a PEM block PRIVATE KEY, ENCRYPTED \
                 PRIVATE KEY, RSA PRIVATE KEY or EC PRIVATE KEY)"
                    .into(),
            )
        })?;

    match block.label.as_str() {
        "PRIVATE KEY" => PrivateKey::from_pkcs8_der(&block.der),
        "ENCRYPTED PRIVATE KEY" => decrypt_pkcs8(&block.der, password),
        "RSA PRIVATE KEY" => PrivateKey::from_pkcs1_der(&block.der),
        "EC PRIVATE KEY" => PrivateKey::from_sec1_der(&block.der, None),
        other => Err(SignerError::Key(format!(
            "the key file holds a {other}, which is not supported"
        ))),
    }
}

/// Decrypts a PKCS#8 `EncryptedPrivateKeyInfo` (RFC 5958 section 3) with `password`.
///
/// Only PBES2 (RFC 8018 section 6.2) is read: what `openssl pkcs8 -topk8` and `openssl genpkey
/// -aes256` write. The older PBES1 and PKCS#12 schemes (`-v1`) are refused with advice.
fn decrypt_pkcs8(der: &[u8], password: Option<&str>) -> Result<PrivateKey, SignerError> {
    const ADVICE: &str = "re-encrypt the key with `openssl pkcs8 -topk8 -v2 aes-256-cbc`";
    let password = password.ok_or_else(|| {
        SignerError::Key("the private key is encrypted and no password was given".into())
    })?;
    let encrypted = pkcs8::EncryptedPrivateKeyInfoRef::from_der(der).map_err(|e| {
        SignerError::Key(format!(
            "the private key is encrypted with a scheme that is not supported ({e}): {ADVICE}"
        ))
    })?;

    let document = encrypted.decrypt(password).map_err(|e| match e {
        pkcs8::Error::EncryptedPrivateKey(pkcs8::pkcs5::Error::DecryptFailed)
        | pkcs8::Error::Asn1(_) => {
            SignerError::Key("cannot decrypt the private key: the password is wrong".into())
        }
        other => SignerError::Key(format!(
            "the private key is encrypted with a scheme that is not supported ({other}): {ADVICE}"
        )),
    })?;
    PrivateKey::from_pkcs8_der(document.as_bytes())
}

/// Every `CERTIFICATE` block of `text`; other blocks are skipped.
fn certificates_from_pem(text: &[u8]) -> Result<Vec<Certificate>, SignerError> {
    let certificates = pem::blocks(text, "certificate file")?
        .iter()
        .filter(|b| b.label == "CERTIFICATE")
        .map(|b| Certificate::from_der(&b.der))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| SignerError::Key(format!("cannot read a certificate: {e}")))?;

    if certificates.is_empty() {
        return Err(SignerError::Key(
            "the certificate file holds no PEM CERTIFICATE block".into(),
        ));
    }
    Ok(certificates)
}
