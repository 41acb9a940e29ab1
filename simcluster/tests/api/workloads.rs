//! The scheduler, workloads owning their pods, eviction and services.

use super::*;

#[test]
fn scheduler_gpus_qos_and_unschedulable() {
    let c = cluster();
    let pod = |name: &str, res: Value| {
        json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "namespace": "default"},
        "spec": {"containers": [{"name": "c", "image": "cuda:12", "resources": res}]}})
    };
    let p = c
        .create(pod(
            "train",
            json!({"limits": {"nvidia.com/gpu": "2", "cpu": "4", "memory": "16Gi"}}),
        ))
        .unwrap();
    assert_eq!(p["spec"]["nodeName"], "gpu-1");
    assert_eq!(p["status"]["phase"], "Running");
    assert_eq!(p["status"]["qosClass"], "Guaranteed");
    assert!(p["status"]["podIP"]
        .as_str()
        .unwrap()
        .starts_with("10.244."));
    let p = c
        .create(pod("more", json!({"limits": {"nvidia.com/gpu": "3"}})))
        .unwrap();
    assert_eq!(p["status"]["phase"], "Pending");
    assert_eq!(p["status"]["qosClass"], "BestEffort");
    let cond = &p["status"]["conditions"][0];
    assert_eq!(
        (
            cond["type"].as_str(),
            cond["status"].as_str(),
            cond["reason"].as_str()
        ),
        (Some("PodScheduled"), Some("False"), Some("Unschedulable"))
    );
    assert_eq!(
        cond["message"],
        "0/3 nodes are available: 1 node(s) had untolerated taint {node-role.kubernetes.io/control-plane: }, 2 Insufficient nvidia.com/gpu."
    );
    // freeing the GPUs lets the pending pod in
    c.delete("v1", "Pod", Some("default"), "train").unwrap();
    let p = c.get("v1", "Pod", Some("default"), "more").unwrap();
    assert_eq!(p["spec"]["nodeName"], "gpu-1");
    let burst = c
        .create(pod(
            "burst",
            json!({"requests": {"cpu": "100m"}, "limits": {"cpu": "1"}}),
        ))
        .unwrap();
    assert_eq!(burst["status"]["qosClass"], "Burstable");
    let sel = c.create(json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "sel", "namespace": "default"},
        "spec": {"nodeSelector": {"nvidia.com/gpu.product": "NVIDIA-H100-80GB-HBM3"}, "containers": [{"name": "c", "image": "x"}]}})).unwrap();
    assert_eq!(sel["spec"]["nodeName"], "gpu-1");
}

#[test]
fn workloads_own_their_pods_and_cascade() {
    let c = cluster();
    let tmpl = json!({"metadata": {"labels": {"app": "db"}}, "spec": {"containers": [{"name": "db", "image": "postgres:16"}]}});
    c.create(json!({"apiVersion": "apps/v1", "kind": "StatefulSet", "metadata": {"name": "db", "namespace": "default"},
        "spec": {"replicas": 2, "serviceName": "db", "selector": {"matchLabels": {"app": "db"}}, "template": tmpl,
                 "volumeClaimTemplates": [{"metadata": {"name": "data"}, "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "10Gi"}}}}]}}))
        .unwrap();
    let pods: Vec<String> = c
        .list("v1", "Pod", Some("default"))
        .iter()
        .map(|p| p["metadata"]["name"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(pods, ["db-0", "db-1"]);
    let pvc = c
        .get("v1", "PersistentVolumeClaim", Some("default"), "data-db-0")
        .unwrap();
    assert_eq!(pvc["status"]["phase"], "Bound");
    let sts = c
        .get("apps/v1", "StatefulSet", Some("default"), "db")
        .unwrap();
    assert_eq!(sts["status"]["readyReplicas"], 2);
    c.patch_merge(
        "apps/v1",
        "StatefulSet",
        Some("default"),
        "db",
        &json!({"spec": {"replicas": 1}}),
    )
    .unwrap();
    assert_eq!(c.list("v1", "Pod", Some("default")).len(), 1);
    c.delete("apps/v1", "StatefulSet", Some("default"), "db")
        .unwrap();
    assert!(
        c.list("v1", "Pod", Some("default")).is_empty(),
        "pods follow their owner"
    );

    c.create(json!({"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": "once", "namespace": "default"},
        "spec": {"template": {"spec": {"restartPolicy": "Never", "containers": [{"name": "c", "image": "busybox"}]}}}}))
        .unwrap();
    let done = c.wait_until(Duration::from_secs(5), |c| {
        c.get("batch/v1", "Job", Some("default"), "once").unwrap()["status"]["succeeded"] == 1
    });
    assert!(done, "job completes");
    let job = c.get("batch/v1", "Job", Some("default"), "once").unwrap();
    assert!(job["status"]["conditions"]
        .as_array()
        .unwrap()
        .iter()
        .any(|c| c["type"] == "Complete" && c["status"] == "True"));

    c.create(json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web", "namespace": "default"},
        "spec": {"replicas": 3, "selector": {"matchLabels": {"app": "web"}}, "template": {"metadata": {"labels": {"app": "web"}}, "spec": {"containers": [{"name": "c", "image": "nginx"}]}}}}))
        .unwrap();
    let rs = c.list("apps/v1", "ReplicaSet", Some("default"));
    assert_eq!(rs.len(), 1);
    let web = c
        .list_selected(
            "v1",
            "Pod",
            Some("default"),
            "app=web",
            "status.phase=Running",
        )
        .unwrap();
    assert_eq!(web.len(), 3);
    assert_eq!(
        web[0]["metadata"]["ownerReferences"][0]["uid"],
        rs[0]["metadata"]["uid"]
    );
    // a template change rolls out a new ReplicaSet
    c.patch_merge("apps/v1", "Deployment", Some("default"), "web", &json!({"spec": {"template": {"spec": {"containers": [{"name": "c", "image": "nginx:2"}]}}}})).unwrap();
    let d = c
        .get("apps/v1", "Deployment", Some("default"), "web")
        .unwrap();
    assert_eq!(d["metadata"]["generation"], 2);
    assert_eq!(
        d["metadata"]["annotations"]["deployment.kubernetes.io/revision"],
        "2"
    );
    let images: Vec<Value> = c
        .list_selected("v1", "Pod", Some("default"), "app=web", "")
        .unwrap()
        .iter()
        .map(|p| p["spec"]["containers"][0]["image"].clone())
        .collect();
    assert_eq!(images, vec![json!("nginx:2"); 3]);
    c.delete("apps/v1", "Deployment", Some("default"), "web")
        .unwrap();
    assert!(c.list("apps/v1", "ReplicaSet", Some("default")).is_empty());
    assert!(c
        .list_selected("v1", "Pod", Some("default"), "app=web", "")
        .unwrap()
        .is_empty());
}

#[test]
fn eviction_honours_pdb_and_services_get_node_ports() {
    let c = cluster();
    c.create(json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web", "namespace": "default"},
        "spec": {"replicas": 2, "selector": {"matchLabels": {"app": "web"}}, "template": {"metadata": {"labels": {"app": "web"}}, "spec": {"containers": [{"name": "c", "image": "nginx"}]}}}}))
        .unwrap();
    c.create(json!({"apiVersion": "policy/v1", "kind": "PodDisruptionBudget", "metadata": {"name": "pdb", "namespace": "default"},
        "spec": {"maxUnavailable": 0, "selector": {"matchLabels": {"app": "web"}}}}))
        .unwrap();
    let victim = c
        .list_selected("v1", "Pod", Some("default"), "app=web", "")
        .unwrap()[0]["metadata"]["name"]
        .as_str()
        .unwrap()
        .to_string();
    let body = json!({"apiVersion": "policy/v1", "kind": "Eviction", "metadata": {"name": victim, "namespace": "default"}}).to_string();
    let path = format!("/api/v1/namespaces/default/pods/{victim}/eviction");
    let (code, v) = call(&c, "POST", &path, "application/json", &body);
    assert_eq!((code, v["reason"].as_str()), (429, Some("TooManyRequests")));
    assert_eq!(v["details"]["causes"][0]["reason"], "DisruptionBudget");
    c.patch_merge(
        "policy/v1",
        "PodDisruptionBudget",
        Some("default"),
        "pdb",
        &json!({"spec": {"maxUnavailable": 1}}),
    )
    .unwrap();
    let (code, _) = call(&c, "POST", &path, "application/json", &body);
    assert_eq!(code, 201);
    assert!(c.get("v1", "Pod", Some("default"), &victim).is_none());
    assert_eq!(
        c.list_selected("v1", "Pod", Some("default"), "app=web", "")
            .unwrap()
            .len(),
        2,
        "replaced"
    );

    let svc = |name: &str, port: Option<u16>| {
        let mut p = json!({"port": 80});
        if let Some(n) = port {
            p["nodePort"] = json!(n);
        }
        json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": name, "namespace": "default"}, "spec": {"type": "NodePort", "selector": {"app": "web"}, "ports": [p]}})
    };
    let a = c.create(svc("a", Some(30080))).unwrap();
    assert_eq!(a["spec"]["ports"][0]["nodePort"], 30080);
    assert!(a["spec"]["clusterIP"]
        .as_str()
        .unwrap()
        .starts_with("10.96."));
    let err = c.create(svc("b", Some(30080))).unwrap_err();
    assert_eq!(err.code, 422);
    assert!(
        err.message.contains("provided port is already allocated"),
        "{}",
        err.message
    );
    let err = c.create(svc("c", Some(8080))).unwrap_err();
    assert!(err.message.contains("30000-32767"));
    let d = c.create(svc("d", None)).unwrap();
    let np = d["spec"]["ports"][0]["nodePort"].as_u64().unwrap();
    assert!((30000..=32767).contains(&np) && np != 30080);
}

/// Owner references are not checked for cycles by a real API server either:
/// an object that owns itself, and two that own each other, are deleted
/// with `Foreground` propagation (which recursed without end before), and a
/// long chain of owners is collected in the background.
#[test]
fn owner_cycles_and_chains_are_collected() {
    let c = cluster();
    let cm = |name: &str| json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name, "namespace": "default"}});
    let owned_by = |owner: &Value| {
        json!({"metadata": {"ownerReferences": [{"apiVersion": "v1", "kind": "ConfigMap",
            "name": owner["metadata"]["name"], "uid": owner["metadata"]["uid"]}]}})
    };
    let cms = "/api/v1/namespaces/default/configmaps";
    let foreground = r#"{"propagationPolicy":"Foreground"}"#;
    let ct = "application/json";

    let me = c.create(cm("me")).unwrap();
    c.patch_merge("v1", "ConfigMap", Some("default"), "me", &owned_by(&me))
        .unwrap();
    let (code, body) = call(&c, "DELETE", &format!("{cms}/me"), ct, foreground);
    assert_eq!(code, 200, "{body}");
    assert!(c.get("v1", "ConfigMap", Some("default"), "me").is_none());

    let a = c.create(cm("a")).unwrap();
    let b = c.create(cm("b")).unwrap();
    c.patch_merge("v1", "ConfigMap", Some("default"), "a", &owned_by(&b))
        .unwrap();
    c.patch_merge("v1", "ConfigMap", Some("default"), "b", &owned_by(&a))
        .unwrap();
    let (code, body) = call(&c, "DELETE", &format!("{cms}/a"), ct, foreground);
    assert_eq!(code, 200, "{body}");
    for name in ["a", "b"] {
        assert!(
            c.get("v1", "ConfigMap", Some("default"), name).is_none(),
            "{name}"
        );
    }

    // A chain of 3,000 owners, removed from its root in the background.
    let mut owner = c.create(cm("chain-0")).unwrap();
    for i in 1..3000 {
        let mut next = cm(&format!("chain-{i}"));
        next["metadata"]["ownerReferences"] =
            owned_by(&owner)["metadata"]["ownerReferences"].clone();
        owner = c.create(next).unwrap();
    }
    c.delete("v1", "ConfigMap", Some("default"), "chain-0")
        .unwrap();
    assert!(c
        .get("v1", "ConfigMap", Some("default"), "chain-2999")
        .is_none());
}

/// `spec.replicas` of a Scale is an `int32` as in the real API: a larger
/// number is refused by the decoder and changes nothing.
#[test]
fn a_scale_beyond_int32_is_refused() {
    let c = cluster();
    c.create(json!({"apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": "web", "namespace": "default"},
        "spec": {"replicas": 1, "selector": {"matchLabels": {"app": "web"}},
            "template": {"metadata": {"labels": {"app": "web"}}, "spec": {"containers": [{"name": "c", "image": "nginx"}]}}}}))
        .unwrap();
    let (code, body) = call(
        &c,
        "PUT",
        "/apis/apps/v1/namespaces/default/deployments/web/scale",
        "application/json",
        r#"{"apiVersion":"autoscaling/v1","kind":"Scale","metadata":{"name":"web","namespace":"default"},"spec":{"replicas":9223372036854775807}}"#,
    );
    assert_eq!(code, 400, "{body}");
    assert!(
        body["message"].as_str().unwrap().contains("of type int32"),
        "{body}"
    );
    let d = c
        .get("apps/v1", "Deployment", Some("default"), "web")
        .unwrap();
    assert_eq!(d["spec"]["replicas"], 1);
}

/// A ReplicaSet of 2^31-1 replicas (the largest the API takes) neither
/// holds the cluster nor creates all its pods at once: they come 500 at a
/// time (with a write, and with each tick), and other requests are answered
/// meanwhile, also once a tick takes longer than the pause between ticks
/// (at 8,000 pods in a debug build, about 400 ms against 200 ms; a ticker on
/// a fixed interval then held the state lock past the client's 10 s timeout).
#[test]
fn a_huge_replica_count_grows_in_steps() {
    let c = cluster();
    c.create(json!({"apiVersion": "apps/v1", "kind": "ReplicaSet",
        "metadata": {"name": "many", "namespace": "default"},
        "spec": {"replicas": i32::MAX, "selector": {"matchLabels": {"app": "many"}},
            "template": {"metadata": {"labels": {"app": "many"}}, "spec": {"containers": [{"name": "c", "image": "x"}]}}}}))
        .unwrap();
    // 500 with the create, 500 more with each tick since.
    let first = c.list("v1", "Pod", Some("default")).len();
    assert!(
        first >= 500 && first.is_multiple_of(500) && first < 10_000,
        "{first}"
    );
    assert!(c.wait_until(Duration::from_secs(120), |c| c
        .list("v1", "Pod", Some("default"))
        .len()
        >= 8_000));
    for _ in 0..3 {
        let (code, body) = call(&c, "GET", "/api/v1/namespaces/default/pods?limit=1", "", "");
        assert_eq!(code, 200, "{body}");
        assert_eq!(body["items"].as_array().map(Vec::len), Some(1), "{body}");
    }
    c.delete("apps/v1", "ReplicaSet", Some("default"), "many")
        .unwrap();
    assert!(c.wait_until(Duration::from_secs(30), |c| c
        .list("v1", "Pod", Some("default"))
        .is_empty()));
}
