//! Development certificates judged by openssl, and loaded by the local signer.

use std::time::UNIX_EPOCH;

use super::*;
use crate::pades::CadesSigner;
use crate::signer::local::LocalSigner;
use crate::signer::local::testing::OpenSsl;
use crate::signer::{DigestAlgorithm, DocumentDigest, RawSigner, Signer};

const ORGANISATION: &str = "Contoso, Ltd. <dev>";

/// Writes `root.pem` and `seal.pem` (the first certificate of the chain) for openssl.
fn write_certificates(ssl: &OpenSsl, credentials: &DevCredentials) {
    ssl.write("root.pem", credentials.root_certificate_pem.as_bytes());
    let end = "-----END CERTIFICATE-----\n";
    let seal_end = credentials.chain_pem.find(end).unwrap() + end.len();
    ssl.write("seal.pem", &credentials.chain_pem.as_bytes()[..seal_end]);
}

fn text_of(ssl: &OpenSsl, file: &str) -> String {
    let output = ssl.run(&["x509", "-in", file, "-noout", "-text"]);
    String::from_utf8(output.stdout).unwrap()
}

fn seconds_from_now(time: &Time) -> i64 {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs();
    time.to_unix_duration().as_secs() as i64 - now as i64
}

#[test]
fn openssl_verifies_the_seal_certificate_against_the_root() {
    let ssl = OpenSsl::new();
    write_certificates(&ssl, &generate(ORGANISATION).unwrap());

    let output = ssl.run(&["verify", "-CAfile", "root.pem", "seal.pem"]);

    assert_eq!(
        String::from_utf8_lossy(&output.stdout).trim(),
        "seal.pem: OK"
    );
}

#[test]
fn openssl_shows_the_key_usages_and_constraints() {
    let ssl = OpenSsl::new();
    write_certificates(&ssl, &generate(ORGANISATION).unwrap());

    let seal = text_of(&ssl, "seal.pem");
    let root = text_of(&ssl, "root.pem");

    for text in [&seal, &root] {
        assert!(text.contains("X509v3 Key Usage: critical"), "{text}");
        assert!(
            text.contains("X509v3 Basic Constraints: critical"),
            "{text}"
        );
        assert!(text.contains("X509v3 Subject Key Identifier"), "{text}");
        assert!(text.contains("X509v3 Authority Key Identifier"), "{text}");
        assert!(text.contains("ASN1 OID: prime256v1"), "{text}");
        assert!(!text.contains("Extended Key Usage"), "{text}");
    }
    assert!(
        seal.contains("Digital Signature, Non Repudiation\n"),
        "{seal}"
    );
    assert!(seal.contains("CA:FALSE"), "{seal}");
    assert!(root.contains("Certificate Sign, CRL Sign\n"), "{root}");
    assert!(root.contains("CA:TRUE"), "{root}");
}

#[test]
fn subjects_say_they_are_for_development_only() {
    let credentials = generate(ORGANISATION).unwrap();

    let chain = Certificate::load_pem_chain(credentials.chain_pem.as_bytes()).unwrap();

    let [seal, root] = chain.as_slice() else {
        panic!("the chain holds the seal and the root certificates");
    };
    let seal_subject = seal.tbs_certificate().subject().to_string();
    assert!(seal_subject.contains(SEAL_COMMON_NAME), "{seal_subject}");
    assert!(
        seal_subject.contains("O=Contoso\\, Ltd. \\<dev\\>"),
        "{seal_subject}"
    );
    assert_eq!(
        seal.tbs_certificate().issuer(),
        root.tbs_certificate().subject()
    );
    let root_subject = root.tbs_certificate().subject().to_string();
    assert!(root_subject.contains(ROOT_COMMON_NAME), "{root_subject}");
}

#[test]
fn validity_starts_an_hour_ago_and_lasts_three_and_ten_years() {
    let credentials = generate(ORGANISATION).unwrap();

    let chain = Certificate::load_pem_chain(credentials.chain_pem.as_bytes()).unwrap();

    let year = 365 * 24 * 3600;
    for (certificate, years) in chain.iter().zip([3, 10]) {
        let validity = certificate.tbs_certificate().validity();
        let start = seconds_from_now(&validity.not_before);
        assert!(
            (-3660..=-3540).contains(&start),
            "starts {start} s from now"
        );
        let end = seconds_from_now(&validity.not_after);
        assert!(
            (years * year..(years + 1) * year).contains(&end),
            "ends {end} s from now"
        );
    }
}

#[test]
fn serial_numbers_are_positive_random_and_16_bytes_long() {
    let first = generate(ORGANISATION).unwrap();
    let second = generate(ORGANISATION).unwrap();

    let serials: Vec<Vec<u8>> = [first.chain_pem, second.chain_pem]
        .iter()
        .flat_map(|pem| Certificate::load_pem_chain(pem.as_bytes()).unwrap())
        .map(|c| c.tbs_certificate().serial_number().as_bytes().to_vec())
        .collect();

    for serial in &serials {
        assert_eq!(serial.len(), 16, "{serial:02x?}");
        assert!(serial[0] & 0x80 == 0 && serial[0] != 0, "{serial:02x?}");
    }
    assert!(
        serials
            .iter()
            .enumerate()
            .all(|(i, s)| !serials[..i].contains(s))
    );
}

#[test]
fn empty_organisation_is_refused() {
    let error = generate("  ").err().unwrap();

    assert!(error.to_string().contains("1 to 64 characters"), "{error}");
}

#[tokio::test]
async fn local_signer_loads_the_credentials_and_seals_what_openssl_verifies() {
    let ssl = OpenSsl::new();
    let credentials = generate(ORGANISATION).unwrap();
    write_certificates(&ssl, &credentials);
    let key = credentials.key_pem.as_bytes();
    let signer = LocalSigner::from_pem(key, credentials.chain_pem.as_bytes(), None).unwrap();
    assert_eq!(signer.certificates().len(), 2);
    assert!(format!("{signer:?}").contains("ECDSA P-256"));
    let data = b"a development seal";
    let digest = DocumentDigest {
        algorithm: DigestAlgorithm::Sha256,
        value: DigestAlgorithm::Sha256.digest(data),
    };

    let cms = CadesSigner::new(signer).sign(&digest).await.unwrap();

    ssl.verify_cms(&cms, data).unwrap();
}
