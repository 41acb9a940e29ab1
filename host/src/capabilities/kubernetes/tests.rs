//! The capability's logic against an in-test [`Backend`]: what a plugin may
//! not reach never gets to the backend, a granted inline kubeconfig is
//! reached at the address its grant approved (once: the client is cached),
//! and malformed requests stop before the cluster. The real backend is
//! exercised end to end against the simulated cluster (`tests/e2e`).

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use base64::Engine;

use super::backend::{Backend, Cluster, DrainReport, NodeCapacity, Page, Selector};
use super::{wit, Host, KubeError, Kubernetes, KubernetesView, WitCluster};
use crate::capabilities::CallContext;
use crate::policy::{egress, kubeconfig, PluginGrant, Policy};
use crate::store::seal::Sealer;
use crate::store::Store;

/// What reached the backend: the addresses connected to and the calls made.
#[derive(Default)]
struct Seen {
    connects: Vec<Option<SocketAddr>>,
    calls: Vec<String>,
}

#[derive(Default, Clone)]
struct Fake(Arc<Mutex<Seen>>);

impl Fake {
    fn note(&self, call: String) {
        self.0.lock().unwrap().calls.push(call);
    }
    fn connects(&self) -> Vec<Option<SocketAddr>> {
        self.0.lock().unwrap().connects.clone()
    }
    fn calls(&self) -> Vec<String> {
        self.0.lock().unwrap().calls.clone()
    }
}

impl Backend for Fake {
    fn connect(
        &self,
        _config: &kubeconfig::Checked,
        connect_to: Option<SocketAddr>,
    ) -> Result<Arc<dyn Cluster>, KubeError> {
        self.0.lock().unwrap().connects.push(connect_to);
        Ok(Arc::new(self.clone()))
    }
}

#[async_trait]
impl Cluster for Fake {
    async fn list(&self, av: &str, kind: &str, _: Selector<'_>) -> Result<Vec<String>, KubeError> {
        self.note(format!("list {av} {kind}"));
        Ok(vec![format!(r#"{{"apiVersion":"{av}","kind":"{kind}"}}"#)])
    }
    async fn list_page(
        &self,
        _: &str,
        _: &str,
        _: Selector<'_>,
        limit: u32,
        _: Option<&str>,
    ) -> Result<Page, KubeError> {
        self.note(format!("list_page {limit}"));
        Ok(Page::default())
    }
    async fn get(
        &self,
        _: &str,
        _: &str,
        _: Option<&str>,
        name: &str,
    ) -> Result<Option<serde_json::Value>, KubeError> {
        self.note(format!("get {name}"));
        Ok(None)
    }
    async fn apply(&self, docs: &[serde_json::Value]) -> Result<Vec<serde_json::Value>, KubeError> {
        self.note(format!("apply {}", docs.len()));
        Ok(docs.to_vec())
    }
    async fn delete_documents(&self, docs: &[serde_json::Value]) -> Result<Vec<String>, KubeError> {
        self.note(format!("delete_documents {}", docs.len()));
        Ok(Vec::new())
    }
    async fn delete(&self, _: &str, _: &str, _: Option<&str>, n: &str) -> Result<bool, KubeError> {
        self.note(format!("delete {n}"));
        Ok(false)
    }
    async fn label_node(
        &self,
        node: &str,
        _: &[(String, String)],
        _: &[String],
    ) -> Result<(), KubeError> {
        self.note(format!("label {node}"));
        Ok(())
    }
    async fn cordon(&self, node: &str, _: bool) -> Result<(), KubeError> {
        self.note(format!("cordon {node}"));
        Ok(())
    }
    async fn drain(&self, node: &str, _: Duration) -> Result<DrainReport, KubeError> {
        self.note(format!("drain {node}"));
        Ok(DrainReport::default())
    }
    async fn capacity(&self) -> Result<Vec<NodeCapacity>, KubeError> {
        self.note("capacity".into());
        Ok(Vec::new())
    }
}

/// An inline kubeconfig whose API server is 127.0.0.1:6443.
fn kubeconfig() -> String {
    let ca = base64::engine::general_purpose::STANDARD.encode(simcluster::CA_PEM);
    format!(
        "apiVersion: v1\nkind: Config\nclusters:\n- name: c\n  cluster:\n    server: https://127.0.0.1:6443\n    certificate-authority-data: {ca}\ncontexts:\n- name: x\n  context:\n    cluster: c\n    user: u\ncurrent-context: x\nusers:\n- name: u\n  user:\n    token: abc\n"
    )
}

/// The capability over `fake`, plugin `pcapi` granted `kube_targets` and to
/// read `clusters`.
async fn capability(fake: &Fake, kube_targets: &[&str]) -> Kubernetes {
    let (k8s, _) = capability_with(fake, kube_targets, &["clusters"]).await;
    k8s
}

/// The capability over `fake`, plugin `pcapi` granted `kube_targets` and to
/// read `read`, and its store.
async fn capability_with(
    fake: &Fake,
    kube_targets: &[&str],
    read: &[&str],
) -> (Kubernetes, Arc<Store>) {
    let policy = Policy::default();
    let rules: Vec<String> = kube_targets.iter().map(|s| s.to_string()).collect();
    let read: Vec<String> = read.iter().map(|s| s.to_string()).collect();
    let grant = PluginGrant {
        kube_targets: egress::parse_all(&rules).unwrap(),
        storage: crate::policy::Storage::new(&read, &[], &[]).unwrap(),
        ..Default::default()
    };
    policy.set_grants([("pcapi".to_string(), grant)].into());
    let store = Arc::new(
        Store::in_memory(Sealer::from_key(&[1u8; 32]))
            .await
            .unwrap(),
    );
    let k8s =
        Kubernetes::with_backend(Arc::new(fake.clone()), Arc::clone(&store), Arc::new(policy));
    (k8s, store)
}

/// Organisation `acme`'s cluster with [`kubeconfig`] sealed, as provisioning
/// stores one; its id.
async fn stored_cluster(store: &Store) -> String {
    use crate::store::Value;
    let f = |k: &str, v: Value| (k.to_string(), v);
    let t = |s: &str| Value::Text(s.to_string());
    store.ensure_organisation("acme").await.unwrap();
    let center = store
        .insert(
            "acme",
            "compute_centers",
            &[
                f("name", t("c")),
                f("pcapi_url", t("http://pcapi")),
                f("api_user", t("u")),
                f("api_pwd", Value::Secret("p".into())),
                f("contactname", t("n")),
                f("contactphone", t("1")),
            ],
        )
        .await
        .unwrap();
    store
        .insert(
            "acme",
            "clusters",
            &[
                f("cpcid", t(&center.id)),
                f("name", t("k")),
                f("clustertype", t("0")),
                f("kubeconfig", Value::Secret(kubeconfig())),
                f("ready", Value::Integer(1)),
            ],
        )
        .await
        .unwrap()
        .id
}

#[tokio::test]
async fn a_stored_cluster_is_held_to_the_grant_like_an_inline_one() {
    let acme = ctx(Some("acme"));
    // Its server (127.0.0.1:6443) outside `kube-targets`: refused, although
    // the plugin may read clusters.
    let fake = Fake::default();
    let (k8s, store) = capability_with(&fake, &["10.0.0.0/8"], &["clusters"]).await;
    let id = stored_cluster(&store).await;
    let r = KubernetesView::new(&k8s, &acme)
        .capacity(WitCluster::Id(id.clone()))
        .await;
    assert!(
        matches!(&r, Err(wit::Error::Denied(m)) if m.contains("kube-targets")),
        "{r:?}"
    );
    assert!(fake.connects().is_empty(), "no client was built");
    // Inside `kube-targets`, but the plugin may not read clusters.
    let fake = Fake::default();
    let (k8s, store) = capability_with(&fake, &["127.0.0.0/8"], &[]).await;
    let id = stored_cluster(&store).await;
    let r = KubernetesView::new(&k8s, &acme)
        .capacity(WitCluster::Id(id))
        .await;
    assert!(
        matches!(&r, Err(wit::Error::Denied(m)) if m.contains("clusters")),
        "{r:?}"
    );
    assert!(fake.connects().is_empty(), "no client was built");
    // Both granted: reached, at the address the grant approved.
    let fake = Fake::default();
    let (k8s, store) = capability_with(&fake, &["127.0.0.0/8"], &["clusters"]).await;
    let id = stored_cluster(&store).await;
    KubernetesView::new(&k8s, &acme)
        .capacity(WitCluster::Id(id))
        .await
        .unwrap();
    assert_eq!(fake.connects(), [Some("127.0.0.1:6443".parse().unwrap())]);
    assert_eq!(fake.calls(), ["capacity"]);
}

fn ctx(organisation: Option<&str>) -> CallContext {
    CallContext {
        plugin: "pcapi".into(),
        request_id: "req-1".into(),
        organisation: organisation.map(str::to_string),
        operation: None,
    }
}

fn everything() -> wit::Selector {
    wit::Selector {
        namespace: None,
        label_selector: None,
        field_selector: None,
    }
}

#[tokio::test]
async fn denied_targets_never_reach_the_backend() {
    let fake = Fake::default();
    let inline = WitCluster::Kubeconfig(kubeconfig());
    // No `kube-targets` at all, and a grant that does not cover the server.
    for targets in [&[][..], &["10.0.0.0/8"][..]] {
        let k8s = capability(&fake, targets).await;
        let ctx = ctx(Some("acme"));
        let mut view = KubernetesView::new(&k8s, &ctx);
        let r = view
            .list(inline.clone(), "v1".into(), "Pod".into(), everything())
            .await;
        assert!(matches!(r, Err(wit::Error::Denied(_))), "{targets:?}");
    }
    let k8s = capability(&fake, &["127.0.0.0/8"]).await;
    // A cluster id needs an organisation, and the organisation's cluster.
    let anonymous = ctx(None);
    let r = KubernetesView::new(&k8s, &anonymous)
        .capacity(WitCluster::Id("c1".into()))
        .await;
    assert!(matches!(r, Err(wit::Error::Denied(_))));
    let acme = ctx(Some("acme"));
    let r = KubernetesView::new(&k8s, &acme)
        .capacity(WitCluster::Id("c1".into()))
        .await;
    assert!(matches!(r, Err(wit::Error::NotFound(_))));
    // Another plugin's grant is not this one's.
    let other = CallContext {
        plugin: "kboss".into(),
        ..ctx(Some("acme"))
    };
    let r = KubernetesView::new(&k8s, &other)
        .cordon(inline, "n1".into(), true)
        .await;
    assert!(matches!(r, Err(wit::Error::Denied(_))));
    assert!(fake.connects().is_empty(), "no client was built");
    assert!(fake.calls().is_empty(), "nothing reached a cluster");
}

#[tokio::test]
async fn a_granted_target_is_reached_once_at_the_approved_address() {
    let fake = Fake::default();
    let k8s = capability(&fake, &["127.0.0.0/8"]).await;
    let ctx = ctx(Some("acme"));
    let mut view = KubernetesView::new(&k8s, &ctx);
    let inline = || WitCluster::Kubeconfig(kubeconfig());
    let items = view
        .list(inline(), "v1".into(), "Pod".into(), everything())
        .await
        .unwrap();
    assert_eq!(items, [r#"{"apiVersion":"v1","kind":"Pod"}"#]);
    // Malformed requests stop before the cluster.
    let r = view
        .list_page(inline(), "v1".into(), "Pod".into(), everything(), 0, None)
        .await;
    assert!(matches!(r, Err(wit::Error::Invalid(_))));
    let r = view.apply(inline(), "kind: Pod\n".into()).await;
    assert!(matches!(r, Err(wit::Error::Invalid(m)) if m.contains("apiVersion")));
    let r = view.delete_manifests(inline(), "".into()).await;
    assert!(matches!(r, Err(wit::Error::Invalid(_))));
    let manifest = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\n---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: b}\n";
    let applied = view.apply(inline(), manifest.into()).await.unwrap();
    assert_eq!(applied.len(), 2);
    let report = view.drain(inline(), "n1".into(), 1_000).await.unwrap();
    assert!(report.evicted.is_empty());
    assert_eq!(
        fake.connects(),
        [Some("127.0.0.1:6443".parse().unwrap())],
        "one client, connected to the address the grant approved"
    );
    assert_eq!(fake.calls(), ["list v1 Pod", "apply 2", "drain n1"]);
}

#[tokio::test]
async fn a_narrowed_grant_applies_to_a_cached_client_at_once() {
    let fake = Fake::default();
    let grant = |rule: &str| PluginGrant {
        kube_targets: egress::parse_all(&[rule.to_string()]).unwrap(),
        ..Default::default()
    };
    let policy = Arc::new(Policy::default());
    policy.set_grants([("pcapi".to_string(), grant("127.0.0.0/8"))].into());
    let store = Store::in_memory(Sealer::from_key(&[1u8; 32]))
        .await
        .unwrap();
    let k8s =
        Kubernetes::with_backend(Arc::new(fake.clone()), Arc::new(store), Arc::clone(&policy));
    let ctx = ctx(Some("acme"));
    let inline = || WitCluster::Kubeconfig(kubeconfig());
    KubernetesView::new(&k8s, &ctx)
        .list(inline(), "v1".into(), "Pod".into(), everything())
        .await
        .unwrap();
    // The operator narrows the grant (the admin API does this live).
    policy.set_grants([("pcapi".to_string(), grant("10.0.0.0/8"))].into());
    let r = KubernetesView::new(&k8s, &ctx)
        .list(inline(), "v1".into(), "Pod".into(), everything())
        .await;
    assert!(matches!(r, Err(wit::Error::Denied(_))), "{r:?}");
    assert_eq!(
        fake.calls(),
        ["list v1 Pod"],
        "the second call reached nothing"
    );
}
