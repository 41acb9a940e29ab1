//! The REST protocol and the simulation, without kubectl: raw HTTPS requests
//! (rustls/webpki verifying the cluster's CA, as kube-rs does) and the direct
//! accessors of `SimCluster`.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::sync::Arc;
use std::time::{Duration, Instant};

use rustls::pki_types::{pem::PemObject, CertificateDer, ServerName};
use serde_json::{json, Value};
use simcluster::{ClusterSpec, NodeSpec, SimCluster};

fn cluster() -> SimCluster {
    let mut spec = ClusterSpec::new("api")
        .node(NodeSpec::control_plane("master-1"))
        .node(NodeSpec::new("worker-1").cpu("8").memory("32Gi"))
        .node(
            NodeSpec::new("gpu-1")
                .cpu("32")
                .memory("128Gi")
                .gpus(4, "NVIDIA-H100-80GB-HBM3"),
        );
    spec.job_pod_duration = Some(Duration::from_millis(200));
    spec.namespace_finalize_delay = Duration::from_millis(100);
    SimCluster::start(spec).unwrap()
}

fn tls_stream(c: &SimCluster) -> rustls::StreamOwned<rustls::ClientConnection, TcpStream> {
    let mut roots = rustls::RootCertStore::empty();
    roots
        .add(CertificateDer::from_pem_slice(c.ca_pem().as_bytes()).unwrap())
        .unwrap();
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let cfg = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    let name = ServerName::try_from("127.0.0.1").unwrap();
    let conn = rustls::ClientConnection::new(Arc::new(cfg), name).unwrap();
    let tcp = TcpStream::connect(c.addr()).unwrap();
    tcp.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    rustls::StreamOwned::new(conn, tcp)
}

fn write_request(
    s: &mut impl Write,
    c: &SimCluster,
    method: &str,
    path: &str,
    token: bool,
    ct: &str,
    body: &str,
) {
    let auth = if token {
        format!("Authorization: Bearer {}\r\n", c.token())
    } else {
        String::new()
    };
    let req = format!(
        "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n{auth}Content-Type: {ct}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    s.write_all(req.as_bytes()).unwrap();
}

/// One HTTPS request; returns (status, JSON body).
fn call(c: &SimCluster, method: &str, path: &str, ct: &str, body: &str) -> (u16, Value) {
    call_as(c, method, path, true, ct, body)
}

fn call_as(
    c: &SimCluster,
    method: &str,
    path: &str,
    token: bool,
    ct: &str,
    body: &str,
) -> (u16, Value) {
    let mut s = tls_stream(c);
    write_request(&mut s, c, method, path, token, ct, body);
    let mut raw = Vec::new();
    let _ = s.read_to_end(&mut raw);
    let text = String::from_utf8_lossy(&raw).to_string();
    let (head, body) = text.split_once("\r\n\r\n").expect("http response");
    let status: u16 = head.split_whitespace().nth(1).unwrap().parse().unwrap();
    (status, serde_json::from_str(body).unwrap_or(Value::Null))
}

#[test]
fn https_with_webpki_and_bearer_token() {
    let c = cluster();
    assert!(c.url().starts_with("https://127.0.0.1:"));
    let (code, v) = call(&c, "GET", "/api/v1/nodes", "application/json", "");
    assert_eq!(code, 200);
    assert_eq!(v["kind"], "NodeList");
    assert_eq!(v["items"].as_array().unwrap().len(), 3);
    let (code, v) = call_as(&c, "GET", "/api/v1/nodes", false, "application/json", "");
    assert_eq!((code, v["reason"].as_str()), (401, Some("Unauthorized")));
    let (code, v) = call_as(&c, "GET", "/version", false, "application/json", "");
    assert_eq!((code, v["gitVersion"].as_str()), (200, Some("v1.32.4")));
    assert!(c.kubeconfig_yaml().contains("certificate-authority-data: "));
}

#[test]
fn status_errors() {
    let c = cluster();
    let (code, v) = call(
        &c,
        "GET",
        "/api/v1/namespaces/default/pods/nope",
        "application/json",
        "",
    );
    assert_eq!(
        (code, v["reason"].as_str(), v["message"].as_str()),
        (404, Some("NotFound"), Some("pods \"nope\" not found"))
    );
    let cm = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "cfg", "namespace": "default"}, "data": {"a": "1"}});
    let (code, created) = call(
        &c,
        "POST",
        "/api/v1/namespaces/default/configmaps",
        "application/json",
        &cm.to_string(),
    );
    assert_eq!(code, 201);
    let (code, v) = call(
        &c,
        "POST",
        "/api/v1/namespaces/default/configmaps",
        "application/json",
        &cm.to_string(),
    );
    assert_eq!((code, v["reason"].as_str()), (409, Some("AlreadyExists")));
    // stale resourceVersion on update
    let mut stale = created.clone();
    stale["data"]["a"] = json!("2");
    let (code, _) = call(
        &c,
        "PUT",
        "/api/v1/namespaces/default/configmaps/cfg",
        "application/json",
        &stale.to_string(),
    );
    assert_eq!(code, 200);
    let (code, v) = call(
        &c,
        "PUT",
        "/api/v1/namespaces/default/configmaps/cfg",
        "application/json",
        &stale.to_string(),
    );
    assert_eq!((code, v["reason"].as_str()), (409, Some("Conflict")));
    // invalid: selector does not match the template
    let bad = json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "d"},
        "spec": {"selector": {"matchLabels": {"app": "x"}}, "template": {"metadata": {"labels": {"app": "y"}}, "spec": {"containers": [{"name": "c", "image": "i"}]}}}});
    let (code, v) = call(
        &c,
        "POST",
        "/apis/apps/v1/namespaces/default/deployments",
        "application/json",
        &bad.to_string(),
    );
    assert_eq!((code, v["reason"].as_str()), (422, Some("Invalid")));
    assert_eq!(
        v["details"]["causes"][0]["field"],
        "spec.template.metadata.labels"
    );
    // missing namespace
    let (code, v) = call(
        &c,
        "POST",
        "/api/v1/namespaces/ghost/configmaps",
        "application/json",
        &json!({"metadata": {"name": "x"}}).to_string(),
    );
    assert_eq!(
        (code, v["message"].as_str()),
        (404, Some("namespaces \"ghost\" not found"))
    );
    // resourceVersions only grow
    let rv = |v: &Value| {
        v["metadata"]["resourceVersion"]
            .as_str()
            .unwrap()
            .parse::<u64>()
            .unwrap()
    };
    let now = c.get("v1", "ConfigMap", Some("default"), "cfg").unwrap();
    assert!(rv(&now) > rv(&created));
    assert_eq!(now["metadata"]["uid"], created["metadata"]["uid"]);
}

#[test]
fn patch_types_over_http() {
    let c = cluster();
    let path = "/api/v1/nodes/worker-1";
    let (code, v) = call(
        &c,
        "PATCH",
        path,
        "application/merge-patch+json",
        r#"{"metadata":{"labels":{"a":"1"}}}"#,
    );
    assert_eq!(
        (code, v["metadata"]["labels"]["a"].as_str()),
        (200, Some("1"))
    );
    let (code, v) = call(
        &c,
        "PATCH",
        path,
        "application/strategic-merge-patch+json",
        r#"{"spec":{"taints":[{"key":"k","value":"v","effect":"NoSchedule"}]}}"#,
    );
    assert_eq!(
        (code, v["spec"]["taints"][0]["key"].as_str()),
        (200, Some("k"))
    );
    let (code, v) = call(
        &c,
        "PATCH",
        path,
        "application/json-patch+json",
        r#"[{"op":"remove","path":"/metadata/labels/a"}]"#,
    );
    assert_eq!(code, 200);
    assert!(v["metadata"]["labels"].get("a").is_none());
    let (code, v) = call(&c, "PATCH", path, "text/plain", "{}");
    assert_eq!(
        (code, v["reason"].as_str()),
        (415, Some("UnsupportedMediaType"))
    );
    // server-side apply creates, owns, and conflicts
    let cm = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cfg\n  namespace: default\ndata:\n  k: one\n";
    let p = "/api/v1/namespaces/default/configmaps/cfg?fieldManager=tool-a";
    let (code, v) = call(&c, "PATCH", p, "application/apply-patch+yaml", cm);
    assert_eq!(
        (code, v["metadata"]["managedFields"][0]["manager"].as_str()),
        (201, Some("tool-a"))
    );
    let (code, v) = call(
        &c,
        "PATCH",
        "/api/v1/namespaces/default/configmaps/cfg?fieldManager=tool-b",
        "application/apply-patch+yaml",
        &cm.replace("one", "two"),
    );
    assert_eq!((code, v["reason"].as_str()), (409, Some("Conflict")));
    let (code, v) = call(
        &c,
        "PATCH",
        "/api/v1/namespaces/default/configmaps/cfg?fieldManager=tool-b&force=true",
        "application/apply-patch+yaml",
        &cm.replace("one", "two"),
    );
    assert_eq!((code, v["data"]["k"].as_str()), (200, Some("two")));
}

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

#[test]
fn watch_streams_events_from_a_resource_version() {
    let c = cluster();
    let rv = c.resource_version();
    let mut s = tls_stream(&c);
    write_request(
        &mut s,
        &c,
        "GET",
        &format!(
            "/api/v1/namespaces/default/pods?watch=true&resourceVersion={rv}&timeoutSeconds=5"
        ),
        true,
        "application/json",
        "",
    );
    std::thread::sleep(Duration::from_millis(200));
    c.create(json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "watched", "namespace": "default"},
        "spec": {"containers": [{"name": "c", "image": "x"}]}}))
        .unwrap();
    c.delete("v1", "Pod", Some("default"), "watched").unwrap();
    let start = Instant::now();
    let mut seen = String::new();
    let mut buf = [0u8; 4096];
    while start.elapsed() < Duration::from_secs(8) && !seen.contains("\"DELETED\"") {
        match s.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => seen.push_str(&String::from_utf8_lossy(&buf[..n])),
        }
    }
    let added = seen.find("\"type\":\"ADDED\"").expect("ADDED event");
    let modified = seen
        .find("\"type\":\"MODIFIED\"")
        .expect("MODIFIED event (scheduled, started)");
    let deleted = seen.find("\"type\":\"DELETED\"").expect("DELETED event");
    assert!(added < modified && modified < deleted, "{seen}");
    assert!(seen.contains("\"name\":\"watched\""));
}

#[test]
fn lists_page_by_key_with_continue_tokens() {
    let c = cluster();
    let pod = |ns: &str, name: &str| {
        json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "namespace": ns},
               "spec": {"containers": [{"name": "c", "image": "busybox"}]}})
    };
    call(
        &c,
        "POST",
        "/api/v1/namespaces",
        "application/json",
        &json!({"metadata": {"name": "b"}}).to_string(),
    );
    for (ns, name) in [
        ("default", "p3"),
        ("b", "q1"),
        ("default", "p1"),
        ("b", "q2"),
        ("default", "p2"),
    ] {
        let path = format!("/api/v1/namespaces/{ns}/pods");
        let (code, _) = call(
            &c,
            "POST",
            &path,
            "application/json",
            &pod(ns, name).to_string(),
        );
        assert_eq!(code, 201);
    }
    let names = |list: &Value| -> Vec<String> {
        list["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|o| {
                format!(
                    "{}/{}",
                    o["metadata"]["namespace"].as_str().unwrap(),
                    o["metadata"]["name"].as_str().unwrap()
                )
            })
            .collect()
    };
    // Pages of two, in (namespace, name) order, the last without a token.
    let mut seen = Vec::new();
    let mut path = "/api/v1/pods?limit=2".to_string();
    let mut pages = 0;
    loop {
        let (code, list) = call(&c, "GET", &path, "", "");
        assert_eq!(code, 200, "{list}");
        pages += 1;
        let page = names(&list);
        assert!(page.len() <= 2, "{page:?}");
        seen.extend(page);
        let Some(token) = list["metadata"]["continue"].as_str() else {
            break;
        };
        if pages == 1 {
            // Deleting an object the first page showed moves no later one.
            let (code, _) = call(&c, "DELETE", "/api/v1/namespaces/b/pods/q1", "", "");
            assert_eq!(code, 200);
        }
        path = format!("/api/v1/pods?limit=2&continue={token}");
    }
    assert_eq!(
        seen,
        ["b/q1", "b/q2", "default/p1", "default/p2", "default/p3"]
    );
    assert_eq!(pages, 3);
    // One namespace pages within it.
    let (_, first) = call(&c, "GET", "/api/v1/namespaces/default/pods?limit=2", "", "");
    assert_eq!(names(&first), ["default/p1", "default/p2"]);
    let token = first["metadata"]["continue"].as_str().unwrap().to_string();
    let (_, rest) = call(
        &c,
        "GET",
        &format!("/api/v1/namespaces/default/pods?limit=2&continue={token}"),
        "",
        "",
    );
    assert_eq!(names(&rest), ["default/p3"]);
    assert!(rest["metadata"]["continue"].is_null());
    // A token the server did not make is refused, as kube-apiserver does.
    let (code, status) = call(&c, "GET", "/api/v1/pods?limit=2&continue=garbage", "", "");
    assert_eq!(code, 400, "{status}");
    assert!(
        status["message"].as_str().unwrap().contains("continue"),
        "{status}"
    );
}

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
