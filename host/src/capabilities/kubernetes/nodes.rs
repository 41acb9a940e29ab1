//! Node operations with kube-rs, with kubectl's semantics: label/unlabel, cordon/uncordon,
//! drain (Eviction API, DaemonSet and mirror pods skipped, 429 retried, wait
//! until the evicted pods are gone, one overall deadline), and capacity
//! (allocatable, requests of non-terminal pods, usage from the metrics API).

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use k8s_openapi::api::core::v1::{Node, Pod};
use kube::api::{Api, EvictParams, ListParams, Patch, PatchParams};
use kubefmt::Quantity;
use serde_json::json;

use super::backend::{DrainReport, NodeCapacity};
use super::kube_rs::KubeCluster as Cluster;
use super::KubeError;

/// How often drain retries a PDB-blocked eviction and polls for deletion.
const DRAIN_POLL: Duration = Duration::from_millis(500);

pub async fn label(
    cluster: &Cluster,
    node: &str,
    set: &[(String, String)],
    remove: &[String],
) -> Result<(), KubeError> {
    let mut labels = serde_json::Map::new();
    for (k, v) in set {
        labels.insert(k.clone(), json!(v));
    }
    for k in remove {
        labels.insert(k.clone(), serde_json::Value::Null);
    }
    let api: Api<Node> = Api::all(cluster.client.clone());
    api.patch(
        node,
        &PatchParams::default(),
        &Patch::Merge(json!({"metadata": {"labels": labels}})),
    )
    .await?;
    Ok(())
}

pub async fn cordon(cluster: &Cluster, node: &str, unschedulable: bool) -> Result<(), KubeError> {
    let api: Api<Node> = Api::all(cluster.client.clone());
    api.patch(
        node,
        &PatchParams::default(),
        &Patch::Merge(json!({"spec": {"unschedulable": unschedulable}})),
    )
    .await?;
    Ok(())
}

fn pod_key(p: &Pod) -> String {
    format!(
        "{}/{}",
        p.metadata.namespace.as_deref().unwrap_or("default"),
        p.metadata.name.as_deref().unwrap_or("")
    )
}

fn skip_reason(p: &Pod) -> Option<&'static str> {
    if p.metadata
        .annotations
        .as_ref()
        .is_some_and(|a| a.contains_key("kubernetes.io/config.mirror"))
    {
        return Some("mirror pod");
    }
    if p.metadata.owner_references.as_ref().is_some_and(|o| {
        o.iter()
            .any(|r| r.kind == "DaemonSet" && r.controller == Some(true))
    }) {
        return Some("DaemonSet pod");
    }
    let phase = p.status.as_ref().and_then(|s| s.phase.as_deref());
    if matches!(phase, Some("Succeeded" | "Failed")) {
        return Some("finished pod");
    }
    None
}

/// Cordon, evict every evictable pod, and wait until they are gone.
pub async fn drain(
    cluster: &Cluster,
    node: &str,
    timeout: Duration,
) -> Result<DrainReport, KubeError> {
    let deadline = Instant::now() + timeout;
    cordon(cluster, node, true).await?;
    let pods: Api<Pod> = Api::all(cluster.client.clone());
    let on_node = pods
        .list(&ListParams::default().fields(&format!("spec.nodeName={node}")))
        .await?;
    let mut report = DrainReport {
        evicted: Vec::new(),
        skipped: Vec::new(),
    };
    let mut pending = Vec::new();
    for p in on_node.items {
        match skip_reason(&p) {
            Some(_) => report.skipped.push(pod_key(&p)),
            None => pending.push(p),
        }
    }
    // Evict, retrying the ones a disruption budget refuses (429).
    let mut waiting: Vec<(String, String, Option<String>)> = Vec::new();
    while !pending.is_empty() {
        let mut blocked = Vec::new();
        for p in pending {
            let ns = p
                .metadata
                .namespace
                .clone()
                .unwrap_or_else(|| "default".into());
            let name = p.metadata.name.clone().unwrap_or_default();
            let api: Api<Pod> = Api::namespaced(cluster.client.clone(), &ns);
            match api.evict(&name, &EvictParams::default()).await {
                Ok(_) => waiting.push((ns, name, p.metadata.uid.clone())),
                Err(kube::Error::Api(e)) if e.code == 429 => blocked.push(p),
                Err(kube::Error::Api(e)) if e.code == 404 => {}
                Err(e) => return Err(e.into()),
            }
        }
        if blocked.is_empty() {
            break;
        }
        if Instant::now() >= deadline {
            let names: Vec<_> = blocked.iter().map(pod_key).collect();
            return Err(KubeError::Timeout(format!(
                "drain of `{node}` timed out: disruption budgets still block {}",
                names.join(", ")
            )));
        }
        tokio::time::sleep(DRAIN_POLL).await;
        pending = blocked;
    }
    // Wait until each evicted pod is gone (or replaced under a new uid).
    for (ns, name, uid) in waiting {
        let api: Api<Pod> = Api::namespaced(cluster.client.clone(), &ns);
        loop {
            match api.get_opt(&name).await? {
                None => break,
                Some(p) if p.metadata.uid != uid => break,
                Some(_) if Instant::now() >= deadline => {
                    return Err(KubeError::Timeout(format!(
                        "drain of `{node}` timed out waiting for {ns}/{name} to go"
                    )))
                }
                Some(_) => tokio::time::sleep(DRAIN_POLL).await,
            }
        }
        report.evicted.push(format!("{ns}/{name}"));
    }
    Ok(report)
}

/// A request's exact value (`1Ki` = 1024, `250m` = 0.25).
fn parse(q: &str) -> Result<Quantity, KubeError> {
    Quantity::parse(q).map_err(|e| KubeError::Invalid(e.to_string()))
}

/// Sum of a pod's effective requests: max(sum of containers, largest init container).
fn pod_requests(p: &Pod, into: &mut BTreeMap<String, Quantity>) -> Result<(), KubeError> {
    let Some(spec) = &p.spec else { return Ok(()) };
    let mut sum: BTreeMap<String, Quantity> = BTreeMap::new();
    for c in &spec.containers {
        for (k, q) in c
            .resources
            .as_ref()
            .and_then(|r| r.requests.as_ref())
            .into_iter()
            .flatten()
        {
            *sum.entry(k.clone()).or_default() += parse(&q.0)?;
        }
    }
    for c in spec.init_containers.iter().flatten() {
        for (k, q) in c
            .resources
            .as_ref()
            .and_then(|r| r.requests.as_ref())
            .into_iter()
            .flatten()
        {
            let v = parse(&q.0)?;
            let e = sum.entry(k.clone()).or_default();
            if v > *e {
                *e = v;
            }
        }
    }
    *sum.entry("pods".into()).or_default() += Quantity::from_units(1);
    for (k, v) in sum {
        *into.entry(k).or_default() += v;
    }
    Ok(())
}

pub async fn capacity(cluster: &Cluster) -> Result<Vec<NodeCapacity>, KubeError> {
    let nodes: Api<Node> = Api::all(cluster.client.clone());
    let pods: Api<Pod> = Api::all(cluster.client.clone());
    let node_list = nodes.list(&ListParams::default()).await?;
    let pod_list = pods
        .list(&ListParams::default().fields("status.phase!=Succeeded,status.phase!=Failed"))
        .await?;
    let mut requested: BTreeMap<String, BTreeMap<String, Quantity>> = BTreeMap::new();
    for p in &pod_list.items {
        let phase = p.status.as_ref().and_then(|s| s.phase.as_deref());
        if matches!(phase, Some("Succeeded" | "Failed")) {
            continue;
        }
        if let Some(node) = p.spec.as_ref().and_then(|s| s.node_name.clone()) {
            pod_requests(p, requested.entry(node).or_default())?;
        }
    }
    let usage = node_usage(cluster).await;
    Ok(node_list
        .items
        .into_iter()
        .map(|n| {
            let name = n.metadata.name.clone().unwrap_or_default();
            NodeCapacity {
                allocatable: n
                    .status
                    .as_ref()
                    .and_then(|s| s.allocatable.clone())
                    .unwrap_or_default()
                    .into_iter()
                    .map(|(k, q)| (k, q.0))
                    .collect(),
                requested: requested
                    .get(&name)
                    .map(|m| m.iter().map(|(k, v)| (k.clone(), v.plain())).collect())
                    .unwrap_or_default(),
                usage: usage.get(&name).cloned().unwrap_or_default(),
                labels: n
                    .metadata
                    .labels
                    .clone()
                    .unwrap_or_default()
                    .into_iter()
                    .collect(),
                unschedulable: n
                    .spec
                    .as_ref()
                    .and_then(|s| s.unschedulable)
                    .unwrap_or(false),
                taints: serde_json::to_value(
                    n.spec
                        .as_ref()
                        .and_then(|s| s.taints.clone())
                        .unwrap_or_default(),
                )
                .unwrap_or_default(),
                name,
            }
        })
        .collect())
}

/// Usage from metrics.k8s.io; empty when the cluster has no metrics server.
async fn node_usage(cluster: &Cluster) -> BTreeMap<String, BTreeMap<String, String>> {
    let req = match http::Request::get("/apis/metrics.k8s.io/v1beta1/nodes").body(Vec::new()) {
        Ok(r) => r,
        Err(_) => return BTreeMap::new(),
    };
    let Ok(v) = cluster.client.request::<serde_json::Value>(req).await else {
        return BTreeMap::new();
    };
    let mut out = BTreeMap::new();
    for item in v["items"].as_array().into_iter().flatten() {
        let Some(name) = item.pointer("/metadata/name").and_then(|n| n.as_str()) else {
            continue;
        };
        let usage = item["usage"]
            .as_object()
            .map(|m| {
                m.iter()
                    .filter_map(|(k, q)| Some((k.clone(), q.as_str()?.to_string())))
                    .collect()
            })
            .unwrap_or_default();
        out.insert(name.to_string(), usage);
    }
    out
}
