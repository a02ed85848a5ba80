//! The record of one job, as it is kept in the [`crate::storage::JobStore`].

use std::fmt;

use serde::{Deserialize, Serialize};
use sha2::Digest as _;
use time::OffsetDateTime;

use crate::api::seal_request::RequestedOptions;
use crate::storage::{BlobPath, OutputMarker};

/// A job's id: 26 characters of lowercase base32 (130 bits, of which 128 are random, or the
/// hash of an idempotency key).
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct JobId(String);

/// The length of every job id.
pub const JOB_ID_LEN: usize = 26;

/// The RFC 4648 base32 alphabet, in lowercase so that ids are also valid blob and path names.
const BASE32: &[u8; 32] = b"abcdefghijklmnopqrstuvwxyz234567";

impl JobId {
    /// A new random id.
    pub fn random() -> Self {
        let mut bytes = [0u8; 16];
        getrandom::fill(&mut bytes).expect("the operating system's random source failed");
        Self::from_bytes(&bytes)
    }

    /// The id of the job created with `key` as its `Idempotency-Key`: every request with the
    /// same key names the same job. `scope` keeps the keys of different callers apart.
    pub fn for_idempotency_key(scope: &str, key: &str) -> Self {
        let mut hash = sha2::Sha256::new();
        hash.update(b"pdf-seal idempotency key\0");
        hash.update(scope.as_bytes());
        hash.update(b"\0");
        hash.update(key.as_bytes());
        let digest = hash.finalize();
        let mut bytes = [0u8; 16];
        bytes.copy_from_slice(&digest[..16]);
        Self::from_bytes(&bytes)
    }

    fn from_bytes(bytes: &[u8; 16]) -> Self {
        // Hand-written: 16 bytes to 26 base32 characters, five bits at a time.
        let mut value = u128::from_be_bytes(*bytes);
        let mut text = [0u8; JOB_ID_LEN];
        for slot in text.iter_mut().rev() {
            *slot = BASE32[(value & 31) as usize];
            value >>= 5;
        }
        Self(String::from_utf8(text.to_vec()).expect("base32 is ASCII"))
    }

    /// Parses an id from a URL or a record; `None` when it is not one.
    pub fn parse(text: &str) -> Option<Self> {
        // 128 bits in 26 characters: the first holds only the top 3 bits, so it is a to h.
        let valid = text.len() == JOB_ID_LEN
            && text.bytes().all(|b| BASE32.contains(&b))
            && (b'a'..=b'h').contains(&text.as_bytes()[0]);
        valid.then(|| Self(text.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for JobId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl TryFrom<String> for JobId {
    type Error = String;

    fn try_from(text: String) -> Result<Self, String> {
        Self::parse(&text).ok_or_else(|| format!("{text:?} is not a job id"))
    }
}

impl From<JobId> for String {
    fn from(id: JobId) -> Self {
        id.0
    }
}

/// What the caller asked for.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct JobRequest {
    pub source: BlobPath,
    pub destination: BlobPath,
    /// Whether an existing destination may be replaced.
    pub overwrite: bool,
    /// The seal's options, as in direct mode; checked when the job was created.
    pub options: RequestedOptions,
}

impl JobRequest {
    /// SHA-256 of the request's canonical JSON, lowercase hex: two requests with the same
    /// idempotency key must have the same hash.
    pub fn hash(&self) -> String {
        let json = serde_json::to_vec(self).expect("a job request serializes");
        hex::encode(sha2::Sha256::digest(&json))
    }
}

/// Where a job is in its life.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub enum JobStatus {
    Queued,
    Running,
    Succeeded,
    Failed,
}

impl JobStatus {
    /// True once the job will not change again.
    pub fn is_final(self) -> bool {
        matches!(self, Self::Succeeded | Self::Failed)
    }
}

/// Who is working on a running job, and until when the claim holds unless renewed.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Lease {
    /// The queue message id of the delivery that claimed the job.
    pub owner: String,
    #[serde(with = "time::serde::rfc3339")]
    pub until: OffsetDateTime,
}

/// Why a job failed for good: a problem type's slug (as in `/problems/<slug>`) and a detail
/// that names the cause.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct JobProblem {
    pub slug: String,
    pub detail: String,
}

/// How long the job took, in milliseconds.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Timings {
    /// From creation to the start of the attempt that finished it.
    #[schema(extensions(("x-ms-summary" = json!("Queued (ms)"))))]
    pub queued_ms: u64,
    /// Reading, hashing and copying the source.
    #[schema(extensions(("x-ms-summary" = json!("Reading (ms)"))))]
    pub read_ms: u64,
    /// Signing.
    #[schema(extensions(("x-ms-summary" = json!("Signing (ms)"))))]
    pub sign_ms: u64,
    /// Committing the output.
    #[schema(extensions(("x-ms-summary" = json!("Committing (ms)"))))]
    pub commit_ms: u64,
    /// From creation to the end.
    #[schema(extensions(("x-ms-summary" = json!("Total (ms)"))))]
    pub total_ms: u64,
}

/// One job.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct JobRecord {
    pub id: JobId,
    pub status: JobStatus,
    pub request: JobRequest,
    /// [`JobRequest::hash`] of `request`.
    pub request_hash: String,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    #[serde(default, with = "time::serde::rfc3339::option")]
    pub started_at: Option<OffsetDateTime>,
    #[serde(default, with = "time::serde::rfc3339::option")]
    pub finished_at: Option<OffsetDateTime>,
    /// How many times a worker started it.
    #[serde(default)]
    pub attempts: u32,
    #[serde(default)]
    pub lease: Option<Lease>,
    /// The output, once the job succeeded.
    #[serde(default)]
    pub output: Option<OutputMarker>,
    /// The cause, once the job failed.
    #[serde(default)]
    pub problem: Option<JobProblem>,
    /// The last failure that was retried, for the logs and for support.
    #[serde(default)]
    pub last_error: Option<String>,
    #[serde(default)]
    pub timings: Option<Timings>,
}

impl JobRecord {
    /// A queued job.
    pub fn queued(id: JobId, request: JobRequest, now: OffsetDateTime) -> Self {
        let request_hash = request.hash();
        Self {
            id,
            status: JobStatus::Queued,
            request,
            request_hash,
            created_at: now,
            started_at: None,
            finished_at: None,
            attempts: 0,
            lease: None,
            output: None,
            problem: None,
            last_error: None,
            timings: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_26_base32_characters() {
        let id = JobId::random();
        assert_eq!(id.as_str().len(), JOB_ID_LEN);
        assert_eq!(JobId::parse(id.as_str()), Some(id.clone()));
        assert_ne!(JobId::random(), id);
        assert_eq!(JobId::parse("0000000000000000000000000a"), None);
        assert_eq!(JobId::parse("abc"), None);
        // 128 bits leave 3 for the first character.
        assert_eq!(JobId::parse(&format!("i{}", "a".repeat(25))), None);
        assert_eq!(JobId::from_bytes(&[0; 16]).as_str(), "a".repeat(26));
        assert_eq!(
            JobId::from_bytes(&[0xff; 16]).as_str(),
            format!("h{}", "7".repeat(25))
        );
    }

    #[test]
    fn idempotency_keys_name_one_job_per_scope() {
        let a = JobId::for_idempotency_key("", "order-17");
        assert_eq!(a, JobId::for_idempotency_key("", "order-17"));
        assert_ne!(a, JobId::for_idempotency_key("", "order-18"));
        assert_ne!(a, JobId::for_idempotency_key("tenant-b", "order-17"));
    }

    #[test]
    fn records_round_trip_through_json() {
        let request = JobRequest {
            source: BlobPath::new("inbox", "a.pdf").unwrap(),
            destination: BlobPath::new("sealed", "a.pdf").unwrap(),
            overwrite: false,
            options: RequestedOptions::default(),
        };
        let now = OffsetDateTime::from_unix_timestamp(1_796_400_000).unwrap();
        let record = JobRecord::queued(JobId::random(), request, now);
        let json = serde_json::to_string(&record).unwrap();
        assert_eq!(serde_json::from_str::<JobRecord>(&json).unwrap(), record);
    }
}
