//! The contract of [`pdf_seal::storage::WorkQueue`].

use std::time::{Duration, Instant};

use pdf_seal::jobs::JobId;
use pdf_seal::storage::{Delivery, WorkQueue};

use super::Fixture;

/// How long the queue check hides an item.
const VISIBILITY: Duration = Duration::from_millis(300);

/// Receives until an item for `job` comes or the queue has nothing visible.
async fn receive_for(queue: &dyn WorkQueue, job: &JobId, visibility: Duration) -> Option<Delivery> {
    while let Some(delivery) = queue.receive(visibility).await.unwrap() {
        if delivery.job == *job {
            return Some(delivery);
        }
    }
    None
}

/// Receives the item for `job` once it is visible again, within `limit`.
async fn receive_within(queue: &dyn WorkQueue, job: &JobId, limit: Duration) -> Option<Delivery> {
    let start = Instant::now();
    while start.elapsed() < limit {
        if let Some(delivery) = receive_for(queue, job, VISIBILITY).await {
            return Some(delivery);
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    None
}

pub(super) async fn the_queue_hides_renews_and_deletes(fixture: &dyn Fixture) {
    let queue = fixture.storage().queue.as_ref();
    let job = JobId::random();
    queue.send(&job).await.unwrap();

    let first = receive_for(queue, &job, VISIBILITY)
        .await
        .expect("the item sent");
    assert_eq!(first.dequeue_count, 1);
    let received_at = Instant::now();
    assert!(
        receive_for(queue, &job, VISIBILITY).await.is_none(),
        "the item was not hidden"
    );

    let second = receive_within(queue, &job, Duration::from_secs(10)).await;
    let mut second = second.expect("the item did not come back after its timeout");
    assert!(received_at.elapsed() >= VISIBILITY - Duration::from_millis(50));
    assert_eq!(second.dequeue_count, 2);
    assert_eq!(second.message_id, first.message_id);
    assert_ne!(second.receipt, first.receipt);
    assert!(
        queue.delete(&first).await.is_err(),
        "a stale receipt deleted the item"
    );
    let mut stale = first.clone();
    assert!(
        queue.extend(&mut stale, VISIBILITY).await.is_err(),
        "a stale receipt extended it"
    );

    let before = second.receipt.clone();
    queue
        .extend(&mut second, Duration::from_secs(30))
        .await
        .unwrap();
    assert_ne!(second.receipt, before, "extend kept the receipt");
    let mut old = second.clone();
    old.receipt = before;
    assert!(
        queue.delete(&old).await.is_err(),
        "the receipt before extend still works"
    );
    tokio::time::sleep(VISIBILITY + Duration::from_millis(100)).await;
    assert!(
        receive_for(queue, &job, VISIBILITY).await.is_none(),
        "extend did not hide it"
    );

    queue.delete(&second).await.unwrap();
    assert!(
        queue.delete(&second).await.is_err(),
        "an item was deleted twice"
    );
}
