//! A project of the caller's organisation (`ief_projects`: project id ->
//! cluster and namespace) and its edge nodes: the cluster's nodes labelled
//! [`NODE_LABEL`], grouped by [`GROUP_LABEL`].

use computehub_sdk::inventory::{self, RowQuery};
use computehub_sdk::kubernetes::{self, Cluster, Selector};
use computehub_sdk::Request;
use serde_json::Value;

use crate::error::{IefError, IefResult, NODE_NOT_FOUND, PROJECT_NOT_FOUND};
use crate::render::{GROUP_LABEL, NODE_LABEL};

/// A resolved project.
pub struct Project {
    /// The `ief_projects` record id.
    pub row_id: String,
    pub project_id: String,
    pub cluster: Cluster,
    pub namespace: String,
}

/// The project named by `{project_id}`, if the caller's organisation has it.
pub fn resolve(req: &Request) -> IefResult<Project> {
    let project_id = req.route_param("project_id").unwrap_or("");
    let not_found = || IefError::bad(PROJECT_NOT_FOUND, "PROJECT_ID not found");
    if project_id.is_empty() || project_id.len() > 64 {
        return Err(not_found());
    }
    let page = inventory::query(
        "ief_projects",
        &RowQuery::new().eq("project_id", project_id).limit(1),
    )?;
    let row = page.rows.into_iter().next().ok_or_else(not_found)?;
    let cluster = row
        .text("clusterid")
        .ok_or_else(|| IefError::internal("the project names no cluster"))?;
    let namespace = row
        .text("namespace")
        .ok_or_else(|| IefError::internal("the project names no namespace"))?;
    Ok(Project {
        cluster: Cluster::Id(cluster.to_string()),
        namespace: namespace.to_string(),
        project_id: project_id.to_string(),
        row_id: row.id,
    })
}

/// An edge node: the cluster node's name and its node id.
#[derive(Debug, Clone)]
pub struct EdgeNode {
    pub name: String,
    pub node_id: String,
}

fn parse(items: Vec<String>) -> IefResult<Vec<Value>> {
    items
        .iter()
        .map(|s| {
            serde_json::from_str(s).map_err(|e| {
                IefError::internal(format!("the cluster answered an invalid object: {e}"))
            })
        })
        .collect()
}

/// Objects of a kind in the project (`namespace` for namespaced kinds).
pub fn list(
    p: &Project,
    api_version: &str,
    kind: &str,
    namespace: Option<&str>,
    labels: &str,
) -> IefResult<Vec<Value>> {
    let sel = Selector {
        namespace: namespace.map(str::to_string),
        label_selector: Some(labels.to_string()).filter(|l| !l.is_empty()),
        field_selector: None,
    };
    parse(kubernetes::list(&p.cluster, api_version, kind, &sel)?)
}

/// The project cluster's edge nodes (nodes carrying a node id).
pub fn edge_nodes(p: &Project, labels: &str) -> IefResult<Vec<EdgeNode>> {
    let selector = if labels.is_empty() {
        NODE_LABEL.to_string()
    } else {
        format!("{NODE_LABEL},{labels}")
    };
    Ok(list(p, "v1", "Node", None, &selector)?
        .iter()
        .map(|n| {
            let label = |k: &str| {
                n.pointer("/metadata/labels")
                    .and_then(|l| l.get(k))
                    .and_then(Value::as_str)
                    .map(str::to_string)
            };
            EdgeNode {
                name: n
                    .pointer("/metadata/name")
                    .and_then(Value::as_str)
                    .unwrap_or("")
                    .to_string(),
                node_id: label(NODE_LABEL).unwrap_or_default(),
            }
        })
        .collect())
}

/// The nodes of edge node `id` (one) or of node group `id`; 400 when none.
pub fn target_nodes(p: &Project, group: bool, id: &str, field: &str) -> IefResult<Vec<EdgeNode>> {
    let (label, what) = if group {
        (GROUP_LABEL, "node group")
    } else {
        (NODE_LABEL, "edge node")
    };
    let nodes = edge_nodes(p, &format!("{label}={id}"))?;
    if nodes.is_empty() {
        return Err(IefError::bad(
            NODE_NOT_FOUND,
            format!(
                "`{field}`: {what} `{id}` not found in project {}",
                p.project_id
            ),
        ));
    }
    Ok(nodes)
}
