//! A minimal OpenAPI v3 surface (`/openapi/v3` and `/openapi/v3/<gv path>`).
//!
//! kubectl (`apply`, `create`, `replace` with the default `--validate=strict`)
//! asks OpenAPI whether the server supports server-side field validation: it
//! looks for the `PATCH` operation of the kind (by its
//! `x-kubernetes-group-version-kind` extension) and its `fieldValidation`
//! query parameter. When found, kubectl skips client-side schema validation
//! and sends `?fieldValidation=Strict`. So each group version's document lists
//! every resource's paths and operations with their query parameters; schemas
//! are left out (`components.schemas` is empty), which `kubectl explain` and
//! client-side apply would need.

use serde_json::{json, Map, Value};

use crate::resources::{ResourceDef, GROUPS, RESOURCES};

fn gv_path(group: &str, version: &str) -> String {
    if group.is_empty() {
        format!("api/{version}")
    } else {
        format!("apis/{group}/{version}")
    }
}

/// `GET /openapi/v3`: the index of group-version documents.
pub fn root() -> Value {
    let mut paths = Map::new();
    let mut gvs = vec![("", "v1")];
    gvs.extend(GROUPS.iter().copied());
    for (g, v) in gvs {
        let p = gv_path(g, v);
        paths.insert(
            p.clone(),
            json!({"serverRelativeURL": format!("/openapi/v3/{p}?hash=0")}),
        );
    }
    json!({"paths": paths})
}

fn param(name: &str, ty: &str) -> Value {
    json!({"name": name, "in": "query", "schema": {"type": ty, "uniqueItems": true}})
}

fn op(def: &ResourceDef, action: &str, verb: &str, extra: &[(&str, &str)]) -> Value {
    let scope = if def.namespaced { "Namespaced" } else { "" };
    let group = def.group.split('.').map(|s| {
        let mut c = s.chars();
        c.next()
            .map(|f| f.to_uppercase().collect::<String>() + c.as_str())
            .unwrap_or_default()
    });
    let group: String = group.collect::<Vec<_>>().join("");
    let version = def.version[..1].to_uppercase() + &def.version[1..];
    let core = if def.group.is_empty() { "Core" } else { "" };
    let mut params: Vec<Value> = extra.iter().map(|(n, t)| param(n, t)).collect();
    params.push(param("pretty", "string"));
    json!({
        "operationId": format!("{verb}{core}{group}{version}{scope}{}", def.kind),
        "parameters": params,
        "responses": {"200": {"description": "OK"}},
        "x-kubernetes-action": action,
        "x-kubernetes-group-version-kind": {"group": def.group, "version": def.version, "kind": def.kind}
    })
}

/// `GET /openapi/v3/<gv path>` (None when unknown).
pub fn group_version(path: &str) -> Option<Value> {
    let defs: Vec<&ResourceDef> = RESOURCES
        .iter()
        .filter(|r| gv_path(r.group, r.version) == path)
        .collect();
    if defs.is_empty() {
        return None;
    }
    let write = [
        ("dryRun", "string"),
        ("fieldManager", "string"),
        ("fieldValidation", "string"),
    ];
    let mut paths = Map::new();
    for d in defs {
        let base = if d.namespaced {
            format!("/{path}/namespaces/{{namespace}}/{}", d.plural)
        } else {
            format!("/{path}/{}", d.plural)
        };
        let mut coll = json!({"get": op(d, "list", "list", &[("labelSelector", "string"), ("fieldSelector", "string"), ("watch", "boolean")])});
        let mut item = json!({"get": op(d, "get", "read", &[])});
        if d.stored {
            coll["post"] = op(d, "post", "create", &write);
            coll["delete"] = op(
                d,
                "deletecollection",
                "deleteCollection",
                &[("dryRun", "string")],
            );
            item["put"] = op(d, "put", "replace", &write);
            let mut patch_params = write.to_vec();
            patch_params.push(("force", "boolean"));
            item["patch"] = op(d, "patch", "patch", &patch_params);
            item["delete"] = op(
                d,
                "delete",
                "delete",
                &[("dryRun", "string"), ("propagationPolicy", "string")],
            );
        }
        paths.insert(base.clone(), coll);
        paths.insert(format!("{base}/{{name}}"), item);
    }
    Some(json!({
        "openapi": "3.0.0",
        "info": {"title": "Kubernetes", "version": "unversioned"},
        "paths": paths,
        "components": {"schemas": {}}
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn documents() {
        assert!(root()["paths"]["apis/apps/v1"]["serverRelativeURL"]
            .as_str()
            .unwrap()
            .starts_with("/openapi/v3/apis/apps/v1"));
        let doc = group_version("apis/apps/v1").unwrap();
        let p = &doc["paths"]["/apis/apps/v1/namespaces/{namespace}/deployments/{name}"]["patch"];
        assert_eq!(p["x-kubernetes-group-version-kind"]["kind"], "Deployment");
        assert_eq!(p["operationId"], "patchAppsV1NamespacedDeployment");
        assert!(p["parameters"]
            .as_array()
            .unwrap()
            .iter()
            .any(|x| x["name"] == "fieldValidation"));
        assert!(
            group_version("api/v1").unwrap()["paths"]["/api/v1/namespaces/{name}"]["patch"]
                .is_object()
        );
        assert!(group_version("apis/nope/v1").is_none());
    }
}
