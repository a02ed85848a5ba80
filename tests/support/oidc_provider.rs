//! The OpenID provider of `tools/oidc-provider` (oauth2-mock-server, shaped like one Entra ID
//! tenant) as a process of the test: started on a loopback port, driven through its standard
//! input, killed when dropped.
//!
//! `scripts/setup-tests` installs oauth2-mock-server into `tools/oidc-provider/node_modules`.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc::{self, Receiver};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::Duration;

use serde_json::{Value, json};

use super::jwt::TestKey;

/// How long the provider may take to listen, or to answer a command.
const LIMIT: Duration = Duration::from_secs(30);

/// The line the provider prints once it listens, before its base URL.
const LISTENING: &str = "oidc-provider listening on ";

/// A running provider for one tenant.
pub struct OidcProvider {
    child: Child,
    stdin: Mutex<ChildStdin>,
    answers: Mutex<Receiver<String>>,
    errors: Arc<Mutex<String>>,
    /// `http://127.0.0.1:PORT`.
    pub base_url: String,
    /// The tenant (directory) id whose paths it serves.
    pub tenant: String,
    runtime: tokio::runtime::Runtime,
    client: reqwest::Client,
}

impl OidcProvider {
    /// Starts the provider for `tenant` on a free loopback port.
    pub fn start(tenant: &str) -> Self {
        Self::start_on(tenant, 0)
    }

    /// Starts the provider for `tenant` on `port` (0 for a free one).
    pub fn start_on(tenant: &str, port: u16) -> Self {
        let mut child = Command::new("node")
            .arg(script())
            .args(["--tenant", tenant, "--port", &port.to_string()])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("could not start node {:?} ({e})", script()));

        let errors = Arc::new(Mutex::new(String::new()));
        let stderr = child.stderr.take().unwrap();
        let kept = Arc::clone(&errors);
        thread::spawn(move || {
            let mut text = String::new();
            let _ = BufReader::new(stderr).read_to_string(&mut text);
            kept.lock().unwrap().push_str(&text);
        });
        let (sender, answers) = mpsc::channel();
        let stdout = BufReader::new(child.stdout.take().unwrap());
        thread::spawn(move || {
            for line in stdout.lines() {
                let Ok(line) = line else { break };
                if sender.send(line).is_err() {
                    break;
                }
            }
        });

        let first = answers.recv_timeout(LIMIT);
        let stdin = child.stdin.take().unwrap();
        let mut provider = OidcProvider {
            child,
            stdin: Mutex::new(stdin),
            answers: Mutex::new(answers),
            errors,
            base_url: String::new(),
            tenant: tenant.to_owned(),
            runtime: tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap(),
            client: reqwest::Client::new(),
        };
        match first {
            Ok(line) if line.starts_with(LISTENING) => {
                provider.base_url = line[LISTENING.len()..].trim().to_owned();
                provider
            }
            other => panic!(
                "the OIDC provider did not say where it listens ({other:?}); run \
                 scripts/setup-tests. It said:\n{}",
                provider.errors()
            ),
        }
    }

    /// `http://127.0.0.1:PORT/<tenant>/v2.0`, as Entra ID's v2 issuer looks.
    pub fn issuer(&self) -> String {
        format!("{}/{}/v2.0", self.base_url, self.tenant)
    }

    /// The OpenID configuration document's URL.
    pub fn metadata_url(&self) -> String {
        format!("{}/.well-known/openid-configuration", self.issuer())
    }

    /// A token from the provider's token endpoint (client credentials), with the Entra claims
    /// of `claims` (tid, aud, azp, appid, oid, scp, roles, ver, iss).
    pub fn token(&self, claims: Value) -> String {
        let mut request = claims;
        request["grant_type"] = json!("client_credentials");
        let url = format!("{}/token", self.issuer());
        let answer: Value = self.runtime.block_on(async {
            let response = self
                .client
                .post(&url)
                .json(&request)
                .timeout(LIMIT)
                .send()
                .await
                .unwrap_or_else(|e| panic!("POST {url}: {e}"));
            assert!(response.status().is_success(), "POST {url}: {response:?}");
            response.json().await.expect("a JSON token answer")
        });
        answer["access_token"]
            .as_str()
            .unwrap_or_else(|| panic!("no access_token in {answer}"))
            .to_owned()
    }

    /// Publishes `key` in the provider's JWKS.
    pub fn add_key(&self, key: &TestKey) {
        self.command(json!({"command": "add-key", "kid": key.kid, "pem": key.private_pem()}));
    }

    /// Replaces every key of the provider by a new one; answers its kid.
    pub fn rotate(&self) -> String {
        let answer = self.command(json!({"command": "rotate"}));
        answer["kid"].as_str().unwrap().to_owned()
    }

    /// How many JWKS requests the provider has served.
    pub fn jwks_requests(&self) -> u64 {
        let answer = self.command(json!({"command": "jwks-requests"}));
        answer["count"].as_u64().unwrap()
    }

    /// What the provider wrote to its standard error so far.
    pub fn errors(&self) -> String {
        self.errors.lock().unwrap().clone()
    }

    fn command(&self, command: Value) -> Value {
        let answers = self.answers.lock().unwrap();
        let mut stdin = self.stdin.lock().unwrap();
        writeln!(stdin, "{command}")
            .and_then(|()| stdin.flush())
            .unwrap();
        let line = answers.recv_timeout(LIMIT).unwrap_or_else(|e| {
            panic!(
                "the OIDC provider did not answer {command} ({e}): {}",
                self.errors()
            )
        });
        let answer: Value = serde_json::from_str(&line).unwrap();
        assert_eq!(answer["ok"], true, "{command} failed: {answer}");
        answer
    }
}

impl Drop for OidcProvider {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A loopback port that was free a moment ago, for a provider started later.
pub fn free_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap().port()
}

/// `tools/oidc-provider/provider.mjs`.
fn script() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tools/oidc-provider/provider.mjs")
}
