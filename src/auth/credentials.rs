//! Reading credentials out of a request: the bearer token of `Authorization` and the function
//! key of `x-functions-key` or `?code=`.

use actix_web::http::header::{AUTHORIZATION, HeaderMap, HeaderName};

use super::denial::Denial;
use crate::config::Secret;

/// The header in which the Azure Functions host takes a function key.
pub const FUNCTION_KEY_HEADER: HeaderName = HeaderName::from_static("x-functions-key");

/// The query parameter in which the Azure Functions host takes a function key.
pub const FUNCTION_KEY_PARAMETER: &str = "code";

/// The longest bearer token read. Entra ID tokens are a few KiB even with group claims; a
/// longer one is refused before any parsing.
pub const MAX_TOKEN_BYTES: usize = 16 * 1024;

/// The longest function key read.
const MAX_KEY_BYTES: usize = 1024;

/// The bearer token of the one `Authorization` header (RFC 6750 section 2.1), or `None` when
/// the request has no such header.
pub fn bearer_token(headers: &HeaderMap) -> Result<Option<String>, Denial> {
    let mut values = headers.get_all(AUTHORIZATION);
    let Some(value) = values.next() else {
        return Ok(None);
    };
    if values.next().is_some() {
        return Err(Denial::invalid_token(
            "several-authorization-headers",
            "the request has more than one Authorization header",
        ));
    }
    if value.len() > MAX_TOKEN_BYTES + "Bearer ".len() {
        return Err(Denial::invalid_token(
            "token-too-large",
            format!("the bearer token is longer than {MAX_TOKEN_BYTES} bytes"),
        ));
    }

    let text = value.to_str().map_err(|_| {
        Denial::invalid_token(
            "malformed-authorization",
            "the Authorization header is not visible ASCII",
        )
    })?;
    let (scheme, token) = text.split_once(' ').unwrap_or((text, ""));
    if !scheme.eq_ignore_ascii_case("bearer") {
        return Err(Denial::invalid_token(
            "not-bearer",
            "the Authorization header does not hold a Bearer token",
        ));
    }
    let token = token.trim_start_matches(' ');
    if token.is_empty() || !token.bytes().all(is_token68) {
        return Err(Denial::invalid_token(
            "malformed-token",
            "the bearer token is empty or has characters a token cannot have",
        ));
    }
    Ok(Some(token.to_owned()))
}

/// The characters of `token68` (RFC 9110 section 11.2).
fn is_token68(byte: u8) -> bool {
    byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'.' | b'_' | b'~' | b'+' | b'/' | b'=')
}

/// The function key of the request: the `x-functions-key` header, else the `code` query
/// parameter; `None` when there is neither. Two keys in one request are refused, since it
/// would be unclear which was meant.
pub fn function_key(headers: &HeaderMap, query: &str) -> Result<Option<Secret>, Denial> {
    let mut header_values = headers.get_all(FUNCTION_KEY_HEADER);
    let header = header_values.next();
    let query_keys: Vec<String> = url::form_urlencoded::parse(query.as_bytes())
        .filter(|(name, _)| name == FUNCTION_KEY_PARAMETER)
        .map(|(_, value)| value.into_owned())
        .collect();
    let several = || {
        Denial::invalid_function_key(
            "several-function-keys",
            "the request carries more than one function key",
        )
    };

    let extra_header = header_values.next().is_some();
    let key = match (header, query_keys.as_slice()) {
        (None, []) => return Ok(None),
        (Some(value), []) if !extra_header => value.to_str().map(str::to_owned).map_err(|_| {
            Denial::invalid_function_key("malformed-function-key", "the function key is not ASCII")
        })?,
        (None, [key]) => key.clone(),
        _ => return Err(several()),
    };
    if key.len() > MAX_KEY_BYTES {
        return Err(Denial::invalid_function_key(
            "malformed-function-key",
            format!("the function key is longer than {MAX_KEY_BYTES} bytes"),
        ));
    }
    Ok(Some(Secret::new(key)))
}

#[cfg(test)]
mod tests {
    use actix_web::http::header::HeaderValue;

    use super::*;

    fn headers(pairs: &[(HeaderName, &str)]) -> HeaderMap {
        let mut headers = HeaderMap::new();
        for (name, value) in pairs {
            headers.append(name.clone(), HeaderValue::from_str(value).unwrap());
        }
        headers
    }

    fn reason(denial: Denial) -> &'static str {
        denial.reason()
    }

    #[test]
    fn reads_a_bearer_token_whatever_the_scheme_case() {
        for value in [
            "Bearer abc.def.ghi",
            "bearer abc.def.ghi",
            "BEARER  abc.def.ghi",
        ] {
            let token = bearer_token(&headers(&[(AUTHORIZATION, value)])).unwrap();
            assert_eq!(token.as_deref(), Some("abc.def.ghi"), "{value}");
        }
    }

    #[test]
    fn no_authorization_header_is_no_token() {
        assert_eq!(bearer_token(&HeaderMap::new()).unwrap(), None);
    }

    #[test]
    fn refuses_other_schemes_empty_tokens_and_bad_characters() {
        for (value, expected) in [
            ("Basic dXNlcjpwYXNz", "not-bearer"),
            ("Bearer", "malformed-token"),
            ("Bearer ", "malformed-token"),
            ("Bearer a.b.c extra", "malformed-token"),
            ("Bearer a\"b", "malformed-token"),
        ] {
            let denial = bearer_token(&headers(&[(AUTHORIZATION, value)])).unwrap_err();
            assert_eq!(reason(denial), expected, "{value}");
        }
    }

    #[test]
    fn refuses_an_oversized_token_and_two_headers() {
        let long = format!("Bearer {}", "a".repeat(MAX_TOKEN_BYTES + 1));
        let denial = bearer_token(&headers(&[(AUTHORIZATION, &long)])).unwrap_err();
        assert_eq!(reason(denial), "token-too-large");

        let two = headers(&[(AUTHORIZATION, "Bearer a"), (AUTHORIZATION, "Bearer b")]);
        assert_eq!(
            reason(bearer_token(&two).unwrap_err()),
            "several-authorization-headers"
        );
    }

    #[test]
    fn reads_a_function_key_from_the_header_or_the_query() {
        let from_header = function_key(&headers(&[(FUNCTION_KEY_HEADER, "k1")]), "a=1").unwrap();
        assert_eq!(from_header.unwrap().expose(), "k1");

        let from_query = function_key(&HeaderMap::new(), "a=1&code=k%2B2").unwrap();
        assert_eq!(from_query.unwrap().expose(), "k+2");

        assert!(
            function_key(&HeaderMap::new(), "codex=1")
                .unwrap()
                .is_none()
        );
    }

    #[test]
    fn refuses_two_function_keys_in_one_request() {
        let both = function_key(&headers(&[(FUNCTION_KEY_HEADER, "k1")]), "code=k2");
        assert_eq!(reason(both.unwrap_err()), "several-function-keys");

        let two_codes = function_key(&HeaderMap::new(), "code=k1&code=k2");
        assert_eq!(reason(two_codes.unwrap_err()), "several-function-keys");
    }
}
