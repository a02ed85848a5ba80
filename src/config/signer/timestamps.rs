//! Settings of the time-stamp authorities that make seals PAdES B-T (`PDF_SEAL_TSA_URLS`).
//!
//! Plain `http` is accepted for any host, as `https` is: RFC 3161 time-stamps are usually served
//! over plain HTTP, the token is signed by the authority, and pdf-seal checks that it answers
//! its own request (imprint and nonce). What travels is the digest of a signature value, never
//! document bytes. User information in a URL is refused, so that no password reaches a log.

use std::time::Duration;

use url::Url;

use crate::config::{ConfigError, Environment};

/// `PDF_SEAL_TSA_URLS`: the authorities, comma-separated, tried in order.
pub const URLS: &str = "PDF_SEAL_TSA_URLS";

/// `PDF_SEAL_TSA_TIMEOUT_SECS`: the limit for one authority's whole answer.
pub const TIMEOUT: &str = "PDF_SEAL_TSA_TIMEOUT_SECS";

/// The default of [`TIMEOUT`].
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);

/// The largest [`TIMEOUT`] accepted: a seal request waits for every authority in turn.
const MAX_TIMEOUT_SECS: u64 = 120;

/// The most authorities accepted.
const MAX_URLS: usize = 8;

/// The time-stamp authorities, tried in order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TimestampSettings {
    /// The authorities' RFC 3161 endpoints, in the order they are tried.
    pub urls: Vec<Url>,
    /// How long one authority may take to answer, connection included.
    pub timeout: Duration,
}

impl TimestampSettings {
    /// Reads `PDF_SEAL_TSA_*`; `None` when no authority is configured.
    pub fn resolve(env: &Environment) -> Result<Option<Self>, ConfigError> {
        let timeout = match env.get_non_empty(TIMEOUT)? {
            Some(text) => parse_timeout(&text)?,
            None => DEFAULT_TIMEOUT,
        };
        let Some(list) = env.get_non_empty(URLS)? else {
            if env.get_non_empty(TIMEOUT)?.is_some() {
                return Err(ConfigError::new(
                    TIMEOUT,
                    format!("set, but {URLS} names no time-stamp authority"),
                ));
            }
            return Ok(None);
        };
        let urls = parse_urls(&list)?;
        Ok(Some(Self { urls, timeout }))
    }
}

fn parse_urls(list: &str) -> Result<Vec<Url>, ConfigError> {
    let mut urls = Vec::new();
    for (index, item) in list.split(',').enumerate() {
        let item = item.trim();
        let shown = shown(item);
        let invalid = |why: &str| {
            ConfigError::new(
                URLS,
                format!(
                    "entry {} {shown:?}: {why}; expected a comma-separated list of http or https \
                     URLs of RFC 3161 time-stamp authorities",
                    index + 1
                ),
            )
        };
        if item.is_empty() {
            return Err(invalid("empty"));
        }
        let url = Url::parse(item).map_err(|e| invalid(&format!("not an absolute URL ({e})")))?;
        if !matches!(url.scheme(), "http" | "https") {
            return Err(invalid("the scheme is neither http nor https"));
        }
        if url.host().is_none() {
            return Err(invalid("no host"));
        }
        if !url.username().is_empty() || url.password().is_some() {
            return Err(invalid("user information is not accepted in the URL"));
        }
        if url.fragment().is_some() {
            return Err(invalid("a fragment has no meaning here"));
        }
        if urls.contains(&url) {
            return Err(invalid("listed twice"));
        }
        urls.push(url);
    }
    if urls.len() > MAX_URLS {
        return Err(ConfigError::new(
            URLS,
            format!(
                "{} authorities listed, at most {MAX_URLS} are accepted",
                urls.len()
            ),
        ));
    }
    Ok(urls)
}

/// The entry as an error message may show it: without the user information or the query it
/// may hold (a password, an access key).
fn shown(item: &str) -> String {
    match Url::parse(item) {
        Ok(mut url) => {
            let _ = url.set_username("");
            let _ = url.set_password(None);
            if url.query().is_some() {
                url.set_query(Some("..."));
            }
            url.to_string()
        }
        // Not a URL: show it only up to a query mark, which may start an access key, and
        // not at any length.
        _ => {
            let head = item.split('?').next().unwrap_or_default();
            let mut head: String = head.chars().take(200).collect();
            if head.len() < item.len() {
                head.push_str("...");
            }
            head
        }
    }
}

fn parse_timeout(text: &str) -> Result<Duration, ConfigError> {
    match text.trim().parse::<u64>() {
        Ok(secs) if (1..=MAX_TIMEOUT_SECS).contains(&secs) => Ok(Duration::from_secs(secs)),
        _ => Err(ConfigError::new(
            TIMEOUT,
            format!("expected whole seconds from 1 to {MAX_TIMEOUT_SECS}, found {text:?}"),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn resolve(pairs: &[(&str, &str)]) -> Result<Option<TimestampSettings>, ConfigError> {
        TimestampSettings::resolve(&Environment::from_pairs(pairs.iter().copied()))
    }

    fn refusal(pairs: &[(&str, &str)]) -> String {
        resolve(pairs).unwrap_err().to_string()
    }

    #[test]
    fn no_authority_means_no_time_stamps() {
        assert_eq!(resolve(&[]).unwrap(), None);
        assert_eq!(resolve(&[(URLS, "")]).unwrap(), None);
    }

    #[test]
    fn the_list_keeps_its_order_and_the_timeout_its_default() {
        let settings = resolve(&[(URLS, " http://tsa.test/tsr , https://127.0.0.1:8443/a?x=1")])
            .unwrap()
            .unwrap();

        let urls: Vec<&str> = settings.urls.iter().map(Url::as_str).collect();
        assert_eq!(
            urls,
            ["http://tsa.test/tsr", "https://127.0.0.1:8443/a?x=1"]
        );
        assert_eq!(settings.timeout, DEFAULT_TIMEOUT);
    }

    #[test]
    fn the_timeout_is_whole_seconds_within_bounds() {
        let settings = resolve(&[(URLS, "http://tsa.test/"), (TIMEOUT, "3")])
            .unwrap()
            .unwrap();
        assert_eq!(settings.timeout, Duration::from_secs(3));

        for bad in ["0", "121", "2.5", "soon", "-1"] {
            let message = refusal(&[(URLS, "http://tsa.test/"), (TIMEOUT, bad)]);
            assert!(message.contains(TIMEOUT), "{message}");
        }
        let message = refusal(&[(TIMEOUT, "5")]);
        assert!(
            message.contains(TIMEOUT) && message.contains(URLS),
            "{message}"
        );
    }

    #[test]
    fn garbage_is_refused_naming_the_variable_and_the_entry() {
        let cases = [
            ("tsa.test", "not an absolute URL"),
            ("ftp://tsa.test/", "neither http nor https"),
            ("http://user:pw@tsa.test/", "user information"),
            ("http://tsa.test/,,http://other.test/", "entry 2"),
            ("http://tsa.test/#x", "fragment"),
            ("http://tsa.test/,http://tsa.test/", "listed twice"),
            ("http://tsa.test/?key=pw#frag", "fragment"),
            ("file:///etc/passwd", "neither http nor https"),
        ];
        for (value, expected) in cases {
            let message = refusal(&[(URLS, value)]);
            assert!(
                message.contains(URLS) && message.contains(expected),
                "{value}: {message}"
            );
            assert!(!message.contains("pw"), "{message}");
        }
        let many = (0..9)
            .map(|i| format!("http://tsa.test/{i}"))
            .collect::<Vec<_>>()
            .join(",");
        assert!(refusal(&[(URLS, &many)]).contains("at most 8"));
    }
}
