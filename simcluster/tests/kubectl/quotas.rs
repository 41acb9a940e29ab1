//! ResourceQuotas: `kubectl create quota` (protobuf), the quota controller's
//! `used`, and the admission check that refuses what would exceed `hard`,
//! to kubectl and to the controllers alike.

use super::*;

fn quota(k: &Kube, name: &str) -> Value {
    k.cluster
        .get("v1", "ResourceQuota", Some("default"), name)
        .expect("quota exists")
}

fn pod_count(k: &Kube) -> usize {
    k.cluster
        .list("v1", "Pod", Some("default"))
        .iter()
        .filter(|p| p["metadata"]["deletionTimestamp"].is_null())
        .count()
}

/// The `ReplicaFailure` condition of the Deployment `web` and of its
/// ReplicaSet.
fn replica_failures(k: &Kube) -> (Option<Value>, Option<Value>) {
    let failure = |o: &Value| {
        o.pointer("/status/conditions")
            .and_then(Value::as_array)
            .and_then(|cs| cs.iter().find(|c| c["type"] == "ReplicaFailure"))
            .cloned()
    };
    let deployment = k
        .cluster
        .get("apps/v1", "Deployment", Some("default"), "web")
        .and_then(|d| failure(&d));
    let rs = k
        .cluster
        .list("apps/v1", "ReplicaSet", Some("default"))
        .iter()
        .find_map(failure);
    (deployment, rs)
}

fn failed_creates(k: &Kube) -> Vec<String> {
    k.cluster
        .list("v1", "Event", Some("default"))
        .into_iter()
        .filter(|e| e["reason"] == "FailedCreate")
        .map(|e| e["message"].as_str().unwrap_or("").to_string())
        .collect()
}

/// A Deployment of five pods of 500m under a quota of one CPU gets two;
/// the ReplicaSet's `FailedCreate` event says which quota and by how much,
/// and so do its and its Deployment's `ReplicaFailure` conditions (gone
/// again once nothing is refused);
/// raising `hard` lets the controller go on, up to the quota's three pods;
/// a pod kubectl creates past it is refused (403) and not stored; scaling
/// down frees the quota.
#[test]
fn a_quota_bounds_what_a_namespace_creates() {
    let k = Kube::standard();
    k.ok(&["create", "quota", "q1", "--hard=pods=3,requests.cpu=1"]);
    assert_eq!(
        quota(&k, "q1")["spec"]["hard"],
        json!({"pods": "3", "requests.cpu": "1"})
    );
    assert!(k
        .cluster
        .wait_until(Duration::from_secs(10), |_| quota(&k, "q1")["status"]
            ["used"]
            == json!({"pods": "0", "requests.cpu": "0"})));

    k.cluster.create(deployment("default", "web", 5)).unwrap();
    assert!(k
        .cluster
        .wait_until(Duration::from_secs(10), |_| pod_count(&k) == 2
            && !failed_creates(&k).is_empty()));
    let refused = failed_creates(&k);
    assert!(
        refused[0].starts_with("Error creating: pods \"web-")
            && refused[0].ends_with(
                "is forbidden: exceeded quota: q1, requested: requests.cpu=500m, used: requests.cpu=1, limited: requests.cpu=1"
            ),
        "{refused:?}"
    );
    // The ReplicaSet says so in a condition, and its Deployment with it.
    assert!(k
        .cluster
        .wait_until(Duration::from_secs(10), |_| replica_failures(&k)
            .0
            .is_some()));
    let (on_deployment, on_rs) = replica_failures(&k);
    let on_rs = on_rs.expect("a ReplicaFailure on the ReplicaSet");
    assert_eq!(on_rs["status"], "True");
    assert_eq!(on_rs["reason"], "FailedCreate");
    let why = on_rs["message"].as_str().unwrap_or_default();
    assert!(
        why.starts_with("pods \"web-") && why.ends_with("is forbidden: exceeded quota: q1, requested: requests.cpu=500m, used: requests.cpu=1, limited: requests.cpu=1"),
        "{on_rs}"
    );
    let on_deployment = on_deployment.expect("a ReplicaFailure on the Deployment");
    assert_eq!(on_deployment["message"], on_rs["message"]);
    assert_eq!(on_deployment["lastUpdateTime"], on_rs["lastTransitionTime"]);
    let described = k.ok(&["describe", "deployment", "web"]);
    assert!(
        described
            .lines()
            .any(|l| l.split_whitespace().collect::<Vec<_>>()
                == ["ReplicaFailure", "True", "FailedCreate"]),
        "{described}"
    );
    let table = rows(&k.ok(&["get", "quota", "q1"]));
    assert_eq!(table[0], ["NAME", "AGE", "REQUEST", "LIMIT"]);
    assert_eq!(
        row(&table, "q1")[2..],
        ["pods:", "2/3,", "requests.cpu:", "1/1"]
    );

    k.ok(&[
        "patch",
        "quota",
        "q1",
        "--type=merge",
        "-p",
        r#"{"spec":{"hard":{"requests.cpu":"4"}}}"#,
    ]);
    assert!(k
        .cluster
        .wait_until(Duration::from_secs(10), |_| pod_count(&k) == 3));
    assert!(k
        .cluster
        .wait_until(Duration::from_secs(10), |_| failed_creates(&k).iter().any(
            |m| m.ends_with("exceeded quota: q1, requested: pods=1, used: pods=3, limited: pods=3")
        )));
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(pod_count(&k), 3, "the quota holds after more ticks");
    assert_eq!(
        quota(&k, "q1")["status"]["used"],
        json!({"pods": "3", "requests.cpu": "1500m"})
    );

    let extra = [
        "run",
        "extra",
        "--image=nginx",
        r#"--overrides={"spec":{"containers":[{"name":"extra","image":"nginx","resources":{"requests":{"cpu":"100m"}}}]}}"#,
    ];
    let out = k.run(&extra);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("Error from server (Forbidden): pods \"extra\" is forbidden: exceeded quota: q1, requested: pods=1, used: pods=3, limited: pods=3"),
        "{err}"
    );
    assert!(k
        .cluster
        .get("v1", "Pod", Some("default"), "extra")
        .is_none());

    k.ok(&["scale", "deployment/web", "--replicas=1"]);
    assert!(k
        .cluster
        .wait_until(Duration::from_secs(10), |_| quota(&k, "q1")["status"]
            ["used"]
            == json!({"pods": "1", "requests.cpu": "500m"})));
    // Nothing refused any more: the conditions are gone.
    assert!(k
        .cluster
        .wait_until(Duration::from_secs(10), |_| replica_failures(&k)
            == (None, None)));
    k.ok(&extra);
    assert!(k
        .cluster
        .get("v1", "Pod", Some("default"), "extra")
        .is_some());
}

/// A quota on CPU or memory makes every container say it: a pod without
/// the limit is refused with the containers that lack it, and nothing is
/// stored; object counts (`count/deployments.apps`) bound other kinds.
#[test]
fn a_quota_wants_what_it_counts_said_and_counts_objects() {
    let k = Kube::standard();
    k.ok(&[
        "create",
        "quota",
        "mem",
        "--hard=limits.memory=1Gi,count/deployments.apps=1",
    ]);
    let err = fails(&k, &["run", "bare", "--image=nginx"]);
    assert!(
        err.contains(
            "pods \"bare\" is forbidden: failed quota: mem: must specify limits.memory for: bare"
        ),
        "{err}"
    );
    assert!(k
        .cluster
        .get("v1", "Pod", Some("default"), "bare")
        .is_none());
    k.ok(&["create", "deployment", "one", "--image=nginx"]);
    let err = fails(&k, &["create", "deployment", "two", "--image=nginx"]);
    assert!(
        err.contains("deployments.apps \"two\" is forbidden: exceeded quota: mem, requested: count/deployments.apps=1, used: count/deployments.apps=1, limited: count/deployments.apps=1"),
        "{err}"
    );
    assert!(k
        .cluster
        .get("apps/v1", "Deployment", Some("default"), "two")
        .is_none());
    // The first one's pods say no memory limit: its ReplicaSet is told why.
    assert!(k
        .cluster
        .wait_until(Duration::from_secs(10), |_| failed_creates(&k).iter().any(
            |m| m.ends_with("failed quota: mem: must specify limits.memory for: nginx")
        )));
    assert_eq!(pod_count(&k), 0);
    let used = &quota(&k, "mem")["status"]["used"];
    assert_eq!(
        used,
        &json!({"count/deployments.apps": "1", "limits.memory": "0"})
    );
}

/// Scopes narrow a quota to some pods: `BestEffort` counts the pods without
/// requests or limits only.
#[test]
fn a_scoped_quota_counts_only_its_pods() {
    let k = Kube::standard();
    k.ok(&[
        "create",
        "quota",
        "be",
        "--hard=pods=1",
        "--scopes=BestEffort",
    ]);
    k.ok(&["run", "first", "--image=nginx"]);
    let err = fails(&k, &["run", "second", "--image=nginx"]);
    assert!(
        err.contains("exceeded quota: be, requested: pods=1, used: pods=1, limited: pods=1"),
        "{err}"
    );
    // A pod with requests is not BestEffort: not this quota's.
    k.cluster
        .create(json!({"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": "burstable", "namespace": "default"},
            "spec": {"containers": [{"name": "c", "image": "x",
                "resources": {"requests": {"cpu": "100m"}}}]}}))
        .unwrap();
    assert_eq!(quota(&k, "be")["status"]["used"], json!({"pods": "1"}));
}

/// What kube-apiserver refuses in a quota, it refuses here, in its words.
#[test]
fn invalid_quotas_are_refused() {
    let k = Kube::standard();
    let refused = |spec: Value| {
        let e = k
            .cluster
            .create(json!({"apiVersion": "v1", "kind": "ResourceQuota",
                "metadata": {"name": "bad", "namespace": "default"}, "spec": spec}))
            .unwrap_err();
        assert!(k
            .cluster
            .get("v1", "ResourceQuota", Some("default"), "bad")
            .is_none());
        e.to_string()
    };
    let e = refused(json!({"hard": {"pods": "-1"}}));
    assert!(
        e.contains("spec.hard[pods]: Invalid value: \"-1\": must be greater than or equal to 0"),
        "{e}"
    );
    let e = refused(json!({"hard": {"pods": "1.5"}}));
    assert!(
        e.contains("spec.hard[pods]: Invalid value: \"1500m\": must be an integer"),
        "{e}"
    );
    let e = refused(json!({"hard": {"gpus": "1"}}));
    assert!(
        e.contains(
            "spec.hard[gpus]: Invalid value: \"gpus\": must be a standard resource for quota"
        ),
        "{e}"
    );
    let e = refused(json!({"hard": {"pods": "1"}, "scopes": ["Terminating", "NotTerminating"]}));
    assert!(e.contains("spec.scopes: Invalid value: []core.ResourceQuotaScope{\"Terminating\", \"NotTerminating\"}: conflicting scopes"), "{e}");
    let e = refused(json!({"hard": {"cpu": "1"}, "scopes": ["BestEffort"]}));
    assert!(e.contains("unsupported scope applied to resource"), "{e}");
    let e = refused(json!({"hard": {"pods": true}}));
    assert!(e.contains("cannot unmarshal"), "{e}");
}

/// Updates are checked where kube's evaluators look at them: a Service
/// turned `NodePort` takes node ports, and past the quota the change is
/// refused and the Service stays as it was.
#[test]
fn a_service_update_that_takes_node_ports_is_checked() {
    let k = Kube::standard();
    k.ok(&["create", "quota", "ports", "--hard=services.nodeports=1"]);
    k.ok(&[
        "create",
        "service",
        "clusterip",
        "web",
        "--tcp=80:8080",
        "--tcp=443:8443",
    ]);
    let err = fails(
        &k,
        &[
            "patch",
            "service",
            "web",
            "--type=merge",
            "-p",
            r#"{"spec":{"type":"NodePort"}}"#,
        ],
    );
    assert!(
        err.contains("services \"web\" is forbidden: exceeded quota: ports, requested: services.nodeports=2, used: services.nodeports=0, limited: services.nodeports=1"),
        "{err}"
    );
    let svc = k
        .cluster
        .get("v1", "Service", Some("default"), "web")
        .unwrap();
    assert_eq!(svc["spec"]["type"], "ClusterIP");
    // One port fits; the quota then counts it.
    k.ok(&["create", "service", "nodeport", "one", "--tcp=80:8080"]);
    assert!(k
        .cluster
        .wait_until(Duration::from_secs(10), |_| quota(&k, "ports")["status"]
            ["used"]
            == json!({"services.nodeports": "1"})));
}

/// The ReplicaSets a Deployment makes are created through the quota check
/// as any object: with `count/replicasets.apps=1` a rollout's second
/// ReplicaSet is refused, the Deployment says so (`Progressing` `False`,
/// `ReplicaSetCreateError`, and the event), the old pods stay; a larger
/// quota lets the rollout go on.
#[test]
fn a_rollout_past_a_replica_set_quota_stops_and_says_why() {
    let k = Kube::standard();
    k.ok(&["create", "quota", "rs", "--hard=count/replicasets.apps=1"]);
    k.cluster.create(deployment("default", "web", 2)).unwrap();
    k.ok(&["rollout", "status", "deployment/web", "--timeout=20s"]);
    k.ok(&["set", "image", "deployment/web", "app=nginx:1.28"]);
    let refused = |k: &Kube| {
        k.cluster
            .get("apps/v1", "Deployment", Some("default"), "web")
            .and_then(|d| {
                d["status"]["conditions"]
                    .as_array()?
                    .iter()
                    .find(|c| c["type"] == "Progressing")
                    .cloned()
            })
            .filter(|c| c["reason"] == "ReplicaSetCreateError")
    };
    assert!(k
        .cluster
        .wait_until(Duration::from_secs(10), |_| refused(&k).is_some()));
    let c = refused(&k).unwrap();
    assert_eq!(c["status"], "False");
    let message = c["message"].as_str().unwrap();
    assert!(
        message.starts_with("Failed to create new replica set \"web-")
            && message.contains("exceeded quota: rs, requested: count/replicasets.apps=1, used: count/replicasets.apps=1, limited: count/replicasets.apps=1"),
        "{message}"
    );
    assert_eq!(
        k.cluster
            .list("apps/v1", "ReplicaSet", Some("default"))
            .len(),
        1
    );
    assert_eq!(pod_count(&k), 2);
    let described = k.ok(&["describe", "deployment", "web"]);
    assert!(described.contains("ReplicaSetCreateError"), "{described}");

    k.ok(&[
        "patch",
        "quota",
        "rs",
        "--type=merge",
        "-p",
        r#"{"spec":{"hard":{"count/replicasets.apps":"2"}}}"#,
    ]);
    k.ok(&["rollout", "status", "deployment/web", "--timeout=20s"]);
    assert_eq!(
        k.cluster
            .list("apps/v1", "ReplicaSet", Some("default"))
            .len(),
        2
    );
}

/// A StatefulSet's claims are created through the quota check too: with
/// room for one claim, `web-0` gets its claim and pod, `web-1` neither,
/// and the StatefulSet's event says why; more room, and `web-1` follows.
#[test]
fn a_stateful_set_stops_at_the_claims_a_quota_allows() {
    let k = Kube::standard();
    k.ok(&[
        "create",
        "quota",
        "claims",
        "--hard=persistentvolumeclaims=1",
    ]);
    k.cluster
        .create(json!({"apiVersion": "apps/v1", "kind": "StatefulSet",
            "metadata": {"name": "db", "namespace": "default"},
            "spec": {"replicas": 2, "serviceName": "db", "selector": {"matchLabels": {"app": "db"}},
                "template": {"metadata": {"labels": {"app": "db"}},
                    "spec": {"containers": [{"name": "db", "image": "postgres:16"}]}},
                "volumeClaimTemplates": [{"metadata": {"name": "data"},
                    "spec": {"accessModes": ["ReadWriteOnce"],
                             "resources": {"requests": {"storage": "1Gi"}}}}]}}))
        .unwrap();
    let claim = |n: &str| {
        k.cluster
            .get("v1", "PersistentVolumeClaim", Some("default"), n)
    };
    let pod = |n: &str| k.cluster.get("v1", "Pod", Some("default"), n);
    assert!(k
        .cluster
        .wait_until(Duration::from_secs(10), |_| pod("db-0").is_some()));
    assert!(claim("data-db-0").is_some());
    assert!(claim("data-db-1").is_none() && pod("db-1").is_none());
    let events = k.ok(&["get", "events", "--field-selector=reason=FailedCreate"]);
    assert!(
        events.contains("create Claim data-db-1 for Pod db-1 in StatefulSet db failed error: persistentvolumeclaims \"data-db-1\" is forbidden: exceeded quota: claims"),
        "{events}"
    );
    k.ok(&[
        "patch",
        "quota",
        "claims",
        "--type=merge",
        "-p",
        r#"{"spec":{"hard":{"persistentvolumeclaims":"2"}}}"#,
    ]);
    assert!(k
        .cluster
        .wait_until(Duration::from_secs(10), |_| pod("db-1").is_some()));
    assert!(claim("data-db-1").is_some());
}
