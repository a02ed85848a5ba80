//! The function app of `functions/` as the Azure Functions host sees it: its host.json and
//! catch-all function, a copy laid out as the deployed package (the binary beside host.json, as
//! `scripts/package-function` zips it), and pdf-seal started in that copy the way the host
//! starts a custom handler.
//!
//! What the host does, from its source (Azure/azure-functions-host, `src/WebJobs.Script/Workers`):
//! it runs `customHandler.description.defaultExecutablePath`, resolved against the app root,
//! with the `arguments`, in the app root, with the app settings in its environment plus
//! `FUNCTIONS_CUSTOMHANDLER_PORT` (a free port it picked), `FUNCTIONS_CUSTOMHANDLER_WORKER_ID`,
//! `FUNCTIONS_HTTPWORKER_PORT`, `FUNCTIONS_HTTPWORKER_ID` and `FUNCTIONS_APP_ROOT_PATH`. Then it
//! sends `GET /` to 127.0.0.1 on that port every 25 ms until any HTTP answer comes, for at most
//! 30 s (`WorkerInitTimeoutSeconds`; Microsoft's documentation says 60 s). With
//! `enableProxyingHttpRequest` it forwards each request of an HTTP-only function as it came:
//! same method, path with the route prefix, query, headers and body.

use std::ffi::OsString;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use serde_json::Value;

use super::fixture::binary;
use super::oidc_provider::free_port;
use super::server::Server;

/// How long the host waits for a custom handler's first HTTP answer (its source's
/// `WorkerInitTimeoutSeconds`; Flex Consumption also allows 30 s).
pub const HOST_START_LIMIT: Duration = Duration::from_secs(30);

/// How often the host asks `GET /` while it waits.
const PROBE_INTERVAL: Duration = Duration::from_millis(25);

/// The host name the platform gives the app in `WEBSITE_HOSTNAME`; a reserved name, so that
/// nothing could ever reach it.
pub const WEBSITE_HOSTNAME: &str = "seal-fn.example.test";

/// `functions/` in the project.
pub fn app_source() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("functions")
}

/// The files of the function app.
pub struct AppFiles {
    /// host.json.
    pub host: Value,
    /// Each function: its folder's name and its function.json.
    pub functions: Vec<(String, Value)>,
}

impl AppFiles {
    /// Reads host.json and every `*/function.json` of `functions/`.
    pub fn read() -> AppFiles {
        let source = app_source();
        let host = read_json(&source.join("host.json"));
        let mut functions = Vec::new();
        for entry in std::fs::read_dir(&source).unwrap() {
            let folder = entry.unwrap().path();
            let metadata = folder.join("function.json");
            if metadata.is_file() {
                let name = folder.file_name().unwrap().to_string_lossy().into_owned();
                functions.push((name, read_json(&metadata)));
            }
        }
        functions.sort_by(|a, b| a.0.cmp(&b.0));
        AppFiles { host, functions }
    }

    /// `customHandler.description.defaultExecutablePath`.
    pub fn executable(&self) -> &str {
        self.host["customHandler"]["description"]["defaultExecutablePath"]
            .as_str()
            .expect("host.json has no customHandler.description.defaultExecutablePath")
    }

    /// `customHandler.description.arguments`.
    pub fn arguments(&self) -> Vec<String> {
        let arguments = &self.host["customHandler"]["description"]["arguments"];
        arguments
            .as_array()
            .expect("host.json has no customHandler.description.arguments")
            .iter()
            .map(|argument| argument.as_str().unwrap().to_owned())
            .collect()
    }

    /// `extensions.http.routePrefix`; the host's default is `api`.
    pub fn route_prefix(&self) -> &str {
        self.host["extensions"]["http"]["routePrefix"]
            .as_str()
            .unwrap_or("api")
    }

    /// Copies the app into `root` as the package deploys it: host.json, each function's
    /// folder, and the binary under test beside them with the executable's name.
    pub fn lay_out_package(&self, root: &Path) {
        std::fs::create_dir_all(root).unwrap();
        std::fs::copy(app_source().join("host.json"), root.join("host.json")).unwrap();
        for (name, _) in &self.functions {
            let folder = root.join(name);
            std::fs::create_dir_all(&folder).unwrap();
            let metadata = app_source().join(name).join("function.json");
            std::fs::copy(metadata, folder.join("function.json")).unwrap();
        }
        // fs::copy keeps the permission bits, so the copy is executable as the build is.
        std::fs::copy(binary(), root.join(self.executable())).unwrap();
    }
}

fn read_json(path: &Path) -> Value {
    let text = std::fs::read_to_string(path)
        .unwrap_or_else(|error| panic!("reading {}: {error}", path.display()));
    serde_json::from_str(&text)
        .unwrap_or_else(|error| panic!("{} is not JSON: {error}", path.display()))
}

/// The handler's process as the host would start it in the app at `root`, with `home` as
/// `HOME` (the app's persistent share, `/home` on Azure) and `settings` as the app settings;
/// nothing else of the test's environment is passed on. Answers the command and its port.
pub fn handler_command(
    app: &AppFiles,
    root: &Path,
    home: &Path,
    settings: &[(&str, OsString)],
) -> (Command, u16) {
    let port = free_port();
    let worker_id = "0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0";
    let mut command = Command::new(root.join(app.executable()));
    command
        .args(app.arguments())
        .current_dir(root)
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("HOME", home)
        .env("FUNCTIONS_WORKER_RUNTIME", "custom")
        .env("WEBSITE_HOSTNAME", WEBSITE_HOSTNAME)
        .env("FUNCTIONS_CUSTOMHANDLER_PORT", port.to_string())
        .env("FUNCTIONS_CUSTOMHANDLER_WORKER_ID", worker_id)
        .env("FUNCTIONS_HTTPWORKER_PORT", port.to_string())
        .env("FUNCTIONS_HTTPWORKER_ID", worker_id)
        .env("FUNCTIONS_APP_ROOT_PATH", root);
    for (name, value) in settings {
        command.env(name, value);
    }
    (command, port)
}

/// A handler that started.
pub struct Started {
    pub server: Server,
    /// `FUNCTIONS_CUSTOMHANDLER_PORT`.
    pub port: u16,
    /// From the start of the process to the first HTTP answer to the host's probe.
    pub ready_after: Duration,
    /// The status of that answer (any status tells the host the handler is up).
    pub probe_status: u16,
}

/// Starts `command` (from [`handler_command`]) and probes `port` as the host does; panics
/// when no HTTP answer comes within [`HOST_START_LIMIT`], with the handler's log.
pub fn start_handler(command: Command, port: u16, log: &Path) -> Started {
    let (sender, probed) = mpsc::channel();
    let started = Instant::now();
    thread::spawn(move || {
        let _ = sender.send(probe_until_answered(port, started));
    });
    let server = Server::start(command, log);

    let answer = probed
        .recv_timeout(HOST_START_LIMIT)
        .ok()
        .flatten()
        .unwrap_or_else(|| {
            panic!(
                "no HTTP answer on 127.0.0.1:{port} within {} s; the handler's log:\n{}",
                HOST_START_LIMIT.as_secs(),
                server.log_tail()
            )
        });
    Started {
        server,
        port,
        ready_after: answer.0,
        probe_status: answer.1,
    }
}

/// `GET /` every [`PROBE_INTERVAL`] until an HTTP status line comes back: the time since
/// `started` and the status, or `None` at the host's limit.
fn probe_until_answered(port: u16, started: Instant) -> Option<(Duration, u16)> {
    let address = SocketAddr::from(([127, 0, 0, 1], port));
    while started.elapsed() < HOST_START_LIMIT {
        if let Some(status) = probe_once(address) {
            return Some((started.elapsed(), status));
        }
        thread::sleep(PROBE_INTERVAL);
    }
    None
}

fn probe_once(address: SocketAddr) -> Option<u16> {
    let mut stream = TcpStream::connect_timeout(&address, Duration::from_secs(1)).ok()?;
    stream.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    let request = format!("GET / HTTP/1.1\r\nHost: {address}\r\nConnection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).ok()?;
    let mut head = [0; 12];
    stream.read_exact(&mut head).ok()?;
    let line = std::str::from_utf8(&head).ok()?;
    line.strip_prefix("HTTP/1.1 ")?.trim().parse().ok()
}
