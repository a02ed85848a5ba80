//! The claim checks, on claims as Entra ID issues them and as an attacker might change them.

use serde_json::{Value, json};

use super::*;
use crate::auth::entra::testing::{API, CLIENT, ISSUER, OTHER_TENANT, TENANT, settings};

fn templates() -> Vec<String> {
    issuers::templates(&settings(), ISSUER)
}

fn claims(value: Value) -> Claims {
    serde_json::from_value(value).unwrap()
}

fn v2() -> Value {
    json!({
        "aud": API,
        "iss": ISSUER,
        "tid": TENANT,
        "oid": "0a0a0a0a-1111-2222-3333-444444444444",
        "azp": CLIENT,
        "scp": "user_impersonation",
        "ver": "2.0",
    })
}

fn v1() -> Value {
    json!({
        "aud": format!("api://{API}"),
        "iss": format!("https://sts.windows.net/{TENANT}/"),
        "tid": TENANT,
        "oid": "0a0a0a0a-1111-2222-3333-444444444444",
        "appid": CLIENT,
        "scp": "user_impersonation",
        "ver": "1.0",
    })
}

fn with(mut value: Value, changes: &[(&str, Value)]) -> Value {
    for (claim, changed) in changes {
        if changed.is_null() {
            value.as_object_mut().unwrap().remove(*claim);
        } else {
            value[*claim] = changed.clone();
        }
    }
    value
}

fn judge(value: Value) -> Result<EntraIdentity, TokenRejection> {
    check(&claims(value), &settings(), &templates())
}

fn reason(value: Value) -> &'static str {
    judge(value).unwrap_err().reason()
}

#[test]
fn accepts_a_v2_delegated_token_and_names_who_it_speaks_for() {
    let identity = judge(v2()).unwrap();

    assert_eq!(
        identity,
        EntraIdentity {
            object_id: Some("0a0a0a0a-1111-2222-3333-444444444444".to_owned()),
            client_id: Some(CLIENT.to_owned()),
            tenant_id: TENANT.to_owned(),
        }
    );
}

#[test]
fn accepts_a_v1_token_with_appid_and_the_api_uri() {
    let identity = judge(v1()).unwrap();

    assert_eq!(identity.client_id.as_deref(), Some(CLIENT));
}

#[test]
fn accepts_an_application_token_with_a_configured_role() {
    let app = with(
        v2(),
        &[
            ("scp", Value::Null),
            ("roles", json!(["Other", "Seal.All"])),
        ],
    );

    assert!(judge(app).is_ok());
}

#[test]
fn compares_guids_without_regard_to_case() {
    let upper = with(
        v2(),
        &[
            ("aud", json!(API.to_uppercase())),
            ("tid", json!(TENANT.to_uppercase())),
            ("azp", json!(CLIENT.to_uppercase())),
            (
                "iss",
                json!(format!(
                    "https://login.example.test/{}/v2.0",
                    TENANT.to_uppercase()
                )),
            ),
        ],
    );

    let identity = judge(upper).unwrap();

    assert_eq!(identity.tenant_id, TENANT);
    assert_eq!(identity.client_id.as_deref(), Some(CLIENT));
}

#[test]
fn accepts_an_audience_among_several() {
    let several = with(v2(), &[("aud", json!(["https://graph.example.test", API]))]);

    assert!(judge(several).is_ok());
}

#[test]
fn rejects_token_with_wrong_audience() {
    for aud in [
        json!("api://other"),
        json!([]),
        json!(["x", "y"]),
        json!(format!("{API}x")),
    ] {
        assert_eq!(
            reason(with(v2(), &[("aud", aud.clone())])),
            "wrong-audience",
            "{aud}"
        );
    }
}

#[test]
fn a_named_audience_is_compared_exactly() {
    let mut settings = settings();
    settings.audiences = vec!["api://contoso.example/seal".to_owned()];
    let token = |aud: &str| claims(with(v2(), &[("aud", json!(aud))]));

    assert!(
        check(
            &token("api://contoso.example/seal"),
            &settings,
            &templates()
        )
        .is_ok()
    );
    let upper = check(
        &token("API://CONTOSO.EXAMPLE/SEAL"),
        &settings,
        &templates(),
    );
    assert_eq!(upper.unwrap_err().reason(), "wrong-audience");
}

#[test]
fn rejects_token_without_aud_tid_or_iss() {
    for claim in ["aud", "tid", "iss"] {
        assert_eq!(
            reason(with(v2(), &[(claim, Value::Null)])),
            "missing-claim",
            "{claim}"
        );
    }
    assert_eq!(reason(with(v2(), &[("tid", json!(""))])), "missing-claim");
}

#[test]
fn rejects_token_with_wrong_issuer() {
    for iss in [
        "https://evil.example.test/11111111-2222-3333-4444-555555555555/v2.0".to_owned(),
        format!("https://login.example.test/{OTHER_TENANT}/v2.0"),
        format!("https://sts.windows.net/{OTHER_TENANT}/"),
        format!("{ISSUER}/"),
    ] {
        assert_eq!(
            reason(with(v2(), &[("iss", json!(iss))])),
            "wrong-issuer",
            "{iss}"
        );
    }
}

#[test]
fn rejects_token_of_a_tenant_not_allowed_even_with_a_matching_issuer() {
    let other = with(
        v2(),
        &[
            ("tid", json!(OTHER_TENANT)),
            (
                "iss",
                json!(format!("https://login.example.test/{OTHER_TENANT}/v2.0")),
            ),
        ],
    );

    let rejection = judge(other.clone()).unwrap_err();

    assert_eq!(rejection.reason(), "tenant-not-allowed");
    assert!(matches!(
        rejection,
        TokenRejection::Forbidden {
            insufficient_scope: false,
            ..
        }
    ));

    let mut settings = settings();
    settings.allowed_tenants.push(OTHER_TENANT.to_owned());
    assert!(check(&claims(other), &settings, &templates()).is_ok());
}

#[test]
fn rejects_token_of_another_application() {
    let other = "bbbbbbbb-0000-0000-0000-000000000000";

    assert_eq!(
        reason(with(v2(), &[("azp", json!(other))])),
        "client-not-allowed"
    );
    assert_eq!(
        reason(with(v1(), &[("appid", json!(other))])),
        "client-not-allowed"
    );
    assert_eq!(
        reason(with(v2(), &[("azp", Value::Null)])),
        "client-not-allowed"
    );
}

#[test]
fn the_version_decides_between_azp_and_appid() {
    let other = "bbbbbbbb-0000-0000-0000-000000000000";
    let v2_with_appid = with(v2(), &[("appid", json!(other))]);
    let v1_with_azp = with(v1(), &[("azp", json!(other))]);
    let no_version = with(
        v2(),
        &[
            ("ver", Value::Null),
            ("azp", Value::Null),
            ("appid", json!(CLIENT)),
        ],
    );

    assert!(judge(v2_with_appid).is_ok());
    assert!(judge(v1_with_azp).is_ok());
    assert!(judge(no_version).is_ok());
}

#[test]
fn any_client_is_admitted_with_a_star() {
    let mut settings = settings();
    settings.allowed_clients = AllowedClients::Any;
    let other = with(
        v2(),
        &[("azp", json!("bbbbbbbb-0000-0000-0000-000000000000"))],
    );

    assert!(check(&claims(other), &settings, &templates()).is_ok());
}

#[test]
fn rejects_token_without_scope_or_role_as_insufficient_scope() {
    for changes in [
        vec![("scp", Value::Null)],
        vec![("scp", json!("User.Read"))],
        vec![("scp", json!("user_impersonationx"))],
        vec![("scp", json!(""))],
        vec![("scp", Value::Null), ("roles", json!(["Reader"]))],
    ] {
        let rejection = judge(with(v2(), &changes)).unwrap_err();

        assert_eq!(rejection.reason(), "missing-scope-or-role", "{changes:?}");
        let TokenRejection::Forbidden {
            insufficient_scope,
            detail,
            ..
        } = rejection
        else {
            panic!("expected a 403");
        };
        assert!(insufficient_scope);
        assert!(
            detail.contains("user_impersonation") && detail.contains("Seal.All"),
            "{detail}"
        );
    }
}

#[test]
fn finds_the_scope_among_several() {
    let several = with(v2(), &[("scp", json!("User.Read user_impersonation"))]);

    assert!(judge(several).is_ok());
}

#[test]
fn repeats_only_guids_of_the_token() {
    let odd = with(v2(), &[("azp", json!("\"><script>"))]);

    let TokenRejection::Forbidden { detail, .. } = judge(odd).unwrap_err() else {
        panic!("expected a 403");
    };

    assert!(!detail.contains("script"), "{detail}");
}
