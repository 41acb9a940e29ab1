//! Manifests applied and deleted, the metrics API and `top`, `wait`, and
//! what kubectl is refused.

use super::*;

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

/// What the simulation does not serve, kubectl is told as a real cluster
/// without it would tell it: `kubectl debug` learns that ephemeral
/// containers are disabled (from a 404 Status with empty details, which it
/// dereferences), and the pod is unchanged.
#[test]
fn debug_is_told_ephemeral_containers_are_disabled() {
    let k = Kube::standard();
    let (pod, name) = web_rolled_out(&k, 1);
    let out = k.run(&["debug", &format!("pod/{name}"), "--image=busybox"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        stderr.contains("ephemeral containers are disabled for this cluster"),
        "{stderr}"
    );
    assert!(!stderr.contains("panic"), "{stderr}");
    let after = k.cluster.get("v1", "Pod", Some("default"), &name).unwrap();
    assert_eq!(
        after["metadata"]["resourceVersion"],
        pod["metadata"]["resourceVersion"]
    );
}

/// `kubectl auth can-i` sends an access review (protobuf): the simulated
/// cluster's own token is its administrator's, so it may; a review is
/// answered, not stored, and one asking nothing is refused.
#[test]
fn auth_can_i_is_answered_for_the_admin_token() {
    let k = Kube::standard();
    assert_eq!(k.ok(&["auth", "can-i", "create", "pods"]).trim(), "yes");
    assert_eq!(
        k.ok(&[
            "auth",
            "can-i",
            "delete",
            "deployments.apps",
            "-n",
            "kube-system"
        ])
        .trim(),
        "yes"
    );
    assert_eq!(k.ok(&["auth", "can-i", "get", "/healthz"]).trim(), "yes");
    let out = k.ok(&[
        "api-resources",
        "--api-group=authorization.k8s.io",
        "--no-headers",
        "-o",
        "wide",
    ]);
    let row = rows(&out);
    assert_eq!(row.len(), 2, "{out}");
    assert_eq!(row[0][0], "selfsubjectaccessreviews");
    assert_eq!(row[1][0], "selfsubjectrulesreviews");
    assert_eq!(row[0].last().map(String::as_str), Some("create"), "{out}");
    let err = fails(&k, &["get", "selfsubjectaccessreviews"]);
    assert!(
        err.contains("MethodNotAllowed") || err.contains("not allowed"),
        "{err}"
    );
    let empty = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(
        empty.path(),
        r#"{"apiVersion":"authorization.k8s.io/v1","kind":"SelfSubjectAccessReview","spec":{}}"#,
    )
    .unwrap();
    // (Without CRDs served, kubectl's client-side check of a kind with no
    // PATCH operation cannot run: the server's own validation is asked.)
    let path = empty.path().to_str().unwrap();
    let err = fails(&k, &["create", "--validate=false", "-f", path]);
    assert!(
        err.contains("exactly one of nonResourceAttributes or resourceAttributes"),
        "{err}"
    );
}

/// The controllers record what they do as Events: `kubectl describe` shows
/// a pod's scheduling and start, `kubectl events` the Deployment's scaling
/// and its ReplicaSet's pods, and an unschedulable pod has one
/// `FailedScheduling` event however often it is tried.
#[test]
fn describe_and_events_show_what_the_controllers_did() {
    let k = Kube::standard();
    let (pod, name) = web_rolled_out(&k, 2);
    let node = pod["spec"]["nodeName"].as_str().unwrap().to_string();
    let out = k.ok(&["describe", "pod", &name]);
    let events = out.split("Events:").nth(1).unwrap_or("");
    assert!(
        events.contains(&format!("Successfully assigned default/{name} to {node}")),
        "{out}"
    );
    for reason in ["Scheduled", "Pulled", "Created", "Started"] {
        assert!(events.contains(reason), "{reason} missing:\n{out}");
    }
    assert!(events.contains("Started container app"), "{out}");
    // The kubelet is the source, its node the host (kubectl shows `kubelet`).
    let started = k
        .cluster
        .list("v1", "Event", Some("default"))
        .into_iter()
        .find(|e| e["involvedObject"]["name"] == name.as_str() && e["reason"] == "Started")
        .unwrap();
    assert_eq!(
        started["source"],
        json!({"component": "kubelet", "host": node})
    );
    let out = k.ok(&["events", "--for", "deployment/web"]);
    assert!(out.contains("ScalingReplicaSet"), "{out}");
    assert!(out.contains("Scaled up replica set web-"), "{out}");
    let out = k.ok(&["events"]);
    assert!(out.contains("SuccessfulCreate"), "{out}");
    assert!(out.contains("Created pod: web-"), "{out}");

    // 600 cores fit no node: one Warning, its count raised by each attempt.
    k.cluster
        .create(json!({"apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": "huge", "namespace": "default"},
        "spec": {"containers": [{"name": "c", "image": "x",
            "resources": {"requests": {"cpu": "600"}}}]}}))
        .unwrap();
    // A pod giving up its node makes the scheduler try every pending pod
    // again: the same message, so the same event.
    k.cluster
        .delete("v1", "Pod", Some("default"), &name)
        .unwrap();
    assert!(k.cluster.wait_until(Duration::from_secs(10), |c| c
        .list("v1", "Event", Some("default"))
        .iter()
        .any(|e| e["involvedObject"]["name"] == "huge" && e["count"] == 2)));
    let failed: Vec<Value> = k
        .cluster
        .list("v1", "Event", Some("default"))
        .into_iter()
        .filter(|e| e["involvedObject"]["name"] == "huge")
        .collect();
    assert_eq!(failed.len(), 1, "{failed:?}");
    assert_eq!(failed[0]["reason"], "FailedScheduling");
    assert_eq!(failed[0]["type"], "Warning");
    assert!(failed[0]["count"].as_i64().unwrap() >= 2, "{:?}", failed[0]);
    let out = k.ok(&["describe", "pod", "huge"]);
    assert!(out.contains("FailedScheduling"), "{out}");
    assert!(out.contains("Insufficient cpu"), "{out}");
}

/// A namespace being deleted takes nothing new: kubectl's creates are
/// refused (403, the resource group-qualified, as the NamespaceLifecycle
/// plugin words it) and nothing is stored; the namespace goes once the
/// object that holds it (a finalizer) lets go.
#[test]
fn a_terminating_namespace_takes_nothing_new() {
    let k = Kube::standard();
    k.ok(&["create", "namespace", "closing"]);
    k.cluster
        .create(json!({"apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": "held", "namespace": "closing", "finalizers": ["example.com/hold"]}}))
        .unwrap();
    k.ok(&["delete", "namespace", "closing", "--wait=false"]);
    assert!(k.cluster.wait_until(Duration::from_secs(10), |c| c
        .get("v1", "Namespace", None, "closing")
        .is_some_and(|n| n["status"]["phase"] == "Terminating")));

    let err = fails(&k, &["create", "configmap", "late", "-n", "closing"]);
    assert!(
        err.contains("configmaps \"late\" is forbidden: unable to create new content in namespace closing because it is being terminated"),
        "{err}"
    );
    let err = fails(
        &k,
        &[
            "create",
            "deployment",
            "web",
            "--image=nginx",
            "-n",
            "closing",
        ],
    );
    assert!(
        err.contains("deployments.apps \"web\" is forbidden: unable to create new content in namespace closing because it is being terminated"),
        "{err}"
    );
    assert!(k
        .cluster
        .get("v1", "ConfigMap", Some("closing"), "late")
        .is_none());
    assert!(k
        .cluster
        .get("apps/v1", "Deployment", Some("closing"), "web")
        .is_none());

    k.ok(&[
        "patch",
        "configmap",
        "held",
        "-n",
        "closing",
        "--type=merge",
        "-p",
        r#"{"metadata":{"finalizers":null}}"#,
    ]);
    assert!(k.cluster.wait_until(Duration::from_secs(10), |c| c
        .get("v1", "Namespace", None, "closing")
        .is_none()));
}
