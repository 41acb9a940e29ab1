//! What the IEF area refuses, in its documented form: a pod list with
//! other than one filter, an unreachable cluster, unknown and foreign
//! projects, an empty group id beside node ids.

use super::*;

#[tokio::test(flavor = "multi_thread")]
async fn the_pod_list_takes_exactly_one_filter() {
    let e = env();
    for (query, code, field) in [
        ("pods", "IEF.100008", "node_id"),
        ("pods?limit=10", "IEF.100008", "deployment_ids"),
        (
            &format!("pods?node_id={N1}&group_id={G1}") as &str,
            "IEF.100008",
            "group_id",
        ),
        (&format!("pods?node_id={N1}&limit=0"), "IEF.100006", "limit"),
        (
            &format!("pods?node_id={N1}&limit=abc"),
            "IEF.100004",
            "limit",
        ),
        (
            &format!("pods?node_id={N1}&offset=-1"),
            "IEF.100006",
            "offset",
        ),
        ("pods?node_id=no-such-node", "IEF.100012", "node_id"),
        ("pods?group_id=no-such-group", "IEF.100012", "group_id"),
        ("pods?deployment_id=a%20b", "IEF.100005", "deployment_id"),
        ("pods?deployment_ids=a,b%21", "IEF.100005", "deployment_ids"),
    ] {
        let (status, body) = e.call("GET", query, None).await;
        assert_eq!(status, 400, "{query}: {body}");
        assert_eq!(body["error_code"], code, "{query}: {body}");
        assert!(
            body["error_msg"].as_str().unwrap().contains(field),
            "{query}: {body}"
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn an_unreachable_cluster_is_the_documented_500() {
    let e = env();
    let Env { s, sim, token, .. } = e;
    drop(sim);
    let call = |method: reqwest::Method, tail: &str, body: Option<Value>| {
        let mut r = s
            .http
            .request(method, s.url(&format!("/v3/{PROJECT}/edgemgr/{tail}")))
            .header("x-auth-token", &token);
        if let Some(b) = body {
            r = r.json(&b);
        }
        r.send()
    };
    for (method, tail, body) in [
        (reqwest::Method::GET, format!("pods?node_id={N1}"), None),
        (
            reqwest::Method::POST,
            "deployments".to_string(),
            Some(example()),
        ),
    ] {
        let r = call(method.clone(), &tail, body).await.unwrap();
        assert_eq!(r.status().as_u16(), 500, "{method} {tail}");
        let body: Value = r.json().await.unwrap();
        assert_eq!(body["error_code"], "IEF.100500", "{body}");
        let msg = body["error_msg"].as_str().unwrap();
        assert!(!msg.contains("127.0.0.1"), "no cluster detail leaks: {msg}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn unknown_and_foreign_projects_answer_the_documented_400() {
    let e = env();
    let documented = json!({"error_code": "IEF.100001", "error_msg": "PROJECT_ID not found"});
    // An acme key bound to no project, on a project acme does not have; and
    // a globex key on acme's project: the same documented answer.
    let unbound = e.s.project_key("acme", "x-auth-token", None);
    let globex = e.s.project_key("globex", "x-auth-token", None);
    for (key, project) in [(&unbound, "nope"), (&globex, PROJECT), (&globex, "nope")] {
        for (method, tail, body) in [
            ("GET", format!("pods?node_id={N1}"), None),
            ("POST", "deployments".to_string(), Some(example())),
            ("GET", "deployments".to_string(), None),
            ("GET", "deployments/whatever".to_string(), None),
            ("DELETE", "deployments/whatever".to_string(), None),
        ] {
            let path = format!("/v3/{project}/edgemgr/{tail}");
            let (status, answer) = e
                .call_with(method, &path, body.as_ref(), &[("x-auth-token", key)])
                .await;
            assert_eq!(
                (status, &answer),
                (400, &documented),
                "{method} {path} with the {} key",
                if key == &globex {
                    "globex"
                } else {
                    "unbound acme"
                }
            );
        }
    }
    // Nothing was made, in the cluster or the store.
    assert!(e.deployments().is_empty());
    let page =
        e.s.store()
            .await
            .query("acme", "ief_deployments", &Default::default())
            .await
            .unwrap();
    assert_eq!(page.total, 0);
    // A key bound to one project keeps the host's 403 on another.
    let (status, body) = e
        .call_with(
            "GET",
            "/v3/nope/edgemgr/deployments",
            None,
            &[("x-auth-token", &e.token)],
        )
        .await;
    assert_eq!(
        (status, body["error_code"].as_str()),
        (403, Some("IEF.000403"))
    );
    // The unbound acme key works on acme's own project.
    let (status, _) = e
        .call_with(
            "GET",
            &e.path("deployments"),
            None,
            &[("x-auth-token", &unbound)],
        )
        .await;
    assert_eq!(status, 200);
}

#[tokio::test(flavor = "multi_thread")]
async fn an_empty_group_id_beside_node_ids_is_absent() {
    let e = env();
    // The shape of the document's own 201 example: `"group_id": ""` beside
    // `node_ids`.
    let mut body = example();
    body["group_id"] = json!("");
    let (status, d) = e.call("POST", "deployments", Some(&body)).await;
    assert_eq!(status, 201, "{d}");
    assert_eq!(
        (d["group_id"].as_str(), &d["node_ids"]),
        (Some(""), &json!([N1]))
    );
    let k = &e.deployments()[0]["spec"]["template"]["spec"];
    assert_eq!(k["nodeSelector"], json!({NODE_LABEL: N1}));
    // And an empty `node_ids` beside a group.
    let mut grouped = example();
    grouped["name"] = json!("grouped");
    grouped["node_ids"] = json!([]);
    grouped["group_id"] = json!(G1);
    grouped["deployment"]["template"]["configs"]["migration"] = json!(false);
    let (status, g) = e.call("POST", "deployments", Some(&grouped)).await;
    assert_eq!(status, 201, "{g}");
    assert_eq!(
        (g["group_id"].as_str(), &g["node_ids"]),
        (Some(G1), &json!([]))
    );
    // Both empty is still "exactly one", none given.
    let mut neither = example();
    neither["name"] = json!("neither");
    neither["node_ids"] = json!([]);
    neither["group_id"] = json!("");
    let (status, n) = e.call("POST", "deployments", Some(&neither)).await;
    assert_eq!(status, 400);
    assert_eq!(
        n,
        json!({"error_code": "IEF.100008", "error_msg": "exactly one of `group_id`, `node_ids` is required, got none"})
    );
    assert_eq!(e.deployments().len(), 2);
}
