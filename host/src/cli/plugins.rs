//! `plugin list|check|grant` and friends: what a plugin is, whether it
//! loads, and the grants it runs with (the development loop is
//! [`super::plugin_dev`], scaffolding [`super::plugin_new`]).

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;

use super::serve::registry;
use super::{open_existing_store, PluginCommand};
use crate::config::Config;
use crate::registry::InstallError;
use crate::runtime::Role;

pub(super) async fn plugin_command(command: PluginCommand) -> anyhow::Result<ExitCode> {
    let scratch = tempfile_dir()?;
    let result = plugin_command_in(&scratch, command).await;
    let _ = std::fs::remove_dir_all(&scratch);
    result
}

async fn plugin_command_in(scratch: &Path, command: PluginCommand) -> anyhow::Result<ExitCode> {
    let scratch = scratch.to_path_buf();
    match command {
        PluginCommand::New(args) => super::plugin_new::run(args),
        PluginCommand::Dev(args) => super::plugin_dev::run(args, &scratch).await,
        PluginCommand::Grant {
            id,
            grant,
            data_dir,
            config,
        } => grant_command(&id, &grant, &data_dir, config.as_deref()).await,
        PluginCommand::List { config } => {
            let (registry, _) = registry(
                &scratch,
                scratch.join("cache"),
                Config::load(config.as_deref())?,
            )
            .await?;
            registry.boot(None).await?;
            for p in registry.table().plugins.values() {
                println!("{} ({}) {} {}", p.id, p.role.as_str(), p.name, p.version);
                print_routes(&p.routes);
            }
            Ok(ExitCode::SUCCESS)
        }
        PluginCommand::Check {
            file,
            role,
            id,
            config,
        } => {
            let wasm =
                std::fs::read(&file).with_context(|| format!("cannot read {}", file.display()))?;
            let id = id.unwrap_or_else(|| {
                file.file_stem()
                    .and_then(|s| s.to_str())
                    .unwrap_or("plugin")
                    .replace('_', "-")
            });
            let (registry, _) = registry(
                &scratch,
                scratch.join("cache"),
                Config::load(config.as_deref())?,
            )
            .await?;
            let needs = registry.runtime.imported(&wasm).ok();
            let result = registry.install(&id, role.into(), &wasm).await;
            // The routes it serves without authentication, when it got as
            // far as describing them.
            let public: Vec<String> = match &result {
                Ok(p) => p.public_routes(),
                Err(InstallError::NotPublic { needs, .. }) => needs.clone(),
                Err(_) => Vec::new(),
            };
            if let Some(needs) = needs {
                print_needed_grant(&id, role.into(), &needs, &public);
            }
            match result {
                Ok(p) => {
                    println!(
                        "ok: plugin `{}` {} {} ({})",
                        p.id,
                        p.name,
                        p.version,
                        p.role.as_str()
                    );
                    print_routes(&p.routes);
                    for c in &p.collections {
                        println!("  collection {}", crate::store::schema::qualified(&p.id, c));
                    }
                    if p.role == Role::Endpoint {
                        println!("  errors {}", p.envelope.describe());
                    }
                    Ok(ExitCode::SUCCESS)
                }
                Err(e) => {
                    println!("refused: {e}");
                    Ok(ExitCode::FAILURE)
                }
            }
        }
    }
}

/// A plugin's routes, one line each: method, path and scheme.
fn print_routes(routes: &[crate::registry::RouteInfo]) {
    for r in routes {
        println!(
            "  {} {} [{}]",
            crate::registry::router::method_name(r.method),
            r.path,
            r.auth.as_str()
        );
    }
}

/// The config entry a component needs: its imports as `grants`, the
/// per-call grants (storage, egress) its capabilities are checked against,
/// and the routes it serves without authentication as `public-routes`.
fn print_needed_grant(
    id: &str,
    role: Role,
    needs: &[crate::runtime::Capability],
    public: &[String],
) {
    use crate::runtime::Capability as C;
    let names: Vec<String> = needs
        .iter()
        .map(|c| format!("\"{}\"", c.interface()))
        .collect();
    println!("grant this component needs (config.toml):");
    println!("  [plugins.{id}]");
    println!("  role = \"{}\"", role.as_str());
    println!("  grants = [{}]", names.join(", "));
    if needs.contains(&C::Inventory) {
        println!(
            "  read = []      # collections it reads; every call outside read/write is denied"
        );
        println!("  write = []     # collections it writes (and reads)");
        println!("  secrets = []   # secret fields it sets, as collection.field");
    }
    if needs.contains(&C::Ssh) {
        println!(
            "  ssh-targets = []   # where it may log in (IP, CIDR, :port): explicit targets and devices' addresses"
        );
    }
    if needs.contains(&C::Kubernetes) {
        println!(
            "  kube-targets = []  # API servers it may reach: inline kubeconfigs' and clusters' by id (these also need read = [\"clusters\"])"
        );
    }
    if !public.is_empty() {
        let names: Vec<String> = public.iter().map(|p| format!("\"{p}\"")).collect();
        println!(
            "  public-routes = [{}]   # routes anonymous callers may reach",
            names.join(", ")
        );
    }
}

/// `computehub plugin grant`: validate and persist a grant.
async fn grant_command(
    id: &str,
    grant: &str,
    data_dir: &Path,
    config: Option<&Path>,
) -> anyhow::Result<ExitCode> {
    crate::registry::persist::validate_id(id).map_err(anyhow::Error::msg)?;
    let mut value: serde_json::Value =
        serde_json::from_str(grant).context("the grant must be a JSON object")?;
    if value.get("role").is_none() {
        value["role"] = serde_json::json!("endpoint");
    }
    let entry: crate::config::PluginConfig =
        serde_json::from_value(value).context("the grant is not valid")?;
    let config = Config::load(config)?;
    if config.from_file.contains(id) {
        anyhow::bail!("plugin `{id}` is granted by the config file, which wins; change it there");
    }
    let one = [(id.to_string(), entry.clone())].into_iter().collect();
    config.with_admin_grants(&one).policy_grants()?;
    let store = open_existing_store(data_dir).await?;
    crate::registry::references::check_grant(id, &entry, &store).map_err(anyhow::Error::msg)?;
    crate::registry::persist::save_grant(&store, id, &serde_json::to_string(&entry)?).await?;
    println!("granted plugin `{id}`; in force at the server's next start (or PUT /admin/plugins/{id}/grants now)");
    Ok(ExitCode::SUCCESS)
}

/// A throwaway data dir for commands that load plugins without serving.
fn tempfile_dir() -> anyhow::Result<PathBuf> {
    let dir = std::env::temp_dir().join(format!("computehub-check-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    Ok(dir)
}
