//! The workers: take a work item, claim its job, seal, record the outcome.
//!
//! A job's record decides who works on it. A worker claims a job by writing its lease into the
//! record (compare-and-swap on the record's ETag) and renews the lease and the work item's
//! visibility every third of the visibility timeout. If the worker dies, the item comes back
//! and the next worker finds the lease expired and claims the job again. The output is
//! committed at once with a marker naming the job, so an attempt that finds its job's marker at
//! the destination knows the seal is done and only records it: each job completes once.
//!
//! Within one instance the claim is not judged by the record: a worker that receives an item
//! for a job another worker of the instance holds hands the delivery to that worker ([`InHand`]).

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use pdf_seal_core::{ErrorKind, SealError};
use time::OffsetDateTime;
use tokio::sync::{Mutex, mpsc, watch};
use tokio::task::JoinHandle;

use super::record::{JobId, JobProblem, JobRecord, JobStatus, Lease, Timings};
use super::service::Jobs;
use crate::api::problem::ProblemType;
use crate::storage::source::{BlobSource, storage_error};
use crate::storage::{Delivery, ETag, OutputMarker, OutputWriter, StorageError};

/// A job is given up after this many attempts that failed for a reason that may pass.
pub const MAX_ATTEMPTS: u32 = 5;

/// Sources up to this size fit in the reading and writing pipelines whole, so any number of
/// such jobs may run beside the one large job an instance streams at a time.
const SMALL_SOURCE_BYTES: u64 = 8 << 20;

/// The longest wait for a work item before the queue is asked again.
const MAX_IDLE: Duration = Duration::from_secs(10);

/// Starts `jobs.settings().workers` workers on the jobs' runtime; they stop taking work when
/// `shutdown` turns true.
pub fn spawn_workers(jobs: &Jobs, shutdown: watch::Receiver<bool>) -> Vec<JoinHandle<()>> {
    (0..jobs.settings.workers)
        .map(|index| {
            let jobs = jobs.clone();
            let shutdown = shutdown.clone();
            jobs.runtime.clone().spawn(work(jobs, index, shutdown))
        })
        .collect()
}

/// Starts the sweeper when the queue is shared by several processes (Azure), so that a job
/// whose work item was lost (a failed send after its record was written, an item deleted by
/// hand) is found and given a new one.
pub fn spawn_sweeper(jobs: &Jobs, shutdown: watch::Receiver<bool>) -> Option<JoinHandle<()>> {
    if jobs.storage.exclusive {
        // The local queue is rebuilt from the records at start and loses nothing while running.
        return None;
    }
    Some(jobs.runtime.clone().spawn(sweep(jobs.clone(), shutdown)))
}

/// Every five visibility timeouts, sends a new work item for each job that has waited in the
/// queue for two of them without a worker, or whose claim ran out a timeout ago. Duplicate
/// items are harmless: the record decides who works on a job.
async fn sweep(jobs: Jobs, mut shutdown: watch::Receiver<bool>) {
    let visibility = jobs.settings.visibility;
    let storage = &jobs.storage;
    while !*shutdown.borrow() {
        tokio::select! {
            () = tokio::time::sleep(visibility * 5) => {}
            _ = shutdown.changed() => return,
        }
        let Ok(ids) = storage.jobs.unfinished().await else {
            continue;
        };
        let now = OffsetDateTime::now_utc();
        for id in ids {
            let Ok(Some((record, _))) = storage.jobs.get(&id).await else {
                continue;
            };
            let since = record.started_at.unwrap_or(record.created_at);
            let lost = match (&record.status, &record.lease) {
                (JobStatus::Queued, _) => now - since > visibility * 2,
                (JobStatus::Running, Some(lease)) => now - lease.until > visibility,
                (JobStatus::Running, None) => now - since > visibility * 2,
                _ => false,
            };
            if lost && storage.queue.send(&id).await.is_ok() {
                tracing::warn!(job.id = %id, "job without a worker; its work item was sent again");
            }
        }
    }
}

/// One worker's loop: receive, handle, repeat; wait when there is nothing to do.
async fn work(jobs: Jobs, index: usize, mut shutdown: watch::Receiver<bool>) {
    let queue = jobs.storage.queue.clone();
    let mut idle = Duration::from_millis(500);
    while !*shutdown.borrow() {
        match queue.receive(jobs.settings.visibility).await {
            Ok(Some(delivery)) => {
                idle = Duration::from_millis(500);
                handle(&jobs, delivery).await;
            }
            Ok(None) => {
                tokio::select! {
                    () = queue.wait(idle) => {}
                    () = jobs.nudge.notified() => {}
                    _ = shutdown.changed() => {}
                }
                idle = (idle * 2).min(MAX_IDLE);
            }
            Err(error) => {
                tracing::warn!(worker = index, error = %error, "cannot receive work items");
                tokio::select! {
                    () = tokio::time::sleep(idle) => {}
                    _ = shutdown.changed() => {}
                }
                idle = (idle * 2).min(MAX_IDLE);
            }
        }
    }
}

/// A worker's hold on a job: the record as last written, its ETag, and the work item.
struct Claim {
    record: JobRecord,
    etag: ETag,
    delivery: Delivery,
    /// Set once the attempt's outcome is recorded (or the claim was lost): a delivery that
    /// arrives later is handled on its own.
    settled: bool,
}

/// The jobs this instance is working on, each with its claim.
///
/// The record's lease tells other instances that a job is in hand; this instance knows it
/// without the record. When a renewal is held up (a disk busy syncing a large output can hold
/// a small write for seconds), the work item comes back and the lease runs out while the job
/// is still being sealed; the worker that receives the item then hands it to the claim, which
/// renews with it, instead of starting the job a second time beside the first.
#[derive(Clone, Default)]
pub(super) struct InHand(Arc<std::sync::Mutex<HashMap<JobId, Arc<Mutex<Claim>>>>>);

impl InHand {
    fn map(&self) -> std::sync::MutexGuard<'_, HashMap<JobId, Arc<Mutex<Claim>>>> {
        self.0
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn get(&self, job: &JobId) -> Option<Arc<Mutex<Claim>>> {
        self.map().get(job).cloned()
    }

    /// Holds `claim` until the returned guard is dropped.
    fn hold(&self, claim: Arc<Mutex<Claim>>, job: JobId) -> Held<'_> {
        self.map().insert(job.clone(), claim);
        Held { in_hand: self, job }
    }
}

/// A job held in [`InHand`]; dropping it lets the job go, however the attempt ended.
struct Held<'a> {
    in_hand: &'a InHand,
    job: JobId,
}

impl Drop for Held<'_> {
    fn drop(&mut self) {
        self.in_hand.map().remove(&self.job);
    }
}

/// Gives `delivery` to the claim that holds its job in this instance, if one does and has not
/// settled; otherwise gives the delivery back to be handled.
async fn hand_over(jobs: &Jobs, delivery: Delivery) -> Result<Option<Delivery>, StorageError> {
    let Some(claim) = jobs.in_hand.get(&delivery.job) else {
        return Ok(Some(delivery));
    };
    let mut claim = claim.lock().await;
    if claim.settled {
        return Ok(Some(delivery));
    }
    if claim.delivery.message_id == delivery.message_id {
        // The claim's item came back: this delivery's receipt is the one that now counts.
        tracing::warn!(
            job.id = %delivery.job,
            "the job's work item came back while the job is in hand; its claim renews late"
        );
        claim.delivery = delivery;
        Ok(None)
    } else {
        // A second item for the job (a sweep or a retried request sent it): the claim's own
        // item stays until the job is done, so this one is not needed.
        jobs.storage.queue.delete(&delivery).await?;
        Ok(None)
    }
}

/// How an attempt ended, when it did not succeed.
enum Failure {
    /// For good: the job fails with this problem.
    Final(ProblemType, String),
    /// For now: the job is tried again later.
    Retry(String),
}

/// Handles one delivery; every failure is logged and leaves the item to come back.
async fn handle(jobs: &Jobs, delivery: Delivery) {
    let job = delivery.job.clone();
    if let Err(error) = try_handle(jobs, delivery).await {
        tracing::warn!(job.id = %job, error = %error, "job attempt interrupted by storage");
    }
}

async fn try_handle(jobs: &Jobs, delivery: Delivery) -> Result<(), StorageError> {
    let Some(delivery) = hand_over(jobs, delivery).await? else {
        return Ok(());
    };
    let storage = &jobs.storage;
    let Some((mut record, etag)) = storage.jobs.get(&delivery.job).await? else {
        tracing::warn!(job.id = %delivery.job, "work item for a job that has no record");
        return storage.queue.delete(&delivery).await;
    };
    let now = OffsetDateTime::now_utc();
    if record.status.is_final() {
        return storage.queue.delete(&delivery).await;
    }
    let owner = format!("{}/{}", jobs.instance, delivery.message_id);
    let claimed_elsewhere = |lease: &Lease| {
        // On storage no other process uses, a claim of another process is a dead one's.
        let holder_may_live =
            !storage.exclusive || lease.owner.starts_with(&format!("{}/", jobs.instance));
        lease.until > now && lease.owner != owner && holder_may_live
    };
    if let Some(lease) = &record.lease
        && record.status == JobStatus::Running
        && claimed_elsewhere(lease)
    {
        // Another worker holds the job, or held it and died. This item comes back just after
        // the claim runs out: by then the job is finished, or its claim can be taken.
        let mut delivery = delivery;
        let wait = (lease.until - now).unsigned_abs() + Duration::from_secs(1);
        return storage.queue.extend(&mut delivery, wait).await;
    }
    if record.attempts >= MAX_ATTEMPTS {
        let detail = match record.last_error.as_deref() {
            Some(error) => format!(
                "the job was given up after {MAX_ATTEMPTS} attempts; the last one failed: {error}"
            ),
            None => format!(
                "the job was given up after {MAX_ATTEMPTS} attempts; their workers stopped \
                 before they finished (the service was stopped or crashed during the job)"
            ),
        };
        tracing::error!(job.id = %record.id, "{detail}");
        record.status = JobStatus::Failed;
        record.problem = Some(JobProblem {
            slug: ProblemType::JobGaveUp.slug().to_owned(),
            detail,
        });
        record.finished_at = Some(now);
        record.lease = None;
        if storage.jobs.replace(&record, &etag).await?.is_some() {
            storage.queue.delete(&delivery).await?;
        }
        return Ok(());
    }

    record.status = JobStatus::Running;
    record.attempts += 1;
    record.started_at = Some(now);
    record.lease = Some(Lease {
        owner,
        until: now + jobs.settings.visibility,
    });
    let Some(etag) = storage.jobs.replace(&record, &etag).await? else {
        // Another worker wrote first; this item comes back and finds out what happened.
        return Ok(());
    };
    tracing::info!(job.id = %record.id, job.attempt = record.attempts, "job started");

    let claim = Arc::new(Mutex::new(Claim {
        record: record.clone(),
        etag,
        delivery,
        settled: false,
    }));
    let _held = jobs.in_hand.hold(claim.clone(), record.id.clone());
    let (lost_tx, mut lost_rx) = watch::channel(false);
    let heartbeat = jobs
        .runtime
        .spawn(keep_claim(jobs.clone(), claim.clone(), lost_tx));
    let outcome = tokio::select! {
        outcome = attempt(jobs, &record) => Some(outcome),
        _ = lost_rx.wait_for(|lost| *lost) => None,
    };
    heartbeat.abort();
    let _ = heartbeat.await;

    let mut claim = claim.lock().await;
    let finished = match outcome {
        Some(outcome) => finish(jobs, &mut claim, outcome).await,
        None => {
            tracing::warn!(job.id = %record.id, "job abandoned: its claim was lost");
            Ok(())
        }
    };
    claim.settled = true;
    finished
}

/// Renews the claim every third of the visibility timeout; says so on `lost` when it cannot.
async fn keep_claim(jobs: Jobs, claim: Arc<Mutex<Claim>>, lost: watch::Sender<bool>) {
    let visibility = jobs.settings.visibility;
    loop {
        tokio::time::sleep(visibility / 3).await;
        let mut claim = claim.lock().await;
        let Claim {
            record,
            etag,
            delivery,
            ..
        } = &mut *claim;
        let renewed = async {
            jobs.storage.queue.extend(delivery, visibility).await?;
            if let Some(lease) = record.lease.as_mut() {
                lease.until = OffsetDateTime::now_utc() + visibility;
            }
            jobs.storage.jobs.replace(record, etag).await
        };
        match renewed.await {
            Ok(Some(new_etag)) => *etag = new_etag,
            Ok(None) => {
                tracing::warn!(job.id = %record.id, "another worker took the job");
                let _ = lost.send(true);
                return;
            }
            // A renewal that fails now may work at the next beat, before the claim runs out.
            Err(error) => {
                tracing::warn!(job.id = %record.id, error = %error, "cannot renew the claim");
            }
        }
    }
}

/// Records the outcome of an attempt and settles its work item.
async fn finish(
    jobs: &Jobs,
    claim: &mut Claim,
    outcome: Result<(OutputMarker, Timings), Failure>,
) -> Result<(), StorageError> {
    let storage = &jobs.storage;
    let record = &mut claim.record;
    let now = OffsetDateTime::now_utc();
    record.lease = None;
    let delete = match outcome {
        Ok((marker, timings)) => {
            tracing::info!(
                job.id = %record.id,
                job.size_bytes = marker.size_bytes,
                job.total_ms = timings.total_ms,
                "job succeeded"
            );
            record.status = JobStatus::Succeeded;
            record.output = Some(marker);
            record.timings = Some(timings);
            record.finished_at = Some(now);
            true
        }
        Err(Failure::Final(problem, detail)) => {
            tracing::info!(job.id = %record.id, problem = problem.slug(), "job failed");
            record.status = JobStatus::Failed;
            record.problem = Some(JobProblem {
                slug: problem.slug().to_owned(),
                detail,
            });
            record.finished_at = Some(now);
            true
        }
        Err(Failure::Retry(error)) => {
            tracing::warn!(job.id = %record.id, job.attempt = record.attempts, error = %error, "job attempt failed; it will be retried");
            record.status = JobStatus::Queued;
            record.last_error = Some(error);
            false
        }
    };
    if storage.jobs.replace(record, &claim.etag).await?.is_none() {
        tracing::warn!(job.id = %record.id, "the job's record changed under its worker");
        return Ok(());
    }
    if delete {
        storage.queue.delete(&claim.delivery).await
    } else {
        // Back off: 5, 10, 20, 40 seconds after the failed attempts.
        let backoff = Duration::from_secs(5 << (record.attempts.saturating_sub(1)).min(6));
        storage.queue.extend(&mut claim.delivery, backoff).await
    }
}

/// One attempt at a claimed job.
async fn attempt(jobs: &Jobs, record: &JobRecord) -> Result<(OutputMarker, Timings), Failure> {
    let started = Instant::now();
    let request = &record.request;
    let blobs = &jobs.storage.blobs;
    let queued_ms = record
        .started_at
        .map_or(0, |at| millis((at - record.created_at).unsigned_abs()));
    let timings = |read: Duration, sign: Duration, commit: Duration| Timings {
        queued_ms,
        read_ms: millis(read),
        sign_ms: millis(sign),
        commit_ms: millis(commit),
        total_ms: millis((OffsetDateTime::now_utc() - record.created_at).unsigned_abs()),
    };

    // An earlier attempt may have committed the output and died before it said so.
    if let Some(marker) = blobs
        .output_marker(&request.destination)
        .await
        .map_err(storage_failure)?
        && marker.job == record.id
    {
        tracing::info!(job.id = %record.id, "the output of an earlier attempt is in place");
        return Ok((
            marker,
            timings(Duration::ZERO, Duration::ZERO, Duration::ZERO),
        ));
    }

    // An existing destination that may not be replaced is refused before any work; the commit
    // checks again, for one that appears meanwhile.
    if !request.overwrite
        && blobs
            .properties(&request.destination)
            .await
            .map_err(storage_failure)?
            .is_some()
    {
        return Err(storage_failure(StorageError::DestinationExists(
            request.destination.clone(),
        )));
    }
    let pinned = blobs
        .properties(&request.source)
        .await
        .map_err(storage_failure)?
        .ok_or_else(|| storage_failure(StorageError::SourceNotFound(request.source.clone())))?;
    // One large source at a time per instance: a pipeline holds a few blocks whatever the
    // size, and two of them would not fit the memory goal. The claim is renewed while waiting.
    let _large_job = if pinned.len > SMALL_SOURCE_BYTES {
        let permit = jobs.large_job.clone().acquire_owned().await;
        Some(permit.map_err(|_| Failure::Retry("the instance is stopping".into()))?)
    } else {
        None
    };
    let reader = blobs
        .open_source(&request.source, &pinned)
        .await
        .map_err(storage_failure)?;
    let writer = blobs
        .begin_output(&record.id, &request.destination, reader.clone())
        .await
        .map_err(storage_failure)?;
    let options = request
        .options
        .to_seal_options(jobs.signer.default_digest())
        .map_err(|error| Failure::Final(ProblemType::InvalidOption, error.to_string()))?;

    // Read and hash on a blocking thread; the source's bytes go on to the output on the way
    // when the store cannot copy them itself.
    let (tee, pump) = pump_to(writer, &jobs.runtime);
    let runtime = jobs.runtime.clone();
    let prepared = tokio::task::spawn_blocking(move || {
        let source = BlobSource::new(reader, runtime);
        let source = match tee {
            Some(tee) => source.with_tee(tee),
            None => source,
        };
        pdf_seal_core::prepare(&source, &options)
    })
    .await;
    let writer = pump.await;
    let read = started.elapsed();
    let (prepared, writer) = match (prepared, writer) {
        (Ok(Ok(prepared)), Ok(Ok(writer))) => (prepared, writer),
        // The output's failure explains the source's: its reads stop when the output does.
        (_, Ok(Err(error))) => return Err(storage_failure(error)),
        (Ok(Err(error)), Ok(Ok(writer))) => {
            writer.abort().await;
            return Err(seal_failure(error));
        }
        (Err(_), _) | (_, Err(_)) => return Err(Failure::Retry("a sealing task panicked".into())),
    };

    let signing = Instant::now();
    let sealed = match prepared.sign(jobs.signer.as_ref()).await {
        Ok(sealed) => sealed,
        Err(error) => {
            writer.abort().await;
            return Err(seal_failure(error));
        }
    };
    let sign = signing.elapsed();

    // The writer checks at commit that the source is still the pinned version.
    let committing = Instant::now();
    let marker = OutputMarker {
        job: record.id.clone(),
        size_bytes: pinned.len + sealed.increment.len() as u64,
        sha256: hex::encode(sealed.document_sha256.unwrap_or_default()),
        field_name: sealed.field_name,
    };
    writer
        .commit(Bytes::from(sealed.increment), &marker, request.overwrite)
        .await
        .map_err(storage_failure)?;
    Ok((marker, timings(read, sign, committing.elapsed())))
}

/// The task that writes the source's bytes to the output and gives the writer back.
type Pump = JoinHandle<Result<Box<dyn OutputWriter>, StorageError>>;

/// The tee that takes the source's bytes to `writer` when it needs them, and the task that
/// gives the writer back once they are all written.
fn pump_to(
    mut writer: Box<dyn OutputWriter>,
    runtime: &tokio::runtime::Handle,
) -> (Option<mpsc::Sender<Bytes>>, Pump) {
    if !writer.needs_source_bytes() {
        return (None, runtime.spawn(async move { Ok(writer) }));
    }
    let (tee, mut chunks) = mpsc::channel::<Bytes>(1);
    let pump = runtime.spawn(async move {
        while let Some(chunk) = chunks.recv().await {
            if let Err(error) = writer.write_source(chunk).await {
                writer.abort().await;
                return Err(error);
            }
        }
        Ok(writer)
    });
    (Some(tee), pump)
}

fn millis(duration: Duration) -> u64 {
    u64::try_from(duration.as_millis()).unwrap_or(u64::MAX)
}

/// The failure of a seal: a storage error that surfaced through the reader is judged as
/// such; a signer's failure may pass; the document's own faults are final.
fn seal_failure(error: SealError) -> Failure {
    if error.kind() == ErrorKind::Io
        && let Some(storage) = storage_error(&error)
    {
        return judge_storage(storage);
    }
    match ProblemType::of_seal_error(error.kind()) {
        Some(problem) => Failure::Final(problem, error.to_string()),
        None => Failure::Retry(error.to_string()),
    }
}

fn storage_failure(error: StorageError) -> Failure {
    judge_storage(&error)
}

fn judge_storage(error: &StorageError) -> Failure {
    let problem = match error {
        StorageError::Transient(_) => return Failure::Retry(error.to_string()),
        StorageError::SourceNotFound(_) => ProblemType::SourceNotFound,
        StorageError::DestinationContainerNotFound(_) => ProblemType::DestinationContainerNotFound,
        StorageError::DestinationExists(_) => ProblemType::DestinationExists,
        StorageError::DestinationUnusable { .. } => ProblemType::DestinationUnusable,
        StorageError::SourceChanged(_) => ProblemType::SourceChanged,
        StorageError::AccessDenied { .. } => ProblemType::StorageAccessDenied,
        StorageError::Failed(_) => ProblemType::StorageFailed,
    };
    Failure::Final(problem, error.to_string())
}

#[cfg(test)]
mod tests;
