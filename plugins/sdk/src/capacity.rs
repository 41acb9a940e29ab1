//! Capacity checks for endpoint plugins: the product format of the
//! `determine_accommodat` endpoints, and nodes for the `scheduling`
//! capability built from the `kubernetes` capability's node capacities.
//!
//! A product is a JSON object (the `resources` parameter is an array of them):
//! `{"id": "p1", "cpu": "4", "memory": "8Gi", "gpu": 1,
//!   "gpu_model": "RTX4090-24G", "disk": "100Gi", "labels": {"kyy-gpu": "true"}}`.
//! Quantities are Kubernetes quantities (cpu also in millicores, `500m`);
//! numbers are accepted where a quantity is expected; only `id` is required.

use serde_json::Value;

use crate::bindings::computehub::platform::kubernetes::NodeCapacity;
use crate::bindings::computehub::platform::scheduling::{Node, Product, Resources, Taint, Verdict};
use crate::params::ParamError;
use crate::quantity;

/// The node label that names a node's GPU model.
pub const GPU_MODEL_LABEL: &str = "nvidia.com/gpu.product";
/// Most products one request may check.
pub const MAX_PRODUCTS: usize = 10_000;

fn bad(field: &str, reason: String) -> ParamError {
    ParamError::Json {
        name: field.to_string(),
        reason,
    }
}

fn text(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

fn amount(field: &str, i: usize, p: &Value, key: &str, cpu: bool) -> Result<u64, ParamError> {
    match p.get(key) {
        None | Some(Value::Null) => Ok(0),
        Some(v) => {
            let t = text(v)
                .ok_or_else(|| bad(field, format!("product {i}: `{key}` must be a quantity")))?;
            let r = if cpu {
                quantity::millicores(&t)
            } else {
                quantity::units(&t)
            };
            r.map_err(|e| bad(field, format!("product {i}: `{key}`: {e}")))
        }
    }
}

/// Parse the products of a `resources` parameter (a JSON array).
pub fn products(field: &str, v: &Value) -> Result<Vec<Product>, ParamError> {
    let arr = v
        .as_array()
        .ok_or_else(|| bad(field, "must be a JSON array of products".into()))?;
    if arr.len() > MAX_PRODUCTS {
        return Err(bad(
            field,
            format!("may hold at most {MAX_PRODUCTS} products"),
        ));
    }
    arr.iter()
        .enumerate()
        .map(|(i, p)| {
            if !p.is_object() {
                return Err(bad(field, format!("product {i} must be an object")));
            }
            let id = p
                .get("id")
                .and_then(text)
                .filter(|s| !s.is_empty())
                .ok_or_else(|| bad(field, format!("product {i} needs an `id`")))?;
            let labels = match p.get("labels") {
                None | Some(Value::Null) => Vec::new(),
                Some(Value::Object(m)) => m
                    .iter()
                    .map(|(k, v)| {
                        Ok((
                            k.clone(),
                            text(v).ok_or_else(|| {
                                bad(field, format!("product {i}: label `{k}` must be text"))
                            })?,
                        ))
                    })
                    .collect::<Result<_, ParamError>>()?,
                Some(_) => {
                    return Err(bad(
                        field,
                        format!("product {i}: `labels` must be an object"),
                    ))
                }
            };
            Ok(Product {
                id,
                requests: Resources {
                    cpu_milli: amount(field, i, p, "cpu", true)?,
                    memory_bytes: amount(field, i, p, "memory", false)?,
                    gpu: amount(field, i, p, "gpu", false)?,
                    disk_bytes: amount(field, i, p, "disk", false)?,
                    pods: 1,
                },
                gpu_model: p.get("gpu_model").and_then(text).filter(|s| !s.is_empty()),
                labels,
            })
        })
        .collect()
}

fn resources(map_json: &str) -> Resources {
    let m: serde_json::Map<String, Value> = serde_json::from_str(map_json).unwrap_or_default();
    let get = |k: &str, cpu: bool| {
        m.get(k)
            .and_then(text)
            .and_then(|t| {
                if cpu {
                    quantity::millicores(&t).ok()
                } else {
                    quantity::units(&t).ok()
                }
            })
            .unwrap_or(0)
    };
    Resources {
        cpu_milli: get("cpu", true),
        memory_bytes: get("memory", false),
        gpu: get("nvidia.com/gpu", false),
        disk_bytes: get("ephemeral-storage", false),
        pods: get("pods", false),
    }
}

/// Nodes for the `scheduling` capability from the cluster's capacities.
pub fn nodes(caps: &[NodeCapacity]) -> Vec<Node> {
    caps.iter()
        .map(|c| {
            let taints: Vec<Value> = serde_json::from_str(&c.taints).unwrap_or_default();
            Node {
                name: c.name.clone(),
                allocatable: resources(&c.allocatable),
                requested: resources(&c.requested),
                labels: c.labels.clone(),
                gpu_model: c
                    .labels
                    .iter()
                    .find(|(k, _)| k == GPU_MODEL_LABEL)
                    .map(|(_, v)| v.clone()),
                unschedulable: c.unschedulable,
                taints: taints
                    .iter()
                    .map(|t| Taint {
                        key: t["key"].as_str().unwrap_or("").into(),
                        value: t["value"].as_str().unwrap_or("").into(),
                        effect: t["effect"].as_str().unwrap_or("").into(),
                    })
                    .collect(),
            }
        })
        .collect()
}

/// A verdict as the explanation endpoints show it: the product, the node it
/// fits on (or `null`) and every node's shortfall, each with whether no
/// amount of freeing up that node would help (`unresolvable`).
pub fn explanation(v: &Verdict) -> Value {
    let shortfalls: Vec<Value> = v
        .shortfalls
        .iter()
        .map(|s| {
            serde_json::json!({
                "node": s.node, "reason": s.reason, "requested": s.requested,
                "available": s.available, "unresolvable": s.unresolvable,
            })
        })
        .collect();
    serde_json::json!({"id": v.product_id, "node": v.node, "shortfalls": shortfalls})
}
