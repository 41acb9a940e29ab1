//! Priced components (`cpcwidget`): one per type and model in a center,
//! with a unit price, its units, and stock kept per cluster
//! (`widget_stock`, shown as `import_export`); and the GPU stock by model
//! (`obtaining_gpuinfo`). Money stays decimal text end to end and is shown
//! as exact JSON numbers.

use std::collections::BTreeMap;

use computehub_sdk::envelope::kboss::{self, Paging};
use computehub_sdk::inventory::{self, Row, RowQuery, Value, Write};
use computehub_sdk::pricing_rules::{self, Dimension};
use computehub_sdk::{ApiError, ParamError, Params, Request, Response};
use serde_json::{Map, Value as Json};

use crate::common::*;

/// The four component types, and what their resource units measure.
pub const TYPES: &[(&str, Dimension)] = &[
    ("cpu", Dimension::Cores),
    ("memory", Dimension::Bytes),
    ("disk", Dimension::Bytes),
    ("gpu", Dimension::Cards),
];

const SORTABLE: &[&str] = &[
    "type",
    "model",
    "unit_price",
    "resource_unit",
    "stock",
    "consumed",
    "charge_unit",
    "account_unit",
    "created_at",
    "update_time",
];

fn kind(p: &Params) -> Result<&str, ApiError> {
    one_of(p, "type", &["cpu", "memory", "disk", "gpu"])
}

/// `model`, `STANDARD` when blank (the documented default).
fn model(p: &Params) -> Result<&str, ApiError> {
    match optional_text(p, "model")? {
        Some(v) => check_name("model", v),
        None => Ok("STANDARD"),
    }
}

fn unit_price(p: &Params) -> Result<&str, ApiError> {
    let v = p.decimal("unit_price")?;
    if v.starts_with('-') || v.len() > 40 {
        return Err(bad("unit_price", "a decimal price of 0 or more", v));
    }
    Ok(v)
}

/// A stock row's units not yet consumed.
pub fn available(r: &Row) -> i64 {
    (r.integer("stock").unwrap_or(0) - r.integer("consumed").unwrap_or(0)).max(0)
}

/// The widget of `cpcid` with this type and model, if any.
fn find(cpcid: &str, kind: &str, model: &str) -> Result<Option<Row>, ApiError> {
    let q = RowQuery::new()
        .eq("cpcid", cpcid)
        .eq("type", kind)
        .eq("model", model)
        .limit(1);
    Ok(inventory::query(WIDGETS, &q)?.rows.into_iter().next())
}

const EXISTS: &str = "该部件已存在,请前往编辑!";

/// The document's answer to the same type and model again.
fn exists(cpcid: &str, kind: &str, model: &str) -> ApiError {
    because(
        EXISTS,
        ApiError::Conflict(format!(
            "compute center `{cpcid}` already has a {kind} component `{model}`; \
             update_cpcwidget changes its price, add_opt=yes adds stock to it"
        )),
    )
}

/// `POST cpcwidget/add_cpcwidget.dspy`: a new component with its first
/// stock in `clusterid`; the same type and model again is refused unless
/// `add_opt=yes`, which adds `stock` to that cluster's stock instead.
pub fn add(_req: &Request, p: &Params) -> Result<Response, ApiError> {
    let cpcid = required_as(p, "cpcid", "无算力中心ID")?;
    let clusterid = required_as(p, "clusterid", "无算力集群ID")?;
    let kind = kind(p)?;
    let unit = text(p, "resource_unit")?;
    let dimension = TYPES.iter().find(|(t, _)| *t == kind).map(|(_, d)| *d);
    if pricing_rules::resource_unit(unit).map(|(d, _)| d) != dimension {
        let expected = match kind {
            "cpu" => "a cpu unit: 核 or m",
            "gpu" => "a gpu unit: 卡, 张, 块 or 个",
            _ => "a size unit: Ki, Mi, Gi or Ti",
        };
        return Err(bad("resource_unit", expected, unit));
    }
    let price = unit_price(p)?;
    let model = model(p)?;
    let stock = count(p, "stock")?;
    let charge = text(p, "charge_unit")?;
    if pricing_rules::seconds(charge).is_none() {
        return Err(bad("charge_unit", "one of 秒, 分钟, 小时, 天", charge));
    }
    let money = text(p, "account_unit")?;
    if pricing_rules::money_unit(money).is_none() {
        return Err(bad("account_unit", "one of 元, 角, 分", money));
    }
    let add_opt = match optional_text(p, "add_opt")? {
        None | Some("no") => false,
        Some("yes") => true,
        Some(other) => return Err(bad("add_opt", "yes or no", other)),
    };
    center(cpcid)?;
    cluster_of(cpcid, "clusterid", clusterid)?;

    let widget = match find(cpcid, kind, model)? {
        Some(_) if !add_opt => return Err(exists(cpcid, kind, model)),
        Some(w) => w,
        None => {
            let fields = [
                inventory::field("cpcid", cpcid),
                inventory::field("type", kind),
                inventory::field("model", model),
                inventory::field("unit_price", Value::decimal(price)),
                inventory::field("resource_unit", unit),
                inventory::field("charge_unit", charge),
                inventory::field("account_unit", money),
                inventory::field("stock", 0i64),
                inventory::field("consumed", 0i64),
            ];
            inventory::insert(WIDGETS, &fields).map_err(|e| match ApiError::from(e) {
                ApiError::Conflict(_) => exists(cpcid, kind, model),
                other => other,
            })?
        }
    };
    // Stock goes to the widget's total and the cluster's row, atomically.
    let existing = inventory::query(
        STOCK,
        &RowQuery::new()
            .eq("widgetid", widget.id.as_str())
            .eq("clusterid", clusterid)
            .limit(1),
    )?;
    let cluster_write = match existing.rows.first() {
        Some(row) => Write::Add((
            STOCK.into(),
            row.id.clone(),
            "stock".into(),
            Value::Integer(stock),
        )),
        None => Write::Insert((
            STOCK.into(),
            vec![
                inventory::field("widgetid", widget.id.as_str()),
                inventory::field("cpcid", cpcid),
                inventory::field("clusterid", clusterid),
                inventory::field("stock", stock),
                inventory::field("consumed", 0i64),
            ],
        )),
    };
    let total = Write::Add((
        WIDGETS.into(),
        widget.id.clone(),
        "stock".into(),
        Value::Integer(stock),
    ));
    let written = inventory::transact(&[total, cluster_write]);
    let widget = match written {
        Ok(mut rows) if !rows.is_empty() => rows.swap_remove(0),
        Ok(_) => widget,
        Err(e) => {
            if !add_opt {
                // Do not leave a component without its stock row behind.
                let _ = inventory::delete(WIDGETS, &widget.id);
            }
            return Err(e.into());
        }
    };
    let mut m = Map::new();
    for f in [
        "account_unit",
        "charge_unit",
        "cpcid",
        "model",
        "resource_unit",
    ] {
        m.insert(f.into(), json_of(&widget, f));
    }
    let total_stock = widget.integer("stock").unwrap_or(0);
    m.insert("stock".into(), Json::String(total_stock.to_string()));
    m.insert("type".into(), json_of(&widget, "type"));
    let price = widget.text("unit_price").unwrap_or(price);
    m.insert("unit_price".into(), Json::String(price.to_owned()));
    m.insert("id".into(), Json::String(widget.id.clone()));
    m.insert("update_time".into(), update_time(&widget));
    Ok(kboss::ok("新增算力部件成功", &Json::Object(m)))
}

/// `GET cpcwidget/get_cpcwidget.dspy`: a center's components with their
/// stock per cluster.
pub fn list(_req: &Request, p: &Params) -> Result<Response, ApiError> {
    let cpcid = required_as(p, "cpcid", "无算力中心ID")?;
    let paging = Paging::from_params(p)?;
    let q =
        page_query(&paging, SORTABLE, &[("type", false), ("updated_at", true)])?.eq("cpcid", cpcid);
    center(cpcid)?;
    let page = inventory::query(WIDGETS, &q)?;
    let names: BTreeMap<String, Json> = all(CLUSTERS, RowQuery::new().eq("cpcid", cpcid))?
        .iter()
        .map(|c| (c.id.clone(), json_of(c, "name")))
        .collect();
    let mut per_widget: BTreeMap<String, Vec<Json>> = BTreeMap::new();
    let stock_rows = all(
        STOCK,
        RowQuery::new()
            .eq("cpcid", cpcid)
            .order("created_at", false),
    )?;
    for s in &stock_rows {
        let (Some(widget), Some(cluster)) = (s.text("widgetid"), s.text("clusterid")) else {
            continue;
        };
        per_widget
            .entry(widget.to_owned())
            .or_default()
            .push(serde_json::json!({
                "clusterid": cluster,
                "clustername": names.get(cluster).cloned().unwrap_or_else(|| Json::from("")),
                "stock": s.integer("stock").unwrap_or(0),
                "consumed": s.integer("consumed").unwrap_or(0),
            }));
    }
    let rows = page.rows.iter().map(|w| {
        let mut m = object(w, true, &["cpcid", "type", "model"]);
        m.insert(
            "unit_price".into(),
            kboss::decimal(w.text("unit_price").unwrap_or("0")),
        );
        for f in [
            "resource_unit",
            "stock",
            "consumed",
            "charge_unit",
            "account_unit",
        ] {
            m.insert(f.into(), json_of(w, f));
        }
        m.insert("update_time".into(), update_time(w));
        let flows = per_widget.remove(&w.id).unwrap_or_default();
        m.insert("import_export".into(), Json::Array(flows));
        Json::Object(m)
    });
    Ok(kboss::page("获取算力部件成功", page.total, rows, &paging))
}

/// The widget an update or delete names: by `id` (which must belong to
/// `cpcid`), or by `type` and `model`.
fn target(p: &Params, cpcid: &str, by_type_and_model: bool) -> Result<Row, ApiError> {
    match optional_text(p, "id")? {
        Some(id) => {
            let row = must_get(WIDGETS, "id", id, "算力部件")?;
            if row.text("cpcid") != Some(cpcid) {
                return Err(because(
                    "算力部件不属于该算力中心",
                    ApiError::BadRequest(format!(
                        "parameter `id`: component `{id}` does not belong to compute center `{cpcid}`"
                    )),
                ));
            }
            Ok(row)
        }
        None if by_type_and_model => {
            let (kind, model) = (kind(p)?, model(p)?);
            find(cpcid, kind, model)?.ok_or_else(|| {
                because(
                    "算力部件不存在",
                    ApiError::NotFound(format!(
                        "no {kind} component `{model}` in compute center `{cpcid}`"
                    )),
                )
            })
        }
        None => Err(because(
            "无算力部件ID",
            ParamError::Missing { name: "id".into() }.into(),
        )),
    }
}

/// `POST cpcwidget/update_cpcwidget.dspy`: only the unit price changes.
pub fn update(_req: &Request, p: &Params) -> Result<Response, ApiError> {
    let cpcid = required_as(p, "cpcid", "无算力中心ID")?;
    let price = unit_price(p)?;
    let (kind, model) = (kind(p)?, model(p)?);
    center(cpcid)?;
    let row = target(p, cpcid, true)?;
    for (field, sent) in [("type", kind), ("model", model)] {
        if row.text(field) != Some(sent) {
            return Err(because(
                "只能更新单位单价",
                ApiError::BadRequest(format!(
                    "parameter `{field}` does not match component `{}`",
                    row.id
                )),
            ));
        }
    }
    inventory::update(
        WIDGETS,
        &row.id,
        &[inventory::field("unit_price", Value::decimal(price))],
    )?;
    Ok(kboss::ok(
        "更新算力部件成功",
        &serde_json::json!({ "cpcid": cpcid, "id": row.id, "unit_price": price }),
    ))
}

/// `POST cpcwidget/delete_cpcwidget.dspy`: the component and its stock rows.
pub fn delete(_req: &Request, p: &Params) -> Result<Response, ApiError> {
    let cpcid = required_as(p, "cpcid", "无算力中心ID")?;
    required_as(p, "id", "无算力部件ID")?;
    center(cpcid)?;
    let row = target(p, cpcid, false)?;
    let stock = all(STOCK, RowQuery::new().eq("widgetid", row.id.as_str()))?;
    let mut writes: Vec<Write> = stock
        .iter()
        .map(|s| Write::Delete((STOCK.into(), s.id.clone())))
        .collect();
    writes.push(Write::Delete((WIDGETS.into(), row.id.clone())));
    inventory::transact(&writes)?;
    Ok(kboss::ok(
        "删除算力部件成功",
        &serde_json::json!({ "cpcid": cpcid, "id": row.id }),
    ))
}

/// `GET cpcwidget/obtaining_gpuinfo.dspy`: available GPUs by model, of one
/// cluster, one center, or (neither given) every center of the caller.
pub fn gpu_info(_req: &Request, p: &Params) -> Result<Response, ApiError> {
    let cpcid = optional_text(p, "cpcid")?;
    let clusterid = optional_text(p, "clusterid")?;
    let mut by_model: Vec<(String, i64)> = Vec::new();
    let mut add = |model: &str, n: i64| match by_model.iter_mut().find(|(m, _)| m == model) {
        Some((_, total)) => *total += n,
        None => by_model.push((model.to_owned(), n)),
    };
    let gpus = |cpcid: Option<&str>| {
        let mut q = RowQuery::new().eq("type", "gpu").order("created_at", false);
        if let Some(c) = cpcid {
            q = q.eq("cpcid", c);
        }
        all(WIDGETS, q)
    };
    match clusterid {
        Some(cluster) => {
            let row = must_get(CLUSTERS, "clusterid", cluster, "算力集群")?;
            let owner = row.text("cpcid").unwrap_or_default().to_owned();
            if let Some(c) = cpcid {
                center(c)?;
                cluster_of(c, "clusterid", cluster)?;
            }
            let stock = all(STOCK, RowQuery::new().eq("clusterid", cluster))?;
            for w in gpus(Some(&owner))? {
                let n: i64 = stock
                    .iter()
                    .filter(|s| s.text("widgetid") == Some(w.id.as_str()))
                    .map(available)
                    .sum();
                add(w.text("model").unwrap_or_default(), n);
            }
        }
        None => {
            if let Some(c) = cpcid {
                center(c)?;
            }
            for w in gpus(cpcid)? {
                add(w.text("model").unwrap_or_default(), available(&w));
            }
        }
    }
    let data: Map<String, Json> = by_model
        .into_iter()
        .map(|(m, n)| (m, Json::from(n)))
        .collect();
    Ok(kboss::ok("获取集群GPU库存成功", &Json::Object(data)))
}
