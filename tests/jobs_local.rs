//! Blob mode on the local default: a data directory in which container `c`, blob `b` is the
//! file `blobs/c/b`. The scenarios are those of every backend (`support/job_scenarios.rs`).

mod support;

use std::ffi::OsString;
use std::path::{Path, PathBuf};

use support::fixture::Fixture;
use support::job_scenarios;
use support::jobs::Blobs;
use support::validators::Validators;

/// The local backend: files under `DATA/blobs`.
struct LocalBlobs {
    data_dir: PathBuf,
}

impl LocalBlobs {
    fn new(fixture: &Fixture) -> Self {
        Self {
            data_dir: fixture.path().join("data"),
        }
    }

    fn file(&self, container: &str, blob: &str) -> PathBuf {
        self.data_dir.join("blobs").join(container).join(blob)
    }
}

impl Blobs for LocalBlobs {
    fn server_env(&self) -> Vec<(String, OsString)> {
        vec![
            ("PDF_SEAL_STORAGE".into(), "local".into()),
            ("PDF_SEAL_DATA_DIR".into(), self.data_dir.clone().into()),
        ]
    }

    fn create_container(&self, name: &str) {
        std::fs::create_dir_all(self.data_dir.join("blobs").join(name)).unwrap();
    }

    fn put_file(&self, container: &str, blob: &str, file: &Path) {
        let target = self.file(container, blob);
        std::fs::create_dir_all(target.parent().unwrap()).unwrap();
        std::fs::copy(file, target).unwrap();
    }

    fn get_file(&self, container: &str, blob: &str, file: &Path) -> bool {
        let source = self.file(container, blob);
        source.is_file() && std::fs::copy(source, file).is_ok()
    }
}

#[test]
fn a_blob_is_sealed_through_the_job_api() {
    let fixture = Fixture::new();
    job_scenarios::whole_flow(&fixture, &LocalBlobs::new(&fixture), &Validators::find());
}

#[test]
fn sources_that_cannot_be_sealed_end_their_job_with_a_4xx() {
    let fixture = Fixture::new();
    job_scenarios::failures(&fixture, &LocalBlobs::new(&fixture));
}

#[test]
fn idempotent_and_concurrent_jobs() {
    let fixture = Fixture::new();
    let blobs = LocalBlobs::new(&fixture);
    job_scenarios::idempotency_and_concurrency(&fixture, &blobs, &Validators::find());
}

#[test]
fn a_1_gib_source_is_sealed_in_bounded_memory_across_a_kill() {
    let fixture = Fixture::new();
    let blobs = LocalBlobs::new(&fixture);
    job_scenarios::large_source_survives_a_kill(&fixture, &blobs, &Validators::find());
    let leftovers: Vec<_> = std::fs::read_dir(fixture.path().join("data/tmp"))
        .unwrap()
        .collect();
    assert!(
        leftovers.is_empty(),
        "temporary files left behind: {leftovers:?}"
    );
}
