//! The workers of one instance on the local store, with a job store whose writes can be held
//! up the way a busy disk holds them: the write is done and visible, its answer comes late
//! (the local store renames a record into place, then waits for the directory's sync).

use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use pdf_seal_core::signer::{DigestAlgorithm, DocumentDigest, Signer, SignerError};
use tempfile::TempDir;
use x509_cert::Certificate;

use super::*;
use crate::api::seal_request::RequestedOptions;
use crate::config::JobSettings;
use crate::jobs::JobRequest;
use crate::storage::{BlobPath, Created, JobStore, Storage, StorageResult};

/// The small PDF the integration tests make in code.
#[path = "../../../tests/common/mod.rs"]
mod common;

const VISIBILITY: Duration = Duration::from_millis(600);

const SAMPLE: &[u8] = include_bytes!("../../../samples/delivery-note.pdf");

/// Passes everything to the local store, but for the replaces that [`Setup`] names (counting
/// from 1): one answers late after it wrote, one writes and answers an error, one hangs and
/// fails unwritten, and from one on they fail unwritten for a while.
struct StallingJobs {
    inner: Arc<dyn JobStore>,
    replaces: AtomicUsize,
    setup: Setup,
    failing_since: std::sync::Mutex<Option<Instant>>,
}

#[async_trait]
impl JobStore for StallingJobs {
    async fn create(&self, record: &JobRecord) -> StorageResult<Created> {
        self.inner.create(record).await
    }

    async fn get(&self, id: &JobId) -> StorageResult<Option<(JobRecord, ETag)>> {
        self.inner.get(id).await
    }

    async fn replace(&self, record: &JobRecord, etag: &ETag) -> StorageResult<Option<ETag>> {
        let setup = &self.setup;
        let number = self.replaces.fetch_add(1, Ordering::SeqCst) + 1;
        let failure = || Err(StorageError::Transient("the test's store fails".into()));
        if number == setup.hang_at {
            tokio::time::sleep(setup.hang).await;
            return failure();
        }
        if setup.fail_from > 0 && number >= setup.fail_from {
            let since = *self
                .failing_since
                .lock()
                .unwrap()
                .get_or_insert_with(Instant::now);
            if since.elapsed() < setup.fail_for {
                return failure();
            }
        }
        let written = self.inner.replace(record, etag).await;
        if number == setup.stall_at {
            tokio::time::sleep(setup.stall).await;
        }
        if number == setup.lose_answer_at {
            return failure();
        }
        written
    }

    async fn unfinished(&self) -> StorageResult<Vec<JobId>> {
        self.inner.unfinished().await
    }
}

/// Takes `delay` to answer a CMS that is only the digest in an OCTET STRING; panics at the
/// first signature when `panic_once` is set.
struct SlowEchoSigner {
    delay: Duration,
    panic_once: std::sync::atomic::AtomicBool,
    /// The signatures answered.
    signed: AtomicUsize,
}

#[async_trait]
impl Signer for SlowEchoSigner {
    fn estimated_cms_len(&self, algorithm: DigestAlgorithm) -> usize {
        2 + algorithm.output_len()
    }

    async fn sign(&self, digest: &DocumentDigest) -> Result<Vec<u8>, SignerError> {
        tokio::time::sleep(self.delay).await;
        assert!(
            !self.panic_once.swap(false, Ordering::SeqCst),
            "the signer panics, as the test asked"
        );
        let mut cms = vec![0x04, digest.value.len() as u8];
        cms.extend_from_slice(&digest.value);
        self.signed.fetch_add(1, Ordering::SeqCst);
        Ok(cms)
    }

    fn certificates(&self) -> &[Certificate] {
        &[]
    }
}

/// How the store of an [`Instance`] misbehaves, and how its signer does.
#[derive(Clone, Default)]
struct Setup {
    stall_at: usize,
    stall: Duration,
    lose_answer_at: usize,
    hang_at: usize,
    hang: Duration,
    fail_from: usize,
    fail_for: Duration,
    sign: Duration,
    panic_once: bool,
    /// Whether the storage counts as shared with other instances.
    shared: bool,
    /// Sources over this size take the instance's large-source slot.
    large_source_bytes: Option<u64>,
}

/// Two workers of one instance on a local data directory that holds `docs/in.pdf`.
struct Instance {
    dir: TempDir,
    runtime: tokio::runtime::Runtime,
    jobs: Jobs,
    /// The local store under the stalling one, for the tests' own writes.
    records: Arc<dyn JobStore>,
    signer: Arc<SlowEchoSigner>,
    stop: watch::Sender<bool>,
    workers: Vec<JoinHandle<()>>,
}

impl Instance {
    fn start_with(setup: Setup) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let local = crate::storage::local::open(dir.path()).unwrap();
        std::fs::create_dir_all(dir.path().join("blobs/docs")).unwrap();
        std::fs::write(dir.path().join("blobs/docs/in.pdf"), SAMPLE).unwrap();
        let records = local.jobs.clone();
        let storage = Storage {
            jobs: Arc::new(StallingJobs {
                inner: local.jobs.clone(),
                replaces: AtomicUsize::new(0),
                setup: setup.clone(),
                failing_since: std::sync::Mutex::default(),
            }),
            exclusive: !setup.shared,
            ..local
        };
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        let settings = JobSettings {
            public_base_url: "http://127.0.0.1".into(),
            base_url_guessed: false,
            workers: 2,
            retry_after_secs: 1,
            visibility: VISIBILITY,
        };
        let signer = Arc::new(SlowEchoSigner {
            delay: setup.sign,
            panic_once: setup.panic_once.into(),
            signed: AtomicUsize::new(0),
        });
        let mut jobs = Jobs::new(storage, signer.clone(), settings, runtime.handle().clone());
        if let Some(bytes) = setup.large_source_bytes {
            jobs.large_source_bytes = bytes;
        }
        let (stop, shutdown) = watch::channel(false);
        let workers = spawn_workers(&jobs, shutdown);
        Self {
            dir,
            runtime,
            jobs,
            records,
            signer,
            stop,
            workers,
        }
    }

    fn path(&self, relative: &str) -> std::path::PathBuf {
        self.dir.path().join(relative)
    }

    /// Creates the job that seals `docs/in.pdf` into `docs/out.pdf`.
    fn create(&self) -> JobId {
        self.create_for("in.pdf", "out.pdf")
    }

    /// Creates the job that seals `docs/SOURCE` into `docs/DESTINATION`.
    fn create_for(&self, source: &str, destination: &str) -> JobId {
        let request = JobRequest {
            source: BlobPath::new("docs", source).unwrap(),
            destination: BlobPath::new("docs", destination).unwrap(),
            overwrite: false,
            options: RequestedOptions::default(),
        };
        let jobs = self.jobs.clone();
        let created = self.runtime.block_on(jobs.create(request, None));
        created.unwrap().id
    }

    /// The record once `done` holds, polled for at most 30 visibility timeouts.
    fn wait(&self, id: &JobId, done: impl Fn(&JobRecord) -> bool) -> JobRecord {
        let deadline = Instant::now() + VISIBILITY * 30;
        self.runtime.block_on(async {
            loop {
                let record = self.jobs.get(id).await.unwrap().unwrap();
                if done(&record) || Instant::now() > deadline {
                    return record;
                }
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        })
    }

    fn wait_final(&self, id: &JobId) -> JobRecord {
        self.wait(id, |record| record.status.is_final())
    }

    /// Stops the workers and checks that no work item is left: one would be visible again
    /// after a timeout.
    fn stop_with_empty_queue(self) {
        self.stop.send(true).unwrap();
        let queue = self.jobs.storage.queue.clone();
        self.runtime.block_on(async {
            for worker in self.workers {
                worker.await.unwrap();
            }
            tokio::time::sleep(VISIBILITY + Duration::from_millis(200)).await;
            let left = queue.receive(VISIBILITY).await.unwrap();
            assert!(left.is_none(), "a work item was left: {left:?}");
        });
    }
}

/// Runs one job on an instance set up so, and checks that it was sealed in `attempts`
/// attempts with one signature (an attempt that was stopped did not sign); returns the
/// instance, its workers still running.
fn check_sealed(setup: Setup, attempts: u32) -> Instance {
    let instance = Instance::start_with(setup);
    let id = instance.create();
    let record = instance.wait_final(&id);

    assert_eq!(record.status, JobStatus::Succeeded, "{record:?}");
    assert_eq!(record.attempts, attempts, "{record:?}");
    let signed = instance.signer.signed.load(Ordering::SeqCst);
    assert_eq!(signed, 1, "{signed} signatures: a stopped attempt signed");
    let output = std::fs::read(instance.path("blobs/docs/out.pdf")).unwrap();
    assert!(output.starts_with(SAMPLE) && output.len() > SAMPLE.len());
    instance
}

/// The same for a job that must be sealed in one attempt; then checks that no work item is
/// left.
fn check_sealed_once(setup: Setup) {
    check_sealed(setup, 1).stop_with_empty_queue();
}

/// The first renewal of the claim answers three visibility timeouts late while the signer
/// takes four: the work item comes back and the record's lease runs out during the attempt.
/// The idle worker must hand the item to the claim, not start the job again.
#[test]
fn a_renewal_held_up_does_not_start_the_job_twice_in_one_instance() {
    // The first replace claims the job; the second is the first renewal.
    check_sealed_once(Setup {
        stall_at: 2,
        stall: VISIBILITY * 3,
        sign: VISIBILITY * 4,
        ..Setup::default()
    });
}

/// The claim's own write answers two timeouts late: the item comes back while the record
/// already shows this very delivery's lease. The other worker must wait for the job's slot,
/// not take the lease it finds for its own.
#[test]
fn a_claim_held_up_is_not_taken_by_the_other_worker() {
    check_sealed_once(Setup {
        stall_at: 1,
        stall: VISIBILITY * 2,
        sign: VISIBILITY / 2,
        ..Setup::default()
    });
}

/// The attempt ends while a renewal's answer is still on its way: the outcome must be
/// recorded on the record that renewal wrote, not lost to a stale ETag.
#[test]
fn an_outcome_is_recorded_after_a_renewal_still_under_way() {
    check_sealed_once(Setup {
        stall_at: 2,
        stall: VISIBILITY,
        sign: VISIBILITY * 2 / 3,
        ..Setup::default()
    });
}

/// A job out of attempts whose last attempt committed its output and died before it said so
/// succeeds with that output; it is not given up.
#[test]
fn a_job_out_of_attempts_with_its_output_in_place_succeeds() {
    let instance = Instance::start_with(Setup::default());
    let id = instance.create();
    let sealed = instance.wait_final(&id);
    assert_eq!(sealed.status, JobStatus::Succeeded, "{sealed:?}");

    // The record as a killed fifth attempt leaves it, and its item sent again.
    instance.runtime.block_on(async {
        let (mut record, etag) = instance.records.get(&id).await.unwrap().unwrap();
        record.status = JobStatus::Running;
        record.attempts = MAX_ATTEMPTS;
        record.output = None;
        record.timings = None;
        record.finished_at = None;
        instance
            .records
            .replace(&record, &etag)
            .await
            .unwrap()
            .unwrap();
        instance.jobs.storage.queue.send(&id).await.unwrap();
    });
    let record = instance.wait(&id, |record| record.finished_at.is_some());

    assert_eq!(record.status, JobStatus::Succeeded, "{record:?}");
    assert_eq!(record.output, sealed.output, "{record:?}");
    assert_eq!(record.attempts, MAX_ATTEMPTS);
    instance.stop_with_empty_queue();
}

/// Another attempt at the same job (one that took over a claim that looked dead) commits first:
/// this attempt's commit finds the destination taken by the job's own output, and the job
/// succeeds with it instead of failing with `destination-exists`.
#[test]
fn a_destination_written_by_another_attempt_of_the_job_is_its_output() {
    let instance = Instance::start_with(Setup {
        sign: VISIBILITY * 4,
        ..Setup::default()
    });
    let id = instance.create();
    instance.wait(&id, |record| record.status == JobStatus::Running);
    std::thread::sleep(VISIBILITY / 2);
    let theirs = OutputMarker {
        job: id.clone(),
        size_bytes: 5,
        sha256: "0".repeat(64),
        field_name: "Seal1".into(),
    };
    commit_output(&instance, &theirs, b"other");

    let record = instance.wait_final(&id);

    assert_eq!(record.status, JobStatus::Succeeded, "{record:?}");
    assert_eq!(record.output.as_ref(), Some(&theirs));
    assert_eq!(
        std::fs::read(instance.path("blobs/docs/out.pdf")).unwrap(),
        b"other"
    );
    instance.stop_with_empty_queue();
}

/// Commits `bytes` to `docs/out.pdf` through the store, with `marker`.
fn commit_output(instance: &Instance, marker: &OutputMarker, bytes: &'static [u8]) {
    let blobs = instance.jobs.storage.blobs.clone();
    let empty = instance.path("blobs/docs/empty.pdf");
    std::fs::write(&empty, b"").unwrap();
    instance.runtime.block_on(async {
        let source = BlobPath::new("docs", "empty.pdf").unwrap();
        let pinned = blobs.properties(&source).await.unwrap().unwrap();
        let reader = blobs.open_source(&source, &pinned).await.unwrap();
        let destination = BlobPath::new("docs", "out.pdf").unwrap();
        let writer = blobs
            .begin_output(&marker.job, &destination, reader)
            .await
            .unwrap();
        writer
            .commit(Bytes::from_static(bytes), marker, false)
            .await
            .unwrap();
    });
}

/// A panic during an attempt ends the attempt, not the worker: the job is taken up again when
/// its claim runs out, and both workers still take jobs afterwards.
#[test]
fn a_panic_in_an_attempt_is_retried_and_the_workers_go_on() {
    let setup = Setup {
        panic_once: true,
        ..Setup::default()
    };
    let instance = check_sealed(setup, 2);
    assert!(instance.workers.iter().all(|worker| !worker.is_finished()));
    instance.stop_with_empty_queue();
}

/// Renewals fail (storage unreachable) for two visibility timeouts during a signature that
/// takes three. On shared storage the attempt stops once its claim runs out, since another
/// instance may take the job by then, and the job is done by the next attempt; on storage no
/// other process uses, the attempt goes on.
#[test]
fn an_attempt_whose_claim_runs_out_unrenewed_stops_on_shared_storage_only() {
    for (shared, attempts) in [(true, 2), (false, 1)] {
        let setup = Setup {
            fail_from: 2,
            fail_for: VISIBILITY * 2,
            sign: VISIBILITY * 3,
            shared,
            ..Setup::default()
        };
        check_sealed(setup, attempts).stop_with_empty_queue();
    }
}

/// A renewal writes but its answer is lost (an error after the store wrote): the next renewal
/// finds the record still this claim's and goes on; the job is sealed in one attempt.
#[test]
fn a_renewal_whose_answer_was_lost_keeps_the_claim() {
    check_sealed_once(Setup {
        lose_answer_at: 2,
        sign: VISIBILITY * 2,
        ..Setup::default()
    });
}

/// On shared storage, a renewal that hangs past the lease's end stops the attempt at that end,
/// not when the renewal gives up: another instance may have taken the job by then.
#[test]
fn a_renewal_hanging_past_the_lease_stops_the_attempt_on_shared_storage() {
    let setup = Setup {
        hang_at: 2,
        hang: VISIBILITY * 4,
        sign: VISIBILITY * 2,
        shared: true,
        ..Setup::default()
    };
    check_sealed(setup, 2).stop_with_empty_queue();
}

/// While the instance streams a large source, other large jobs go back to the queue without
/// spending an attempt, and the workers stay free for small jobs; once the slot is free, the
/// large jobs are sealed in one attempt each.
#[test]
fn large_jobs_wait_in_the_queue_not_in_a_worker() {
    let tiny = common::minimal_pdf();
    let instance = Instance::start_with(Setup {
        // The sample counts as large, the tiny PDF as small.
        large_source_bytes: Some(tiny.len() as u64),
        ..Setup::default()
    });
    std::fs::write(instance.path("blobs/docs/tiny.pdf"), &tiny).unwrap();
    let slot = instance.jobs.large_job.clone().try_acquire_owned().unwrap();

    let large = [
        instance.create_for("in.pdf", "a.pdf"),
        instance.create_for("in.pdf", "b.pdf"),
    ];
    // Both workers look at a large job, find the slot taken, and let it go.
    for id in &large {
        instance.wait(id, |record| record.started_at.is_some());
    }
    let small = instance.create_for("tiny.pdf", "tiny-sealed.pdf");
    let small = instance.wait_final(&small);
    std::thread::sleep(VISIBILITY);
    let waiting: Vec<JobRecord> = large.iter().map(|id| instance.wait(id, |_| true)).collect();
    drop(slot);
    let sealed: Vec<JobRecord> = large.iter().map(|id| instance.wait_final(id)).collect();

    assert_eq!(small.status, JobStatus::Succeeded, "{small:?}");
    assert_eq!(small.attempts, 1, "{small:?}");
    for record in &waiting {
        assert_eq!(record.status, JobStatus::Queued, "{record:?}");
        assert_eq!(record.attempts, 0, "waiting spent an attempt: {record:?}");
    }
    for record in &sealed {
        assert_eq!(record.status, JobStatus::Succeeded, "{record:?}");
        assert_eq!(record.attempts, 1, "{record:?}");
    }
    instance.stop_with_empty_queue();
}
