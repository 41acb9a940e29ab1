//! `GET cpcbuy/determine_accommodat.dspy`: which products of the buy page
//! cannot be deployed on a cluster of a compute center.
//!
//! Two checks, in the order the document's `reason` (判定环节) names them:
//! - `static`: the cluster's stock of the center's priced components
//!   (`cpcwidget`, stock minus consumed) cannot cover the product: no
//!   component of a requested type, too little of it, or no GPU of the
//!   requested model;
//! - `dynamic`: no single live node has every requested resource free, as
//!   the active scheduling engine judges it (the `scheduling` capability,
//!   fed with the cluster's node capacities through `kubernetes`).
//!
//! Products use the format of [`computehub_sdk::capacity`]; `kyylabels`
//! (node labels every product needs) is merged into each product's labels.
//! The answer is the documented `{status, msg, data: [ids], reason}`, where
//! `reason` is `static` when the stock check excluded any product and
//! `dynamic` otherwise; `reasons` gives the check per excluded id, and
//! `explain=true` adds per product the stock or per-node shortfalls.

use std::collections::BTreeMap;

use computehub_sdk::capacity;
use computehub_sdk::inventory::{self, RowQuery};
use computehub_sdk::kubernetes;
use computehub_sdk::pricing_rules::{self, Dimension};
use computehub_sdk::scheduling::{self, Product};
use computehub_sdk::workload::{label_key_ok, label_value_ok};
use computehub_sdk::{ApiError, ParamError, Params, Request, Response};
use serde_json::{json, Map, Value as Json};

use crate::common::*;

/// Most labels `kyylabels` may name.
const MAX_LABELS: usize = 32;

/// What the cluster still has of each component type, in base amounts
/// (millicores, bytes, cards); `None` when the center sells no component of
/// that type at all.
#[derive(Default)]
struct Stock {
    cpu: Option<u128>,
    memory: Option<u128>,
    disk: Option<u128>,
    /// Cards per GPU model.
    gpu: Option<BTreeMap<String, u128>>,
}

impl Stock {
    /// The cluster's available stock of the center's components.
    fn of(cpcid: &str, clusterid: &str) -> Result<Stock, ApiError> {
        let widgets = all(WIDGETS, RowQuery::new().eq("cpcid", cpcid))?;
        let rows = all(STOCK, RowQuery::new().eq("clusterid", clusterid))?;
        let mut stock = Stock::default();
        for w in &widgets {
            let Some((dimension, per_unit)) =
                pricing_rules::base_per_unit(w.text("resource_unit").unwrap_or_default())
            else {
                continue;
            };
            let units: i64 = rows
                .iter()
                .filter(|s| s.text("widgetid") == Some(w.id.as_str()))
                .map(crate::widgets::available)
                .sum();
            let amount = u128::from(units.max(0).unsigned_abs()) * per_unit;
            let add = |slot: &mut Option<u128>| *slot = Some(slot.unwrap_or(0) + amount);
            match (w.text("type").unwrap_or_default(), dimension) {
                ("cpu", Dimension::Cores) => add(&mut stock.cpu),
                ("memory", Dimension::Bytes) => add(&mut stock.memory),
                ("disk", Dimension::Bytes) => add(&mut stock.disk),
                ("gpu", Dimension::Cards) => {
                    let model = w.text("model").unwrap_or_default().to_owned();
                    *stock
                        .gpu
                        .get_or_insert_with(BTreeMap::new)
                        .entry(model)
                        .or_default() += amount;
                }
                _ => {}
            }
        }
        Ok(stock)
    }

    /// Every way the stock falls short of `p` (empty: it covers it).
    fn shortfalls(&self, p: &Product) -> Vec<Json> {
        let q = &p.requests;
        let mut out = Vec::new();
        let mut check = |resource: &str, model: Option<&str>, want: u64, have: Option<u128>| {
            if want == 0 {
                return;
            }
            let reason = match have {
                None => "no-component",
                Some(h) if u128::from(want) > h => "stock",
                Some(_) => return,
            };
            out.push(json!({
                "resource": resource, "model": model, "reason": reason,
                "requested": want.to_string(), "available": have.unwrap_or(0).to_string(),
            }));
        };
        check("cpu", None, q.cpu_milli, self.cpu);
        check("memory", None, q.memory_bytes, self.memory);
        check("disk", None, q.disk_bytes, self.disk);
        let gpus = self.gpu.as_ref().map(|models| match &p.gpu_model {
            Some(m) => models.get(m).copied().unwrap_or(0),
            None => models.values().sum(),
        });
        // A model the center does not sell is missing, not merely short.
        let gpus = match (&p.gpu_model, &self.gpu) {
            (Some(m), Some(models)) if !models.contains_key(m) => None,
            _ => gpus,
        };
        check("gpu", p.gpu_model.as_deref(), q.gpu, gpus);
        out
    }
}

/// One `kyylabels` entry: `key=value` (or `key:value`), or the id of one of
/// the organisation's stored node labels.
fn label_entry(entry: &str) -> Result<(String, String), ApiError> {
    let entry = entry.trim();
    let (key, value) = match entry.split_once(['=', ':']) {
        Some((k, v)) => (k.trim().to_owned(), v.trim().to_owned()),
        None => {
            let stored = inventory::get(LABELS, entry)?
                .ok_or_else(|| not_found("kyylabels", entry, "资源标签"))?;
            let text = |f: &str| stored.text(f).unwrap_or_default().to_owned();
            (text("label_key"), text("label_value"))
        }
    };
    if !label_key_ok(&key) || !label_value_ok(&value) {
        return Err(bad(
            "kyylabels",
            "Kubernetes node labels `key=value` (or stored label ids)",
            entry,
        ));
    }
    Ok((key, value))
}

/// `kyylabels`: required but may be empty; a JSON object of labels, a JSON
/// array of entries, or entries separated by commas.
fn kyylabels(p: &Params) -> Result<Vec<(String, String)>, ApiError> {
    let value = p.get("kyylabels").ok_or_else(|| ParamError::Missing {
        name: "kyylabels".into(),
    })?;
    let text = value.as_str().trim();
    let parsed = match value.as_json() {
        Some(j) => Some(j.clone()),
        None if text.starts_with(['{', '[']) => {
            Some(serde_json::from_str(text).map_err(|e| ParamError::Json {
                name: "kyylabels".into(),
                reason: e.to_string(),
            })?)
        }
        None => None,
    };
    let expected = "a JSON object of labels, a JSON array or a comma list of `key=value`";
    let labels: Vec<(String, String)> = match parsed {
        None => text
            .split(',')
            .filter(|e| !e.trim().is_empty())
            .map(label_entry)
            .collect::<Result<_, _>>()?,
        Some(Json::Object(m)) => m
            .iter()
            .map(|(k, v)| match v {
                Json::String(v) => label_entry(&format!("{k}={v}")),
                _ => Err(bad("kyylabels", expected, text)),
            })
            .collect::<Result<_, _>>()?,
        Some(Json::Array(items)) => items
            .iter()
            .map(|v| {
                v.as_str()
                    .map_or_else(|| Err(bad("kyylabels", expected, text)), label_entry)
            })
            .collect::<Result<_, _>>()?,
        Some(_) => return Err(bad("kyylabels", expected, text)),
    };
    if labels.len() > MAX_LABELS {
        return Err(ApiError::BadRequest(format!(
            "parameter `kyylabels` may name at most {MAX_LABELS} labels"
        )));
    }
    Ok(labels)
}

/// The labels a product needs: its own, plus `kyylabels` it does not set.
fn with_labels(mut p: Product, extra: &[(String, String)]) -> Product {
    for (k, v) in extra {
        if !p.labels.iter().any(|(pk, _)| pk == k) {
            p.labels.push((k.clone(), v.clone()));
        }
    }
    p
}

pub fn determine(_req: &Request, p: &Params) -> Result<Response, ApiError> {
    let cpcid = required_as(p, "cpcid", "无算力中心ID")?;
    let clusterid = required_as(p, "clusterid", "无算力集群ID")?;
    let raw: Json = p.json("resources")?;
    let products = capacity::products("resources", &raw)?;
    let labels = kyylabels(p)?;
    let explain = p.optional_bool("explain")?.unwrap_or(false);
    center(cpcid)?;
    let cluster = cluster_of(cpcid, "clusterid", clusterid)?;

    let stock = Stock::of(cpcid, clusterid)?;
    // (position in `resources`, id, check that excluded it) and explanations.
    let mut reasons: Vec<(usize, String, &str)> = Vec::new();
    let mut explained: Vec<(usize, Json)> = Vec::new();
    let (mut live, mut live_at) = (Vec::new(), Vec::new());
    for (i, product) in products.into_iter().enumerate() {
        let short = stock.shortfalls(&product);
        if short.is_empty() {
            live.push(with_labels(product, &labels));
            live_at.push(i);
            continue;
        }
        if explain {
            let e = json!({"id": product.id, "reason": "static", "node": null,
                "stock_shortfalls": short});
            explained.push((i, e));
        }
        reasons.push((i, product.id, "static"));
    }
    let any_static = !reasons.is_empty();
    if !live.is_empty() {
        let nodes = capacity::nodes(&kubernetes::capacity(&installed(&cluster)?)?);
        let verdicts = scheduling::fit(&live, &nodes, explain)?;
        for (verdict, i) in verdicts.into_iter().zip(live_at) {
            let fits = verdict.node.is_some();
            if explain {
                let mut e = capacity::explanation(&verdict);
                e["reason"] = if fits { Json::Null } else { json!("dynamic") };
                explained.push((i, e));
            }
            if !fits {
                reasons.push((i, verdict.product_id, "dynamic"));
            }
        }
    }
    reasons.sort_by_key(|r| r.0);
    explained.sort_by_key(|e| e.0);

    let mut body = Map::new();
    body.insert("status".into(), json!(true));
    body.insert("msg".into(), json!("获取不可部署产品ID成功"));
    body.insert(
        "data".into(),
        reasons.iter().map(|(_, id, _)| json!(id)).collect(),
    );
    body.insert(
        "reason".into(),
        json!(if any_static { "static" } else { "dynamic" }),
    );
    body.insert(
        "reasons".into(),
        Json::Object(
            reasons
                .iter()
                .map(|(_, id, r)| (id.clone(), json!(r)))
                .collect(),
        ),
    );
    if explain {
        let explained = explained.into_iter().map(|(_, e)| e).collect();
        body.insert("explain".into(), Json::Array(explained));
    }
    Ok(computehub_sdk::response::json(200, &Json::Object(body)))
}
