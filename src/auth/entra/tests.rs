//! The validator as a whole: header, key, signature and claims in order, against a fake
//! provider. The rules themselves are tested beside each step.

use std::sync::Arc;

use aws_lc_rs::hmac;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::json;

use super::testing::{CLIENT, FakeSource, OTHER_TENANT, TENANT, TestKey, settings, v2_claims};
use super::*;

fn validator(source: &Arc<FakeSource>) -> EntraValidator<Arc<FakeSource>> {
    EntraValidator::with_source(settings(), Arc::clone(source))
}

async fn rejection(source: &Arc<FakeSource>, token: &str) -> TokenRejection {
    validator(source).validate(token).await.unwrap_err()
}

#[tokio::test]
async fn accepts_a_valid_token_and_says_who_it_speaks_for() {
    let key = TestKey::shared();
    let source = FakeSource::with_keys(&[key]);

    let identity = validator(&source)
        .validate(&key.token(&v2_claims()))
        .await
        .unwrap();

    assert_eq!(identity.tenant_id, TENANT);
    assert_eq!(identity.client_id.as_deref(), Some(CLIENT));
    assert!(identity.object_id.is_some());
}

#[tokio::test]
async fn refuses_alg_none_before_fetching_any_key() {
    let key = TestKey::shared();
    let source = FakeSource::with_keys(&[key]);
    let header = json!({"alg": "none", "kid": key.kid});
    let unsigned = format!("{}.", testing::signing_input(&header, &v2_claims()));
    let with_junk = format!("{unsigned}c2ln");

    for token in [unsigned, with_junk] {
        let refused = rejection(&source, &token).await;

        assert_eq!(refused.reason(), "unsupported-algorithm", "{refused:?}");
    }
    assert_eq!(source.fetches(), 0);
}

#[tokio::test]
async fn refuses_hs256_keyed_with_the_public_key() {
    let key = TestKey::shared();
    let source = FakeSource::with_keys(&[key]);
    let header = json!({"alg": "HS256", "kid": key.kid});
    let input = testing::signing_input(&header, &v2_claims());
    for secret in [key.modulus(), key.jwk().to_string().into_bytes()] {
        let mac = hmac::sign(
            &hmac::Key::new(hmac::HMAC_SHA256, &secret),
            input.as_bytes(),
        );
        let token = format!("{input}.{}", URL_SAFE_NO_PAD.encode(mac.as_ref()));

        let refused = rejection(&source, &token).await;

        assert_eq!(refused.reason(), "unsupported-algorithm");
    }
    assert_eq!(source.fetches(), 0);
}

#[tokio::test]
async fn refuses_a_kid_the_provider_does_not_publish() {
    let published = TestKey::shared();
    let unpublished = TestKey::generate("not-published");
    let source = FakeSource::with_keys(&[published]);

    let refused = rejection(&source, &unpublished.token(&v2_claims())).await;

    assert_eq!(refused.reason(), "unknown-key");
}

#[tokio::test]
async fn refuses_a_token_signed_by_another_key_under_a_published_kid() {
    let published = TestKey::shared();
    let impostor = TestKey::generate(&published.kid);
    let source = FakeSource::with_keys(&[published]);

    let refused = rejection(&source, &impostor.token(&v2_claims())).await;

    assert_eq!(refused.reason(), "bad-signature");
}

#[tokio::test]
async fn an_unreachable_provider_without_keys_is_unavailable() {
    let key = TestKey::shared();
    let source = FakeSource::with_keys(&[key]);
    source.fail();

    let refused = rejection(&source, &key.token(&v2_claims())).await;

    assert!(matches!(refused, TokenRejection::Unavailable { .. }));
    assert_eq!(refused.reason(), "identity-provider-unavailable");
}

#[tokio::test]
async fn the_issuer_is_taken_from_the_metadata() {
    let key = TestKey::shared();
    let source = FakeSource::with_keys(&[key]);
    let mut claims = v2_claims();
    claims["iss"] = json!(format!("https://login.microsoftonline.com/{TENANT}/v2.0"));

    let refused = rejection(&source, &key.token(&claims)).await;

    assert_eq!(refused.reason(), "wrong-issuer");
}

#[tokio::test]
async fn signature_and_time_are_judged_before_the_rights() {
    let key = TestKey::shared();
    let source = FakeSource::with_keys(&[key]);
    let mut claims = v2_claims();
    claims["tid"] = json!(OTHER_TENANT);
    claims["scp"] = json!("nothing");
    claims["exp"] = json!(testing::now() - 3600);

    let refused = rejection(&source, &key.token(&claims)).await;

    assert_eq!(refused.reason(), "expired");
}

#[tokio::test]
async fn warm_up_fetches_the_keys_once() {
    let key = TestKey::shared();
    let source = FakeSource::with_keys(&[key]);
    let validator = validator(&source);

    validator.warm_up().await;
    validator.validate(&key.token(&v2_claims())).await.unwrap();

    assert_eq!(source.fetches(), 1);
}

#[tokio::test]
async fn a_failed_warm_up_does_not_fail() {
    let key = TestKey::shared();
    let source = FakeSource::with_keys(&[key]);
    source.fail();

    validator(&source).warm_up().await;

    assert_eq!(source.fetches(), 1);
}
