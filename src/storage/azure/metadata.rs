//! What pdf-seal writes into blob metadata: the [`OutputMarker`] of a sealed output, and the
//! status and creation time of a job record, so that listing the records tells which are
//! unfinished without reading each one.
//!
//! Metadata travels as `x-ms-meta-NAME` headers, so names are lowercase identifiers and values
//! ASCII. The only value that may hold other characters, the signature field's name, is stored
//! as base64url of its UTF-8 bytes.

use std::collections::HashMap;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

use crate::jobs::{JobId, JobRecord, JobStatus};
use crate::storage::OutputMarker;

const JOB: &str = "pdfseal_job";
const SIZE: &str = "pdfseal_size_bytes";
const SHA256: &str = "pdfseal_sha256";
const FIELD: &str = "pdfseal_field_b64";

const STATUS: &str = "pdfseal_status";
const CREATED: &str = "pdfseal_created_ms";

/// The metadata that marks an output as written by `marker.job`.
pub(super) fn marker_to_metadata(marker: &OutputMarker) -> HashMap<String, String> {
    HashMap::from([
        (JOB.to_owned(), marker.job.to_string()),
        (SIZE.to_owned(), marker.size_bytes.to_string()),
        (SHA256.to_owned(), marker.sha256.clone()),
        (FIELD.to_owned(), URL_SAFE_NO_PAD.encode(&marker.field_name)),
    ])
}

/// The marker in a blob's metadata: `Ok(None)` when the blob has none, an error naming the
/// entry when it has one that is not pdf-seal's.
pub(super) fn marker_from_metadata(
    metadata: &HashMap<String, String>,
) -> Result<Option<OutputMarker>, String> {
    let get = |name: &str| {
        metadata
            .iter()
            .find(|(key, _)| key.eq_ignore_ascii_case(name))
            .map(|(_, value)| value.as_str())
    };
    let Some(job) = get(JOB) else {
        return Ok(None);
    };
    let missing = |name: &str| format!("the marker has {JOB} but no {name}");

    let job = JobId::parse(job).ok_or_else(|| format!("{JOB} is not a job id"))?;
    let size_bytes = get(SIZE)
        .ok_or_else(|| missing(SIZE))?
        .parse()
        .map_err(|_| format!("{SIZE} is not a number"))?;
    let sha256 = get(SHA256).ok_or_else(|| missing(SHA256))?;
    if sha256.len() != 64 || !sha256.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(format!("{SHA256} is not a SHA-256 in hex"));
    }
    let field = get(FIELD).ok_or_else(|| missing(FIELD))?;
    let field_name = URL_SAFE_NO_PAD
        .decode(field)
        .ok()
        .and_then(|bytes| String::from_utf8(bytes).ok())
        .ok_or_else(|| format!("{FIELD} is not base64url of UTF-8 text"))?;

    Ok(Some(OutputMarker {
        job,
        size_bytes,
        sha256: sha256.to_ascii_lowercase(),
        field_name,
    }))
}

/// The metadata of a job record's blob.
pub(super) fn record_to_metadata(record: &JobRecord) -> HashMap<String, String> {
    let created_ms = record.created_at.unix_timestamp_nanos() / 1_000_000;
    HashMap::from([
        (STATUS.to_owned(), status_name(record.status).to_owned()),
        (CREATED.to_owned(), created_ms.to_string()),
    ])
}

/// What a record's metadata says: whether the job is unfinished, and when it was created in
/// milliseconds since 1970. `None` when the metadata is missing or not pdf-seal's, so that the
/// caller reads the record itself.
pub(super) fn record_summary(metadata: &HashMap<String, String>) -> Option<(bool, i128)> {
    let get = |name: &str| {
        metadata
            .iter()
            .find(|(key, _)| key.eq_ignore_ascii_case(name))
            .map(|(_, value)| value.as_str())
    };
    let unfinished = match get(STATUS)? {
        "queued" | "running" => true,
        "succeeded" | "failed" => false,
        _ => return None,
    };
    let created_ms = get(CREATED)?.parse().ok()?;
    Some((unfinished, created_ms))
}

fn status_name(status: JobStatus) -> &'static str {
    match status {
        JobStatus::Queued => "queued",
        JobStatus::Running => "running",
        JobStatus::Succeeded => "succeeded",
        JobStatus::Failed => "failed",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn marker(field_name: &str) -> OutputMarker {
        OutputMarker {
            job: JobId::random(),
            size_bytes: 1234,
            sha256: "ab".repeat(32),
            field_name: field_name.to_owned(),
        }
    }

    #[test]
    fn a_marker_round_trips_with_a_non_ascii_field_name_in_ascii_values() {
        let original = marker("Siegel für Ärzte ✓");

        let metadata = marker_to_metadata(&original);

        assert!(
            metadata.values().all(|value| value.is_ascii()),
            "{metadata:?}"
        );
        assert_eq!(marker_from_metadata(&metadata), Ok(Some(original)));
    }

    #[test]
    fn metadata_without_a_job_is_no_marker() {
        let metadata = HashMap::from([("owner".to_owned(), "someone".to_owned())]);

        assert_eq!(marker_from_metadata(&metadata), Ok(None));
    }

    #[test]
    fn a_damaged_marker_is_an_error_naming_the_entry() {
        let mut metadata = marker_to_metadata(&marker("Seal1"));
        metadata.insert(SIZE.to_owned(), "many".to_owned());
        assert!(marker_from_metadata(&metadata).unwrap_err().contains(SIZE));

        let mut metadata = marker_to_metadata(&marker("Seal1"));
        metadata.remove(SHA256);
        assert!(
            marker_from_metadata(&metadata)
                .unwrap_err()
                .contains(SHA256)
        );

        let mut metadata = marker_to_metadata(&marker("Seal1"));
        metadata.insert(FIELD.to_owned(), "!!".to_owned());
        assert!(marker_from_metadata(&metadata).unwrap_err().contains(FIELD));
    }

    #[test]
    fn names_are_matched_whatever_their_case() {
        let original = marker("Seal1");
        let shouted: HashMap<String, String> = marker_to_metadata(&original)
            .into_iter()
            .map(|(key, value)| (key.to_ascii_uppercase(), value))
            .collect();

        assert_eq!(marker_from_metadata(&shouted), Ok(Some(original)));
    }

    #[test]
    fn a_summary_needs_a_known_status_and_a_time() {
        let both = HashMap::from([
            (STATUS.to_owned(), "running".to_owned()),
            (CREATED.to_owned(), "1700000000000".to_owned()),
        ]);
        assert_eq!(record_summary(&both), Some((true, 1_700_000_000_000)));

        let done = HashMap::from([
            (STATUS.to_owned(), "failed".to_owned()),
            (CREATED.to_owned(), "5".to_owned()),
        ]);
        assert_eq!(record_summary(&done), Some((false, 5)));

        let odd = HashMap::from([(STATUS.to_owned(), "paused".to_owned())]);
        assert_eq!(record_summary(&odd), None);
    }
}
