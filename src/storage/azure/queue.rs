//! Work items in an Azure Storage queue: one message per job, whose text is the job id.

use std::time::Duration;

use async_trait::async_trait;
use azure_core::http::RequestContent;
use azure_storage_queue::QueueClient;
use azure_storage_queue::models::{
    QueueClientReceiveMessagesOptions, QueueClientSendMessageOptions, QueueMessage,
};

use super::error;
use crate::jobs::JobId;
use crate::storage::{Delivery, StorageError, StorageResult, WorkQueue};

/// The longest visibility timeout the service accepts: seven days.
const MAX_VISIBILITY: Duration = Duration::from_secs(7 * 24 * 3600);

/// [`WorkQueue`] on a queue of the storage account.
pub struct AzureQueue {
    client: QueueClient,
    name: String,
}

impl AzureQueue {
    pub(super) fn new(client: QueueClient, name: String) -> Self {
        Self { client, name }
    }

    fn what(&self) -> String {
        format!("the queue {:?}", self.name)
    }
}

/// Whole seconds from 1 to seven days: the service counts in seconds and refuses 0 when
/// receiving or updating.
fn visibility_secs(visibility: Duration) -> i32 {
    let clamped = visibility.clamp(Duration::from_secs(1), MAX_VISIBILITY);
    // Round up, so that a timeout is never shorter than asked; seven days fit an i32.
    let secs = clamped.as_secs() + u64::from(clamped.subsec_nanos() > 0);
    i32::try_from(secs.min(MAX_VISIBILITY.as_secs())).unwrap_or(i32::MAX)
}

#[async_trait]
impl WorkQueue for AzureQueue {
    async fn send(&self, job: &JobId) -> StorageResult<()> {
        let message = QueueMessage {
            message_text: Some(job.to_string()),
        };
        let content = RequestContent::try_from(message)
            .map_err(|e| error::map("write a message to", &self.what(), &e))?;
        // A work item never expires (time to live -1): a job waits for a worker however long
        // every instance is down, instead of the service's default of seven days.
        let options = QueueClientSendMessageOptions {
            message_time_to_live: Some(-1),
            ..Default::default()
        };
        self.client
            .send_message(content, Some(options))
            .await
            .map_err(|e| error::map("send a message to", &self.what(), &e))?;
        Ok(())
    }

    async fn receive(&self, visibility: Duration) -> StorageResult<Option<Delivery>> {
        loop {
            let options = QueueClientReceiveMessagesOptions {
                number_of_messages: Some(1),
                visibility_timeout: Some(visibility_secs(visibility)),
                ..Default::default()
            };
            let received = self
                .client
                .receive_messages(Some(options))
                .await
                .map_err(|e| error::map("receive a message from", &self.what(), &e))?
                .into_model()
                .map_err(|e| error::map("read a message from", &self.what(), &e))?;
            let Some(message) = received.items.and_then(|items| items.into_iter().next()) else {
                return Ok(None);
            };

            let (Some(message_id), Some(receipt)) = (message.message_id, message.pop_receipt)
            else {
                return Err(StorageError::Failed(format!(
                    "{} gave a message without an id or pop receipt",
                    self.what()
                )));
            };
            let dequeue_count = message
                .dequeue_count
                .and_then(|count| u32::try_from(count).ok())
                .unwrap_or(1);
            let job = message.message_text.as_deref().and_then(JobId::parse);
            let Some(job) = job else {
                // A message that names no job would come back forever: it goes, and the next
                // one is tried.
                tracing::warn!(
                    queue.name = %self.name,
                    queue.message_id = %error::clean(&message_id),
                    "deleting a queue message that is not a job id"
                );
                self.client
                    .delete_message(&message_id, &receipt, None)
                    .await
                    .map_err(|e| error::map("delete a message from", &self.what(), &e))?;
                continue;
            };

            return Ok(Some(Delivery {
                job,
                dequeue_count,
                message_id,
                receipt,
            }));
        }
    }

    async fn extend(&self, delivery: &mut Delivery, visibility: Duration) -> StorageResult<()> {
        let updated = self
            .client
            .update_message(
                &delivery.message_id,
                &delivery.receipt,
                visibility_secs(visibility),
                None,
            )
            .await;
        let response = match updated {
            Ok(response) => response,
            // 404: the message is gone, or its receipt is stale because someone else received
            // it after its timeout passed.
            Err(e) if matches!(error::status(&e), Some(400 | 404)) => {
                return Err(StorageError::Failed(format!(
                    "the work item of job {} in {} is no longer this worker's ({})",
                    delivery.job,
                    self.what(),
                    error::code(&e).map_or_else(|| "no code".to_owned(), error::clean)
                )));
            }
            Err(e) => return Err(error::map("extend a message in", &self.what(), &e)),
        };

        let receipt = response
            .headers()
            .get_optional_string(&"x-ms-popreceipt".into())
            .ok_or_else(|| {
                StorageError::Failed(format!(
                    "{} extended a message without a new pop receipt",
                    self.what()
                ))
            })?;
        delivery.receipt = receipt;
        Ok(())
    }

    async fn delete(&self, delivery: &Delivery) -> StorageResult<()> {
        self.client
            .delete_message(&delivery.message_id, &delivery.receipt, None)
            .await
            .map_err(|e| error::map("delete a message from", &self.what(), &e))?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn visibility_is_whole_seconds_from_one_to_seven_days() {
        assert_eq!(visibility_secs(Duration::ZERO), 1);
        assert_eq!(visibility_secs(Duration::from_millis(1500)), 2);
        assert_eq!(visibility_secs(Duration::from_secs(30)), 30);
        assert_eq!(
            visibility_secs(Duration::from_secs(30 * 24 * 3600)),
            604_800
        );
    }
}
