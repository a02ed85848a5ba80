//! An independent judge: `openssl cms -verify` checks the detached CMS against the data, the
//! chain up to the test root, the content-type and message-digest attributes and the signature
//! over the signed attributes.

use super::super::CadesSigner;
use super::super::ess::SigningCertificateV2;
use super::super::oids::ID_AA_SIGNING_CERTIFICATE_V2;
use super::{DOCUMENT, cades_signer, sign_document, signed_data};
use crate::signer::DigestAlgorithm;
use crate::signer::local::RsaPadding;
use crate::signer::local::testing::{KeyKind, OpenSsl};

/// Makes a chain with a `kind` leaf, seals [`DOCUMENT`] and asks openssl to verify it.
async fn openssl_accepts(kind: KeyKind, padding: RsaPadding, algorithm: DigestAlgorithm) {
    let ssl = OpenSsl::new();
    ssl.chain(kind);
    let signer = CadesSigner::new(cades_signer(&ssl).into_raw().with_rsa_padding(padding));

    let cms = sign_document(&signer, algorithm).await;

    ssl.verify_cms(&cms, DOCUMENT)
        .unwrap_or_else(|e| panic!("{kind:?} {padding:?} {algorithm}: openssl refused:\n{e}"));
}

#[tokio::test]
async fn openssl_verifies_rsa_2048_pkcs1v15_with_sha256() {
    openssl_accepts(
        KeyKind::Rsa(2048),
        RsaPadding::Pkcs1v15,
        DigestAlgorithm::Sha256,
    )
    .await;
}

#[tokio::test]
async fn openssl_verifies_rsa_3072_pss_with_sha384() {
    openssl_accepts(KeyKind::Rsa(3072), RsaPadding::Pss, DigestAlgorithm::Sha384).await;
}

#[tokio::test]
async fn openssl_verifies_rsa_4096_pkcs1v15_with_sha512() {
    openssl_accepts(
        KeyKind::Rsa(4096),
        RsaPadding::Pkcs1v15,
        DigestAlgorithm::Sha512,
    )
    .await;
}

#[tokio::test]
async fn openssl_verifies_p256_with_sha256() {
    openssl_accepts(
        KeyKind::P256,
        RsaPadding::default(),
        DigestAlgorithm::Sha256,
    )
    .await;
}

#[tokio::test]
async fn openssl_verifies_p256_with_sha512_truncated_to_the_curve() {
    openssl_accepts(
        KeyKind::P256,
        RsaPadding::default(),
        DigestAlgorithm::Sha512,
    )
    .await;
}

#[tokio::test]
async fn openssl_verifies_p384_with_sha384() {
    openssl_accepts(
        KeyKind::P384,
        RsaPadding::default(),
        DigestAlgorithm::Sha384,
    )
    .await;
}

#[tokio::test]
async fn openssl_refuses_the_seal_over_altered_content() {
    let ssl = OpenSsl::new();
    ssl.chain(KeyKind::P256);
    let cms = sign_document(&cades_signer(&ssl), DigestAlgorithm::Sha256).await;

    let result = ssl.verify_cms(&cms, b"%PDF-1.7 some other document");

    let messages = result.expect_err("altered content must not verify");
    assert!(messages.contains("content verify error"), "{messages}");
}

/// OpenSSL 3.0's `cms -verify` does not check signing-certificate-v2, so the certificate hash
/// in it is compared here with the digest openssl computes over the original certificate file:
/// no re-encoding on our side may change it.
#[tokio::test]
async fn signing_certificate_hash_is_the_openssl_digest_of_the_certificate_file() {
    let ssl = OpenSsl::new();
    ssl.chain(KeyKind::Rsa(2048));
    let signer = cades_signer(&ssl);
    let cms = sign_document(&signer, DigestAlgorithm::Sha384).await;
    ssl.run(&[
        "x509", "-in", "leaf.pem", "-outform", "DER", "-out", "leaf.der",
    ]);

    ssl.run(&[
        "dgst",
        "-sha384",
        "-binary",
        "-out",
        "leaf.sha384",
        "leaf.der",
    ]);

    let info = signed_data(&cms).signer_infos.0.into_vec().remove(0);
    let attributes = info.signed_attrs.expect("signed attributes");
    let attribute = attributes
        .iter()
        .find(|a| a.oid == ID_AA_SIGNING_CERTIFICATE_V2)
        .unwrap();
    let value: SigningCertificateV2 = attribute.values.get(0).unwrap().decode_as().unwrap();
    assert_eq!(value.certs[0].cert_hash.as_bytes(), ssl.read("leaf.sha384"));
}
