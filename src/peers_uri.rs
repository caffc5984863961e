//! `mictlanx://` peer URIs (`docs/router-api.md` A.5): `MICTLANX_PEERS_URI` → the registry's seed `PeerInfo`s.

use percent_encoding::percent_decode_str;

use crate::peer::PeerInfo;

const SCHEME: &str = "mictlanx://";

/// Why a `mictlanx://` URI was rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UriError {
    #[error("the URI must start with mictlanx://")]
    Scheme,
    #[error("no peers specified")]
    NoPeers,
    #[error("missing ':port' in '{0}'")]
    MissingPort(String),
    #[error("missing host in '{0}'")]
    MissingHost(String),
    #[error("Invalid port number: {0}")]
    InvalidPort(String),
    #[error("api_version must be an integer, got '{0}'")]
    InvalidApiVersion(String),
}

/// Query options of a peers URI (A.5 rule 5).
#[derive(Debug, Clone, PartialEq, Eq)]
struct UriOptions {
    protocol: String,
    api_version: u32,
}

/// Parses `mictlanx://[id@]host:port[,…][/]?protocol=…&api_version=…&http2=…` into peers, in URI order.
/// Peers without an id get `{host}:{port}`. `http2` is accepted and ignored: the peer client negotiates it.
pub fn parse_peers_uri(uri: &str) -> Result<Vec<PeerInfo>, UriError> {
    let rest = uri.strip_prefix(SCHEME).ok_or(UriError::Scheme)?;
    let (main, query) = rest.split_once('?').unwrap_or((rest, ""));
    let options = parse_query(query)?;
    let peers = main
        .split(',')
        .map(|spec| spec.trim().trim_matches('/'))
        .filter(|spec| !spec.is_empty())
        .map(|spec| parse_peer(spec, &options))
        .collect::<Result<Vec<_>, _>>()?;
    if peers.is_empty() {
        return Err(UriError::NoPeers);
    }
    Ok(peers)
}

fn parse_peer(spec: &str, options: &UriOptions) -> Result<PeerInfo, UriError> {
    let (id, address) = match spec.split_once('@') {
        Some((id, address)) => (Some(id.trim()).filter(|id| !id.is_empty()), address),
        None => (None, spec),
    };
    let (host, port_text) = address
        .rsplit_once(':')
        .ok_or_else(|| UriError::MissingPort(spec.to_string()))?;
    let host = host.trim();
    if host.is_empty() {
        return Err(UriError::MissingHost(spec.to_string()));
    }
    let port = port_text
        .trim()
        .parse::<u16>()
        .ok()
        .filter(|p| *p >= 1)
        .ok_or_else(|| UriError::InvalidPort(port_text.to_string()))?;
    let peer_id = match id {
        Some(id) => id.to_string(),
        None => {
            let generated = format!("{host}:{port}");
            tracing::warn!(peer_id = %generated, "peer without an id in the peers URI; using host:port");
            generated
        }
    };
    Ok(PeerInfo {
        peer_id,
        ip_addr: host.to_string(),
        port,
        protocol: options.protocol.clone(),
        api_version: options.api_version,
    })
}

/// `application/x-www-form-urlencoded`: the first non-empty value of each name counts.
fn parse_query(query: &str) -> Result<UriOptions, UriError> {
    let mut protocol: Option<String> = None;
    let mut api_version: Option<String> = None;
    for pair in query.split('&').filter(|p| !p.is_empty()) {
        let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
        let value = form_decode(value);
        if value.is_empty() {
            continue;
        }
        let slot = match form_decode(name).as_str() {
            "protocol" => &mut protocol,
            "api_version" => &mut api_version,
            _ => continue,
        };
        slot.get_or_insert(value);
    }
    let api_version = match api_version {
        None => 4,
        Some(text) => text
            .trim()
            .parse::<u32>()
            .map_err(|_| UriError::InvalidApiVersion(text))?,
    };
    Ok(UriOptions {
        protocol: protocol.unwrap_or_else(|| "http".into()),
        api_version,
    })
}

fn form_decode(text: &str) -> String {
    percent_decode_str(&text.replace('+', " "))
        .decode_utf8_lossy()
        .into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn peer(id: &str, host: &str, port: u16, protocol: &str) -> PeerInfo {
        PeerInfo {
            peer_id: id.into(),
            ip_addr: host.into(),
            port,
            protocol: protocol.into(),
            api_version: 4,
        }
    }

    #[test]
    fn default_seed_uri() {
        let peers = parse_peers_uri(
            "mictlanx://mictlanx-peer-0@localhost:24000,mictlanx-peer-1@localhost:24001/?protocol=http&api_version=4",
        )
        .unwrap();
        assert_eq!(
            peers,
            vec![
                peer("mictlanx-peer-0", "localhost", 24000, "http"),
                peer("mictlanx-peer-1", "localhost", 24001, "http")
            ]
        );
        let urls: Vec<String> = peers.iter().map(|p| p.base_url(false)).collect();
        assert_eq!(urls, ["http://localhost:24000", "http://localhost:24001"]);
    }

    #[test]
    fn query_defaults() {
        assert_eq!(
            parse_peers_uri("mictlanx://p0@10.0.0.5:25000").unwrap(),
            vec![peer("p0", "10.0.0.5", 25000, "http")]
        );
        let empty_values = parse_peers_uri("mictlanx://p0@h:1?protocol=&api_version=").unwrap();
        assert_eq!(empty_values, vec![peer("p0", "h", 1, "http")]);
        let first_wins =
            parse_peers_uri("mictlanx://p0@h:1?api_version=3&api_version=x&protocol=https&http2=1")
                .unwrap();
        assert_eq!(
            (first_wins[0].api_version, first_wins[0].protocol.as_str()),
            (3, "https")
        );
    }

    #[test]
    fn spaces_and_trailing_separators_are_tolerated() {
        let peers = parse_peers_uri("mictlanx://a@h1:1, b@h2:2 ,/?protocol=https").unwrap();
        assert_eq!(
            peers,
            vec![peer("a", "h1", 1, "https"), peer("b", "h2", 2, "https")]
        );
        assert_eq!(peers[1].base_url(false), "https://h2:2");
    }

    #[test]
    fn ipv6_host_keeps_its_colons_and_is_bracketed() {
        let peers = parse_peers_uri("mictlanx://x@::1:25000").unwrap();
        assert_eq!(peers, vec![peer("x", "::1", 25000, "http")]);
        assert_eq!(peers[0].base_url(false), "http://[::1]:25000");
        assert_eq!(peers[0].base_url(true), "http://localhost:25000");
    }

    #[test]
    fn bracketed_ipv6_host_is_kept() {
        let peers = parse_peers_uri("mictlanx://x@[::1]:25000").unwrap();
        assert_eq!(peers[0].ip_addr, "[::1]");
        assert_eq!(peers[0].base_url(false), "http://[::1]:25000");
    }

    #[test]
    fn missing_id_defaults_to_host_port() {
        assert_eq!(
            parse_peers_uri("mictlanx://h:25000").unwrap(),
            vec![peer("h:25000", "h", 25000, "http")]
        );
    }

    #[test]
    fn host_path_becomes_a_prefix_after_the_port() {
        let peers = parse_peers_uri("mictlanx://p@gw/pre:8080?protocol=https").unwrap();
        assert_eq!(peers[0].ip_addr, "gw/pre");
        assert_eq!(peers[0].base_url(false), "https://gw:8080/pre");
        assert_eq!(peers[0].base_url(true), "https://localhost:8080/pre");
    }

    #[test]
    fn invalid_vectors() {
        let cases = [
            ("http://a@h:1", UriError::Scheme),
            ("mictlanx://", UriError::NoPeers),
            ("mictlanx://,/ ,", UriError::NoPeers),
            ("mictlanx://a@h", UriError::MissingPort("a@h".into())),
            ("mictlanx://a@h:0", UriError::InvalidPort("0".into())),
            (
                "mictlanx://a@h:70000",
                UriError::InvalidPort("70000".into()),
            ),
            ("mictlanx://a@h:abc", UriError::InvalidPort("abc".into())),
            (
                "mictlanx://a@h:1/?api_version=x",
                UriError::InvalidApiVersion("x".into()),
            ),
            ("mictlanx://a@:1", UriError::MissingHost("a@:1".into())),
        ];
        for (uri, want) in cases {
            assert_eq!(parse_peers_uri(uri), Err(want), "{uri}");
        }
        assert_eq!(
            UriError::InvalidPort("abc".into()).to_string(),
            "Invalid port number: abc"
        );
    }
}
