//! The SignedData read back field by field (RFC 5652 section 5, RFC 5035 section 3).

use async_trait::async_trait;
use cms::cert::CertificateChoices;
use cms::content_info::CmsVersion;
use cms::signed_data::{SignerIdentifier, SignerInfo};
use der::Encode;
use der::asn1::{ObjectIdentifier, OctetString};
use spki::AlgorithmIdentifierOwned;
use x509_cert::Certificate;
use x509_cert::ext::pkix::name::GeneralName;

use super::super::ess::{SigningCertificateV2, digest_algorithm_identifier};
use super::super::oids::{
    ID_AA_SIGNING_CERTIFICATE_V2, ID_CONTENT_TYPE, ID_DATA, ID_MESSAGE_DIGEST,
};
use super::super::{CadesSigner, sign_detached};
use super::{cades_signer, document_digest, sign_document, signed_data};
use crate::signer::local::RsaPadding;
use crate::signer::local::testing::{KeyKind, OpenSsl, verify_signature};
use crate::signer::{DigestAlgorithm, RawSigner, Signer, SignerError};

/// The one SignerInfo of `cms`.
fn signer_info(cms: &[u8]) -> SignerInfo {
    let signer_infos = signed_data(cms).signer_infos.0.into_vec();
    assert_eq!(signer_infos.len(), 1);
    signer_infos.into_iter().next().unwrap()
}

fn attribute_value<'a, T: der::Choice<'a> + der::DecodeValue<'a, Error = der::Error>>(
    info: &'a SignerInfo,
    oid: ObjectIdentifier,
) -> T {
    let attributes = info.signed_attrs.as_ref().expect("signed attributes");
    let attribute = attributes
        .iter()
        .find(|a| a.oid == oid)
        .expect("the attribute");
    assert_eq!(attribute.values.len(), 1, "{oid} has one value");
    attribute
        .values
        .get(0)
        .unwrap()
        .decode_as()
        .expect("a well-formed value")
}

#[tokio::test]
async fn signed_data_is_version_1_detached_with_the_chain() {
    let ssl = OpenSsl::new();
    ssl.chain(KeyKind::P256);
    let signer = cades_signer(&ssl);

    let data = signed_data(&sign_document(&signer, DigestAlgorithm::Sha256).await);

    assert_eq!(data.version, CmsVersion::V1);
    let sha256 = digest_algorithm_identifier(DigestAlgorithm::Sha256);
    assert_eq!(data.digest_algorithms.as_slice(), [sha256]);
    assert_eq!(data.encap_content_info.econtent_type, ID_DATA);
    assert!(
        data.encap_content_info.econtent.is_none(),
        "detached: no content"
    );
    assert!(data.crls.is_none());
    let mut carried: Vec<Certificate> = (data.certificates.unwrap().0.into_vec().into_iter())
        .map(|choice| match choice {
            CertificateChoices::Certificate(c) => c,
            CertificateChoices::Other(_) => panic!("only X.509 certificates"),
        })
        .collect();
    let mut chain = signer.certificates().to_vec();
    carried.sort_by_key(|c| c.to_der().unwrap());
    chain.sort_by_key(|c| c.to_der().unwrap());
    assert_eq!(carried, chain);
}

#[tokio::test]
async fn signer_is_named_by_issuer_and_serial_number() {
    let ssl = OpenSsl::new();
    ssl.chain(KeyKind::Rsa(2048));
    let signer = cades_signer(&ssl);

    let info = signer_info(&sign_document(&signer, DigestAlgorithm::Sha384).await);

    assert_eq!(info.version, CmsVersion::V1);
    let leaf = signer.certificates()[0].tbs_certificate();
    let SignerIdentifier::IssuerAndSerialNumber(sid) = &info.sid else {
        panic!(
            "the sid must not be a subject key identifier: {:?}",
            info.sid
        );
    };
    assert_eq!(&sid.issuer, leaf.issuer());
    assert_eq!(&sid.serial_number, leaf.serial_number());
    assert_eq!(
        info.digest_alg,
        digest_algorithm_identifier(DigestAlgorithm::Sha384)
    );
    assert!(info.unsigned_attrs.is_none());
}

#[tokio::test]
async fn signed_attributes_are_exactly_the_three_of_pades_in_der_order() {
    let ssl = OpenSsl::new();
    ssl.chain(KeyKind::P256);
    let signer = cades_signer(&ssl);

    for algorithm in [DigestAlgorithm::Sha256, DigestAlgorithm::Sha512] {
        let info = signer_info(&sign_document(&signer, algorithm).await);

        let attributes = info.signed_attrs.as_ref().unwrap();
        let oids: Vec<_> = attributes.iter().map(|a| a.oid).collect();
        let expected = [
            ID_CONTENT_TYPE,
            ID_MESSAGE_DIGEST,
            ID_AA_SIGNING_CERTIFICATE_V2,
        ];
        assert_eq!(oids, expected, "no signing-time, nothing else");
        let encodings: Vec<_> = attributes.iter().map(|a| a.to_der().unwrap()).collect();
        assert!(
            encodings.is_sorted(),
            "X.690 section 11.6 order of a SET OF"
        );
        let content_type: ObjectIdentifier = attribute_value(&info, ID_CONTENT_TYPE);
        assert_eq!(content_type, ID_DATA);
        let message_digest: OctetString = attribute_value(&info, ID_MESSAGE_DIGEST);
        assert_eq!(message_digest.as_bytes(), document_digest(algorithm).value);
    }
}

#[tokio::test]
async fn signing_certificate_v2_names_the_signer_with_the_chosen_digest() {
    let ssl = OpenSsl::new();
    ssl.chain(KeyKind::P384);
    let signer = cades_signer(&ssl);
    let leaf = &signer.certificates()[0];

    for algorithm in [DigestAlgorithm::Sha256, DigestAlgorithm::Sha384] {
        let info = signer_info(&sign_document(&signer, algorithm).await);

        let value: SigningCertificateV2 = attribute_value(&info, ID_AA_SIGNING_CERTIFICATE_V2);
        assert_eq!(value.certs.len(), 1);
        assert!(value.policies.is_none());
        let id = &value.certs[0];
        let omitted = algorithm == DigestAlgorithm::Sha256;
        assert_eq!(
            id.hash_algorithm.is_none(),
            omitted,
            "DEFAULT sha256 is left out"
        );
        assert_eq!(id.hash_algorithm(), digest_algorithm_identifier(algorithm));
        assert_eq!(
            id.cert_hash.as_bytes(),
            algorithm.digest(&leaf.to_der().unwrap())
        );
        let issuer_serial = id.issuer_serial.as_ref().expect("issuerSerial is present");
        let issuer = GeneralName::DirectoryName(leaf.tbs_certificate().issuer().clone());
        assert_eq!(issuer_serial.issuer, [issuer]);
        assert_eq!(
            &issuer_serial.serial_number,
            leaf.tbs_certificate().serial_number()
        );
    }
}

#[tokio::test]
async fn attributes_are_tagged_implicit_0_and_signed_as_a_set_of() {
    let ssl = OpenSsl::new();
    ssl.chain(KeyKind::Rsa(2048));
    let signer = CadesSigner::new(
        cades_signer(&ssl)
            .into_raw()
            .with_rsa_padding(RsaPadding::Pss),
    );

    let cms = sign_document(&signer, DigestAlgorithm::Sha256).await;

    let info = signer_info(&cms);
    let as_set = info.signed_attrs.as_ref().unwrap().to_der().unwrap();
    assert_eq!(as_set[0], 0x31, "SET OF, as hashed (RFC 5652 section 5.4)");
    let mut as_field = as_set.clone();
    as_field[0] = 0xa0;
    assert!(
        cms.windows(as_field.len()).any(|w| w == as_field),
        "[0] IMPLICIT in SignerInfo"
    );
    let hash = DigestAlgorithm::Sha256.digest(&as_set);
    let leaf = &signer.certificates()[0];
    let signature = info.signature.as_bytes();
    verify_signature(
        leaf,
        &info.signature_algorithm,
        DigestAlgorithm::Sha256,
        &hash,
        signature,
    )
    .expect("the signature covers the SET OF encoding");
}

#[tokio::test]
async fn signature_verifies_for_every_key_type() {
    let ssl = OpenSsl::new();
    for kind in [KeyKind::Rsa(2048), KeyKind::P256, KeyKind::P384] {
        ssl.chain(kind);
        let signer = cades_signer(&ssl);

        let info = signer_info(&sign_document(&signer, DigestAlgorithm::Sha256).await);

        let signed = info.signed_attrs.as_ref().unwrap().to_der().unwrap();
        let hash = DigestAlgorithm::Sha256.digest(&signed);
        let algorithm = &info.signature_algorithm;
        let leaf = &signer.certificates()[0];
        verify_signature(
            leaf,
            algorithm,
            DigestAlgorithm::Sha256,
            &hash,
            info.signature.as_bytes(),
        )
        .unwrap_or_else(|e| panic!("{kind:?}: {e}"));
    }
}

#[tokio::test]
async fn digest_of_the_wrong_length_is_refused() {
    let ssl = OpenSsl::new();
    ssl.chain(KeyKind::P256);
    let mut digest = document_digest(DigestAlgorithm::Sha384);
    digest.value.truncate(32);

    let error = cades_signer(&ssl).sign(&digest).await.unwrap_err();

    assert!(
        error
            .to_string()
            .contains("sha384 digest is 48 bytes long, not 32"),
        "{error}"
    );
}

/// A raw signer with no certificate at all.
struct Anonymous;

#[async_trait]
impl RawSigner for Anonymous {
    fn certificates(&self) -> &[Certificate] {
        &[]
    }

    fn signature_algorithm(
        &self,
        _digest: DigestAlgorithm,
    ) -> Result<AlgorithmIdentifierOwned, SignerError> {
        Ok(digest_algorithm_identifier(DigestAlgorithm::Sha256))
    }

    fn max_signature_len(&self) -> usize {
        64
    }

    async fn sign_hash(
        &self,
        _digest: DigestAlgorithm,
        hash: &[u8],
    ) -> Result<Vec<u8>, SignerError> {
        Ok(hash.to_vec())
    }
}

#[tokio::test]
async fn raw_signer_without_certificate_is_a_key_error() {
    let error = sign_detached(&Anonymous, &document_digest(DigestAlgorithm::Sha256)).await;

    assert!(matches!(error, Err(SignerError::Key(_))), "{error:?}");
}
