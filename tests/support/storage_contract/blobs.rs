//! The contract of [`pdf_seal::storage::BlobStore`]: pinned reads and outputs.

use bytes::Bytes;
use pdf_seal::jobs::JobId;
use pdf_seal::storage::{BlobPath, StorageError};

use super::{Fixture, Run, begin, document, marker, put_and_open};

pub(super) async fn missing_blobs_and_containers(fixture: &dyn Fixture, run: &Run) {
    let blobs = &fixture.storage().blobs;
    let in_absent = BlobPath::new(&run.absent_container(), "a.pdf").unwrap();
    assert_eq!(blobs.properties(&in_absent).await.unwrap(), None);
    assert_eq!(blobs.output_marker(&in_absent).await.unwrap(), None);

    fixture.create_container("contract-props").await;
    let missing = run.blob("contract-props", "missing.pdf");
    assert_eq!(blobs.properties(&missing).await.unwrap(), None);
    assert_eq!(blobs.output_marker(&missing).await.unwrap(), None);

    let present = run.blob("contract-props", "present.pdf");
    fixture.put_blob(&present, &document(1234, 1)).await;
    let properties = blobs.properties(&present).await.unwrap().unwrap();
    assert_eq!(properties.len, 1234);
    assert_eq!(blobs.output_marker(&present).await.unwrap(), None);
}

pub(super) async fn pinned_reads_fail_once_the_source_is_overwritten(
    fixture: &dyn Fixture,
    run: &Run,
) {
    fixture.create_container("contract-pinned").await;
    let path = run.blob("contract-pinned", "source.pdf");
    let bytes = document(5000, 2);
    let source = put_and_open(fixture, &path, &bytes).await;

    assert_eq!(source.path(), &path);
    assert_eq!(source.read_range(0, 5000).await.unwrap(), bytes[..]);
    assert_eq!(source.read_range(4321, 679).await.unwrap(), bytes[4321..]);
    assert_eq!(source.read_range(17, 1).await.unwrap(), bytes[17..18]);

    // The same length, other bytes: only the version tells them apart.
    fixture.put_blob(&path, &document(5000, 3)).await;
    let read = source.read_range(0, 100).await;
    assert!(
        matches!(read, Err(StorageError::SourceChanged(ref p)) if p == &path),
        "a read after the overwrite gave {read:?}"
    );

    let old_pin = source.pinned().clone();
    let blobs = &fixture.storage().blobs;
    match blobs.open_source(&path, &old_pin).await {
        Err(StorageError::SourceChanged(p)) => assert_eq!(p, path),
        Err(other) => panic!("opening at the old version failed with {other:?}"),
        Ok(reopened) => {
            let read = reopened.read_range(0, 100).await;
            assert!(
                matches!(read, Err(StorageError::SourceChanged(_))),
                "a read at the old version gave {read:?}"
            );
        }
    }
}

pub(super) async fn a_commit_fails_when_the_source_changed_since_it_was_pinned(
    fixture: &dyn Fixture,
    run: &Run,
) {
    fixture.create_container("contract-changed").await;
    let path = run.blob("contract-changed", "source.pdf");
    let destination = run.blob("contract-changed", "out.pdf");
    let source = put_and_open(fixture, &path, &document(3000, 4)).await;
    let job = JobId::random();
    let writer = begin(fixture, &job, &destination, &source).await;

    fixture.put_blob(&path, &document(3000, 5)).await;
    let committed = writer
        .commit(
            Bytes::from_static(b"increment"),
            &marker(&job, b"", "Seal1"),
            false,
        )
        .await;

    assert!(
        matches!(committed, Err(StorageError::SourceChanged(ref p)) if p == &path),
        "the commit gave {committed:?}"
    );
    assert_eq!(fixture.read_blob(&destination).await, None);
}

pub(super) async fn an_output_is_invisible_until_its_commit(fixture: &dyn Fixture, run: &Run) {
    fixture.create_container("contract-output").await;
    let path = run.blob("contract-output", "source.pdf");
    let destination = run.blob("contract-output", "sub/dir/out.pdf");
    let bytes = document(70_000, 6);
    let source = put_and_open(fixture, &path, &bytes).await;
    let job = JobId::random();
    let writer = begin(fixture, &job, &destination, &source).await;

    let blobs = &fixture.storage().blobs;
    assert_eq!(fixture.read_blob(&destination).await, None);
    assert_eq!(blobs.properties(&destination).await.unwrap(), None);

    let increment = b"\n% the increment\n".to_vec();
    let expected = [&bytes[..], &increment[..]].concat();
    let marker = marker(&job, &expected, "Seal1");
    let committed = writer.commit(Bytes::from(increment), &marker, false).await;
    committed.unwrap();

    assert_eq!(
        fixture.read_blob(&destination).await,
        Some(expected.clone())
    );
    let properties = blobs.properties(&destination).await.unwrap().unwrap();
    assert_eq!(properties.len, expected.len() as u64);
    assert_eq!(
        fixture.read_blob(&path).await,
        Some(bytes),
        "the source changed"
    );
}

pub(super) async fn overwrite_false_keeps_an_existing_destination(
    fixture: &dyn Fixture,
    run: &Run,
) {
    fixture.create_container("contract-keep").await;
    let path = run.blob("contract-keep", "source.pdf");
    let destination = run.blob("contract-keep", "out.pdf");
    fixture.put_blob(&destination, b"the old output").await;
    let source = put_and_open(fixture, &path, &document(2000, 7)).await;
    let job = JobId::random();
    let writer = begin(fixture, &job, &destination, &source).await;

    let committed = writer
        .commit(
            Bytes::from_static(b"increment"),
            &marker(&job, b"", "Seal1"),
            false,
        )
        .await;

    assert!(
        matches!(committed, Err(StorageError::DestinationExists(ref p)) if p == &destination),
        "the commit gave {committed:?}"
    );
    let kept = fixture.read_blob(&destination).await;
    assert_eq!(kept.as_deref(), Some(&b"the old output"[..]));
}

pub(super) async fn overwrite_true_replaces_an_existing_destination(
    fixture: &dyn Fixture,
    run: &Run,
) {
    fixture.create_container("contract-replace").await;
    let path = run.blob("contract-replace", "source.pdf");
    let destination = run.blob("contract-replace", "out.pdf");
    fixture.put_blob(&destination, b"the old output").await;
    let bytes = document(2000, 8);
    let source = put_and_open(fixture, &path, &bytes).await;
    let job = JobId::random();
    let writer = begin(fixture, &job, &destination, &source).await;

    let expected = [&bytes[..], b"increment"].concat();
    let marker = marker(&job, &expected, "Seal1");
    let committed = writer
        .commit(Bytes::from_static(b"increment"), &marker, true)
        .await;
    committed.unwrap();

    assert_eq!(fixture.read_blob(&destination).await, Some(expected));
}

pub(super) async fn a_missing_destination_container_is_refused(fixture: &dyn Fixture, run: &Run) {
    fixture.create_container("contract-nodest").await;
    let path = run.blob("contract-nodest", "source.pdf");
    let source = put_and_open(fixture, &path, &document(100, 9)).await;
    let absent = run.absent_container();
    let destination = BlobPath::new(&absent, "out.pdf").unwrap();

    let blobs = &fixture.storage().blobs;
    let begun = blobs
        .begin_output(&JobId::random(), &destination, source)
        .await;

    match begun {
        Err(StorageError::DestinationContainerNotFound(name)) => assert_eq!(name, absent),
        Err(other) => panic!("begin_output failed with {other:?}"),
        Ok(_) => panic!("begin_output accepted a missing container"),
    }
}

pub(super) async fn the_marker_round_trips(fixture: &dyn Fixture, run: &Run) {
    fixture.create_container("contract-marker").await;
    let path = run.blob("contract-marker", "source.pdf");
    let destination = run.blob("contract-marker", "out.pdf");
    let bytes = document(1500, 10);
    let source = put_and_open(fixture, &path, &bytes).await;
    let job = JobId::random();
    let writer = begin(fixture, &job, &destination, &source).await;

    let expected = [&bytes[..], b"increment"].concat();
    let marker = marker(&job, &expected, "Prüfsiegel – Büro Zürich ✓");
    let committed = writer
        .commit(Bytes::from_static(b"increment"), &marker, false)
        .await;
    committed.unwrap();

    let blobs = &fixture.storage().blobs;
    assert_eq!(
        blobs.output_marker(&destination).await.unwrap(),
        Some(marker)
    );
    assert_eq!(blobs.output_marker(&path).await.unwrap(), None);
}

pub(super) async fn an_aborted_output_leaves_nothing(fixture: &dyn Fixture, run: &Run) {
    fixture.create_container("contract-abort").await;
    let path = run.blob("contract-abort", "source.pdf");
    let destination = run.blob("contract-abort", "out.pdf");
    let source = put_and_open(fixture, &path, &document(4000, 11)).await;
    let writer = begin(fixture, &JobId::random(), &destination, &source).await;

    writer.abort().await;

    let blobs = &fixture.storage().blobs;
    assert_eq!(fixture.read_blob(&destination).await, None);
    assert_eq!(blobs.properties(&destination).await.unwrap(), None);
    assert_eq!(blobs.output_marker(&destination).await.unwrap(), None);
}
