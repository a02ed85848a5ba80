//! The signed attributes of a PAdES baseline B-B signature and the hash that gets signed.
//!
//! ETSI EN 319 142-1 section 6.3 asks for content-type, message-digest and
//! signing-certificate-v2, and forbids signing-time: the time is the /M entry of the signature
//! dictionary.

use der::Encode;
use der::asn1::{Any, OctetString, SetOfVec};
use x509_cert::Certificate;
use x509_cert::attr::Attribute;
use x509_cert::ext::pkix::name::GeneralName;

pub use cms::signed_data::SignedAttributes;

use super::CmsError;
use super::ess::{EssCertIdV2, IssuerSerial, SigningCertificateV2};
use super::oids::{ID_AA_SIGNING_CERTIFICATE_V2, ID_CONTENT_TYPE, ID_DATA, ID_MESSAGE_DIGEST};
use crate::signer::{DigestAlgorithm, DocumentDigest};

/// The three signed attributes of a PAdES B-B signature over `digest` by `signer`.
///
/// - content-type is `id-data` (RFC 5652 section 11.1);
/// - message-digest is the digest of the PDF byte ranges (RFC 5652 section 11.2);
/// - signing-certificate-v2 holds one ESSCertIDv2 for `signer`, its hash made with the same
///   algorithm as the document digest, with issuerSerial (RFC 5035 section 3).
///
/// The set is kept in DER order (X.690 section 11.6), as RFC 5652 section 5.4 requires for the
/// encoding that is signed.
pub fn signed_attributes(
    digest: &DocumentDigest,
    signer: &Certificate,
) -> Result<SignedAttributes, CmsError> {
    check_digest_length(digest)?;

    let content_type = attribute(ID_CONTENT_TYPE, Any::encode_from(&ID_DATA)?)?;
    let message_digest = OctetString::new(digest.value.as_slice())?;
    let message_digest = attribute(ID_MESSAGE_DIGEST, Any::encode_from(&message_digest)?)?;
    let signing_certificate = signing_certificate_v2(signer, digest.algorithm)?;
    let signing_certificate = attribute(
        ID_AA_SIGNING_CERTIFICATE_V2,
        Any::encode_from(&signing_certificate)?,
    )?;

    Ok(SetOfVec::try_from(vec![
        content_type,
        message_digest,
        signing_certificate,
    ])?)
}

/// The DER encoding of the signed attributes as a `SET OF` (tag 0x31).
///
/// RFC 5652 section 5.4: the message digest is computed over "the DER encoding of the
/// SignedAttrs value", with the EXPLICIT SET OF tag and not the IMPLICIT `[0]` tag that the
/// attributes carry inside SignerInfo.
pub fn signed_attributes_der(attributes: &SignedAttributes) -> Result<Vec<u8>, CmsError> {
    Ok(attributes.to_der()?)
}

/// The hash of the DER-encoded signed attributes: what a raw signer signs (RFC 5652 section
/// 5.4). Key Vault, CSC signHash and the local key all receive this value.
pub fn signed_attributes_hash(
    attributes: &SignedAttributes,
    algorithm: DigestAlgorithm,
) -> Result<Vec<u8>, CmsError> {
    Ok(algorithm.digest(&signed_attributes_der(attributes)?))
}

/// The signing-certificate-v2 value that names `signer` (RFC 5035 section 3).
pub fn signing_certificate_v2(
    signer: &Certificate,
    algorithm: DigestAlgorithm,
) -> Result<SigningCertificateV2, CmsError> {
    let tbs = signer.tbs_certificate();
    let cert_hash = algorithm.digest(&signer.to_der()?);
    let issuer_serial = IssuerSerial {
        issuer: vec![GeneralName::DirectoryName(tbs.issuer().clone())],
        serial_number: tbs.serial_number().clone(),
    };

    let id = EssCertIdV2::new(algorithm, OctetString::new(cert_hash)?, Some(issuer_serial));
    Ok(SigningCertificateV2 {
        certs: vec![id],
        policies: None,
    })
}

/// Refuses a document digest whose length does not match its algorithm.
pub(super) fn check_digest_length(digest: &DocumentDigest) -> Result<(), CmsError> {
    let expected = digest.algorithm.output_len();
    if digest.value.len() == expected {
        return Ok(());
    }
    Err(CmsError::DigestLength {
        algorithm: digest.algorithm,
        expected,
        actual: digest.value.len(),
    })
}

/// An attribute with a single value (RFC 5652 section 5.3: each of ours has exactly one).
fn attribute(oid: der::asn1::ObjectIdentifier, value: Any) -> Result<Attribute, CmsError> {
    Ok(Attribute {
        oid,
        values: SetOfVec::try_from(vec![value])?,
    })
}
