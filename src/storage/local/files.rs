//! File-system steps of the local store. Every path below the data directory is walked one
//! segment at a time from a directory handle, with `O_NOFOLLOW`: a symbolic link anywhere in a
//! blob's path makes the blob absent, so no name can lead out of the data directory.

use std::fs::File;
use std::io;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::path::Path;

use rustix::fs::{AtFlags, FileType, Mode, OFlags, RenameFlags, Stat};
use rustix::io::Errno;

use crate::storage::{BlobPath, BlobProperties, ETag};

/// Opens one of the data directory's own subdirectories.
pub(super) fn open_dir_path(path: &Path) -> io::Result<OwnedFd> {
    let flags = OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC;
    Ok(rustix::fs::open(path, flags, Mode::empty())?)
}

/// Opens the directory `name` in `dir`; a symbolic link fails with `ELOOP`.
pub(super) fn open_dir_in(dir: BorrowedFd<'_>, name: &str) -> Result<OwnedFd, Errno> {
    let flags = OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC;
    rustix::fs::openat(dir, name, flags, Mode::empty())
}

/// True for the errors that mean "nothing usable there": absent, not a directory on the way,
/// or a symbolic link.
pub(super) fn is_absent(error: Errno) -> bool {
    matches!(error, Errno::NOENT | Errno::NOTDIR | Errno::LOOP)
}

/// The last segment of the blob's name: the file's name in its directory.
pub(super) fn leaf(path: &BlobPath) -> &str {
    path.blob().rsplit('/').next().unwrap_or(path.blob())
}

/// The directories on the way to the blob, its container first.
pub(super) fn parents(path: &BlobPath) -> impl Iterator<Item = &str> {
    let blob_dirs = path.blob().rsplit_once('/').map(|(dirs, _)| dirs);
    std::iter::once(path.container()).chain(blob_dirs.into_iter().flat_map(|d| d.split('/')))
}

/// The directory that holds `path`, or `None` when a directory on the way is absent or is not
/// a real directory.
pub(super) fn blob_dir(blobs: BorrowedFd<'_>, path: &BlobPath) -> io::Result<Option<OwnedFd>> {
    let mut current: Option<OwnedFd> = None;
    for name in parents(path) {
        let dir = current.as_ref().map_or(blobs, |d| d.as_fd());
        match open_dir_in(dir, name) {
            Ok(next) => current = Some(next),
            Err(error) if is_absent(error) => return Ok(None),
            Err(error) => return Err(error.into()),
        }
    }
    Ok(current)
}

/// The status of blob `path` when it is a regular file.
pub(super) fn stat_blob(blobs: BorrowedFd<'_>, path: &BlobPath) -> io::Result<Option<Stat>> {
    let Some(dir) = blob_dir(blobs, path)? else {
        return Ok(None);
    };
    match rustix::fs::statat(&dir, leaf(path), AtFlags::SYMLINK_NOFOLLOW) {
        Ok(stat) if is_regular(&stat) => Ok(Some(stat)),
        Ok(_) => Ok(None),
        Err(error) if is_absent(error) => Ok(None),
        Err(error) => Err(error.into()),
    }
}

/// Opens blob `path` for reading when it is a regular file, with its status.
pub(super) fn open_blob(
    blobs: BorrowedFd<'_>,
    path: &BlobPath,
) -> io::Result<Option<(File, Stat)>> {
    let Some(dir) = blob_dir(blobs, path)? else {
        return Ok(None);
    };
    // O_NONBLOCK: opening a FIFO someone put there must not hang; it is refused just below.
    let flags = OFlags::RDONLY | OFlags::NOFOLLOW | OFlags::NONBLOCK | OFlags::CLOEXEC;
    let fd = match rustix::fs::openat(&dir, leaf(path), flags, Mode::empty()) {
        Ok(fd) => fd,
        Err(error) if is_absent(error) || error == Errno::NXIO => return Ok(None),
        Err(error) => return Err(error.into()),
    };
    let stat = rustix::fs::fstat(&fd)?;
    Ok(is_regular(&stat).then(|| (File::from(fd), stat)))
}

fn is_regular(stat: &Stat) -> bool {
    FileType::from_raw_mode(stat.st_mode) == FileType::RegularFile
}

/// The version of a file: device, inode, length and the modification and change times to the
/// nanosecond. Any write, truncation or replacement changes it.
///
/// Known limit: a write in place that keeps the length and lands within the same tick of the
/// kernel's file-time clock as the previous one leaves the times, and so the tag, unchanged.
/// Writers that replace the file (write a new one and rename it) always change the inode.
pub(super) fn properties(stat: &Stat) -> BlobProperties {
    let etag = format!(
        "{:x}-{:x}-{:x}-{}.{:09}-{}.{:09}",
        stat.st_dev,
        stat.st_ino,
        stat.st_size,
        stat.st_mtime,
        stat.st_mtime_nsec,
        stat.st_ctime,
        stat.st_ctime_nsec
    );
    BlobProperties {
        len: u64::try_from(stat.st_size).unwrap_or(0),
        etag: ETag(etag),
    }
}

/// Renames `old` in `old_dir` to `new` in `new_dir` unless `new` exists (`EEXIST` then).
///
/// File systems without `RENAME_NOREPLACE` get a hard link, which is as atomic, then an
/// unlink of the old name. The new name is in place once the link is made, so a failed unlink
/// is only logged: the old name is in `tmp/`, emptied at the next open.
pub(super) fn rename_no_replace(
    old_dir: BorrowedFd<'_>,
    old: &str,
    new_dir: BorrowedFd<'_>,
    new: &str,
) -> io::Result<()> {
    match rustix::fs::renameat_with(old_dir, old, new_dir, new, RenameFlags::NOREPLACE) {
        Err(Errno::INVAL | Errno::NOSYS) => {
            rustix::fs::linkat(old_dir, old, new_dir, new, AtFlags::empty())?;
            if let Err(error) = rustix::fs::unlinkat(old_dir, old, AtFlags::empty()) {
                tracing::warn!(%error, file = old, "a temporary file stays in tmp/ until restart");
            }
            Ok(())
        }
        other => Ok(other?),
    }
}

/// The file name of a temporary file, for `*at` calls on the directory that holds it.
pub(super) fn file_name(path: &Path) -> io::Result<&str> {
    path.file_name()
        .and_then(|name| name.to_str())
        .ok_or_else(|| io::Error::other("a temporary file has no usable name"))
}
