//! Opening the data directory: the lock, the directories, `tmp/` and the queue.

use std::fs;
use std::time::Duration;

use pdf_seal::jobs::JobStatus;
use pdf_seal::storage::local;

use super::mode;
use crate::storage_contract::queued_record;

#[test]
fn a_second_open_of_the_same_directory_is_refused_by_name() {
    let scratch = tempfile::tempdir().unwrap();
    let data = scratch.path().join("data");
    let first = local::open(&data).unwrap();

    let error = local::open(&data).err().expect("a second open succeeded");

    assert!(matches!(error, local::OpenError::Locked(_)), "{error:?}");
    let message = error.to_string();
    assert!(message.contains(&data.display().to_string()), "{message}");
    assert!(message.contains("in use"), "{message}");
    drop(first);
    local::open(&data).expect("the lock outlived the storage");
}

#[test]
fn open_creates_private_directories() {
    let scratch = tempfile::tempdir().unwrap();
    let data = scratch.path().join("new/data");

    let _storage = local::open(&data).unwrap();

    for dir in [
        "new",
        "new/data",
        "new/data/blobs",
        "new/data/jobs",
        "new/data/tmp",
    ] {
        assert_eq!(mode(&scratch.path().join(dir)), 0o700, "{dir}");
    }
}

#[test]
fn open_refuses_a_data_directory_that_is_a_file() {
    let scratch = tempfile::tempdir().unwrap();
    let data = scratch.path().join("data");
    fs::write(&data, b"not a directory").unwrap();

    let error = local::open(&data)
        .err()
        .expect("a file was opened as the data directory");

    assert!(
        error.to_string().contains(&data.display().to_string()),
        "{error}"
    );
}

#[test]
fn what_a_killed_process_left_in_tmp_is_removed_at_open() {
    let scratch = tempfile::tempdir().unwrap();
    let data = scratch.path().join("data");
    drop(local::open(&data).unwrap());
    fs::write(data.join("tmp/output-abc123"), b"half an output").unwrap();
    fs::create_dir(data.join("tmp/odd")).unwrap();
    fs::write(data.join("tmp/odd/file"), b"x").unwrap();
    fs::create_dir(data.join("blobs/docs")).unwrap();
    fs::write(data.join("blobs/docs/a.pdf"), b"a blob").unwrap();

    let _storage = local::open(&data).unwrap();

    assert_eq!(fs::read_dir(data.join("tmp")).unwrap().count(), 0);
    assert_eq!(fs::read(data.join("blobs/docs/a.pdf")).unwrap(), b"a blob");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_queue_is_rebuilt_from_the_unfinished_records_at_open() {
    let scratch = tempfile::tempdir().unwrap();
    let data = scratch.path().join("data");
    let storage = tokio::task::block_in_place(|| local::open(&data)).unwrap();
    let mut ids = Vec::new();
    for (age, status) in [
        (10, JobStatus::Running),
        (30, JobStatus::Queued),
        (20, JobStatus::Succeeded),
        (40, JobStatus::Failed),
    ] {
        let mut record = queued_record(Duration::from_secs(age));
        record.status = status;
        storage.jobs.create(&record).await.unwrap();
        ids.push(record.id);
    }
    assert!(
        storage
            .queue
            .receive(Duration::from_secs(30))
            .await
            .unwrap()
            .is_none()
    );
    drop(storage);

    let storage = tokio::task::block_in_place(|| local::open(&data)).unwrap();

    let visibility = Duration::from_secs(30);
    let first = storage.queue.receive(visibility).await.unwrap().unwrap();
    let second = storage.queue.receive(visibility).await.unwrap().unwrap();
    assert_eq!([first.job, second.job], [ids[1].clone(), ids[0].clone()]);
    assert_eq!(first.dequeue_count, 1);
    assert!(storage.queue.receive(visibility).await.unwrap().is_none());
}
