//! Loading PEM keys of every accepted encoding, and refusing the others clearly.

use super::super::LocalSigner;
use super::super::testing::{KeyKind, OpenSsl};
use super::{load_chain, signer_subject};
use crate::signer::{RawSigner, SignerError};

fn key_error(result: Result<LocalSigner, SignerError>) -> String {
    match result {
        Ok(signer) => panic!("expected a refusal, got {signer:?}"),
        Err(SignerError::Key(message)) => message,
        Err(other) => panic!("expected a key error, got {other}"),
    }
}

#[test]
fn loads_pkcs8_rsa_key_with_its_chain() {
    let ssl = OpenSsl::new();
    ssl.chain(KeyKind::Rsa(2048));

    let signer = load_chain(&ssl);

    assert_eq!(signer.certificates().len(), 3);
    assert!(signer_subject(&signer).contains("CN=leaf"));
    assert_eq!(signer.max_signature_len(), 256);
}

#[test]
fn loads_pkcs1_rsa_private_key() {
    let ssl = OpenSsl::new();
    ssl.chain(KeyKind::Rsa(3072));
    ssl.run(&[
        "pkey",
        "-in",
        "leaf.key",
        "-traditional",
        "-out",
        "pkcs1.pem",
    ]);
    assert!(
        String::from_utf8(ssl.read("pkcs1.pem"))
            .unwrap()
            .contains("RSA PRIVATE KEY")
    );

    let signer = LocalSigner::from_pem(&ssl.read("pkcs1.pem"), &ssl.read("chain.pem"), None);

    assert_eq!(signer.unwrap().max_signature_len(), 384);
}

#[test]
fn loads_sec1_ec_private_key_after_its_parameters_block() {
    let ssl = OpenSsl::new();
    ssl.root("root", KeyKind::P256);
    // `openssl ecparam -genkey` writes an EC PARAMETERS block, then the EC PRIVATE KEY.
    ssl.run(&[
        "ecparam",
        "-name",
        "secp384r1",
        "-genkey",
        "-out",
        "sec1.pem",
    ]);
    ssl.run(&[
        "pkcs8", "-topk8", "-nocrypt", "-in", "sec1.pem", "-out", "leaf.key",
    ]);
    ssl.run(&[
        "req", "-new", "-config", "pki.cnf", "-key", "leaf.key", "-out", "leaf.csr",
    ]);
    ssl.run(&[
        "x509", "-req", "-in", "leaf.csr", "-CA", "root.pem", "-CAkey", "root.key", "-out",
        "leaf.pem",
    ]);

    let signer = LocalSigner::from_pem(&ssl.read("sec1.pem"), &ssl.read("leaf.pem"), None);

    assert_eq!(signer.unwrap().max_signature_len(), 104);
}

#[test]
fn loads_encrypted_pkcs8_key_with_its_password() {
    let ssl = OpenSsl::new();
    ssl.chain(KeyKind::P256);
    for (cipher, file) in [("aes-256-cbc", "aes.pem"), ("des3", "des3.pem")] {
        ssl.run(&[
            "pkcs8",
            "-topk8",
            "-v2",
            cipher,
            "-in",
            "leaf.key",
            "-passout",
            "pass:s3cret",
            "-out",
            file,
        ]);

        let signer = LocalSigner::from_pem(&ssl.read(file), &ssl.read("chain.pem"), Some("s3cret"));

        assert!(signer.is_ok(), "{cipher}: {:?}", signer.err());
    }
}

#[test]
fn encrypted_key_without_password_is_a_clear_error() {
    let ssl = OpenSsl::new();
    ssl.chain(KeyKind::P256);
    ssl.run(&[
        "pkcs8",
        "-topk8",
        "-in",
        "leaf.key",
        "-passout",
        "pass:s3cret",
        "-out",
        "enc.pem",
    ]);

    let message = key_error(LocalSigner::from_pem(
        &ssl.read("enc.pem"),
        &ssl.read("chain.pem"),
        None,
    ));

    assert!(message.contains("no password"), "{message}");
}

#[test]
fn wrong_key_password_is_a_clear_error() {
    let ssl = OpenSsl::new();
    ssl.chain(KeyKind::P256);
    ssl.run(&[
        "pkcs8",
        "-topk8",
        "-in",
        "leaf.key",
        "-passout",
        "pass:s3cret",
        "-out",
        "enc.pem",
    ]);

    let result = LocalSigner::from_pem(&ssl.read("enc.pem"), &ssl.read("chain.pem"), Some("nope"));

    let message = key_error(result);
    assert!(message.contains("the password is wrong"), "{message}");
}

#[test]
fn pkcs12_style_encryption_of_a_pem_key_is_refused_with_advice() {
    let ssl = OpenSsl::new();
    ssl.chain(KeyKind::P256);
    ssl.run(&[
        "pkcs8",
        "-topk8",
        "-v1",
        "PBE-SHA1-3DES",
        "-in",
        "leaf.key",
        "-passout",
        "pass:s3cret",
        "-out",
        "v1.pem",
    ]);

    let result = LocalSigner::from_pem(&ssl.read("v1.pem"), &ssl.read("chain.pem"), Some("s3cret"));

    let message = key_error(result);
    assert!(
        message.contains("openssl pkcs8 -topk8 -v2 aes-256-cbc"),
        "{message}"
    );
}

#[test]
fn rejects_rsa_key_of_1024_bits() {
    let ssl = OpenSsl::new();
    ssl.root("root", KeyKind::P256);
    ssl.issue("small", KeyKind::Rsa(1024), "root", false);

    let message = key_error(LocalSigner::from_pem(
        &ssl.read("small.key"),
        &ssl.read("small.pem"),
        None,
    ));

    assert!(
        message.contains("RSA keys of 1024 bits are not accepted"),
        "{message}"
    );
}

#[test]
fn accepts_rsa_key_of_4096_bits() {
    let ssl = OpenSsl::new();
    ssl.root("root", KeyKind::P256);
    ssl.issue("big", KeyKind::Rsa(4096), "root", false);

    let signer = LocalSigner::from_pem(&ssl.read("big.key"), &ssl.read("big.pem"), None);

    assert_eq!(signer.unwrap().max_signature_len(), 512);
}

#[test]
fn rejects_ec_key_on_p521_naming_the_curve() {
    let ssl = OpenSsl::new();
    ssl.run(&[
        "genpkey",
        "-algorithm",
        "EC",
        "-pkeyopt",
        "ec_paramgen_curve:P-521",
        "-out",
        "k.pem",
    ]);
    ssl.root("root", KeyKind::P256);

    let message = key_error(LocalSigner::from_pem(
        &ssl.read("k.pem"),
        &ssl.read("root.pem"),
        None,
    ));

    assert!(
        message.contains("1.3.132.0.35 is not supported"),
        "{message}"
    );
}

#[test]
fn rejects_ed25519_key() {
    let ssl = OpenSsl::new();
    ssl.run(&["genpkey", "-algorithm", "ED25519", "-out", "k.pem"]);
    ssl.root("root", KeyKind::P256);

    let message = key_error(LocalSigner::from_pem(
        &ssl.read("k.pem"),
        &ssl.read("root.pem"),
        None,
    ));

    assert!(
        message.contains("1.3.101.112 is not supported"),
        "{message}"
    );
}

#[test]
fn refuses_certificate_that_does_not_match_the_key() {
    let ssl = OpenSsl::new();
    ssl.chain(KeyKind::P256);
    ssl.key("stranger", KeyKind::P256);

    let message = key_error(LocalSigner::from_pem(
        &ssl.read("stranger.key"),
        &ssl.read("leaf.pem"),
        None,
    ));

    assert!(
        message.contains("does not match the private key"),
        "{message}"
    );
}

#[test]
fn refuses_rsa_certificate_for_an_ec_key() {
    let ssl = OpenSsl::new();
    ssl.chain(KeyKind::Rsa(2048));
    ssl.key("stranger", KeyKind::P256);

    let message = key_error(LocalSigner::from_pem(
        &ssl.read("stranger.key"),
        &ssl.read("chain.pem"),
        None,
    ));

    assert!(
        message.contains("none of the 3 certificates matches"),
        "{message}"
    );
}

#[test]
fn key_file_without_a_key_is_a_clear_error() {
    let ssl = OpenSsl::new();
    ssl.chain(KeyKind::P256);

    let message = key_error(LocalSigner::from_pem(
        &ssl.read("chain.pem"),
        &ssl.read("chain.pem"),
        None,
    ));

    assert!(message.contains("holds no private key"), "{message}");
}

#[test]
fn certificate_file_without_certificates_is_a_clear_error() {
    let ssl = OpenSsl::new();
    ssl.key("leaf", KeyKind::P256);

    let message = key_error(LocalSigner::from_pem(
        &ssl.read("leaf.key"),
        b"not pem at all",
        None,
    ));

    assert!(message.contains("no PEM CERTIFICATE block"), "{message}");
}
