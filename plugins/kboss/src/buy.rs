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
//! Products use the format of [`computehub_sdk::capacity`] (`resources`: a
//! JSON array, or the parameter repeated with one product each); `kyylabels`
//! (node labels every product needs) is merged into each product's labels.
//! The answer is the documented `{status, msg, data: [ids], reason}`, where
//! `reason` is `static` when the stock check excluded any product and
//! `dynamic` otherwise; `reasons` gives the check per excluded id, and
//! `explain=true` adds per product the stock or per-node shortfalls.

use std::collections::BTreeMap;

use computehub_sdk::capacity;
use computehub_sdk::inventory::{self, RowQuery};
use computehub_sdk::kubernetes;
use computehub_sdk::names::{label_key_ok, label_value_ok};
use computehub_sdk::pricing_rules::{self, Dimension};
use computehub_sdk::response::JsonWriter;
use computehub_sdk::scheduling::Product;
use computehub_sdk::{ApiError, ParamError, Params, Request, Response};
use serde::Serialize;
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
    fn shortfalls(&self, p: &Product) -> Vec<StockShortfall> {
        let q = &p.requests;
        let mut out = Vec::new();
        let mut check =
            |resource: &'static str, model: Option<&str>, want: u64, have: Option<u128>| {
                if want == 0 {
                    return;
                }
                let reason = match have {
                    None => "no-component",
                    Some(h) if u128::from(want) > h => "stock",
                    Some(_) => return,
                };
                out.push(StockShortfall {
                    resource,
                    model: model.map(str::to_owned),
                    reason,
                    requested: want.to_string(),
                    available: have.unwrap_or(0).to_string(),
                });
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

/// One way the stock falls short: `{"resource", "model", "reason",
/// "requested", "available"}`.
#[derive(Serialize)]
struct StockShortfall {
    resource: &'static str,
    model: Option<String>,
    reason: &'static str,
    requested: String,
    available: String,
}

/// A product the stock check excluded, as `explain` shows it.
#[derive(Serialize)]
struct Static<'a> {
    id: &'a str,
    reason: &'static str,
    node: Option<&'a str>,
    stock_shortfalls: &'a [StockShortfall],
}

/// A product the engine judged, as `explain` shows it: the engine's
/// [`capacity::Fit`], then `reason` (`dynamic`, or `null` when it fits).
struct Dynamic<'a>(capacity::Fit<'a>);

impl Serialize for Dynamic<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let f = &self.0;
        let mut m = s.serialize_map(None)?;
        m.serialize_entry("id", f.id)?;
        m.serialize_entry("node", &f.node)?;
        m.serialize_entry("shortfalls", &f.shortfalls)?;
        if f.shortfalls_omitted > 0 {
            m.serialize_entry("shortfalls_omitted", &f.shortfalls_omitted)?;
        }
        m.serialize_entry("reason", &f.node.is_none().then_some("dynamic"))?;
        m.end()
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
/// array of entries, or entries separated by commas; also repeated
/// (`kyylabels=a=1&kyylabels=b=2`, `kyylabels[]=`), each occurrence in any
/// of those forms.
fn kyylabels(p: &Params) -> Result<Vec<(String, String)>, ApiError> {
    let value = p.get("kyylabels").ok_or_else(|| ParamError::Missing {
        name: "kyylabels".into(),
    })?;
    let mut labels = labels_of(value.as_str(), value.as_json())?;
    for text in p.repeated("kyylabels") {
        labels.extend(labels_of(text, None)?);
    }
    if labels.len() > MAX_LABELS {
        return Err(ApiError::BadRequest(format!(
            "parameter `kyylabels` may name at most {MAX_LABELS} labels"
        )));
    }
    Ok(labels)
}

/// The labels of one occurrence of `kyylabels` (its text, and its JSON
/// value when it came from a JSON body as other than a string).
fn labels_of(text: &str, json: Option<&Json>) -> Result<Vec<(String, String)>, ApiError> {
    let text = text.trim();
    let parsed = match json {
        Some(j) => Some(j.clone()),
        None if text.starts_with(['{', '[']) => {
            Some(serde_json::from_str(text).map_err(|e| ParamError::Json {
                name: "kyylabels".into(),
                reason: computehub_sdk::params::json_reason(&e),
            })?)
        }
        None => None,
    };
    let expected = "a JSON object of labels, a JSON array or a comma list of `key=value`";
    match parsed {
        None => text
            .split(',')
            .filter(|e| !e.trim().is_empty())
            .map(label_entry)
            .collect(),
        Some(Json::Object(m)) => m
            .iter()
            .map(|(k, v)| match v {
                Json::String(v) => label_entry(&format!("{k}={v}")),
                _ => Err(bad("kyylabels", expected, text)),
            })
            .collect(),
        Some(Json::Array(items)) => items
            .iter()
            .map(|v| {
                v.as_str()
                    .map_or_else(|| Err(bad("kyylabels", expected, text)), label_entry)
            })
            .collect(),
        Some(_) => Err(bad("kyylabels", expected, text)),
    }
}

pub fn determine(_req: &Request, p: &Params) -> Result<Response, ApiError> {
    let cpcid = required_as(p, "cpcid", "无算力中心ID")?;
    let clusterid = required_as(p, "clusterid", "无算力集群ID")?;
    let products = capacity::products_param(p, "resources")?;
    let labels = kyylabels(p)?;
    let explain = p.optional_bool("explain")?.unwrap_or(false);
    center(cpcid)?;
    let cluster = cluster_of(cpcid, "clusterid", clusterid)?;

    let stock = Stock::of(cpcid, clusterid)?;
    // Products the stock covers go on to the engine (`live`, with their
    // position in `resources`); the others are excluded here, with their
    // shortfalls kept only for `explain`.
    let mut statics: Vec<(usize, String, Vec<StockShortfall>)> = Vec::new();
    let (mut live, mut live_at) = (
        Vec::with_capacity(products.len()),
        Vec::with_capacity(products.len()),
    );
    for (i, product) in products.into_iter().enumerate() {
        let mut short = stock.shortfalls(&product);
        if short.is_empty() {
            live.push(product);
            live_at.push(i);
            continue;
        }
        if !explain {
            short = Vec::new();
        }
        statics.push((i, product.id, short));
    }
    // The engine's verdicts, `kyylabels` added to every product as it is
    // asked (never to all of them at once).
    let (nodes, placed) = if live.is_empty() {
        (Vec::new(), Vec::new())
    } else {
        let nodes = capacity::nodes(&kubernetes::capacity(&installed(&cluster)?)?);
        let placed = capacity::place(&live, &labels, &nodes)?;
        (nodes, placed)
    };
    // (position in `resources`, id, check that excluded it).
    let mut reasons: Vec<(usize, &str, &str)> = statics
        .iter()
        .map(|(i, id, _)| (*i, id.as_str(), "static"))
        .collect();
    for ((product, node), i) in live.iter().zip(&placed).zip(&live_at) {
        if node.is_none() {
            reasons.push((*i, product.id.as_str(), "dynamic"));
        }
    }
    reasons.sort_by_key(|r| r.0);

    // `{"status", "msg", "data": [ids], "reason", "reasons", "explain"}`,
    // written as it comes (10,000 explanations never exist at once).
    // The whole answer is reserved at once (with `explain` it can be
    // megabytes, and a body that grows while the engine's answers are
    // allocated around it moves, holding two copies for a moment).
    let ids: usize = reasons
        .iter()
        .map(|(_, id, _)| 2 * capacity::json_len(id) + 16)
        .sum();
    let reserve = if explain {
        let statics: usize = statics
            .iter()
            .map(|(_, id, short)| {
                let each: usize = short
                    .iter()
                    .map(|s| 96 + s.model.as_deref().map_or(0, capacity::json_len) + 48)
                    .sum();
                96 + capacity::json_len(id) + each
            })
            .sum();
        capacity::explained_bytes(&live, &labels, &nodes, &placed) + 24 * live.len() + statics
    } else {
        0
    };
    let mut w = JsonWriter::with_capacity(256 + ids + reserve);
    w.begin_object(None);
    w.value(Some("status"), &true);
    w.value(Some("msg"), "获取不可部署产品ID成功");
    w.begin_array(Some("data"));
    for (_, id, _) in &reasons {
        w.value(None, id);
    }
    w.end_array();
    let any_static = !statics.is_empty();
    w.value(
        Some("reason"),
        if any_static { "static" } else { "dynamic" },
    );
    // An object: a repeated id is named once, at its first place.
    let mut by_id: Map<String, Json> = Map::with_capacity(reasons.len());
    for (_, id, r) in &reasons {
        by_id.insert((*id).to_owned(), json!(r));
    }
    w.value(Some("reasons"), &by_id);
    drop(by_id);
    if explain {
        w.begin_array(Some("explain"));
        let mut pending = statics.iter().peekable();
        let mut write_statics = |w: &mut JsonWriter, before: usize| {
            while let Some((_, id, short)) = pending.next_if(|(i, _, _)| *i < before) {
                w.value(
                    None,
                    &Static {
                        id,
                        reason: "static",
                        node: None,
                        stock_shortfalls: short,
                    },
                );
            }
        };
        if !live.is_empty() {
            capacity::explain_each(&live, &labels, &nodes, &placed, |j, fit| {
                write_statics(&mut w, live_at[j]);
                w.value(None, &Dynamic(fit));
            })?;
        }
        write_statics(&mut w, usize::MAX);
        w.end_array();
    }
    w.end_object();
    Ok(w.into_response(200))
}
