//! The local storage backend: the shared storage contract, then what only the local default
//! has (the directory lock, `tmp/`, the queue rebuilt at open, symbolic links, the marker as
//! an extended attribute).

#[path = "storage_local/blobs.rs"]
mod blobs;
#[path = "storage_local/jobs.rs"]
mod jobs;
#[path = "storage_local/open.rs"]
mod open;
#[path = "storage_local/queue.rs"]
mod queue;
#[path = "support/storage_contract.rs"]
mod storage_contract;

use std::fs;
use std::os::unix::fs::PermissionsExt as _;
use std::path::{Path, PathBuf};

use async_trait::async_trait;
use pdf_seal::jobs::JobId;
use pdf_seal::storage::{BlobPath, OutputMarker, Storage, local};
use storage_contract::Fixture;
use tempfile::TempDir;

/// A data directory in a scratch directory, opened.
struct LocalFixture {
    scratch: TempDir,
    storage: Storage,
}

impl LocalFixture {
    fn new() -> Self {
        let scratch = tempfile::tempdir().unwrap();
        let storage = local::open(&scratch.path().join("data")).unwrap();
        Self { scratch, storage }
    }

    fn data(&self) -> PathBuf {
        self.scratch.path().join("data")
    }

    fn file(&self, path: &BlobPath) -> PathBuf {
        self.data()
            .join("blobs")
            .join(path.container())
            .join(path.blob())
    }

    fn tmp_entries(&self) -> Vec<PathBuf> {
        let entries = fs::read_dir(self.data().join("tmp")).unwrap();
        entries.map(|entry| entry.unwrap().path()).collect()
    }
}

#[async_trait]
impl Fixture for LocalFixture {
    fn storage(&self) -> &Storage {
        &self.storage
    }

    async fn create_container(&self, name: &str) {
        fs::create_dir_all(self.data().join("blobs").join(name)).unwrap();
    }

    /// Writes a new file and renames it over the blob, as careful writers do.
    async fn put_blob(&self, path: &BlobPath, bytes: &[u8]) {
        let file = self.file(path);
        fs::create_dir_all(file.parent().unwrap()).unwrap();
        let partial = file.with_extension("put-partial");
        fs::write(&partial, bytes).unwrap();
        fs::rename(&partial, &file).unwrap();
    }

    async fn read_blob(&self, path: &BlobPath) -> Option<Vec<u8>> {
        match fs::read(self.file(path)) {
            Ok(bytes) => Some(bytes),
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => None,
            Err(error) => panic!("reading {path}: {error}"),
        }
    }
}

fn blob(container: &str, name: &str) -> BlobPath {
    BlobPath::new(container, name).unwrap()
}

fn marker(job: &JobId, field_name: &str) -> OutputMarker {
    OutputMarker {
        job: job.clone(),
        size_bytes: 0,
        sha256: "0".repeat(64),
        field_name: field_name.to_owned(),
    }
}

fn mode(path: &Path) -> u32 {
    fs::symlink_metadata(path).unwrap().permissions().mode() & 0o7777
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_local_backend_keeps_the_storage_contract() {
    let fixture = LocalFixture::new();

    storage_contract::run_all(&fixture).await;

    assert_eq!(
        fixture.tmp_entries(),
        Vec::<PathBuf>::new(),
        "tmp/ kept files"
    );
}
