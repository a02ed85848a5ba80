//! PAdES B-T: the RFC 3161 request and answer against fixed DER vectors, and the CMS with a
//! time-stamp from stand-in stampers (placeholder sizing, checks on the token, failures).
//!
//! `tsa/openssl-query.der` was made with `openssl ts -query -data v.txt -sha256 -cert`, where
//! v.txt holds `pdf-seal time-stamp vector` (no line end); `tsa/certomancer-reply.der` is what
//! `certomancer animate` (0.16, the test PKI of tests/support/certomancer.rs) answered to it on
//! 2026-12-04.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use cms::cert::IssuerAndSerialNumber;
use cms::content_info::{CmsVersion, ContentInfo};
use cms::signed_data::{
    EncapsulatedContentInfo, SignedData, SignerIdentifier, SignerInfo, SignerInfos,
};
use der::asn1::{Any, Int, ObjectIdentifier, OctetString, SetOfVec};
use der::{Decode, Encode};

use super::super::ess::digest_algorithm_identifier;
use super::super::oids::{ID_AA_SIGNATURE_TIME_STAMP_TOKEN, ID_CT_TST_INFO, ID_SIGNED_DATA};
use super::super::timestamp::{
    GenTime, MessageImprint, PkiStatusInfo, TimeStampReq, TimeStampResp, TimeStamper,
    TimestampError, TimestampQuery, TstInfo, check_token,
};
use super::super::{CadesSigner, TOKEN_SLACK};
use super::{cades_signer, document_digest, sign_document, signed_data};
use crate::signer::local::LocalSigner;
use crate::signer::local::testing::{KeyKind, OpenSsl};
use crate::signer::{DigestAlgorithm, Signer, SignerError};

const QUERY: &[u8] = include_bytes!("tsa/openssl-query.der");
const REPLY: &[u8] = include_bytes!("tsa/certomancer-reply.der");
/// SHA-256 of `pdf-seal time-stamp vector`, the imprint of the vectors.
const VECTOR_DIGEST: &str = "c8d69a67c331ce92177777840eb33a1c85f631226ae4e53718360dde02bd85b8";
/// The nonce openssl put in the query (`openssl ts -query -in ... -text`).
const VECTOR_NONCE: u64 = 0x0D6C_66B8_0D0A_919B;

fn vector_digest() -> Vec<u8> {
    hex::decode(VECTOR_DIGEST).unwrap()
}

#[test]
fn the_request_is_the_der_of_rfc_3161() {
    let digest = vector_digest();
    let query = TimestampQuery::with_nonce(DigestAlgorithm::Sha256, &digest, VECTOR_NONCE);

    let der = query.to_der().unwrap();

    // SEQUENCE { version 1, MessageImprint { sha256 (no parameters), digest },
    //            nonce, certReq TRUE }
    let expected = format!(
        "3041020101302f300b0609608648016503040201{}{VECTOR_DIGEST}02080d6c66b80d0a919b0101ff",
        "0420"
    );
    assert_eq!(hex::encode(&der), expected);
}

#[test]
fn openssls_request_reads_as_the_same_question() {
    let request = TimeStampReq::from_der(QUERY).unwrap();

    assert_eq!(request.version, 1);
    assert_eq!(
        request.message_imprint.hashed_message.as_bytes(),
        &vector_digest()[..]
    );
    assert_eq!(
        request.message_imprint.hash_algorithm.oid,
        DigestAlgorithm::Sha256.oid()
    );
    assert_eq!(
        request.nonce.unwrap().to_der().unwrap(),
        VECTOR_NONCE.to_der().unwrap()
    );
    assert!(request.cert_req);
}

#[test]
fn a_real_authoritys_answer_is_accepted_with_its_time() {
    let query = TimestampQuery::with_nonce(DigestAlgorithm::Sha256, &vector_digest(), VECTOR_NONCE);

    let (token, facts) = query.check_response(REPLY).unwrap();

    assert_eq!(facts.gen_time, "20261204231707.756217Z");
    // The token is the answer's second element, byte for byte.
    assert!(REPLY.windows(token.len()).any(|window| window == token));
    assert_eq!(
        ContentInfo::from_der(&token).unwrap().content_type,
        ID_SIGNED_DATA
    );
}

#[test]
fn a_token_whose_signature_does_not_verify_is_refused() {
    let query = TimestampQuery::with_nonce(DigestAlgorithm::Sha256, &vector_digest(), VECTOR_NONCE);
    // The answer ends with the authority's signature value (the token's SignerInfo has no
    // unsigned attributes): one flipped bit there damages the signature and nothing else.
    let mut damaged = REPLY.to_vec();
    *damaged.last_mut().unwrap() ^= 0x01;

    let error = query.check_response(&damaged).unwrap_err();

    assert!(matches!(error, TimestampError::Mismatch(_)), "{error}");
    assert!(error.to_string().contains("does not verify"), "{error}");
}

#[test]
fn an_answer_to_another_nonce_or_digest_is_refused() {
    let digest = vector_digest();
    let other_nonce =
        TimestampQuery::with_nonce(DigestAlgorithm::Sha256, &digest, VECTOR_NONCE + 1);
    let mut other = digest.clone();
    other[0] ^= 1;
    let other_digest = TimestampQuery::with_nonce(DigestAlgorithm::Sha256, &other, VECTOR_NONCE);
    let other_algorithm =
        TimestampQuery::with_nonce(DigestAlgorithm::Sha384, &[0; 48], VECTOR_NONCE);

    let errors = [other_nonce, other_digest, other_algorithm]
        .map(|query| query.check_response(REPLY).unwrap_err());

    assert_eq!(
        errors[0],
        TimestampError::Mismatch("the nonce differs".into())
    );
    assert_eq!(
        errors[1],
        TimestampError::Mismatch("the imprint is not the digest of this signature".into())
    );
    assert!(
        matches!(&errors[2], TimestampError::Mismatch(text) if text.contains("2.16.840.1.101.3.4.2.1")),
        "{:?}",
        errors[2]
    );
}

#[test]
fn a_refusal_names_status_text_and_failure() {
    // PKIStatusInfo { rejection (2), "unsupported algorithm", failInfo badAlg }
    let answer = TimeStampResp {
        status: PkiStatusInfo {
            status: 2,
            status_string: Some(vec!["unsupported algorithm".into()]),
            fail_info: Some(der::asn1::BitString::new(7, [0x80]).unwrap()),
        },
        time_stamp_token: None,
    }
    .to_der()
    .unwrap();
    let query = TimestampQuery::with_nonce(DigestAlgorithm::Sha256, &vector_digest(), 1);

    let error = query.check_response(&answer).unwrap_err();

    assert_eq!(
        error.to_string(),
        "the time-stamp authority refused the request (status 2, unsupported algorithm, \
         failInfo badAlg)"
    );
}

#[test]
fn garbage_and_grants_without_a_token_are_malformed() {
    let query = TimestampQuery::with_nonce(DigestAlgorithm::Sha256, &vector_digest(), 1);
    let granted_empty = TimeStampResp {
        status: PkiStatusInfo {
            status: 0,
            status_string: None,
            fail_info: None,
        },
        time_stamp_token: None,
    }
    .to_der()
    .unwrap();

    for answer in [
        &b"<html>busy</html>"[..],
        &REPLY[..REPLY.len() - 1],
        &granted_empty,
    ] {
        let error = query.check_response(answer).unwrap_err();
        assert!(matches!(error, TimestampError::Malformed(_)), "{error:?}");
    }
}

#[test]
fn nonces_are_fresh_and_positive() {
    let digest = vector_digest();
    let a = TimestampQuery::new(DigestAlgorithm::Sha256, &digest).unwrap();
    let b = TimestampQuery::new(DigestAlgorithm::Sha256, &digest).unwrap();

    assert_ne!(a.nonce(), b.nonce());
    assert!(a.nonce() < 1 << 63 && b.nonce() < 1 << 63);
}

/// A token shaped like an authority's: a SignedData over a TSTInfo with `imprint`, signed by
/// nobody, padded with a TSTInfo extension-free policy so that its DER is at least `min_len`.
fn stand_in_token(algorithm: DigestAlgorithm, imprint: &[u8], min_len: usize) -> Vec<u8> {
    let info = TstInfo {
        version: 1,
        policy: ObjectIdentifier::new_unwrap("1.3.6.1.4.1.4146.2.3"),
        message_imprint: MessageImprint {
            hash_algorithm: digest_algorithm_identifier(algorithm),
            hashed_message: OctetString::new(imprint).unwrap(),
        },
        serial_number: Int::new(&[0x2a]).unwrap(),
        gen_time: GenTime("20261204120000.5Z".into()),
        accuracy: None,
        ordering: false,
        nonce: None,
        tsa: None,
        extensions: None,
    };
    let econtent = OctetString::new(info.to_der().unwrap()).unwrap();
    // A SignerInfo that validators would refuse, which the core does not judge; its signature
    // field carries the padding.
    let padding = min_len.saturating_sub(200);
    let issuer: x509_cert::name::Name = "CN=stand-in TSA".parse().unwrap();
    let signer_info = SignerInfo {
        version: CmsVersion::V1,
        sid: SignerIdentifier::IssuerAndSerialNumber(IssuerAndSerialNumber {
            issuer,
            serial_number: x509_cert::serial_number::SerialNumber::new(&[1]).unwrap(),
        }),
        digest_alg: digest_algorithm_identifier(algorithm),
        signed_attrs: None,
        signature_algorithm: digest_algorithm_identifier(algorithm),
        signature: OctetString::new(vec![0x55; padding.max(1)]).unwrap(),
        unsigned_attrs: None,
    };
    let signed_data = SignedData {
        version: CmsVersion::V3,
        digest_algorithms: SetOfVec::try_from(vec![digest_algorithm_identifier(algorithm)])
            .unwrap(),
        encap_content_info: EncapsulatedContentInfo {
            econtent_type: ID_CT_TST_INFO,
            econtent: Some(Any::encode_from(&econtent).unwrap()),
        },
        certificates: None,
        crls: None,
        signer_infos: SignerInfos(SetOfVec::try_from(vec![signer_info]).unwrap()),
    };
    ContentInfo {
        content_type: ID_SIGNED_DATA,
        content: Any::encode_from(&signed_data).unwrap(),
    }
    .to_der()
    .unwrap()
}

/// A stamper that answers tokens of the given lengths in turn (the last one again once they
/// run out), claims `estimate`, and records the imprints it was asked for.
struct StandInStamper {
    estimate: usize,
    lengths: Vec<usize>,
    calls: AtomicUsize,
    asked: Mutex<Vec<Vec<u8>>>,
    /// When set, the token is about this imprint instead of the one asked.
    wrong_imprint: Option<Vec<u8>>,
}

impl StandInStamper {
    fn new(estimate: usize, lengths: &[usize]) -> Self {
        Self {
            estimate,
            lengths: lengths.to_vec(),
            calls: AtomicUsize::new(0),
            asked: Mutex::new(Vec::new()),
            wrong_imprint: None,
        }
    }
}

#[async_trait]
impl TimeStamper for StandInStamper {
    fn estimated_token_len(&self) -> usize {
        self.estimate
    }

    async fn timestamp(
        &self,
        algorithm: DigestAlgorithm,
        digest: &[u8],
    ) -> Result<Vec<u8>, SignerError> {
        let call = self.calls.fetch_add(1, Ordering::SeqCst);
        self.asked.lock().unwrap().push(digest.to_vec());
        let len = self.lengths[call.min(self.lengths.len() - 1)];
        let imprint = self.wrong_imprint.as_deref().unwrap_or(digest);
        Ok(stand_in_token(algorithm, imprint, len))
    }
}

/// A stamper that always fails, as the service's does when every authority is down.
struct DownStamper;

#[async_trait]
impl TimeStamper for DownStamper {
    fn estimated_token_len(&self) -> usize {
        4096
    }

    async fn timestamp(&self, _: DigestAlgorithm, _: &[u8]) -> Result<Vec<u8>, SignerError> {
        Err(SignerError::Timestamp(
            "http://127.0.0.1:9/ refused the connection".into(),
        ))
    }
}

fn timestamped(ssl: &OpenSsl, stamper: &Arc<StandInStamper>) -> CadesSigner<LocalSigner> {
    CadesSigner::with_timestamps(cades_signer(ssl).into_raw(), Box::new(Arc::clone(stamper)))
}

#[tokio::test]
async fn the_token_is_an_unsigned_attribute_over_the_signature_value() {
    let ssl = OpenSsl::new();
    ssl.chain(KeyKind::Rsa(2048));
    let stamper = Arc::new(StandInStamper::new(2000, &[1800]));
    let signer = timestamped(&ssl, &stamper);

    let cms = sign_document(&signer, DigestAlgorithm::Sha256).await;

    let info = signed_data(&cms).signer_infos.0.into_vec().remove(0);
    let unsigned = info.unsigned_attrs.expect("unsigned attributes");
    assert_eq!(unsigned.len(), 1);
    let attribute = unsigned.iter().next().unwrap();
    assert_eq!(attribute.oid, ID_AA_SIGNATURE_TIME_STAMP_TOKEN);
    assert_eq!(attribute.values.len(), 1);
    let token = attribute.values.iter().next().unwrap().to_der().unwrap();
    let imprint = DigestAlgorithm::Sha256.digest(info.signature.as_bytes());
    check_token(&token, DigestAlgorithm::Sha256, &imprint, None).expect("the token is about it");
    // The signature itself still verifies: the unsigned attribute is outside what is signed.
    ssl.verify_cms(&cms, super::DOCUMENT)
        .expect("openssl verifies the B-T CMS");
}

#[tokio::test]
async fn the_estimate_covers_a_token_of_the_stampers_estimate_exactly() {
    let ssl = OpenSsl::new();
    ssl.chain(KeyKind::Rsa(2048));
    for len in [1500, 3000, 7000] {
        let stamper = Arc::new(StandInStamper::new(len, &[len]));
        let signer = timestamped(&ssl, &stamper);
        let estimate = signer.estimated_cms_len(DigestAlgorithm::Sha256);

        let cms = sign_document(&signer, DigestAlgorithm::Sha256).await;

        let token_len = stand_in_token(DigestAlgorithm::Sha256, &[0; 32], len).len();
        // The stand-in token is a few bytes off `len`; the rest of the CMS is exact (RSA).
        assert_eq!(
            estimate as isize - cms.len() as isize,
            len as isize - token_len as isize,
            "token of {len}"
        );
    }
}

#[tokio::test]
async fn the_largest_token_seen_sizes_the_next_estimate() {
    let ssl = OpenSsl::new();
    ssl.chain(KeyKind::P256);
    let stamper = Arc::new(StandInStamper::new(500, &[3000, 2000]));
    let signer = timestamped(&ssl, &stamper);
    let before = signer.estimated_cms_len(DigestAlgorithm::Sha256);

    let first = sign_document(&signer, DigestAlgorithm::Sha256).await;
    let after_first = signer.estimated_cms_len(DigestAlgorithm::Sha256);
    let second = sign_document(&signer, DigestAlgorithm::Sha256).await;
    let after_second = signer.estimated_cms_len(DigestAlgorithm::Sha256);

    assert!(before < first.len(), "{before} < {}", first.len());
    assert!(
        after_first >= first.len(),
        "{after_first} >= {}",
        first.len()
    );
    assert!(
        after_first <= first.len() + TOKEN_SLACK + 8,
        "{after_first}"
    );
    // A smaller token later does not shrink the room kept for the largest.
    assert!(second.len() < first.len());
    assert_eq!(after_second, after_first);
    assert_eq!(stamper.calls.load(Ordering::SeqCst), 2);
}

#[tokio::test]
async fn the_stamper_is_asked_about_the_signature_value_only() {
    let ssl = OpenSsl::new();
    ssl.chain(KeyKind::P256);
    let stamper = Arc::new(StandInStamper::new(2000, &[1500]));
    let signer = timestamped(&ssl, &stamper);

    let cms = sign_document(&signer, DigestAlgorithm::Sha384).await;

    let info = signed_data(&cms).signer_infos.0.into_vec().remove(0);
    let asked = stamper.asked.lock().unwrap().clone();
    assert_eq!(
        asked,
        vec![DigestAlgorithm::Sha384.digest(info.signature.as_bytes())]
    );
    assert_ne!(asked[0], document_digest(DigestAlgorithm::Sha384).value);
}

#[tokio::test]
async fn a_token_about_something_else_is_not_embedded() {
    let ssl = OpenSsl::new();
    ssl.chain(KeyKind::P256);
    let mut stamper = StandInStamper::new(2000, &[1500]);
    stamper.wrong_imprint = Some(vec![7; 32]);
    let signer = timestamped(&ssl, &Arc::new(stamper));

    let error = signer
        .sign(&document_digest(DigestAlgorithm::Sha256))
        .await
        .unwrap_err();

    assert!(
        matches!(&error, SignerError::Failed(text) if text.contains("imprint")),
        "{error:?}"
    );
}

#[tokio::test]
async fn a_failing_stamper_fails_the_signature_with_its_cause() {
    let ssl = OpenSsl::new();
    ssl.chain(KeyKind::P256);
    let signer = CadesSigner::with_timestamps(cades_signer(&ssl).into_raw(), Box::new(DownStamper));

    let error = signer
        .sign(&document_digest(DigestAlgorithm::Sha256))
        .await
        .unwrap_err();

    assert!(matches!(&error, SignerError::Timestamp(text) if text.contains("127.0.0.1:9")));
    assert!(
        error.to_string().starts_with("time-stamping failed: "),
        "{error}"
    );
}

/// The shared corpus's smallest PDF.
fn minimal_pdf() -> Vec<u8> {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../../shared/corpus/ph__minimal.pdf");
    std::fs::read(path).expect("the shared corpus")
}

/// The CMS in the /Contents of a sealed increment, without the zero padding after it.
fn embedded_cms(increment: &[u8]) -> Vec<u8> {
    let text = String::from_utf8_lossy(increment);
    let start = text.find("/Contents <").expect("/Contents") + "/Contents <".len();
    let end = start + text[start..].find('>').unwrap();
    let bytes = hex::decode(&text[start..end]).unwrap();
    let mut reader = der::SliceReader::new(&bytes).unwrap();
    let header = der::Header::decode(&mut reader).unwrap();
    let len = usize::try_from((header.encoded_len().unwrap() + header.length()).unwrap()).unwrap();
    assert!(
        bytes[len..].iter().all(|b| *b == 0),
        "only padding follows the CMS"
    );
    bytes[..len].to_vec()
}

#[tokio::test]
async fn a_token_larger_than_expected_is_embedded_whole_after_a_rebuild() {
    let ssl = OpenSsl::new();
    ssl.chain(KeyKind::Rsa(2048));
    // Claims 1 KB, answers 6000 bytes, then 6050: the second layout, sized from the largest
    // token seen and its slack, takes the slightly larger second token.
    let stamper = Arc::new(StandInStamper::new(1000, &[6000, 6000 + TOKEN_SLACK - 14]));
    let signer = timestamped(&ssl, &stamper);
    let input = minimal_pdf();

    let sealed = crate::seal(&input[..], &crate::SealOptions::default(), &signer)
        .await
        .expect("sealed after a larger placeholder");

    assert_eq!(stamper.calls.load(Ordering::SeqCst), 2);
    let cms = embedded_cms(&sealed.increment);
    let info = signed_data(&cms).signer_infos.0.into_vec().remove(0);
    let token = info
        .unsigned_attrs
        .unwrap()
        .iter()
        .next()
        .unwrap()
        .values
        .iter()
        .next()
        .unwrap()
        .to_der()
        .unwrap();
    assert!(token.len() >= 6050, "{}", token.len());
    let imprint = DigestAlgorithm::Sha256.digest(info.signature.as_bytes());
    check_token(&token, DigestAlgorithm::Sha256, &imprint, None).unwrap();
}

#[tokio::test]
async fn tokens_that_keep_growing_fail_instead_of_being_cut() {
    let ssl = OpenSsl::new();
    ssl.chain(KeyKind::P256);
    let stamper = Arc::new(StandInStamper::new(1000, &[4000, 8000, 16000, 32000]));
    let signer = timestamped(&ssl, &stamper);
    let input = minimal_pdf();

    let error = crate::seal(&input[..], &crate::SealOptions::default(), &signer)
        .await
        .unwrap_err();

    assert!(error.to_string().contains("kept growing"), "{error}");
    assert_eq!(stamper.calls.load(Ordering::SeqCst), 3);
}
