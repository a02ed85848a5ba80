//! The output of `pdf-seal seal`: it appears whole or not at all.

use std::fs::{self, File, Permissions};
use std::io::{self, Write};
use std::os::unix::fs::PermissionsExt as _;
use std::path::{Path, PathBuf};

use anyhow::Context as _;
use tempfile::NamedTempFile;

use super::seal_input::Input;
use super::{CliError, describe};

/// Where the sealed document goes: standard output, or a file that appears whole or not at
/// all.
pub enum Output {
    Stdout,
    /// A temporary file beside `path`, renamed over it once complete; dropping it unfinished
    /// deletes it.
    File {
        temporary: NamedTempFile,
        path: PathBuf,
        /// How many bytes of the input are already in the temporary file, synced.
        prefix: Option<u64>,
    },
}

impl Output {
    /// Prepares `path` (`-` for standard output). The temporary file is made now, before
    /// anything is signed, so that an unwritable destination costs no signature.
    pub fn create(path: &Path) -> Result<Self, CliError> {
        if path == Path::new("-") {
            return Ok(Self::Stdout);
        }

        let doing = writing(path);
        check_destination(path, &doing)?;
        let temporary = tempfile::Builder::new()
            .prefix(".pdf-seal-")
            .suffix(".partial")
            .permissions(Permissions::from_mode(0o666))
            .tempfile_in(parent_dir(path))
            .map_err(|error| CliError::from_path_io(&doing, error))?;
        Ok(Self::File {
            temporary,
            path: path.to_path_buf(),
            prefix: None,
        })
    }

    /// Copies the input into the temporary file and syncs it. It needs nothing from the seal,
    /// so the command runs it beside the sealing, which keeps a large seal close to the cost of
    /// one hash of the file. Standard output is only written once the seal exists, so that a
    /// refusal writes nothing.
    pub fn write_prefix(&mut self, input: &Input) -> Result<(), CliError> {
        let Self::File {
            temporary,
            path,
            prefix,
        } = self
        else {
            return Ok(());
        };
        let copied = input
            .copy_to(temporary.as_file_mut())
            .with_context(|| writing(path))?;
        let synced = temporary.as_file().sync_data();
        synced.map_err(|error| CliError::from_path_io(writing(path), error))?;
        *prefix = Some(copied);
        Ok(())
    }

    /// Writes the input followed by `increment` and returns the number of bytes written.
    ///
    /// For a file, the input is copied with `std::io::copy` (which lets Linux copy file to
    /// file in the kernel) unless [`Output::write_prefix`] did it, the increment appended, the file synced and renamed over the
    /// destination: readers see the old file or the whole new one, and a failure leaves no
    /// output behind. The input may be the destination itself.
    pub fn finish(self, input: &Input, increment: &[u8]) -> Result<u64, CliError> {
        let (mut temporary, path, prefix) = match self {
            Self::Stdout => return write_stdout(input, increment),
            Self::File {
                temporary,
                path,
                prefix,
            } => (temporary, path, prefix),
        };

        let copied = match prefix {
            Some(copied) => copied,
            None => input
                .copy_to(temporary.as_file_mut())
                .with_context(|| writing(&path))?,
        };
        let failed = |error| CliError::from_path_io(writing(&path), error);
        temporary.write_all(increment).map_err(failed)?;
        temporary.as_file().sync_all().map_err(failed)?;
        temporary
            .persist(&path)
            .map_err(|error| failed(error.error))?;
        File::open(parent_dir(&path))
            .and_then(|dir| dir.sync_all())
            .map_err(failed)?;
        Ok(copied + increment.len() as u64)
    }
}

fn write_stdout(input: &Input, increment: &[u8]) -> Result<u64, CliError> {
    let mut stdout = io::stdout().lock();
    let copied = input.copy_to(&mut stdout)?;
    stdout
        .write_all(increment)
        .and_then(|()| stdout.flush())
        .context("writing standard output")?;
    Ok(copied + increment.len() as u64)
}

/// What the messages about writing `path` start with.
fn writing(path: &Path) -> String {
    format!("cannot write {}", describe(path, "standard output"))
}

/// Refuses a destination that is a directory, or whose directory is missing, before anything
/// is signed and with a message that says which.
fn check_destination(path: &Path, doing: &str) -> Result<(), CliError> {
    if fs::metadata(path).is_ok_and(|metadata| metadata.is_dir()) {
        return Err(CliError::Refused(format!("{doing}: it is a directory")));
    }

    let dir = parent_dir(path);
    match fs::metadata(dir) {
        Ok(metadata) if metadata.is_dir() => Ok(()),
        Ok(_) => Err(CliError::Refused(format!(
            "{doing}: {} is not a directory",
            describe(dir, "")
        ))),
        Err(error) if error.kind() == io::ErrorKind::NotFound => Err(CliError::Refused(format!(
            "{doing}: the directory {} does not exist",
            describe(dir, "")
        ))),
        Err(error) => Err(CliError::from_path_io(doing, error)),
    }
}

fn parent_dir(path: &Path) -> &Path {
    match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir,
        _ => Path::new("."),
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

        let written = Output::create(&output)
            .and_then(|out| out.finish(&input, b" increment"))
            .unwrap();

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

        Output::create(&path)
            .unwrap()
            .finish(&input, b" increment")
            .unwrap();

        assert_eq!(fs::read(&path).unwrap(), b"%PDF-1.7 original increment");
    }

    #[test]
    fn a_failed_write_leaves_no_output() {
        let dir = tempfile::tempdir().unwrap();
        let (input, _) = file_input(dir.path(), b"%PDF-1.7");
        let output = dir.path().join("out.pdf");
        fs::create_dir(&output).unwrap();

        let result = Output::create(&output).and_then(|out| out.finish(&input, b" increment"));

        assert!(result.is_err());
        let names: Vec<_> = fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names.len(), 2, "{names:?}");
    }

    #[test]
    fn a_destination_in_a_missing_directory_fails_before_sealing() {
        let dir = tempfile::tempdir().unwrap();

        let result = Output::create(&dir.path().join("missing/out.pdf"));

        assert!(result.is_err());
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

        let error = Output::create(&output)
            .and_then(|out| out.finish(&input, b" increment"))
            .unwrap_err();

        assert!(error.to_string().contains("changed"), "{error}");
        assert!(!output.exists());
    }
}
