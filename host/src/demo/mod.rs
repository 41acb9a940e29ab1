//! `serve --demo`: seed an organisation and print the credentials and the
//! first calls a newcomer needs for the five-minute tour. Each area seeds
//! its own records ([`kboss`]; Alaya and IEF on the demo cluster: [`edge`]);
//! seeding is idempotent, so restarting with `--demo` only prints a fresh
//! key. The demo's Kubernetes cluster is a
//! simulation started in the server process ([`cluster`]). Last come the
//! values the README's tour uses, as `export NAME='value'` lines to paste
//! into a shell.

pub mod cluster;
pub mod edge;
pub mod kboss;

use std::path::Path;

use crate::auth::{self, Scheme};
use crate::store::Store;

pub const DEMO_ORG: &str = "demo";

/// The built-in plugins that reach the demo's cluster (by id, or pcapi by
/// an inline kubeconfig).
pub const CLUSTER_USERS: [&str; 4] = ["kboss", "pcapi", "alaya", "ief"];

/// What the demo keeps running; the server holds it until it exits.
#[derive(Debug)]
pub struct Demo {
    /// The simulated cluster behind the demo organisation's cluster.
    pub cluster: cluster::DemoCluster,
}

/// Seed the demo organisation and start its cluster; `base_url` is where
/// the server listens, `data_dir` receives the cluster's kubeconfig,
/// `admin_token` is the admin token when this start generated it.
pub async fn seed(
    store: &Store,
    base_url: &str,
    data_dir: &Path,
    admin_token: Option<&str>,
) -> anyhow::Result<Demo> {
    store.ensure_organisation(DEMO_ORG).await?;
    // A restart prints new credentials (only hashes of the old ones are
    // kept): the ones an earlier start printed are revoked, so the demo
    // organisation's keys do not pile up.
    let mut revoked = 0;
    for k in auth::list_keys(store, Some(DEMO_ORG)).await? {
        if k.revoked_at.is_none() && auth::revoke_key(store, &k.id).await? {
            revoked += 1;
        }
    }
    if revoked > 0 {
        println!("demo: revoked the {revoked} keys an earlier start printed; new ones follow");
    }
    let bearer = auth::create_key(store, DEMO_ORG, Scheme::Bearer).await?;
    println!("demo organisation `{DEMO_ORG}`; bearer API key:");
    println!("{}", bearer.credential);
    let cpcid = kboss::seed(store, DEMO_ORG, base_url).await?;
    let running = cluster::start(store, DEMO_ORG, data_dir).await?;
    let basic = auth::create_key(store, DEMO_ORG, Scheme::Basic).await?;
    cluster::print_tour(&running, base_url, &basic.credential);
    let (token, aksk) = edge::seed(
        store,
        DEMO_ORG,
        running.sim(),
        &running.cluster_id,
        base_url,
    )
    .await?;
    let (ak, sk) = aksk.split_once(' ').unwrap_or((&aksk, ""));
    crate::console::demo_user(store, DEMO_ORG, base_url).await?;
    let mut exports = vec![
        ("KEY", bearer.credential.as_str()),
        ("BASIC", basic.credential.as_str()),
        ("TOKEN", token.as_str()),
        ("AK", ak),
        ("SK", sk),
        ("CPCID", cpcid.as_str()),
        ("CLUSTERID", running.cluster_id.as_str()),
        ("GROUP", edge::GROUP_ID),
    ];
    if let Some(admin) = admin_token {
        exports.insert(0, ("ADMIN", admin));
    }
    println!("paste into the shell you run the tour's calls in:");
    for line in export_lines(&exports) {
        println!("{line}");
    }
    if admin_token.is_none() {
        println!("# ADMIN: the admin token an earlier start printed, or a new one from `computehub admin rotate-token --data-dir {}`", data_dir.display());
    }
    Ok(Demo { cluster: running })
}

/// `export NAME='value'` lines, each value single-quoted for any POSIX shell.
fn export_lines(values: &[(&str, &str)]) -> Vec<String> {
    values
        .iter()
        .map(|(name, value)| format!("export {name}='{}'", value.replace('\'', r"'\''")))
        .collect()
}

#[cfg(test)]
mod tests {
    #[test]
    fn exports_are_single_quoted() {
        assert_eq!(
            super::export_lines(&[("KEY", "chk.a.b"), ("Q", "it's")]),
            vec!["export KEY='chk.a.b'", r"export Q='it'\''s'"]
        );
    }
}
