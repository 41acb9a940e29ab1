//! Huawei IEF against a simulated cluster: deployments created, listed,
//! shown and deleted (read back from the cluster: the Deployment, its pods on
//! the chosen node or group, and their removal), the pod list and its
//! filters, and the two ways in: X-Auth-Token and AK/SK signatures (with
//! tampering, replay, clock skew, project binding and other organisations).

use std::time::Duration;

use chrono::Utc;
use computehub::auth::aksk::{sdk_date, signature, SignedRequest};
use serde_json::{json, Value};
use simcluster::{ClusterSpec, NodeSpec, SimCluster};

use crate::common::*;

pub const PROJECT: &str = "05e1aef9040010e22fccc009adecb056";
pub const NS: &str = "ief-05e1aef9040010e22fccc009adecb056";
pub const N1: &str = "9ebd8efb-9fdd-44a1-abda-9cdbc287a867";
pub const N2: &str = "ff5f5129-f53f-4129-9f7f-ca7837063b5f";
pub const N3: &str = "3e64d98a-37c5-43a6-9bfe-052b9083e362";
pub const G1: &str = "a71077f0-a491-4e1c-a41a-7d6910da26cb";
const NODE_LABEL: &str = "ief.computehub.io/node-id";
const GROUP_LABEL: &str = "ief.computehub.io/group-id";
const DEPLOYMENT_LABEL: &str = "ief.computehub.io/deployment-id";

pub struct Env {
    pub s: Server,
    pub sim: SimCluster,
    /// An X-Auth-Token bound to PROJECT.
    pub token: String,
    pub ak: String,
    pub sk: String,
}

/// Three edge nodes: edge-1 and edge-2 in group G1, edge-3 alone; project
/// PROJECT of `acme` mapped to the cluster.
pub fn env() -> Env {
    let sim = SimCluster::start(
        ClusterSpec::new("edge")
            .node(
                NodeSpec::new("edge-1")
                    .label(NODE_LABEL, N1)
                    .label(GROUP_LABEL, G1),
            )
            .node(
                NodeSpec::new("edge-2")
                    .label(NODE_LABEL, N2)
                    .label(GROUP_LABEL, G1),
            )
            .node(NodeSpec::new("edge-3").label(NODE_LABEL, N3))
            .node(NodeSpec::new("plain-4")),
    )
    .unwrap();
    env_on(Server::start(), sim)
}

/// `sim` imported into `s` as PROJECT of `acme`, with the project's keys.
pub fn env_on(s: Server, sim: SimCluster) -> Env {
    s.import_cluster_with(
        "acme",
        "edge",
        &sim.kubeconfig_yaml(),
        &["--ief-project", PROJECT],
    );
    let token = s.project_key("acme", "x-auth-token", Some(PROJECT));
    let aksk = s.project_key("acme", "aksk", Some(PROJECT));
    let (ak, sk) = aksk.split_once(' ').unwrap();
    Env {
        token,
        ak: ak.into(),
        sk: sk.into(),
        s,
        sim,
    }
}

impl Server {
    /// `keys create` with `--project`; the last line.
    pub fn project_key(&self, org: &str, scheme: &str, project: Option<&str>) -> String {
        let mut cmd = self.command();
        cmd.args([
            "keys",
            "create",
            "--org",
            org,
            "--scheme",
            scheme,
            "--data-dir",
        ])
        .arg(self.data());
        if let Some(p) = project {
            cmd.args(["--project", p]);
        }
        let out = cmd.output().unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout)
            .unwrap()
            .lines()
            .last()
            .unwrap()
            .to_string()
    }
}

/// The document's request example, on edge node N1.
pub fn example() -> Value {
    json!({
        "name": "app",
        "description": "this is a test app",
        "node_ids": [N1],
        "tags": [{"key": "app", "value": "test"}],
        "deployment": {
            "replicas": 1,
            "template": {
                "configs": {"host_network": true, "host_pid": true, "restart_policy": "Always", "toleration_seconds": 300},
                "containers": [{
                    "name": "container-0",
                    "image_url": "nginx:alpine",
                    "resources": {"limits": {"cpu": "0.25", "memory": "500"}, "requests": {"cpu": "0.25", "memory": "500"}}
                }]
            }
        }
    })
}

impl Env {
    pub fn path(&self, tail: &str) -> String {
        format!("/v3/{PROJECT}/edgemgr/{tail}")
    }

    /// A request with the X-Auth-Token.
    pub async fn call(&self, method: &str, tail: &str, body: Option<&Value>) -> (u16, Value) {
        self.call_with(
            method,
            &self.path(tail),
            body,
            &[("x-auth-token", &self.token)],
        )
        .await
    }

    pub async fn call_with(
        &self,
        method: &str,
        path: &str,
        body: Option<&Value>,
        headers: &[(&str, &str)],
    ) -> (u16, Value) {
        let url = self.s.url(path);
        let mut r = match method {
            "GET" => self.s.http.get(url),
            "POST" => self.s.http.post(url),
            "DELETE" => self.s.http.delete(url),
            other => panic!("{other}"),
        };
        for (k, v) in headers {
            r = r.header(*k, *v);
        }
        if let Some(b) = body {
            r = r.json(b);
        }
        let resp = r.send().await.unwrap();
        let status = resp.status().as_u16();
        (status, resp.json().await.unwrap_or(Value::Null))
    }

    fn host(&self) -> String {
        self.s.base.trim_start_matches("http://").to_string()
    }

    /// Headers of a request signed with `sk` at `date`.
    pub fn sign(
        &self,
        method: &str,
        path_and_query: &str,
        body: &[u8],
        ak: &str,
        sk: &str,
        date: chrono::DateTime<Utc>,
    ) -> Vec<(String, String)> {
        let (path, query) = path_and_query
            .split_once('?')
            .unwrap_or((path_and_query, ""));
        let date = sdk_date(date);
        let mut h = http::HeaderMap::new();
        h.insert("host", self.host().parse().unwrap());
        h.insert("x-sdk-date", date.parse().unwrap());
        h.insert("content-type", "application/json".parse().unwrap());
        let req = SignedRequest {
            method,
            path,
            query,
            headers: &h,
            authority: None,
            body,
        };
        let signed = ["content-type", "host", "x-sdk-date"];
        let sig = signature(&req, &signed, &date, sk).unwrap();
        vec![
            ("x-sdk-date".into(), date),
            ("content-type".into(), "application/json".into()),
            (
                "authorization".into(),
                format!(
                    "SDK-HMAC-SHA256 Access={ak}, SignedHeaders={}, Signature={sig}",
                    signed.join(";")
                ),
            ),
        ]
    }

    /// Send exactly `body` with the given headers.
    pub async fn raw(
        &self,
        method: &str,
        path_and_query: &str,
        body: &[u8],
        headers: &[(String, String)],
    ) -> (u16, Value) {
        let url = self.s.url(path_and_query);
        let mut r = match method {
            "GET" => self.s.http.get(url),
            "POST" => self.s.http.post(url),
            _ => self.s.http.delete(url),
        };
        for (k, v) in headers {
            r = r.header(k, v);
        }
        let resp = r.body(body.to_vec()).send().await.unwrap();
        let status = resp.status().as_u16();
        (status, resp.json().await.unwrap_or(Value::Null))
    }

    pub fn deployments(&self) -> Vec<Value> {
        self.sim.list("apps/v1", "Deployment", Some(NS))
    }

    pub fn pods(&self) -> Vec<Value> {
        self.sim.list("v1", "Pod", Some(NS))
    }

    pub fn running_on(&self) -> Vec<String> {
        let mut nodes: Vec<String> = self
            .pods()
            .iter()
            .filter(|p| p["status"]["phase"] == "Running")
            .map(|p| p["spec"]["nodeName"].as_str().unwrap_or("").to_string())
            .collect();
        nodes.sort();
        nodes
    }

    pub fn wait_running(&self, n: usize) {
        assert!(
            self.sim
                .wait_until(Duration::from_secs(15), |_| self.running_on().len() == n),
            "expected {n} running pods, have {:?}",
            self.pods()
        );
    }
}

fn go_time(t: &str) -> bool {
    // 2020-09-23 02:38:17.894471458 +0000 UTC
    t.len() >= "2020-09-23 02:38:17 +0000 UTC".len()
        && t.ends_with(" +0000 UTC")
        && t.as_bytes()[10] == b' '
        && t[..10].split('-').count() == 3
}

#[tokio::test(flavor = "multi_thread")]
async fn a_deployment_runs_on_its_node_until_deleted() {
    let e = env();
    let (status, d) = e.call("POST", "deployments", Some(&example())).await;
    assert_eq!(status, 201, "{d}");
    let id = d["id"].as_str().unwrap().to_string();
    assert_eq!(id.len(), 36);
    assert_eq!(d["name"], "app");
    assert_eq!(d["replicas"], 1);
    assert_eq!(d["ready_replicas"], 0);
    assert_eq!(d["description"], "this is a test app");
    assert_eq!(d["group_id"], "");
    assert_eq!(d["node_ids"], json!([N1]));
    assert_eq!(d["source"], "");
    assert_eq!(d["state"], "");
    assert_eq!(d["project_id"], PROJECT);
    assert_eq!(d["api_version"], "v3");
    assert_eq!(d["source_id"], "");
    assert_eq!(d["tags"], json!([{"key": "app", "value": "test"}]));
    assert!(
        go_time(d["created_at"].as_str().unwrap()),
        "{}",
        d["created_at"]
    );
    assert_eq!(d["updated_at"], d["created_at"]);
    assert_eq!(
        d["template"]["configs"],
        json!({"host_network": true, "host_pid": true, "restart_policy": "Always", "migration": false, "toleration_seconds": 300})
    );
    assert_eq!(d["template"]["init_containers"], json!([]));
    let c = &d["template"]["containers"][0];
    assert_eq!(c["name"], "container-0");
    assert_eq!(c["image_url"], "nginx:alpine");
    assert_eq!(c["npu_type"], "");
    assert_eq!(c["privileged"], false);
    assert_eq!(c["version"], "");
    assert_eq!(
        c["resources"],
        json!({"limits": {"cpu": "0.25", "memory": "500"}, "requests": {"cpu": "0.25", "memory": "500"}})
    );

    // The cluster has the Deployment, pinned to edge node N1.
    let deps = e.deployments();
    assert_eq!(deps.len(), 1);
    let k = &deps[0];
    assert_eq!(k["metadata"]["name"], "app");
    assert_eq!(k["metadata"]["labels"][DEPLOYMENT_LABEL], id.as_str());
    let spec = &k["spec"]["template"]["spec"];
    assert_eq!(spec["nodeSelector"][NODE_LABEL], N1);
    assert_eq!(spec["hostNetwork"], true);
    assert_eq!(spec["hostPID"], true);
    assert_eq!(spec["containers"][0]["image"], "nginx:alpine");
    e.wait_running(1);
    assert_eq!(e.running_on(), ["edge-1"]);

    // The pod list, by deployment and by node.
    let (status, body) = e
        .call("GET", &format!("pods?deployment_id={id}"), None)
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["count"], 1);
    let pod = &body["pods"][0];
    let live = &e.pods()[0];
    assert_eq!(pod["id"], live["metadata"]["uid"]);
    assert_eq!(pod["name"], live["metadata"]["name"]);
    assert!(pod["name"].as_str().unwrap().starts_with("app-"));
    assert_eq!(pod["node_id"], N1);
    assert_eq!(pod["deployment_id"], id.as_str());
    assert_eq!(pod["project_id"], PROJECT);
    assert_eq!(pod["state"], "RUNNING");
    assert!(pod["created_at"].as_str().unwrap().ends_with('Z'));
    assert_eq!(pod["configs"]["host_network"], true);
    assert_eq!(pod["configs"]["restart_policy"], "Always");
    // The PodResponse example carries the deployment's description.
    assert_eq!(pod["description"], "this is a test app");
    let pc = &pod["containers"][0];
    assert_eq!(pc["name"], "container-0");
    // `image_url` and `version` read as in the create answer (the document's
    // example puts the tag in `image_url` and leaves `version` empty).
    assert_eq!(pc["image_url"], d["template"]["containers"][0]["image_url"]);
    assert_eq!(pc["image_url"], "nginx:alpine");
    assert_eq!(pc["version"], "");
    assert_eq!(
        pc["resources"]["limits"],
        json!({"cpu": 0.25, "memory": 500})
    );
    assert_eq!(
        pc["resources"]["requests"],
        json!({"cpu": 0.25, "memory": 500})
    );
    assert_eq!(pc["restarts"], 0);
    assert_eq!(pc["is_ready"], "true");
    assert_eq!(pc["state"], "running");
    assert_eq!(pc["privileged"], false);
    assert!(!pc["container_id"].as_str().unwrap().is_empty());
    let (_, by_node) = e.call("GET", &format!("pods?node_id={N1}"), None).await;
    assert_eq!(by_node["count"], 1);
    let (_, other_node) = e.call("GET", &format!("pods?node_id={N2}"), None).await;
    assert_eq!(other_node, json!({"count": 0, "pods": []}));

    // Show and list, with the live ready count.
    assert!(e.sim.wait_until(Duration::from_secs(10), |c| {
        c.get("apps/v1", "Deployment", Some(NS), "app")
            .is_some_and(|d| d["status"]["readyReplicas"] == 1)
    }));
    let (status, shown) = e.call("GET", &format!("deployments/{id}"), None).await;
    assert_eq!(status, 200, "{shown}");
    assert_eq!(shown["ready_replicas"], 1);
    assert_eq!(shown["template"], d["template"]);
    let (status, listed) = e.call("GET", "deployments", None).await;
    assert_eq!(status, 200);
    assert_eq!(listed["count"], 1);
    assert_eq!(listed["deployments"][0]["id"], id.as_str());

    // The same name again conflicts; nothing new in the cluster.
    let (status, body) = e.call("POST", "deployments", Some(&example())).await;
    assert_eq!(status, 409, "{body}");
    assert_eq!(body["error_code"], "IEF.100013");
    assert_eq!(e.deployments().len(), 1);

    // Delete: 204, the Deployment and its pods go.
    let r =
        e.s.http
            .delete(e.s.url(&e.path(&format!("deployments/{id}"))))
            .header("x-auth-token", &e.token)
            .send()
            .await
            .unwrap();
    assert_eq!(r.status().as_u16(), 204);
    assert!(e.deployments().is_empty());
    assert!(
        e.sim
            .wait_until(Duration::from_secs(15), |_| e.pods().is_empty()),
        "{:?}",
        e.pods()
    );
    let (status, body) = e.call("GET", &format!("deployments/{id}"), None).await;
    assert_eq!(
        (status, body["error_code"].as_str()),
        (404, Some("IEF.100014"))
    );
    let (status, body) = e.call("DELETE", &format!("deployments/{id}"), None).await;
    assert_eq!(status, 404, "{body}");
    let (_, body) = e
        .call("GET", &format!("pods?deployment_id={id}"), None)
        .await;
    assert_eq!(body, json!({"count": 0, "pods": []}));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_group_deployment_stays_in_its_group() {
    let e = env();
    let mut body = example();
    body["name"] = json!("grouped");
    body.as_object_mut().unwrap().remove("node_ids");
    body["group_id"] = json!(G1);
    body["deployment"]["replicas"] = json!(4);
    body["deployment"]["template"]["configs"] =
        json!({"migration": true, "toleration_seconds": 60});
    let (status, d) = e.call("POST", "deployments", Some(&body)).await;
    assert_eq!(status, 201, "{d}");
    assert_eq!(d["group_id"], G1);
    assert_eq!(d["node_ids"], json!([]));
    e.wait_running(4);
    for node in e.running_on() {
        assert!(node == "edge-1" || node == "edge-2", "{node}");
    }
    let k = &e.deployments()[0]["spec"]["template"]["spec"];
    assert_eq!(k["nodeSelector"][GROUP_LABEL], G1);
    assert!(k["tolerations"]
        .as_array()
        .unwrap()
        .iter()
        .any(|t| t["key"] == "node.kubernetes.io/unreachable" && t["tolerationSeconds"] == 60));

    // A second deployment on the lone node.
    let mut lone = example();
    lone["name"] = json!("lone");
    lone["node_ids"] = json!([N3]);
    lone["deployment"]["template"]["configs"] = json!({});
    let (status, l) = e.call("POST", "deployments", Some(&lone)).await;
    assert_eq!(status, 201, "{l}");
    e.wait_running(5);

    let (_, by_group) = e.call("GET", &format!("pods?group_id={G1}"), None).await;
    assert_eq!(by_group["count"], 4);
    for p in by_group["pods"].as_array().unwrap() {
        assert!(p["node_id"] == N1 || p["node_id"] == N2, "{p}");
        assert_eq!(p["deployment_id"], d["id"]);
    }
    let ids = format!(
        "{},{}",
        d["id"].as_str().unwrap(),
        l["id"].as_str().unwrap()
    );
    let (_, both) = e
        .call("GET", &format!("pods?deployment_ids={ids}"), None)
        .await;
    assert_eq!(both["count"], 5);
    // Paging: count is the total, pods the page.
    let (_, page) = e
        .call(
            "GET",
            &format!("pods?deployment_ids={ids}&limit=2&offset=1"),
            None,
        )
        .await;
    assert_eq!(page["count"], 5);
    assert_eq!(page["pods"].as_array().unwrap().len(), 2);
    assert_eq!(page["pods"][0]["name"], both["pods"][1]["name"]);
    let (_, listed) = e
        .call("GET", &format!("deployments?group_id={G1}"), None)
        .await;
    assert_eq!(listed["count"], 1);
    assert_eq!(listed["deployments"][0]["name"], "grouped");
}

#[tokio::test(flavor = "multi_thread")]
async fn the_pod_list_takes_exactly_one_filter() {
    let e = env();
    for (query, code, field) in [
        ("pods", "IEF.100008", "node_id"),
        ("pods?limit=10", "IEF.100008", "deployment_ids"),
        (
            &format!("pods?node_id={N1}&group_id={G1}") as &str,
            "IEF.100008",
            "group_id",
        ),
        (&format!("pods?node_id={N1}&limit=0"), "IEF.100006", "limit"),
        (
            &format!("pods?node_id={N1}&limit=abc"),
            "IEF.100004",
            "limit",
        ),
        (
            &format!("pods?node_id={N1}&offset=-1"),
            "IEF.100006",
            "offset",
        ),
        ("pods?node_id=no-such-node", "IEF.100012", "node_id"),
        ("pods?group_id=no-such-group", "IEF.100012", "group_id"),
        ("pods?deployment_id=a%20b", "IEF.100005", "deployment_id"),
        ("pods?deployment_ids=a,b%21", "IEF.100005", "deployment_ids"),
    ] {
        let (status, body) = e.call("GET", query, None).await;
        assert_eq!(status, 400, "{query}: {body}");
        assert_eq!(body["error_code"], code, "{query}: {body}");
        assert!(
            body["error_msg"].as_str().unwrap().contains(field),
            "{query}: {body}"
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn an_unreachable_cluster_is_the_documented_500() {
    let e = env();
    let Env { s, sim, token, .. } = e;
    drop(sim);
    let call = |method: reqwest::Method, tail: &str, body: Option<Value>| {
        let mut r = s
            .http
            .request(method, s.url(&format!("/v3/{PROJECT}/edgemgr/{tail}")))
            .header("x-auth-token", &token);
        if let Some(b) = body {
            r = r.json(&b);
        }
        r.send()
    };
    for (method, tail, body) in [
        (reqwest::Method::GET, format!("pods?node_id={N1}"), None),
        (
            reqwest::Method::POST,
            "deployments".to_string(),
            Some(example()),
        ),
    ] {
        let r = call(method.clone(), &tail, body).await.unwrap();
        assert_eq!(r.status().as_u16(), 500, "{method} {tail}");
        let body: Value = r.json().await.unwrap();
        assert_eq!(body["error_code"], "IEF.100500", "{body}");
        let msg = body["error_msg"].as_str().unwrap();
        assert!(!msg.contains("127.0.0.1"), "no cluster detail leaks: {msg}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn unknown_and_foreign_projects_answer_the_documented_400() {
    let e = env();
    let documented = json!({"error_code": "IEF.100001", "error_msg": "PROJECT_ID not found"});
    // An acme key bound to no project, on a project acme does not have; and
    // a globex key on acme's project: the same documented answer.
    let unbound = e.s.project_key("acme", "x-auth-token", None);
    let globex = e.s.project_key("globex", "x-auth-token", None);
    for (key, project) in [(&unbound, "nope"), (&globex, PROJECT), (&globex, "nope")] {
        for (method, tail, body) in [
            ("GET", format!("pods?node_id={N1}"), None),
            ("POST", "deployments".to_string(), Some(example())),
            ("GET", "deployments".to_string(), None),
            ("GET", "deployments/whatever".to_string(), None),
            ("DELETE", "deployments/whatever".to_string(), None),
        ] {
            let path = format!("/v3/{project}/edgemgr/{tail}");
            let (status, answer) = e
                .call_with(method, &path, body.as_ref(), &[("x-auth-token", key)])
                .await;
            assert_eq!(
                (status, &answer),
                (400, &documented),
                "{method} {path} with the {} key",
                if key == &globex {
                    "globex"
                } else {
                    "unbound acme"
                }
            );
        }
    }
    // Nothing was made, in the cluster or the store.
    assert!(e.deployments().is_empty());
    let page =
        e.s.store()
            .await
            .query("acme", "ief_deployments", &Default::default())
            .await
            .unwrap();
    assert_eq!(page.total, 0);
    // A key bound to one project keeps the host's 403 on another.
    let (status, body) = e
        .call_with(
            "GET",
            "/v3/nope/edgemgr/deployments",
            None,
            &[("x-auth-token", &e.token)],
        )
        .await;
    assert_eq!(
        (status, body["error_code"].as_str()),
        (403, Some("IEF.000403"))
    );
    // The unbound acme key works on acme's own project.
    let (status, _) = e
        .call_with(
            "GET",
            &e.path("deployments"),
            None,
            &[("x-auth-token", &unbound)],
        )
        .await;
    assert_eq!(status, 200);
}

#[tokio::test(flavor = "multi_thread")]
async fn an_empty_group_id_beside_node_ids_is_absent() {
    let e = env();
    // The shape of the document's own 201 example: `"group_id": ""` beside
    // `node_ids`.
    let mut body = example();
    body["group_id"] = json!("");
    let (status, d) = e.call("POST", "deployments", Some(&body)).await;
    assert_eq!(status, 201, "{d}");
    assert_eq!(
        (d["group_id"].as_str(), &d["node_ids"]),
        (Some(""), &json!([N1]))
    );
    let k = &e.deployments()[0]["spec"]["template"]["spec"];
    assert_eq!(k["nodeSelector"], json!({NODE_LABEL: N1}));
    // And an empty `node_ids` beside a group.
    let mut grouped = example();
    grouped["name"] = json!("grouped");
    grouped["node_ids"] = json!([]);
    grouped["group_id"] = json!(G1);
    grouped["deployment"]["template"]["configs"]["migration"] = json!(false);
    let (status, g) = e.call("POST", "deployments", Some(&grouped)).await;
    assert_eq!(status, 201, "{g}");
    assert_eq!(
        (g["group_id"].as_str(), &g["node_ids"]),
        (Some(G1), &json!([]))
    );
    // Both empty is still "exactly one", none given.
    let mut neither = example();
    neither["name"] = json!("neither");
    neither["node_ids"] = json!([]);
    neither["group_id"] = json!("");
    let (status, n) = e.call("POST", "deployments", Some(&neither)).await;
    assert_eq!(status, 400);
    assert_eq!(
        n,
        json!({"error_code": "IEF.100008", "error_msg": "exactly one of `group_id`, `node_ids` is required, got none"})
    );
    assert_eq!(e.deployments().len(), 2);
}

#[tokio::test(flavor = "multi_thread")]
async fn resources_and_host_ports_run_as_the_deployment_shows_them() {
    let sim = SimCluster::start(
        ClusterSpec::new("edge").node(
            NodeSpec::new("edge-1")
                .label(NODE_LABEL, N1)
                .extended("huawei.com/ascend-310", 4)
                .extended("huawei.com/ascend-310b", 4),
        ),
    )
    .unwrap();
    let e = env_on(Server::start(), sim);
    let body = json!({
        "name": "npu",
        "node_ids": [N1],
        "deployment": {"replicas": 1, "template": {
            "configs": {},
            "containers": [
                {"name": "infer", "image_url": "ascend/infer", "version": "1.0", "npu_type": "D310B",
                 "resources": {"limits": {"cpu": "1", "memory": "1024", "npu": "2"},
                               "requests": {"cpu": "0.5", "memory": "512", "npu": "2"}},
                 "ports": [{"container_port": 8080, "host_port": 8000},
                           {"container_port": 9090, "host_port_range": {"min_port": 8000, "max_port": 8100}}]},
                {"name": "side", "image_url": "busybox", "resources": {"limits": {"D310": "1"}}}
            ]}}
    });
    let (status, d) = e
        .call_with(
            "POST",
            &e.path("deployments"),
            Some(&body),
            &[
                ("x-auth-token", &e.token),
                ("ief-instance-id", "ief-platinum-0001"),
            ],
        )
        .await;
    assert_eq!(status, 201, "{d}");
    // The cluster runs exactly what was asked: no request added or changed.
    let k = &e.deployments()[0]["spec"]["template"]["spec"];
    assert_eq!(
        k["containers"][0]["resources"],
        json!({"limits": {"cpu": "1", "memory": "1024Mi", "huawei.com/ascend-310b": "2"},
               "requests": {"cpu": "0.5", "memory": "512Mi", "huawei.com/ascend-310b": "2"}})
    );
    assert_eq!(
        k["containers"][1]["resources"],
        json!({"limits": {"huawei.com/ascend-310": "1"}})
    );
    // The range got the lowest port the pod's other port does not hold.
    let ports: Vec<&Value> = k["containers"][0]["ports"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| &p["hostPort"])
        .collect();
    assert_eq!(ports, [&json!(8000), &json!(8001)]);
    let (_, shown) = e
        .call(
            "GET",
            &format!("deployments/{}", d["id"].as_str().unwrap()),
            None,
        )
        .await;
    assert_eq!(
        shown["template"]["containers"][0]["resources"],
        body["deployment"]["template"]["containers"][0]["resources"]
    );
    assert_eq!(
        shown["template"]["containers"][1]["resources"],
        json!({"limits": {"D310": "1"}})
    );
    e.wait_running(1);
    let (status, list) = e.call("GET", &format!("pods?node_id={N1}"), None).await;
    assert_eq!(status, 200, "{list}");
    let pod = &list["pods"][0];
    let infer = &pod["containers"][0];
    assert_eq!(
        (infer["image_url"].as_str(), infer["version"].as_str()),
        (Some("ascend/infer"), Some("1.0"))
    );
    assert_eq!(
        infer["resources"],
        json!({"limits": {"cpu": 1, "memory": 1024, "npu": 2}, "requests": {"cpu": 0.5, "memory": 512, "npu": 2}})
    );
    assert_eq!(
        infer["ports"],
        json!([{"container_port": 8080, "host_port": 8000}, {"container_port": 9090, "host_port": 8001}])
    );
    // A limit alone: the cluster defaults the request to it, as Kubernetes
    // does for every resource.
    assert_eq!(
        pod["containers"][1]["resources"],
        json!({"limits": {"npu": 1}, "requests": {"npu": 1}})
    );
}
