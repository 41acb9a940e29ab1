//! LimitRanges: their defaults fill what containers leave out (before the
//! quota counts them), and their bounds refuse a pod in the `LimitRanger`
//! admission plugin's words.

use super::*;

fn limit_range() -> Value {
    json!({"apiVersion": "v1", "kind": "LimitRange",
        "metadata": {"name": "limits", "namespace": "default"},
        "spec": {"limits": [{"type": "Container",
            "default": {"cpu": "500m", "memory": "256Mi"},
            "max": {"cpu": "1"},
            "min": {"memory": "64Mi"}}]}})
}

/// A pod kubectl runs without resources gets the defaults (requests from
/// the default limits, as `SetDefaults_LimitRangeItem` stores them), which a
/// quota that wants `requests.cpu` said then counts; a Deployment's pods get
/// them too; a container past `max` is refused and nothing is stored.
#[test]
fn a_limit_range_fills_and_bounds_container_resources() {
    let k = Kube::standard();
    k.cluster.create(limit_range()).unwrap();
    let stored = k
        .cluster
        .get("v1", "LimitRange", Some("default"), "limits")
        .unwrap();
    assert_eq!(
        stored["spec"]["limits"][0]["defaultRequest"],
        json!({"cpu": "500m", "memory": "256Mi"})
    );
    let table = rows(&k.ok(&["get", "limitrange"]));
    assert_eq!(table[0], ["NAME", "CREATED", "AT"]);
    assert_eq!(row(&table, "limits").len(), 2);
    k.ok(&["create", "quota", "cpu", "--hard=requests.cpu=1"]);

    k.ok(&["run", "plain", "--image=nginx"]);
    let pod = k
        .cluster
        .get("v1", "Pod", Some("default"), "plain")
        .unwrap();
    assert_eq!(
        pod["spec"]["containers"][0]["resources"],
        json!({"limits": {"cpu": "500m", "memory": "256Mi"},
               "requests": {"cpu": "500m", "memory": "256Mi"}})
    );
    assert_eq!(pod["status"]["qosClass"], "Guaranteed");
    assert!(k.cluster.wait_until(Duration::from_secs(10), |c| c
        .get("v1", "ResourceQuota", Some("default"), "cpu")
        .is_some_and(|q| q["status"]["used"]["requests.cpu"] == "500m")));

    let err = fails(
        &k,
        &[
            "run",
            "big",
            "--image=nginx",
            r#"--overrides={"spec":{"containers":[{"name":"big","image":"nginx","resources":{"limits":{"cpu":"2"}}}]}}"#,
        ],
    );
    assert!(
        err.contains(
            "pods \"big\" is forbidden: maximum cpu usage per Container is 1, but limit is 2"
        ),
        "{err}"
    );
    assert!(k.cluster.get("v1", "Pod", Some("default"), "big").is_none());

    // The ReplicaSet's pod gets the defaults too; the quota has room for one.
    k.ok(&[
        "create",
        "deployment",
        "web",
        "--image=nginx",
        "--replicas=2",
    ]);
    assert!(k.cluster.wait_until(Duration::from_secs(10), |c| c
        .list("v1", "Event", Some("default"))
        .iter()
        .any(|e| e["reason"] == "FailedCreate"
            && e["message"].as_str().unwrap_or("").ends_with(
                "exceeded quota: cpu, requested: requests.cpu=500m, used: requests.cpu=1, limited: requests.cpu=1"
            ))));
    let web: Vec<Value> = k
        .cluster
        .list("v1", "Pod", Some("default"))
        .into_iter()
        .filter(|p| {
            p["metadata"]["name"]
                .as_str()
                .unwrap_or("")
                .starts_with("web-")
        })
        .collect();
    assert_eq!(web.len(), 1);
    assert_eq!(
        web[0]["spec"]["containers"][0]["resources"]["limits"],
        json!({"cpu": "500m", "memory": "256Mi"})
    );
}

/// What kube-apiserver refuses in a LimitRange, it refuses here.
#[test]
fn invalid_limit_ranges_are_refused() {
    let k = Kube::standard();
    let refused = |limits: Value| {
        let e = k
            .cluster
            .create(json!({"apiVersion": "v1", "kind": "LimitRange",
                "metadata": {"name": "bad", "namespace": "default"},
                "spec": {"limits": limits}}))
            .unwrap_err();
        assert!(k
            .cluster
            .get("v1", "LimitRange", Some("default"), "bad")
            .is_none());
        e.to_string()
    };
    let e = refused(json!([{"type": "Container", "min": {"cpu": "2"}, "max": {"cpu": "1"}}]));
    assert!(
        e.contains("spec.limits[0].min[cpu]: Invalid value: \"2\": min value 2 is greater than max value 1"),
        "{e}"
    );
    let e = refused(
        json!([{"type": "Container", "default": {"cpu": "1"}, "defaultRequest": {"cpu": "2"}}]),
    );
    assert!(
        e.contains("spec.limits[0].defaultRequest[cpu]: Invalid value: \"2\": default request value 2 is greater than default limit value 1"),
        "{e}"
    );
    let e = refused(json!([{"type": "Pod", "default": {"cpu": "1"}}]));
    assert!(
        e.contains("spec.limits[0].default: Forbidden: may not be specified when `type` is 'Pod'"),
        "{e}"
    );
    let e = refused(json!([{"type": "Node", "max": {"cpu": "1"}}]));
    assert!(
        e.contains("spec.limits[0].type: Unsupported value: \"Node\""),
        "{e}"
    );
}
