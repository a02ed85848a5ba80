//! What `pdf-seal serve` refuses at start (exit code 2, the variable named on stderr), and
//! that function keys let it listen beyond loopback.

use std::process::Command;
use std::time::Duration;

use reqwest::Method;

use super::support::fixture::Fixture;
use super::support::process::{self, Finished};
use super::support::server::Server;
use super::{KEY, KEY_CHALLENGE, check_unauthorised, send};

/// How long a refused start may take; a server that starts instead is killed then.
const REFUSAL_LIMIT: Duration = Duration::from_secs(30);

/// `pdf-seal serve` with `args` and `env`, outside any Functions host.
fn serve_command(fixture: &Fixture, args: &[&str], env: &[(&str, &str)]) -> Command {
    let mut command = fixture.command();
    command
        .arg("serve")
        .args(args)
        .env_remove("FUNCTIONS_CUSTOMHANDLER_PORT")
        .envs(env.iter().copied());
    command
}

/// Runs a `pdf-seal serve` that should refuse to start.
fn start(fixture: &Fixture, args: &[&str], env: &[(&str, &str)]) -> Finished {
    process::run(&mut serve_command(fixture, args, env), REFUSAL_LIMIT)
}

/// Checks that `ran` exited with code 2 before listening, naming `variable` on stderr.
fn check_refused(ran: &Finished, variable: &str, what: &str) {
    let stderr = ran.stderr_text();
    assert_eq!(
        ran.code(),
        Some(2),
        "{what}: {}; stderr:\n{stderr}",
        ran.ending()
    );
    assert!(
        stderr.contains(variable),
        "{what}: stderr does not name {variable}:\n{stderr}"
    );
    assert!(ran.stdout.is_empty(), "{what}: {}", ran.stdout_text());
}

#[test]
fn function_keys_let_the_server_listen_on_every_address() {
    let fixture = Fixture::new();
    let command = serve_command(
        &fixture,
        &["--bind", "0.0.0.0:0"],
        &[
            ("PDF_SEAL_AUTH", "function-key"),
            ("PDF_SEAL_FUNCTION_KEYS", KEY),
        ],
    );
    let mut server = Server::start(command, &fixture.path().join("everywhere.log"));
    // Only ever called on loopback.
    server.base_url = server.base_url.replace("0.0.0.0", "127.0.0.1");

    let without = send(&server, Method::GET, "/nowhere", &[]);
    let with = send(
        &server,
        Method::GET,
        "/nowhere",
        &[("x-functions-key", KEY)],
    );

    check_unauthorised(&without, "authentication-required", KEY_CHALLENGE, "no key");
    assert_eq!(with.status, 404, "with the key");
}

#[test]
fn no_authentication_beyond_loopback_is_refused_naming_pdf_seal_auth() {
    let fixture = Fixture::new();

    let unset = start(&fixture, &["--bind", "0.0.0.0:0"], &[]);
    let none = start(
        &fixture,
        &["--bind", "0.0.0.0:0"],
        &[("PDF_SEAL_AUTH", "none")],
    );

    check_refused(&unset, "PDF_SEAL_AUTH", "PDF_SEAL_AUTH unset");
    check_refused(&none, "PDF_SEAL_AUTH", "PDF_SEAL_AUTH=none");
}

#[test]
fn under_the_functions_host_the_policy_must_be_set() {
    let fixture = Fixture::new();
    let port = [("FUNCTIONS_CUSTOMHANDLER_PORT", "0")];
    let empty = [("FUNCTIONS_CUSTOMHANDLER_PORT", "0"), ("PDF_SEAL_AUTH", "")];

    let unset = start(&fixture, &[], &port);
    let blank = start(&fixture, &[], &empty);

    check_refused(&unset, "PDF_SEAL_AUTH", "PDF_SEAL_AUTH unset");
    check_refused(&blank, "PDF_SEAL_AUTH", "PDF_SEAL_AUTH empty");
}

#[test]
fn a_short_or_missing_key_is_refused_naming_its_variable_without_quoting_it() {
    let fixture = Fixture::new();
    let short = "short-key-0123456789";
    let keys_file = fixture.path().join("function-keys");
    std::fs::write(&keys_file, format!("{KEY}\n{short}\n")).unwrap();
    let loopback = ["--bind", "127.0.0.1:0"];
    let auth = ("PDF_SEAL_AUTH", "function-key");

    let listed = format!("{KEY},{short}");
    let in_variable = start(
        &fixture,
        &loopback,
        &[auth, ("PDF_SEAL_FUNCTION_KEYS", &listed)],
    );
    let file = keys_file.to_str().unwrap();
    let in_file = start(
        &fixture,
        &loopback,
        &[auth, ("PDF_SEAL_FUNCTION_KEYS_FILE", file)],
    );
    let none = start(&fixture, &loopback, &[auth]);

    check_refused(
        &in_variable,
        "PDF_SEAL_FUNCTION_KEYS",
        "a short key in the variable",
    );
    check_refused(
        &in_file,
        "PDF_SEAL_FUNCTION_KEYS_FILE",
        "a short key in the file",
    );
    check_refused(&none, "PDF_SEAL_FUNCTION_KEYS", "no key");
    for ran in [&in_variable, &in_file] {
        let stderr = ran.stderr_text();
        assert!(!stderr.contains(short) && !stderr.contains(KEY), "{stderr}");
    }
}

/// Found by the outside attack: an address in use was reported without the flag that chose it.
#[test]
fn a_bind_address_in_use_is_reported_with_the_flag() {
    let fixture = Fixture::new();
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let address = taken.local_addr().unwrap().to_string();

    let ran = start(&fixture, &["--bind", &address], &[]);

    assert_ne!(ran.code(), Some(0), "{}", ran.ending());
    let stderr = ran.stderr_text();
    assert!(
        stderr.contains("--bind") && stderr.contains(&address),
        "{stderr}"
    );
}

/// Found by the outside attack: ranges that together trust every address passed the check.
#[test]
fn trusted_proxy_ranges_wider_than_a_subnet_are_refused() {
    let fixture = Fixture::new();

    for ranges in ["0.0.0.0/1,128.0.0.0/1", "::/1,8000::/1"] {
        let ran = start(
            &fixture,
            &["--bind", "127.0.0.1:0"],
            &[("PDF_SEAL_TRUSTED_PROXIES", ranges)],
        );
        check_refused(&ran, "PDF_SEAL_TRUSTED_PROXIES", ranges);
    }
}
