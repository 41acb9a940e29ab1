//! `serve --demo`: seed an organisation and print the credentials and the
//! first calls a newcomer needs for the five-minute tour. Each area seeds
//! its own records ([`kboss`]; Alaya and IEF on the demo cluster: [`edge`]);
//! seeding is idempotent, so restarting with `--demo` only prints a fresh
//! key. The demo's Kubernetes cluster is a
//! simulation started in the server process ([`cluster`]).

pub mod cluster;
pub mod edge;
pub mod kboss;

use std::path::Path;

use crate::auth::{self, Scheme};
use crate::store::Store;

pub const DEMO_ORG: &str = "demo";

/// What the demo keeps running; the server holds it until it exits.
#[derive(Debug)]
pub struct Demo {
    /// The simulated cluster behind the demo organisation's cluster.
    pub cluster: cluster::DemoCluster,
}

/// Seed the demo organisation and start its cluster; `base_url` is where
/// the server listens, `data_dir` receives the cluster's kubeconfig.
pub fn seed(store: &Store, base_url: &str, data_dir: &Path) -> anyhow::Result<Demo> {
    store.ensure_organisation(DEMO_ORG)?;
    // A restart prints new credentials (only hashes of the old ones are
    // kept): the ones an earlier start printed are revoked, so the demo
    // organisation's keys do not pile up.
    let mut revoked = 0;
    for k in auth::list_keys(store, Some(DEMO_ORG))? {
        if k.revoked_at.is_none() && auth::revoke_key(store, &k.id)? {
            revoked += 1;
        }
    }
    if revoked > 0 {
        println!("demo: revoked the {revoked} keys an earlier start printed; new ones follow");
    }
    let bearer = auth::create_key(store, DEMO_ORG, Scheme::Bearer)?;
    println!("demo organisation `{DEMO_ORG}`; bearer API key:");
    println!("{}", bearer.credential);
    kboss::seed(store, DEMO_ORG, base_url)?;
    let running = cluster::start(store, DEMO_ORG, data_dir)?;
    let basic = auth::create_key(store, DEMO_ORG, Scheme::Basic)?;
    cluster::print_tour(&running, base_url, &basic.credential);
    edge::seed(
        store,
        DEMO_ORG,
        running.sim(),
        &running.cluster_id,
        base_url,
    )?;
    Ok(Demo { cluster: running })
}
