//! PriorityClasses: the system classes a cluster starts with, what
//! `ValidatePriorityClass` and the `Priority` admission plugin refuse, and a
//! pod's priority set from its class (or the global default), for a pod
//! created directly as for one a controller creates.

use super::*;

#[test]
fn the_system_classes_are_listed_and_stay() {
    let k = Kube::standard();
    let out = k.ok(&["get", "priorityclasses"]);
    let t = rows(&out);
    assert_eq!(
        t[0],
        ["NAME", "VALUE", "GLOBAL-DEFAULT", "AGE", "PREEMPTIONPOLICY"]
    );
    let critical = row(&t, "system-cluster-critical");
    assert_eq!(
        (critical[1].as_str(), critical[2].as_str()),
        ("2000000000", "false")
    );
    assert_eq!(critical[4], "PreemptLowerPriority");
    assert_eq!(row(&t, "system-node-critical")[1], "2000001000");
    // As old as the cluster (its oldest node), as what a cluster starts
    // with is: the system namespaces and the default StorageClass too.
    let nodes = rows(&k.ok(&["get", "nodes"]));
    let age = &row(&nodes, "master-1")[3];
    assert_eq!(age, "5d18h");
    assert_eq!(&critical[3], age);
    let namespaces = rows(&k.ok(&["get", "namespaces"]));
    assert_eq!(&row(&namespaces, "kube-system")[2], age);
    let classes = rows(&k.ok(&["get", "storageclass"]));
    assert_eq!(&row(&classes, "standard")[6], age);
    assert!(k
        .ok(&["get", "pc", "system-node-critical", "-o", "name"])
        .contains("priorityclass.scheduling.k8s.io/system-node-critical"));

    let err = fails(&k, &["delete", "priorityclass", "system-node-critical"]);
    assert!(err.contains("priorityclasses.scheduling.k8s.io \"system-node-critical\" is forbidden: this is a system priority class and cannot be deleted"), "{err}");
    assert!(k
        .cluster
        .get(
            "scheduling.k8s.io/v1",
            "PriorityClass",
            None,
            "system-node-critical"
        )
        .is_some());
}

#[test]
fn classes_are_validated_and_one_is_the_default() {
    let k = Kube::standard();
    k.ok(&[
        "create",
        "priorityclass",
        "high",
        "--value=1000",
        "--description=training",
    ]);
    let high = k
        .cluster
        .get("scheduling.k8s.io/v1", "PriorityClass", None, "high")
        .unwrap();
    assert_eq!(
        (high["value"].as_i64(), high["preemptionPolicy"].as_str()),
        (Some(1000), Some("PreemptLowerPriority"))
    );

    let err = fails(
        &k,
        &["create", "priorityclass", "huge", "--value=1000000001"],
    );
    assert!(
        err.contains(
            "value: Forbidden: maximum allowed value of a user defined priority is 1000000000"
        ),
        "{err}"
    );
    let err = fails(&k, &["create", "priorityclass", "system-mine", "--value=5"]);
    assert!(err.contains("metadata.name: Forbidden: priority class names with 'system-' prefix are reserved for system use only. error: system-mine is not a known system priority class"), "{err}");
    let err = fails(
        &k,
        &[
            "create",
            "priorityclass",
            "odd",
            "--value=5",
            "--preemption-policy=Sometimes",
        ],
    );
    assert!(err.contains("preemptionPolicy: Unsupported value: \"Sometimes\": supported values: \"PreemptLowerPriority\", \"Never\""), "{err}");
    for name in ["huge", "system-mine", "odd"] {
        assert!(
            k.cluster
                .get("scheduling.k8s.io/v1", "PriorityClass", None, name)
                .is_none(),
            "{name}"
        );
    }

    // A value of 0 (protobuf leaves a zero out) is kept as 0.
    k.ok(&["create", "priorityclass", "low", "--value=0"]);
    let low = k
        .cluster
        .get("scheduling.k8s.io/v1", "PriorityClass", None, "low")
        .unwrap();
    assert_eq!(low["value"], 0, "{low}");

    // A value never changes.
    let err = fails(
        &k,
        &[
            "patch",
            "priorityclass",
            "high",
            "--type=merge",
            "-p",
            r#"{"value": 2000}"#,
        ],
    );
    assert!(
        err.contains("value: Forbidden: may not be changed in an update."),
        "{err}"
    );
    assert_eq!(
        k.cluster
            .get("scheduling.k8s.io/v1", "PriorityClass", None, "high")
            .unwrap()["value"],
        1000
    );

    // One global default at most.
    k.ok(&[
        "create",
        "priorityclass",
        "normal",
        "--value=10",
        "--global-default",
    ]);
    let err = fails(
        &k,
        &[
            "create",
            "priorityclass",
            "other",
            "--value=20",
            "--global-default",
        ],
    );
    assert!(err.contains("priorityclasses.scheduling.k8s.io \"other\" is forbidden: PriorityClass normal is marked as default. Only one default can exist"), "{err}");
    let err = fails(
        &k,
        &[
            "patch",
            "priorityclass",
            "high",
            "--type=merge",
            "-p",
            r#"{"globalDefault": true}"#,
        ],
    );
    assert!(
        err.contains("PriorityClass normal is marked as default"),
        "{err}"
    );
    assert!(k
        .cluster
        .get("scheduling.k8s.io/v1", "PriorityClass", None, "other")
        .is_none());
    // Admission answers before the store: a second default under a name
    // that is taken is the same 403, not an AlreadyExists.
    let err = fails(
        &k,
        &[
            "create",
            "priorityclass",
            "high",
            "--value=20",
            "--global-default",
        ],
    );
    assert!(
        err.contains("priorityclasses.scheduling.k8s.io \"high\" is forbidden: PriorityClass normal is marked as default"),
        "{err}"
    );
}

#[test]
fn a_pods_class_sets_its_priority_and_must_exist() {
    let k = Kube::standard();
    k.ok(&[
        "create",
        "priorityclass",
        "batch",
        "--value=500",
        "--preemption-policy=Never",
    ]);

    // A class that does not exist: refused, nothing created.
    let err = fails(
        &k,
        &[
            "run",
            "lost",
            "--image=nginx:1.27",
            "--overrides",
            r#"{"spec": {"priorityClassName": "nope"}}"#,
        ],
    );
    assert!(
        err.contains("pods \"lost\" is forbidden: no PriorityClass with name nope was found"),
        "{err}"
    );
    assert!(k
        .cluster
        .get("v1", "Pod", Some("default"), "lost")
        .is_none());
    // A pod that asks for a generated name is refused before it has one:
    // the refusal names its prefix, as kube-apiserver's does.
    let path = k._dir.path().join("generated.yaml");
    std::fs::write(&path, "apiVersion: v1\nkind: Pod\nmetadata:\n  generateName: lost-\nspec:\n  priorityClassName: nope\n  containers:\n  - name: app\n    image: nginx:1.27\n").unwrap();
    let err = fails(&k, &["create", "-f", path.to_str().unwrap()]);
    assert!(
        err.contains("pods \"lost-\" is forbidden: no PriorityClass with name nope was found"),
        "{err}"
    );
    assert!(k.cluster.list("v1", "Pod", Some("default")).is_empty());

    // The class gives the priority and the policy.
    k.ok(&[
        "run",
        "trainer",
        "--image=nginx:1.27",
        "--overrides",
        r#"{"spec": {"priorityClassName": "batch"}}"#,
    ]);
    let pod = k
        .cluster
        .get("v1", "Pod", Some("default"), "trainer")
        .unwrap();
    assert_eq!(
        (
            pod["spec"]["priority"].as_i64(),
            pod["spec"]["preemptionPolicy"].as_str()
        ),
        (Some(500), Some("Never"))
    );

    // An update that leaves out what the class set keeps it.
    let mut replaced = pod.clone();
    for f in ["priority", "preemptionPolicy"] {
        replaced["spec"].as_object_mut().unwrap().remove(f);
    }
    replaced["metadata"]["labels"] = json!({"run": "trainer", "stage": "2"});
    let path = k._dir.path().join("trainer.json");
    std::fs::write(&path, replaced.to_string()).unwrap();
    k.ok(&["replace", "-f", path.to_str().unwrap()]);
    let pod = k
        .cluster
        .get("v1", "Pod", Some("default"), "trainer")
        .unwrap();
    assert_eq!(
        (
            pod["metadata"]["labels"]["stage"].as_str(),
            pod["spec"]["priority"].as_i64()
        ),
        (Some("2"), Some(500))
    );

    // A priority the class does not give: refused.
    let err = fails(
        &k,
        &[
            "run",
            "sneaky",
            "--image=nginx:1.27",
            "--overrides",
            r#"{"spec": {"priorityClassName": "batch", "priority": 2000000000}}"#,
        ],
    );
    assert!(err.contains("the integer value of priority (2000000000) must not be provided in pod spec; priority admission controller computed 500 from the given PriorityClass name"), "{err}");
    assert!(k
        .cluster
        .get("v1", "Pod", Some("default"), "sneaky")
        .is_none());

    // Without a class: 0, or the global default once there is one.
    k.ok(&["run", "plain", "--image=nginx:1.27"]);
    let pod = k
        .cluster
        .get("v1", "Pod", Some("default"), "plain")
        .unwrap();
    assert_eq!(
        (
            pod["spec"]["priority"].as_i64(),
            pod["spec"]["preemptionPolicy"].as_str()
        ),
        (Some(0), Some("PreemptLowerPriority"))
    );
    k.ok(&[
        "create",
        "priorityclass",
        "normal",
        "--value=10",
        "--global-default",
    ]);
    k.ok(&["run", "defaulted", "--image=nginx:1.27"]);
    let pod = k
        .cluster
        .get("v1", "Pod", Some("default"), "defaulted")
        .unwrap();
    assert_eq!(
        (
            pod["spec"]["priorityClassName"].as_str(),
            pod["spec"]["priority"].as_i64()
        ),
        (Some("normal"), Some(10))
    );
}

#[test]
fn a_controller_cannot_create_pods_of_a_missing_class() {
    let k = Kube::standard();
    let mut d = deployment("default", "web", 2);
    d["spec"]["template"]["spec"]["priorityClassName"] = json!("nope");
    k.cluster.create(d).unwrap();
    let mut replica_set = String::new();
    assert!(k.cluster.wait_until(Duration::from_secs(10), |c| {
        let Some(rs) = c.list("apps/v1", "ReplicaSet", Some("default")).pop() else {
            return false;
        };
        replica_set = rs["metadata"]["name"].as_str().unwrap().to_string();
        // The pod's generated name is not drawn yet: its prefix is named.
        let want = format!(
            "Error creating: pods \"{replica_set}-\" is forbidden: no PriorityClass with name nope was found"
        );
        c.list("v1", "Event", Some("default"))
            .iter()
            .any(|e| e["reason"] == "FailedCreate" && e["message"] == want.as_str())
    }), "no FailedCreate naming {replica_set}-");
    assert!(k.cluster.list("v1", "Pod", Some("default")).is_empty());

    // Once the class exists, the pods follow with its priority.
    k.ok(&["create", "priorityclass", "nope", "--value=7"]);
    assert!(k.cluster.wait_until(Duration::from_secs(10), |c| c
        .list("v1", "Pod", Some("default"))
        .len()
        == 2));
    for pod in k.cluster.list("v1", "Pod", Some("default")) {
        assert_eq!(pod["spec"]["priority"], 7);
    }
}

/// A GPU pod of `class` named `name`, asking for `gpus`.
fn gpu_pod(name: &str, class: &str, gpus: u32) -> Value {
    json!({"apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": name, "namespace": "default"},
        "spec": {"priorityClassName": class, "containers": [{"name": "train", "image": "pytorch:2.4",
            "resources": {"limits": {"nvidia.com/gpu": gpus.to_string()}}}]}})
}

fn batch_pods(k: &Kube) -> Vec<Value> {
    k.cluster
        .list_selected("v1", "Pod", Some("default"), "app=batch", "")
        .unwrap()
}

/// kube-scheduler's `DefaultPreemption`: a pod that fits nowhere takes the
/// place of the fewest pods of lower priority, on one node; one whose policy
/// is `Never`, or of no higher priority, waits instead.
#[test]
fn a_pod_of_higher_priority_preempts_the_fewest_lower_ones() {
    let k = Kube::standard();
    k.ok(&["create", "priorityclass", "batch", "--value=100"]);
    k.ok(&["create", "priorityclass", "urgent", "--value=1000"]);
    k.ok(&[
        "create",
        "priorityclass",
        "polite",
        "--value=2000",
        "--preemption-policy=Never",
    ]);
    // The node's four GPUs, one per batch pod.
    let mut d = deployment("default", "batch", 4);
    let spec = &mut d["spec"]["template"]["spec"];
    spec["priorityClassName"] = json!("batch");
    spec["containers"][0]["resources"] = json!({"limits": {"nvidia.com/gpu": "1"}});
    k.cluster.create(d).unwrap();
    k.ok(&["rollout", "status", "deployment/batch", "--timeout=20s"]);
    let before: Vec<String> = batch_pods(&k)
        .iter()
        .map(|p| p["metadata"]["name"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(before.len(), 4);

    // Of no higher priority, or not allowed to preempt: it waits.
    k.cluster.create(gpu_pod("peer", "batch", 1)).unwrap();
    k.cluster.create(gpu_pod("polite", "polite", 1)).unwrap();
    std::thread::sleep(Duration::from_millis(600));
    for name in ["peer", "polite"] {
        let p = k.cluster.get("v1", "Pod", Some("default"), name).unwrap();
        assert!(p["spec"].get("nodeName").is_none(), "{p}");
        assert!(p["status"].get("nominatedNodeName").is_none(), "{p}");
    }
    let names = |pods: Vec<Value>| -> Vec<String> {
        pods.iter()
            .map(|p| p["metadata"]["name"].as_str().unwrap().to_string())
            .collect()
    };
    assert_eq!(names(batch_pods(&k)), before, "nothing was preempted");
    k.ok(&["delete", "pod", "polite"]);

    // Two GPUs for a pod of higher priority: two batch pods make room, and
    // the room is the nominated pod's (not the waiting peer's, nor the
    // ReplicaSet's new pods').
    k.cluster.create(gpu_pod("urgent", "urgent", 2)).unwrap();
    assert!(
        k.cluster.wait_until(Duration::from_secs(10), |c| {
            c.get("v1", "Pod", Some("default"), "urgent")
                .is_some_and(|p| p["status"]["phase"] == "Running")
        }),
        "{}",
        k.ok(&["get", "pods", "-o", "wide"])
    );
    let urgent = k
        .cluster
        .get("v1", "Pod", Some("default"), "urgent")
        .unwrap();
    assert_eq!(urgent["spec"]["nodeName"], "gpu-1");
    assert!(
        urgent["status"].get("nominatedNodeName").is_none(),
        "{urgent}"
    );
    let uid = urgent["metadata"]["uid"].as_str().unwrap();
    let preempted: Vec<Value> = k
        .cluster
        .list("v1", "Event", Some("default"))
        .into_iter()
        .filter(|e| e["reason"] == "Preempted")
        .collect();
    assert_eq!(preempted.len(), 2, "{preempted:?}");
    for e in &preempted {
        assert_eq!(
            e["message"],
            format!("Preempted by pod {uid} on node gpu-1").as_str()
        );
        let victim = e["involvedObject"]["name"].as_str().unwrap();
        assert!(before.iter().any(|b| b == victim), "{victim}");
        assert!(k
            .cluster
            .get("v1", "Pod", Some("default"), victim)
            .is_none());
    }
    // The ReplicaSet made two more, and they wait: two GPUs are taken.
    let now = batch_pods(&k);
    assert_eq!(now.len(), 4);
    let running = now
        .iter()
        .filter(|p| p["spec"]["nodeName"] == "gpu-1")
        .count();
    assert_eq!(running, 2);
    let peer = k.cluster.get("v1", "Pod", Some("default"), "peer").unwrap();
    assert!(peer["spec"].get("nodeName").is_none(), "{peer}");
    let events = k.ok(&["get", "events", "--field-selector", "reason=Preempted"]);
    assert!(
        events.contains(&format!("Preempted by pod {uid} on node gpu-1")),
        "{events}"
    );
}
