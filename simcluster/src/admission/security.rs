//! Security contexts as `validatePodSpecSecurityContext` and
//! `ValidateSecurityContext` check them: user and group ids within
//! 0-2147483647 (`runAsUser`, `runAsGroup`, `fsGroup`,
//! `supplementalGroups`), `fsGroupChangePolicy`, the seccomp profile (a
//! known type; a `localhostProfile` exactly with `Localhost`), and a
//! container that turns privilege escalation off while being privileged or
//! adding `CAP_SYS_ADMIN`. The API server prints the whole security context
//! as that last error's value (with Go pointer addresses); here it is
//! abbreviated to `core.SecurityContext{...}`.

use serde_json::{json, Value};

use super::field::{self, items, text};
use super::Causes;

const ID_RANGE: &str = "must be between 0 and 2147483647, inclusive";
const SECCOMP_TYPES: &[&str] = &["Localhost", "RuntimeDefault", "Unconfined"];
const FS_GROUP_POLICIES: &[&str] = &["Always", "OnRootMismatch"];

fn id(sc: &Value, key: &str, path: &str, causes: &mut Causes) {
    if let Some(v) = sc.get(key).filter(|v| !v.is_null()) {
        if !v.as_i64().is_some_and(|n| (0..=2_147_483_647).contains(&n)) {
            field::invalid(causes, format!("{path}.{key}"), v, ID_RANGE);
        }
    }
}

fn seccomp(sc: &Value, path: &str, causes: &mut Causes) {
    let Some(sp) = sc.get("seccompProfile").filter(|v| !v.is_null()) else {
        return;
    };
    let path = format!("{path}.seccompProfile");
    let ty = text(sp, "type");
    if ty.is_empty() {
        field::required(
            causes,
            format!("{path}.type"),
            "type is required when seccompProfile is set",
        );
    } else if !SECCOMP_TYPES.contains(&ty) {
        field::not_supported(causes, format!("{path}.type"), &json!(ty), SECCOMP_TYPES);
    }
    let local = sp.get("localhostProfile").filter(|v| !v.is_null());
    match (ty == "Localhost", local) {
        (true, None) => field::required(
            causes,
            format!("{path}.localhostProfile"),
            "must be set when seccomp type is Localhost",
        ),
        (false, Some(_)) => field::invalid_shown(
            causes,
            format!("{path}.localhostProfile"),
            "core.SeccompProfile{...}",
            "can only be set when seccomp type is Localhost",
        ),
        _ => {}
    }
}

/// The pod's `securityContext` (under the pod spec at `prefix`).
pub(crate) fn pod(spec: &Value, prefix: &str, causes: &mut Causes) {
    let Some(sc) = spec.get("securityContext").filter(|v| v.is_object()) else {
        return;
    };
    let path = format!("{prefix}.securityContext");
    id(sc, "fsGroup", &path, causes);
    id(sc, "runAsUser", &path, causes);
    id(sc, "runAsGroup", &path, causes);
    for (i, g) in items(sc, "supplementalGroups").iter().enumerate() {
        if !g.as_i64().is_some_and(|n| (0..=2_147_483_647).contains(&n)) {
            field::invalid(
                causes,
                format!("{path}.supplementalGroups[{i}]"),
                g,
                ID_RANGE,
            );
        }
    }
    if let Some(p) = sc.get("fsGroupChangePolicy").filter(|v| !v.is_null()) {
        if !p.as_str().is_some_and(|s| FS_GROUP_POLICIES.contains(&s)) {
            field::not_supported(
                causes,
                format!("{path}.fsGroupChangePolicy"),
                p,
                FS_GROUP_POLICIES,
            );
        }
    }
    seccomp(sc, &path, causes);
}

/// A container's `securityContext` (the container at `path`).
pub(crate) fn container(c: &Value, path: &str, causes: &mut Causes) {
    let Some(sc) = c.get("securityContext").filter(|v| v.is_object()) else {
        return;
    };
    let path = format!("{path}.securityContext");
    id(sc, "runAsUser", &path, causes);
    id(sc, "runAsGroup", &path, causes);
    seccomp(sc, &path, causes);
    if sc.get("allowPrivilegeEscalation") == Some(&json!(false)) {
        if sc.get("privileged") == Some(&json!(true)) {
            field::invalid_shown(
                causes,
                path.clone(),
                "core.SecurityContext{...}",
                "cannot set `allowPrivilegeEscalation` to false and `privileged` to true",
            );
        }
        let adds = sc.pointer("/capabilities/add").and_then(Value::as_array);
        for cap in adds.into_iter().flatten() {
            if cap == "CAP_SYS_ADMIN" {
                field::invalid_shown(
                    causes,
                    path.clone(),
                    "core.SecurityContext{...}",
                    "cannot set `allowPrivilegeEscalation` to false and `capabilities.Add` CAP_SYS_ADMIN",
                );
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_seccomp_and_escalation() {
        let spec = json!({"securityContext": {"runAsUser": -1, "fsGroup": 10001,
            "supplementalGroups": [1, 4294967296u64], "seccompProfile": {"type": "Localhost"},
            "fsGroupChangePolicy": "Never"}});
        let mut causes = Causes::new();
        pod(&spec, "spec", &mut causes);
        let got: Vec<&str> = causes.iter().map(|(p, _)| p.as_str()).collect();
        assert_eq!(
            got,
            [
                "spec.securityContext.runAsUser",
                "spec.securityContext.supplementalGroups[1]",
                "spec.securityContext.fsGroupChangePolicy",
                "spec.securityContext.seccompProfile.localhostProfile",
            ]
        );
        assert_eq!(
            causes[0].1,
            "Invalid value: -1: must be between 0 and 2147483647, inclusive"
        );

        let ok = json!({"securityContext": {"runAsNonRoot": true, "runAsUser": 10001,
            "allowPrivilegeEscalation": false, "readOnlyRootFilesystem": true,
            "capabilities": {"drop": ["ALL"]}, "seccompProfile": {"type": "RuntimeDefault"}}});
        let mut causes = Causes::new();
        container(&ok, "c", &mut causes);
        assert!(causes.is_empty(), "{causes:?}");

        let bad = json!({"securityContext": {"allowPrivilegeEscalation": false, "privileged": true,
            "seccompProfile": {"type": "Default"}}});
        container(&bad, "c", &mut causes);
        assert_eq!(causes[0].0, "c.securityContext.seccompProfile.type");
        assert_eq!(
            causes[1].1,
            "Invalid value: core.SecurityContext{...}: cannot set `allowPrivilegeEscalation` to false and `privileged` to true"
        );
    }
}
