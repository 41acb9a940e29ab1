//! `/openapi.json` documents every route of the built-in plugins as their
//! API documents give them: typed parameters, request and response schemas,
//! the documents' example, secrets as the platform answers them; and the
//! host's own operations (probes, metrics, operations, admin API) with a
//! schema and an example for every answer, which the server's answers fit.

use crate::common::*;
use serde_json::Value;

/// Parameters the documents give as numbers or flags, wherever they appear.
const INTEGERS: &[&str] = &["page", "rows", "port", "sshport", "limit", "offset"];
const BOOLEANS: &[&str] = &["explain", "force", "darin"];
/// Members whose values the platform seals and shows as `******`.
const SECRETS: &[&str] = &[
    "api_pwd",
    "adminpwd",
    "source_authpasswd",
    "kubeconfig",
    "clusterjoin",
];

fn secrets_shown(v: &Value, at: &str, problems: &mut Vec<String>) {
    match v {
        Value::Object(m) => {
            for (k, x) in m {
                if SECRETS.contains(&k.as_str()) && x.as_str().is_some_and(|s| !s.is_empty()) {
                    if x != "******" {
                        problems.push(format!("{at}: example shows {k}"));
                    }
                } else {
                    secrets_shown(x, at, problems);
                }
            }
        }
        Value::Array(items) => items.iter().for_each(|x| secrets_shown(x, at, problems)),
        _ => {}
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn every_builtin_route_has_typed_parameters_schemas_and_an_example() {
    // Only the built-in plugins (no test fixtures).
    let s = Server::with(Options {
        plugins: Vec::new(),
        ..Default::default()
    });
    let (status, doc) = s.get("/openapi.json").await;
    assert_eq!(status, 200);
    let mut problems = Vec::new();
    let mut checked = 0;
    for (path, ops) in doc["paths"].as_object().unwrap() {
        for (method, op) in ops.as_object().unwrap() {
            if op.get("x-computehub-plugin").is_none() {
                continue;
            }
            checked += 1;
            let here = format!("{} {path}", method.to_uppercase());
            for p in op["parameters"].as_array().into_iter().flatten() {
                let name = p["name"].as_str().unwrap_or_default();
                let ty = &p["schema"]["type"];
                if ty.is_null() {
                    problems.push(format!("{here}: parameter {name} has no type"));
                }
                if INTEGERS.contains(&name) && ty != "integer" {
                    problems.push(format!("{here}: parameter {name} is {ty}, not integer"));
                }
                if BOOLEANS.contains(&name) && ty != "boolean" {
                    problems.push(format!("{here}: parameter {name} is {ty}, not boolean"));
                }
            }
            if let Some(content) = op["requestBody"]["content"].as_object() {
                for (media, m) in content {
                    if m["schema"]["properties"]
                        .as_object()
                        .is_none_or(|p| p.is_empty())
                    {
                        problems.push(format!("{here}: request body {media} has no schema"));
                    }
                }
            }
            let responses = op["responses"].as_object().unwrap();
            let success: Vec<(&String, &Value)> = responses
                .iter()
                .filter(|(s, _)| s.starts_with('2'))
                .collect();
            if success.is_empty() {
                problems.push(format!("{here}: no success response"));
            }
            for (status, r) in success {
                if status == "204" {
                    continue;
                }
                let body = &r["content"]["application/json"];
                if body["schema"].as_object().is_none_or(|s| s.is_empty()) {
                    problems.push(format!("{here}: {status} has no schema"));
                }
                if body["example"].is_null() {
                    problems.push(format!("{here}: {status} has no example"));
                }
                secrets_shown(&body["example"], &here, &mut problems);
            }
        }
    }
    assert!(checked >= 45, "only {checked} plugin operations documented");
    assert!(problems.is_empty(), "{}", problems.join("\n"));

    // The documents' examples, and schemas that say what they show.
    let centers = &doc["paths"]["/dev/cpcc/cpclist/get_cpclist.dspy"]["get"];
    let body = &centers["responses"]["200"]["content"]["application/json"];
    assert_eq!(body["example"]["msg"], "算力中心数据查询成功");
    assert_eq!(body["example"]["data"]["rows"][0]["api_pwd"], "******");
    assert_eq!(
        body["schema"]["oneOf"][0]["properties"]["data"]["properties"]["total"]["type"],
        "integer"
    );
    let add = &doc["paths"]["/dev/cpcc/cpcnode/add_cpcnode.dspy"]["post"];
    let form = &add["requestBody"]["content"]["application/x-www-form-urlencoded"]["schema"];
    assert_eq!(form["properties"]["sshport"]["type"], "integer");
    let create = &doc["paths"]["/v3/{project_id}/edgemgr/deployments"]["post"];
    let req = &create["requestBody"]["content"]["application/json"];
    assert_eq!(req["example"]["deployment"]["replicas"], 1);
    assert_eq!(
        req["schema"]["required"],
        serde_json::json!(["name", "deployment"])
    );
    let state = &doc["paths"]["/pcapi/api/v1/cluster/common/node_state_switch"]["post"];
    let enum_of = |name: &str| {
        state["parameters"]
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["name"] == name)
            .map(|p| p["schema"]["enum"].clone())
    };
    assert_eq!(
        enum_of("state"),
        Some(serde_json::json!(["cordon", "uncordon"]))
    );
}

/// What a value breaks of a JSON schema (the subset the document uses:
/// `$ref` into the components, type, const, enum, required, properties,
/// additionalProperties, items).
fn violations(doc: &Value, schema: &Value, v: &Value, at: &str, out: &mut Vec<String>) {
    if let Some(r) = schema["$ref"].as_str() {
        let name = r.trim_start_matches("#/components/schemas/");
        let target = &doc["components"]["schemas"][name];
        assert!(target.is_object(), "{at}: dangling {r}");
        return violations(doc, target, v, at, out);
    }
    let type_of = |v: &Value| match v {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(n) if n.is_i64() || n.is_u64() => "integer",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    };
    let types: Vec<&str> = match &schema["type"] {
        Value::String(t) => vec![t.as_str()],
        Value::Array(ts) => ts.iter().filter_map(Value::as_str).collect(),
        _ => Vec::new(),
    };
    if !types.is_empty() && !types.contains(&type_of(v)) {
        out.push(format!("{at}: {v} is not {types:?}"));
        return;
    }
    if let Some(c) = schema.get("const") {
        if c != v {
            out.push(format!("{at}: {v} is not {c}"));
        }
    }
    if let Some(e) = schema["enum"].as_array() {
        if !e.contains(v) {
            out.push(format!("{at}: {v} is not one of {e:?}"));
        }
    }
    if let Value::Object(m) = v {
        for r in schema["required"].as_array().into_iter().flatten() {
            if !m.contains_key(r.as_str().unwrap_or_default()) {
                out.push(format!("{at}: no {r}"));
            }
        }
        for (k, x) in m {
            let here = format!("{at}.{k}");
            match schema["properties"].get(k) {
                Some(s) => violations(doc, s, x, &here, out),
                None => {
                    if let Some(s) = schema.get("additionalProperties").filter(|s| s.is_object()) {
                        violations(doc, s, x, &here, out);
                    }
                }
            }
        }
    }
    if let (Value::Array(items), Some(s)) = (v, schema.get("items")) {
        for (i, x) in items.iter().enumerate() {
            violations(doc, s, x, &format!("{at}[{i}]"), out);
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn host_operations_have_schemas_examples_and_answer_as_documented() {
    let dir = tempfile::tempdir().unwrap();
    let token_file = dir.path().join("metrics-token");
    std::fs::write(&token_file, "metrics-token-0123456789\n").unwrap();
    let token_arg: &'static str = Box::leak(token_file.to_str().unwrap().into());
    let s = Server::with(Options {
        args: vec!["--metrics-token-file", token_arg],
        ..Default::default()
    });
    let (status, doc) = s.get("/openapi.json").await;
    assert_eq!(status, 200);

    // Every host operation: each answer with a schema and an example that
    // fits it; the admin API's 401.
    let mut problems = Vec::new();
    let mut host_ops = 0;
    for (path, ops) in doc["paths"].as_object().unwrap() {
        for (method, op) in ops.as_object().unwrap() {
            if op.get("x-computehub-plugin").is_some() {
                continue;
            }
            host_ops += 1;
            let here = format!("{} {path}", method.to_uppercase());
            if op["operationId"].as_str().is_none() {
                problems.push(format!("{here}: no operationId"));
            }
            if path.starts_with("/admin/") && op["responses"]["401"].is_null() {
                problems.push(format!("{here}: no 401"));
            }
            for (status, r) in op["responses"].as_object().unwrap() {
                let Some(content) = r["content"].as_object().filter(|c| !c.is_empty()) else {
                    problems.push(format!("{here}: {status} has no content"));
                    continue;
                };
                for (media, m) in content {
                    let at = format!("{here} {status} {media}");
                    if m["schema"].as_object().is_none() {
                        problems.push(format!("{at}: no schema"));
                    }
                    match m.get("example") {
                        None => problems.push(format!("{at}: no example")),
                        Some(e) => violations(&doc, &m["schema"], e, &at, &mut problems),
                    }
                }
            }
        }
    }
    assert!(host_ops >= 17, "only {host_ops} host operations documented");
    assert!(problems.is_empty(), "{}", problems.join("\n"));

    // The server answers as documented.
    let key = s.key("acme", "bearer");
    let documented = |path: &str, method: &str, status: u16| {
        doc["paths"][path][method]["responses"][status.to_string()]["content"]["application/json"]
            ["schema"]
            .clone()
    };
    let mut check = |path: &str, method: &str, status: u16, body: &Value| {
        let schema = documented(path, method, status);
        assert!(
            schema.is_object(),
            "{method} {path} {status} is not documented"
        );
        violations(
            &doc,
            &schema,
            body,
            &format!("{method} {path} {status}"),
            &mut problems,
        );
    };
    let call = |method: reqwest::Method, url: &str, token: Option<&str>| {
        let mut r = s.http.request(method, s.url(url));
        if let Some(t) = token {
            r = r.bearer_auth(t);
        }
        async move {
            let r = r.send().await.unwrap();
            let status = r.status().as_u16();
            let ct = r
                .headers()
                .get("content-type")
                .map(|v| v.to_str().unwrap().to_string());
            let text = r.text().await.unwrap();
            (status, ct, text)
        }
    };
    use reqwest::Method as M;
    for (method, url, template, token, want) in [
        (M::GET, "/healthz", "/healthz", None, 200),
        (M::GET, "/readyz", "/readyz", None, 200),
        (M::GET, "/metrics", "/metrics", None, 401),
        (M::GET, "/admin/plugins", "/admin/plugins", None, 401),
        (M::GET, "/admin/plugins", "/admin/plugins", Some(ADMIN), 200),
        (
            M::GET,
            "/admin/plugins/echo",
            "/admin/plugins/{id}",
            Some(ADMIN),
            200,
        ),
        (
            M::GET,
            "/admin/plugins/nope",
            "/admin/plugins/{id}",
            Some(ADMIN),
            404,
        ),
        (
            M::GET,
            "/admin/plugins/fixtures/grants",
            "/admin/plugins/{id}/grants",
            Some(ADMIN),
            200,
        ),
        (M::GET, "/admin/keys", "/admin/keys", Some(ADMIN), 200),
        (
            M::DELETE,
            "/admin/keys/nope",
            "/admin/keys/{id}",
            Some(ADMIN),
            404,
        ),
        (
            M::GET,
            "/admin/ssh-host-keys",
            "/admin/ssh-host-keys",
            Some(ADMIN),
            200,
        ),
        (
            M::DELETE,
            "/admin/ssh-host-keys/acme/10.0.0.9:22",
            "/admin/ssh-host-keys/{org}/{target}",
            Some(ADMIN),
            404,
        ),
        (
            M::GET,
            "/admin/audit?limit=5",
            "/admin/audit",
            Some(ADMIN),
            200,
        ),
        (
            M::GET,
            "/admin/audit?limit=5000",
            "/admin/audit",
            Some(ADMIN),
            400,
        ),
        (
            M::GET,
            "/operations/op-nope",
            "/operations/{id}",
            Some(key.as_str()),
            404,
        ),
        (M::GET, "/operations/op-nope", "/operations/{id}", None, 401),
        (
            M::GET,
            "/operations?rows=5&sort=-status",
            "/operations",
            Some(key.as_str()),
            200,
        ),
        (
            M::GET,
            "/operations?sort=output",
            "/operations",
            Some(key.as_str()),
            400,
        ),
        (M::GET, "/operations", "/operations", None, 401),
        (
            M::POST,
            "/admin/plugins/echo/check",
            "/admin/plugins/{id}/check",
            Some(ADMIN),
            400,
        ),
        (
            M::POST,
            "/admin/plugins/echo/check",
            "/admin/plugins/{id}/check",
            None,
            401,
        ),
    ] {
        let (status, ct, text) = call(method.clone(), url, token).await;
        assert_eq!(status, want, "{method} {url}: {text}");
        assert!(
            ct.is_some_and(|c| c.starts_with("application/json")),
            "{method} {url}"
        );
        let body: Value = serde_json::from_str(&text).unwrap();
        check(template, &method.as_str().to_lowercase(), status, &body);
    }
    // A dry run with a component answers its documented 200.
    let r = s
        .http
        .post(s.url("/admin/plugins/echo/check"))
        .bearer_auth(ADMIN)
        .body(wasm("echo_v2.wasm"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let body: Value = r.json().await.unwrap();
    check("/admin/plugins/{id}/check", "post", 200, &body);
    // The audit log has entries by now (the DELETEs above).
    let (_, _, text) = call(M::GET, "/admin/audit", Some(ADMIN)).await;
    let audit: Value = serde_json::from_str(&text).unwrap();
    assert!(audit["total"].as_u64().unwrap() >= 2, "{audit}");
    // With the token, `/metrics` is the text format its 200 documents.
    let (status, ct, text) = call(M::GET, "/metrics", Some("metrics-token-0123456789")).await;
    assert_eq!(status, 200);
    let metrics = &doc["paths"]["/metrics"]["get"]["responses"];
    assert!(metrics["200"]["content"]["text/plain"].is_object());
    assert!(ct.unwrap().starts_with("text/plain"));
    assert!(text.contains("computehub_requests_total"));
    assert_eq!(
        metrics["401"]["headers"]["WWW-Authenticate"]["example"],
        "Bearer"
    );
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}
