//! StorageClasses: the default class a cluster starts with, what
//! `ValidateStorageClass` refuses, the `DefaultStorageClass` plugin's class
//! for a claim that names none, and a claim of a missing class left
//! `Pending` until its class exists; a class that waits for a claim's first
//! consumer, and the scheduler's checks of a pod's claims.

use super::*;

/// `kubectl apply -f` of `yaml` (written to the test's dir as `file`).
fn apply(k: &Kube, file: &str, yaml: &str) -> Output {
    let path = k._dir.path().join(file);
    std::fs::write(&path, yaml).unwrap();
    k.run(&["apply", "-f", path.to_str().unwrap()])
}

fn claim(name: &str, class: Option<&str>) -> String {
    let class = class
        .map(|c| format!("  storageClassName: \"{c}\"\n"))
        .unwrap_or_default();
    format!("apiVersion: v1\nkind: PersistentVolumeClaim\nmetadata:\n  name: {name}\nspec:\n{class}  accessModes: [ReadWriteOnce]\n  resources:\n    requests:\n      storage: 1Gi\n")
}

fn phase(k: &Kube, name: &str) -> Option<String> {
    k.cluster
        .get("v1", "PersistentVolumeClaim", Some("default"), name)
        .and_then(|c| c["status"]["phase"].as_str().map(String::from))
}

#[test]
fn the_default_class_is_listed_and_given_to_a_claim_without_one() {
    let k = Kube::standard();
    let t = rows(&k.ok(&["get", "storageclass"]));
    assert_eq!(
        t[0],
        [
            "NAME",
            "PROVISIONER",
            "RECLAIMPOLICY",
            "VOLUMEBINDINGMODE",
            "ALLOWVOLUMEEXPANSION",
            "AGE"
        ]
    );
    assert_eq!(
        &row(&t, "standard")[..6],
        [
            "standard",
            "(default)",
            "rancher.io/local-path",
            "Delete",
            "Immediate",
            "false"
        ]
    );

    assert!(apply(&k, "data.yaml", &claim("data", None))
        .status
        .success());
    let data = k
        .cluster
        .get("v1", "PersistentVolumeClaim", Some("default"), "data")
        .unwrap();
    assert_eq!(data["spec"]["storageClassName"], "standard");
    assert!(k
        .cluster
        .wait_until(Duration::from_secs(10), |_| phase(&k, "data").as_deref()
            == Some("Bound")));

    // An empty class is a claim for a pre-made volume: none is made here.
    assert!(apply(&k, "static.yaml", &claim("static", Some("")))
        .status
        .success());
    let s = k
        .cluster
        .get("v1", "PersistentVolumeClaim", Some("default"), "static")
        .unwrap();
    assert_eq!(s["spec"]["storageClassName"], "");
    std::thread::sleep(Duration::from_millis(600));
    assert_eq!(phase(&k, "static").as_deref(), Some("Pending"));
}

#[test]
fn a_claim_of_a_missing_class_waits_for_it() {
    let k = Kube::standard();
    assert!(apply(&k, "fast.yaml", &claim("fast-data", Some("fast")))
        .status
        .success());
    std::thread::sleep(Duration::from_millis(600));
    assert_eq!(phase(&k, "fast-data").as_deref(), Some("Pending"));

    let class = "apiVersion: storage.k8s.io/v1\nkind: StorageClass\nmetadata:\n  name: fast\nprovisioner: example.com/nvme\nreclaimPolicy: Retain\nallowVolumeExpansion: true\n";
    let out = apply(&k, "class.yaml", class);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(k
        .cluster
        .wait_until(Duration::from_secs(10), |_| phase(&k, "fast-data")
            .as_deref()
            == Some("Bound")));
    let t = rows(&k.ok(&["get", "sc", "fast"]));
    assert_eq!(
        &row(&t, "fast")[..5],
        ["fast", "example.com/nvme", "Retain", "Immediate", "true"]
    );
}

/// A claim made while no class is the default gets the default once
/// there is one (the volume controller's retroactive default), and binds.
#[test]
fn a_claim_made_without_a_default_gets_a_later_one() {
    let k = Kube::standard();
    k.ok(&["delete", "storageclass", "standard"]);
    assert!(apply(&k, "early.yaml", &claim("early", None))
        .status
        .success());
    std::thread::sleep(Duration::from_millis(600));
    let early = k
        .cluster
        .get("v1", "PersistentVolumeClaim", Some("default"), "early")
        .unwrap();
    assert!(early["spec"].get("storageClassName").is_none(), "{early}");
    assert_eq!(phase(&k, "early").as_deref(), Some("Pending"));

    let class = "apiVersion: storage.k8s.io/v1\nkind: StorageClass\nmetadata:\n  name: local\n  annotations:\n    storageclass.kubernetes.io/is-default-class: \"true\"\nprovisioner: example.com/local\n";
    assert!(apply(&k, "local.yaml", class).status.success());
    assert!(k
        .cluster
        .wait_until(Duration::from_secs(10), |_| phase(&k, "early").as_deref()
            == Some("Bound")));
    let early = k
        .cluster
        .get("v1", "PersistentVolumeClaim", Some("default"), "early")
        .unwrap();
    assert_eq!(early["spec"]["storageClassName"], "local");
}

#[test]
fn classes_are_validated_and_keep_their_provisioner() {
    let k = Kube::standard();
    let bad = [
        ("apiVersion: storage.k8s.io/v1\nkind: StorageClass\nmetadata:\n  name: none\n", "provisioner: Required value"),
        ("apiVersion: storage.k8s.io/v1\nkind: StorageClass\nmetadata:\n  name: recycle\nprovisioner: x.io/p\nreclaimPolicy: Recycle\n",
            "reclaimPolicy: Unsupported value: \"Recycle\": supported values: \"Delete\", \"Retain\""),
        ("apiVersion: storage.k8s.io/v1\nkind: StorageClass\nmetadata:\n  name: later\nprovisioner: x.io/p\nvolumeBindingMode: Later\n",
            "volumeBindingMode: Unsupported value: \"Later\": supported values: \"Immediate\", \"WaitForFirstConsumer\""),
    ];
    for (i, (yaml, why)) in bad.iter().enumerate() {
        let out = apply(&k, &format!("bad{i}.yaml"), yaml);
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success() && err.contains(why), "{err}");
    }
    for name in ["none", "recycle", "later"] {
        assert!(
            k.cluster
                .get("storage.k8s.io/v1", "StorageClass", None, name)
                .is_none(),
            "{name}"
        );
    }
    let err = fails(
        &k,
        &[
            "patch",
            "sc",
            "standard",
            "--type=merge",
            "-p",
            r#"{"provisioner": "x.io/other"}"#,
        ],
    );
    assert!(
        err.contains("provisioner: Forbidden: updates to provisioner are forbidden."),
        "{err}"
    );
    let err = fails(
        &k,
        &[
            "patch",
            "sc",
            "standard",
            "--type=merge",
            "-p",
            r#"{"volumeBindingMode": "WaitForFirstConsumer"}"#,
        ],
    );
    assert!(
        err.contains(
            "volumeBindingMode: Invalid value: \"WaitForFirstConsumer\": field is immutable"
        ),
        "{err}"
    );
    let sc = k
        .cluster
        .get("storage.k8s.io/v1", "StorageClass", None, "standard")
        .unwrap();
    assert_eq!(
        (sc["provisioner"].as_str(), sc["volumeBindingMode"].as_str()),
        (Some("rancher.io/local-path"), Some("Immediate"))
    );
}

/// A pod using `claim`, on `node` when one is named.
fn consumer(name: &str, claim: &str, node: Option<&str>) -> String {
    let selector = node
        .map(|n| format!("  nodeSelector:\n    kubernetes.io/hostname: {n}\n"))
        .unwrap_or_default();
    format!("apiVersion: v1\nkind: Pod\nmetadata:\n  name: {name}\nspec:\n{selector}  containers:\n  - name: app\n    image: nginx:1.27\n    volumeMounts:\n    - name: data\n      mountPath: /data\n  volumes:\n  - name: data\n    persistentVolumeClaim:\n      claimName: {claim}\n")
}

fn pod(k: &Kube, name: &str) -> Value {
    k.cluster.get("v1", "Pod", Some("default"), name).unwrap()
}

/// The message of a pod's `PodScheduled=False` condition, once it has one.
fn unschedulable(k: &Kube, name: &str) -> String {
    let mut message = String::new();
    let found = k.cluster.wait_until(Duration::from_secs(10), |_| {
        let p = pod(k, name);
        let c = p["status"]["conditions"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|c| c["type"] == "PodScheduled" && c["status"] == "False")
            .cloned();
        message = c
            .and_then(|c| c["message"].as_str().map(String::from))
            .unwrap_or_default();
        !message.is_empty()
    });
    assert!(found, "{name} never reported why: {}", pod(k, name));
    assert!(pod(k, name)["spec"].get("nodeName").is_none());
    message
}

/// kind's class: a claim is provisioned only once a pod that uses it is
/// scheduled, on the node the scheduler chose, and keeps its pods there.
#[test]
fn a_class_that_waits_binds_a_claim_for_its_first_pod() {
    let k = Kube::standard();
    let class = "apiVersion: storage.k8s.io/v1\nkind: StorageClass\nmetadata:\n  name: local\nprovisioner: rancher.io/local-path\nvolumeBindingMode: WaitForFirstConsumer\n";
    assert!(apply(&k, "local.yaml", class).status.success());
    assert!(apply(&k, "data.yaml", &claim("data", Some("local")))
        .status
        .success());
    std::thread::sleep(Duration::from_millis(600));
    assert_eq!(phase(&k, "data").as_deref(), Some("Pending"));
    let events = k.ok(&[
        "get",
        "events",
        "--field-selector",
        "involvedObject.name=data",
    ]);
    assert!(
        events.contains("WaitForFirstConsumer")
            && events.contains("waiting for first consumer to be created before binding"),
        "{events}"
    );

    assert!(apply(
        &k,
        "first.yaml",
        &consumer("first", "data", Some("worker-2"))
    )
    .status
    .success());
    assert!(k
        .cluster
        .wait_until(Duration::from_secs(10), |_| phase(&k, "data").as_deref()
            == Some("Bound")));
    let data = k
        .cluster
        .get("v1", "PersistentVolumeClaim", Some("default"), "data")
        .unwrap();
    let annotations = &data["metadata"]["annotations"];
    assert_eq!(
        annotations["volume.kubernetes.io/selected-node"],
        "worker-2"
    );
    assert_eq!(
        annotations["volume.kubernetes.io/storage-provisioner"],
        "rancher.io/local-path"
    );
    assert!(k.cluster.wait_until(Duration::from_secs(10), |_| {
        pod(&k, "first")["spec"]["nodeName"] == "worker-2"
    }));
    let described = k.ok(&["describe", "pvc", "data"]);
    assert!(
        described.contains("ProvisioningSucceeded")
            && described
                .lines()
                .any(|l| l.starts_with("Used By:") && l.ends_with(" first")),
        "{described}"
    );

    // The volume is on worker-2: a pod that names no node goes there, one
    // that asks for worker-1 fits nowhere.
    assert!(apply(&k, "second.yaml", &consumer("second", "data", None))
        .status
        .success());
    assert!(k.cluster.wait_until(Duration::from_secs(10), |_| {
        pod(&k, "second")["spec"]["nodeName"] == "worker-2"
    }));
    assert!(apply(
        &k,
        "third.yaml",
        &consumer("third", "data", Some("worker-1"))
    )
    .status
    .success());
    let why = unschedulable(&k, "third");
    assert!(
        why.starts_with("0/4 nodes are available: ")
            && why.contains("1 node(s) had volume node affinity conflict"),
        "{why}"
    );

    // A second claim, provisioned on worker-1: no node has both.
    assert!(apply(&k, "logs.yaml", &claim("logs", Some("local")))
        .status
        .success());
    assert!(apply(
        &k,
        "fourth.yaml",
        &consumer("fourth", "logs", Some("worker-1"))
    )
    .status
    .success());
    assert!(k
        .cluster
        .wait_until(Duration::from_secs(10), |_| phase(&k, "logs").as_deref()
            == Some("Bound")));
    let both = consumer("both", "data", None).replace(
        "claimName: data\n",
        "claimName: data\n  - name: logs\n    persistentVolumeClaim:\n      claimName: logs\n",
    );
    assert!(apply(&k, "both.yaml", &both).status.success(), "{both}");
    let why = unschedulable(&k, "both");
    assert!(
        why.contains("node(s) had volume node affinity conflict")
            && !why.contains("1 node(s) had volume node affinity conflict"),
        "{why}"
    );
}

/// kube-scheduler's `VolumeBinding`: a pod waits for a claim that is
/// missing, or not bound and not waiting for it, and runs once it is.
#[test]
fn a_pod_waits_for_its_claims() {
    let k = Kube::standard();
    assert!(apply(&k, "orphan.yaml", &consumer("orphan", "later", None))
        .status
        .success());
    assert_eq!(
        unschedulable(&k, "orphan"),
        "0/4 nodes are available: persistentvolumeclaim \"later\" not found."
    );
    let events = k.ok(&[
        "get",
        "events",
        "--field-selector",
        "involvedObject.name=orphan",
    ]);
    assert!(events.contains("FailedScheduling"), "{events}");

    assert!(apply(&k, "fast.yaml", &claim("fast-data", Some("fast")))
        .status
        .success());
    assert!(
        apply(&k, "waiting.yaml", &consumer("waiting", "fast-data", None))
            .status
            .success()
    );
    assert_eq!(
        unschedulable(&k, "waiting"),
        "0/4 nodes are available: pod has unbound immediate PersistentVolumeClaims."
    );

    // The claims appear and bind: both pods are scheduled and run.
    assert!(apply(&k, "later.yaml", &claim("later", None))
        .status
        .success());
    let class = "apiVersion: storage.k8s.io/v1\nkind: StorageClass\nmetadata:\n  name: fast\nprovisioner: example.com/nvme\n";
    assert!(apply(&k, "class.yaml", class).status.success());
    for name in ["orphan", "waiting"] {
        assert!(
            k.cluster.wait_until(Duration::from_secs(10), |_| {
                pod(&k, name)["status"]["phase"] == "Running"
            }),
            "{}",
            pod(&k, name)
        );
    }
}
