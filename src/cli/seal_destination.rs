//! Where `pdf-seal seal -o PATH` writes: the file a path leads to once its symbolic links are
//! followed, and the permissions the new content gets.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use rustix::fs::Mode;
use rustix::io::Errno;

use super::{CliError, describe};

/// How many symbolic links in a row are followed, as Linux does before it gives up (ELOOP).
const MAX_LINKS: usize = 40;

/// The permission bits that are carried over to the new content. Set-user-ID, set-group-ID and
/// sticky bits are not: they were given to the old content.
const PERMISSION_BITS: u32 = 0o777;

/// What a destination path names.
#[derive(Debug, PartialEq, Eq)]
pub enum Destination {
    /// A regular file, existing or not: the file at `target` (the path with its symbolic links
    /// followed) is replaced, and the links stay as they are.
    File { target: PathBuf },
    /// An existing device or pipe, such as /dev/null or a named pipe: it is written in place,
    /// since it cannot be replaced by a file.
    Stream,
}

impl Destination {
    /// Follows the symbolic links of `path`. A directory, or a file whose directory is missing,
    /// is refused; `doing` begins the message.
    pub fn resolve(path: &Path, doing: &str) -> Result<Self, CliError> {
        let target = match fs::metadata(path) {
            Ok(metadata) if metadata.is_dir() => {
                return Err(CliError::Refused(format!("{doing}: it is a directory")));
            }
            Ok(metadata) if !metadata.is_file() => return Ok(Self::Stream),
            Ok(_) => fs::canonicalize(path),
            Err(error)
                if matches!(
                    error.kind(),
                    io::ErrorKind::NotFound | io::ErrorKind::NotADirectory
                ) =>
            {
                last_link_target(path)
            }
            Err(error) => Err(error),
        };

        let target = target.map_err(|error| CliError::from_path_io(doing, error))?;
        check_directory(parent_dir(&target), doing)?;
        Ok(Self::File { target })
    }
}

/// The path at the end of the chain of symbolic links that starts at `path`, where nothing
/// exists yet: a new file is made there, as a shell's `>` would do. A path that is not a link
/// is its own end.
fn last_link_target(path: &Path) -> io::Result<PathBuf> {
    let mut current = path.to_path_buf();
    for _ in 0..MAX_LINKS {
        let is_link =
            fs::symlink_metadata(&current).is_ok_and(|meta| meta.file_type().is_symlink());
        if !is_link {
            return Ok(current);
        }
        // A relative link is relative to the directory that holds it.
        let next = fs::read_link(&current)?;
        current = parent_dir(&current).join(next);
    }
    Err(Errno::LOOP.into())
}

/// Refuses `dir` unless it is an existing directory, saying which it is not.
fn check_directory(dir: &Path, doing: &str) -> Result<(), CliError> {
    let shown = describe(dir, "");
    match fs::metadata(dir) {
        Ok(metadata) if metadata.is_dir() => Ok(()),
        Ok(_) => Err(CliError::Refused(format!(
            "{doing}: {shown} is not a directory"
        ))),
        Err(error) if error.kind() == io::ErrorKind::NotFound => Err(CliError::Refused(format!(
            "{doing}: the directory {shown} does not exist"
        ))),
        Err(error) => Err(CliError::from_path_io(doing, error)),
    }
}

/// The directory that holds `path`: `.` for a bare file name.
pub fn parent_dir(path: &Path) -> &Path {
    match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir,
        _ => Path::new("."),
    }
}

/// The permissions the sealed file gets at `target`: those of the file it replaces, or, for a
/// new file, those any new file of this process gets (0666 less the umask).
pub fn mode_for(target: &Path) -> io::Result<u32> {
    use std::os::unix::fs::PermissionsExt as _;

    match fs::metadata(target) {
        Ok(existing) => Ok(existing.permissions().mode() & PERMISSION_BITS),
        Err(error) if error.kind() == io::ErrorKind::NotFound => Ok(0o666 & !umask()),
        Err(error) => Err(error),
    }
}

/// The umask of this process, read once.
///
/// The umask can only be read by setting it, so it is set to the strictest mask (0077) for
/// the moment between the two calls: a file another thread makes then is only more private.
/// The value is kept, so that later calls never change the mask.
#[allow(
    clippy::useless_conversion,
    reason = "the raw mode is a u32 on Linux but a u16 on macOS"
)]
pub fn umask() -> u32 {
    static UMASK: OnceLock<u32> = OnceLock::new();
    *UMASK.get_or_init(|| {
        let previous = rustix::process::umask(Mode::from_raw_mode(0o077));
        rustix::process::umask(previous);
        u32::from(previous.as_raw_mode())
    })
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::{PermissionsExt as _, symlink};

    use super::*;

    fn resolve(path: &Path) -> Result<Destination, CliError> {
        Destination::resolve(path, "cannot write")
    }

    #[test]
    fn a_link_to_a_file_resolves_to_that_file() {
        let dir = tempfile::tempdir().unwrap();
        let real = dir.path().join("real.pdf");
        fs::write(&real, b"old").unwrap();
        symlink("real.pdf", dir.path().join("link.pdf")).unwrap();

        let destination = resolve(&dir.path().join("link.pdf")).unwrap();

        let target = fs::canonicalize(&real).unwrap();
        assert_eq!(destination, Destination::File { target });
    }

    #[test]
    fn a_dangling_link_resolves_to_where_it_points() {
        let dir = tempfile::tempdir().unwrap();
        fs::create_dir(dir.path().join("sub")).unwrap();
        symlink("sub/new.pdf", dir.path().join("link.pdf")).unwrap();
        symlink("link.pdf", dir.path().join("link2.pdf")).unwrap();

        let destination = resolve(&dir.path().join("link2.pdf")).unwrap();

        let target = dir.path().join("sub/new.pdf");
        assert_eq!(destination, Destination::File { target });
    }

    #[test]
    fn a_device_is_a_stream_and_a_directory_is_refused() {
        let dir = tempfile::tempdir().unwrap();

        let device = resolve(Path::new("/dev/null")).unwrap();
        let directory = resolve(dir.path()).unwrap_err();

        assert_eq!(device, Destination::Stream);
        assert!(
            directory.to_string().ends_with("it is a directory"),
            "{directory}"
        );
    }

    #[test]
    fn a_link_loop_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        symlink("b", dir.path().join("a")).unwrap();
        symlink("a", dir.path().join("b")).unwrap();

        let error = resolve(&dir.path().join("a")).unwrap_err();

        assert!(matches!(error, CliError::Refused(_)), "{error}");
    }

    #[test]
    fn an_existing_file_keeps_its_permission_bits() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f.pdf");
        fs::write(&path, b"x").unwrap();
        fs::set_permissions(&path, fs::Permissions::from_mode(0o4640)).unwrap();

        assert_eq!(mode_for(&path).unwrap(), 0o640);
    }

    #[test]
    fn a_new_file_gets_0666_less_the_umask() {
        let dir = tempfile::tempdir().unwrap();

        let mode = mode_for(&dir.path().join("new.pdf")).unwrap();

        assert_eq!(mode, 0o666 & !umask());
    }
}
