//! Test keys and certificates made by the `openssl` command line in a temporary directory.
//!
//! The tests build small PKIs the way an administrator would, with the commands below, so the
//! loaders are tested on files written by the tool people really use:
//!
//! ```text
//! openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out NAME.key   # or EC, P-256
//! openssl req -x509 -new -config pki.cnf -extensions ca -key root.key -subj /CN=... -out root.pem
//! openssl req -new -config pki.cnf -key NAME.key -subj /CN=... -out NAME.csr
//! openssl x509 -req -in NAME.csr -CA ISSUER.pem -CAkey ISSUER.key -set_serial N \
//!     -extfile pki.cnf -extensions leaf -out NAME.pem
//! ```

use std::path::PathBuf;
use std::process::{Command, Output};
use std::sync::atomic::{AtomicU32, Ordering};

use tempfile::TempDir;

/// The configuration given to `openssl req` and `openssl x509`: extensions for CA and leaf
/// certificates, the same for every test.
const CONFIG: &str = "\
[req]
distinguished_name = dn
prompt = no
[dn]
CN = unused
[ca]
basicConstraints = critical,CA:TRUE
keyUsage = critical,keyCertSign,cRLSign
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid:always
[leaf]
basicConstraints = critical,CA:FALSE
keyUsage = critical,digitalSignature,nonRepudiation
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid:always
";

static NEXT_SERIAL: AtomicU32 = AtomicU32::new(0x1000);

/// The kind of key `openssl genpkey` makes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum KeyKind {
    Rsa(u32),
    P256,
    P384,
}

/// A temporary directory where `openssl` runs.
pub(crate) struct OpenSsl {
    dir: TempDir,
}

impl OpenSsl {
    /// A fresh directory to run the `openssl` command line in. Without the command the test
    /// fails, naming the set-up script: a test that skipped itself would prove nothing.
    pub fn new() -> Self {
        let works = Command::new("openssl")
            .arg("version")
            .output()
            .is_ok_and(|o| o.status.success());
        assert!(
            works,
            "the openssl command line is missing: run scripts/setup-tests"
        );
        let dir = tempfile::tempdir().expect("a temporary directory");
        std::fs::write(dir.path().join("pki.cnf"), CONFIG).expect("writing pki.cnf");
        Self { dir }
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    pub fn read(&self, name: &str) -> Vec<u8> {
        std::fs::read(self.path(name)).unwrap_or_else(|e| panic!("reading {name}: {e}"))
    }

    pub fn write(&self, name: &str, bytes: &[u8]) {
        std::fs::write(self.path(name), bytes).unwrap_or_else(|e| panic!("writing {name}: {e}"));
    }

    /// Runs `openssl ARGS` in the directory, whatever its outcome.
    pub fn try_run(&self, args: &[&str]) -> Output {
        Command::new("openssl")
            .args(args)
            .current_dir(self.dir.path())
            .output()
            .expect("running openssl")
    }

    /// Runs `openssl ARGS` in the directory and panics with its messages if it fails.
    pub fn run(&self, args: &[&str]) -> Output {
        let output = self.try_run(args);
        assert!(
            output.status.success(),
            "openssl {} failed:\n{}",
            args.join(" "),
            String::from_utf8_lossy(&output.stderr)
        );
        output
    }

    /// Runs `openssl cms -verify` on the detached `cms` over `content`, trusting `root.pem` in
    /// the directory; `Err` holds openssl's messages. The signer certificate's purpose is not
    /// checked (`-purpose any`): seal certificates need not be S/MIME certificates.
    pub fn verify_cms(&self, cms: &[u8], content: &[u8]) -> Result<(), String> {
        self.write("sig.der", cms);
        self.write("data.bin", content);
        let output = self.try_run(&[
            "cms",
            "-verify",
            "-binary",
            "-inform",
            "DER",
            "-in",
            "sig.der",
            "-content",
            "data.bin",
            "-CAfile",
            "root.pem",
            "-purpose",
            "any",
            "-out",
            "verified.bin",
        ]);
        let messages = String::from_utf8_lossy(&output.stderr).into_owned();
        match output.status.success() && messages.contains("Verification successful") {
            true => Ok(()),
            false => Err(messages),
        }
    }

    /// `NAME.key`: a new unencrypted PKCS#8 key.
    pub fn key(&self, name: &str, kind: KeyKind) {
        let out = format!("{name}.key");
        let option = match kind {
            KeyKind::Rsa(bits) => format!("rsa_keygen_bits:{bits}"),
            KeyKind::P256 => "ec_paramgen_curve:P-256".into(),
            KeyKind::P384 => "ec_paramgen_curve:P-384".into(),
        };
        let algorithm = if matches!(kind, KeyKind::Rsa(_)) {
            "RSA"
        } else {
            "EC"
        };
        self.run(&[
            "genpkey",
            "-algorithm",
            algorithm,
            "-pkeyopt",
            &option,
            "-out",
            &out,
        ]);
    }

    /// `NAME.key` and `NAME.pem`: a self-signed CA.
    pub fn root(&self, name: &str, kind: KeyKind) {
        self.key(name, kind);
        let subject = format!("/O=pdf-seal tests/CN={name}");
        self.run(&[
            "req",
            "-x509",
            "-new",
            "-config",
            "pki.cnf",
            "-extensions",
            "ca",
            "-days",
            "2",
            "-key",
            &format!("{name}.key"),
            "-subj",
            &subject,
            "-out",
            &format!("{name}.pem"),
        ]);
    }

    /// `NAME.key` and `NAME.pem`: a certificate issued by `issuer` (a CA made here before).
    pub fn issue(&self, name: &str, kind: KeyKind, issuer: &str, ca: bool) {
        self.key(name, kind);
        let subject = format!("/O=pdf-seal tests/CN={name}");
        let csr = format!("{name}.csr");
        self.run(&[
            "req",
            "-new",
            "-config",
            "pki.cnf",
            "-key",
            &format!("{name}.key"),
            "-subj",
            &subject,
            "-out",
            &csr,
        ]);

        let serial = NEXT_SERIAL.fetch_add(1, Ordering::Relaxed).to_string();
        self.run(&[
            "x509",
            "-req",
            "-in",
            &csr,
            "-CA",
            &format!("{issuer}.pem"),
            "-CAkey",
            &format!("{issuer}.key"),
            "-set_serial",
            &serial,
            "-days",
            "2",
            "-extfile",
            "pki.cnf",
            "-extensions",
            if ca { "ca" } else { "leaf" },
            "-out",
            &format!("{name}.pem"),
        ]);
    }

    /// A root (P-256), an intermediate CA (P-256) and a `leaf` of `kind` issued by the
    /// intermediate: `root.pem`, `inter.pem`, `leaf.pem`, `leaf.key`, and `chain.pem`
    /// holding leaf, intermediate and root in that order.
    pub fn chain(&self, kind: KeyKind) {
        self.root("root", KeyKind::P256);
        self.issue("inter", KeyKind::P256, "root", true);
        self.issue("leaf", kind, "inter", false);
        let chain = [
            self.read("leaf.pem"),
            self.read("inter.pem"),
            self.read("root.pem"),
        ];
        self.write("chain.pem", &chain.concat());
    }
}

pub(crate) use crate::signer::verify::verify_signature;
