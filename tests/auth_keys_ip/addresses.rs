//! `PDF_SEAL_IP_ALLOW` and `PDF_SEAL_TRUSTED_PROXIES`: which client addresses may call, and
//! when `X-Forwarded-For` names the client.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, TcpListener};

use reqwest::Method;

use super::common::minimal_pdf;
use super::support::fixture::Fixture;
use super::support::server::{Reply, Server};
use super::{Headers, check_address_refused, check_sealed, events, serve, summary};

const ALLOWED: IpAddr = IpAddr::V4(Ipv4Addr::new(127, 0, 0, 2));
const OTHER: IpAddr = IpAddr::V4(Ipv4Addr::new(127, 0, 0, 3));
const PROXY: IpAddr = IpAddr::V4(Ipv4Addr::new(127, 0, 0, 5));
const UNTRUSTED: IpAddr = IpAddr::V4(Ipv4Addr::new(127, 0, 0, 6));

/// `GET /api/health` from `source` with `headers`.
fn health_from(server: &Server, source: IpAddr, headers: &[(&str, &str)]) -> Reply {
    server
        .send_from(source, Method::GET, "/api/health", headers, Vec::new())
        .unwrap_or_else(|error| panic!("{error}; the server's log:\n{}", server.log_tail()))
}

/// A sealing request from `source`.
fn seal_from(server: &Server, source: IpAddr) -> Reply {
    let headers = [("content-type", "application/pdf")];
    server
        .send_from(source, Method::POST, "/api/seal", &headers, minimal_pdf())
        .unwrap_or_else(|error| panic!("{error}; the server's log:\n{}", server.log_tail()))
}

#[test]
fn only_listed_addresses_may_call_health_checks_included() {
    let fixture = Fixture::new();
    let server = serve(&fixture, "allow", &[("PDF_SEAL_IP_ALLOW", "127.0.0.2/32")]);

    let allowed_health = health_from(&server, ALLOWED, &[]);
    let allowed_seal = seal_from(&server, ALLOWED);
    let other_health = health_from(&server, OTHER, &[]);
    let other_seal = seal_from(&server, OTHER);
    let default_source = server
        .send(Method::GET, "/api/health", &[], Vec::new())
        .unwrap();

    assert_eq!(allowed_health.status, 200);
    check_sealed(&allowed_seal, "a seal from the allowed address");
    check_address_refused(&other_health, "127.0.0.3", "health from another address");
    check_address_refused(&other_seal, "127.0.0.3", "a seal from another address");
    check_address_refused(&default_source, "127.0.0.1", "health from 127.0.0.1");

    let denials = events(&server, "ip.denied");
    let addresses: Vec<&str> = denials
        .iter()
        .map(|event| event["client.address"].as_str().unwrap_or_default())
        .collect();
    assert_eq!(
        addresses,
        ["127.0.0.3", "127.0.0.3", "127.0.0.1"],
        "{denials:?}"
    );
    for denial in &denials {
        assert_eq!(denial["level"], "INFO", "{denial}");
        assert_eq!(denial["auth.reason"], "address-not-allowed", "{denial}");
        assert!(denial["http.path"].is_string(), "{denial}");
    }
    let refused = summary(&server, "POST", "/api/seal", 403);
    assert_eq!(refused["client.address"], "127.0.0.3", "{refused}");
    assert_eq!(refused["problem.type"], "/problems/address-not-allowed");
}

#[test]
fn behind_a_trusted_proxy_the_forwarded_client_is_judged() {
    let fixture = Fixture::new();
    let server = serve(
        &fixture,
        "proxy",
        &[
            ("PDF_SEAL_IP_ALLOW", "203.0.113.0/24"),
            ("PDF_SEAL_TRUSTED_PROXIES", "127.0.0.5/32"),
        ],
    );
    let xff = |value| vec![("x-forwarded-for", value)];
    let unreadable = "cannot be told";
    // What, from where, with which headers, and the address the refusal names (None: admitted).
    let cases: [(&str, IpAddr, Headers, Option<&str>); 11] = [
        ("an allowed client", PROXY, xff("203.0.113.7"), None),
        (
            "a port, as App Service adds",
            PROXY,
            xff("203.0.113.7:5123"),
            None,
        ),
        ("a chain", PROXY, xff(" 198.51.100.9 ,203.0.113.7 "), None),
        (
            "another client",
            PROXY,
            xff("198.51.100.7"),
            Some("198.51.100.7"),
        ),
        (
            "an allowed address the client wrote before the proxy's entry",
            PROXY,
            xff("203.0.113.7, 198.51.100.7"),
            Some("198.51.100.7"),
        ),
        (
            "an untrusted peer",
            UNTRUSTED,
            xff("203.0.113.7"),
            Some("127.0.0.6"),
        ),
        ("no header", PROXY, vec![], Some("127.0.0.5")),
        (
            "Forwarded",
            PROXY,
            vec![("forwarded", "for=203.0.113.7")],
            Some("127.0.0.5"),
        ),
        (
            "X-Real-IP",
            PROXY,
            vec![("x-real-ip", "203.0.113.7")],
            Some("127.0.0.5"),
        ),
        (
            "a garbage entry",
            PROXY,
            xff("not-an-address"),
            Some(unreadable),
        ),
        (
            "a garbage last entry",
            PROXY,
            xff("203.0.113.7, _hidden"),
            Some(unreadable),
        ),
    ];

    for (what, source, headers, refused) in &cases {
        let reply = health_from(&server, *source, headers);
        match refused {
            None => assert_eq!(reply.status, 200, "{what}: {}", reply.status),
            Some(named) => check_address_refused(&reply, named, what),
        }
    }

    let denials = events(&server, "ip.denied");
    let refused = cases.iter().filter(|case| case.3.is_some());
    assert_eq!(denials.len(), refused.clone().count(), "{denials:?}");
    for (denial, (what, source, _, named)) in denials.iter().zip(refused) {
        let (address, reason) = match named {
            Some(named) if *named == unreadable => (None, "unreadable-forwarded-for"),
            _ => (*named, "address-not-allowed"),
        };
        assert_eq!(
            denial["client.address"].as_str(),
            address,
            "{what}: {denial}"
        );
        assert_eq!(
            denial["client.peer"],
            source.to_string(),
            "{what}: {denial}"
        );
        assert_eq!(denial["auth.reason"], reason, "{what}: {denial}");
    }
}

#[test]
fn ipv6_loopback_is_judged_by_ipv6_ranges() {
    if let Err(error) = TcpListener::bind("[::1]:0") {
        eprintln!("skipped: this machine cannot listen on ::1 ({error})");
        return;
    }
    let fixture = Fixture::new();
    let server = fixture.serve_on(
        "[::1]:0",
        "ipv6",
        &[
            ("PDF_SEAL_IP_ALLOW", "2001:db8::/32, ::1/128".as_ref()),
            ("PDF_SEAL_TRUSTED_PROXIES", "::1".as_ref()),
        ],
    );
    let loopback = IpAddr::V6(Ipv6Addr::LOCALHOST);

    let direct = health_from(&server, loopback, &[]);
    let forwarded = health_from(
        &server,
        loopback,
        &[("x-forwarded-for", "[2001:db8::7]:443")],
    );
    let other = health_from(&server, loopback, &[("x-forwarded-for", "2001:db9::7")]);

    assert_eq!(direct.status, 200);
    assert_eq!(forwarded.status, 200);
    check_address_refused(
        &other,
        "2001:db9::7",
        "a forwarded address outside the ranges",
    );
    let denials = events(&server, "ip.denied");
    assert_eq!(denials.len(), 1, "{denials:?}");
    assert_eq!(denials[0]["client.address"], "2001:db9::7");
    assert_eq!(denials[0]["client.peer"], "::1");
}
