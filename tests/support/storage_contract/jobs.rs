//! The contract of [`pdf_seal::storage::JobStore`].

use std::time::Duration;

use pdf_seal::api::seal_request::RequestedOptions;
use pdf_seal::jobs::{JobId, JobRecord, JobRequest, JobStatus};
use pdf_seal::storage::{BlobPath, Created};
use time::OffsetDateTime;

use super::Fixture;

/// A queued record for a new job, created `age` ago.
pub fn queued_record(age: Duration) -> JobRecord {
    let request = JobRequest {
        source: BlobPath::new("contract-jobs", "in.pdf").unwrap(),
        destination: BlobPath::new("contract-jobs", "in.sealed.pdf").unwrap(),
        overwrite: false,
        options: RequestedOptions::default(),
    };
    let now = OffsetDateTime::now_utc().replace_nanosecond(0).unwrap();
    JobRecord::queued(JobId::random(), request, now - age)
}

pub(super) async fn the_job_store_creates_once_and_replaces_by_etag(fixture: &dyn Fixture) {
    let jobs = &fixture.storage().jobs;
    let record = queued_record(Duration::ZERO);
    assert!(jobs.get(&record.id).await.unwrap().is_none());

    let Created::New(etag) = jobs.create(&record).await.unwrap() else {
        panic!("a new record was reported as existing");
    };
    let mut other = record.clone();
    other.attempts = 7;
    match jobs.create(&other).await.unwrap() {
        Created::Exists(existing, existing_etag) => {
            assert_eq!(*existing, record, "create changed the existing record");
            assert_eq!(existing_etag, etag);
        }
        Created::New(_) => panic!("a second create reported a new record"),
    }
    assert_eq!(
        jobs.get(&record.id).await.unwrap(),
        Some((record.clone(), etag.clone()))
    );

    let mut running = record.clone();
    running.status = JobStatus::Running;
    running.attempts = 1;
    let new_etag = jobs
        .replace(&running, &etag)
        .await
        .unwrap()
        .expect("the first replace");
    assert_ne!(new_etag, etag);

    let mut late = record.clone();
    late.status = JobStatus::Failed;
    assert_eq!(
        jobs.replace(&late, &etag).await.unwrap(),
        None,
        "a stale etag won"
    );
    assert_eq!(
        jobs.get(&record.id).await.unwrap(),
        Some((running.clone(), new_etag.clone()))
    );

    // Writing the same record again is a write too: whoever read the version before it loses.
    let same = jobs.replace(&running, &new_etag).await.unwrap();
    let same = same.expect("a replace with the current etag");
    assert_ne!(same, new_etag, "a write kept the etag");
    assert_eq!(jobs.replace(&running, &new_etag).await.unwrap(), None);
}

pub(super) async fn the_job_store_lists_unfinished_jobs_oldest_first(fixture: &dyn Fixture) {
    let jobs = &fixture.storage().jobs;
    let ages = [30, 20, 10, 40, 50];
    let statuses = [
        JobStatus::Running,
        JobStatus::Queued,
        JobStatus::Queued,
        JobStatus::Succeeded,
        JobStatus::Failed,
    ];
    let mut mine = Vec::new();
    for (age, status) in ages.into_iter().zip(statuses) {
        let mut record = queued_record(Duration::from_secs(age));
        record.status = status;
        jobs.create(&record).await.unwrap();
        mine.push(record.id);
    }

    let listed: Vec<JobId> = jobs
        .unfinished()
        .await
        .unwrap()
        .into_iter()
        .filter(|id| mine.contains(id))
        .collect();

    assert_eq!(listed, [mine[0].clone(), mine[1].clone(), mine[2].clone()]);
}
