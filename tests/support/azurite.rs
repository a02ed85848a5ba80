//! Azurite, the Azure Storage emulator, for the tests of the Azure storage backend: a process of
//! our own on free loopback ports, and a fixture that prepares and inspects blobs beside the
//! backend under test, with an account SAS for Azurite's development account (`account_sas`).
//!
//! `scripts/setup-tests` installs Azurite into `tools/azurite/node_modules`;
//! `PDF_SEAL_TEST_AZURITE` names another `azurite` executable.

use std::io::{BufRead, BufReader, Read};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::Duration;

use azure_core::http::{RequestContent, Url};
use azure_storage_blob::BlobServiceClient;
use azure_storage_blob::models::{BlobClientGetPropertiesResultHeaders, BlockLookupList};
use azure_storage_queue::QueueClient;
use azure_storage_queue::models::QueueMessage;
use pdf_seal::config::{Environment, StorageSettings};
use pdf_seal::storage::azure::{self, AzureTuning};
use pdf_seal::storage::{BlobPath, Storage};
use sha2::{Digest, Sha256};
use tempfile::TempDir;

use super::account_sas::{ACCOUNT, account_sas};

/// How long Azurite may take to listen.
const START_LIMIT: Duration = Duration::from_secs(60);

/// A running Azurite with Blob and Queue services (and Table, which the tests leave alone), killed
/// when dropped, with its data in a temporary directory.
pub struct Azurite {
    child: Child,
    /// `http://127.0.0.1:PORT/devstoreaccount1`, or https when started with a certificate.
    pub blob_endpoint: String,
    pub queue_endpoint: String,
    output: Arc<Mutex<String>>,
    _data: TempDir,
}

impl Azurite {
    /// Starts Azurite on free loopback ports, answering any API version (the SDK's is newer than
    /// Azurite 3.35 knows, DESIGN.md section 9).
    pub fn start() -> Self {
        Self::start_with(&[])
    }

    /// Starts Azurite with more arguments (`--oauth basic --cert ... --key ...`, say).
    pub fn start_with(extra: &[&str]) -> Self {
        let data = TempDir::new().expect("a temporary directory for Azurite");
        let mut child = Command::new(executable())
            .args(["--blobHost", "127.0.0.1", "--blobPort", "0"])
            .args(["--queueHost", "127.0.0.1", "--queuePort", "0"])
            .args(["--tableHost", "127.0.0.1", "--tablePort", "0"])
            .args(["--disableTelemetry", "--skipApiVersionCheck", "--silent"])
            .arg("--location")
            .arg(data.path())
            .args(extra)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| {
                panic!(
                    "could not start {:?} ({e}); run scripts/setup-tests",
                    executable()
                )
            });

        let output = Arc::new(Mutex::new(String::new()));
        let (ready, listening) = mpsc::channel();
        drain_lines(child.stdout.take(), output.clone(), Some(ready));
        drain_lines(child.stderr.take(), output.clone(), None);

        let mut blob = None;
        let mut queue = None;
        while blob.is_none() || queue.is_none() {
            match listening.recv_timeout(START_LIMIT) {
                Ok((service, url)) if service == "Blob" => blob = Some(url),
                Ok((service, url)) if service == "Queue" => queue = Some(url),
                Ok(_) => {}
                Err(_) => {
                    let _ = child.kill();
                    let _ = child.wait();
                    panic!(
                        "Azurite did not listen within {START_LIMIT:?}; it said:\n{}",
                        output.lock().unwrap()
                    );
                }
            }
        }

        Self {
            child,
            blob_endpoint: format!("{}/{ACCOUNT}", blob.unwrap()),
            queue_endpoint: format!("{}/{ACCOUNT}", queue.unwrap()),
            output,
            _data: data,
        }
    }

    /// What Azurite printed so far.
    pub fn output(&self) -> String {
        self.output.lock().unwrap().clone()
    }

    /// Kills Azurite now, to test what a lost service looks like.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// The environment that selects this Azurite with `sas` as the credential.
    pub fn environment(&self, sas: &str) -> Environment {
        Environment::from_pairs([
            ("PDF_SEAL_STORAGE", "azure"),
            ("PDF_SEAL_BLOB_ENDPOINT", self.blob_endpoint.as_str()),
            ("PDF_SEAL_QUEUE_ENDPOINT", self.queue_endpoint.as_str()),
            ("PDF_SEAL_STORAGE_SAS", sas),
        ])
    }
}

impl Drop for Azurite {
    fn drop(&mut self) {
        self.kill();
    }
}

/// `tools/azurite/node_modules/.bin/azurite`, or `PDF_SEAL_TEST_AZURITE`.
fn executable() -> PathBuf {
    match std::env::var_os("PDF_SEAL_TEST_AZURITE") {
        Some(path) => PathBuf::from(path),
        None => PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("tools/azurite/node_modules/.bin/azurite"),
    }
}

/// Reads a pipe line by line on a thread of its own, keeping what it says and reporting each
/// "Azurite Blob service is successfully listening at URL" as (`Blob`, URL).
fn drain_lines(
    pipe: Option<impl Read + Send + 'static>,
    output: Arc<Mutex<String>>,
    ready: Option<mpsc::Sender<(String, String)>>,
) {
    let Some(pipe) = pipe else { return };
    thread::spawn(move || {
        for line in BufReader::new(pipe).lines() {
            let Ok(line) = line else { break };
            if let Some(ready) = &ready
                && let Some(rest) = line.strip_prefix("Azurite ")
                && let Some((service, url)) =
                    rest.split_once(" service is successfully listening at ")
            {
                let _ = ready.send((service.to_owned(), url.trim().to_owned()));
            }
            let mut kept = output.lock().unwrap();
            kept.push_str(&line);
            kept.push('\n');
        }
    });
}

/// The value of the `sig` parameter of `sas`, percent-encoded as it is in the token.
pub fn signature_of(sas: &str) -> &str {
    sas.split('&')
        .find_map(|pair| pair.strip_prefix("sig="))
        .expect("a SAS has a signature")
}

/// Azurite with the backend under test opened on it, and a client of its own that prepares and
/// inspects blobs. Its four methods have the shape of the storage contract suite's `Fixture`.
pub struct AzuriteFixture {
    pub azurite: Azurite,
    pub sas: String,
    storage: Storage,
    service: BlobServiceClient,
}

impl AzuriteFixture {
    /// Starts Azurite and opens the backend with two retries and the default blocks.
    pub async fn start() -> Self {
        Self::start_tuned(AzureTuning {
            max_retries: 2,
            ..AzureTuning::default()
        })
        .await
    }

    /// Starts Azurite and opens the backend with `tuning`.
    pub async fn start_tuned(tuning: AzureTuning) -> Self {
        let azurite = Azurite::start();
        let sas = account_sas();
        let StorageSettings::Azure(settings) =
            StorageSettings::resolve(&azurite.environment(&sas)).expect("valid settings")
        else {
            panic!("the environment selects azure storage");
        };
        let storage = azure::open_with(&settings, tuning)
            .await
            .unwrap_or_else(|e| panic!("could not open Azurite: {e}\n{}", azurite.output()));

        let mut url = Url::parse(&azurite.blob_endpoint).unwrap();
        url.set_query(Some(&sas));
        let service = BlobServiceClient::new(url, None, None).expect("a Blob service client");
        Self {
            azurite,
            sas,
            storage,
            service,
        }
    }

    /// The backend under test.
    pub fn storage(&self) -> &Storage {
        &self.storage
    }

    /// Creates the container `name`; one that exists already is left as it is, as a local
    /// directory would be.
    pub async fn create_container(&self, name: &str) {
        match self.service.blob_container_client(name).create(None).await {
            Err(e) if e.http_status().map(u16::from) != Some(409) => {
                panic!("could not create the container {name}: {e:?}")
            }
            _ => {}
        }
    }

    pub async fn container_exists(&self, name: &str) -> bool {
        self.service
            .blob_container_client(name)
            .exists()
            .await
            .expect("a container check")
    }

    pub async fn delete_container(&self, name: &str) {
        self.service
            .blob_container_client(name)
            .delete(None)
            .await
            .unwrap_or_else(|e| panic!("could not delete the container {name}: {e:?}"));
    }

    /// Creates or overwrites `path` with `bytes`, in one Put Blob.
    pub async fn put_blob(&self, path: &BlobPath, bytes: &[u8]) {
        self.client(path)
            .upload(RequestContent::from(bytes.to_vec()), None)
            .await
            .unwrap_or_else(|e| panic!("could not write {path}: {e:?}"));
    }

    /// Creates or overwrites `path` with what `reader` gives, staged in blocks of `block_bytes`
    /// so that only one block is in memory at a time; answers the length and SHA-256.
    pub async fn put_blob_from_reader(
        &self,
        path: &BlobPath,
        mut reader: impl Read,
        block_bytes: usize,
    ) -> (u64, [u8; 32]) {
        let client = self.client(path).block_blob_client();
        let mut hash = Sha256::new();
        let mut total = 0u64;
        let mut ids = Vec::new();
        loop {
            let mut block = Vec::with_capacity(block_bytes);
            let read = (&mut reader)
                .take(block_bytes as u64)
                .read_to_end(&mut block)
                .expect("the reader gives the blob's bytes");
            if read == 0 {
                break;
            }
            hash.update(&block);
            total += read as u64;
            let id = format!("block-{:08}", ids.len()).into_bytes();
            client
                .stage_block(&id, read as u64, RequestContent::from(block), None)
                .await
                .unwrap_or_else(|e| panic!("could not stage a block of {path}: {e:?}"));
            ids.push(id);
        }
        let list = BlockLookupList {
            latest: Some(ids),
            ..Default::default()
        };
        client
            .commit_block_list(RequestContent::try_from(list).unwrap(), None)
            .await
            .unwrap_or_else(|e| panic!("could not commit {path}: {e:?}"));
        (total, hash.finalize().into())
    }

    /// The bytes of `path`, or `None` when it does not exist.
    pub async fn read_blob(&self, path: &BlobPath) -> Option<Vec<u8>> {
        match self.client(path).download(None).await {
            Ok(download) => Some(download.body.collect().await.expect("a blob body").to_vec()),
            Err(e) if e.http_status().map(u16::from) == Some(404) => None,
            Err(e) => panic!("could not read {path}: {e:?}"),
        }
    }

    /// The body of `path` as a stream of chunks, or `None` when it does not exist.
    pub async fn download(
        &self,
        path: &BlobPath,
    ) -> Option<impl futures_util::Stream<Item = azure_core::Result<bytes::Bytes>>> {
        match self.client(path).download(None).await {
            Ok(download) => Some(download.body),
            Err(e) if e.http_status().map(u16::from) == Some(404) => None,
            Err(e) => panic!("could not read {path}: {e:?}"),
        }
    }

    /// The length and SHA-256 of `path`, read in ranges without holding it in memory.
    pub async fn blob_digest(&self, path: &BlobPath) -> (u64, [u8; 32]) {
        let download = self
            .client(path)
            .download(None)
            .await
            .unwrap_or_else(|e| panic!("could not read {path}: {e:?}"));
        let mut body = download.body;
        let mut hash = Sha256::new();
        let mut total = 0u64;
        while let Some(chunk) = futures_util::StreamExt::next(&mut body).await {
            let chunk = chunk.expect("a chunk of the blob");
            hash.update(&chunk);
            total += chunk.len() as u64;
        }
        (total, hash.finalize().into())
    }

    /// The content type of `path`.
    pub async fn content_type(&self, path: &BlobPath) -> Option<String> {
        let properties = self
            .client(path)
            .get_properties(None)
            .await
            .unwrap_or_else(|e| panic!("could not read the properties of {path}: {e:?}"));
        properties.content_type().expect("a content type header")
    }

    pub async fn delete_blob(&self, path: &BlobPath) {
        self.client(path)
            .delete(None)
            .await
            .unwrap_or_else(|e| panic!("could not delete {path}: {e:?}"));
    }

    /// Puts a message with `text` on `queue`, as another writer of the queue might.
    pub async fn send_raw_message(&self, queue: &str, text: &str) {
        let message = QueueMessage {
            message_text: Some(text.to_owned()),
        };
        self.queue(queue)
            .send_message(RequestContent::try_from(message).unwrap(), None)
            .await
            .unwrap_or_else(|e| panic!("could not send to the queue {queue}: {e:?}"));
    }

    /// How many messages `queue` holds, visible or not, as the service counts them.
    pub async fn queue_length(&self, queue: &str) -> u64 {
        let properties = self
            .queue(queue)
            .get_properties(None)
            .await
            .unwrap_or_else(|e| panic!("could not read the queue {queue}: {e:?}"));
        properties
            .headers()
            .get_optional_string(&"x-ms-approximate-messages-count".into())
            .and_then(|count| count.parse().ok())
            .expect("a message count")
    }

    fn queue(&self, name: &str) -> QueueClient {
        let mut url = Url::parse(&self.azurite.queue_endpoint).unwrap();
        url.path_segments_mut().unwrap().push(name);
        url.set_query(Some(&self.sas));
        QueueClient::new(url, None, None).expect("a queue client")
    }

    fn client(&self, path: &BlobPath) -> azure_storage_blob::BlobClient {
        self.service.blob_client(path.container(), path.blob())
    }
}

/// The contract suite's `Fixture` is `Send + Sync`, and so must this fixture be.
fn _the_fixture_is_send_and_sync() {
    fn check<T: Send + Sync>() {}
    check::<AzuriteFixture>();
}
