//! The local output: a temporary file in `DATA/tmp/`, filled at commit from the pinned source
//! and renamed into place whole.

use std::fs::File;
use std::io::{self, Read as _, Seek as _, SeekFrom, Write as _};
use std::os::fd::{AsFd as _, OwnedFd};
use std::os::unix::fs::PermissionsExt as _;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use async_trait::async_trait;
use bytes::Bytes;
use rustix::fs::{Mode, XattrFlags};
use rustix::io::Errno;
use tempfile::NamedTempFile;

use super::blobs::{Pinned, failed};
use super::{DataDir, blocking, files};
use crate::jobs::JobId;
use crate::storage::{BlobPath, OutputMarker, OutputWriter, StorageError, StorageResult};

/// The extended attribute that carries the [`OutputMarker`], as JSON.
const MARKER_XATTR: &str = "user.pdf-seal.marker";

/// The largest marker read back; a real one is a few hundred bytes.
const MAX_MARKER_BYTES: usize = 64 * 1024;

/// Set once the file system refused an extended attribute, so that it is said once.
static XATTR_UNSUPPORTED: AtomicBool = AtomicBool::new(false);

/// An output being assembled; dropping it removes the temporary file.
pub(super) struct LocalOutput {
    dir: Arc<DataDir>,
    job: JobId,
    destination: BlobPath,
    source: Arc<Pinned>,
    temporary: NamedTempFile,
}

impl LocalOutput {
    /// Checks the destination's container and makes the temporary file, before anything is
    /// signed, so that an unusable destination costs no signature.
    pub(super) async fn begin(
        dir: Arc<DataDir>,
        job: JobId,
        destination: BlobPath,
        source: Arc<Pinned>,
    ) -> StorageResult<Self> {
        blocking(move || {
            container_dir(&dir, &destination)?;
            let temporary = tempfile::Builder::new()
                .prefix("output-")
                .permissions(std::fs::Permissions::from_mode(0o600))
                .tempfile_in(dir.tmp_path())
                .map_err(|error| failed(&destination, "preparing the output", error))?;
            Ok(Self {
                dir,
                job,
                destination,
                source,
                temporary,
            })
        })
        .await
    }

    /// The blocking part of [`OutputWriter::commit`].
    fn finish(self, increment: &[u8], marker: &OutputMarker, overwrite: bool) -> StorageResult<()> {
        let Self {
            dir,
            job,
            destination,
            source,
            mut temporary,
        } = self;
        let failed = |error| failed(&destination, "writing", error);

        copy_source(&source, temporary.as_file_mut())?;
        temporary.write_all(increment).map_err(failed)?;
        write_marker(temporary.as_file(), marker, &destination)?;
        temporary.as_file().sync_all().map_err(failed)?;
        source.check()?;

        let (parent, mut touched) = make_parents(&dir, &destination)?;
        place(&dir, temporary, &parent, &destination, overwrite)?;

        touched.push(parent);
        for dir in &touched {
            rustix::fs::fsync(dir).map_err(|error| failed(error.into()))?;
        }
        tracing::debug!(%job, %destination, "output committed");
        Ok(())
    }
}

#[async_trait]
impl OutputWriter for LocalOutput {
    fn needs_source_bytes(&self) -> bool {
        false
    }

    async fn write_source(&mut self, _chunk: Bytes) -> StorageResult<()> {
        Err(StorageError::Failed(
            "the local store copies the source itself; it takes no source bytes".into(),
        ))
    }

    async fn commit(
        self: Box<Self>,
        increment: Bytes,
        marker: &OutputMarker,
        overwrite: bool,
    ) -> StorageResult<()> {
        let marker = marker.clone();
        blocking(move || self.finish(&increment, &marker, overwrite)).await
    }

    async fn abort(self: Box<Self>) {
        let destination = self.destination.clone();
        let removed = blocking(move || {
            let closed = self.temporary.close();
            closed.map_err(|error| failed(&self.destination, "removing the output of", error))
        })
        .await;
        if let Err(error) = removed {
            tracing::warn!(%destination, %error, "the temporary output could not be removed");
        }
    }
}

/// Renames the finished temporary file to the destination, in `parent`.
fn place(
    dir: &DataDir,
    temporary: NamedTempFile,
    parent: &OwnedFd,
    destination: &BlobPath,
    overwrite: bool,
) -> StorageResult<()> {
    let failed = |error| failed(destination, "writing", error);
    let name = files::file_name(temporary.path()).map_err(failed)?;
    let leaf = files::leaf(destination);

    let renamed = if overwrite {
        rustix::fs::renameat(&dir.tmp, name, parent, leaf).map_err(io::Error::from)
    } else {
        files::rename_no_replace(dir.tmp.as_fd(), name, parent.as_fd(), leaf)
    };
    match renamed {
        Ok(()) => {
            // In place under its final name: the temporary path must not be deleted now.
            let _ = temporary.into_temp_path().keep();
            Ok(())
        }
        Err(error) if error.kind() == io::ErrorKind::AlreadyExists => {
            Err(StorageError::DestinationExists(destination.clone()))
        }
        Err(error) => Err(unusable_name(destination, &error).unwrap_or_else(|| failed(error))),
    }
}

/// The failures of a rename that come from the destination's name, not from the disk: a
/// folder stands at the name, a blob where it needs a folder, a name part too long.
fn unusable_name(destination: &BlobPath, error: &io::Error) -> Option<StorageError> {
    let reason = match Errno::from_io_error(error)? {
        Errno::ISDIR => "a folder of blobs stands at its name",
        Errno::NOTDIR => "a blob stands where the name needs a folder",
        Errno::NAMETOOLONG => "a part of its name is longer than this file system allows",
        _ => return None,
    };
    Some(StorageError::DestinationUnusable {
        path: destination.clone(),
        reason: reason.to_owned(),
    })
}

/// Copies the pinned source whole into `out`. `std::io::copy` lets Linux copy from file to
/// file in the kernel (`copy_file_range`).
fn copy_source(source: &Pinned, out: &mut File) -> StorageResult<()> {
    let path = source.path();
    let len = source.pinned().len;
    let mut file = source.file();
    file.seek(SeekFrom::Start(0))
        .map_err(|error| failed(path, "reading", error))?;
    let copied = io::copy(&mut file.take(len), out);
    let copied = copied.map_err(|error| failed(path, "copying", error))?;
    if copied != len {
        // The file is shorter than when it was pinned.
        return Err(StorageError::SourceChanged(path.clone()));
    }
    Ok(())
}

/// Sets the marker on the output. A file system without extended attributes loses the marker
/// (a job taken up again then cannot tell its own output from another) and says so once.
fn write_marker(file: &File, marker: &OutputMarker, destination: &BlobPath) -> StorageResult<()> {
    let json = serde_json::to_vec(marker)
        .map_err(|error| StorageError::Failed(format!("encoding the output marker: {error}")))?;
    match rustix::fs::fsetxattr(file, MARKER_XATTR, &json, XattrFlags::empty()) {
        Ok(()) => Ok(()),
        Err(Errno::NOTSUP) => {
            if !XATTR_UNSUPPORTED.swap(true, Ordering::Relaxed) {
                tracing::warn!(
                    "the data directory's file system has no extended attributes; \
                     outputs are written without their job marker"
                );
            }
            Ok(())
        }
        Err(error) => Err(failed(destination, "marking", error.into())),
    }
}

/// The marker of the output at `destination`; a marker that does not parse is no marker.
pub(super) fn read_marker(
    dir: &DataDir,
    destination: &BlobPath,
) -> StorageResult<Option<OutputMarker>> {
    let opened = files::open_blob(dir.blobs.as_fd(), destination);
    let opened = opened.map_err(|error| failed(destination, "opening", error))?;
    let Some((file, _)) = opened else {
        return Ok(None);
    };
    let mut buf = vec![0; MAX_MARKER_BYTES];
    let len = match rustix::fs::fgetxattr(&file, MARKER_XATTR, &mut buf[..]) {
        Ok(len) => len,
        Err(Errno::NODATA | Errno::NOTSUP) => return Ok(None),
        Err(error) => return Err(failed(destination, "reading the marker of", error.into())),
    };
    match serde_json::from_slice(&buf[..len]) {
        Ok(marker) => Ok(Some(marker)),
        Err(error) => {
            tracing::warn!(%destination, %error, "the output marker does not parse; ignored");
            Ok(None)
        }
    }
}

/// The destination's container, which must exist as a real directory.
fn container_dir(dir: &DataDir, destination: &BlobPath) -> StorageResult<OwnedFd> {
    let container = destination.container();
    match files::open_dir_in(dir.blobs.as_fd(), container) {
        Ok(fd) => Ok(fd),
        Err(error) if files::is_absent(error) => Err(StorageError::DestinationContainerNotFound(
            container.to_owned(),
        )),
        Err(error) => Err(failed(
            destination,
            "opening the container of",
            error.into(),
        )),
    }
}

/// Opens the directory that will hold `destination`, creating the missing ones inside the
/// container (mode 0700). Returns it and the directories in which an entry was created, which
/// must be synced for the new entries to last.
fn make_parents(dir: &DataDir, destination: &BlobPath) -> StorageResult<(OwnedFd, Vec<OwnedFd>)> {
    let mut current = container_dir(dir, destination)?;
    let mut touched = Vec::new();
    for name in files::parents(destination).skip(1) {
        let created = match rustix::fs::mkdirat(&current, name, Mode::from_raw_mode(0o700)) {
            Ok(()) => true,
            Err(Errno::EXIST) => false,
            Err(error) => {
                return Err(failed(
                    destination,
                    "creating a directory for",
                    error.into(),
                ));
            }
        };
        let next = files::open_dir_in(current.as_fd(), name).map_err(|error| {
            let reason = match error {
                Errno::LOOP => "a symbolic link stands where the name needs a directory",
                Errno::NOTDIR => "a blob stands where the name needs a directory",
                _ => "a directory on the way cannot be opened",
            };
            match error {
                Errno::LOOP | Errno::NOTDIR => StorageError::DestinationUnusable {
                    path: destination.clone(),
                    reason: reason.to_owned(),
                },
                _ => {
                    StorageError::Failed(format!("cannot write {destination}: {reason} ({error})"))
                }
            }
        })?;
        if created {
            touched.push(current);
        }
        current = next;
    }
    Ok((current, touched))
}
