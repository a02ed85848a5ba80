//! The HTTP fetch against a small loopback server that answers canned responses by path.

use std::collections::HashMap;
use std::sync::Arc;

use serde_json::json;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpListener;

use super::*;
use crate::auth::entra::testing::TestKey;

/// Stands for the server's own base URL in a canned body.
const BASE: &str = "{base}";

/// A canned answer: the status code, extra header lines, the body.
struct Canned {
    status: u16,
    headers: Vec<String>,
    body: Vec<u8>,
}

impl Canned {
    fn json(value: serde_json::Value) -> Self {
        Self {
            status: 200,
            headers: vec!["Content-Type: application/json".to_owned()],
            body: value.to_string().into_bytes(),
        }
    }

    fn status(status: u16, headers: &[&str]) -> Self {
        Self {
            status,
            headers: headers.iter().map(|header| (*header).to_owned()).collect(),
            body: Vec::new(),
        }
    }
}

/// Serves `routes` on a free loopback port, one request per connection, the body ending when
/// the connection closes; answers the base URL.
async fn serve(routes: Vec<(&'static str, Canned)>) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let routes: Arc<HashMap<_, _>> = Arc::new(routes.into_iter().collect());
    let own_base = base.clone();
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            let routes = Arc::clone(&routes);
            let base = own_base.clone();
            tokio::spawn(async move {
                let mut head = Vec::new();
                let mut byte = [0u8; 1];
                while !head.ends_with(b"\r\n\r\n") && stream.read(&mut byte).await.unwrap_or(0) == 1
                {
                    head.push(byte[0]);
                }
                let head = String::from_utf8_lossy(&head).into_owned();
                let path = head.split(' ').nth(1).unwrap_or("/");
                let _ = stream.write_all(&answer(routes.get(path), &base)).await;
                let _ = stream.shutdown().await;
            });
        }
    });
    base
}

fn answer(canned: Option<&Canned>, base: &str) -> Vec<u8> {
    let Some(canned) = canned else {
        return b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n".to_vec();
    };
    let mut text = format!("HTTP/1.1 {} X\r\nConnection: close\r\n", canned.status);
    for header in &canned.headers {
        text.push_str(&header.replace(BASE, base));
        text.push_str("\r\n");
    }
    text.push_str("\r\n");
    let body = String::from_utf8_lossy(&canned.body).replace(BASE, base);
    let mut bytes = text.into_bytes();
    bytes.extend_from_slice(body.as_bytes());
    bytes
}

fn configuration(jwks_uri: &str) -> Canned {
    Canned::json(json!({ "issuer": "https://login.example.test/t/v2.0", "jwks_uri": jwks_uri }))
}

fn source(base: &str) -> HttpKeySource {
    HttpKeySource::new(Url::parse(&format!("{base}/meta")).unwrap())
}

async fn fetch_error(routes: Vec<(&'static str, Canned)>) -> FetchError {
    let base = serve(routes).await;
    match source(&base).fetch().await {
        Ok(_) => panic!("the fetch should fail"),
        Err(error) => error,
    }
}

#[tokio::test]
async fn fetches_the_issuer_and_the_keys_named_by_the_configuration() {
    let key = TestKey::shared();
    let base = serve(vec![
        ("/meta", configuration("{base}/keys")),
        ("/keys", Canned::json(json!({ "keys": [key.jwk()] }))),
    ])
    .await;

    let fetched = source(&base).fetch().await.unwrap();

    assert_eq!(fetched.issuer, "https://login.example.test/t/v2.0");
    assert_eq!(fetched.jwks_uri.as_str(), format!("{base}/keys"));
    assert!(fetched.keys.keys.contains_key(&key.kid));
}

#[tokio::test]
async fn refuses_a_jwks_uri_in_clear_text_to_another_host() {
    let error = fetch_error(vec![(
        "/meta",
        configuration("http://keys.example.test/jwks"),
    )])
    .await;

    assert!(matches!(error, FetchError::InsecureUrl { .. }), "{error}");
}

#[tokio::test]
async fn refuses_a_jwks_uri_that_is_not_a_url() {
    let error = fetch_error(vec![("/meta", configuration("/relative/jwks"))]).await;

    assert!(matches!(error, FetchError::BadJwksUri { .. }), "{error}");
}

#[tokio::test]
async fn does_not_follow_redirects() {
    let error = fetch_error(vec![
        ("/meta", Canned::status(302, &["Location: {base}/moved"])),
        ("/moved", configuration("{base}/keys")),
    ])
    .await;

    assert!(
        matches!(error, FetchError::Status { status: 302, .. }),
        "{error}"
    );
}

#[tokio::test]
async fn an_error_status_fails_the_fetch() {
    let error = fetch_error(vec![("/meta", configuration("{base}/keys"))]).await;

    assert!(
        matches!(error, FetchError::Status { status: 404, .. }),
        "{error}"
    );
}

#[tokio::test]
async fn refuses_a_body_over_the_limit_whether_announced_or_not() {
    let big = vec![b' '; MAX_BODY_BYTES + 1];
    let announced = Canned {
        status: 200,
        headers: vec![format!("Content-Length: {}", big.len())],
        body: big.clone(),
    };
    let unannounced = Canned {
        status: 200,
        headers: Vec::new(),
        body: big,
    };

    for canned in [announced, unannounced] {
        let error = fetch_error(vec![("/meta", canned)]).await;

        assert!(matches!(error, FetchError::TooLarge { .. }), "{error}");
    }
}

#[tokio::test]
async fn a_configuration_without_jwks_uri_fails_the_fetch() {
    let error = fetch_error(vec![(
        "/meta",
        Canned::json(json!({ "issuer": "https://login.example.test/t/v2.0" })),
    )])
    .await;

    assert!(matches!(error, FetchError::Unreadable { .. }), "{error}");
}

#[tokio::test]
async fn a_key_set_without_usable_keys_fails_the_fetch() {
    let mut encryption = TestKey::shared().jwk();
    encryption["use"] = json!("enc");
    let error = fetch_error(vec![
        ("/meta", configuration("{base}/keys")),
        ("/keys", Canned::json(json!({ "keys": [encryption] }))),
    ])
    .await;

    assert!(
        matches!(error, FetchError::NoUsableKeys { skipped: 1, .. }),
        "{error}"
    );
}

#[tokio::test]
async fn an_unreachable_provider_fails_the_fetch() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    drop(listener);

    let error = source(&base).fetch().await.err().unwrap();

    assert!(matches!(error, FetchError::Request { .. }), "{error}");
}

#[test]
fn https_is_required_except_on_loopback() {
    for (url, allowed) in [
        ("https://login.example.test/x", true),
        ("http://127.0.0.1:8080/x", true),
        ("http://localhost/x", true),
        ("http://[::1]/x", true),
        ("http://10.0.0.1/x", false),
        ("http://login.example.test/x", false),
        ("ftp://127.0.0.1/x", false),
        ("https://user:secret@login.example.test/x", false),
    ] {
        let url = Url::parse(url).unwrap();

        assert_eq!(check_url(&url).is_ok(), allowed, "{url}");
    }
}

#[test]
fn a_refused_url_is_shown_without_its_password() {
    let url = Url::parse("https://user:secret@login.example.test/x").unwrap();

    let error = check_url(&url).unwrap_err();

    assert!(!error.to_string().contains("secret"), "{error}");
}
