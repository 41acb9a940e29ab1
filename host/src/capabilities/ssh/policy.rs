//! Which explicit targets a plugin may reach: the operator's `ssh-targets`
//! (IP addresses and CIDR blocks) in the plugin's config. Inventory devices
//! are always allowed (their organisation owns them); an explicit target
//! outside the list, or any explicit target of a plugin without a list, is
//! refused. Targets are IP literals, so the check cannot be bypassed through
//! name resolution.

use std::net::IpAddr;

use super::SshError;

/// An IP network: an address and a prefix length.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Net {
    addr: IpAddr,
    prefix: u8,
}

impl Net {
    /// `10.0.0.0/8`, `127.0.0.1`, `::1/128`.
    pub fn parse(s: &str) -> Result<Net, String> {
        let (addr, prefix) = match s.split_once('/') {
            Some((a, p)) => (a, Some(p)),
            None => (s, None),
        };
        let addr: IpAddr = addr
            .trim()
            .parse()
            .map_err(|_| format!("`{s}` is not an IP address or CIDR block"))?;
        let max = if addr.is_ipv4() { 32 } else { 128 };
        let prefix = match prefix {
            None => max,
            Some(p) => p
                .trim()
                .parse::<u8>()
                .ok()
                .filter(|p| *p <= max)
                .ok_or_else(|| format!("`{s}` has an invalid prefix length"))?,
        };
        Ok(Net { addr, prefix })
    }

    pub fn contains(&self, ip: IpAddr) -> bool {
        match (self.addr, ip) {
            (IpAddr::V4(n), IpAddr::V4(a)) => {
                let mask = u32::MAX
                    .checked_shl(32 - u32::from(self.prefix))
                    .unwrap_or(0);
                u32::from(n) & mask == u32::from(a) & mask
            }
            (IpAddr::V6(n), IpAddr::V6(a)) => {
                let mask = u128::MAX
                    .checked_shl(128 - u32::from(self.prefix))
                    .unwrap_or(0);
                u128::from(n) & mask == u128::from(a) & mask
            }
            _ => false,
        }
    }
}

/// Parse an explicit target's host (an IP literal) and check it against the
/// plugin's allowed networks.
pub fn check(plugin: &str, host: &str, allowed: &[Net]) -> Result<IpAddr, SshError> {
    let ip: IpAddr = host.parse().map_err(|_| {
        SshError::Invalid(format!(
            "host `{host}` must be an IP address (names are not resolved)"
        ))
    })?;
    if allowed.iter().any(|n| n.contains(ip)) {
        Ok(ip)
    } else {
        Err(SshError::Denied(format!(
            "plugin `{plugin}` may not connect to {ip}: it is outside the plugin's `ssh-targets`"
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn networks_contain_their_addresses() {
        let lo = Net::parse("127.0.0.0/8").unwrap();
        assert!(lo.contains("127.0.0.1".parse().unwrap()));
        assert!(!lo.contains("10.0.0.1".parse().unwrap()));
        let one = Net::parse("192.168.1.7").unwrap();
        assert!(one.contains("192.168.1.7".parse().unwrap()));
        assert!(!one.contains("192.168.1.8".parse().unwrap()));
        let all = Net::parse("0.0.0.0/0").unwrap();
        assert!(all.contains("8.8.8.8".parse().unwrap()));
        assert!(Net::parse("::1/128")
            .unwrap()
            .contains("::1".parse().unwrap()));
        assert!(Net::parse("10.0.0.0/33").is_err());
        assert!(Net::parse("example.com").is_err());
    }

    #[test]
    fn explicit_targets_need_an_allowed_ip() {
        let allowed = [Net::parse("127.0.0.0/8").unwrap()];
        assert!(check("pcapi", "127.0.0.1", &allowed).is_ok());
        assert!(matches!(
            check("pcapi", "10.1.1.1", &allowed),
            Err(SshError::Denied(_))
        ));
        assert!(matches!(
            check("pcapi", "localhost", &allowed),
            Err(SshError::Invalid(_))
        ));
        assert!(matches!(
            check("pcapi", "127.0.0.1", &[]),
            Err(SshError::Denied(_))
        ));
    }
}
