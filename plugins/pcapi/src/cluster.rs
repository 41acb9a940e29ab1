//! Which cluster a pcapi call means: an inline `kubeconfig`, the documented
//! `host`/`port`/`user`/`psssword` of its master, resolved through the
//! inventory to the cluster whose controller device has that address, or,
//! without `host`, the documented `clusterid` (an inventory cluster id). The
//! platform never needs the SSH password here: the caller is already
//! authenticated by its API key, and credentials stay sealed in the host.

use computehub_sdk::bindings::computehub::platform::inventory;
use computehub_sdk::bindings::computehub::platform::kubernetes::Cluster;
use computehub_sdk::inventory::RowQuery;
use computehub_sdk::params::Params;
use computehub_sdk::ApiError;

pub fn resolve(p: &Params) -> Result<Cluster, ApiError> {
    if let Some(k) = p.optional_str("kubeconfig")? {
        return Ok(Cluster::Kubeconfig(k.to_string()));
    }
    let host = match p.optional_str("host")?.filter(|h| !h.trim().is_empty()) {
        Some(h) => h,
        None => return by_id(p),
    };
    let port = p.optional_u32("port")?;
    let user = p.optional_str("user")?;
    // Accepted for compatibility (documented spelling and the correct one);
    // the master's credentials are the inventory's, sealed in the host.
    let _ = p.optional_str("psssword")?.or(p.optional_str("password")?);
    let mut q = RowQuery::new().eq("ip", host);
    if let Some(port) = port {
        q = q.eq("sshport", i64::from(port));
    }
    let devices = inventory::query("devices", &q)?;
    let unknown = || {
        ApiError::NotFound(format!(
            "no cluster has a master at {host}{}",
            port.map(|p| format!(":{p}")).unwrap_or_default()
        ))
    };
    for d in &devices.rows {
        if let Some(u) = user {
            if d.fields
                .iter()
                .any(|f| f.name == "adminuser" && f.value.as_str().is_some_and(|a| a != u))
            {
                continue;
            }
        }
        let clusters = inventory::query(
            "clusters",
            &RowQuery::new().eq("controllerid", d.id.as_str()).limit(1),
        )?;
        if let Some(c) = clusters.rows.first() {
            return Ok(Cluster::Id(c.id.clone()));
        }
    }
    Err(unknown())
}

/// The cluster named by `clusterid`, when no master address was given.
fn by_id(p: &Params) -> Result<Cluster, ApiError> {
    let Some(id) = p
        .optional_str("clusterid")?
        .filter(|id| !id.trim().is_empty())
    else {
        return Err(ApiError::BadRequest(
            "missing parameter `host` (the cluster's master address); \
             or name the cluster by `clusterid` or pass its `kubeconfig`"
                .into(),
        ));
    };
    match inventory::get("clusters", id)? {
        Some(c) => Ok(Cluster::Id(c.id)),
        None => Err(ApiError::NotFound(format!("no cluster `{id}`"))),
    }
}
