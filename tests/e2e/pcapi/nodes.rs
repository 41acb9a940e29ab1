//! pcapi's node operations against a simulated cluster: cordon, uncordon
//! and drain (and a read-only account refused one), deleting a node, and
//! resource instances applied and deleted from YAML.

use std::time::Duration;

use serde_json::{json, Value};

use super::env;

#[tokio::test(flavor = "multi_thread")]
async fn state_switch_cordons_uncordons_and_drains() {
    let e = env();
    let (status, body) = e
        .call(
            "POST",
            "node_state_switch",
            &[("worker_node", "worker-1"), ("state", "cordon")],
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["info"], "switch node success");
    assert_eq!(body["data"]["state"], "cordon");
    assert_eq!(body["data"]["drain"], false);
    assert_eq!(e.node("worker-1").unwrap()["spec"]["unschedulable"], true);

    let (status, _) = e
        .call(
            "POST",
            "node_state_switch",
            &[("worker_node", "worker-1"), ("state", "uncordon")],
        )
        .await;
    assert_eq!(status, 200);
    assert_ne!(e.node("worker-1").unwrap()["spec"]["unschedulable"], true);

    // A pod on worker-2, then cordon + drain (documented misspelling `darin`).
    e.sim
        .create(json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "solo", "namespace": "default"},
            "spec": {"nodeName": "worker-2", "containers": [{"name": "c", "image": "busybox"}]}}))
        .unwrap();
    let (status, body) = e
        .call(
            "POST",
            "node_state_switch",
            &[
                ("worker_node", "worker-2"),
                ("state", "cordon"),
                ("darin", "true"),
            ],
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["data"]["drain"], true);
    assert!(e.sim.get("v1", "Pod", Some("default"), "solo").is_none());
    assert_eq!(e.node("worker-2").unwrap()["spec"]["unschedulable"], true);

    let (status, body) = e
        .call(
            "POST",
            "node_state_switch",
            &[("worker_node", "worker-1"), ("state", "pause")],
        )
        .await;
    // The document's failure body: `switch node failed` with `{state, drain}`
    // (the node too, as on success); why in `detail`.
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        body,
        json!({"status": false, "info": "switch node failed",
            "data": {"state": "pause", "drain": false, "node_name": "worker-1"},
            "detail": "parameter `state` is not valid: must be cordon or uncordon, got `pause`"})
    );
    // An unknown node: the cluster's refusal, the same envelope.
    let (status, body) = e
        .call(
            "POST",
            "node_state_switch",
            &[("worker_node", "nope"), ("state", "uncordon")],
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["info"], "switch node failed");
    assert_eq!(
        body["data"],
        json!({"state": "uncordon", "drain": false, "node_name": "nope"})
    );
}

/// A kubeconfig whose service account may only read nodes (its cluster's
/// RBAC says so): the nodes board works, a cordon is the cluster's `403` in
/// pcapi's failure envelope, and the node is unchanged.
#[tokio::test(flavor = "multi_thread")]
async fn a_read_only_account_reads_nodes_and_is_refused_a_cordon() {
    let e = env();
    let rbac = "rbac.authorization.k8s.io/v1";
    e.sim
        .create(json!({"apiVersion": "v1", "kind": "ServiceAccount",
            "metadata": {"name": "reader", "namespace": "default"}}))
        .unwrap();
    e.sim
        .create(json!({"apiVersion": rbac, "kind": "ClusterRole", "metadata": {"name": "node-reader"},
            "rules": [{"apiGroups": [""], "resources": ["nodes"], "verbs": ["get", "list", "watch"]}]}))
        .unwrap();
    e.sim
        .create(json!({"apiVersion": rbac, "kind": "ClusterRoleBinding", "metadata": {"name": "reader"},
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "node-reader"},
            "subjects": [{"kind": "ServiceAccount", "name": "reader", "namespace": "default"}]}))
        .unwrap();
    let token = e.sim.service_account_token("default", "reader").unwrap();
    let kc = e.sim.kubeconfig_with("reader", &token);

    let (status, body) = e.call_with(&kc, "GET", "get_cluster_nodes", &[]).await;
    assert_eq!((status, &body["status"]), (200, &json!(true)), "{body}");
    assert_eq!(body["data"]["total"], 3);

    let (status, body) = e
        .call_with(
            &kc,
            "POST",
            "node_state_switch",
            &[("worker_node", "worker-1"), ("state", "cordon")],
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["status"], false);
    assert_eq!(body["info"], "switch node failed");
    let detail = body["detail"].as_str().unwrap_or("");
    assert!(
        detail.contains("nodes \"worker-1\" is forbidden: User \"system:serviceaccount:default:reader\" cannot patch resource \"nodes\""),
        "{body}"
    );
    assert_ne!(e.node("worker-1").unwrap()["spec"]["unschedulable"], true);

    // The same call with the administrator's kubeconfig goes through.
    let (_, body) = e
        .call(
            "POST",
            "node_state_switch",
            &[("worker_node", "worker-1"), ("state", "cordon")],
        )
        .await;
    assert_eq!(body["status"], true, "{body}");
    assert_eq!(e.node("worker-1").unwrap()["spec"]["unschedulable"], true);
}

#[tokio::test(flavor = "multi_thread")]
async fn delete_cluster_node_forced_drains_then_deletes() {
    let e = env();
    let (status, body) = e
        .call(
            "POST",
            "delete_cluster_node",
            &[("node_name", "worker-2"), ("force", "true")],
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["info"], "delete node success");
    assert_eq!(
        body["data"],
        json!({"node_name": "worker-2", "force": true})
    );
    assert!(e.node("worker-2").is_none());
    let (status, body) = e
        .call("POST", "delete_cluster_node", &[("node_name", "worker-2")])
        .await;
    // The document's failure body exactly, why in `detail`.
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        body,
        json!({"status": false, "info": "delete node failed",
            "data": {"node_name": "worker-2", "force": false},
            "detail": "no node `worker-2`"})
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn yaml_apply_delete_creates_and_removes_the_instance() {
    let e = env();
    let params = [
        ("action", "apply"),
        ("namespace_name", "inst-ns"),
        ("serviceaccount_name", "inst-ns-serviceaccount"),
        ("podcd_name", "inst-statefulset"),
        ("service_name", "inst-service"),
        ("source_podengine", "StatefulSet"),
        ("pod_imagepath", "docker.io/library/mysql:8.0"),
        ("source_replicasetnum", "2"),
        ("source_cpurate", "500m"),
        ("source_memrate", "512Mi"),
        ("source_selflabel", "app:ubuntu3"),
        ("source_portmode", "NodePort"),
        ("source_apiport", "6035"),
        ("source_insideport", "3306"),
        ("source_outsideport", "30063"),
        ("source_mountpath", "/mnt/data"),
        ("source_storagelimits", "1Gi"),
        ("source_authuser", "root"),
        ("source_authpasswd", "kyycloud"),
    ];
    let (status, body) = e.call("POST", "yaml_apply_delete", &params).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        body,
        json!({"status": true, "info": "operate success", "data": null})
    );
    let sts = e
        .sim
        .get(
            "apps/v1",
            "StatefulSet",
            Some("inst-ns"),
            "inst-statefulset",
        )
        .unwrap();
    assert_eq!(sts["spec"]["replicas"], 2);
    let c = &sts["spec"]["template"]["spec"]["containers"][0];
    assert_eq!(c["resources"]["limits"]["cpu"], "500m");
    assert_eq!(
        sts["spec"]["template"]["metadata"]["labels"]["app"],
        "ubuntu3"
    );
    assert!(e
        .sim
        .get(
            "v1",
            "ServiceAccount",
            Some("inst-ns"),
            "inst-ns-serviceaccount"
        )
        .is_some());
    let svc = e
        .sim
        .get("v1", "Service", Some("inst-ns"), "inst-service")
        .unwrap();
    assert_eq!(svc["spec"]["type"], "NodePort");
    assert_eq!(svc["spec"]["ports"][0]["nodePort"], 30063);
    assert!(e.sim.wait_until(Duration::from_secs(10), |c| c
        .list("v1", "Pod", Some("inst-ns"))
        .len()
        == 2));

    // Scale by applying again with other parameters.
    let mut scaled = params.to_vec();
    scaled[6] = ("source_replicasetnum", "1");
    let (status, _) = e.call("POST", "yaml_apply_delete", &scaled).await;
    assert_eq!(status, 200);
    let sts = e
        .sim
        .get(
            "apps/v1",
            "StatefulSet",
            Some("inst-ns"),
            "inst-statefulset",
        )
        .unwrap();
    assert_eq!(sts["spec"]["replicas"], 1);

    let mut delete = params.to_vec();
    delete[0] = ("action", "delete");
    let (status, body) = e.call("POST", "yaml_apply_delete", &delete).await;
    assert_eq!(status, 200, "{body}");
    assert!(e
        .sim
        .get(
            "apps/v1",
            "StatefulSet",
            Some("inst-ns"),
            "inst-statefulset"
        )
        .is_none());
    assert!(e
        .sim
        .get("v1", "Service", Some("inst-ns"), "inst-service")
        .is_none());

    // Validation: each refused with the field named, nothing created.
    for (field, value) in [
        ("source_podengine", "Pet"),
        ("source_cpurate", "lots"),
        ("source_outsideport", "80"),
        ("namespace_name", "Bad_NS"),
        ("source_selflabel", "app"),
        ("source_restartpolicy", "Never"),
        ("action", "destroy"),
    ] {
        let mut bad = params.to_vec();
        bad.retain(|(k, _)| *k != field);
        bad.push((field, value));
        let (status, body) = e.call("POST", "yaml_apply_delete", &bad).await;
        // The document's failure: `operate failed` with `data: null`.
        assert_eq!(status, 200, "{field}: {body}");
        assert_eq!(
            (&body["status"], &body["info"], &body["data"]),
            (&json!(false), &json!("operate failed"), &Value::Null),
            "{field}: {body}"
        );
        assert!(
            body["detail"].as_str().unwrap().contains(field),
            "{field}: {body}"
        );
    }
    assert!(e
        .sim
        .get(
            "apps/v1",
            "StatefulSet",
            Some("inst-ns"),
            "inst-statefulset"
        )
        .is_none());

    // The API server refuses the last document (its NodePort is taken by
    // another instance): nothing the refused apply created stays behind.
    let in_namespace = |ns: &'static str, sa: &'static str| {
        let mut p = params.to_vec();
        for (k, v) in p.iter_mut() {
            match *k {
                "namespace_name" => *v = ns,
                "serviceaccount_name" => *v = sa,
                _ => {}
            }
        }
        p
    };
    let keep = in_namespace("keep-ns", "keep-ns-serviceaccount");
    let (status, body) = e.call("POST", "yaml_apply_delete", &keep).await;
    assert_eq!((status, &body["status"]), (200, &json!(true)), "{body}");
    let clash = in_namespace("other-ns", "other-ns-serviceaccount");
    let (status, body) = e.call("POST", "yaml_apply_delete", &clash).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["status"], false, "{body}");
    for (av, kind, name) in [
        ("v1", "ServiceAccount", "other-ns-serviceaccount"),
        ("apps/v1", "StatefulSet", "inst-statefulset"),
    ] {
        assert!(
            e.sim.get(av, kind, Some("other-ns"), name).is_none(),
            "{kind} {name} left behind"
        );
    }
    // The namespace it made goes too (once its finalizer has run).
    assert!(e.sim.wait_until(Duration::from_secs(10), |c| c
        .get("v1", "Namespace", None, "other-ns")
        .is_none()));
    // The first instance is untouched.
    assert!(e
        .sim
        .get("v1", "Service", Some("keep-ns"), "inst-service")
        .is_some());
}
