//! The function keys file: one key a line, as a secret store mounts it.

use std::io::Read as _;
use std::os::unix::fs::OpenOptionsExt as _;
use std::path::Path;

use sha2::{Digest as _, Sha256};

use super::Secret;
use super::auth::check_key;

/// The largest keys file read; a secret store's file of a few keys is far smaller, and a
/// path that leads to `/dev/zero` must not fill memory.
pub const MAX_KEYS_FILE_BYTES: u64 = 64 * 1024;

/// What a keys file holds.
pub struct KeysFileContent {
    /// The valid keys, in file order.
    pub keys: Vec<Secret>,
    /// The lines that hold no valid key, by number, with why (never quoting the line).
    pub skipped: Vec<(usize, String)>,
    /// The SHA-256 of the whole file, to tell a change from a look at the same content.
    pub digest: [u8; 32],
}

/// Reads `path` (following links, as Kubernetes and the Secrets Store CSI driver mount
/// secrets through them). Blank lines, lines starting with `#`, a byte order mark and CR line
/// ends are allowed. The file must be a regular file of at most [`MAX_KEYS_FILE_BYTES`]; it is
/// opened without blocking, so a FIFO at the path cannot hang the reader.
pub fn read(path: &Path) -> Result<KeysFileContent, String> {
    let file = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(rustix::fs::OFlags::NONBLOCK.bits() as i32)
        .open(path)
        .map_err(|error| format!("cannot open {}: {error}", path.display()))?;
    let metadata = file
        .metadata()
        .map_err(|error| format!("cannot read {}: {error}", path.display()))?;
    if !metadata.is_file() {
        return Err(format!("{} is not a regular file", path.display()));
    }
    if metadata.len() > MAX_KEYS_FILE_BYTES {
        return Err(format!(
            "{} is larger than {MAX_KEYS_FILE_BYTES} bytes",
            path.display()
        ));
    }

    let mut bytes = Vec::new();
    file.take(MAX_KEYS_FILE_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(|error| format!("cannot read {}: {error}", path.display()))?;
    if bytes.len() as u64 > MAX_KEYS_FILE_BYTES {
        return Err(format!(
            "{} is larger than {MAX_KEYS_FILE_BYTES} bytes",
            path.display()
        ));
    }
    let digest = Sha256::digest(&bytes).into();
    let text = String::from_utf8(bytes).map_err(|_| format!("{} is not UTF-8", path.display()))?;
    Ok(parse(&text, digest))
}

fn parse(text: &str, digest: [u8; 32]) -> KeysFileContent {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut keys = Vec::new();
    let mut skipped = Vec::new();
    for (index, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        match check_key(line) {
            Ok(()) => keys.push(Secret::new(line)),
            Err(reason) => skipped.push((index + 1, reason)),
        }
    }
    KeysFileContent {
        keys,
        skipped,
        digest,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY_A: &str = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
    const KEY_B: &str = "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb";

    fn read_text(text: &[u8]) -> Result<KeysFileContent, String> {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("keys");
        std::fs::write(&path, text).unwrap();
        read(&path)
    }

    #[test]
    fn takes_one_key_a_line_skipping_blanks_comments_bom_and_cr() {
        let text = format!("\u{feff}# rotated on Monday\r\n{KEY_A}\r\n\r\n  {KEY_B}  \n");

        let content = read_text(text.as_bytes()).unwrap();

        let keys: Vec<&str> = content.keys.iter().map(Secret::expose).collect();
        assert_eq!(keys, [KEY_A, KEY_B]);
        assert!(content.skipped.is_empty());
    }

    #[test]
    fn a_bad_line_is_skipped_by_number_without_being_quoted() {
        let content = read_text(format!("{KEY_A}\ntiny-key\n").as_bytes()).unwrap();

        assert_eq!(content.keys.len(), 1);
        assert_eq!(content.skipped.len(), 1);
        assert_eq!(content.skipped[0].0, 2);
        assert!(
            !content.skipped[0].1.contains("tiny-key"),
            "{}",
            content.skipped[0].1
        );
    }

    #[test]
    fn the_digest_tells_contents_apart() {
        let first = read_text(KEY_A.as_bytes()).unwrap();
        let second = read_text(KEY_B.as_bytes()).unwrap();

        assert_ne!(first.digest, second.digest);
    }

    #[test]
    fn refuses_what_is_not_a_small_regular_file() {
        let dir = tempfile::tempdir().unwrap();
        let fifo = dir.path().join("fifo");
        rustix::fs::mknodat(
            rustix::fs::CWD,
            &fifo,
            rustix::fs::FileType::Fifo,
            rustix::fs::Mode::RUSR | rustix::fs::Mode::WUSR,
            0,
        )
        .unwrap();
        let large = dir.path().join("large");
        std::fs::write(&large, vec![b'a'; MAX_KEYS_FILE_BYTES as usize + 1]).unwrap();

        for path in [
            dir.path().to_path_buf(),
            fifo,
            large,
            dir.path().join("missing"),
        ] {
            assert!(read(&path).is_err(), "{}", path.display());
        }
    }
}
