//! Settings of the HTTP service: where it listens and what a seal request may take.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};

use super::{ConfigError, Environment, SealLimits};

/// The address used when neither `--bind` nor `FUNCTIONS_CUSTOMHANDLER_PORT` is given.
pub const DEFAULT_BIND: SocketAddr = SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), 7071);

/// The port the Azure Functions host gives a custom handler to listen on.
pub const FUNCTIONS_PORT_VARIABLE: &str = "FUNCTIONS_CUSTOMHANDLER_PORT";

/// Settings of `pdf-seal serve`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HttpSettings {
    /// The address and port to listen on: `--bind`, else 127.0.0.1 and
    /// `FUNCTIONS_CUSTOMHANDLER_PORT`, else [`DEFAULT_BIND`]. Port 0 picks a free port.
    pub bind: SocketAddr,
    /// The size, time and concurrency limits of seal requests.
    pub limits: SealLimits,
}

impl HttpSettings {
    /// Reads the settings from the `--bind` flag and the environment. An address beyond
    /// loopback needs authentication, which [`super::AuthSettings`] checks.
    pub fn resolve(bind_flag: Option<&str>, env: &Environment) -> Result<Self, ConfigError> {
        let bind = match bind_flag {
            Some(text) => parse_bind(text)?,
            None => match env.get_non_empty(FUNCTIONS_PORT_VARIABLE)? {
                Some(port) => functions_address(&port)?,
                None => DEFAULT_BIND,
            },
        };

        let limits = SealLimits::resolve(env)?;
        Ok(Self { bind, limits })
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

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> Environment {
        Environment::from_pairs(pairs.iter().copied())
    }

    #[test]
    fn defaults_to_loopback_port_7071() {
        let settings = HttpSettings::resolve(None, &env(&[])).unwrap();

        assert_eq!(settings.bind.to_string(), "127.0.0.1:7071");
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
    fn refuses_a_bind_that_is_not_an_address() {
        let error = HttpSettings::resolve(Some("localhost"), &env(&[])).unwrap_err();

        assert_eq!(error.variable, "--bind");
    }

    #[test]
    fn refuses_a_functions_port_that_is_not_a_number() {
        let error = HttpSettings::resolve(None, &env(&[(FUNCTIONS_PORT_VARIABLE, "http")]));

        assert_eq!(error.unwrap_err().variable, FUNCTIONS_PORT_VARIABLE);
    }
}
