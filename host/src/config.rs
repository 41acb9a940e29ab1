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
//! # its collections refer to centers and clusters: a reference is a read
//! write = ["compute_centers", "clusters", "devices"]
//!
//! [plugins.pcapi]
//! role = "endpoint"
//! grants = ["log", "inventory", "kubernetes", "ssh", "operations"]
//! # where the plugin may log in over SSH (IP addresses, CIDR blocks,
//! # optional :port): explicit targets and inventory devices' addresses
//! ssh-targets = ["10.0.0.0/8", "192.168.0.0/16"]
//! # API servers it may reach: an inline kubeconfig's, or an inventory
//! # cluster's (by id, which also needs `read = ["clusters"]`)
//! kube-targets = ["10.0.0.0/8:6443"]
//! # storage: collections read, collections written (and read), secret fields set
//! read = ["devices", "clusters"]
//! write = []
//! secrets = []
//!
//! [plugins.hello]
//! role = "endpoint"
//! # routes anonymous callers may reach (templates as the plugin declares
//! # them); a route declared without authentication and not named here
//! # keeps the plugin from loading
//! public-routes = ["/hello/{name}"]
//! ```
//!
//! A plugin the config does not name is granted `log` only, and no route
//! without authentication: deny by default.
//! Loopback and link-local addresses, and this server's own address, are
//! reachable only through an entry that names them (see `policy::egress`).

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
    /// The store in PostgreSQL (`postgres://user:password@host:port/db`),
    /// shared by every replica; without it, SQLite in the data dir.
    #[serde(default)]
    pub database: Option<String>,
    /// Answer a pure read (API keys, inventory pages) with what it read
    /// before while nothing has been committed since (SQLite: per read, by
    /// its WAL index; PostgreSQL: per request, by its snapshot). `false`
    /// reads every time.
    #[serde(default = "default_read_cache")]
    pub read_cache: bool,
    /// The bytes each organisation may store in collections, in MiB
    /// (`store::usage`): a write past it is refused.
    #[serde(default = "default_storage_quota_mib")]
    pub storage_quota_mib: u32,
    #[serde(default)]
    pub plugins: BTreeMap<String, PluginConfig>,
    /// The plugin ids the operator's file names: its entries win over
    /// grants given through the admin API, which win over built-in defaults.
    #[serde(skip)]
    pub from_file: std::collections::BTreeSet<String>,
}

#[derive(Debug, Clone, Deserialize, serde::Serialize, PartialEq)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct PluginConfig {
    pub role: Role,
    #[serde(default)]
    pub grants: Vec<Capability>,
    /// Do not load the built-in plugin of this id.
    #[serde(default)]
    pub disabled: bool,
    /// Addresses (IP addresses or CIDR blocks, optional :port) this plugin
    /// may log in to over SSH: explicit targets and inventory devices'
    /// addresses. Empty: none.
    #[serde(default)]
    pub ssh_targets: Vec<String>,
    /// API server addresses (IP, CIDR, optional :port) this plugin may
    /// reach, an inline kubeconfig's or an inventory cluster's. Empty: none.
    #[serde(default)]
    pub kube_targets: Vec<String>,
    /// Collections the plugin may read.
    #[serde(default)]
    pub read: Vec<String>,
    /// Collections the plugin may write (and read).
    #[serde(default)]
    pub write: Vec<String>,
    /// Secret fields (`collection.field`) the plugin may set.
    #[serde(default)]
    pub secrets: Vec<String>,
    /// `organisation` (default): warm instances reused within one
    /// organisation; `request`: a fresh instance per request.
    #[serde(default)]
    pub isolation: crate::runtime::Isolation,
    /// Route templates the plugin may serve without authentication (auth
    /// `none`), exactly as it declares them. Empty: every route it serves
    /// authenticates its caller.
    #[serde(default)]
    pub public_routes: Vec<String>,
}

impl PluginConfig {
    /// Whether a plugin loaded under `self` has to be loaded again under
    /// `other`: what the load checks (imports, role, isolation, the routes
    /// it may serve anonymously) differs.
    pub fn reloads_under(&self, other: &PluginConfig) -> bool {
        self.grants != other.grants
            || self.role != other.role
            || self.isolation != other.isolation
            || self.public_routes != other.public_routes
    }
}

impl PluginConfig {
    /// The storage grant its `read`, `write` and `secrets` lists make.
    pub fn storage(&self) -> Result<crate::policy::Storage, String> {
        crate::policy::Storage::new(&self.read, &self.write, &self.secrets)
    }
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

fn default_read_cache() -> bool {
    true
}

fn default_storage_quota_mib() -> u32 {
    crate::store::usage::DEFAULT_QUOTA_MIB
}

/// Grants of the built-in plugins, used unless the config names the plugin.
const BUILTIN_GRANTS: &str = r#"
[plugins.kboss]
role = "endpoint"
grants = ["log", "inventory", "pricing", "scheduling", "kubernetes", "ssh", "operations"]
# Provisioning logs in to inventory devices (their `ip` is the tenant's text)
# and checks a new cluster through the kubeconfig fetched from its control
# plane: the compute center's private networks.
ssh-targets = ["10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16"]
kube-targets = ["10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16"]
# The host's collections it writes; its own (labels, widgets, widget_stock,
# pod_configs) need no grant.
write = ["compute_centers", "clusters", "devices"]
secrets = ["compute_centers.api_pwd", "clusters.kubeconfig", "clusters.clusterjoin", "devices.adminpwd"]

[plugins.pcapi]
role = "endpoint"
grants = ["log", "inventory", "kubernetes", "scheduling", "ssh", "operations"]
# new_cluster/new_worker reach the machines their callers name, and an
# inline kubeconfig the API servers: the private networks of a compute center.
ssh-targets = ["10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16"]
kube-targets = ["10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16"]
read = ["devices", "clusters"]

[plugins.pricing]
role = "pricing"
grants = ["log"]

[plugins.scheduling]
role = "scheduling"
grants = ["log"]

[plugins.alaya]
role = "endpoint"
grants = ["log", "inventory", "kubernetes"]
# training_instances and training_ports are its own; clusters are reached by
# id, their API servers on the compute center's private networks.
read = ["clusters"]
kube-targets = ["10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16"]

[plugins.ief]
role = "endpoint"
# ief_projects and ief_deployments are its own; a project's cluster is
# reached by id.
grants = ["log", "inventory", "kubernetes"]
read = ["clusters"]
kube-targets = ["10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16"]
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
            database: None,
            read_cache: true,
            storage_quota_mib: default_storage_quota_mib(),
            plugins: BTreeMap::new(),
            from_file: Default::default(),
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
            let from_file = file.plugins.keys().cloned().collect();
            config = Config {
                plugins,
                from_file,
                ..file
            };
        }
        Ok(config)
    }

    /// This config with `granted` (through the admin API) in force for every
    /// plugin the operator's file does not name.
    pub fn with_admin_grants(&self, granted: &BTreeMap<String, PluginConfig>) -> Config {
        let mut merged = self.clone();
        for (id, g) in granted {
            if !self.from_file.contains(id) {
                merged.plugins.insert(id.clone(), g.clone());
            }
        }
        merged
    }

    /// What the plugin `id` may import.
    pub fn grants(&self, id: &str) -> Vec<Capability> {
        match self.plugins.get(id) {
            Some(p) => p.grants.clone(),
            None => vec![Capability::Log],
        }
    }

    /// How the plugin `id`'s instances are shared (organisation by default).
    pub fn isolation(&self, id: &str) -> crate::runtime::Isolation {
        self.plugins
            .get(id)
            .map(|p| p.isolation)
            .unwrap_or_default()
    }

    pub fn role(&self, id: &str) -> Option<Role> {
        self.plugins.get(id).map(|p| p.role)
    }

    /// The route templates the plugin `id` may serve without
    /// authentication (none unless its grant names them).
    pub fn public_routes(&self, id: &str) -> &[String] {
        self.plugins
            .get(id)
            .map(|p| p.public_routes.as_slice())
            .unwrap_or_default()
    }

    /// The plugin `id`'s storage grant (none without an entry).
    pub fn storage(&self, id: &str) -> Result<crate::policy::Storage, String> {
        match self.plugins.get(id) {
            Some(p) => p.storage(),
            None => Ok(crate::policy::Storage::default()),
        }
    }

    /// Every plugin's egress and storage grant, parsed; an entry that is
    /// not valid is a configuration error naming the plugin and the key.
    pub fn policy_grants(
        &self,
    ) -> anyhow::Result<std::collections::HashMap<String, crate::policy::PluginGrant>> {
        use crate::policy::{egress, PluginGrant};
        let mut all = std::collections::HashMap::new();
        for (id, p) in &self.plugins {
            let grant = PluginGrant {
                ssh_targets: egress::parse_all(&p.ssh_targets)
                    .map_err(|e| anyhow::anyhow!("plugin `{id}`: ssh-targets: {e}"))?,
                kube_targets: egress::parse_all(&p.kube_targets)
                    .map_err(|e| anyhow::anyhow!("plugin `{id}`: kube-targets: {e}"))?,
                storage: self
                    .storage(id)
                    .map_err(|e| anyhow::anyhow!("plugin `{id}`: storage grant: {e}"))?,
            };
            for route in &p.public_routes {
                crate::registry::router::check_template(route)
                    .map_err(|e| anyhow::anyhow!("plugin `{id}`: public-routes: {e}"))?;
            }
            all.insert(id.clone(), grant);
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
    fn grants_parse_or_fail_clearly() {
        let c: Config = toml::from_str(
            "[plugins.p]\nrole = \"endpoint\"\nssh-targets = [\"127.0.0.0/8\", \"10.1.2.3\"]\nkube-targets = [\"10.0.0.0/8:6443\"]\nread = [\"clusters\"]",
        )
        .unwrap();
        let g = &c.policy_grants().unwrap()["p"];
        assert_eq!(g.ssh_targets.len(), 2);
        assert_eq!(g.kube_targets.len(), 1);
        assert!(g.storage.check_read("p", "clusters").is_ok());
        for (bad, key) in [
            ("ssh-targets = [\"host.example\"]", "ssh-targets"),
            ("kube-targets = [\"10.0.0.0/40\"]", "kube-targets"),
            ("write = [\"nope\"]", "storage grant"),
            ("public-routes = [\"hello\"]", "public-routes"),
        ] {
            let c: Config =
                toml::from_str(&format!("[plugins.p]\nrole = \"endpoint\"\n{bad}")).unwrap();
            let e = c.policy_grants().unwrap_err().to_string();
            assert!(e.contains("plugin `p`") && e.contains(key), "{e}");
        }
    }

    #[test]
    fn builtin_storage_grants_are_valid() {
        let g = Config::default().policy_grants().unwrap();
        assert!(g["kboss"]
            .storage
            .check_write("kboss", "clusters", [("kubeconfig", Some("kubeconfig"))])
            .is_ok());
        assert!(g["pcapi"]
            .storage
            .check_write("pcapi", "clusters", [("name", None)])
            .is_err());
        assert!(g["alaya"].storage.check_read("alaya", "devices").is_err());
    }

    #[test]
    fn unnamed_plugins_get_log_only() {
        assert_eq!(Config::default().grants("stranger"), vec![Capability::Log]);
        assert!(Config::default().public_routes("stranger").is_empty());
        for builtin in ["kboss", "pcapi", "alaya", "ief"] {
            assert!(Config::default().public_routes(builtin).is_empty());
        }
    }

    #[test]
    fn unknown_capabilities_are_refused() {
        let e = toml::from_str::<Config>("[plugins.x]\nrole = \"endpoint\"\ngrants = [\"files\"]")
            .unwrap_err();
        assert!(e.to_string().contains("files"));
    }
}
