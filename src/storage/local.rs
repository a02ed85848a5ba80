//! The local default: a data directory and an in-process queue, for running pdf-seal without
//! Azure.
//!
//! ```text
//! DATA/lock             held with flock(LOCK_EX) while the storage is open
//! DATA/blobs/C/B        blob B of container C; a container exists iff its directory does
//! DATA/jobs/ID.json     the record of job ID
//! DATA/tmp/             outputs and records being written; emptied at open
//! ```
//!
//! One process owns the directory at a time: [`open`] takes the lock or refuses, which is what
//! makes the job store's compare-and-swap safe with an in-process mutex and lets [`open`] clear
//! `tmp/` without pulling a file from under another writer. The queue lives in memory; at open
//! it gets one item for each job that is queued or running, so the jobs of a process that died
//! are taken up again.
//!
//! Directories that [`open`] creates get mode 0700, files 0600: the documents and records are
//! the data of whoever runs the service, and nobody else's to read.

mod blobs;
mod files;
mod jobs;
mod output;
mod queue;

use std::fs::{self, DirBuilder, File, OpenOptions};
use std::io;
use std::os::fd::OwnedFd;
use std::os::unix::fs::{DirBuilderExt as _, OpenOptionsExt as _};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustix::fs::FlockOperation;

pub use blobs::LocalBlobs;
pub use jobs::LocalJobs;
pub use queue::LocalQueue;

use super::{Storage, StorageError, StorageResult};

/// Why the data directory could not be opened.
#[derive(Debug, thiserror::Error)]
pub enum OpenError {
    /// Another process holds the directory's lock.
    #[error(
        "the data directory {} is in use by another pdf-seal process; \
         stop it or choose another directory (PDF_SEAL_DATA_DIR)",
        .0.display()
    )]
    Locked(PathBuf),
    /// A file-system operation failed.
    #[error("cannot open the data directory {} (PDF_SEAL_DATA_DIR): {what}: {source}", .dir.display())]
    Io {
        dir: PathBuf,
        what: &'static str,
        source: io::Error,
    },
    /// The job records could not be listed to rebuild the queue.
    #[error("cannot rebuild the queue from the job records in {}: {source}", .dir.display())]
    Jobs { dir: PathBuf, source: StorageError },
}

/// Opens (creating it when needed) the data directory `data_dir` as the three parts of a
/// storage backend.
///
/// It blocks on the file system: call it before the service starts, or from a blocking thread.
/// It takes the directory's lock, removes what killed processes left in `tmp/`, and fills the
/// queue with the jobs that are not finished.
pub fn open(data_dir: &Path) -> Result<Storage, OpenError> {
    let fail = |what| {
        let dir = data_dir.to_path_buf();
        move |source| OpenError::Io { dir, what, source }
    };
    create_private_dir(data_dir).map_err(fail("creating it"))?;
    let lock = lock(data_dir)?;
    for sub in ["blobs", "jobs", "tmp"] {
        create_private_dir(&data_dir.join(sub)).map_err(fail("creating a subdirectory"))?;
    }
    let removed = empty_dir(&data_dir.join("tmp")).map_err(fail("emptying tmp/"))?;
    if removed > 0 {
        tracing::info!(
            data_dir = %data_dir.display(),
            removed,
            "removed partial files that a stopped process left in tmp/"
        );
    }

    let dir = Arc::new(DataDir::open(data_dir, lock).map_err(fail("opening a subdirectory"))?);
    let jobs = LocalJobs::new(dir.clone());
    let queue = LocalQueue::new(dir.clone());
    let unfinished = jobs.unfinished_now().map_err(|source| OpenError::Jobs {
        dir: data_dir.to_path_buf(),
        source,
    })?;
    for id in &unfinished {
        queue.push(id.clone());
    }
    tracing::info!(
        data_dir = %data_dir.display(),
        jobs_requeued = unfinished.len(),
        "local storage opened"
    );

    Ok(Storage {
        blobs: Arc::new(LocalBlobs::new(dir)),
        jobs: Arc::new(jobs),
        queue: Arc::new(queue),
        exclusive: true,
    })
}

/// The open data directory. Every part of the storage holds it, so the lock is released only
/// when the last of them is dropped.
struct DataDir {
    /// The directory as configured, for the operator's logs (never for clients' messages).
    root: PathBuf,
    blobs: OwnedFd,
    jobs: OwnedFd,
    tmp: OwnedFd,
    /// Holds the flock.
    _lock: File,
}

impl DataDir {
    fn open(root: &Path, lock: File) -> io::Result<Self> {
        Ok(Self {
            root: root.to_path_buf(),
            blobs: files::open_dir_path(&root.join("blobs"))?,
            jobs: files::open_dir_path(&root.join("jobs"))?,
            tmp: files::open_dir_path(&root.join("tmp"))?,
            _lock: lock,
        })
    }

    fn tmp_path(&self) -> PathBuf {
        self.root.join("tmp")
    }

    fn jobs_path(&self) -> PathBuf {
        self.root.join("jobs")
    }
}

/// Creates `dir` (and its missing parents) with mode 0700; an existing one is left as it is.
fn create_private_dir(dir: &Path) -> io::Result<()> {
    DirBuilder::new().recursive(true).mode(0o700).create(dir)
}

/// Takes the exclusive lock on `DATA/lock`, without waiting.
fn lock(data_dir: &Path) -> Result<File, OpenError> {
    let fail = |what| {
        let dir = data_dir.to_path_buf();
        move |source| OpenError::Io { dir, what, source }
    };
    let file = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .mode(0o600)
        .open(data_dir.join("lock"))
        .map_err(fail("opening its lock file"))?;
    match rustix::fs::flock(&file, FlockOperation::NonBlockingLockExclusive) {
        Ok(()) => Ok(file),
        Err(rustix::io::Errno::WOULDBLOCK) => Err(OpenError::Locked(data_dir.to_path_buf())),
        Err(error) => Err(fail("locking it")(error.into())),
    }
}

/// Removes everything in `dir`; returns how many entries there were.
fn empty_dir(dir: &Path) -> io::Result<usize> {
    let mut removed = 0;
    for entry in fs::read_dir(dir)? {
        let entry = entry?;
        if entry.file_type()?.is_dir() {
            fs::remove_dir_all(entry.path())?;
        } else {
            fs::remove_file(entry.path())?;
        }
        removed += 1;
    }
    Ok(removed)
}

/// Runs blocking file-system work on tokio's blocking pool.
async fn blocking<T, F>(work: F) -> StorageResult<T>
where
    F: FnOnce() -> StorageResult<T> + Send + 'static,
    T: Send + 'static,
{
    tokio::task::spawn_blocking(work)
        .await
        .unwrap_or_else(|error| {
            Err(StorageError::Failed(format!(
                "a file-system task of the local store did not finish: {error}"
            )))
        })
}
