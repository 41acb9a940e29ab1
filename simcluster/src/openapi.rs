//! A minimal OpenAPI surface: v3 (`/openapi/v3`, `/openapi/v3/<gv path>`) and
//! v2 (`/openapi/v2`, protobuf as kubectl 1.27/1.28 request it, or JSON).
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
        if d.is_review() {
            paths.insert(base, json!({"post": op(d, "post", "create", &write)}));
            continue;
        }
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

fn varint(v: u64, out: &mut Vec<u8>) {
    prost::encoding::encode_varint(v, out);
}

/// Appends a length-delimited protobuf field.
fn field(num: u32, data: &[u8], out: &mut Vec<u8>) {
    varint(((num << 3) | 2) as u64, out);
    varint(data.len() as u64, out);
    out.extend_from_slice(data);
}

fn message(fields: &[(u32, Vec<u8>)]) -> Vec<u8> {
    let mut out = Vec::new();
    for (n, d) in fields {
        field(*n, d, &mut out);
    }
    out
}

fn item_paths() -> Vec<(String, &'static ResourceDef)> {
    RESOURCES
        .iter()
        .filter(|d| d.stored)
        .map(|d| {
            let gv = gv_path(d.group, d.version);
            let p = if d.namespaced {
                format!("/{gv}/namespaces/{{namespace}}/{}/{{name}}", d.plural)
            } else {
                format!("/{gv}/{}/{{name}}", d.plural)
            };
            (p, d)
        })
        .collect()
}

const V2_PATCH_PARAMS: &[&str] = &["dryRun", "fieldManager", "fieldValidation", "force"];

/// `GET /openapi/v2` as the gnostic `openapi_v2.Document` protobuf: every
/// item path with a PATCH operation, its query parameters and its
/// `x-kubernetes-group-version-kind` (what kubectl's query-parameter verifier reads).
pub fn v2_protobuf() -> Vec<u8> {
    let mut paths = Vec::new();
    for (path, d) in item_paths() {
        // Operation: operation_id = 5, parameters = 8, vendor_extension = 13
        let mut op = Vec::new();
        field(5, format!("patch{}", d.kind).as_bytes(), &mut op);
        for p in V2_PATCH_PARAMS {
            // QueryParameterSubSchema { in = 2, name = 4, type = 6 } in NonBodyParameter.query (3)
            // in Parameter.non_body_parameter (2) in ParametersItem.parameter (1)
            let q = message(&[
                (2, b"query".to_vec()),
                (4, p.as_bytes().to_vec()),
                (6, b"string".to_vec()),
            ]);
            let item = message(&[(1, message(&[(2, message(&[(3, q)]))]))]);
            field(8, &item, &mut op);
        }
        let yaml = format!(
            "group: \"{}\"\nkind: {}\nversion: {}\n",
            d.group, d.kind, d.version
        );
        let any = message(&[(2, yaml.into_bytes())]);
        field(
            13,
            &message(&[(1, b"x-kubernetes-group-version-kind".to_vec()), (2, any)]),
            &mut op,
        );
        // PathItem.patch = 8; NamedPathItem { name = 1, value = 2 }; Paths.path = 2
        let item = message(&[(8, op)]);
        field(
            2,
            &message(&[(1, path.into_bytes()), (2, item)]),
            &mut paths,
        );
    }
    let info = message(&[(1, b"Kubernetes".to_vec()), (2, b"unversioned".to_vec())]);
    message(&[(1, b"2.0".to_vec()), (2, info), (8, paths)])
}

/// `GET /openapi/v2` as JSON (same content as [`v2_protobuf`]).
pub fn v2_json() -> Value {
    let mut paths = Map::new();
    for (path, d) in item_paths() {
        let params: Vec<Value> = V2_PATCH_PARAMS
            .iter()
            .map(|p| json!({"name": p, "in": "query", "type": "string"}))
            .collect();
        let op = json!({"operationId": format!("patch{}", d.kind), "parameters": params,
                        "x-kubernetes-group-version-kind": {"group": d.group, "version": d.version, "kind": d.kind}});
        paths.insert(path, json!({"patch": op}));
    }
    json!({"swagger": "2.0", "info": {"title": "Kubernetes", "version": "unversioned"}, "paths": paths, "definitions": {}})
}

#[cfg(test)]
mod tests {
    #[test]
    fn v2_encoding() {
        let pb = v2_protobuf();
        assert_eq!(&pb[..5], &[0x0a, 3, b'2', b'.', b'0']);
        let text = String::from_utf8_lossy(&pb);
        assert!(text.contains("/apis/apps/v1/namespaces/{namespace}/deployments/{name}"));
        assert!(text.contains("fieldValidation"));
        assert!(v2_json()["paths"]["/api/v1/nodes/{name}"]["patch"].is_object());
        let mut v = Vec::new();
        varint(300, &mut v);
        assert_eq!(v, [0xac, 0x02]);
    }

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
