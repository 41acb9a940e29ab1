//! kubectl conformance: the machine's real `kubectl` against a simulated
//! cluster. Each test starts its own cluster, writes its kubeconfig to a temp
//! dir, runs kubectl, and asserts both what kubectl printed and what changed in
//! the cluster's store.

use std::path::PathBuf;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use simcluster::{ClusterSpec, NodeSpec, SimCluster};

const KUBECTL: &str = "/usr/bin/kubectl";

struct Kube {
    cluster: SimCluster,
    _dir: tempfile::TempDir,
    kubeconfig: PathBuf,
}

impl Kube {
    fn start(spec: ClusterSpec) -> Kube {
        let cluster = SimCluster::start(spec).expect("cluster starts");
        let dir = tempfile::tempdir().expect("temp dir");
        let kubeconfig = dir.path().join("kubeconfig.yaml");
        cluster
            .write_kubeconfig(&kubeconfig)
            .expect("kubeconfig written");
        Kube {
            cluster,
            _dir: dir,
            kubeconfig,
        }
    }

    fn standard() -> Kube {
        Kube::start(
            ClusterSpec::new("conformance")
                .node(NodeSpec::control_plane("master-1"))
                .node(NodeSpec::new("worker-1").cpu("8").memory("32Gi"))
                .node(NodeSpec::new("worker-2").cpu("8").memory("32Gi"))
                .node(
                    NodeSpec::new("gpu-1")
                        .cpu("32")
                        .memory("256Gi")
                        .gpus(4, "NVIDIA-A100-SXM4-80GB"),
                ),
        )
    }

    fn command(&self, args: &[&str]) -> Command {
        let mut c = Command::new(KUBECTL);
        c.arg("--kubeconfig").arg(&self.kubeconfig).args(args);
        c.env_remove("KUBECONFIG");
        c
    }

    fn run(&self, args: &[&str]) -> Output {
        self.command(args).output().expect("kubectl runs")
    }

    /// Runs kubectl and returns stdout, failing the test on a non-zero exit.
    fn ok(&self, args: &[&str]) -> String {
        let out = self.run(args);
        let stdout = String::from_utf8_lossy(&out.stdout).to_string();
        let stderr = String::from_utf8_lossy(&out.stderr).to_string();
        assert!(
            out.status.success(),
            "kubectl {args:?} failed: {}\nstdout:\n{stdout}\nstderr:\n{stderr}",
            out.status
        );
        stdout
    }

    fn node(&self, name: &str) -> Value {
        self.cluster
            .get("v1", "Node", None, name)
            .expect("node exists")
    }
}

/// Splits a kubectl table into rows of whitespace-separated cells (header first).
fn rows(out: &str) -> Vec<Vec<String>> {
    out.lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| l.split_whitespace().map(String::from).collect())
        .collect()
}

fn row<'a>(rows: &'a [Vec<String>], first: &str) -> &'a Vec<String> {
    rows.iter()
        .find(|r| r.first().map(String::as_str) == Some(first))
        .unwrap_or_else(|| panic!("no row {first} in {rows:?}"))
}

fn deployment(ns: &str, name: &str, replicas: i64) -> Value {
    json!({
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": name, "namespace": ns},
        "spec": {"replicas": replicas, "selector": {"matchLabels": {"app": name}},
                 "template": {"metadata": {"labels": {"app": name}},
                              "spec": {"containers": [{"name": "app", "image": "nginx:1.27",
                                  "resources": {"requests": {"cpu": "500m", "memory": "512Mi"}}}]}}}
    })
}

fn pods_on(k: &Kube, node: &str) -> Vec<Value> {
    k.cluster
        .list_selected("v1", "Pod", None, "", &format!("spec.nodeName={node}"))
        .unwrap()
}

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

const MANIFEST: &str = r#"apiVersion: v1
kind: Namespace
metadata:
  name: shop
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  namespace: shop
  labels: {app: web}
spec:
  replicas: 2
  selector:
    matchLabels: {app: web}
  template:
    metadata:
      labels: {app: web}
    spec:
      containers:
      - name: nginx
        image: nginx:1.27
        resources:
          requests: {cpu: 250m, memory: 256Mi}
          limits: {cpu: 250m, memory: 256Mi}
---
apiVersion: v1
kind: Service
metadata:
  name: web
  namespace: shop
spec:
  type: NodePort
  selector: {app: web}
  ports:
  - port: 80
    targetPort: 8080
"#;

#[test]
fn apply_server_side_then_delete_manifest() {
    let k = Kube::standard();
    let file = k._dir.path().join("app.yaml");
    std::fs::write(&file, MANIFEST).unwrap();
    let f = file.to_str().unwrap();
    let out = k.ok(&["apply", "--server-side", "-f", f]);
    assert_eq!(
        out.lines().collect::<Vec<_>>(),
        [
            "namespace/shop serverside-applied",
            "deployment.apps/web serverside-applied",
            "service/web serverside-applied"
        ]
    );
    let d = k
        .cluster
        .get("apps/v1", "Deployment", Some("shop"), "web")
        .unwrap();
    let mf = &d["metadata"]["managedFields"][0];
    assert_eq!(
        (mf["manager"].as_str(), mf["operation"].as_str()),
        (Some("kubectl"), Some("Apply"))
    );
    assert!(mf["fieldsV1"]["f:spec"]["f:replicas"].is_object());
    assert_eq!(d["status"]["readyReplicas"], 2);
    let pods = k.cluster.list("v1", "Pod", Some("shop"));
    assert_eq!(pods.len(), 2);
    for p in &pods {
        assert_eq!(p["status"]["phase"], "Running");
        assert_eq!(p["status"]["qosClass"], "Guaranteed");
        assert_eq!(p["metadata"]["ownerReferences"][0]["kind"], "ReplicaSet");
    }
    let svc = k.cluster.get("v1", "Service", Some("shop"), "web").unwrap();
    let np = svc["spec"]["ports"][0]["nodePort"].as_u64().unwrap();
    assert!((30000..=32767).contains(&np));
    let t = rows(&k.ok(&["get", "svc", "-n", "shop"]));
    assert_eq!(
        row(&t, "web")[1..5],
        [
            "NodePort".to_string(),
            svc["spec"]["clusterIP"].as_str().unwrap().to_string(),
            "<none>".into(),
            format!("80:{np}/TCP")
        ]
    );
    assert_eq!(
        row(&rows(&k.ok(&["get", "deploy", "-n", "shop"])), "web")[1..4],
        ["2/2", "2", "2"]
    );

    // re-applying a change updates in place
    std::fs::write(&file, MANIFEST.replace("replicas: 2", "replicas: 3")).unwrap();
    let out = k.ok(&["apply", "--server-side", "-f", f]);
    assert!(out.contains("deployment.apps/web serverside-applied"));
    assert_eq!(k.cluster.list("v1", "Pod", Some("shop")).len(), 3);
    // another manager's change conflicts with the next apply unless forced
    k.ok(&["scale", "deployment/web", "-n", "shop", "--replicas=1"]);
    let conflict = k.run(&["apply", "--server-side", "-f", f]);
    assert!(!conflict.status.success());
    assert!(
        String::from_utf8_lossy(&conflict.stderr).contains("conflict"),
        "{}",
        String::from_utf8_lossy(&conflict.stderr)
    );
    k.ok(&["apply", "--server-side", "--force-conflicts", "-f", f]);
    assert_eq!(
        k.cluster
            .get("apps/v1", "Deployment", Some("shop"), "web")
            .unwrap()["spec"]["replicas"],
        3
    );

    let out = k.ok(&["delete", "-f", f]);
    assert_eq!(
        out.lines().collect::<Vec<_>>(),
        [
            "namespace \"shop\" deleted",
            "deployment.apps \"web\" deleted",
            "service \"web\" deleted"
        ]
    );
    assert!(
        k.cluster.get("v1", "Namespace", None, "shop").is_none(),
        "kubectl delete waited until the namespace was gone"
    );
    assert!(k.cluster.list("v1", "Pod", Some("shop")).is_empty());
    assert!(k
        .cluster
        .list("apps/v1", "ReplicaSet", Some("shop"))
        .is_empty());
    assert!(k.cluster.list("v1", "Service", Some("shop")).is_empty());
}

#[test]
fn metrics_api_raw_and_top() {
    let k = Kube::standard();
    k.cluster.set_node_usage("gpu-1", "12500m", "100Gi");
    k.cluster.create(deployment("default", "web", 1)).unwrap();
    let raw = k.ok(&["get", "--raw", "/apis/metrics.k8s.io/v1beta1/nodes"]);
    let v: Value = serde_json::from_str(&raw).unwrap();
    assert_eq!(v["kind"], "NodeMetricsList");
    let items = v["items"].as_array().unwrap();
    assert_eq!(items.len(), 4);
    let gpu = items
        .iter()
        .find(|i| i["metadata"]["name"] == "gpu-1")
        .unwrap();
    assert_eq!(
        gpu["usage"],
        json!({"cpu": "12500000000n", "memory": "104857600Ki"})
    );
    let one: Value =
        serde_json::from_str(&k.ok(&["get", "--raw", "/apis/metrics.k8s.io/v1beta1/nodes/gpu-1"]))
            .unwrap();
    assert_eq!(one["usage"]["cpu"], "12500000000n");
    let t = rows(&k.ok(&["top", "nodes"]));
    assert_eq!(row(&t, "gpu-1")[1..5], ["12500m", "39%", "102400Mi", "39%"]);
    let pods: Value = serde_json::from_str(&k.ok(&[
        "get",
        "--raw",
        "/apis/metrics.k8s.io/v1beta1/namespaces/default/pods",
    ]))
    .unwrap();
    assert_eq!(pods["items"].as_array().unwrap().len(), 1);
    assert_eq!(
        pods["items"][0]["containers"][0]["usage"]["cpu"],
        "250000000n"
    );
}

#[test]
fn wait_uses_watch_and_clusters_are_independent() {
    let a = Kube::standard();
    let b = Kube::start(ClusterSpec::new("other").node(NodeSpec::new("solo")));
    assert_ne!(a.cluster.addr(), b.cluster.addr());
    assert_eq!(rows(&b.ok(&["get", "nodes", "--no-headers"])).len(), 1);
    a.cluster.create(deployment("default", "web", 2)).unwrap();
    let out = a.ok(&[
        "wait",
        "--for=condition=Available",
        "deployment/web",
        "--timeout=20s",
    ]);
    assert_eq!(out.trim(), "deployment.apps/web condition met");
    assert!(b.cluster.list("apps/v1", "Deployment", None).is_empty());
    // a wrong token is refused
    let bad = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(
        bad.path(),
        a.cluster
            .kubeconfig_yaml()
            .replace(a.cluster.token(), "wrong"),
    )
    .unwrap();
    let out = Command::new(KUBECTL)
        .arg("--kubeconfig")
        .arg(bad.path())
        .args(["get", "nodes"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("You must be logged in"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Runs kubectl expecting it to fail; answers its stderr.
fn fails(k: &Kube, args: &[&str]) -> String {
    let out = k.run(args);
    assert!(
        !out.status.success(),
        "kubectl {args:?} should have failed: {}",
        String::from_utf8_lossy(&out.stdout)
    );
    String::from_utf8_lossy(&out.stderr).to_string()
}

#[test]
fn invalid_pods_are_refused_as_kube_apiserver_refuses_them() {
    let k = Kube::standard();
    let dir = k._dir.path();
    let write = |name: &str, text: &str| {
        let f = dir.join(name);
        std::fs::write(&f, text).unwrap();
        f.to_str().unwrap().to_string()
    };

    // Init containers: no probes unless they are sidecars.
    let probe = write(
        "probe.yaml",
        r#"apiVersion: v1
kind: Pod
metadata:
  name: init-probe
spec:
  initContainers:
  - name: init
    image: busybox
    livenessProbe:
      exec:
        command: ["true"]
  containers:
  - name: app
    image: nginx
"#,
    );
    assert_eq!(
        fails(&k, &["create", "-f", &probe]).trim_end(),
        "The Pod \"init-probe\" is invalid: spec.initContainers[0].livenessProbe: Forbidden: may not be set for init containers without restartPolicy=Always"
    );
    let sidecar = write(
        "sidecar.yaml",
        &std::fs::read_to_string(&probe).unwrap().replace(
            "    image: busybox\n",
            "    image: busybox\n    restartPolicy: Always\n",
        ),
    );
    assert_eq!(
        k.ok(&["create", "-f", &sidecar]).trim_end(),
        "pod/init-probe created"
    );

    // A Deployment whose pods could not exist: a hostPath with `..`, an
    // extended resource overcommitted, one host port twice. Client-side and
    // server-side apply get the same answer, and nothing is made.
    let web = write(
        "web.yaml",
        r#"apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
spec:
  selector:
    matchLabels: {app: web}
  template:
    metadata:
      labels: {app: web}
    spec:
      volumes:
      - name: host
        hostPath: {path: /var/../etc}
      containers:
      - name: a
        image: nginx
        ports: [{containerPort: 80, hostPort: 8080}]
      - name: b
        image: nginx
        ports: [{containerPort: 81, hostPort: 8080}]
        resources:
          limits: {nvidia.com/gpu: 2}
          requests: {nvidia.com/gpu: 1}
"#,
    );
    let expected = "The Deployment \"web\" is invalid: \n\
* spec.template.spec.volumes[0].hostPath.path: Invalid value: \"/var/../etc\": must not contain '..'\n\
* spec.template.spec.containers[1].resources.requests: Invalid value: \"1\": must be equal to nvidia.com/gpu limit of 2\n\
* spec.template.spec.containers[1].ports[0].hostPort: Duplicate value: \"/TCP/8080\"";
    assert_eq!(fails(&k, &["apply", "-f", &web]).trim_end(), expected);
    assert_eq!(
        fails(&k, &["apply", "--server-side", "-f", &web]).trim_end(),
        expected
    );
    assert!(k.cluster.list("apps/v1", "Deployment", None).is_empty());
    assert!(k.cluster.list("apps/v1", "ReplicaSet", None).is_empty());

    // The host network: a host port is the container port. Volumes: DNS
    // label names, once each; mounts name one of them.
    let hn = write(
        "hn.yaml",
        r#"apiVersion: v1
kind: Pod
metadata:
  name: hn
spec:
  hostNetwork: true
  volumes:
  - {name: data, emptyDir: {}}
  - {name: data, emptyDir: {}}
  containers:
  - name: app
    image: nginx
    ports: [{containerPort: 80, hostPort: 8080}]
    volumeMounts: [{name: logs, mountPath: /logs}]
"#,
    );
    assert_eq!(
        fails(&k, &["create", "-f", &hn]).trim_end(),
        "The Pod \"hn\" is invalid: \n\
* spec.volumes[1].name: Duplicate value: \"data\"\n\
* spec.containers[0].volumeMounts[0].name: Not found: \"logs\"\n\
* spec.containers[0].ports[0].containerPort: Invalid value: 80: must match `hostPort` when `hostNetwork` is true"
    );
    let pods: Vec<String> = k
        .cluster
        .list("v1", "Pod", Some("default"))
        .iter()
        .map(|p| p["metadata"]["name"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(pods, ["init-probe"]);

    // An update is validated too: a running Deployment keeps its template.
    std::fs::write(dir.join("ok.yaml"), MANIFEST).unwrap();
    let ok = dir.join("ok.yaml");
    k.ok(&["apply", "-f", ok.to_str().unwrap()]);
    let err = fails(
        &k,
        &[
            "set",
            "resources",
            "deployment/web",
            "-n",
            "shop",
            "--limits=nvidia.com/gpu=500m",
        ],
    );
    assert!(
        err.contains("spec.template.spec.containers[0].resources.limits[nvidia.com/gpu]: Invalid value: \"500m\": must be an integer"),
        "{err}"
    );
    let d = k
        .cluster
        .get("apps/v1", "Deployment", Some("shop"), "web")
        .unwrap();
    assert!(
        d["spec"]["template"]["spec"]["containers"][0]["resources"]["limits"]
            .get("nvidia.com/gpu")
            .is_none()
    );
}
