//! Resource labels (`cpclabel`): an organisation's labels for instances
//! (type 0, shown `key:value`) and nodes (type 1, shown `key=value`). Keys
//! and values follow Kubernetes label syntax ([`computehub_sdk::names`]),
//! checked when stored, since node labels end up on cluster nodes
//! (`setup_cpclabel`, `kyylabels`); names are display names.

use computehub_sdk::envelope::kboss::{self, Paging};
use computehub_sdk::inventory::{self, Row};
use computehub_sdk::names;
use computehub_sdk::{ApiError, Params, Request, Response};
use serde_json::{Map, Value as Json};

use crate::common::*;

const SORTABLE: &[&str] = &[
    "name",
    "labeltype",
    "label_key",
    "label_value",
    "created_at",
    "update_time",
];

fn listed(org: &str, r: &Row) -> Json {
    let mut m = object(r, true, &["name"]);
    m.insert("orgid".into(), Json::String(org.to_owned()));
    for f in ["labeltype", "label_key", "symbol", "label_value"] {
        m.insert(f.into(), json_of(r, f));
    }
    m.insert("update_time".into(), update_time(r));
    Json::Object(m)
}

/// `GET cpclabel/get_cpclabel.dspy`: the organisation's labels.
pub fn list(req: &Request, p: &Params) -> Result<Response, ApiError> {
    let org = org(req)?;
    let paging = Paging::from_params(p)?;
    let q = page_query(&paging, SORTABLE, &[("created_at", false)])?;
    let page = inventory::query(LABELS, &q)?;
    let rows = page.rows.iter().map(|r| listed(org, r));
    Ok(kboss::page("获取资源标签成功", page.total, rows, &paging))
}

/// `POST cpclabel/add_cpclabel.dspy`.
pub fn add(req: &Request, p: &Params) -> Result<Response, ApiError> {
    let org = org(req)?;
    let name = name(p, "name")?;
    let labeltype = one_of(p, "labeltype", &["0", "1"])?;
    let key = text(p, "label_key")?;
    if !names::label_key_ok(key) {
        return Err(bad("label_key", names::LABEL_KEY_RULE, key));
    }
    // Required: an empty value is refused by `text` already.
    let value = text(p, "label_value")?;
    if !names::label_value_ok(value) {
        return Err(bad("label_value", names::LABEL_VALUE_RULE, value));
    }
    // Instance labels read `key:value`, node labels `key=value`.
    let symbol = if labeltype == "1" { "=" } else { ":" };
    let row = inventory::insert(
        LABELS,
        &[
            inventory::field("name", name),
            inventory::field("labeltype", labeltype),
            inventory::field("label_key", key),
            inventory::field("symbol", symbol),
            inventory::field("label_value", value),
        ],
    )?;
    let mut m = Map::new();
    m.insert("label_key".into(), echo(Some(key)));
    m.insert("label_value".into(), echo(Some(value)));
    m.insert("labeltype".into(), echo(Some(labeltype)));
    m.insert("name".into(), echo(Some(name)));
    m.insert("orgid".into(), echo(Some(org)));
    m.insert("symbol".into(), echo(Some(symbol)));
    m.insert("id".into(), Json::String(row.id.clone()));
    m.insert("update_time".into(), update_time(&row));
    Ok(kboss::ok("新增资源标签成功", &Json::Object(m)))
}

/// `POST cpclabel/delete_cpclabel.dspy`.
pub fn delete(_req: &Request, p: &Params) -> Result<Response, ApiError> {
    let id = required_as(p, "id", "无资源标签ID")?;
    if !inventory::delete(LABELS, id)? {
        return Err(not_found("id", id, "资源标签"));
    }
    Ok(kboss::ok(
        "删除资源标签成功",
        &serde_json::json!({ "id": id }),
    ))
}
