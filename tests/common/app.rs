//! A real pdf-seal server on a free loopback port, and signers that need no key.

use std::net::TcpListener;
use std::sync::Arc;

use async_trait::async_trait;
use pdf_seal::api::AppState;
use pdf_seal::config::SealLimits;
use pdf_seal_core::signer::{DigestAlgorithm, DocumentDigest, Signer, SignerError};
use x509_cert::Certificate;

/// A tiny DER value (`SEQUENCE { INTEGER 1 }`) standing in for a CMS container.
pub const FAKE_CMS: &[u8] = &[0x30, 0x03, 0x02, 0x01, 0x01];

/// A running server and a client for it.
pub struct TestApp {
    pub base_url: String,
    pub client: reqwest::Client,
}

impl TestApp {
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base_url)
    }
}

/// Starts the API with `signer` and a PDF limit of `max_body_bytes`, with one worker.
pub fn spawn_app(signer: Arc<dyn Signer>, max_body_bytes: u64) -> TestApp {
    let limits = SealLimits {
        max_body_bytes,
        ..SealLimits::default()
    };
    spawn_app_with_limits(signer, limits)
}

/// Starts the API with `signer` and `limits`, with one worker.
pub fn spawn_app_with_limits(signer: Arc<dyn Signer>, limits: SealLimits) -> TestApp {
    let listener = TcpListener::bind("127.0.0.1:0").expect("a free loopback port");
    let address = listener.local_addr().unwrap();
    let state = AppState::new(signer, limits);
    let server = pdf_seal::server::listen_with_workers(listener, state, 1).unwrap();
    tokio::spawn(server);

    TestApp {
        base_url: format!("http://{address}"),
        client: client(),
    }
}

/// A client that never goes through a proxy: every request stays on loopback.
pub fn client() -> reqwest::Client {
    reqwest::Client::builder().no_proxy().build().unwrap()
}

/// Returns [`FAKE_CMS`] for any digest.
pub struct FixedSigner;

#[async_trait]
impl Signer for FixedSigner {
    fn estimated_cms_len(&self, _algorithm: DigestAlgorithm) -> usize {
        FAKE_CMS.len()
    }

    async fn sign(&self, _digest: &DocumentDigest) -> Result<Vec<u8>, SignerError> {
        Ok(FAKE_CMS.to_vec())
    }

    fn certificates(&self) -> &[Certificate] {
        &[]
    }
}
