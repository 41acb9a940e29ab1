//! kubectl conformance: the machine's real `kubectl` against a simulated
//! cluster. Each test starts its own cluster, writes its kubeconfig to a temp
//! dir, runs kubectl, and asserts both what kubectl printed and what changed in
//! the cluster's store.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a test: a failed step fails it

use std::path::PathBuf;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use simcluster::{ClusterSpec, NodeSpec, SimCluster};

mod access;
mod generators;
mod limits;
mod nodes;

mod objects;
mod priority;
mod quotas;
mod rbac;
mod services;
mod storage;

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

/// Deployment `web` in `default` with `replicas` pods, rolled out; its first
/// pod and that pod's name.
fn web_rolled_out(k: &Kube, replicas: i64) -> (Value, String) {
    k.cluster
        .create(deployment("default", "web", replicas))
        .unwrap();
    k.ok(&["rollout", "status", "deployment/web", "--timeout=20s"]);
    let pod = k.cluster.list("v1", "Pod", Some("default"))[0].clone();
    let name = pod["metadata"]["name"].as_str().unwrap().to_string();
    (pod, name)
}

fn pods_on(k: &Kube, node: &str) -> Vec<Value> {
    k.cluster
        .list_selected("v1", "Pod", None, "", &format!("spec.nodeName={node}"))
        .unwrap()
}

/// Runs kubectl expecting it to fail; its stderr.
fn fails(k: &Kube, args: &[&str]) -> String {
    let out = k.run(args);
    assert!(
        !out.status.success(),
        "kubectl {args:?} should have failed: {}",
        String::from_utf8_lossy(&out.stdout)
    );
    String::from_utf8_lossy(&out.stderr).to_string()
}
