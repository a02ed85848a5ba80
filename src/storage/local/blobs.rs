//! Blobs as files: container `c`, blob `b` is `DATA/blobs/c/b`.

use std::fs::File;
use std::os::fd::AsFd as _;
use std::os::unix::fs::FileExt as _;
use std::sync::Arc;

use async_trait::async_trait;
use bytes::Bytes;

use super::output::LocalOutput;
use super::{DataDir, blocking, files};
use crate::jobs::JobId;
use crate::storage::{
    BlobPath, BlobProperties, BlobStore, OutputMarker, OutputWriter, SourceReader, StorageError,
    StorageResult,
};

/// The local [`BlobStore`]. Only regular files are blobs; a symbolic link anywhere in a path
/// makes the blob absent.
pub struct LocalBlobs {
    dir: Arc<DataDir>,
}

impl LocalBlobs {
    pub(super) fn new(dir: Arc<DataDir>) -> Self {
        Self { dir }
    }
}

#[async_trait]
impl BlobStore for LocalBlobs {
    async fn properties(&self, blob: &BlobPath) -> StorageResult<Option<BlobProperties>> {
        let dir = self.dir.clone();
        let blob = blob.clone();
        blocking(move || {
            let stat = files::stat_blob(dir.blobs.as_fd(), &blob);
            let stat = stat.map_err(|error| failed(&blob, "reading the properties of", error))?;
            Ok(stat.as_ref().map(files::properties))
        })
        .await
    }

    async fn open_source(
        &self,
        blob: &BlobPath,
        pinned: &BlobProperties,
    ) -> StorageResult<Arc<dyn SourceReader>> {
        let source = Pinned::open(self.dir.clone(), blob.clone(), pinned.clone()).await?;
        Ok(Arc::new(LocalSource(source)))
    }

    async fn begin_output(
        &self,
        job: &JobId,
        destination: &BlobPath,
        source: Arc<dyn SourceReader>,
    ) -> StorageResult<Box<dyn OutputWriter>> {
        // A handle of our own on the same version: the output is copied from it at commit.
        let dir = self.dir.clone();
        let pinned = source.pinned().clone();
        let source = Pinned::open(dir.clone(), source.path().clone(), pinned).await?;
        let output = LocalOutput::begin(dir, job.clone(), destination.clone(), source).await?;
        Ok(Box::new(output))
    }

    async fn output_marker(&self, destination: &BlobPath) -> StorageResult<Option<OutputMarker>> {
        let dir = self.dir.clone();
        let destination = destination.clone();
        blocking(move || super::output::read_marker(&dir, &destination)).await
    }
}

/// An open handle on a blob, with the version it must still be at.
pub(super) struct Pinned {
    dir: Arc<DataDir>,
    path: BlobPath,
    pinned: BlobProperties,
    file: File,
}

impl Pinned {
    /// Opens `path` and checks that it is at the version `pinned`.
    async fn open(
        dir: Arc<DataDir>,
        path: BlobPath,
        pinned: BlobProperties,
    ) -> StorageResult<Arc<Self>> {
        blocking(move || {
            let opened = files::open_blob(dir.blobs.as_fd(), &path);
            let opened = opened.map_err(|error| failed(&path, "opening", error))?;
            let Some((file, stat)) = opened else {
                return Err(StorageError::SourceNotFound(path));
            };
            if files::properties(&stat) != pinned {
                return Err(StorageError::SourceChanged(path));
            }
            Ok(Arc::new(Self {
                dir,
                path,
                pinned,
                file,
            }))
        })
        .await
    }

    pub(super) fn path(&self) -> &BlobPath {
        &self.path
    }

    pub(super) fn pinned(&self) -> &BlobProperties {
        &self.pinned
    }

    pub(super) fn file(&self) -> &File {
        &self.file
    }

    /// Fails with [`StorageError::SourceChanged`] unless both the open file and the file at
    /// the blob's path are still at the pinned version: the first catches writes in place, the
    /// second a file renamed over the path.
    pub(super) fn check(&self) -> StorageResult<()> {
        let open = rustix::fs::fstat(&self.file).map_err(std::io::Error::from);
        let open = open.map_err(|error| failed(&self.path, "checking", error))?;
        let at_path = files::stat_blob(self.dir.blobs.as_fd(), &self.path);
        let at_path = at_path.map_err(|error| failed(&self.path, "checking", error))?;
        let unchanged = files::properties(&open) == self.pinned
            && at_path.is_some_and(|stat| files::properties(&stat) == self.pinned);
        if unchanged {
            Ok(())
        } else {
            Err(StorageError::SourceChanged(self.path.clone()))
        }
    }

    /// Reads `len` bytes at `offset`, then checks the pin so that the bytes returned are known
    /// to be of the pinned version.
    /// Fills `buf` from `offset`.
    fn read(&self, offset: u64, mut buf: Vec<u8>) -> StorageResult<Bytes> {
        let len = buf.len();
        let end = offset.checked_add(len as u64);
        if end.is_none_or(|end| end > self.pinned.len) {
            return Err(StorageError::Failed(format!(
                "a read of {len} bytes at {offset} goes beyond the end of {}",
                self.path
            )));
        }
        let read = self.file.read_exact_at(&mut buf, offset);
        self.check()?;
        read.map_err(|error| failed(&self.path, "reading", error))?;
        Ok(Bytes::from(buf))
    }
}

/// The local [`SourceReader`]: positioned reads on one open handle.
struct LocalSource(Arc<Pinned>);

#[async_trait]
impl SourceReader for LocalSource {
    fn path(&self) -> &BlobPath {
        &self.0.path
    }

    fn pinned(&self) -> &BlobProperties {
        &self.0.pinned
    }

    async fn read_range(&self, offset: u64, len: usize) -> StorageResult<Bytes> {
        // A plain pread would do on the blocking thread of a `BlobSource`, which waits here;
        // but its read-ahead runs this future as a task of the runtime, where a read of
        // megabytes must not hold up a worker thread. Hence the blocking pool.
        // The buffer is allocated here, on the caller's thread, not on one of the blocking
        // pool's many threads: glibc keeps a freed buffer in the arena of the thread that
        // allocated it, and one arena per pool thread let the peak memory creep up from job to
        // job (BENCHMARKS.md).
        let source = self.0.clone();
        let buf = vec![0; len];
        blocking(move || source.read(offset, buf)).await
    }
}

/// A failure of the file system on `blob`, named as the client knows it (never by its path
/// in the data directory).
pub(super) fn failed(blob: &BlobPath, doing: &str, error: std::io::Error) -> StorageError {
    StorageError::Failed(format!("{doing} {blob} failed: {error}"))
}
