//! Reading back a CMS SignedData that a remote service built, so that a backend of the
//! CMS-container shape can check it before it goes into a document.
//!
//! Only what such a check needs is read: the one SignerInfo's message-digest signed attribute
//! (RFC 5652 section 11.2) and the certificates the SignedData carries. The signature itself is
//! judged later by the validators; a service that signs with a wrong key is not detected here.

use cms::cert::CertificateChoices;
use cms::content_info::ContentInfo;
use cms::signed_data::{SignedData, SignerInfo};
use der::Decode;
use der::asn1::{ObjectIdentifier, OctetString};
use x509_cert::Certificate;

use super::CmsError;
use super::oids::{ID_MESSAGE_DIGEST, ID_SIGNED_DATA};

/// What a received SignedData says about itself.
#[derive(Clone, Debug)]
pub struct SignedDataSummary {
    /// The SignerInfo's `digestAlgorithm`.
    pub digest_algorithm: ObjectIdentifier,
    /// The value of the message-digest signed attribute: the digest that was signed.
    pub message_digest: Vec<u8>,
    /// The certificates of the `certificates` field, in the order they are encoded.
    pub certificates: Vec<Certificate>,
}

/// Reads `der` as a DER `ContentInfo` holding a SignedData with exactly one SignerInfo, whose
/// signed attributes hold exactly one message-digest attribute with a single value.
///
/// ```text
/// ContentInfo ::= SEQUENCE { contentType ContentType, content [0] EXPLICIT ANY }
/// MessageDigest ::= OCTET STRING
/// ```
pub fn inspect_signed_data(der: &[u8]) -> Result<SignedDataSummary, CmsError> {
    let unreadable =
        |what: &str, error: der::Error| CmsError::Unreadable(format!("{what}: {error}"));
    let content_info =
        ContentInfo::from_der(der).map_err(|e| unreadable("not a DER ContentInfo", e))?;
    if content_info.content_type != ID_SIGNED_DATA {
        return Err(CmsError::Unreadable(format!(
            "the content type is {}, not signed-data",
            content_info.content_type
        )));
    }
    let signed_data: SignedData = content_info
        .content
        .decode_as()
        .map_err(|e| unreadable("not a SignedData", e))?;

    let signer_infos = signed_data.signer_infos.0.as_slice();
    let [signer_info] = signer_infos else {
        return Err(CmsError::Unreadable(format!(
            "{} SignerInfos instead of one",
            signer_infos.len()
        )));
    };
    let message_digest = message_digest(signer_info)?;

    crate::signer::verify::verify_signer_info(&signed_data).map_err(CmsError::Unreadable)?;

    let certificates = signed_data
        .certificates
        .iter()
        .flat_map(|set| set.0.iter())
        .filter_map(|choice| match choice {
            CertificateChoices::Certificate(certificate) => Some(certificate.clone()),
            CertificateChoices::Other(_) => None,
        })
        .collect();
    Ok(SignedDataSummary {
        digest_algorithm: signer_info.digest_alg.oid,
        message_digest,
        certificates,
    })
}

/// The value of the one message-digest signed attribute of `signer_info` (RFC 5652 section
/// 11.2: exactly one, with exactly one value).
pub(crate) fn message_digest(signer_info: &SignerInfo) -> Result<Vec<u8>, CmsError> {
    let attributes = signer_info
        .signed_attrs
        .as_ref()
        .ok_or_else(|| CmsError::Unreadable("the SignerInfo has no signed attributes".into()))?;
    let mut digests = attributes.iter().filter(|a| a.oid == ID_MESSAGE_DIGEST);
    let (Some(attribute), None) = (digests.next(), digests.next()) else {
        return Err(CmsError::Unreadable(
            "the signed attributes do not hold exactly one message-digest".into(),
        ));
    };
    let [value] = attribute.values.as_slice() else {
        return Err(CmsError::Unreadable(
            "the message-digest attribute does not hold exactly one value".into(),
        ));
    };
    let message_digest: OctetString = value.decode_as().map_err(|e| {
        CmsError::Unreadable(format!("the message-digest is not an OCTET STRING: {e}"))
    })?;
    Ok(message_digest.as_bytes().to_vec())
}

#[cfg(test)]
mod tests {
    use der::Encode;
    use der::asn1::Any;

    use super::*;
    use crate::pades::CadesSigner;
    use crate::pades::oids::ID_DATA;
    use crate::signer::local::LocalSigner;
    use crate::signer::{DigestAlgorithm, DocumentDigest, RawSigner, Signer, dev};

    async fn signed(value: &[u8]) -> (Vec<u8>, usize) {
        let credentials = dev::generate("inspect test").unwrap();
        let local = LocalSigner::from_pem(
            credentials.key_pem.as_bytes(),
            credentials.chain_pem.as_bytes(),
            None,
        )
        .unwrap();
        let chain_len = RawSigner::certificates(&local).len();
        let digest = DocumentDigest {
            algorithm: DigestAlgorithm::Sha256,
            value: value.to_vec(),
        };
        let cms = CadesSigner::new(local).sign(&digest).await.unwrap();
        (cms, chain_len)
    }

    #[tokio::test]
    async fn reads_back_the_signed_digest_and_the_chain() {
        let digest = DigestAlgorithm::Sha256.digest(b"byte ranges");
        let (cms, chain_len) = signed(&digest).await;

        let summary = inspect_signed_data(&cms).unwrap();

        assert_eq!(summary.message_digest, digest);
        assert_eq!(summary.digest_algorithm, DigestAlgorithm::Sha256.oid());
        assert_eq!(summary.certificates.len(), chain_len);
    }

    #[tokio::test]
    async fn refuses_bytes_that_are_not_a_signed_data() {
        let (cms, _) = signed(&[7; 32]).await;
        let other_type = ContentInfo {
            content_type: ID_DATA,
            content: Any::encode_from(&OctetString::new(vec![1u8; 4]).unwrap()).unwrap(),
        }
        .to_der()
        .unwrap();
        let mut trailing = cms.clone();
        trailing.push(0);

        for bad in [
            &b"not der"[..],
            &cms[..cms.len() - 1],
            &trailing,
            &other_type,
        ] {
            let error = inspect_signed_data(bad).unwrap_err();
            assert!(matches!(error, CmsError::Unreadable(_)), "{error}");
        }
    }
}
