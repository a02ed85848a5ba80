//! The first look at a token: its shape and its JOSE header, read before any key is used.
//!
//! A JWS in compact serialisation is `BASE64URL(header) . BASE64URL(payload) .
//! BASE64URL(signature)` (RFC 7515 section 7.1). Entra ID signs access tokens with RS256
//! (RSASSA-PKCS1-v1_5 with SHA-256, RFC 7518 section 3.3) and names the key in `kid`. Any other
//! `alg` is refused here, whatever key it names: `none` (no signature), HS256 (a MAC that an
//! attacker could key with the public key), PS256 and the EC algorithms.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::Deserialize;

use super::TokenRejection;

/// The one signature algorithm accepted.
pub const ALGORITHM: &str = "RS256";

/// The longest `kid` taken; Entra's are 27 to 40 characters.
const MAX_KID_LEN: usize = 128;

#[derive(Deserialize)]
struct Header {
    alg: Option<String>,
    kid: Option<String>,
    /// Extensions the recipient must understand (RFC 7515 section 4.1.11); none are.
    crit: Option<serde_json::Value>,
}

/// The `kid` of `token` when its shape and header are acceptable.
pub fn read(token: &str) -> Result<String, TokenRejection> {
    let parts: Vec<&str> = token.split('.').collect();
    if parts.len() != 3 || parts[0].is_empty() || parts[1].is_empty() {
        return Err(malformed(
            "the token is not a signed JWT: it must have three parts separated by dots",
        ));
    }

    let bytes = URL_SAFE_NO_PAD
        .decode(parts[0])
        .map_err(|_| malformed("the token's header is not base64url"))?;
    let header: Header = serde_json::from_slice(&bytes)
        .map_err(|_| malformed("the token's header is not a JSON object"))?;

    match header.alg.as_deref() {
        Some(ALGORITHM) => {}
        Some(other) => {
            return Err(TokenRejection::invalid(
                "unsupported-algorithm",
                format!(
                    "the token is signed with {}; only RS256 is accepted",
                    printable(other)
                ),
            ));
        }
        None => return Err(malformed("the token's header has no alg")),
    }
    if header.crit.is_some() {
        return Err(malformed(
            "the token's header has critical extensions (crit), which Entra ID never sets",
        ));
    }
    let kid = match header.kid {
        Some(kid) if !kid.is_empty() && kid.len() <= MAX_KID_LEN => kid,
        _ => {
            return Err(malformed(
                "the token's header names no signing key (kid), or a name too long to be one",
            ));
        }
    };
    if parts[2].is_empty() {
        return Err(malformed("the token has no signature"));
    }
    Ok(kid)
}

fn malformed(detail: &str) -> TokenRejection {
    TokenRejection::invalid("malformed-token", detail)
}

/// An algorithm name fit to repeat: short registered names as they are, anything else
/// described.
fn printable(alg: &str) -> String {
    let plain =
        !alg.is_empty() && alg.len() <= 16 && alg.chars().all(|c| c.is_ascii_alphanumeric());
    if plain {
        alg.to_owned()
    } else {
        "an algorithm other than RS256".to_owned()
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn token_with_header(header: serde_json::Value) -> String {
        let header = URL_SAFE_NO_PAD.encode(header.to_string());
        format!("{header}.e30.c2ln")
    }

    fn reason(result: Result<String, TokenRejection>) -> &'static str {
        result.unwrap_err().reason()
    }

    #[test]
    fn reads_the_kid_of_an_rs256_token() {
        let token = token_with_header(json!({"typ": "JWT", "alg": "RS256", "kid": "key-1"}));

        assert_eq!(read(&token).unwrap(), "key-1");
    }

    #[test]
    fn refuses_every_algorithm_but_rs256() {
        for alg in [
            "none", "None", "HS256", "HS512", "PS256", "ES256", "RS384", "EdDSA", "",
        ] {
            let token = token_with_header(json!({"alg": alg, "kid": "key-1"}));

            let rejection = read(&token).unwrap_err();

            assert_eq!(rejection.reason(), "unsupported-algorithm", "{alg}");
        }
    }

    #[test]
    fn an_unsupported_algorithm_is_named_only_when_plain() {
        let odd = token_with_header(json!({"alg": "RS256\"; x", "kid": "k"}));
        let TokenRejection::Invalid { detail, .. } = read(&odd).unwrap_err() else {
            panic!("expected a 401");
        };
        assert!(!detail.contains('"'), "{detail}");

        let hs = token_with_header(json!({"alg": "HS256", "kid": "k"}));
        let TokenRejection::Invalid { detail, .. } = read(&hs).unwrap_err() else {
            panic!("expected a 401");
        };
        assert!(detail.contains("HS256"), "{detail}");
    }

    #[test]
    fn refuses_a_token_without_alg_or_kid() {
        assert_eq!(
            reason(read(&token_with_header(json!({"kid": "k"})))),
            "malformed-token"
        );
        assert_eq!(
            reason(read(&token_with_header(json!({"alg": "RS256"})))),
            "malformed-token"
        );
        assert_eq!(
            reason(read(&token_with_header(json!({"alg": "RS256", "kid": ""})))),
            "malformed-token"
        );
        let long = "k".repeat(MAX_KID_LEN + 1);
        assert_eq!(
            reason(read(&token_with_header(
                json!({"alg": "RS256", "kid": long})
            ))),
            "malformed-token"
        );
    }

    #[test]
    fn refuses_critical_extensions() {
        let token = token_with_header(json!({"alg": "RS256", "kid": "k", "crit": ["b64"]}));

        assert_eq!(reason(read(&token)), "malformed-token");
    }

    #[test]
    fn refuses_tokens_of_the_wrong_shape() {
        let good_header = URL_SAFE_NO_PAD.encode(r#"{"alg":"RS256","kid":"k"}"#);
        for token in [
            "abc".to_owned(),
            "a.b".to_owned(),
            "a.b.c.d".to_owned(),
            format!("{good_header}..c2ln"),
            format!("{good_header}.e30."),
            "!!!.e30.c2ln".to_owned(),
            format!("{}.e30.c2ln", URL_SAFE_NO_PAD.encode("not json")),
            format!("{}.e30.c2ln", URL_SAFE_NO_PAD.encode("[1, 2]")),
        ] {
            assert_eq!(reason(read(&token)), "malformed-token", "{token}");
        }
    }
}
