//! Clusters (`cpccluster`): a center's clusters, and the one change the
//! document allows: the name and the two dates. The kubeconfig and the join
//! command (which carries a bootstrap token) are sealed by the host and
//! answered as `******`. Clusters are created by the cluster install flow
//! (Kubernetes area) or seeded.

use computehub_sdk::envelope::kboss::{self, Paging};
use computehub_sdk::inventory::{self, Row};
use computehub_sdk::{ApiError, Params, Request, Response};
use serde_json::Value as Json;

use crate::common::*;

const SORTABLE: &[&str] = &[
    "name",
    "clustertype",
    "enable_date",
    "export_date",
    "created_at",
    "update_time",
];

fn clustertype_text(t: Option<&str>) -> &'static str {
    match t {
        Some("1") => "slurm",
        _ => "kubernetes",
    }
}

fn listed(r: &Row) -> Result<Json, ApiError> {
    let mut m = object(
        r,
        true,
        &[
            "name",
            "cpcid",
            "clustertype",
            "controllerid",
            "enable_date",
            "export_date",
            "clusterjoin",
            "kubeconfig",
        ],
    );
    // 0 installing, 1 installed (a required field; an integer always).
    let ready = r.integer("ready").unwrap_or(0);
    m.insert("ready".into(), Json::from(ready));
    // The controller's IP; `""` when there is none (or it is gone).
    let controller = match r.text("controllerid") {
        Some(id) => inventory::get(DEVICES, id)?.and_then(|d| d.text("ip").map(str::to_owned)),
        None => None,
    };
    m.insert(
        "clustertype_text".into(),
        Json::String(clustertype_text(r.text("clustertype")).into()),
    );
    m.insert("controllerid_text".into(), echo(controller.as_deref()));
    Ok(Json::Object(m))
}

/// `GET cpccluster/get_cpccluster.dspy`: a center's clusters.
pub fn list(_req: &Request, p: &Params) -> Result<Response, ApiError> {
    let cpcid = required_as(p, "cpcid", "无算力中心ID")?;
    let paging = Paging::from_params(p)?;
    let q = page_query(&paging, SORTABLE, &[])?.eq("cpcid", cpcid);
    center(cpcid)?;
    let page = inventory::query(CLUSTERS, &q)?;
    let rows = page
        .rows
        .iter()
        .map(listed)
        .collect::<Result<Vec<_>, _>>()?;
    Ok(kboss::page("获取算力集群成功", page.total, rows, &paging))
}

/// Refuses a change to a field the document says cannot change.
fn unchanged(p: &Params, field: &str, stored: Option<&str>) -> Result<(), ApiError> {
    match optional_text(p, field)? {
        Some(v) if Some(v) != stored => Err(because(
            "只能修改集群名称和两个时间参数",
            ApiError::BadRequest(format!("parameter `{field}` cannot be changed")),
        )),
        _ => Ok(()),
    }
}

/// `POST cpccluster/update_cpccluster.dspy`: only `name`, `enable_date` and
/// `export_date` change; the other documented parameters may be sent back
/// as they are, but not changed.
pub fn update(_req: &Request, p: &Params) -> Result<Response, ApiError> {
    let cpcid = required_as(p, "cpcid", "无算力中心ID")?;
    let id = required_as(p, "id", "无算力集群ID")?;
    let name = optional_text(p, "name")?
        .map(|v| check_name("name", v))
        .transpose()?;
    let enable = date(p, "enable_date")?;
    let export = date(p, "export_date")?;
    center(cpcid)?;
    let row = cluster_of(cpcid, "id", id)?;
    unchanged(p, "controllerid", row.text("controllerid"))?;
    unchanged(p, "cluster_type", row.text("clustertype"))?;
    unchanged(p, "clustertype", row.text("clustertype"))?;
    // The join command is sealed: only its redacted form may come back.
    unchanged(p, "clusterjoin", Some(REDACTED))?;
    let mut fields = Vec::new();
    if let Some(v) = name {
        fields.push(inventory::field("name", v));
    }
    if let Some(v) = enable {
        fields.push(inventory::field("enable_date", v));
    }
    if let Some(v) = export {
        fields.push(inventory::field("export_date", v));
    }
    let row = inventory::update(CLUSTERS, id, &fields)?;
    let data = Json::Object(object(
        &row,
        true,
        &["cpcid", "name", "enable_date", "export_date"],
    ));
    Ok(kboss::ok("更新算力集群成功", &data))
}
