//! What blob mode must do, whatever the backend. Each scenario uses its own containers, so that
//! they can share one backend.

use std::thread;
use std::time::{Duration, Instant};

use reqwest::Method;

use serde_json::json;

use super::fixture::Fixture;
use super::jobs::{
    Blobs, check_problem, check_success, corpus, create_job, follow, job, make_large_pdf,
    peak_rss_kib, serve, status_path,
};
use super::server::Server;
use super::validators::Validators;

/// The peak resident memory blob mode may use, whatever the blob's size (issue 3).
pub const MAX_PEAK_RSS_KIB: u64 = 128 * 1024;

/// The DocMDP P=1 file of the corpus, which no seal may change.
const CERTIFIED_NO_CHANGES: &str = "ph__certified-with-indirect-refs-in-dir.pdf";

/// Start, follow `Location` until 200, judge the output; then the same source with the default
/// destination and options.
pub fn whole_flow(fixture: &Fixture, blobs: &dyn Blobs, validators: &Validators) {
    let server = serve(fixture, blobs, "whole-flow");
    blobs.create_container("flow-in");
    blobs.create_container("flow-out");
    let input = corpus("ph__minimal-two-fields-signed-twice.pdf");
    blobs.put_file("flow-in", "2026/minimal.pdf", &input);

    let body = job(
        ("flow-in", "2026/minimal.pdf"),
        Some(("flow-out", "sealed/minimal.pdf")),
        json!({"reason": "Approved", "location": "Zürich", "digest": "sha384"}),
    );
    let created = create_job(&server, &body, None);
    let path = status_path(&created);
    let created = created.json();
    assert_eq!(created["status"], "queued", "{created}");
    assert_eq!(
        created["destination"]["blob"], "sealed/minimal.pdf",
        "{created}"
    );

    let done = follow(&server, &path, |_| {});
    let output = fixture.path().join("flow-output.pdf");
    assert!(blobs.get_file("flow-out", "sealed/minimal.pdf", &output));
    let body = check_success(&done, &output, &input, fixture, validators);
    for timing in ["queuedMs", "readMs", "signMs", "commitMs", "totalMs"] {
        assert!(body["timings"][timing].is_u64(), "{timing}: {body}");
    }
    let facts = validators.newest_signature_facts(&output);
    assert_eq!(facts["reason"], "Approved", "{facts}");
    assert_eq!(facts["location"], "Zürich", "{facts}");
    assert_eq!(facts["digest"], "sha384", "{facts}");

    // The default destination: `.sealed` before `.pdf`, in the source's container.
    let created = create_job(
        &server,
        &job(("flow-in", "2026/minimal.pdf"), None, json!({})),
        None,
    );
    let done = follow(&server, &status_path(&created), |_| {});
    let output = fixture.path().join("flow-default.pdf");
    assert!(blobs.get_file("flow-in", "2026/minimal.sealed.pdf", &output));
    check_success(&done, &output, &input, fixture, validators);
}

/// Sources that cannot be sealed end their job with a 4xx that names the cause, and no output.
pub fn failures(fixture: &Fixture, blobs: &dyn Blobs) {
    let server = serve(fixture, blobs, "failures");
    blobs.create_container("bad-in");
    blobs.create_container("bad-out");
    let text = fixture.path().join("not-a-pdf.txt");
    std::fs::write(&text, "Dear customer, this is a letter, not a PDF.\n").unwrap();
    blobs.put_file("bad-in", "letter.pdf", &text);
    blobs.put_file("bad-in", "certified.pdf", &corpus(CERTIFIED_NO_CHANGES));
    blobs.put_file("bad-in", "fine.pdf", &corpus("ph__minimal.pdf"));
    blobs.put_file("bad-out", "taken.pdf", &text);

    let cases = [
        (
            "letter.pdf",
            "bad-out",
            "letter.pdf",
            json!({}),
            400,
            "not-a-pdf",
            "PDF",
        ),
        (
            "missing.pdf",
            "bad-out",
            "m.pdf",
            json!({}),
            422,
            "source-not-found",
            "bad-in/missing.pdf",
        ),
        (
            "certified.pdf",
            "bad-out",
            "c.pdf",
            json!({}),
            422,
            "certified-pdf",
            "DocMDP",
        ),
        (
            "fine.pdf",
            "bad-out",
            "taken.pdf",
            json!({}),
            409,
            "destination-exists",
            "overwrite",
        ),
        (
            "fine.pdf",
            "no-such-container",
            "f.pdf",
            json!({}),
            422,
            "destination-container-not-found",
            "no-such-container",
        ),
        (
            "fine.pdf",
            "bad-out",
            "named.pdf",
            json!({"fieldName": "Sig1"}),
            201,
            "",
            "",
        ),
    ];
    for (source, container, blob, extra, status, slug, word) in cases {
        let created = create_job(
            &server,
            &job(("bad-in", source), Some((container, blob)), extra),
            None,
        );
        let done = follow(&server, &status_path(&created), |_| {});
        if status == 201 {
            // A control case: the same server seals a good source.
            assert_eq!(done.status, 200, "{}", String::from_utf8_lossy(&done.body));
            continue;
        }
        check_problem(&done, status, slug, word);
        if slug != "destination-exists" {
            let output = fixture.path().join("unexpected.pdf");
            assert!(
                !blobs.get_file(container, blob, &output),
                "{source} left an output"
            );
        }
    }
    let kept = fixture.path().join("kept.txt");
    assert!(blobs.get_file("bad-out", "taken.pdf", &kept));
    assert_eq!(std::fs::read(&kept).unwrap(), std::fs::read(&text).unwrap());
}

/// A retried request with the same key names the same job; the key with another body is a 409;
/// jobs created at once all complete.
pub fn idempotency_and_concurrency(fixture: &Fixture, blobs: &dyn Blobs, validators: &Validators) {
    let server = serve(fixture, blobs, "idempotency");
    blobs.create_container("idem-in");
    let input = corpus("ph__minimal.pdf");
    blobs.put_file("idem-in", "a.pdf", &input);

    let body = job(
        ("idem-in", "a.pdf"),
        Some(("idem-in", "a-once.pdf")),
        json!({}),
    );
    let first = create_job(&server, &body, Some("flow-run-8c1f"));
    let second = create_job(&server, &body, Some("flow-run-8c1f"));
    let path = status_path(&first);
    assert_eq!(status_path(&second), path, "the same key named another job");
    let done = follow(&server, &path, |_| {});
    assert_eq!(done.status, 200, "{}", String::from_utf8_lossy(&done.body));
    // Asked again once the job is done, the key still names it, and nothing runs twice.
    let third = create_job(&server, &body, Some("flow-run-8c1f"));
    assert_eq!(status_path(&third), path);
    assert_eq!(
        follow(&server, &path, |_| {}).json()["sha256"],
        done.json()["sha256"]
    );

    let other = job(
        ("idem-in", "a.pdf"),
        Some(("idem-in", "a-other.pdf")),
        json!({}),
    );
    let reused = create_job(&server, &other, Some("flow-run-8c1f"));
    check_problem(&reused, 409, "idempotency-key-reused", "Idempotency-Key");

    // Concurrent jobs, created from several threads at once.
    let paths: Vec<String> = thread::scope(|scope| {
        let handles: Vec<_> = (0..6)
            .map(|i| {
                let server = &server;
                scope.spawn(move || {
                    let destination = format!("many/{i}.pdf");
                    let body = job(
                        ("idem-in", "a.pdf"),
                        Some(("idem-in", &destination)),
                        json!({}),
                    );
                    status_path(&create_job(server, &body, None))
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let mut ids: Vec<&String> = paths.iter().collect();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), 6, "concurrent jobs shared an id");
    for (i, path) in paths.iter().enumerate() {
        let done = follow(&server, path, |_| {});
        let output = fixture.path().join(format!("many-{i}.pdf"));
        assert!(blobs.get_file("idem-in", &format!("many/{i}.pdf"), &output));
        check_success(&done, &output, &input, fixture, validators);
    }
}

/// A source of 1 GiB, generated on disk, sealed while the server is killed with SIGKILL in the
/// middle of the job and started again: the job completes once, its output validates, and the
/// server that completed it stayed within [`MAX_PEAK_RSS_KIB`].
pub fn large_source_survives_a_kill(fixture: &Fixture, blobs: &dyn Blobs, validators: &Validators) {
    let input = fixture.path().join("large.pdf");
    make_large_pdf(&input, 1024);
    blobs.create_container("large");
    blobs.put_file("large", "archive.pdf", &input);

    let mut first = serve(fixture, blobs, "large-first");
    let body = job(
        ("large", "archive.pdf"),
        Some(("large", "archive-sealed.pdf")),
        json!({}),
    );
    let path = status_path(&create_job(&first, &body, Some("large-archive")));
    wait_until_running(&first, &path);
    thread::sleep(Duration::from_millis(500));
    let pending = first.send(Method::GET, &path, &[], Vec::new()).unwrap();
    assert_eq!(
        pending.status, 202,
        "the job ended before the kill, so the kill tested nothing; use a larger source"
    );
    first.kill();
    let probe = fixture.path().join("after-kill.pdf");
    assert!(
        !blobs.get_file("large", "archive-sealed.pdf", &probe),
        "a killed job left an output"
    );

    let second = serve(fixture, blobs, "large-second");
    let done = follow(&second, &path, |_| {});
    let peak_kib = peak_rss_kib(second.pid());
    let output = fixture.path().join("large-sealed.pdf");
    assert!(blobs.get_file("large", "archive-sealed.pdf", &output));
    let body = check_success(&done, &output, &input, fixture, validators);
    assert_eq!(
        body["attempts"], 2,
        "the job did not run exactly twice (killed once): {body}"
    );
    assert!(
        peak_kib <= MAX_PEAK_RSS_KIB,
        "the server peaked at {peak_kib} KiB sealing a 1 GiB blob (limit {MAX_PEAK_RSS_KIB} KiB)"
    );
    eprintln!("1 GiB job: peak RSS {peak_kib} KiB; {}", body["timings"]);
}

/// Polls the status URL every 20 ms until the job runs; panics if it ends first.
fn wait_until_running(server: &Server, path: &str) {
    let started = Instant::now();
    loop {
        let reply = server.send(Method::GET, path, &[], Vec::new()).unwrap();
        assert_eq!(
            reply.status, 202,
            "the job ended before it was seen running"
        );
        if reply.json()["status"] == "running" {
            return;
        }
        assert!(
            started.elapsed() < Duration::from_secs(120),
            "the job never started"
        );
        thread::sleep(Duration::from_millis(20));
    }
}
