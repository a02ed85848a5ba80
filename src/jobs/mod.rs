//! Blob jobs (DESIGN.md section 5): their records, the service that creates them and answers
//! their status, and the workers that seal.

pub mod record;
pub mod service;
pub mod worker;

pub use record::{JobId, JobProblem, JobRecord, JobRequest, JobStatus, Lease, Timings};
pub use service::{JobError, Jobs};
