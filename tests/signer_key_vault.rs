//! The Azure Key Vault key backend end to end: the real `pdf-seal` binary with
//! `PDF_SEAL_SIGNER=azure-key-vault`, the official SDK, and a vault URL
//! `https://NAME.vault.azure.net` that `PDF_SEAL_KEY_VAULT_CONNECT_TO` sends to the loopback
//! stand-in (tests/support/key_vault.rs). TLS checks the vault's host name against the test
//! CA, which the binary trusts through `SSL_CERT_FILE`; the token comes from the real
//! `azure-cli` credential running a fake `az`.
//!
//! The seals are judged by validate-pdf (pyHanko, pdfsig, qpdf) with the test root trusted.

mod support;

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use support::egress::assert_only_digests;
use support::fixture::binary;
use support::key_vault::{KeyVaultStandIn, Mode};
use support::process::{self, Finished};
use support::server::Server;
use support::validators::Validators;
use tempfile::TempDir;

/// The token the fake `az` prints when asked for the vault's scope.
const TOKEN: &str = "kv-test-token-7f3a";
const VAULT: &str = "seal-tests";
const SCOPE: &str = "https://vault.azure.net/.default";

/// A test PKI, the stand-in serving it, and a fake `az`.
struct Vault {
    dir: TempDir,
    stand_in: KeyVaultStandIn,
}

impl Vault {
    /// A root CA, a TLS certificate for the vault's host name, and seal keys `rsa`, `p256`,
    /// `p384` (each with its certificate from the root) and `other` (a second RSA key). The
    /// stand-in holds the keys under those names and the certificates as `NAME-cert`.
    fn start() -> Vault {
        let dir = TempDir::new().unwrap();
        make_pki(dir.path());
        write_fake_az(dir.path());
        let stand_in = KeyVaultStandIn::start(
            VAULT,
            &dir.path().join("tls.pem"),
            &dir.path().join("tls.key"),
            TOKEN,
        );
        for name in ["rsa", "p256", "p384", "other"] {
            let key = fs::read(dir.path().join(format!("{name}.key"))).unwrap();
            let cert = fs::read(dir.path().join(format!("{name}.pem"))).unwrap();
            stand_in.add_key(name, &key, &cert, &["sign", "verify"]);
            stand_in.add_certificate(&format!("{name}-cert"), &cert);
        }
        Vault { dir, stand_in }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// `pdf-seal` set up for the vault, with `env` added.
    fn command(&self, env: &[(&str, &str)]) -> Command {
        let mut command = Command::new(binary());
        for (name, _) in std::env::vars_os() {
            if name.to_string_lossy().starts_with("PDF_SEAL_") {
                command.env_remove(name);
            }
        }
        let path = format!(
            "{}:{}",
            self.path("bin").display(),
            std::env::var("PATH").unwrap_or_default()
        );
        command
            .env("PATH", path)
            .env("SSL_CERT_FILE", self.path("root.pem"))
            .env_remove("SSL_CERT_DIR")
            .env("PDF_SEAL_STATE_DIR", self.path("state"))
            .env("PDF_SEAL_SIGNER", "azure-key-vault")
            .env(
                "PDF_SEAL_KEY_VAULT_URL",
                format!("https://{VAULT}.vault.azure.net"),
            )
            .env("PDF_SEAL_KEY_VAULT_CREDENTIAL", "azure-cli")
            .env(
                "PDF_SEAL_KEY_VAULT_CONNECT_TO",
                self.stand_in.address.to_string(),
            );
        for (name, value) in env {
            command.env(name, value);
        }
        command
    }

    /// `pdf-seal seal` of the sample into `out`, with `env` and `args` added.
    fn seal(&self, out: &str, env: &[(&str, &str)], args: &[&str]) -> Finished {
        let mut command = self.command(env);
        command
            .arg("seal")
            .arg(sample())
            .arg("-o")
            .arg(self.path(out))
            .args(args);
        process::run(&mut command, Duration::from_secs(120))
    }
}

fn sample() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("samples/delivery-note.pdf")
}

fn key_and_certificate(name: &str) -> Vec<(&'static str, String)> {
    vec![
        ("PDF_SEAL_KEY_VAULT_KEY", name.to_string()),
        ("PDF_SEAL_KEY_VAULT_CERTIFICATE", format!("{name}-cert")),
    ]
}

fn pairs<'a>(owned: &'a [(&'static str, String)]) -> Vec<(&'static str, &'a str)> {
    owned.iter().map(|(n, v)| (*n, v.as_str())).collect()
}

fn describe(finished: &Finished) -> String {
    format!(
        "pdf-seal ended with {}:\n{}\n{}",
        finished.ending(),
        finished.stdout_text(),
        finished.stderr_text()
    )
}

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
    seal_and_validate(&vault, &validators, "p384", &[], &["--digest", "sha384"]);

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

    let from_file = vault.seal(
        "from-file.pdf",
        &[
            ("PDF_SEAL_KEY_VAULT_KEY", "rsa"),
            ("PDF_SEAL_KEY_VAULT_CHAIN", bundle.to_str().unwrap()),
        ],
        &[],
    );
    let with_issuers = vault.seal(
        "with-issuers.pdf",
        &[
            ("PDF_SEAL_KEY_VAULT_KEY", "p256"),
            ("PDF_SEAL_KEY_VAULT_CERTIFICATE", "p256-cert"),
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
    let certificate_reads = vault
        .stand_in
        .requests()
        .iter()
        .filter(|r| r.authorized && r.target.starts_with("/certificates/"))
        .count();
    assert_eq!(
        certificate_reads, 1,
        "only the second seal reads a certificate"
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

    for (finished, variable, words) in [
        (&unknown, "PDF_SEAL_KEY_VAULT_KEY", "KeyNotFound"),
        (
            &mismatch,
            "PDF_SEAL_KEY_VAULT_CERTIFICATE",
            "public key differs",
        ),
        (&no_certificate, "PDF_SEAL_KEY_VAULT_CERTIFICATE", "missing"),
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

/// The test root (also the TLS CA), the vault's TLS certificate, and the seal keys with their
/// certificates, made with openssl.
fn make_pki(dir: &Path) {
    fs::write(
        dir.join("tls.ext"),
        format!(
            "subjectAltName=DNS:{VAULT}.vault.azure.net\nextendedKeyUsage=serverAuth\n\
             basicConstraints=CA:FALSE\n"
        ),
    )
    .unwrap();
    fs::write(
        dir.join("seal.ext"),
        "basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature,nonRepudiation\n\
         subjectKeyIdentifier=hash\nauthorityKeyIdentifier=keyid\n",
    )
    .unwrap();
    let root: &[&str] = &[
        "req",
        "-x509",
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:P-256",
        "-nodes",
        "-keyout",
        "root.key",
        "-out",
        "root.pem",
        "-days",
        "2",
        "-subj",
        "/CN=pdf-seal Key Vault test root",
        "-addext",
        "basicConstraints=critical,CA:TRUE",
        "-addext",
        "keyUsage=critical,keyCertSign,cRLSign",
    ];
    openssl(dir, root);
    let leaves: [(&str, &[&str], &str); 5] = [
        (
            "tls",
            &["ec", "-pkeyopt", "ec_paramgen_curve:P-256"],
            "tls.ext",
        ),
        ("rsa", &["rsa:2048"], "seal.ext"),
        ("other", &["rsa:2048"], "seal.ext"),
        (
            "p256",
            &["ec", "-pkeyopt", "ec_paramgen_curve:P-256"],
            "seal.ext",
        ),
        (
            "p384",
            &["ec", "-pkeyopt", "ec_paramgen_curve:P-384"],
            "seal.ext",
        ),
    ];
    for (name, key, ext) in leaves {
        let key_file = format!("{name}.key");
        let csr = format!("{name}.csr");
        let subject = format!("/CN=Key Vault {name} seal/O=pdf-seal tests");
        let mut request = vec!["req", "-newkey"];
        request.extend_from_slice(key);
        request.extend_from_slice(&[
            "-nodes", "-keyout", &key_file, "-out", &csr, "-subj", &subject,
        ]);
        openssl(dir, &request);
        let pem = format!("{name}.pem");
        openssl(
            dir,
            &[
                "x509",
                "-req",
                "-in",
                &csr,
                "-CA",
                "root.pem",
                "-CAkey",
                "root.key",
                "-CAcreateserial",
                "-out",
                &pem,
                "-days",
                "2",
                "-extfile",
                ext,
            ],
        );
    }
}

fn openssl(dir: &Path, args: &[&str]) {
    let ran = process::run(
        Command::new("openssl").args(args).current_dir(dir),
        Duration::from_secs(60),
    );
    assert_eq!(
        ran.code(),
        Some(0),
        "openssl {args:?}: {}",
        ran.stderr_text()
    );
}

/// An `az` that records its arguments and prints [`TOKEN`] when asked for the vault's scope,
/// another token otherwise (which the stand-in refuses).
fn write_fake_az(dir: &Path) {
    let expires = time::OffsetDateTime::now_utc().unix_timestamp() + 3600;
    let answer = |token: &str| {
        format!(r#"{{"accessToken":"{token}","expires_on":{expires},"tokenType":"Bearer"}}"#)
    };
    let script = format!(
        "#!/bin/sh\necho \"$*\" >> '{}'\ncase \"$*\" in\n*'{SCOPE}'*) cat <<'EOF'\n{}\nEOF\n;;\n\
         *) cat <<'EOF'\n{}\nEOF\n;;\nesac\n",
        dir.join("az-args").display(),
        answer(TOKEN),
        answer("a-token-for-another-scope"),
    );
    let bin = dir.join("bin");
    fs::create_dir_all(&bin).unwrap();
    let az = bin.join("az");
    fs::write(&az, script).unwrap();
    fs::set_permissions(&az, fs::Permissions::from_mode(0o755)).unwrap();
}

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

#[test]
fn a_p384_key_asked_for_a_sha256_seal_says_to_use_sha384() {
    let vault = Vault::start();

    let refused = vault.seal("x.pdf", &pairs(&key_and_certificate("p384")), &[]);

    assert_ne!(refused.code(), Some(0), "{}", describe(&refused));
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
    let sign = format!(
        "{base}/keys/p256/{}/sign?api-version=7.5",
        support::key_vault::KEY_VERSION
    );
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
