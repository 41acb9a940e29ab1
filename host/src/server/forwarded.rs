//! The client behind a reverse proxy the operator trusts
//! (`--trusted-proxy CIDR`, repeated): a request whose connection comes from
//! one carries its client's address in `X-Forwarded-For` and its scheme in
//! `X-Forwarded-Proto`, as ingress-nginx, Envoy and cloud load balancers
//! send them. Throttles, the audit log and the access log then count the
//! client, not the proxy every client shares; connections from a trusted
//! proxy are not held to the per-address connection limit.
//!
//! Nothing else is believed: from any other peer both headers are ignored
//! (anyone can send them), and in `X-Forwarded-For` the client is the
//! rightmost address that is not itself a trusted proxy (entries to its left
//! were written by the client and are not). A header that does not parse
//! leaves the proxy's own address.

use std::net::IpAddr;

use http::HeaderMap;
use ipnet::IpNet;

/// The operator's trusted proxies (none by default).
#[derive(Debug, Clone, Default)]
pub struct TrustedProxies(Vec<IpNet>);

impl TrustedProxies {
    /// `CIDR` or address entries, naming the one that does not parse.
    pub fn parse(list: &[String]) -> Result<Self, String> {
        list.iter()
            .map(|s| {
                let t = s.trim();
                t.parse::<IpNet>()
                    .or_else(|_| t.parse::<IpAddr>().map(IpNet::from))
                    .map(|n| n.trunc())
                    .map_err(|_| format!("`{s}` is not an IP address or CIDR block"))
            })
            .collect::<Result<Vec<_>, _>>()
            .map(TrustedProxies)
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Whether `ip` is a trusted proxy.
    pub fn contains(&self, ip: IpAddr) -> bool {
        let ip = ip.to_canonical();
        self.0.iter().any(|n| n.contains(&ip))
    }

    /// The client of a request whose connection comes from `peer`.
    pub fn client(&self, peer: IpAddr, headers: &HeaderMap) -> IpAddr {
        let peer = peer.to_canonical();
        if !self.contains(peer) {
            return peer;
        }
        let mut hops: Vec<IpAddr> = Vec::new();
        for v in headers.get_all("x-forwarded-for") {
            let Ok(v) = v.to_str() else {
                return peer;
            };
            for part in v.split(',') {
                match parse_hop(part) {
                    Some(ip) => hops.push(ip),
                    None => return peer,
                }
            }
        }
        hops.into_iter()
            .rev()
            .find(|ip| !self.contains(*ip))
            .unwrap_or(peer)
    }

    /// Whether a trusted proxy says the client reached it over HTTPS (the
    /// console's cookie is then `Secure`).
    pub fn https(&self, peer: IpAddr, headers: &HeaderMap) -> bool {
        self.contains(peer)
            && headers
                .get("x-forwarded-proto")
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.split(',').next())
                .is_some_and(|p| p.trim().eq_ignore_ascii_case("https"))
    }
}

/// One `X-Forwarded-For` entry: an address, `[v6]`, or either with a port.
fn parse_hop(s: &str) -> Option<IpAddr> {
    let s = s.trim();
    if let Ok(ip) = s.parse::<IpAddr>() {
        return Some(ip.to_canonical());
    }
    if let Ok(sa) = s.parse::<std::net::SocketAddr>() {
        return Some(sa.ip().to_canonical());
    }
    let inner = s.strip_prefix('[')?.strip_suffix(']')?;
    inner.parse::<IpAddr>().ok().map(|ip| ip.to_canonical())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn proxies(list: &[&str]) -> TrustedProxies {
        TrustedProxies::parse(&list.iter().map(|s| s.to_string()).collect::<Vec<_>>()).unwrap()
    }

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.append(*k, v.parse().unwrap());
        }
        h
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn only_a_trusted_peer_is_believed() {
        let p = proxies(&["10.0.0.0/8"]);
        let h = headers(&[("x-forwarded-for", "203.0.113.7")]);
        assert_eq!(p.client(ip("10.1.2.3"), &h), ip("203.0.113.7"));
        // Anyone else sending the header is its own client.
        assert_eq!(p.client(ip("198.51.100.1"), &h), ip("198.51.100.1"));
        // Without the header, the proxy itself.
        assert_eq!(p.client(ip("10.1.2.3"), &HeaderMap::new()), ip("10.1.2.3"));
        // None trusted by default.
        assert_eq!(
            TrustedProxies::default().client(ip("10.1.2.3"), &h),
            ip("10.1.2.3")
        );
    }

    #[test]
    fn the_rightmost_untrusted_hop_is_the_client() {
        let p = proxies(&["10.0.0.0/8", "192.168.1.1"]);
        // The client wrote the first entry itself: it is not believed.
        let h = headers(&[("x-forwarded-for", "1.2.3.4, 203.0.113.7, 192.168.1.1")]);
        assert_eq!(p.client(ip("10.0.0.5"), &h), ip("203.0.113.7"));
        // Several headers are one list, in order.
        let h = headers(&[
            ("x-forwarded-for", "1.2.3.4"),
            ("x-forwarded-for", "[2001:db8::1]:4711, 10.9.9.9"),
        ]);
        assert_eq!(p.client(ip("10.0.0.5"), &h), ip("2001:db8::1"));
        // Every hop a proxy: the farthest one.
        let h = headers(&[("x-forwarded-for", "10.2.2.2")]);
        assert_eq!(p.client(ip("10.0.0.5"), &h), ip("10.0.0.5"));
        // Garbage: the peer.
        let h = headers(&[("x-forwarded-for", "1.2.3.4, not-an-ip")]);
        assert_eq!(p.client(ip("10.0.0.5"), &h), ip("10.0.0.5"));
        // IPv4-mapped IPv6 is the IPv4 address it carries.
        let h = headers(&[("x-forwarded-for", "::ffff:203.0.113.9")]);
        assert_eq!(p.client(ip("::ffff:10.0.0.5"), &h), ip("203.0.113.9"));
    }

    #[test]
    fn https_only_from_a_trusted_proxy() {
        let p = proxies(&["10.0.0.0/8"]);
        let h = headers(&[("x-forwarded-proto", "https")]);
        assert!(p.https(ip("10.0.0.1"), &h));
        assert!(!p.https(ip("11.0.0.1"), &h));
        assert!(!p.https(ip("10.0.0.1"), &headers(&[("x-forwarded-proto", "http")])));
    }

    #[test]
    fn entries_parse_or_are_named() {
        assert!(TrustedProxies::parse(&["10.0.0.0/8".into(), "::1".into()]).is_ok());
        let e = TrustedProxies::parse(&["proxy.example".into()]).unwrap_err();
        assert!(e.contains("proxy.example"), "{e}");
    }
}
