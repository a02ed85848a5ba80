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
//! for a job another worker of the instance looks at or holds hands the delivery to that
//! worker ([`InHand`]).

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use pdf_seal_core::{ErrorKind, SealError};
use time::OffsetDateTime;
use tokio::sync::{Mutex, TryAcquireError, mpsc, watch};
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
pub(super) const SMALL_SOURCE_BYTES: u64 = 8 << 20;

/// How long a large job that found the instance's large-source slot taken waits in the queue
/// before it is looked at again (by any instance).
const SLOT_TAKEN_WAIT: Duration = Duration::from_secs(2);

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
}

/// A job's place in [`InHand`]: `None` while a worker looks at the job and once it let the job
/// go, the claim while it holds the job.
type Slot = Arc<Mutex<Option<Claim>>>;

/// The jobs this instance's workers are looking at or working on.
///
/// The record's lease tells other instances that a job is in hand; this instance knows it
/// without the record. When a write is held up (a disk busy syncing a large output can hold a
/// small write for seconds), the work item comes back while the job is being claimed or sealed,
/// and the record may show this very delivery's lease, or one that ran out. The worker that
/// receives the item then waits for the slot of the worker that has the job and hands it the
/// delivery, instead of starting the job a second time beside the first.
#[derive(Clone, Default)]
pub(super) struct InHand(Arc<std::sync::Mutex<HashMap<JobId, Slot>>>);

/// What [`InHand::enter`] found.
enum Entry<'a> {
    /// The job is this worker's to look at, with its slot locked.
    Mine(Held<'a>, tokio::sync::OwnedMutexGuard<Option<Claim>>),
    /// Another worker of this instance has the job.
    Theirs(Slot),
}

impl InHand {
    fn map(&self) -> std::sync::MutexGuard<'_, HashMap<JobId, Slot>> {
        self.0
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Whether `slot` is still the slot of `job`: a worker that let the job go, or whose
    /// attempt panicked, has removed it.
    fn is_current(&self, job: &JobId, slot: &Slot) -> bool {
        self.map()
            .get(job)
            .is_some_and(|current| Arc::ptr_eq(current, slot))
    }

    /// Takes the slot of `job`, locked, unless another worker has it.
    fn enter(&self, job: &JobId) -> Entry<'_> {
        let mut map = self.map();
        if let Some(slot) = map.get(job) {
            return Entry::Theirs(slot.clone());
        }
        let slot: Slot = Arc::default();
        let guard = slot
            .clone()
            .try_lock_owned()
            .expect("a new slot is not locked");
        map.insert(job.clone(), slot.clone());
        let held = Held {
            in_hand: self,
            job: job.clone(),
            slot,
        };
        Entry::Mine(held, guard)
    }
}

/// A slot taken in [`InHand`]; dropping it frees the job, however the attempt ended. Drop it
/// while its lock is held, so that a worker waiting for the lock finds the job free.
struct Held<'a> {
    in_hand: &'a InHand,
    job: JobId,
    slot: Slot,
}

impl Drop for Held<'_> {
    fn drop(&mut self) {
        let mut map = self.in_hand.map();
        if map
            .get(&self.job)
            .is_some_and(|slot| Arc::ptr_eq(slot, &self.slot))
        {
            map.remove(&self.job);
        }
    }
}

/// Gives `delivery` to the claim in `slot`; gives it back when the slot holds no claim or is no
/// longer the job's (the worker let the job go while this one waited, or its attempt panicked).
async fn hand_over(
    jobs: &Jobs,
    slot: Slot,
    delivery: Delivery,
) -> Result<Option<Delivery>, StorageError> {
    let mut guard = slot.clone().lock_owned().await;
    let claim = match guard.as_mut() {
        Some(claim) if jobs.in_hand.is_current(&delivery.job, &slot) => claim,
        _ => return Ok(Some(delivery)),
    };
    if claim.delivery.message_id == delivery.message_id {
        // The claim's item came back: this delivery's receipt is the one that now counts.
        tracing::warn!(
            job.id = %delivery.job,
            "the job's work item came back while the job is in hand; its claim renews late"
        );
        claim.delivery = delivery;
    } else {
        // A second item for the job (a sweep or a retried request sent it): the claim's own
        // item stays until the job is done, so this one is not needed.
        jobs.storage.queue.delete(&delivery).await?;
    }
    Ok(None)
}

/// How an attempt ended, when it did not succeed.
enum Failure {
    /// For good: the job fails with this problem.
    Final(ProblemType, String),
    /// For now: the job is tried again later.
    Retry(String),
    /// Not begun: the instance streams another large source. The job goes back to the queue
    /// without spending an attempt, and frees its worker for smaller jobs.
    SlotTaken,
}

/// Handles one delivery; every failure is logged and leaves the item to come back. A panic
/// ends the attempt, not the worker: the item comes back and counts as an attempt.
async fn handle(jobs: &Jobs, delivery: Delivery) {
    use futures_util::FutureExt as _;
    let job = delivery.job.clone();
    let handled = std::panic::AssertUnwindSafe(try_handle(jobs, delivery))
        .catch_unwind()
        .await;
    match handled {
        Ok(Ok(())) => {}
        Ok(Err(error)) => {
            tracing::warn!(job.id = %job, error = %error, "job attempt interrupted by storage");
        }
        Err(_) => tracing::error!(job.id = %job, "job attempt panicked; it will be retried"),
    }
}

async fn try_handle(jobs: &Jobs, mut delivery: Delivery) -> Result<(), StorageError> {
    loop {
        match jobs.in_hand.enter(&delivery.job) {
            Entry::Mine(held, slot) => return look_at(jobs, delivery, slot, held).await,
            Entry::Theirs(slot) => match hand_over(jobs, slot, delivery).await? {
                Some(returned) => delivery = returned,
                None => return Ok(()),
            },
        }
    }
}

/// Claims the job of `delivery` when it is free, works on it, and records the outcome; the
/// job's slot is locked throughout, but for the attempt itself. (`held` comes last so that, on
/// an early return, it is dropped before the lock; a waiting worker that finds the lock free
/// and the slot still in the map only asks again.)
async fn look_at(
    jobs: &Jobs,
    delivery: Delivery,
    mut slot: tokio::sync::OwnedMutexGuard<Option<Claim>>,
    held: Held<'_>,
) -> Result<(), StorageError> {
    let storage = &jobs.storage;
    let Some((mut record, etag)) = storage.jobs.get(&delivery.job).await? else {
        tracing::warn!(job.id = %delivery.job, "work item for a job that has no record");
        return storage.queue.delete(&delivery).await;
    };
    let now = OffsetDateTime::now_utc();
    if record.status.is_final() {
        return storage.queue.delete(&delivery).await;
    }
    let claimed_elsewhere = |lease: &Lease| {
        // A claim of this instance is not in hand (that was checked), so it ended. On storage
        // no other process uses, a claim of another process is a dead one's.
        let other_instance = !lease.owner.starts_with(&format!("{}/", jobs.instance));
        lease.until > now && other_instance && !storage.exclusive
    };
    if let Some(lease) = &record.lease
        && record.status == JobStatus::Running
        && claimed_elsewhere(lease)
    {
        // Another instance holds the job, or held it and died. This item comes back just after
        // the claim runs out: by then the job is finished, or its claim can be taken.
        let mut delivery = delivery;
        let wait = (lease.until - now).unsigned_abs() + Duration::from_secs(1);
        return storage.queue.extend(&mut delivery, wait).await;
    }
    if record.attempts >= MAX_ATTEMPTS {
        return give_up(jobs, record, &etag, &delivery).await;
    }

    record.status = JobStatus::Running;
    record.attempts += 1;
    record.started_at = Some(now);
    record.lease = Some(Lease {
        owner: format!("{}/{}", jobs.instance, delivery.message_id),
        until: now + jobs.settings.visibility,
    });
    let Some(etag) = storage.jobs.replace(&record, &etag).await? else {
        // Another instance wrote first; this item comes back and finds out what happened.
        return Ok(());
    };
    *slot = Some(Claim {
        record: record.clone(),
        etag,
        delivery,
    });
    let slot_ref = held.slot.clone();
    drop(slot);

    let (stop, stopped) = watch::channel(false);
    let (lost_tx, mut lost_rx) = watch::channel(false);
    let mut heartbeat = AbortOnDrop(jobs.runtime.spawn(keep_claim(
        jobs.clone(),
        slot_ref.clone(),
        stopped,
        lost_tx,
    )));
    let outcome = tokio::select! {
        outcome = attempt(jobs, &record) => Some(outcome),
        _ = lost_rx.wait_for(|lost| *lost) => None,
    };
    // A renewal under way is let finish, so that the claim knows the record's last ETag.
    let _ = stop.send(true);
    let _ = (&mut heartbeat.0).await;

    let mut slot = slot_ref.lock_owned().await;
    let finished = match (outcome, slot.as_mut()) {
        (Some(outcome), Some(claim)) => finish(jobs, claim, outcome).await,
        _ => {
            tracing::warn!(job.id = %record.id, "job abandoned: its claim was lost");
            Ok(())
        }
    };
    *slot = None;
    drop(held);
    finished
}

/// Ends a job that used up its attempts, unless the last one committed its output and died
/// before it said so.
async fn give_up(
    jobs: &Jobs,
    mut record: JobRecord,
    etag: &ETag,
    delivery: &Delivery,
) -> Result<(), StorageError> {
    let storage = &jobs.storage;
    let now = OffsetDateTime::now_utc();
    if let Some(marker) = own_output(jobs, &record).await? {
        tracing::info!(job.id = %record.id, "the output of the last attempt is in place");
        record.status = JobStatus::Succeeded;
        record.timings = Some(Timings {
            total_ms: millis((now - record.created_at).unsigned_abs()),
            ..Timings::default()
        });
        record.output = Some(marker);
    } else {
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
    }
    record.finished_at = Some(now);
    record.lease = None;
    if storage.jobs.replace(&record, etag).await?.is_some() {
        storage.queue.delete(delivery).await?;
    }
    Ok(())
}

/// A task that is aborted when its handle is dropped: a heartbeat must not outlive its attempt.
struct AbortOnDrop(JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Renews the claim every third of the visibility timeout until `stop`; says so on `lost` when
/// another writer took the record. The record is renewed first: it says who holds the job. The
/// item's visibility follows; when that fails (the item was delivered again), the item comes
/// back to a worker that hands it here or waits for the lease.
///
/// On storage other instances share, the claim is lost too when the lease the store holds runs
/// out before a renewal lands (a renewal is given until then): another instance may take the
/// job from that moment. On storage no other process uses, nobody can, and the attempt goes on.
async fn keep_claim(
    jobs: Jobs,
    slot: Slot,
    mut stop: watch::Receiver<bool>,
    lost: watch::Sender<bool>,
) {
    let visibility = jobs.settings.visibility;
    let lease_end = |claim: Option<&Claim>| {
        let lease = claim.and_then(|claim| claim.record.lease.as_ref());
        lease.map(|lease| lease.until)
    };
    // The end of the lease as the store has it.
    let Some(mut stored_until) = lease_end(slot.lock().await.as_ref()) else {
        return;
    };
    loop {
        tokio::select! {
            () = tokio::time::sleep(visibility / 3) => {}
            _ = stop.wait_for(|stop| *stop) => return,
        }
        let mut slot = slot.lock().await;
        let Some(Claim {
            record,
            etag,
            delivery,
        }) = slot.as_mut()
        else {
            return;
        };
        let now = OffsetDateTime::now_utc();
        if let Some(lease) = record.lease.as_mut() {
            lease.until = now + visibility;
        }
        let renewed = if jobs.storage.exclusive {
            renew(&jobs, record, etag).await
        } else {
            match Duration::try_from(stored_until - now) {
                Ok(left) if !left.is_zero() => {
                    tokio::time::timeout(left, renew(&jobs, record, etag))
                        .await
                        .unwrap_or(Renewal::RanOut)
                }
                _ => Renewal::RanOut,
            }
        };
        match renewed {
            Renewal::Renewed(new_etag) => {
                *etag = new_etag;
                stored_until = now + visibility;
            }
            Renewal::Taken => {
                tracing::warn!(job.id = %record.id, "another worker took the job");
                let _ = lost.send(true);
                return;
            }
            Renewal::RanOut => {
                tracing::warn!(job.id = %record.id, "the claim ran out before it could be renewed");
                let _ = lost.send(true);
                return;
            }
            // A renewal that fails now may work at the next beat, before the claim runs out.
            Renewal::Failed(error) => {
                tracing::warn!(job.id = %record.id, error = %error, "cannot renew the claim");
            }
        }
        if let Err(error) = jobs.storage.queue.extend(delivery, visibility).await {
            tracing::warn!(job.id = %record.id, error = %error, "cannot keep the work item hidden");
        }
    }
}

/// How a renewal of a claim's record ended.
enum Renewal {
    Renewed(ETag),
    /// Another writer changed the record: the claim is lost.
    Taken,
    /// The lease ran out first.
    RanOut,
    Failed(StorageError),
}

/// Writes `record` (with its lease extended) over `etag`, or over the ETag of a write of this
/// claim whose answer was lost.
async fn renew(jobs: &Jobs, record: &JobRecord, etag: &ETag) -> Renewal {
    let store = &jobs.storage.jobs;
    let written = async {
        if let Some(etag) = store.replace(record, etag).await? {
            return Ok(Some(etag));
        }
        match still_ours(jobs, record, record.lease.as_ref()).await? {
            Some(etag) => store.replace(record, &etag).await,
            None => Ok(None),
        }
    };
    match written.await {
        Ok(Some(etag)) => Renewal::Renewed(etag),
        Ok(None) => Renewal::Taken,
        Err(error) => Renewal::Failed(error),
    }
}

/// The record's ETag when the record is still the claim's although its ETag changed: a write
/// whose answer was lost (a timeout after the store wrote, a retried conditional write) left
/// it with the same attempt and lease owner.
async fn still_ours(
    jobs: &Jobs,
    record: &JobRecord,
    lease: Option<&Lease>,
) -> Result<Option<ETag>, StorageError> {
    let current = jobs.storage.jobs.get(&record.id).await?;
    Ok(current
        .filter(|(current, _)| {
            current.status == JobStatus::Running
                && current.attempts == record.attempts
                && current.lease.as_ref().map(|l| &l.owner) == lease.map(|l| &l.owner)
        })
        .map(|(_, etag)| etag))
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
    let lease = record.lease.take();
    // The item is deleted once the job ends, or hidden this long.
    let hide = match &outcome {
        Ok((marker, timings)) => {
            record.status = JobStatus::Succeeded;
            record.output = Some(marker.clone());
            record.timings = Some(timings.clone());
            record.finished_at = Some(now);
            None
        }
        Err(Failure::Final(problem, detail)) => {
            record.status = JobStatus::Failed;
            record.problem = Some(JobProblem {
                slug: problem.slug().to_owned(),
                detail: detail.clone(),
            });
            record.finished_at = Some(now);
            None
        }
        Err(Failure::Retry(error)) => {
            record.status = JobStatus::Queued;
            record.last_error = Some(error.clone());
            // Back off: 5, 10, 20, 40 seconds after the failed attempts.
            Some(Duration::from_secs(
                5 << (record.attempts.saturating_sub(1)).min(6),
            ))
        }
        Err(Failure::SlotTaken) => {
            record.status = JobStatus::Queued;
            record.attempts = record.attempts.saturating_sub(1);
            Some(SLOT_TAKEN_WAIT)
        }
    };
    let mut written = storage.jobs.replace(record, &claim.etag).await?;
    if written.is_none()
        && let Some(etag) = still_ours(jobs, record, lease.as_ref()).await?
    {
        written = storage.jobs.replace(record, &etag).await?;
    }
    if written.is_none() {
        tracing::warn!(job.id = %record.id, "the job's record changed under its worker");
        return Ok(());
    }
    // Said once the record holds it.
    match &outcome {
        Ok((marker, timings)) => tracing::info!(
            job.id = %record.id,
            job.attempt = record.attempts,
            job.size_bytes = marker.size_bytes,
            job.total_ms = timings.total_ms,
            "job succeeded"
        ),
        Err(Failure::Final(problem, _)) => {
            tracing::info!(job.id = %record.id, problem = problem.slug(), "job failed");
        }
        Err(Failure::Retry(error)) => tracing::warn!(
            job.id = %record.id,
            job.attempt = record.attempts,
            error = %error,
            "job attempt failed; it will be retried"
        ),
        Err(Failure::SlotTaken) => tracing::debug!(
            job.id = %record.id,
            "job waits: the instance streams another large source"
        ),
    }
    match hide {
        None => storage.queue.delete(&claim.delivery).await,
        Some(wait) => storage.queue.extend(&mut claim.delivery, wait).await,
    }
}

/// The marker of the output at the job's destination, when this job wrote it.
async fn own_output(jobs: &Jobs, record: &JobRecord) -> Result<Option<OutputMarker>, StorageError> {
    let marker = jobs
        .storage
        .blobs
        .output_marker(&record.request.destination)
        .await?;
    Ok(marker.filter(|marker| marker.job == record.id))
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
    if let Some(marker) = own_output(jobs, record).await.map_err(storage_failure)? {
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
    // size, and two of them would not fit the memory goal. A large job that finds the slot
    // taken goes back to the queue rather than hold a worker while it waits.
    let _large_job = if pinned.len > jobs.large_source_bytes {
        match jobs.large_job.clone().try_acquire_owned() {
            Ok(permit) => Some(permit),
            Err(TryAcquireError::NoPermits) => return Err(Failure::SlotTaken),
            Err(TryAcquireError::Closed) => {
                return Err(Failure::Retry("the instance is stopping".into()));
            }
        }
    } else {
        None
    };
    tracing::info!(job.id = %record.id, job.attempt = record.attempts, "job started");
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
    let committed = writer
        .commit(Bytes::from(sealed.increment), &marker, request.overwrite)
        .await;
    match committed {
        Ok(()) => Ok((marker, timings(read, sign, committing.elapsed()))),
        // Another attempt at this job, which took over a claim that looked dead, may have
        // committed first: its output is the job's.
        Err(StorageError::DestinationExists(path)) => {
            match own_output(jobs, record).await.map_err(storage_failure)? {
                Some(theirs) => Ok((theirs, timings(read, sign, committing.elapsed()))),
                None => Err(storage_failure(StorageError::DestinationExists(path))),
            }
        }
        Err(error) => Err(storage_failure(error)),
    }
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
