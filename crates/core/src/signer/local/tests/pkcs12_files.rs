//! Loading PKCS#12 files written by `openssl pkcs12 -export`, modern and legacy.

use super::super::LocalSigner;
use super::super::testing::{KeyKind, OpenSsl};
use crate::signer::{RawSigner, SignerError};

/// `leaf.p12` from the chain: the key, its certificate, and the CAs with `-certfile`.
fn export(ssl: &OpenSsl, extra: &[&str]) {
    assert!(
        try_export(ssl, extra),
        "openssl pkcs12 -export {extra:?} failed"
    );
}

fn try_export(ssl: &OpenSsl, extra: &[&str]) -> bool {
    let cas = [ssl.read("root.pem"), ssl.read("inter.pem")].concat();
    ssl.write("cas.pem", &cas);
    let mut args = vec![
        "pkcs12",
        "-export",
        "-inkey",
        "leaf.key",
        "-in",
        "leaf.pem",
        "-certfile",
        "cas.pem",
        "-passout",
        "pass:p12-secret",
        "-out",
        "leaf.p12",
    ];
    args.extend_from_slice(extra);
    ssl.try_run(&args).status.success()
}

#[test]
fn loads_modern_pkcs12_file_with_aes_and_sha256_mac() {
    let ssl = OpenSsl::new();
    ssl.chain(KeyKind::Rsa(2048));
    export(&ssl, &[]);

    let signer = LocalSigner::from_pkcs12(&ssl.read("leaf.p12"), "p12-secret").unwrap();

    assert_eq!(signer.certificates().len(), 3);
    assert!(format!("{signer:?}").contains("CN=leaf"));
}

#[test]
fn loads_legacy_pkcs12_file_with_3des_and_rc2() {
    let ssl = OpenSsl::new();
    ssl.chain(KeyKind::P256);
    // `-legacy` (RC2-40 for the certificates, 3DES for the key, SHA-1 MAC) needs OpenSSL's
    // legacy provider; without it the test can only check the 3DES half.
    if !try_export(&ssl, &["-legacy"]) {
        eprintln!("openssl has no legacy provider: testing 3DES only");
        export(
            &ssl,
            &[
                "-certpbe",
                "PBE-SHA1-3DES",
                "-keypbe",
                "PBE-SHA1-3DES",
                "-macalg",
                "sha1",
            ],
        );
    }

    let signer = LocalSigner::from_pkcs12(&ssl.read("leaf.p12"), "p12-secret").unwrap();

    assert_eq!(signer.certificates().len(), 3);
}

#[test]
fn loads_pkcs12_file_with_3des_everywhere() {
    let ssl = OpenSsl::new();
    ssl.chain(KeyKind::P384);
    export(
        &ssl,
        &[
            "-certpbe",
            "PBE-SHA1-3DES",
            "-keypbe",
            "PBE-SHA1-3DES",
            "-macalg",
            "sha1",
        ],
    );

    let signer = LocalSigner::from_pkcs12(&ssl.read("leaf.p12"), "p12-secret").unwrap();

    assert_eq!(signer.max_signature_len(), 104);
}

#[test]
fn wrong_pkcs12_password_is_a_clear_error() {
    let ssl = OpenSsl::new();
    ssl.chain(KeyKind::P256);
    export(&ssl, &[]);

    let error = LocalSigner::from_pkcs12(&ssl.read("leaf.p12"), "wrong").unwrap_err();

    assert!(matches!(error, SignerError::Key(_)), "{error:?}");
    assert!(
        error.to_string().contains("PKCS#12 password is wrong"),
        "{error}"
    );
}

#[test]
fn pkcs12_file_without_a_key_is_a_clear_error() {
    let ssl = OpenSsl::new();
    ssl.chain(KeyKind::P256);
    ssl.run(&[
        "pkcs12",
        "-export",
        "-nokeys",
        "-in",
        "chain.pem",
        "-passout",
        "pass:p12-secret",
        "-out",
        "certs.p12",
    ]);

    let error = LocalSigner::from_pkcs12(&ssl.read("certs.p12"), "p12-secret").unwrap_err();

    assert!(
        error.to_string().contains("holds no private key"),
        "{error}"
    );
}
