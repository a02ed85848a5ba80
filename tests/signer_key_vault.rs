//! The Azure Key Vault key backend end to end: the real `pdf-seal` binary with
//! `PDF_SEAL_SIGNER=azure-key-vault`, the official SDK, and a vault URL
//! `https://NAME.vault.azure.net` that `PDF_SEAL_KEY_VAULT_CONNECT_TO` sends to the loopback
//! stand-in (tests/support/key_vault.rs). TLS checks the vault's host name against the test
//! CA, which the binary trusts through `SSL_CERT_FILE`; the token comes from the real
//! `azure-cli` credential running a fake `az` (tests/support/key_vault_fixture.rs).
//!
//! The seals are judged by validate-pdf (pyHanko, pdfsig, qpdf) with the test root trusted.

mod support;

use std::fs;
use std::path::Path;
use std::time::{Duration, Instant};

use support::egress::assert_only_digests;
use support::key_vault::{KEY_VERSION, Mode};
use support::key_vault_fixture::{
    SCOPE, TOKEN, VAULT, Vault, describe, key_and_certificate, pairs, sample,
};
use support::process;
use support::server::Server;
use support::validators::Validators;

/// Seals with `key` and checks the result with validate-pdf, trusting the test root, and the
/// signature algorithm that pyHanko reads.
fn seal_and_validate(
    vault: &Vault,
    validators: &Validators,
    key: &str,
    extra_env: &[(&str, &str)],
    args: &[&str],
) {
    let out = format!("{key}-{}.pdf", extra_env.len());
    let owned = key_and_certificate(key);
    let mut env = pairs(&owned);
    env.extend_from_slice(extra_env);

    let sealed = vault.seal(&out, &env, args);

    assert_eq!(sealed.code(), Some(0), "{}", describe(&sealed));
    let verdict = validators.validate(&vault.path(&out), &sample(), &[&vault.path("root.pem")]);
    assert!(verdict.passed, "{key}: {}", verdict.report);
    assert_eq!(verdict.signatures.len(), 1, "{}", verdict.report);
}

#[test]
fn rsa_pkcs1_pss_and_ecdsa_keys_seal_files_that_validate() {
    let vault = Vault::start();
    let validators = Validators::find();

    seal_and_validate(&vault, &validators, "rsa", &[], &[]);
    seal_and_validate(
        &vault,
        &validators,
        "rsa",
        &[("PDF_SEAL_RSA_PADDING", "pss")],
        &[],
    );
    seal_and_validate(&vault, &validators, "p256", &[], &[]);
    // No --digest: a P-384 key's seals are SHA-384 by default, the one hash ES384 signs.
    seal_and_validate(&vault, &validators, "p384", &[], &[]);

    let signs: Vec<String> = vault
        .stand_in
        .requests()
        .iter()
        .filter(|r| r.authorized && r.target.contains("/sign?"))
        .map(|r| {
            let body: serde_json::Value = serde_json::from_slice(&r.body).unwrap();
            body["alg"].as_str().unwrap().to_string()
        })
        .collect();
    assert_eq!(signs, ["RS256", "PS256", "ES256", "ES384"]);
    let asked = fs::read_to_string(vault.path("az-args")).unwrap();
    assert!(asked.contains(SCOPE), "az was asked: {asked}");
}

#[test]
fn the_chain_comes_from_a_pem_file_with_or_without_the_certificate() {
    let vault = Vault::start();
    let validators = Validators::find();
    let bundle = vault.path("rsa-bundle.pem");
    let leaf = fs::read_to_string(vault.path("rsa.pem")).unwrap();
    let root = fs::read_to_string(vault.path("root.pem")).unwrap();
    fs::write(&bundle, format!("{root}{leaf}")).unwrap();
    let issuers = vault.path("issuers.pem");
    fs::write(&issuers, &root).unwrap();

    let pinned = format!("rsa/{KEY_VERSION}");
    let pinned_certificate = format!("p256-cert/{KEY_VERSION}");
    let from_file = vault.seal(
        "from-file.pdf",
        &[
            ("PDF_SEAL_KEY_VAULT_KEY", pinned.as_str()),
            ("PDF_SEAL_KEY_VAULT_CHAIN", bundle.to_str().unwrap()),
        ],
        &[],
    );
    let with_issuers = vault.seal(
        "with-issuers.pdf",
        &[
            ("PDF_SEAL_KEY_VAULT_KEY", "p256"),
            (
                "PDF_SEAL_KEY_VAULT_CERTIFICATE",
                pinned_certificate.as_str(),
            ),
            ("PDF_SEAL_KEY_VAULT_CHAIN", issuers.to_str().unwrap()),
        ],
        &[],
    );

    for (finished, out) in [
        (from_file, "from-file.pdf"),
        (with_issuers, "with-issuers.pdf"),
    ] {
        assert_eq!(finished.code(), Some(0), "{}", describe(&finished));
        let verdict = validators.validate(&vault.path(out), &sample(), &[&vault.path("root.pem")]);
        assert!(verdict.passed, "{out}: {}", verdict.report);
        // The root went into the CMS after the seal certificate: two certificates.
        let cms = certificates_in(&vault.path(out));
        assert_eq!(cms, 2, "{out}");
    }
    let requests = vault.stand_in.requests();
    let certificate_reads = requests
        .iter()
        .filter(|r| r.authorized && r.target.starts_with("/certificates/"))
        .count();
    assert_eq!(
        certificate_reads, 1,
        "only the second seal reads a certificate"
    );
    let pinned_read = format!("/keys/rsa/{KEY_VERSION}?");
    assert!(
        requests
            .iter()
            .any(|r| r.authorized && r.target.starts_with(&pinned_read)),
        "the version given is read"
    );
}

/// The number of certificates in the CMS of the newest signature, by pyHanko.
fn certificates_in(file: &Path) -> usize {
    let validators = Validators::find();
    let script = "import sys\n\
        from pyhanko.pdf_utils.reader import PdfFileReader\n\
        r = PdfFileReader(open(sys.argv[1], 'rb'))\n\
        s = r.embedded_signatures[-1]\n\
        print(len(s.signed_data['certificates']))\n";
    let mut command = validators.python_command(&["-c", script]);
    command.arg(file);
    let ran = process::run(&mut command, Duration::from_secs(60));
    ran.stdout_text()
        .trim()
        .parse()
        .unwrap_or_else(|_| panic!("{}", ran.stderr_text()))
}

#[test]
fn start_up_refuses_a_wrong_key_or_vault_naming_the_setting() {
    let vault = Vault::start();

    let unknown = vault.seal(
        "x.pdf",
        &pairs(&[
            ("PDF_SEAL_KEY_VAULT_KEY", "missing".into()),
            ("PDF_SEAL_KEY_VAULT_CERTIFICATE", "rsa-cert".into()),
        ]),
        &[],
    );
    let mismatch = vault.seal(
        "x.pdf",
        &pairs(&[
            ("PDF_SEAL_KEY_VAULT_KEY", "other".into()),
            ("PDF_SEAL_KEY_VAULT_CERTIFICATE", "rsa-cert".into()),
        ]),
        &[],
    );
    let no_certificate = vault.seal("x.pdf", &pairs(&key_and_certificate("rsa"))[..1], &[]);
    let rsa_key = fs::read(vault.path("rsa.key")).unwrap();
    let rsa_cert = fs::read(vault.path("rsa.pem")).unwrap();
    vault
        .stand_in
        .add_key("encrypt-only", &rsa_key, &rsa_cert, &["encrypt", "decrypt"]);
    let may_not_sign = vault.seal(
        "x.pdf",
        &pairs(&[
            ("PDF_SEAL_KEY_VAULT_KEY", "encrypt-only".into()),
            ("PDF_SEAL_KEY_VAULT_CERTIFICATE", "rsa-cert".into()),
        ]),
        &[],
    );

    for (finished, variable, words) in [
        (&unknown, "PDF_SEAL_KEY_VAULT_KEY", "KeyNotFound"),
        (
            &mismatch,
            "PDF_SEAL_KEY_VAULT_CERTIFICATE",
            "public key differs",
        ),
        (&no_certificate, "PDF_SEAL_KEY_VAULT_CERTIFICATE", "missing"),
        (&may_not_sign, "PDF_SEAL_KEY_VAULT_KEY", "may not sign"),
    ] {
        let stderr = finished.stderr_text();
        assert_eq!(finished.code(), Some(2), "{}", describe(finished));
        assert!(
            stderr.contains(variable) && stderr.contains(words),
            "{stderr}"
        );
        assert!(!stderr.contains(TOKEN), "{stderr}");
    }
    assert!(!vault.path("x.pdf").exists());
}

#[test]
fn an_unreachable_or_hanging_vault_fails_the_start_in_bounded_time() {
    let vault = Vault::start();
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let closed_address = closed.local_addr().unwrap().to_string();
    drop(closed);
    let env = key_and_certificate("rsa");

    let started = Instant::now();
    let mut unreachable = vault.command(&pairs(&env));
    unreachable
        .env("PDF_SEAL_KEY_VAULT_CONNECT_TO", &closed_address)
        .arg("seal")
        .arg(sample())
        .arg("-o")
        .arg(vault.path("x.pdf"));
    let refused = process::run(&mut unreachable, Duration::from_secs(60));
    let refused_after = started.elapsed();

    vault.stand_in.set_mode(Mode::Hang);
    let started = Instant::now();
    let mut env = pairs(&env);
    env.push(("PDF_SEAL_KEY_VAULT_TIMEOUT_SECS", "2"));
    let hung = vault.seal("x.pdf", &env, &[]);
    let hung_after = started.elapsed();

    for (finished, after) in [(&refused, refused_after), (&hung, hung_after)] {
        let stderr = finished.stderr_text();
        assert_eq!(finished.code(), Some(2), "{}", describe(finished));
        assert!(stderr.contains("PDF_SEAL_KEY_VAULT_KEY"), "{stderr}");
        assert!(after < Duration::from_secs(30), "took {after:?}");
    }
    assert!(
        refused.stderr_text().contains("could not be reached"),
        "{}",
        refused.stderr_text()
    );
}

#[test]
fn only_the_hash_of_the_signed_attributes_leaves_for_the_vault() {
    let vault = Vault::start();

    let sealed = vault.seal("egress.pdf", &pairs(&key_and_certificate("p256")), &[]);

    assert_eq!(sealed.code(), Some(0), "{}", describe(&sealed));
    let requests = vault.stand_in.requests();
    let raw: Vec<Vec<u8>> = requests.iter().map(|r| r.raw.clone()).collect();
    assert_only_digests("Key Vault", &raw, &fs::read(sample()).unwrap());

    // The protocol as the real service sees it: first a request without a token (and without
    // its body), then the key, the certificate and one signature with the token.
    let first = &requests[0];
    assert!(!first.authorized && first.body.is_empty(), "{first:?}");
    let authorized: Vec<(&str, &str)> = requests
        .iter()
        .filter(|r| r.authorized)
        .map(|r| (r.method.as_str(), r.target.split('?').next().unwrap()))
        .collect();
    assert!(
        authorized.contains(&("GET", "/keys/p256/")),
        "{authorized:?}"
    );
    assert!(
        authorized.contains(&("GET", "/certificates/p256-cert")),
        "{authorized:?}"
    );
    let signs: Vec<_> = requests
        .iter()
        .filter(|r| r.authorized && r.target.contains("/sign?"))
        .collect();
    assert_eq!(signs.len(), 1, "{authorized:?}");
    let body: serde_json::Value = serde_json::from_slice(&signs[0].body).unwrap();
    assert_eq!(body["alg"], "ES256");
    assert_eq!(
        body["value"].as_str().unwrap().len(),
        43,
        "a base64url SHA-256"
    );
}

#[test]
fn a_p384_key_asked_for_a_sha256_seal_says_to_use_sha384() {
    let vault = Vault::start();

    let refused = vault.seal(
        "x.pdf",
        &pairs(&key_and_certificate("p384")),
        &["--digest", "sha256"],
    );

    // The caller's choice cannot be honoured: a refusal (exit 2), not a failure.
    assert_eq!(refused.code(), Some(2), "{}", describe(&refused));
    let stderr = refused.stderr_text();
    assert!(stderr.contains("sha384"), "{stderr}");
    assert!(!vault.path("x.pdf").exists());
    let signs = vault
        .stand_in
        .requests()
        .iter()
        .filter(|r| r.target.contains("/sign"))
        .count();
    assert_eq!(signs, 0, "nothing is sent that Key Vault would refuse");
}

#[test]
fn a_signature_over_another_hash_is_refused_and_nothing_is_written() {
    let vault = Vault::start();
    vault.stand_in.set_mode(Mode::SignOtherHash);

    let refused = vault.seal("x.pdf", &pairs(&key_and_certificate("rsa")), &[]);

    assert_eq!(refused.code(), Some(1), "{}", describe(&refused));
    let stderr = refused.stderr_text();
    assert!(stderr.contains("does not verify"), "{stderr}");
    assert!(!vault.path("x.pdf").exists());
}

#[test]
fn an_oversized_answer_is_refused_without_reading_it_all() {
    let vault = Vault::start();
    vault.stand_in.set_mode(Mode::HugeSignAnswer);

    let refused = vault.seal("x.pdf", &pairs(&key_and_certificate("rsa")), &[]);

    assert_eq!(refused.code(), Some(1), "{}", describe(&refused));
    let stderr = refused.stderr_text();
    assert!(stderr.contains("larger than 1048576 bytes"), "{stderr}");
    assert!(!vault.path("x.pdf").exists());
}

/// The stand-in itself refuses what Key Vault refuses, so that the tests above prove something
/// about the client: no `api-version`, no token, a wrong token, an unknown key, an algorithm
/// the key cannot sign with, and a digest of the wrong length.
#[test]
fn the_stand_in_refuses_what_key_vault_refuses() {
    let vault = Vault::start();
    let root = reqwest::Certificate::from_pem(&fs::read(vault.path("root.pem")).unwrap()).unwrap();
    let host = format!("{VAULT}.vault.azure.net");
    let client = reqwest::Client::builder()
        .tls_certs_only([root])
        .resolve(&host, vault.stand_in.address)
        .build()
        .unwrap();
    let base = format!("https://{host}");
    let sign = format!("{base}/keys/p256/{KEY_VERSION}/sign?api-version=7.5");
    let bearer = format!("Bearer {TOKEN}");
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let call = |method: reqwest::Method,
                url: &str,
                token: Option<&str>,
                body: Option<serde_json::Value>| {
        runtime.block_on(async {
            let mut request = client.request(method, url);
            if let Some(token) = token {
                request = request.header("authorization", token);
            }
            if let Some(body) = body {
                request = request.json(&body);
            }
            let response = request.send().await.unwrap();
            let status = response.status().as_u16();
            let challenge = response
                .headers()
                .get("www-authenticate")
                .map(|v| v.to_str().unwrap().to_string());
            let body: serde_json::Value = response.json().await.unwrap();
            (status, challenge, body)
        })
    };
    let get = reqwest::Method::GET;
    let post = reqwest::Method::POST;
    let digest = |len: usize| {
        base64::Engine::encode(
            &base64::engine::general_purpose::URL_SAFE_NO_PAD,
            vec![7u8; len],
        )
    };

    let no_version = call(
        get.clone(),
        &format!("{base}/keys/p256"),
        Some(&bearer),
        None,
    );
    let no_token = call(
        get.clone(),
        &format!("{base}/keys/p256?api-version=7.5"),
        None,
        None,
    );
    let wrong_token = call(
        get.clone(),
        &format!("{base}/keys/p256?api-version=7.5"),
        Some("Bearer x"),
        None,
    );
    let unknown = call(
        get.clone(),
        &format!("{base}/keys/nope?api-version=7.5"),
        Some(&bearer),
        None,
    );
    let wrong_alg = call(
        post.clone(),
        &sign,
        Some(&bearer),
        Some(serde_json::json!({"alg": "RS256", "value": digest(32)})),
    );
    let wrong_len = call(
        post.clone(),
        &sign,
        Some(&bearer),
        Some(serde_json::json!({"alg": "ES256", "value": digest(48)})),
    );
    let right = call(
        post,
        &sign,
        Some(&bearer),
        Some(serde_json::json!({"alg": "ES256", "value": digest(32)})),
    );

    assert_eq!(no_version.0, 400);
    assert_eq!((no_token.0, wrong_token.0), (401, 401));
    let challenge = no_token.1.unwrap();
    assert!(
        challenge.starts_with("Bearer authorization=")
            && challenge.contains("resource=\"https://vault.azure.net\""),
        "{challenge}"
    );
    assert_eq!(
        (unknown.0, unknown.2["error"]["code"].as_str()),
        (404, Some("KeyNotFound"))
    );
    assert_eq!(wrong_alg.0, 400, "{}", wrong_alg.2);
    assert_eq!(wrong_len.0, 400, "{}", wrong_len.2);
    assert!(
        wrong_len.2["error"]["message"]
            .as_str()
            .unwrap()
            .contains("length")
    );
    assert_eq!(right.0, 200, "{}", right.2);
    assert_eq!(
        right.2["value"].as_str().unwrap().len(),
        86,
        "raw r||s of P-256 in base64url"
    );
}

#[test]
fn the_service_seals_with_the_vault_key_and_sends_it_only_the_hash() {
    let vault = Vault::start();
    let owned = key_and_certificate("rsa");
    let mut command = vault.command(&pairs(&owned));
    command
        .env("PDF_SEAL_DATA_DIR", vault.path("data"))
        .args(["serve", "--bind", "127.0.0.1:0"]);
    let server = Server::start(command, &vault.path("serve.log"));
    vault.stand_in.clear_requests();
    let document = fs::read(sample()).unwrap();

    let answer = server
        .post_seal(document.clone(), Duration::from_secs(60))
        .unwrap();

    assert_eq!(answer.status, 200, "{}", server.log_tail());
    let sealed = vault.path("served.pdf");
    fs::write(&sealed, &answer.body).unwrap();
    let verdict = Validators::find().validate(&sealed, &sample(), &[&vault.path("root.pem")]);
    assert!(verdict.passed, "{}", verdict.report);
    let requests = vault.stand_in.requests();
    assert_eq!(
        requests.len(),
        1,
        "one sign request per seal, on the warm connection"
    );
    let raw: Vec<Vec<u8>> = requests.iter().map(|r| r.raw.clone()).collect();
    assert_only_digests("Key Vault", &raw, &document);
}
