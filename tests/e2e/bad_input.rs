//! Bad input across every area at once: each operation that `/openapi.json`
//! documents, the built-in plugins' and the host's own (admin with the admin
//! token; the console's session routes have their own test), is sent parameters and bodies of the
//! wrong shape (a word where a number goes, numbers out of range, a huge
//! value, NUL and quotes, bodies that are not what the media type says),
//! one bad part at a time, with valid credentials of the route's scheme.
//!
//! Every answer must have a status the operation documents and a JSON body;
//! none may be a failure the host writes for a plugin (a trap, the memory
//! cap, a deadline); the store must hold what it held before (no row added,
//! changed or removed outside the audit log) and the log no panic. Each
//! area's own tests say which field and why; this one walks all of them.

use std::collections::BTreeMap;

use serde_json::Value;
use simcluster::{ClusterSpec, NodeSpec, SimCluster};

use crate::common::*;
use crate::ief::PROJECT;

const ORG: &str = "fuzz";

/// One request of bad input: the path (its parameters filled in), one
/// query parameter and a body with its media type.
struct Case {
    path: String,
    query: Option<(String, String)>,
    body: Option<(String, String)>,
}

/// The credential schemes an operation takes, as `/openapi.json` lists them
/// (any one is a way in; none: an open route).
fn schemes(op: &Value) -> Vec<&str> {
    op["security"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|s| s.as_object()?.keys().next().map(String::as_str))
        .collect()
}

/// Values of the wrong shape for a parameter of JSON schema type `ty`.
fn bad_values(ty: &str) -> Vec<String> {
    let mut v = vec![
        "x".repeat(5_000),
        "\u{0}".to_string(),
        "'\"; DROP TABLE x; --".to_string(),
        String::new(),
    ];
    match ty {
        "integer" | "number" => v.extend(
            [
                "abc",
                "-1",
                "1.5",
                "99999999999999999999999",
                "1e400",
                "0x10",
            ]
            .map(String::from),
        ),
        "boolean" => v.extend(["maybe", "2"].map(String::from)),
        "array" => v.extend(["[", "[1,", r#"[{"type":5}]"#, "{}"].map(String::from)),
        _ => v.extend(["{", "[]", "-1"].map(String::from)),
    }
    v
}

/// Bodies that are not what `media` says, or are of the wrong shape (not
/// `{}`: an operation whose fields are all optional takes it).
fn bad_bodies(media: &str) -> Vec<String> {
    if media.contains("json") {
        [
            "",
            "{",
            "[]",
            "\"x\"",
            "1",
            "null",
            r#"{"a":{"b":[1,{"c":null}]}}"#,
        ]
        .map(String::from)
        .to_vec()
    } else {
        [
            "a=%ZZ",
            "=&&=",
            "x=1&x=2&x=3",
            &format!("name={}", "y".repeat(20_000)),
        ]
        .map(String::from)
        .to_vec()
    }
}

/// Rows of every table but the audit log's, as text, on either backend (on
/// PostgreSQL each row cast to text whole).
async fn snapshot(s: &Server) -> BTreeMap<String, Vec<String>> {
    let store = s.store().await;
    let mut out = BTreeMap::new();
    for t in s.table_names().await {
        if t.contains("audit") || t.starts_with("sqlite_") {
            continue;
        }
        let sql = if on_postgres() {
            format!("SELECT CAST(t AS TEXT) FROM \"{t}\" t")
        } else {
            format!("SELECT * FROM \"{t}\"")
        };
        let rows = store.db().query(&sql, vec![]).await.unwrap();
        let mut rows: Vec<String> = rows.iter().map(|r| format!("{:?}", r.0)).collect();
        rows.sort();
        out.insert(t, rows);
    }
    out
}

#[tokio::test(flavor = "multi_thread")]
async fn every_operation_refuses_bad_input_as_it_documents_and_changes_nothing() {
    let s = Server::with(Options {
        plugins: Vec::new(),
        ..Default::default()
    });
    let bearer = s.key(ORG, "bearer");
    let basic = s.key(ORG, "basic");
    // A cluster of the organisation, also its IEF project, so that the IEF
    // operations get past the project and check what they are sent.
    let sim = SimCluster::start(ClusterSpec::new("edge").node(NodeSpec::new("edge-1")))
        .expect("simulated cluster");
    s.import_cluster_with(
        ORG,
        "edge",
        &sim.kubeconfig_yaml(),
        &["--ief-project", PROJECT],
    );
    let token = s.project_key(ORG, "x-auth-token", Some(PROJECT));
    let (status, doc) = s.get("/openapi.json").await;
    assert_eq!(status, 200);
    let before = snapshot(&s).await;

    let mut problems = Vec::new();
    let mut seen: BTreeMap<String, usize> = BTreeMap::new();
    let (mut operations, mut requests) = (0, 0);
    for (path, ops) in doc["paths"].as_object().unwrap() {
        for (method, op) in ops.as_object().unwrap() {
            let takes = schemes(op);
            let scheme = takes.first().copied().unwrap_or_default().to_string();
            if scheme == "console" {
                continue; // the console's session routes: tests/e2e/console.rs
            }
            operations += 1;
            let responses = op["responses"].as_object().unwrap();
            let params: Vec<&Value> = op["parameters"].as_array().into_iter().flatten().collect();
            // (path params, query, body with its media type)
            let mut cases: Vec<Case> = Vec::new();
            let concrete = |value: &str| -> String {
                let enc = percent_encoding::utf8_percent_encode(
                    value,
                    percent_encoding::NON_ALPHANUMERIC,
                )
                .to_string();
                path.split('/')
                    .map(|seg| match seg {
                        "{project_id}" => PROJECT,
                        _ if seg.starts_with('{') => enc.as_str(),
                        _ => seg,
                    })
                    .collect::<Vec<_>>()
                    .join("/")
            };
            let plain = concrete("nope");
            if path.contains('{') {
                for v in ["x".repeat(300), "\u{0}".into(), "%".into(), "a b".into()] {
                    cases.push(Case {
                        path: concrete(&v),
                        query: None,
                        body: None,
                    });
                }
            }
            for p in params.iter().filter(|p| p["in"] == "query") {
                let name = p["name"].as_str().unwrap_or_default().to_string();
                let ty = p["schema"]["type"].as_str().unwrap_or("string");
                for v in bad_values(ty) {
                    cases.push(Case {
                        path: plain.clone(),
                        query: Some((name.clone(), v)),
                        body: None,
                    });
                }
            }
            if let Some(content) = op["requestBody"]["content"].as_object() {
                for media in content.keys() {
                    for b in bad_bodies(media) {
                        cases.push(Case {
                            path: plain.clone(),
                            query: None,
                            body: Some((media.clone(), b)),
                        });
                    }
                    // Each documented field of the body, alone and wrong.
                    let props = content[media]["schema"]["properties"].as_object();
                    for (field, schema) in props.into_iter().flatten() {
                        let ty = schema["type"].as_str().unwrap_or("string");
                        for v in bad_values(ty).into_iter().take(6) {
                            let body = if media.contains("json") {
                                serde_json::json!({ field: v }).to_string()
                            } else {
                                format!(
                                    "{field}={}",
                                    percent_encoding::utf8_percent_encode(
                                        &v,
                                        percent_encoding::NON_ALPHANUMERIC
                                    )
                                )
                            };
                            cases.push(Case {
                                path: plain.clone(),
                                query: None,
                                body: Some((media.clone(), body)),
                            });
                        }
                    }
                }
            }
            if cases.is_empty() {
                cases.push(Case {
                    path: plain.clone(),
                    query: None,
                    body: None,
                });
            }
            for Case {
                path: url_path,
                query,
                body,
            } in cases
            {
                requests += 1;
                let mut r = s
                    .http
                    .request(method.to_uppercase().parse().unwrap(), s.url(&url_path))
                    .query(&query.iter().collect::<Vec<_>>());
                r = match scheme.as_str() {
                    "basic" => {
                        let (u, p) = basic.split_once(':').unwrap();
                        r.basic_auth(u, Some(p))
                    }
                    "aksk" | "x-auth-token" => r.header("X-Auth-Token", &token),
                    "admin" => r.bearer_auth(ADMIN),
                    "" | "metrics" => r,
                    _ => r.bearer_auth(&bearer),
                };
                if let Some((media, b)) = &body {
                    r = r.header("content-type", media).body(b.clone());
                }
                let what = format!(
                    "{} {url_path} {query:?} {:?}",
                    method.to_uppercase(),
                    body.as_ref()
                        .map(|(_, b)| b.chars().take(80).collect::<String>())
                );
                let resp = match r.send().await {
                    Ok(resp) => resp,
                    Err(e) => {
                        problems.push(format!("{what}: no answer ({e})"));
                        continue;
                    }
                };
                let code = resp.status().as_u16();
                *seen
                    .entry(format!("{} {path} {code}", method.to_uppercase()))
                    .or_insert(0) += 1;
                let text = resp.text().await.unwrap_or_default();
                let documented = responses.get(&code.to_string());
                let by_host = documented
                    .and_then(|d| d["description"].as_str())
                    .is_some_and(|d| d.contains("written by the host"));
                if documented.is_none() {
                    problems.push(format!("{what}: {code} is not documented: {text:.200}"));
                } else if code == 401
                    || (by_host && (code >= 500 || (code == 403 && scheme != "aksk")))
                {
                    problems.push(format!("{what}: {code} written by the host: {text:.200}"));
                } else if documented.is_some_and(|d| {
                    d["content"]
                        .as_object()
                        .is_none_or(|c| c.contains_key("application/json"))
                }) && serde_json::from_str::<Value>(&text).is_err()
                {
                    problems.push(format!(
                        "{what}: {code} answered with a body that is not JSON: {text:.200}"
                    ));
                }
            }
        }
    }
    // What each operation answered, for whoever reads the output.
    for (k, n) in &seen {
        println!("{n:>5} {k}");
    }
    assert!(operations >= 45, "only {operations} operations walked");
    assert!(
        problems.is_empty(),
        "{} of {requests} requests:\n{}",
        problems.len(),
        problems.join("\n")
    );
    let writes: Vec<String> = sim
        .requests()
        .into_iter()
        .filter(|r| r.method != "GET")
        .map(|r| format!("{} {} -> {}", r.method, r.uri, r.status))
        .collect();
    assert!(
        writes.is_empty(),
        "bad input reached the cluster: {writes:?}"
    );
    let after = snapshot(&s).await;
    assert!(after.len() > 10, "only tables {:?}", after.keys());
    let changed: Vec<String> = after
        .iter()
        .filter(|(t, rows)| before.get(*t) != Some(rows))
        .map(|(t, rows)| format!("{t}: {:?} -> {rows:?}", before.get(t)))
        .collect();
    assert!(
        changed.is_empty(),
        "bad input changed the store:\n{}",
        changed.join("\n")
    );
    let log = s.log_text();
    assert!(!log.contains("panicked"), "a panic in the log");
    println!("{operations} operations, {requests} requests of bad input");
}

/// Every operation that documents a credential scheme, called with none, with
/// made-up ones of every scheme and with a real key of another scheme: each
/// answer is a 401 or 403 its operation documents, in JSON, and nothing in
/// the store or the cluster changed. Failed authentications are not
/// throttled here (`--auth-failure-burst 0`), so every call reaches the
/// check instead of a 429.
#[tokio::test(flavor = "multi_thread")]
async fn every_operation_refuses_missing_made_up_and_foreign_credentials() {
    let s = Server::with(Options {
        plugins: Vec::new(),
        args: vec!["--auth-failure-burst", "0"],
        ..Default::default()
    });
    let bearer = s.key(ORG, "bearer");
    let basic = s.key(ORG, "basic");
    let (status, doc) = s.get("/openapi.json").await;
    assert_eq!(status, 200);
    let before = snapshot(&s).await;
    let (basic_user, basic_pass) = basic.split_once(':').unwrap();
    let mut problems = Vec::new();
    let (mut operations, mut requests) = (0, 0);
    for (path, ops) in doc["paths"].as_object().unwrap() {
        for (method, op) in ops.as_object().unwrap() {
            let takes = schemes(op);
            let scheme = takes.first().copied().unwrap_or_default().to_string();
            if matches!(scheme.as_str(), "" | "metrics" | "console") {
                continue; // open, or the console's session (tests/e2e/console.rs)
            }
            operations += 1;
            let url_path: String = path
                .split('/')
                .map(|seg| if seg.starts_with('{') { "nope" } else { seg })
                .collect::<Vec<_>>()
                .join("/");
            let responses = op["responses"].as_object().unwrap();
            type Auth<'a> = (
                &'a str,
                Box<dyn Fn(reqwest::RequestBuilder) -> reqwest::RequestBuilder + 'a>,
            );
            let mut ways: Vec<Auth> = vec![
                ("none", Box::new(|r| r)),
                (
                    "made-up bearer",
                    Box::new(|r| r.bearer_auth("chk.AAAAAAAAAAAAAAAA.bogus")),
                ),
                (
                    "made-up basic",
                    Box::new(|r| r.basic_auth("nobody", Some("nothing"))),
                ),
                (
                    // No key id holds NUL, and PostgreSQL refuses it in text:
                    // still a 401, never a store failure.
                    "made-up basic with NUL",
                    Box::new(|r| r.basic_auth("no\0body", Some("nothing"))),
                ),
                (
                    "made-up token",
                    Box::new(|r| r.header("X-Auth-Token", "chk.AAAAAAAAAAAAAAAA.bogus")),
                ),
                ("a word", Box::new(|r| r.header("authorization", "Bearer"))),
            ];
            // A real key of the organisation, of a scheme the route does not
            // take (any scheme it lists is a way in: `/operations` takes all).
            if !takes.contains(&"basic") {
                ways.push((
                    "a basic key",
                    Box::new(|r| r.basic_auth(basic_user, Some(basic_pass))),
                ));
            } else if !takes.contains(&"bearer") && !takes.contains(&"session") {
                ways.push(("a bearer key", Box::new(|r| r.bearer_auth(&bearer))));
            }
            for (how, auth) in &ways {
                requests += 1;
                let r = s
                    .http
                    .request(method.to_uppercase().parse().unwrap(), s.url(&url_path))
                    .header("content-type", "application/json")
                    .body("{}");
                let resp = auth(r).send().await.unwrap();
                let code = resp.status().as_u16();
                let text = resp.text().await.unwrap_or_default();
                let what = format!("{} {url_path} ({scheme}) with {how}", method.to_uppercase());
                if !matches!(code, 401 | 403) {
                    problems.push(format!("{what}: {code} {text:.200}"));
                } else if !responses.contains_key(&code.to_string()) {
                    problems.push(format!("{what}: {code} is not documented"));
                } else if serde_json::from_str::<Value>(&text).is_err() {
                    problems.push(format!("{what}: {code} not JSON: {text:.200}"));
                }
            }
        }
    }
    assert!(operations >= 60, "only {operations} operations walked");
    assert!(
        problems.is_empty(),
        "{} of {requests} requests:\n{}",
        problems.len(),
        problems.join("\n")
    );
    assert!(
        snapshot(&s).await == before,
        "a refused call changed the store"
    );
    println!("{operations} operations, {requests} requests without valid credentials");
}
