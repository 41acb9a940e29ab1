//! Devices (`cpcnode`): the machines of a center, listed per center, added,
//! updated, removed, and the idle ones a cluster can be built from. The SSH
//! password (`adminpwd`) is sealed by the host and answered as `******`.

use computehub_sdk::envelope::kboss::{self, Paging};
use computehub_sdk::inventory::{self, Field, RowQuery, RowRef};
use computehub_sdk::{ApiError, Params, Request, Response};
use serde_json::{Map, Value as Json};

use crate::common::*;

const SORTABLE: &[&str] = &[
    "name",
    "ip",
    "node_status",
    "devicetype",
    "sshport",
    "adminuser",
    "external_ip",
    "cpu_model",
    "cpu_stock",
    "memory_model",
    "memory_stock",
    "sysdisk_stock",
    "datadisk_stock",
    "gpu_model",
    "gpu_stock",
    "role",
    "clusterid",
    "enable_date",
    "export_date",
    "created_at",
    "update_time",
];

/// The fields of a `get_cpcnode` row after `id`, in the example's order.
const LISTED: &[&str] = &[
    "cpcid",
    "name",
    "clusterid",
    "node_status",
    "ip",
    "devicetype",
    "sshport",
    "adminuser",
    "adminpwd",
    "enable_date",
    "export_date",
    "external_ip",
    "cpu_model",
    "cpu_stock",
    "memory_model",
    "memory_stock",
    "sysdisk_stock",
    "datadisk_stock",
    "gpu_model",
    "gpu_stock",
    "role",
];

/// The row as `get_cpcnode` shows it, keys in the example's order, then
/// `cluster_name` from the document's field table (empty when the device is
/// in no cluster, or in one since removed).
fn listed<'a>(r: &'a RowRef<'a>, names: &'a [(String, String)]) -> Obj<'a> {
    let mut m = Obj::row(r, LISTED);
    if r.text("external_ip").is_none_or(str::is_empty) {
        m.set("external_ip", Cell::Text("未设置"));
    }
    let status = match r.text("node_status") {
        Some("1") => "占用",
        _ => "空闲",
    };
    let kind = match r.text("devicetype") {
        Some("1") => "物理机",
        _ => "虚拟机",
    };
    m.put("node_status_text", Cell::Text(status));
    m.put("devicetype_text", Cell::Text(kind));
    let cluster = r.text("clusterid").unwrap_or("");
    let name = names
        .iter()
        .find(|(id, _)| id == cluster)
        .map_or("", |(_, n)| n.as_str());
    m.put("cluster_name", Cell::Text(name));
    m
}

/// Names of the clusters the rows' devices belong to, one lookup per
/// distinct cluster (a page holds a handful at most).
fn cluster_names(rows: &[RowRef<'_>]) -> Result<Vec<(String, String)>, ApiError> {
    let mut names: Vec<(String, String)> = Vec::new();
    for id in rows.iter().filter_map(|r| r.text("clusterid")) {
        if id.is_empty() || names.iter().any(|(known, _)| known == id) {
            continue;
        }
        let name = inventory::get(CLUSTERS, id)?
            .and_then(|c| c.text("name").map(str::to_owned))
            .unwrap_or_default();
        names.push((id.to_owned(), name));
    }
    Ok(names)
}

/// `GET cpcnode/get_cpcnode.dspy`: one page of a center's devices.
pub fn list(_req: &Request, p: &Params) -> Result<Response, ApiError> {
    let cpcid = required_as(p, "cpcid", "无算力中心ID")?;
    let paging = Paging::from_params(p)?;
    let q = page_query(&paging, SORTABLE, &[])?.eq("cpcid", cpcid);
    // Only the shown fields, their names once for the page.
    let page = table_of(DEVICES, &q, LISTED)?;
    if page.total == 0 {
        // No rows: an empty center, or none of the caller's (404).
        center(cpcid)?;
    }
    let found: Vec<RowRef<'_>> = page.rows().collect();
    let names = cluster_names(&found)?;
    let rows: Vec<Obj> = found.iter().map(|r| listed(r, &names)).collect();
    Ok(kboss::page_of(
        "获取算力设备成功",
        page.total,
        &rows,
        &paging,
    ))
}

/// `GET cpcnode/get_cpcidle_device.dspy`: the center's idle devices.
pub fn idle(_req: &Request, p: &Params) -> Result<Response, ApiError> {
    let cpcid = required_as(p, "cpcid", "无算力中心ID")?;
    center(cpcid)?;
    let q = RowQuery::new()
        .eq("cpcid", cpcid)
        .eq("node_status", "0")
        .order("created_at", false);
    let rows = all(DEVICES, q)?;
    let listed: Vec<Obj> = rows
        .iter()
        .map(|r| {
            let mut m = Obj::row(
                r,
                &[
                    "name",
                    "clusterid",
                    "node_status",
                    "ip",
                    "devicetype",
                    "sshport",
                    "adminuser",
                    "adminpwd",
                    "cpcid",
                    "enable_date",
                    "export_date",
                ],
            );
            // The example shows an idle device's missing cluster as `null`.
            if r.text("clusterid").is_none_or(str::is_empty) {
                m.set("clusterid", Cell::Null);
            }
            m
        })
        .collect();
    Ok(kboss::ok("获取空闲设备成功", &listed))
}

/// The parameters of an add or update: (name, stored value, echoed value).
struct Device {
    fields: Vec<Field>,
    echo: Vec<(&'static str, Json)>,
}

const TEXTS: &[&str] = &["cpu_model", "memory_model", "gpu_model"];
const STOCKS: &[&str] = &[
    "cpu_stock",
    "memory_stock",
    "sysdisk_stock",
    "datadisk_stock",
    "gpu_stock",
];

fn read(p: &Params) -> Result<Device, ApiError> {
    let mut d = Device {
        fields: Vec::new(),
        echo: Vec::new(),
    };
    let mut put = |name: &'static str, stored: inventory::Value, echoed: Json| {
        d.fields.push(inventory::field(name, stored));
        d.echo.push((name, echoed));
    };
    let cpcid = required_as(p, "cpcid", "无算力中心ID")?;
    put("cpcid", cpcid.into(), echo(Some(cpcid)));
    let ip = ip(p, "ip")?;
    put("ip", ip.into(), echo(Some(ip)));
    let shown = name(p, "name")?;
    put("name", shown.into(), echo(Some(shown)));
    let kind = one_of(p, "devicetype", &["0", "1"])?;
    put("devicetype", kind.into(), echo(Some(kind)));
    let sshport = port(p, "sshport")?;
    put("sshport", sshport.into(), Json::String(sshport.to_string()));
    let user = login(p, "adminuser")?;
    put("adminuser", user.into(), echo(Some(user)));
    let status = one_of(p, "node_status", &["0", "1"])?;
    put("node_status", status.into(), echo(Some(status)));
    let external = present(p, "external_ip")?;
    let external = match external {
        "" | "未设置" => None,
        v => Some(check_ip("external_ip", v)?),
    };
    // Echoed as sent: `""` for none (the list shows `未设置`).
    put("external_ip", external.into(), echo(external));
    for &f in TEXTS {
        let v = name(p, f)?;
        put(f, v.into(), echo(Some(v)));
    }
    for &f in STOCKS {
        let n = count(p, f)?;
        put(f, n.into(), Json::String(n.to_string()));
    }
    // `role` is documented as required; empty means "no role yet".
    let role = present(p, "role")?;
    if !matches!(role, "" | "master" | "worker") {
        return Err(bad("role", "master, worker or empty", role));
    }
    let role = (!role.is_empty()).then_some(role);
    put("role", role.into(), echo(role));
    for f in ["enable_date", "export_date"] {
        let v = date(p, f)?;
        put(f, v.into(), echo(v));
    }
    // The password last: a redacted marker keeps the stored one.
    if let Some(v) = secret(p, "adminpwd")? {
        d.fields.push(inventory::field("adminpwd", v));
    }
    d.echo.push(("adminpwd", Json::String(REDACTED.into())));
    Ok(d)
}

fn conflict(e: ApiError) -> ApiError {
    match e {
        e @ ApiError::Conflict(_) => because("算力设备名称已存在", e),
        other => other,
    }
}

/// The answer's `data`: the fields as sent (sorted, as the examples show
/// them), the password redacted.
fn answer(d: Device, id: &str, id_last: bool) -> Json {
    let mut echo = d.echo;
    if !id_last {
        echo.push(("id", Json::String(id.to_owned())));
    }
    echo.sort_by(|a, b| a.0.cmp(b.0));
    let mut m: Map<String, Json> = echo.into_iter().map(|(k, v)| (k.to_owned(), v)).collect();
    if id_last {
        m.insert("id".into(), Json::String(id.to_owned()));
    }
    Json::Object(m)
}

/// `POST cpcnode/add_cpcnode.dspy`.
pub fn add(_req: &Request, p: &Params) -> Result<Response, ApiError> {
    let d = read(p)?;
    if !d.fields.iter().any(|f| f.name == "adminpwd") {
        return Err(bad("adminpwd", "a password", REDACTED));
    }
    let cpcid = required_as(p, "cpcid", "无算力中心ID")?;
    center(cpcid)?;
    let row = inventory::insert(DEVICES, &d.fields).map_err(|e| conflict(e.into()))?;
    Ok(kboss::ok("新增算力设备成功", &answer(d, &row.id, true)))
}

/// `POST cpcnode/update_cpcnode.dspy`: every field is sent again.
pub fn update(_req: &Request, p: &Params) -> Result<Response, ApiError> {
    let id = required_as(p, "id", "无算力设备ID")?;
    let d = read(p)?;
    let cpcid = required_as(p, "cpcid", "无算力中心ID")?;
    must_get(DEVICES, "id", id, "算力设备")?;
    center(cpcid)?;
    let row = inventory::update(DEVICES, id, &d.fields).map_err(|e| conflict(e.into()))?;
    // The document's own message for this answer.
    Ok(kboss::ok("更新算力中心成功", &answer(d, &row.id, false)))
}

/// `POST cpcnode/delete_cpcnode.dspy`: refused while the device controls a
/// cluster.
pub fn delete(_req: &Request, p: &Params) -> Result<Response, ApiError> {
    let id = required_as(p, "id", "无算力设备ID")?;
    must_get(DEVICES, "id", id, "算力设备")?;
    let controls = inventory::query(CLUSTERS, &RowQuery::new().eq("controllerid", id).limit(1))?;
    if let Some(cluster) = controls.rows.first() {
        return Err(because(
            "算力设备是算力集群的控制节点,无法移除",
            ApiError::Conflict(format!("device `{id}` controls cluster `{}`", cluster.id)),
        ));
    }
    inventory::delete(DEVICES, id)?;
    Ok(kboss::ok(
        "删除算力设备成功",
        &serde_json::json!({ "id": id }),
    ))
}
