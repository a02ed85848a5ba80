//! Source and destination blobs in Azure Blob Storage.

use std::num::NonZeroUsize;
use std::sync::Arc;

use async_trait::async_trait;
use azure_core::http::Etag;
use azure_storage_blob::BlobServiceClient;
use azure_storage_blob::models::{BlobClientDownloadOptions, BlobClientGetPropertiesResultHeaders};
use bytes::Bytes;

use super::error;
use super::metadata;
use super::output::{AzureOutput, OutputTuning, PinnedSource};
use crate::jobs::JobId;
use crate::storage::{
    BlobPath, BlobProperties, BlobStore, ETag, OutputMarker, OutputWriter, SourceReader,
    StorageError, StorageResult,
};

/// [`BlobStore`] on one storage account.
pub struct AzureBlobs {
    service: Arc<BlobServiceClient>,
    tuning: OutputTuning,
}

impl AzureBlobs {
    pub(super) fn new(service: Arc<BlobServiceClient>, tuning: OutputTuning) -> Self {
        Self { service, tuning }
    }
}

#[async_trait]
impl BlobStore for AzureBlobs {
    async fn properties(&self, blob: &BlobPath) -> StorageResult<Option<BlobProperties>> {
        let client = self.service.blob_client(blob.container(), blob.blob());
        let response = match client.get_properties(None).await {
            Ok(response) => response,
            Err(e) if error::status(&e) == Some(404) => return Ok(None),
            Err(e) => return Err(error::map("read the properties of", &blob.to_string(), &e)),
        };

        let invalid = |what: &str| {
            StorageError::Failed(format!("the properties of {blob} have no valid {what}"))
        };
        let len = response
            .content_length()
            .map_err(|_| invalid("length"))?
            .ok_or_else(|| invalid("length"))?;
        let etag = response
            .etag()
            .map_err(|_| invalid("ETag"))?
            .ok_or_else(|| invalid("ETag"))?;
        Ok(Some(BlobProperties {
            len,
            etag: ETag(etag.to_string()),
        }))
    }

    async fn open_source(
        &self,
        blob: &BlobPath,
        pinned: &BlobProperties,
    ) -> StorageResult<Arc<dyn SourceReader>> {
        Ok(Arc::new(AzureSource {
            service: self.service.clone(),
            path: blob.clone(),
            pinned: pinned.clone(),
        }))
    }

    async fn begin_output(
        &self,
        job: &JobId,
        destination: &BlobPath,
        source: Arc<dyn SourceReader>,
    ) -> StorageResult<Box<dyn OutputWriter>> {
        let container = self.service.blob_container_client(destination.container());
        let exists = container.exists().await.map_err(|e| {
            let what = format!("the container {:?}", destination.container());
            error::map("check", &what, &e)
        })?;
        if !exists {
            return Err(StorageError::DestinationContainerNotFound(
                destination.container().to_owned(),
            ));
        }

        let client = self
            .service
            .blob_client(destination.container(), destination.blob())
            .block_blob_client();
        let pinned = PinnedSource {
            client: self
                .service
                .blob_client(source.path().container(), source.path().blob()),
            path: source.path().clone(),
            etag: source.pinned().etag.clone(),
        };
        let output = AzureOutput::new(
            client,
            job,
            destination.clone(),
            source.pinned().len,
            self.tuning,
            pinned,
        );
        Ok(Box::new(output))
    }

    async fn output_marker(&self, destination: &BlobPath) -> StorageResult<Option<OutputMarker>> {
        let client = self
            .service
            .blob_client(destination.container(), destination.blob());
        let response = match client.get_properties(None).await {
            Ok(response) => response,
            Err(e) if error::status(&e) == Some(404) => return Ok(None),
            Err(e) => {
                let what = destination.to_string();
                return Err(error::map("read the metadata of", &what, &e));
            }
        };

        let entries = response.metadata().map_err(|_| {
            StorageError::Failed(format!("the metadata of {destination} could not be read"))
        })?;
        metadata::marker_from_metadata(&entries).map_err(|reason| {
            StorageError::Failed(format!(
                "the output marker on {destination} is damaged: {reason}"
            ))
        })
    }
}

/// A source blob pinned at one ETag.
struct AzureSource {
    service: Arc<BlobServiceClient>,
    path: BlobPath,
    pinned: BlobProperties,
}

#[async_trait]
impl SourceReader for AzureSource {
    fn path(&self) -> &BlobPath {
        &self.path
    }

    fn pinned(&self) -> &BlobProperties {
        &self.pinned
    }

    /// One ranged GET with `If-Match` on the pinned ETag: 412 means the blob was written since,
    /// and 404 that it (or its container) was deleted since.
    async fn read_range(&self, offset: u64, len: usize) -> StorageResult<Bytes> {
        let Some(size) = NonZeroUsize::new(len) else {
            return Ok(Bytes::new());
        };
        let end = offset
            .checked_add(len as u64)
            .filter(|&end| end <= self.pinned.len);
        let Some(end) = end else {
            return Err(StorageError::Failed(format!(
                "a read of {len} bytes at {offset} is beyond the end of {} ({} bytes)",
                self.path, self.pinned.len
            )));
        };

        let client = self
            .service
            .blob_client(self.path.container(), self.path.blob());
        let options = BlobClientDownloadOptions {
            range: Some((offset..end).into()),
            if_match: Some(Etag::from(self.pinned.etag.0.as_str())),
            parallel: Some(NonZeroUsize::MIN),
            partition_size: Some(size),
            ..Default::default()
        };
        let mut buffer = vec![0; len];
        match client.download_into(&mut buffer, Some(options)).await {
            Ok(result) if result.len == len => Ok(Bytes::from(buffer)),
            Ok(result) => Err(StorageError::Failed(format!(
                "a read of {len} bytes at {offset} of {} returned {} bytes",
                self.path, result.len
            ))),
            Err(e) if matches!(error::status(&e), Some(404 | 412)) => {
                Err(StorageError::SourceChanged(self.path.clone()))
            }
            Err(e) => Err(error::map("read", &self.path.to_string(), &e)),
        }
    }
}
