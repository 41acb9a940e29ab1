//! Clusters built from the center's own devices, over SSH with the devices'
//! sealed credentials (the plugin never sees them), as persisted operations
//! ([`computehub_sdk::provision`]):
//!
//! - `cpccluster/new_cluster`: an idle device becomes the control plane;
//!   the cluster is stored with its kubeconfig and join command sealed, the
//!   device occupied with role `master`;
//! - `cpcworker/new_cpcworker`: an idle device joins with a fresh join token
//!   created on the control plane, and becomes occupied (`worker`);
//! - `cpcworker/delete_cpcworker`: the node is drained and deleted, the
//!   machine reset, the device idle again;
//! - `/computing/cpcluster_delete`: every member reset, every device
//!   released, the cluster and its stock rows removed.
//!
//! The stock of the center's widgets follows the devices that join and
//! leave: a device's `cpu_stock` (核), `memory_stock` (Gi) and `gpu_stock`
//! (卡) are added to the widget of the same type and model (converted to the
//! widget's unit) and to the cluster's stock row, and taken off again.
//!
//! A failed operation answers the document's `{"status": false, "msg":
//! "算力中心服务操作失败"}` (HTTP 200) with the phase and the reason in
//! `detail` and the operation id in `x-operation-id`.

use std::time::Duration;

use computehub_sdk::envelope::kboss;
use computehub_sdk::inventory::{self, Row, RowQuery, Value, Write};
use computehub_sdk::kubernetes::{self, Cluster};
use computehub_sdk::pricing_rules;
use computehub_sdk::provision::join::Join;
use computehub_sdk::provision::{master, worker, Failure, Job, Machine, Provisioned};
use computehub_sdk::ssh;
use computehub_sdk::{ApiError, Params, Request, Response};
use serde_json::json;

use crate::common::{
    bad, because, center, cluster_of, date, must_get, name, one_of, required_as, service_failed,
    text, CLUSTERS, DEVICES, STOCK, WIDGETS,
};

/// Deadlines of the routes here (install takes minutes).
pub fn deadline(path: &str) -> Option<u32> {
    if path.contains("new_cluster") || path.contains("new_cpcworker") {
        Some(1_800_000)
    } else if path.contains("delete_cpcworker") || path.contains("cpcluster_delete") {
        Some(600_000)
    } else {
        None
    }
}

/// The machine behind a device row.
fn machine(device: &Row) -> Result<Machine, ApiError> {
    // Checked when stored; checked again for rows older than that rule.
    let ip = device
        .text("ip")
        .filter(|ip| computehub_sdk::names::ip_ok(ip))
        .ok_or_else(|| {
            because(
                "算力设备地址无效",
                ApiError::Conflict(format!("device `{}` has no valid ip", device.id)),
            )
        })?;
    let port = device
        .integer("sshport")
        .and_then(|p| u16::try_from(p).ok())
        .unwrap_or(22);
    Ok(Machine::device(&device.id, ip, port))
}

fn device_in(cpcid: &str, field: &str, id: &str) -> Result<Row, ApiError> {
    let device = must_get(DEVICES, field, id, "算力设备")?;
    if device.text("cpcid") != Some(cpcid) {
        return Err(because(
            "算力设备不属于该算力中心",
            ApiError::BadRequest(format!(
                "parameter `{field}`: device `{id}` does not belong to compute center `{cpcid}`"
            )),
        ));
    }
    Ok(device)
}

fn must_be_idle(device: &Row, field: &str) -> Result<(), ApiError> {
    if device.text("node_status") == Some("0") {
        Ok(())
    } else {
        Err(because(
            "算力设备已被占用",
            ApiError::Conflict(format!(
                "parameter `{field}`: device `{}` is not idle",
                device.id
            )),
        ))
    }
}

/// The join command as shown: the token redacted.
fn shown(join: &Join) -> String {
    format!(
        "kubeadm join {} --token ****** --discovery-token-ca-cert-hash {}",
        join.endpoint, join.ca_hash
    )
}

/// End `job` as failed by `f`, in the kboss envelope.
fn job_failed(job: &Job, f: Failure) -> Response {
    match job.failed::<()>(f) {
        Provisioned::Failed { op, message, .. } => failed(&op, &message),
        Provisioned::Done { op, .. } => failed(&op, "the operation failed"),
    }
}

/// The document's failure of the compute center's service, the phase and
/// reason in `detail`.
fn failed(op: &str, message: &str) -> Response {
    kboss::refuse(kboss::FAILED, &format!("{message} (operation {op})"))
        .with_header("x-operation-id", op)
}

/// Stock writes for a device joining (`sign` 1) or leaving (-1) a cluster.
fn stock_writes(
    device: &Row,
    cpcid: &str,
    clusterid: &str,
    sign: i64,
) -> Result<Vec<Write>, ApiError> {
    let mut writes = Vec::new();
    for (kind, model_field, amount_field, unit) in [
        ("cpu", "cpu_model", "cpu_stock", "核"),
        ("memory", "memory_model", "memory_stock", "Gi"),
        ("gpu", "gpu_model", "gpu_stock", "卡"),
    ] {
        let (Some(model), Some(amount)) = (device.text(model_field), device.integer(amount_field))
        else {
            continue;
        };
        if amount <= 0 || model.is_empty() {
            continue;
        }
        let q = RowQuery::new()
            .eq("cpcid", cpcid)
            .eq("type", kind)
            .eq("model", model)
            .limit(1);
        let Some(widget) = inventory::query(WIDGETS, &q)?.rows.into_iter().next() else {
            continue;
        };
        let (Some((_, from)), Some((_, to))) = (
            pricing_rules::resource_unit(unit),
            widget
                .text("resource_unit")
                .and_then(pricing_rules::resource_unit),
        ) else {
            continue;
        };
        let converted = (pricing_rules::Decimal::from(amount) * from / to).trunc();
        let units: i64 = converted.to_string().parse().unwrap_or(0);
        if units <= 0 {
            continue;
        }
        let q = RowQuery::new()
            .eq("widgetid", widget.id.as_str())
            .eq("clusterid", clusterid)
            .limit(1);
        let row = inventory::query(STOCK, &q)?.rows.into_iter().next();
        let delta = if sign > 0 {
            units
        } else {
            // Never below zero: what is left of this device's share.
            let held = row.as_ref().and_then(|r| r.integer("stock")).unwrap_or(0);
            -units.min(held).min(widget.integer("stock").unwrap_or(0))
        };
        if delta == 0 {
            continue;
        }
        writes.push(Write::Add((
            WIDGETS.into(),
            widget.id.clone(),
            "stock".into(),
            Value::Integer(delta),
        )));
        match row {
            Some(r) => writes.push(Write::Add((
                STOCK.into(),
                r.id,
                "stock".into(),
                Value::Integer(delta),
            ))),
            None if delta > 0 => writes.push(Write::Insert((
                STOCK.into(),
                vec![
                    inventory::field("widgetid", widget.id.as_str()),
                    inventory::field("cpcid", cpcid),
                    inventory::field("clusterid", clusterid),
                    inventory::field("stock", delta),
                    inventory::field("consumed", 0i64),
                ],
            ))),
            None => {}
        }
    }
    Ok(writes)
}

/// The device update of a join (`Some(cluster, role)`) or a release.
fn device_write(device: &Row, membership: Option<(&str, &str)>) -> Write {
    let fields = match membership {
        Some((clusterid, role)) => vec![
            inventory::field("node_status", "1"),
            inventory::field("role", role),
            inventory::field("clusterid", clusterid),
        ],
        None => vec![
            inventory::field("node_status", "0"),
            inventory::field("role", ""),
            inventory::field("clusterid", Value::Null),
        ],
    };
    Write::Update((DEVICES.into(), device.id.clone(), fields))
}

/// `POST cpccluster/new_cluster.dspy`.
pub fn new_cluster(_req: &Request, p: &Params) -> Result<Response, ApiError> {
    let cpcid = required_as(p, "cpcid", "无算力中心ID")?;
    center(cpcid)?;
    let ctl = text(p, "ctl_nodeid")?;
    let device = device_in(cpcid, "ctl_nodeid", ctl)?;
    if one_of(p, "cluster_type", &["0", "1"])? == "1" {
        return Err(bad(
            "cluster_type",
            "0 (kubernetes; slurm is not supported yet)",
            "1",
        ));
    }
    let name = name(p, "cluster_name")?;
    let enable = date(p, "enable_date")?;
    let export = date(p, "export_date")?;
    must_be_idle(&device, "ctl_nodeid")?;
    let m = machine(&device)?;
    let installed = master::install(&m, &master::Settings::default()).map_err(service_failed)?;
    let (op, done) = match installed {
        Provisioned::Done { op, value } => (op, value),
        Provisioned::Failed { op, message, .. } => return Ok(failed(&op, &message)),
    };
    let cluster = inventory::insert(
        CLUSTERS,
        &[
            inventory::field("cpcid", cpcid),
            inventory::field("name", name),
            inventory::field("clustertype", "0"),
            inventory::field("controllerid", device.id.as_str()),
            inventory::field("enable_date", enable),
            inventory::field("export_date", export),
            inventory::field("clusterjoin", Value::secret(done.join.to_string())),
            inventory::field("kubeconfig", Value::secret(&done.kubeconfig)),
            inventory::field("ready", 1i64),
        ],
    )?;
    let mut writes = vec![device_write(&device, Some((&cluster.id, "master")))];
    writes.extend(stock_writes(&device, cpcid, &cluster.id, 1)?);
    inventory::transact(&writes)?;
    let data = json!({
        "id": device.id, "node_status": "1", "clusterid": cluster.id, "cpcid": cpcid, "role": "master",
    });
    let msg = format!("操作成功!\n加入集群凭证: {}", shown(&done.join));
    Ok(kboss::ok(&msg, &data).with_header("x-operation-id", &op))
}

/// `POST cpcworker/new_cpcworker.dspy`.
pub fn new_worker(_req: &Request, p: &Params) -> Result<Response, ApiError> {
    let cpcid = required_as(p, "cpcid", "无算力中心ID")?;
    center(cpcid)?;
    let clusterid = text(p, "clusterid")?;
    let cluster = cluster_of(cpcid, "clusterid", clusterid)?;
    let id = text(p, "worker_nodeid")?;
    let device = device_in(cpcid, "worker_nodeid", id)?;
    must_be_idle(&device, "worker_nodeid")?;
    let controller = cluster.text("controllerid").ok_or_else(|| {
        because(
            "算力集群没有控制节点",
            ApiError::Conflict(format!("cluster `{clusterid}` has no control-plane device")),
        )
    })?;
    let master_m = machine(&must_get(DEVICES, "clusterid", controller, "算力设备")?)?;
    // A fresh, short-lived token from the control plane for this join.
    let args: Vec<String> = ["token", "create", "--ttl", "1h0m0s", "--print-join-command"]
        .iter()
        .map(|s| s.to_string())
        .collect();
    let out = ssh::run(&master_m.target, "kubeadm", &args, 60_000)
        .map_err(|e| service_failed(e.into()))?;
    if out.exit_status != 0 {
        return Ok(kboss::refuse(
            kboss::FAILED,
            &format!(
                "the control plane could not create a join token: {}",
                String::from_utf8_lossy(&out.stderr).trim()
            ),
        ));
    }
    let join = Join::parse(String::from_utf8_lossy(&out.stdout).trim()).map_err(|e| {
        service_failed(ApiError::BadGateway(format!(
            "the control plane printed a join command that {e}"
        )))
    })?;
    let m = machine(&device)?;
    let k8s = Cluster::Id(clusterid.to_string());
    let installed = worker::install(
        &m,
        &join,
        computehub_sdk::provision::DEFAULT_SOURCE,
        Some(&k8s),
    )
    .map_err(service_failed)?;
    let op = match installed {
        Provisioned::Done { op, .. } => op,
        Provisioned::Failed { op, message, .. } => return Ok(failed(&op, &message)),
    };
    let mut writes = vec![device_write(&device, Some((clusterid, "worker")))];
    writes.extend(stock_writes(&device, cpcid, clusterid, 1)?);
    inventory::transact(&writes)?;
    let data = json!({
        "id": device.id, "node_status": "1", "clusterid": clusterid, "cpcid": cpcid, "role": "worker",
    });
    Ok(kboss::ok("新增工作节点成功", &data).with_header("x-operation-id", &op))
}

/// Reset a machine (`kubeadm reset -f`) in `phase`.
fn reset(job: &Job, m: &Machine, phase: &str) -> Result<(), ApiError> {
    job.check(
        m,
        phase,
        "kubeadm",
        &["reset", "-f"],
        Duration::from_secs(300),
    )
    .map(|_| ())
}

/// `POST cpcworker/delete_cpcworker.dspy`: drain, delete the node, reset
/// the machine, release the device.
pub fn delete_worker(_req: &Request, p: &Params) -> Result<Response, ApiError> {
    let cpcid = required_as(p, "cpcid", "无算力中心ID")?;
    center(cpcid)?;
    let clusterid = text(p, "clusterid")?;
    cluster_of(cpcid, "clusterid", clusterid)?;
    let id = text(p, "worker_nodeid")?;
    let device = device_in(cpcid, "worker_nodeid", id)?;
    if device.text("clusterid") != Some(clusterid) || device.text("role") != Some("worker") {
        return Err(because(
            "算力设备不是该集群的工作节点",
            ApiError::BadRequest(format!(
                "parameter `worker_nodeid`: device `{id}` is not a worker of cluster `{clusterid}`"
            )),
        ));
    }
    let m = machine(&device)?;
    let job = Job::begin(
        "remove-worker",
        &m.lock_key(),
        &["drain", "delete-node", "reset"],
    )
    .map_err(service_failed)?;
    let k8s = Cluster::Id(clusterid.to_string());
    let result = (|| {
        let node = job.phase("drain", || {
            let node = job
                .check(&m, "drain", "hostname", &[], Duration::from_secs(30))?
                .trim()
                .to_ascii_lowercase();
            match kubernetes::drain(&k8s, &node, 120_000) {
                Ok(_) | Err(kubernetes::Error::NotFound(_)) => Ok(node),
                Err(e) => Err(e.into()),
            }
        })?;
        job.phase("delete-node", || {
            kubernetes::delete(&k8s, "v1", "Node", None, &node)
                .map(|_| ())
                .map_err(ApiError::from)
        })?;
        job.phase("reset", || reset(&job, &m, "reset"))?;
        Ok(node)
    })();
    match result {
        Ok(node) => job.finish(Ok(json!({"node": node, "released": device.id}))),
        Err(f) => return Ok(job_failed(&job, f)),
    }
    let mut writes = vec![device_write(&device, None)];
    writes.extend(stock_writes(&device, cpcid, clusterid, -1)?);
    inventory::transact(&writes)?;
    let data = json!({"id": device.id, "node_status": "0", "clusterid": clusterid, "cpcid": cpcid});
    Ok(kboss::ok("移除工作节点成功", &data).with_header("x-operation-id", &job.id))
}

/// `POST /computing/cpcluster_delete.dspy`: reset every member, release
/// every device, remove the cluster and its stock.
pub fn delete_cluster(_req: &Request, p: &Params) -> Result<Response, ApiError> {
    let id = text(p, "id")?;
    let cluster = must_get(CLUSTERS, "id", id, "算力集群")?;
    let cpcid = cluster.text("cpcid").unwrap_or_default().to_string();
    let members = inventory::query(DEVICES, &RowQuery::new().eq("clusterid", id))?.rows;
    let (masters, workers): (Vec<&Row>, Vec<&Row>) = members
        .iter()
        .partition(|d| d.text("role") == Some("master"));
    let lock = match masters.first() {
        Some(d) => machine(d)?.lock_key(),
        None => format!("cluster:{id}"),
    };
    let job = Job::begin(
        "delete-cluster",
        &lock,
        &["reset-workers", "reset-master", "release"],
    )
    .map_err(service_failed)?;
    let result = (|| {
        job.phase("reset-workers", || {
            for w in &workers {
                reset(&job, &machine(w)?, "reset-workers")?;
            }
            Ok(())
        })?;
        job.phase("reset-master", || {
            for d in &masters {
                reset(&job, &machine(d)?, "reset-master")?;
            }
            Ok(())
        })?;
        job.phase("release", || {
            let mut writes = Vec::new();
            for d in &members {
                writes.push(device_write(d, None));
                writes.extend(stock_writes(d, &cpcid, id, -1)?);
            }
            inventory::transact(&writes)?;
            let mut writes = Vec::new();
            for row in inventory::query(STOCK, &RowQuery::new().eq("clusterid", id))?.rows {
                writes.push(Write::Delete((STOCK.into(), row.id)));
            }
            writes.push(Write::Delete((CLUSTERS.into(), id.to_string())));
            inventory::transact(&writes)?;
            Ok(())
        })
    })();
    if let Err(f) = result {
        return Ok(job_failed(&job, f));
    }
    job.finish(Ok(json!({"cluster": id, "released": members.len()})));
    Ok(kboss::ok("算力集群移除成功", &json!({})).with_header("x-operation-id", &job.id))
}
