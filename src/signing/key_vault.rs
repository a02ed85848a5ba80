//! A key in Azure Key Vault or Managed HSM: it signs the hash of the signed attributes;
//! pdf-seal builds the CMS.
//!
//! At start the key is read (`GET /keys/{name}`): it must exist, be enabled, allow `sign`, be
//! RSA or EC on P-256 or P-384, and be the key of the seal certificate. Each seal then sends
//! one `POST /keys/{name}/{version}/sign` with the algorithm and the hash, pinned to the version
//! read at start, so that a rotated key cannot sign for the old certificate.

use std::fmt;

use async_trait::async_trait;
use azure_security_keyvault_keys::models::{
    CurveName, JsonWebKey, KeyClientGetKeyOptions, KeyClientSignOptions, KeyType, SignParameters,
    SignatureAlgorithm,
};
use azure_security_keyvault_keys::{KeyClient, KeyClientOptions};
use der::Decode as _;
use der::asn1::ObjectIdentifier;
use pdf_seal_core::signer::local::RsaPadding;
use pdf_seal_core::signer::{DigestAlgorithm, RawSigner, SignerError, algorithm, check_hash_len};
use spki::AlgorithmIdentifierOwned;
use x509_cert::Certificate;

use super::SignerSetupError;
use crate::azure::key_vault::{
    CertificateReader, client_options, credential, describe_error, signer_error,
};
use crate::config::signer::key_vault::{
    CERTIFICATE_VARIABLE, CHAIN_VARIABLE, KEY_VARIABLE, KeyVaultKeySettings,
};

/// The key as read from the vault: its type decides the signature algorithms.
#[derive(Clone, Debug, PartialEq, Eq)]
enum KeyShape {
    /// An RSA key; the modulus, without leading zeros.
    Rsa { modulus: Vec<u8>, exponent: Vec<u8> },
    /// An EC key on P-256 (ES256) or P-384 (ES384), with its point.
    Ec {
        curve: Curve,
        x: Vec<u8>,
        y: Vec<u8>,
    },
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Curve {
    P256,
    P384,
}

impl Curve {
    fn name(self) -> &'static str {
        match self {
            Self::P256 => "P-256",
            Self::P384 => "P-384",
        }
    }

    /// The length of a coordinate, and of each half of a raw signature.
    fn size(self) -> usize {
        match self {
            Self::P256 => 32,
            Self::P384 => 48,
        }
    }

    /// The one digest Key Vault signs with this curve.
    fn digest(self) -> DigestAlgorithm {
        match self {
            Self::P256 => DigestAlgorithm::Sha256,
            Self::P384 => DigestAlgorithm::Sha384,
        }
    }

    fn oid(self) -> ObjectIdentifier {
        match self {
            Self::P256 => ObjectIdentifier::new_unwrap("1.2.840.10045.3.1.7"),
            Self::P384 => ObjectIdentifier::new_unwrap("1.3.132.0.34"),
        }
    }
}

/// Signs with a Key Vault key.
pub struct KeyVaultSigner {
    client: KeyClient,
    name: String,
    version: String,
    shape: KeyShape,
    padding: RsaPadding,
    certificates: Vec<Certificate>,
}

impl fmt::Debug for KeyVaultSigner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KeyVaultSigner")
            .field("key", &format!("{}/{}", self.name, self.version))
            .field("shape", &self.describe())
            .finish_non_exhaustive()
    }
}

/// The raw signer for `settings`: the key and its certificate chain are read now.
pub async fn open(
    settings: &KeyVaultKeySettings,
    rsa_padding: RsaPadding,
) -> Result<Box<dyn RawSigner>, SignerSetupError> {
    Ok(Box::new(KeyVaultSigner::open(settings, rsa_padding).await?))
}

impl KeyVaultSigner {
    /// Reads the key and the certificates, and checks that they belong together.
    pub async fn open(
        settings: &KeyVaultKeySettings,
        padding: RsaPadding,
    ) -> Result<Self, SignerSetupError> {
        let vault = &settings.vault;
        let setup = |reason: String| remote(KEY_VARIABLE, reason);
        let options = KeyClientOptions {
            client_options: client_options(&settings.access, vault).map_err(setup)?,
            ..Default::default()
        };
        let credential = credential(&settings.access).map_err(setup)?;
        let client = KeyClient::new(vault.as_str(), credential, Some(options))
            .map_err(|e| setup(describe_error(&e)))?;

        let key = &settings.key;
        let read = client
            .get_key(
                &key.name,
                Some(KeyClientGetKeyOptions {
                    key_version: key.version.clone(),
                    ..Default::default()
                }),
            )
            .await
            .and_then(|response| response.into_model())
            .map_err(|e| {
                setup(format!(
                    "reading key {:?} in {vault}: {}",
                    key.name,
                    describe_error(&e)
                ))
            })?;
        if read.attributes.as_ref().and_then(|a| a.enabled) == Some(false) {
            return Err(setup(format!("the key {:?} is disabled", key.name)));
        }
        let jwk = read
            .key
            .ok_or_else(|| setup("the vault's answer holds no key".into()))?;
        let (version, shape) = check_key(&jwk).map_err(setup)?;

        let certificates = certificates(settings, &shape).await?;
        Ok(Self {
            client,
            name: key.name.clone(),
            version,
            shape,
            padding,
            certificates,
        })
    }

    fn describe(&self) -> String {
        match (&self.shape, self.padding) {
            (KeyShape::Rsa { modulus, .. }, RsaPadding::Pkcs1v15) => {
                format!("RSA {} PKCS#1 v1.5", modulus.len() * 8)
            }
            (KeyShape::Rsa { modulus, .. }, RsaPadding::Pss) => {
                format!("RSA {} PSS", modulus.len() * 8)
            }
            (KeyShape::Ec { curve, .. }, _) => format!("EC {}", curve.name()),
        }
    }

    /// The Key Vault algorithm for a signature over a `digest` hash with this key.
    fn algorithm(&self, digest: DigestAlgorithm) -> Result<SignatureAlgorithm, SignerError> {
        use DigestAlgorithm::{Sha256, Sha384, Sha512};
        use SignatureAlgorithm as A;

        Ok(match (&self.shape, self.padding, digest) {
            (KeyShape::Rsa { .. }, RsaPadding::Pkcs1v15, Sha256) => A::Rs256,
            (KeyShape::Rsa { .. }, RsaPadding::Pkcs1v15, Sha384) => A::Rs384,
            (KeyShape::Rsa { .. }, RsaPadding::Pkcs1v15, Sha512) => A::Rs512,
            (KeyShape::Rsa { .. }, RsaPadding::Pss, Sha256) => A::Ps256,
            (KeyShape::Rsa { .. }, RsaPadding::Pss, Sha384) => A::Ps384,
            (KeyShape::Rsa { .. }, RsaPadding::Pss, Sha512) => A::Ps512,
            (KeyShape::Ec { curve, .. }, _, digest) if digest == curve.digest() => match curve {
                Curve::P256 => A::Es256,
                Curve::P384 => A::Es384,
            },
            (KeyShape::Ec { curve, .. }, _, digest) => {
                return Err(SignerError::Unsupported(format!(
                    "the Key Vault key is on {}, which Key Vault signs only over {} \
                     hashes, not {digest}: seal with the digest {}",
                    curve.name(),
                    curve.digest(),
                    curve.digest()
                )));
            }
        })
    }
}

#[async_trait]
impl RawSigner for KeyVaultSigner {
    /// SHA-384 for a P-384 key, whose ES384 signs nothing else; SHA-256 otherwise.
    fn default_digest(&self) -> DigestAlgorithm {
        match &self.shape {
            KeyShape::Ec { curve, .. } => curve.digest(),
            KeyShape::Rsa { .. } => DigestAlgorithm::Sha256,
        }
    }

    fn certificates(&self) -> &[Certificate] {
        &self.certificates
    }

    fn signature_algorithm(
        &self,
        digest: DigestAlgorithm,
    ) -> Result<AlgorithmIdentifierOwned, SignerError> {
        self.algorithm(digest)?;
        match (&self.shape, self.padding) {
            (KeyShape::Rsa { .. }, RsaPadding::Pkcs1v15) => Ok(algorithm::rsa_pkcs1v15(digest)),
            (KeyShape::Rsa { .. }, RsaPadding::Pss) => algorithm::rsa_pss(digest),
            (KeyShape::Ec { .. }, _) => Ok(algorithm::ecdsa(digest)),
        }
    }

    fn max_signature_len(&self) -> usize {
        match &self.shape {
            KeyShape::Rsa { modulus, .. } => modulus.len(),
            // A DER SEQUENCE of two INTEGERs, each at most one byte longer than the curve.
            KeyShape::Ec { curve, .. } => 2 + 2 * (2 + curve.size() + 1),
        }
    }

    async fn sign_hash(
        &self,
        digest: DigestAlgorithm,
        hash: &[u8],
    ) -> Result<Vec<u8>, SignerError> {
        let algorithm = self.algorithm(digest)?;
        check_hash_len(digest, hash)?;
        let parameters = SignParameters {
            algorithm: Some(algorithm),
            value: Some(hash.to_vec()),
        };
        let options = KeyClientSignOptions {
            key_version: Some(self.version.clone()),
            ..Default::default()
        };
        let failed =
            |e: azure_core::Error| signer_error(&format!("Key Vault key {:?}", self.name), &e);
        let body = parameters.try_into().map_err(failed)?;
        let result = self
            .client
            .sign(&self.name, body, Some(options))
            .await
            .and_then(|response| response.into_model())
            .map_err(failed)?;
        let signature = result.result.unwrap_or_default();

        match &self.shape {
            KeyShape::Rsa { modulus, .. } if signature.len() == modulus.len() => Ok(signature),
            KeyShape::Rsa { modulus, .. } => Err(SignerError::Failed(format!(
                "Key Vault returned a {}-byte RSA signature for a {}-byte key",
                signature.len(),
                modulus.len()
            ))),
            KeyShape::Ec { curve, .. } => ecdsa_der(*curve, &signature),
        }
    }
}

/// The key's version (from its `kid`) and shape, or why it cannot seal.
fn check_key(jwk: &JsonWebKey) -> Result<(String, KeyShape), String> {
    let kid = jwk.kid.as_deref().unwrap_or_default();
    let version = kid
        .rsplit('/')
        .next()
        .filter(|v| !v.is_empty() && kid.contains("/keys/"))
        .ok_or_else(|| format!("the vault's answer has no key id with a version ({kid:?})"))?;
    if let Some(ops) = &jwk.key_ops
        && !ops.iter().any(|op| op == "sign")
    {
        return Err(format!(
            "the key may not sign: its operations are {ops:?}; allow sign on the key"
        ));
    }
    let shape = match (&jwk.kty, &jwk.crv) {
        (Some(KeyType::Rsa | KeyType::RsaHsm), _) => KeyShape::Rsa {
            modulus: strip_zeros(jwk.n.as_deref().ok_or("the RSA key has no modulus")?),
            exponent: strip_zeros(jwk.e.as_deref().ok_or("the RSA key has no exponent")?),
        },
        (Some(KeyType::Ec | KeyType::EcHsm), Some(curve @ (CurveName::P256 | CurveName::P384))) => {
            let curve = match curve {
                CurveName::P256 => Curve::P256,
                _ => Curve::P384,
            };
            let coordinate = |c: &Option<Vec<u8>>| {
                c.clone()
                    .filter(|c| c.len() == curve.size())
                    .ok_or_else(|| format!("the {} key's point is malformed", curve.name()))
            };
            KeyShape::Ec {
                curve,
                x: coordinate(&jwk.x)?,
                y: coordinate(&jwk.y)?,
            }
        }
        (kty, crv) => {
            return Err(format!(
                "the key is {kty:?} {crv:?}: only RSA keys and EC keys on P-256 or P-384 can seal"
            ));
        }
    };
    Ok((version.to_string(), shape))
}

/// The seal certificate first (from Key Vault, or the one of the PEM file that holds the key),
/// then the other certificates of the PEM file, in their order.
async fn certificates(
    settings: &KeyVaultKeySettings,
    shape: &KeyShape,
) -> Result<Vec<Certificate>, SignerSetupError> {
    let mut from_file = match &settings.chain {
        Some(path) => {
            let pem = super::read(path, CHAIN_VARIABLE)?;
            let certificates = Certificate::load_pem_chain(&pem).map_err(|e| {
                remote(
                    CHAIN_VARIABLE,
                    format!("cannot read the PEM certificates: {e}"),
                )
            })?;
            if certificates.is_empty() {
                return Err(remote(
                    CHAIN_VARIABLE,
                    "the file holds no PEM CERTIFICATE".into(),
                ));
            }
            certificates
        }
        None => Vec::new(),
    };

    let leaf = match &settings.certificate {
        Some(object) => {
            let reader = CertificateReader::new(&settings.access, &settings.vault)
                .map_err(|reason| remote(CERTIFICATE_VARIABLE, reason))?;
            let der = reader
                .read(&object.name, object.version.as_deref())
                .await
                .map_err(|reason| {
                    remote(
                        CERTIFICATE_VARIABLE,
                        format!("reading certificate {:?}: {reason}", object.name),
                    )
                })?;
            let leaf = Certificate::from_der(&der).map_err(|e| {
                remote(
                    CERTIFICATE_VARIABLE,
                    format!("the certificate is not DER: {e}"),
                )
            })?;
            if !matches(shape, &leaf) {
                return Err(remote(
                    CERTIFICATE_VARIABLE,
                    format!(
                        "the certificate {:?} is not the certificate of the key {:?}: its public \
                         key differs",
                        object.name, settings.key.name
                    ),
                ));
            }
            leaf
        }
        None => {
            let position = from_file
                .iter()
                .position(|c| matches(shape, c))
                .ok_or_else(|| {
                    remote(
                        CHAIN_VARIABLE,
                        format!(
                            "none of the certificates is the certificate of the key {:?}: their \
                         public keys differ",
                            settings.key.name
                        ),
                    )
                })?;
            from_file.remove(position)
        }
    };

    let mut chain = vec![leaf];
    for certificate in from_file {
        if !chain.contains(&certificate) {
            chain.push(certificate);
        }
    }
    Ok(chain)
}

/// Whether `certificate` holds the public key `shape`.
fn matches(shape: &KeyShape, certificate: &Certificate) -> bool {
    let spki = certificate.tbs_certificate().subject_public_key_info();
    let key_bytes = spki.subject_public_key.raw_bytes();
    match shape {
        KeyShape::Rsa { modulus, exponent } => {
            rsa::pkcs1::RsaPublicKey::<der::asn1::UintRef<'_>>::from_der(key_bytes).is_ok_and(
                |public| {
                    strip_zeros(public.modulus.as_bytes()) == *modulus
                        && strip_zeros(public.public_exponent.as_bytes()) == *exponent
                },
            )
        }
        KeyShape::Ec { curve, x, y } => {
            let named_curve = spki
                .algorithm
                .parameters
                .as_ref()
                .and_then(|p| p.decode_as::<ObjectIdentifier>().ok());
            let point: Vec<u8> = [&[0x04][..], x, y].concat();
            named_curve == Some(curve.oid()) && key_bytes == point.as_slice()
        }
    }
}

fn strip_zeros(bytes: &[u8]) -> Vec<u8> {
    let start = bytes.iter().position(|b| *b != 0).unwrap_or(bytes.len());
    bytes[start..].to_vec()
}

/// Key Vault returns an ECDSA signature as `r || s`, each as long as the curve (RFC 7518
/// section 3.4); CMS wants the DER `Ecdsa-Sig-Value` (RFC 5753 section 2.1.1).
fn ecdsa_der(curve: Curve, raw: &[u8]) -> Result<Vec<u8>, SignerError> {
    let malformed = || {
        SignerError::Failed(format!(
            "Key Vault returned a {}-byte ECDSA signature; {} signatures are {} bytes",
            raw.len(),
            curve.name(),
            2 * curve.size()
        ))
    };
    match curve {
        Curve::P256 => p256::ecdsa::Signature::from_slice(raw)
            .map(|s| s.to_der().as_bytes().to_vec())
            .map_err(|_| malformed()),
        Curve::P384 => p384::ecdsa::Signature::from_slice(raw)
            .map(|s| s.to_der().as_bytes().to_vec())
            .map_err(|_| malformed()),
    }
}

fn remote(variable: &str, reason: String) -> SignerSetupError {
    SignerSetupError::Remote {
        variable: variable.to_string(),
        reason,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_raw_p256_signature_becomes_der() {
        let mut raw = vec![0x01; 32];
        raw.extend([0x80; 32]);

        let der = ecdsa_der(Curve::P256, &raw).unwrap();

        // SEQUENCE { INTEGER 01..01, INTEGER 00 80..80 }: s has its high bit set, so it gets a
        // leading zero.
        assert_eq!(&der[..4], &[0x30, 0x45, 0x02, 0x20]);
        assert_eq!(&der[36..39], &[0x02, 0x21, 0x00]);
        assert_eq!(der.len(), 71);
        assert!(der.len() <= 2 + 2 * (2 + 32 + 1));
    }

    #[test]
    fn a_signature_of_the_wrong_length_is_refused() {
        let error = ecdsa_der(Curve::P384, &[1; 64]).unwrap_err();

        assert!(error.to_string().contains("96 bytes"), "{error}");
    }

    #[test]
    fn a_key_that_may_not_sign_is_refused() {
        let jwk = JsonWebKey {
            kid: Some("https://v.vault.azure.net/keys/k/0123".into()),
            kty: Some(KeyType::Rsa),
            key_ops: Some(vec!["encrypt".into(), "decrypt".into()]),
            n: Some(vec![0xc5; 256]),
            e: Some(vec![1, 0, 1]),
            ..Default::default()
        };

        let error = check_key(&jwk).unwrap_err();

        assert!(error.contains("may not sign"), "{error}");
    }

    #[test]
    fn the_version_comes_from_the_key_id() {
        let jwk = JsonWebKey {
            kid: Some("https://v.vault.azure.net/keys/k/0a1b2c".into()),
            kty: Some(KeyType::EcHsm),
            crv: Some(CurveName::P384),
            x: Some(vec![1; 48]),
            y: Some(vec![2; 48]),
            ..Default::default()
        };

        let (version, shape) = check_key(&jwk).unwrap();

        assert_eq!(version, "0a1b2c");
        assert!(matches!(
            shape,
            KeyShape::Ec {
                curve: Curve::P384,
                ..
            }
        ));
    }
}
