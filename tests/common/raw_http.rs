//! A bare HTTP/1.1 client on a TCP stream, for requests that reqwest will not make: a body that
//! stops half-way, or arrives a byte at a time.

use std::net::SocketAddr;
use std::time::Duration;

use serde_json::Value;
use tokio::io::{AsyncRead, AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpStream;

/// How long a test waits for an answer before it fails instead of hanging.
const PATIENCE: Duration = Duration::from_secs(20);

/// An answer as it came over the wire.
#[derive(Debug)]
pub struct RawResponse {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl RawResponse {
    /// The value of the first header called `name`, in any case.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(key, _)| key.eq_ignore_ascii_case(name))
            .map(|(_, value)| value.as_str())
    }

    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|error| {
            let text = String::from_utf8_lossy(&self.body);
            panic!("the body is not JSON ({error}): {text:?}")
        })
    }
}

/// Connects to `address` and sends `head` (the request line and headers, without the blank
/// line that ends them) followed by `body_start`, and nothing more.
pub async fn send_partial(address: SocketAddr, head: &str, body_start: &[u8]) -> TcpStream {
    let mut stream = TcpStream::connect(address).await.unwrap();
    let mut bytes = format!("{head}\r\nHost: {address}\r\n\r\n").into_bytes();
    bytes.extend_from_slice(body_start);
    stream.write_all(&bytes).await.unwrap();
    stream
}

/// Reads one answer: the head, then a body of `Content-Length` bytes or up to the end of the
/// connection. Panics if none comes within [`PATIENCE`].
pub async fn read_response(stream: &mut (impl AsyncRead + Unpin)) -> RawResponse {
    tokio::time::timeout(PATIENCE, read_response_now(stream))
        .await
        .expect("the server answered in time")
}

async fn read_response_now(stream: &mut (impl AsyncRead + Unpin)) -> RawResponse {
    let mut received = Vec::new();
    let head_end = loop {
        if let Some(end) = find(&received, b"\r\n\r\n") {
            break end;
        }
        let mut chunk = [0_u8; 4096];
        let read = stream.read(&mut chunk).await.unwrap();
        assert!(
            read > 0,
            "the connection closed before an answer: {received:?}"
        );
        received.extend_from_slice(&chunk[..read]);
    };

    let head = String::from_utf8(received[..head_end].to_vec()).unwrap();
    let mut lines = head.split("\r\n");
    let status = lines
        .next()
        .unwrap()
        .split(' ')
        .nth(1)
        .unwrap()
        .parse()
        .unwrap();
    let headers = lines
        .map(|line| {
            let (key, value) = line.split_once(':').unwrap();
            (key.trim().to_owned(), value.trim().to_owned())
        })
        .collect();
    let mut response = RawResponse {
        status,
        headers,
        body: received[head_end + 4..].to_vec(),
    };

    match response
        .header("content-length")
        .map(|n| n.parse::<usize>().unwrap())
    {
        Some(length) => {
            while response.body.len() < length {
                let mut chunk = [0_u8; 4096];
                let read = stream.read(&mut chunk).await.unwrap();
                assert!(read > 0, "the connection closed inside the body");
                response.body.extend_from_slice(&chunk[..read]);
            }
        }
        None => {
            stream.read_to_end(&mut response.body).await.unwrap();
        }
    }
    response
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack
        .windows(needle.len())
        .position(|window| window == needle)
}
