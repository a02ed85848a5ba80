//! The in-process queue: items with a visibility deadline, handed out in the order they were
//! sent, as an Azure Storage Queue would hand them out (see [`WorkQueue`]).

use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use async_trait::async_trait;
use tokio::sync::Notify;
use tokio::time::Instant;

use super::DataDir;
use crate::jobs::JobId;
use crate::storage::{Delivery, StorageError, StorageResult, WorkQueue};

/// The local [`WorkQueue`]. It lives in memory; [`super::open`] refills it from the job
/// records, so an item lost with the process is made again at the next start.
pub struct LocalQueue {
    state: Mutex<State>,
    /// Woken by every send.
    sent: Notify,
    /// Keeps the data directory locked while the queue is in use.
    _dir: Arc<DataDir>,
}

#[derive(Default)]
struct State {
    items: Vec<Item>,
    /// Numbers message ids and receipts, so that each is unique.
    counter: u64,
}

struct Item {
    message_id: String,
    job: JobId,
    visible_at: Instant,
    dequeue_count: u32,
    /// The receipt of the latest delivery; `None` before the first.
    receipt: Option<String>,
}

impl LocalQueue {
    pub(super) fn new(dir: Arc<DataDir>) -> Self {
        Self {
            state: Mutex::default(),
            sent: Notify::new(),
            _dir: dir,
        }
    }

    /// Adds an item for `job`, visible at once.
    pub(super) fn push(&self, job: JobId) {
        let mut state = self.lock();
        state.counter += 1;
        let message_id = format!("local-{}", state.counter);
        state.items.push(Item {
            message_id,
            job,
            visible_at: Instant::now(),
            dequeue_count: 0,
            receipt: None,
        });
        drop(state);
        self.sent.notify_waiters();
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

impl State {
    /// The item of `delivery`, if the delivery is still the latest one of it.
    fn owned(&mut self, delivery: &Delivery) -> StorageResult<&mut Item> {
        let item = self
            .items
            .iter_mut()
            .find(|item| item.message_id == delivery.message_id);
        match item {
            Some(item) if item.receipt.as_deref() == Some(delivery.receipt.as_str()) => Ok(item),
            Some(_) => Err(StorageError::Failed(format!(
                "queue message {} was delivered again since; this delivery is stale",
                delivery.message_id
            ))),
            None => Err(StorageError::Failed(format!(
                "queue message {} is no longer in the queue",
                delivery.message_id
            ))),
        }
    }

    fn new_receipt(&mut self, message_id: &str) -> String {
        self.counter += 1;
        format!("{message_id}.{}", self.counter)
    }
}

#[async_trait]
impl WorkQueue for LocalQueue {
    async fn send(&self, job: &JobId) -> StorageResult<()> {
        self.push(job.clone());
        Ok(())
    }

    async fn receive(&self, visibility: Duration) -> StorageResult<Option<Delivery>> {
        let now = Instant::now();
        let mut state = self.lock();
        let Some(index) = state.items.iter().position(|item| item.visible_at <= now) else {
            return Ok(None);
        };
        let message_id = state.items[index].message_id.clone();
        let receipt = state.new_receipt(&message_id);

        let item = &mut state.items[index];
        item.visible_at = later(now, visibility);
        item.dequeue_count += 1;
        item.receipt = Some(receipt.clone());
        Ok(Some(Delivery {
            job: item.job.clone(),
            dequeue_count: item.dequeue_count,
            message_id,
            receipt,
        }))
    }

    async fn extend(&self, delivery: &mut Delivery, visibility: Duration) -> StorageResult<()> {
        let mut state = self.lock();
        let receipt = state.new_receipt(&delivery.message_id);
        let item = state.owned(delivery)?;
        item.visible_at = later(Instant::now(), visibility);
        item.receipt = Some(receipt.clone());
        delivery.receipt = receipt;
        Ok(())
    }

    async fn delete(&self, delivery: &Delivery) -> StorageResult<()> {
        let mut state = self.lock();
        state.owned(delivery)?;
        state
            .items
            .retain(|item| item.message_id != delivery.message_id);
        Ok(())
    }

    /// Returns at once when an item is visible; otherwise at the first send, when the
    /// earliest hidden item becomes visible, or after `idle`, whichever comes first.
    async fn wait(&self, idle: Duration) {
        let sent = self.sent.notified();
        tokio::pin!(sent);
        // Registered before the items are looked at, so that a send in between is not missed.
        sent.as_mut().enable();

        let now = Instant::now();
        let earliest = self.lock().items.iter().map(|item| item.visible_at).min();
        let idle_end = later(now, idle);
        let deadline = earliest.map_or(idle_end, |at| at.min(idle_end));
        if deadline <= now {
            return;
        }
        tokio::select! {
            () = sent => {}
            () = tokio::time::sleep_until(deadline) => {}
        }
    }
}

/// `now + duration`, or a century from now when that cannot be represented.
fn later(now: Instant, duration: Duration) -> Instant {
    const CENTURY: Duration = Duration::from_secs(100 * 365 * 24 * 3600);
    now.checked_add(duration.min(CENTURY)).unwrap_or(now)
}
