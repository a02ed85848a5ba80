//! Helpers for the integration tests that drive the real `pdf-seal` binary from outside: commands
//! with deadlines, a development certificate, one server, and the validators.

pub mod fixture;
pub mod manifest;
pub mod outcome;
pub mod process;
pub mod server;
pub mod validators;
// The blob-mode helpers serve only the job tests; other test binaries leave them unused.
#[allow(dead_code)]
pub mod job_scenarios;
#[allow(dead_code)]
pub mod jobs;
