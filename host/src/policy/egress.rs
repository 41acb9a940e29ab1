//! Egress rules: where a plugin may open a connection with an address its
//! caller chose (an explicit SSH target, an inline kubeconfig's server).
//!
//! A rule is an IP network (`10.0.0.0/8`, `127.0.0.1`, `fd00::/8`) with an
//! optional port (`10.0.0.0/8:6443`, `[fd00::/8]:6443`). Deny by default: an
//! address no rule contains is refused. Some addresses are refused even when
//! a broad rule contains them, unless a rule names them explicitly (the
//! rule's network lies inside the special range): loopback and link-local
//! (cloud metadata at 169.254.169.254 among them). The host's own listen
//! address is reachable only through a rule naming that address and port.
//! Unspecified, multicast and broadcast addresses are never reachable.
//! IPv4-mapped IPv6 addresses are checked as the IPv4 address they carry.

use std::net::{IpAddr, SocketAddr};

use ipnet::IpNet;

/// One egress rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rule {
    net: IpNet,
    port: Option<u16>,
}

/// Ranges reachable only through a rule that names them.
const GUARDED: [(&str, &str); 4] = [
    ("127.0.0.0/8", "loopback"),
    ("::1/128", "loopback"),
    ("169.254.0.0/16", "link-local"),
    ("fe80::/10", "link-local"),
];

/// Why a connection was refused (one sentence, no internals).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct Refused(pub String);

impl Rule {
    /// `CIDR`, `address`, `CIDR:port`, `address:port`, `[v6 CIDR]:port`.
    pub fn parse(s: &str) -> Result<Rule, String> {
        let t = s.trim();
        let bad = || format!("`{s}` is not an IP address or CIDR block with an optional :port");
        let (net, port) = if let Some(rest) = t.strip_prefix('[') {
            let (net, tail) = rest.split_once(']').ok_or_else(bad)?;
            let port = match tail {
                "" => None,
                p => Some(p.strip_prefix(':').ok_or_else(bad)?),
            };
            (net, port)
        } else if t.matches(':').count() == 1 {
            let (net, port) = t.split_once(':').ok_or_else(bad)?;
            (net, Some(port))
        } else {
            (t, None)
        };
        let net = parse_net(net).ok_or_else(bad)?;
        let port = match port {
            None => None,
            Some(p) => Some(
                p.parse::<u16>()
                    .ok()
                    .filter(|p| *p != 0)
                    .ok_or_else(|| format!("`{s}` has an invalid port"))?,
            ),
        };
        Ok(Rule { net, port })
    }

    /// Exactly one address and port.
    pub fn exactly(addr: SocketAddr) -> Rule {
        let addr = canonical(addr);
        Rule {
            net: IpNet::from(addr.ip()),
            port: Some(addr.port()),
        }
    }

    fn matches(&self, addr: SocketAddr) -> bool {
        self.net.contains(&addr.ip()) && self.port.is_none_or(|p| p == addr.port())
    }

    /// The rule's network lies inside `range`: it names that range on purpose.
    fn names(&self, range: &IpNet) -> bool {
        range.contains(&self.net)
    }

    /// The rule is exactly this one address and port.
    fn is_exactly(&self, addr: SocketAddr) -> bool {
        self.net.prefix_len() == self.net.max_prefix_len()
            && self.net.addr() == addr.ip()
            && self.port == Some(addr.port())
    }
}

fn parse_net(s: &str) -> Option<IpNet> {
    if s.contains('/') {
        s.parse::<IpNet>().ok().map(|n| n.trunc())
    } else {
        s.parse::<IpAddr>().ok().map(IpNet::from)
    }
}

/// Parse every rule of a list, naming the one that is not valid.
pub fn parse_all(list: &[String]) -> Result<Vec<Rule>, String> {
    list.iter().map(|s| Rule::parse(s)).collect()
}

/// An address as the check sees it (IPv4-mapped IPv6 as IPv4).
fn canonical(addr: SocketAddr) -> SocketAddr {
    SocketAddr::new(addr.ip().to_canonical(), addr.port())
}

/// Whether `addr` is the host's own listening socket. A server listening on
/// every address (`0.0.0.0`, `[::]`) is reached through any address of this
/// machine at its port: loopback, and the pod's or machine's own addresses.
fn is_own(addr: SocketAddr, own: &[SocketAddr]) -> bool {
    own.iter().any(|o| {
        let o = canonical(*o);
        let same_family = o.is_ipv6() || addr.is_ipv4();
        o.port() == addr.port()
            && (o.ip() == addr.ip()
                || (o.ip().is_unspecified()
                    && same_family
                    && (addr.ip().is_loopback() || is_local(addr.ip()))))
    })
}

/// Whether `ip` is an address of this machine: a socket can be bound to it
/// (nothing is sent).
fn is_local(ip: IpAddr) -> bool {
    std::net::UdpSocket::bind(SocketAddr::new(ip, 0)).is_ok()
}

/// May a plugin whose rules (named `what` in its config) are `rules` connect
/// to `addr`? `own` is where this server listens.
pub fn check(
    plugin: &str,
    what: &str,
    rules: &[Rule],
    own: &[SocketAddr],
    addr: SocketAddr,
) -> Result<(), Refused> {
    let addr = canonical(addr);
    let ip = addr.ip();
    let refuse = |why: &str| {
        Err(Refused(format!(
            "plugin `{plugin}` may not connect to {addr}: {why}"
        )))
    };
    let never = match ip {
        IpAddr::V4(v4) => v4.is_unspecified() || v4.is_multicast() || v4.is_broadcast(),
        IpAddr::V6(v6) => v6.is_unspecified() || v6.is_multicast(),
    };
    if never {
        return refuse("unspecified, multicast and broadcast addresses are never reachable");
    }
    let matching: Vec<&Rule> = rules.iter().filter(|r| r.matches(addr)).collect();
    if matching.is_empty() {
        return refuse(&format!("it is outside the plugin's `{what}`"));
    }
    if is_own(addr, own) {
        if matching.iter().any(|r| r.is_exactly(addr)) {
            return Ok(());
        }
        return refuse(&format!(
            "it is this server's own address; only a `{what}` entry naming {addr} exactly reaches it"
        ));
    }
    for (range, name) in GUARDED {
        let Ok(range) = range.parse::<IpNet>() else {
            continue;
        };
        if range.contains(&ip) && !matching.iter().any(|r| r.names(&range)) {
            return refuse(&format!(
                "{name} addresses are reachable only when a `{what}` entry names them ({range} or inside it)"
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rules(list: &[&str]) -> Vec<Rule> {
        list.iter().map(|s| Rule::parse(s).unwrap()).collect()
    }

    fn sa(s: &str) -> SocketAddr {
        s.parse().unwrap()
    }

    #[test]
    fn rules_parse_with_and_without_ports() {
        assert_eq!(
            Rule::parse("10.0.0.0/8").unwrap(),
            Rule {
                net: "10.0.0.0/8".parse().unwrap(),
                port: None
            }
        );
        assert_eq!(Rule::parse("10.1.2.3:6443").unwrap().port, Some(6443));
        assert_eq!(Rule::parse("[fd00::/8]:6443").unwrap().port, Some(6443));
        assert_eq!(Rule::parse("::1").unwrap().port, None);
        assert_eq!(Rule::parse("fd00::/8").unwrap().port, None);
        // Host bits are dropped: 10.1.2.3/8 is 10.0.0.0/8.
        assert!(Rule::parse("10.1.2.3/8")
            .unwrap()
            .matches(sa("10.200.0.1:22")));
        for bad in [
            "example.com",
            "10.0.0.0/33",
            "10.0.0.1:0",
            "10.0.0.1:x",
            "[::1",
        ] {
            assert!(Rule::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn deny_by_default_and_ports_hold() {
        let r = rules(&["10.0.0.0/8:6443"]);
        assert!(check("p", "kube-targets", &r, &[], sa("10.1.1.1:6443")).is_ok());
        assert!(check("p", "kube-targets", &r, &[], sa("10.1.1.1:22")).is_err());
        assert!(check("p", "kube-targets", &r, &[], sa("11.1.1.1:6443")).is_err());
        let e = check("p", "kube-targets", &[], &[], sa("10.1.1.1:6443")).unwrap_err();
        assert_eq!(
            e.0,
            "plugin `p` may not connect to 10.1.1.1:6443: it is outside the plugin's `kube-targets`"
        );
    }

    #[test]
    fn metadata_and_link_local_need_a_rule_naming_them() {
        let all = rules(&["0.0.0.0/0", "::/0"]);
        for a in [
            "169.254.169.254:80",
            "[fe80::1]:443",
            "127.0.0.1:6443",
            "[::1]:6443",
        ] {
            let e = check("p", "kube-targets", &all, &[], sa(a)).unwrap_err();
            assert!(e.0.contains("reachable only when"), "{a}: {e}");
        }
        // IPv4-mapped IPv6 is the IPv4 address it carries.
        assert!(check("p", "k", &all, &[], sa("[::ffff:169.254.169.254]:80")).is_err());
        assert!(check("p", "k", &all, &[], sa("[::ffff:8.8.8.8]:443")).is_ok());
        let named = rules(&["169.254.169.254", "127.0.0.0/8"]);
        assert!(check("p", "k", &named, &[], sa("169.254.169.254:80")).is_ok());
        assert!(check("p", "k", &named, &[], sa("127.0.0.2:6443")).is_ok());
    }

    #[test]
    fn never_reachable() {
        let all = rules(&["0.0.0.0/0", "::/0"]);
        for a in [
            "0.0.0.0:80",
            "[::]:80",
            "224.0.0.1:80",
            "255.255.255.255:80",
        ] {
            assert!(check("p", "k", &all, &[], sa(a)).is_err(), "{a}");
        }
    }

    #[test]
    fn own_listen_address_needs_an_exact_rule() {
        let lo = rules(&["127.0.0.0/8"]);
        let own = [sa("127.0.0.1:8080")];
        assert!(check("p", "k", &lo, &own, sa("127.0.0.1:8080")).is_err());
        assert!(check("p", "k", &lo, &own, sa("127.0.0.1:8081")).is_ok());
        let exact = rules(&["127.0.0.1:8080"]);
        assert!(check("p", "k", &exact, &own, sa("127.0.0.1:8080")).is_ok());
        // Listening on every address: loopback at that port is the server.
        let any = [sa("0.0.0.0:8080")];
        assert!(check("p", "k", &lo, &any, sa("127.0.0.5:8080")).is_err());
        // ... and so is each of the machine's own addresses (a pod's IP
        // inside a granted private range), at that port only; an address
        // of no interface here is not (TEST-NET-2: nothing is sent).
        let all = rules(&["0.0.0.0/0"]);
        assert!(check("p", "k", &all, &any, sa("198.51.100.1:8080")).is_ok());
        let out = std::process::Command::new("hostname").arg("-I").output();
        let mine: Vec<IpAddr> = out
            .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
            .unwrap_or_default()
            .split_whitespace()
            .filter_map(|a| a.parse().ok())
            .filter(|ip: &IpAddr| ip.is_ipv4() && !ip.is_loopback())
            .collect();
        for ip in mine {
            let e = check("p", "k", &all, &any, SocketAddr::new(ip, 8080)).unwrap_err();
            assert!(e.0.contains("own address"), "{ip}: {e}");
            assert!(check("p", "k", &all, &any, SocketAddr::new(ip, 8081)).is_ok());
        }
    }
}
