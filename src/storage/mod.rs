//! Where blob mode keeps its documents, job records and work items (DESIGN.md section 5).
//!
//! Three traits, each with two backends that keep the same semantics:
//! - [`BlobStore`]: the source and destination blobs. [`azure`] is Azure Blob Storage through
//!   the official SDK; [`local`] is a data directory in which container `c`, blob `b` is the
//!   file `blobs/c/b`.
//! - [`JobStore`]: one record per job, replaced only by compare-and-swap on its ETag, so that
//!   any instance can answer a job's status and two workers never both think they own it.
//! - [`WorkQueue`]: work items with a visibility timeout. A delivery that is not deleted comes
//!   back when its timeout passes, which is how a job whose worker died is taken up again.
//!   Azure Storage Queue on Azure; in process on the local default, rebuilt at start from the
//!   job records that are not finished.
//!
//! The sealing core never sees any of this: [`source::BlobSource`] turns a pinned source
//! blob into a [`pdf_seal_core::pdf::Source`].

pub mod azure;
pub mod local;
pub mod names;
pub mod source;

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;
use serde::{Deserialize, Serialize};

pub use names::{BlobPath, NameError};

use crate::config::StorageSettings;

use crate::jobs::{JobId, JobRecord};

/// The version of a blob or record as the store reports it: an opaque string that changes with
/// every write.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct ETag(pub String);

impl fmt::Display for ETag {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// What the store says of a blob that exists.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BlobProperties {
    /// Its length in bytes.
    pub len: u64,
    /// Its version; reads pinned to it fail with [`StorageError::SourceChanged`] once the blob
    /// is written again.
    pub etag: ETag,
}

/// What a sealed output records of the job that wrote it, so that a job taken up again after
/// its worker died can tell that its output is already there (blob metadata on Azure, an
/// extended attribute on the local default).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OutputMarker {
    /// The job that wrote the output.
    pub job: JobId,
    /// The output's length in bytes.
    pub size_bytes: u64,
    /// SHA-256 of the output, lowercase hex.
    pub sha256: String,
    /// The signature field that holds the seal.
    pub field_name: String,
}

/// Why a storage operation failed. Everything but [`StorageError::Transient`] is final for the
/// job that met it.
#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    /// The source blob's container or the blob itself does not exist.
    #[error("the source blob {0} does not exist")]
    SourceNotFound(BlobPath),
    /// The destination's container does not exist.
    #[error("the container {0:?} of the destination does not exist")]
    DestinationContainerNotFound(String),
    /// The destination exists and the job may not overwrite it.
    #[error("the destination blob {0} already exists; set \"overwrite\": true to replace it")]
    DestinationExists(BlobPath),
    /// The destination's name cannot take a blob here: a blob stands where the name needs a
    /// folder, a folder or a non-block blob stands at the name, a name part is too long for
    /// the file system, the blob is leased.
    #[error("the destination {path} cannot be written: {reason}")]
    DestinationUnusable { path: BlobPath, reason: String },
    /// The source was written after the job pinned it.
    #[error("the source blob {0} changed while it was being sealed; nothing was written")]
    SourceChanged(BlobPath),
    /// The store refused the service's identity.
    #[error("the storage account refused access to {what}: {reason}")]
    AccessDenied { what: String, reason: String },
    /// A failure that may pass: a timeout, a 5xx, a throttled request, a lost connection.
    #[error("storage is not available: {0}")]
    Transient(String),
    /// Anything else the store answered; never retried.
    #[error("storage failed: {0}")]
    Failed(String),
}

impl StorageError {
    /// True when trying again later may succeed.
    pub fn is_transient(&self) -> bool {
        matches!(self, Self::Transient(_))
    }
}

/// Result of a storage operation.
pub type StorageResult<T> = Result<T, StorageError>;

/// Random access to a source blob pinned at one version. Every read carries the pin: a blob
/// written since fails the read with [`StorageError::SourceChanged`], so the bytes a job reads
/// are all of one version.
#[async_trait]
pub trait SourceReader: Send + Sync {
    /// The pinned blob.
    fn path(&self) -> &BlobPath;
    /// Its properties when it was pinned.
    fn pinned(&self) -> &BlobProperties;
    /// Reads `len` bytes from `offset`; the range lies within the blob.
    async fn read_range(&self, offset: u64, len: usize) -> StorageResult<Bytes>;
}

/// The assembly of one output blob: the source's bytes, then the increment, made visible at
/// once by [`OutputWriter::commit`]. Nothing is visible at the destination before the commit,
/// and an output that is never committed leaves no blob behind (uncommitted blocks on Azure
/// are removed by the service; the local default removes its temporary file).
#[async_trait]
pub trait OutputWriter: Send {
    /// True when the source's bytes must be passed through [`OutputWriter::write_source`];
    /// false when the store copies them itself (the local default's file copy).
    fn needs_source_bytes(&self) -> bool;

    /// Appends the next chunk of the source; chunks come in order and cover it whole.
    async fn write_source(&mut self, chunk: Bytes) -> StorageResult<()>;

    /// Appends `increment` after the source and makes the output visible at once, with
    /// `marker`. Fails with [`StorageError::DestinationExists`] when the destination exists
    /// and `overwrite` is false, and with [`StorageError::SourceChanged`], writing nothing,
    /// when the source is no longer the version it was pinned at.
    async fn commit(
        self: Box<Self>,
        increment: Bytes,
        marker: &OutputMarker,
        overwrite: bool,
    ) -> StorageResult<()>;

    /// Gives up the output; best effort, never fails.
    async fn abort(self: Box<Self>);
}

/// Source and destination blobs.
#[async_trait]
pub trait BlobStore: Send + Sync + 'static {
    /// The properties of `blob`, or `None` when it (or its container) does not exist.
    async fn properties(&self, blob: &BlobPath) -> StorageResult<Option<BlobProperties>>;

    /// The source `blob`, pinned at the version `pinned` describes.
    async fn open_source(
        &self,
        blob: &BlobPath,
        pinned: &BlobProperties,
    ) -> StorageResult<Arc<dyn SourceReader>>;

    /// Starts the output at `destination` for the job `job`, whose first bytes are those of
    /// `source`. Fails with [`StorageError::DestinationContainerNotFound`] when the
    /// destination's container does not exist.
    async fn begin_output(
        &self,
        job: &JobId,
        destination: &BlobPath,
        source: Arc<dyn SourceReader>,
    ) -> StorageResult<Box<dyn OutputWriter>>;

    /// The marker of the output at `destination`, or `None` when there is no blob or it has
    /// no marker.
    async fn output_marker(&self, destination: &BlobPath) -> StorageResult<Option<OutputMarker>>;
}

/// What [`JobStore::create`] found.
#[derive(Debug)]
pub enum Created {
    /// The record is new.
    New(ETag),
    /// A record with this id was there already; it is returned unchanged.
    Exists(Box<JobRecord>, ETag),
}

/// Job records, one per job id.
#[async_trait]
pub trait JobStore: Send + Sync + 'static {
    /// Writes `record` unless a record with its id exists.
    async fn create(&self, record: &JobRecord) -> StorageResult<Created>;

    /// The record of `id` and its version, or `None`.
    async fn get(&self, id: &JobId) -> StorageResult<Option<(JobRecord, ETag)>>;

    /// Replaces the record of `record.id` if it is still at version `etag`; `None` when
    /// another write came first.
    async fn replace(&self, record: &JobRecord, etag: &ETag) -> StorageResult<Option<ETag>>;

    /// The ids of the jobs that are queued or running, oldest first. The local default
    /// rebuilds its queue from them at start; on Azure the queue itself is durable.
    async fn unfinished(&self) -> StorageResult<Vec<JobId>>;
}

/// One delivery of a work item: the job it names, and the receipt that deletes it or keeps
/// it hidden.
#[derive(Clone, Debug)]
pub struct Delivery {
    /// The job to work on.
    pub job: JobId,
    /// How many times the item has been delivered, this time included.
    pub dequeue_count: u32,
    /// The queue's id of the item.
    pub message_id: String,
    /// Proof of this delivery (the pop receipt); it changes when the timeout is extended.
    pub receipt: String,
}

/// Work items, each naming a job.
#[async_trait]
pub trait WorkQueue: Send + Sync + 'static {
    /// Adds an item for `job`, visible at once.
    async fn send(&self, job: &JobId) -> StorageResult<()>;

    /// The next visible item, hidden from other receivers for `visibility`; `None` when there
    /// is none now.
    async fn receive(&self, visibility: Duration) -> StorageResult<Option<Delivery>>;

    /// Keeps `delivery` hidden for `visibility` from now; its receipt is renewed. Fails when
    /// the delivery is no longer ours (its timeout passed and someone else received it).
    async fn extend(&self, delivery: &mut Delivery, visibility: Duration) -> StorageResult<()>;

    /// Removes the item of `delivery` for good.
    async fn delete(&self, delivery: &Delivery) -> StorageResult<()>;

    /// Waits until an item may be visible, or `idle` passes: the local queue wakes at once on
    /// a send; a remote queue sleeps for `idle`.
    async fn wait(&self, idle: Duration) {
        tokio::time::sleep(idle).await;
    }
}

/// Opens the backend `settings` names: for Azure, creates the jobs container and queue when
/// they are missing; for the local default, takes the data directory and rebuilds the queue.
pub async fn open(settings: &StorageSettings) -> anyhow::Result<Storage> {
    match settings {
        StorageSettings::Local(local) => {
            let dir = local.data_dir.clone();
            let storage = tokio::task::spawn_blocking(move || local::open(&dir)).await??;
            Ok(storage)
        }
        StorageSettings::Azure(azure) => Ok(azure::open(azure).await?),
    }
}

/// The three parts of one storage backend.
#[derive(Clone)]
pub struct Storage {
    pub blobs: Arc<dyn BlobStore>,
    pub jobs: Arc<dyn JobStore>,
    pub queue: Arc<dyn WorkQueue>,
    /// True when no other process uses this storage (the local default holds a lock on its
    /// data directory): a job's claim made by another process is then stale for sure.
    pub exclusive: bool,
}
