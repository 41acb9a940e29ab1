//! Deployments: create (`POST /v3/{project_id}/edgemgr/deployments`), get,
//! list and delete in the paths of Huawei's IEF v3 API.
//!
//! A deployment is an `ief_deployments` record (its id, name and the body
//! the create answered) and a Kubernetes Deployment of the same name in the
//! project's namespace, labelled with its id ([`render`]). The record is
//! written first (its unique indexes settle name races), then the cluster;
//! a cluster failure removes the record again, so nothing is half made.

use computehub_sdk::datetime::Instant;
use computehub_sdk::envelope::ief;
use computehub_sdk::inventory::{self, Row, RowQuery};
use computehub_sdk::kubernetes;
use computehub_sdk::{Request, Response};
use serde_json::{json, Map, Value};

use crate::error::{IefError, IefResult, DEPLOYMENT_NOT_FOUND, NAME_TAKEN};
use crate::project::{self, Project};
use crate::render::{self, DEPLOYMENT_LABEL};
use crate::validate::{self, Obj, Plan, Target};

const DEPLOYMENTS: &str = "ief_deployments";

/// A random (version 4) UUID.
fn uuid() -> IefResult<String> {
    let mut b = [0u8; 16];
    getrandom::fill(&mut b).map_err(|e| IefError::internal(format!("no randomness: {e}")))?;
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let h: String = b.iter().map(|x| format!("{x:02x}")).collect();
    Ok(format!(
        "{}-{}-{}-{}-{}",
        &h[0..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..32]
    ))
}

/// A container as the 201 answer echoes it: what was sent, with the
/// documented defaults (`npu_type`, `privileged`, `version`).
fn echo_container(c: &Value) -> Value {
    let mut out = c.as_object().cloned().unwrap_or_default();
    for (k, v) in [
        ("npu_type", json!("")),
        ("privileged", json!(false)),
        ("version", json!("")),
    ] {
        out.entry(k).or_insert(v);
    }
    Value::Object(out)
}

fn echo_template(t: &Obj) -> Value {
    let list = |k: &str| -> Vec<Value> {
        t.get(k)
            .and_then(Value::as_array)
            .map(|a| a.iter().map(echo_container).collect())
            .unwrap_or_default()
    };
    let mut out = Map::new();
    out.insert("configs".into(), render::configs(t));
    if let Some(a) = t.get("affinity").filter(|a| a.is_object()) {
        out.insert("affinity".into(), a.clone());
    }
    out.insert("init_containers".into(), json!(list("init_containers")));
    out.insert("containers".into(), json!(list("containers")));
    Value::Object(out)
}

/// The body of the 201 answer (and of get and list).
fn body(plan: &Plan, id: &str, project: &str, at: Instant) -> Value {
    let (group_id, node_ids) = match &plan.target {
        Target::Group(g) => (g.clone(), Vec::new()),
        Target::Node(n) => (String::new(), vec![n.clone()]),
    };
    let mut b = json!({
        "created_at": at.go_string(),
        "replicas": plan.replicas,
        "ready_replicas": 0,
        "description": plan.description,
        "group_id": group_id,
        "node_ids": node_ids,
        "id": id,
        "name": plan.name,
        "source": plan.source,
        "template": echo_template(&plan.template),
        "state": "",
        "project_id": project,
        "updated_at": at.go_string(),
        "api_version": "v3",
        "source_id": "",
    });
    if !plan.tags.is_empty() {
        b["tags"] = plan
            .tags
            .iter()
            .map(|(k, v)| json!({"key": k, "value": v}))
            .collect();
    }
    if let Some(a) = &plan.annotations {
        b["annotations"] = Value::Object(a.clone());
    }
    b
}

/// `POST /v3/{project_id}/edgemgr/deployments`.
pub fn create(req: &Request, p: &Project) -> IefResult<Response> {
    let raw: Value = serde_json::from_slice(&req.body).map_err(|e| {
        IefError::bad(
            crate::error::BAD_BODY,
            format!(
                "the request body is not valid JSON: {}",
                computehub_sdk::params::json_reason(&e)
            ),
        )
    })?;
    let plan = validate::deployment(&raw, req.header("ief-instance-id"))?;
    match &plan.target {
        Target::Node(n) => project::target_nodes(p, false, n, "node_ids[0]")?,
        Target::Group(g) => project::target_nodes(p, true, g, "group_id")?,
    };
    if let Some(g) = &plan.autonomy_group {
        project::target_nodes(p, true, g, "deployment.annotations.autonomy_edge_selector")?;
    }
    // Never take over a Deployment the platform did not make.
    if let Some(existing) = kubernetes::get(
        &p.cluster,
        "apps/v1",
        "Deployment",
        Some(&p.namespace),
        &plan.name,
    )? {
        let existing: Value = serde_json::from_str(&existing).unwrap_or(Value::Null);
        if existing
            .pointer("/metadata/labels")
            .and_then(|l| l.get(DEPLOYMENT_LABEL))
            .is_none()
        {
            return Err(name_taken(&plan.name));
        }
    }
    let id = uuid()?;
    let manifest = render::deployment(&plan, &id, &p.namespace);
    crate::validate::pod::annotations_fit(&manifest)?;
    let answer = body(&plan, &id, &p.project_id, Instant::now());
    let row = inventory::insert(
        DEPLOYMENTS,
        &[
            inventory::field("project", p.row_id.as_str()),
            inventory::field("deployment_id", id.as_str()),
            inventory::field("name", plan.name.as_str()),
            inventory::field("body", answer.to_string()),
        ],
    )
    .map_err(|e| match e {
        inventory::Error::Conflict(_) => name_taken(&plan.name),
        other => other.into(),
    })?;
    let namespace = json!({
        "apiVersion": "v1", "kind": "Namespace",
        "metadata": {"name": p.namespace, "labels": {"ief.computehub.io/project-id": p.project_id}},
    });
    let applied = kubernetes::apply(&p.cluster, &namespace.to_string())
        .and_then(|_| kubernetes::apply(&p.cluster, &manifest.to_string()));
    if let Err(e) = applied {
        let _ = inventory::delete(DEPLOYMENTS, &row.id);
        return Err(e.into());
    }
    Ok(ief::ok(201, &answer))
}

fn name_taken(name: &str) -> IefError {
    IefError {
        status: 409,
        code: NAME_TAKEN,
        msg: format!("`name`: a deployment named `{name}` already exists in this project"),
    }
}

fn not_found(id: &str) -> IefError {
    IefError {
        status: 404,
        code: DEPLOYMENT_NOT_FOUND,
        msg: format!("deployment `{id}` not found"),
    }
}

fn find(p: &Project, id: &str) -> IefResult<Row> {
    let q = RowQuery::new()
        .eq("project", p.row_id.as_str())
        .eq("deployment_id", id)
        .limit(1);
    inventory::query(DEPLOYMENTS, &q)?
        .rows
        .into_iter()
        .next()
        .ok_or_else(|| not_found(id))
}

/// The stored body with the live `ready_replicas`.
fn live(p: &Project, row: &Row) -> IefResult<Value> {
    let mut b: Value = serde_json::from_str(row.text("body").unwrap_or("{}"))
        .map_err(|e| IefError::internal(format!("a stored deployment is not JSON: {e}")))?;
    let name = row.text("name").unwrap_or("");
    let d = kubernetes::get(
        &p.cluster,
        "apps/v1",
        "Deployment",
        Some(&p.namespace),
        name,
    )?;
    let ready = d
        .and_then(|d| serde_json::from_str::<Value>(&d).ok())
        .and_then(|d| d.pointer("/status/readyReplicas").and_then(Value::as_i64))
        .unwrap_or(0);
    b["ready_replicas"] = json!(ready);
    Ok(b)
}

/// `GET /v3/{project_id}/edgemgr/deployments/{deployment_id}`.
pub fn get(req: &Request, p: &Project) -> IefResult<Response> {
    let id = req.route_param("deployment_id").unwrap_or("");
    let row = find(p, id)?;
    Ok(ief::ok(200, &live(p, &row)?))
}

/// `limit` (1-1000, default 1000) and `offset` (default 0).
pub fn page_params(params: &computehub_sdk::Params) -> IefResult<(usize, usize)> {
    let int = |name: &str, lo: i64, hi: i64| -> IefResult<Option<i64>> {
        let n = params
            .optional_i64(name)
            .map_err(|_| IefError::wrong_type(name, "an integer"))?;
        match n {
            Some(n) if !(lo..=hi).contains(&n) => Err(IefError::range(
                name,
                &format!("must be an integer from {lo} to {hi}, got {n}"),
            )),
            other => Ok(other),
        }
    };
    let limit = int("limit", 1, 1000)?.unwrap_or(1000);
    let offset = int("offset", 0, i64::from(u32::MAX))?.unwrap_or(0);
    Ok((
        usize::try_from(limit).unwrap_or(1000),
        usize::try_from(offset).unwrap_or(0),
    ))
}

/// `GET /v3/{project_id}/edgemgr/deployments` (`name`, `node_id`,
/// `group_id`, `limit`, `offset`): `{count, deployments}`.
pub fn list(req: &Request, p: &Project) -> IefResult<Response> {
    let params = req
        .params()
        .map_err(|e| IefError::bad(crate::error::WRONG_TYPE, e.to_string()))?;
    let (limit, offset) = page_params(&params)?;
    let text = |k: &str| {
        params
            .optional_str(k)
            .ok()
            .flatten()
            .filter(|v| !v.is_empty())
    };
    if let Some(sort) = text("sort") {
        if !["created_at", "name"].contains(&sort.trim_start_matches('-')) {
            return Err(IefError::not_allowed("sort", sort, &["created_at", "name"]));
        }
    }
    let q = RowQuery::new().eq("project", p.row_id.as_str());
    let rows = inventory::query(DEPLOYMENTS, &q)?.rows;
    let mut found = Vec::new();
    for row in &rows {
        let b: Value =
            serde_json::from_str(row.text("body").unwrap_or("{}")).unwrap_or(Value::Null);
        let keep = text("name").is_none_or(|n| b["name"] == n)
            && text("group_id").is_none_or(|g| b["group_id"] == g)
            && text("node_id").is_none_or(|n| {
                b["node_ids"]
                    .as_array()
                    .is_some_and(|a| a.iter().any(|x| x == n))
            });
        if keep {
            found.push((row.created_at.clone(), row));
        }
    }
    match text("sort") {
        Some("name") => found.sort_by(|a, b| a.1.text("name").cmp(&b.1.text("name"))),
        Some("-name") => found.sort_by(|a, b| b.1.text("name").cmp(&a.1.text("name"))),
        Some("-created_at") => found.sort_by(|a, b| b.0.cmp(&a.0)),
        _ => found.sort_by(|a, b| a.0.cmp(&b.0)),
    }
    let count = found.len();
    let deployments = found
        .iter()
        .skip(offset)
        .take(limit)
        .map(|(_, row)| live(p, row))
        .collect::<IefResult<Vec<_>>>()?;
    Ok(ief::ok(
        200,
        &computehub_sdk::object! { "count" => count, "deployments" => deployments },
    ))
}

/// `DELETE /v3/{project_id}/edgemgr/deployments/{deployment_id}`: the
/// Deployment (its pods go with it) and the record; 204.
pub fn delete(req: &Request, p: &Project) -> IefResult<Response> {
    let id = req.route_param("deployment_id").unwrap_or("");
    let row = find(p, id)?;
    let name = row.text("name").unwrap_or("");
    kubernetes::delete(
        &p.cluster,
        "apps/v1",
        "Deployment",
        Some(&p.namespace),
        name,
    )?;
    inventory::delete(DEPLOYMENTS, &row.id)?;
    Ok(computehub_sdk::response::empty(204))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uuids_are_version_4() {
        let u = uuid().unwrap();
        assert_eq!(u.len(), 36);
        assert_eq!(&u[14..15], "4");
        assert!(matches!(&u[19..20], "8" | "9" | "a" | "b"));
        assert_ne!(u, uuid().unwrap());
    }
}
