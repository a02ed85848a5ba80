//! A pinned source blob as a [`pdf_seal_core::pdf::Source`].

use std::io;
use std::sync::Arc;

use bytes::Bytes;
use pdf_seal_core::pdf::Source;
use tokio::runtime::Handle;
use tokio::sync::mpsc;

use super::{SourceReader, StorageError};

/// A source blob read through `runtime` from a blocking thread.
pub struct BlobSource {
    reader: Arc<dyn SourceReader>,
    runtime: Handle,
    tee: Option<mpsc::Sender<Bytes>>,
}

impl BlobSource {
    pub fn new(
        reader: Arc<dyn SourceReader>,
        runtime: Handle,
        tee: Option<mpsc::Sender<Bytes>>,
    ) -> Self {
        Self {
            reader,
            runtime,
            tee,
        }
    }
}

impl Source for BlobSource {
    fn len(&self) -> u64 {
        self.reader.pinned().len
    }

    fn read_at(&self, offset: u64, buf: &mut [u8]) -> io::Result<()> {
        let bytes = self
            .runtime
            .block_on(self.reader.read_range(offset, buf.len()))
            .map_err(io::Error::other)?;
        buf.copy_from_slice(&bytes);
        Ok(())
    }

    fn read_all(&self, sink: &mut dyn FnMut(&[u8])) -> io::Result<()> {
        let mut offset = 0;
        while offset < self.len() {
            let len = (self.len() - offset).min(1 << 22) as usize;
            let chunk = self
                .runtime
                .block_on(self.reader.read_range(offset, len))
                .map_err(io::Error::other)?;
            sink(&chunk);
            if let Some(tee) = &self.tee {
                tee.blocking_send(chunk)
                    .map_err(|_| io::Error::other("the output stopped taking data"))?;
            }
            offset += len as u64;
        }
        Ok(())
    }
}

/// The storage error inside an error of a [`BlobSource`] read.
pub fn storage_error(error: &io::Error) -> Option<&StorageError> {
    error.get_ref()?.downcast_ref::<StorageError>()
}
