//! RFC 3161 time-stamps for PAdES B-T: the request for a time-stamp on the SignerInfo signature
//! value, the checks on the authority's answer, and the [`TimeStamper`] trait that fetches one.
//!
//! The ASN.1 structures are declared here with der's derive. RustCrypto's `x509-tsp` (and
//! `cmpv2`, for `PKIStatusInfo`) build on der 0.7 and cms 0.2, while this crate uses der 0.8 and
//! cms 0.3.0-pre.1: their types do not mix with ours, so the few RFC 3161 structures are written
//! out by hand. Nothing here speaks HTTP: the stamper that does lives in the service.

use async_trait::async_trait;
use cms::content_info::ContentInfo;
use cms::signed_data::SignedData;
use der::asn1::{Any, BitString, Int, ObjectIdentifier, OctetString};
use der::{
    Decode, DecodeValue, Encode, EncodeValue, FixedTag, Header, Length, Reader, Sequence, Tag,
    Writer,
};
use spki::AlgorithmIdentifierOwned;
use x509_cert::ext::Extensions;
use x509_cert::ext::pkix::name::GeneralName;

use super::ess::digest_algorithm_identifier;
use super::oids::{ID_CT_TST_INFO, ID_SIGNED_DATA};
use crate::signer::{DigestAlgorithm, SignerError};

/// Fetches RFC 3161 time-stamp tokens from one or more time-stamp authorities.
#[async_trait]
pub trait TimeStamper: Send + Sync {
    /// An upper estimate of the DER length of the tokens this stamper returns, used to size the
    /// signature placeholder before any token has been seen.
    fn estimated_token_len(&self) -> usize;

    /// A time-stamp token (a DER `ContentInfo` holding a SignedData over a TSTInfo) whose
    /// message imprint is `digest`, made with `algorithm`.
    async fn timestamp(
        &self,
        algorithm: DigestAlgorithm,
        digest: &[u8],
    ) -> Result<Vec<u8>, SignerError>;
}

/// A shared stamper is a stamper.
#[async_trait]
impl<T: TimeStamper + ?Sized> TimeStamper for std::sync::Arc<T> {
    fn estimated_token_len(&self) -> usize {
        (**self).estimated_token_len()
    }

    async fn timestamp(
        &self,
        algorithm: DigestAlgorithm,
        digest: &[u8],
    ) -> Result<Vec<u8>, SignerError> {
        (**self).timestamp(algorithm, digest).await
    }
}

/// Why a time-stamp answer is not usable.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[non_exhaustive]
pub enum TimestampError {
    /// The authority refused, with its PKIStatus and what it said.
    #[error("the time-stamp authority refused the request (status {status}{text})")]
    Rejected { status: u32, text: String },
    /// The answer is not a well-formed TimeStampResp or token.
    #[error("the time-stamp answer is malformed: {0}")]
    Malformed(String),
    /// The token is well formed but not an answer to the question asked.
    #[error("the time-stamp token does not answer the request: {0}")]
    Mismatch(String),
}

impl From<der::Error> for TimestampError {
    fn from(error: der::Error) -> Self {
        Self::Malformed(error.to_string())
    }
}

/// `MessageImprint` (RFC 3161 section 2.4.1).
#[derive(Clone, Debug, Eq, PartialEq, Sequence)]
pub struct MessageImprint {
    pub hash_algorithm: AlgorithmIdentifierOwned,
    pub hashed_message: OctetString,
}

/// `TimeStampReq` (RFC 3161 section 2.4.1), without the extensions pdf-seal never sends.
#[derive(Clone, Debug, Eq, PartialEq, Sequence)]
pub struct TimeStampReq {
    pub version: u8,
    pub message_imprint: MessageImprint,
    #[asn1(optional = "true")]
    pub req_policy: Option<ObjectIdentifier>,
    #[asn1(optional = "true")]
    pub nonce: Option<Int>,
    #[asn1(default = "Default::default")]
    pub cert_req: bool,
}

/// `PKIStatusInfo` (RFC 3161 section 2.4.2, from RFC 4210).
#[derive(Clone, Debug, Eq, PartialEq, Sequence)]
pub struct PkiStatusInfo {
    pub status: u32,
    #[asn1(optional = "true")]
    pub status_string: Option<Vec<String>>,
    #[asn1(optional = "true")]
    pub fail_info: Option<BitString>,
}

/// `TimeStampResp` (RFC 3161 section 2.4.2).
#[derive(Clone, Debug, Eq, PartialEq, Sequence)]
pub struct TimeStampResp {
    pub status: PkiStatusInfo,
    #[asn1(optional = "true")]
    pub time_stamp_token: Option<ContentInfo>,
}

/// `Accuracy` (RFC 3161 section 2.4.2).
#[derive(Clone, Debug, Eq, PartialEq, Sequence)]
pub struct Accuracy {
    #[asn1(optional = "true")]
    pub seconds: Option<Int>,
    #[asn1(context_specific = "0", tag_mode = "IMPLICIT", optional = "true")]
    pub millis: Option<Int>,
    #[asn1(context_specific = "1", tag_mode = "IMPLICIT", optional = "true")]
    pub micros: Option<Int>,
}

/// `TSTInfo` (RFC 3161 section 2.4.2).
#[derive(Clone, Debug, Eq, PartialEq, Sequence)]
pub struct TstInfo {
    pub version: u8,
    pub policy: ObjectIdentifier,
    pub message_imprint: MessageImprint,
    pub serial_number: Int,
    pub gen_time: GenTime,
    #[asn1(optional = "true")]
    pub accuracy: Option<Accuracy>,
    #[asn1(default = "Default::default")]
    pub ordering: bool,
    #[asn1(optional = "true")]
    pub nonce: Option<Int>,
    #[asn1(context_specific = "0", tag_mode = "EXPLICIT", optional = "true")]
    pub tsa: Option<GeneralName>,
    #[asn1(context_specific = "1", tag_mode = "IMPLICIT", optional = "true")]
    pub extensions: Option<Extensions>,
}

/// The `genTime` of a TSTInfo, kept as its text: RFC 3161 allows fractions of a second
/// (`YYYYMMDDhhmmss[.s...]Z`), which der's `GeneralizedTime` (the RFC 5280 profile) refuses.
#[derive(Clone, Debug, Eq, PartialEq)]
pub struct GenTime(pub String);

impl FixedTag for GenTime {
    const TAG: Tag = Tag::GeneralizedTime;
}

impl<'a> DecodeValue<'a> for GenTime {
    type Error = der::Error;

    fn decode_value<R: Reader<'a>>(reader: &mut R, header: Header) -> der::Result<Self> {
        let bytes = reader.read_vec(header.length())?;
        let text = String::from_utf8(bytes).map_err(|_| Tag::GeneralizedTime.value_error())?;
        let well_formed = text.len() >= 15
            && text.ends_with('Z')
            && text[..14].bytes().all(|b| b.is_ascii_digit())
            && text[14..text.len() - 1]
                .strip_prefix('.')
                .is_none_or(|fraction| {
                    !fraction.is_empty() && fraction.bytes().all(|b| b.is_ascii_digit())
                });
        if !well_formed {
            return Err(Tag::GeneralizedTime.value_error().into());
        }
        Ok(Self(text))
    }
}

impl EncodeValue for GenTime {
    fn value_len(&self) -> der::Result<Length> {
        Length::try_from(self.0.len())
    }

    fn encode_value(&self, writer: &mut impl Writer) -> der::Result<()> {
        writer.write(self.0.as_bytes())
    }
}

/// What a checked token says.
#[derive(Clone, Debug, Eq, PartialEq)]
pub struct TokenFacts {
    /// `genTime`, as the authority wrote it (`20261204230036.67003Z`).
    pub gen_time: String,
    /// The TSA policy the token was issued under.
    pub policy: ObjectIdentifier,
}

/// One request for a time-stamp: the message imprint and a fresh nonce.
#[derive(Clone, Debug, Eq, PartialEq)]
pub struct TimestampQuery {
    algorithm: DigestAlgorithm,
    digest: Vec<u8>,
    nonce: u64,
}

impl TimestampQuery {
    /// A query for `digest` (made with `algorithm`) with a random 63-bit nonce.
    pub fn new(algorithm: DigestAlgorithm, digest: &[u8]) -> Result<Self, TimestampError> {
        let mut bytes = [0u8; 8];
        getrandom::fill(&mut bytes)
            .map_err(|e| TimestampError::Malformed(format!("no randomness for a nonce: {e}")))?;
        Ok(Self::with_nonce(
            algorithm,
            digest,
            u64::from_be_bytes(bytes) >> 1,
        ))
    }

    /// A query with a chosen nonce, for tests and fixed vectors.
    pub fn with_nonce(algorithm: DigestAlgorithm, digest: &[u8], nonce: u64) -> Self {
        Self {
            algorithm,
            digest: digest.to_vec(),
            nonce,
        }
    }

    /// The nonce sent.
    pub fn nonce(&self) -> u64 {
        self.nonce
    }

    /// The DER `TimeStampReq`: version 1, the imprint, the nonce, and certReq true so that the
    /// token carries the authority's certificate for validators to find.
    pub fn to_der(&self) -> Result<Vec<u8>, TimestampError> {
        let request = TimeStampReq {
            version: 1,
            message_imprint: imprint(self.algorithm, &self.digest)?,
            req_policy: None,
            nonce: Some(nonce_int(self.nonce)?),
            cert_req: true,
        };
        Ok(request.to_der()?)
    }

    /// Checks a DER `TimeStampResp` against this query and returns the token's DER: the status
    /// must be granted (0) or grantedWithMods (1), and the token's TSTInfo must carry this
    /// query's imprint and nonce.
    pub fn check_response(&self, der: &[u8]) -> Result<(Vec<u8>, TokenFacts), TimestampError> {
        let response = TimeStampResp::from_der(der)?;
        let status = response.status.status;
        if status > 1 {
            let mut text = String::new();
            for part in response.status.status_string.iter().flatten() {
                text.push_str(", ");
                text.extend(part.chars().filter(|c| !c.is_control()).take(200));
            }
            if let Some(fail_info) = &response.status.fail_info {
                text.push_str(&format!(", failInfo {}", failure_names(fail_info)));
            }
            return Err(TimestampError::Rejected { status, text });
        }
        let token = response.time_stamp_token.ok_or_else(|| {
            TimestampError::Malformed(format!("status {status} (granted) but no token"))
        })?;
        let token = token.to_der()?;
        let facts = check_token(&token, self.algorithm, &self.digest, Some(self.nonce))?;
        verify_token_signature(&token)?;
        Ok((token, facts))
    }
}

/// Checks that `token` is a time-stamp token (SignedData over a TSTInfo) whose message imprint
/// is `digest` made with `algorithm`, and, when given, whose nonce is `nonce`.
///
/// The token's signature is checked where the token arrives ([`verify_token_signature`], from
/// [`TimestampQuery::check_response`]); whether the authority is trusted is left to
/// validators, which judge it against their own trust anchors.
pub fn check_token(
    token: &[u8],
    algorithm: DigestAlgorithm,
    digest: &[u8],
    nonce: Option<u64>,
) -> Result<TokenFacts, TimestampError> {
    let content_info = ContentInfo::from_der(token)?;
    if content_info.content_type != ID_SIGNED_DATA {
        return Err(TimestampError::Malformed(format!(
            "the token is a {}, not a SignedData",
            content_info.content_type
        )));
    }
    let signed_data: SignedData = content_info.content.decode_as()?;
    let encapsulated = &signed_data.encap_content_info;
    if encapsulated.econtent_type != ID_CT_TST_INFO {
        return Err(TimestampError::Malformed(format!(
            "the token holds a {}, not a TSTInfo",
            encapsulated.econtent_type
        )));
    }
    if signed_data.signer_infos.0.len() != 1 {
        return Err(TimestampError::Malformed(format!(
            "the token has {} signers, not one",
            signed_data.signer_infos.0.len()
        )));
    }
    let content = encapsulated
        .econtent
        .as_ref()
        .ok_or_else(|| TimestampError::Malformed("the token has no TSTInfo".into()))?;
    let octets: OctetString = content.decode_as()?;
    let info = TstInfo::from_der(octets.as_bytes())?;
    if info.version != 1 {
        return Err(TimestampError::Malformed(format!(
            "TSTInfo version {}",
            info.version
        )));
    }
    let asked = imprint(algorithm, digest)?;
    if info.message_imprint.hash_algorithm.oid != asked.hash_algorithm.oid {
        return Err(TimestampError::Mismatch(format!(
            "the imprint is made with {}, not {algorithm}",
            info.message_imprint.hash_algorithm.oid
        )));
    }
    if info.message_imprint.hashed_message != asked.hashed_message {
        return Err(TimestampError::Mismatch(
            "the imprint is not the digest of this signature".into(),
        ));
    }
    if let Some(nonce) = nonce {
        match &info.nonce {
            Some(found) if *found == nonce_int(nonce)? => {}
            Some(_) => return Err(TimestampError::Mismatch("the nonce differs".into())),
            None => return Err(TimestampError::Mismatch("the nonce is missing".into())),
        }
    }
    Ok(TokenFacts {
        gen_time: info.gen_time.0,
        policy: info.policy,
    })
}

/// Checks the authority's signature on `token` with the key of the certificate the token
/// carries, and that the signed message digest is that of its TSTInfo (RFC 5652 section 11.2):
/// a damaged or forged token would make the seal fail every validator, so it is refused and
/// the next authority is asked.
pub fn verify_token_signature(token: &[u8]) -> Result<(), TimestampError> {
    let content_info = ContentInfo::from_der(token)?;
    let signed_data: SignedData = content_info.content.decode_as()?;
    crate::signer::verify::verify_signer_info(&signed_data)
        .map_err(|reason| TimestampError::Mismatch(format!("the token's {reason}")))?;
    let content = signed_data
        .encap_content_info
        .econtent
        .as_ref()
        .ok_or_else(|| TimestampError::Malformed("the token has no TSTInfo".into()))?;
    let octets: OctetString = content.decode_as()?;
    check_content_digest(&signed_data, octets.as_bytes())
}

/// Checks that the message-digest attribute of the token's signer is the digest of `content`.
fn check_content_digest(signed_data: &SignedData, content: &[u8]) -> Result<(), TimestampError> {
    let signer = signed_data
        .signer_infos
        .0
        .as_slice()
        .first()
        .ok_or_else(|| TimestampError::Malformed("the token has no signer".into()))?;
    let digest = DigestAlgorithm::from_oid(&signer.digest_alg.oid).ok_or_else(|| {
        TimestampError::Malformed(format!(
            "the token's digest algorithm {} is not supported",
            signer.digest_alg.oid
        ))
    })?;
    let signed = super::inspect::message_digest(signer)
        .map_err(|e| TimestampError::Malformed(format!("the token's signer: {e}")))?;
    if signed != digest.digest(content) {
        return Err(TimestampError::Mismatch(
            "the token's signed message digest is not that of its TSTInfo".into(),
        ));
    }
    Ok(())
}

/// The unsigned attribute `id-aa-signatureTimeStampToken` (RFC 3161 appendix A,
/// ETSI EN 319 122-1 section 5.3) holding `token`.
pub fn signature_time_stamp_attribute(
    token: &[u8],
) -> Result<x509_cert::attr::Attribute, TimestampError> {
    let value = Any::from_der(token)?;
    Ok(x509_cert::attr::Attribute {
        oid: super::oids::ID_AA_SIGNATURE_TIME_STAMP_TOKEN,
        values: der::asn1::SetOfVec::try_from(vec![value])?,
    })
}

fn imprint(algorithm: DigestAlgorithm, digest: &[u8]) -> Result<MessageImprint, TimestampError> {
    if digest.len() != algorithm.output_len() {
        return Err(TimestampError::Mismatch(format!(
            "a {algorithm} digest is {} bytes long, not {}",
            algorithm.output_len(),
            digest.len()
        )));
    }
    Ok(MessageImprint {
        hash_algorithm: digest_algorithm_identifier(algorithm),
        hashed_message: OctetString::new(digest)?,
    })
}

/// The nonce as a DER INTEGER (a `u64` below 2^63 is always positive).
fn nonce_int(nonce: u64) -> Result<Int, TimestampError> {
    Ok(Int::from_der(&nonce.to_der()?)?)
}

/// The names of the PKIFailureInfo bits that are set (RFC 3161 section 2.4.2).
fn failure_names(bits: &BitString) -> String {
    const NAMES: [(usize, &str); 6] = [
        (0, "badAlg"),
        (2, "badRequest"),
        (5, "badDataFormat"),
        (14, "timeNotAvailable"),
        (15, "unacceptedPolicy"),
        (16, "unacceptedExtension"),
    ];
    let set: Vec<usize> = bits
        .bits()
        .enumerate()
        .filter_map(|(i, bit)| bit.then_some(i))
        .collect();
    let names: Vec<String> = set
        .iter()
        .map(|i| match NAMES.iter().find(|(bit, _)| bit == i) {
            Some((_, name)) => (*name).to_owned(),
            None => format!("bit {i}"),
        })
        .collect();
    if names.is_empty() {
        "none".into()
    } else {
        names.join("+")
    }
}
