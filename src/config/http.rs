//! Settings of the HTTP service: where it listens and how large a request may be.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};

use super::{ConfigError, Environment};

/// The address used when neither `--bind` nor `FUNCTIONS_CUSTOMHANDLER_PORT` is given.
pub const DEFAULT_BIND: SocketAddr = SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), 7071);

/// The default of [`HttpSettings::max_body_bytes`]: 50 MiB.
pub const DEFAULT_MAX_BODY_BYTES: u64 = 50 * 1024 * 1024;

/// The largest accepted value of `PDF_SEAL_MAX_BODY_BYTES`: 1 GiB. A direct seal holds the
/// whole document in memory, so larger documents belong to blob mode.
pub const MAX_MAX_BODY_BYTES: u64 = 1024 * 1024 * 1024;

/// The port the Azure Functions host gives a custom handler to listen on.
pub const FUNCTIONS_PORT_VARIABLE: &str = "FUNCTIONS_CUSTOMHANDLER_PORT";

const MAX_BODY_VARIABLE: &str = "PDF_SEAL_MAX_BODY_BYTES";

/// Settings of `pdf-seal serve`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HttpSettings {
    /// The loopback address and port to listen on: `--bind`, else 127.0.0.1 and
    /// `FUNCTIONS_CUSTOMHANDLER_PORT`, else [`DEFAULT_BIND`]. Port 0 picks a free port.
    pub bind: SocketAddr,
    /// `PDF_SEAL_MAX_BODY_BYTES`: the largest PDF a direct seal accepts, in bytes.
    pub max_body_bytes: u64,
}

impl HttpSettings {
    /// Reads the settings from the `--bind` flag and the environment.
    ///
    /// pdf-seal has no authentication of its own yet, so any address but a loopback one is
    /// refused: on Azure Functions the host proxies requests to the handler over loopback.
    pub fn resolve(bind_flag: Option<&str>, env: &Environment) -> Result<Self, ConfigError> {
        let bind = match bind_flag {
            Some(text) => parse_bind(text)?,
            None => match env.get_non_empty(FUNCTIONS_PORT_VARIABLE)? {
                Some(port) => functions_address(&port)?,
                None => DEFAULT_BIND,
            },
        };

        if !bind.ip().is_loopback() {
            return Err(ConfigError::new(
                "--bind",
                format!(
                    "{bind} is not a loopback address; pdf-seal has no authentication yet, so it \
                     listens only on loopback (127.0.0.1 or [::1])"
                ),
            ));
        }

        let max_body_bytes = match env.get(MAX_BODY_VARIABLE)? {
            Some(text) => parse_max_body(&text)?,
            None => DEFAULT_MAX_BODY_BYTES,
        };
        Ok(Self {
            bind,
            max_body_bytes,
        })
    }
}

fn parse_bind(text: &str) -> Result<SocketAddr, ConfigError> {
    text.parse().map_err(|_| {
        ConfigError::new(
            "--bind",
            format!("expected an IP address and a port such as 127.0.0.1:7071, found {text:?}"),
        )
    })
}

fn functions_address(port: &str) -> Result<SocketAddr, ConfigError> {
    let port: u16 = port.trim().parse().map_err(|_| {
        ConfigError::new(
            FUNCTIONS_PORT_VARIABLE,
            format!("expected a port number, found {port:?}"),
        )
    })?;
    Ok(SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), port))
}

fn parse_max_body(text: &str) -> Result<u64, ConfigError> {
    let invalid = || {
        ConfigError::new(
            MAX_BODY_VARIABLE,
            format!(
                "expected a number of bytes from 1 to {MAX_MAX_BODY_BYTES}, found {text:?} \
                 (the default is {DEFAULT_MAX_BODY_BYTES})"
            ),
        )
    };

    let bytes: u64 = text.trim().parse().map_err(|_| invalid())?;
    if bytes == 0 || bytes > MAX_MAX_BODY_BYTES {
        return Err(invalid());
    }
    Ok(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> Environment {
        Environment::from_pairs(pairs.iter().copied())
    }

    #[test]
    fn defaults_to_loopback_port_7071_and_50_mib() {
        let settings = HttpSettings::resolve(None, &env(&[])).unwrap();

        assert_eq!(settings.bind.to_string(), "127.0.0.1:7071");
        assert_eq!(settings.max_body_bytes, 52_428_800);
    }

    #[test]
    fn listens_on_the_functions_port_on_loopback() {
        let settings = HttpSettings::resolve(None, &env(&[(FUNCTIONS_PORT_VARIABLE, "40123")]));

        assert_eq!(settings.unwrap().bind.to_string(), "127.0.0.1:40123");
    }

    #[test]
    fn the_bind_flag_wins_over_the_functions_port() {
        let settings =
            HttpSettings::resolve(Some("[::1]:0"), &env(&[(FUNCTIONS_PORT_VARIABLE, "40123")]));

        assert_eq!(settings.unwrap().bind.to_string(), "[::1]:0");
    }

    #[test]
    fn refuses_a_non_loopback_bind() {
        let error = HttpSettings::resolve(Some("0.0.0.0:7071"), &env(&[])).unwrap_err();

        assert_eq!(error.variable, "--bind");
        assert!(error.reason.contains("loopback"), "{error}");
    }

    #[test]
    fn refuses_a_bind_that_is_not_an_address() {
        let error = HttpSettings::resolve(Some("localhost"), &env(&[])).unwrap_err();

        assert_eq!(error.variable, "--bind");
    }

    #[test]
    fn refuses_a_functions_port_that_is_not_a_number() {
        let error = HttpSettings::resolve(None, &env(&[(FUNCTIONS_PORT_VARIABLE, "http")]));

        assert_eq!(error.unwrap_err().variable, FUNCTIONS_PORT_VARIABLE);
    }

    #[test]
    fn reads_the_body_limit() {
        let settings = HttpSettings::resolve(None, &env(&[(MAX_BODY_VARIABLE, "1024")]));

        assert_eq!(settings.unwrap().max_body_bytes, 1024);
    }

    #[test]
    fn refuses_a_body_limit_of_zero_words_or_too_many_bytes() {
        for bad in ["0", "fifty", "", "1073741825"] {
            let error = HttpSettings::resolve(None, &env(&[(MAX_BODY_VARIABLE, bad)]));

            assert_eq!(error.unwrap_err().variable, MAX_BODY_VARIABLE, "{bad:?}");
        }
    }
}
