//! What a cluster starts with: [`ClusterSpec`] and the [`NodeSpec`] builder.
//!
//! ```
//! use simcluster::{ClusterSpec, NodeSpec};
//! let spec = ClusterSpec::new("demo")
//!     .node(NodeSpec::control_plane("master-1"))
//!     .node(NodeSpec::new("worker-1").cpu("8").memory("32Gi"))
//!     .node(NodeSpec::new("gpu-1").cpu("32").memory("256Gi").gpus(4, "NVIDIA-A100-SXM4-80GB").usage("12", "100Gi"));
//! assert_eq!(spec.nodes.len(), 3);
//! ```

use std::collections::BTreeMap;
use std::time::Duration;

use serde_json::{json, Map, Value};

/// The label carrying a node's GPU model (as NVIDIA's GPU feature discovery sets it).
pub const GPU_PRODUCT_LABEL: &str = "nvidia.com/gpu.product";
/// The extended resource name of NVIDIA GPUs.
pub const GPU_RESOURCE: &str = "nvidia.com/gpu";
/// The role label of control-plane nodes.
pub const CONTROL_PLANE_LABEL: &str = "node-role.kubernetes.io/control-plane";

/// A whole cluster's starting state and behaviour.
#[derive(Debug, Clone)]
pub struct ClusterSpec {
    /// Cluster, context and user name in the kubeconfig.
    pub name: String,
    /// `gitVersion` served by `/version` and shown as node VERSION (`v1.32.4`).
    pub git_version: String,
    /// Bearer token the server requires; random when `None`.
    pub token: Option<String>,
    /// Nodes present at start.
    pub nodes: Vec<NodeSpec>,
    /// How long a deleted namespace stays `Terminating` before its content is removed.
    pub namespace_finalize_delay: Duration,
    /// How long a Job's pod runs before it succeeds (`None`: runs forever).
    pub job_pod_duration: Option<Duration>,
    /// Serve HTTPS (default). kubectl (client-go) sends credentials only over
    /// TLS; with plain HTTP the server accepts requests without a token (as the
    /// old insecure port did) and still rejects a wrong one.
    pub tls: bool,
}

impl Default for ClusterSpec {
    fn default() -> Self {
        ClusterSpec::new("simcluster")
    }
}

impl ClusterSpec {
    /// An empty cluster (no nodes) named `name`, serving `v1.32.4`.
    pub fn new(name: &str) -> Self {
        ClusterSpec {
            name: name.to_string(),
            git_version: "v1.32.4".to_string(),
            token: None,
            nodes: Vec::new(),
            namespace_finalize_delay: Duration::from_millis(1500),
            job_pod_duration: Some(Duration::from_secs(2)),
            tls: true,
        }
    }

    /// Adds a node.
    pub fn node(mut self, node: NodeSpec) -> Self {
        self.nodes.push(node);
        self
    }

    /// Sets the served Kubernetes version (`v1.27.0` .. `v1.33.x` suit this machine's kubectl).
    pub fn git_version(mut self, v: &str) -> Self {
        self.git_version = v.to_string();
        self
    }

    /// Serves plain HTTP instead of HTTPS (see [`ClusterSpec::tls`]).
    pub fn plain_http(mut self) -> Self {
        self.tls = false;
        self
    }

    /// Uses a fixed bearer token.
    pub fn token(mut self, t: &str) -> Self {
        self.token = Some(t.to_string());
        self
    }

    /// A master and `workers` workers (`worker-1`..), the last one with `gpus` GPUs of `gpu_model`.
    pub fn demo(name: &str, workers: usize, gpus: u32, gpu_model: &str) -> Self {
        let mut spec = ClusterSpec::new(name).node(NodeSpec::control_plane("master-1"));
        for i in 1..=workers {
            let mut n = NodeSpec::new(&format!("worker-{i}"))
                .cpu("16")
                .memory("64Gi");
            if i == workers && gpus > 0 {
                n = n.cpu("64").memory("512Gi").gpus(gpus, gpu_model);
            }
            spec = spec.node(n);
        }
        spec
    }
}

/// One node taint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Taint {
    /// Key.
    pub key: String,
    /// Value (may be empty).
    pub value: String,
    /// `NoSchedule`, `PreferNoSchedule` or `NoExecute`.
    pub effect: String,
}

/// A node to create at start: capacity, labels, taints, role and simulated usage.
#[derive(Debug, Clone)]
pub struct NodeSpec {
    /// Node name.
    pub name: String,
    /// Allocatable CPU (`4`, `3500m`).
    pub cpu: String,
    /// Allocatable memory (`16Gi`).
    pub memory: String,
    /// `nvidia.com/gpu` count.
    pub gpus: u32,
    /// Other extended resources (`huawei.com/ascend-310` -> count).
    pub extended: BTreeMap<String, u32>,
    /// Max pods.
    pub pods: u32,
    /// Labels beyond the standard ones.
    pub labels: BTreeMap<String, String>,
    /// Taints.
    pub taints: Vec<Taint>,
    /// `spec.unschedulable` (cordoned).
    pub unschedulable: bool,
    /// Simulated CPU usage for the metrics API (`None`: derived from pods).
    pub usage_cpu: Option<String>,
    /// Simulated memory usage for the metrics API (`None`: derived from pods).
    pub usage_memory: Option<String>,
    /// Age of the node at start.
    pub age: Duration,
    /// InternalIP (`None`: `172.18.0.<n>`, never contacted).
    pub internal_ip: Option<String>,
    /// Ready condition.
    pub ready: bool,
}

impl NodeSpec {
    /// A worker with 4 CPU, 16Gi memory, 110 pods, no GPU.
    pub fn new(name: &str) -> Self {
        NodeSpec {
            name: name.to_string(),
            cpu: "4".into(),
            memory: "16Gi".into(),
            gpus: 0,
            extended: BTreeMap::new(),
            pods: 110,
            labels: BTreeMap::new(),
            taints: Vec::new(),
            unschedulable: false,
            usage_cpu: None,
            usage_memory: None,
            age: Duration::from_secs(5 * 86400 + 18 * 3600),
            internal_ip: None,
            ready: true,
        }
    }

    /// A control-plane node: role label and the `NoSchedule` control-plane taint.
    pub fn control_plane(name: &str) -> Self {
        NodeSpec::new(name).label(CONTROL_PLANE_LABEL, "").taint(
            CONTROL_PLANE_LABEL,
            "",
            "NoSchedule",
        )
    }

    /// Sets allocatable CPU.
    pub fn cpu(mut self, q: &str) -> Self {
        self.cpu = q.to_string();
        self
    }

    /// Sets allocatable memory.
    pub fn memory(mut self, q: &str) -> Self {
        self.memory = q.to_string();
        self
    }

    /// Sets the GPU count and model (label `nvidia.com/gpu.product`).
    pub fn gpus(mut self, count: u32, product: &str) -> Self {
        self.gpus = count;
        self.labels
            .insert(GPU_PRODUCT_LABEL.into(), product.to_string());
        self.labels
            .insert("nvidia.com/gpu.count".into(), count.to_string());
        self.labels
            .insert("nvidia.com/gpu.present".into(), "true".into());
        self
    }

    /// Adds `count` of an extended resource (`huawei.com/ascend-310`) to
    /// the node's capacity.
    pub fn extended(mut self, resource: &str, count: u32) -> Self {
        self.extended.insert(resource.to_string(), count);
        self
    }

    /// Sets max pods.
    pub fn pods(mut self, n: u32) -> Self {
        self.pods = n;
        self
    }

    /// Adds a label.
    pub fn label(mut self, k: &str, v: &str) -> Self {
        self.labels.insert(k.to_string(), v.to_string());
        self
    }

    /// Adds a role (`node-role.kubernetes.io/<role>` label).
    pub fn role(self, role: &str) -> Self {
        self.label(&format!("node-role.kubernetes.io/{role}"), "")
    }

    /// Adds a taint.
    pub fn taint(mut self, key: &str, value: &str, effect: &str) -> Self {
        self.taints.push(Taint {
            key: key.into(),
            value: value.into(),
            effect: effect.into(),
        });
        self
    }

    /// Starts cordoned.
    pub fn unschedulable(mut self, yes: bool) -> Self {
        self.unschedulable = yes;
        self
    }

    /// Sets simulated usage reported by the metrics API.
    pub fn usage(mut self, cpu: &str, memory: &str) -> Self {
        self.usage_cpu = Some(cpu.to_string());
        self.usage_memory = Some(memory.to_string());
        self
    }

    /// Sets the node's age at start.
    pub fn age(mut self, age: Duration) -> Self {
        self.age = age;
        self
    }

    /// Sets the InternalIP address.
    pub fn internal_ip(mut self, ip: &str) -> Self {
        self.internal_ip = Some(ip.to_string());
        self
    }

    /// Marks the node NotReady.
    pub fn not_ready(mut self) -> Self {
        self.ready = false;
        self
    }

    /// The Node object (index picks podCIDR and default address).
    pub(crate) fn to_object(&self, index: u32, git_version: &str) -> Value {
        let created = chrono::Utc::now() - chrono::Duration::from_std(self.age).unwrap_or_default();
        let created = created.format("%Y-%m-%dT%H:%M:%SZ").to_string();
        let mut labels = Map::new();
        labels.insert("kubernetes.io/hostname".into(), json!(self.name));
        labels.insert("kubernetes.io/os".into(), json!("linux"));
        labels.insert("kubernetes.io/arch".into(), json!("amd64"));
        labels.insert("beta.kubernetes.io/os".into(), json!("linux"));
        labels.insert("beta.kubernetes.io/arch".into(), json!("amd64"));
        for (k, v) in &self.labels {
            labels.insert(k.clone(), json!(v));
        }
        let mut capacity = json!({
            "cpu": self.cpu, "memory": self.memory, "pods": self.pods.to_string(),
            "ephemeral-storage": "100Gi", "hugepages-1Gi": "0", "hugepages-2Mi": "0"
        });
        if self.gpus > 0 {
            capacity["nvidia.com/gpu"] = json!(self.gpus.to_string());
        }
        for (name, count) in &self.extended {
            capacity[name.as_str()] = json!(count.to_string());
        }
        let taints: Vec<Value> = self
            .taints
            .iter()
            .map(|t| {
                let mut v = json!({"key": t.key, "effect": t.effect});
                if !t.value.is_empty() {
                    v["value"] = json!(t.value);
                }
                v
            })
            .collect();
        let ip = self
            .internal_ip
            .clone()
            .unwrap_or_else(|| format!("172.18.0.{}", index + 2));
        let mut node = json!({
            "apiVersion": "v1",
            "kind": "Node",
            "metadata": {
                "name": self.name,
                "labels": labels,
                "annotations": {"node.alpha.kubernetes.io/ttl": "0", "simcluster.io/simulated": "true"},
                "creationTimestamp": created,
            },
            "spec": {"podCIDR": format!("10.244.{index}.0/24"), "podCIDRs": [format!("10.244.{index}.0/24")]},
            "status": {
                "capacity": capacity.clone(),
                "allocatable": capacity,
                "addresses": [{"type": "InternalIP", "address": ip}, {"type": "Hostname", "address": self.name}],
            }
        });
        if !taints.is_empty() {
            node["spec"]["taints"] = json!(taints);
        }
        if self.unschedulable {
            node["spec"]["unschedulable"] = json!(true);
        }
        fill_node_status(&mut node, git_version, &created, self.ready);
        node
    }
}

/// Fills the parts of a node's status a kubelet would report, where missing.
pub(crate) fn fill_node_status(node: &mut Value, git_version: &str, since: &str, ready: bool) {
    if !node["status"].is_object() {
        node["status"] = json!({});
    }
    let st = &mut node["status"];
    if !st["capacity"].is_object() {
        st["capacity"] = st
            .get("allocatable")
            .cloned()
            .unwrap_or(json!({"cpu": "4", "memory": "16Gi", "pods": "110"}));
    }
    if !st["allocatable"].is_object() {
        st["allocatable"] = st["capacity"].clone();
    }
    if !st["conditions"].is_array() {
        let c = |t: &str, s: &str, reason: &str, msg: &str| json!({"type": t, "status": s, "reason": reason, "message": msg, "lastHeartbeatTime": since, "lastTransitionTime": since});
        st["conditions"] = json!([
            c(
                "MemoryPressure",
                "False",
                "KubeletHasSufficientMemory",
                "kubelet has sufficient memory available"
            ),
            c(
                "DiskPressure",
                "False",
                "KubeletHasNoDiskPressure",
                "kubelet has no disk pressure"
            ),
            c(
                "PIDPressure",
                "False",
                "KubeletHasSufficientPID",
                "kubelet has sufficient PID available"
            ),
            if ready {
                c(
                    "Ready",
                    "True",
                    "KubeletReady",
                    "kubelet is posting ready status",
                )
            } else {
                c(
                    "Ready",
                    "False",
                    "KubeletNotReady",
                    "container runtime network not ready",
                )
            },
        ]);
    }
    if !st["nodeInfo"].is_object() {
        st["nodeInfo"] = json!({
            "kubeletVersion": git_version, "kubeProxyVersion": git_version,
            "osImage": "Ubuntu 22.04.4 LTS", "kernelVersion": "5.15.0-105-generic",
            "containerRuntimeVersion": "containerd://1.7.13", "operatingSystem": "linux", "architecture": "amd64",
            "machineID": "", "systemUUID": "", "bootID": ""
        });
    }
    if !st["daemonEndpoints"].is_object() {
        st["daemonEndpoints"] = json!({"kubeletEndpoint": {"Port": 10250}});
    }
}
