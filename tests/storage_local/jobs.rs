//! Job records as files: damaged records and concurrent writers.

use std::fs;
use std::time::Duration;

use pdf_seal::jobs::JobId;
use pdf_seal::storage::Created;

use super::LocalFixture;
use crate::storage_contract::queued_record;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_record_that_does_not_parse_is_skipped_and_reported() {
    let fixture = LocalFixture::new();
    let jobs = &fixture.storage.jobs;
    let good = queued_record(Duration::from_secs(5));
    jobs.create(&good).await.unwrap();
    let broken = JobId::random();
    let jobs_dir = fixture.data().join("jobs");
    fs::write(jobs_dir.join(format!("{broken}.json")), b"{\"id\": 12").unwrap();
    let elsewhere = JobId::random();
    let moved = fs::read(jobs_dir.join(format!("{}.json", good.id))).unwrap();
    fs::write(jobs_dir.join(format!("{elsewhere}.json")), moved).unwrap();
    fs::write(jobs_dir.join("notes.txt"), b"hello").unwrap();

    assert_eq!(jobs.unfinished().await.unwrap(), vec![good.id]);
    let error = jobs.get(&broken).await.unwrap_err();
    assert!(error.to_string().contains(broken.as_str()), "{error}");
    assert!(jobs.get(&elsewhere).await.is_err());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn of_concurrent_replaces_with_one_etag_exactly_one_wins() {
    let fixture = LocalFixture::new();
    let jobs = fixture.storage.jobs.clone();
    let record = queued_record(Duration::ZERO);
    let Created::New(etag) = jobs.create(&record).await.unwrap() else {
        panic!("not new");
    };

    let tasks: Vec<_> = (0..8)
        .map(|attempt| {
            let (jobs, etag) = (jobs.clone(), etag.clone());
            let mut record = record.clone();
            record.attempts = attempt;
            tokio::spawn(async move { jobs.replace(&record, &etag).await.unwrap() })
        })
        .collect();
    let mut winners = Vec::new();
    for task in tasks {
        winners.extend(task.await.unwrap());
    }

    assert_eq!(winners.len(), 1, "{winners:?}");
    let (_, stored) = jobs.get(&record.id).await.unwrap().unwrap();
    assert_eq!(stored, winners[0]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn of_concurrent_creates_of_one_job_exactly_one_is_new() {
    let fixture = LocalFixture::new();
    let jobs = fixture.storage.jobs.clone();
    let record = queued_record(Duration::ZERO);

    let tasks: Vec<_> = (0..8)
        .map(|_| {
            let (jobs, record) = (jobs.clone(), record.clone());
            tokio::spawn(async move { jobs.create(&record).await.unwrap() })
        })
        .collect();
    let mut new = 0;
    for task in tasks {
        match task.await.unwrap() {
            Created::New(_) => new += 1,
            Created::Exists(existing, _) => assert_eq!(*existing, record),
        }
    }

    assert_eq!(new, 1);
}
