//! The discovery documents (`/api`, `/apis`, `/apis/<group>`, `/api/v1`,
//! `/apis/<group>/<version>`, `/version`), rendered from the catalogue in
//! the legacy (non-aggregated) format.

use serde_json::{json, Value};

use super::{ResourceDef, GROUPS, RESOURCES};

/// `GET /api`.
pub fn core_versions() -> Value {
    json!({
        "kind": "APIVersions",
        "versions": ["v1"],
        "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": "127.0.0.1:6443"}]
    })
}

/// `GET /apis`.
pub fn group_list() -> Value {
    let groups: Vec<Value> = GROUPS.iter().map(|(g, v)| group_doc(g, v)).collect();
    json!({"kind": "APIGroupList", "apiVersion": "v1", "groups": groups})
}

fn group_doc(group: &str, version: &str) -> Value {
    let gv = json!({"groupVersion": format!("{group}/{version}"), "version": version});
    json!({"kind": "APIGroup", "apiVersion": "v1", "name": group, "versions": [gv.clone()], "preferredVersion": gv})
}

/// `GET /apis/<group>` (None when unknown).
pub fn group(group: &str) -> Option<Value> {
    GROUPS
        .iter()
        .find(|(g, _)| *g == group)
        .map(|(g, v)| group_doc(g, v))
}

/// `GET /api/v1` or `/apis/<group>/<version>` (None when unknown).
pub fn resource_list(group: &str, version: &str) -> Option<Value> {
    let defs: Vec<&ResourceDef> = RESOURCES
        .iter()
        .filter(|r| r.group == group && r.version == version)
        .collect();
    if defs.is_empty() {
        return None;
    }
    let mut resources = Vec::new();
    for d in &defs {
        let mut r = json!({
            "name": d.plural,
            "singularName": d.singular,
            "namespaced": d.namespaced,
            "kind": d.kind,
            "verbs": d.verbs(),
        });
        if !d.short_names.is_empty() {
            r["shortNames"] = json!(d.short_names);
        }
        if !d.categories.is_empty() {
            r["categories"] = json!(d.categories);
        }
        resources.push(r);
        for sub in d.subresources {
            let (kind, verbs, extra) = match *sub {
                "eviction" => ("Eviction", vec!["create"], Some(("policy", "v1"))),
                "scale" => (
                    "Scale",
                    vec!["get", "patch", "update"],
                    Some(("autoscaling", "v1")),
                ),
                "log" => ("Pod", vec!["get"], None),
                "token" => (
                    "TokenRequest",
                    vec!["create"],
                    Some(("authentication.k8s.io", "v1")),
                ),
                "finalize" => (d.kind, vec!["update"], None),
                _ => (d.kind, vec!["get", "patch", "update"], None),
            };
            let mut s = json!({
                "name": format!("{}/{}", d.plural, sub),
                "singularName": "",
                "namespaced": d.namespaced,
                "kind": kind,
                "verbs": verbs,
            });
            if let Some((g, v)) = extra {
                s["group"] = json!(g);
                s["version"] = json!(v);
            }
            resources.push(s);
        }
    }
    let gv = if group.is_empty() {
        version.to_string()
    } else {
        format!("{group}/{version}")
    };
    Some(
        json!({"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": gv, "resources": resources}),
    )
}

/// `GET /version` for a `gitVersion` such as `v1.32.4`.
pub fn version_doc(git_version: &str) -> Value {
    let trimmed = git_version.trim_start_matches('v');
    let mut parts = trimmed.split('.');
    let major = parts.next().unwrap_or("1");
    let minor = parts.next().unwrap_or("32");
    json!({
        "major": major,
        "minor": minor,
        "gitVersion": git_version,
        "gitCommit": "0000000000000000000000000000000000000000",
        "gitTreeState": "clean",
        "buildDate": "2025-01-01T00:00:00Z",
        "goVersion": "go1.23.0",
        "compiler": "gc",
        "platform": "linux/amd64"
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::resources::{by_kind, find};

    #[test]
    fn discovery_lists_eviction_as_policy_v1() {
        let list = resource_list("", "v1").unwrap();
        let ev = list["resources"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["name"] == "pods/eviction")
            .unwrap();
        assert_eq!(ev["group"], "policy");
        assert_eq!(ev["kind"], "Eviction");
        assert!(find("apps", "v1", "deployments").is_some());
        assert_eq!(
            by_kind("apps/v1", "Deployment").unwrap().key(),
            "deployments.apps"
        );
        assert!(resource_list("nope", "v1").is_none());
    }
}
