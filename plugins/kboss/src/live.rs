//! kboss's live view of a cluster, read through the `kubernetes` capability
//! by cluster id (the host opens the sealed kubeconfig; this plugin never
//! sees it): `cpcworker/get_cpcworker` (members with usage from the metrics
//! API and what is still available), `cpcpod/get_cpcpod` (pods with usage,
//! limits and kubectl's values) and `cpclabel/setup_cpclabel` (bind or
//! unbind one of the organisation's stored labels on a node).

use std::collections::HashMap;

use computehub_sdk::boards::{self, Board};
use computehub_sdk::envelope::kboss;
use computehub_sdk::fields::{parse_kept, At, Keep};
use computehub_sdk::inventory::RowQuery;
use computehub_sdk::kubectl;
use computehub_sdk::kubernetes::{self, Cluster, Selector};
use computehub_sdk::names::{self, label_key_ok, label_value_ok};
use computehub_sdk::quantity;
use computehub_sdk::{ApiError, Params, Request, Response};
use serde_json::{json, Map, Value as Json};

use crate::common::*;

/// The caller's cluster named by `clusterid` of center `cpcid`, as the
/// capability names it.
pub fn target(p: &Params) -> Result<(String, String, Cluster), ApiError> {
    let cpcid = required_as(p, "cpcid", "无算力中心ID")?.to_owned();
    let clusterid = required_as(p, "clusterid", "无算力集群ID")?.to_owned();
    center(&cpcid)?;
    let row = cluster_of(&cpcid, "clusterid", &clusterid)?;
    Ok((cpcid, clusterid, installed(&row)?))
}

/// The listed objects, parsed (nodes: a small list; the pod
/// board reads pods and their metrics a page at a time).
fn objects(items: Vec<String>) -> Result<Vec<Json>, ApiError> {
    items
        .iter()
        .map(|s| {
            serde_json::from_str(s).map_err(|e| {
                ApiError::BadGateway(format!("the cluster answered an invalid object: {e}"))
            })
        })
        .collect()
}

fn everything() -> Selector {
    Selector {
        namespace: None,
        label_selector: None,
        field_selector: None,
    }
}

fn name_of(v: &Json) -> &str {
    v.at("/metadata/name").and_then(Json::as_str).unwrap_or("")
}

/// Cores with two decimals: `3.15核`.
fn cores(milli: i128) -> String {
    format!("{:.2}核", milli.max(0) as f64 / 1000.0)
}

/// Bytes in Gi with two decimals: `15.30Gi`.
fn gibibytes(bytes: i128) -> String {
    format!("{:.2}Gi", bytes.max(0) as f64 / f64::from(1u32 << 30))
}

fn percent(part: i128, whole: i128) -> String {
    if whole <= 0 {
        return "0%".into();
    }
    format!("{:.1}%", part.max(0) as f64 * 100.0 / whole as f64)
}

/// A quantity of a capacity map (JSON object of resource -> quantity).
fn amount(map: &Json, resource: &str, milli: bool) -> i128 {
    let Some(q) = map.get(resource).and_then(Json::as_str) else {
        return 0;
    };
    let v = if milli {
        quantity::millicores(q)
    } else {
        quantity::units(q)
    };
    v.map_or(0, i128::from)
}

/// The STATUS column in the document's words.
fn status_text(node: &Json) -> String {
    kubectl::node_status(node)
        .split(',')
        .map(|s| match s {
            "Ready" => "已就绪",
            "NotReady" => "未就绪",
            "SchedulingDisabled" => "禁止调度",
            _ => "未知",
        })
        .collect::<Vec<_>>()
        .join(",")
}

fn role_text(node: &Json) -> &'static str {
    let roles = kubectl::node_roles(node);
    if roles
        .split(',')
        .any(|r| r == "control-plane" || r == "master")
    {
        "控制节点"
    } else {
        "工作节点"
    }
}

/// Labels people set (system prefixes such as `kubernetes.io/` left out).
fn user_labels(node: &Json) -> Vec<String> {
    let system = |k: &str| {
        k.split_once('/').is_some_and(|(prefix, _)| {
            prefix.ends_with("kubernetes.io") || prefix.ends_with("k8s.io")
        })
    };
    node.at("/metadata/labels")
        .and_then(Json::as_object)
        .into_iter()
        .flatten()
        .filter(|(k, _)| !system(k))
        .map(|(k, v)| format!("{k}={}", v.as_str().unwrap_or("")))
        .collect()
}

fn or_unassigned(v: Option<&str>) -> String {
    v.filter(|s| !s.is_empty()).unwrap_or("未分配").to_owned()
}

fn worker_row(node: &Json, cap: Option<&kubernetes::NodeCapacity>) -> Json {
    let s = |ptr: &str| node.at(ptr).and_then(Json::as_str);
    let parse = |t: Option<&String>| {
        t.and_then(|t| serde_json::from_str::<Json>(t).ok())
            .unwrap_or(Json::Null)
    };
    let alloc = parse(cap.map(|c| &c.allocatable));
    let req = parse(cap.map(|c| &c.requested));
    let used = parse(cap.map(|c| &c.usage));
    let gpu = "nvidia.com/gpu";
    let (cpu_a, mem_a, gpu_a) = (
        amount(&alloc, "cpu", true),
        amount(&alloc, "memory", false),
        amount(&alloc, gpu, false),
    );
    json!({
        "node_name": name_of(node),
        "node_status": status_text(node),
        "node_role": role_text(node),
        "node_age": kubectl::age(node),
        "node_version": or_unassigned(s("/status/nodeInfo/kubeletVersion")),
        "node_internalip": or_unassigned(kubectl::node_address(node, "InternalIP")),
        "node_externalip": or_unassigned(kubectl::node_address(node, "ExternalIP")),
        "node_osversion": or_unassigned(s("/status/nodeInfo/osImage")),
        "node_kernelversion": or_unassigned(s("/status/nodeInfo/kernelVersion")),
        "node_containeruntime": or_unassigned(s("/status/nodeInfo/containerRuntimeVersion")),
        "node_labels": user_labels(node),
        "node_cpurate": percent(amount(&used, "cpu", true), cpu_a),
        "node_memrate": percent(amount(&used, "memory", false), mem_a),
        "node_gpu": percent(amount(&req, gpu, false), gpu_a),
        "available_cpu": cores(cpu_a - amount(&req, "cpu", true)),
        "available_memory": gibibytes(mem_a - amount(&req, "memory", false)),
        "available_gpu": (gpu_a - amount(&req, gpu, false)).max(0),
    })
}

/// `GET cpcworker/get_cpcworker.dspy`: the cluster's members, live.
pub fn workers(_req: &Request, p: &Params) -> Result<Response, ApiError> {
    let (_, _, c) = target(p)?;
    let mut nodes = objects(kubernetes::list(&c, "v1", "Node", &everything())?)?;
    nodes.sort_by(|a, b| name_of(a).cmp(name_of(b)));
    let caps = kubernetes::capacity(&c)?;
    let rows: Vec<Json> = nodes
        .iter()
        .map(|n| worker_row(n, caps.iter().find(|c| c.name == name_of(n))))
        .collect();
    Ok(kboss::ok(
        "获取集群实时成员节点成功",
        &computehub_sdk::object! { "total" => rows.len(), "rows" => rows },
    ))
}

/// Sum of a resource over a pod's containers' limits (`None`: no limit).
fn pod_limit(pod: &Json, resource: &str, milli: bool) -> Option<i128> {
    let mut total = None;
    for c in pod
        .at("/spec/containers")
        .and_then(Json::as_array)
        .into_iter()
        .flatten()
    {
        if let Some(q) = c.at("/resources/limits").and_then(|l| l.get(resource)) {
            let map = json!({ resource: q });
            *total.get_or_insert(0) += amount(&map, resource, milli);
        }
    }
    total
}

/// Each pod's usage (millicores, bytes) by namespace, then name (so a row
/// looks its pod up by `&str`, without building a key).
type PodUsage = HashMap<String, HashMap<String, (i128, i128)>>;

/// Pod usage from the metrics API, read a page at a time and kept as two
/// numbers a pod. A cluster without a metrics server (or whose metrics
/// cannot be read) shows no usage rather than failing the board.
fn pod_usage(c: &Cluster) -> PodUsage {
    let keep = Keep::new(["/metadata/namespace", "/metadata/name", "/containers"]);
    let mut usage = PodUsage::new();
    let metrics = "metrics.k8s.io/v1beta1";
    let read = boards::for_each_page(c, metrics, "PodMetrics", &everything(), |items| {
        for text in items {
            let m = parse_kept(&text, &keep).map_err(|e| {
                ApiError::BadGateway(format!("the cluster answered invalid metrics: {e}"))
            })?;
            let ns = m.at("/metadata/namespace").and_then(Json::as_str);
            let ns = ns.unwrap_or("default").to_owned();
            let sum =
                m["containers"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .fold((0, 0), |(c, b), ct| {
                        (
                            c + amount(&ct["usage"], "cpu", true),
                            b + amount(&ct["usage"], "memory", false),
                        )
                    });
            usage
                .entry(ns)
                .or_default()
                .insert(name_of(&m).to_owned(), sum);
        }
        Ok(())
    });
    match read {
        Ok(()) => usage,
        Err(_) => PodUsage::new(),
    }
}

/// A limit as the document shows it: cores (`2`, `0.5`), memory in the
/// largest binary unit that divides it (`5Gi`, `512Mi`), `0` for none.
fn cpu_text(milli: Option<i128>) -> String {
    quantity::Quantity::from_milli(milli.unwrap_or(0)).plain()
}

fn memory_text(bytes: Option<i128>) -> String {
    quantity::format_binary(bytes.unwrap_or(0))
}

/// What [`pod_row`] reads besides kubectl's columns.
const POD_ROW_FIELDS: &[&str] = &[
    "/metadata/namespace",
    "/metadata/name",
    "/spec/nodeName",
    "/spec/containers/resources/limits",
    "/status/podIP",
    "/status/nominatedNodeName",
    "/spec/readinessGates",
];

fn pod_row(pod: &Json, usage: &PodUsage) -> Json {
    let s = |ptr: &str| pod.at(ptr).and_then(Json::as_str);
    let ns = s("/metadata/namespace").unwrap_or("default");
    let name = name_of(pod);
    let (cpu, mem) = usage
        .get(ns)
        .and_then(|pods| pods.get(name))
        .copied()
        .unwrap_or((0, 0));
    let gpu = pod_limit(pod, "nvidia.com/gpu", false).unwrap_or(0);
    json!({
        "pod_namespace": ns,
        "pod_name": name,
        "pod_ready": kubectl::pod_ready(pod),
        "pod_running": kubectl::pod_status(pod),
        "pod_restart": kubectl::pod_restarts(pod).to_string(),
        "pod_age": kubectl::age(pod),
        "pod_ip": kubectl::or_none(s("/status/podIP")),
        "pod_node": kubectl::or_none(s("/spec/nodeName")),
        "pod_nominated_node": s("/status/nominatedNodeName").filter(|n| !n.is_empty()).unwrap_or("无"),
        "pod_cpurate": format!("{}核", trim_decimal(cpu as f64 / 1000.0)),
        "pod_memrate": format!("{}Mi", trim_decimal(mem as f64 / f64::from(1u32 << 20))),
        "pod_gpu": gpu.to_string(),
        "pod_cpu_limit": cpu_text(pod_limit(pod, "cpu", true)),
        "pod_memory_limit": memory_text(pod_limit(pod, "memory", false)),
        "pod_gpu_limit": gpu.to_string(),
        // In the document's field table (`[string]`), not in its example.
        "pod_readiness_gates": kubectl::readiness_gates(pod),
    })
}

/// At most three decimals, without trailing zeros: `0.004`, `2.539`, `1`.
fn trim_decimal(v: f64) -> String {
    let s = format!("{v:.3}");
    s.trim_end_matches('0').trim_end_matches('.').to_owned()
}

/// `GET cpcpod/get_cpcpod.dspy`: the cluster's pods, live.
pub fn pods(_req: &Request, p: &Params) -> Result<Response, ApiError> {
    let (_, _, c) = target(p)?;
    let fields = kubectl::POD_COLUMN_FIELDS
        .iter()
        .chain(POD_ROW_FIELDS)
        .copied();
    let usage = pod_usage(&c);
    let rows = boards::rows(&c, "v1", "Pod", &everything(), fields, |p| {
        pod_row(p, &usage)
    })?;
    Ok(kboss::ok("获取集群实时资源实例成功", &Board::from(rows)))
}

/// `POST cpclabel/setup_cpclabel.dspy`: bind (`opt=label`) or unbind
/// (`opt=unlabel`) one stored label (`key=value`, or the label's id) on a
/// node of the cluster.
pub fn setup_label(req: &Request, p: &Params) -> Result<Response, ApiError> {
    let org = org(req)?;
    let label = text(p, "label")?;
    let node = text(p, "worker_node")?;
    let opt = one_of(p, "opt", &["label", "unlabel"])?;
    let (key, value) = match label.split_once(['=', ':']) {
        Some((k, v)) => (k, v),
        None => ("", ""),
    };
    // The label must be one the organisation stored (by content or id).
    let stored = if key.is_empty() {
        computehub_sdk::inventory::get(LABELS, label)?
    } else {
        if !label_key_ok(key) || !label_value_ok(value) {
            return Err(bad("label", "a Kubernetes label `key=value`", label));
        }
        all(
            LABELS,
            RowQuery::new()
                .eq("label_key", key)
                .eq("label_value", value),
        )?
        .into_iter()
        .next()
    };
    let stored = stored.ok_or_else(|| not_found("label", label, "资源标签"))?;
    let key = stored.text("label_key").unwrap_or_default().to_owned();
    let value = stored.text("label_value").unwrap_or_default().to_owned();
    // Checked when stored; checked again here for rows older than that rule.
    if !label_key_ok(&key) || !label_value_ok(&value) {
        return Err(because(
            "资源标签不是有效的节点标签",
            ApiError::Conflict(format!(
                "parameter `label`: stored label `{}` is not a Kubernetes label",
                stored.id
            )),
        ));
    }
    if !names::dns_subdomain_ok(node) {
        return Err(bad("worker_node", names::NODE_NAME_RULE, node));
    }
    let (cpcid, clusterid, c) = target(p)?;
    if kubernetes::get(&c, "v1", "Node", None, node)?.is_none() {
        return Err(not_found("worker_node", node, "集群节点"));
    }
    if opt == "label" {
        kubernetes::label_node(&c, node, &[(key.clone(), value.clone())], &[])?;
    } else {
        kubernetes::label_node(&c, node, &[], std::slice::from_ref(&key))?;
    }
    let mut data = Map::new();
    data.insert("clusterid".into(), json!(clusterid));
    data.insert("cpcid".into(), json!(cpcid));
    data.insert("label".into(), json!(format!("{key}={value}")));
    data.insert("opt".into(), json!(opt));
    data.insert("orgid".into(), json!(org));
    data.insert("worker_node".into(), json!(node));
    Ok(kboss::ok("设置节点标签成功", &Json::Object(data)))
}
