//! The output of `pdf-seal seal`: a file appears whole or not at all, with the permissions
//! of the file it replaces.

use std::fs::{File, OpenOptions, Permissions};
use std::io::{self, Write};
use std::os::unix::fs::PermissionsExt as _;
use std::path::{Path, PathBuf};

use anyhow::Context as _;
use tempfile::NamedTempFile;

use super::interrupt::{PartialOutput, Tracked};
use super::seal_destination::{Destination, mode_for, parent_dir};
use super::seal_input::Input;
use super::{CliError, describe};

/// Where the sealed document goes.
pub enum Output {
    /// Standard output (`-`).
    Stdout,
    /// A device or a pipe named on the command line, written in place like standard output.
    Stream { file: File, path: PathBuf },
    /// A regular file, replaced whole or not at all.
    File(Replacement),
}

/// A regular file being replaced: a temporary file beside it, readable by the owner only,
/// renamed over it once complete. Dropping it unfinished deletes the temporary file, and so
/// does SIGINT or SIGTERM (see [`super::interrupt`]).
pub struct Replacement {
    temporary: NamedTempFile,
    /// The temporary file, as the signal handler knows it.
    tracked: Tracked,
    /// The path as the user gave it, for messages.
    path: PathBuf,
    /// The file it leads to through its symbolic links: the one replaced.
    target: PathBuf,
    /// How many bytes of the input are already in the temporary file, synced.
    prefix: Option<u64>,
}

impl Output {
    /// Prepares `path` (`-` for standard output). The temporary file is made now, before
    /// anything is signed, so that an unwritable destination costs no signature.
    ///
    /// When `path` is a symbolic link, the file it leads to is replaced and the link kept.
    /// The temporary file, a full copy of the document, is made with mode 0600; it gets its
    /// final permissions only when complete, just before it takes the destination's place.
    /// The temporary file is recorded in `partial`, for the signal handler to remove.
    pub fn create(path: &Path, partial: &PartialOutput) -> Result<Self, CliError> {
        if path == Path::new("-") {
            return Ok(Self::Stdout);
        }

        let doing = writing(path);
        let target = match Destination::resolve(path, &doing)? {
            Destination::File { target } => target,
            Destination::Stream => {
                let file = OpenOptions::new().write(true).open(path);
                let file = file.map_err(|error| CliError::from_path_io(&doing, error))?;
                let path = path.to_path_buf();
                return Ok(Self::Stream { file, path });
            }
        };
        let temporary = tempfile::Builder::new()
            .prefix(".pdf-seal-")
            .suffix(".partial")
            .permissions(Permissions::from_mode(0o600))
            .tempfile_in(parent_dir(&target))
            .map_err(|error| CliError::from_path_io(&doing, error))?;

        Ok(Self::File(Replacement {
            tracked: partial.track(temporary.path()),
            temporary,
            path: path.to_path_buf(),
            target,
            prefix: None,
        }))
    }

    /// Copies the input into the temporary file and syncs it. It needs nothing from the seal,
    /// so the command runs it beside the sealing, which keeps a large seal close to the cost of
    /// one hash of the file. Standard output and streams are only written once the seal
    /// exists, so that a refusal writes nothing.
    pub fn write_prefix(&mut self, input: &Input) -> Result<(), CliError> {
        let Self::File(replacement) = self else {
            return Ok(());
        };
        let path = &replacement.path;
        let file = replacement.temporary.as_file_mut();

        let copied = input.copy_to(file).with_context(|| writing(path))?;
        let synced = file.sync_data();
        synced.map_err(|error| CliError::from_path_io(writing(path), error))?;
        replacement.prefix = Some(copied);
        Ok(())
    }

    /// Writes the input followed by `increment` and returns the number of bytes written.
    ///
    /// For a file, the input is copied with `std::io::copy` (which lets Linux copy file to
    /// file in the kernel) unless [`Output::write_prefix`] did it, the increment appended, the
    /// permissions set (see [`mode_for`]), the file synced and renamed over the destination:
    /// readers see the old file or the whole new one, and a failure leaves no output behind.
    /// The input may be the destination itself.
    pub fn finish(self, input: &Input, increment: &[u8]) -> Result<u64, CliError> {
        match self {
            Self::Stdout => {
                let written = write_stream(&mut io::stdout().lock(), input, increment);
                written
                    .context("writing standard output")
                    .map_err(Into::into)
            }
            Self::Stream { mut file, path } => {
                let written = write_stream(&mut file, input, increment);
                written.with_context(|| writing(&path)).map_err(Into::into)
            }
            Self::File(replacement) => replacement.finish(input, increment),
        }
    }
}

impl Replacement {
    fn finish(self, input: &Input, increment: &[u8]) -> Result<u64, CliError> {
        let Self {
            mut temporary,
            tracked,
            path,
            target,
            prefix,
        } = self;
        let copied = match prefix {
            Some(copied) => copied,
            None => input
                .copy_to(temporary.as_file_mut())
                .with_context(|| writing(&path))?,
        };
        let failed = |error| CliError::from_path_io(writing(&path), error);
        temporary.write_all(increment).map_err(failed)?;

        let mode = mode_for(&target).map_err(failed)?;
        let file = temporary.as_file();
        file.set_permissions(Permissions::from_mode(mode))
            .map_err(failed)?;
        file.sync_all().map_err(failed)?;
        tracked
            .settle(|| temporary.persist(&target))
            .map_err(|error| failed(error.error))?;
        File::open(parent_dir(&target))
            .and_then(|dir| dir.sync_all())
            .map_err(failed)?;
        Ok(copied + increment.len() as u64)
    }
}

/// Writes the input and `increment` to `out`.
fn write_stream(out: &mut impl Write, input: &Input, increment: &[u8]) -> anyhow::Result<u64> {
    let copied = input.copy_to(out)?;
    out.write_all(increment)?;
    out.flush()?;
    Ok(copied + increment.len() as u64)
}

/// What the messages about writing `path` start with.
fn writing(path: &Path) -> String {
    format!("cannot write {}", describe(path, "standard output"))
}

#[cfg(test)]
mod tests {
    use std::fs;
    use std::os::unix::fs::symlink;

    use rustix::fs::{CWD, FileType, Mode};

    use super::*;
    use crate::cli::seal_destination::umask;

    fn mode_of(path: &Path) -> u32 {
        fs::metadata(path).unwrap().permissions().mode() & 0o7777
    }

    fn seal_into(output: &Path, input: &Input) {
        Output::create(output, &PartialOutput::default())
            .and_then(|out| out.finish(input, b" increment"))
            .unwrap();
    }

    fn file_input(dir: &Path, bytes: &[u8]) -> (Input, std::path::PathBuf) {
        let path = dir.join("in.pdf");
        fs::write(&path, bytes).unwrap();
        (Input::open_file(&path).unwrap(), path)
    }

    #[test]
    fn the_output_is_the_input_followed_by_the_increment() {
        let dir = tempfile::tempdir().unwrap();
        let (input, _) = file_input(dir.path(), b"%PDF-1.7 original");
        let output = dir.path().join("out.pdf");

        let written = Output::create(&output, &PartialOutput::default())
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

        Output::create(&path, &PartialOutput::default())
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

        let result = Output::create(&output, &PartialOutput::default())
            .and_then(|out| out.finish(&input, b" increment"));

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

        let result = Output::create(
            &dir.path().join("missing/out.pdf"),
            &PartialOutput::default(),
        );

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

        let error = Output::create(&output, &PartialOutput::default())
            .and_then(|out| out.finish(&input, b" increment"))
            .unwrap_err();

        assert!(error.to_string().contains("changed"), "{error}");
        assert!(!output.exists());
    }

    #[test]
    fn the_temporary_file_is_readable_by_the_owner_only() {
        let dir = tempfile::tempdir().unwrap();

        let output =
            Output::create(&dir.path().join("out.pdf"), &PartialOutput::default()).unwrap();

        let Output::File(replacement) = &output else {
            panic!("a file destination")
        };
        assert_eq!(mode_of(replacement.temporary.path()), 0o600);
    }

    #[test]
    fn a_replaced_file_keeps_its_mode() {
        let dir = tempfile::tempdir().unwrap();
        let (input, _) = file_input(dir.path(), b"%PDF-1.7");
        let output = dir.path().join("out.pdf");
        fs::write(&output, b"old").unwrap();
        fs::set_permissions(&output, Permissions::from_mode(0o640)).unwrap();

        seal_into(&output, &input);

        assert_eq!(mode_of(&output), 0o640);
    }

    #[test]
    fn a_file_sealed_in_place_keeps_its_mode() {
        let dir = tempfile::tempdir().unwrap();
        let (input, path) = file_input(dir.path(), b"%PDF-1.7");
        fs::set_permissions(&path, Permissions::from_mode(0o600)).unwrap();

        seal_into(&path, &input);

        assert_eq!(mode_of(&path), 0o600);
    }

    #[test]
    fn a_new_file_gets_0666_less_the_umask() {
        let dir = tempfile::tempdir().unwrap();
        let (input, _) = file_input(dir.path(), b"%PDF-1.7");
        let output = dir.path().join("new.pdf");

        seal_into(&output, &input);

        assert_eq!(mode_of(&output), 0o666 & !umask());
    }

    #[test]
    fn a_symbolic_link_is_kept_and_the_file_it_leads_to_replaced() {
        let dir = tempfile::tempdir().unwrap();
        let (input, _) = file_input(dir.path(), b"%PDF-1.7");
        fs::create_dir(dir.path().join("real")).unwrap();
        let real = dir.path().join("real/out.pdf");
        fs::write(&real, b"old").unwrap();
        fs::set_permissions(&real, Permissions::from_mode(0o640)).unwrap();
        let link = dir.path().join("out.pdf");
        symlink("real/out.pdf", &link).unwrap();

        seal_into(&link, &input);

        assert_eq!(fs::read_link(&link).unwrap(), Path::new("real/out.pdf"));
        assert_eq!(fs::read(&real).unwrap(), b"%PDF-1.7 increment");
        assert_eq!(mode_of(&real), 0o640);
        assert_eq!(fs::read_dir(dir.path().join("real")).unwrap().count(), 1);
    }

    #[test]
    fn a_named_pipe_is_written_in_place() {
        let dir = tempfile::tempdir().unwrap();
        let (input, _) = file_input(dir.path(), b"%PDF-1.7");
        let pipe = dir.path().join("pipe");
        let mode = Mode::from_raw_mode(0o600);
        rustix::fs::mknodat(CWD, &pipe, FileType::Fifo, mode, 0).unwrap();

        let reader = std::thread::spawn({
            let pipe = pipe.clone();
            move || fs::read(pipe).unwrap()
        });
        seal_into(&pipe, &input);

        assert_eq!(reader.join().unwrap(), b"%PDF-1.7 increment");
        let file_type = fs::symlink_metadata(&pipe).unwrap().file_type();
        assert!(std::os::unix::fs::FileTypeExt::is_fifo(&file_type));
    }
}
