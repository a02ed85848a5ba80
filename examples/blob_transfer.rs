//! The reference that `scripts/bench` holds blob mode to on Azurite: a plain download and upload
//! of a blob with the official SDK, and the few blob chores the bench needs around it.
//!
//! `copy SOURCE DESTINATION` is the least a seal on Azure can cost while the service does not
//! copy on the server side: every byte of the source comes down once and goes up once. It is a
//! fair measure of pdf-seal's job because it moves the bytes the way the job does
//! (`src/storage/source.rs`, `src/storage/azure/output.rs`): ranged downloads of 8 MiB, three
//! ahead of the consumer, each passed on as an 8 MiB block staged with at most three uploads in
//! flight, downloads and uploads overlapping, then one Put Block List; the same SDK, the same
//! HTTP stack and a runtime of two worker threads, as the job's. What it leaves out is what a
//! seal adds: the ETag condition on each read, the hash of the document, the reads of its tail,
//! the signature, and the job's record and queue item.
//!
//! ```text
//! blob_transfer sas                     prints an account SAS, valid for a day
//! blob_transfer --endpoint URL create CONTAINER
//! blob_transfer --endpoint URL put FILE CONTAINER/BLOB
//! blob_transfer --endpoint URL copy CONTAINER/BLOB CONTAINER/BLOB
//! blob_transfer --endpoint URL get CONTAINER/BLOB FILE
//! ```
//!
//! The endpoint is Azurite's Blob service with its account,
//! `http://127.0.0.1:PORT/devstoreaccount1`. Every request carries an account SAS of the
//! development account, signed by the tests' own code (`tests/support/account_sas.rs`).

#[path = "../tests/support/account_sas.rs"]
mod account_sas;

use std::collections::VecDeque;
use std::num::NonZeroUsize;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{Context as _, anyhow, bail};
use azure_core::http::{RequestContent, Url};
use azure_storage_blob::models::{
    BlobClientDownloadOptions, BlobClientGetPropertiesResultHeaders, BlockLookupList,
};
use azure_storage_blob::{BlobClient, BlobServiceClient, BlockBlobClient};
use bytes::Bytes;
use clap::{Parser, Subcommand};
use pdf_seal::storage::azure::OutputTuning;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::task::{JoinHandle, JoinSet};

/// The ranges the job reads the source in, and how many it reads ahead (`storage::source`'s
/// default layout).
const RANGE_BYTES: usize = 8 * 1024 * 1024;
const RANGES_AHEAD: usize = 3;

#[derive(Parser)]
#[command(about = "The bench's reference transfer and blob chores on Azurite")]
struct Args {
    /// Azurite's Blob service and account, `http://127.0.0.1:PORT/devstoreaccount1`.
    #[arg(long, global = true)]
    endpoint: Option<Url>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Prints an account SAS for the Blob and Queue services, valid for a day.
    Sas,
    #[command(flatten)]
    Blob(BlobCommand),
}

/// The commands that talk to the Blob service.
#[derive(Subcommand)]
enum BlobCommand {
    /// Creates a container.
    Create { container: String },
    /// Uploads a file as a block blob.
    Put { file: PathBuf, blob: String },
    /// Downloads a blob and uploads it to another: the reference.
    Copy { source: String, destination: String },
    /// Downloads a blob to a file.
    Get { blob: String, file: PathBuf },
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    match args.command {
        Command::Sas => println!("{}", account_sas::account_sas()),
        Command::Blob(command) => {
            let endpoint = args.endpoint.context("--endpoint is needed")?;
            run(&endpoint, command).await?;
        }
    }
    Ok(())
}

async fn run(endpoint: &Url, command: BlobCommand) -> anyhow::Result<()> {
    let service = service(endpoint)?;
    match command {
        BlobCommand::Create { container } => {
            let created = service.blob_container_client(&container).create(None).await;
            created.with_context(|| format!("creating the container {container}"))?;
            Ok(())
        }
        BlobCommand::Put { file, blob } => put(&file, blob_client(&service, &blob)?).await,
        BlobCommand::Copy {
            source,
            destination,
        } => {
            let source = blob_client(&service, &source)?;
            copy(source, blob_client(&service, &destination)?).await
        }
        BlobCommand::Get { blob, file } => get(blob_client(&service, &blob)?, &file).await,
    }
}

/// Uploads `file` to `blob`, a block at a time.
async fn put(file: &Path, blob: BlobClient) -> anyhow::Result<()> {
    let mut input = tokio::fs::File::open(file)
        .await
        .with_context(|| format!("opening {}", file.display()))?;
    let mut output = Blocks::new(blob.block_blob_client());
    loop {
        let mut block = Vec::with_capacity(output.tuning.block_bytes);
        let limit = output.tuning.block_bytes as u64;
        (&mut input).take(limit).read_to_end(&mut block).await?;
        if block.is_empty() {
            break;
        }
        output.stage(Bytes::from(block)).await?;
    }
    output.commit().await
}

/// The reference: downloads `source` and uploads it to `destination`, then checks that the
/// copy has the source's length.
async fn copy(source: BlobClient, destination: BlobClient) -> anyhow::Result<()> {
    let mut input = Ranges::open(source).await?;
    let mut output = Blocks::new(destination.block_blob_client());
    while let Some(range) = input.next().await? {
        output.stage(range).await?;
    }
    output.commit().await?;

    let copied = Ranges::open(destination).await?.len;
    if copied != input.len {
        bail!("the copy has {copied} bytes, the source {}", input.len);
    }
    Ok(())
}

/// Downloads `blob` to `file`.
async fn get(blob: BlobClient, file: &Path) -> anyhow::Result<()> {
    let mut input = Ranges::open(blob).await?;
    let mut output = tokio::fs::File::create(file)
        .await
        .with_context(|| format!("creating {}", file.display()))?;
    while let Some(range) = input.next().await? {
        output.write_all(&range).await?;
    }
    output.flush().await?;
    Ok(())
}

/// A client of the Blob service at `endpoint`, with the SAS in every request.
fn service(endpoint: &Url) -> anyhow::Result<BlobServiceClient> {
    let mut url = endpoint.clone();
    url.set_query(Some(&account_sas::account_sas()));
    Ok(BlobServiceClient::new(url, None, None)?)
}

/// `CONTAINER/BLOB` split at its first slash.
fn split(path: &str) -> anyhow::Result<(&str, &str)> {
    path.split_once('/')
        .filter(|(container, blob)| !container.is_empty() && !blob.is_empty())
        .ok_or_else(|| anyhow!("{path:?} is not CONTAINER/BLOB"))
}

fn blob_client(service: &BlobServiceClient, path: &str) -> anyhow::Result<BlobClient> {
    let (container, blob) = split(path)?;
    Ok(service.blob_client(container, blob))
}

/// A blob read in order, in ranges of [`RANGE_BYTES`], with [`RANGES_AHEAD`] of them in flight
/// as tasks of their own, so that they go on while the caller waits for its uploads.
struct Ranges {
    client: Arc<BlobClient>,
    len: u64,
    next: u64,
    in_flight: VecDeque<JoinHandle<anyhow::Result<Bytes>>>,
}

impl Ranges {
    async fn open(client: BlobClient) -> anyhow::Result<Self> {
        let properties = client.get_properties(None).await?;
        let len = properties
            .content_length()?
            .context("the blob's properties have no length")?;
        Ok(Self {
            client: Arc::new(client),
            len,
            next: 0,
            in_flight: VecDeque::new(),
        })
    }

    /// The next range, or `None` at the end of the blob.
    async fn next(&mut self) -> anyhow::Result<Option<Bytes>> {
        while self.next < self.len && self.in_flight.len() < RANGES_AHEAD {
            let (offset, len) = (self.next, (self.len - self.next).min(RANGE_BYTES as u64));
            let client = self.client.clone();
            self.in_flight
                .push_back(tokio::spawn(read_range(client, offset, len as usize)));
            self.next += len;
        }
        let Some(task) = self.in_flight.pop_front() else {
            return Ok(None);
        };
        task.await?.map(Some)
    }
}

/// One ranged GET into a buffer of its own, as the job's source reader makes it.
async fn read_range(client: Arc<BlobClient>, offset: u64, len: usize) -> anyhow::Result<Bytes> {
    let size = NonZeroUsize::new(len).context("an empty range")?;
    let options = BlobClientDownloadOptions {
        range: Some((offset..offset + len as u64).into()),
        parallel: Some(NonZeroUsize::MIN),
        partition_size: Some(size),
        ..Default::default()
    };
    let mut buffer = vec![0; len];
    let read = client.download_into(&mut buffer, Some(options)).await?;
    if read.len != len {
        bail!("a range of {len} bytes at {offset} gave {} bytes", read.len);
    }
    Ok(Bytes::from(buffer))
}

/// A block blob staged block by block, with the job's block size and uploads in flight, and
/// committed at once.
struct Blocks {
    client: Arc<BlockBlobClient>,
    tuning: OutputTuning,
    ids: Vec<Vec<u8>>,
    uploads: JoinSet<azure_core::Result<()>>,
}

impl Blocks {
    fn new(client: BlockBlobClient) -> Self {
        Self {
            client: Arc::new(client),
            tuning: OutputTuning::default(),
            ids: Vec::new(),
            uploads: JoinSet::new(),
        }
    }

    /// Starts the upload of `block` once fewer than the allowed uploads are running.
    async fn stage(&mut self, block: Bytes) -> anyhow::Result<()> {
        while self.uploads.len() >= self.tuning.uploads_in_flight {
            self.finish_one().await?;
        }
        let id = format!("bench-{:06}", self.ids.len()).into_bytes();
        self.ids.push(id.clone());
        let client = self.client.clone();
        self.uploads.spawn(async move {
            let len = block.len() as u64;
            client.stage_block(&id, len, block.into(), None).await?;
            Ok(())
        });
        Ok(())
    }

    async fn finish_one(&mut self) -> anyhow::Result<()> {
        match self.uploads.join_next().await {
            None => Ok(()),
            Some(joined) => Ok(joined??),
        }
    }

    /// Waits for the uploads, then makes the blob of the staged blocks, replacing any blob of
    /// that name.
    async fn commit(mut self) -> anyhow::Result<()> {
        while !self.uploads.is_empty() {
            self.finish_one().await?;
        }
        let list = BlockLookupList {
            latest: Some(self.ids),
            ..Default::default()
        };
        self.client
            .commit_block_list(RequestContent::try_from(list)?, None)
            .await?;
        Ok(())
    }
}
