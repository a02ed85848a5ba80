//! Settings of blob jobs: the public address of their status URLs, how many run at once and
//! how their workers hold them.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::time::Duration;

use super::limits::read_number;
use super::{ConfigError, Environment};

const PUBLIC_BASE_URL_VARIABLE: &str = "PDF_SEAL_PUBLIC_BASE_URL";
const WORKERS_VARIABLE: &str = "PDF_SEAL_JOB_WORKERS";
const RETRY_AFTER_VARIABLE: &str = "PDF_SEAL_JOB_RETRY_AFTER_SECS";
const VISIBILITY_VARIABLE: &str = "PDF_SEAL_JOB_VISIBILITY_SECS";

/// The host name Azure App Service and Azure Functions give an app.
const WEBSITE_HOSTNAME_VARIABLE: &str = "WEBSITE_HOSTNAME";

/// Jobs sealed at once by one instance, unless `PDF_SEAL_JOB_WORKERS` says otherwise.
pub const DEFAULT_WORKERS: u64 = 2;

/// The `Retry-After` of a pending job, in seconds, unless `PDF_SEAL_JOB_RETRY_AFTER_SECS` says
/// otherwise.
pub const DEFAULT_RETRY_AFTER_SECS: u64 = 5;

/// How long a worker holds a job before it must renew its claim, unless
/// `PDF_SEAL_JOB_VISIBILITY_SECS` says otherwise. A job whose worker died is taken up again
/// after at most this long.
pub const DEFAULT_VISIBILITY_SECS: u64 = 60;

/// Settings of the job API and its workers.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct JobSettings {
    /// `PDF_SEAL_PUBLIC_BASE_URL`: the scheme, host and optional path prefix that callers use
    /// to reach the service, without a trailing slash. `Location` headers are built on it,
    /// never on the loopback address the Functions host proxies to. Default:
    /// `https://$WEBSITE_HOSTNAME` on Azure, else `http://` and the address the service
    /// listens on.
    pub public_base_url: String,
    /// True when the base URL is the default on a wildcard address, which only this machine
    /// can reach; the start-up log warns.
    pub base_url_guessed: bool,
    /// `PDF_SEAL_JOB_WORKERS`: jobs sealed at once by this instance (1 to 64, default 2).
    pub workers: usize,
    /// `PDF_SEAL_JOB_RETRY_AFTER_SECS`: the `Retry-After` of a pending job (1 to 3600 seconds,
    /// default 5).
    pub retry_after_secs: u64,
    /// `PDF_SEAL_JOB_VISIBILITY_SECS`: how long a worker's claim on a job lasts before it
    /// must be renewed; a worker renews it every third of that time (3 to 3600 seconds,
    /// default 60).
    pub visibility: Duration,
}

impl JobSettings {
    /// Reads the settings; `listening` is the address the service is bound to, for the default
    /// base URL.
    pub fn resolve(env: &Environment, listening: SocketAddr) -> Result<Self, ConfigError> {
        let base_url_guessed = listening.ip().is_unspecified()
            && env.get_non_empty(PUBLIC_BASE_URL_VARIABLE)?.is_none()
            && env.get_non_empty(WEBSITE_HOSTNAME_VARIABLE)?.is_none();
        let public_base_url = match env.get_non_empty(PUBLIC_BASE_URL_VARIABLE)? {
            Some(text) => parse_base_url(&text)?,
            None => match env.get_non_empty(WEBSITE_HOSTNAME_VARIABLE)? {
                Some(host) => format!("https://{}", host.trim()),
                None => format!("http://{}", reachable(listening)),
            },
        };
        let workers =
            read_number(env, WORKERS_VARIABLE, 1..=64, "workers")?.unwrap_or(DEFAULT_WORKERS);
        let retry_after_secs = read_number(env, RETRY_AFTER_VARIABLE, 1..=3600, "seconds")?
            .unwrap_or(DEFAULT_RETRY_AFTER_SECS);
        let visibility_secs = read_number(env, VISIBILITY_VARIABLE, 3..=3600, "seconds")?
            .unwrap_or(DEFAULT_VISIBILITY_SECS);
        Ok(Self {
            public_base_url,
            base_url_guessed,
            // At most 64.
            workers: workers as usize,
            retry_after_secs,
            visibility: Duration::from_secs(visibility_secs),
        })
    }
}

/// `listening`, with a wildcard address (`0.0.0.0`, `[::]`) replaced by loopback: no client
/// can call the wildcard, and the start-up log says to set `PDF_SEAL_PUBLIC_BASE_URL`.
fn reachable(listening: SocketAddr) -> SocketAddr {
    let ip = match listening.ip() {
        IpAddr::V4(ip) if ip.is_unspecified() => IpAddr::V4(Ipv4Addr::LOCALHOST),
        IpAddr::V6(ip) if ip.is_unspecified() => IpAddr::V6(Ipv6Addr::LOCALHOST),
        ip => ip,
    };
    SocketAddr::new(ip, listening.port())
}

/// An absolute `http` or `https` URL with a host, no query and no fragment; a trailing slash
/// is dropped.
fn parse_base_url(text: &str) -> Result<String, ConfigError> {
    let text = text.trim();
    let invalid = |why: &str| {
        ConfigError::new(
            PUBLIC_BASE_URL_VARIABLE,
            format!(
                "{why}; expected an absolute URL such as https://seal.example.com, found {text:?}"
            ),
        )
    };
    let rest = text
        .strip_prefix("https://")
        .or_else(|| text.strip_prefix("http://"))
        .ok_or_else(|| invalid("the scheme is not http or https"))?;
    let host = rest.split('/').next().unwrap_or("");
    if host.is_empty() || host.contains('@') {
        return Err(invalid("the URL has no host, or has user information"));
    }
    if text.contains(['?', '#']) || text.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(invalid("the URL has a query, a fragment or a blank"));
    }
    Ok(text.trim_end_matches('/').to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    const LISTENING: &str = "127.0.0.1:7071";

    fn resolve(pairs: &[(&str, &str)]) -> Result<JobSettings, ConfigError> {
        let env = Environment::from_pairs(pairs.iter().copied());
        JobSettings::resolve(&env, LISTENING.parse().unwrap())
    }

    #[test]
    fn defaults_to_the_listening_address_two_workers_and_five_seconds() {
        let settings = resolve(&[]).unwrap();
        assert_eq!(settings.public_base_url, "http://127.0.0.1:7071");
        assert_eq!(settings.workers, 2);
        assert_eq!(settings.retry_after_secs, 5);
        assert_eq!(settings.visibility, Duration::from_secs(60));
    }

    #[test]
    fn on_a_wildcard_address_the_default_base_is_loopback_and_flagged() {
        let env = Environment::from_pairs::<&str, &str>([]);
        let settings = JobSettings::resolve(&env, "0.0.0.0:7071".parse().unwrap()).unwrap();

        assert_eq!(settings.public_base_url, "http://127.0.0.1:7071");
        assert!(settings.base_url_guessed);
        assert!(!resolve(&[]).unwrap().base_url_guessed);
    }

    #[test]
    fn on_azure_the_default_base_is_the_app_host_name() {
        let settings = resolve(&[("WEBSITE_HOSTNAME", "seal-fn.azurewebsites.net")]).unwrap();
        assert_eq!(
            settings.public_base_url,
            "https://seal-fn.azurewebsites.net"
        );
    }

    #[test]
    fn a_configured_base_url_wins_and_loses_its_trailing_slash() {
        let settings = resolve(&[
            ("PDF_SEAL_PUBLIC_BASE_URL", "https://api.example.com/seal/"),
            ("WEBSITE_HOSTNAME", "seal-fn.azurewebsites.net"),
        ])
        .unwrap();
        assert_eq!(settings.public_base_url, "https://api.example.com/seal");
    }

    #[test]
    fn bad_values_name_their_variable() {
        for (variable, value) in [
            ("PDF_SEAL_PUBLIC_BASE_URL", "ftp://x"),
            ("PDF_SEAL_PUBLIC_BASE_URL", "https://"),
            ("PDF_SEAL_PUBLIC_BASE_URL", "https://x/?a=1"),
            ("PDF_SEAL_PUBLIC_BASE_URL", "https://user@x"),
            ("PDF_SEAL_JOB_WORKERS", "0"),
            ("PDF_SEAL_JOB_RETRY_AFTER_SECS", "soon"),
            ("PDF_SEAL_JOB_VISIBILITY_SECS", "1"),
        ] {
            let error = resolve(&[(variable, value)]).unwrap_err();
            assert_eq!(error.variable, variable, "{value}");
        }
    }
}
