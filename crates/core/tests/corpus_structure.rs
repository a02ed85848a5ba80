//! Every corpus file is either updated so that our own reader and qpdf read the result, or
//! refused with a named cause. The signature itself is a fixed blob here: its validity is judged
//! by the end-to-end corpus test of the command line and the service.

use std::path::PathBuf;
use std::process::Command;

use async_trait::async_trait;
use pdf_seal_core::pdf::{Document, form};
use pdf_seal_core::signer::{DigestAlgorithm, DocumentDigest, Signer, SignerError};
use pdf_seal_core::{SealOptions, seal};
use x509_cert::Certificate;

/// Returns a fixed DER blob; enough to lay out and re-read the update.
struct BlobSigner;

#[async_trait]
impl Signer for BlobSigner {
    fn estimated_cms_len(&self, _: DigestAlgorithm) -> usize {
        64
    }

    async fn sign(&self, _: &DocumentDigest) -> Result<Vec<u8>, SignerError> {
        Ok(vec![0x30; 100])
    }

    fn certificates(&self) -> &[Certificate] {
        &[]
    }
}

fn corpus() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/corpus")
}

#[tokio::test]
async fn corpus_files_are_updated_or_refused_with_a_cause() {
    let manifest = std::fs::read_to_string(corpus().join("MANIFEST.tsv")).expect("the corpus");
    let mut failures = Vec::new();
    let mut sealed = 0;
    for line in manifest.lines().skip(1) {
        let columns: Vec<&str> = line.split('\t').collect();
        let (file, expect) = (columns[0], columns[6]);
        if expect == "anchor" {
            continue;
        }
        let input = std::fs::read(corpus().join(file)).unwrap();
        match seal(&input[..], &SealOptions::default(), &BlobSigner).await {
            Ok(result) => {
                let mut output = input.clone();
                output.extend_from_slice(&result.increment);
                let mut doc = match Document::open(&output[..]) {
                    Ok(doc) => doc,
                    Err(error) => {
                        failures.push(format!("{file}: output does not reopen: {error}"));
                        continue;
                    }
                };
                if doc.recovered() {
                    failures.push(format!("{file}: output needs recovery"));
                }
                let fields = form::choose_field(&mut doc, Some(&result.field_name)).unwrap();
                if fields.is_ok() {
                    failures.push(format!(
                        "{file}: the new field {} is not found",
                        result.field_name
                    ));
                }
                let path = std::env::temp_dir().join(format!("structure-{file}"));
                std::fs::write(&path, &output).unwrap();
                let check = Command::new("qpdf")
                    .arg("--check")
                    .arg(&path)
                    .output()
                    .unwrap();
                let original = Command::new("qpdf")
                    .arg("--check")
                    .arg(corpus().join(file))
                    .output()
                    .unwrap();
                let code = check.status.code();
                if !matches!(code, Some(0 | 3)) && code != original.status.code() {
                    failures.push(format!(
                        "{file}: qpdf {code:?}: {}",
                        String::from_utf8_lossy(&check.stdout)
                    ));
                }
                sealed += 1;
                eprintln!("{file}: sealed ({expect}) qpdf {code:?}");
            }
            Err(error) => {
                eprintln!("{file}: refused ({expect}): {error}");
                if expect == "seal" && !error.to_string().contains("encrypted") {
                    failures.push(format!("{file}: refused: {error}"));
                }
            }
        }
    }
    eprintln!("{sealed} sealed");
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// Damaged copies of corpus files: cut at many offsets, or with bytes changed at random places
/// (a fixed-seed generator, so a failure reproduces). Each must be sealed or refused, quickly,
/// without a panic.
#[tokio::test]
async fn damaged_files_are_sealed_or_refused_never_a_panic_or_a_hang() {
    let files = [
        "ph__minimal-two-fields-signed-twice.pdf",
        "pypdf__git.pdf",
        "qpdf__hybrid-xref.pdf",
        "pk__form.pdf",
    ];
    let mut state = 0x2545_f491_4f6c_dd1d_u64;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    let mut tried = 0;
    for file in files {
        let input = std::fs::read(corpus().join(file)).unwrap();
        let mut variants: Vec<(String, Vec<u8>)> = (1..input.len())
            .step_by(97)
            .map(|cut| (format!("cut at {cut}"), input[..cut].to_vec()))
            .collect();
        for round in 0..1000 {
            let mut damaged = input.clone();
            for _ in 0..1 + round % 4 {
                let at = (next() % damaged.len() as u64) as usize;
                damaged[at] = next() as u8;
            }
            variants.push((format!("flip round {round}"), damaged));
        }
        for (what, bytes) in variants {
            let started = std::time::Instant::now();
            let result = seal(&bytes[..], &SealOptions::default(), &BlobSigner).await;
            let elapsed = started.elapsed();
            assert!(elapsed.as_secs() < 2, "{file} {what}: {elapsed:?}");
            if let Ok(sealed) = result {
                let output = [&bytes[..], &sealed.increment].concat();
                let reopened = Document::open(&output[..]);
                assert!(
                    reopened.is_ok(),
                    "{file} {what}: the output does not reopen"
                );
            }
            tried += 1;
        }
    }
    eprintln!("{tried} damaged variants");
}
