//! Reading a PKCS#12 (PFX) file: its private key and every certificate it carries.

use der::Decode;
use p12_keystore::Pkcs12Archive;
use p12_keystore::error::Error as P12Error;
use x509_cert::Certificate;

use super::key::PrivateKey;
use crate::signer::SignerError;

/// The private key and the certificates of a PKCS#12 file (RFC 7292).
///
/// Both the current encryption (PBES2 with AES, HMAC-SHA-256 integrity) and the legacy one
/// (PKCS#12 PBE with 3DES or RC2, HMAC-SHA-1) are read. When the file holds several keys, the
/// first one that one of its certificates matches is taken.
pub(super) fn load(
    der: &[u8],
    password: &str,
) -> Result<(PrivateKey, Vec<Certificate>), SignerError> {
    let archive = Pkcs12Archive::from_pkcs12(der, password).map_err(archive_error)?;

    let certificates = archive
        .certs
        .iter()
        .map(|bag| Certificate::from_der(bag.cert.as_der()))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| {
            SignerError::Key(format!("the PKCS#12 file holds a damaged certificate: {e}"))
        })?;

    let mut keys = archive
        .keys
        .iter()
        .map(|bag| PrivateKey::from_pkcs8_der(bag.key.as_der()));
    let first = keys
        .next()
        .ok_or_else(|| SignerError::Key("the PKCS#12 file holds no private key".into()))??;
    if has_certificate(&first, &certificates) {
        return Ok((first, certificates));
    }
    for key in keys.flatten() {
        if has_certificate(&key, &certificates) {
            return Ok((key, certificates));
        }
    }
    Ok((first, certificates))
}

fn has_certificate(key: &PrivateKey, certificates: &[Certificate]) -> bool {
    certificates
        .iter()
        .any(|c| key.matches(c.tbs_certificate().subject_public_key_info()))
}

fn archive_error(error: P12Error) -> SignerError {
    SignerError::Key(match error {
        P12Error::MacError(_) => {
            "the PKCS#12 password is wrong (or the file was altered: its integrity check failed)"
                .into()
        }
        P12Error::UnpadError | P12Error::Pkcs5Error(_) => {
            "cannot decrypt the PKCS#12 file: the password is probably wrong".into()
        }
        P12Error::UnsupportedEncryptionScheme | P12Error::UnsupportedMacAlgorithm => {
            format!("the PKCS#12 file uses an algorithm that is not supported: {error}")
        }
        other => format!("cannot read the PKCS#12 file: {other}"),
    })
}
