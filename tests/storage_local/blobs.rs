//! Blobs as files: symbolic links, the marker, pins, odd paths, and the blocking bridge.

use std::fs;
use std::os::unix::fs::symlink;
use std::path::PathBuf;

use bytes::Bytes;
use pdf_seal::jobs::JobId;
use pdf_seal::storage::source::{BlobSource, storage_error};
use pdf_seal::storage::{BlobProperties, ETag, OutputMarker, StorageError};

use super::{LocalFixture, blob, marker, mode};
use crate::storage_contract::Fixture as _;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn symbolic_links_are_never_followed() {
    let fixture = LocalFixture::new();
    let outside = fixture.scratch.path().join("outside");
    fs::create_dir(&outside).unwrap();
    fs::write(outside.join("secret.pdf"), b"%PDF outside").unwrap();
    let blobs_dir = fixture.data().join("blobs");
    fixture.create_container("docs").await;
    symlink(outside.join("secret.pdf"), blobs_dir.join("docs/link.pdf")).unwrap();
    symlink(&outside, blobs_dir.join("docs/sub")).unwrap();
    symlink(&outside, blobs_dir.join("evil")).unwrap();
    let blobs = &fixture.storage.blobs;

    for path in [
        blob("docs", "link.pdf"),
        blob("docs", "sub/secret.pdf"),
        blob("evil", "secret.pdf"),
    ] {
        assert_eq!(blobs.properties(&path).await.unwrap(), None, "{path}");
        assert_eq!(blobs.output_marker(&path).await.unwrap(), None, "{path}");
        let pin = BlobProperties {
            len: 12,
            etag: ETag("any".into()),
        };
        let opened = blobs.open_source(&path, &pin).await;
        assert!(
            matches!(opened, Err(StorageError::SourceNotFound(_))),
            "{path}"
        );
    }

    let source_path = blob("docs", "in.pdf");
    fixture.put_blob(&source_path, b"%PDF inside").await;
    let pinned = blobs.properties(&source_path).await.unwrap().unwrap();
    let source = blobs.open_source(&source_path, &pinned).await.unwrap();
    let job = JobId::random();

    let into_evil = blobs
        .begin_output(&job, &blob("evil", "out.pdf"), source.clone())
        .await;
    assert!(matches!(
        into_evil,
        Err(StorageError::DestinationContainerNotFound(_))
    ));

    let writer = blobs
        .begin_output(&job, &blob("docs", "sub/out.pdf"), source.clone())
        .await
        .unwrap();
    let through_dir = writer
        .commit(Bytes::from_static(b"+"), &marker(&job, "S"), true)
        .await;
    assert!(through_dir.is_err(), "a directory link was written through");

    let writer = blobs
        .begin_output(&job, &blob("docs", "link.pdf"), source.clone())
        .await
        .unwrap();
    let kept = writer
        .commit(Bytes::from_static(b"+"), &marker(&job, "S"), false)
        .await;
    assert!(
        matches!(kept, Err(StorageError::DestinationExists(_))),
        "{kept:?}"
    );

    let writer = blobs
        .begin_output(&job, &blob("docs", "link.pdf"), source)
        .await
        .unwrap();
    writer
        .commit(Bytes::from_static(b"+"), &marker(&job, "S"), true)
        .await
        .unwrap();
    assert_eq!(
        fs::read(blobs_dir.join("docs/link.pdf")).unwrap(),
        b"%PDF inside+"
    );
    assert!(
        fs::symlink_metadata(blobs_dir.join("docs/link.pdf"))
            .unwrap()
            .is_file()
    );

    let mut outside_names: Vec<_> = fs::read_dir(&outside)
        .unwrap()
        .map(|entry| entry.unwrap().file_name())
        .collect();
    outside_names.sort();
    assert_eq!(outside_names, ["secret.pdf"]);
    assert_eq!(
        fs::read(outside.join("secret.pdf")).unwrap(),
        b"%PDF outside"
    );
    assert_eq!(fixture.tmp_entries(), Vec::<PathBuf>::new());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_marker_is_an_extended_attribute_and_the_output_private() {
    let fixture = LocalFixture::new();
    fixture.create_container("docs").await;
    let source_path = blob("docs", "in.pdf");
    fixture.put_blob(&source_path, b"%PDF-1.7 body").await;
    let blobs = &fixture.storage.blobs;
    let pinned = blobs.properties(&source_path).await.unwrap().unwrap();
    let source = blobs.open_source(&source_path, &pinned).await.unwrap();
    let job = JobId::random();
    let destination = blob("docs", "out/sealed.pdf");
    let marker = marker(&job, "Sceau n° 1");

    let writer = blobs
        .begin_output(&job, &destination, source)
        .await
        .unwrap();
    assert!(!writer.needs_source_bytes());
    writer
        .commit(Bytes::from_static(b" increment"), &marker, false)
        .await
        .unwrap();

    let file = fixture.file(&destination);
    let mut value = vec![0; 4096];
    let len = rustix::fs::getxattr(&file, "user.pdf-seal.marker", &mut value[..]).unwrap();
    let stored: OutputMarker = serde_json::from_slice(&value[..len]).unwrap();
    assert_eq!(stored, marker);
    assert_eq!(fs::read(&file).unwrap(), b"%PDF-1.7 body increment");
    assert_eq!(mode(&file), 0o600);
    assert_eq!(mode(file.parent().unwrap()), 0o700);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_marker_that_does_not_parse_is_no_marker() {
    let fixture = LocalFixture::new();
    fixture.create_container("docs").await;
    let path = blob("docs", "a.pdf");
    fixture.put_blob(&path, b"bytes").await;
    let flags = rustix::fs::XattrFlags::empty();
    rustix::fs::setxattr(
        fixture.file(&path),
        "user.pdf-seal.marker",
        b"{not json",
        flags,
    )
    .unwrap();

    let marker = fixture.storage.blobs.output_marker(&path).await.unwrap();

    assert_eq!(marker, None);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_write_in_place_changes_the_pin() {
    let fixture = LocalFixture::new();
    fixture.create_container("docs").await;
    let path = blob("docs", "in.pdf");
    fixture.put_blob(&path, b"%PDF-1.7 body").await;
    let blobs = &fixture.storage.blobs;
    let pinned = blobs.properties(&path).await.unwrap().unwrap();
    let source = blobs.open_source(&path, &pinned).await.unwrap();
    let job = JobId::random();
    let writer = blobs
        .begin_output(&job, &blob("docs", "out.pdf"), source.clone())
        .await
        .unwrap();

    let mut file = fs::OpenOptions::new()
        .append(true)
        .open(fixture.file(&path))
        .unwrap();
    std::io::Write::write_all(&mut file, b" appended").unwrap();

    let read = source.read_range(0, 4).await;
    assert!(
        matches!(read, Err(StorageError::SourceChanged(_))),
        "{read:?}"
    );
    let committed = writer.commit(Bytes::new(), &marker(&job, "S"), false).await;
    assert!(
        matches!(committed, Err(StorageError::SourceChanged(_))),
        "{committed:?}"
    );
    assert_eq!(fixture.read_blob(&blob("docs", "out.pdf")).await, None);
    assert_eq!(fixture.tmp_entries(), Vec::<PathBuf>::new());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deleted_source_is_not_found_and_a_read_beyond_the_end_fails() {
    let fixture = LocalFixture::new();
    fixture.create_container("docs").await;
    let path = blob("docs", "in.pdf");
    fixture.put_blob(&path, b"0123456789").await;
    let blobs = &fixture.storage.blobs;
    let pinned = blobs.properties(&path).await.unwrap().unwrap();
    let source = blobs.open_source(&path, &pinned).await.unwrap();

    let beyond = source.read_range(5, 6).await;
    assert!(matches!(beyond, Err(StorageError::Failed(_))), "{beyond:?}");

    fs::remove_file(fixture.file(&path)).unwrap();
    let opened = blobs.open_source(&path, &pinned).await;
    assert!(matches!(opened, Err(StorageError::SourceNotFound(_))));
    let read = source.read_range(0, 4).await;
    assert!(
        matches!(read, Err(StorageError::SourceChanged(_))),
        "{read:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_directory_is_not_a_blob_and_cannot_be_replaced() {
    let fixture = LocalFixture::new();
    fixture.create_container("docs").await;
    fs::create_dir_all(fixture.data().join("blobs/docs/folder/inner")).unwrap();
    let source_path = blob("docs", "in.pdf");
    fixture.put_blob(&source_path, b"%PDF").await;
    let blobs = &fixture.storage.blobs;
    assert_eq!(
        blobs.properties(&blob("docs", "folder")).await.unwrap(),
        None
    );
    let pinned = blobs.properties(&source_path).await.unwrap().unwrap();
    let source = blobs.open_source(&source_path, &pinned).await.unwrap();
    let job = JobId::random();

    let writer = blobs
        .begin_output(&job, &blob("docs", "folder"), source.clone())
        .await
        .unwrap();
    let committed = writer.commit(Bytes::new(), &marker(&job, "S"), true).await;
    assert!(
        matches!(committed, Err(StorageError::DestinationUnusable { .. })),
        "{committed:?}"
    );

    let writer = blobs
        .begin_output(&job, &blob("docs", "in.pdf/below"), source)
        .await
        .unwrap();
    let committed = writer.commit(Bytes::new(), &marker(&job, "S"), true).await;
    let Err(error @ StorageError::DestinationUnusable { .. }) = committed else {
        panic!("a blob became a directory: {committed:?}");
    };
    let message = error.to_string();
    assert!(message.contains("docs/in.pdf/below"), "{message}");
    assert!(
        !message.contains(&fixture.data().display().to_string()),
        "{message}"
    );
    assert!(fixture.file(&blob("docs", "folder/inner")).is_dir());
    assert_eq!(fixture.tmp_entries(), Vec::<PathBuf>::new());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_local_blob_is_prepared_through_the_blocking_bridge() {
    let fixture = LocalFixture::new();
    fixture.create_container("docs").await;
    let path = blob("docs", "delivery-note.pdf");
    let sample = include_bytes!("../../samples/delivery-note.pdf");
    fixture.put_blob(&path, sample).await;
    let blobs = &fixture.storage.blobs;
    let pinned = blobs.properties(&path).await.unwrap().unwrap();
    let reader = blobs.open_source(&path, &pinned).await.unwrap();
    let runtime = tokio::runtime::Handle::current();

    let prepared = tokio::task::spawn_blocking(move || {
        let source = BlobSource::new(reader, runtime);
        pdf_seal_core::prepare(&source, &pdf_seal_core::SealOptions::default())
    })
    .await
    .unwrap();

    assert_eq!(
        prepared.ok().map(|p| p.base_len()),
        Some(sample.len() as u64)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_source_replaced_during_prepare_is_reported_as_changed() {
    let fixture = LocalFixture::new();
    fixture.create_container("docs").await;
    let path = blob("docs", "in.pdf");
    fixture
        .put_blob(&path, include_bytes!("../../samples/delivery-note.pdf"))
        .await;
    let blobs = &fixture.storage.blobs;
    let pinned = blobs.properties(&path).await.unwrap().unwrap();
    let reader = blobs.open_source(&path, &pinned).await.unwrap();
    fixture.put_blob(&path, b"%PDF-1.7 another document").await;
    let runtime = tokio::runtime::Handle::current();

    let prepared = tokio::task::spawn_blocking(move || {
        let source = BlobSource::new(reader, runtime);
        pdf_seal_core::prepare(&source, &pdf_seal_core::SealOptions::default()).map(|_| ())
    })
    .await
    .unwrap();

    let error = prepared.unwrap_err();
    let cause = storage_error(&error);
    assert!(
        matches!(cause, Some(StorageError::SourceChanged(p)) if *p == path),
        "{error:?}"
    );
}
