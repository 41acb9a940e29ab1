//! A project of the caller's organisation (`ief_projects`: project id ->
//! cluster and namespace) and its edge nodes: the cluster's nodes labelled
//! [`NODE_LABEL`], grouped by [`GROUP_LABEL`].

use std::collections::HashSet;

use computehub_sdk::boards;
use computehub_sdk::fields::{parse_kept, At, Keep};
use computehub_sdk::inventory::{self, RowQuery};
use computehub_sdk::kubernetes::{self, Cluster, Selector};
use computehub_sdk::{ApiError, Request};
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

/// The window `[offset, offset + limit)` of the project's pods that match
/// `labels` (and run on one of `on_nodes`, when given), ordered by creation
/// time then name, and how many match in all.
///
/// Pods are read a page at a time, so a project of any size fits the
/// plugin's memory: a first pass keeps only each match's sort key; when the
/// pods spanned more than one page, a second pass keeps the window's
/// objects. The plugin then holds keys and one window, never the list.
pub fn pods_window(
    p: &Project,
    labels: &str,
    on_nodes: Option<&[String]>,
    offset: usize,
    limit: usize,
) -> IefResult<(usize, Vec<Value>)> {
    let sel = Selector {
        namespace: Some(p.namespace.clone()),
        label_selector: Some(labels.to_string()).filter(|l| !l.is_empty()),
        field_selector: None,
    };
    let keep = Keep::new([
        "/metadata/creationTimestamp",
        "/metadata/name",
        "/spec/nodeName",
    ]);
    let s = |v: &Value, ptr: &str| v.at(ptr).and_then(Value::as_str).unwrap_or("").to_owned();
    // The sort key of a pod that matches, or none.
    let key = |text: &str| -> Result<Option<(String, String)>, ApiError> {
        let pod = parse_kept(text, &keep).map_err(|e| {
            ApiError::Internal(format!("the cluster answered an invalid object: {e}"))
        })?;
        let node = s(&pod, "/spec/nodeName");
        if on_nodes.is_some_and(|names| !names.contains(&node)) {
            return Ok(None);
        }
        Ok(Some((
            s(&pod, "/metadata/creationTimestamp"),
            s(&pod, "/metadata/name"),
        )))
    };
    let mut keys = Vec::new();
    let mut pages = 0;
    // The first page's matches by name: if it is the only page, the window
    // is taken from it without reading (or parsing) anything again.
    let mut first_page: Vec<(String, String)> = Vec::new();
    boards::for_each_page(&p.cluster, "v1", "Pod", &sel, |items| {
        pages += 1;
        if pages > 1 {
            first_page = Vec::new();
        }
        for text in items {
            if let Some((ts, name)) = key(&text)? {
                if pages == 1 {
                    first_page.push((name.clone(), text));
                }
                keys.push((ts, name));
            }
        }
        Ok(())
    })?;
    let count = keys.len();
    keys.sort_unstable();
    let window: HashSet<String> = keys
        .into_iter()
        .skip(offset)
        .take(limit)
        .map(|(_, name)| name)
        .collect();
    if window.is_empty() {
        return Ok((count, Vec::new()));
    }
    let texts: Vec<String> = if pages == 1 {
        first_page
            .into_iter()
            .filter(|(name, _)| window.contains(name))
            .map(|(_, text)| text)
            .collect()
    } else {
        let mut texts = Vec::with_capacity(window.len());
        boards::for_each_page(&p.cluster, "v1", "Pod", &sel, |items| {
            for text in items {
                if let Some((_, name)) = key(&text)? {
                    if window.contains(&name) {
                        texts.push(text);
                    }
                }
            }
            Ok(())
        })?;
        texts
    };
    let mut pods = parse(texts)?;
    pods.sort_by_cached_key(|pod| {
        (
            s(pod, "/metadata/creationTimestamp"),
            s(pod, "/metadata/name"),
        )
    });
    Ok((count, pods))
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
