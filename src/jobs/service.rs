//! Creating jobs and reading their state: what the job API does, on any instance.

use std::future::Future;
use std::sync::Arc;

use pdf_seal_core::signer::Signer;
use time::OffsetDateTime;
use tokio::runtime::Handle;
use tokio::sync::{Notify, Semaphore};

use super::record::{JobId, JobRecord, JobRequest};
use super::worker::InHand;
use crate::config::JobSettings;
use crate::storage::{Created, Storage, StorageError};

/// Why a job could not be created or read.
#[derive(Debug, thiserror::Error)]
pub enum JobError {
    /// The idempotency key names a job created with another request.
    #[error(
        "the Idempotency-Key was used before with another request; use a new key for a new job"
    )]
    KeyReused,
    #[error(transparent)]
    Storage(#[from] StorageError),
    /// The request names the container that holds the job records.
    #[error(
        "the container {0:?} holds pdf-seal's job records and cannot be a source or a destination"
    )]
    ReservedContainer(String),
    /// The task that talked to storage did not finish (the runtime is shutting down).
    #[error("the job runtime stopped")]
    Stopped,
}

/// What the job API and the workers share: storage, the signer, the settings, and the runtime
/// on which every storage request of blob mode runs.
#[derive(Clone)]
pub struct Jobs {
    pub(super) storage: Storage,
    pub(super) signer: Arc<dyn Signer>,
    pub(super) settings: JobSettings,
    pub(super) runtime: Handle,
    /// Wakes a worker of this instance when a job is created here.
    pub(super) nudge: Arc<Notify>,
    /// The container of the job records, which no job may read or write.
    reserved_container: Option<String>,
    /// Held by the one job of this instance that streams a large source, so that the
    /// instance's memory stays within one large job's pipeline plus small jobs (BENCHMARKS.md).
    pub(super) large_job: Arc<Semaphore>,
    /// Sources over this size take the large-source slot (tests make it smaller).
    pub(super) large_source_bytes: u64,
    /// This process's random name, which prefixes the owner of every claim it makes.
    pub(super) instance: String,
    /// The jobs this instance's workers hold.
    pub(super) in_hand: InHand,
}

impl Jobs {
    /// Blob mode on `storage`, its storage requests and workers on `runtime`.
    pub fn new(
        storage: Storage,
        signer: Arc<dyn Signer>,
        settings: JobSettings,
        runtime: Handle,
    ) -> Self {
        Self {
            storage,
            signer,
            settings,
            runtime,
            nudge: Arc::new(Notify::new()),
            reserved_container: None,
            large_job: Arc::new(Semaphore::new(1)),
            large_source_bytes: super::worker::SMALL_SOURCE_BYTES,
            instance: JobId::random().as_str()[..10].to_owned(),
            in_hand: InHand::default(),
        }
    }

    /// The same, refusing jobs whose source or destination is in `container`: the one that
    /// holds the job records, on Azure.
    pub fn with_reserved_container(self, container: Option<String>) -> Self {
        Self {
            reserved_container: container,
            ..self
        }
    }

    /// The settings the jobs run with.
    pub fn settings(&self) -> &JobSettings {
        &self.settings
    }

    /// Creates a job, or finds the one an earlier request with the same `idempotency_key`
    /// created. The record is written before the work item is sent, so a worker always finds
    /// it; when an idempotent retry finds a job still queued, the item is sent again, since
    /// the first request may have died between the two (a duplicate item is harmless: the
    /// record decides who works on a job).
    pub async fn create(
        &self,
        request: JobRequest,
        idempotency_key: Option<&str>,
    ) -> Result<JobRecord, JobError> {
        if let Some(reserved) = &self.reserved_container
            && [&request.source, &request.destination]
                .iter()
                .any(|blob| blob.container() == reserved)
        {
            return Err(JobError::ReservedContainer(reserved.clone()));
        }
        let id = match idempotency_key {
            Some(key) => JobId::for_idempotency_key("", key),
            None => JobId::random(),
        };
        let record = JobRecord::queued(id, request, OffsetDateTime::now_utc());
        let storage = self.storage.clone();
        let nudge = self.nudge.clone();
        self.on_runtime(async move {
            match storage.jobs.create(&record).await? {
                Created::New(_) => {
                    storage.queue.send(&record.id).await?;
                    tracing::info!(job.id = %record.id, "job created");
                    nudge.notify_one();
                    Ok(record)
                }
                Created::Exists(existing, _) => {
                    if existing.request_hash != record.request_hash {
                        return Err(JobError::KeyReused);
                    }
                    if existing.status == super::JobStatus::Queued {
                        storage.queue.send(&existing.id).await?;
                    }
                    Ok(*existing)
                }
            }
        })
        .await
    }

    /// The record of job `id`, or `None` when there is no such job.
    pub async fn get(&self, id: &JobId) -> Result<Option<JobRecord>, JobError> {
        let storage = self.storage.clone();
        let id = id.clone();
        self.on_runtime(async move { Ok(storage.jobs.get(&id).await?.map(|(record, _)| record)) })
            .await
    }

    /// Runs `future` on the jobs' runtime: the storage clients keep their connections there,
    /// whichever HTTP worker asked.
    async fn on_runtime<T: Send + 'static>(
        &self,
        future: impl Future<Output = Result<T, JobError>> + Send + 'static,
    ) -> Result<T, JobError> {
        self.runtime
            .spawn(future)
            .await
            .map_err(|_| JobError::Stopped)?
    }
}
