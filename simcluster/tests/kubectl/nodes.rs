//! `kubectl get`, `label`, `cordon` and `drain` on nodes and pods.

use super::*;

#[test]
fn get_nodes_prints_status_roles_version() {
    let k = Kube::standard();
    let out = k.ok(&["get", "nodes"]);
    let t = rows(&out);
    assert_eq!(t[0], ["NAME", "STATUS", "ROLES", "AGE", "VERSION"]);
    assert_eq!(t.len(), 5, "{out}");
    assert_eq!(row(&t, "master-1")[1..3], ["Ready", "control-plane"]);
    assert_eq!(row(&t, "worker-1")[1..3], ["Ready", "<none>"]);
    assert_eq!(row(&t, "gpu-1")[4], "v1.32.4");
    assert_eq!(row(&t, "gpu-1")[3], "5d18h");
    // wide adds the node's addresses and runtime, as in the store
    let wide = rows(&k.ok(&["get", "nodes", "-o", "wide"]));
    assert_eq!(wide[0][5..8], ["INTERNAL-IP", "EXTERNAL-IP", "OS-IMAGE"]);
    let ip = k.node("worker-2")["status"]["addresses"][0]["address"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(row(&wide, "worker-2")[5], ip);
    // the store is what kubectl showed
    assert_eq!(k.cluster.list("v1", "Node", None).len(), 4);
    // -o json goes through the plain (non-Table) path
    let json: Value = serde_json::from_str(&k.ok(&["get", "node", "gpu-1", "-o", "json"])).unwrap();
    assert_eq!(json["status"]["allocatable"]["nvidia.com/gpu"], "4");
    assert_eq!(
        json["metadata"]["labels"]["nvidia.com/gpu.product"],
        "NVIDIA-A100-SXM4-80GB"
    );
}

#[test]
fn get_pods_all_namespaces_wide() {
    let k = Kube::standard();
    k.cluster
        .create(json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "team-a"}}))
        .unwrap();
    k.cluster.create(deployment("team-a", "api", 3)).unwrap();
    k.cluster
        .create(json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "solo", "namespace": "default"},
                       "spec": {"containers": [{"name": "c", "image": "busybox", "resources": {"limits": {"cpu": "1", "memory": "1Gi"}}}]}}))
        .unwrap();
    k.cluster
        .create(json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "too-big", "namespace": "default"},
                       "spec": {"containers": [{"name": "c", "image": "busybox", "resources": {"limits": {"nvidia.com/gpu": "8"}}}]}}))
        .unwrap();
    let out = k.ok(&["get", "pods", "-A", "-o", "wide"]);
    let t = rows(&out);
    assert_eq!(
        t[0][..8],
        [
            "NAMESPACE",
            "NAME",
            "READY",
            "STATUS",
            "RESTARTS",
            "AGE",
            "IP",
            "NODE"
        ]
    );
    let pods = k.cluster.list("v1", "Pod", None);
    assert_eq!(t.len() - 1, pods.len(), "{out}");
    assert_eq!(pods.len(), 5);
    // kubectl reads lists in chunks (500 by default): one pod a chunk
    // follows every continue token to the same rows, ages aside.
    let chunked = rows(&k.ok(&["get", "pods", "-A", "--chunk-size=1", "--no-headers"]));
    let names = |t: &[Vec<String>]| -> Vec<String> { t.iter().map(|r| r[..2].join("/")).collect() };
    assert_eq!(names(&chunked), names(&t[1..]));
    for p in &pods {
        let name = p["metadata"]["name"].as_str().unwrap();
        let r = row(&t, p["metadata"]["namespace"].as_str().unwrap());
        let r = if r[1] == name {
            r
        } else {
            t.iter().find(|r| r[1] == name).unwrap()
        };
        if name == "too-big" {
            assert_eq!(r[2..5], ["0/1", "Pending", "0"]);
            assert_eq!(r[6..8], ["<none>", "<none>"]);
            let cond = &p["status"]["conditions"][0];
            assert_eq!(cond["reason"], "Unschedulable");
            assert!(
                cond["message"]
                    .as_str()
                    .unwrap()
                    .starts_with("0/4 nodes are available:"),
                "{cond}"
            );
        } else {
            assert_eq!(r[2..5], ["1/1", "Running", "0"]);
            assert_eq!(r[6], p["status"]["podIP"].as_str().unwrap());
            assert_eq!(r[7], p["spec"]["nodeName"].as_str().unwrap());
            assert_ne!(r[7], "master-1", "control-plane taint keeps workloads off");
        }
    }
    let solo = k.cluster.get("v1", "Pod", Some("default"), "solo").unwrap();
    assert_eq!(solo["status"]["qosClass"], "Guaranteed");
    // label selectors reach the server
    let sel = rows(&k.ok(&[
        "get",
        "pods",
        "-n",
        "team-a",
        "-l",
        "app=api",
        "--no-headers",
    ]));
    assert_eq!(sel.len(), 3);
    let phase = rows(&k.ok(&[
        "get",
        "pods",
        "-A",
        "--field-selector",
        "status.phase=Pending",
        "--no-headers",
    ]));
    assert_eq!(phase.len(), 1);
    assert_eq!(phase[0][1], "too-big");
}

#[test]
fn label_and_unlabel_node() {
    let k = Kube::standard();
    let out = k.ok(&["label", "node", "worker-1", "accelerator=none", "rack=r7"]);
    assert_eq!(out.trim(), "node/worker-1 labeled");
    let labels = &k.node("worker-1")["metadata"]["labels"];
    assert_eq!(labels["accelerator"], "none");
    assert_eq!(labels["rack"], "r7");
    // changing a value needs --overwrite, as on a real cluster
    let refused = k.run(&["label", "node", "worker-1", "rack=r8"]);
    assert!(!refused.status.success());
    assert!(String::from_utf8_lossy(&refused.stderr).contains("already has a value (r7)"));
    k.ok(&["label", "node", "worker-1", "rack=r8", "--overwrite"]);
    assert_eq!(k.node("worker-1")["metadata"]["labels"]["rack"], "r8");
    assert_eq!(
        k.ok(&["label", "node", "worker-1", "rack-"]).trim(),
        "node/worker-1 unlabeled"
    );
    assert!(k.node("worker-1")["metadata"]["labels"]
        .get("rack")
        .is_none());
    let shown = k.ok(&["get", "nodes", "-l", "accelerator=none", "-o", "name"]);
    assert_eq!(shown.trim(), "node/worker-1");
}

#[test]
fn cordon_and_uncordon() {
    let k = Kube::standard();
    assert_eq!(
        k.ok(&["cordon", "worker-2"]).trim(),
        "node/worker-2 cordoned"
    );
    let n = k.node("worker-2");
    assert_eq!(n["spec"]["unschedulable"], true);
    assert!(n["spec"]["taints"]
        .as_array()
        .unwrap()
        .iter()
        .any(|t| t["key"] == "node.kubernetes.io/unschedulable"));
    let t = rows(&k.ok(&["get", "nodes"]));
    assert_eq!(row(&t, "worker-2")[1], "Ready,SchedulingDisabled");
    assert_eq!(row(&t, "worker-1")[1], "Ready");
    // new pods avoid the cordoned node
    k.cluster.create(deployment("default", "web", 6)).unwrap();
    assert!(pods_on(&k, "worker-2").is_empty());
    assert_eq!(
        k.ok(&["uncordon", "worker-2"]).trim(),
        "node/worker-2 uncordoned"
    );
    let n = k.node("worker-2");
    assert!(n["spec"].get("unschedulable").is_none_or(|v| v == false));
    assert!(n["spec"].get("taints").is_none());
    assert_eq!(row(&rows(&k.ok(&["get", "nodes"])), "worker-2")[1], "Ready");
}

fn wait_child(child: &mut Child, timeout: Duration) -> Option<std::process::ExitStatus> {
    let end = Instant::now() + timeout;
    while Instant::now() < end {
        if let Some(s) = child.try_wait().unwrap() {
            return Some(s);
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    None
}

#[test]
fn drain_waits_for_pdb_then_completes() {
    let k = Kube::start(
        ClusterSpec::new("drain")
            .node(NodeSpec::control_plane("master-1"))
            .node(NodeSpec::new("worker-1"))
            .node(NodeSpec::new("worker-2").unschedulable(true))
            .node(NodeSpec::new("worker-3").unschedulable(true)),
    );
    // everything lands on worker-1, then the others open up
    k.cluster
        .create(json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "shop"}}))
        .unwrap();
    k.cluster.create(deployment("shop", "web", 2)).unwrap();
    k.cluster
        .create(json!({"apiVersion": "apps/v1", "kind": "DaemonSet", "metadata": {"name": "agent", "namespace": "kube-system"},
            "spec": {"selector": {"matchLabels": {"app": "agent"}}, "template": {"metadata": {"labels": {"app": "agent"}},
                "spec": {"containers": [{"name": "a", "image": "busybox:1.36", "volumeMounts": [{"name": "tmp", "mountPath": "/tmp"}]}],
                         "volumes": [{"name": "tmp", "emptyDir": {}}]}}}}))
        .unwrap();
    k.cluster
        .create(json!({"apiVersion": "policy/v1", "kind": "PodDisruptionBudget", "metadata": {"name": "web-pdb", "namespace": "shop"},
                       "spec": {"minAvailable": 2, "selector": {"matchLabels": {"app": "web"}}}}))
        .unwrap();
    assert_eq!(
        pods_on(&k, "worker-1").len(),
        3,
        "two web pods and one agent"
    );
    for n in ["worker-2", "worker-3"] {
        k.cluster
            .patch_merge(
                "v1",
                "Node",
                None,
                n,
                &json!({"spec": {"unschedulable": null}}),
            )
            .unwrap();
    }
    let pdb = k
        .cluster
        .get("policy/v1", "PodDisruptionBudget", Some("shop"), "web-pdb")
        .unwrap();
    assert_eq!(pdb["status"]["disruptionsAllowed"], 0);

    let mut child = k
        .command(&[
            "drain",
            "worker-1",
            "--ignore-daemonsets",
            "--delete-emptydir-data",
            "--timeout=60s",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // drain keeps retrying while the budget refuses
    assert!(
        k.cluster
            .wait_until(Duration::from_secs(20), |c| c.counters().evictions_refused
                >= 2),
        "evictions were refused"
    );
    assert!(
        child.try_wait().unwrap().is_none(),
        "drain still running while the PDB blocks"
    );
    assert_eq!(
        k.node("worker-1")["spec"]["unschedulable"],
        true,
        "drain cordoned first"
    );
    assert_eq!(k.cluster.counters().evictions, 0);
    // relax the budget through the API; drain's next retry succeeds
    k.cluster
        .patch_merge(
            "policy/v1",
            "PodDisruptionBudget",
            Some("shop"),
            "web-pdb",
            &json!({"spec": {"minAvailable": 1}}),
        )
        .unwrap();
    let status = wait_child(&mut child, Duration::from_secs(40)).expect("drain finishes");
    let out = child.wait_with_output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        status.success(),
        "drain failed\nstdout:\n{stdout}\nstderr:\n{stderr}"
    );
    assert!(
        stderr.contains("Cannot evict pod as it would violate the pod's disruption budget"),
        "{stderr}"
    );
    assert!(
        stderr.contains("ignoring DaemonSet-managed Pods: kube-system/agent-"),
        "{stderr}"
    );
    assert_eq!(stdout.matches(" evicted").count(), 2, "{stdout}");
    assert!(stdout.contains("node/worker-1 drained"), "{stdout}");
    // only the DaemonSet pod stays; the deployment is whole again elsewhere
    let left = pods_on(&k, "worker-1");
    assert_eq!(left.len(), 1);
    assert_eq!(
        left[0]["metadata"]["ownerReferences"][0]["kind"],
        "DaemonSet"
    );
    let web = k
        .cluster
        .list_selected("v1", "Pod", Some("shop"), "app=web", "")
        .unwrap();
    assert_eq!(web.len(), 2);
    for p in &web {
        assert_eq!(p["status"]["phase"], "Running");
        assert_ne!(p["spec"]["nodeName"], "worker-1");
        assert_eq!(p["metadata"]["ownerReferences"][0]["kind"], "ReplicaSet");
    }
    assert_eq!(k.cluster.counters().evictions, 2);
    let evictions = k
        .cluster
        .requests()
        .iter()
        .filter(|r| r.method == "POST" && r.uri.ends_with("/eviction"))
        .map(|r| r.status)
        .collect::<Vec<_>>();
    assert!(
        evictions.contains(&429) && evictions.contains(&201),
        "{evictions:?}"
    );
    assert_eq!(
        row(&rows(&k.ok(&["get", "nodes"])), "worker-1")[1],
        "Ready,SchedulingDisabled"
    );
}
