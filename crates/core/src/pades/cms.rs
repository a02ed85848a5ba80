//! Assembly of the detached CMS SignedData around a signature made elsewhere.
//!
//! Every raw signer (a local key, Key Vault, CSC signHash) produces only a signature value; the
//! structure around it is built here, the same way for all of them.

use cms::cert::{CertificateChoices, IssuerAndSerialNumber};
use cms::content_info::{CmsVersion, ContentInfo};
use cms::signed_data::{
    CertificateSet, EncapsulatedContentInfo, SignedData, SignerIdentifier, SignerInfo, SignerInfos,
    UnsignedAttributes,
};
use der::Encode;
use der::asn1::{Any, OctetString, SetOfVec};
use spki::AlgorithmIdentifierOwned;
use x509_cert::Certificate;

use super::CmsError;
use super::attributes::SignedAttributes;
use super::ess::digest_algorithm_identifier;
use super::oids::{ID_DATA, ID_SIGNED_DATA};
use crate::signer::DigestAlgorithm;

/// What a detached SignedData with one signer is made of.
#[derive(Clone, Copy, Debug)]
pub struct SignedDataParts<'a> {
    /// The digest of the content and of the signed attributes.
    pub digest: DigestAlgorithm,
    /// The signer certificate first, then the rest of its chain: all go into `certificates`.
    pub certificates: &'a [Certificate],
    /// The signed attributes, exactly as they were hashed for the signature.
    pub signed_attributes: &'a SignedAttributes,
    /// The SignerInfo `signatureAlgorithm`.
    pub signature_algorithm: &'a AlgorithmIdentifierOwned,
    /// The signature value over the hash of the signed attributes.
    pub signature: &'a [u8],
    /// Unsigned attributes, such as a signature time-stamp for PAdES B-T.
    pub unsigned_attributes: Option<&'a UnsignedAttributes>,
}

/// The DER `ContentInfo` of a detached SignedData with a single SignerInfo.
///
/// RFC 5652 section 5:
///
/// ```text
/// SignedData ::= SEQUENCE {
///   version CMSVersion,                        -- 1
///   digestAlgorithms DigestAlgorithmIdentifiers, -- { the digest }
///   encapContentInfo EncapsulatedContentInfo,  -- id-data, no eContent (detached)
///   certificates [0] IMPLICIT CertificateSet OPTIONAL,
///   crls [1] IMPLICIT RevocationInfoChoices OPTIONAL, -- absent
///   signerInfos SignerInfos }
/// ```
///
/// The version is 1 because there are only X.509 certificates, the content type is id-data and
/// the one SignerInfo is version 1 (section 5.1). The signer is identified by issuer and serial
/// number, never by subject key identifier: poppler's pdfsig cannot find signers named that way.
pub fn build_signed_data(parts: &SignedDataParts<'_>) -> Result<Vec<u8>, CmsError> {
    let signer = parts.certificates.first().ok_or(CmsError::NoCertificate)?;
    let digest_algorithm = digest_algorithm_identifier(parts.digest);

    let signer_info = SignerInfo {
        version: CmsVersion::V1,
        sid: issuer_and_serial_number(signer),
        digest_alg: digest_algorithm.clone(),
        signed_attrs: Some(parts.signed_attributes.clone()),
        signature_algorithm: parts.signature_algorithm.clone(),
        signature: OctetString::new(parts.signature)?,
        unsigned_attrs: parts.unsigned_attributes.cloned(),
    };

    let signed_data = SignedData {
        version: CmsVersion::V1,
        digest_algorithms: SetOfVec::try_from(vec![digest_algorithm])?,
        encap_content_info: EncapsulatedContentInfo {
            econtent_type: ID_DATA,
            econtent: None,
        },
        certificates: Some(certificate_set(parts.certificates)?),
        crls: None,
        signer_infos: SignerInfos(SetOfVec::try_from(vec![signer_info])?),
    };

    let content_info = ContentInfo {
        content_type: ID_SIGNED_DATA,
        content: Any::encode_from(&signed_data)?,
    };
    Ok(content_info.to_der()?)
}

/// The `sid` of a version 1 SignerInfo (RFC 5652 section 5.3).
fn issuer_and_serial_number(signer: &Certificate) -> SignerIdentifier {
    let tbs = signer.tbs_certificate();
    SignerIdentifier::IssuerAndSerialNumber(IssuerAndSerialNumber {
        issuer: tbs.issuer().clone(),
        serial_number: tbs.serial_number().clone(),
    })
}

/// The `certificates` field: a SET OF, so DER sorts it; validators build the path themselves
/// and do not depend on the order (RFC 5652 section 5.1).
fn certificate_set(certificates: &[Certificate]) -> Result<CertificateSet, CmsError> {
    let mut set = SetOfVec::new();
    for certificate in certificates {
        let choice = CertificateChoices::Certificate(certificate.clone());
        if !set.iter().any(|present| present == &choice) {
            set.insert(choice)?;
        }
    }
    Ok(CertificateSet(set))
}
