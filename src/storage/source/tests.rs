use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use pdf_seal_core::SealOptions;
use pdf_seal_core::signer::{DigestAlgorithm, DocumentDigest, Signer, SignerError};
use x509_cert::Certificate;

use super::*;
use crate::storage::{BlobPath, BlobProperties, ETag};

/// A blob in memory that counts the requests made of it and can start failing with
/// `SourceChanged` from a given request on.
struct MemoryReader {
    path: BlobPath,
    pinned: BlobProperties,
    bytes: Bytes,
    requests: AtomicUsize,
    /// The number of the first request that fails, counting from 0.
    fail_from: Option<usize>,
    /// How long each request takes.
    delay: Duration,
    in_flight: AtomicUsize,
    most_in_flight: AtomicUsize,
}

impl MemoryReader {
    fn new(bytes: impl Into<Bytes>) -> Self {
        let bytes = bytes.into();
        Self {
            path: BlobPath::new("docs", "in.pdf").unwrap(),
            pinned: BlobProperties {
                len: bytes.len() as u64,
                etag: ETag("v1".into()),
            },
            bytes,
            requests: AtomicUsize::new(0),
            fail_from: None,
            delay: Duration::ZERO,
            in_flight: AtomicUsize::new(0),
            most_in_flight: AtomicUsize::new(0),
        }
    }

    fn requests(&self) -> usize {
        self.requests.load(Ordering::SeqCst)
    }
}

#[async_trait]
impl SourceReader for MemoryReader {
    fn path(&self) -> &BlobPath {
        &self.path
    }

    fn pinned(&self) -> &BlobProperties {
        &self.pinned
    }

    async fn read_range(&self, offset: u64, len: usize) -> StorageResult<Bytes> {
        let number = self.requests.fetch_add(1, Ordering::SeqCst);
        let now = self.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
        self.most_in_flight.fetch_max(now, Ordering::SeqCst);
        if !self.delay.is_zero() {
            tokio::time::sleep(self.delay).await;
        }
        self.in_flight.fetch_sub(1, Ordering::SeqCst);

        if self.fail_from.is_some_and(|first| number >= first) {
            return Err(StorageError::SourceChanged(self.path.clone()));
        }
        let start = offset as usize;
        Ok(self.bytes.slice(start..start + len))
    }
}

/// Bytes that differ from their neighbours, so that a misplaced copy shows.
fn pattern(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i * 7 % 251) as u8).collect()
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap()
}

/// Small sizes, so that a kilobyte spans many blocks and ranges.
const SMALL: Layout = Layout {
    block_bytes: 64,
    cached_blocks: 4,
    range_bytes: 100,
    ranges_ahead: 3,
};

fn small_source(reader: &Arc<MemoryReader>, runtime: &tokio::runtime::Runtime) -> BlobSource {
    BlobSource::with_layout(reader.clone(), runtime.handle().clone(), SMALL)
}

#[test]
fn a_read_across_a_block_boundary_costs_one_request_per_block_once() {
    let runtime = runtime();
    let data = pattern(1000);
    let reader = Arc::new(MemoryReader::new(data.clone()));
    let source = small_source(&reader, &runtime);

    let mut buf = [0; 10];
    source.read_at(60, &mut buf).unwrap();
    assert_eq!(buf[..], data[60..70]);
    assert_eq!(reader.requests(), 2);

    let mut again = [0; 8];
    source.read_at(58, &mut again).unwrap();
    assert_eq!(again[..], data[58..66]);
    assert_eq!(reader.requests(), 2, "both blocks are cached");
}

#[test]
fn the_last_block_is_shorter_and_read_whole() {
    let runtime = runtime();
    let data = pattern(1000);
    let reader = Arc::new(MemoryReader::new(data.clone()));
    let source = small_source(&reader, &runtime);

    // Blocks 14 (896..960) and 15, which holds the last 40 bytes.
    let mut tail = [0; 50];
    source.read_at(950, &mut tail).unwrap();

    assert_eq!(tail[..], data[950..]);
    assert_eq!(reader.requests(), 2);
}

#[test]
fn the_cache_forgets_the_least_recently_used_block() {
    let runtime = runtime();
    let reader = Arc::new(MemoryReader::new(pattern(1000)));
    let source = small_source(&reader, &runtime);
    let mut byte = [0; 1];

    for block in [0, 1, 2, 3, 0, 4] {
        source.read_at(block * 64, &mut byte).unwrap();
    }
    assert_eq!(reader.requests(), 5);
    source.read_at(0, &mut byte).unwrap();
    assert_eq!(reader.requests(), 5, "block 0 was used recently and kept");
    source.read_at(64, &mut byte).unwrap();
    assert_eq!(reader.requests(), 6, "block 1 was the oldest and went");
}

#[test]
fn a_large_read_goes_straight_to_storage_in_ranges() {
    let runtime = runtime();
    let data = pattern(1000);
    let reader = Arc::new(MemoryReader::new(data.clone()));
    let source = small_source(&reader, &runtime);

    let mut buf = vec![0; 250];
    source.read_at(5, &mut buf).unwrap();

    assert_eq!(buf[..], data[5..255]);
    assert_eq!(reader.requests(), 3);
}

#[test]
fn a_read_past_the_end_fails_without_asking_storage() {
    let runtime = runtime();
    let reader = Arc::new(MemoryReader::new(pattern(1000)));
    let source = small_source(&reader, &runtime);

    for (offset, len) in [(995, 10), (1000, 1), (u64::MAX, 2)] {
        let mut buf = vec![0; len];
        let error = source.read_at(offset, &mut buf).unwrap_err();
        assert_eq!(error.kind(), io::ErrorKind::UnexpectedEof, "{offset}+{len}");
    }
    assert_eq!(reader.requests(), 0);
}

#[test]
fn read_all_feeds_the_sink_and_the_tee_in_order() {
    let runtime = runtime();
    let data = pattern(1000);
    let reader = Arc::new(MemoryReader::new(data.clone()));
    // Room for one chunk only: reading waits for the receiver, which is the back-pressure.
    let (tee, mut received) = mpsc::channel::<Bytes>(1);
    let collector = runtime.spawn(async move {
        let mut chunks = Vec::new();
        while let Some(chunk) = received.recv().await {
            chunks.push(chunk);
        }
        chunks
    });
    let source = small_source(&reader, &runtime).with_tee(tee);

    let mut hashed = Vec::new();
    source
        .read_all(&mut |chunk| hashed.extend_from_slice(chunk))
        .unwrap();
    drop(source);

    let chunks = runtime.block_on(collector).unwrap();
    assert_eq!(hashed, data);
    assert_eq!(chunks.len(), 10);
    assert_eq!(chunks.concat(), data);
}

#[test]
fn read_all_keeps_at_most_three_ranges_in_flight() {
    let runtime = runtime();
    let data = pattern(2000);
    let mut reader = MemoryReader::new(data.clone());
    reader.delay = Duration::from_millis(1);
    let reader = Arc::new(reader);
    let source = small_source(&reader, &runtime);

    let mut hashed = Vec::new();
    source
        .read_all(&mut |chunk| hashed.extend_from_slice(chunk))
        .unwrap();

    assert_eq!(hashed, data);
    assert_eq!(reader.requests(), 20);
    let most = reader.most_in_flight.load(Ordering::SeqCst);
    assert!(
        (2..=3).contains(&most),
        "{most} ranges were in flight at once"
    );
}

#[test]
fn a_failed_range_stops_read_all_with_the_storage_error() {
    let runtime = runtime();
    let mut reader = MemoryReader::new(pattern(1000));
    reader.fail_from = Some(4);
    let reader = Arc::new(reader);
    let source = small_source(&reader, &runtime);

    let mut hashed = 0;
    let error = source
        .read_all(&mut |chunk| hashed += chunk.len())
        .unwrap_err();

    assert!(matches!(
        storage_error(&error),
        Some(StorageError::SourceChanged(_))
    ));
    assert_eq!(hashed, 400, "the four good ranges came first");
}

#[test]
fn a_closed_tee_stops_read_all() {
    let runtime = runtime();
    let reader = Arc::new(MemoryReader::new(pattern(1000)));
    let (tee, received) = mpsc::channel::<Bytes>(4);
    drop(received);
    let source = small_source(&reader, &runtime).with_tee(tee);

    let error = source.read_all(&mut |_| {}).unwrap_err();

    assert_eq!(error.kind(), io::ErrorKind::BrokenPipe);
}

/// Answers a CMS that is only the digest in an OCTET STRING: equal outputs mean equal digests.
struct EchoSigner;

#[async_trait]
impl Signer for EchoSigner {
    fn estimated_cms_len(&self, algorithm: DigestAlgorithm) -> usize {
        2 + algorithm.output_len()
    }

    async fn sign(&self, digest: &DocumentDigest) -> Result<Vec<u8>, SignerError> {
        let mut cms = vec![0x04, digest.value.len() as u8];
        cms.extend_from_slice(&digest.value);
        Ok(cms)
    }

    fn certificates(&self) -> &[Certificate] {
        &[]
    }
}

const SAMPLE: &[u8] = include_bytes!("../../../samples/delivery-note.pdf");

fn options() -> SealOptions {
    SealOptions {
        signing_time: time::macros::datetime!(2026-12-04 12:00 UTC),
        ..SealOptions::default()
    }
}

#[test]
fn the_core_seals_a_blob_source_as_it_seals_the_bytes() {
    let runtime = runtime();
    let reader = Arc::new(MemoryReader::new(SAMPLE));
    let source = small_source(&reader, &runtime);

    let prepared = pdf_seal_core::prepare(&source, &options()).unwrap();
    let from_blob = runtime.block_on(prepared.sign(&EchoSigner)).unwrap();
    let prepared = pdf_seal_core::prepare(SAMPLE, &options()).unwrap();
    let from_bytes = runtime.block_on(prepared.sign(&EchoSigner)).unwrap();

    assert_eq!(from_blob.increment, from_bytes.increment);
}

#[test]
fn a_source_changed_while_hashing_surfaces_through_prepare() {
    let runtime = runtime();
    let mut reader = MemoryReader::new(SAMPLE);
    // The first request is the one block the planner reads (the sample is smaller than a
    // block); the hash's first range fails.
    reader.fail_from = Some(1);
    let reader = Arc::new(reader);
    let source = BlobSource::new(reader.clone(), runtime.handle().clone());

    let error = pdf_seal_core::prepare(&source, &options()).err().unwrap();

    assert_eq!(error.kind(), pdf_seal_core::ErrorKind::Io);
    assert!(
        matches!(storage_error(&error), Some(StorageError::SourceChanged(p)) if p == &reader.path),
        "{error:?}"
    );
    assert_eq!(reader.requests(), 2);
}

#[test]
fn a_source_changed_before_planning_surfaces_through_prepare() {
    let runtime = runtime();
    let mut reader = MemoryReader::new(SAMPLE);
    reader.fail_from = Some(0);
    let source = BlobSource::new(Arc::new(reader), runtime.handle().clone());

    let error = pdf_seal_core::prepare(&source, &options()).err().unwrap();

    assert!(matches!(
        storage_error(&error),
        Some(StorageError::SourceChanged(_))
    ));
}

#[test]
fn errors_without_a_storage_cause_have_none() {
    let error = io::Error::new(io::ErrorKind::UnexpectedEof, "short");
    assert!(storage_error(&error).is_none());
}

#[test]
fn prefetched_blocks_are_read_from_the_cache() {
    let runtime = runtime();
    let data = pattern(1000);
    let reader = Arc::new(MemoryReader::new(data.clone()));
    let source = small_source(&reader, &runtime);

    // Two objects far apart: their blocks (0 and 12) are fetched side by side.
    source.prefetch(&[(10, 20), (800, 20)]);
    assert_eq!(reader.requests(), 2);
    let mut buf = [0; 20];
    source.read_at(800, &mut buf).unwrap();
    assert_eq!(buf[..], data[800..820]);
    source.read_at(10, &mut buf).unwrap();
    assert_eq!(buf[..], data[10..30]);
    assert_eq!(reader.requests(), 2, "the reads found their blocks cached");

    // Never more than half the cache at once, and nothing already cached again.
    source.prefetch(&[(10, 20), (200, 20), (300, 20), (400, 20), (500, 20)]);
    assert_eq!(reader.requests(), 4);
}
