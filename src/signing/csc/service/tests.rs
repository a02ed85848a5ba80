//! The token source against a small token endpoint on loopback that accepts one client
//! secret, with a fake secret source in place of the Key Vault cell.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

use super::*;
use crate::config::SecretSetting;

/// A secret that holds `first` until a refresh, then `second` (when there is one).
struct RotatingSecret {
    first: &'static str,
    second: Option<&'static str>,
    rotated: AtomicBool,
    refreshes: Arc<AtomicUsize>,
}

#[async_trait]
impl ClientSecret for RotatingSecret {
    fn current(&self) -> Secret {
        match (self.rotated.load(Ordering::SeqCst), self.second) {
            (true, Some(second)) => Secret::new(second),
            _ => Secret::new(self.first),
        }
    }

    async fn refresh_after_rejection(&self) -> bool {
        self.refreshes.fetch_add(1, Ordering::SeqCst);
        let changed = self.second.is_some() && !self.rotated.load(Ordering::SeqCst);
        self.rotated.store(true, Ordering::SeqCst);
        changed
    }
}

/// A token endpoint that accepts `client:accepted` by HTTP Basic and answers tokens that live
/// `life_secs`; counts the requests. One request per connection.
async fn token_endpoint(accepted: &'static str, life_secs: u64) -> (Url, Arc<AtomicUsize>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = Url::parse(&format!("http://{}/token", listener.local_addr().unwrap())).unwrap();
    let requests = Arc::new(AtomicUsize::new(0));
    let counted = requests.clone();
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            let n = counted.fetch_add(1, Ordering::SeqCst);
            let mut request = Vec::new();
            let mut buffer = [0u8; 4096];
            while !String::from_utf8_lossy(&request).contains("grant_type") {
                match stream.read(&mut buffer).await {
                    Ok(0) | Err(_) => break,
                    Ok(read) => request.extend_from_slice(&buffer[..read]),
                }
            }
            let expected = format!("Basic {}", STANDARD.encode(format!("client:{accepted}")));
            let text = String::from_utf8_lossy(&request).to_ascii_lowercase();
            let (status, body) = if text.contains(&expected.to_ascii_lowercase()) {
                let token = format!("token-{n}");
                (
                    "200 OK",
                    format!(
                        r#"{{"access_token":"{token}","token_type":"Bearer","expires_in":{life_secs}}}"#
                    ),
                )
            } else {
                (
                    "401 Unauthorized",
                    r#"{"error":"invalid_client"}"#.to_string(),
                )
            };
            let answer = format!(
                "HTTP/1.1 {status}\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\
                 connection: close\r\n\r\n{body}",
                body.len()
            );
            let _ = stream.write_all(answer.as_bytes()).await;
        }
    });
    (url, requests)
}

fn source(url: Url, secret: RotatingSecret) -> TokenSource {
    let settings = OAuthSettings {
        token_url: url,
        client_id: "client".into(),
        client_secret: SecretSetting::Value(Secret::new("unused")),
        scope: None,
    };
    let http = reqwest::Client::builder()
        .no_proxy()
        .timeout(Duration::from_secs(5))
        .build()
        .unwrap();
    TokenSource::new(http, &settings, secret)
}

fn secret(first: &'static str, second: Option<&'static str>) -> (RotatingSecret, Arc<AtomicUsize>) {
    let refreshes = Arc::new(AtomicUsize::new(0));
    let secret = RotatingSecret {
        first,
        second,
        rotated: AtomicBool::new(false),
        refreshes: refreshes.clone(),
    };
    (secret, refreshes)
}

#[tokio::test]
async fn a_refused_secret_is_read_again_and_the_rotated_value_gets_the_token() {
    let (url, requests) = token_endpoint("new-secret", 3600).await;
    let (secret, refreshes) = secret("old-secret", Some("new-secret"));
    let tokens = source(url, secret);

    let token = tokens.token().await.unwrap();

    assert_eq!(token.expose(), "token-1");
    assert_eq!(requests.load(Ordering::SeqCst), 2);
    assert_eq!(refreshes.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn a_refused_secret_that_did_not_change_fails_after_one_request_without_showing_it() {
    let (url, requests) = token_endpoint("other-secret", 3600).await;
    let (secret, refreshes) = secret("old-secret", None);
    let tokens = source(url, secret);

    let error = tokens.token().await.unwrap_err();

    assert!(matches!(error, TokenError::Refused(_)), "{error}");
    assert_eq!(requests.load(Ordering::SeqCst), 1);
    assert_eq!(refreshes.load(Ordering::SeqCst), 1);
    let shown = format!("{error} {error:?}");
    assert!(shown.contains("invalid_client"), "{shown}");
    assert!(!shown.contains("old-secret"), "{shown}");
}

#[tokio::test]
async fn a_token_is_reused_while_it_lives_and_renewed_once_forgotten() {
    let (url, requests) = token_endpoint("s", 3600).await;
    let (secret, _) = secret("s", None);
    let tokens = source(url, secret);

    let first = tokens.token().await.unwrap();
    let again = tokens.token().await.unwrap();
    assert_eq!((first.expose(), again.expose()), ("token-0", "token-0"));
    assert_eq!(requests.load(Ordering::SeqCst), 1);

    tokens.invalidate(&first).await;
    assert_eq!(tokens.token().await.unwrap().expose(), "token-1");
    assert_eq!(requests.load(Ordering::SeqCst), 2);
}

#[tokio::test]
async fn a_token_that_claims_to_live_for_ever_is_kept_a_day_without_overflow() {
    let (url, requests) = token_endpoint("s", u64::MAX).await;
    let (secret, _) = secret("s", None);
    let tokens = source(url, secret);

    let first = tokens.token().await.unwrap();
    let again = tokens.token().await.unwrap();

    assert_eq!((first.expose(), again.expose()), ("token-0", "token-0"));
    assert_eq!(requests.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn a_token_that_expires_at_once_is_not_reused() {
    let (url, requests) = token_endpoint("s", 0).await;
    let (secret, _) = secret("s", None);
    let tokens = source(url, secret);

    tokens.token().await.unwrap();
    tokens.token().await.unwrap();

    assert_eq!(requests.load(Ordering::SeqCst), 2);
}

#[tokio::test]
async fn an_unreachable_endpoint_is_retried_then_reported() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = Url::parse(&format!("http://{}/token", listener.local_addr().unwrap())).unwrap();
    drop(listener);
    let (secret, _) = secret("s", None);
    let tokens = source(url, secret);

    let started = Instant::now();
    let error = tokens.token().await.unwrap_err();

    assert!(matches!(error, TokenError::Failed(_)), "{error}");
    assert!(
        error.to_string().contains("could not be reached"),
        "{error}"
    );
    // Two backoffs of at least 200 and 400 ms.
    assert!(started.elapsed() >= Duration::from_millis(600));
}
