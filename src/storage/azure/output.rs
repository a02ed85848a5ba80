//! The assembly of one output blob from staged blocks, committed at once.
//!
//! Put Block stores a block under an id without making anything visible; Put Block List then
//! makes the blob, its content type and its metadata appear in one step. Blocks that are never
//! committed are removed by the service after a week, so an output that is given up costs
//! nothing to clean.

use std::sync::Arc;

use async_trait::async_trait;
use azure_core::http::{Etag, RequestContent};
use azure_storage_blob::models::BlobClientGetPropertiesResultHeaders as _;
use azure_storage_blob::models::{BlockBlobClientCommitBlockListOptions, BlockLookupList};
use azure_storage_blob::{BlobClient, BlockBlobClient};
use bytes::{Bytes, BytesMut};
use tokio::task::JoinSet;

use super::{error, metadata};
use crate::jobs::JobId;
use crate::storage::{BlobPath, ETag, OutputMarker, OutputWriter, StorageError, StorageResult};

/// The most blocks a committed block blob may have.
const MAX_BLOCKS: usize = 50_000;

/// How an output is staged.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct OutputTuning {
    /// The size of each staged block of the source, in bytes; 4 MiB by default.
    pub block_bytes: usize,
    /// How many blocks may be uploading at once; 3 by default. The writer holds at most this
    /// many blocks plus one in memory.
    pub uploads_in_flight: usize,
}

impl Default for OutputTuning {
    fn default() -> Self {
        Self {
            block_bytes: 4 * 1024 * 1024,
            uploads_in_flight: 3,
        }
    }
}

/// The block size for a source of `source_len` bytes: `preferred`, or larger when the source
/// would otherwise need more blocks than a blob may have (beyond about 190 GiB at 4 MiB), so
/// that any blob Azure can hold can be sealed. The source and the increment's block stay
/// within [`MAX_BLOCKS`].
fn block_size_for(source_len: u64, preferred: usize) -> usize {
    let fitting = source_len.div_ceil(MAX_BLOCKS as u64 - 1);
    let fitting = usize::try_from(fitting).unwrap_or(usize::MAX);
    preferred.max(fitting).max(1)
}

/// An [`OutputWriter`] that stages the source in blocks and commits the list with the
/// increment as the last block.
pub(super) struct AzureOutput {
    client: Arc<BlockBlobClient>,
    path: BlobPath,
    tuning: OutputTuning,
    /// The source's length, as pinned; the writer checks that it got exactly that.
    source_len: u64,
    source_written: u64,
    /// Random, so that two writers of one destination (a job taken up again while its first
    /// worker still runs) never mix their blocks.
    block_prefix: String,
    block_ids: Vec<Vec<u8>>,
    /// Source bytes not yet staged: less than one block.
    pending: BytesMut,
    uploads: JoinSet<StorageResult<()>>,
    /// The source, to check at commit that it is still the version that was read.
    source: PinnedSource,
}

/// A source blob and the version a job pinned.
pub(super) struct PinnedSource {
    pub client: BlobClient,
    pub path: BlobPath,
    pub etag: ETag,
}

impl PinnedSource {
    /// Fails with [`StorageError::SourceChanged`] when the source was written or deleted since
    /// it was pinned. Azure has no condition on another blob in Put Block List, so this check
    /// comes just before the commit; every read was pinned already.
    async fn check(&self) -> StorageResult<()> {
        match self.client.get_properties(None).await {
            Ok(response) => match response.etag() {
                Ok(Some(etag)) if etag.to_string() == self.etag.0 => Ok(()),
                _ => Err(StorageError::SourceChanged(self.path.clone())),
            },
            Err(e) if error::status(&e) == Some(404) => {
                Err(StorageError::SourceChanged(self.path.clone()))
            }
            Err(e) => Err(error::map(
                "read the properties of",
                &self.path.to_string(),
                &e,
            )),
        }
    }
}

impl AzureOutput {
    pub(super) fn new(
        client: BlockBlobClient,
        job: &JobId,
        path: BlobPath,
        source_len: u64,
        tuning: OutputTuning,
        source: PinnedSource,
    ) -> Self {
        let mut random = [0u8; 8];
        getrandom::fill(&mut random).expect("the operating system's random source failed");
        // The job id's first characters help when someone lists uncommitted blocks.
        let block_prefix = format!("{}-{}-", &job.as_str()[..8], hex::encode(random));
        Self {
            client: Arc::new(client),
            path,
            tuning: OutputTuning {
                block_bytes: block_size_for(source_len, tuning.block_bytes),
                uploads_in_flight: tuning.uploads_in_flight.max(1),
            },
            source_len,
            source_written: 0,
            block_prefix,
            block_ids: Vec::new(),
            pending: BytesMut::new(),
            uploads: JoinSet::new(),
            source,
        }
    }

    /// Starts the upload of `block` as the next block, after waiting for a free place.
    async fn stage(&mut self, block: Bytes) -> StorageResult<()> {
        while self.uploads.len() >= self.tuning.uploads_in_flight {
            self.finish_one().await?;
        }
        if self.block_ids.len() >= MAX_BLOCKS {
            return Err(StorageError::Failed(format!(
                "the output {} would need more than {MAX_BLOCKS} blocks",
                self.path
            )));
        }

        // Every id has the same length, as Azure requires of the blocks of one blob.
        let id = format!("{}{:06}", self.block_prefix, self.block_ids.len()).into_bytes();
        self.block_ids.push(id.clone());
        let client = self.client.clone();
        let path = self.path.clone();
        self.uploads.spawn(async move {
            let len = block.len() as u64;
            match client.stage_block(&id, len, block.into(), None).await {
                Ok(_) => Ok(()),
                Err(e) if error::status(&e) == Some(404) => Err(
                    StorageError::DestinationContainerNotFound(path.container().to_owned()),
                ),
                Err(e) => Err(error::map("stage a block of", &path.to_string(), &e)),
            }
        });
        Ok(())
    }

    /// Waits for one upload to end; its failure is the writer's.
    async fn finish_one(&mut self) -> StorageResult<()> {
        match self.uploads.join_next().await {
            None | Some(Ok(Ok(()))) => Ok(()),
            Some(Ok(Err(error))) => Err(error),
            Some(Err(stopped)) => Err(StorageError::Failed(format!(
                "a block upload of {} stopped: {stopped}",
                self.path
            ))),
        }
    }

    async fn finish_all(&mut self) -> StorageResult<()> {
        while !self.uploads.is_empty() {
            self.finish_one().await?;
        }
        Ok(())
    }
}

#[async_trait]
impl OutputWriter for AzureOutput {
    fn needs_source_bytes(&self) -> bool {
        true
    }

    async fn write_source(&mut self, mut chunk: Bytes) -> StorageResult<()> {
        let total = self.source_written + chunk.len() as u64;
        if total > self.source_len {
            return Err(StorageError::Failed(format!(
                "the output {} was given {total} source bytes, more than the {} pinned",
                self.path, self.source_len
            )));
        }
        self.source_written = total;

        let block_bytes = self.tuning.block_bytes;
        while !chunk.is_empty() {
            // Whole blocks of a large chunk go as they are, without a copy.
            if self.pending.is_empty() && chunk.len() >= block_bytes {
                let block = chunk.split_to(block_bytes);
                self.stage(block).await?;
                continue;
            }
            let take = (block_bytes - self.pending.len()).min(chunk.len());
            self.pending.extend_from_slice(&chunk.split_to(take));
            if self.pending.len() == block_bytes {
                let block = self.pending.split().freeze();
                self.stage(block).await?;
            }
        }
        Ok(())
    }

    async fn commit(
        mut self: Box<Self>,
        increment: Bytes,
        marker: &OutputMarker,
        overwrite: bool,
    ) -> StorageResult<()> {
        if self.source_written != self.source_len {
            return Err(StorageError::Failed(format!(
                "the output {} got {} of the source's {} bytes",
                self.path, self.source_written, self.source_len
            )));
        }
        if !self.pending.is_empty() {
            let rest = self.pending.split().freeze();
            self.stage(rest).await?;
        }
        if !increment.is_empty() {
            self.stage(increment).await?;
        }
        self.finish_all().await?;
        self.source.check().await?;

        let list = BlockLookupList {
            latest: Some(std::mem::take(&mut self.block_ids)),
            ..Default::default()
        };
        let list = RequestContent::try_from(list)
            .map_err(|e| error::map("write the block list of", &self.path.to_string(), &e))?;
        let options = BlockBlobClientCommitBlockListOptions {
            blob_content_type: Some("application/pdf".to_owned()),
            metadata: Some(metadata::marker_to_metadata(marker)),
            if_none_match: (!overwrite).then(|| Etag::from("*")),
            ..Default::default()
        };
        match self.client.commit_block_list(list, Some(options)).await {
            Ok(_) => Ok(()),
            Err(e) if matches!(error::code(&e), Some("InvalidBlobType" | "LeaseIdMissing")) => {
                Err(StorageError::DestinationUnusable {
                    path: self.path.clone(),
                    reason: match error::code(&e) {
                        Some("InvalidBlobType") => "it is an append or page blob".to_owned(),
                        _ => "it is leased".to_owned(),
                    },
                })
            }
            Err(e) if !overwrite && matches!(error::status(&e), Some(409 | 412)) => {
                Err(StorageError::DestinationExists(self.path.clone()))
            }
            Err(e) if error::status(&e) == Some(404) => Err(
                StorageError::DestinationContainerNotFound(self.path.container().to_owned()),
            ),
            Err(e) => Err(error::map("commit the output", &self.path.to_string(), &e)),
        }
    }

    async fn abort(mut self: Box<Self>) {
        // The staged blocks stay uncommitted until the service removes them.
        self.uploads.abort_all();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blocks_grow_only_for_sources_beyond_the_block_limit() {
        let mib = 1024 * 1024;
        assert_eq!(block_size_for(1 << 30, 4 * mib), 4 * mib);
        let huge = 400 * 1024 * mib as u64;
        let size = block_size_for(huge, 4 * mib);
        assert!(size > 4 * mib);
        assert!(huge.div_ceil(size as u64) < MAX_BLOCKS as u64);
    }
}
