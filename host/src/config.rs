//! The operator's configuration (TOML): listen address, limits, and for each
//! plugin its role and the capabilities it is granted.
//!
//! ```toml
//! listen = "127.0.0.1:8080"
//! default-deadline-ms = 10000
//! memory-limit-mib = 64
//! max-concurrency = 64
//!
//! [plugins.kboss]
//! role = "endpoint"
//! grants = ["log", "inventory", "pricing"]
//!
//! [plugins.pcapi]
//! role = "endpoint"
//! grants = ["log", "ssh", "operations"]
//! # explicit SSH targets (IP addresses, CIDR blocks) the plugin may reach;
//! # inventory devices need no entry
//! ssh-targets = ["10.0.0.0/8", "192.168.0.0/16"]
//! ```
//!
//! A plugin the config does not name is granted `log` only: deny by default.

use std::collections::BTreeMap;
use std::path::Path;

use serde::Deserialize;

use crate::runtime::{Capability, Role};

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct Config {
    #[serde(default)]
    pub listen: Option<String>,
    /// Deadline for routes that declare none.
    #[serde(default = "default_deadline_ms")]
    pub default_deadline_ms: u32,
    /// Linear memory one plugin instance may grow to.
    #[serde(default = "default_memory_limit_mib")]
    pub memory_limit_mib: u32,
    /// Requests one plugin serves at once; more wait, then get 503.
    #[serde(default = "default_max_concurrency")]
    pub max_concurrency: u32,
    /// Honour kboss's `orgid` parameter (offline debugging). Never in production.
    #[serde(default)]
    pub debug_orgid: bool,
    #[serde(default)]
    pub plugins: BTreeMap<String, PluginConfig>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct PluginConfig {
    pub role: Role,
    #[serde(default)]
    pub grants: Vec<Capability>,
    /// Do not load the built-in plugin of this id.
    #[serde(default)]
    pub disabled: bool,
    /// Explicit SSH targets (IP addresses or CIDR blocks) this plugin may
    /// connect to with credentials its caller sent. Empty: devices only.
    #[serde(default)]
    pub ssh_targets: Vec<String>,
}

fn default_deadline_ms() -> u32 {
    10_000
}
fn default_memory_limit_mib() -> u32 {
    64
}
fn default_max_concurrency() -> u32 {
    64
}

/// Grants of the built-in plugins, used unless the config names the plugin.
const BUILTIN_GRANTS: &str = r#"
[plugins.kboss]
role = "endpoint"
grants = ["log", "inventory", "pricing", "scheduling", "kubernetes", "ssh", "operations"]

[plugins.pcapi]
role = "endpoint"
grants = ["log", "inventory", "kubernetes", "scheduling", "ssh", "operations"]
# new_cluster/new_worker reach the machines their callers name: the private
# networks of a compute center.
ssh-targets = ["10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16"]

[plugins.pricing]
role = "pricing"
grants = ["log"]

[plugins.scheduling]
role = "scheduling"
grants = ["log"]

[plugins.alaya]
role = "endpoint"
grants = ["log", "inventory", "kubernetes"]

[plugins.ief]
role = "endpoint"
grants = ["log", "inventory", "kubernetes"]
"#;

impl Default for Config {
    fn default() -> Self {
        // The literal above is part of the binary and covered by a unit test.
        toml::from_str(BUILTIN_GRANTS).unwrap_or_else(|_| Config {
            listen: None,
            default_deadline_ms: default_deadline_ms(),
            memory_limit_mib: default_memory_limit_mib(),
            max_concurrency: default_max_concurrency(),
            debug_orgid: false,
            plugins: BTreeMap::new(),
        })
    }
}

impl Config {
    /// The built-in defaults overlaid with the operator's file, if any.
    pub fn load(path: Option<&Path>) -> anyhow::Result<Self> {
        let mut config = Config::default();
        if let Some(path) = path {
            let text = std::fs::read_to_string(path)
                .map_err(|e| anyhow::anyhow!("cannot read config {}: {e}", path.display()))?;
            let file: Config = toml::from_str(&text)
                .map_err(|e| anyhow::anyhow!("config {}: {e}", path.display()))?;
            let mut plugins = config.plugins;
            plugins.extend(file.plugins.clone());
            config = Config { plugins, ..file };
        }
        Ok(config)
    }

    /// What the plugin `id` may import.
    pub fn grants(&self, id: &str) -> Vec<Capability> {
        match self.plugins.get(id) {
            Some(p) => p.grants.clone(),
            None => vec![Capability::Log],
        }
    }

    pub fn role(&self, id: &str) -> Option<Role> {
        self.plugins.get(id).map(|p| p.role)
    }

    /// Every plugin's `ssh-targets`, parsed; an entry that is not an IP
    /// address or CIDR block is a configuration error.
    pub fn ssh_targets(
        &self,
    ) -> anyhow::Result<std::collections::HashMap<String, Vec<crate::capabilities::ssh::Net>>> {
        let mut all = std::collections::HashMap::new();
        for (id, p) in &self.plugins {
            let nets = p
                .ssh_targets
                .iter()
                .map(|s| crate::capabilities::ssh::Net::parse(s))
                .collect::<Result<Vec<_>, _>>()
                .map_err(|e| anyhow::anyhow!("plugin `{id}`: ssh-targets: {e}"))?;
            all.insert(id.clone(), nets);
        }
        Ok(all)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtin_grants_parse() {
        let c: Config = toml::from_str(BUILTIN_GRANTS).unwrap();
        assert_eq!(c.plugins["kboss"].role, Role::Endpoint);
        assert!(c.plugins["kboss"].grants.contains(&Capability::Inventory));
    }

    #[test]
    fn ssh_targets_parse_or_fail_clearly() {
        let c: Config = toml::from_str(
            "[plugins.p]\nrole = \"endpoint\"\nssh-targets = [\"127.0.0.0/8\", \"10.1.2.3\"]",
        )
        .unwrap();
        assert_eq!(c.ssh_targets().unwrap()["p"].len(), 2);
        let bad: Config =
            toml::from_str("[plugins.p]\nrole = \"endpoint\"\nssh-targets = [\"host.example\"]")
                .unwrap();
        assert!(bad
            .ssh_targets()
            .unwrap_err()
            .to_string()
            .contains("plugin `p`"));
    }

    #[test]
    fn unnamed_plugins_get_log_only() {
        assert_eq!(Config::default().grants("stranger"), vec![Capability::Log]);
    }

    #[test]
    fn unknown_capabilities_are_refused() {
        let e = toml::from_str::<Config>("[plugins.x]\nrole = \"endpoint\"\ngrants = [\"files\"]")
            .unwrap_err();
        assert!(e.to_string().contains("files"));
    }
}
