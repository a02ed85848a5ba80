//! The contract of the storage traits (`pdf_seal::storage`), checked the same way on every
//! backend.
//!
//! A backend's test binary includes this file, gives it a [`Fixture`] and calls [`run_all`]:
//!
//! ```ignore
//! #[path = "support/storage_contract.rs"]
//! mod storage_contract;
//! ```
//!
//! Each check uses containers of its own and blob names and job ids made for the run, so the
//! checks can share one fixture, and a store that outlives a run does not trip the next one.
//! The queue is shared too: the queue check skips items it did not send (they stay hidden
//! for a moment, which harms nothing) rather than assume it is alone.

#[path = "storage_contract/blobs.rs"]
mod blobs;
#[path = "storage_contract/jobs.rs"]
mod jobs;
#[path = "storage_contract/queue.rs"]
mod queue;

use std::sync::Arc;

use async_trait::async_trait;
use pdf_seal::jobs::JobId;
use pdf_seal::storage::{BlobPath, OutputMarker, OutputWriter, SourceReader, Storage};

// For the local backend's own tests; the Azure binary does not need it.
#[allow(unused_imports)]
pub use jobs::queued_record;

/// What the contract needs of a backend besides its [`Storage`]: a way to set up and look at
/// blobs without going through the traits under test.
#[async_trait]
pub trait Fixture: Send + Sync {
    /// The backend under test.
    fn storage(&self) -> &Storage;
    /// Creates the container `name`; does nothing when it exists.
    async fn create_container(&self, name: &str);
    /// Writes `bytes` as the blob at `path`, creating it or overwriting it.
    async fn put_blob(&self, path: &BlobPath, bytes: &[u8]);
    /// The bytes of the blob at `path`, or `None` when there is none.
    async fn read_blob(&self, path: &BlobPath) -> Option<Vec<u8>>;
}

/// Runs every check of the contract on `fixture`, one after the other; a failed check panics
/// with its name.
pub async fn run_all(fixture: &dyn Fixture) {
    let run = Run::new();
    blobs::missing_blobs_and_containers(fixture, &run).await;
    blobs::pinned_reads_fail_once_the_source_is_overwritten(fixture, &run).await;
    blobs::a_commit_fails_when_the_source_changed_since_it_was_pinned(fixture, &run).await;
    blobs::an_output_is_invisible_until_its_commit(fixture, &run).await;
    blobs::overwrite_false_keeps_an_existing_destination(fixture, &run).await;
    blobs::overwrite_true_replaces_an_existing_destination(fixture, &run).await;
    blobs::a_missing_destination_container_is_refused(fixture, &run).await;
    blobs::the_marker_round_trips(fixture, &run).await;
    blobs::an_aborted_output_leaves_nothing(fixture, &run).await;
    jobs::the_job_store_creates_once_and_replaces_by_etag(fixture).await;
    jobs::the_job_store_lists_unfinished_jobs_oldest_first(fixture).await;
    queue::the_queue_hides_renews_and_deletes(fixture).await;
}

/// Names that are new for each run.
pub struct Run {
    tag: String,
}

impl Run {
    pub fn new() -> Self {
        Self {
            tag: JobId::random().as_str()[..10].to_owned(),
        }
    }

    /// A blob of this run in `container`.
    pub fn blob(&self, container: &str, name: &str) -> BlobPath {
        BlobPath::new(container, &format!("{}/{name}", self.tag)).unwrap()
    }

    /// A container name that no fixture created.
    pub fn absent_container(&self) -> String {
        format!("contract-absent-{}", self.tag)
    }
}

impl Default for Run {
    fn default() -> Self {
        Self::new()
    }
}

/// Bytes of a given length that change with `seed`.
fn document(len: usize, seed: u8) -> Vec<u8> {
    (0..len)
        .map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed))
        .collect()
}

fn marker(job: &JobId, output: &[u8], field_name: &str) -> OutputMarker {
    use sha2::Digest as _;
    OutputMarker {
        job: job.clone(),
        size_bytes: output.len() as u64,
        sha256: hex::encode(sha2::Sha256::digest(output)),
        field_name: field_name.to_owned(),
    }
}

/// Puts `bytes` at `path` and opens it pinned at the version that was written.
async fn put_and_open(
    fixture: &dyn Fixture,
    path: &BlobPath,
    bytes: &[u8],
) -> Arc<dyn SourceReader> {
    fixture.put_blob(path, bytes).await;
    let blobs = &fixture.storage().blobs;
    let pinned = blobs
        .properties(path)
        .await
        .unwrap()
        .expect("the blob just put");
    assert_eq!(pinned.len, bytes.len() as u64, "length of {path}");
    blobs.open_source(path, &pinned).await.unwrap()
}

/// Starts the output at `destination` and gives it the source's bytes when it wants them, in
/// ranges of 1000 bytes, as a job would.
async fn begin(
    fixture: &dyn Fixture,
    job: &JobId,
    destination: &BlobPath,
    source: &Arc<dyn SourceReader>,
) -> Box<dyn OutputWriter> {
    let blobs = &fixture.storage().blobs;
    let mut writer = blobs
        .begin_output(job, destination, source.clone())
        .await
        .unwrap();
    if writer.needs_source_bytes() {
        let len = source.pinned().len;
        let mut offset = 0;
        while offset < len {
            let take = (len - offset).min(1000) as usize;
            let chunk = source.read_range(offset, take).await.unwrap();
            writer.write_source(chunk).await.unwrap();
            offset += take as u64;
        }
    }
    writer
}
