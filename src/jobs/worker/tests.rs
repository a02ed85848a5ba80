//! The workers of one instance on the local store, with a job store whose writes can be held
//! up the way a busy disk holds them.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use pdf_seal_core::signer::{DigestAlgorithm, DocumentDigest, Signer, SignerError};
use x509_cert::Certificate;

use super::*;
use crate::api::seal_request::RequestedOptions;
use crate::config::JobSettings;
use crate::jobs::JobRequest;
use crate::storage::{BlobPath, Created, JobStore, Storage, StorageResult};

const VISIBILITY: Duration = Duration::from_millis(600);

/// Passes everything to the local store, except that its `stall_at`-th replace (counting from
/// 1) waits `stall` first.
struct StallingJobs {
    inner: Arc<dyn JobStore>,
    replaces: AtomicUsize,
    stall_at: usize,
    stall: Duration,
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
        if self.replaces.fetch_add(1, Ordering::SeqCst) + 1 == self.stall_at {
            tokio::time::sleep(self.stall).await;
        }
        self.inner.replace(record, etag).await
    }

    async fn unfinished(&self) -> StorageResult<Vec<JobId>> {
        self.inner.unfinished().await
    }
}

/// Takes `delay` to answer a CMS that is only the digest in an OCTET STRING.
struct SlowEchoSigner {
    delay: Duration,
}

#[async_trait]
impl Signer for SlowEchoSigner {
    fn estimated_cms_len(&self, algorithm: DigestAlgorithm) -> usize {
        2 + algorithm.output_len()
    }

    async fn sign(&self, digest: &DocumentDigest) -> Result<Vec<u8>, SignerError> {
        tokio::time::sleep(self.delay).await;
        let mut cms = vec![0x04, digest.value.len() as u8];
        cms.extend_from_slice(&digest.value);
        Ok(cms)
    }

    fn certificates(&self) -> &[Certificate] {
        &[]
    }
}

const SAMPLE: &[u8] = include_bytes!("../../../samples/delivery-note.pdf");

/// The first renewal of the claim is held up for three visibility timeouts while the signer
/// takes four: the work item comes back and the record's lease runs out during the attempt.
/// The idle worker of the same instance must hand the item to the claim, not start the job
/// again; the job then completes in one attempt and no item is left in the queue.
#[test]
fn a_renewal_held_up_does_not_start_the_job_twice_in_one_instance() {
    let dir = tempfile::tempdir().unwrap();
    let local = crate::storage::local::open(dir.path()).unwrap();
    std::fs::create_dir_all(dir.path().join("blobs/docs")).unwrap();
    std::fs::write(dir.path().join("blobs/docs/in.pdf"), SAMPLE).unwrap();
    let storage = Storage {
        jobs: Arc::new(StallingJobs {
            inner: local.jobs.clone(),
            replaces: AtomicUsize::new(0),
            // The first replace claims the job; the second is the first renewal.
            stall_at: 2,
            stall: VISIBILITY * 3,
        }),
        ..local
    };
    let queue = storage.queue.clone();

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
        delay: VISIBILITY * 4,
    });
    let jobs = Jobs::new(storage, signer, settings, runtime.handle().clone());
    let (stop, shutdown) = watch::channel(false);
    let workers = spawn_workers(&jobs, shutdown);

    let request = JobRequest {
        source: BlobPath::new("docs", "in.pdf").unwrap(),
        destination: BlobPath::new("docs", "out.pdf").unwrap(),
        overwrite: false,
        options: RequestedOptions::default(),
    };
    let record = runtime.block_on(async {
        let created = jobs.create(request, None).await.unwrap();
        let deadline = Instant::now() + VISIBILITY * 30;
        loop {
            let record = jobs.get(&created.id).await.unwrap().unwrap();
            if record.status.is_final() || Instant::now() > deadline {
                break record;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    });

    assert_eq!(record.status, JobStatus::Succeeded, "{record:?}");
    assert_eq!(record.attempts, 1, "the job was started again: {record:?}");
    let output = std::fs::read(dir.path().join("blobs/docs/out.pdf")).unwrap();
    assert!(output.starts_with(SAMPLE) && output.len() > SAMPLE.len());

    stop.send(true).unwrap();
    runtime.block_on(async {
        for worker in workers {
            worker.await.unwrap();
        }
        // An item left behind would be visible again after one timeout.
        tokio::time::sleep(VISIBILITY + Duration::from_millis(200)).await;
        let left = queue.receive(VISIBILITY).await.unwrap();
        assert!(left.is_none(), "a work item was left: {left:?}");
    });
}
