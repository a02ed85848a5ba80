//! Function keys: shared secrets in the `x-functions-key` header or the `code` query
//! parameter, as the Azure Functions host takes them, for hosts without that host in front.

use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock, RwLockReadGuard, Weak};
use std::time::Duration;

use sha2::{Digest as _, Sha256};
use subtle::ConstantTimeEq as _;

use crate::config::keys_file::{self, KeysFileContent};
use crate::config::{FunctionKeySettings, Secret};

/// How often the keys file is read again.
const FILE_CHECK_INTERVAL: Duration = Duration::from_secs(5);

/// A key as it is kept: its SHA-256, so that every comparison takes the same time whatever
/// the lengths, and no key sits in memory in the clear longer than needed.
#[derive(Clone, Copy, PartialEq, Eq)]
struct KeyDigest([u8; 32]);

impl KeyDigest {
    fn of(key: &str) -> Self {
        Self(Sha256::digest(key.as_bytes()).into())
    }

    /// The first 4 bytes in hex: enough to tell keys apart in the log during a rotation, too
    /// little to help guess one.
    fn id(&self) -> String {
        hex::encode(&self.0[..4])
    }
}

/// The configured keys: those of `PDF_SEAL_FUNCTION_KEYS`, and those of the keys file as it
/// was last read.
pub struct FunctionKeys {
    fixed: Vec<KeyDigest>,
    file: Option<Arc<KeysFile>>,
}

/// The keys file and what it held when last read. A thread of its own reads it every
/// [`FILE_CHECK_INTERVAL`], so that no request ever waits on the file system.
struct KeysFile {
    path: PathBuf,
    state: RwLock<FileState>,
}

#[derive(Default)]
struct FileState {
    keys: Vec<KeyDigest>,
    /// The SHA-256 of the file's content when it was last used.
    digest: Option<[u8; 32]>,
}

impl FunctionKeys {
    /// The keys of `settings`. A keys file is read now and then every few seconds by a
    /// thread that ends when these keys are dropped.
    pub fn new(settings: &FunctionKeySettings) -> Self {
        let fixed = settings
            .keys
            .iter()
            .map(|key| KeyDigest::of(key.expose()))
            .collect();
        let file = settings.file.clone().map(|path| {
            let file = Arc::new(KeysFile {
                path,
                state: RwLock::new(FileState::default()),
            });
            file.reload();
            watch(Arc::downgrade(&file));
            file
        });
        Self { fixed, file }
    }

    /// The id of the key equal to `presented` (see [`KeyDigest::id`]), or `None`. Every key
    /// is compared, in constant time, whichever matches.
    pub fn check(&self, presented: &Secret) -> Option<String> {
        let digest = KeyDigest::of(presented.expose());
        let state = self.file.as_ref().map(|file| file.state());
        let file_keys = state.as_ref().map_or(&[][..], |state| &state.keys[..]);

        let mut matched = subtle::Choice::from(0);
        for key in self.fixed.iter().chain(file_keys) {
            matched |= key.0.ct_eq(&digest.0);
        }
        bool::from(matched).then(|| digest.id())
    }

    /// Reads the keys file again now, as its thread does every few seconds; for tests.
    pub fn reload_file(&self) {
        if let Some(file) = &self.file {
            file.reload();
        }
    }
}

/// Starts the thread that reads the keys file every [`FILE_CHECK_INTERVAL`] while `file` is
/// in use. A thread failure to start leaves the keys read at start, and says so.
fn watch(file: Weak<KeysFile>) {
    let started = std::thread::Builder::new()
        .name("pdf-seal-keys".to_owned())
        .spawn(move || {
            loop {
                std::thread::sleep(FILE_CHECK_INTERVAL);
                match file.upgrade() {
                    Some(file) => file.reload(),
                    None => break,
                }
            }
        });
    if let Err(error) = started {
        tracing::error!(error.cause = %error, "function keys file will not be read again");
    }
}

impl KeysFile {
    /// What the file held when last read, for the time of one comparison.
    fn state(&self) -> RwLockReadGuard<'_, FileState> {
        self.state
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Reads the file and, when its content changed, takes its keys.
    ///
    /// The file is the list of valid keys: a line that is not a valid key is skipped with a
    /// warning, and a file with no valid key admits no key (an error in the log), so that
    /// removing a key from the file always revokes it. A file that cannot be read at all (gone,
    /// unreadable, not a regular file) keeps the keys read last, since its content is unknown.
    fn reload(&self) {
        let content = match keys_file::read(&self.path) {
            Ok(content) => content,
            Err(reason) => {
                tracing::warn!(
                    auth.keys_file = %self.path.display(),
                    error.cause = reason,
                    "function keys file unreadable; the keys read last stay in use"
                );
                return;
            }
        };
        let mut state = self
            .state
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if state.digest == Some(content.digest) {
            return;
        }
        state.digest = Some(content.digest);
        state.keys = content
            .keys
            .iter()
            .map(|key| KeyDigest::of(key.expose()))
            .collect();
        drop(state);
        log_reload(&self.path, &content);
    }
}

fn log_reload(path: &Path, content: &KeysFileContent) {
    for (line, reason) in &content.skipped {
        tracing::warn!(
            auth.keys_file = %path.display(),
            auth.keys_file_line = line,
            error.cause = reason,
            "function keys file line skipped"
        );
    }
    if content.keys.is_empty() {
        tracing::error!(
            auth.keys_file = %path.display(),
            "function keys file holds no valid key: every function key is refused"
        );
    } else {
        tracing::info!(
            auth.keys_file = %path.display(),
            auth.key_count = content.keys.len(),
            "function keys read"
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY_A: &str = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
    const KEY_B: &str = "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb";
    const KEY_C: &str = "cccccccccccccccccccccccccccccccccccccccc";

    fn keys(fixed: &[&str], file: Option<PathBuf>) -> FunctionKeys {
        FunctionKeys::new(&FunctionKeySettings {
            keys: fixed.iter().map(|key| Secret::new(*key)).collect(),
            file,
        })
    }

    #[test]
    fn admits_each_configured_key_and_names_it_by_id() {
        let keys = keys(&[KEY_A, KEY_B], None);

        let a = keys.check(&Secret::new(KEY_A)).unwrap();
        let b = keys.check(&Secret::new(KEY_B)).unwrap();

        assert_ne!(a, b);
        assert_eq!(a.len(), 8);
        assert!(!KEY_A.contains(&a));
    }

    #[test]
    fn refuses_other_keys_prefixes_and_extensions() {
        let keys = keys(&[KEY_A], None);

        for presented in [
            "",
            KEY_B,
            &KEY_A[..39],
            &format!("{KEY_A}a"),
            &KEY_A.to_uppercase(),
        ] {
            assert_eq!(keys.check(&Secret::new(presented)), None, "{presented}");
        }
    }

    #[test]
    fn a_rotated_keys_file_is_used_without_a_restart() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("keys");
        std::fs::write(&path, format!("{KEY_A}\n")).unwrap();
        let keys = keys(&[], Some(path.clone()));
        assert!(keys.check(&Secret::new(KEY_A)).is_some());

        std::fs::write(&path, format!("{KEY_B}\n{KEY_C}\n")).unwrap();
        keys.reload_file();

        assert!(keys.check(&Secret::new(KEY_A)).is_none());
        assert!(keys.check(&Secret::new(KEY_C)).is_some());
    }

    #[test]
    fn a_file_with_a_bad_line_still_revokes_the_keys_it_no_longer_holds() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("keys");
        std::fs::write(&path, format!("{KEY_A}\n")).unwrap();
        let keys = keys(&[], Some(path.clone()));

        std::fs::write(&path, format!("# rotated\n{KEY_B}\nshort\n")).unwrap();
        keys.reload_file();

        assert!(keys.check(&Secret::new(KEY_A)).is_none());
        assert!(keys.check(&Secret::new(KEY_B)).is_some());
    }

    #[test]
    fn a_file_emptied_admits_no_key() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("keys");
        std::fs::write(&path, format!("{KEY_A}\n")).unwrap();
        let keys = keys(&[], Some(path.clone()));

        std::fs::write(&path, "").unwrap();
        keys.reload_file();

        assert!(keys.check(&Secret::new(KEY_A)).is_none());
    }

    #[test]
    fn a_same_length_rewrite_with_the_old_time_is_still_seen() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("keys");
        std::fs::write(&path, format!("{KEY_B}\n")).unwrap();
        let keys = keys(&[], Some(path.clone()));
        let modified = std::fs::metadata(&path).unwrap().modified().unwrap();

        std::fs::write(&path, format!("{KEY_C}\n")).unwrap();
        std::fs::File::options()
            .write(true)
            .open(&path)
            .unwrap()
            .set_modified(modified)
            .unwrap();
        keys.reload_file();

        assert!(keys.check(&Secret::new(KEY_B)).is_none());
        assert!(keys.check(&Secret::new(KEY_C)).is_some());
    }

    #[test]
    fn an_unreadable_file_keeps_the_keys_read_last() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("keys");
        std::fs::write(&path, format!("{KEY_A}\n")).unwrap();
        let keys = keys(&[], Some(path.clone()));

        std::fs::remove_file(&path).unwrap();
        rustix::fs::mknodat(
            rustix::fs::CWD,
            &path,
            rustix::fs::FileType::Fifo,
            rustix::fs::Mode::RUSR | rustix::fs::Mode::WUSR,
            0,
        )
        .unwrap();
        keys.reload_file();

        assert!(keys.check(&Secret::new(KEY_A)).is_some());
    }
}
