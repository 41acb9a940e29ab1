//! The protocol: HTTPS with the cluster's CA, status errors, patch types,
//! watches from a resource version, pages with continue tokens, collection
//! deletes and metadata-only lists.

use super::*;

#[test]
fn https_with_webpki_and_bearer_token() {
    let c = cluster();
    assert!(c.url().starts_with("https://127.0.0.1:"));
    let (code, v) = call(&c, "GET", "/api/v1/nodes", "application/json", "");
    assert_eq!(code, 200);
    assert_eq!(v["kind"], "NodeList");
    assert_eq!(v["items"].as_array().unwrap().len(), 3);
    let (code, v) = call_as(&c, "GET", "/api/v1/nodes", false, "application/json", "");
    assert_eq!((code, v["reason"].as_str()), (401, Some("Unauthorized")));
    let (code, v) = call_as(&c, "GET", "/version", false, "application/json", "");
    assert_eq!((code, v["gitVersion"].as_str()), (200, Some("v1.32.4")));
    assert!(c.kubeconfig_yaml().contains("certificate-authority-data: "));
}

#[test]
fn status_errors() {
    let c = cluster();
    let (code, v) = call(
        &c,
        "GET",
        "/api/v1/namespaces/default/pods/nope",
        "application/json",
        "",
    );
    assert_eq!(
        (code, v["reason"].as_str(), v["message"].as_str()),
        (404, Some("NotFound"), Some("pods \"nope\" not found"))
    );
    let cm = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "cfg", "namespace": "default"}, "data": {"a": "1"}});
    let (code, created) = call(
        &c,
        "POST",
        "/api/v1/namespaces/default/configmaps",
        "application/json",
        &cm.to_string(),
    );
    assert_eq!(code, 201);
    let (code, v) = call(
        &c,
        "POST",
        "/api/v1/namespaces/default/configmaps",
        "application/json",
        &cm.to_string(),
    );
    assert_eq!((code, v["reason"].as_str()), (409, Some("AlreadyExists")));
    // stale resourceVersion on update
    let mut stale = created.clone();
    stale["data"]["a"] = json!("2");
    let (code, _) = call(
        &c,
        "PUT",
        "/api/v1/namespaces/default/configmaps/cfg",
        "application/json",
        &stale.to_string(),
    );
    assert_eq!(code, 200);
    let (code, v) = call(
        &c,
        "PUT",
        "/api/v1/namespaces/default/configmaps/cfg",
        "application/json",
        &stale.to_string(),
    );
    assert_eq!((code, v["reason"].as_str()), (409, Some("Conflict")));
    // invalid: selector does not match the template
    let bad = json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "d"},
        "spec": {"selector": {"matchLabels": {"app": "x"}}, "template": {"metadata": {"labels": {"app": "y"}}, "spec": {"containers": [{"name": "c", "image": "i"}]}}}});
    let (code, v) = call(
        &c,
        "POST",
        "/apis/apps/v1/namespaces/default/deployments",
        "application/json",
        &bad.to_string(),
    );
    assert_eq!((code, v["reason"].as_str()), (422, Some("Invalid")));
    assert_eq!(
        v["details"]["causes"][0]["field"],
        "spec.template.metadata.labels"
    );
    // missing namespace
    let (code, v) = call(
        &c,
        "POST",
        "/api/v1/namespaces/ghost/configmaps",
        "application/json",
        &json!({"metadata": {"name": "x"}}).to_string(),
    );
    assert_eq!(
        (code, v["message"].as_str()),
        (404, Some("namespaces \"ghost\" not found"))
    );
    // resourceVersions only grow
    let rv = |v: &Value| {
        v["metadata"]["resourceVersion"]
            .as_str()
            .unwrap()
            .parse::<u64>()
            .unwrap()
    };
    let now = c.get("v1", "ConfigMap", Some("default"), "cfg").unwrap();
    assert!(rv(&now) > rv(&created));
    assert_eq!(now["metadata"]["uid"], created["metadata"]["uid"]);
}

#[test]
fn patch_types_over_http() {
    let c = cluster();
    let path = "/api/v1/nodes/worker-1";
    let (code, v) = call(
        &c,
        "PATCH",
        path,
        "application/merge-patch+json",
        r#"{"metadata":{"labels":{"a":"1"}}}"#,
    );
    assert_eq!(
        (code, v["metadata"]["labels"]["a"].as_str()),
        (200, Some("1"))
    );
    let (code, v) = call(
        &c,
        "PATCH",
        path,
        "application/strategic-merge-patch+json",
        r#"{"spec":{"taints":[{"key":"k","value":"v","effect":"NoSchedule"}]}}"#,
    );
    assert_eq!(
        (code, v["spec"]["taints"][0]["key"].as_str()),
        (200, Some("k"))
    );
    let (code, v) = call(
        &c,
        "PATCH",
        path,
        "application/json-patch+json",
        r#"[{"op":"remove","path":"/metadata/labels/a"}]"#,
    );
    assert_eq!(code, 200);
    assert!(v["metadata"]["labels"].get("a").is_none());
    // A JSON patch applies whole or not at all: the first operation would
    // apply, the second names a missing path, so nothing changes.
    let (code, v) = call(
        &c,
        "PATCH",
        path,
        "application/json-patch+json",
        r#"[{"op":"add","path":"/metadata/labels/z","value":"1"},{"op":"replace","path":"/spec/missing","value":1}]"#,
    );
    assert_eq!((code, v["reason"].as_str()), (422, Some("Invalid")), "{v}");
    assert_eq!(
        v["message"],
        "replace operation does not apply: doc is missing path: /spec/missing"
    );
    let (_, now) = call(&c, "GET", path, "", "");
    assert!(now["metadata"]["labels"].get("z").is_none(), "{now}");
    let (code, v) = call(&c, "PATCH", path, "text/plain", "{}");
    assert_eq!(
        (code, v["reason"].as_str()),
        (415, Some("UnsupportedMediaType"))
    );
    // server-side apply creates, owns, and conflicts
    let cm = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cfg\n  namespace: default\ndata:\n  k: one\n";
    let p = "/api/v1/namespaces/default/configmaps/cfg?fieldManager=tool-a";
    let (code, v) = call(&c, "PATCH", p, "application/apply-patch+yaml", cm);
    assert_eq!(
        (code, v["metadata"]["managedFields"][0]["manager"].as_str()),
        (201, Some("tool-a"))
    );
    let (code, v) = call(
        &c,
        "PATCH",
        "/api/v1/namespaces/default/configmaps/cfg?fieldManager=tool-b",
        "application/apply-patch+yaml",
        &cm.replace("one", "two"),
    );
    assert_eq!((code, v["reason"].as_str()), (409, Some("Conflict")));
    let (code, v) = call(
        &c,
        "PATCH",
        "/api/v1/namespaces/default/configmaps/cfg?fieldManager=tool-b&force=true",
        "application/apply-patch+yaml",
        &cm.replace("one", "two"),
    );
    assert_eq!((code, v["data"]["k"].as_str()), (200, Some("two")));
}

#[test]
fn watch_streams_events_from_a_resource_version() {
    let c = cluster();
    let rv = c.resource_version();
    let mut s = tls_stream(&c);
    write_request(
        &mut s,
        &c,
        "GET",
        &format!(
            "/api/v1/namespaces/default/pods?watch=true&resourceVersion={rv}&timeoutSeconds=5"
        ),
        true,
        "application/json",
        "",
    );
    std::thread::sleep(Duration::from_millis(200));
    c.create(json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "watched", "namespace": "default"},
        "spec": {"containers": [{"name": "c", "image": "x"}]}}))
        .unwrap();
    c.delete("v1", "Pod", Some("default"), "watched").unwrap();
    let start = Instant::now();
    let mut seen = String::new();
    let mut buf = [0u8; 4096];
    while start.elapsed() < Duration::from_secs(8) && !seen.contains("\"DELETED\"") {
        match s.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => seen.push_str(&String::from_utf8_lossy(&buf[..n])),
        }
    }
    let added = seen.find("\"type\":\"ADDED\"").expect("ADDED event");
    let modified = seen
        .find("\"type\":\"MODIFIED\"")
        .expect("MODIFIED event (scheduled, started)");
    let deleted = seen.find("\"type\":\"DELETED\"").expect("DELETED event");
    assert!(added < modified && modified < deleted, "{seen}");
    assert!(seen.contains("\"name\":\"watched\""));
}

#[test]
fn lists_page_by_key_with_continue_tokens() {
    let c = cluster();
    let pod = |ns: &str, name: &str| {
        json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "namespace": ns},
               "spec": {"containers": [{"name": "c", "image": "busybox"}]}})
    };
    call(
        &c,
        "POST",
        "/api/v1/namespaces",
        "application/json",
        &json!({"metadata": {"name": "b"}}).to_string(),
    );
    for (ns, name) in [
        ("default", "p3"),
        ("b", "q1"),
        ("default", "p1"),
        ("b", "q2"),
        ("default", "p2"),
    ] {
        let path = format!("/api/v1/namespaces/{ns}/pods");
        let (code, _) = call(
            &c,
            "POST",
            &path,
            "application/json",
            &pod(ns, name).to_string(),
        );
        assert_eq!(code, 201);
    }
    let names = |list: &Value| -> Vec<String> {
        list["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|o| {
                format!(
                    "{}/{}",
                    o["metadata"]["namespace"].as_str().unwrap(),
                    o["metadata"]["name"].as_str().unwrap()
                )
            })
            .collect()
    };
    // Pages of two, in (namespace, name) order, the last without a token.
    let mut seen = Vec::new();
    let mut path = "/api/v1/pods?limit=2".to_string();
    let mut pages = 0;
    loop {
        let (code, list) = call(&c, "GET", &path, "", "");
        assert_eq!(code, 200, "{list}");
        pages += 1;
        let page = names(&list);
        assert!(page.len() <= 2, "{page:?}");
        seen.extend(page);
        let Some(token) = list["metadata"]["continue"].as_str() else {
            break;
        };
        if pages == 1 {
            // Deleting an object the first page showed moves no later one.
            let (code, _) = call(&c, "DELETE", "/api/v1/namespaces/b/pods/q1", "", "");
            assert_eq!(code, 200);
        }
        path = format!("/api/v1/pods?limit=2&continue={token}");
    }
    assert_eq!(
        seen,
        ["b/q1", "b/q2", "default/p1", "default/p2", "default/p3"]
    );
    assert_eq!(pages, 3);
    // One namespace pages within it.
    let (_, first) = call(&c, "GET", "/api/v1/namespaces/default/pods?limit=2", "", "");
    assert_eq!(names(&first), ["default/p1", "default/p2"]);
    let token = first["metadata"]["continue"].as_str().unwrap().to_string();
    let (_, rest) = call(
        &c,
        "GET",
        &format!("/api/v1/namespaces/default/pods?limit=2&continue={token}"),
        "",
        "",
    );
    assert_eq!(names(&rest), ["default/p3"]);
    assert!(rest["metadata"]["continue"].is_null());
    // A token the server did not make is refused, as kube-apiserver does.
    let (code, status) = call(&c, "GET", "/api/v1/pods?limit=2&continue=garbage", "", "");
    assert_eq!(code, 400, "{status}");
    assert!(
        status["message"].as_str().unwrap().contains("continue"),
        "{status}"
    );
}

/// An access review is answered and never stored: any shape of body is
/// an answer or a refusal, never a failure of the server.
#[test]
fn access_reviews_are_answered_not_stored() {
    let c = cluster();
    let path = "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews";
    let review = r#"{"apiVersion":"authorization.k8s.io/v1","kind":"SelfSubjectAccessReview",
        "spec":{"resourceAttributes":{"verb":"delete","resource":"nodes"}}}"#;
    let (code, v) = call(&c, "POST", path, "application/json", review);
    assert_eq!(code, 201, "{v}");
    assert_eq!(v["status"]["allowed"], true);
    assert_eq!(v["spec"]["resourceAttributes"]["resource"], "nodes");
    for (body, want) in [
        ("[]", 400),
        ("\"x\"", 400),
        ("{}", 422),
        (
            r#"{"spec":{"resourceAttributes":{},"nonResourceAttributes":{}}}"#,
            422,
        ),
        (r#"{"spec":{"resourceAttributes":[]}}"#, 422),
    ] {
        let (code, v) = call(&c, "POST", path, "application/json", body);
        assert_eq!(code, want, "{body}: {v}");
    }
    let (code, _) = call(&c, "GET", path, "", "");
    assert_eq!(code, 405);
    let (code, _) = call(&c, "GET", &format!("{path}/x"), "", "");
    assert_eq!(code, 405);
}

/// `DELETE` on a collection removes what its selector matches and answers
/// the removed objects as a list; the rest stay.
#[test]
fn deleting_a_collection_answers_what_it_removed() {
    let c = cluster();
    for (name, app) in [("a", "x"), ("b", "x"), ("keep", "y")] {
        let cm = json!({"metadata": {"name": name, "labels": {"app": app}}, "data": {"k": name}});
        let (code, _) = call(
            &c,
            "POST",
            "/api/v1/namespaces/default/configmaps",
            "application/json",
            &cm.to_string(),
        );
        assert_eq!(code, 201);
    }
    let (code, v) = call(
        &c,
        "DELETE",
        "/api/v1/namespaces/default/configmaps?labelSelector=app%3Dx",
        "application/json",
        "",
    );
    assert_eq!(
        (code, v["kind"].as_str()),
        (200, Some("ConfigMapList")),
        "{v}"
    );
    let mut removed: Vec<&str> = v["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["metadata"]["name"].as_str().unwrap())
        .collect();
    removed.sort_unstable();
    assert_eq!(removed, ["a", "b"]);
    assert_eq!(
        v["items"][0]["data"]["k"],
        v["items"][0]["metadata"]["name"]
    );
    let (_, left) = call(
        &c,
        "GET",
        "/api/v1/namespaces/default/configmaps",
        "application/json",
        "",
    );
    let left: Vec<&str> = left["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["metadata"]["name"].as_str().unwrap())
        .filter(|n| *n != "kube-root-ca.crt")
        .collect();
    assert_eq!(left, ["keep"]);
}

/// A list asked `as=PartialObjectMetadataList` (kube-rs's `list_metadata`)
/// carries each object's metadata and nothing of its spec.
#[test]
fn lists_answer_metadata_only_when_asked() {
    let c = cluster();
    let mut s = tls_stream(&c);
    let req = format!(
        "GET /api/v1/nodes HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {}\r\n\
         Accept: application/json;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1\r\n\
         Connection: close\r\n\r\n",
        c.token()
    );
    s.write_all(req.as_bytes()).unwrap();
    let (code, v) = read_response(&mut s);
    assert_eq!(code, 200, "{v}");
    assert_eq!(v["kind"], "PartialObjectMetadataList");
    assert!(v["metadata"]["resourceVersion"].is_string(), "{v}");
    let items = v["items"].as_array().unwrap();
    assert_eq!(items.len(), 3);
    assert!(items
        .iter()
        .all(|o| o["spec"].is_null() && o["status"].is_null()));
    assert!(items.iter().any(|o| o["metadata"]["name"] == "gpu-1"));
}

/// Who a request is and whether it may are decided before its body is
/// read, and a body is read to 3 MiB at most: a declared 4 MiB body that
/// never comes is answered at once, `401` without a token, `403` for an
/// account without a grant, `413` for the administrator; nothing is stored.
#[test]
fn requests_are_admitted_before_their_bodies_are_read() {
    let c = cluster();
    c.create(json!({"apiVersion": "v1", "kind": "ServiceAccount",
        "metadata": {"name": "ci", "namespace": "default"}}))
        .unwrap();
    let account = c.service_account_token("default", "ci").unwrap();
    let path = "/api/v1/namespaces/default/configmaps";
    for (token, want) in [
        (None, 401),
        (Some(account.as_str()), 403),
        (Some(c.token()), 413),
    ] {
        let started = Instant::now();
        let mut s = tls_stream(&c);
        let auth = token
            .map(|t| format!("Authorization: Bearer {t}\r\n"))
            .unwrap_or_default();
        write!(
            s,
            "POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n{auth}Content-Type: application/json\r\nContent-Length: 4194304\r\n\r\n{{"
        )
        .unwrap();
        s.flush().unwrap();
        let (code, v) = read_response(&mut s);
        assert_eq!(code, want, "{v}");
        assert!(started.elapsed() < Duration::from_secs(5));
        if want == 413 {
            assert_eq!(v["reason"], "RequestEntityTooLarge");
            assert_eq!(v["message"], "Request entity too large: limit is 3145728");
        }
        if want == 403 {
            assert_eq!(
                v["message"],
                "configmaps is forbidden: User \"system:serviceaccount:default:ci\" cannot create resource \"configmaps\" in API group \"\" in the namespace \"default\""
            );
            assert_eq!(v["details"], json!({"kind": "configmaps"}));
        }
    }
    assert!(c.list("v1", "ConfigMap", Some("default")).is_empty());

    // A body within the limit is read as before.
    let big = "x".repeat(1 << 20);
    let cm = json!({"apiVersion": "v1", "kind": "ConfigMap",
        "metadata": {"name": "big"}, "data": {"blob": big}})
    .to_string();
    let (code, v) = call(&c, "POST", path, "application/json", &cm);
    assert_eq!(code, 201, "{v}");
}

/// What an account may see without a grant: the open paths and discovery
/// (`system:discovery`, `system:public-info-viewer`), reviews of itself
/// (`system:basic-user`), nothing of the objects.
#[test]
fn an_account_without_a_grant_sees_discovery_and_itself_only() {
    let c = cluster();
    c.create(json!({"apiVersion": "v1", "kind": "ServiceAccount",
        "metadata": {"name": "ci", "namespace": "default"}}))
        .unwrap();
    let token = c.service_account_token("default", "ci").unwrap();
    let as_account = |method: &str, path: &str, body: &str| {
        let mut s = tls_stream(&c);
        write!(
            s,
            "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {token}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        )
        .unwrap();
        read_response(&mut s)
    };
    for path in [
        "/version",
        "/healthz",
        "/api",
        "/api/v1",
        "/apis",
        "/apis/apps/v1",
        "/openapi/v2",
    ] {
        assert_eq!(as_account("GET", path, "").0, 200, "{path}");
    }
    let (code, v) = as_account("GET", "/api/v1/nodes/worker-1", "");
    assert_eq!(code, 403);
    assert_eq!(v["details"], json!({"kind": "nodes", "name": "worker-1"}));
    assert!(v["message"]
        .as_str()
        .unwrap()
        .starts_with("nodes \"worker-1\" is forbidden: "));
    let (code, v) = as_account("GET", "/metrics", "");
    assert_eq!(code, 403, "{v}");
    assert_eq!(
        v["message"],
        "forbidden: User \"system:serviceaccount:default:ci\" cannot get path \"/metrics\""
    );

    let review = r#"{"spec":{"resourceAttributes":{"verb":"list","resource":"pods","namespace":"default"}}}"#;
    let (code, v) = as_account(
        "POST",
        "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews",
        review,
    );
    assert_eq!((code, &v["status"]), (201, &json!({"allowed": false})));
    let (code, v) = as_account(
        "POST",
        "/apis/authentication.k8s.io/v1/selfsubjectreviews",
        "{}",
    );
    assert_eq!(code, 201, "{v}");
    assert_eq!(
        v["status"]["userInfo"]["username"],
        "system:serviceaccount:default:ci"
    );
    // Bound, the review names the binding that allows it.
    c.create(
        json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding",
        "metadata": {"name": "ci-view", "namespace": "default"},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "view"},
        "subjects": [{"kind": "ServiceAccount", "name": "ci"}]}),
    )
    .unwrap();
    let (_, v) = as_account(
        "POST",
        "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews",
        review,
    );
    assert_eq!(
        v["status"],
        json!({"allowed": true, "reason": "RBAC: allowed by RoleBinding \"ci-view/default\" of ClusterRole \"view\" to ServiceAccount \"ci/default\""})
    );
    assert_eq!(
        as_account("GET", "/api/v1/namespaces/default/pods", "").0,
        200
    );
    // The administrator (`system:masters`) is allowed before RBAC is asked.
    let (code, v) = call(
        &c,
        "POST",
        "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews",
        "application/json",
        review,
    );
    assert_eq!((code, &v["status"]), (201, &json!({"allowed": true})));
}
