//! A scratch directory with a development certificate made by `pdf-seal dev-cert`, and the
//! commands and server that seal with it.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use tempfile::TempDir;

use super::process::{self, Finished};
use super::server::Server;

/// How long one `pdf-seal` command may run before it counts as hung. Generous: tests use the
/// debug build, and the validators share the two cores.
pub const COMMAND_LIMIT: Duration = Duration::from_secs(120);

/// The binary under test: the one cargo built for this test, or `PDF_SEAL_TEST_BIN` when set
/// (to hold another build, a release build say, to the same expectations).
pub fn binary() -> PathBuf {
    match std::env::var_os("PDF_SEAL_TEST_BIN") {
        Some(path) => PathBuf::from(path),
        None => PathBuf::from(env!("CARGO_BIN_EXE_pdf-seal")),
    }
}

/// `../shared`, beside the project root.
pub fn shared_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared")
}

pub struct Fixture {
    dir: TempDir,
    /// The development root CA that the seals chain to.
    pub root_ca: PathBuf,
    key: PathBuf,
    chain: PathBuf,
}

impl Fixture {
    /// Makes the scratch directory and the development certificate; panics when `dev-cert` fails,
    /// since nothing else can be checked without it.
    pub fn new() -> Fixture {
        let dir = tempfile::Builder::new()
            .prefix("pdf-seal-test-")
            .tempdir()
            .unwrap();
        let certs = dir.path().join("certs");
        let mut command = Command::new(binary());
        command.arg("dev-cert").arg("--out").arg(&certs);
        without_our_settings(&mut command).env("PDF_SEAL_STATE_DIR", dir.path().join("state"));
        let made = process::run(&mut command, COMMAND_LIMIT);

        let fixture = Fixture {
            root_ca: certs.join("root-ca.pem"),
            key: certs.join("seal-key.pem"),
            chain: certs.join("seal-chain.pem"),
            dir,
        };
        for file in [&fixture.root_ca, &fixture.key, &fixture.chain] {
            assert!(
                made.code() == Some(0) && file.is_file(),
                "`pdf-seal dev-cert --out {}` did not write {} ({}); stderr:\n{}",
                certs.display(),
                file.display(),
                made.ending(),
                made.stderr_text(),
            );
        }
        fixture
    }

    /// A fresh directory inside the scratch directory.
    pub fn subdir(&self, name: &str) -> PathBuf {
        let path = self.dir.path().join(name);
        std::fs::create_dir_all(&path).unwrap();
        path
    }

    /// `pdf-seal` with the signer set to the development certificate, and no other setting of
    /// ours inherited from the caller's environment.
    pub fn command(&self) -> Command {
        let mut command = Command::new(binary());
        without_our_settings(&mut command)
            .env("PDF_SEAL_SIGNING_KEY", &self.key)
            .env("PDF_SEAL_SIGNING_CERTS", &self.chain)
            .env("PDF_SEAL_STATE_DIR", self.dir.path().join("state"))
            .env("PDF_SEAL_DATA_DIR", self.dir.path().join("data"));
        command
    }

    /// `pdf-seal seal INPUT -o OUTPUT EXTRA...`, with its deadline.
    pub fn seal(&self, input: &Path, output: &Path, extra: &[&str]) -> Finished {
        let mut command = self.command();
        command
            .arg("seal")
            .arg(input)
            .arg("-o")
            .arg(output)
            .args(extra);
        process::run(&mut command, COMMAND_LIMIT)
    }

    /// Starts `pdf-seal serve` on a free loopback port; it is stopped when dropped.
    pub fn serve(&self) -> Server {
        let mut command = self.command();
        command.args(["serve", "--bind", "127.0.0.1:0"]);
        Server::start(command, &self.dir.path().join("server.log"))
    }

    /// Starts `pdf-seal serve` on a free loopback port with `env` added (an empty value removes
    /// the variable); its log is `NAME.log` in the scratch directory.
    pub fn serve_with(&self, name: &str, env: &[(&str, &std::ffi::OsStr)]) -> Server {
        self.serve_on("127.0.0.1:0", name, env)
    }

    /// Like [`Fixture::serve_with`], listening on `bind`.
    pub fn serve_on(&self, bind: &str, name: &str, env: &[(&str, &std::ffi::OsStr)]) -> Server {
        let mut command = self.command();
        command.args(["serve", "--bind", bind]);
        for (variable, value) in env {
            if value.is_empty() {
                command.env_remove(variable);
            } else {
                command.env(variable, value);
            }
        }
        Server::start(command, &self.dir.path().join(format!("{name}.log")))
    }

    /// The settings that make the signer the development certificate, for a command built
    /// elsewhere.
    pub fn signer_settings(&self) -> [(&'static str, &Path); 2] {
        [
            ("PDF_SEAL_SIGNING_KEY", &self.key),
            ("PDF_SEAL_SIGNING_CERTS", &self.chain),
        ]
    }

    /// The scratch directory.
    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// Keeps the scratch directory after the test, for a look at what failed; returns its path.
    pub fn keep(self) -> PathBuf {
        self.dir.keep()
    }
}

fn without_our_settings(command: &mut Command) -> &mut Command {
    for (name, _) in std::env::vars_os() {
        if name.to_string_lossy().starts_with("PDF_SEAL_") {
            command.env_remove(name);
        }
    }
    command
}
