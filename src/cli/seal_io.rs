//! The input and output of `pdf-seal seal`: a file is hashed where it lies, and the output
//! appears whole or not at all.

use std::fs::{File, Permissions};
use std::io::{self, Read as _, Seek as _, SeekFrom, Write};
use std::os::unix::fs::PermissionsExt as _;
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
    fn copy_to(&self, out: &mut impl Write) -> anyhow::Result<u64> {
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
    fn len(&self) -> u64 {
        match self {
            Self::File { file, .. } => file.len(),
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

/// Writes the input followed by `increment` to `output` (`-` for standard output) and
/// returns the number of bytes written.
///
/// A file output is written to a temporary file beside it (the input is copied with
/// `std::io::copy`, which lets Linux copy file to file in the kernel), synced, then renamed
/// over `output`: readers see the old file or the whole new one, and a failure leaves no
/// output behind. The input may be the output itself.
pub fn write_output(input: &Input, increment: &[u8], output: &Path) -> Result<u64, CliError> {
    if output == Path::new("-") {
        let mut stdout = io::stdout().lock();
        let copied = input.copy_to(&mut stdout)?;
        stdout
            .write_all(increment)
            .and_then(|()| stdout.flush())
            .context("writing standard output")?;
        return Ok(copied + increment.len() as u64);
    }

    let dir = match output.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir,
        _ => Path::new("."),
    };
    let context = || format!("writing {}", output.display());
    let mut temporary = tempfile::Builder::new()
        .prefix(".pdf-seal-")
        .suffix(".partial")
        .permissions(Permissions::from_mode(0o666))
        .tempfile_in(dir)
        .with_context(context)?;

    let copied = input
        .copy_to(temporary.as_file_mut())
        .with_context(context)?;
    temporary.write_all(increment).with_context(context)?;
    temporary.as_file().sync_all().with_context(context)?;
    temporary
        .persist(output)
        .map_err(|error| error.error)
        .with_context(context)?;
    File::open(dir)
        .and_then(|handle| handle.sync_all())
        .with_context(context)?;
    Ok(copied + increment.len() as u64)
}

/// How a path is shown in messages: `-` as `stdio_name`.
pub fn describe(path: &Path, stdio_name: &str) -> String {
    match path == Path::new("-") {
        true => stdio_name.to_owned(),
        false => path.display().to_string(),
    }
}

#[cfg(test)]
mod tests {
    use std::fs;

    use super::*;

    fn file_input(dir: &Path, bytes: &[u8]) -> (Input, std::path::PathBuf) {
        let path = dir.join("in.pdf");
        fs::write(&path, bytes).unwrap();
        (Input::open(&path).unwrap(), path)
    }

    #[test]
    fn the_output_is_the_input_followed_by_the_increment() {
        let dir = tempfile::tempdir().unwrap();
        let (input, _) = file_input(dir.path(), b"%PDF-1.7 original");
        let output = dir.path().join("out.pdf");

        let written = write_output(&input, b" increment", &output).unwrap();

        assert_eq!(fs::read(&output).unwrap(), b"%PDF-1.7 original increment");
        assert_eq!(written, 27);
        assert_eq!(
            fs::read_dir(dir.path()).unwrap().count(),
            2,
            "a temporary file is left"
        );
    }

    #[test]
    fn a_file_can_be_sealed_in_place() {
        let dir = tempfile::tempdir().unwrap();
        let (input, path) = file_input(dir.path(), b"%PDF-1.7 original");

        write_output(&input, b" increment", &path).unwrap();

        assert_eq!(fs::read(&path).unwrap(), b"%PDF-1.7 original increment");
    }

    #[test]
    fn a_failed_write_leaves_no_output() {
        let dir = tempfile::tempdir().unwrap();
        let (input, _) = file_input(dir.path(), b"%PDF-1.7");
        let output = dir.path().join("out.pdf");
        fs::create_dir(&output).unwrap();

        let result = write_output(&input, b" increment", &output);

        assert!(result.is_err());
        let names: Vec<_> = fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names.len(), 2, "{names:?}");
    }

    #[test]
    fn an_input_that_changed_since_sealing_is_not_written() {
        let dir = tempfile::tempdir().unwrap();
        let (input, path) = file_input(dir.path(), b"%PDF-1.7");
        fs::OpenOptions::new()
            .append(true)
            .open(&path)
            .unwrap()
            .write_all(b"more")
            .unwrap();
        let output = dir.path().join("out.pdf");

        let error = write_output(&input, b" increment", &output).unwrap_err();

        assert!(error.to_string().contains("changed"), "{error}");
        assert!(!output.exists());
    }
}
