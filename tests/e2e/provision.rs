//! pcapi `new_cluster` and `new_worker` end to end: HTTP -> the pcapi plugin
//! -> the ssh capability -> a real sshd per simulated machine -> fixture
//! `kubeadm`/`apt-get`/`systemctl` (tests/fixtures/machine) -> a simulated
//! cluster that kube-rs and kubectl read. Assertions are on what changed:
//! the cluster's nodes, the machines' command logs, the persisted operation.

use std::time::{Duration, Instant};

use serde_json::Value;
use simcluster::{ClusterSpec, SimCluster};

use crate::common::*;
use crate::machine::{Machine, PASSWORD, USER};

const BASE: &str = "/pcapi/api/v1/cluster/common";

pub const CONFIG: &str = concat!(
    r#"
default-deadline-ms = 5000
[plugins.pcapi]
role = "endpoint"
grants = ["log", "inventory", "kubernetes", "scheduling", "ssh", "operations"]
ssh-targets = ["127.0.0.0/8"]
kube-targets = ["127.0.0.1"]
read = ["devices", "clusters"]
"#,
    crate::common::loopback_clusters!()
);

pub struct Env {
    pub s: Server,
    pub sim: SimCluster,
    user: String,
    pass: String,
}

pub fn env() -> Env {
    let sim = SimCluster::start(ClusterSpec::new("prov")).unwrap();
    let s = Server::with(Options {
        config: CONFIG,
        plugins: vec![],
        ..Options::default()
    });
    let basic = s.key("acme", "basic");
    let (user, pass) = basic.split_once(':').unwrap();
    Env {
        user: user.into(),
        pass: pass.into(),
        s,
        sim,
    }
}

/// A response: status, headers' operation id, body.
pub struct Answer {
    pub status: u16,
    pub op: Option<String>,
    pub body: Value,
    pub elapsed: Duration,
}

impl Answer {
    /// The `detail` of the document's failure body: HTTP 200, exactly
    /// `{"status": false, "info": "operate failed", "data": ""}` besides it.
    pub fn failed(&self) -> &str {
        assert_eq!(self.status, 200, "{}", self.body);
        let mut documented = self.body.clone();
        let detail = documented
            .as_object_mut()
            .and_then(|m| m.remove("detail"))
            .unwrap_or(Value::Null);
        assert_eq!(
            documented,
            serde_json::json!({"status": false, "info": "operate failed", "data": ""}),
            "{}",
            self.body
        );
        assert!(detail.is_string(), "{}", self.body);
        self.body["detail"].as_str().unwrap_or_default()
    }
}

/// A pcapi `POST {BASE}/{op}` through `s` with Basic credentials `cred`,
/// asking for a 202 and an operation with `prefer_async`.
pub async fn post(
    s: &Server,
    cred: (&str, &str),
    op: &str,
    form: &[(&str, &str)],
    prefer_async: bool,
) -> Answer {
    let started = Instant::now();
    let mut req = s
        .http
        .post(s.url(&format!("{BASE}/{op}")))
        .form(form)
        .basic_auth(cred.0, Some(cred.1));
    if prefer_async {
        req = req.header("Prefer", "respond-async");
    }
    let r = req.send().await.unwrap();
    let status = r.status().as_u16();
    let op = r
        .headers()
        .get("x-operation-id")
        .map(|v| v.to_str().unwrap().to_string());
    Answer {
        status,
        op,
        body: r.json().await.unwrap_or(Value::Null),
        elapsed: started.elapsed(),
    }
}

impl Env {
    pub fn machine(&self, name: &str, ip: &str) -> Machine {
        let m = Machine::start(name, ip);
        m.attach(&self.sim);
        m
    }

    pub async fn post(&self, op: &str, form: &[(&str, &str)], prefer_async: bool) -> Answer {
        post(&self.s, (&self.user, &self.pass), op, form, prefer_async).await
    }

    pub async fn operation(&self, id: &str) -> (u16, Value) {
        let r = self
            .s
            .http
            .get(self.s.url(&format!("/operations/{id}")))
            .basic_auth(&self.user, Some(&self.pass))
            .send()
            .await
            .unwrap();
        let status = r.status().as_u16();
        (status, r.json().await.unwrap_or(Value::Null))
    }

    pub async fn new_cluster(&self, m: &Machine, prefer_async: bool) -> Answer {
        let port = m.port.to_string();
        self.post(
            "new_cluster",
            &[
                ("host", "127.0.0.1"),
                ("port", &port),
                ("user", USER),
                ("psssword", PASSWORD),
                ("role", "master"),
            ],
            prefer_async,
        )
        .await
    }

    pub async fn new_worker(&self, m: &Machine, join: &str, kubeconfig: &str) -> Answer {
        let port = m.port.to_string();
        self.post(
            "new_worker",
            &[
                ("host", "127.0.0.1"),
                ("port", &port),
                ("user", USER),
                ("psssword", PASSWORD),
                ("role", "worker"),
                ("join_command", join),
                ("kubeconfig", kubeconfig),
            ],
            false,
        )
        .await
    }

    /// The Basic credential (key id, secret) of organisation `acme`.
    pub fn credentials(&self) -> (String, String) {
        (self.user.clone(), self.pass.clone())
    }

    pub fn node_names(&self) -> Vec<String> {
        let mut names: Vec<String> = self
            .sim
            .list("v1", "Node", None)
            .iter()
            .map(|n| n["metadata"]["name"].as_str().unwrap().to_string())
            .collect();
        names.sort();
        names
    }
}

/// `data` of new_cluster: the join command, " \n ", the kubeconfig.
pub fn split_data(data: &str) -> (String, String) {
    let (join, kubeconfig) = data
        .split_once(" \n ")
        .expect("join command and kubeconfig");
    (join.trim().to_string(), kubeconfig.to_string())
}

/// Milliseconds each phase took, from the operation's timestamps.
pub fn phase_millis(op: &Value) -> Vec<(String, String, i64)> {
    let ms = |t: &Value| {
        t.as_str()
            .and_then(|t| chrono::DateTime::parse_from_rfc3339(t).ok())
            .map(|t| t.timestamp_millis())
    };
    op["phases"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            let d = match (ms(&p["started_at"]), ms(&p["finished_at"])) {
                (Some(a), Some(b)) => b - a,
                _ => -1,
            };
            (
                p["name"].as_str().unwrap().to_string(),
                p["status"].as_str().unwrap().to_string(),
                d,
            )
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_cluster_and_two_workers_end_with_three_ready_nodes() {
    let e = env();
    let master = e.machine("node-m", "127.0.0.2");
    let w1 = e.machine("node-w1", "127.0.0.3");
    let w2 = e.machine("node-w2", "127.0.0.4");

    let a = e.new_cluster(&master, false).await;
    assert_eq!(a.status, 200, "{}", a.body);
    assert_eq!(a.body["status"], true);
    assert_eq!(a.body["info"], "operate success");
    let (join, kubeconfig) = split_data(a.body["data"].as_str().unwrap());
    let sim_port = e.sim.addr().port();
    assert!(
        join.starts_with(&format!("kubeadm join 127.0.0.2:{sim_port} --token ")),
        "{join}"
    );
    assert!(
        join.contains("--discovery-token-ca-cert-hash sha256:"),
        "{join}"
    );
    // admin.conf said 127.0.0.2 (the machine's own address); the answer
    // points at the address the platform reached it at.
    assert!(
        kubeconfig.contains(&format!("server: https://127.0.0.1:{sim_port}")),
        "{kubeconfig}"
    );
    assert_eq!(e.node_names(), ["node-m"]);
    let m_node = e.sim.get("v1", "Node", None, "node-m").unwrap();
    assert!(m_node["metadata"]["labels"]
        .get("node-role.kubernetes.io/control-plane")
        .is_some());

    // What ran on the master, in order, with its arguments.
    let cmds = master.commands();
    let init = cmds
        .iter()
        .find(|c| c.starts_with("kubeadm init"))
        .expect("kubeadm init ran")
        .clone();
    assert!(
        init.starts_with("kubeadm init --config /tmp/computehub/kubeadm-init-op-")
            && init.ends_with(".yaml --upload-certs"),
        "{init}"
    );
    let expected = [
        "hostname",
        "swapoff -a",
        "modprobe overlay",
        "modprobe br_netfilter",
        "sysctl -w net.ipv4.ip_forward=1 net.bridge.bridge-nf-call-iptables=1",
        "apt-get update -q",
        "apt-get install -y -q containerd kubelet kubeadm kubectl",
        "systemctl enable --now containerd kubelet",
        init.as_str(),
        "kubeadm token create --ttl 2h0m0s --print-join-command",
    ];
    assert_eq!(cmds, expected, "master command log");
    assert!(master
        .file("/etc/apt/sources.list.d/kubernetes.list")
        .unwrap()
        .contains("https://pkgs.k8s.io/core:/stable:/v1.30/deb/"));

    // The persisted operation: every phase done, no secret in it.
    let op_id = a.op.expect("x-operation-id");
    let (st, op) = e.operation(&op_id).await;
    assert_eq!(st, 200, "{op}");
    assert_eq!(op["status"], "succeeded");
    assert_eq!(op["kind"], "new-cluster");
    assert_eq!(op["target"], format!("127.0.0.1:{}", master.port));
    assert_eq!(op["result"]["node"], "node-m");
    assert_eq!(op["result"]["control_plane"], "initialised");
    let token = join.split_whitespace().nth(4).unwrap().to_string();
    let op_text = op.to_string();
    assert!(!op_text.contains(&token), "join token persisted");
    assert!(
        !op_text.contains(e.sim.token()),
        "kubeconfig token persisted"
    );
    assert!(op["phases"][4]["output"]
        .as_str()
        .unwrap()
        .contains("join token created"));
    let timings = phase_millis(&op);
    eprintln!("new_cluster phases (ms): {timings:?}");

    for (w, name) in [(&w1, "node-w1"), (&w2, "node-w2")] {
        let a = e.new_worker(w, &join, &kubeconfig).await;
        assert_eq!(a.status, 200, "{}", a.body);
        assert_eq!(
            a.body,
            serde_json::json!({"status": true, "info": "operate success", "data": ""})
        );
        let expected_join = format!(
            "kubeadm join 127.0.0.2:{sim_port} --token {token} --discovery-token-ca-cert-hash {} --node-name {name}",
            join.split_whitespace().nth(6).unwrap()
        );
        assert!(w.commands().contains(&expected_join), "{:?}", w.commands());
        let (_, op) = e.operation(a.op.as_deref().unwrap()).await;
        assert_eq!(op["status"], "succeeded", "{op}");
        eprintln!("new_worker {name} phases (ms): {:?}", phase_millis(&op));
        assert!(!op.to_string().contains(&token));
    }
    assert_eq!(e.node_names(), ["node-m", "node-w1", "node-w2"]);

    // The platform sees three Ready nodes...
    let kc = kubeconfig.clone();
    let r =
        e.s.http
            .get(e.s.url(&format!("{BASE}/get_cluster_nodes")))
            .query(&[("kubeconfig", kc.as_str())])
            .basic_auth(&e.user, Some(&e.pass))
            .send()
            .await
            .unwrap();
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["data"]["total"], 3, "{body}");
    for row in body["data"]["rows"].as_array().unwrap() {
        assert_eq!(row["node_status"], "Ready", "{row}");
    }
    // ... and so does kubectl, with the kubeconfig new_cluster answered.
    let path = e.s.dir.path().join("answered.kubeconfig");
    std::fs::write(&path, &kubeconfig).unwrap();
    let out = std::process::Command::new("kubectl")
        .arg("--kubeconfig")
        .arg(&path)
        .args(["get", "nodes", "--no-headers"])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let ready: Vec<&str> = text
        .lines()
        .filter(|l| l.split_whitespace().nth(1) == Some("Ready"))
        .collect();
    assert_eq!(ready.len(), 3, "{text}");

    // No password, token or kubeconfig secret in the server's log.
    let log = e.s.log_text();
    assert!(!log.contains(PASSWORD));
    assert!(!log.contains(&token));
    assert!(!log.contains(e.sim.token()));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_failed_init_is_reset_and_a_retry_succeeds() {
    let e = env();
    let m = e.machine("node-m", "127.0.0.2");
    m.fail_once(
        "kubeadm-init",
        "[ERROR Port-6443]: Port 6443 is in use\nerror execution phase preflight",
    );
    let a = e.new_cluster(&m, false).await;
    let info = a.failed();
    assert!(info.starts_with("phase `init` failed"), "{info}");
    assert!(info.contains("Port 6443 is in use"), "{info}");
    let op_id = a.op.clone().unwrap();
    assert!(info.contains(&format!("(operation {op_id})")), "{info}");
    let (_, op) = e.operation(&op_id).await;
    assert_eq!(op["status"], "failed");
    let phases = phase_millis(&op);
    let status_of = |name: &str| {
        phases
            .iter()
            .find(|p| p.0 == name)
            .map(|p| p.1.clone())
            .unwrap()
    };
    assert_eq!(status_of("preflight"), "succeeded");
    assert_eq!(status_of("prerequisites"), "succeeded");
    assert_eq!(status_of("init"), "failed");
    assert_eq!(status_of("kubeconfig"), "pending");
    assert_eq!(status_of("cleanup"), "succeeded");
    let init_output = op["phases"][2]["output"].as_str().unwrap();
    assert!(init_output.contains("Port 6443 is in use"), "{init_output}");
    assert!(op["error"].as_str().unwrap().contains("init"));
    // The fixture log: init failed, then reset cleaned up; no node remains.
    let cmds = m.commands();
    let init_at = cmds
        .iter()
        .position(|c| c.starts_with("kubeadm init"))
        .unwrap();
    assert_eq!(cmds[init_at + 1], "kubeadm reset -f", "{cmds:?}");
    assert!(e.node_names().is_empty());

    // A retry starts clean and succeeds.
    let a = e.new_cluster(&m, false).await;
    assert_eq!(a.status, 200, "{}", a.body);
    assert_eq!(e.node_names(), ["node-m"]);
    let inits = m
        .commands()
        .iter()
        .filter(|c| c.starts_with("kubeadm init"))
        .count();
    assert_eq!(inits, 2);
    // A second run on a machine that already runs a control plane skips init.
    let a = e.new_cluster(&m, false).await;
    assert_eq!(a.status, 200, "{}", a.body);
    let (_, op) = e.operation(a.op.as_deref().unwrap()).await;
    assert_eq!(op["phases"][2]["status"], "skipped", "{op}");
    assert_eq!(op["result"]["control_plane"], "already present");
}

#[tokio::test(flavor = "multi_thread")]
async fn bad_input_and_injection_change_nothing() {
    let e = env();
    let m = e.machine("node-m", "127.0.0.2");
    let port = m.port.to_string();
    let base = |extra: &[(&'static str, &'static str)]| {
        let mut f: Vec<(&str, String)> = vec![
            ("host", "127.0.0.1".into()),
            ("port", port.clone()),
            ("user", USER.into()),
            ("psssword", PASSWORD.into()),
            ("role", "master".into()),
        ];
        for (k, v) in extra {
            f.retain(|(n, _)| n != k);
            if !v.is_empty() {
                f.push((k, v.to_string()));
            }
        }
        f
    };
    // Each refused as the document answers a failure (HTTP 200, `operate
    // failed`), the field named in `detail`.
    for (extra, field) in [
        (vec![("host", "")], "host"),
        (vec![("host", "node.example")], "host"),
        (vec![("port", "abc")], "port"),
        (vec![("port", "70000")], "port"),
        (vec![("user", "root;reboot")], "user"),
        (vec![("psssword", "")], "psssword"),
        (vec![("role", "boss")], "role"),
        (vec![("cluster_type", "nomad")], "cluster_type"),
        (
            vec![("package_source", "https://x/ $(reboot)")],
            "package_source",
        ),
        (vec![("token_ttl", "2h;reboot")], "token_ttl"),
    ] {
        let form = base(&extra);
        let form: Vec<(&str, &str)> = form.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let a = e.post("new_cluster", &form, false).await;
        let info = a.failed();
        assert!(info.contains(&format!("`{field}`")), "{extra:?}: {info}");
        assert!(!a.body.to_string().contains(PASSWORD));
    }
    // A join command that tries to inject, or does not pin the CA.
    for bad in [
        "kubeadm join 127.0.0.2:6443;reboot --token abcdef.0123456789abcdef --discovery-token-ca-cert-hash sha256:0000000000000000000000000000000000000000000000000000000000000000",
        "kubeadm join 127.0.0.2:6443 --token $(reboot) --discovery-token-ca-cert-hash sha256:0000000000000000000000000000000000000000000000000000000000000000",
        "kubeadm join 127.0.0.2:6443 --token abcdef.0123456789abcdef --discovery-token-unsafe-skip-ca-verification",
    ] {
        let a = e.new_worker(&m, bad, "").await;
        assert!(a.failed().contains("`join_command`"), "{}", a.body);
    }
    // Nothing reached the machine and no operation exists.
    assert!(m.ssh_lines().is_empty(), "{:?}", m.ssh_lines());
    assert_eq!(
        e.s.count("SELECT COUNT(*) FROM operations", vec![]).await,
        0
    );

    // A hostname that tries to inject fails preflight; nothing is installed.
    let evil = e.machine("evil;reboot", "127.0.0.5");
    let a = e.new_cluster(&evil, false).await;
    assert!(a.failed().contains("not a valid node name"), "{}", a.body);
    assert_eq!(evil.commands(), ["hostname"]);
}
