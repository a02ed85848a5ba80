//! Azure Blob Storage and Azure Storage Queue, through the official SDK.
//!
//! [`open`] builds one client per service from [`AzureStorageSettings`], creates the jobs
//! container and queue when they are missing, and returns the three parts of the backend:
//! [`AzureBlobs`], [`AzureJobs`] and [`AzureQueue`].
//!
//! With a SAS, the token is the query of every request URL: the SDK's logs redact it, and
//! nothing here formats an SDK error or a URL into a message (see `error`).

mod blobs;
mod error;
mod jobs;
mod metadata;
mod output;
mod queue;

use std::sync::Arc;

use azure_core::credentials::TokenCredential;
use azure_core::http::{ClientOptions, ExponentialRetryOptions, RetryOptions, Url};
use azure_storage_blob::{BlobServiceClient, BlobServiceClientOptions};
use azure_storage_queue::{QueueClient, QueueClientOptions};

pub use blobs::AzureBlobs;
pub use jobs::AzureJobs;
pub use output::OutputTuning;
pub use queue::AzureQueue;

use super::{Storage, StorageError, StorageResult};
use crate::config::key_vault::TokenIdentity;
use crate::config::{AzureCredential, AzureStorageSettings};

/// What [`open_with`] lets a caller change beyond the settings; [`open`] takes the defaults.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AzureTuning {
    /// How often the SDK tries a request again after a timeout, a 408, 429 or 5xx, or a lost
    /// connection, waiting longer each time (from 0.2 s, at most 60 s in all); 5 by default.
    pub max_retries: u32,
    /// How outputs are staged.
    pub output: OutputTuning,
}

impl Default for AzureTuning {
    fn default() -> Self {
        Self {
            max_retries: 5,
            output: OutputTuning::default(),
        }
    }
}

/// Connects to the storage account of `settings`, creating the jobs container and queue when
/// they are missing.
pub async fn open(settings: &AzureStorageSettings) -> StorageResult<Storage> {
    open_with(settings, AzureTuning::default()).await
}

/// [`open`] with other retry and staging settings (tests use fewer retries and smaller blocks).
pub async fn open_with(
    settings: &AzureStorageSettings,
    tuning: AzureTuning,
) -> StorageResult<Storage> {
    let credential = token_credential(&settings.credential)?;
    let client_options = ClientOptions {
        retry: RetryOptions::exponential(ExponentialRetryOptions {
            max_retries: tuning.max_retries,
            ..Default::default()
        }),
        ..Default::default()
    };

    let blob_url = with_sas(settings.blob_endpoint.clone(), &settings.credential);
    let blob_options = BlobServiceClientOptions {
        client_options: client_options.clone(),
        ..Default::default()
    };
    let service = BlobServiceClient::new(blob_url, credential.clone(), Some(blob_options))
        .map_err(|e| setup_error("the Blob service client", &e))?;

    let mut queue_url = settings.queue_endpoint.clone();
    queue_url
        .path_segments_mut()
        .map_err(|()| StorageError::Failed("the queue endpoint cannot take a path".to_owned()))?
        .pop_if_empty()
        .push(&settings.jobs_queue);
    let queue_url = with_sas(queue_url, &settings.credential);
    let queue_options = QueueClientOptions {
        client_options,
        ..Default::default()
    };
    let queue = QueueClient::new(queue_url, credential, Some(queue_options))
        .map_err(|e| setup_error("the Queue service client", &e))?;

    let container = service.blob_container_client(&settings.jobs_container);
    create_container_if_missing(&container, &settings.jobs_container).await?;
    create_queue_if_missing(&queue, &settings.jobs_queue).await?;

    let service = Arc::new(service);
    Ok(Storage {
        blobs: Arc::new(AzureBlobs::new(service, tuning.output)),
        jobs: Arc::new(AzureJobs::new(container, settings.jobs_container.clone())),
        queue: Arc::new(AzureQueue::new(queue, settings.jobs_queue.clone())),
        exclusive: false,
    })
}

/// The token credential of `credential`, or `None` for a SAS.
fn token_credential(
    credential: &AzureCredential,
) -> StorageResult<Option<Arc<dyn TokenCredential>>> {
    let identity = match credential {
        AzureCredential::Sas(_) => return Ok(None),
        AzureCredential::ManagedIdentity { client_id } => TokenIdentity::ManagedIdentity {
            client_id: client_id.clone(),
        },
        AzureCredential::WorkloadIdentity => TokenIdentity::WorkloadIdentity,
        AzureCredential::AzureCli => TokenIdentity::AzureCli,
    };
    let made = crate::azure::token_credential(&identity);
    made.map(Some).map_err(|e| StorageError::AccessDenied {
        what: "the storage account".to_owned(),
        reason: format!(
            "the {} credential cannot be used here: {}",
            credential.name(),
            error::clean(&e.to_string())
        ),
    })
}

/// `url` with the SAS as its query, when the credential is a SAS.
fn with_sas(mut url: Url, credential: &AzureCredential) -> Url {
    if let AzureCredential::Sas(sas) = credential {
        url.set_query(Some(sas.expose()));
    }
    url
}

fn setup_error(what: &str, error: &azure_core::Error) -> StorageError {
    // The SDK's message here quotes the URL, which may carry the SAS.
    StorageError::Failed(format!(
        "could not set up {what} ({})",
        error::clean(&error.to_string())
    ))
}

async fn create_container_if_missing(
    container: &azure_storage_blob::BlobContainerClient,
    name: &str,
) -> StorageResult<()> {
    let what = format!("the jobs container {name:?}");
    match container.get_properties(None).await {
        Ok(_) => return Ok(()),
        Err(e) if error::status(&e) == Some(404) => {}
        Err(e) => return Err(error::map("check", &what, &e)),
    }

    match container.create(None).await {
        // 409: another instance created it first.
        Err(e) if error::status(&e) != Some(409) => Err(error::map("create", &what, &e)),
        _ => {
            tracing::info!(storage.container = name, "created the jobs container");
            Ok(())
        }
    }
}

async fn create_queue_if_missing(queue: &QueueClient, name: &str) -> StorageResult<()> {
    let what = format!("the jobs queue {name:?}");
    match queue.get_properties(None).await {
        Ok(_) => return Ok(()),
        Err(e) if error::status(&e) == Some(404) => {}
        Err(e) => return Err(error::map("check", &what, &e)),
    }

    queue
        .create(None)
        .await
        .map_err(|e| error::map("create", &what, &e))?;
    tracing::info!(storage.queue = name, "created the jobs queue");
    Ok(())
}
