//! Secrets in Key Vault end to end: `keyvault:` settings read by the real `pdf-seal` binary
//! through the official SDK from the loopback stand-in (tests/support/key_vault.rs), a
//! rotation picked up without a restart, and an outage that health reports while seals go on.

mod support;

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use support::key_vault::Mode;
use support::key_vault_fixture::{TOKEN, Vault, describe, sample};
use support::process::{self, openssl};
use support::server::Server;
use support::trusted_signatures::{TestKey, TrustedSignaturesStandIn};
use support::validators::Validators;

/// The longest a seal through the service may take here.
const SEAL_LIMIT: Duration = Duration::from_secs(60);

/// The PKCS#12 password of the secrets tests.
const P12_PASSWORD: &str = "p12-pass-5e1d";

/// `rsa`'s key and certificate with the root, in a PKCS#12 file protected by
/// [`P12_PASSWORD`].
fn make_pkcs12(vault: &Vault) -> PathBuf {
    let password = format!("pass:{P12_PASSWORD}");
    openssl(
        vault.dir.path(),
        &[
            "pkcs12",
            "-export",
            "-inkey",
            "rsa.key",
            "-in",
            "rsa.pem",
            "-certfile",
            "root.pem",
            "-out",
            "seal.p12",
            "-passout",
            &password,
        ],
    );
    vault.path("seal.p12")
}

/// The local PKCS#12 signer with its password in the vault.
fn local_with_vault_password(vault: &Vault, pkcs12: &Path, secret: &str) -> Command {
    let reference = format!("keyvault:{secret}");
    let mut command = vault.command(&[]);
    command
        .env_remove("PDF_SEAL_SIGNER")
        .env("PDF_SEAL_PKCS12", pkcs12)
        .env("PDF_SEAL_PKCS12_PASSWORD", reference)
        .env("PDF_SEAL_DATA_DIR", vault.path("data"));
    command
}

#[test]
fn a_pkcs12_password_is_read_from_the_vault_and_an_unknown_one_is_refused() {
    let vault = Vault::start();
    let validators = Validators::find();
    let pkcs12 = make_pkcs12(&vault);
    vault
        .stand_in
        .set_secret("p12-password", P12_PASSWORD, None);

    let mut good = local_with_vault_password(&vault, &pkcs12, "p12-password");
    good.arg("seal")
        .arg(sample())
        .arg("-o")
        .arg(vault.path("p12.pdf"));
    let sealed = process::run(&mut good, Duration::from_secs(120));
    let mut missing = local_with_vault_password(&vault, &pkcs12, "no-such-secret");
    missing
        .arg("seal")
        .arg(sample())
        .arg("-o")
        .arg(vault.path("x.pdf"));
    let refused = process::run(&mut missing, Duration::from_secs(120));

    assert_eq!(sealed.code(), Some(0), "{}", describe(&sealed));
    let verdict = validators.validate(
        &vault.path("p12.pdf"),
        &sample(),
        &[&vault.path("root.pem")],
    );
    assert!(verdict.passed, "{}", verdict.report);
    assert_eq!(refused.code(), Some(2), "{}", describe(&refused));
    let stderr = refused.stderr_text();
    assert!(
        stderr.contains("PDF_SEAL_PKCS12_PASSWORD") && stderr.contains("SecretNotFound"),
        "{stderr}"
    );
    let reads: Vec<_> = vault
        .stand_in
        .requests()
        .into_iter()
        .filter(|r| r.authorized && r.target.starts_with("/secrets/"))
        .map(|r| r.target.split('?').next().unwrap().to_string())
        .collect();
    assert_eq!(
        reads,
        ["/secrets/p12-password/", "/secrets/no-such-secret/"]
    );
}

#[test]
fn serve_follows_rotation_and_outage_of_a_vault_secret_in_health() {
    let vault = Vault::start();
    let pkcs12 = make_pkcs12(&vault);
    let in_ten_days = time::OffsetDateTime::now_utc().unix_timestamp() + 10 * 24 * 3600;
    vault
        .stand_in
        .set_secret("p12-password", P12_PASSWORD, Some(in_ten_days));
    let mut command = local_with_vault_password(&vault, &pkcs12, "p12-password");
    command
        .env("PDF_SEAL_SECRETS_REFRESH_SECS", "1")
        .env("PDF_SEAL_KEY_VAULT_TIMEOUT_SECS", "2")
        .env("PDF_SEAL_LOG_FORMAT", "json")
        .args(["serve", "--bind", "127.0.0.1:0"]);
    let server = Server::start(command, &vault.path("serve.log"));

    let first = health(&server);
    assert_eq!(first["status"], "ok", "{first}");
    let secret = &first["secrets"][0];
    assert_eq!(secret["setting"], "PDF_SEAL_PKCS12_PASSWORD", "{first}");
    assert_eq!(secret["version"], format!("{:032x}", 1), "{first}");
    assert_eq!(secret["expiry"], "expires-soon", "{first}");

    // A rotation: the next scheduled read finds the new version, without a restart.
    vault
        .stand_in
        .set_secret("p12-password", P12_PASSWORD, Some(in_ten_days));
    let rotated = wait_for_health(&server, |h| {
        h["secrets"][0]["version"] == format!("{:032x}", 2)
    });
    assert_eq!(rotated["status"], "ok", "{rotated}");

    // An outage: health turns degraded, and seals go on with the last good value.
    vault.stand_in.set_mode(Mode::Unavailable);
    let degraded = wait_for_health(&server, |h| h["status"] == "degraded");
    let secret = &degraded["secrets"][0];
    assert!(secret["failing_since"].is_string(), "{degraded}");
    assert!(
        secret["error"].as_str().unwrap().contains("503"),
        "{degraded}"
    );
    let answer = server
        .post_seal(fs::read(sample()).unwrap(), Duration::from_secs(60))
        .unwrap();
    assert_eq!(answer.status, 200);
    assert!(answer.body.starts_with(b"%PDF"));

    // Recovery clears it.
    vault.stand_in.set_mode(Mode::Normal);
    let recovered = wait_for_health(&server, |h| h["status"] == "ok");
    assert!(
        recovered["secrets"][0].get("failing_since").is_none(),
        "{recovered}"
    );

    let log = server.log_text();
    assert!(!log.contains(P12_PASSWORD), "the log holds the password");
    assert!(!log.contains(TOKEN), "the log holds the token");
    let events = server.log_events();
    let said = |words: &str| {
        events.iter().any(|e| {
            e.to_string().contains(words) && e.to_string().contains("PDF_SEAL_PKCS12_PASSWORD")
        })
    };
    assert!(said("expires within 30 days"), "{log}");
    assert!(said("keeping the last good value"), "{log}");
    assert!(said("the failure is over"), "{log}");
}

/// Health tells anyone whether the service is up; only a caller with an accepted credential
/// also learns the secrets' names, versions and expiry. A refused credential is logged, a
/// probe that sends none is not.
#[test]
fn health_lists_the_secrets_only_to_a_caller_with_an_accepted_credential() {
    const KEY: &str = "health-key-2f0c9a7e41b3d8e6a15b07c93e2d4f68";
    let vault = Vault::start();
    let pkcs12 = make_pkcs12(&vault);
    vault
        .stand_in
        .set_secret("p12-password", P12_PASSWORD, None);
    let mut command = local_with_vault_password(&vault, &pkcs12, "p12-password");
    command
        .env("PDF_SEAL_AUTH", "function-key")
        .env("PDF_SEAL_FUNCTION_KEYS", KEY)
        .env("PDF_SEAL_LOG_FORMAT", "json")
        .args(["serve", "--bind", "127.0.0.1:0"]);
    let server = Server::start(command, &vault.path("serve.log"));
    let ask = |headers: &[(&str, &str)]| {
        let reply = server
            .send(reqwest::Method::GET, "/api/health", headers, Vec::new())
            .unwrap();
        assert_eq!(reply.status, 200, "{}", server.log_tail());
        reply.json()
    };

    let anyone = ask(&[]);
    let refused = ask(&[("x-functions-key", "not-the-key")]);
    let caller = ask(&[("x-functions-key", KEY)]);

    for public in [&anyone, &refused] {
        assert_eq!(public["status"], "ok", "{public}");
        assert!(public["version"].is_string(), "{public}");
        assert!(public.get("secrets").is_none(), "{public}");
    }
    assert_eq!(caller["status"], "ok", "{caller}");
    let secret = &caller["secrets"][0];
    assert_eq!(secret["setting"], "PDF_SEAL_PKCS12_PASSWORD", "{caller}");
    assert_eq!(secret["secret"], "p12-password", "{caller}");
    let denials: Vec<_> = server
        .log_events()
        .into_iter()
        .filter(|event| event.to_string().contains("auth.denied"))
        .collect();
    assert_eq!(denials.len(), 1, "one refused credential: {denials:?}");
    assert!(
        denials[0].to_string().contains("/api/health"),
        "{denials:?}"
    );
    let log = server.log_text();
    assert!(!log.contains(KEY) && !log.contains("not-the-key"), "{log}");
}

fn health(server: &Server) -> serde_json::Value {
    let reply = server
        .send(reqwest::Method::GET, "/api/health", &[], Vec::new())
        .unwrap();
    assert_eq!(reply.status, 200);
    reply.json()
}

/// Health once `done` holds, polled for at most 20 s.
fn wait_for_health(
    server: &Server,
    done: impl Fn(&serde_json::Value) -> bool,
) -> serde_json::Value {
    let started = Instant::now();
    loop {
        let now = health(server);
        if done(&now) {
            return now;
        }
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "health stayed {now}"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// The Trusted Signatures rotation of DESIGN.md section 4, end to end: the key id and API key
/// live in Key Vault; the administrator rotates them there and the service revokes the old key;
/// the running service's next seal is refused with the old key, reads the vault again, and
/// seals with the new one. No restart, and the default refresh schedule (5 min) plays no part.
#[test]
fn trusted_signatures_keys_rotated_in_the_vault_are_used_without_a_restart() {
    let vault = Vault::start();
    let (old, new) = (TestKey::random(), TestKey::random());
    let ts_root = vault.path("ts-root.pem");
    let service = TrustedSignaturesStandIn::start(&[&old, &new], &ts_root, 0);
    vault.stand_in.set_secret("ts-key-id", &old.id, None);
    vault.stand_in.set_secret("ts-api-key", &old.hex, None);
    let mut command = vault.command(&[
        ("PDF_SEAL_SIGNER", "trusted-signatures"),
        ("PDF_SEAL_TS_URL", &service.base_url),
        ("PDF_SEAL_TS_KEY_ID", "keyvault:ts-key-id"),
        ("PDF_SEAL_TS_API_KEY", "keyvault:ts-api-key"),
        ("PDF_SEAL_LOG_FORMAT", "json"),
    ]);
    command.args(["serve", "--bind", "127.0.0.1:0"]);
    let server = Server::start(command, &vault.path("serve.log"));
    let original = fs::read(sample()).unwrap();

    let before = server.post_seal(original.clone(), SEAL_LIMIT).unwrap();
    assert_eq!(before.status, 200, "{}", server.log_tail());
    assert_eq!(service.requests_with(&old), 1);

    vault.stand_in.set_secret("ts-key-id", &new.id, None);
    vault.stand_in.set_secret("ts-api-key", &new.hex, None);
    service.revoke(&old);
    let after = server.post_seal(original, SEAL_LIMIT).unwrap();

    assert_eq!(after.status, 200, "{}", server.log_tail());
    assert_eq!(service.requests_with(&old), 2, "one refusal of the old key");
    assert_eq!(service.requests_with(&new), 1, "one seal with the new key");
    let sealed = vault.path("rotated.pdf");
    fs::write(&sealed, &after.body).unwrap();
    let verdict = Validators::find().validate(&sealed, &sample(), &[&ts_root]);
    assert!(verdict.passed, "{}", verdict.report);
    let log = server.log_text();
    assert!(
        log.contains(&new.id),
        "the log names the key id in use:\n{log}"
    );
    for secret in [old.hex.as_str(), new.hex.as_str(), TOKEN] {
        assert!(!log.contains(secret), "a secret in the log:\n{log}");
    }
}
