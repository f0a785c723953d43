//! The client's address: the TCP peer, or, when the peer is a trusted
//! reverse proxy (`FLAGYARD_TRUSTED_PROXIES`), the address the proxies say
//! they forwarded for (`Forwarded: for=`, else `X-Forwarded-For`). The list
//! is read from the right, skipping trusted proxies, so a client cannot
//! choose its address by sending the header itself: only hops appended by
//! trusted proxies are believed.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use axum::extract::ConnectInfo;
use axum::http::{Extensions, HeaderMap};

use crate::config::Cidr;

/// The trusted proxies, set as a request extension by the router.
#[derive(Debug, Clone, Default)]
pub struct TrustedProxies(pub Arc<Vec<Cidr>>);

impl TrustedProxies {
    fn trusts(&self, ip: IpAddr) -> bool {
        self.0.iter().any(|c| c.contains(ip))
    }
}

/// The client's address for rate limiting and logs (`None` when the server
/// was started without connection info).
pub fn client_ip(extensions: &Extensions, headers: &HeaderMap) -> Option<IpAddr> {
    let peer = extensions.get::<ConnectInfo<SocketAddr>>()?.0.ip();
    let Some(trusted) = extensions.get::<TrustedProxies>().filter(|t| t.trusts(peer)) else {
        return Some(peer);
    };
    let hops = forwarded_for(headers);
    // From the nearest hop outwards: the first address no trusted proxy
    // owns is the client; if every hop is trusted, the farthest one.
    let mut client = peer;
    for hop in hops.iter().rev() {
        client = *hop;
        if !trusted.trusts(*hop) {
            break;
        }
    }
    Some(client)
}

/// The `for=` addresses of `Forwarded` (RFC 7239), else those of
/// `X-Forwarded-For`, in order (farthest first). A malformed entry ends
/// the list there (everything before it is not believed either).
fn forwarded_for(headers: &HeaderMap) -> Vec<IpAddr> {
    let values = |name: &str| -> Vec<String> {
        headers.get_all(name).iter().filter_map(|v| v.to_str().ok()).map(str::to_owned).collect()
    };
    let forwarded = values("forwarded");
    let entries: Vec<String> = if forwarded.is_empty() {
        values("x-forwarded-for").iter().flat_map(|v| v.split(',')).map(|s| s.trim().to_owned()).collect()
    } else {
        forwarded
            .iter()
            .flat_map(|v| v.split(','))
            .map(|element| {
                element
                    .split(';')
                    .find_map(|pair| {
                        let (k, v) = pair.trim().split_once('=')?;
                        k.trim().eq_ignore_ascii_case("for").then(|| v.trim().trim_matches('"').to_owned())
                    })
                    .unwrap_or_default()
            })
            .collect()
    };
    let mut out = Vec::with_capacity(entries.len());
    // Only the nearest entries can matter; bound the work on a huge header.
    for entry in entries.iter().rev().take(32) {
        match parse_node(entry) {
            Some(ip) => out.push(ip),
            None => break,
        }
    }
    out.reverse();
    out
}

/// `203.0.113.7`, `203.0.113.7:443`, `[2001:db8::1]`, `[2001:db8::1]:443`, `2001:db8::1`.
fn parse_node(node: &str) -> Option<IpAddr> {
    if let Ok(ip) = node.parse::<IpAddr>() {
        return Some(ip);
    }
    if let Ok(addr) = node.parse::<SocketAddr>() {
        return Some(addr.ip());
    }
    node.strip_prefix('[').and_then(|r| r.strip_suffix(']')).and_then(|ip| ip.parse().ok())
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn ip(peer: &str, trusted: &[&str], headers: &[(&str, &str)]) -> Option<IpAddr> {
        let mut ext = Extensions::new();
        ext.insert(ConnectInfo(SocketAddr::new(peer.parse().unwrap(), 40000)));
        ext.insert(TrustedProxies(Arc::new(trusted.iter().map(|c| c.parse().unwrap()).collect())));
        let mut map = HeaderMap::new();
        for (k, v) in headers {
            map.append(axum::http::HeaderName::from_bytes(k.as_bytes()).unwrap(), HeaderValue::from_str(v).unwrap());
        }
        client_ip(&ext, &map)
    }

    fn addr(s: &str) -> Option<IpAddr> {
        Some(s.parse().unwrap())
    }

    #[test]
    fn only_trusted_proxies_are_believed() {
        let xff = [("x-forwarded-for", "1.1.1.1, 203.0.113.9")];
        // No trusted proxies: the header is ignored.
        assert_eq!(ip("10.0.0.5", &[], &xff), addr("10.0.0.5"));
        // The peer is a trusted proxy: the nearest untrusted hop.
        assert_eq!(ip("10.0.0.5", &["10.0.0.0/8"], &xff), addr("203.0.113.9"));
        // A client spoofing the header only adds hops to the left of its own.
        let chain = [("x-forwarded-for", "6.6.6.6, 203.0.113.9, 10.0.0.7")];
        assert_eq!(ip("10.0.0.5", &["10.0.0.0/8"], &chain), addr("203.0.113.9"));
        // An untrusted peer sending the header is the client itself.
        assert_eq!(ip("198.51.100.1", &["10.0.0.0/8"], &xff), addr("198.51.100.1"));
        // Forwarded wins over X-Forwarded-For; ports and brackets are read.
        let both = [("forwarded", "for=192.0.2.60;proto=http, for=\"[2001:db8::1]:4711\""), xff[0]];
        assert_eq!(ip("10.0.0.5", &["10.0.0.0/8"], &both), addr("2001:db8::1"));
        // Garbage stops the walk: the proxy's own view is kept.
        assert_eq!(ip("10.0.0.5", &["10.0.0.0/8"], &[("x-forwarded-for", "nonsense")]), addr("10.0.0.5"));
        // No header from a trusted proxy: the proxy is the client.
        assert_eq!(ip("10.0.0.5", &["10.0.0.0/8"], &[]), addr("10.0.0.5"));
    }
}
