//! Job records as files: `DATA/jobs/<id>.json`, version = SHA-256 of the file's bytes.
//!
//! The file holds the record and a random write id, `{"write": "<32 hex>", "record": {...}}`,
//! so that every write changes the version, even one that writes the same record again: two
//! callers that read the same version can never both replace it.

use std::ffi::OsStr;
use std::fs;
use std::io::{self, Read as _, Write as _};
use std::os::fd::AsFd as _;
use std::os::unix::fs::PermissionsExt as _;
use std::sync::{Arc, Mutex, MutexGuard};

use async_trait::async_trait;
use rustix::fs::{Mode, OFlags};
use rustix::io::Errno;
use sha2::Digest as _;

use serde::{Deserialize, Serialize};

use super::{DataDir, blocking, files};
use crate::jobs::{JobId, JobRecord};
use crate::storage::{Created, ETag, JobStore, StorageError, StorageResult};

/// The largest record read; a real one is a few kilobytes.
const MAX_RECORD_BYTES: u64 = 1 << 20;

/// The local [`JobStore`].
///
/// Compare-and-swap is a mutex around read, compare and write: the data directory's lock keeps
/// every other process out, so the mutex is all the exclusion there is to have.
pub struct LocalJobs {
    inner: Arc<Inner>,
}

struct Inner {
    dir: Arc<DataDir>,
    writing: Mutex<()>,
}

impl LocalJobs {
    pub(super) fn new(dir: Arc<DataDir>) -> Self {
        let writing = Mutex::new(());
        Self {
            inner: Arc::new(Inner { dir, writing }),
        }
    }

    /// [`JobStore::unfinished`], blocking, for [`super::open`].
    pub(super) fn unfinished_now(&self) -> StorageResult<Vec<JobId>> {
        self.inner.unfinished()
    }

    async fn run<T, F>(&self, work: F) -> StorageResult<T>
    where
        F: FnOnce(&Inner) -> StorageResult<T> + Send + 'static,
        T: Send + 'static,
    {
        let inner = self.inner.clone();
        blocking(move || work(&inner)).await
    }
}

#[async_trait]
impl JobStore for LocalJobs {
    async fn create(&self, record: &JobRecord) -> StorageResult<Created> {
        let record = record.clone();
        self.run(move |inner| inner.create(&record)).await
    }

    async fn get(&self, id: &JobId) -> StorageResult<Option<(JobRecord, ETag)>> {
        let id = id.clone();
        self.run(move |inner| inner.get(&id)).await
    }

    async fn replace(&self, record: &JobRecord, etag: &ETag) -> StorageResult<Option<ETag>> {
        let record = record.clone();
        let etag = etag.clone();
        self.run(move |inner| inner.replace(&record, &etag)).await
    }

    async fn unfinished(&self) -> StorageResult<Vec<JobId>> {
        self.run(Inner::unfinished).await
    }
}

impl Inner {
    fn create(&self, record: &JobRecord) -> StorageResult<Created> {
        let _writing = self.lock();
        if let Some(etag) = self.write(record, false)? {
            return Ok(Created::New(etag));
        }

        match self.get(&record.id)? {
            Some((existing, etag)) => Ok(Created::Exists(Box::new(existing), etag)),
            None => Err(StorageError::Failed(format!(
                "the record of job {} vanished while it was created",
                record.id
            ))),
        }
    }

    fn get(&self, id: &JobId) -> StorageResult<Option<(JobRecord, ETag)>> {
        let Some(bytes) = self.read(id)? else {
            return Ok(None);
        };
        let record = parse(id, &bytes)?;
        Ok(Some((record, etag_of(&bytes))))
    }

    fn replace(&self, record: &JobRecord, etag: &ETag) -> StorageResult<Option<ETag>> {
        let _writing = self.lock();
        let current = self.read(&record.id)?;
        if current.is_none_or(|bytes| etag_of(&bytes) != *etag) {
            return Ok(None);
        }
        self.write(record, true)
    }

    fn lock(&self) -> MutexGuard<'_, ()> {
        self.writing
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Writes `record` to a synced temporary file and moves it to its place, replacing the
    /// record there when `replace`; `None` when a record is there and not `replace`.
    fn write(&self, record: &JobRecord, replace: bool) -> StorageResult<Option<ETag>> {
        let id = &record.id;
        let (temporary, etag) = self.write_temporary(record)?;
        let name = files::file_name(temporary.path()).map_err(|e| failed(id, e))?;
        let (tmp, jobs) = (self.dir.tmp.as_fd(), self.dir.jobs.as_fd());

        let moved = if replace {
            rustix::fs::renameat(tmp, name, jobs, file_name(id)).map_err(io::Error::from)
        } else {
            files::rename_no_replace(tmp, name, jobs, &file_name(id))
        };
        match moved {
            Ok(()) => {
                let _ = temporary.into_temp_path().keep();
                rustix::fs::fsync(jobs).map_err(|error| failed(id, error.into()))?;
                Ok(Some(etag))
            }
            Err(error) if error.kind() == io::ErrorKind::AlreadyExists => Ok(None),
            Err(error) => Err(failed(id, error)),
        }
    }

    fn unfinished(&self) -> StorageResult<Vec<JobId>> {
        let listing = |error| StorageError::Failed(format!("listing the job records: {error}"));
        let mut found = Vec::new();
        for entry in fs::read_dir(self.dir.jobs_path()).map_err(listing)? {
            let name = entry.map_err(listing)?.file_name();
            found.extend(
                self.listed(&name)
                    .filter(|record| !record.status.is_final()),
            );
        }

        found.sort_by(|a, b| (a.created_at, &a.id).cmp(&(b.created_at, &b.id)));
        Ok(found.into_iter().map(|record| record.id).collect())
    }

    /// The record in the file `name` of the jobs directory; `None`, said at warn, when the
    /// file is not a record that can be read.
    fn listed(&self, name: &OsStr) -> Option<JobRecord> {
        let id = name
            .to_str()
            .and_then(|name| name.strip_suffix(".json"))
            .and_then(JobId::parse);
        let Some(id) = id else {
            tracing::warn!(file = ?name, "not a job record; skipped");
            return None;
        };

        let record = self.get(&id).map(|found| found.map(|(record, _)| record));
        record.unwrap_or_else(|error| {
            tracing::warn!(job = %id, %error, "unreadable job record; skipped");
            None
        })
    }

    /// The bytes of the record of `id`, or `None`.
    fn read(&self, id: &JobId) -> StorageResult<Option<Vec<u8>>> {
        let flags = OFlags::RDONLY | OFlags::NOFOLLOW | OFlags::CLOEXEC;
        let fd = match rustix::fs::openat(&self.dir.jobs, file_name(id), flags, Mode::empty()) {
            Ok(fd) => fd,
            Err(Errno::NOENT) => return Ok(None),
            Err(error) => return Err(failed(id, error.into())),
        };
        let mut bytes = Vec::new();
        fs::File::from(fd)
            .take(MAX_RECORD_BYTES + 1)
            .read_to_end(&mut bytes)
            .map_err(|error| failed(id, error))?;
        if bytes.len() as u64 > MAX_RECORD_BYTES {
            return Err(StorageError::Failed(format!(
                "the record of job {id} is larger than {MAX_RECORD_BYTES} bytes"
            )));
        }
        Ok(Some(bytes))
    }

    /// `record` as JSON in a synced temporary file, and its version.
    fn write_temporary(
        &self,
        record: &JobRecord,
    ) -> StorageResult<(tempfile::NamedTempFile, ETag)> {
        let mut write = [0u8; 16];
        getrandom::fill(&mut write).map_err(|error| {
            StorageError::Failed(format!("no random write id for job {}: {error}", record.id))
        })?;
        let stored = Stored {
            write: hex::encode(write),
            record: record.clone(),
        };
        let bytes = serde_json::to_vec(&stored).map_err(|error| {
            StorageError::Failed(format!("encoding the record of job {}: {error}", record.id))
        })?;
        let mut temporary = tempfile::Builder::new()
            .prefix("job-")
            .permissions(fs::Permissions::from_mode(0o600))
            .tempfile_in(self.dir.tmp_path())
            .map_err(|error| failed(&record.id, error))?;
        temporary
            .write_all(&bytes)
            .and_then(|()| temporary.as_file().sync_all())
            .map_err(|error| failed(&record.id, error))?;
        Ok((temporary, etag_of(&bytes)))
    }
}

fn file_name(id: &JobId) -> String {
    format!("{id}.json")
}

fn etag_of(bytes: &[u8]) -> ETag {
    ETag(hex::encode(sha2::Sha256::digest(bytes)))
}

/// The content of a record's file.
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Stored {
    /// Random, new with every write.
    write: String,
    record: JobRecord,
}

fn parse(id: &JobId, bytes: &[u8]) -> StorageResult<JobRecord> {
    let stored: Stored = serde_json::from_slice(bytes).map_err(|error| {
        StorageError::Failed(format!("the record of job {id} does not parse: {error}"))
    })?;
    let record = stored.record;
    if record.id != *id {
        return Err(StorageError::Failed(format!(
            "the record of job {id} names another job, {}",
            record.id
        )));
    }
    Ok(record)
}

fn failed(id: &JobId, error: io::Error) -> StorageError {
    StorageError::Failed(format!("the record of job {id}: {error}"))
}
