//! Alaya NeW against a simulated cluster: a pod's basic information from
//! the live cluster, its port lists before and after opening and closing a
//! port (with the Services read back from the cluster), the documented 200,
//! 403 and 500 bodies, and one organisation that cannot see another's task.

use std::time::Duration;

use computehub::store::Value as StoreValue;
use serde_json::{json, Value};
use simcluster::{ClusterSpec, NodeSpec, SimCluster};

use crate::common::*;

const TASK: &str = "ca78d6b9-e196-5a0f-b1be-ab036b3cb91a";
const NS: &str = "usr-izbv1hwa";
const MASTER: &str = "tn-exqr5k7lvj7k-master-0";
const WORKER: &str = "tn-exqr5k7lvj7k-worker-0";
const LABEL: &str = "computehub.io/training-instance";

struct Env {
    s: Server,
    sim: SimCluster,
    key: String,
    cluster_id: String,
    instance_id: String,
}

fn text(s: &str) -> StoreValue {
    StoreValue::Text(s.to_string())
}

fn fields(pairs: Vec<(&str, StoreValue)>) -> Vec<(String, StoreValue)> {
    pairs.into_iter().map(|(k, v)| (k.to_string(), v)).collect()
}

fn pod(name: &str, task: &str, resources: Value) -> Value {
    json!({
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": name, "namespace": NS, "labels": {LABEL: task}},
        "spec": {"containers": [{"name": "main", "image": "pytorch/pytorch:2.3.0", "resources": resources}]}
    })
}

/// A cluster with the task's two pods running (the master Guaranteed, the
/// worker Burstable), the task recorded for `acme`, one system port (22)
/// opened by the platform on the master.
async fn env() -> Env {
    let sim = SimCluster::start(
        ClusterSpec::new("alaya")
            .node(NodeSpec::new("gpu-node-021").cpu("16").memory("64Gi"))
            .node(NodeSpec::new("gpu-node-022").cpu("16").memory("64Gi")),
    )
    .unwrap();
    sim.create(json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NS}}))
        .unwrap();
    sim.create(pod(
        MASTER,
        TASK,
        json!({"requests": {"cpu": "2", "memory": "4Gi"}, "limits": {"cpu": "2", "memory": "4Gi"}}),
    ))
    .unwrap();
    sim.create(pod(
        WORKER,
        TASK,
        json!({"requests": {"cpu": "1", "memory": "1Gi"}}),
    ))
    .unwrap();
    // A pod in the same namespace that is not the task's.
    sim.create(pod("stranger-0", "another-task", json!({})))
        .unwrap();
    assert!(sim.wait_until(Duration::from_secs(10), |c| {
        c.list("v1", "Pod", Some(NS))
            .iter()
            .all(|p| p["status"]["phase"] == "Running")
    }));
    let s = Server::start();
    let key = s.key("acme", "bearer");
    let cluster_id = s.import_cluster("acme", "k8s-01", &sim);
    let store = s.store().await;
    let instance = store
        .insert(
            "acme",
            "training_instances",
            &fields(vec![
                ("task_id", text(TASK)),
                ("name", text("llama3-8b-sft")),
                ("clusterid", text(&cluster_id)),
                ("namespace", text(NS)),
                ("created_by", text("hejiaoshare001")),
            ]),
        )
        .await
        .unwrap();
    // The platform's system port: a record and its NodePort Service.
    let svc = "alaya-system-ssh";
    sim.create(json!({
        "apiVersion": "v1", "kind": "Service",
        "metadata": {"name": svc, "namespace": NS, "labels": {LABEL: TASK}},
        "spec": {"type": "NodePort", "selector": {"job": "x"},
            "ports": [{"name": "ssh", "port": 22, "targetPort": 22}]}
    }))
    .unwrap();
    store
        .insert(
            "acme",
            "training_ports",
            &fields(vec![
                ("instance_id", text(&instance.id)),
                ("pod_name", text(MASTER)),
                ("source", text("system")),
                ("port", StoreValue::Integer(22)),
                ("service_name", text(svc)),
            ]),
        )
        .await
        .unwrap();
    Env {
        s,
        sim,
        key,
        cluster_id,
        instance_id: instance.id,
    }
}

impl Env {
    fn url(&self, task: &str, pod: &str, tail: &str) -> String {
        self.s
            .url(&format!("/v1/training/instance/{task}/{pod}/{tail}"))
    }

    async fn get_with(&self, key: &str, task: &str, pod: &str, tail: &str) -> (u16, Value) {
        let r = self
            .s
            .http
            .get(self.url(task, pod, tail))
            .bearer_auth(key)
            .send()
            .await
            .unwrap();
        let status = r.status().as_u16();
        (status, r.json().await.unwrap_or(Value::Null))
    }

    async fn get(&self, pod: &str, tail: &str) -> (u16, Value) {
        self.get_with(&self.key, TASK, pod, tail).await
    }

    async fn post(&self, pod: &str, tail: &str, body: Value) -> (u16, Value) {
        let r = self
            .s
            .http
            .post(self.url(TASK, pod, tail))
            .bearer_auth(&self.key)
            .json(&body)
            .send()
            .await
            .unwrap();
        let status = r.status().as_u16();
        (status, r.json().await.unwrap_or(Value::Null))
    }

    fn services(&self) -> Vec<Value> {
        self.sim.list("v1", "Service", Some(NS))
    }

    async fn port_rows(&self) -> u64 {
        self.s
            .store()
            .await
            .query("acme", "training_ports", &Default::default())
            .await
            .unwrap()
            .total
    }

    fn node_ip(&self, node: &str) -> String {
        let n = self.sim.get("v1", "Node", None, node).unwrap();
        n["status"]["addresses"]
            .as_array()
            .unwrap()
            .iter()
            .find(|a| a["type"] == "InternalIP")
            .unwrap()["address"]
            .as_str()
            .unwrap()
            .to_string()
    }
}

fn forbidden() -> Value {
    json!({"status": 403, "message": "Forbidden", "data": {}})
}

#[tokio::test(flavor = "multi_thread")]
async fn basic_answers_the_live_pod() {
    let e = env().await;
    let live = e.sim.get("v1", "Pod", Some(NS), MASTER).unwrap();
    let (status, body) = e.get(MASTER, "basic").await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["status"], 200);
    assert_eq!(body["message"], "OK");
    let d = &body["data"];
    let node = live["spec"]["nodeName"].as_str().unwrap();
    assert_eq!(d["clusterName"], "k8s-01");
    assert_eq!(d["hostName"], node);
    assert_eq!(d["namespace"], NS);
    assert_eq!(d["hostIp"], live["status"]["hostIP"]);
    assert_eq!(d["hostIp"], e.node_ip(node));
    assert_eq!(d["status"], "Running");
    assert_eq!(d["podIp"], live["status"]["podIP"]);
    assert!(!d["podIp"].as_str().unwrap().is_empty());
    assert_eq!(d["restartCount"], 0);
    assert_eq!(d["qosClass"], "Guaranteed");
    assert_eq!(d["createBy"], "hejiaoshare001");
    let created = d["createTime"].as_str().unwrap();
    let stamp = live["metadata"]["creationTimestamp"].as_str().unwrap();
    assert_eq!(created, stamp.replace('T', " ").trim_end_matches('Z'));
    assert_eq!(created.len(), "2025-12-02 06:24:44".len());
    assert_eq!(
        d.as_object().unwrap().len(),
        10,
        "exactly the documented fields: {d}"
    );

    // The worker has requests without limits: Kubernetes calls it Burstable.
    let (status, body) = e.get(WORKER, "basic").await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["data"]["qosClass"], "Burstable");
    // The API key never reaches the log.
    let secret = e.key.rsplit('.').next().unwrap();
    assert!(!e.s.log_text().contains(secret));
}

#[tokio::test(flavor = "multi_thread")]
async fn ports_before_and_after_opening_and_closing() {
    let e = env().await;
    let master = e.sim.get("v1", "Pod", Some(NS), MASTER).unwrap();
    let host = e.node_ip(master["spec"]["nodeName"].as_str().unwrap());
    let ssh = e
        .sim
        .get("v1", "Service", Some(NS), "alaya-system-ssh")
        .unwrap();
    let ssh_port = ssh["spec"]["ports"][0]["nodePort"].as_u64().unwrap();

    let (status, body) = e.get(MASTER, "open-port/list").await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        body["data"],
        json!({"ports": [{"port": 22, "externalHost": host, "externalPort": ssh_port}], "customPorts": []})
    );
    let services_before = e.services().len();

    let (status, body) = e
        .post(
            MASTER,
            "open-port",
            json!({"protocol": "http", "port": 7778}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["status"], 200);
    let opened = &body["data"];
    assert_eq!(opened["protocol"], "http");
    assert_eq!(opened["port"], 7778);
    assert_eq!(opened["externalHost"], host);
    let node_port = opened["externalPort"].as_u64().unwrap();
    assert!((30000..=32767).contains(&node_port), "{opened}");
    // The cluster now has a NodePort Service for that pod's port.
    let services = e.services();
    assert_eq!(services.len(), services_before + 1);
    let svc = services
        .iter()
        .find(|s| s["spec"]["ports"][0]["port"] == 7778)
        .expect("a Service for port 7778");
    assert_eq!(svc["spec"]["type"], "NodePort");
    assert_eq!(svc["spec"]["ports"][0]["nodePort"], node_port);
    assert_eq!(svc["spec"]["ports"][0]["targetPort"], 7778);
    assert_eq!(svc["metadata"]["labels"][LABEL], TASK);
    // It selects exactly the master pod, which still runs unchanged.
    let selector = svc["spec"]["selector"].as_object().unwrap().clone();
    let selected: Vec<String> = e
        .sim
        .list("v1", "Pod", Some(NS))
        .into_iter()
        .filter(|p| {
            selector
                .iter()
                .all(|(k, v)| &p["metadata"]["labels"][k.as_str()] == v)
        })
        .map(|p| p["metadata"]["name"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(selected, [MASTER]);
    let master_now = e.sim.get("v1", "Pod", Some(NS), MASTER).unwrap();
    assert_eq!(master_now["status"]["phase"], "Running");
    assert_eq!(
        master_now["spec"]["containers"],
        master["spec"]["containers"]
    );

    let (status, body) = e.get(MASTER, "open-port/list").await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        body["data"]["customPorts"],
        json!([{"protocol": "http", "port": 7778, "externalHost": host, "externalPort": node_port}])
    );
    assert_eq!(body["data"]["ports"].as_array().unwrap().len(), 1);
    // Ports are per pod: the worker has none.
    let (_, body) = e.get(WORKER, "open-port/list").await;
    assert_eq!(body["data"], json!({"ports": [], "customPorts": []}));

    // Opening it again conflicts and changes nothing.
    let (status, body) = e
        .post(
            MASTER,
            "open-port",
            json!({"protocol": "https", "port": 7778}),
        )
        .await;
    assert_eq!(status, 409, "{body}");
    assert_eq!(body["status"], 409);
    assert_eq!(e.services().len(), services_before + 1);

    // Closing: the Service and the record go.
    let (status, body) = e
        .post(
            MASTER,
            "close-port",
            json!({"protocol": "http", "port": 7778}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["data"], json!({"protocol": "http", "port": 7778}));
    assert_eq!(e.services().len(), services_before);
    assert!(e
        .services()
        .iter()
        .all(|s| s["spec"]["ports"][0]["port"] != 7778));
    let (_, body) = e.get(MASTER, "open-port/list").await;
    assert_eq!(body["data"]["customPorts"], json!([]));
    assert_eq!(body["data"]["ports"].as_array().unwrap().len(), 1);

    // Closing what is not open, or a system port, is refused.
    let (status, _) = e
        .post(
            MASTER,
            "close-port",
            json!({"protocol": "http", "port": 7778}),
        )
        .await;
    assert_eq!(status, 404);
    let (status, body) = e
        .post(
            MASTER,
            "close-port",
            json!({"protocol": "http", "port": 22}),
        )
        .await;
    assert_eq!(status, 409, "{body}");
    assert!(e
        .sim
        .get("v1", "Service", Some(NS), "alaya-system-ssh")
        .is_some());

    // A gateway configured on the task replaces the node's address.
    e.s.store()
        .await
        .update(
            "acme",
            "training_instances",
            &e.instance_id,
            &fields(vec![("gateway", text("gw.example.internal"))]),
        )
        .await
        .unwrap();
    let (_, body) = e.get(MASTER, "open-port/list").await;
    assert_eq!(
        body["data"]["ports"][0]["externalHost"],
        "gw.example.internal"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn open_and_close_validate_protocol_and_port() {
    let e = env().await;
    let services = e.services().len();
    let rows = e.port_rows().await;
    let cases = [
        (json!({"protocol": "ftp", "port": 8080}), "protocol"),
        (json!({"port": 8080}), "protocol"),
        (json!({"protocol": "http", "port": 0}), "port"),
        (json!({"protocol": "http", "port": 65536}), "port"),
        (json!({"protocol": "http", "port": "eighty"}), "port"),
        (json!({"protocol": "http"}), "port"),
    ];
    for tail in ["open-port", "close-port"] {
        for (body, field) in &cases {
            let (status, answer) = e.post(MASTER, tail, body.clone()).await;
            assert_eq!(status, 400, "{tail} {body}: {answer}");
            assert_eq!(answer["status"], 400);
            assert_eq!(answer["data"], json!({}));
            let msg = answer["message"].as_str().unwrap();
            assert!(msg.contains(&format!("`{field}`")), "{msg}");
        }
    }
    assert_eq!(e.services().len(), services);
    assert_eq!(e.port_rows().await, rows);
    // Query parameters work too (the document's clients send JSON; forms
    // and queries are accepted as everywhere).
    let r =
        e.s.http
            .post(e.url(TASK, MASTER, "open-port?protocol=https&port=8443"))
            .bearer_auth(&e.key)
            .send()
            .await
            .unwrap();
    assert_eq!(r.status().as_u16(), 200);
    assert_eq!(e.services().len(), services + 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn unknown_tasks_pods_and_other_organisations_are_forbidden_alike() {
    let e = env().await;
    // Another organisation's key sees the same 403 as for a task that does
    // not exist at all: no existence leak.
    let other = e.s.key("globex", "bearer");
    let (status, body) = e.get_with(&other, TASK, MASTER, "basic").await;
    assert_eq!((status, &body), (403, &forbidden()));
    let (status, body) = e.get_with(&other, TASK, MASTER, "open-port/list").await;
    assert_eq!((status, &body), (403, &forbidden()));
    let (status, body) = e.get_with(&e.key, "no-such-task", MASTER, "basic").await;
    assert_eq!((status, &body), (403, &forbidden()));
    // A pod that does not exist, and one that is not the task's.
    let (status, body) = e.get(&format!("{MASTER}x"), "basic").await;
    assert_eq!((status, &body), (403, &forbidden()));
    let (status, body) = e.get("stranger-0", "open-port/list").await;
    assert_eq!((status, &body), (403, &forbidden()));
    // globex cannot open a port on acme's pod either, and nothing changes.
    let services = e.services().len();
    let r =
        e.s.http
            .post(e.url(TASK, MASTER, "open-port"))
            .bearer_auth(&other)
            .json(&json!({"protocol": "http", "port": 9000}))
            .send()
            .await
            .unwrap();
    assert_eq!(r.status().as_u16(), 403);
    assert_eq!(r.json::<Value>().await.unwrap(), forbidden());
    assert_eq!(e.services().len(), services);

    // globex's own task of the same id, in its own cluster record, is its own.
    let gid = e.s.import_cluster("globex", "k8s-g", &e.sim);
    e.s.store()
        .await
        .insert(
            "globex",
            "training_instances",
            &fields(vec![
                ("task_id", text("another-task")),
                ("name", text("g")),
                ("clusterid", text(&gid)),
                ("namespace", text(NS)),
            ]),
        )
        .await
        .unwrap();
    let (status, body) = e
        .get_with(&other, "another-task", "stranger-0", "basic")
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["data"]["clusterName"], "k8s-g");
    // ...and acme still cannot see it.
    let (status, _) = e
        .get_with(&e.key, "another-task", "stranger-0", "basic")
        .await;
    assert_eq!(status, 403);
    assert_ne!(gid, e.cluster_id);
}

#[tokio::test(flavor = "multi_thread")]
async fn missing_keys_and_bad_names_answer_in_the_envelope() {
    let e = env().await;
    let r =
        e.s.http
            .get(e.url(TASK, MASTER, "basic"))
            .send()
            .await
            .unwrap();
    assert_eq!(r.status().as_u16(), 401);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["status"], 401);
    assert_eq!(body["data"], json!({}));
    let (status, body) = e.get("Not_A_Pod", "basic").await;
    assert_eq!(status, 400, "{body}");
    assert!(body["message"].as_str().unwrap().contains("`podName`"));
}

#[tokio::test(flavor = "multi_thread")]
async fn an_unreachable_cluster_is_the_documented_500() {
    let e = env().await;
    let Env { s, sim, key, .. } = e;
    drop(sim);
    for tail in ["basic", "open-port/list"] {
        let r = s
            .http
            .get(s.url(&format!("/v1/training/instance/{TASK}/{MASTER}/{tail}")))
            .bearer_auth(&key)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status().as_u16(), 500, "{tail}");
        assert_eq!(
            r.json::<Value>().await.unwrap(),
            json!({"status": 500, "message": "Internal Server Error", "data": {}})
        );
    }
    // The details are in the log, not in the answer.
    assert!(s.log_text().contains("alaya: failed"));
}
