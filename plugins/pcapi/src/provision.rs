//! `new_cluster` and `new_worker`: Kubernetes installed on the machine the
//! documented `host`/`port`/`user`/`psssword` name, through
//! [`computehub_sdk::provision`] (phases, cleanup, operation). This module
//! validates the documented parameters (bad input is refused naming the
//! field before anything connects) and renders the pcapi envelopes: a
//! failed operation answers the document's `{"status": false, "info":
//! "operate failed", "data": ""}` (HTTP 200), the phase and reason in
//! `detail`.
//!
//! `new_cluster`'s `data` is the documented join command and kubeconfig
//! (the caller proved it owns the machine with its SSH password); the
//! persisted operation holds neither. Answers carry `x-operation-id`.

use computehub_sdk::envelope::pcapi;
use computehub_sdk::inventory::RowQuery;
use computehub_sdk::kubernetes::Cluster;
use computehub_sdk::names;
use computehub_sdk::params::{ParamError, Params};
use computehub_sdk::provision::join::Join;
use computehub_sdk::provision::{master, worker, Machine, Provisioned};
use computehub_sdk::{ApiError, Response};

fn invalid(name: &str, reason: impl Into<String>) -> ApiError {
    ApiError::Param(ParamError::Json {
        name: name.into(),
        reason: reason.into(),
    })
}

/// The machine of the documented parameters.
fn machine(p: &Params) -> Result<Machine, ApiError> {
    let host = p.required_str("host")?.trim();
    if !names::ip_ok(host) {
        return Err(invalid(
            "host",
            format!("must be an IP address, got `{}`", host.escape_debug()),
        ));
    }
    let port = p.required_u32("port")?;
    let port = u16::try_from(port)
        .ok()
        .filter(|p| *p > 0)
        .ok_or_else(|| invalid("port", format!("must be an SSH port (1-65535), got {port}")))?;
    let user = p.required_str("user")?;
    if !names::login_name_ok(user) {
        return Err(invalid(
            "user",
            "must be a login name (1-32 of letters, digits, `_ - .`)",
        ));
    }
    let password = match p.optional_str("psssword")? {
        Some(pw) => pw,
        None => p.optional_str("password")?.ok_or_else(|| {
            ApiError::Param(ParamError::Missing {
                name: "psssword".into(),
            })
        })?,
    };
    Ok(Machine::explicit(host, port, user, password))
}

fn cluster_type(p: &Params) -> Result<(), ApiError> {
    match p.optional_str("cluster_type")? {
        Some(t) if !t.eq_ignore_ascii_case("kubernetes") => Err(invalid(
            "cluster_type",
            format!("only `kubernetes` is supported, got `{}`", t.escape_debug()),
        )),
        _ => Ok(()),
    }
}

fn role(p: &Params, allowed: &[&str]) -> Result<(), ApiError> {
    let role = p.required_str("role")?;
    if allowed.contains(&role) {
        Ok(())
    } else {
        Err(invalid(
            "role",
            format!("must be {}, got `{}`", allowed[0], role.escape_debug()),
        ))
    }
}

fn package_source(p: &Params) -> Result<String, ApiError> {
    match p.optional_str("package_source")? {
        None => Ok(computehub_sdk::provision::DEFAULT_SOURCE.to_string()),
        Some(s) if computehub_sdk::provision::source_ok(s) => Ok(s.to_string()),
        Some(_) => Err(invalid(
            "package_source",
            "must be an http(s) URL without spaces or shell characters",
        )),
    }
}

fn settings(p: &Params) -> Result<master::Settings, ApiError> {
    cluster_type(p)?;
    role(p, &["master", "control-plane", "controller"])?;
    let pod_cidr = p
        .optional_str("pod_network_cidr")?
        .unwrap_or("10.244.0.0/16");
    if !master::cidr_ok(pod_cidr) {
        return Err(invalid(
            "pod_network_cidr",
            "must be an IPv4 CIDR block such as 10.244.0.0/16",
        ));
    }
    let token_ttl = p.optional_str("token_ttl")?.unwrap_or("2h0m0s");
    if !master::ttl_ok(token_ttl) {
        return Err(invalid(
            "token_ttl",
            "must be a duration such as 2h0m0s or 30m",
        ));
    }
    Ok(master::Settings {
        source: package_source(p)?,
        pod_cidr: pod_cidr.to_string(),
        token_ttl: token_ttl.to_string(),
    })
}

fn failed(op: &str, message: &str) -> Response {
    pcapi::refuse(pcapi::FAILED, "", &format!("{message} (operation {op})"))
        .with_header("x-operation-id", op)
}

pub fn new_cluster(p: &Params) -> Result<Response, ApiError> {
    let s = settings(p)?;
    let m = machine(p)?;
    Ok(match master::install(&m, &s)? {
        Provisioned::Done { op, value } => {
            let data = format!("{} \n {}", value.join, value.kubeconfig);
            pcapi::ok("operate success", &data).with_header("x-operation-id", &op)
        }
        Provisioned::Failed { op, message, .. } => failed(&op, &message),
    })
}

/// The cluster to watch a new worker in: the `kubeconfig` the caller sent,
/// else the inventory cluster whose controller has the join endpoint's
/// address.
fn cluster_of(p: &Params, join: &Join) -> Result<Option<Cluster>, ApiError> {
    if let Some(k) = p.optional_str("kubeconfig")? {
        return Ok(Some(Cluster::Kubeconfig(k.to_string())));
    }
    let q = RowQuery::new().eq("ip", join.host());
    for d in &computehub_sdk::inventory::query("devices", &q)?.rows {
        let q = RowQuery::new().eq("controllerid", d.id.as_str()).limit(1);
        if let Some(c) = computehub_sdk::inventory::query("clusters", &q)?
            .rows
            .first()
        {
            return Ok(Some(Cluster::Id(c.id.clone())));
        }
    }
    Ok(None)
}

pub fn new_worker(p: &Params) -> Result<Response, ApiError> {
    cluster_type(p)?;
    role(p, &["worker", "node"])?;
    let join =
        Join::parse(p.required_str("join_command")?).map_err(|e| invalid("join_command", e))?;
    let source = package_source(p)?;
    let m = machine(p)?;
    let cluster = cluster_of(p, &join)?;
    Ok(
        match worker::install(&m, &join, &source, cluster.as_ref())? {
            Provisioned::Done { op, .. } => {
                pcapi::ok("operate success", &"").with_header("x-operation-id", &op)
            }
            Provisioned::Failed { op, message, .. } => failed(&op, &message),
        },
    )
}
