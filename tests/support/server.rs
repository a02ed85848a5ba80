//! One `pdf-seal serve` process and a small HTTP client for it.

use std::fs::File;
use std::io::{BufRead, BufReader};
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

/// How long the server may take to bind and say so.
const START_LIMIT: Duration = Duration::from_secs(30);

/// The line `pdf-seal serve` prints once it listens, before the address.
const LISTENING: &str = "pdf-seal listening on ";

/// A running server; killed when dropped, so also when a test panics.
pub struct Server {
    child: Child,
    /// `http://ADDR:PORT`, as the server printed it.
    pub base_url: String,
    log: PathBuf,
    runtime: tokio::runtime::Runtime,
    client: reqwest::Client,
}

/// The parts of an HTTP answer the tests judge.
pub struct Answer {
    pub status: u16,
    pub content_type: String,
    pub field_name: Option<String>,
    pub document_sha256: Option<String>,
    pub body: Vec<u8>,
    pub elapsed: Duration,
}

/// Any HTTP answer.
pub struct Reply {
    pub status: u16,
    pub headers: reqwest::header::HeaderMap,
    pub body: Vec<u8>,
}

impl Reply {
    /// The header `name` as text.
    pub fn header(&self, name: &str) -> Option<String> {
        self.headers
            .get(name)
            .map(|value| String::from_utf8_lossy(value.as_bytes()).into_owned())
    }

    /// The body as JSON; panics with the body when it is not.
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|err| {
            panic!(
                "the answer ({}) is not JSON ({err}): {}",
                self.status,
                String::from_utf8_lossy(&self.body)
            )
        })
    }
}

impl Server {
    /// Starts `command` (a `pdf-seal serve`), with its stderr in `log`, and waits for the line
    /// that gives its address. Panics with the log when it does not come.
    pub fn start(mut command: Command, log: &Path) -> Server {
        let stderr = File::create(log).unwrap();
        command
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(stderr);
        let mut child = super::process::spawn(&mut command)
            .unwrap_or_else(|err| panic!("could not start {command:?}: {err}"));

        // Keep reading stdout after the first line, so that the server never blocks on it.
        let stdout = BufReader::new(child.stdout.take().unwrap());
        let (sender, first_line) = mpsc::channel();
        thread::spawn(move || {
            let mut lines = stdout.lines();
            let _ = sender.send(lines.next());
            lines.for_each(drop);
        });
        let line = first_line.recv_timeout(START_LIMIT);

        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .unwrap();
        let mut server = Server {
            child,
            base_url: String::new(),
            log: log.to_owned(),
            runtime,
            client: reqwest::Client::new(),
        };
        match line {
            Ok(Some(Ok(line))) if line.starts_with(LISTENING) => {
                server.base_url = line[LISTENING.len()..].trim().to_owned();
            }
            other => panic!(
                "`pdf-seal serve` did not print '{LISTENING}http://ADDR:PORT' within {} s \
                 (got {other:?}); its log:\n{}",
                START_LIMIT.as_secs(),
                server.log_tail()
            ),
        }
        server
    }

    /// `POST /api/seal` with a PDF body; `Err` says what went wrong on the wire.
    pub fn post_seal(&self, body: Vec<u8>, limit: Duration) -> Result<Answer, String> {
        let url = format!("{}/api/seal", self.base_url);
        let started = Instant::now();
        // The request is built inside the runtime: its timer needs one.
        self.runtime.block_on(async {
            let request = self
                .client
                .post(&url)
                .header("Content-Type", "application/pdf");
            let response = request
                .body(body)
                .timeout(limit)
                .send()
                .await
                .map_err(|err| format!("POST {url}: {err}"))?;
            let header = |name: &str| {
                response
                    .headers()
                    .get(name)
                    .map(|value| String::from_utf8_lossy(value.as_bytes()).into_owned())
            };
            let status = response.status().as_u16();
            let content_type = header("content-type").unwrap_or_default();
            let field_name = header("x-seal-field-name");
            let document_sha256 = header("x-seal-document-sha256");
            let body = response
                .bytes()
                .await
                .map_err(|err| format!("reading the answer: {err}"))?;
            Ok(Answer {
                status,
                content_type,
                field_name,
                document_sha256,
                body: body.to_vec(),
                elapsed: started.elapsed(),
            })
        })
    }

    /// Any request to the server: `target` is a path (`/api/...`) or an absolute URL.
    pub fn send(
        &self,
        method: reqwest::Method,
        target: &str,
        headers: &[(&str, &str)],
        body: Vec<u8>,
    ) -> Result<Reply, String> {
        self.send_with(&self.client, method, target, headers, body)
    }

    /// Like [`Server::send`], from the local address `source` (on Linux every 127.0.0.0/8
    /// address is loopback, so each is a different client on the same machine).
    pub fn send_from(
        &self,
        source: IpAddr,
        method: reqwest::Method,
        target: &str,
        headers: &[(&str, &str)],
        body: Vec<u8>,
    ) -> Result<Reply, String> {
        let client = reqwest::Client::builder()
            .no_proxy()
            .local_address(source)
            .build()
            .unwrap();
        self.send_with(&client, method, target, headers, body)
    }

    fn send_with(
        &self,
        client: &reqwest::Client,
        method: reqwest::Method,
        target: &str,
        headers: &[(&str, &str)],
        body: Vec<u8>,
    ) -> Result<Reply, String> {
        let url = if target.starts_with('/') {
            format!("{}{target}", self.base_url)
        } else {
            target.to_owned()
        };
        self.runtime.block_on(async {
            let mut request = client
                .request(method.clone(), &url)
                .timeout(Duration::from_secs(60));
            for (name, value) in headers {
                request = request.header(*name, *value);
            }
            let response = request
                .body(body)
                .send()
                .await
                .map_err(|err| format!("{method} {url}: {err}"))?;
            let status = response.status().as_u16();
            let headers = response.headers().clone();
            let body = response
                .bytes()
                .await
                .map_err(|err| format!("reading the answer to {method} {url}: {err}"))?;
            Ok(Reply {
                status,
                headers,
                body: body.to_vec(),
            })
        })
    }

    /// The server's process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Kills the server with SIGKILL, as a crash or an out-of-memory kill would, and reaps it.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Everything the server wrote to stderr.
    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// The server's log events: the lines of stderr that are JSON objects.
    pub fn log_events(&self) -> Vec<serde_json::Value> {
        self.log_text()
            .lines()
            .filter_map(|line| serde_json::from_str(line).ok())
            .collect()
    }

    /// The last lines the server wrote to stderr.
    pub fn log_tail(&self) -> String {
        let text = self.log_text();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(40)..].join("\n")
    }

    /// True while the server process is still running.
    pub fn is_running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
