//! Tests of the CMS builder: the structure read back with the cms types, the signature checked
//! with the Rust verifiers, and the whole container judged by `openssl cms -verify`.

mod estimate;
mod openssl_verify;
mod structure;
mod timestamp;

use cms::content_info::ContentInfo;
use cms::signed_data::SignedData;
use der::Decode;

use super::CadesSigner;
use crate::signer::local::LocalSigner;
use crate::signer::local::testing::OpenSsl;
use crate::signer::{DigestAlgorithm, DocumentDigest, Signer};

/// The document bytes the tests sign, standing in for the PDF byte ranges.
const DOCUMENT: &[u8] = b"%PDF-1.7 stand-in for the byte ranges of a document to seal";

/// A CMS signer over the `leaf.key` and `chain.pem` made by [`OpenSsl::chain`].
fn cades_signer(ssl: &OpenSsl) -> CadesSigner<LocalSigner> {
    let signer = LocalSigner::from_pem(&ssl.read("leaf.key"), &ssl.read("chain.pem"), None);
    CadesSigner::new(signer.expect("the openssl chain loads"))
}

fn document_digest(algorithm: DigestAlgorithm) -> DocumentDigest {
    DocumentDigest {
        algorithm,
        value: algorithm.digest(DOCUMENT),
    }
}

/// Signs [`DOCUMENT`] with `signer`.
async fn sign_document(signer: &dyn Signer, algorithm: DigestAlgorithm) -> Vec<u8> {
    signer
        .sign(&document_digest(algorithm))
        .await
        .expect("signing works")
}

/// The SignedData inside a DER ContentInfo.
fn signed_data(cms: &[u8]) -> SignedData {
    let content_info = ContentInfo::from_der(cms).expect("a DER ContentInfo");
    assert_eq!(content_info.content_type, super::oids::ID_SIGNED_DATA);
    content_info.content.decode_as().expect("a DER SignedData")
}
