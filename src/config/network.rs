//! Settings of the network allow-list: which client addresses may call, and which proxies are
//! trusted to say who the client is.

use std::net::IpAddr;

use ipnet::IpNet;

use super::{ConfigError, Environment};

pub const IP_ALLOW_VARIABLE: &str = "PDF_SEAL_IP_ALLOW";
pub const TRUSTED_PROXIES_VARIABLE: &str = "PDF_SEAL_TRUSTED_PROXIES";

/// Address ranges, read from the environment.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct NetworkSettings {
    /// `PDF_SEAL_IP_ALLOW`: IPv4 and IPv6 ranges in CIDR notation (or single addresses),
    /// separated by commas. When set, a request from any other client address is refused
    /// with 403, health checks included. Unset: every address may call.
    pub allow: Option<Vec<IpNet>>,
    /// `PDF_SEAL_TRUSTED_PROXIES`: the ranges of proxies in front of pdf-seal. Only when the
    /// socket peer is in one of them is the client address taken from `X-Forwarded-For`: the
    /// rightmost entry that is not itself a trusted proxy. Default: none.
    pub trusted_proxies: Vec<IpNet>,
}

impl NetworkSettings {
    /// Reads both lists.
    pub fn resolve(env: &Environment) -> Result<Self, ConfigError> {
        let allow = match env.get(IP_ALLOW_VARIABLE)? {
            Some(text) => Some(parse_ranges(&text, IP_ALLOW_VARIABLE)?),
            None => None,
        };
        let trusted_proxies = match env.get_non_empty(TRUSTED_PROXIES_VARIABLE)? {
            Some(text) => parse_ranges(&text, TRUSTED_PROXIES_VARIABLE)?,
            None => Vec::new(),
        };
        if let Some(everything) = trusted_proxies.iter().find(|range| is_too_wide(range)) {
            return Err(ConfigError::new(
                TRUSTED_PROXIES_VARIABLE,
                format!(
                    "{everything} is wider than any proxy subnet (IPv4 ranges must be /8 or \
                     narrower, IPv6 ranges /32 or narrower): callers from it could name any address \
                     in X-Forwarded-For; list only the proxies in front of pdf-seal"
                ),
            ));
        }
        Ok(Self {
            allow,
            trusted_proxies,
        })
    }
}

/// True for a trusted-proxy range too wide to be a set of proxies: shorter than /8 (IPv4) or
/// /32 (IPv6). Several such ranges together could cover every address.
fn is_too_wide(range: &IpNet) -> bool {
    match range {
        IpNet::V4(v4) => v4.prefix_len() < 8,
        IpNet::V6(v6) => v6.prefix_len() < 32,
    }
}

/// Parses ranges separated by commas; a bare address is a range of one. An IPv4-mapped IPv6
/// range is kept as the IPv4 range it stands for, since client addresses are compared in
/// that form.
pub fn parse_ranges(text: &str, variable: &str) -> Result<Vec<IpNet>, ConfigError> {
    let mut ranges = Vec::new();
    for item in text.split(',').map(str::trim) {
        if item.is_empty() {
            continue;
        }
        let range = parse_range(item).ok_or_else(|| {
            ConfigError::new(
                variable,
                format!(
                    "{item:?} is not an IP address or a CIDR range such as 203.0.113.0/24 or \
                     2001:db8::/32"
                ),
            )
        })?;
        ranges.push(range);
    }
    if ranges.is_empty() {
        return Err(ConfigError::new(
            variable,
            "no range is given; leave the variable unset to allow every address",
        ));
    }
    Ok(ranges)
}

fn parse_range(item: &str) -> Option<IpNet> {
    let range = match item.parse::<IpNet>() {
        Ok(range) => range,
        Err(_) => IpNet::from(item.parse::<IpAddr>().ok()?),
    };
    Some(canonical_range(range).trunc())
}

/// `::ffff:a.b.c.d/n` (n at least 96) as `a.b.c.d/(n - 96)`; any other range unchanged.
fn canonical_range(range: IpNet) -> IpNet {
    if let IpNet::V6(v6) = range
        && let Some(v4) = v6.addr().to_ipv4_mapped()
        && v6.prefix_len() >= 96
        && let Ok(mapped) = ipnet::Ipv4Net::new(v4, v6.prefix_len() - 96)
    {
        return IpNet::V4(mapped);
    }
    range
}

#[cfg(test)]
mod tests {
    use super::*;

    fn resolve(pairs: &[(&str, &str)]) -> Result<NetworkSettings, ConfigError> {
        NetworkSettings::resolve(&Environment::from_pairs(pairs.iter().copied()))
    }

    #[test]
    fn unset_allows_everyone_and_trusts_no_proxy() {
        let settings = resolve(&[]).unwrap();

        assert_eq!(settings, NetworkSettings::default());
    }

    #[test]
    fn reads_ipv4_and_ipv6_ranges_and_single_addresses() {
        let settings = resolve(&[
            (
                IP_ALLOW_VARIABLE,
                "203.0.113.0/24, 2001:db8::/32,198.51.100.7",
            ),
            (TRUSTED_PROXIES_VARIABLE, "10.0.0.1/8"),
        ])
        .unwrap();

        let allow: Vec<String> = settings
            .allow
            .unwrap()
            .iter()
            .map(ToString::to_string)
            .collect();
        assert_eq!(
            allow,
            ["203.0.113.0/24", "2001:db8::/32", "198.51.100.7/32"]
        );
        assert_eq!(settings.trusted_proxies[0].to_string(), "10.0.0.0/8");
    }

    #[test]
    fn an_ipv4_mapped_range_becomes_ipv4() {
        let ranges = parse_ranges("::ffff:192.0.2.0/120", IP_ALLOW_VARIABLE).unwrap();

        assert_eq!(ranges[0].to_string(), "192.0.2.0/24");
    }

    #[test]
    fn bad_ranges_and_empty_lists_name_their_variable() {
        for (variable, value) in [
            (IP_ALLOW_VARIABLE, "203.0.113.0/33"),
            (IP_ALLOW_VARIABLE, "example.com"),
            (IP_ALLOW_VARIABLE, ""),
            (IP_ALLOW_VARIABLE, " , "),
            (TRUSTED_PROXIES_VARIABLE, "10.0.0.0/8,x"),
            (TRUSTED_PROXIES_VARIABLE, "10.0.0.0/8,0.0.0.0/0"),
            (TRUSTED_PROXIES_VARIABLE, "::/0"),
            (TRUSTED_PROXIES_VARIABLE, "0.0.0.0/1,128.0.0.0/1"),
            (TRUSTED_PROXIES_VARIABLE, "::/1,8000::/1"),
        ] {
            let error = resolve(&[(variable, value)]).unwrap_err();
            assert_eq!(error.variable, variable, "{value:?}");
        }
    }
}
