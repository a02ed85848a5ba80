//! The Azure storage backend against a real Azurite: what is particular to Azure (SAS
//! authentication, the mapping of its errors, blob metadata, block commits) and the round trips
//! of blobs, job records and work items. Each test starts an Azurite of its own.

#[path = "support/storage_contract.rs"]
mod storage_contract;
mod support;

use std::io::Read;
use std::sync::Arc;
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use bytes::Bytes;
use pdf_seal::api::seal_request::RequestedOptions;
use pdf_seal::config::StorageSettings;
use pdf_seal::jobs::{JobId, JobRecord, JobRequest, JobStatus};
use pdf_seal::storage::azure::{self, AzureTuning, OutputTuning};
use pdf_seal::storage::{BlobPath, Created, OutputMarker, SourceReader, StorageError};
use sha2::{Digest, Sha256};
use support::account_sas::{ACCOUNT_KEY, account_sas_with_key};
use support::azurite::{Azurite, AzuriteFixture, signature_of};
use time::OffsetDateTime;

fn path(container: &str, blob: &str) -> BlobPath {
    BlobPath::new(container, blob).unwrap()
}

/// `len` bytes that differ from one offset to the next, so that a misplaced range shows.
fn pattern(len: usize, seed: u8) -> Vec<u8> {
    (0..len)
        .map(|i| (i as u32).wrapping_mul(2_654_435_761).to_le_bytes()[1] ^ seed)
        .collect()
}

fn marker(job: &JobId, output: &[u8], field_name: &str) -> OutputMarker {
    OutputMarker {
        job: job.clone(),
        size_bytes: output.len() as u64,
        sha256: hex::encode(Sha256::digest(output)),
        field_name: field_name.to_owned(),
    }
}

/// The words of an error, which must never hold the SAS or a request URL.
fn assert_hides_the_sas(error: &StorageError, sas: &str) {
    for shown in [error.to_string(), format!("{error:?}")] {
        assert!(!shown.contains(signature_of(sas)), "{shown}");
        assert!(!shown.contains("sig="), "{shown}");
        assert!(!shown.contains("127.0.0.1"), "{shown}");
    }
}

/// Writes `source` through a new output of `destination` for the job of `marker`, in chunks of
/// `chunk` bytes, and commits it with `increment`.
async fn write_output(
    fixture: &AzuriteFixture,
    source: &BlobPath,
    destination: &BlobPath,
    chunk: usize,
    increment: &[u8],
    marker: &OutputMarker,
    overwrite: bool,
) -> Result<(), StorageError> {
    let blobs = &fixture.storage().blobs;
    let pinned = blobs.properties(source).await?.expect("the source exists");
    let reader = blobs.open_source(source, &pinned).await?;
    let mut writer = blobs
        .begin_output(&marker.job, destination, reader.clone())
        .await?;
    assert!(writer.needs_source_bytes());

    let mut offset = 0;
    while offset < pinned.len {
        let len = chunk.min((pinned.len - offset) as usize);
        writer
            .write_source(reader.read_range(offset, len).await?)
            .await?;
        offset += len as u64;
    }
    writer
        .commit(Bytes::copy_from_slice(increment), marker, overwrite)
        .await
}

fn request(source: &BlobPath) -> JobRequest {
    JobRequest {
        source: source.clone(),
        destination: source.sealed_sibling().unwrap(),
        overwrite: false,
        options: RequestedOptions::default(),
    }
}

#[tokio::test]
async fn a_sas_opens_the_account_and_creates_the_jobs_container_and_queue() {
    let fixture = AzuriteFixture::start().await;

    assert!(fixture.container_exists("pdf-seal-jobs").await);
    let job = JobId::random();
    let queue = &fixture.storage().queue;
    queue.send(&job).await.unwrap();
    let delivery = queue.receive(Duration::from_secs(30)).await.unwrap();
    assert_eq!(delivery.map(|d| d.job), Some(job));

    // A second start finds both and creates nothing.
    let StorageSettings::Azure(settings) =
        StorageSettings::resolve(&fixture.azurite.environment(&fixture.sas)).unwrap()
    else {
        panic!("azure settings");
    };
    azure::open(&settings).await.unwrap();
}

#[tokio::test]
async fn a_wrong_sas_is_access_denied_and_no_message_shows_it() {
    let azurite = Azurite::start();
    let expiry = OffsetDateTime::now_utc() + time::Duration::hours(1);
    let other_key = STANDARD.encode([7u8; 64]);
    let wrong = account_sas_with_key(&other_key, "rwdlacup", expiry);
    let StorageSettings::Azure(settings) =
        StorageSettings::resolve(&azurite.environment(&wrong)).unwrap()
    else {
        panic!("azure settings");
    };

    let error = match azure::open(&settings).await {
        Ok(_) => panic!("a SAS signed with another key was accepted"),
        Err(error) => error,
    };

    let StorageError::AccessDenied { what, reason } = &error else {
        panic!("expected AccessDenied, got {error:?}");
    };
    assert!(what.contains("pdf-seal-jobs"), "{what}");
    assert!(reason.contains("403"), "{reason}");
    assert_hides_the_sas(&error, &wrong);
    assert!(!format!("{settings:?}").contains(signature_of(&wrong)));
}

#[tokio::test]
async fn a_sas_without_write_permission_is_access_denied_on_write() {
    let fixture = AzuriteFixture::start().await;
    let expiry = OffsetDateTime::now_utc() + time::Duration::hours(1);
    let read_only = account_sas_with_key(ACCOUNT_KEY, "rl", expiry);
    let StorageSettings::Azure(settings) =
        StorageSettings::resolve(&fixture.azurite.environment(&read_only)).unwrap()
    else {
        panic!("azure settings");
    };
    // The jobs container and queue exist already, so opening only reads.
    let storage = azure::open(&settings).await.unwrap();
    let record = JobRecord::queued(
        JobId::random(),
        request(&path("inbox", "a.pdf")),
        OffsetDateTime::now_utc(),
    );

    let error = storage.jobs.create(&record).await.unwrap_err();

    assert!(
        matches!(error, StorageError::AccessDenied { .. }),
        "{error:?}"
    );
    assert_hides_the_sas(&error, &read_only);
}

#[tokio::test]
async fn a_lost_service_is_transient_and_no_message_shows_the_sas() {
    let mut fixture = AzuriteFixture::start().await;
    let source = path("inbox", "a.pdf");
    fixture.create_container("inbox").await;
    fixture.put_blob(&source, b"%PDF-1.7 lost").await;
    let pinned = fixture
        .storage()
        .blobs
        .properties(&source)
        .await
        .unwrap()
        .unwrap();
    let reader = fixture
        .storage()
        .blobs
        .open_source(&source, &pinned)
        .await
        .unwrap();

    fixture.azurite.kill();

    let storage = fixture.storage().clone();
    let errors = [
        storage.blobs.properties(&source).await.unwrap_err(),
        reader.read_range(0, 4).await.unwrap_err(),
        storage.jobs.get(&JobId::random()).await.unwrap_err(),
        storage.queue.send(&JobId::random()).await.unwrap_err(),
    ];
    for error in &errors {
        assert!(error.is_transient(), "{error:?}");
        assert_hides_the_sas(error, &fixture.sas);
    }
    assert!(
        errors[0].to_string().contains("inbox/a.pdf"),
        "{}",
        errors[0]
    );
}

#[tokio::test]
async fn properties_give_length_and_etag_and_none_when_missing() {
    let fixture = AzuriteFixture::start().await;
    let blobs = &fixture.storage().blobs;
    let blob = path("inbox", "2026/q3/report.pdf");

    assert_eq!(blobs.properties(&blob).await.unwrap(), None, "no container");
    fixture.create_container("inbox").await;
    assert_eq!(blobs.properties(&blob).await.unwrap(), None, "no blob");

    fixture.put_blob(&blob, &pattern(1000, 1)).await;
    let first = blobs.properties(&blob).await.unwrap().unwrap();
    assert_eq!(first.len, 1000);

    fixture.put_blob(&blob, &pattern(10, 2)).await;
    let second = blobs.properties(&blob).await.unwrap().unwrap();
    assert_eq!(second.len, 10);
    assert_ne!(second.etag, first.etag);
    assert_eq!(fixture.read_blob(&blob).await, Some(pattern(10, 2)));
}

#[tokio::test]
async fn a_pinned_source_reads_ranges_until_the_blob_changes() {
    let fixture = AzuriteFixture::start().await;
    let blobs = &fixture.storage().blobs;
    let blob = path("inbox", "scan.pdf");
    let content = pattern(300_000, 3);
    fixture.create_container("inbox").await;
    fixture.put_blob(&blob, &content).await;
    let pinned = blobs.properties(&blob).await.unwrap().unwrap();
    let reader = blobs.open_source(&blob, &pinned).await.unwrap();

    assert_eq!(reader.path(), &blob);
    assert_eq!(reader.pinned(), &pinned);
    for (offset, len) in [
        (0, 1),
        (0, 300_000),
        (123_457, 65_536),
        (299_999, 1),
        (5, 0),
    ] {
        let read = reader.read_range(offset, len).await.unwrap();
        let start = offset as usize;
        assert_eq!(&read[..], &content[start..start + len], "{offset}+{len}");
    }
    let beyond = reader.read_range(299_999, 2).await.unwrap_err();
    assert!(matches!(beyond, StorageError::Failed(_)), "{beyond:?}");

    fixture.put_blob(&blob, &content).await;
    let changed = reader.read_range(0, 10).await.unwrap_err();
    assert!(
        matches!(changed, StorageError::SourceChanged(ref p) if *p == blob),
        "{changed:?}"
    );

    let repinned = blobs.properties(&blob).await.unwrap().unwrap();
    let reader = blobs.open_source(&blob, &repinned).await.unwrap();
    fixture.delete_blob(&blob).await;
    let deleted = reader.read_range(0, 10).await.unwrap_err();
    assert!(
        matches!(deleted, StorageError::SourceChanged(_)),
        "{deleted:?}"
    );
}

#[tokio::test]
async fn an_output_appears_only_at_commit_with_its_marker() {
    // Blocks of 64 KiB, so that 200 KiB of source make several, and a partial one.
    let tuning = AzureTuning {
        max_retries: 2,
        output: OutputTuning {
            block_bytes: 64 * 1024,
            uploads_in_flight: 2,
        },
    };
    let fixture = AzuriteFixture::start_tuned(tuning).await;
    let blobs = &fixture.storage().blobs;
    let (source, destination) = (path("inbox", "a.pdf"), path("sealed", "a.pdf"));
    fixture.create_container("inbox").await;
    fixture.create_container("sealed").await;
    let content = pattern(200 * 1024 + 17, 4);
    fixture.put_blob(&source, &content).await;
    let job = JobId::random();
    let increment = b"\n% the increment\n%%EOF\n".to_vec();
    let output = [content.clone(), increment.clone()].concat();
    let field = "Siegel für Ärzte ✓";

    let pinned = blobs.properties(&source).await.unwrap().unwrap();
    let reader = blobs.open_source(&source, &pinned).await.unwrap();
    let mut writer = blobs
        .begin_output(&job, &destination, reader.clone())
        .await
        .unwrap();
    for offset in (0..content.len()).step_by(50_000) {
        let len = 50_000.min(content.len() - offset);
        let chunk = reader.read_range(offset as u64, len).await.unwrap();
        writer.write_source(chunk).await.unwrap();
    }

    assert_eq!(fixture.read_blob(&destination).await, None);
    assert_eq!(blobs.properties(&destination).await.unwrap(), None);
    assert_eq!(blobs.output_marker(&destination).await.unwrap(), None);

    let expected = marker(&job, &output, field);
    writer
        .commit(Bytes::from(increment), &expected, false)
        .await
        .unwrap();

    assert_eq!(fixture.read_blob(&destination).await, Some(output));
    assert_eq!(
        fixture.content_type(&destination).await.as_deref(),
        Some("application/pdf")
    );
    assert_eq!(
        blobs.output_marker(&destination).await.unwrap(),
        Some(expected)
    );
}

#[tokio::test]
async fn an_existing_destination_is_kept_unless_overwrite_is_allowed() {
    let fixture = AzuriteFixture::start().await;
    let (source, destination) = (path("inbox", "a.pdf"), path("inbox", "a.sealed.pdf"));
    fixture.create_container("inbox").await;
    fixture.put_blob(&source, &pattern(5000, 5)).await;
    fixture.put_blob(&destination, b"someone else's").await;
    let job = JobId::random();
    let output = [pattern(5000, 5), b"+seal".to_vec()].concat();
    let marker = marker(&job, &output, "Seal1");

    let refused = write_output(
        &fixture,
        &source,
        &destination,
        4096,
        b"+seal",
        &marker,
        false,
    )
    .await
    .unwrap_err();

    assert!(
        matches!(refused, StorageError::DestinationExists(ref p) if *p == destination),
        "{refused:?}"
    );
    assert_eq!(
        fixture.read_blob(&destination).await.as_deref(),
        Some(&b"someone else's"[..])
    );

    write_output(
        &fixture,
        &source,
        &destination,
        4096,
        b"+seal",
        &marker,
        true,
    )
    .await
    .unwrap();
    assert_eq!(fixture.read_blob(&destination).await, Some(output));
}

#[tokio::test]
async fn an_output_needs_its_destination_container() {
    let fixture = AzuriteFixture::start().await;
    let blobs = &fixture.storage().blobs;
    let source = path("inbox", "a.pdf");
    fixture.create_container("inbox").await;
    fixture.put_blob(&source, b"%PDF-1.7").await;
    let pinned = blobs.properties(&source).await.unwrap().unwrap();
    let reader = blobs.open_source(&source, &pinned).await.unwrap();

    let error = match blobs
        .begin_output(&JobId::random(), &path("nowhere", "a.pdf"), reader)
        .await
    {
        Ok(_) => panic!("an output began in a missing container"),
        Err(error) => error,
    };

    assert!(
        matches!(error, StorageError::DestinationContainerNotFound(ref c) if c == "nowhere"),
        "{error:?}"
    );
}

#[tokio::test]
async fn an_abandoned_output_leaves_nothing_and_a_later_writer_commits() {
    let fixture = AzuriteFixture::start().await;
    let blobs = &fixture.storage().blobs;
    let (source, destination) = (path("inbox", "a.pdf"), path("inbox", "b.pdf"));
    fixture.create_container("inbox").await;
    fixture.put_blob(&source, &pattern(2000, 6)).await;
    let pinned = blobs.properties(&source).await.unwrap().unwrap();
    let reader = blobs.open_source(&source, &pinned).await.unwrap();
    let job = JobId::random();

    let mut first = blobs
        .begin_output(&job, &destination, reader.clone())
        .await
        .unwrap();
    first
        .write_source(reader.read_range(0, 2000).await.unwrap())
        .await
        .unwrap();
    first.abort().await;
    assert_eq!(fixture.read_blob(&destination).await, None);

    let output = [pattern(2000, 6), b"!".to_vec()].concat();
    write_output(
        &fixture,
        &source,
        &destination,
        700,
        b"!",
        &marker(&job, &output, "Seal1"),
        false,
    )
    .await
    .unwrap();
    assert_eq!(fixture.read_blob(&destination).await, Some(output));
}

#[tokio::test]
async fn a_short_source_is_refused_at_commit() {
    let fixture = AzuriteFixture::start().await;
    let blobs = &fixture.storage().blobs;
    let (source, destination) = (path("inbox", "a.pdf"), path("inbox", "b.pdf"));
    fixture.create_container("inbox").await;
    fixture.put_blob(&source, &pattern(2000, 7)).await;
    let pinned = blobs.properties(&source).await.unwrap().unwrap();
    let reader = blobs.open_source(&source, &pinned).await.unwrap();
    let job = JobId::random();
    let mut writer = blobs
        .begin_output(&job, &destination, reader.clone())
        .await
        .unwrap();
    writer
        .write_source(reader.read_range(0, 1000).await.unwrap())
        .await
        .unwrap();

    let error = writer
        .commit(Bytes::from_static(b"x"), &marker(&job, b"x", "S"), false)
        .await
        .unwrap_err();

    assert!(
        error.to_string().contains("1000 of the source's 2000"),
        "{error}"
    );
    assert_eq!(fixture.read_blob(&destination).await, None);
}

#[tokio::test]
async fn the_marker_is_none_for_a_missing_blob_or_one_without_a_marker() {
    let fixture = AzuriteFixture::start().await;
    let blobs = &fixture.storage().blobs;
    let blob = path("sealed", "plain.pdf");

    assert_eq!(blobs.output_marker(&blob).await.unwrap(), None);
    fixture.create_container("sealed").await;
    assert_eq!(blobs.output_marker(&blob).await.unwrap(), None);
    fixture.put_blob(&blob, b"%PDF-1.7").await;
    assert_eq!(blobs.output_marker(&blob).await.unwrap(), None);
}

#[tokio::test]
async fn job_records_are_created_once_and_replaced_by_etag() {
    let fixture = AzuriteFixture::start().await;
    let jobs = &fixture.storage().jobs;
    let id = JobId::random();
    let mut record = JobRecord::queued(
        id.clone(),
        request(&path("inbox", "a.pdf")),
        OffsetDateTime::now_utc().replace_nanosecond(0).unwrap(),
    );

    assert!(jobs.get(&id).await.unwrap().is_none());
    let Created::New(first) = jobs.create(&record).await.unwrap() else {
        panic!("the first create found a record");
    };
    let mut other = record.clone();
    other.request.overwrite = true;
    let Created::Exists(existing, etag) = jobs.create(&other).await.unwrap() else {
        panic!("the second create wrote a record");
    };
    assert_eq!(*existing, record);
    assert_eq!(etag, first);
    assert_eq!(
        jobs.get(&id).await.unwrap(),
        Some((record.clone(), first.clone()))
    );

    record.status = JobStatus::Running;
    record.attempts = 1;
    let second = jobs
        .replace(&record, &first)
        .await
        .unwrap()
        .expect("a new etag");
    assert_ne!(second, first);
    record.status = JobStatus::Failed;
    assert_eq!(
        jobs.replace(&record, &first).await.unwrap(),
        None,
        "a stale etag"
    );
    let (stored, etag) = jobs.get(&id).await.unwrap().unwrap();
    assert_eq!((stored.status, etag), (JobStatus::Running, second));

    let missing = JobRecord::queued(
        JobId::random(),
        request(&path("inbox", "b.pdf")),
        record.created_at,
    );
    assert_eq!(
        jobs.replace(&missing, &first).await.unwrap(),
        None,
        "no record"
    );
}

#[tokio::test]
async fn unfinished_jobs_are_listed_oldest_first() {
    let fixture = AzuriteFixture::start().await;
    let jobs = &fixture.storage().jobs;
    let start = OffsetDateTime::now_utc();
    let mut expected = Vec::new();
    // Created newest first, so that the order cannot come from the order of writes.
    for (age_secs, status) in [
        (10, JobStatus::Queued),
        (20, JobStatus::Succeeded),
        (30, JobStatus::Running),
        (40, JobStatus::Failed),
        (50, JobStatus::Queued),
    ] {
        let id = JobId::random();
        let created = start - time::Duration::seconds(age_secs);
        let mut record = JobRecord::queued(id.clone(), request(&path("inbox", "a.pdf")), created);
        record.status = status;
        jobs.create(&record).await.unwrap();
        if !status.is_final() {
            expected.insert(0, id);
        }
    }
    // A blob that is not a record is passed over.
    fixture
        .put_blob(&path("pdf-seal-jobs", "jobs/readme.txt"), b"hello")
        .await;

    assert_eq!(jobs.unfinished().await.unwrap(), expected);
}

#[tokio::test]
async fn deliveries_hide_their_item_extend_and_come_back_after_the_timeout() {
    let fixture = AzuriteFixture::start().await;
    let queue = &fixture.storage().queue;
    let job = JobId::random();
    queue.send(&job).await.unwrap();

    let mut first = queue
        .receive(Duration::from_secs(1))
        .await
        .unwrap()
        .unwrap();
    assert_eq!((first.job.clone(), first.dequeue_count), (job.clone(), 1));
    assert!(
        queue
            .receive(Duration::from_secs(1))
            .await
            .unwrap()
            .is_none()
    );

    let old_receipt = first.receipt.clone();
    queue
        .extend(&mut first, Duration::from_secs(1))
        .await
        .unwrap();
    assert_ne!(first.receipt, old_receipt);
    let mut stale = first.clone();
    stale.receipt = old_receipt;
    assert!(
        queue.delete(&stale).await.is_err(),
        "a stale receipt deleted the item"
    );

    tokio::time::sleep(Duration::from_millis(2500)).await;
    let second = queue
        .receive(Duration::from_secs(30))
        .await
        .unwrap()
        .unwrap();
    assert_eq!((second.job.clone(), second.dequeue_count), (job, 2));
    let mut lost = first;
    let error = queue
        .extend(&mut lost, Duration::from_secs(30))
        .await
        .unwrap_err();
    assert!(error.to_string().contains("no longer"), "{error}");

    queue.delete(&second).await.unwrap();
    assert!(
        queue
            .receive(Duration::from_secs(1))
            .await
            .unwrap()
            .is_none()
    );
}

#[tokio::test]
async fn a_message_that_names_no_job_is_dropped() {
    let fixture = AzuriteFixture::start().await;
    let queue = &fixture.storage().queue;
    fixture.send_raw_message("pdf-seal-jobs", "not a job").await;
    let job = JobId::random();
    queue.send(&job).await.unwrap();

    let delivery = queue.receive(Duration::from_secs(30)).await.unwrap();

    assert_eq!(delivery.map(|d| d.job), Some(job));
    assert_eq!(fixture.queue_length("pdf-seal-jobs").await, 1);
}

/// A source larger than several default blocks of 8 MiB, made and checked without holding it
/// in memory, goes through the writer in the 4 MiB reads a job makes.
#[tokio::test]
async fn a_large_source_is_staged_in_default_blocks() {
    let fixture = AzuriteFixture::start().await;
    let (source, destination) = (path("inbox", "big.pdf"), path("sealed", "big.pdf"));
    fixture.create_container("inbox").await;
    fixture.create_container("sealed").await;
    // PDF_SEAL_TEST_LARGE_MIB makes it larger, to watch the memory of a 1 GiB run.
    let mib: u64 = std::env::var("PDF_SEAL_TEST_LARGE_MIB")
        .ok()
        .and_then(|mib| mib.parse().ok())
        .unwrap_or(40);
    let size = mib * 1024 * 1024 + 12_345;
    let generated = Generated {
        left: size,
        next: 0,
    };
    let (len, _) = fixture
        .put_blob_from_reader(&source, generated, 5 * 1024 * 1024)
        .await;
    assert_eq!(len, size);

    let job = JobId::random();
    let increment = b"\n%%EOF\n";
    let mut hash = Sha256::new();
    std::io::copy(
        &mut Generated {
            left: size,
            next: 0,
        }
        .chain(&increment[..]),
        &mut HashWriter(&mut hash),
    )
    .unwrap();
    let expected: [u8; 32] = hash.finalize().into();
    let marker = OutputMarker {
        job: job.clone(),
        size_bytes: size + increment.len() as u64,
        sha256: hex::encode(expected),
        field_name: "Seal1".to_owned(),
    };

    write_output(
        &fixture,
        &source,
        &destination,
        4 << 20,
        increment,
        &marker,
        false,
    )
    .await
    .unwrap();

    assert_eq!(
        fixture.blob_digest(&destination).await,
        (size + increment.len() as u64, expected)
    );
    let reader: Arc<dyn SourceReader> = {
        let blobs = &fixture.storage().blobs;
        let pinned = blobs.properties(&destination).await.unwrap().unwrap();
        blobs.open_source(&destination, &pinned).await.unwrap()
    };
    assert_eq!(reader.pinned().len, size + increment.len() as u64);
    eprintln!("peak resident memory of the test process: {}", peak_rss());
}

/// The process's peak resident set, as Linux reports it.
fn peak_rss() -> String {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmHWM:"))
        .map_or_else(|| "unknown".to_owned(), |value| value.trim().to_owned())
}

/// A reader of `left` pseudo-random bytes, made as they are read.
struct Generated {
    left: u64,
    next: u64,
}

impl Read for Generated {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = buf.len().min(self.left as usize);
        for byte in &mut buf[..n] {
            *byte = (self.next.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 56) as u8;
            self.next += 1;
        }
        self.left -= n as u64;
        Ok(n)
    }
}

struct HashWriter<'a>(&'a mut Sha256);

impl std::io::Write for HashWriter<'_> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.update(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// The backend-neutral contract (`support/storage_contract.rs`), on Azurite.
struct ContractOnAzurite(AzuriteFixture);

#[async_trait::async_trait]
impl storage_contract::Fixture for ContractOnAzurite {
    fn storage(&self) -> &pdf_seal::storage::Storage {
        self.0.storage()
    }

    async fn create_container(&self, name: &str) {
        self.0.create_container(name).await;
    }

    async fn put_blob(&self, path: &BlobPath, bytes: &[u8]) {
        self.0.put_blob(path, bytes).await;
    }

    async fn read_blob(&self, path: &BlobPath) -> Option<Vec<u8>> {
        self.0.read_blob(path).await
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_azure_backend_keeps_the_storage_contract() {
    let fixture = ContractOnAzurite(AzuriteFixture::start().await);
    storage_contract::run_all(&fixture).await;
}
