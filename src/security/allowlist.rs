//! `PeerAllowlist` (`MICTLANX_ROUTER_PEER_ALLOWLIST`): the host names, IP addresses and CIDR networks (IPv4
//! and IPv6) that peers registered at run time may use as their `hostname`. A host is matched as given: no
//! DNS lookup happens at registration, so `localhost` matches the entry `localhost`, not `127.0.0.0/8`.
//!
//! CIDRs are parsed and matched by `ipnet` (already in the dependency tree through reqwest; small, no
//! dependencies of its own, handles both families and prefix truncation) instead of hand-written bit masks.

use std::net::IpAddr;

use ipnet::IpNet;

/// The parsed list. Entries are kept in two sets: names (compared case-insensitively, without a trailing
/// dot) and networks (a single address is a /32 or /128 network).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct PeerAllowlist {
    names: Vec<String>,
    nets: Vec<IpNet>,
}

/// An entry that is neither an IP address, a CIDR network nor a host name.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("'{0}' is not a host name, an IP address or a CIDR network")]
pub struct AllowlistError(pub String);

impl PeerAllowlist {
    /// Parses a comma-separated list; items are trimmed and empty items dropped. An empty list allows no
    /// host at all (only the seed peers of `MICTLANX_PEERS_URI` can then be used).
    pub fn parse(raw: &str) -> Result<PeerAllowlist, AllowlistError> {
        let mut list = PeerAllowlist::default();
        for item in raw.split(',').map(str::trim).filter(|s| !s.is_empty()) {
            if let Some(ip) = parse_ip(item) {
                list.nets.push(IpNet::from(ip));
            } else if item.contains('/') {
                let net: IpNet = item
                    .trim_start_matches('[')
                    .replace("]/", "/")
                    .parse()
                    .map_err(|_| AllowlistError(item.to_string()))?;
                list.nets.push(net.trunc());
            } else if is_host_name(item) {
                list.names.push(normal_name(item));
            } else {
                return Err(AllowlistError(item.to_string()));
            }
        }
        Ok(list)
    }

    /// Whether a peer `hostname` (as registered) is inside the list. An IPv4-mapped IPv6 address
    /// (`::ffff:10.0.0.1`) is also checked as its IPv4 address.
    pub fn allows(&self, host: &str) -> bool {
        let host = host.trim();
        match parse_ip(host) {
            Some(ip) => {
                let canonical = ip.to_canonical();
                self.nets
                    .iter()
                    .any(|net| net.contains(&ip) || net.contains(&canonical))
            }
            None => {
                let name = normal_name(host);
                self.names.contains(&name)
            }
        }
    }

    pub fn is_empty(&self) -> bool {
        self.names.is_empty() && self.nets.is_empty()
    }
}

/// An IP address, IPv6 optionally in brackets (`[::1]`, as in URLs).
fn parse_ip(text: &str) -> Option<IpAddr> {
    let inner = text
        .strip_prefix('[')
        .and_then(|t| t.strip_suffix(']'))
        .unwrap_or(text);
    inner.parse().ok()
}

/// Letters, digits, `-`, `_` (container names) and dots between non-empty labels; at most 253 characters.
fn is_host_name(text: &str) -> bool {
    let name = text.strip_suffix('.').unwrap_or(text);
    !name.is_empty()
        && name.len() <= 253
        && name.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && label
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        })
}

fn normal_name(text: &str) -> String {
    text.strip_suffix('.').unwrap_or(text).to_ascii_lowercase()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn list(raw: &str) -> PeerAllowlist {
        PeerAllowlist::parse(raw).expect("valid allowlist")
    }

    #[test]
    fn names_match_case_insensitively_and_exactly() {
        let l = list(" Peer-0.Example.org. , mictlanx_peer_1 ,,");
        assert!(l.allows("peer-0.example.org"));
        assert!(l.allows("PEER-0.EXAMPLE.ORG."));
        assert!(l.allows("mictlanx_peer_1"));
        assert!(!l.allows("example.org"));
        assert!(!l.allows("evil-peer-0.example.org"));
        assert!(!l.allows("peer-0.example.org.evil"));
        assert!(!l.allows("localhost"));
    }

    #[test]
    fn ipv4_addresses_and_networks() {
        let l = list("10.1.2.3/8, 192.168.5.7, localhost");
        assert!(l.allows("10.200.0.1"), "host bits of a CIDR are ignored");
        assert!(l.allows("192.168.5.7"));
        assert!(!l.allows("192.168.5.8"));
        assert!(!l.allows("11.0.0.1"));
        assert!(l.allows("::ffff:10.0.0.9"), "IPv4-mapped IPv6");
        assert!(!l.allows("127.0.0.1"), "no DNS: localhost is only a name");
        assert!(l.allows("localhost"));
        assert!(
            !l.allows("167772161"),
            "a decimal IPv4 form is a name, not in the list"
        );
    }

    #[test]
    fn ipv6_addresses_and_networks() {
        let l = list("fd00::/8, [2001:db8::1], [2001:db8:1::]/48");
        assert!(l.allows("fd12:3456::1"));
        assert!(l.allows("[fd00::2]"));
        assert!(l.allows("2001:db8::1"));
        assert!(!l.allows("2001:db8::2"));
        assert!(l.allows("2001:db8:1:ffff::5"));
        assert!(!l.allows("fe80::1"));
        assert!(!l.allows("10.0.0.1"));
    }

    #[test]
    fn invalid_entries_are_named() {
        for bad in [
            "10.0.0.0/33",
            "fd00::/129",
            "a b",
            "http://x",
            "-/-",
            "x..y",
            "*.example.org",
        ] {
            let err = PeerAllowlist::parse(&format!("ok, {bad}")).unwrap_err();
            assert_eq!(err.0, bad);
        }
    }

    #[test]
    fn an_empty_list_allows_nothing() {
        let l = list(" , ");
        assert!(l.is_empty());
        assert!(!l.allows("localhost"));
        assert!(!l.allows("10.0.0.1"));
    }
}
