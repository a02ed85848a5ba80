//! Signatures of every key type and padding, checked with the Rust verifiers, and the
//! algorithm identifiers written next to them.

use der::Encode;

use super::super::testing::{KeyKind, OpenSsl, verify_signature};
use super::super::{LocalSigner, RsaPadding};
use super::load_chain;
use crate::signer::{DigestAlgorithm, RawSigner, SignerError};

const DIGESTS: [DigestAlgorithm; 3] = [
    DigestAlgorithm::Sha256,
    DigestAlgorithm::Sha384,
    DigestAlgorithm::Sha512,
];

/// Signs a hash with every digest and checks each signature with the certificate's key.
async fn signs_and_verifies(signer: &LocalSigner) {
    for digest in DIGESTS {
        let hash = digest.digest(b"signed attributes stand-in");
        let algorithm = signer.signature_algorithm(digest).unwrap();

        let signature = signer.sign_hash(digest, &hash).await.unwrap();

        assert!(signature.len() <= signer.max_signature_len(), "{digest}");
        let certificate = &signer.certificates()[0];
        verify_signature(certificate, &algorithm, digest, &hash, &signature)
            .unwrap_or_else(|e| panic!("{digest}: {e}"));
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[tokio::test]
async fn rsa_pkcs1v15_signatures_verify_for_every_digest() {
    let ssl = OpenSsl::new();
    ssl.chain(KeyKind::Rsa(2048));

    signs_and_verifies(&load_chain(&ssl)).await;
}

#[tokio::test]
async fn rsa_pss_signatures_verify_for_every_digest() {
    let ssl = OpenSsl::new();
    ssl.chain(KeyKind::Rsa(3072));

    signs_and_verifies(&load_chain(&ssl).with_rsa_padding(RsaPadding::Pss)).await;
}

#[tokio::test]
async fn p256_signatures_verify_for_every_digest_including_longer_ones() {
    let ssl = OpenSsl::new();
    ssl.chain(KeyKind::P256);

    signs_and_verifies(&load_chain(&ssl)).await;
}

#[tokio::test]
async fn p384_signatures_verify_for_every_digest() {
    let ssl = OpenSsl::new();
    ssl.chain(KeyKind::P384);

    signs_and_verifies(&load_chain(&ssl)).await;
}

#[tokio::test]
async fn hash_of_the_wrong_length_is_refused() {
    let ssl = OpenSsl::new();
    ssl.chain(KeyKind::P256);

    let result = load_chain(&ssl)
        .sign_hash(DigestAlgorithm::Sha384, &[0; 32])
        .await;

    assert!(matches!(result, Err(SignerError::Failed(_))), "{result:?}");
}

#[test]
fn rsa_pkcs1v15_identifiers_carry_null_parameters() {
    let ssl = OpenSsl::new();
    ssl.chain(KeyKind::Rsa(2048));
    let signer = load_chain(&ssl);

    let encoded = |digest| {
        hex(&signer
            .signature_algorithm(digest)
            .unwrap()
            .to_der()
            .unwrap())
    };

    assert_eq!(
        encoded(DigestAlgorithm::Sha256),
        "300d06092a864886f70d01010b0500"
    );
    assert_eq!(
        encoded(DigestAlgorithm::Sha384),
        "300d06092a864886f70d01010c0500"
    );
    assert_eq!(
        encoded(DigestAlgorithm::Sha512),
        "300d06092a864886f70d01010d0500"
    );
}

#[test]
fn rsa_pss_identifier_names_hash_mgf1_and_salt_length() {
    let ssl = OpenSsl::new();
    ssl.chain(KeyKind::Rsa(2048));
    let signer = load_chain(&ssl).with_rsa_padding(RsaPadding::Pss);

    let algorithm = signer.signature_algorithm(DigestAlgorithm::Sha256).unwrap();

    // id-RSASSA-PSS, [0] sha256 NULL, [1] mgf1 (sha256 NULL), [2] saltLength 32.
    let expected = "304106092a864886f70d01010a3034a00f300d06096086480165030402010500a11c301a06092a\
                    864886f70d010108300d06096086480165030402010500a203020120";
    assert_eq!(hex(&algorithm.to_der().unwrap()), expected);
}

#[test]
fn ecdsa_identifiers_have_no_parameters() {
    let ssl = OpenSsl::new();
    ssl.chain(KeyKind::P256);
    let signer = load_chain(&ssl);

    let encoded = |digest| {
        hex(&signer
            .signature_algorithm(digest)
            .unwrap()
            .to_der()
            .unwrap())
    };

    assert_eq!(encoded(DigestAlgorithm::Sha256), "300a06082a8648ce3d040302");
    assert_eq!(encoded(DigestAlgorithm::Sha384), "300a06082a8648ce3d040303");
    assert_eq!(encoded(DigestAlgorithm::Sha512), "300a06082a8648ce3d040304");
}

#[test]
fn debug_output_shows_subject_and_algorithm_but_not_the_key() {
    let ssl = OpenSsl::new();
    ssl.chain(KeyKind::Rsa(2048));
    let signer = load_chain(&ssl).with_rsa_padding(RsaPadding::Pss);

    let debug = format!("{signer:?}");

    let expected = concat!(
        "LocalSigner { subject: \"CN=leaf,O=pdf-seal tests\", ",
        "algorithm: \"RSA 2048 bits PSS\", .. }"
    );
    assert_eq!(debug, expected);
}
