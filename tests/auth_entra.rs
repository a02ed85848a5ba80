//! Entra ID authentication end to end: the real `pdf-seal serve` in front of a real OpenID
//! provider (oauth2-mock-server on loopback, shaped like an Entra ID tenant by
//! `tools/oidc-provider`), with tokens the provider issues and tokens the tests sign
//! themselves to break one rule at a time.

mod common;
mod support;

use std::ffi::OsString;
use std::time::{Duration, Instant};

use reqwest::Method;
use serde_json::{Value, json};

use support::fixture::{COMMAND_LIMIT, Fixture};
use support::jwt::{TestKey, hs256_token, now, signing_input};
use support::oidc_provider::{OidcProvider, free_port};
use support::process;
use support::server::{Reply, Server};

/// The home tenant.
const TENANT: &str = "11111111-2222-3333-4444-555555555555";
/// A second tenant, listed in `PDF_SEAL_ENTRA_ALLOWED_TENANTS`.
const SECOND_TENANT: &str = "22222222-3333-4444-5555-666666666666";
/// A tenant nobody allowed.
const STRANGER_TENANT: &str = "33333333-4444-5555-6666-777777777777";
/// The API's client id: the audience of v2 tokens, and `api://` it of v1 tokens.
const API: &str = "99999999-8888-7777-6666-555555555555";
/// The connector's client id, the one application allowed to call.
const CLIENT: &str = "aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee";
const OTHER_CLIENT: &str = "bbbbbbbb-0000-0000-0000-000000000000";
/// The signed-in user, or the calling service principal.
const USER: &str = "0a0a0a0a-1111-2222-3333-444444444444";
const SERVICE_PRINCIPAL: &str = "0b0b0b0b-1111-2222-3333-444444444444";
const SCOPE: &str = "user_impersonation";
const ROLE: &str = "Seal.All";

/// How long a condition that should come true (keys refreshed, provider up) may take.
const EVENTUALLY: Duration = Duration::from_secs(30);

/// A provider with one test key published, and `pdf-seal serve` checking its tokens.
struct Setup {
    provider: OidcProvider,
    /// Published at the provider before the service started.
    key: TestKey,
    server: Server,
    _fixture: Fixture,
}

impl Setup {
    /// Starts both, the service with `extra` settings beside those of [`entra_env`].
    fn start(name: &str, extra: &[(&str, &str)]) -> Self {
        let provider = OidcProvider::start(TENANT);
        let key = TestKey::generate("test-signing-key");
        provider.add_key(&key);
        let fixture = Fixture::new();
        let server = serve(&fixture, name, &provider.metadata_url(), extra);
        Self {
            provider,
            key,
            server,
            _fixture: fixture,
        }
    }

    /// Claims of a valid v2 user token of the home tenant, for the tests to sign and break.
    fn claims(&self) -> Value {
        let now = now();
        json!({
            "aud": API,
            "iss": self.provider.issuer(),
            "iat": now - 10,
            "nbf": now - 10,
            "exp": now + 3600,
            "tid": TENANT,
            "oid": USER,
            "azp": CLIENT,
            "scp": SCOPE,
            "ver": "2.0",
        })
    }

    /// The claims with `changes` made; a null value removes the claim.
    fn claims_with(&self, changes: &[(&str, Value)]) -> Value {
        let mut claims = self.claims();
        for (claim, value) in changes {
            if value.is_null() {
                claims.as_object_mut().unwrap().remove(*claim);
            } else {
                claims[*claim] = value.clone();
            }
        }
        claims
    }
}

/// The Entra ID settings of every test: the home tenant, the API's client id as audience, the
/// connector as the one client, the default scope and one app role.
fn serve(fixture: &Fixture, name: &str, metadata_url: &str, extra: &[(&str, &str)]) -> Server {
    let mut env: Vec<(&str, String)> = vec![
        ("PDF_SEAL_AUTH", "entra-id".to_owned()),
        ("PDF_SEAL_ENTRA_TENANT_ID", TENANT.to_owned()),
        ("PDF_SEAL_ENTRA_AUDIENCE", API.to_owned()),
        ("PDF_SEAL_ENTRA_ALLOWED_CLIENTS", CLIENT.to_owned()),
        ("PDF_SEAL_ENTRA_ROLES", ROLE.to_owned()),
        ("PDF_SEAL_ENTRA_METADATA_URL", metadata_url.to_owned()),
    ];
    env.extend(
        extra
            .iter()
            .map(|(name, value)| (*name, (*value).to_owned())),
    );
    let env: Vec<(&str, OsString)> = env
        .into_iter()
        .map(|(name, value)| (name, OsString::from(value)))
        .collect();
    let pairs: Vec<(&str, &std::ffi::OsStr)> = env
        .iter()
        .map(|(name, value)| (*name, value.as_os_str()))
        .collect();
    fixture.serve_with(name, &pairs)
}

/// `POST /api/seal` with a small PDF and `authorization` (a whole header value) when given.
fn seal_with(server: &Server, authorization: Option<&str>) -> Reply {
    let mut headers = vec![("Content-Type", "application/pdf")];
    if let Some(value) = authorization {
        headers.push(("Authorization", value));
    }
    server
        .send(Method::POST, "/api/seal", &headers, common::minimal_pdf())
        .unwrap()
}

/// `POST /api/seal` with `token` as the bearer token.
fn seal(server: &Server, token: &str) -> Reply {
    seal_with(server, Some(&format!("Bearer {token}")))
}

/// Sends `token` until it is accepted, as happens once the service has fetched new keys.
fn seal_until_accepted(server: &Server, token: &str) -> Reply {
    let started = Instant::now();
    loop {
        let reply = seal(server, token);
        if reply.status == 200 || started.elapsed() > EVENTUALLY {
            return reply;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn assert_sealed(reply: &Reply, server: &Server) {
    assert_eq!(
        reply.status,
        200,
        "{}\n{}",
        String::from_utf8_lossy(&reply.body),
        server.log_tail()
    );
    assert!(reply.body.starts_with(b"%PDF"), "the answer is not a PDF");
}

/// The challenge a refusal should carry in `WWW-Authenticate`.
#[derive(Clone, Copy, Debug)]
enum Challenge {
    InvalidToken,
    InsufficientScope,
    Absent,
}

/// Checks a refusal's status, problem type and challenge.
fn assert_refused(reply: &Reply, status: u16, problem: &str, challenge: Challenge, case: &str) {
    let body = reply.json();
    assert_eq!(reply.status, status, "{case}: {body}");
    assert_eq!(
        reply.header("content-type").as_deref(),
        Some("application/problem+json"),
        "{case}"
    );
    assert_eq!(
        body["type"],
        format!("/problems/{problem}"),
        "{case}: {body}"
    );

    let header = reply.header("www-authenticate");
    match challenge {
        Challenge::InvalidToken | Challenge::InsufficientScope => {
            let error = match challenge {
                Challenge::InvalidToken => "invalid_token",
                _ => "insufficient_scope",
            };
            let header = header.unwrap_or_else(|| panic!("{case}: no WWW-Authenticate"));
            assert!(
                header.starts_with("Bearer realm=\"pdf-seal\""),
                "{case}: {header}"
            );
            assert!(
                header.contains(&format!("error=\"{error}\"")),
                "{case}: {header}"
            );
        }
        Challenge::Absent => assert_eq!(header, None, "{case}"),
    }
}

/// The server's log events whose message is `message`, in order.
fn events(server: &Server, message: &str) -> Vec<Value> {
    server
        .log_text()
        .lines()
        .filter_map(|line| serde_json::from_str::<Value>(line).ok())
        .filter(|event| event["message"] == message)
        .collect()
}

/// The `auth.reason` of every `auth.denied` event so far.
fn denied_reasons(server: &Server) -> Vec<String> {
    events(server, "auth.denied")
        .iter()
        .map(|event| event["auth.reason"].as_str().unwrap_or_default().to_owned())
        .collect()
}

#[test]
fn a_v2_user_token_from_the_provider_seals_and_the_log_names_the_caller_not_the_token() {
    let setup = Setup::start("v2", &[]);
    let token = setup.provider.token(json!({
        "tid": TENANT, "aud": API, "azp": CLIENT, "oid": USER, "scp": SCOPE, "ver": "2.0",
    }));

    let reply = seal(&setup.server, &token);

    assert_sealed(&reply, &setup.server);
    let summaries: Vec<Value> = events(&setup.server, "request")
        .into_iter()
        .filter(|event| event["http.path"] == "/api/seal")
        .collect();
    assert_eq!(summaries.len(), 1, "{}", setup.server.log_text());
    let summary = &summaries[0];
    assert_eq!(summary["http.status"], 200);
    assert_eq!(summary["auth.method"], "entra-id");
    assert_eq!(summary["auth.object_id"], USER);
    assert_eq!(summary["auth.client_id"], CLIENT);
    assert_eq!(summary["auth.tenant_id"], TENANT);
    let log = setup.server.log_text();
    let signature = token.rsplit('.').next().unwrap();
    assert!(!log.contains(signature), "the token reached the log");
    assert_eq!(events(&setup.server, "entra.keys_fetched").len(), 1);
}

#[test]
fn a_v1_token_with_appid_and_the_api_uri_seals() {
    let setup = Setup::start("v1", &[]);
    let token = setup.provider.token(json!({
        "tid": TENANT,
        "aud": format!("api://{API}"),
        "iss": format!("https://sts.windows.net/{TENANT}/"),
        "appid": CLIENT,
        "oid": USER,
        "scp": SCOPE,
        "ver": "1.0",
    }));

    assert_sealed(&seal(&setup.server, &token), &setup.server);
}

#[test]
fn an_application_token_with_the_configured_role_seals() {
    let setup = Setup::start("app", &[]);
    let token = setup.provider.token(json!({
        "tid": TENANT, "aud": API, "azp": CLIENT, "oid": SERVICE_PRINCIPAL,
        "roles": [ROLE], "ver": "2.0",
    }));

    assert_sealed(&seal(&setup.server, &token), &setup.server);
}

#[test]
fn health_needs_no_token_and_sealing_without_one_is_refused() {
    let setup = Setup::start("health", &[]);

    let health = setup
        .server
        .send(Method::GET, "/api/health", &[], Vec::new())
        .unwrap();
    let anonymous = seal_with(&setup.server, None);

    assert_eq!(health.status, 200);
    assert_refused(
        &anonymous,
        401,
        "authentication-required",
        Challenge::InvalidToken,
        "no token",
    );
    assert_eq!(denied_reasons(&setup.server), ["missing-credentials"]);
}

#[test]
fn a_second_tenant_listed_in_the_allowed_tenants_is_admitted() {
    let setup = Setup::start(
        "second-tenant",
        &[("PDF_SEAL_ENTRA_ALLOWED_TENANTS", SECOND_TENANT)],
    );
    let from_provider = setup.provider.token(json!({
        "tid": SECOND_TENANT, "aud": API, "azp": CLIENT, "oid": USER, "scp": SCOPE, "ver": "2.0",
    }));
    let second_issuer = format!("{}/{SECOND_TENANT}/v2.0", setup.provider.base_url);
    let test_signed = setup
        .key
        .token(&setup.claims_with(&[("tid", json!(SECOND_TENANT)), ("iss", json!(second_issuer))]));

    assert_sealed(&seal(&setup.server, &from_provider), &setup.server);
    assert_sealed(&seal(&setup.server, &test_signed), &setup.server);
}

#[test]
fn tokens_that_break_a_rule_are_refused_with_its_reason() {
    let setup = Setup::start(
        "refusals",
        &[("PDF_SEAL_ENTRA_ALLOWED_TENANTS", SECOND_TENANT)],
    );
    let key = &setup.key;
    let base = &setup.provider.base_url;
    let impostor = TestKey::generate(&key.kid);
    let none_header = json!({"alg": "none", "kid": key.kid});
    let long = "a".repeat(16 * 1024 + 1);

    // (case, Authorization value, status, problem type, auth.reason, challenge)
    let invalid = |case: &'static str, token: String, reason: &'static str| {
        (
            case,
            format!("Bearer {token}"),
            401,
            "invalid-token",
            reason,
            Challenge::InvalidToken,
        )
    };
    let cases = vec![
        invalid(
            "expired",
            key.token(&setup.claims_with(&[("exp", json!(now() - 600))])),
            "expired",
        ),
        invalid(
            "not yet valid",
            key.token(&setup.claims_with(&[("nbf", json!(now() + 600))])),
            "not-yet-valid",
        ),
        invalid(
            "wrong audience",
            key.token(&setup.claims_with(&[("aud", json!("api://someone-else"))])),
            "wrong-audience",
        ),
        invalid(
            "issuer of another host",
            key.token(&setup.claims_with(&[(
                "iss",
                json!(format!("https://login.example.test/{TENANT}/v2.0")),
            )])),
            "wrong-issuer",
        ),
        invalid(
            "issuer of another tenant than tid",
            key.token(
                &setup.claims_with(&[("iss", json!(format!("{base}/{SECOND_TENANT}/v2.0")))]),
            ),
            "wrong-issuer",
        ),
        invalid(
            "no tid",
            key.token(&setup.claims_with(&[("tid", Value::Null)])),
            "missing-claim",
        ),
        invalid(
            "signed by another key under the published kid",
            impostor.token(&setup.claims()),
            "bad-signature",
        ),
        invalid(
            "alg none",
            format!("{}.", signing_input(&none_header, &setup.claims())),
            "unsupported-algorithm",
        ),
        invalid(
            "HS256 keyed with the public key's modulus",
            hs256_token(&key.kid, &setup.claims(), &key.modulus()),
            "unsupported-algorithm",
        ),
        invalid(
            "HS256 keyed with the public key's PEM",
            hs256_token(&key.kid, &setup.claims(), key.public_pem().as_bytes()),
            "unsupported-algorithm",
        ),
        invalid(
            "two parts",
            "eyJhbGciOiJSUzI1NiJ9.e30".to_owned(),
            "malformed-token",
        ),
        invalid(
            "header not base64url",
            "a.e30.c2ln".to_owned(),
            "malformed-token",
        ),
        invalid(
            "header not JSON",
            "bm90IGpzb24.e30.c2ln".to_owned(),
            "malformed-token",
        ),
        invalid("oversized", long, "token-too-large"),
        (
            "tenant not allowed",
            format!(
                "Bearer {}",
                key.token(&setup.claims_with(&[
                    ("tid", json!(STRANGER_TENANT)),
                    ("iss", json!(format!("{base}/{STRANGER_TENANT}/v2.0"))),
                ]))
            ),
            403,
            "access-denied",
            "tenant-not-allowed",
            Challenge::Absent,
        ),
        (
            "another application",
            format!(
                "Bearer {}",
                key.token(&setup.claims_with(&[("azp", json!(OTHER_CLIENT))]))
            ),
            403,
            "access-denied",
            "client-not-allowed",
            Challenge::Absent,
        ),
        (
            "no scope and no role",
            format!(
                "Bearer {}",
                key.token(&setup.claims_with(&[("scp", json!("User.Read"))]))
            ),
            403,
            "access-denied",
            "missing-scope-or-role",
            Challenge::InsufficientScope,
        ),
    ];

    for (index, (case, authorization, status, problem, reason, challenge)) in
        cases.iter().enumerate()
    {
        let reply = seal_with(&setup.server, Some(authorization));

        assert_refused(&reply, *status, problem, *challenge, case);
        let reasons = denied_reasons(&setup.server);
        assert_eq!(reasons.len(), index + 1, "{case}: {reasons:?}");
        assert_eq!(reasons[index], *reason, "{case}");
    }

    let log = setup.server.log_text();
    for (case, authorization, ..) in &cases {
        let token = authorization.trim_start_matches("Bearer ");
        let tail = token.rsplit('.').next().unwrap();
        assert!(
            tail.len() < 8 || !log.contains(tail),
            "{case}: the token reached the log"
        );
    }
    assert_eq!(setup.provider.jwks_requests(), 1, "one fetch, at start");
}

#[test]
fn an_unknown_kid_is_accepted_once_the_provider_publishes_the_key_and_dropped_after_rotation() {
    let setup = Setup::start(
        "unknown-kid",
        &[("PDF_SEAL_ENTRA_KEYS_MIN_REFRESH_SECS", "1")],
    );
    let newcomer = TestKey::generate("published-later");
    let token = newcomer.token(&setup.claims());

    let before = seal(&setup.server, &token);
    assert_refused(
        &before,
        401,
        "invalid-token",
        Challenge::InvalidToken,
        "before",
    );
    assert_eq!(denied_reasons(&setup.server), ["unknown-key"]);

    setup.provider.add_key(&newcomer);
    assert_sealed(&seal_until_accepted(&setup.server, &token), &setup.server);

    let rotated_kid = setup.provider.rotate();
    let rotated = setup.provider.token(json!({
        "tid": TENANT, "aud": API, "azp": CLIENT, "oid": USER, "scp": SCOPE, "ver": "2.0",
    }));
    assert!(rotated_kid.len() > 8);
    assert_sealed(&seal_until_accepted(&setup.server, &rotated), &setup.server);
    let removed = seal(&setup.server, &setup.key.token(&setup.claims()));
    assert_eq!(
        removed.status, 401,
        "a key the provider removed still admits"
    );
    assert_eq!(denied_reasons(&setup.server).last().unwrap(), "unknown-key");
}

#[test]
fn a_burst_of_unknown_kids_causes_at_most_one_key_fetch_per_interval() {
    let interval = Duration::from_secs(4);
    let setup = Setup::start("burst", &[("PDF_SEAL_ENTRA_KEYS_MIN_REFRESH_SECS", "4")]);
    let started = Instant::now();
    assert_eq!(setup.provider.jwks_requests(), 1, "the fetch at start");
    let tokens: Vec<String> = (0..40)
        .map(|n| TestKey::generate(&format!("made-up-{n}")).token(&setup.claims()))
        .collect();

    // The interval since the fetch at start is a matter of time, not of a condition to poll.
    std::thread::sleep(interval.saturating_sub(started.elapsed()));
    let replies: Vec<u16> = std::thread::scope(|scope| {
        let sent: Vec<_> = tokens
            .iter()
            .map(|token| scope.spawn(|| seal(&setup.server, token).status))
            .collect();
        sent.into_iter()
            .map(|thread| thread.join().unwrap())
            .collect()
    });

    assert!(replies.iter().all(|&status| status == 401), "{replies:?}");
    let reasons = denied_reasons(&setup.server);
    assert_eq!(reasons.len(), tokens.len());
    assert!(
        reasons.iter().all(|reason| reason == "unknown-key"),
        "{reasons:?}"
    );
    assert_eq!(
        setup.provider.jwks_requests(),
        2,
        "the burst should cause exactly one fetch"
    );
}

#[test]
fn the_service_starts_while_the_provider_is_down_and_recovers_when_it_is_up() {
    let port = free_port();
    let metadata_url =
        format!("http://127.0.0.1:{port}/{TENANT}/v2.0/.well-known/openid-configuration");
    let fixture = Fixture::new();
    let server = serve(
        &fixture,
        "provider-down",
        &metadata_url,
        &[("PDF_SEAL_ENTRA_KEYS_MIN_REFRESH_SECS", "1")],
    );
    let key = TestKey::generate("test-signing-key");
    let issuer = format!("http://127.0.0.1:{port}/{TENANT}/v2.0");
    let now = now();
    let token = key.token(&json!({
        "aud": API, "iss": issuer, "iat": now, "nbf": now, "exp": now + 3600,
        "tid": TENANT, "oid": USER, "azp": CLIENT, "scp": SCOPE, "ver": "2.0",
    }));

    let down = seal(&server, &token);

    assert_refused(
        &down,
        503,
        "identity-provider-unavailable",
        Challenge::Absent,
        "provider down",
    );
    assert_eq!(down.header("retry-after").as_deref(), Some("10"));
    assert_eq!(denied_reasons(&server), ["identity-provider-unavailable"]);
    assert!(!events(&server, "entra.keys_fetch_failed").is_empty());

    let provider = OidcProvider::start_on(TENANT, port);
    provider.add_key(&key);
    assert_sealed(&seal_until_accepted(&server, &token), &server);
}

#[test]
fn entra_id_without_tenant_or_audience_stops_start_up_naming_the_variable() {
    let fixture = Fixture::new();
    for missing in ["PDF_SEAL_ENTRA_TENANT_ID", "PDF_SEAL_ENTRA_AUDIENCE"] {
        let mut command = fixture.command();
        command
            .args(["serve", "--bind", "127.0.0.1:0"])
            .env("PDF_SEAL_AUTH", "entra-id")
            .env("PDF_SEAL_ENTRA_TENANT_ID", TENANT)
            .env("PDF_SEAL_ENTRA_AUDIENCE", API)
            .env("PDF_SEAL_ENTRA_ALLOWED_CLIENTS", CLIENT)
            .env_remove(missing);

        let ran = process::run(&mut command, COMMAND_LIMIT);

        assert!(
            ran.code().is_some_and(|code| code != 0),
            "{missing}: {}",
            ran.ending()
        );
        assert!(
            ran.stderr_text().contains(missing),
            "{missing}: {}",
            ran.stderr_text()
        );
    }
}
