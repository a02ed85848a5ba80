//! Blob mode on Azure Storage, emulated by Azurite: the scenarios of every backend
//! (`support/job_scenarios.rs`), with the server pointed at an Azurite of the test's own
//! through a SAS.

mod support;

use std::ffi::OsString;
use std::fs::File;
use std::io::{BufReader, Write as _};
use std::path::Path;

use futures_util::StreamExt as _;
use pdf_seal::storage::BlobPath;
use support::azurite::AzuriteFixture;
use support::fixture::Fixture;
use support::job_scenarios;
use support::jobs::Blobs;
use support::validators::Validators;

/// The blocks the test uploads large sources in.
const UPLOAD_BLOCK_BYTES: usize = 8 << 20;

/// Azurite, driven from the test's synchronous code through a runtime of its own.
struct AzuriteBlobs {
    runtime: tokio::runtime::Runtime,
    azurite: AzuriteFixture,
}

impl AzuriteBlobs {
    fn start() -> Self {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        let azurite = runtime.block_on(AzuriteFixture::start());
        Self { runtime, azurite }
    }
}

fn path(container: &str, blob: &str) -> BlobPath {
    BlobPath::new(container, blob).unwrap()
}

impl Blobs for AzuriteBlobs {
    fn server_env(&self) -> Vec<(String, OsString)> {
        let azurite = &self.azurite.azurite;
        vec![
            ("PDF_SEAL_STORAGE".into(), "azure".into()),
            // The fixture's local data directory does not go with Azure storage.
            ("PDF_SEAL_DATA_DIR".into(), OsString::new()),
            (
                "PDF_SEAL_BLOB_ENDPOINT".into(),
                azurite.blob_endpoint.clone().into(),
            ),
            (
                "PDF_SEAL_QUEUE_ENDPOINT".into(),
                azurite.queue_endpoint.clone().into(),
            ),
            (
                "PDF_SEAL_STORAGE_SAS".into(),
                self.azurite.sas.clone().into(),
            ),
        ]
    }

    fn create_container(&self, name: &str) {
        self.runtime.block_on(self.azurite.create_container(name));
    }

    fn put_file(&self, container: &str, blob: &str, file: &Path) {
        let reader = BufReader::new(File::open(file).unwrap());
        self.runtime.block_on(self.azurite.put_blob_from_reader(
            &path(container, blob),
            reader,
            UPLOAD_BLOCK_BYTES,
        ));
    }

    fn get_file(&self, container: &str, blob: &str, file: &Path) -> bool {
        self.runtime.block_on(async {
            let blob = path(container, blob);
            let Some(mut body) = self.azurite.download(&blob).await else {
                return false;
            };
            let mut out = File::create(file).unwrap();
            while let Some(chunk) = body.next().await {
                out.write_all(&chunk.expect("a chunk of the blob")).unwrap();
            }
            true
        })
    }
}

#[test]
fn a_blob_is_sealed_through_the_job_api() {
    let fixture = Fixture::new();
    job_scenarios::whole_flow(&fixture, &AzuriteBlobs::start(), &Validators::find());
}

#[test]
fn sources_that_cannot_be_sealed_end_their_job_with_a_4xx() {
    let fixture = Fixture::new();
    job_scenarios::failures(&fixture, &AzuriteBlobs::start());
}

#[test]
fn idempotent_and_concurrent_jobs() {
    let fixture = Fixture::new();
    let blobs = AzuriteBlobs::start();
    job_scenarios::idempotency_and_concurrency(&fixture, &blobs, &Validators::find());
}

#[test]
fn a_1_gib_source_is_sealed_in_bounded_memory_across_a_kill() {
    let fixture = Fixture::new();
    let blobs = AzuriteBlobs::start();
    job_scenarios::large_source_survives_a_kill(&fixture, &blobs, &Validators::find());
}

#[test]
fn the_container_of_the_job_records_is_neither_source_nor_destination() {
    let fixture = Fixture::new();
    let blobs = AzuriteBlobs::start();
    let server = support::jobs::serve(&fixture, &blobs, "reserved");
    for body in [
        support::jobs::job(
            ("pdf-seal-jobs", "jobs/x.json"),
            Some(("out", "x.pdf")),
            serde_json::json!({}),
        ),
        support::jobs::job(
            ("inbox", "a.pdf"),
            Some(("pdf-seal-jobs", "jobs/x.json")),
            serde_json::json!({}),
        ),
    ] {
        let refused = support::jobs::create_job(&server, &body, None);
        support::jobs::check_problem(&refused, 400, "invalid-request", "pdf-seal-jobs");
    }
}

/// A job whose work item was lost (its record written, the item never sent or deleted by
/// hand) is found by the sweeper and sealed.
#[test]
fn a_job_that_lost_its_work_item_is_taken_up_again() {
    use pdf_seal::jobs::{JobId, JobRecord, JobRequest};

    let fixture = Fixture::new();
    let blobs = AzuriteBlobs::start();
    blobs.create_container("lost");
    let input = support::jobs::corpus("ph__minimal.pdf");
    blobs.put_file("lost", "a.pdf", &input);
    let request = JobRequest {
        source: path("lost", "a.pdf"),
        destination: path("lost", "a.sealed.pdf"),
        overwrite: false,
        options: Default::default(),
    };
    let created = time::OffsetDateTime::now_utc() - time::Duration::minutes(5);
    let record = JobRecord::queued(JobId::random(), request, created);
    let storage = blobs.azurite.storage();
    blobs
        .runtime
        .block_on(storage.jobs.create(&record))
        .unwrap();

    let server = support::jobs::serve(&fixture, &blobs, "lost");
    let done = support::jobs::follow(&server, &format!("/api/seal-jobs/{}", record.id), |_| {});
    let output = fixture.path().join("lost.pdf");
    assert!(blobs.get_file("lost", "a.sealed.pdf", &output));
    // No work item was ever sent for this job: only the sweeper can have started it.
    support::jobs::check_success(&done, &output, &input, &fixture, &Validators::find());
}
