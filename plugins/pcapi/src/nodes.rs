//! Node operations (`node_label_opt`, `node_state_switch`,
//! `delete_cluster_node`) and resource instances (`yaml_apply_delete`).

use computehub_sdk::envelope::pcapi;
use computehub_sdk::kubernetes;
use computehub_sdk::names::{self, label_key_ok, label_value_ok};
use computehub_sdk::params::{ParamError, Params};
use computehub_sdk::workload::Workload;
use computehub_sdk::{ApiError, Response};
use serde_json::json;

use crate::cluster;

/// How long a drain may take before it is reported as failed.
const DRAIN_TIMEOUT_MS: u32 = 240_000;

fn invalid(name: &str, reason: impl Into<String>) -> ApiError {
    ApiError::Param(ParamError::Json {
        name: name.into(),
        reason: reason.into(),
    })
}

/// A node name: a DNS subdomain (lower-case, digits, `-` and `.`).
fn node_name<'a>(p: &'a Params, names: &[&str]) -> Result<&'a str, ApiError> {
    let mut found = None;
    for n in names {
        if let Some(v) = p.optional_str(n)? {
            found = Some((*n, v));
            break;
        }
    }
    let (field, v) = found.ok_or_else(|| {
        ApiError::Param(ParamError::Missing {
            name: names[0].into(),
        })
    })?;
    if names::dns_subdomain_ok(v) {
        Ok(v)
    } else {
        Err(invalid(
            field,
            format!("must be a node name (a-z, 0-9, `-`, `.`), got `{v}`"),
        ))
    }
}

fn bool_param(p: &Params, names: &[&str]) -> Result<bool, ApiError> {
    for n in names {
        if let Some(b) = p.optional_bool(n)? {
            return Ok(b);
        }
    }
    Ok(false)
}

pub fn label(p: &Params) -> Result<Response, ApiError> {
    let node = node_name(p, &["worker_node", "node_name"])?;
    let label = p.required_str("label")?;
    let opt = p.required_str("opt")?;
    let (key, value) = match label.split_once('=') {
        Some((k, v)) => (k, Some(v)),
        None => (label, None),
    };
    if !label_key_ok(key) || value.is_some_and(|v| !label_value_ok(v)) {
        return Err(invalid(
            "label",
            format!("must be a Kubernetes label `key=value`, got `{label}`"),
        ));
    }
    let c = cluster::resolve(p)?;
    let info = match opt {
        "label" => {
            let value = value.ok_or_else(|| invalid("label", "must be `key=value` to label"))?;
            kubernetes::label_node(&c, node, &[(key.to_string(), value.to_string())], &[])?;
            "节点绑定标签成功"
        }
        "unlabel" => {
            kubernetes::label_node(&c, node, &[], &[key.to_string()])?;
            "节点解绑标签成功"
        }
        other => {
            return Err(invalid(
                "opt",
                format!("must be label or unlabel, got `{other}`"),
            ))
        }
    };
    Ok(pcapi::ok(info, &json!({})))
}

pub fn state_switch(p: &Params) -> Result<Response, ApiError> {
    let node = node_name(p, &["worker_node", "node_name"])?;
    let state = p.required_str("state")?;
    let drain = bool_param(p, &["darin", "drain"])?;
    let cordon = match state {
        "cordon" => true,
        "uncordon" => false,
        other => {
            return Err(invalid(
                "state",
                format!("must be cordon or uncordon, got `{other}`"),
            ))
        }
    };
    if drain && !cordon {
        return Err(invalid("darin", "a node can only be drained when cordoned"));
    }
    let c = cluster::resolve(p)?;
    if drain {
        kubernetes::drain(&c, node, DRAIN_TIMEOUT_MS)?;
    } else {
        kubernetes::cordon(&c, node, cordon)?;
    }
    // A failure answers `switch node failed` with the same data (lib.rs).
    let data = json!({"state": state, "drain": drain, "node_name": node});
    Ok(pcapi::ok("switch node success", &data))
}

pub fn delete(p: &Params) -> Result<Response, ApiError> {
    let node = node_name(p, &["node_name", "worker_node"])?;
    let force = bool_param(p, &["force"])?;
    let c = cluster::resolve(p)?;
    if force {
        kubernetes::drain(&c, node, DRAIN_TIMEOUT_MS)?;
    }
    if !kubernetes::delete(&c, "v1", "Node", None, node)? {
        return Err(ApiError::NotFound(format!("no node `{node}`")));
    }
    // A failure answers `delete node failed` with the same data (lib.rs).
    Ok(pcapi::ok(
        "delete node success",
        &json!({"node_name": node, "force": force}),
    ))
}

pub fn yaml_apply_delete(p: &Params) -> Result<Response, ApiError> {
    let action = p.optional_str("action")?.unwrap_or("apply");
    if !matches!(action, "apply" | "delete") {
        return Err(invalid(
            "action",
            format!("must be apply or delete, got `{action}`"),
        ));
    }
    let name = |f: &str| p.optional_str(f).map(|v| v.map(str::to_string));
    let w = Workload::from_params(
        p,
        [
            name("namespace_name")?,
            name("serviceaccount_name")?,
            name("podcd_name")?,
            name("service_name")?,
        ],
    )?;
    let c = cluster::resolve(p)?;
    let manifests = w.manifest_text();
    match action {
        "apply" => {
            kubernetes::apply(&c, &manifests)?;
        }
        _ => {
            kubernetes::delete_manifests(&c, &manifests)?;
        }
    }
    Ok(pcapi::ok("operate success", &serde_json::Value::Null))
}
