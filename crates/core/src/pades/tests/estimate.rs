//! The dry run that sizes the /Contents placeholder.

use super::super::FALLBACK_CMS_LEN;
use super::{cades_signer, sign_document};
use crate::signer::local::testing::{KeyKind, OpenSsl};
use crate::signer::{DigestAlgorithm, Signer};

const DIGESTS: [DigestAlgorithm; 3] = [
    DigestAlgorithm::Sha256,
    DigestAlgorithm::Sha384,
    DigestAlgorithm::Sha512,
];

#[tokio::test]
async fn rsa_estimate_is_the_exact_length() {
    let ssl = OpenSsl::new();
    ssl.chain(KeyKind::Rsa(2048));
    let signer = cades_signer(&ssl);

    for algorithm in DIGESTS {
        let estimate = signer.estimated_cms_len(algorithm);

        let cms = sign_document(&signer, algorithm).await;

        assert_eq!(estimate, cms.len(), "{algorithm}");
    }
}

#[tokio::test]
async fn ecdsa_estimate_is_never_short_and_at_most_a_few_bytes_long() {
    let ssl = OpenSsl::new();
    for kind in [KeyKind::P256, KeyKind::P384] {
        ssl.chain(kind);
        let signer = cades_signer(&ssl);

        for algorithm in DIGESTS {
            let estimate = signer.estimated_cms_len(algorithm);

            let cms = sign_document(&signer, algorithm).await;

            // The integers r and s lose a byte when their high byte is small: rarely more than
            // one byte each, so a few bytes in all.
            assert!(estimate >= cms.len(), "{kind:?} {algorithm}");
            assert!(estimate - cms.len() <= 6, "{kind:?} {algorithm}");
        }
    }
}

#[test]
fn estimate_grows_with_the_chain() {
    let ssl = OpenSsl::new();
    ssl.chain(KeyKind::P256);
    let with_chain = cades_signer(&ssl).estimated_cms_len(DigestAlgorithm::Sha256);
    ssl.write("chain.pem", &ssl.read("leaf.pem"));

    let alone = cades_signer(&ssl).estimated_cms_len(DigestAlgorithm::Sha256);

    let intermediate_and_root = ssl.read("inter.pem").len() + ssl.read("root.pem").len();
    assert!(with_chain > alone, "{with_chain} > {alone}");
    assert!(
        with_chain - alone < intermediate_and_root,
        "DER is smaller than PEM"
    );
    assert!(with_chain < FALLBACK_CMS_LEN);
}
