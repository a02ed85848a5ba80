//! The proof that only digests leave: a recording TCP relay in front of a remote signing
//! service, and the check that what it saw is small and holds none of the document.
//!
//! The relay listens on loopback and copies each connection to the real peer, keeping every
//! byte the client sent. It sees the plain HTTP of a loopback peer; for an https peer, the
//! peer itself records the decrypted requests and hands them to [`assert_only_digests`].

use std::collections::HashSet;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// The largest request a remote backend may receive, in bytes (head and body together).
pub const MAX_REQUEST_BYTES: usize = 2048;

/// The window of consecutive document bytes that must not appear in what was sent. Shorter
/// windows occur by chance in any two byte strings of some length (`%PDF-1.`, `obj`).
const WINDOW: usize = 16;

/// What one client connection sent, shared between its relay task and the test.
type Recording = Arc<Mutex<Vec<u8>>>;

/// A relay that records what clients send to `upstream`.
pub struct RecordingRelay {
    /// The address clients connect to instead of the peer's.
    pub address: SocketAddr,
    connections: Arc<Mutex<Vec<Recording>>>,
    task: tokio::task::JoinHandle<()>,
}

impl RecordingRelay {
    /// Starts a relay on 127.0.0.1 to `upstream`, on the current tokio runtime.
    pub async fn start(upstream: SocketAddr) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind the relay");
        let address = listener.local_addr().unwrap();
        let connections: Arc<Mutex<Vec<Recording>>> = Arc::default();
        let recorded = connections.clone();
        let task = tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                let sent = Arc::new(Mutex::new(Vec::new()));
                recorded.lock().unwrap().push(sent.clone());
                tokio::spawn(relay(client, upstream, sent));
            }
        });
        Self {
            address,
            connections,
            task,
        }
    }

    /// Everything clients sent, one entry per connection, in the order they connected.
    pub fn sent(&self) -> Vec<Vec<u8>> {
        let connections = self.connections.lock().unwrap();
        connections
            .iter()
            .map(|c| c.lock().unwrap().clone())
            .collect()
    }

    /// Each HTTP/1.1 request clients sent, split from the connections' byte streams.
    pub fn requests(&self) -> Vec<Vec<u8>> {
        self.sent()
            .iter()
            .flat_map(|bytes| split_requests(bytes))
            .collect()
    }
}

impl Drop for RecordingRelay {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn relay(mut client: TcpStream, upstream: SocketAddr, sent: Recording) {
    let Ok(mut server) = TcpStream::connect(upstream).await else {
        return;
    };
    let (mut client_read, mut client_write) = client.split();
    let (mut server_read, mut server_write) = server.split();
    let upward = async {
        let mut buffer = vec![0; 16 * 1024];
        loop {
            let n = match client_read.read(&mut buffer).await {
                Ok(0) | Err(_) => break,
                Ok(n) => n,
            };
            sent.lock().unwrap().extend_from_slice(&buffer[..n]);
            if server_write.write_all(&buffer[..n]).await.is_err() {
                break;
            }
        }
        let _ = server_write.shutdown().await;
    };
    let downward = async {
        let _ = tokio::io::copy(&mut server_read, &mut client_write).await;
        let _ = client_write.shutdown().await;
    };
    tokio::join!(upward, downward);
}

/// Splits a client's byte stream into HTTP/1.1 requests by their `Content-Length` (the clients
/// under test send no chunked bodies; a chunked request would show up as one oversized
/// request and fail the size check, which is the safe direction).
pub fn split_requests(mut bytes: &[u8]) -> Vec<Vec<u8>> {
    let mut requests = Vec::new();
    while !bytes.is_empty() {
        let Some(head_end) = find(bytes, b"\r\n\r\n").map(|at| at + 4) else {
            requests.push(bytes.to_vec());
            break;
        };
        let head = String::from_utf8_lossy(&bytes[..head_end]).to_ascii_lowercase();
        let body_len = head
            .lines()
            .find_map(|line| line.strip_prefix("content-length:"))
            .and_then(|value| value.trim().parse::<usize>().ok())
            .unwrap_or(0);
        let end = (head_end + body_len).min(bytes.len());
        requests.push(bytes[..end].to_vec());
        bytes = &bytes[end..];
    }
    requests
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// Asserts that at least one request was made, that each is under [`MAX_REQUEST_BYTES`], and
/// that none holds a run of [`WINDOW`] consecutive bytes of `document`, as they are or in
/// base64 (standard or URL-safe, at any of the three alignments) or in hex.
pub fn assert_only_digests(what: &str, requests: &[Vec<u8>], document: &[u8]) {
    assert!(!requests.is_empty(), "{what}: no request was recorded");
    for (index, request) in requests.iter().enumerate() {
        assert!(
            request.len() < MAX_REQUEST_BYTES,
            "{what}: request {index} is {} bytes, over {MAX_REQUEST_BYTES}:\n{}",
            request.len(),
            String::from_utf8_lossy(request)
        );
    }
    let forms = document_forms(document);
    for (index, request) in requests.iter().enumerate() {
        for (form, windows) in &forms {
            let width = windows.iter().next().map_or(WINDOW, Vec::len);
            if let Some(hit) = request.windows(width).find(|w| windows.contains(*w)) {
                panic!(
                    "{what}: request {index} holds document bytes ({form}): {:?}",
                    String::from_utf8_lossy(hit)
                );
            }
        }
    }
}

/// The windows of the document in each encoding it could travel in.
fn document_forms(document: &[u8]) -> Vec<(&'static str, HashSet<Vec<u8>>)> {
    use base64::Engine as _;
    use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};

    let windows = |bytes: &[u8], width: usize| -> HashSet<Vec<u8>> {
        bytes.windows(width).map(<[u8]>::to_vec).collect()
    };
    let mut forms = vec![("raw", windows(document, WINDOW))];
    let mut encoded = HashSet::new();
    for skip in 0..3.min(document.len()) {
        for text in [
            STANDARD.encode(&document[skip..]),
            URL_SAFE_NO_PAD.encode(&document[skip..]),
        ] {
            // The last characters of an encoding depend on where it stops; leave them out.
            let stable = &text.as_bytes()[..text.len().saturating_sub(4)];
            encoded.extend(windows(stable, WINDOW * 4 / 3));
        }
    }
    forms.push(("base64", encoded));
    let hex_lower = hex::encode(document);
    let mut hex_forms = windows(hex_lower.as_bytes(), WINDOW * 2);
    hex_forms.extend(windows(hex_lower.to_uppercase().as_bytes(), WINDOW * 2));
    forms.push(("hex", hex_forms));
    forms
}
