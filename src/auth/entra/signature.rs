//! The signature and the validity period of a token, checked by `jsonwebtoken`.
//!
//! RS256 only (the header was checked before, and jsonwebtoken checks it again against the
//! key's family). `exp` is required; `exp` and `nbf` (when present) are compared with the
//! clock with the configured leeway (RFC 7519 sections 4.1.4 and 4.1.5). Audience and issuer
//! are left to [`super::claims`], which needs the token's tenant to judge them.

use std::time::Duration;

use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};

use super::TokenRejection;
use super::claims::Claims;

/// The claims of `token` once its signature verifies with `key` and it is within its validity
/// period, give or take `clock_skew`.
pub fn verify(
    token: &str,
    key: &DecodingKey,
    clock_skew: Duration,
) -> Result<Claims, TokenRejection> {
    let mut validation = Validation::new(Algorithm::RS256);
    validation.leeway = clock_skew.as_secs();
    validation.validate_exp = true;
    validation.validate_nbf = true;
    validation.validate_aud = false;
    validation.set_required_spec_claims(&["exp"]);

    jsonwebtoken::decode::<Claims>(token, key, &validation)
        .map(|data| data.claims)
        .map_err(|error| rejection(error.kind()))
}

fn rejection(kind: &ErrorKind) -> TokenRejection {
    match kind {
        ErrorKind::InvalidSignature => TokenRejection::invalid(
            "bad-signature",
            "the token's signature does not verify with the key it names",
        ),
        ErrorKind::InvalidRsaKey(_) | ErrorKind::InvalidKeyFormat | ErrorKind::Provider(_) => {
            TokenRejection::invalid(
                "bad-signature",
                "the token's signature cannot be verified with the key it names",
            )
        }
        ErrorKind::ExpiredSignature => TokenRejection::invalid("expired", "the token has expired"),
        ErrorKind::ImmatureSignature => TokenRejection::invalid(
            "not-yet-valid",
            "the token is not valid yet (its nbf is in the future)",
        ),
        ErrorKind::MissingRequiredClaim(claim) => TokenRejection::invalid(
            "missing-claim",
            // jsonwebtoken also reports a claim of the wrong type (a string, a negative or
            // huge number) as missing.
            format!(
                "the token has no {} claim that is a number of seconds",
                claim_name(claim)
            ),
        ),
        ErrorKind::InvalidAlgorithm | ErrorKind::InvalidAlgorithmName => TokenRejection::invalid(
            "unsupported-algorithm",
            "the token is not signed with RS256",
        ),
        ErrorKind::InvalidClaimFormat(claim) => TokenRejection::invalid(
            "malformed-token",
            format!("the token's {} claim is not a number", claim_name(claim)),
        ),
        ErrorKind::Base64(_) => TokenRejection::invalid(
            "malformed-token",
            "the token's payload or signature is not base64url",
        ),
        ErrorKind::Json(_) | ErrorKind::Utf8(_) => TokenRejection::invalid(
            "malformed-token",
            "the token's claims are not a JSON object of the types Entra ID issues",
        ),
        _ => TokenRejection::invalid("malformed-token", "the token is not a JWT this API reads"),
    }
}

/// The registered claims jsonwebtoken reports by name; anything else is not repeated.
fn claim_name(claim: &str) -> &'static str {
    match claim {
        "exp" => "exp",
        "nbf" => "nbf",
        "iat" => "iat",
        _ => "required",
    }
}

#[cfg(test)]
mod tests {
    use base64::Engine as _;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    use serde_json::json;

    use super::*;
    use crate::auth::entra::jwks;
    use crate::auth::entra::testing::{TENANT, TestKey, now, v2_claims};

    const SKEW: Duration = Duration::from_secs(60);

    fn key_of(key: &TestKey) -> DecodingKey {
        let set = json!({ "keys": [key.jwk()] }).to_string();
        jwks::parse(set.as_bytes()).unwrap().keys[&key.kid].clone()
    }

    fn reason_of(result: Result<Claims, TokenRejection>) -> &'static str {
        result.expect_err("a rejection").reason()
    }

    #[test]
    fn accepts_a_token_signed_with_the_key() {
        let key = TestKey::shared();

        let claims = verify(&key.token(&v2_claims()), &key_of(key), SKEW).unwrap();

        assert_eq!(claims.tid.as_deref(), Some(TENANT));
    }

    #[test]
    fn rejects_a_token_signed_with_another_key() {
        let key = TestKey::shared();
        let other = TestKey::generate(&key.kid);

        let result = verify(&other.token(&v2_claims()), &key_of(key), SKEW);

        assert_eq!(reason_of(result), "bad-signature");
    }

    #[test]
    fn rejects_a_token_whose_claims_were_changed_after_signing() {
        let key = TestKey::shared();
        let token = key.token(&v2_claims());
        let parts: Vec<&str> = token.split('.').collect();
        let mut changed = v2_claims();
        changed["scp"] = json!("user_impersonation admin");
        let payload = URL_SAFE_NO_PAD.encode(changed.to_string());
        let forged = format!("{}.{payload}.{}", parts[0], parts[2]);

        let result = verify(&forged, &key_of(key), SKEW);

        assert_eq!(reason_of(result), "bad-signature");
    }

    #[test]
    fn rejects_an_expired_token_beyond_the_clock_skew() {
        let key = TestKey::shared();
        let mut claims = v2_claims();
        claims["exp"] = json!(now() - 61);

        let result = verify(&key.token(&claims), &key_of(key), SKEW);

        assert_eq!(reason_of(result), "expired");
    }

    #[test]
    fn accepts_a_token_expired_within_the_clock_skew() {
        let key = TestKey::shared();
        let mut claims = v2_claims();
        claims["exp"] = json!(now() - 30);

        assert!(verify(&key.token(&claims), &key_of(key), SKEW).is_ok());
    }

    #[test]
    fn rejects_a_token_not_valid_yet_beyond_the_clock_skew() {
        let key = TestKey::shared();
        let mut claims = v2_claims();
        claims["nbf"] = json!(now() + 120);

        let result = verify(&key.token(&claims), &key_of(key), SKEW);

        assert_eq!(reason_of(result), "not-yet-valid");

        claims["nbf"] = json!(now() + 30);
        assert!(verify(&key.token(&claims), &key_of(key), SKEW).is_ok());
    }

    #[test]
    fn rejects_a_token_without_exp() {
        let key = TestKey::shared();
        let mut claims = v2_claims();
        claims.as_object_mut().unwrap().remove("exp");

        let result = verify(&key.token(&claims), &key_of(key), SKEW);

        assert_eq!(reason_of(result), "missing-claim");
    }

    #[test]
    fn rejects_claims_of_the_wrong_type() {
        let key = TestKey::shared();
        for (claim, value) in [
            ("exp", json!("tomorrow")),
            ("tid", json!(42)),
            ("roles", json!("Seal.All")),
            ("aud", json!({"a": 1})),
        ] {
            let mut claims = v2_claims();
            claims[claim] = value;

            let result = verify(&key.token(&claims), &key_of(key), SKEW);

            assert!(
                matches!(reason_of(result), "malformed-token" | "missing-claim"),
                "{claim}"
            );
        }
    }

    #[test]
    fn a_signature_that_is_not_base64url_is_malformed() {
        let key = TestKey::shared();
        let token = format!("{}x", key.token(&v2_claims()));

        let rejection = verify(&token, &key_of(key), SKEW).expect_err("a rejection");

        assert_eq!(rejection.reason(), "malformed-token");
        let TokenRejection::Invalid { detail, .. } = rejection else {
            panic!("expected a 401");
        };
        assert!(detail.contains("base64url"), "{detail}");
    }

    #[test]
    fn rejects_a_payload_that_is_not_a_json_object() {
        let key = TestKey::shared();
        let header = json!({"alg": "RS256", "kid": key.kid});

        for payload in [json!("x"), json!([1, 2]), json!(null)] {
            let result = verify(&key.sign(&header, &payload), &key_of(key), SKEW);

            assert_eq!(reason_of(result), "malformed-token", "{payload}");
        }
    }
}
