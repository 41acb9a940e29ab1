//! `/openapi.json` documents every route of the built-in plugins as their
//! API documents give them: typed parameters, request and response schemas,
//! the documents' example, secrets as the platform answers them.

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
