//! The URLs of the services pdf-seal calls (identity provider, signing services): https, or
//! plain http to a loopback host, for tests and local stand-ins.

use url::Url;

use super::ConfigError;

/// The longest service URL accepted, in bytes; longer ones are mistakes that would fail every
/// request later, far from their cause.
pub const MAX_URL_LEN: usize = 2048;

/// Whether a service URL may carry a query.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Query {
    Allowed,
    Refused,
}

/// Reads `text`, the value of `variable`: an absolute `https` URL, or `http` to a loopback host,
/// with a host and no user information or fragment, and a query only where `query` allows one.
/// `what` says what was expected, for the error.
pub fn parse_service_url(
    variable: &str,
    text: &str,
    what: &str,
    query: Query,
) -> Result<Url, ConfigError> {
    if text.len() > MAX_URL_LEN {
        return Err(ConfigError::new(
            variable,
            format!(
                "{} characters is too long for a URL (at most {MAX_URL_LEN})",
                text.len()
            ),
        ));
    }
    let invalid =
        |why: &str| ConfigError::new(variable, format!("{why}; expected {what}, found {text:?}"));
    let url = Url::parse(text.trim()).map_err(|_| invalid("not an absolute URL"))?;
    match url.scheme() {
        "https" => {}
        "http" if is_loopback_url(&url) => {}
        "http" => return Err(invalid("plain http is accepted only for a loopback host")),
        _ => return Err(invalid("the scheme is not https")),
    }
    if url.host().is_none() || !url.username().is_empty() || url.password().is_some() {
        return Err(invalid("the URL has no host, or has user information"));
    }
    if url.fragment().is_some() || (query == Query::Refused && url.query().is_some()) {
        return Err(invalid("the URL has a query or a fragment"));
    }
    Ok(url)
}

/// True when `url`'s host is `localhost` or a loopback address.
pub fn is_loopback_url(url: &Url) -> bool {
    match url.host() {
        Some(url::Host::Domain(domain)) => domain.eq_ignore_ascii_case("localhost"),
        Some(url::Host::Ipv4(address)) => address.is_loopback(),
        Some(url::Host::Ipv6(address)) => address.is_loopback(),
        None => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str, query: Query) -> Result<Url, ConfigError> {
        parse_service_url("X", text, "a service URL", query)
    }

    #[test]
    fn https_anywhere_and_http_only_to_loopback() {
        assert!(parse("https://sign.example/v1", Query::Refused).is_ok());
        assert!(parse("http://127.0.0.1:8080/", Query::Refused).is_ok());
        assert!(parse("http://[::1]:8080/", Query::Refused).is_ok());
        assert!(parse("http://localhost/", Query::Refused).is_ok());
        let error = parse("http://sign.example/", Query::Refused).unwrap_err();
        assert_eq!(error.variable, "X");
        assert!(error.reason.contains("loopback"), "{error}");
        assert!(parse("ftp://sign.example/", Query::Refused).is_err());
        assert!(parse("sign.example", Query::Refused).is_err());
    }

    #[test]
    fn user_information_fragments_and_refused_queries_are_refused() {
        assert!(parse("https://user:pw@sign.example/", Query::Allowed).is_err());
        assert!(parse("https://sign.example/#part", Query::Allowed).is_err());
        assert!(parse("https://sign.example/?appid=1", Query::Refused).is_err());
        assert!(parse("https://sign.example/?appid=1", Query::Allowed).is_ok());
    }

    #[test]
    fn an_overlong_url_is_refused_without_repeating_it() {
        let long = format!("https://sign.example/{}", "a".repeat(MAX_URL_LEN));

        let error = parse(&long, Query::Refused).unwrap_err();

        assert!(error.reason.contains("too long"), "{error}");
        assert!(error.reason.len() < 200, "{error}");
    }
}
