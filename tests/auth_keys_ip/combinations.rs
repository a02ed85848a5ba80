//! Function keys with other checks: as an alternative to Entra ID tokens, and beside the
//! address allow-list.

use std::net::{IpAddr, Ipv4Addr, TcpListener};

use reqwest::Method;

use super::support::fixture::Fixture;
use super::support::server::{Reply, Server};
use super::{
    KEY, KEY_CHALLENGE, WRONG_KEY, check_address_refused, check_sealed, check_unauthorised, events,
    post_pdf, serve, serve_with_key,
};

const TENANT: &str = "6f1b7c3e-2d4a-4e8b-9c0d-1a2b3c4d5e6f";
const CONNECTOR_CLIENT: &str = "0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d";

/// The challenges of a 401 when the policy takes tokens or keys.
fn either_challenge(error: &str, description: &str) -> String {
    format!(
        "Bearer realm=\"pdf-seal\", error=\"{error}\", error_description=\"{description}\", \
         {KEY_CHALLENGE}"
    )
}

/// A loopback URL on which nothing listens: the OpenID metadata can never be fetched, so no
/// test depends on a token being accepted and none reaches beyond this machine.
fn unreachable_metadata_url() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    format!("http://127.0.0.1:{port}/{TENANT}/v2.0/.well-known/openid-configuration")
}

/// A server whose `PDF_SEAL_AUTH` is `auth`, with [`KEY`] and Entra ID settings whose keys can
/// never be fetched.
fn serve_with_entra(fixture: &Fixture, name: &str, auth: &str) -> Server {
    let metadata_url = unreachable_metadata_url();
    serve(
        fixture,
        name,
        &[
            ("PDF_SEAL_AUTH", auth),
            ("PDF_SEAL_FUNCTION_KEYS", KEY),
            ("PDF_SEAL_ENTRA_TENANT_ID", TENANT),
            ("PDF_SEAL_ENTRA_AUDIENCE", "api://pdf-seal-test"),
            ("PDF_SEAL_ENTRA_ALLOWED_CLIENTS", CONNECTOR_CLIENT),
            ("PDF_SEAL_ENTRA_METADATA_URL", &metadata_url),
        ],
    )
}

#[test]
fn with_entra_id_or_a_key_a_valid_key_alone_admits() {
    let fixture = Fixture::new();
    let server = serve_with_entra(&fixture, "either", "entra-id,function-key");

    let by_key = post_pdf(&server, "/api/seal", &[("x-functions-key", KEY)]);
    let nothing = post_pdf(&server, "/api/seal", &[]);
    let wrong_key = post_pdf(&server, "/api/seal", &[("x-functions-key", WRONG_KEY)]);

    // A token that cannot be checked (the identity provider is out of reach) does not stand
    // in the way of a valid key.
    let beside_a_token = post_pdf(
        &server,
        "/api/seal",
        &[
            ("x-functions-key", KEY),
            ("authorization", "Bearer abc.def.ghi"),
        ],
    );

    check_sealed(&by_key, "a key without a token");
    check_sealed(&beside_a_token, "a key beside a token");
    let summaries = events(&server, "request");
    let sealed: Vec<_> = summaries
        .iter()
        .filter(|e| e["http.status"] == 200)
        .collect();
    assert_eq!(sealed.len(), 2, "{summaries:?}");
    for summary in sealed {
        assert_eq!(summary["auth.method"], "function-key", "{summary}");
    }
    let needs = "this API needs an Entra ID bearer token, or a function key (x-functions-key or \
                 ?code=)";
    let challenge = either_challenge("invalid_token", needs);
    check_unauthorised(
        &nothing,
        "authentication-required",
        &challenge,
        "no credential",
    );
    // The key is at fault, not a token: the Bearer challenge carries no error.
    let challenge = "Bearer realm=\"pdf-seal\", FunctionKey realm=\"pdf-seal\"";
    check_unauthorised(&wrong_key, "invalid-function-key", challenge, "a wrong key");
}

#[test]
fn a_key_and_an_allowed_address_are_both_needed() {
    let fixture = Fixture::new();
    let server = serve_with_key(&fixture, "both", &[("PDF_SEAL_IP_ALLOW", "127.0.0.2")]);
    let allowed = IpAddr::V4(Ipv4Addr::new(127, 0, 0, 2));
    let other = IpAddr::V4(Ipv4Addr::new(127, 0, 0, 3));
    let get = |source: IpAddr, headers: &[(&str, &str)]| -> Reply {
        server
            .send_from(source, Method::GET, "/nowhere", headers, Vec::new())
            .unwrap()
    };
    let key = [("x-functions-key", KEY)];

    let both = get(allowed, &key);
    let address_only = get(allowed, &[]);
    let key_only = get(other, &key);
    let neither = get(other, &[]);

    assert_eq!(
        both.status, 404,
        "key and address: admitted to a path that is not there"
    );
    check_unauthorised(
        &address_only,
        "authentication-required",
        KEY_CHALLENGE,
        "no key",
    );
    check_address_refused(&key_only, "127.0.0.3", "the key from another address");
    check_address_refused(&neither, "127.0.0.3", "neither");
    // The address is judged first: a refused address is not asked for its key.
    assert_eq!(events(&server, "ip.denied").len(), 2);
    assert_eq!(events(&server, "auth.denied").len(), 1);
}

#[test]
fn with_entra_id_and_a_key_a_key_alone_is_refused() {
    let fixture = Fixture::new();
    let server = serve_with_entra(&fixture, "both-methods", "entra-id+function-key");

    let key_only = post_pdf(&server, "/api/seal", &[("x-functions-key", KEY)]);

    let missing = "this API also needs an Entra ID bearer token in the Authorization header";
    let challenge = either_challenge("invalid_token", missing);
    check_unauthorised(
        &key_only,
        "invalid-token",
        &challenge,
        "a key without a token",
    );
    let denial = &events(&server, "auth.denied")[0];
    assert_eq!(denial["auth.reason"], "missing-token", "{denial}");
}
