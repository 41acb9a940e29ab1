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
use crate::bindings::computehub::platform::scheduling::{
    Node, Product, Resources, Shortfall, Taint, Verdict,
};
use crate::error::ApiError;
use crate::names;
use crate::params::{ParamError, Params};
use crate::quantity;

mod explain;
#[cfg(test)]
use explain::{batches, shortfall_bytes, with_extra, within};
pub use explain::{
    explain_each, explained_bytes, explanation, json_len, place, Fit, Shortfalls, MAX_EXPLAIN_BYTES,
};

/// The node label that names a node's GPU model.
pub const GPU_MODEL_LABEL: &str = "nvidia.com/gpu.product";
/// Most products one request may check.
pub const MAX_PRODUCTS: usize = 10_000;
/// Longest product id.
pub const MAX_PRODUCT_ID: usize = 253;
/// Most labels one product may require.
pub const MAX_PRODUCT_LABELS: usize = 32;

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

fn too_many(field: &str) -> ParamError {
    ParamError::too_many(field, MAX_PRODUCTS, "products")
}

/// Parse the products of a `resources` parameter (a JSON array of at most
/// [`MAX_PRODUCTS`]).
pub fn products(field: &str, v: &Value) -> Result<Vec<Product>, ParamError> {
    let arr = v
        .as_array()
        .ok_or_else(|| bad(field, "must be a JSON array of products".into()))?;
    if arr.len() > MAX_PRODUCTS {
        return Err(too_many(field));
    }
    arr.iter()
        .enumerate()
        .map(|(i, p)| product(field, i, p))
        .collect()
}

/// The products of parameter `field` of `params` ([`products`]), in every
/// form a list parameter arrives in ([`Params::items`]): one JSON array, or
/// the parameter repeated with one product (or an array of them) each
/// (`resources={..}&resources={..}`, `resources[]={..}`), or one product.
/// Text is read one product at a time, so the whole array never exists as a
/// JSON tree (10,000 products as a tree take several times their text).
pub fn products_param(params: &Params, field: &str) -> Result<Vec<Product>, ParamError> {
    let value = params.get(field).ok_or_else(|| ParamError::Missing {
        name: field.to_owned(),
    })?;
    let mut out = Vec::new();
    match value.as_json() {
        Some(one @ Value::Object(_)) => out.push(product(field, 0, one)?),
        Some(tree) => out = products(field, tree)?,
        None => {
            if value.as_str().trim().is_empty() && params.repeated(field).is_empty() {
                return Err(ParamError::Missing {
                    name: field.to_owned(),
                });
            }
            products_text(field, value.as_str(), &mut out)?;
        }
    }
    for text in params.repeated(field) {
        products_text(field, text, &mut out)?;
    }
    Ok(out)
}

/// Appends the products of one occurrence of `field`: a JSON array of
/// products or one product, numbered after those already read.
fn products_text(field: &str, text: &str, out: &mut Vec<Product>) -> Result<(), ParamError> {
    let text = text.trim();
    let json_error = |e: serde_json::Error| ParamError::Json {
        name: field.to_owned(),
        reason: crate::params::json_reason(&e),
    };
    if !text.starts_with('[') {
        let p: Value = serde_json::from_str(text).map_err(json_error)?;
        if !p.is_object() {
            return Err(bad(
                field,
                "must be a JSON array of products (or the parameter repeated, one product each)"
                    .into(),
            ));
        }
        if out.len() >= MAX_PRODUCTS {
            return Err(too_many(field));
        }
        out.push(product(field, out.len(), &p)?);
        return Ok(());
    }
    let items =
        serde_json::from_str::<Vec<&serde_json::value::RawValue>>(text).map_err(json_error)?;
    if out.len() + items.len() > MAX_PRODUCTS {
        return Err(too_many(field));
    }
    out.reserve(items.len());
    for item in items {
        let p: Value = serde_json::from_str(item.get()).map_err(json_error)?;
        out.push(product(field, out.len(), &p)?);
    }
    Ok(())
}

/// One product of the array, `i` its position.
fn product(field: &str, i: usize, p: &Value) -> Result<Product, ParamError> {
    if !p.is_object() {
        return Err(bad(field, format!("product {i} must be an object")));
    }
    let id = p
        .get("id")
        .and_then(text)
        .filter(|s| !s.is_empty())
        .ok_or_else(|| bad(field, format!("product {i} needs an `id`")))?;
    if id.chars().count() > MAX_PRODUCT_ID {
        return Err(bad(
            field,
            format!("product {i}: `id` may be at most {MAX_PRODUCT_ID} characters"),
        ));
    }
    let labels = match p.get("labels") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Object(m)) if m.len() > MAX_PRODUCT_LABELS => {
            return Err(bad(
                field,
                format!("product {i}: `labels` may hold at most {MAX_PRODUCT_LABELS} labels"),
            ))
        }
        Some(Value::Object(m)) => m
            .iter()
            .map(|(k, v)| {
                let v = text(v)
                    .ok_or_else(|| bad(field, format!("product {i}: label `{k}` must be text")))?;
                if !names::label_key_ok(k) || !names::label_value_ok(&v) {
                    let k: String = k.chars().take(64).collect();
                    return Err(bad(
                        field,
                        format!("product {i}: label `{k}` is not a Kubernetes label"),
                    ));
                }
                Ok((k.clone(), v))
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
        gpu_model: match p.get("gpu_model").and_then(text).filter(|s| !s.is_empty()) {
            Some(m)
                if m.chars().count() > names::MAX_DISPLAY || m.chars().any(char::is_control) =>
            {
                return Err(bad(
                    field,
                    format!(
                        "product {i}: `gpu_model` must be at most {} characters of text",
                        names::MAX_DISPLAY
                    ),
                ))
            }
            m => m,
        },
        labels,
    })
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

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests;
