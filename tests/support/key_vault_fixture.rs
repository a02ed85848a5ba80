//! The set-up of the Key Vault tests: a test PKI made with openssl, the stand-in serving it
//! over https for `https://seal-tests.vault.azure.net`, a fake `az`, and `pdf-seal` commands
//! that reach the stand-in through `PDF_SEAL_KEY_VAULT_CONNECT_TO` and trust the test root
//! through `SSL_CERT_FILE`.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use tempfile::TempDir;

use super::fake_az;
use super::fixture::binary;
use super::key_vault::KeyVaultStandIn;
use super::process::{self, Finished, openssl};

/// The token the fake `az` prints when asked for the vault's scope.
pub const TOKEN: &str = "kv-test-token-7f3a";
pub const VAULT: &str = "seal-tests";
pub const SCOPE: &str = "https://vault.azure.net/.default";

/// A test PKI, the stand-in serving it, and a fake `az`.
pub struct Vault {
    pub dir: TempDir,
    pub stand_in: KeyVaultStandIn,
}

impl Vault {
    /// A root CA, a TLS certificate for the vault's host name, and seal keys `rsa`, `p256`,
    /// `p384` (each with its certificate from the root) and `other` (a second RSA key). The
    /// stand-in holds the keys under those names and the certificates as `NAME-cert`.
    pub fn start() -> Vault {
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

    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// `pdf-seal` set up for the vault, with `env` added.
    pub fn command(&self, env: &[(&str, &str)]) -> Command {
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
            .env("PDF_SEAL_DATA_DIR", self.path("data"))
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
    pub fn seal(&self, out: &str, env: &[(&str, &str)], args: &[&str]) -> Finished {
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

pub fn sample() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("samples/delivery-note.pdf")
}

pub fn key_and_certificate(name: &str) -> Vec<(&'static str, String)> {
    vec![
        ("PDF_SEAL_KEY_VAULT_KEY", name.to_string()),
        ("PDF_SEAL_KEY_VAULT_CERTIFICATE", format!("{name}-cert")),
    ]
}

pub fn pairs<'a>(owned: &'a [(&'static str, String)]) -> Vec<(&'static str, &'a str)> {
    owned.iter().map(|(n, v)| (*n, v.as_str())).collect()
}

pub fn describe(finished: &Finished) -> String {
    format!(
        "pdf-seal ended with {}:\n{}\n{}",
        finished.ending(),
        finished.stdout_text(),
        finished.stderr_text()
    )
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

/// An `az` that prints [`TOKEN`] when asked for the vault's scope, another token otherwise
/// (which the stand-in refuses).
fn write_fake_az(dir: &Path) {
    fake_az::write(dir, &[(SCOPE, TOKEN)], "a-token-for-another-scope");
}
