//! The in-process queue's `wait`.

use std::time::{Duration, Instant};

use pdf_seal::jobs::JobId;

use super::LocalFixture;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wait_wakes_at_the_first_send() {
    let fixture = LocalFixture::new();
    let queue = fixture.storage.queue.clone();
    let waiter = tokio::spawn({
        let queue = queue.clone();
        async move {
            let start = Instant::now();
            queue.wait(Duration::from_secs(30)).await;
            start.elapsed()
        }
    });
    tokio::time::sleep(Duration::from_millis(50)).await;

    queue.send(&JobId::random()).await.unwrap();

    let waited = tokio::time::timeout(Duration::from_secs(5), waiter).await;
    let waited = waited.expect("wait slept through a send").unwrap();
    assert!(waited < Duration::from_secs(5));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wait_returns_at_once_when_an_item_is_visible() {
    let fixture = LocalFixture::new();
    let queue = &fixture.storage.queue;
    queue.send(&JobId::random()).await.unwrap();

    let waited = tokio::time::timeout(Duration::from_secs(5), queue.wait(Duration::from_secs(30)));

    waited.await.expect("wait slept with an item visible");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wait_wakes_when_the_earliest_hidden_item_becomes_visible() {
    let fixture = LocalFixture::new();
    let queue = &fixture.storage.queue;
    queue.send(&JobId::random()).await.unwrap();
    let visibility = Duration::from_millis(200);
    let delivery = queue.receive(visibility).await.unwrap().unwrap();
    let start = Instant::now();

    queue.wait(Duration::from_secs(30)).await;

    let waited = start.elapsed();
    assert!(
        waited >= visibility - Duration::from_millis(20),
        "{waited:?}"
    );
    assert!(waited < Duration::from_secs(5), "{waited:?}");
    let again = queue.receive(visibility).await.unwrap().unwrap();
    assert_eq!(again.message_id, delivery.message_id);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wait_on_an_empty_queue_returns_after_idle() {
    let fixture = LocalFixture::new();
    let start = Instant::now();

    fixture.storage.queue.wait(Duration::from_millis(100)).await;

    let waited = start.elapsed();
    assert!(waited >= Duration::from_millis(100), "{waited:?}");
    assert!(waited < Duration::from_secs(5), "{waited:?}");
}
