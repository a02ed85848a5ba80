//! Which address a request comes from, and whether that address may call.

use std::net::{IpAddr, SocketAddr};

use actix_web::http::header::{HeaderMap, HeaderName};
use ipnet::IpNet;

use crate::config::NetworkSettings;

/// The header in which proxies name the addresses a request came through.
pub const X_FORWARDED_FOR: HeaderName = HeaderName::from_static("x-forwarded-for");

/// The most `X-Forwarded-For` entries read; a longer chain is refused as unusable.
const MAX_FORWARDED_ENTRIES: usize = 32;

/// Where a request comes from, as far as can be told.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ClientAddress {
    /// The socket peer, or `None` when the connection has none (a test request).
    pub peer: Option<IpAddr>,
    /// The client: the peer, or the address a trusted proxy named in `X-Forwarded-For`.
    /// `None` when a trusted proxy sent an entry that is not an address.
    pub client: Option<IpAddr>,
}

/// The allow-list and the trusted proxies.
#[derive(Clone, Debug, Default)]
pub struct NetworkFilter {
    allow: Option<Vec<IpNet>>,
    trusted_proxies: Vec<IpNet>,
}

impl NetworkFilter {
    /// The filter of `settings`.
    pub fn new(settings: &NetworkSettings) -> Self {
        Self {
            allow: settings.allow.clone(),
            trusted_proxies: settings.trusted_proxies.clone(),
        }
    }

    /// True when an allow-list is configured.
    pub fn restricts(&self) -> bool {
        self.allow.is_some()
    }

    /// The client address of a request from `peer` with `headers`.
    ///
    /// `X-Forwarded-For` is read only when the peer is a trusted proxy, since anyone else can
    /// write anything in it. The entries of every such header are read left to right as one
    /// list, and the client is the rightmost entry that is not itself a trusted proxy: each
    /// proxy appends the address it was called from, so the entries to the left of the last
    /// untrusted one were written by the client and prove nothing.
    pub fn client_address(&self, peer: Option<SocketAddr>, headers: &HeaderMap) -> ClientAddress {
        // A dual-stack socket reports IPv4 peers as IPv4-mapped IPv6 (`::ffff:192.0.2.1`).
        let peer = peer.map(|address| address.ip().to_canonical());
        let client = match peer {
            Some(peer) if self.is_trusted(peer) => self.forwarded_client(peer, headers),
            other => other,
        };
        ClientAddress { peer, client }
    }

    /// True when the allow-list admits `address`, or there is no allow-list.
    pub fn allows(&self, address: &ClientAddress) -> bool {
        match (&self.allow, address.client) {
            (None, _) => true,
            (Some(_), None) => false,
            (Some(ranges), Some(client)) => ranges.iter().any(|range| range.contains(&client)),
        }
    }

    fn is_trusted(&self, address: IpAddr) -> bool {
        self.trusted_proxies
            .iter()
            .any(|range| range.contains(&address))
    }

    fn forwarded_client(&self, peer: IpAddr, headers: &HeaderMap) -> Option<IpAddr> {
        let mut entries = Vec::new();
        for value in headers.get_all(X_FORWARDED_FOR) {
            let text = value.to_str().ok()?;
            entries.extend(text.split(',').map(str::trim));
            if entries.len() > MAX_FORWARDED_ENTRIES {
                return None;
            }
        }

        let mut leftmost = peer;
        for entry in entries.iter().rev() {
            let address = parse_entry(entry)?;
            if !self.is_trusted(address) {
                return Some(address);
            }
            leftmost = address;
        }
        // Every hop is a trusted proxy: the first of them is the closest thing to a client.
        Some(leftmost)
    }
}

/// An `X-Forwarded-For` entry: an address, with or without a port (`203.0.113.5:51234`, as
/// Azure App Service writes it, or `[2001:db8::1]:443`).
fn parse_entry(entry: &str) -> Option<IpAddr> {
    if let Ok(address) = entry.parse::<IpAddr>() {
        return Some(address.to_canonical());
    }
    if let Ok(address) = entry.parse::<SocketAddr>() {
        return Some(address.ip().to_canonical());
    }
    let bracketed = entry.strip_prefix('[')?.strip_suffix(']')?;
    bracketed
        .parse::<IpAddr>()
        .ok()
        .map(|address| address.to_canonical())
}

#[cfg(test)]
mod tests {
    use actix_web::http::header::HeaderValue;

    use super::*;
    use crate::config::network::parse_ranges;

    fn filter(allow: Option<&str>, trusted: Option<&str>) -> NetworkFilter {
        NetworkFilter {
            allow: allow.map(|text| parse_ranges(text, "allow").unwrap()),
            trusted_proxies: trusted
                .map(|text| parse_ranges(text, "trusted").unwrap())
                .unwrap_or_default(),
        }
    }

    fn headers(forwarded: &[&str]) -> HeaderMap {
        let mut headers = HeaderMap::new();
        for value in forwarded {
            headers.append(X_FORWARDED_FOR, HeaderValue::from_str(value).unwrap());
        }
        headers
    }

    fn client(filter: &NetworkFilter, peer: &str, forwarded: &[&str]) -> Option<IpAddr> {
        let peer: SocketAddr = peer.parse().unwrap();
        filter
            .client_address(Some(peer), &headers(forwarded))
            .client
    }

    fn ip(text: &str) -> Option<IpAddr> {
        Some(text.parse().unwrap())
    }

    #[test]
    fn the_peer_is_the_client_without_trusted_proxies() {
        let filter = filter(None, None);

        assert_eq!(
            client(&filter, "198.51.100.1:5000", &["203.0.113.9"]),
            ip("198.51.100.1")
        );
    }

    #[test]
    fn a_spoofed_header_from_an_untrusted_peer_is_ignored() {
        let filter = filter(Some("203.0.113.0/24"), Some("10.0.0.0/8"));
        let address = filter.client_address(
            Some("198.51.100.1:5000".parse().unwrap()),
            &headers(&["203.0.113.9"]),
        );

        assert_eq!(address.client, ip("198.51.100.1"));
        assert!(!filter.allows(&address));
    }

    #[test]
    fn behind_a_trusted_proxy_the_rightmost_untrusted_entry_is_the_client() {
        let filter = filter(None, Some("10.0.0.0/8"));

        let forwarded = ["1.1.1.1, 203.0.113.9", "10.0.0.7"];
        assert_eq!(
            client(&filter, "10.0.0.2:80", &forwarded),
            ip("203.0.113.9")
        );
    }

    #[test]
    fn entries_with_ports_and_brackets_are_read() {
        let filter = filter(None, Some("127.0.0.1/32"));

        for (entry, expected) in [
            ("203.0.113.5:51234", "203.0.113.5"),
            ("[2001:db8::1]:443", "2001:db8::1"),
            ("[2001:db8::1]", "2001:db8::1"),
            ("2001:db8::1", "2001:db8::1"),
            ("::ffff:203.0.113.5", "203.0.113.5"),
        ] {
            assert_eq!(
                client(&filter, "127.0.0.1:9", &[entry]),
                ip(expected),
                "{entry}"
            );
        }
    }

    #[test]
    fn a_trusted_proxy_without_the_header_is_the_client() {
        let filter = filter(None, Some("127.0.0.1/32"));

        assert_eq!(client(&filter, "127.0.0.1:9", &[]), ip("127.0.0.1"));
    }

    #[test]
    fn a_chain_of_trusted_proxies_gives_its_first_hop() {
        let filter = filter(None, Some("10.0.0.0/8"));

        assert_eq!(
            client(&filter, "10.0.0.1:9", &["10.1.1.1, 10.2.2.2"]),
            ip("10.1.1.1")
        );
    }

    #[test]
    fn an_entry_that_is_not_an_address_leaves_the_client_unknown_and_denied() {
        let filter = filter(Some("0.0.0.0/0"), Some("127.0.0.1/32"));

        for forwarded in ["unknown", "203.0.113.5, _hidden", "", "203.0.113.5,,"] {
            let address =
                filter.client_address(Some("127.0.0.1:9".parse().unwrap()), &headers(&[forwarded]));
            assert_eq!(address.client, None, "{forwarded:?}");
            assert!(!filter.allows(&address));
        }
    }

    #[test]
    fn a_very_long_chain_is_unusable() {
        let filter = filter(None, Some("127.0.0.1/32"));
        let chain = vec!["203.0.113.5"; 40].join(",");

        assert_eq!(client(&filter, "127.0.0.1:9", &[&chain]), None);
    }

    #[test]
    fn ipv4_mapped_peers_match_ipv4_ranges() {
        let filter = filter(Some("192.0.2.0/24"), None);
        let address = filter.client_address(
            Some("[::ffff:192.0.2.44]:5000".parse().unwrap()),
            &HeaderMap::new(),
        );

        assert_eq!(address.client, ip("192.0.2.44"));
        assert!(filter.allows(&address));
    }

    #[test]
    fn ipv6_ranges_admit_their_addresses_only() {
        let filter = filter(Some("2001:db8::/32"), None);
        let inside =
            filter.client_address(Some("[2001:db8::5]:1".parse().unwrap()), &HeaderMap::new());
        let outside =
            filter.client_address(Some("[2001:db9::5]:1".parse().unwrap()), &HeaderMap::new());

        assert!(filter.allows(&inside));
        assert!(!filter.allows(&outside));
    }

    #[test]
    fn without_an_allow_list_every_address_may_call() {
        let filter = filter(None, None);
        let address = ClientAddress {
            peer: None,
            client: None,
        };

        assert!(filter.allows(&address));
    }
}
