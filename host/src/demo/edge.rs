//! The Alaya and IEF demo on the demo cluster ([`super::cluster`]):
//!
//! - Alaya: training task [`TASK`] of the demo organisation, its pods
//!   `demo-train-001-master-0` (Guaranteed) and `demo-train-001-worker-0`
//!   (Burstable) running in namespace [`TASK_NAMESPACE`], and one system port
//!   (22, SSH) opened by the platform on the master;
//! - IEF: project [`PROJECT`] mapped to the demo cluster, `worker-1` and
//!   `worker-2` its edge nodes in one node group, an X-Auth-Token and an
//!   AK/SK pair bound to the project.
//!
//! The simulation is new at every start, so its objects are created every
//! time; the inventory records are written once and re-pointed at the
//! cluster.

use serde_json::json;
use simcluster::SimCluster;

use crate::auth::{self, Scheme};
use crate::store::{Comparison, Condition, Query, Store, StoreError, Value};

/// The Alaya demo task.
pub const TASK: &str = "demo-train-001";
pub const TASK_NAMESPACE: &str = "usr-demo";
pub const MASTER_POD: &str = "demo-train-001-master-0";
pub const WORKER_POD: &str = "demo-train-001-worker-0";
/// The IEF demo project.
pub const PROJECT: &str = "5e1f0c3f4ac94a0c9a6a9b1e6e2f7d10";
pub const GROUP_ID: &str = "7b0d4c52-3f6a-4c1e-9d2b-5a8e1f3c6d90";
/// (node, edge node id) of the group's two edge nodes.
pub const EDGE_NODES: [(&str, &str); 2] = [
    ("worker-1", "2c9f6e1a-8b3d-4f7e-a1c5-0d4b7e9f2a61"),
    ("worker-2", "9a4e2d7b-1c6f-4b8a-b3e5-7f0c2d9a4e18"),
];
const TASK_LABEL: &str = "computehub.io/training-instance";
const SYSTEM_SERVICE: &str = "alaya-system-ssh-demo-train-001-master-0";

/// Why the edge demo could not be seeded.
#[derive(Debug, thiserror::Error)]
pub enum EdgeDemoError {
    #[error("the demo cluster refused {what}: {message}")]
    Cluster { what: String, message: String },
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Import(#[from] crate::clusters::ImportError),
}

fn text(s: &str) -> Value {
    Value::Text(s.to_string())
}

fn fields(pairs: Vec<(&str, Value)>) -> Vec<(String, Value)> {
    pairs.into_iter().map(|(k, v)| (k.to_string(), v)).collect()
}

fn create(sim: &SimCluster, what: &str, obj: serde_json::Value) -> Result<(), EdgeDemoError> {
    sim.create(obj)
        .map(|_| ())
        .map_err(|e| EdgeDemoError::Cluster {
            what: what.to_string(),
            message: e.to_string(),
        })
}

fn pod(name: &str, role: &str, resources: serde_json::Value) -> serde_json::Value {
    json!({
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": name, "namespace": TASK_NAMESPACE,
            "labels": {TASK_LABEL: TASK, "computehub.io/training-role": role}},
        "spec": {"containers": [{"name": "trainer", "image": "pytorch/pytorch:2.3.0-cuda12.1-cudnn8-runtime",
            "command": ["sleep", "infinity"], "resources": resources}]}
    })
}

async fn one(
    store: &Store,
    org: &str,
    collection: &str,
    field: &str,
    value: &str,
) -> Result<Option<String>, StoreError> {
    let q = Query {
        conditions: vec![Condition {
            field: field.into(),
            op: Comparison::Eq,
            value: text(value),
        }],
        limit: Some(1),
        ..Default::default()
    };
    Ok(store
        .query(org, collection, &q)
        .await?
        .rows
        .into_iter()
        .next()
        .map(|r| r.id))
}

/// The Alaya task: its pods, its system port, its records.
async fn seed_alaya(
    store: &Store,
    org: &str,
    sim: &SimCluster,
    cluster_id: &str,
) -> Result<(), EdgeDemoError> {
    create(
        sim,
        "the task namespace",
        json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": TASK_NAMESPACE}}),
    )?;
    create(
        sim,
        "the master pod",
        pod(
            MASTER_POD,
            "master",
            json!({"requests": {"cpu": "4", "memory": "16Gi"}, "limits": {"cpu": "4", "memory": "16Gi"}}),
        ),
    )?;
    create(
        sim,
        "the worker pod",
        pod(
            WORKER_POD,
            "worker",
            json!({"requests": {"cpu": "2", "memory": "8Gi"}}),
        ),
    )?;
    create(
        sim,
        "the system port's service",
        json!({
            "apiVersion": "v1", "kind": "Service",
            "metadata": {"name": SYSTEM_SERVICE, "namespace": TASK_NAMESPACE,
                "labels": {TASK_LABEL: TASK, "alaya.computehub.io/port-source": "system"}},
            "spec": {"type": "NodePort",
                "selector": {TASK_LABEL: TASK, "computehub.io/training-role": "master"},
                "ports": [{"name": "ssh", "protocol": "TCP", "port": 22, "targetPort": 22}]}
        }),
    )?;
    let instance = match one(store, org, "training_instances", "task_id", TASK).await? {
        Some(id) => {
            store
                .update(
                    org,
                    "training_instances",
                    &id,
                    &fields(vec![("clusterid", text(cluster_id))]),
                )
                .await?;
            id
        }
        None => {
            store
                .insert(
                    org,
                    "training_instances",
                    &fields(vec![
                        ("task_id", text(TASK)),
                        ("name", text("llama3-8b-sft")),
                        ("clusterid", text(cluster_id)),
                        ("namespace", text(TASK_NAMESPACE)),
                        ("created_by", text("demo")),
                    ]),
                )
                .await?
                .id
        }
    };
    let q = Query {
        conditions: vec![Condition {
            field: "instance_id".into(),
            op: Comparison::Eq,
            value: text(&instance),
        }],
        ..Default::default()
    };
    // The simulation is new: custom ports of an earlier run are gone with it.
    for row in store.query(org, "training_ports", &q).await?.rows {
        store.delete(org, "training_ports", &row.id).await?;
    }
    store
        .insert(
            org,
            "training_ports",
            &fields(vec![
                ("instance_id", text(&instance)),
                ("pod_name", text(MASTER_POD)),
                ("source", text("system")),
                ("port", Value::Integer(22)),
                ("service_name", text(SYSTEM_SERVICE)),
            ]),
        )
        .await?;
    Ok(())
}

/// The IEF project and its edge nodes; answers (X-Auth-Token, `AK SK`).
async fn seed_ief(
    store: &Store,
    org: &str,
    sim: &SimCluster,
    cluster_id: &str,
) -> Result<(String, String), EdgeDemoError> {
    crate::clusters::map_ief_project(store, org, PROJECT, cluster_id).await?;
    // Deployments of an earlier run went with its simulation.
    if let Some(project) = one(store, org, "ief_projects", "project_id", PROJECT).await? {
        let q = Query {
            conditions: vec![Condition {
                field: "project".into(),
                op: Comparison::Eq,
                value: text(&project),
            }],
            ..Default::default()
        };
        for row in store.query(org, "ief_deployments", &q).await?.rows {
            store.delete(org, "ief_deployments", &row.id).await?;
        }
    }
    for (node, id) in EDGE_NODES {
        sim.patch_merge(
            "v1",
            "Node",
            None,
            node,
            &json!({"metadata": {"labels": {"ief.computehub.io/node-id": id, "ief.computehub.io/group-id": GROUP_ID}}}),
        )
        .map_err(|e| EdgeDemoError::Cluster {
            what: format!("labels on {node}"),
            message: e.to_string(),
        })?;
    }
    let token = auth::create_project_key(store, org, Scheme::XAuthToken, Some(PROJECT)).await?;
    let aksk = auth::create_project_key(store, org, Scheme::Aksk, Some(PROJECT)).await?;
    Ok((token.credential, aksk.credential))
}

/// Seed both areas on the running demo cluster and print how to call them;
/// the IEF X-Auth-Token and the AK/SK pair (`AK SK`).
pub async fn seed(
    store: &Store,
    org: &str,
    sim: &SimCluster,
    cluster_id: &str,
    base_url: &str,
) -> Result<(String, String), EdgeDemoError> {
    seed_alaya(store, org, sim, cluster_id).await?;
    let (token, aksk) = seed_ief(store, org, sim, cluster_id).await?;
    println!("Alaya: training task `{TASK}` with pods {MASTER_POD} and {WORKER_POD} (system port 22 on the master); use the bearer key above:");
    println!("  curl -H \"Authorization: Bearer $KEY\" {base_url}/v1/training/instance/{TASK}/{MASTER_POD}/basic");
    println!("  curl -H \"Authorization: Bearer $KEY\" {base_url}/v1/training/instance/{TASK}/{MASTER_POD}/open-port/list");
    println!(
        "IEF: project {PROJECT}; node group {GROUP_ID}; edge nodes {} ({}) and {} ({})",
        EDGE_NODES[0].1, EDGE_NODES[0].0, EDGE_NODES[1].1, EDGE_NODES[1].0
    );
    println!("  curl -H \"X-Auth-Token: $TOKEN\" '{base_url}/v3/{PROJECT}/edgemgr/pods?group_id={GROUP_ID}'");
    println!("IEF AK/SK (AK SK), for Huawei's SDKs with endpoint {base_url}:");
    println!("{aksk}");
    println!("IEF X-Auth-Token:");
    println!("{token}");
    Ok((token, aksk))
}
