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

mod deployments;
mod refusals;

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
