//! Which explicit targets a plugin may reach: the operator's `ssh-targets`
//! in the plugin's config, checked by `policy::egress` (deny by default;
//! loopback, link-local and this server's own address only when an entry
//! names them). Inventory devices are always allowed (their organisation
//! owns them). Targets are IP literals, so the check cannot be bypassed
//! through name resolution.

use std::net::{IpAddr, SocketAddr};

use super::SshError;
use crate::policy::{Egress, Policy};

/// Parse an explicit target's host (an IP literal) and check it and its
/// port against the plugin's `ssh-targets`.
pub fn check(policy: &Policy, plugin: &str, host: &str, port: u16) -> Result<IpAddr, SshError> {
    let ip: IpAddr = host.parse().map_err(|_| {
        SshError::Invalid(format!(
            "host `{host}` must be an IP address (names are not resolved)"
        ))
    })?;
    policy
        .check_egress(plugin, Egress::Ssh, SocketAddr::new(ip, port))
        .map_err(|e| SshError::Denied(e.0))?;
    Ok(ip)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policy::{egress, PluginGrant};

    fn policy(rules: &[&str]) -> Policy {
        let p = Policy::default();
        let rules: Vec<String> = rules.iter().map(|s| s.to_string()).collect();
        let grant = PluginGrant {
            ssh_targets: egress::parse_all(&rules).unwrap(),
            ..Default::default()
        };
        p.set_grants([("pcapi".to_string(), grant)].into());
        p
    }

    #[test]
    fn explicit_targets_need_an_allowed_ip() {
        let p = policy(&["127.0.0.0/8"]);
        assert!(check(&p, "pcapi", "127.0.0.1", 22).is_ok());
        assert!(matches!(
            check(&p, "pcapi", "10.1.1.1", 22),
            Err(SshError::Denied(_))
        ));
        assert!(matches!(
            check(&p, "pcapi", "localhost", 22),
            Err(SshError::Invalid(_))
        ));
        assert!(matches!(
            check(&p, "other", "127.0.0.1", 22),
            Err(SshError::Denied(_))
        ));
        // A broad grant does not reach loopback or metadata by accident.
        let wide = policy(&["0.0.0.0/0"]);
        assert!(check(&wide, "pcapi", "127.0.0.1", 22).is_err());
        assert!(check(&wide, "pcapi", "169.254.169.254", 22).is_err());
    }
}
