//! Objects validated and defaulted as kube-apiserver does.

use super::*;

/// The `(field, reason, message)` of each cause of a `422 Invalid` Status.
fn causes(v: &Value) -> Vec<(String, String, String)> {
    v["details"]["causes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                c["field"].as_str().unwrap().to_string(),
                c["reason"].as_str().unwrap().to_string(),
                c["message"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

#[test]
fn pods_are_validated_as_kube_apiserver_does() {
    let c = cluster();
    let pod = |name: &str, spec: Value| {
        json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "namespace": "default"}, "spec": spec})
            .to_string()
    };
    let post = |body: String| {
        call(
            &c,
            "POST",
            "/api/v1/namespaces/default/pods",
            "application/json",
            &body,
        )
    };
    // One cause: the Status message names it, and so does details.causes.
    let (code, v) = post(pod(
        "init-probe",
        json!({"initContainers": [{"name": "init", "image": "busybox", "readinessProbe": {"exec": {"command": ["true"]}}}],
               "containers": [{"name": "app", "image": "nginx"}]}),
    ));
    assert_eq!(code, 422, "{v}");
    assert_eq!(
        (
            v["kind"].as_str(),
            v["status"].as_str(),
            v["reason"].as_str(),
            v["code"].as_u64()
        ),
        (Some("Status"), Some("Failure"), Some("Invalid"), Some(422))
    );
    assert_eq!(
        v["message"],
        "Pod \"init-probe\" is invalid: spec.initContainers[0].readinessProbe: Forbidden: may not be set for init containers without restartPolicy=Always"
    );
    assert_eq!(
        (v["details"]["name"].as_str(), v["details"]["kind"].as_str()),
        (Some("init-probe"), Some("Pod"))
    );
    assert_eq!(
        causes(&v),
        [(
            "spec.initContainers[0].readinessProbe".to_string(),
            "FieldValueForbidden".to_string(),
            "Forbidden: may not be set for init containers without restartPolicy=Always"
                .to_string()
        )]
    );
    // Several causes: the message lists them in brackets.
    let (code, v) = post(pod(
        "many",
        json!({"hostNetwork": true,
               "volumes": [{"name": "host", "hostPath": {"path": "/var/../etc"}}, {"name": "Bad_Name", "emptyDir": {}}],
               "containers": [
                   {"name": "a", "image": "nginx", "ports": [{"containerPort": 80, "hostPort": 8080}],
                    "volumeMounts": [{"name": "host", "mountPath": "/h"}]},
                   {"name": "b", "image": "nginx", "ports": [{"containerPort": 8080}],
                    "resources": {"limits": {"huawei.com/ascend-310": "2"}, "requests": {"huawei.com/ascend-310": "1"}}}]}),
    ));
    assert_eq!(code, 422, "{v}");
    let got = causes(&v);
    let fields: Vec<&str> = got.iter().map(|(f, _, _)| f.as_str()).collect();
    assert_eq!(
        fields,
        [
            "spec.volumes[0].hostPath.path",
            "spec.volumes[1].name",
            "spec.containers[0].volumeMounts[0].name",
            "spec.containers[1].resources.requests",
            "spec.containers[1].ports[0].hostPort",
            "spec.containers[0].ports[0].containerPort",
        ]
    );
    assert_eq!(
        got[0].2,
        "Invalid value: \"/var/../etc\": must not contain '..'"
    );
    assert_eq!(
        got[2],
        (
            "spec.containers[0].volumeMounts[0].name".into(),
            "FieldValueNotFound".into(),
            "Not found: \"host\"".into()
        )
    );
    assert_eq!(
        got[3].2,
        "Invalid value: \"1\": must be equal to huawei.com/ascend-310 limit of 2"
    );
    assert_eq!(
        got[4],
        (
            "spec.containers[1].ports[0].hostPort".into(),
            "FieldValueDuplicate".into(),
            "Duplicate value: \"/TCP/8080\"".into()
        )
    );
    assert_eq!(
        got[5].2,
        "Invalid value: 80: must match `hostPort` when `hostNetwork` is true"
    );
    let msg = v["message"].as_str().unwrap();
    assert!(
        msg.starts_with("Pod \"many\" is invalid: [spec.volumes[0].hostPath.path: Invalid value: "),
        "{msg}"
    );
    assert!(
        msg.ends_with("must match `hostPort` when `hostNetwork` is true]"),
        "{msg}"
    );
    // Nothing was stored.
    assert!(c.list("v1", "Pod", Some("default")).is_empty());
}

#[test]
fn pod_templates_are_validated_on_create_and_update() {
    let c = cluster();
    let deployment = |init: Value| {
        json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web", "namespace": "default"},
            "spec": {"selector": {"matchLabels": {"app": "web"}}, "template": {
                "metadata": {"labels": {"app": "web"}, "annotations": {"bad key!": "x"}},
                "spec": {"initContainers": init, "containers": [{"name": "web", "image": "nginx",
                    "resources": {"requests": {"nvidia.com/gpu": "1"}}}]}}}})
    };
    let err = c
        .create(deployment(json!([{"name": "web", "image": "busybox"}])))
        .unwrap_err();
    assert_eq!((err.code, err.reason.as_str()), (422, "Invalid"));
    let fields: Vec<String> = err.details.as_ref().unwrap()["causes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            format!(
                "{}: {}",
                c["field"].as_str().unwrap(),
                c["message"].as_str().unwrap()
            )
        })
        .collect();
    assert_eq!(
        fields,
        [
            "spec.template.metadata.annotations: Invalid value: \"bad key!\": name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')",
            "spec.template.spec.containers[0].resources.limits: Required value: Limit must be set for non overcommitable resources",
            "spec.template.spec.initContainers[0].name: Duplicate value: \"web\"",
        ]
    );
    assert!(
        err.message
            .starts_with("Deployment.apps \"web\" is invalid: ["),
        "{}",
        err.message
    );
    assert!(c.list("apps/v1", "Deployment", Some("default")).is_empty());
    assert!(c.list("apps/v1", "ReplicaSet", Some("default")).is_empty());

    // A valid one is taken; an update (an apply) that breaks it is refused
    // and leaves it as it was.
    let ok = json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web", "namespace": "default"},
        "spec": {"selector": {"matchLabels": {"app": "web"}}, "template": {"metadata": {"labels": {"app": "web"}},
            "spec": {"containers": [{"name": "web", "image": "nginx", "resources": {"limits": {"nvidia.com/gpu": "1"}}}]}}}});
    c.create(ok.clone()).unwrap();
    let mut broken = ok.clone();
    broken["spec"]["template"]["spec"]["containers"][0]["resources"] =
        json!({"limits": {"nvidia.com/gpu": "1.5"}});
    let err = c.apply(broken, "tester", true).unwrap_err();
    assert_eq!(err.code, 422);
    assert!(
        err.message.ends_with("spec.template.spec.containers[0].resources.limits[nvidia.com/gpu]: Invalid value: \"1.5\": must be an integer"),
        "{}",
        err.message
    );
    let kept = c
        .get("apps/v1", "Deployment", Some("default"), "web")
        .unwrap();
    assert_eq!(
        kept["spec"]["template"]["spec"]["containers"][0]["resources"]["limits"]["nvidia.com/gpu"],
        "1"
    );
}

/// A Deployment gets the API server's defaults before validation: probe
/// timings and thresholds, an HTTP GET's path and scheme, the rolling update's
/// 25% where unset; a refused one is stored nowhere.
#[test]
fn deployment_probes_and_strategy_are_defaulted() {
    let c = cluster();
    let mut obj = json!({
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": "web", "namespace": "default"},
        "spec": {
            "replicas": 2,
            "selector": {"matchLabels": {"app": "web"}},
            "strategy": {"rollingUpdate": {"maxSurge": 1}},
            "template": {
                "metadata": {"labels": {"app": "web"}},
                "spec": {"containers": [{"name": "web", "image": "nginx:1.27",
                    "readinessProbe": {"httpGet": {"port": 80}, "periodSeconds": 5}}]}
            }
        }
    });
    let created = c.create(obj.clone()).unwrap();
    let probe = &created["spec"]["template"]["spec"]["containers"][0]["readinessProbe"];
    assert_eq!(
        *probe,
        json!({"httpGet": {"port": 80, "path": "/", "scheme": "HTTP"}, "periodSeconds": 5,
            "timeoutSeconds": 1, "successThreshold": 1, "failureThreshold": 3})
    );
    assert_eq!(
        created["spec"]["strategy"],
        json!({"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 1, "maxUnavailable": "25%"}})
    );
    obj["metadata"]["name"] = json!("web-2");
    obj["spec"]["template"]["spec"]["containers"][0]["livenessProbe"] = json!({});
    let err = c.create(obj).unwrap_err();
    assert_eq!(err.code, 422);
    assert!(err.message.contains("spec.template.spec.containers[0].livenessProbe: Required value: must specify a handler type"), "{}", err.message);
    assert!(c
        .get("apps/v1", "Deployment", Some("default"), "web-2")
        .is_none());
}

/// Malformed objects and patches of every shape a client can send, to every
/// kind of collection: each is refused with a 4xx Status, the server never
/// drops the connection (a panic would) and still answers afterwards.
#[test]
fn malformed_objects_and_patches_are_refused_never_crash() {
    let c = cluster();
    let collections = [
        "/api/v1/namespaces/default/pods",
        "/api/v1/namespaces/default/services",
        "/api/v1/namespaces/default/configmaps",
        "/api/v1/namespaces/default/secrets",
        "/api/v1/namespaces/default/persistentvolumeclaims",
        "/api/v1/namespaces/default/serviceaccounts",
        "/api/v1/nodes",
        "/api/v1/namespaces",
        "/apis/apps/v1/namespaces/default/deployments",
        "/apis/apps/v1/namespaces/default/statefulsets",
        "/apis/apps/v1/namespaces/default/daemonsets",
        "/apis/apps/v1/namespaces/default/replicasets",
        "/apis/batch/v1/namespaces/default/jobs",
        "/apis/policy/v1/namespaces/default/poddisruptionbudgets",
    ];
    let bodies = [
        r#""x""#,
        "[]",
        "42",
        "null",
        r#"{"metadata":"x"}"#,
        r#"{"metadata":[]}"#,
        r#"{"metadata":{"name":5}}"#,
        r#"{"metadata":{"name":"bad-1","labels":[]}}"#,
        r#"{"metadata":{"name":"bad-1","labels":{"k":5}}}"#,
        r#"{"metadata":{"name":"bad-1","annotations":"x"}}"#,
        r#"{"metadata":{"name":"bad-1","ownerReferences":"x"}}"#,
        r#"{"metadata":{"name":"bad-1","finalizers":[1]}}"#,
        r#"{"metadata":{"name":"bad-1"},"spec":[]}"#,
        r#"{"metadata":{"name":"bad-1"},"spec":"x"}"#,
        r#"{"metadata":{"name":"bad-1"},"spec":{"containers":"x"}}"#,
        r#"{"metadata":{"name":"bad-1"},"spec":{"containers":[5]}}"#,
        r#"{"metadata":{"name":"bad-1"},"spec":{"containers":[{"name":"c","image":"i","resources":[]}]}}"#,
        r#"{"metadata":{"name":"bad-1"},"spec":{"containers":[{"name":"c","image":"i","ports":"x"}]}}"#,
        r#"{"metadata":{"name":"bad-1"},"spec":{"template":[]}}"#,
        r#"{"metadata":{"name":"bad-1"},"spec":{"template":{"spec":"x"}}}"#,
        r#"{"metadata":{"name":"bad-1"},"spec":{"replicas":"x","selector":{"matchLabels":{"a":"b"}},"template":{"metadata":{"labels":{"a":"b"}},"spec":{"containers":[{"name":"c","image":"i"}]}}}}"#,
        r#"{"metadata":{"name":"bad-1"},"spec":{"selector":"x","template":{"spec":{"containers":[{"name":"c","image":"i"}]}}}}"#,
        r#"{"metadata":{"name":"bad-1"},"spec":{"ports":"x"}}"#,
        r#"{"metadata":{"name":"bad-1"},"spec":{"ports":[{"port":"x"}]}}"#,
        r#"{"metadata":{"name":"bad-1"},"spec":{"taints":"x"}}"#,
        r#"{"metadata":{"name":"bad-1"},"spec":{"minAvailable":[]}}"#,
        r#"{"metadata":{"name":"bad-1"},"status":[]}"#,
        r#"{"metadata":{"name":"bad-1"},"data":[]}"#,
        r#"{"metadata":{"name":"bad-1"},"data":{"k":5}}"#,
        r#"{"metadata":{"name":"bad-1"},"stringData":"x"}"#,
    ];
    let refused = |what: &str, code: u16, v: &Value| {
        assert!(
            (400..500).contains(&code) && v["kind"] == "Status",
            "{what}: {code} {v}"
        );
    };
    for path in collections {
        for body in bodies {
            let (code, v) = call(&c, "POST", path, "application/json", body);
            // Some shapes are valid for some kinds (a ConfigMap has no spec
            // to check); what matters is no crash and no 5xx.
            assert!(
                code < 500 && v.is_object(),
                "POST {path} {body}: {code} {v}"
            );
            if code < 300 {
                let name = v["metadata"]["name"].as_str().unwrap_or_default();
                call(
                    &c,
                    "DELETE",
                    &format!("{path}/{name}"),
                    "application/json",
                    "",
                );
            }
        }
    }
    // Patches of every type against an object that exists.
    let pod = "/api/v1/namespaces/default/pods/target";
    let (code, _) = call(
        &c,
        "POST",
        "/api/v1/namespaces/default/pods",
        "application/json",
        r#"{"metadata":{"name":"target"},"spec":{"containers":[{"name":"c","image":"i"}]}}"#,
    );
    assert_eq!(code, 201);
    let (_, before) = call(&c, "GET", pod, "", "");
    for (ct, patch) in [
        ("application/merge-patch+json", r#"{"metadata":"x"}"#),
        ("application/merge-patch+json", r#"{"spec":[]}"#),
        (
            "application/merge-patch+json",
            r#"{"spec":{"containers":"x"}}"#,
        ),
        ("application/merge-patch+json", r#""x""#),
        (
            "application/strategic-merge-patch+json",
            r#"{"metadata":"x"}"#,
        ),
        (
            "application/strategic-merge-patch+json",
            r#"{"spec":{"containers":"x"}}"#,
        ),
        (
            "application/strategic-merge-patch+json",
            r#"{"spec":{"containers":[5]}}"#,
        ),
        (
            "application/strategic-merge-patch+json",
            r#"{"metadata":{"finalizers":"x"}}"#,
        ),
        ("application/strategic-merge-patch+json", "[]"),
        (
            "application/json-patch+json",
            r#"[{"op":"add","path":"/metadata","value":"x"}]"#,
        ),
        (
            "application/json-patch+json",
            r#"[{"op":"replace","path":"/spec","value":[]}]"#,
        ),
        (
            "application/json-patch+json",
            r#"[{"op":"remove","path":"/metadata"}]"#,
        ),
        (
            "application/json-patch+json",
            r#"[{"op":"add","path":"","value":5}]"#,
        ),
        ("application/json-patch+json", r#"{"op":"add"}"#),
    ] {
        let (code, v) = call(&c, "PATCH", pod, ct, patch);
        refused(&format!("PATCH {ct} {patch}"), code, &v);
        let (_, now) = call(&c, "GET", pod, "", "");
        assert_eq!(now, before, "PATCH {ct} {patch} changed the pod");
    }
    for body in bodies {
        let (code, v) = call(&c, "PUT", pod, "application/json", body);
        assert!(code < 500 && v.is_object(), "PUT {body}: {code} {v}");
    }
    let (code, v) = call(&c, "GET", "/version", "", "");
    assert_eq!(code, 200, "{v}");
}
