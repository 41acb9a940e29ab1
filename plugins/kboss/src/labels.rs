//! Resource labels (`cpclabel`): an organisation's labels for instances
//! (type 0, shown `key:value`) and nodes (type 1, shown `key=value`). Keys
//! and values follow Kubernetes label syntax, since node labels end up on
//! cluster nodes (binding them comes with the Kubernetes area).

use computehub_sdk::envelope::kboss::{self, Paging};
use computehub_sdk::inventory::{self, Row};
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

/// `[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?`, at most 63 characters.
fn label_name(v: &str) -> bool {
    let b = v.as_bytes();
    let edge = |c: &u8| c.is_ascii_alphanumeric();
    !b.is_empty()
        && b.len() <= 63
        && b.first().is_some_and(edge)
        && b.last().is_some_and(edge)
        && b.iter()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'-' | b'_' | b'.'))
}

/// A Kubernetes label key: `name` or `prefix/name` with a DNS prefix.
fn label_key(v: &str) -> bool {
    match v.split_once('/') {
        None => label_name(v),
        Some((prefix, name)) => {
            let dns = !prefix.is_empty()
                && prefix.len() <= 253
                && prefix.split('.').all(|part| {
                    let b = part.as_bytes();
                    !b.is_empty()
                        && b.len() <= 63
                        && b.iter()
                            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == b'-')
                        && b.first().is_some_and(u8::is_ascii_alphanumeric)
                        && b.last().is_some_and(u8::is_ascii_alphanumeric)
                });
            dns && label_name(name)
        }
    }
}

/// `POST cpclabel/add_cpclabel.dspy`.
pub fn add(req: &Request, p: &Params) -> Result<Response, ApiError> {
    let org = org(req)?;
    let name = text(p, "name")?;
    let labeltype = one_of(p, "labeltype", &["0", "1"])?;
    let key = text(p, "label_key")?;
    if !label_key(key) {
        return Err(bad(
            "label_key",
            "a label key (letters, digits, `-`, `_`, `.`; at most 63; optional `prefix/`)",
            key,
        ));
    }
    let value = text(p, "label_value")?;
    if !label_name(value) {
        return Err(bad(
            "label_value",
            "a label value (letters, digits, `-`, `_`, `.`; at most 63)",
            value,
        ));
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

#[cfg(test)]
mod tests {
    #[test]
    fn label_syntax() {
        for ok in ["kyy-gpu", "kyy.io/app", "a", "A_b.c-9"] {
            assert!(super::label_key(ok), "{ok}");
        }
        for no in ["-a", "a-", "", "a b", "a=b", "Kyy.IO/app", "/a", "a/"] {
            assert!(!super::label_key(no), "{no}");
        }
        assert!(super::label_name("mysql8"));
        assert!(!super::label_name(&"x".repeat(64)));
    }
}
