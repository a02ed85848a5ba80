//! Container and blob names, checked once where they enter, by Azure's rules and a few more
//! that make them safe as paths on the local default.

use std::fmt;

use serde::{Deserialize, Serialize};

/// The longest blob name Azure accepts, in characters.
const MAX_BLOB_NAME_CHARS: usize = 1024;

/// The most `/`-separated segments Azure accepts in a blob name.
const MAX_BLOB_SEGMENTS: usize = 254;

/// A container and blob name that both backends accept.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(try_from = "RawBlobPath", into = "RawBlobPath")]
#[schema(title = "Blob")]
pub struct BlobPath {
    /// The container's name: 3 to 63 lowercase letters, digits and single hyphens.
    #[schema(min_length = 3, max_length = 63, pattern = "^[a-z0-9]+(-[a-z0-9]+)*$", extensions(("x-ms-summary" = json!("Container"))))]
    container: String,
    /// The blob's name within its container, with `/` between folders (at most 1024
    /// characters).
    #[schema(min_length = 1, max_length = 1024, extensions(("x-ms-summary" = json!("Blob name"))))]
    blob: String,
}

/// Why a container or blob name was refused; the message names the rule.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct NameError(String);

impl BlobPath {
    /// Checks both names.
    pub fn new(container: &str, blob: &str) -> Result<Self, NameError> {
        check_container(container)?;
        check_blob(blob)?;
        Ok(Self {
            container: container.to_owned(),
            blob: blob.to_owned(),
        })
    }

    /// The container's name.
    pub fn container(&self) -> &str {
        &self.container
    }

    /// The blob's name within its container.
    pub fn blob(&self) -> &str {
        &self.blob
    }

    /// The default destination of a sealed copy: the same container, and the blob's name with
    /// `.sealed` before a final `.pdf` (in any case), or `.sealed.pdf` appended when it has
    /// none.
    pub fn sealed_sibling(&self) -> Result<Self, NameError> {
        let blob = &self.blob;
        let stem_len = blob.len().saturating_sub(4);
        let name = if blob.len() > 4
            && blob.is_char_boundary(stem_len)
            && blob[stem_len..].eq_ignore_ascii_case(".pdf")
        {
            format!("{}.sealed{}", &blob[..stem_len], &blob[stem_len..])
        } else {
            format!("{blob}.sealed.pdf")
        };
        Self::new(&self.container, &name)
    }
}

impl fmt::Display for BlobPath {
    /// `container/blob`, the way the portal and the logs show it.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.container, self.blob)
    }
}

/// Container names: 3 to 63 lowercase letters, digits and single hyphens, starting and ending
/// with a letter or digit.
fn check_container(name: &str) -> Result<(), NameError> {
    let refuse = |rule: &str| Err(NameError(format!("the container name {name:?} {rule}")));
    if name.is_empty() {
        return Err(NameError("the container name is empty".into()));
    }
    if !(3..=63).contains(&name.len()) {
        return refuse("must have 3 to 63 characters");
    }
    if !name
        .bytes()
        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
    {
        return refuse("may hold only lowercase letters, digits and hyphens");
    }
    if name.starts_with('-') || name.ends_with('-') || name.contains("--") {
        return refuse("must start and end with a letter or digit and have no double hyphen");
    }
    Ok(())
}

/// Blob names: 1 to 1024 characters in at most 254 segments, none of them empty, `.` or `..`,
/// with no control character and no backslash (which some tools turn into `/`).
fn check_blob(name: &str) -> Result<(), NameError> {
    let refuse = |rule: &str| Err(NameError(format!("the blob name {name:?} {rule}")));
    if name.is_empty() {
        return Err(NameError("the blob name is empty".into()));
    }
    if name.chars().count() > MAX_BLOB_NAME_CHARS {
        return refuse(&format!("has more than {MAX_BLOB_NAME_CHARS} characters"));
    }
    if name.chars().any(|c| c.is_control() || c == '\\') {
        return refuse("holds a control character or a backslash");
    }
    let segments: Vec<&str> = name.split('/').collect();
    if segments.len() > MAX_BLOB_SEGMENTS {
        return refuse(&format!("has more than {MAX_BLOB_SEGMENTS} segments"));
    }
    if segments
        .iter()
        .any(|s| s.is_empty() || *s == "." || *s == "..")
    {
        return refuse("has an empty, \".\" or \"..\" segment");
    }
    if name.ends_with('.') {
        return refuse("ends with a dot");
    }
    Ok(())
}

/// The serialized form of a [`BlobPath`]: `{"container": ..., "blob": ...}`.
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawBlobPath {
    container: String,
    blob: String,
}

impl TryFrom<RawBlobPath> for BlobPath {
    type Error = NameError;

    fn try_from(raw: RawBlobPath) -> Result<Self, NameError> {
        Self::new(&raw.container, &raw.blob)
    }
}

impl From<BlobPath> for RawBlobPath {
    fn from(path: BlobPath) -> Self {
        Self {
            container: path.container,
            blob: path.blob,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn azure_container_rules_are_kept() {
        assert!(BlobPath::new("in-2026", "a.pdf").is_ok());
        for bad in ["ab", "In", "a_b", "-ab", "ab-", "a--b", "", &"a".repeat(64)] {
            assert!(BlobPath::new(bad, "a.pdf").is_err(), "{bad:?}");
        }
    }

    #[test]
    fn blob_names_cannot_leave_their_container() {
        assert!(BlobPath::new("docs", "2026/q3/report.pdf").is_ok());
        for bad in [
            "", "../x", "a/../b", "a//b", "/a", "a/", "./a", "a\\b", "a\nb", "a.",
        ] {
            assert!(BlobPath::new("docs", bad).is_err(), "{bad:?}");
        }
        let long = "x".repeat(MAX_BLOB_NAME_CHARS + 1);
        assert!(BlobPath::new("docs", &long).is_err());
    }

    #[test]
    fn the_sealed_sibling_keeps_the_extension() {
        let sibling = |blob: &str| {
            BlobPath::new("docs", blob)
                .unwrap()
                .sealed_sibling()
                .unwrap()
                .blob()
                .to_owned()
        };
        assert_eq!(sibling("q3/report.pdf"), "q3/report.sealed.pdf");
        assert_eq!(sibling("SCAN.PDF"), "SCAN.sealed.PDF");
        assert_eq!(sibling("scan"), "scan.sealed.pdf");
        assert_eq!(sibling(".pdf"), ".pdf.sealed.pdf");
    }

    #[test]
    fn json_names_are_checked_when_read() {
        let ok: BlobPath = serde_json::from_str(r#"{"container":"docs","blob":"a.pdf"}"#).unwrap();
        assert_eq!(ok.to_string(), "docs/a.pdf");
        assert!(serde_json::from_str::<BlobPath>(r#"{"container":"docs","blob":"../a"}"#).is_err());
        let extra = r#"{"container":"docs","blob":"a","x":1}"#;
        assert!(serde_json::from_str::<BlobPath>(extra).is_err());
    }
}
