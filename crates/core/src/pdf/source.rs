//! Random access to the bytes of a document, wherever they are.

use std::fs::File;
use std::io;
use std::os::unix::fs::FileExt;

/// [`Source::read_all`] reads a source that is not in memory in chunks of this size.
const READ_ALL_CHUNK: usize = 1 << 20;

/// The bytes of a document: read at any offset, never all at once unless they are in memory.
pub trait Source: Sync {
    /// The length of the document in bytes.
    fn len(&self) -> u64;

    /// Fills `buf` from `offset`; fails when the document ends before `buf` is full.
    fn read_at(&self, offset: u64, buf: &mut [u8]) -> io::Result<()>;

    /// The whole document when it is already in memory, so that hashing needs no copy.
    fn as_slice(&self) -> Option<&[u8]> {
        None
    }

    /// Says that the ranges `(offset, len)` will be read soon. Remote sources fetch them at
    /// once, side by side, instead of one round trip per read; others ignore it. A failure is
    /// not reported here: the read that follows meets it.
    fn prefetch(&self, _ranges: &[(u64, usize)]) {}

    /// Feeds the whole document to `sink`, in order, in chunks of any size. The pipeline calls
    /// it once per seal, to hash the original bytes. Sources that read faster in sequence than
    /// at random (remote ones, with read-ahead) override it, and may pass the bytes elsewhere
    /// on the way.
    fn read_all(&self, sink: &mut dyn FnMut(&[u8])) -> io::Result<()> {
        if let Some(bytes) = self.as_slice() {
            bytes.chunks(READ_ALL_CHUNK * 8).for_each(sink);
            return Ok(());
        }
        let mut buf = vec![0; READ_ALL_CHUNK];
        let mut offset = 0;
        while offset < self.len() {
            let len = READ_ALL_CHUNK.min((self.len() - offset) as usize);
            self.read_at(offset, &mut buf[..len])?;
            sink(&buf[..len]);
            offset += len as u64;
        }
        Ok(())
    }

    /// True for an empty document.
    fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl Source for [u8] {
    fn len(&self) -> u64 {
        <[u8]>::len(self) as u64
    }

    fn read_at(&self, offset: u64, buf: &mut [u8]) -> io::Result<()> {
        let start = usize::try_from(offset).map_err(|_| io::ErrorKind::UnexpectedEof)?;
        let end = start
            .checked_add(buf.len())
            .ok_or(io::ErrorKind::UnexpectedEof)?;
        let bytes = self.get(start..end).ok_or(io::ErrorKind::UnexpectedEof)?;
        buf.copy_from_slice(bytes);
        Ok(())
    }

    fn as_slice(&self) -> Option<&[u8]> {
        Some(self)
    }
}

impl Source for File {
    fn len(&self) -> u64 {
        self.metadata().map(|m| m.len()).unwrap_or(0)
    }

    fn read_at(&self, offset: u64, buf: &mut [u8]) -> io::Result<()> {
        self.read_exact_at(buf, offset)
    }
}
