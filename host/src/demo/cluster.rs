//! The demo's Kubernetes cluster: `serve --demo` starts one simulated cluster
//! ([`simcluster`]) inside the server process — a control plane and three
//! workers, the last with eight `RTX5090-32G` GPUs — and makes it the demo
//! organisation's cluster `朝阳区` that the kboss demo seeds: the `clusters`
//! row gets the simulation's kubeconfig (sealed, like every kubeconfig) and
//! its controller device the master's address (`127.0.0.1`, so pcapi calls
//! naming the master by `host` resolve to it). The kubeconfig is also
//! written to `DATA_DIR/demo-kubeconfig.yaml` (mode 0600: it holds the
//! cluster's bearer token) so `kubectl --kubeconfig` works against it.
//!
//! The simulation lives as long as the returned [`DemoCluster`]; the server
//! keeps it until it exits. Every start is a fresh cluster on a new port
//! with a new token; the inventory row is updated to match.

use std::path::{Path, PathBuf};

use simcluster::{ClusterSpec, SimCluster};

use crate::store::{Comparison, Condition, Query, Store, StoreError, Value};

/// The kboss demo's cluster record this simulation backs.
pub const CLUSTER_NAME: &str = "朝阳区";
/// The file under the data dir that receives the kubeconfig.
pub const KUBECONFIG_FILE: &str = "demo-kubeconfig.yaml";
/// The master's address: the controller device's `ip` and the control-plane
/// node's InternalIP (the simulation listens on loopback).
pub const MASTER_ADDRESS: &str = "127.0.0.1";
/// The GPU model of the GPU worker (a model the kboss demo prices).
pub const GPU_MODEL: &str = "RTX5090-32G";

/// Why the demo cluster could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum DemoClusterError {
    #[error("cannot start the simulated cluster: {0}")]
    Start(std::io::Error),
    #[error("cannot write {path}: {source}")]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("the demo organisation has no cluster `{CLUSTER_NAME}` to back")]
    NoCluster,
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// The running demo cluster; dropping it stops the simulation.
#[derive(Debug)]
pub struct DemoCluster {
    sim: SimCluster,
    /// The inventory id of the cluster it backs.
    pub cluster_id: String,
    /// Where its kubeconfig was written.
    pub kubeconfig_path: PathBuf,
}

impl DemoCluster {
    /// The simulation's API server address.
    pub fn addr(&self) -> std::net::SocketAddr {
        self.sim.addr()
    }

    /// The simulation itself, for areas that seed objects into it.
    pub fn sim(&self) -> &SimCluster {
        &self.sim
    }
}

/// The demo topology: `master-1` (16 cpu, 64Gi) at [`MASTER_ADDRESS`],
/// `worker-1` and `worker-2` (16 cpu, 64Gi), `worker-3` (64 cpu, 512Gi,
/// 8 GPUs of [`GPU_MODEL`]).
pub fn spec() -> ClusterSpec {
    let mut spec = ClusterSpec::demo("computehub-demo", 3, 8, GPU_MODEL);
    if let Some(master) = spec.nodes.first_mut() {
        master.cpu = "16".into();
        master.memory = "64Gi".into();
        master.internal_ip = Some(MASTER_ADDRESS.into());
    }
    spec
}

fn text(s: &str) -> Value {
    Value::Text(s.to_string())
}

/// Start the simulation and register it as `org`'s cluster [`CLUSTER_NAME`]
/// (seeded by the kboss demo before this runs).
pub async fn start(
    store: &Store,
    org: &str,
    data_dir: &Path,
) -> Result<DemoCluster, DemoClusterError> {
    let q = Query {
        conditions: vec![Condition {
            field: "name".into(),
            op: Comparison::Eq,
            value: text(CLUSTER_NAME),
        }],
        limit: Some(1),
        ..Default::default()
    };
    let row = store
        .query(org, "clusters", &q)
        .await?
        .rows
        .into_iter()
        .next()
        .ok_or(DemoClusterError::NoCluster)?;
    let controller = row.fields.iter().find_map(|(k, v)| match (k.as_str(), v) {
        ("controllerid", Value::Text(id)) => Some(id.clone()),
        _ => None,
    });
    let sim = SimCluster::start(spec()).map_err(DemoClusterError::Start)?;
    // Some load, so the boards show usage from the metrics API.
    sim.set_node_usage("master-1", "1200m", "6Gi");
    sim.set_node_usage("worker-1", "2500m", "12Gi");
    sim.set_node_usage("worker-2", "800m", "5Gi");
    sim.set_node_usage("worker-3", "9", "96Gi");
    let kubeconfig = sim.kubeconfig_yaml();
    let path = data_dir.join(KUBECONFIG_FILE);
    write_private(&path, &kubeconfig).map_err(|source| DemoClusterError::Write {
        path: path.clone(),
        source,
    })?;
    store
        .update(
            org,
            "clusters",
            &row.id,
            &[
                ("kubeconfig".to_string(), Value::Secret(kubeconfig)),
                ("ready".to_string(), Value::Integer(1)),
            ],
        )
        .await?;
    if let Some(device) = controller {
        store
            .update(
                org,
                "devices",
                &device,
                &[("ip".to_string(), text(MASTER_ADDRESS))],
            )
            .await?;
    }
    tracing::info!(addr = %sim.addr(), cluster = %row.id, "demo cluster started");
    Ok(DemoCluster {
        sim,
        cluster_id: row.id,
        kubeconfig_path: path,
    })
}

/// Write `contents` readable by the owner only.
fn write_private(path: &Path, contents: &str) -> std::io::Result<()> {
    use std::io::Write;
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    let mut f = opts.open(path)?;
    f.write_all(contents.as_bytes())?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        f.set_permissions(std::fs::Permissions::from_mode(0o600))?;
    }
    Ok(())
}

/// Print how to reach the cluster (kubectl, pcapi, kboss).
pub fn print_tour(cluster: &DemoCluster, base_url: &str, basic_key: &str) {
    let kc = cluster.kubeconfig_path.display();
    println!(
        "demo cluster `{CLUSTER_NAME}` (id {}): simulated Kubernetes API at {} (master-1, worker-1..3; worker-3 has 8 {GPU_MODEL})",
        cluster.cluster_id,
        cluster.addr()
    );
    println!("  kubectl --kubeconfig {kc} get nodes");
    println!(
        "  kboss buy-page check (CPCID from the kboss lines): curl -G -H \"Authorization: Bearer $KEY\" '{base_url}/dev/cpcc/cpcbuy/determine_accommodat.dspy' --data-urlencode cpcid=$CPCID --data-urlencode clusterid={} --data-urlencode kyylabels= --data-urlencode 'resources=[{{\"id\":\"gpu\",\"gpu\":2,\"gpu_model\":\"{GPU_MODEL}\"}},{{\"id\":\"huge\",\"cpu\":\"512\"}}]'",
        cluster.cluster_id
    );
    println!("pcapi basic key (user:password):");
    println!("{basic_key}");
    println!(
        "  curl -u \"$BASIC\" '{base_url}/pcapi/api/v1/cluster/common/get_cluster_nodes?host={MASTER_ADDRESS}&port=22&user=root'"
    );
}
