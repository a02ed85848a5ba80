//! Function keys: shared secrets in the `x-functions-key` header or the `code` query
//! parameter, as the Azure Functions host takes them, for hosts without that host in front.

use std::path::PathBuf;
use std::sync::Mutex;
use std::time::{Duration, Instant, SystemTime};

use sha2::{Digest as _, Sha256};
use subtle::ConstantTimeEq as _;

use crate::config::auth::{FUNCTION_KEYS_FILE_VARIABLE, parse_keys};
use crate::config::{FunctionKeySettings, Secret};

/// How often the keys file is looked at for a change, at most.
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
    file: Option<KeysFile>,
}

struct KeysFile {
    path: PathBuf,
    state: Mutex<FileState>,
}

struct FileState {
    keys: Vec<KeyDigest>,
    /// What the file looked like when it was read: modification time and length.
    stamp: Option<(SystemTime, u64)>,
    checked: Instant,
}

impl FunctionKeys {
    /// The keys of `settings`; the keys file, when there is one, was read once at start
    /// already, so a failure here is unexpected and leaves it empty until it can be read.
    pub fn new(settings: &FunctionKeySettings) -> Self {
        let fixed = settings
            .keys
            .iter()
            .map(|key| KeyDigest::of(key.expose()))
            .collect();
        let file = settings.file.clone().map(|path| {
            let mut state = FileState {
                keys: Vec::new(),
                stamp: None,
                checked: Instant::now(),
            };
            reload(&path, &mut state);
            KeysFile {
                path,
                state: Mutex::new(state),
            }
        });
        Self { fixed, file }
    }

    /// The id of the key equal to `presented` (see [`KeyDigest::id`]), or `None`. Every key
    /// is compared, in constant time, whichever matches.
    pub fn check(&self, presented: &Secret) -> Option<String> {
        let digest = KeyDigest::of(presented.expose());
        let mut keys = self.fixed.clone();
        if let Some(file) = &self.file {
            keys.extend(file.current());
        }

        let mut matched = subtle::Choice::from(0);
        for key in &keys {
            matched |= key.0.ct_eq(&digest.0);
        }
        bool::from(matched).then(|| digest.id())
    }
}

impl KeysFile {
    /// The keys of the file, read again when its time or length changed since the last look.
    fn current(&self) -> Vec<KeyDigest> {
        let mut state = self
            .state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if state.checked.elapsed() >= FILE_CHECK_INTERVAL {
            state.checked = Instant::now();
            if stamp(&self.path) != state.stamp {
                reload(&self.path, &mut state);
            }
        }
        state.keys.clone()
    }
}

fn stamp(path: &PathBuf) -> Option<(SystemTime, u64)> {
    let metadata = std::fs::metadata(path).ok()?;
    Some((metadata.modified().ok()?, metadata.len()))
}

/// Reads the keys file into `state`. A file that cannot be read or holds a bad key keeps the
/// keys read last, so a half-written file during a rotation does not lock everyone out; the
/// failure is logged, never the keys.
fn reload(path: &PathBuf, state: &mut FileState) {
    let stamp = stamp(path);
    let read = std::fs::read_to_string(path)
        .map_err(|error| error.to_string())
        .and_then(|text| {
            parse_keys(&text, FUNCTION_KEYS_FILE_VARIABLE, '\n').map_err(|error| error.reason)
        });
    match read {
        Ok(keys) => {
            state.keys = keys.iter().map(|key| KeyDigest::of(key.expose())).collect();
            state.stamp = stamp;
            tracing::info!(
                auth.keys_file = %path.display(),
                auth.key_count = state.keys.len(),
                "function keys read"
            );
        }
        Err(reason) => {
            // Look again at the next interval rather than at the next change only.
            state.stamp = None;
            tracing::warn!(
                auth.keys_file = %path.display(),
                error.cause = reason,
                "function keys file unusable; the keys read last stay in use"
            );
        }
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
        keys.file.as_ref().unwrap().state.lock().unwrap().checked -= FILE_CHECK_INTERVAL;

        assert!(keys.check(&Secret::new(KEY_A)).is_none());
        assert!(keys.check(&Secret::new(KEY_C)).is_some());
    }

    #[test]
    fn a_broken_keys_file_keeps_the_keys_read_last() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("keys");
        std::fs::write(&path, format!("{KEY_A}\n")).unwrap();
        let keys = keys(&[], Some(path.clone()));

        std::fs::write(&path, "short\n").unwrap();
        keys.file.as_ref().unwrap().state.lock().unwrap().checked -= FILE_CHECK_INTERVAL;

        assert!(keys.check(&Secret::new(KEY_A)).is_some());
    }
}
