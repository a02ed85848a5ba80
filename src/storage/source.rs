//! A pinned source blob as a [`pdf_seal_core::pdf::Source`]: the blocking bridge between the
//! sealing core, which reads synchronously, and the async storage backends.
//!
//! The core reads in two ways, and each gets what suits it:
//! - many small reads near the tail while it plans the update ([`Source::read_at`]): served
//!   from a small cache of large blocks, so that they cost a few storage requests;
//! - one pass over the whole document to hash it ([`Source::read_all`]): large ranges read in
//!   order, a few of them ahead of the hash, optionally passed on to the output (the tee).
//!
//! Memory stays bounded whatever the blob's size: the cache, the ranges in flight and the
//! tee's channel each have a fixed size.

use std::collections::VecDeque;
use std::io;
use std::num::NonZeroUsize;
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use lru::LruCache;
use pdf_seal_core::pdf::Source;
use tokio::runtime::Handle;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use super::{SourceReader, StorageError, StorageResult};

/// How [`BlobSource`] splits its reads.
#[derive(Clone, Copy, Debug)]
struct Layout {
    /// The unit of the cache behind [`Source::read_at`].
    block_bytes: usize,
    /// How many blocks the cache keeps.
    cached_blocks: usize,
    /// The size of the ranges [`Source::read_all`] asks for.
    range_bytes: usize,
    /// How many of those ranges may be in flight at once.
    ranges_ahead: usize,
}

impl Default for Layout {
    /// 32 KiB blocks, 2 MiB of them cached; 4 MiB ranges, three in flight. The PDF reader
    /// asks for 4 KiB windows at first, and the objects it needs may lie anywhere (a page
    /// object every megabyte in a large scan): small blocks keep each such read to one small
    /// request.
    fn default() -> Self {
        Self {
            block_bytes: 32 * 1024,
            cached_blocks: 64,
            range_bytes: 4 * 1024 * 1024,
            ranges_ahead: 3,
        }
    }
}

/// A source blob read through a [`SourceReader`], for the core.
///
/// Every read blocks the calling thread on `runtime` ([`Handle::block_on`]), so a
/// `BlobSource` must be used from a thread outside any runtime context, such as one of
/// `tokio::task::spawn_blocking`; used on a runtime's worker thread it panics. The read-ahead
/// of [`Source::read_all`] runs as tasks of `runtime`, so that runtime must keep running
/// while the caller waits: a multi-thread runtime, or a current-thread one driven by another
/// thread than the caller's.
///
/// Storage failures come out as [`io::Error`]s that wrap the [`StorageError`];
/// [`storage_error`] finds it again.
pub struct BlobSource {
    reader: Arc<dyn SourceReader>,
    runtime: Handle,
    layout: Layout,
    /// Blocks by index; a block holds `layout.block_bytes` bytes, the last one fewer.
    cache: Mutex<LruCache<u64, Bytes>>,
    tee: Option<mpsc::Sender<Bytes>>,
}

impl BlobSource {
    /// Reads `reader` by blocking on `runtime`.
    pub fn new(reader: Arc<dyn SourceReader>, runtime: Handle) -> Self {
        Self::with_layout(reader, runtime, Layout::default())
    }

    fn with_layout(reader: Arc<dyn SourceReader>, runtime: Handle, layout: Layout) -> Self {
        let capacity = NonZeroUsize::new(layout.cached_blocks).unwrap_or(NonZeroUsize::MIN);
        Self {
            reader,
            runtime,
            layout,
            cache: Mutex::new(LruCache::new(capacity)),
            tee: None,
        }
    }

    /// Also sends every chunk that [`Source::read_all`] reads to `tee`, in order. A full
    /// channel holds the reading back until the receiver catches up; a closed one fails the
    /// read.
    pub fn with_tee(mut self, tee: mpsc::Sender<Bytes>) -> Self {
        self.tee = Some(tee);
        self
    }

    /// Block `index`, from the cache or from storage.
    fn block(&self, index: u64) -> io::Result<Bytes> {
        if let Some(block) = self.lock_cache().get(&index) {
            return Ok(block.clone());
        }
        let start = index * self.layout.block_bytes as u64;
        let len = (self.len() - start).min(self.layout.block_bytes as u64) as usize;
        let block = self.fetch(start, len)?;
        self.lock_cache().put(index, block.clone());
        Ok(block)
    }

    /// Reads a range straight from storage.
    fn fetch(&self, offset: u64, len: usize) -> io::Result<Bytes> {
        let read = self.runtime.block_on(self.reader.read_range(offset, len));
        let bytes = read.map_err(io::Error::other)?;
        if bytes.len() != len {
            let reason = format!(
                "storage returned {} bytes for a range of {len} at {offset} of {}",
                bytes.len(),
                self.reader.path()
            );
            return Err(io::Error::other(StorageError::Failed(reason)));
        }
        Ok(bytes)
    }

    fn lock_cache(&self) -> std::sync::MutexGuard<'_, LruCache<u64, Bytes>> {
        self.cache
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Starts reading the range at `offset` on the runtime.
    fn spawn_range(&self, offset: u64) -> (JoinHandle<StorageResult<Bytes>>, usize) {
        let len = (self.len() - offset).min(self.layout.range_bytes as u64) as usize;
        let reader = self.reader.clone();
        let task = self
            .runtime
            .spawn(async move { reader.read_range(offset, len).await });
        (task, len)
    }

    /// Passes `chunk` on to the tee, if there is one, waiting for room in its channel.
    fn send_to_tee(&self, chunk: &Bytes) -> io::Result<()> {
        let Some(tee) = &self.tee else {
            return Ok(());
        };
        tee.blocking_send(chunk.clone()).map_err(|_| {
            io::Error::new(
                io::ErrorKind::BrokenPipe,
                "the output stopped taking the source's bytes",
            )
        })
    }
}

impl BlobSource {
    /// Fetches the blocks of `ranges` that are not cached, side by side, at most half the
    /// cache at a time; failures are left for the reads that follow.
    fn fetch_blocks(&self, ranges: &[(u64, usize)]) {
        let block_bytes = self.layout.block_bytes as u64;
        let mut wanted: Vec<u64> = ranges
            .iter()
            .filter(|(offset, len)| *len > 0 && *offset < self.len())
            .flat_map(|(offset, len)| {
                let last = (offset + *len as u64 - 1).min(self.len() - 1);
                offset / block_bytes..=last / block_bytes
            })
            .collect();
        wanted.sort_unstable();
        wanted.dedup();
        {
            let cache = self.lock_cache();
            wanted.retain(|index| !cache.contains(index));
        }
        wanted.truncate((self.layout.cached_blocks / 2).max(1));
        if wanted.len() < 2 {
            return;
        }
        let tasks: Vec<_> = wanted
            .into_iter()
            .map(|index| {
                let start = index * block_bytes;
                let len = (self.len() - start).min(block_bytes) as usize;
                let reader = self.reader.clone();
                let task = self
                    .runtime
                    .spawn(async move { reader.read_range(start, len).await });
                (index, len, task)
            })
            .collect();
        for (index, len, task) in tasks {
            if let Ok(Ok(block)) = self.runtime.block_on(task)
                && block.len() == len
            {
                self.lock_cache().put(index, block);
            }
        }
    }
}

impl Source for BlobSource {
    fn prefetch(&self, ranges: &[(u64, usize)]) {
        self.fetch_blocks(ranges);
    }

    fn len(&self) -> u64 {
        self.reader.pinned().len
    }

    fn read_at(&self, offset: u64, buf: &mut [u8]) -> io::Result<()> {
        let end = offset.checked_add(buf.len() as u64);
        if end.is_none_or(|end| end > self.len()) {
            return Err(io::ErrorKind::UnexpectedEof.into());
        }
        if buf.is_empty() {
            return Ok(());
        }

        // A read larger than two blocks would only push the tail's blocks out of the cache.
        if buf.len() > 2 * self.layout.block_bytes {
            let mut done = 0;
            for piece in buf.chunks_mut(self.layout.range_bytes) {
                let bytes = self.fetch(offset + done, piece.len())?;
                piece.copy_from_slice(&bytes);
                done += piece.len() as u64;
            }
            return Ok(());
        }

        let block_bytes = self.layout.block_bytes as u64;
        let mut position = offset;
        let mut filled = 0;
        while filled < buf.len() {
            let block = self.block(position / block_bytes)?;
            let within = (position % block_bytes) as usize;
            let take = (block.len() - within).min(buf.len() - filled);
            buf[filled..filled + take].copy_from_slice(&block[within..within + take]);
            filled += take;
            position += take as u64;
        }
        Ok(())
    }

    fn read_all(&self, sink: &mut dyn FnMut(&[u8])) -> io::Result<()> {
        let mut in_flight = InFlight::default();
        let mut next = 0;
        loop {
            while next < self.len() && in_flight.0.len() < self.layout.ranges_ahead.max(1) {
                let (task, len) = self.spawn_range(next);
                in_flight.0.push_back(task);
                next += len as u64;
            }
            let Some(task) = in_flight.0.pop_front() else {
                return Ok(());
            };

            let chunk = match self.runtime.block_on(task) {
                Ok(read) => read.map_err(io::Error::other)?,
                Err(error) => {
                    let reason = format!("a read of {} stopped: {error}", self.reader.path());
                    return Err(io::Error::other(StorageError::Failed(reason)));
                }
            };
            self.send_to_tee(&chunk)?;
            sink(&chunk);
        }
    }
}

/// The ranges being read; those still running when [`Source::read_all`] gives up are
/// cancelled.
#[derive(Default)]
struct InFlight(VecDeque<JoinHandle<StorageResult<Bytes>>>);

impl Drop for InFlight {
    fn drop(&mut self) {
        for task in &self.0 {
            task.abort();
        }
    }
}

/// The [`StorageError`] behind `error`, if a storage failure caused it: it looks through the
/// chain of sources and inside the [`io::Error`]s on the way, so it finds the cause of a
/// failed read in a `pdf_seal_core::SealError` too.
pub fn storage_error<'a>(error: &'a (dyn std::error::Error + 'static)) -> Option<&'a StorageError> {
    let mut next = Some(error);
    while let Some(error) = next {
        if let Some(found) = error.downcast_ref::<StorageError>() {
            return Some(found);
        }
        // An io::Error's `source()` skips the error it wraps, so look inside it here.
        let inner = error.downcast_ref::<io::Error>().and_then(|e| e.get_ref());
        if let Some(found) = inner.and_then(|inner| inner.downcast_ref::<StorageError>()) {
            return Some(found);
        }
        next = error.source();
    }
    None
}

#[cfg(test)]
mod tests;
