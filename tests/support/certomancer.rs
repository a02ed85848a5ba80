//! A test PKI made at test time for certomancer, and certomancer's servers on loopback: the
//! Animator (`certomancer animate`, whose time-stamping service is a real RFC 3161 TSA) and
//! certomancer-csc-dummy (`certomancer-csc`, a CSC v1 signing service over the same keys).
//!
//! The keys are made with `openssl genpkey` in a temporary directory, the configuration is
//! written beside them with validity windows around today (from a year ago to five years
//! ahead), and certomancer makes the certificates from the two. `scripts/setup-tests` installs
//! certomancer and certomancer-csc-dummy into `.venv`.
//!
//! The PKI, architecture [`ARCH`]:
//! - `root`: a self-signed root CA (RSA 2048);
//! - `tsa`: the time-stamping authority (RSA 2048, extended key usage timeStamping, critical),
//!   served as the TSA service `tsa`, at [`Service::tsa_url`];
//! - `signer-rsa` (RSA 2048) and `signer-ec` (ECDSA P-256): end-entity signers, issued by the
//!   root, whose CSC credential ids are `pdf-seal-test/signer-rsa` and `pdf-seal-test/signer-ec`.

use std::fs;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use tempfile::TempDir;
use time::{Duration as Span, OffsetDateTime};

use super::process;

/// The PKI architecture label in the configuration (and the first part of CSC credential ids).
pub const ARCH: &str = "pdf-seal-test";

/// The label of the time-stamping service.
pub const TSA_SERVICE: &str = "tsa";

/// How long a certomancer server may take to listen, and a command to finish.
const START_LIMIT: Duration = Duration::from_secs(60);

/// One end-entity signer of the PKI.
#[derive(Clone, Debug)]
pub struct SignerFiles {
    /// The certificate label in the configuration: `signer-rsa` or `signer-ec`.
    pub label: &'static str,
    /// The private key, unencrypted PKCS#8 PEM made by `openssl genpkey`.
    pub key: PathBuf,
    /// The certificate, PEM.
    pub cert: PathBuf,
    /// The certificate then the root CA, PEM.
    pub chain: PathBuf,
}

impl SignerFiles {
    /// The credential id under which certomancer-csc-dummy offers this signer.
    pub fn credential_id(&self) -> String {
        format!("{ARCH}/{}", self.label)
    }
}

/// The generated PKI, in a temporary directory removed when dropped.
pub struct TestPki {
    dir: TempDir,
    /// The certomancer configuration (YAML).
    pub config: PathBuf,
    /// The root CA certificate, PEM: the trust anchor for signers and for the TSA.
    pub root_ca: PathBuf,
    /// The TSA certificate, PEM.
    pub tsa_cert: PathBuf,
    /// The RSA 2048 signer.
    pub signer_rsa: SignerFiles,
    /// The ECDSA P-256 signer.
    pub signer_ec: SignerFiles,
}

/// The keys made for the PKI: label, and the `openssl genpkey` arguments that make it.
const KEYS: [(&str, &[&str]); 4] = [
    ("root", RSA_2048),
    ("tsa", RSA_2048),
    ("signer-rsa", RSA_2048),
    ("signer-ec", EC_P256),
];
const RSA_2048: &[&str] = &["-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048"];
const EC_P256: &[&str] = &["-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256"];

impl TestPki {
    /// Makes the keys and the configuration, and has certomancer write the certificates; panics
    /// with what failed, since no test of this PKI can go on without it.
    pub fn generate() -> TestPki {
        let dir = tempfile::Builder::new()
            .prefix("pdf-seal-pki-")
            .tempdir()
            .unwrap();
        let keys = dir.path().join("keys");
        fs::create_dir_all(&keys).unwrap();
        for (label, args) in KEYS {
            let out = keys.join(format!("{label}.key.pem"));
            let mut command = Command::new("openssl");
            command.arg("genpkey").args(args).arg("-out").arg(&out);
            let made = process::run(&mut command, START_LIMIT);
            assert!(
                made.code() == Some(0) && out.is_file(),
                "`openssl genpkey {}` did not make {} ({}): {}",
                args.join(" "),
                out.display(),
                made.ending(),
                made.stderr_text()
            );
        }
        fs::write(
            keys.join("README.txt"),
            "Made by tests/support/certomancer.rs at test time, each key with\n\
             `openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048` (root, tsa,\n\
             signer-rsa) or `openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256`\n\
             (signer-ec): unencrypted PKCS#8 PEM, for tests only.\n",
        )
        .unwrap();

        let now = OffsetDateTime::now_utc();
        let config = dir.path().join("certomancer.yml");
        fs::write(
            &config,
            configuration(now - Span::days(365), now + Span::days(5 * 365)),
        )
        .unwrap();

        // certomancer signs the certificates with RSA PKCS#1 v1.5, which is deterministic: the
        // files written here are the very certificates that its servers hand out.
        let certs = dir.path().join("certs");
        let mut command = Command::new(venv_tool("certomancer"));
        command
            .arg("--config")
            .arg(&config)
            .args(["mass-summon", "--flat", "--no-pfx", ARCH])
            .arg(&certs);
        let summoned = process::run(&mut command, START_LIMIT);
        let cert = |label: &str| certs.join(format!("{label}.cert.pem"));
        assert!(
            summoned.code() == Some(0) && cert("root").is_file(),
            "`certomancer mass-summon` did not write the certificates ({}); run \
             scripts/setup-tests. stderr:\n{}",
            summoned.ending(),
            summoned.stderr_text()
        );
        let root_pem = fs::read_to_string(cert("root")).unwrap();
        let signer = |label: &'static str| {
            let chain = certs.join(format!("{label}.chain.pem"));
            let own = fs::read_to_string(cert(label)).unwrap();
            fs::write(&chain, format!("{own}{root_pem}")).unwrap();
            SignerFiles {
                label,
                key: keys.join(format!("{label}.key.pem")),
                cert: cert(label),
                chain,
            }
        };
        TestPki {
            config,
            root_ca: cert("root"),
            tsa_cert: cert("tsa"),
            signer_rsa: signer("signer-rsa"),
            signer_ec: signer("signer-ec"),
            dir,
        }
    }

    /// The temporary directory that holds the keys, certificates and configuration.
    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// Starts `certomancer animate` on a free loopback port, with its TSA at
    /// [`Service::tsa_url`].
    pub fn animate(&self) -> Service {
        Service::start("certomancer animate", self.dir.path(), |port| {
            let mut command = Command::new(venv_tool("certomancer"));
            command.arg("--config").arg(&self.config).args([
                "animate",
                "--port",
                &port.to_string(),
            ]);
            command
        })
    }

    /// Starts certomancer-csc-dummy on a free loopback port, serving CSC v1 credentials for
    /// every certificate of the configuration; `scal` 2 requires hash pinning at authorisation.
    pub fn csc_dummy(&self, scal: u8) -> Service {
        Service::start("certomancer-csc", self.dir.path(), |port| {
            let mut command = Command::new(venv_tool("certomancer-csc"));
            command
                .arg(&self.config)
                .arg(port.to_string())
                .arg(scal.to_string());
            command
        })
    }
}

/// A certomancer server process on loopback, killed when dropped.
pub struct Service {
    child: Child,
    log: PathBuf,
    /// `http://127.0.0.1:PORT`.
    pub base_url: String,
    pub port: u16,
}

impl Service {
    /// Starts the command `make(port)` on a free port and waits until the port accepts
    /// connections; its output goes to a log file in `dir`.
    fn start(name: &str, dir: &Path, make: impl Fn(u16) -> Command) -> Service {
        let port = free_port();
        let log = dir.join(format!("{}-{port}.log", name.replace(' ', "-")));
        let out = fs::File::create(&log).unwrap();
        let child = make(port)
            .stdin(Stdio::null())
            .stdout(out.try_clone().unwrap())
            .stderr(out)
            .spawn()
            .unwrap_or_else(|e| panic!("could not start {name} ({e}); run scripts/setup-tests"));
        let mut service = Service {
            child,
            log,
            base_url: format!("http://127.0.0.1:{port}"),
            port,
        };
        let address = SocketAddr::from(([127, 0, 0, 1], port));
        let started = Instant::now();
        loop {
            if TcpStream::connect_timeout(&address, Duration::from_millis(200)).is_ok() {
                return service;
            }
            if let Ok(Some(status)) = service.child.try_wait() {
                panic!(
                    "{name} exited ({status}) before listening:\n{}",
                    service.log_text()
                );
            }
            if started.elapsed() > START_LIMIT {
                panic!(
                    "{name} did not listen on port {port} within {START_LIMIT:?}:\n{}",
                    service.log_text()
                );
            }
            thread::sleep(Duration::from_millis(100));
        }
    }

    /// The URL of the TSA service of the Animator.
    pub fn tsa_url(&self) -> String {
        format!("{}/{ARCH}/tsa/{TSA_SERVICE}", self.base_url)
    }

    /// What the server has written so far.
    pub fn log_text(&self) -> String {
        fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Stops the server now.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Service {
    fn drop(&mut self) {
        self.kill();
    }
}

/// A loopback port that nothing listens on right now.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .map(|address| address.port())
        .expect("a free loopback port")
}

/// `.venv/bin/NAME` of the project.
fn venv_tool(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join(".venv/bin")
        .join(name)
}

/// The certomancer configuration: the keys of `keys/`, certificates valid from `from` to
/// `until`, and the TSA service.
fn configuration(from: OffsetDateTime, until: OffsetDateTime) -> String {
    let stamp = |at: OffsetDateTime| {
        format!(
            "{:04}-{:02}-{:02}T00:00:00+0000",
            at.year(),
            u8::from(at.month()),
            at.day()
        )
    };
    let (from, until) = (stamp(from), stamp(until));
    format!(
        r#"# Written by tests/support/certomancer.rs at test time: the keys in keys/ were made with
# openssl genpkey (keys/README.txt), the certificates are made by certomancer from this file.
external-url-prefix: "http://127.0.0.1"
keysets:
  {ARCH}:
    path-prefix: keys
    keys:
      root:
        path: root.key.pem
      tsa:
        path: tsa.key.pem
      signer-rsa:
        path: signer-rsa.key.pem
      signer-ec:
        path: signer-ec.key.pem
pki-architectures:
  {ARCH}:
    keyset: {ARCH}
    entity-defaults:
      country-name: BE
      organization-name: pdf-seal tests
    entities:
      root:
        common-name: pdf-seal test root CA
      tsa:
        common-name: pdf-seal test TSA
      signer-rsa:
        common-name: pdf-seal test signer RSA
      signer-ec:
        common-name: pdf-seal test signer ECDSA
    certs:
      root:
        subject: root
        issuer: root
        validity:
          valid-from: "{from}"
          valid-to: "{until}"
        extensions:
          - id: basic_constraints
            critical: true
            value:
              ca: true
          - id: key_usage
            critical: true
            smart-value:
              schema: key-usage
              params: [digital_signature, key_cert_sign, crl_sign]
      tsa:
        subject: tsa
        issuer: root
        validity:
          valid-from: "{from}"
          valid-to: "{until}"
        extensions:
          - id: key_usage
            critical: true
            smart-value:
              schema: key-usage
              params: [digital_signature]
          - id: extended_key_usage
            critical: true
            value: [time_stamping]
      signer-rsa:
        subject: signer-rsa
        issuer: root
        validity:
          valid-from: "{from}"
          valid-to: "{until}"
        extensions:
          - id: key_usage
            critical: true
            smart-value:
              schema: key-usage
              params: [digital_signature, non_repudiation]
      signer-ec:
        template: signer-rsa
        subject: signer-ec
    services:
      time-stamping:
        {TSA_SERVICE}:
          signing-key: tsa
          signing-cert: tsa
"#
    )
}
