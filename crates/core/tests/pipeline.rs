//! The sealing pipeline with a stand-in signer: placeholder sizing, field choice and options.
//! Cryptographic validity is judged elsewhere (the CMS tests and the end-to-end corpus test).

use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};

use async_trait::async_trait;
use pdf_seal_core::pdf::{Document, Object, form};
use pdf_seal_core::signer::{DigestAlgorithm, DocumentDigest, Signer, SignerError};
use pdf_seal_core::{ErrorKind, SealOptions, seal};
use x509_cert::Certificate;

/// Answers a CMS of `len` bytes while claiming `estimate`, and counts its calls.
struct SizedSigner {
    estimate: usize,
    len: usize,
    calls: AtomicUsize,
}

impl SizedSigner {
    fn new(estimate: usize, len: usize) -> Self {
        Self {
            estimate,
            len,
            calls: AtomicUsize::new(0),
        }
    }
}

#[async_trait]
impl Signer for SizedSigner {
    fn estimated_cms_len(&self, _: DigestAlgorithm) -> usize {
        self.estimate
    }

    async fn sign(&self, digest: &DocumentDigest) -> Result<Vec<u8>, SignerError> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        let mut cms = vec![0xAB; self.len];
        cms[..digest.value.len()].copy_from_slice(&digest.value);
        Ok(cms)
    }

    fn certificates(&self) -> &[Certificate] {
        &[]
    }
}

fn corpus_file(name: &str) -> Vec<u8> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../../shared/corpus")
        .join(name);
    std::fs::read(path).expect("the shared corpus")
}

/// Seals with a signer whose CMS fits its estimate.
async fn seal_ok(input: &[u8], options: &SealOptions) -> pdf_seal_core::Sealed {
    seal(input, options, &SizedSigner::new(200, 200))
        .await
        .unwrap()
}

/// The text of the sealed output's increment.
fn increment_text(input: &[u8], increment: &[u8]) -> String {
    assert!(!increment.is_empty() && !input.is_empty());
    String::from_utf8_lossy(increment).into_owned()
}

#[tokio::test]
async fn a_cms_larger_than_the_estimate_is_embedded_whole_after_a_rebuild() {
    let input = corpus_file("ph__minimal.pdf");
    let signer = SizedSigner::new(100, 3000);
    let sealed = seal(&input[..], &SealOptions::default(), &signer)
        .await
        .unwrap();

    assert_eq!(signer.calls.load(Ordering::SeqCst), 2);
    let text = increment_text(&input, &sealed.increment);
    assert!(
        text.contains(&"AB".repeat(3000 - 32)),
        "the whole CMS is embedded"
    );
}

#[tokio::test]
async fn a_cms_within_the_estimate_is_signed_once() {
    let input = corpus_file("ph__minimal.pdf");
    let signer = SizedSigner::new(3000, 2000);
    seal(&input[..], &SealOptions::default(), &signer)
        .await
        .unwrap();
    assert_eq!(signer.calls.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn the_digest_covers_both_byte_ranges() {
    let input = corpus_file("ph__minimal.pdf");
    let options = SealOptions {
        digest: DigestAlgorithm::Sha384,
        ..SealOptions::default()
    };
    let sealed = seal_ok(&input, &options).await;

    let output = [&input[..], &sealed.increment].concat();
    let text = String::from_utf8_lossy(&output).into_owned();
    let start = text.rfind("/ByteRange [").unwrap() + "/ByteRange [".len();
    let numbers: Vec<usize> = text[start..]
        .split(']')
        .next()
        .unwrap()
        .split_whitespace()
        .map(|n| n.parse().unwrap())
        .collect();
    let [a, b, c, d] = numbers[..] else {
        panic!("{numbers:?}")
    };
    assert_eq!(
        (a, b + (c - b) + d),
        (0, output.len()),
        "the ranges reach the end"
    );

    let mut covered = output[a..b].to_vec();
    covered.extend_from_slice(&output[c..c + d]);
    let expected = DigestAlgorithm::Sha384.digest(&covered);
    let embedded = hex::encode_upper(&expected);
    assert_eq!(&output[b + 1..b + 1 + embedded.len()], embedded.as_bytes());
}

#[tokio::test]
async fn reason_location_and_contact_are_written_as_text_strings() {
    let input = corpus_file("ph__minimal.pdf");
    let options = SealOptions {
        reason: Some("Approved (final)".into()),
        location: Some("Zürich".into()),
        contact_info: Some("seal@example.org".into()),
        ..SealOptions::default()
    };
    let sealed = seal_ok(&input, &options).await;
    let text = increment_text(&input, &sealed.increment);
    assert!(text.contains("/Reason (Approved \\(final\\))"), "{text}");
    assert!(text.contains("/ContactInfo (seal@example.org)"), "{text}");
    assert!(
        text.contains("/Location (\u{FFFD}\u{FFFD}\0Z"),
        "UTF-16 with a byte order mark"
    );
    assert!(text.contains("/SubFilter /ETSI.CAdES.detached"), "{text}");
    assert!(text.contains("/M (D:"), "{text}");
}

#[tokio::test]
async fn sealing_twice_gives_two_distinct_fields() {
    let input = corpus_file("ph__minimal.pdf");
    let signer = SizedSigner::new(200, 200);
    let first = seal(&input[..], &SealOptions::default(), &signer)
        .await
        .unwrap();
    let mut once = input.clone();
    once.extend_from_slice(&first.increment);
    let second = seal(&once[..], &SealOptions::default(), &signer)
        .await
        .unwrap();
    assert_eq!(
        (first.field_name.as_str(), second.field_name.as_str()),
        ("Seal1", "Seal2")
    );
}

#[tokio::test]
async fn a_named_empty_signature_field_is_filled_instead_of_adding_one() {
    let input = corpus_file("ph__minimal-with-field.pdf");
    let options = SealOptions {
        field_name: Some("Sig1".into()),
        ..SealOptions::default()
    };
    let sealed = seal_ok(&input, &options).await;

    let output = [&input[..], &sealed.increment].concat();
    let mut doc = Document::open(&output[..]).unwrap();
    let (_, catalog) = doc.catalog().unwrap();
    let form_dict = doc.resolve(catalog.get(b"AcroForm").unwrap()).unwrap();
    let fields = doc
        .resolve(form_dict.as_dict().unwrap().get(b"Fields").unwrap())
        .unwrap();
    assert_eq!(fields.as_array().unwrap().len(), 1, "no field was added");
    let field = doc.resolve(&fields.as_array().unwrap()[0]).unwrap();
    assert!(matches!(
        field.as_dict().unwrap().get(b"V"),
        Some(Object::Reference(_))
    ));
    assert_eq!(
        form::choose_field(&mut doc, Some("Sig1"))
            .unwrap()
            .unwrap_err(),
        "the signature field \"Sig1\" is already signed"
    );
}

#[tokio::test]
async fn a_name_held_by_another_kind_of_field_is_an_invalid_option() {
    let input = corpus_file("pypdf__libreoffice-form.pdf");
    let mut doc = Document::open(&input[..]).unwrap();
    let (_, catalog) = doc.catalog().unwrap();
    let form_dict = doc.resolve(catalog.get(b"AcroForm").unwrap()).unwrap();
    let fields = doc
        .resolve(form_dict.as_dict().unwrap().get(b"Fields").unwrap())
        .unwrap();
    let first = doc.resolve(&fields.as_array().unwrap()[0]).unwrap();
    let Some(Object::String(name)) = first.as_dict().unwrap().get(b"T") else {
        panic!("no name")
    };
    let name = String::from_utf8(name.clone()).unwrap();

    let options = SealOptions {
        field_name: Some(name),
        ..SealOptions::default()
    };
    let error = seal(&input[..], &options, &SizedSigner::new(200, 200))
        .await
        .unwrap_err();
    assert_eq!(error.kind(), ErrorKind::InvalidOption, "{error}");
}

#[tokio::test]
async fn refusals_name_their_cause() {
    let signer = SizedSigner::new(200, 200);
    let cases = [
        (
            "ph__certified-with-indirect-refs-in-dir.pdf",
            ErrorKind::Certified,
        ),
        ("ph__circular-page-tree.pdf", ErrorKind::Unreadable),
        ("ph__minimal-rc4.pdf", ErrorKind::Encrypted),
    ];
    for (file, kind) in cases {
        let input = corpus_file(file);
        let error = seal(&input[..], &SealOptions::default(), &signer)
            .await
            .unwrap_err();
        assert_eq!(error.kind(), kind, "{file}: {error}");
    }
    let error = seal(&b"GIF89a"[..], &SealOptions::default(), &signer)
        .await
        .unwrap_err();
    assert_eq!(error.kind(), ErrorKind::NotPdf);
    assert_eq!(signer.calls.load(Ordering::SeqCst), 0, "nothing was signed");
}

#[tokio::test]
async fn the_whole_document_hash_matches_the_output_when_asked_for() {
    let input = corpus_file("ph__minimal.pdf");
    let options = SealOptions {
        document_sha256: true,
        ..SealOptions::default()
    };
    let sealed = seal_ok(&input, &options).await;
    let output = [&input[..], &sealed.increment].concat();
    assert_eq!(
        sealed.document_sha256.unwrap().to_vec(),
        DigestAlgorithm::Sha256.digest(&output)
    );
}

#[tokio::test]
async fn a_file_source_seals_like_bytes_in_memory() {
    let input = corpus_file("pypdf__git.pdf");
    let path = std::env::temp_dir().join(format!("pipeline-source-{}.pdf", std::process::id()));
    std::fs::write(&path, &input).unwrap();
    let file = std::fs::File::open(&path).unwrap();
    let options = SealOptions {
        document_sha256: true,
        ..SealOptions::default()
    };
    let signer = SizedSigner::new(200, 200);
    let from_file = seal(&file, &options, &signer).await.unwrap();
    let from_memory = seal(&input[..], &options, &signer).await.unwrap();
    std::fs::remove_file(&path).unwrap();
    assert_eq!(from_file.increment, from_memory.increment);
}

#[tokio::test]
async fn overlong_texts_and_field_names_are_invalid_options() {
    let input = corpus_file("ph__minimal.pdf");
    let long_reason = SealOptions {
        reason: Some("r".repeat(1001)),
        ..SealOptions::default()
    };
    let long_name = SealOptions {
        field_name: Some("f".repeat(101)),
        ..SealOptions::default()
    };
    for options in [long_reason, long_name] {
        let error = seal(&input[..], &options, &SizedSigner::new(200, 200))
            .await
            .unwrap_err();
        assert_eq!(error.kind(), ErrorKind::InvalidOption, "{error}");
    }
}
