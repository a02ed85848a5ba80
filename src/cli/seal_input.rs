//! The input of `pdf-seal seal`: a file is read where it lies, standard input into memory.

use std::fs::File;
use std::io::{self, Read as _, Seek as _, SeekFrom, Write};
use std::path::Path;

use anyhow::{Context as _, bail};
use pdf_seal_core::pdf::Source;

use super::CliError;

/// The document to seal.
pub enum Input {
    /// A file: the core reads it where it lies, nothing is loaded whole.
    File { file: File, len: u64 },
    /// Standard input, read into memory since it cannot be read twice.
    Memory(Vec<u8>),
}

impl Input {
    /// Opens `path`, or reads standard input for `-`.
    pub fn open(path: &Path) -> Result<Self, CliError> {
        if path == Path::new("-") {
            let mut bytes = Vec::new();
            io::stdin()
                .lock()
                .read_to_end(&mut bytes)
                .context("reading standard input")?;
            return Ok(Self::Memory(bytes));
        }

        let file = File::open(path).with_context(|| format!("opening {}", path.display()))?;
        let len = file
            .metadata()
            .with_context(|| format!("reading {}", path.display()))?
            .len();
        Ok(Self::File { file, len })
    }

    /// Writes the whole document to `out` and checks that it is as long as when it was sealed.
    pub(super) fn copy_to(&self, out: &mut impl Write) -> anyhow::Result<u64> {
        let (copied, expected) = match self {
            Self::File { file, len } => {
                let mut reader = file;
                reader.seek(SeekFrom::Start(0))?;
                (io::copy(&mut reader, out)?, *len)
            }
            Self::Memory(bytes) => {
                out.write_all(bytes)?;
                (bytes.len() as u64, bytes.len() as u64)
            }
        };
        if copied != expected {
            bail!("the input changed while it was being sealed ({expected} then {copied} bytes)");
        }
        Ok(copied)
    }
}

impl Source for Input {
    /// For a file, its length when it was opened: the copy into the output checks it again.
    fn len(&self) -> u64 {
        match self {
            Self::File { len, .. } => *len,
            Self::Memory(bytes) => Source::len(bytes.as_slice()),
        }
    }

    fn read_at(&self, offset: u64, buf: &mut [u8]) -> io::Result<()> {
        match self {
            Self::File { file, .. } => file.read_at(offset, buf),
            Self::Memory(bytes) => bytes.as_slice().read_at(offset, buf),
        }
    }

    fn as_slice(&self) -> Option<&[u8]> {
        match self {
            Self::File { .. } => None,
            Self::Memory(bytes) => Some(bytes),
        }
    }
}

/// How a path is shown in messages: `-` as `stdio_name`.
pub fn describe(path: &Path, stdio_name: &str) -> String {
    match path == Path::new("-") {
        true => stdio_name.to_owned(),
        false => path.display().to_string(),
    }
}
