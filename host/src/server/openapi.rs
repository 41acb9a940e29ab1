//! `GET /openapi.json`: one OpenAPI 3.1 document assembled from the route
//! fragments of the loaded plugins, plus the host's own endpoints.

use serde_json::{json, Map, Value};

use crate::registry::{router::method_name, Table};

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
    add(
        "/healthz",
        "get",
        json!({"summary": "Liveness", "tags": ["host"], "responses": {"200": {"description": "ok"}}}),
    );
    add(
        "/metrics",
        "get",
        json!({"summary": "Prometheus metrics", "tags": ["host"], "responses": {"200": {"description": "text exposition"}}}),
    );
    for p in table.plugins.values() {
        for r in &p.routes {
            let mut op = match &r.openapi {
                Some(Value::Object(m)) => m.clone(),
                _ => Map::new(),
            };
            op.entry("tags").or_insert_with(|| json!([p.id]));
            op.entry("responses")
                .or_insert_with(|| json!({"200": {"description": "success"}}));
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
            add(&r.path, method_name(r.method), Value::Object(op));
        }
    }
    json!({
        "openapi": "3.1.0",
        "info": {"title": "computehub", "version": env!("CARGO_PKG_VERSION")},
        "paths": paths,
        "components": {"securitySchemes": {
            "bearer": {"type": "http", "scheme": "bearer"},
            "session": {"type": "http", "scheme": "bearer"},
            "basic": {"type": "http", "scheme": "basic"},
            "x-auth-token": {"type": "apiKey", "in": "header", "name": "X-Auth-Token"},
            "aksk": {"type": "apiKey", "in": "header", "name": "Authorization",
                "description": "Huawei SDK-HMAC-SHA256 request signing: `SDK-HMAC-SHA256 Access=<AK>, SignedHeaders=host;x-sdk-date;..., Signature=<hex>` with `X-Sdk-Date`"},
        }},
    })
}
