//! What an outsider without the key tries: credentials where the service does not read them,
//! paths that resemble the one open path, other methods, odd and oversized headers.

use reqwest::Method;
use tokio::io::AsyncWriteExt as _;

use super::raw_http::{read_response, send_partial};
use super::support::fixture::Fixture;
use super::support::jobs::check_problem;
use super::{
    Headers, KEY, KEY_CHALLENGE, address_of, check_log_hides, check_sealed, check_unauthorised,
    events, post_pdf, runtime, send, send_raw, serve_with_key,
};

#[test]
fn a_key_anywhere_but_its_header_or_code_is_not_read() {
    let fixture = Fixture::new();
    let server = serve_with_key(&fixture, "elsewhere", &[]);
    let in_path = format!("/api/seal/code={KEY}");
    let in_encoded_query = format!("/api/seal%3Fcode={KEY}");
    let in_other_parameter = format!("/api/seal?Code={KEY}&codes={KEY}&x-functions-key={KEY}");
    let bearer = format!("Bearer {KEY}");
    let scheme = format!("FunctionKey {KEY}");
    let cookie = format!("code={KEY}");
    let cases: [(&str, &str, Headers); 9] = [
        ("in the path", &in_path, vec![]),
        ("after an encoded '?'", &in_encoded_query, vec![]),
        ("in other parameters", &in_other_parameter, vec![]),
        (
            "as a bearer token",
            "/api/seal",
            vec![("authorization", &bearer)],
        ),
        (
            "as an Authorization scheme",
            "/api/seal",
            vec![("authorization", &scheme)],
        ),
        ("in a cookie", "/api/seal", vec![("cookie", &cookie)]),
        (
            "in x_functions_key",
            "/api/seal",
            vec![("x_functions_key", KEY)],
        ),
        (
            "in x-function-key",
            "/api/seal",
            vec![("x-function-key", KEY)],
        ),
        (
            "in x-functions-key-",
            "/api/seal",
            vec![("x-functions-key-", KEY)],
        ),
    ];

    for (what, target, headers) in &cases {
        let reply = post_pdf(&server, target, headers);
        check_unauthorised(&reply, "authentication-required", KEY_CHALLENGE, what);
    }
    let form = server
        .send(
            Method::POST,
            "/api/seal",
            &[("content-type", "application/x-www-form-urlencoded")],
            format!("code={KEY}").into_bytes(),
        )
        .unwrap();
    check_unauthorised(
        &form,
        "authentication-required",
        KEY_CHALLENGE,
        "in a form body",
    );
}

#[test]
fn a_percent_encoded_code_is_the_same_parameter() {
    let fixture = Fixture::new();
    let server = serve_with_key(&fixture, "encoded", &[]);

    // The Functions host decodes parameter names too; so does pdf-seal, and counts both.
    let encoded = post_pdf(&server, &format!("/api/seal?%63ode={KEY}"), &[]);
    let twice = post_pdf(&server, &format!("/api/seal?%63ode={KEY}&code={KEY}"), &[]);

    check_sealed(&encoded, "?%63ode=");
    check_unauthorised(
        &twice,
        "invalid-function-key",
        KEY_CHALLENGE,
        "?%63ode= and ?code=",
    );
    check_log_hides(&server, &[KEY]);
}

#[test]
fn paths_that_resemble_health_or_seal_need_the_key_and_reach_no_handler() {
    let fixture = Fixture::new();
    let server = serve_with_key(&fixture, "paths", &[]);
    let paths = [
        "/api/health/",
        "/api/health/..%2Fseal",
        "/api/health%2F..%2Fseal",
        "/api/%68ealth",
        "/api%2Fhealth",
        "/api/health%00",
        "/API/HEALTH",
        "//api/health",
        "//api/seal",
        "/API/seal",
        "/api/seal/",
        "/api//seal",
    ];

    for path in paths {
        let without = post_pdf(&server, path, &[]);
        let with = post_pdf(&server, path, &[("x-functions-key", KEY)]);

        check_unauthorised(&without, "authentication-required", KEY_CHALLENGE, path);
        assert!(
            [404, 405].contains(&with.status),
            "{path} with the key answered {}: {}",
            with.status,
            String::from_utf8_lossy(&with.body)
        );
    }

    // Dot segments (which the client would resolve) and other request targets, written as
    // they are: none is read as health...
    let key_header = format!("x-functions-key: {KEY}");
    for (target, with_key) in [
        ("/api/health/../seal", 404),
        ("/api/health;/../seal", 404),
        ("/api/health/%2e%2e/seal", 404),
        ("*", 404),
        // The seal handler, which wants a PDF.
        ("http://elsewhere.test/api/seal", 415),
    ] {
        let without = send_raw(&server, &format!("POST {target} HTTP/1.1"), b"");
        let with = send_raw(
            &server,
            &format!("POST {target} HTTP/1.1\r\n{key_header}"),
            b"",
        );

        assert_eq!(without.status, 401, "POST {target}");
        assert_eq!(without.json()["type"], "/problems/authentication-required");
        assert_eq!(with.status, with_key, "POST {target} with the key");
    }
    // ...and what is read as health is health alone.
    for target in [
        "/api/health#/../seal",
        "/api/health?/../seal",
        "http://elsewhere.test/api/health",
    ] {
        let get = send_raw(&server, &format!("GET {target} HTTP/1.1"), b"");
        let post = send_raw(&server, &format!("POST {target} HTTP/1.1"), b"");

        assert_eq!(get.status, 200, "GET {target}");
        assert_eq!(post.status, 405, "POST {target}");
    }
}

#[test]
fn other_methods_need_the_key_and_are_not_allowed_with_it() {
    let fixture = Fixture::new();
    let server = serve_with_key(&fixture, "methods", &[]);
    let methods = [
        "GET", "PUT", "DELETE", "PATCH", "OPTIONS", "TRACE", "PROPFIND", "SEAL",
    ];

    for name in methods {
        let method = Method::from_bytes(name.as_bytes()).unwrap();
        let without = send(&server, method.clone(), "/api/seal", &[]);
        let with = send(&server, method, "/api/seal", &[("x-functions-key", KEY)]);

        check_unauthorised(&without, "authentication-required", KEY_CHALLENGE, name);
        check_problem(&with, 405, "method-not-allowed", name);
    }
    for name in ["POST", "PUT", "DELETE", "OPTIONS", "TRACE"] {
        let method = Method::from_bytes(name.as_bytes()).unwrap();
        let health = send(&server, method, "/api/health", &[]);

        check_problem(&health, 405, "method-not-allowed", name);
    }
}

#[test]
fn odd_and_oversized_headers_admit_no_one_and_leave_the_server_serving() {
    let fixture = Fixture::new();
    let server = serve_with_key(&fixture, "headers", &[]);
    let long_key = "k".repeat(100 * 1024);
    let long_token = format!("Bearer {}", "t".repeat(20 * 1024));
    let huge = "h".repeat(200 * 1024);

    let key_too_long = post_pdf(&server, "/api/seal", &[("x-functions-key", &long_key)]);
    let token_too_long = post_pdf(&server, "/api/seal", &[("authorization", &long_token)]);
    let head_too_large = post_pdf(&server, "/api/seal", &[("x-padding", &huge)]);
    let many: Vec<String> = (0..120)
        .map(|index| format!("x-h{index}: {index}"))
        .collect();
    let too_many = send_raw(
        &server,
        &format!("GET /api/health HTTP/1.1\r\n{}", many.join("\r\n")),
        b"",
    );

    check_unauthorised(
        &key_too_long,
        "invalid-function-key",
        KEY_CHALLENGE,
        "a 100 KiB key",
    );
    check_unauthorised(
        &token_too_long,
        "authentication-required",
        KEY_CHALLENGE,
        "a long token",
    );
    assert_eq!(head_too_large.status, 431, "a 200 KiB header");
    assert_eq!(too_many.status, 431, "120 headers");

    // Whitespace around a value is not part of it (RFC 9110 section 5.5); inside a name, or
    // folded onto a second line, it makes the head unreadable.
    let head = "GET /nowhere HTTP/1.1";
    for (header, expected) in [
        (format!("x-functions-key:\t {KEY} \t"), 404),
        (format!("X-Functions-Key: {KEY}"), 404),
        (format!("x-functions-key : {KEY}"), 400),
        (format!("x-functions-key:\r\n {KEY}"), 400),
        (
            format!("x-functions-key: {}\r\n {}", &KEY[..20], &KEY[20..]),
            400,
        ),
        (format!("x-functions-key: {KEY}\0"), 400),
        (format!("x-functions-key: {KEY} junk"), 401),
    ] {
        let reply = send_raw(&server, &format!("{head}\r\n{header}"), b"");
        assert_eq!(reply.status, expected, "{header:?}");
    }

    let after = post_pdf(&server, "/api/seal", &[("x-functions-key", KEY)]);
    check_sealed(&after, "a seal after the odd requests");
    check_log_hides(&server, &[KEY, &KEY[20..]]);
}

#[test]
fn a_key_admits_its_own_request_only_not_the_next_on_the_connection() {
    let fixture = Fixture::new();
    let server = serve_with_key(&fixture, "keep-alive", &[]);
    let address = address_of(&server);

    let (first, second) = runtime().block_on(async {
        let head = format!("GET /nowhere HTTP/1.1\r\nx-functions-key: {KEY}");
        let mut stream = send_partial(address, &head, b"").await;
        let first = read_response(&mut stream).await;
        let next = format!("GET /nowhere HTTP/1.1\r\nHost: {address}\r\n\r\n");
        stream.write_all(next.as_bytes()).await.unwrap();
        (first, read_response(&mut stream).await)
    });

    assert_eq!(first.status, 404);
    assert_eq!(second.status, 401);
}

#[test]
fn a_long_path_or_method_without_a_key_adds_little_to_the_log() {
    let fixture = Fixture::new();
    let server = serve_with_key(&fixture, "long", &[]);
    let path = format!("/{}", "p".repeat(60_000));
    let method = "M".repeat(60_000);
    let before = server.log_text().len();

    let long_path = send_raw(&server, &format!("GET {path} HTTP/1.1"), b"");
    let long_method = send_raw(&server, &format!("{method} /api/seal HTTP/1.1"), b"");

    assert_eq!(long_path.status, 401);
    assert_eq!(long_method.status, 401);
    let grown = server.log_text().len() - before;
    assert!(
        grown < 8 * 1024,
        "two refused requests added {grown} bytes to the log"
    );
    let summaries = events(&server, "request");
    let path_summary = &summaries[summaries.len() - 2];
    let method_summary = &summaries[summaries.len() - 1];
    let logged_path = path_summary["http.path"].as_str().unwrap();
    assert!(
        logged_path.ends_with("pp... (60001 bytes)"),
        "{logged_path}"
    );
    let logged_method = method_summary["http.method"].as_str().unwrap();
    assert!(
        logged_method.ends_with("MM... (60000 bytes)"),
        "{logged_method}"
    );
}

#[test]
fn the_body_of_a_refused_request_is_never_read_as_a_request() {
    let fixture = Fixture::new();
    let server = serve_with_key(&fixture, "bodies", &[]);
    let address = address_of(&server);
    let inner = "GET /api/health HTTP/1.1\r\nHost: inner\r\n\r\n";
    let head = "POST /api/seal HTTP/1.1\r\ncontent-type: application/pdf";
    let framings = [
        (
            format!("{head}\r\ncontent-length: {}", inner.len()),
            inner.to_owned(),
        ),
        (
            format!("{head}\r\ntransfer-encoding: chunked"),
            format!("{:x}\r\n{inner}\r\n0\r\n\r\n", inner.len()),
        ),
    ];

    for (head, body) in framings {
        let (refused, next) = runtime().block_on(async {
            let mut stream = send_partial(address, &head, body.as_bytes()).await;
            let refused = read_response(&mut stream).await;
            if refused.header("connection") == Some("close") {
                return (refused, None);
            }
            // Had the body been read as a request, this would get its answer: health's 200.
            let next =
                format!("GET /nowhere HTTP/1.1\r\nHost: {address}\r\nx-functions-key: {KEY}");
            stream
                .write_all(format!("{next}\r\n\r\n").as_bytes())
                .await
                .unwrap();
            (refused, Some(read_response(&mut stream).await))
        });

        assert_eq!(refused.status, 401, "{head}");
        if let Some(next) = next {
            assert_eq!(next.status, 404, "{head}: the answer after the refusal");
        }
    }
}
