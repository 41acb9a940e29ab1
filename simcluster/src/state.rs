//! The mutable heart of one cluster: the object store plus the simulation's own
//! bookkeeping (IP and port allocators, simulated usage, eviction counters).
//! Everything is behind one mutex in [`crate::SimCluster`]; each API request
//! takes it once, performs its write and runs the controllers to a fixed point
//! before releasing it, so a client never observes a half-reconciled state.

use std::collections::{BTreeMap, BTreeSet, HashMap, VecDeque};
use std::time::Instant;

use serde_json::json;

use crate::resources;
use crate::spec::ClusterSpec;
use crate::store::Store;

/// Simulated usage (milli-CPU, bytes).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Usage {
    /// CPU in millicores.
    pub cpu_milli: i128,
    /// Memory in bytes.
    pub memory_bytes: i128,
}

/// Counters a test can read to know what the cluster did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counters {
    /// Evictions refused with 429 because of a PodDisruptionBudget.
    pub evictions_refused: u64,
    /// Evictions carried out.
    pub evictions: u64,
    /// Pods the scheduler bound.
    pub scheduled: u64,
}

/// One cluster's complete state.
pub struct State {
    /// All objects.
    pub store: Store,
    /// What the cluster was started with.
    pub spec: ClusterSpec,
    /// Node usage overrides for the metrics API.
    pub node_usage: HashMap<String, Usage>,
    /// Pod usage overrides for the metrics API, by (namespace, name).
    pub pod_usage: HashMap<(String, String), Usage>,
    /// Next pod IP host part per node.
    pub pod_ip_next: HashMap<String, u32>,
    /// Next service ClusterIP (host part in 10.96.0.0/12).
    pub cluster_ip_next: u32,
    /// NodePorts in use.
    pub node_ports: BTreeSet<u16>,
    /// Number of nodes ever created (node index for podCIDR).
    pub node_index_next: u32,
    /// Node podCIDR index by node name.
    pub node_index: BTreeMap<String, u32>,
    /// Counters.
    pub counters: Counters,
    /// When each Job pod started running (for simulated completion).
    pub job_pod_started: HashMap<(String, String), Instant>,
    /// resourceVersion at which each controller last ran (skip when its inputs did not change).
    pub seen: HashMap<&'static str, u64>,
    /// Unschedulable pods and the resourceVersion they were last tried at.
    pub sched_tried: HashMap<(String, String), u64>,
    /// Pods the workload controllers may still create in this reconcile
    /// (see `controllers::workloads::BURST`).
    pub pods_to_create: usize,
    /// When each Terminating namespace was first seen.
    pub ns_deleting: HashMap<String, Instant>,
    /// Events the controllers recorded, oldest first, each with its
    /// (object uid, reason, message) ([`crate::controllers::events`]).
    pub event_order: VecDeque<(EventKey, (String, String))>,
    /// The event (namespace, name) each (object uid, reason, message) was
    /// last recorded as.
    pub event_index: HashMap<EventKey, (String, String)>,
    /// Events the controllers may still write in this pass
    /// (`controllers::events::BURST`).
    pub events_to_record: usize,
    /// Service-account tokens issued ([`crate::auth::tokens`]).
    pub tokens: crate::auth::Tokens,
}

/// An event's object uid, reason and message.
pub type EventKey = (String, String, String);

impl State {
    /// A fresh cluster: system namespaces and the spec's nodes.
    pub fn new(spec: ClusterSpec) -> Self {
        let mut st = State {
            store: Store::new(),
            spec: spec.clone(),
            node_usage: HashMap::new(),
            pod_usage: HashMap::new(),
            pod_ip_next: HashMap::new(),
            cluster_ip_next: 10,
            node_ports: BTreeSet::new(),
            node_index_next: 0,
            node_index: BTreeMap::new(),
            counters: Counters::default(),
            job_pod_started: HashMap::new(),
            ns_deleting: HashMap::new(),
            seen: HashMap::new(),
            sched_tried: HashMap::new(),
            pods_to_create: 0,
            event_order: VecDeque::new(),
            event_index: HashMap::new(),
            events_to_record: 0,
            tokens: crate::auth::Tokens::default(),
        };
        // What the cluster starts with is as old as its oldest node.
        let age = spec.nodes.iter().map(|n| n.age).max().unwrap_or_default();
        let born = chrono::Utc::now() - chrono::Duration::from_std(age).unwrap_or_default();
        st.store.born = Some(born.format("%Y-%m-%dT%H:%M:%SZ").to_string());
        let ns_def = &resources::NAMESPACES;
        for ns in ["default", "kube-system", "kube-public", "kube-node-lease"] {
            let obj = crate::admission::namespace_defaults(json!({"metadata": {"name": ns}}));
            st.store.insert(ns_def, obj);
        }
        if let Some(def) = resources::by_key(crate::admission::priority::KEY) {
            for pc in crate::admission::priority::system_classes() {
                st.store.insert(def, pc);
            }
        }
        if let Some(def) = resources::by_key(crate::admission::storage::KEY) {
            st.store.insert(def, crate::admission::storage::standard());
        }
        let node_def = &resources::NODES;
        for n in &spec.nodes {
            let idx = st.alloc_node_index(&n.name);
            st.store
                .insert(node_def, n.to_object(idx, &spec.git_version));
            if let (Some(c), Some(m)) = (&n.usage_cpu, &n.usage_memory) {
                st.set_node_usage(&n.name, c, m);
            }
        }
        let svc_def = &resources::SERVICES;
        let kubernetes = json!({
            "metadata": {"name": "kubernetes", "namespace": "default", "labels": {"component": "apiserver", "provider": "kubernetes"}},
            "spec": {"type": "ClusterIP", "clusterIP": "10.96.0.1", "clusterIPs": ["10.96.0.1"],
                     "ports": [{"name": "https", "port": 443, "protocol": "TCP", "targetPort": 6443}], "sessionAffinity": "None"}
        });
        st.store.insert(svc_def, kubernetes);
        st.apiserver_endpoints();
        crate::auth::bootstrap::install(&mut st);
        crate::controllers::reconcile(&mut st);
        st.store.born = None;
        st
    }

    /// What kube-apiserver keeps for its own Service: the `kubernetes`
    /// Endpoints (the first control plane's address, port 6443, marked
    /// `skip-mirror` as its reconciler marks it) and the EndpointSlice of
    /// the same name, which the slice controller then keeps.
    fn apiserver_endpoints(&mut self) {
        let ip = self
            .store
            .list("nodes", None)
            .find(|n| n["metadata"]["labels"][crate::spec::CONTROL_PLANE_LABEL].is_string())
            .and_then(|n| kubefmt::kubectl::node_address(n, "InternalIP").map(str::to_string))
            .unwrap_or_else(|| "127.0.0.1".to_string());
        let labels = json!({"endpointslice.kubernetes.io/skip-mirror": "true"});
        let endpoints = json!({
            "metadata": {"name": "kubernetes", "namespace": "default", "labels": labels},
            "subsets": [{"addresses": [{"ip": ip}],
                         "ports": [{"name": "https", "port": 6443, "protocol": "TCP"}]}]
        });
        if let Some(def) = resources::by_key("endpoints") {
            self.store.insert(def, endpoints);
        }
        let slice = json!({
            "apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
            "metadata": {"name": "kubernetes", "namespace": "default", "labels": {
                "kubernetes.io/service-name": "kubernetes",
                "endpointslice.kubernetes.io/managed-by": "endpointslice-controller.k8s.io"}},
            "addressType": "IPv4", "endpoints": null, "ports": null
        });
        if let Some(def) = resources::by_key("endpointslices.discovery.k8s.io") {
            self.store.insert(def, slice);
        }
    }

    /// podCIDR index for a node (stable per name).
    pub fn alloc_node_index(&mut self, name: &str) -> u32 {
        if let Some(i) = self.node_index.get(name) {
            return *i;
        }
        let i = self.node_index_next;
        self.node_index_next += 1;
        self.node_index.insert(name.to_string(), i);
        i
    }

    /// True when any of `keys` changed since controller `who` last asked (and records this run).
    pub fn inputs_changed(&mut self, who: &'static str, keys: &[&str]) -> bool {
        let last = self.seen.get(who).copied();
        let now = self.store.resource_version();
        self.seen.insert(who, now);
        last.is_none_or(|rv| self.store.changed_since(keys, rv))
    }

    /// Sets a node's simulated usage from quantity strings; bad strings count 0.
    pub fn set_node_usage(&mut self, node: &str, cpu: &str, memory: &str) {
        self.node_usage
            .insert(node.to_string(), parse_usage(cpu, memory));
    }
}

/// Parses (cpu, memory) quantity strings into a [`Usage`].
pub fn parse_usage(cpu: &str, memory: &str) -> Usage {
    let q = |s: &str| crate::quantity::Quantity::parse(s).ok();
    Usage {
        cpu_milli: q(cpu).map(|q| q.milli_value()).unwrap_or(0),
        memory_bytes: q(memory).map(|q| q.value()).unwrap_or(0),
    }
}
