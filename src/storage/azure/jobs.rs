//! Job records as JSON blobs `jobs/<id>.json` in the jobs container, replaced by
//! compare-and-swap on their ETag.

use async_trait::async_trait;
use azure_core::http::{Etag, RequestContent};
use azure_storage_blob::models::{
    BlobContainerClientListBlobsOptions, BlockBlobClientUploadOptions, ListBlobsIncludeItem,
};
use azure_storage_blob::{BlobClient, BlobContainerClient};
use futures_util::TryStreamExt as _;

use super::{error, metadata};
use crate::jobs::{JobId, JobRecord};
use crate::storage::{Created, ETag, JobStore, StorageError, StorageResult};

/// Where the records are, within the container.
const PREFIX: &str = "jobs/";

/// [`JobStore`] on a container of the storage account.
pub struct AzureJobs {
    container: BlobContainerClient,
    container_name: String,
}

impl AzureJobs {
    pub(super) fn new(container: BlobContainerClient, container_name: String) -> Self {
        Self {
            container,
            container_name,
        }
    }

    fn blob(&self, id: &JobId) -> BlobClient {
        self.container.blob_client(&blob_name(id))
    }

    fn what(&self, id: &JobId) -> String {
        format!("{}/{}", self.container_name, blob_name(id))
    }

    /// Writes `record` on the condition in `options`; `Ok(None)` when the condition failed.
    async fn put(
        &self,
        record: &JobRecord,
        mut options: BlockBlobClientUploadOptions<'_>,
    ) -> StorageResult<Option<ETag>> {
        let json = serde_json::to_vec(record).map_err(|e| {
            StorageError::Failed(format!(
                "the record of job {} does not serialize: {e}",
                record.id
            ))
        })?;
        options.blob_content_type = Some("application/json".to_owned());
        options.metadata = Some(metadata::record_to_metadata(record));

        let upload = self
            .blob(&record.id)
            .upload(RequestContent::from(json), Some(options))
            .await;
        match upload {
            Ok(result) => {
                let etag = result.etag.ok_or_else(|| {
                    StorageError::Failed(format!(
                        "{} was written without an ETag",
                        self.what(&record.id)
                    ))
                })?;
                Ok(Some(ETag(etag.to_string())))
            }
            Err(e) if matches!(error::status(&e), Some(404 | 409 | 412)) => {
                // 404: the container went away; say so rather than losing the write.
                if error::code(&e) == Some("ContainerNotFound") {
                    return Err(error::map("write", &self.what(&record.id), &e));
                }
                Ok(None)
            }
            Err(e) => Err(error::map("write", &self.what(&record.id), &e)),
        }
    }
}

/// `jobs/<id>.json`.
fn blob_name(id: &JobId) -> String {
    format!("{PREFIX}{id}.json")
}

#[async_trait]
impl JobStore for AzureJobs {
    /// Put Blob with `If-None-Match: *`; when a record is there already, it is read and
    /// returned.
    async fn create(&self, record: &JobRecord) -> StorageResult<Created> {
        let options = BlockBlobClientUploadOptions {
            if_none_match: Some(Etag::from("*")),
            ..Default::default()
        };
        if let Some(etag) = self.put(record, options).await? {
            return Ok(Created::New(etag));
        }

        match self.get(&record.id).await? {
            Some((existing, etag)) => Ok(Created::Exists(Box::new(existing), etag)),
            None => Err(StorageError::Transient(format!(
                "{} existed when it was created, and was gone when it was read",
                self.what(&record.id)
            ))),
        }
    }

    async fn get(&self, id: &JobId) -> StorageResult<Option<(JobRecord, ETag)>> {
        let what = self.what(id);
        let download = match self.blob(id).download(None).await {
            Ok(download) => download,
            Err(e) if error::status(&e) == Some(404) => return Ok(None),
            Err(e) => return Err(error::map("read", &what, &e)),
        };

        let etag = download
            .properties
            .etag
            .ok_or_else(|| StorageError::Failed(format!("{what} was read without an ETag")))?;
        let body = download
            .body
            .collect()
            .await
            .map_err(|e| error::map("read", &what, &e))?;
        let record: JobRecord = serde_json::from_slice(&body)
            .map_err(|e| StorageError::Failed(format!("{what} is not a valid job record: {e}")))?;
        if record.id != *id {
            return Err(StorageError::Failed(format!(
                "{what} holds the record of another job, {}",
                record.id
            )));
        }
        Ok(Some((record, ETag(etag.to_string()))))
    }

    /// Put Blob with `If-Match`.
    async fn replace(&self, record: &JobRecord, etag: &ETag) -> StorageResult<Option<ETag>> {
        let options = BlockBlobClientUploadOptions {
            if_match: Some(Etag::from(etag.0.as_str())),
            ..Default::default()
        };
        self.put(record, options).await
    }

    /// Lists `jobs/` with metadata, which holds each record's status and creation time; a
    /// record without them (written by hand, say) is read.
    async fn unfinished(&self) -> StorageResult<Vec<JobId>> {
        let listing = format!("the job records in {}", self.container_name);
        let options = BlobContainerClientListBlobsOptions {
            prefix: Some(PREFIX.to_owned()),
            include: Some(vec![ListBlobsIncludeItem::Metadata]),
            ..Default::default()
        };
        let mut items = self
            .container
            .list_blobs(Some(options))
            .map_err(|e| error::map("list", &listing, &e))?;

        let mut unfinished = Vec::new();
        while let Some(item) = items
            .try_next()
            .await
            .map_err(|e| error::map("list", &listing, &e))?
        {
            let Some(id) = item.name.as_deref().and_then(id_of) else {
                continue;
            };
            let values = item.metadata.and_then(|m| m.values).unwrap_or_default();
            let summary = match metadata::record_summary(&values) {
                Some(summary) => Some(summary),
                None => self.get(&id).await?.map(|(record, _)| {
                    let created_ms = record.created_at.unix_timestamp_nanos() / 1_000_000;
                    (!record.status.is_final(), created_ms)
                }),
            };
            if let Some((true, created_ms)) = summary {
                unfinished.push((created_ms, id));
            }
        }

        unfinished.sort();
        Ok(unfinished.into_iter().map(|(_, id)| id).collect())
    }
}

/// The job id in a record's blob name, or `None` for any other blob.
fn id_of(name: &str) -> Option<JobId> {
    let id = name.strip_prefix(PREFIX)?.strip_suffix(".json")?;
    JobId::parse(id)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn record_names_carry_the_id_and_only_those_parse_back() {
        let id = JobId::random();

        assert_eq!(id_of(&blob_name(&id)), Some(id.clone()));
        assert_eq!(id_of(&format!("jobs/{id}.json.tmp")), None);
        assert_eq!(id_of(&format!("other/{id}.json")), None);
        assert_eq!(id_of("jobs/not-an-id.json"), None);
    }
}
