//! What kube-apiserver refuses, refused here too, and refused before
//! anything changes: a percent-encoded path authorized as what it reaches,
//! dry runs other than `All` (unknown propagation policies: `deletes`), patches of
//! subresources that take none, statuses of the wrong JSON type, status
//! applies to missing objects, watches from unparsable versions,
//! impersonated extras without their grant; and what a refused request
//! leaves in the request log.

use super::*;

/// One HTTPS request with `token` and extra header lines (`"K: v\r\n"`).
fn send(
    c: &SimCluster,
    token: Option<&str>,
    method: &str,
    path: &str,
    extra: &str,
    ct: &str,
    body: &str,
) -> (u16, Value) {
    let mut s = tls_stream(c);
    let auth = token
        .map(|t| format!("Authorization: Bearer {t}\r\n"))
        .unwrap_or_default();
    write!(
        s,
        "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n{auth}{extra}Content-Type: {ct}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    read_response(&mut s)
}

fn namespace(c: &SimCluster, name: &str) {
    c.create(json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}}))
        .unwrap();
}

pub(crate) fn config_map(
    c: &SimCluster,
    name: &str,
    labels: Value,
    owner: Option<&Value>,
) -> Value {
    let mut cm = json!({"apiVersion": "v1", "kind": "ConfigMap",
        "metadata": {"name": name, "namespace": "default", "labels": labels}, "data": {"k": name}});
    if let Some(o) = owner {
        cm["metadata"]["ownerReferences"] = json!([{"apiVersion": "v1", "kind": "ConfigMap",
            "name": o["metadata"]["name"], "uid": o["metadata"]["uid"]}]);
    }
    c.create(cm).unwrap()
}

pub(crate) fn stored(c: &SimCluster, kind: &str, ns: Option<&str>, name: &str) -> Option<Value> {
    c.get("v1", kind, ns, name)
}

/// Authorization reads the decoded path the router reads: with a Role in
/// `dev` that may only `list` (any resource), `GET .../namespaces/dev/st%61tus`
/// is a `get` of the namespace `dev` (its `status`) and is refused; it
/// used to be authorized as listing a resource named `st%61tus` and routed
/// as the get. A segment with an encoded `/` is a `400`.
///
/// (A Role in `dev` whose resources are `*` may `update namespaces/finalize`
/// of `dev` itself in kube-apiserver too, by design: the namespace of
/// `/api/v1/namespaces/dev/...` is `dev`; so the encoded `finaliz%65` is
/// decided exactly as `finalize`.)
#[test]
fn an_encoded_path_is_authorized_as_it_is_routed() {
    let c = cluster();
    namespace(&c, "dev");
    c.create(json!({"apiVersion": "v1", "kind": "ServiceAccount",
        "metadata": {"name": "ci", "namespace": "dev"}}))
        .unwrap();
    c.create(
        json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "Role",
        "metadata": {"name": "lister", "namespace": "dev"},
        "rules": [{"apiGroups": ["*"], "resources": ["*"], "verbs": ["list"]}]}),
    )
    .unwrap();
    c.create(
        json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding",
        "metadata": {"name": "ci-lister", "namespace": "dev"},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "lister"},
        "subjects": [{"kind": "ServiceAccount", "name": "ci"}]}),
    )
    .unwrap();
    let token = c.service_account_token("dev", "ci").unwrap();
    let ci = |method: &str, path: &str, body: &str| {
        send(&c, Some(&token), method, path, "", "application/json", body)
    };
    assert_eq!(ci("GET", "/api/v1/namespaces/dev/configmaps", "").0, 200);

    let (code, v) = ci("GET", "/api/v1/namespaces/dev/st%61tus", "");
    assert_eq!(
        (code, v["reason"].as_str()),
        (403, Some("Forbidden")),
        "{v}"
    );
    assert_eq!(
        v["message"],
        "namespaces \"dev\" is forbidden: User \"system:serviceaccount:dev:ci\" cannot get resource \"namespaces/status\" in API group \"\" in the namespace \"dev\""
    );

    let before = stored(&c, "Namespace", None, "dev").unwrap();
    let body = r#"{"metadata":{"name":"dev","labels":{"x":"y"}},"spec":{"finalizers":[]}}"#;
    let (code, v) = ci("PUT", "/api/v1/namespaces/dev/finaliz%65", body);
    assert_eq!(code, 403, "{v}");
    assert!(v["message"]
        .as_str()
        .unwrap()
        .contains("cannot update resource \"namespaces/finalize\""));
    assert_eq!(stored(&c, "Namespace", None, "dev").unwrap(), before);

    for path in [
        "/api/v1/namespaces/dev/configmaps%2Fx",
        "/api/v1/namespaces/dev/configmaps/a%2fb",
    ] {
        let (code, v) = call(&c, "DELETE", path, "application/json", "");
        assert_eq!(
            (code, v["reason"].as_str()),
            (400, Some("BadRequest")),
            "{v}"
        );
        assert!(v["message"].as_str().unwrap().contains("%2F"), "{v}");
    }
}

/// A request refused before its caller is known leaves no record; a
/// record keeps 2 KiB of the path and query at most, and a `traceparent`
/// only when it is a valid one.
#[test]
fn the_request_log_holds_nothing_a_stranger_sends() {
    let c = cluster();
    let long = "x".repeat(20_000);
    let path = format!("/api/v1/namespaces/default/pods?labelSelector={long}");
    let junk = format!("traceparent: {long}\r\n");
    let (code, _) = send(&c, Some("not-a-token"), "GET", &path, &junk, "", "");
    assert_eq!(code, 401);
    let (code, _) = send(&c, None, "GET", "/api/v1/a%2Fb", &junk, "", "");
    assert_eq!(code, 400);
    assert!(
        c.requests()
            .iter()
            .all(|r| !r.uri.contains("xxxx") && !r.uri.contains("%2F")),
        "{:?}",
        c.requests().len()
    );

    let valid = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
    let (code, _) = send(&c, Some(c.token()), "GET", &path, &junk, "", "");
    assert_eq!(code, 200);
    let tp = format!("traceparent: {valid}\r\n");
    let (code, _) = send(&c, Some(c.token()), "GET", "/api/v1/nodes", &tp, "", "");
    assert_eq!(code, 200);
    let log = c.requests();
    let long_one = log.iter().find(|r| r.uri.contains("xxxx")).unwrap();
    assert!(long_one.uri.len() <= 2048 && path.starts_with(&long_one.uri));
    assert_eq!(long_one.traceparent, None);
    let nodes = log.iter().rfind(|r| r.uri == "/api/v1/nodes").unwrap();
    assert_eq!(nodes.traceparent.as_deref(), Some(valid));
}

fn pod(c: &SimCluster, name: &str) -> Value {
    c.create(json!({"apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": name, "namespace": "default", "labels": {"app": "web"}},
        "spec": {"containers": [{"name": "c", "image": "nginx"}]}}))
        .unwrap()
}

/// PATCH reaches the object, its `status` and its `scale` only: a patch of
/// `log`, `eviction`, `token` or `finalize` is kube-apiserver's `405` and
/// changes nothing. `PUT .../finalize` takes the body's `spec.finalizers`
/// and nothing else.
#[test]
fn subresources_without_patch_refuse_it() {
    let c = cluster();
    namespace(&c, "dev");
    pod(&c, "web");
    c.create(json!({"apiVersion": "v1", "kind": "ServiceAccount",
        "metadata": {"name": "x", "namespace": "default"}}))
        .unwrap();
    let labels = r#"{"metadata":{"labels":{"patched":"yes"}}}"#;
    for (path, kind, ns, name) in [
        (
            "/api/v1/namespaces/default/pods/web/log",
            "Pod",
            Some("default"),
            "web",
        ),
        (
            "/api/v1/namespaces/default/pods/web/eviction",
            "Pod",
            Some("default"),
            "web",
        ),
        (
            "/api/v1/namespaces/default/serviceaccounts/x/token",
            "ServiceAccount",
            Some("default"),
            "x",
        ),
        ("/api/v1/namespaces/dev/finalize", "Namespace", None, "dev"),
    ] {
        let (code, v) = call(&c, "PATCH", path, "application/merge-patch+json", labels);
        assert_eq!(
            (code, v["reason"].as_str()),
            (405, Some("MethodNotAllowed")),
            "{path}: {v}"
        );
        let now = stored(&c, kind, ns, name).unwrap();
        assert!(
            now["metadata"]["labels"]["patched"].is_null(),
            "{path}: {now}"
        );
    }
    let (code, v) = call(
        &c,
        "PATCH",
        "/api/v1/namespaces/default/pods/web/status",
        "application/merge-patch+json",
        r#"{"metadata":{"labels":{"patched":"yes"}},"status":{"message":"patched"}}"#,
    );
    assert_eq!(code, 200, "{v}");
    let web = stored(&c, "Pod", Some("default"), "web").unwrap();
    assert_eq!(web["status"]["message"], "patched");
    assert!(web["metadata"]["labels"]["patched"].is_null(), "{web}");

    let before = stored(&c, "Namespace", None, "dev").unwrap();
    assert_eq!(before["spec"]["finalizers"], json!(["kubernetes"]));
    let (code, v) = call(
        &c,
        "PUT",
        "/api/v1/namespaces/dev/finalize",
        "application/json",
        r#"{"metadata":{"name":"dev","labels":{"patched":"yes"},"annotations":{"a":"b"}},"spec":{"finalizers":[]}}"#,
    );
    assert_eq!(code, 200, "{v}");
    let after = stored(&c, "Namespace", None, "dev").unwrap();
    assert_eq!(after["spec"]["finalizers"], json!([]));
    assert_eq!(after["metadata"]["labels"], before["metadata"]["labels"]);
    assert!(after["metadata"]["annotations"].is_null(), "{after}");
    let (code, v) = call(
        &c,
        "PUT",
        "/api/v1/namespaces/dev/finalize",
        "application/json",
        r#"{"metadata":{"name":"dev"},"spec":{"finalizers":[5]}}"#,
    );
    assert_eq!(
        (code, v["reason"].as_str()),
        (400, Some("BadRequest")),
        "{v}"
    );
    assert!(v["message"]
        .as_str()
        .unwrap()
        .contains("Namespace.spec.finalizers"));
}

/// A status is decoded as a body is: `"hostIP": 5` in a PUT, a merge patch
/// or an apply of a pod's `status` is kube-apiserver's `400` naming the
/// field, and the pod stays what a typed client can read.
#[test]
fn a_status_of_the_wrong_type_is_refused() {
    let c = cluster();
    pod(&c, "p");
    let before = stored(&c, "Pod", Some("default"), "p").unwrap();
    let path = "/api/v1/namespaces/default/pods/p/status";
    let want = "Pod in version \"v1\" cannot be handled as a Pod: json: cannot unmarshal number 5 into Go struct field Pod.status.hostIP of type string";
    for (ct, q, body) in [
        (
            "application/json",
            "",
            r#"{"metadata":{"name":"p"},"status":{"hostIP":5}}"#,
        ),
        ("application/merge-patch+json", "", r#"{"status":{"hostIP":5}}"#),
        (
            "application/apply-patch+yaml",
            "?fieldManager=t",
            "apiVersion: v1\nkind: Pod\nmetadata:\n  name: p\n  namespace: default\nstatus:\n  hostIP: 5\n",
        ),
    ] {
        let method = if ct == "application/json" { "PUT" } else { "PATCH" };
        let (code, v) = call(&c, method, &format!("{path}{q}"), ct, body);
        assert_eq!((code, v["reason"].as_str()), (400, Some("BadRequest")), "{ct}: {v}");
        assert_eq!(v["message"], want, "{ct}");
        let now = stored(&c, "Pod", Some("default"), "p").unwrap();
        assert!(!now["status"]["hostIP"].is_number(), "{ct}: {now}");
        assert_eq!(now["metadata"]["uid"], before["metadata"]["uid"]);
    }
    // Applied to the status, labels in the applied object change nothing.
    let applied = "apiVersion: v1\nkind: Pod\nmetadata:\n  name: p\n  namespace: default\n  labels:\n    applied: \"yes\"\nstatus:\n  message: applied\n";
    let (code, v) = call(
        &c,
        "PATCH",
        &format!("{path}?fieldManager=t"),
        "application/apply-patch+yaml",
        applied,
    );
    assert_eq!(code, 200, "{v}");
    let now = stored(&c, "Pod", Some("default"), "p").unwrap();
    assert_eq!(now["status"]["message"], "applied");
    assert!(now["metadata"]["labels"]["applied"].is_null(), "{now}");
}

/// `dryRun` takes `All` alone (kube-apiserver's `ValidateDryRun`): any
/// other value is a `422` naming the verb's options, and nothing is
/// written, where it used to be taken as a dry run (or, empty, as none).
#[test]
fn a_dry_run_other_than_all_is_refused_and_writes_nothing() {
    let c = cluster();
    let cm = config_map(&c, "kept", json!({}), None);
    let path = "/api/v1/namespaces/default/configmaps";
    let new = r#"{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"new"}}"#;
    let cases = [
        (
            "POST",
            format!("{path}?dryRun=Server"),
            "application/json",
            new,
            "CreateOptions",
            "\"Server\"",
        ),
        (
            "POST",
            format!("{path}?dryRun="),
            "application/json",
            new,
            "CreateOptions",
            "\"\"",
        ),
        (
            "PUT",
            format!("{path}/kept?dryRun=all"),
            "application/json",
            r#"{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"kept"},"data":{"k":"changed"}}"#,
            "UpdateOptions",
            "\"all\"",
        ),
        (
            "PATCH",
            format!("{path}/kept?dryRun=true"),
            "application/merge-patch+json",
            r#"{"data":{"k":"changed"}}"#,
            "PatchOptions",
            "\"true\"",
        ),
        (
            "DELETE",
            format!("{path}/kept?dryRun=client"),
            "application/json",
            "",
            "DeleteOptions",
            "\"client\"",
        ),
        (
            "DELETE",
            format!("{path}/kept"),
            "application/json",
            r#"{"kind":"DeleteOptions","apiVersion":"v1","dryRun":["All","x"]}"#,
            "DeleteOptions",
            "\"All\", \"x\"",
        ),
    ];
    for (method, path, ct, body, kind, shown) in cases {
        let (code, v) = call(&c, method, &path, ct, body);
        assert_eq!(
            (code, v["reason"].as_str()),
            (422, Some("Invalid")),
            "{method} {path}: {v}"
        );
        assert_eq!(
            v["message"],
            format!("{kind}.meta.k8s.io \"\" is invalid: dryRun: Unsupported value: []string{{{shown}}}: supported values: \"All\""),
            "{method} {path}"
        );
        assert_eq!(v["details"]["causes"][0]["field"], "dryRun");
        assert_eq!(
            v["details"]["causes"][0]["reason"],
            "FieldValueNotSupported"
        );
    }
    assert_eq!(stored(&c, "ConfigMap", Some("default"), "kept"), Some(cm));
    assert!(stored(&c, "ConfigMap", Some("default"), "new").is_none());
    // A review is a create too.
    let review = r#"{"apiVersion":"authentication.k8s.io/v1","kind":"SelfSubjectReview"}"#;
    let (code, v) = call(
        &c,
        "POST",
        "/apis/authentication.k8s.io/v1/selfsubjectreviews?dryRun=x",
        "application/json",
        review,
    );
    assert_eq!(
        (code, v["details"]["kind"].as_str()),
        (422, Some("CreateOptions")),
        "{v}"
    );

    // A body's `dryRun` that is not a list of strings is the decoder's 400.
    for (body, got, want) in [
        (r#"{"dryRun":"All"}"#, "string", "[]string"),
        (r#"{"dryRun":[1]}"#, "number 1", "string"),
    ] {
        let (code, v) = call(
            &c,
            "DELETE",
            &format!("{path}/kept"),
            "application/json",
            body,
        );
        assert_eq!(
            (code, v["reason"].as_str()),
            (400, Some("BadRequest")),
            "{body}: {v}"
        );
        assert_eq!(
            v["message"],
            format!("DeleteOptions in version \"v1\" cannot be handled as a DeleteOptions: json: cannot unmarshal {got} into Go struct field DeleteOptions.dryRun of type {want}")
        );
    }
    assert!(stored(&c, "ConfigMap", Some("default"), "kept").is_some());
    // With a body the options are the body's alone: the query's dry run
    // does not apply.
    config_map(&c, "gone", json!({}), None);
    let (code, v) = call(
        &c,
        "DELETE",
        &format!("{path}/gone?dryRun=All"),
        "application/json",
        r#"{"kind":"DeleteOptions","apiVersion":"v1"}"#,
    );
    assert_eq!(code, 200, "{v}");
    assert!(stored(&c, "ConfigMap", Some("default"), "gone").is_none());

    // `All` is the dry run it always was.
    let (code, v) = call(
        &c,
        "POST",
        &format!("{path}?dryRun=All"),
        "application/json",
        new,
    );
    assert_eq!(code, 201, "{v}");
    assert!(stored(&c, "ConfigMap", Some("default"), "new").is_none());
}

/// Server-side apply to the `status` of an object that does not exist is a
/// `404`, as kube-apiserver's status strategy answers; it used to create
/// the object from the applied status.
#[test]
fn applying_a_status_creates_nothing() {
    let c = cluster();
    let body = r#"{"apiVersion":"v1","kind":"Pod","metadata":{"name":"ghost","namespace":"default"},"status":{"phase":"Running"}}"#;
    let (code, v) = call(
        &c,
        "PATCH",
        "/api/v1/namespaces/default/pods/ghost/status?fieldManager=t",
        "application/apply-patch+yaml",
        body,
    );
    assert_eq!((code, v["reason"].as_str()), (404, Some("NotFound")), "{v}");
    assert_eq!(v["message"], "pods \"ghost\" not found");
    assert!(stored(&c, "Pod", Some("default"), "ghost").is_none());
}

/// A list or watch from a `resourceVersion` that is not a number is
/// refused in kube-apiserver's words and with its status (a `500` without a
/// reason, kubernetes#101350), not answered from the current objects.
#[test]
fn a_list_or_watch_from_an_unparsable_version_is_refused() {
    let c = cluster();
    for (rv, why) in [
        ("abc", "invalid syntax"),
        ("-1", "invalid syntax"),
        ("5x", "invalid syntax"),
        ("99999999999999999999999", "value out of range"),
    ] {
        for watch in ["watch=true&timeoutSeconds=1&", ""] {
            let (code, v) = call(
                &c,
                "GET",
                &format!(
                    "/apis/apps/v1/namespaces/default/deployments?{watch}resourceVersion={rv}"
                ),
                "application/json",
                "",
            );
            assert_eq!(code, 500, "{rv}: {v}");
            assert_eq!(v["code"], 500);
            assert!(v.get("reason").is_none(), "{v}");
            assert_eq!(
                v["message"],
                format!("resourceVersion: Invalid value: \"{rv}\": strconv.ParseUint: parsing \"{rv}\": {why}")
            );
        }
    }
    let (code, v) = call(
        &c,
        "GET",
        "/apis/apps/v1/namespaces/default/deployments?resourceVersion=0",
        "application/json",
        "",
    );
    assert_eq!(code, 200, "{v}");
}

/// `Impersonate-Extra-<key>` is impersonation too (kube-apiserver's
/// filter): each value needs `impersonate` on `userextras/<key>`, named
/// the value, and an extra without a user is a `400`. It used to be
/// ignored, so a caller allowed to impersonate users set any extra.
#[test]
fn impersonating_an_extra_needs_its_own_grant() {
    let c = cluster();
    c.create(json!({"apiVersion": "v1", "kind": "ServiceAccount",
        "metadata": {"name": "ops", "namespace": "default"}}))
        .unwrap();
    c.create(
        json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole",
        "metadata": {"name": "as-users"},
        "rules": [{"apiGroups": [""], "resources": ["users"], "verbs": ["impersonate"]},
                  {"apiGroups": ["authentication.k8s.io"], "resources": ["userextras/scopes"],
                   "resourceNames": ["view"], "verbs": ["impersonate"]}]}),
    )
    .unwrap();
    c.create(
        json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRoleBinding",
        "metadata": {"name": "ops-as-users"},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "as-users"},
        "subjects": [{"kind": "ServiceAccount", "name": "ops", "namespace": "default"}]}),
    )
    .unwrap();
    let token = c.service_account_token("default", "ops").unwrap();
    let review = r#"{"apiVersion":"authentication.k8s.io/v1","kind":"SelfSubjectReview"}"#;
    let path = "/apis/authentication.k8s.io/v1/selfsubjectreviews";
    let ops = |extra: &str| {
        send(
            &c,
            Some(&token),
            "POST",
            path,
            extra,
            "application/json",
            review,
        )
    };

    let (code, v) = ops("Impersonate-User: bob\r\nImpersonate-Extra-Scopes: view\r\n");
    assert_eq!(code, 201, "{v}");
    assert_eq!(v["status"]["userInfo"]["username"], "bob", "{v}");
    // The user made keeps the extras granted, each key's values in order.
    assert_eq!(
        v["status"]["userInfo"]["extra"],
        json!({"scopes": ["view"]}),
        "{v}"
    );
    let (code, v) = ops(
        "Impersonate-User: bob\r\nImpersonate-Extra-Scopes: view\r\nImpersonate-Extra-Scopes: view\r\n",
    );
    assert_eq!(code, 201, "{v}");
    assert_eq!(
        v["status"]["userInfo"]["extra"],
        json!({"scopes": ["view", "view"]}),
        "{v}"
    );
    let (_, v) = ops("Impersonate-User: bob\r\n");
    assert!(v["status"]["userInfo"].get("extra").is_none(), "{v}");

    for (headers, value, key) in [
        (
            "Impersonate-User: bob\r\nImpersonate-Extra-Scopes: admin\r\n",
            "admin",
            "scopes",
        ),
        (
            "Impersonate-User: bob\r\nImpersonate-Extra-Reason: audit\r\n",
            "audit",
            "reason",
        ),
        (
            "Impersonate-User: bob\r\nImpersonate-Extra-%73copes: admin\r\n",
            "admin",
            "scopes",
        ),
    ] {
        let (code, v) = ops(headers);
        assert_eq!(
            (code, v["reason"].as_str()),
            (403, Some("Forbidden")),
            "{headers}: {v}"
        );
        assert_eq!(
            v["message"],
            format!("userextras.authentication.k8s.io \"{value}\" is forbidden: User \"system:serviceaccount:default:ops\" cannot impersonate resource \"userextras/{key}\" in API group \"authentication.k8s.io\" at the cluster scope")
        );
    }

    let (code, v) = ops("Impersonate-Extra-Scopes: view\r\n");
    assert_eq!(
        (code, v["reason"].as_str()),
        (400, Some("BadRequest")),
        "{v}"
    );
}
