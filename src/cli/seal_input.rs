//! The input of `pdf-seal seal`: a file is read where it lies, standard input into memory.

use std::fs::File;
use std::io::{self, Read as _, Seek as _, SeekFrom, Write};
use std::path::Path;

use anyhow::{Context as _, bail};
use pdf_seal_core::pdf::Source;

use super::{CliError, describe};

/// The document to seal.
pub enum Input {
    /// A file: the core reads it where it lies, nothing is loaded whole.
    File { file: File, len: u64 },
    /// Standard input, read into memory since it cannot be read twice.
    Memory(Vec<u8>),
}

impl Input {
    /// Reads standard input to its end.
    pub fn read_stdin() -> Result<Self, CliError> {
        let mut bytes = Vec::new();
        io::stdin()
            .lock()
            .read_to_end(&mut bytes)
            .context("reading standard input")?;
        Ok(Self::Memory(bytes))
    }

    /// Opens the file at `path`. A path that cannot be read, or is a directory, is refused.
    pub fn open_file(path: &Path) -> Result<Self, CliError> {
        let doing = || format!("cannot read {}", describe(path, "standard input"));
        let unreadable = |error| CliError::from_path_io(doing(), error);
        let mut file = File::open(path).map_err(unreadable)?;
        let metadata = file.metadata().map_err(unreadable)?;
        if metadata.is_dir() {
            return Err(CliError::Refused(format!("{}: it is a directory", doing())));
        }
        if !metadata.is_file() {
            // A pipe or a device, such as a shell's <(command): it can be read only once, in
            // order, so it is read into memory like standard input.
            let mut bytes = Vec::new();
            file.read_to_end(&mut bytes).map_err(unreadable)?;
            return Ok(Self::Memory(bytes));
        }
        Ok(Self::File {
            file,
            len: metadata.len(),
        })
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

#[cfg(test)]
mod tests {
    use std::fs;

    use rustix::fs::{CWD, FileType, Mode};

    use super::*;

    #[test]
    fn a_directory_is_refused_saying_so() {
        let dir = tempfile::tempdir().unwrap();

        let error = Input::open_file(dir.path()).err().unwrap();

        assert!(matches!(error, CliError::Refused(_)), "{error}");
        assert!(
            error.to_string().ends_with(": it is a directory"),
            "{error}"
        );
    }

    #[test]
    fn a_named_pipe_is_read_into_memory() {
        let dir = tempfile::tempdir().unwrap();
        let pipe = dir.path().join("pipe");
        let mode = Mode::from_raw_mode(0o600);
        rustix::fs::mknodat(CWD, &pipe, FileType::Fifo, mode, 0).unwrap();

        let writer = std::thread::spawn({
            let pipe = pipe.clone();
            move || fs::write(pipe, b"%PDF-1.7 from a pipe").unwrap()
        });
        let input = Input::open_file(&pipe).unwrap();
        writer.join().unwrap();

        assert_eq!(input.as_slice(), Some(&b"%PDF-1.7 from a pipe"[..]));
    }
}
