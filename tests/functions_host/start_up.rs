//! How the handler starts under the host: on the host's port and in time, and not at all
//! without PDF_SEAL_AUTH.

use std::time::Duration;

use super::Deployment;
use super::support::fixture::Fixture;
use super::support::functions_app::{AppFiles, HOST_START_LIMIT, handler_command};
use super::support::process;

#[test]
fn the_handler_answers_the_hosts_probe_on_its_port_well_within_the_start_limit() {
    let deployment = Deployment::start();
    let started = &deployment.started;

    assert_eq!(
        started.server.base_url,
        format!("http://127.0.0.1:{}", started.port),
        "not on loopback at FUNCTIONS_CUSTOMHANDLER_PORT"
    );
    // The probe carries no credential: only health is open, so it is refused, which is an
    // answer all the same.
    assert_eq!(started.probe_status, 401);
    assert!(
        started.ready_after < HOST_START_LIMIT / 2,
        "{} ms to the first answer, with a limit of {} s",
        started.ready_after.as_millis(),
        HOST_START_LIMIT.as_secs()
    );
    eprintln!(
        "the handler answered the host's probe {} ms after its start",
        started.ready_after.as_millis()
    );
}

#[test]
fn without_pdf_seal_auth_the_handler_refuses_to_start_naming_it() {
    let fixture = Fixture::new();
    let app = AppFiles::read();
    let root = fixture.subdir("wwwroot");
    let home = fixture.subdir("home");
    app.lay_out_package(&root);
    let settings: Vec<_> = fixture
        .signer_settings()
        .into_iter()
        .map(|(name, path)| (name, path.into()))
        .collect();
    let (mut command, _) = handler_command(&app, &root, &home, &settings);

    let ran = process::run(&mut command, Duration::from_secs(30));

    let stderr = ran.stderr_text();
    assert_eq!(ran.code(), Some(2), "{}; stderr:\n{stderr}", ran.ending());
    assert!(
        stderr.contains("PDF_SEAL_AUTH"),
        "stderr does not name PDF_SEAL_AUTH:\n{stderr}"
    );
    assert!(ran.stdout.is_empty(), "it said: {}", ran.stdout_text());
}
