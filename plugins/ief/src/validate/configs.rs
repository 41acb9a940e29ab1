//! PodConfigs (表7): host network and PID namespace, migration, restart
//! policy, toleration time, DNS policy.
//!
//! - `restart_policy`: `Always`, `OnFailure` or `Never`;
//! - `dns_policy`: `Default`, `ClusterFirst` or `ClusterFirstWithHostNet`;
//!   with `host_network` only `Default` and `ClusterFirstWithHostNet`,
//!   without it only `Default` and `ClusterFirst`;
//! - `toleration_seconds`: a non-negative integer;
//! - `migration`: required when deploying to a node group.

use super::{int_in, join, opt_bool, opt_obj, opt_str, Obj};
use crate::error::{IefError, IefResult, INCONSISTENT};

pub const RESTART_POLICIES: &[&str] = &["Always", "OnFailure", "Never"];
pub const DNS_POLICIES: &[&str] = &["Default", "ClusterFirst", "ClusterFirstWithHostNet"];

fn migration_required(path: &str) -> IefError {
    IefError::bad(
        crate::error::MISSING,
        format!(
            "`{}` is required when deploying to a node group",
            join(path, "migration")
        ),
    )
}

/// Validate `template.configs`; answers `host_network`.
pub fn validate(template: &Obj, tpath: &str, group_target: bool) -> IefResult<bool> {
    let path = join(tpath, "configs");
    let Some(c) = opt_obj(template, "configs", tpath)? else {
        if group_target {
            return Err(migration_required(&path));
        }
        return Ok(false);
    };
    let host_network = opt_bool(c, "host_network", &path)?.unwrap_or(false);
    opt_bool(c, "host_pid", &path)?;
    let migration = opt_bool(c, "migration", &path)?;
    if group_target && migration.is_none() {
        return Err(migration_required(&path));
    }
    if let Some(p) = opt_str(c, "restart_policy", &path)? {
        if !RESTART_POLICIES.contains(&p) {
            return Err(IefError::not_allowed(
                &join(&path, "restart_policy"),
                p,
                RESTART_POLICIES,
            ));
        }
    }
    int_in(c, "toleration_seconds", &path, 0, i64::from(i32::MAX))?;
    if let Some(d) = opt_str(c, "dns_policy", &path)? {
        if !DNS_POLICIES.contains(&d) {
            return Err(IefError::not_allowed(
                &join(&path, "dns_policy"),
                d,
                DNS_POLICIES,
            ));
        }
        let bad = (host_network && d == "ClusterFirst")
            || (!host_network && d == "ClusterFirstWithHostNet");
        if bad {
            let allowed = if host_network {
                "`Default` or `ClusterFirstWithHostNet` with `host_network`"
            } else {
                "`Default` or `ClusterFirst` without `host_network`"
            };
            return Err(IefError::bad(
                INCONSISTENT,
                format!(
                    "`{}` must be {allowed}, got `{d}`",
                    join(&path, "dns_policy")
                ),
            ));
        }
    }
    Ok(host_network)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn t(v: serde_json::Value) -> Obj {
        v.as_object().cloned().unwrap_or_default()
    }

    #[test]
    fn rules() {
        let ok =
            t(json!({"configs": {"host_network": true, "dns_policy": "ClusterFirstWithHostNet"}}));
        assert_eq!(validate(&ok, "x", false), Ok(true));
        let bad = t(json!({"configs": {"host_network": true, "dns_policy": "ClusterFirst"}}));
        assert_eq!(validate(&bad, "x", false).unwrap_err().code, INCONSISTENT);
        let group = t(json!({"configs": {}}));
        assert!(validate(&group, "x", true).is_err());
        let tol = t(json!({"configs": {"toleration_seconds": -1}}));
        assert!(validate(&tol, "x", false).is_err());
    }
}
