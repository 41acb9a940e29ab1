//! `GET /openapi.json`: one OpenAPI 3.1 document assembled from the route
//! fragments of the loaded plugins, plus the host's own endpoints
//! ([`host`]: probes, metrics, operations, admin API).
//!
//! Every plugin route also lists the answers the host writes itself, in the
//! route's area envelope ([`host_responses`]): authentication, an oversized
//! or slow body, a busy or failed plugin. pcapi and kboss answer every
//! failure their documents cover with 200 and `status: false` (their routes
//! say so in their own 200 response); these host answers are the only
//! other statuses they use.

mod host;

use serde_json::{json, Map, Value};

use crate::auth::Scheme;
use crate::envelope::Envelope;
use crate::registry::{router::method_name, Table};

/// The answers the host writes itself on a route (status, description),
/// in the area's envelope. A body read before its sender is verified (no
/// authentication, an AK/SK signature, kboss's debug `orgid`) is read under
/// a shared budget and a deadline: 408 and the budget's 503.
pub fn host_responses(format: &Envelope, auth: Scheme) -> Vec<(u16, String)> {
    let env = format.describe();
    let mut out = Vec::new();
    if auth != Scheme::None {
        out.push((
            401,
            format!("{env}, written by the host: no valid credentials for the route's scheme (nothing was read or run)"),
        ));
        out.push((
            403,
            format!("{env}, written by the host: the credentials may not use this route (another scheme's key, another project)"),
        ));
        out.push((
            429,
            format!("{env}, written by the host: too many failed authentications from this client or for this key id (`Retry-After`; credentials unchecked)"),
        ));
    }
    out.push((
        413,
        format!("{env}, written by the host: the body is larger than 8 MiB"),
    ));
    let unverified = matches!(auth, Scheme::None | Scheme::Aksk | Scheme::Session);
    if unverified {
        out.push((
            408,
            format!("{env}, written by the host: a body read before its sender is verified did not arrive in time"),
        ));
    }
    out.push((
        500,
        format!("{env}, written by the host: the plugin trapped or exceeded its memory cap (nothing else is affected)"),
    ));
    out.push((
        503,
        format!(
            "{env}, written by the host: the plugin is busy (no instance within 500 ms) or its deadline passed{}",
            if unverified {
                "; or the budget for bodies of unverified callers is spent (`Retry-After`)"
            } else {
                ""
            }
        ),
    ));
    out
}

/// `{name}` parameters of a path template, as OpenAPI path parameters.
fn path_parameters(template: &str) -> Value {
    let names = template
        .split('/')
        .filter_map(|s| s.strip_prefix('{')?.strip_suffix('}'))
        .map(|n| n.trim_start_matches('*'));
    Value::Array(
        names
            .map(|n| json!({"name": n, "in": "path", "required": true, "schema": {"type": "string"}}))
            .collect(),
    )
}

/// A stable, unique operationId: plugin, method and the path's words
/// (`kboss_get_dev_cpcc_cpcnode_get_cpcnode_dspy`).
fn operation_id(plugin: &str, method: &str, path: &str) -> String {
    let words: Vec<String> = path
        .split(|c: char| !c.is_ascii_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(str::to_ascii_lowercase)
        .collect();
    format!(
        "{}_{}_{}",
        plugin.replace('-', "_"),
        method.to_ascii_lowercase(),
        words.join("_")
    )
}

pub fn document(table: &Table) -> Value {
    let mut paths = Map::new();
    let mut add = |path: &str, method: &str, op: Value| {
        let entry = paths
            .entry(path.to_string())
            .or_insert_with(|| Value::Object(Map::new()));
        if let Value::Object(m) = entry {
            m.insert(method.to_ascii_lowercase(), op);
        }
    };
    for (path, method, mut op) in host::operations() {
        if path.contains('{') {
            let mut params = path_parameters(path);
            if let (Value::Array(list), Some(Value::Array(more))) =
                (&mut params, op.get("parameters").cloned())
            {
                list.extend(more);
            }
            op["parameters"] = params;
        }
        add(path, method, op);
    }
    for p in table.plugins.values() {
        for r in &p.routes {
            let mut op = match &r.openapi {
                Some(Value::Object(m)) => m.clone(),
                _ => Map::new(),
            };
            op.entry("tags").or_insert_with(|| json!([p.id]));
            let responses = op
                .entry("responses")
                .or_insert_with(|| json!({"200": {"description": "success"}}));
            if let Value::Object(responses) = responses {
                for (status, description) in host_responses(&p.envelope, r.auth) {
                    responses
                        .entry(status.to_string())
                        .or_insert_with(|| json!({ "description": description }));
                }
            }
            let scheme = r.auth.as_str();
            if scheme == "aksk" {
                // A signed request or an IAM-style token.
                op.entry("security")
                    .or_insert_with(|| json!([{ "aksk": [] }, { "x-auth-token": [] }]));
            } else if scheme != "none" {
                op.entry("security")
                    .or_insert_with(|| json!([{ scheme: [] }]));
            }
            op.insert(
                "x-computehub-plugin".into(),
                json!({"id": p.id, "version": p.version}),
            );
            op.entry("operationId")
                .or_insert_with(|| json!(operation_id(&p.id, method_name(r.method), &r.path)));
            // Every template parameter is a required string in the path,
            // unless the plugin's fragment describes it.
            let declared: Vec<String> = op
                .get("parameters")
                .and_then(Value::as_array)
                .map(|ps| {
                    ps.iter()
                        .filter(|p| p["in"] == "path")
                        .filter_map(|p| p["name"].as_str().map(str::to_string))
                        .collect()
                })
                .unwrap_or_default();
            let missing: Vec<Value> = path_parameters(&r.path)
                .as_array()
                .into_iter()
                .flatten()
                .filter(|p| !declared.iter().any(|d| p["name"] == d.as_str()))
                .cloned()
                .collect();
            if !missing.is_empty() {
                let params = op.entry("parameters").or_insert_with(|| json!([]));
                if let Value::Array(list) = params {
                    list.extend(missing);
                }
            }
            add(&r.path, method_name(r.method), Value::Object(op));
        }
    }
    json!({
        "openapi": "3.1.0",
        "info": {"title": "computehub", "version": env!("CARGO_PKG_VERSION")},
        "paths": paths,
        "components": {"schemas": host::schemas(), "securitySchemes": {
            "bearer": {"type": "http", "scheme": "bearer"},
            "session": {"type": "http", "scheme": "bearer"},
            "basic": {"type": "http", "scheme": "basic"},
            "x-auth-token": {"type": "apiKey", "in": "header", "name": "X-Auth-Token"},
            "console": {"type": "apiKey", "in": "cookie", "name": "chsession",
                "description": "a console session (`POST /console/api/session`); state-changing calls also need its `X-CSRF-Token`"},
            "admin": {"type": "http", "scheme": "bearer", "description": "the admin token"},
            "metrics": {"type": "http", "scheme": "bearer",
                "description": "the metrics token (`--metrics-token-file`); without one `/metrics` is open"},
            "aksk": {"type": "apiKey", "in": "header", "name": "Authorization",
                "description": "Huawei SDK-HMAC-SHA256 request signing: `SDK-HMAC-SHA256 Access=<AK>, SignedHeaders=host;x-sdk-date;..., Signature=<hex>` with `X-Sdk-Date`"},
        }},
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bindings::wit_types::ErrorFormat;

    #[test]
    fn host_answers_are_listed_in_the_areas_envelope() {
        let kboss = host_responses(&ErrorFormat::Kboss.into(), Scheme::Session);
        let statuses: Vec<u16> = kboss.iter().map(|(s, _)| *s).collect();
        assert_eq!(statuses, [401, 403, 429, 413, 408, 500, 503]);
        assert!(kboss
            .iter()
            .all(|(_, d)| d.starts_with("`{status: false, msg}`")));
        let pcapi = host_responses(&ErrorFormat::Pcapi.into(), Scheme::Basic);
        let statuses: Vec<u16> = pcapi.iter().map(|(s, _)| *s).collect();
        assert_eq!(statuses, [401, 403, 429, 413, 500, 503]);
        let open = host_responses(Envelope::plain(), Scheme::None);
        assert!(open.iter().all(|(s, _)| ![401, 403, 429].contains(s)));
    }

    #[test]
    fn operation_ids_and_path_parameters() {
        assert_eq!(
            operation_id("kboss", "GET", "/dev/cpcc/cpcnode/get_cpcnode.dspy"),
            "kboss_get_dev_cpcc_cpcnode_get_cpcnode_dspy"
        );
        let p = path_parameters("/v3/{project_id}/edgemgr/pods/{id}");
        assert_eq!(p[0]["name"], "project_id");
        assert_eq!(p[1]["in"], "path");
        assert_eq!(p.as_array().unwrap().len(), 2);
    }
}
