//! `computehub clusters import`: the operator command that registers a
//! cluster (kubeconfig sealed) for an organisation, used by the areas'
//! tests to reach a simulated cluster by id, and tested here itself.

use simcluster::{ClusterSpec, NodeSpec, SimCluster};

use crate::common::*;

/// `clusters import` output: its lines (the id is the last).
pub fn import_output(s: &Server, args: &[&str], kubeconfig: &str) -> std::process::Output {
    let file = s.dir.path().join(format!(
        "kubeconfig-{}.yaml",
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos()
    ));
    std::fs::write(&file, kubeconfig).unwrap();
    let out = s
        .command()
        .args(["clusters", "import", "--data-dir"])
        .arg(s.data())
        .arg("--kubeconfig")
        .arg(&file)
        .args(args)
        .output()
        .unwrap();
    let _ = std::fs::remove_file(&file);
    out
}

impl Server {
    /// Register `sim` as cluster `name` of `org`; answers the cluster's id.
    pub fn import_cluster(&self, org: &str, name: &str, sim: &SimCluster) -> String {
        self.import_cluster_with(org, name, &sim.kubeconfig_yaml(), &[])
    }

    /// Register a kubeconfig with extra arguments (`--ief-project P`).
    pub fn import_cluster_with(
        &self,
        org: &str,
        name: &str,
        kubeconfig: &str,
        extra: &[&str],
    ) -> String {
        let mut args = vec!["--org", org, "--name", name];
        args.extend_from_slice(extra);
        let out = import_output(self, &args, kubeconfig);
        assert!(
            out.status.success(),
            "clusters import failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let stdout = String::from_utf8(out.stdout).unwrap();
        stdout.lines().last().unwrap().trim().to_string()
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn import_registers_a_sealed_kubeconfig_once() {
    let sim = SimCluster::start(ClusterSpec::new("imp").node(NodeSpec::new("n1"))).unwrap();
    let s = Server::start();
    let id = s.import_cluster("acme", "k8s-01", &sim);
    assert_eq!(id.len(), 21, "{id}");
    // Again: the same record, updated.
    assert_eq!(s.import_cluster("acme", "k8s-01", &sim), id);
    let store = s.store().await;
    let row = store.get("acme", "clusters", &id).await.unwrap().unwrap();
    let get = |n: &str| row.fields.iter().find(|(k, _)| k == n).unwrap().1.clone();
    assert_eq!(get("name"), computehub::store::Value::Text("k8s-01".into()));
    assert_eq!(get("kubeconfig"), computehub::store::Value::Redacted);
    assert_eq!(
        store
            .reveal("acme", "clusters", &id, "kubeconfig")
            .await
            .unwrap(),
        Some(sim.kubeconfig_yaml())
    );
    // Another organisation does not see it.
    assert!(store.get("other", "clusters", &id).await.unwrap().is_none());
    // The kubeconfig's token never reaches the server's log.
    assert!(!s.log_text().contains(sim.token()));
}

#[tokio::test(flavor = "multi_thread")]
async fn import_refuses_what_is_not_a_kubeconfig() {
    let s = Server::start();
    for bad in ["", "not: [yaml", "apiVersion: v1\nkind: Config\n"] {
        let out = import_output(&s, &["--org", "acme", "--name", "x"], bad);
        assert!(!out.status.success(), "{bad:?} was accepted");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains("kubeconfig"), "{err}");
    }
    let page = s
        .store()
        .await
        .query("acme", "clusters", &Default::default())
        .await
        .unwrap();
    assert_eq!(page.total, 0);
}
