//! The local half of a `plugin dev` round: the checks of `computehub plugin
//! check` on a scratch registry under the grant the server holds for the id
//! (and `--config`), and what to grant when they, or the server, refuse.

use std::collections::BTreeSet;

use anyhow::{bail, Context};
use serde_json::Value;

use super::Dev;
use crate::config::{Config, PluginConfig};

/// The checks of `computehub plugin check`, under the grant the server holds
/// for the id (and `--config`); answers the component's imports.
pub(super) async fn check(
    dev: &Dev,
    wasm: &[u8],
    server_grant: Option<Value>,
) -> anyhow::Result<BTreeSet<String>> {
    let key = server_grant
        .as_ref()
        .map(|g| g.to_string())
        .unwrap_or_default();
    let mut checker = dev.checker.lock().await;
    if checker.as_ref().is_none_or(|(k, _)| *k != key) {
        *checker = Some((key.clone(), check_registry(dev, server_grant).await?));
    }
    let Some((_, registry)) = checker.as_ref() else {
        bail!("no check registry");
    };
    let imports: BTreeSet<String> = registry
        .runtime
        .imported(wasm)
        .context("the component does not compile")?
        .into_iter()
        .map(|c| c.interface().to_string())
        .collect();
    if let Err(e) = registry.install(&dev.id, dev.role, wasm).await {
        let mut msg = format!("the check refused it: {e}");
        let mut needs = serde_json::json!({ "grants": imports });
        if let crate::registry::InstallError::NotPublic { needs: public, .. } = &e {
            needs["public-routes"] = serde_json::json!(public);
        }
        if !imports.is_empty() || needs.get("public-routes").is_some() {
            msg.push_str(&grant_hint(dev, &needs));
        }
        bail!(msg);
    }
    Ok(imports)
}

/// How to give the grant `needs` names (`grants`, and `public-routes` when
/// the component serves routes without authentication): the admin call.
pub(super) fn grant_hint(dev: &Dev, needs: &Value) -> String {
    let mut grant =
        serde_json::json!({ "grants": needs.get("grants").cloned().unwrap_or_default() });
    if let Some(public) = needs.get("public-routes") {
        grant["public-routes"] = public.clone();
    }
    format!(
        "\n  it needs the grant {grant}: PUT {}/admin/plugins/{}/grants {grant}",
        dev.server, dev.id
    )
}

/// A scratch registry whose config is `--config` with the server's grant for
/// the id applied.
async fn check_registry(
    dev: &Dev,
    server_grant: Option<Value>,
) -> anyhow::Result<crate::registry::Registry> {
    let mut config = Config::load(dev.config.as_deref())?;
    if let Some(mut grant) = server_grant {
        if grant.get("role").is_none() {
            grant["role"] = Value::String(dev.role.as_str().into());
        }
        if let Ok(entry) = serde_json::from_value::<PluginConfig>(grant) {
            let one = [(dev.id.clone(), entry)].into_iter().collect();
            config = config.with_admin_grants(&one);
        }
    }
    let data = dev.scratch.join("dev-check");
    let _ = std::fs::remove_dir_all(&data);
    let (registry, _) = crate::cli::registry(&data, dev.scratch.join("cache"), config).await?;
    Ok(registry)
}
