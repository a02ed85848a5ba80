//! Development credentials on disk: the files `dev-cert` writes and the set that `seal` and
//! `serve` make once in the state directory when no key is configured.

use std::fs::{self, DirBuilder, File, Permissions};
use std::io::{self, Write};
use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
use std::path::{Path, PathBuf};

use pdf_seal_core::signer::SignerError;
use pdf_seal_core::signer::dev::DevCredentials;

/// The development root CA certificate.
pub const ROOT_FILE: &str = "root-ca.pem";
/// The seal certificate followed by the root CA certificate.
pub const CHAIN_FILE: &str = "seal-chain.pem";
/// The seal key, readable by its owner only.
pub const KEY_FILE: &str = "seal-key.pem";
/// The directory under the state directory that holds the development credentials.
pub const STATE_SUBDIR: &str = "dev-cert";

/// Why development credentials could not be made, written or found.
#[derive(Debug, thiserror::Error)]
pub enum DevCredentialsError {
    #[error("making development credentials: {0}")]
    Generate(#[source] SignerError),
    #[error("{path}: {source}")]
    Io { path: PathBuf, source: io::Error },
    #[error("{path} already exists; pass --force to replace it")]
    Exists { path: PathBuf },
    #[error("{dir} has no {missing}: delete the directory to make new development credentials")]
    Incomplete { dir: PathBuf, missing: &'static str },
}

/// The directory that holds the three development credential files.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DevCredentialFiles {
    /// The directory itself.
    pub dir: PathBuf,
}

impl DevCredentialFiles {
    /// `root-ca.pem`: the development root CA certificate.
    pub fn root_certificate(&self) -> PathBuf {
        self.dir.join(ROOT_FILE)
    }

    /// `seal-chain.pem`: the seal certificate, then the root.
    pub fn chain(&self) -> PathBuf {
        self.dir.join(CHAIN_FILE)
    }

    /// `seal-key.pem`: the seal key, mode 0600.
    pub fn key(&self) -> PathBuf {
        self.dir.join(KEY_FILE)
    }
}

/// Writes the three files into `dir`, creating it when missing. Each file is written to a
/// temporary name and renamed, so a reader never sees half a file; the key gets mode 0600.
/// Existing files are replaced only when `overwrite` is set.
pub fn write_files(
    dir: &Path,
    credentials: &DevCredentials,
    overwrite: bool,
) -> Result<DevCredentialFiles, DevCredentialsError> {
    let files = DevCredentialFiles {
        dir: dir.to_path_buf(),
    };
    let contents = [
        (
            files.root_certificate(),
            &credentials.root_certificate_pem,
            0o644,
        ),
        (files.chain(), &credentials.chain_pem, 0o644),
        (files.key(), &credentials.key_pem, 0o600),
    ];

    fs::create_dir_all(dir).map_err(io_error(dir))?;
    let existing = contents.iter().find(|(path, ..)| path.exists());
    if let (false, Some((path, ..))) = (overwrite, existing) {
        return Err(DevCredentialsError::Exists { path: path.clone() });
    }

    for (path, text, mode) in &contents {
        write_atomically(path, text.as_bytes(), *mode, overwrite)?;
    }
    Ok(files)
}

/// The development credentials under `state_dir/dev-cert/`, made with `generate` when they do
/// not exist yet, reused afterwards. Returns them and whether they were made now.
///
/// The three files are written into a temporary directory beside `dev-cert` that is then
/// renamed to it. A rename onto a directory that is not empty fails, so when two processes
/// start at once, one set wins whole and the other process uses it.
pub fn ensure_in_state_dir(
    state_dir: &Path,
    generate: impl FnOnce() -> Result<DevCredentials, SignerError>,
) -> Result<(DevCredentialFiles, bool), DevCredentialsError> {
    let files = DevCredentialFiles {
        dir: state_dir.join(STATE_SUBDIR),
    };
    if complete(&files)? {
        return Ok((files, false));
    }

    DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(state_dir)
        .map_err(io_error(state_dir))?;
    let credentials = generate().map_err(DevCredentialsError::Generate)?;
    let staging = tempfile::Builder::new()
        .prefix(".dev-cert-")
        .tempdir_in(state_dir)
        .map_err(io_error(state_dir))?;
    write_files(staging.path(), &credentials, false)?;

    match fs::rename(staging.path(), &files.dir) {
        Ok(()) => {
            // The staging directory is now `dev-cert`: it must not be deleted on drop.
            let _ = staging.keep();
            sync_dir(state_dir)?;
            Ok((files, true))
        }
        Err(error) if lost_the_race(&error) => match complete(&files)? {
            true => Ok((files, false)),
            false => Err(io_error(&files.dir)(error)),
        },
        Err(error) => Err(io_error(&files.dir)(error)),
    }
}

/// True when all three files are present, false when the directory is absent or empty.
fn complete(files: &DevCredentialFiles) -> Result<bool, DevCredentialsError> {
    let present = [
        (files.root_certificate(), ROOT_FILE),
        (files.chain(), CHAIN_FILE),
        (files.key(), KEY_FILE),
    ]
    .map(|(path, name)| (path.is_file(), name));

    if present.iter().all(|(found, _)| *found) {
        return Ok(true);
    }
    let empty = match fs::read_dir(&files.dir) {
        Ok(mut entries) => entries.next().is_none(),
        Err(error) if error.kind() == io::ErrorKind::NotFound => true,
        Err(error) => return Err(io_error(&files.dir)(error)),
    };
    match present.iter().find(|(found, _)| !found) {
        Some((_, missing)) if !empty => Err(DevCredentialsError::Incomplete {
            dir: files.dir.clone(),
            missing,
        }),
        _ => Ok(false),
    }
}

fn lost_the_race(error: &io::Error) -> bool {
    matches!(
        error.kind(),
        io::ErrorKind::DirectoryNotEmpty | io::ErrorKind::AlreadyExists
    )
}

fn write_atomically(
    path: &Path,
    bytes: &[u8],
    mode: u32,
    overwrite: bool,
) -> Result<(), DevCredentialsError> {
    let dir = path.parent().unwrap_or(Path::new("."));
    let mut file = tempfile::Builder::new()
        .prefix(".pdf-seal-")
        .permissions(Permissions::from_mode(mode))
        .tempfile_in(dir)
        .map_err(io_error(dir))?;

    file.write_all(bytes).map_err(io_error(path))?;
    file.as_file().sync_all().map_err(io_error(path))?;
    let persisted = match overwrite {
        true => file.persist(path).map(drop),
        false => file.persist_noclobber(path).map(drop),
    };
    persisted.map_err(|error| io_error(path)(error.error))?;
    sync_dir(dir)
}

fn sync_dir(dir: &Path) -> Result<(), DevCredentialsError> {
    File::open(dir)
        .and_then(|handle| handle.sync_all())
        .map_err(io_error(dir))
}

fn io_error(path: &Path) -> impl FnOnce(io::Error) -> DevCredentialsError + '_ {
    move |source| DevCredentialsError::Io {
        path: path.to_path_buf(),
        source,
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Barrier;
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::*;

    fn fake_credentials(tag: &str) -> DevCredentials {
        DevCredentials {
            root_certificate_pem: format!("root {tag}\n"),
            chain_pem: format!("chain {tag}\n"),
            key_pem: format!("key {tag}\n"),
        }
    }

    fn mode(path: &Path) -> u32 {
        fs::metadata(path).unwrap().permissions().mode() & 0o777
    }

    #[test]
    fn writes_the_three_files_with_a_private_key() {
        let dir = tempfile::tempdir().unwrap();

        let files = write_files(&dir.path().join("out"), &fake_credentials("a"), false).unwrap();

        assert_eq!(
            fs::read_to_string(files.root_certificate()).unwrap(),
            "root a\n"
        );
        assert_eq!(fs::read_to_string(files.chain()).unwrap(), "chain a\n");
        assert_eq!(fs::read_to_string(files.key()).unwrap(), "key a\n");
        assert_eq!(mode(&files.key()), 0o600);
    }

    #[test]
    fn refuses_to_replace_existing_files_unless_told_to() {
        let dir = tempfile::tempdir().unwrap();
        write_files(dir.path(), &fake_credentials("a"), false).unwrap();

        let refused = write_files(dir.path(), &fake_credentials("b"), false);
        let replaced = write_files(dir.path(), &fake_credentials("b"), true).unwrap();

        assert!(matches!(refused, Err(DevCredentialsError::Exists { .. })));
        assert_eq!(fs::read_to_string(replaced.key()).unwrap(), "key b\n");
        assert_eq!(mode(&replaced.key()), 0o600);
    }

    #[test]
    fn development_credentials_are_made_once_and_reused() {
        let state = tempfile::tempdir().unwrap();

        let (first, made) =
            ensure_in_state_dir(state.path(), || Ok(fake_credentials("a"))).unwrap();
        assert!(made);
        let (second, made_again) =
            ensure_in_state_dir(state.path(), || panic!("must not generate again")).unwrap();

        assert!(!made_again);
        assert_eq!(first, second);
        assert_eq!(fs::read_to_string(second.key()).unwrap(), "key a\n");
    }

    #[test]
    fn two_processes_starting_at_once_end_with_one_whole_set() {
        let state = tempfile::tempdir().unwrap();
        let barrier = Barrier::new(8);
        let made = AtomicUsize::new(0);

        std::thread::scope(|scope| {
            for n in 0..8 {
                let (state, barrier, made) = (state.path(), &barrier, &made);
                scope.spawn(move || {
                    let generate = || {
                        barrier.wait();
                        Ok(fake_credentials(&n.to_string()))
                    };
                    let (_, created) = ensure_in_state_dir(state, generate).unwrap();
                    made.fetch_add(usize::from(created), Ordering::SeqCst);
                });
            }
        });

        let dir = state.path().join(STATE_SUBDIR);
        let tag = fs::read_to_string(dir.join(KEY_FILE))
            .unwrap()
            .replace("key ", "");
        assert_eq!(made.load(Ordering::SeqCst), 1);
        assert_eq!(
            fs::read_to_string(dir.join(CHAIN_FILE)).unwrap(),
            format!("chain {tag}")
        );
        assert_eq!(
            fs::read_dir(state.path()).unwrap().count(),
            1,
            "staging dirs left over"
        );
    }

    #[test]
    fn an_incomplete_set_is_refused_rather_than_replaced() {
        let state = tempfile::tempdir().unwrap();
        let (files, _) = ensure_in_state_dir(state.path(), || Ok(fake_credentials("a"))).unwrap();
        fs::remove_file(files.chain()).unwrap();

        let error = ensure_in_state_dir(state.path(), || Ok(fake_credentials("b"))).unwrap_err();

        assert!(matches!(
            error,
            DevCredentialsError::Incomplete {
                missing: CHAIN_FILE,
                ..
            }
        ));
    }

    #[test]
    fn a_generator_failure_leaves_nothing_behind() {
        let state = tempfile::tempdir().unwrap();

        let result = ensure_in_state_dir(state.path(), || {
            Err(SignerError::Failed("no entropy".into()))
        });

        assert!(matches!(result, Err(DevCredentialsError::Generate(_))));
        assert_eq!(fs::read_dir(state.path()).unwrap().count(), 0);
    }
}
