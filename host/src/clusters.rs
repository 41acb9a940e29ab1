//! Operator commands over the `clusters` collection: `computehub clusters
//! import` registers an existing Kubernetes cluster (its kubeconfig sealed
//! like every secret) for an organisation, so the areas that name clusters
//! by id (Alaya, IEF, ...) can reach it; `--ief-project` also maps a Huawei
//! IEF project id to that cluster.
//!
//! A cluster record belongs to a compute center; an import names one by
//! name and creates it when the organisation has none of that name (with
//! the operator as contact and no pcapi address). Importing a name again
//! replaces that cluster's kubeconfig, so the command is idempotent.

use crate::store::{Comparison, Condition, Query, Row, Store, StoreError, Value};

/// Why an import was refused.
#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    #[error("the kubeconfig is not usable: {0}")]
    Kubeconfig(String),
    #[error("{0}")]
    Invalid(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// What an import did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Imported {
    /// The cluster's record id (what plugins name it by).
    pub id: String,
    /// False when an existing cluster of that name was updated.
    pub created: bool,
    /// The compute center's record id.
    pub center_id: String,
}

fn text(s: &str) -> Value {
    Value::Text(s.to_string())
}

fn fields(pairs: Vec<(&str, Value)>) -> Vec<(String, Value)> {
    pairs.into_iter().map(|(k, v)| (k.to_string(), v)).collect()
}

async fn find_one(
    store: &Store,
    org: &str,
    collection: &str,
    conds: &[(&str, &str)],
) -> Result<Option<Row>, StoreError> {
    let q = Query {
        conditions: conds
            .iter()
            .map(|(f, v)| Condition {
                field: f.to_string(),
                op: Comparison::Eq,
                value: text(v),
            })
            .collect(),
        limit: Some(1),
        ..Default::default()
    };
    Ok(store
        .query(org, collection, &q)
        .await?
        .rows
        .into_iter()
        .next())
}

/// Check `yaml` by the one kubeconfig policy (`policy::kubeconfig`): a
/// kubeconfig that could run a program or read a file is refused here too.
pub fn check_kubeconfig(yaml: &str) -> Result<(), ImportError> {
    crate::policy::kubeconfig::check(yaml)
        .map(|_| ())
        .map_err(|e| ImportError::Kubeconfig(e.0))
}

/// The compute center named `name` of `org`, created when missing.
async fn center(store: &Store, org: &str, name: &str) -> Result<String, ImportError> {
    if let Some(row) = find_one(store, org, "compute_centers", &[("name", name)]).await? {
        return Ok(row.id);
    }
    let row = store
        .insert(
            org,
            "compute_centers",
            &fields(vec![
                ("name", text(name)),
                ("pcapi_url", text("")),
                ("api_user", text("")),
                ("api_pwd", Value::Secret(String::new())),
                ("contactname", text("operator")),
                ("contactphone", text("")),
            ]),
        )
        .await?;
    Ok(row.id)
}

/// Register (or update) cluster `name` of `org` with `kubeconfig`, under the
/// compute center named `center_name`.
pub async fn import(
    store: &Store,
    org: &str,
    name: &str,
    kubeconfig: &str,
    center_name: &str,
) -> Result<Imported, ImportError> {
    if name.trim().is_empty() || name.len() > 128 {
        return Err(ImportError::Invalid(
            "the cluster name must be 1-128 characters".into(),
        ));
    }
    if center_name.trim().is_empty() {
        return Err(ImportError::Invalid("the center name is empty".into()));
    }
    check_kubeconfig(kubeconfig)?;
    store.ensure_organisation(org).await?;
    let center_id = center(store, org, center_name).await?;
    let secret = Value::Secret(kubeconfig.to_string());
    if let Some(row) = find_one(
        store,
        org,
        "clusters",
        &[("cpcid", &center_id), ("name", name)],
    )
    .await?
    {
        store
            .update(
                org,
                "clusters",
                &row.id,
                &fields(vec![("kubeconfig", secret), ("ready", Value::Integer(1))]),
            )
            .await?;
        return Ok(Imported {
            id: row.id,
            created: false,
            center_id,
        });
    }
    let row = store
        .insert(
            org,
            "clusters",
            &fields(vec![
                ("cpcid", text(&center_id)),
                ("name", text(name)),
                // kboss: 0 is kubernetes, 1 slurm.
                ("clustertype", text("0")),
                ("kubeconfig", secret),
                ("ready", Value::Integer(1)),
            ]),
        )
        .await?;
    Ok(Imported {
        id: row.id,
        created: true,
        center_id,
    })
}

/// The namespace an IEF project's deployments run in: `ief-<project>`,
/// lower-cased, as a DNS label.
pub fn ief_namespace(project: &str) -> String {
    let mut ns: String = format!("ief-{}", project.to_ascii_lowercase())
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
        .take(63)
        .collect();
    while ns.ends_with('-') {
        ns.pop();
    }
    ns
}

/// Map IEF `project` of `org` to `cluster_id` (replacing an earlier mapping).
/// Answers the project's namespace.
pub async fn map_ief_project(
    store: &Store,
    org: &str,
    project: &str,
    cluster_id: &str,
) -> Result<String, ImportError> {
    crate::auth::validate_project(project).map_err(ImportError::Invalid)?;
    let namespace = ief_namespace(project);
    match find_one(store, org, "ief_projects", &[("project_id", project)]).await? {
        Some(row) => {
            store
                .update(
                    org,
                    "ief_projects",
                    &row.id,
                    &fields(vec![
                        ("clusterid", text(cluster_id)),
                        ("namespace", text(&namespace)),
                    ]),
                )
                .await?;
        }
        None => {
            store
                .insert(
                    org,
                    "ief_projects",
                    &fields(vec![
                        ("project_id", text(project)),
                        ("clusterid", text(cluster_id)),
                        ("namespace", text(&namespace)),
                    ]),
                )
                .await?;
        }
    }
    Ok(namespace)
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn store() -> Store {
        let conn = rusqlite::Connection::open_in_memory().unwrap();
        Store::with_connection(conn, crate::store::Sealer::from_key(&[7u8; 32]))
            .await
            .unwrap()
    }

    const KUBECONFIG: &str = "apiVersion: v1\nkind: Config\nclusters:\n- name: c\n  cluster:\n    server: https://127.0.0.1:6443\ncontexts:\n- name: c\n  context:\n    cluster: c\n    user: u\ncurrent-context: c\nusers:\n- name: u\n  user:\n    token: t\n";

    #[tokio::test]
    async fn import_is_idempotent_and_sealed() {
        let s = store().await;
        let a = import(&s, "acme", "k8s-01", KUBECONFIG, "imported")
            .await
            .unwrap();
        assert!(a.created);
        let b = import(&s, "acme", "k8s-01", KUBECONFIG, "imported")
            .await
            .unwrap();
        assert_eq!((b.id.as_str(), b.created), (a.id.as_str(), false));
        let row = s.get("acme", "clusters", &a.id).await.unwrap().unwrap();
        let kc = row.fields.iter().find(|(n, _)| n == "kubeconfig").unwrap();
        assert_eq!(kc.1, Value::Redacted);
        assert_eq!(
            s.reveal("acme", "clusters", &a.id, "kubeconfig")
                .await
                .unwrap(),
            Some(KUBECONFIG.to_string())
        );
        // Another organisation sees nothing.
        assert!(s.get("other", "clusters", &a.id).await.unwrap().is_none());
    }

    #[tokio::test]
    async fn bad_kubeconfigs_are_refused() {
        let s = store().await;
        for bad in ["", "not: [yaml", "apiVersion: v1\nkind: Config\n"] {
            assert!(matches!(
                import(&s, "acme", "c", bad, "imported").await,
                Err(ImportError::Kubeconfig(_))
            ));
        }
        // The one kubeconfig policy: a command or a file is refused by field.
        let exec = KUBECONFIG.replace(
            "    token: t\n",
            "    exec:\n      command: /bin/sh\n      apiVersion: client.authentication.k8s.io/v1\n",
        );
        assert_ne!(exec, KUBECONFIG);
        match import(&s, "acme", "c", &exec, "imported").await {
            Err(ImportError::Kubeconfig(m)) => assert!(m.contains("users[0].user.exec"), "{m}"),
            other => panic!("{other:?}"),
        }
        assert!(s
            .query("acme", "clusters", &Query::default())
            .await
            .unwrap()
            .rows
            .is_empty());
    }

    #[tokio::test]
    async fn ief_projects_map_to_a_namespace() {
        let s = store().await;
        let c = import(&s, "acme", "edge", KUBECONFIG, "imported")
            .await
            .unwrap();
        let ns = map_ief_project(&s, "acme", "5e1f0c3f4ac94a0c9a6a9b1e6e2f7d10", &c.id)
            .await
            .unwrap();
        assert_eq!(ns, "ief-5e1f0c3f4ac94a0c9a6a9b1e6e2f7d10");
        map_ief_project(&s, "acme", "5e1f0c3f4ac94a0c9a6a9b1e6e2f7d10", &c.id)
            .await
            .unwrap();
        assert!(map_ief_project(&s, "acme", "bad project", &c.id)
            .await
            .is_err());
        assert!(map_ief_project(&s, "acme", "p2", "no-such-cluster")
            .await
            .is_err());
    }
}
