//! # simcluster: a simulated Kubernetes API server
//!
//! No real cluster can run on the machines this project is built and tested
//! on, so tests and demos talk to a **simulated cluster** instead: an
//! in-process HTTP server on `127.0.0.1` that speaks the real Kubernetes REST
//! protocol, in the spirit of KWOK. The machine's `kubectl` and the `kube`
//! crate use it unchanged.
//!
//! ```no_run
//! use simcluster::{ClusterSpec, NodeSpec, SimCluster};
//! let cluster = SimCluster::start(
//!     ClusterSpec::new("demo")
//!         .node(NodeSpec::control_plane("master-1"))
//!         .node(NodeSpec::new("worker-1").cpu("8").memory("32Gi"))
//!         .node(NodeSpec::new("gpu-1").gpus(4, "NVIDIA-A100-SXM4-80GB")),
//! ).unwrap();
//! std::fs::write("/tmp/kubeconfig", cluster.kubeconfig_yaml()).unwrap();
//! // kubectl --kubeconfig /tmp/kubeconfig get nodes
//! let nodes = cluster.list("v1", "Node", None);
//! assert_eq!(nodes.len(), 3);
//! ```
//!
//! What it serves (see the modules for details):
//! * discovery ([`resources`]) and `/version` (`gitVersion` picks the kubectl
//!   the machine's dispatcher runs);
//! * core/v1 namespaces, nodes, pods (+`eviction`, `status`, `log`), services,
//!   serviceaccounts, persistentvolumeclaims, configmaps, secrets, events,
//!   endpoints, resourcequotas (+`status`), limitranges; apps/v1 deployments, replicasets, statefulsets, daemonsets
//!   (+`scale`); batch/v1 jobs, cronjobs; policy/v1 poddisruptionbudgets;
//!   discovery.k8s.io/v1 endpointslices;
//!   rbac.authorization.k8s.io/v1 roles, rolebindings, clusterroles,
//!   clusterrolebindings, enforced ([`auth`]: the cluster's token is its
//!   administrator's, `kubectl create token` issues service accounts theirs);
//!   authorization.k8s.io/v1 selfsubjectaccessreviews and
//!   selfsubjectrulesreviews, authentication.k8s.io/v1 selfsubjectreviews
//!   (create only);
//!   metrics.k8s.io/v1beta1 node and pod metrics ([`metrics`]);
//! * get, list (label/field selectors, `limit`/`continue`), watch ([`watch`]),
//!   create, update, merge/strategic/JSON patch ([`patch`]), server-side apply
//!   with managedFields ([`apply`]), delete with propagation, deletecollection;
//!   `Status` errors ([`error`]); Table rendering for kubectl ([`table`]);
//! * controllers ([`controllers`]): workloads, scheduler, kubelet, PDBs,
//!   endpoints and endpoint slices, quotas (and the quota admission check that refuses what
//!   would exceed one; LimitRanges' defaults and bounds before it), and the
//!   Events they record (`kubectl describe`,
//!   `kubectl events`).
//!
//! Bodies are JSON, YAML, or protobuf ([`protobuf`]) for the kinds kubectl's
//! typed generators send (`kubectl create deployment|namespace|configmap|
//! secret|serviceaccount|service|job|cronjob|poddisruptionbudget|quota|role|
//! clusterrole|rolebinding|clusterrolebinding`, the token request of
//! `kubectl create token`, the reviews of `kubectl auth`); other
//! kinds in protobuf get `415`. Answers are JSON, which every client accepts.
//! Served over HTTPS with a built-in loopback certificate (client-go sends
//! credentials only over TLS); [`ClusterSpec::plain_http`] serves plain HTTP.
//! CronJobs are stored and printed but do not create Jobs. Not served, and
//! answered `404` as a cluster without them answers: `exec`, `attach`,
//! `portforward` and `ephemeralcontainers` (so `kubectl debug` says ephemeral
//! containers are disabled) and HPAs. Access reviews
//! (`kubectl auth can-i`) are answered by RBAC for the caller.
//!
//! Each cluster runs on its own small tokio runtime (its own threads), so it
//! can be started from synchronous code or from inside any async runtime, and
//! several clusters can run at once, each on its own port with its own token.

pub mod admission;
pub mod api;
pub mod apply;
pub mod auth;
pub mod controllers;
pub mod error;
pub mod metrics;
pub mod openapi;
pub mod patch;
pub mod pods;
pub mod protobuf;
/// Kubernetes quantities: the parser the host and the guest SDK use too.
pub use kubefmt::quantity;
pub mod resources;
pub mod selectors;
pub mod server;
pub mod spec;
pub mod state;
pub mod store;
pub mod table;
pub mod watch;

use std::net::SocketAddr;
use std::path::Path;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use hyper_util::rt::TokioIo;
use serde_json::Value;

/// Locks `m`. A thread that panicked while holding the lock leaves the data
/// as it was; the simulation goes on with it rather than failing every later
/// request on a poisoned lock (it runs inside the server in demo mode).
pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

pub use error::ApiError;
pub use quantity::Quantity;
pub use server::RequestRecord;
pub use spec::{
    ClusterSpec, NodeSpec, Taint, CONTROL_PLANE_LABEL, GPU_PRODUCT_LABEL, GPU_RESOURCE,
};
pub use state::{Counters, Usage};

use server::Inner;

/// A running simulated cluster. Dropping it stops the server.
pub struct SimCluster {
    inner: Arc<Inner>,
    addr: SocketAddr,
    name: String,
    tls: bool,
    runtime: Option<tokio::runtime::Runtime>,
}

/// The CA of the built-in loopback server certificate (SANs `127.0.0.1`, `localhost`).
pub const CA_PEM: &str = include_str!("../certs/ca.pem");
const SERVER_CERT_DER: &[u8] = include_bytes!("../certs/server.der");
const SERVER_KEY_DER: &[u8] = include_bytes!("../certs/server.key.der");

/// The pause between the end of one controller tick (time-based work, then
/// a reconcile) and the start of the next; the API has the state lock to
/// itself meanwhile.
const TICK_PAUSE: Duration = Duration::from_millis(200);

fn tls_acceptor() -> std::io::Result<tokio_rustls::TlsAcceptor> {
    use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
    let io = |e: rustls::Error| std::io::Error::other(e.to_string());
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut cfg = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(io)?
        .with_no_client_auth()
        .with_single_cert(
            vec![CertificateDer::from(SERVER_CERT_DER.to_vec())],
            PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(SERVER_KEY_DER.to_vec())),
        )
        .map_err(io)?;
    cfg.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(tokio_rustls::TlsAcceptor::from(Arc::new(cfg)))
}

impl std::fmt::Debug for SimCluster {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SimCluster")
            .field("name", &self.name)
            .field("addr", &self.addr)
            .finish()
    }
}

fn def_of(api_version: &str, kind: &str) -> Result<&'static resources::ResourceDef, ApiError> {
    resources::by_kind(api_version, kind)
        .ok_or_else(|| ApiError::not_found("", "kinds", &format!("{api_version}/{kind}")))
}

impl SimCluster {
    /// Starts a cluster on `127.0.0.1:0` (a free port).
    pub fn start(spec: ClusterSpec) -> std::io::Result<SimCluster> {
        Self::start_on(spec, 0)
    }

    /// Starts a cluster on `127.0.0.1:port` (0: a free port).
    pub fn start_on(spec: ClusterSpec, port: u16) -> std::io::Result<SimCluster> {
        let listener = std::net::TcpListener::bind(("127.0.0.1", port))?;
        listener.set_nonblocking(true)?;
        let addr = listener.local_addr()?;
        let token = spec
            .token
            .clone()
            .unwrap_or_else(|| format!("sim-{}", store::new_uid().replace('-', "")));
        let name = spec.name.clone();
        let use_tls = spec.tls;
        let inner = Arc::new(Inner {
            state: Mutex::new(state::State::new(spec)),
            token,
            requests: Mutex::new(Vec::new()),
            log: std::env::var("SIMCLUSTER_LOG").is_ok_and(|v| !v.is_empty() && v != "0"),
            tls: use_tls,
        });
        let tls = if use_tls { Some(tls_acceptor()?) } else { None };
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name(format!("simcluster-{name}"))
            .enable_all()
            .build()?;
        let srv = inner.clone();
        runtime.spawn(async move {
            let listener = match tokio::net::TcpListener::from_std(listener) {
                Ok(l) => l,
                Err(e) => {
                    eprintln!("simcluster: cannot listen: {e}");
                    return;
                }
            };
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    continue;
                };
                // As kube-apiserver (Go sets it on every TCP connection): a
                // response's last small segment must not wait for the
                // client's delayed ACK.
                let _ = stream.set_nodelay(true);
                let inner = srv.clone();
                let tls = tls.clone();
                tokio::spawn(async move {
                    let svc =
                        hyper::service::service_fn(move |req| server::handle(inner.clone(), req));
                    let http = hyper::server::conn::http1::Builder::new();
                    match tls {
                        Some(acceptor) => {
                            if let Ok(stream) = acceptor.accept(stream).await {
                                let _ = http.serve_connection(TokioIo::new(stream), svc).await;
                            }
                        }
                        None => {
                            let _ = http.serve_connection(TokioIo::new(stream), svc).await;
                        }
                    }
                });
            }
        });
        let ticker = inner.clone();
        // A pause between ticks, not a fixed rate: once a tick takes longer
        // than the period (a few thousand pods in a debug build), an interval
        // would fire again at once and the ticker would take the state lock
        // back before any request waiting for it, and hold the API.
        runtime.spawn(async move {
            loop {
                tokio::time::sleep(TICK_PAUSE).await;
                controllers::tick(&mut lock(&ticker.state));
            }
        });
        Ok(SimCluster {
            inner,
            addr,
            name,
            tls: use_tls,
            runtime: Some(runtime),
        })
    }

    /// `https://127.0.0.1:PORT` (`http://` with [`ClusterSpec::plain_http`]).
    pub fn url(&self) -> String {
        format!(
            "{}://{}",
            if self.tls { "https" } else { "http" },
            self.addr
        )
    }

    /// PEM of the CA that signed the server certificate (for TLS clients).
    pub fn ca_pem(&self) -> &'static str {
        CA_PEM
    }

    /// The bound address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The bearer token the server requires.
    pub fn token(&self) -> &str {
        &self.inner.token
    }

    /// The cluster's name (kubeconfig cluster/context name).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// A kubeconfig for this cluster (server URL, CA data when TLS, bearer token, namespace `default`).
    pub fn kubeconfig_yaml(&self) -> String {
        self.kubeconfig_with(&format!("{}-admin", self.name), &self.inner.token)
    }

    /// A kubeconfig like [`Self::kubeconfig_yaml`] for another user's token
    /// (one from [`Self::service_account_token`]).
    pub fn kubeconfig_with(&self, user: &str, token: &str) -> String {
        let n = &self.name;
        let ca = if self.tls {
            format!(
                "\n    certificate-authority-data: {}",
                admission::base64(CA_PEM.as_bytes())
            )
        } else {
            String::new()
        };
        format!(
            "apiVersion: v1\nkind: Config\nclusters:\n- name: {n}\n  cluster:\n    server: {url}{ca}\ncontexts:\n- name: {n}\n  context:\n    cluster: {n}\n    user: {user}\n    namespace: default\ncurrent-context: {n}\nusers:\n- name: {user}\n  user:\n    token: {token}\npreferences: {{}}\n",
            url = self.url(),
        )
    }

    /// A token for the service account `namespace/name`, as `kubectl create
    /// token` gets one (an hour long); what it may do is what the cluster's
    /// RBAC bindings grant the account ([`auth`]).
    pub fn service_account_token(&self, namespace: &str, name: &str) -> Result<String, ApiError> {
        let answer = self
            .with_state(|st| auth::tokens::request(st, namespace, name, &serde_json::json!({})))?;
        Ok(answer["status"]["token"].as_str().unwrap_or("").to_string())
    }

    /// Writes [`Self::kubeconfig_yaml`] to a file.
    pub fn write_kubeconfig(&self, path: &Path) -> std::io::Result<()> {
        std::fs::write(path, self.kubeconfig_yaml())
    }

    fn with_state<T>(&self, f: impl FnOnce(&mut state::State) -> T) -> T {
        f(&mut lock(&self.inner.state))
    }

    /// One object (`("v1", "Pod", Some("default"), "web-0")`), `None` when absent.
    pub fn get(
        &self,
        api_version: &str,
        kind: &str,
        namespace: Option<&str>,
        name: &str,
    ) -> Option<Value> {
        let def = def_of(api_version, kind).ok()?;
        self.with_state(|st| {
            api::get(st, def, namespace, name)
                .ok()
                .map(|o| (*o).clone())
        })
    }

    /// All objects of a kind, in one namespace or all (`None`), sorted by namespace and name.
    pub fn list(&self, api_version: &str, kind: &str, namespace: Option<&str>) -> Vec<Value> {
        self.list_selected(api_version, kind, namespace, "", "")
            .unwrap_or_default()
    }

    /// Objects matching a label selector and a field selector (string forms).
    pub fn list_selected(
        &self,
        api_version: &str,
        kind: &str,
        namespace: Option<&str>,
        labels: &str,
        fields: &str,
    ) -> Result<Vec<Value>, ApiError> {
        let def = def_of(api_version, kind)?;
        let ls = selectors::LabelSelector::parse(labels)?;
        let fs = selectors::FieldSelector::parse(fields)?;
        Ok(self.with_state(|st| {
            api::list(st, def, namespace, &ls, &fs)
                .into_iter()
                .map(|o| (*o).clone())
                .collect()
        }))
    }

    /// Creates an object (kind and namespace from the object), with the same
    /// validation and controllers as an API request.
    pub fn create(&self, obj: Value) -> Result<Value, ApiError> {
        let def = def_of(
            obj["apiVersion"].as_str().unwrap_or(""),
            obj["kind"].as_str().unwrap_or(""),
        )?;
        let ns = obj
            .pointer("/metadata/namespace")
            .and_then(Value::as_str)
            .map(String::from);
        self.with_state(|st| {
            api::create(
                st,
                def,
                ns.as_deref(),
                obj,
                &api::WriteOptions {
                    field_manager: Some("simcluster".into()),
                    ..Default::default()
                },
            )
        })
    }

    /// Server-side applies an object as `manager`.
    pub fn apply(&self, obj: Value, manager: &str, force: bool) -> Result<Value, ApiError> {
        let def = def_of(
            obj["apiVersion"].as_str().unwrap_or(""),
            obj["kind"].as_str().unwrap_or(""),
        )?;
        let ns = obj
            .pointer("/metadata/namespace")
            .and_then(Value::as_str)
            .map(String::from);
        let name = obj
            .pointer("/metadata/name")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string();
        let body = serde_json::to_vec(&obj).unwrap_or_default();
        let opts = api::WriteOptions {
            field_manager: Some(manager.into()),
            force,
            ..Default::default()
        };
        self.with_state(|st| {
            api::patch(
                st,
                def,
                ns.as_deref(),
                &name,
                api::PatchType::Apply,
                &body,
                None,
                &opts,
            )
        })
    }

    /// Applies a JSON merge patch.
    pub fn patch_merge(
        &self,
        api_version: &str,
        kind: &str,
        namespace: Option<&str>,
        name: &str,
        patch: &Value,
    ) -> Result<Value, ApiError> {
        let def = def_of(api_version, kind)?;
        let body = serde_json::to_vec(patch).unwrap_or_default();
        let opts = api::WriteOptions {
            field_manager: Some("simcluster".into()),
            ..Default::default()
        };
        self.with_state(|st| {
            api::patch(
                st,
                def,
                namespace,
                name,
                api::PatchType::Merge,
                &body,
                None,
                &opts,
            )
        })
    }

    /// Deletes an object (Background propagation).
    pub fn delete(
        &self,
        api_version: &str,
        kind: &str,
        namespace: Option<&str>,
        name: &str,
    ) -> Result<(), ApiError> {
        let def = def_of(api_version, kind)?;
        self.with_state(|st| {
            api::delete(st, def, namespace, name, &api::DeleteOptions::default()).map(|_| ())
        })
    }

    /// Adds a node at run time.
    pub fn add_node(&self, node: NodeSpec) -> Result<Value, ApiError> {
        self.with_state(|st| {
            let idx = st.alloc_node_index(&node.name);
            let obj = node.to_object(idx, &st.spec.git_version.clone());
            let def = &resources::NODES;
            let created = api::create(
                st,
                def,
                None,
                obj,
                &api::WriteOptions {
                    field_manager: Some("simcluster".into()),
                    ..Default::default()
                },
            )?;
            if let (Some(c), Some(m)) = (&node.usage_cpu, &node.usage_memory) {
                st.set_node_usage(&node.name, c, m);
            }
            Ok(created)
        })
    }

    /// Sets a node's usage for the metrics API (quantities: `"3500m"`, `"12Gi"`).
    pub fn set_node_usage(&self, node: &str, cpu: &str, memory: &str) {
        self.with_state(|st| st.set_node_usage(node, cpu, memory));
    }

    /// Sets a pod's usage for the metrics API (spread evenly over its containers).
    pub fn set_pod_usage(&self, namespace: &str, pod: &str, cpu: &str, memory: &str) {
        self.with_state(|st| {
            st.pod_usage.insert(
                (namespace.into(), pod.into()),
                state::parse_usage(cpu, memory),
            )
        });
    }

    /// A node's usage as the metrics API reports it.
    pub fn node_usage(&self, node: &str) -> Usage {
        self.with_state(|st| metrics::node_usage(st, node))
    }

    /// What the cluster did so far (evictions, refusals, bindings).
    pub fn counters(&self) -> Counters {
        self.with_state(|st| st.counters)
    }

    /// The requests served so far (method, path and query, status), oldest first.
    pub fn requests(&self) -> Vec<RequestRecord> {
        lock(&self.inner.requests).clone()
    }

    /// The latest resourceVersion.
    pub fn resource_version(&self) -> u64 {
        self.with_state(|st| st.store.resource_version())
    }

    /// Polls `pred` every 50ms until it holds or `timeout` passes; returns whether it held.
    pub fn wait_until(&self, timeout: Duration, mut pred: impl FnMut(&SimCluster) -> bool) -> bool {
        let end = Instant::now() + timeout;
        loop {
            if pred(self) {
                return true;
            }
            if Instant::now() >= end {
                return false;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for SimCluster {
    fn drop(&mut self) {
        if let Some(rt) = self.runtime.take() {
            rt.shutdown_background();
        }
    }
}

#[cfg(test)]
mod lock_tests {
    use super::*;

    #[test]
    fn a_poisoned_lock_still_hands_out_its_data() {
        let m = Arc::new(Mutex::new(vec![1]));
        let held = m.clone();
        let panicked = std::thread::spawn(move || {
            let mut v = held.lock().unwrap();
            v.push(2);
            panic!("a request handler failing while it holds the state");
        })
        .join();
        assert!(panicked.is_err() && m.is_poisoned());
        lock(&m).push(3);
        assert_eq!(*lock(&m), vec![1, 2, 3]);
    }
}
