//! The trust boundary in one place: what each plugin may reach beyond its
//! sandbox, as the operator's config grants it. Capabilities ask this module
//! before they act; it never acts itself.
//!
//! - [`egress`]: addresses a plugin may connect to with a target its caller
//!   chose (`ssh-targets`, `kube-targets`), loopback, link-local and the
//!   server's own address guarded;
//! - [`kubeconfig`]: the one kubeconfig check (no programs, no files, no
//!   proxies) and the client built from its checked values;
//! - [`storage`]: the collections a plugin reads and writes and the secret
//!   fields it may set.
//!
//! `docs/ARCHITECTURE.md` ("Threat model") walks every path from caller or
//! plugin text to something that runs, reads, connects or renders.

pub mod egress;
pub mod kubeconfig;
pub mod storage;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::RwLock;

pub use egress::Rule;
pub use storage::Storage;

/// What the config grants one plugin beyond its imports.
#[derive(Debug, Clone, Default)]
pub struct PluginGrant {
    pub ssh_targets: Vec<Rule>,
    pub kube_targets: Vec<Rule>,
    pub storage: Storage,
}

/// Every plugin's grant and the server's own addresses.
#[derive(Default)]
pub struct Policy {
    grants: RwLock<HashMap<String, PluginGrant>>,
    own: RwLock<Vec<SocketAddr>>,
    /// Addresses the server itself added to plugins' `kube-targets` (the
    /// demo's simulated cluster); they outlive a change of grants.
    added_kube: RwLock<HashMap<String, Vec<Rule>>>,
}

impl Policy {
    pub fn set_grants(&self, grants: HashMap<String, PluginGrant>) {
        *self.grants.write().unwrap_or_else(|p| p.into_inner()) = grants;
    }

    /// Where this server listens (never an egress target by accident).
    pub fn set_own(&self, addrs: Vec<SocketAddr>) {
        *self.own.write().unwrap_or_else(|p| p.into_inner()) = addrs;
    }

    /// Lets `plugin` also reach exactly `addr` as a Kubernetes API server:
    /// `serve --demo` adds its simulated cluster (on loopback, which no
    /// built-in grant names) for the built-in plugins that use it.
    pub fn add_kube_target(&self, plugin: &str, addr: SocketAddr) {
        self.added_kube
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .entry(plugin.to_string())
            .or_default()
            .push(Rule::exactly(addr));
    }

    /// The plugin's grant (empty for a plugin the config does not name).
    pub fn grant(&self, plugin: &str) -> PluginGrant {
        self.grants
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .get(plugin)
            .cloned()
            .unwrap_or_default()
    }

    /// Run `f` on the plugin's grant without cloning it.
    pub fn with_grant<T>(&self, plugin: &str, f: impl FnOnce(Option<&PluginGrant>) -> T) -> T {
        let g = self.grants.read().unwrap_or_else(|p| p.into_inner());
        f(g.get(plugin))
    }

    /// May `plugin` read `collection` (a host collection, or another
    /// plugin's) under its storage grant? Deny by default.
    pub fn check_read(&self, plugin: &str, collection: &str) -> Result<(), storage::Denied> {
        self.with_grant(plugin, |g| match g {
            Some(g) => g.storage.check_read(plugin, collection),
            None => Storage::default().check_read(plugin, collection),
        })
    }

    /// Whether `plugin` has any `what` rule at all: without one, nothing a
    /// caller names is looked up or reached.
    pub fn has_egress(&self, plugin: &str, what: Egress) -> bool {
        let added = what == Egress::Kube
            && self
                .added_kube
                .read()
                .unwrap_or_else(|p| p.into_inner())
                .contains_key(plugin);
        added
            || self.with_grant(plugin, |g| match (g, what) {
                (Some(g), Egress::Ssh) => !g.ssh_targets.is_empty(),
                (Some(g), Egress::Kube) => !g.kube_targets.is_empty(),
                (None, _) => false,
            })
    }

    /// May `plugin` connect to `addr` under its rules `what`?
    pub fn check_egress(
        &self,
        plugin: &str,
        what: Egress,
        addr: SocketAddr,
    ) -> Result<(), egress::Refused> {
        let own = self.own.read().unwrap_or_else(|p| p.into_inner()).clone();
        if what == Egress::Kube {
            let added = self.added_kube.read().unwrap_or_else(|p| p.into_inner());
            if let Some(rules) = added.get(plugin) {
                if egress::check(plugin, what.config_key(), rules, &own, addr).is_ok() {
                    return Ok(());
                }
            }
        }
        self.with_grant(plugin, |g| {
            let rules = match (g, what) {
                (Some(g), Egress::Ssh) => g.ssh_targets.as_slice(),
                (Some(g), Egress::Kube) => g.kube_targets.as_slice(),
                (None, _) => &[],
            };
            egress::check(plugin, what.config_key(), rules, &own, addr)
        })
    }
}

/// Which of a plugin's egress lists applies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Egress {
    Ssh,
    Kube,
}

impl Egress {
    pub fn config_key(self) -> &'static str {
        match self {
            Egress::Ssh => "ssh-targets",
            Egress::Kube => "kube-targets",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_added_api_server_is_that_address_only_and_outlives_a_regrant() {
        let policy = Policy::default();
        let sim: SocketAddr = "127.0.0.1:40123".parse().unwrap();
        let grant = PluginGrant {
            kube_targets: egress::parse_all(&["10.0.0.0/8".to_string()]).unwrap(),
            ..Default::default()
        };
        policy.set_grants([("alaya".to_string(), grant.clone())].into());
        assert!(policy.check_egress("alaya", Egress::Kube, sim).is_err());
        policy.add_kube_target("alaya", sim);
        assert!(policy.check_egress("alaya", Egress::Kube, sim).is_ok());
        // That address and port only, for that plugin only, as an API server.
        for other in ["127.0.0.1:40124", "127.0.0.2:40123"] {
            let other: SocketAddr = other.parse().unwrap();
            assert!(policy.check_egress("alaya", Egress::Kube, other).is_err());
        }
        assert!(policy.check_egress("ief", Egress::Kube, sim).is_err());
        assert!(policy.check_egress("alaya", Egress::Ssh, sim).is_err());
        // The grant's own rules still apply beside it, and a regrant keeps it.
        let private: SocketAddr = "10.1.2.3:6443".parse().unwrap();
        assert!(policy.check_egress("alaya", Egress::Kube, private).is_ok());
        policy.set_grants([("alaya".to_string(), grant)].into());
        assert!(policy.check_egress("alaya", Egress::Kube, sim).is_ok());
        assert!(policy.has_egress("alaya", Egress::Kube));
    }
}
