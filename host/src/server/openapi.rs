//! `GET /openapi.json`: one OpenAPI 3.1 document assembled from the route
//! fragments of the loaded plugins, plus the host's own endpoints.
//!
//! Every plugin route also lists the answers the host writes itself, in the
//! route's area envelope ([`host_responses`]): authentication, an oversized
//! or slow body, a busy or failed plugin. pcapi and kboss answer every
//! failure their documents cover with 200 and `status: false` (their routes
//! say so in their own 200 response); these host answers are the only
//! other statuses they use.

use serde_json::{json, Map, Value};

use crate::auth::Scheme;
use crate::registry::{router::method_name, Table};
use crate::runtime::bindings::wit_types::ErrorFormat;

/// The failure body of an area, as the host writes it.
fn envelope(format: ErrorFormat) -> &'static str {
    match format {
        ErrorFormat::Kboss => "`{status: false, msg}`",
        ErrorFormat::Pcapi => "`{status: false, info, data: \"\"}`",
        ErrorFormat::Alaya => "`{status: <http status>, message, data: {}}`",
        ErrorFormat::Ief => "`{error_code: \"IEF.000xxx\", error_msg}`",
        ErrorFormat::Plain => "`{error}`",
    }
}

/// The answers the host writes itself on a route (status, description),
/// in the area's envelope. A body read before its sender is verified (no
/// authentication, an AK/SK signature, kboss's debug `orgid`) is read under
/// a shared budget and a deadline: 408 and the budget's 503.
pub fn host_responses(format: ErrorFormat, auth: Scheme) -> Vec<(u16, String)> {
    let env = envelope(format);
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
            let responses = op
                .entry("responses")
                .or_insert_with(|| json!({"200": {"description": "success"}}));
            if let Value::Object(responses) = responses {
                for (status, description) in host_responses(p.error_format, r.auth) {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_answers_are_listed_in_the_areas_envelope() {
        let kboss = host_responses(ErrorFormat::Kboss, Scheme::Session);
        let statuses: Vec<u16> = kboss.iter().map(|(s, _)| *s).collect();
        assert_eq!(statuses, [401, 403, 413, 408, 500, 503]);
        assert!(kboss
            .iter()
            .all(|(_, d)| d.starts_with("`{status: false, msg}`")));
        let pcapi = host_responses(ErrorFormat::Pcapi, Scheme::Basic);
        let statuses: Vec<u16> = pcapi.iter().map(|(s, _)| *s).collect();
        assert_eq!(statuses, [401, 403, 413, 500, 503]);
        let open = host_responses(ErrorFormat::Plain, Scheme::None);
        assert!(open.iter().all(|(s, _)| ![401, 403].contains(s)));
    }
}
