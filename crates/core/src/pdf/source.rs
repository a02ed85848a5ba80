//! Random access to the bytes of a document, wherever they are.

use std::fs::File;
use std::io;
use std::os::unix::fs::FileExt;

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
