//! The sealing pipeline: prepare the revision, digest, sign, embed (DESIGN.md section 3).

use sha2::Digest as _;
use time::OffsetDateTime;

use crate::pdf::object::text_string;
use crate::pdf::{Dictionary, Document, Object, PdfError, Source, Update, form};
use crate::signer::{DigestAlgorithm, DocumentDigest, Hasher, Signer, SignerError};

/// What the caller may choose about a seal.
#[derive(Clone, Debug)]
pub struct SealOptions {
    /// /Reason of the signature dictionary.
    pub reason: Option<String>,
    /// /Location of the signature dictionary.
    pub location: Option<String>,
    /// /ContactInfo of the signature dictionary.
    pub contact_info: Option<String>,
    /// The signature field's name; a unique `Seal<n>` when absent.
    pub field_name: Option<String>,
    /// The digest of the byte ranges and of the signed attributes.
    pub digest: DigestAlgorithm,
    /// The signing time written in /M.
    pub signing_time: OffsetDateTime,
    /// Also compute the SHA-256 of the whole sealed document (costs one more hash of it).
    pub document_sha256: bool,
}

impl Default for SealOptions {
    fn default() -> Self {
        Self {
            reason: None,
            location: None,
            contact_info: None,
            field_name: None,
            digest: DigestAlgorithm::Sha256,
            signing_time: OffsetDateTime::now_utc(),
            document_sha256: false,
        }
    }
}

/// A sealed document: the original bytes followed by `increment`.
#[derive(Debug)]
pub struct Sealed {
    /// The bytes to append to the original document.
    pub increment: Vec<u8>,
    /// The name of the signature field that holds the seal.
    pub field_name: String,
    /// SHA-256 of the whole sealed document, when asked for.
    pub document_sha256: Option<[u8; 32]>,
}

/// Why a document was not sealed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SealError {
    #[error(transparent)]
    Pdf(#[from] PdfError),
    #[error(
        "the document is certified with DocMDP permission level 1, which allows no change at all, \
         so it cannot be sealed"
    )]
    CertifiedNoChanges,
    #[error("invalid option: {0}")]
    InvalidOption(String),
    #[error(transparent)]
    Signer(#[from] SignerError),
}

/// The stable cause of a [`SealError`], for status codes and problem types.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ErrorKind {
    /// The input is not a PDF at all.
    NotPdf,
    /// A PDF that cannot be read or sealed (damaged beyond repair, no pages, page-tree cycle).
    Unreadable,
    /// An encrypted PDF.
    Encrypted,
    /// A PDF whose certification forbids any change.
    Certified,
    /// An option the caller gave is not acceptable (field name taken, ...).
    InvalidOption,
    /// The signer failed.
    Signer,
    /// A remote signing service refused pdf-seal's credentials.
    SignerRefused,
    /// A remote signing service cannot be reached or cannot sign now.
    SignerUnavailable,
    /// A key or remote signing service answered with an unusable signature.
    SignerBadAnswer,
    /// No time-stamp authority gave a usable time-stamp (PAdES B-T).
    Timestamp,
    /// Reading the input failed.
    Io,
}

impl SealError {
    pub fn kind(&self) -> ErrorKind {
        match self {
            Self::Pdf(PdfError::NotPdf(_)) => ErrorKind::NotPdf,
            Self::Pdf(PdfError::Encrypted) => ErrorKind::Encrypted,
            Self::Pdf(PdfError::Io(_)) => ErrorKind::Io,
            Self::Pdf(_) => ErrorKind::Unreadable,
            Self::CertifiedNoChanges => ErrorKind::Certified,
            Self::InvalidOption(_) => ErrorKind::InvalidOption,
            // The signer cannot do what the caller chose (a digest the backend does not sign).
            Self::Signer(SignerError::Unsupported(_)) => ErrorKind::InvalidOption,
            Self::Signer(SignerError::Refused(_)) => ErrorKind::SignerRefused,
            Self::Signer(SignerError::Unavailable(_)) => ErrorKind::SignerUnavailable,
            Self::Signer(SignerError::BadAnswer(_)) => ErrorKind::SignerBadAnswer,
            Self::Signer(SignerError::Timestamp(_)) => ErrorKind::Timestamp,
            Self::Signer(_) => ErrorKind::Signer,
        }
    }
}

/// Extra room in the /Contents placeholder beyond the signer's estimate, in bytes.
const PLACEHOLDER_MARGIN: usize = 32;

/// How many times the placeholder may be enlarged before giving up.
const MAX_ATTEMPTS: usize = 3;

/// Seals `source` with `signer`: the result is the increment to append to the original bytes.
///
/// The steps of DESIGN.md section 3: [`prepare`] plans the update from the few objects it
/// touches and hashes the original bytes; [`Prepared::sign`] lays the update out with a
/// placeholder sized by the signer's dry run, digests the byte ranges, signs and embeds.
pub async fn seal(
    source: &(impl Source + ?Sized),
    options: &SealOptions,
    signer: &dyn Signer,
) -> Result<Sealed, SealError> {
    prepare(source, options)?.sign(signer).await
}

/// The part of a seal that reads the document: planning the update and hashing the original
/// bytes, which are read once, in order, through [`Source::read_all`]. It blocks on the
/// source's reads and does CPU work that grows with the document, so callers in an async
/// context run it on a blocking thread; signing, which may wait on a remote service, is
/// [`Prepared::sign`].
pub fn prepare(
    source: &(impl Source + ?Sized),
    options: &SealOptions,
) -> Result<Prepared, SealError> {
    let (update, field_name) = plan(source, options)?;
    let base = source.len();
    let prefix = hash_source(source, options)?;
    Ok(Prepared {
        update,
        field_name,
        base,
        prefix,
        digest: options.digest,
    })
}

/// A document read and planned, waiting for its signature; it holds no reference to the
/// source. Signing it does not read the document again, however often the placeholder must
/// grow.
pub struct Prepared {
    update: Update,
    field_name: String,
    base: u64,
    prefix: PrefixHashes,
    digest: DigestAlgorithm,
}

impl Prepared {
    /// The length of the original document, which the increment follows.
    pub fn base_len(&self) -> u64 {
        self.base
    }

    /// Lays the update out, digests the byte ranges, signs and embeds.
    pub async fn sign(self, signer: &dyn Signer) -> Result<Sealed, SealError> {
        let mut capacity = signer.estimated_cms_len(self.digest) + PLACEHOLDER_MARGIN;
        for _ in 0..MAX_ATTEMPTS {
            let mut written = self.update.write(self.base, capacity);
            let mut hasher = self.prefix.byte_ranges.clone();
            hasher.update(&written.bytes[..written.contents.start]);
            hasher.update(&written.bytes[written.contents.end..]);
            let digest = DocumentDigest {
                algorithm: self.digest,
                value: hasher.finalize(),
            };

            let cms = signer.sign(&digest).await?;
            if written.embed(&cms) {
                let document_sha256 = self.prefix.whole.map(|mut whole| {
                    whole.update(&written.bytes);
                    whole.finalize().into()
                });
                return Ok(Sealed {
                    increment: written.bytes,
                    field_name: self.field_name,
                    document_sha256,
                });
            }
            tracing::debug!(
                capacity,
                cms_len = cms.len(),
                "signature larger than its placeholder"
            );
            // The signer's estimate has learnt from this signature (a time-stamp token larger
            // than expected, say), and another signature may come out a little longer still.
            capacity = cms.len().max(signer.estimated_cms_len(self.digest)) + PLACEHOLDER_MARGIN;
        }
        Err(SignerError::Failed("the signature kept growing beyond its placeholder".into()).into())
    }
}

/// Reads what the seal needs and plans the update; the document is closed before signing.
fn plan(
    source: &(impl Source + ?Sized),
    options: &SealOptions,
) -> Result<(Update, String), SealError> {
    check_options(options)?;
    let mut doc = Document::open(source)?;
    if form::docmdp_permission(&mut doc)? == Some(1) {
        return Err(SealError::CertifiedNoChanges);
    }
    let target = form::choose_field(&mut doc, options.field_name.as_deref())?
        .map_err(SealError::InvalidOption)?;
    // Walked whatever the target, so that a page tree with a cycle is always refused.
    let page = form::first_page(&mut doc)?;
    let update = form::build_update(&mut doc, &target, page, signature_dictionary(options))?;
    Ok((update, target.name().to_string()))
}

/// The longest /Reason, /Location or /ContactInfo accepted, in characters.
const MAX_TEXT_CHARS: usize = 1000;

/// The longest field name accepted, in characters.
const MAX_FIELD_NAME_CHARS: usize = 100;

/// Refuses option values that no document could take: texts and field names over their length
/// limits, and field names that are empty or hold a period (which separates the parts of a
/// field's full name). [`seal`] checks them too; callers that accept options long before they
/// seal (blob jobs) check them at once.
pub fn check_options(options: &SealOptions) -> Result<(), SealError> {
    let texts = [
        ("reason", &options.reason),
        ("location", &options.location),
        ("contact", &options.contact_info),
    ];
    for (what, text) in texts {
        if text
            .as_ref()
            .is_some_and(|t| t.chars().count() > MAX_TEXT_CHARS)
        {
            let reason = format!("the {what} is longer than {MAX_TEXT_CHARS} characters");
            return Err(SealError::InvalidOption(reason));
        }
    }
    if let Some(name) = &options.field_name {
        if name.chars().count() > MAX_FIELD_NAME_CHARS {
            let reason = format!("the field name is longer than {MAX_FIELD_NAME_CHARS} characters");
            return Err(SealError::InvalidOption(reason));
        }
        if name.is_empty() || name.contains('.') {
            let reason = format!("field name {name:?} must be non-empty and contain no period");
            return Err(SealError::InvalidOption(reason));
        }
    }
    Ok(())
}

/// The entries of the signature dictionary besides /Type, /ByteRange and /Contents (ISO 32000-2
/// section 12.8.1, ETSI EN 319 142-1 section 5.3): the time goes in /M, never in the CMS.
fn signature_dictionary(options: &SealOptions) -> Dictionary {
    let mut dict = Dictionary::new();
    dict.set(b"Filter", Object::name("Adobe.PPKLite"));
    dict.set(b"SubFilter", Object::name("ETSI.CAdES.detached"));
    dict.set(b"M", Object::string(&pdf_date(options.signing_time)));
    let texts = [
        (&b"Reason"[..], &options.reason),
        (b"Location", &options.location),
        (b"ContactInfo", &options.contact_info),
    ];
    for (key, value) in texts {
        if let Some(value) = value {
            dict.set(key, text_string(value));
        }
    }
    dict
}

/// A PDF date in UTC, `D:YYYYMMDDHHmmSS+00'00'` (ISO 32000-2 section 7.9.4).
fn pdf_date(time: OffsetDateTime) -> String {
    let utc = time.to_offset(time::UtcOffset::UTC);
    format!(
        "D:{:04}{:02}{:02}{:02}{:02}{:02}+00'00'",
        utc.year(),
        u8::from(utc.month()),
        utc.day(),
        utc.hour(),
        utc.minute(),
        utc.second()
    )
}

/// The hash states after the original bytes: the byte-range digest, and SHA-256 of the whole
/// document when asked for. The source is read once for both.
struct PrefixHashes {
    byte_ranges: Hasher,
    whole: Option<sha2::Sha256>,
}

fn hash_source(
    source: &(impl Source + ?Sized),
    options: &SealOptions,
) -> Result<PrefixHashes, SealError> {
    let mut byte_ranges = options.digest.hasher();
    let mut whole = options.document_sha256.then(sha2::Sha256::new);
    source
        .read_all(&mut |chunk: &[u8]| {
            byte_ranges.update(chunk);
            if let Some(whole) = whole.as_mut() {
                whole.update(chunk);
            }
        })
        .map_err(PdfError::Io)?;
    Ok(PrefixHashes { byte_ranges, whole })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signer_errors_have_kinds_that_say_whose_fault_they_are() {
        let kind = |error: SignerError| SealError::from(error).kind();

        assert_eq!(
            kind(SignerError::Unsupported("sha512".into())),
            ErrorKind::InvalidOption
        );
        assert_eq!(
            kind(SignerError::Refused("401".into())),
            ErrorKind::SignerRefused
        );
        assert_eq!(
            kind(SignerError::Unavailable("503".into())),
            ErrorKind::SignerUnavailable
        );
        assert_eq!(
            kind(SignerError::Failed("bad answer".into())),
            ErrorKind::Signer
        );
        assert_eq!(kind(SignerError::Key("no key".into())), ErrorKind::Signer);
    }

    #[test]
    fn pdf_dates_are_utc_with_an_explicit_offset() {
        let time = time::macros::datetime!(2026-12-04 16:10:56 +02:00);
        assert_eq!(pdf_date(time), "D:20261204141056+00'00'");
    }
}
