//! A training task and one of its pods, resolved for the caller, and the
//! pod's basic information.
//!
//! The task is looked up among the caller's organisation's
//! `training_instances` (the inventory is scoped by the host, so another
//! organisation's task is simply not found); the pod is read from the live
//! cluster and must carry the task's label. Every miss is a 403 with the
//! same body, so the answer never tells what exists.

use computehub_sdk::datetime::Instant;
use computehub_sdk::inventory::{self, Row, RowQuery};
use computehub_sdk::kubectl;
use computehub_sdk::kubernetes::{self, Cluster};
use computehub_sdk::{envelope::alaya, ApiError, ParamError, Request, Response};
use serde_json::{json, Value};

/// Label carried by every pod of a training task: the task's id.
pub const TASK_LABEL: &str = "computehub.io/training-instance";

/// A task of the caller and one of its pods, as the cluster has it.
pub struct TaskPod {
    pub task: Row,
    pub task_id: String,
    pub cluster: Cluster,
    pub namespace: String,
    pub pod_name: String,
    pub pod: Value,
}

fn forbidden(why: String) -> ApiError {
    ApiError::Forbidden(why)
}

/// A DNS-1123 subdomain (a pod name): at most 253 of `[a-z0-9.-]`,
/// alphanumeric at both ends.
fn pod_name_ok(name: &str) -> bool {
    let b = name.as_bytes();
    !b.is_empty()
        && b.len() <= 253
        && b.iter()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, b'-' | b'.'))
        && b[0].is_ascii_alphanumeric()
        && b[b.len() - 1].is_ascii_alphanumeric()
}

fn route_param<'a>(req: &'a Request, name: &str) -> Result<&'a str, ApiError> {
    req.route_param(name)
        .filter(|v| !v.trim().is_empty())
        .ok_or_else(|| ParamError::Missing { name: name.into() }.into())
}

/// The caller's task `{id}` and its pod `{podName}`.
pub fn resolve(req: &Request) -> Result<TaskPod, ApiError> {
    let task_id = route_param(req, "id")?;
    let pod_name = route_param(req, "podName")?;
    if task_id.len() > 128 {
        return Err(ApiError::BadRequest(
            "parameter `id` must be at most 128 characters".into(),
        ));
    }
    if !pod_name_ok(pod_name) {
        return Err(ApiError::BadRequest(format!(
            "parameter `podName` must be a pod name (lower-case letters, digits, `-` and `.`, at most 253), got `{pod_name}`"
        )));
    }
    let page = inventory::query(
        "training_instances",
        &RowQuery::new().eq("task_id", task_id).limit(1),
    )?;
    let Some(task) = page.rows.into_iter().next() else {
        return Err(forbidden(format!(
            "no task `{task_id}` in this organisation"
        )));
    };
    let cluster_id = task
        .text("clusterid")
        .ok_or_else(|| ApiError::Internal(format!("task `{task_id}` names no cluster")))?;
    let namespace = task
        .text("namespace")
        .ok_or_else(|| ApiError::Internal(format!("task `{task_id}` names no namespace")))?
        .to_string();
    let cluster = Cluster::Id(cluster_id.to_string());
    let pod = kubernetes::get(&cluster, "v1", "Pod", Some(&namespace), pod_name)
        .map_err(internal)?
        .ok_or_else(|| forbidden(format!("no pod `{pod_name}` in task `{task_id}`")))?;
    let pod: Value = serde_json::from_str(&pod)
        .map_err(|e| ApiError::Internal(format!("the cluster answered an invalid pod: {e}")))?;
    let label = pod
        .pointer("/metadata/labels")
        .and_then(|l| l.get(TASK_LABEL))
        .and_then(Value::as_str);
    if label != Some(task_id) {
        return Err(forbidden(format!(
            "pod `{pod_name}` does not belong to task `{task_id}`"
        )));
    }
    Ok(TaskPod {
        task_id: task_id.to_string(),
        pod_name: pod_name.to_string(),
        task,
        cluster,
        namespace,
        pod,
    })
}

/// Any failure to reach or read the cluster is the platform's (500).
pub fn internal(e: kubernetes::Error) -> ApiError {
    ApiError::Internal(format!("kubernetes: {}", ApiError::from(e)))
}

fn text<'a>(v: &'a Value, ptr: &str) -> &'a str {
    v.pointer(ptr).and_then(Value::as_str).unwrap_or("")
}

/// `createTime` as the document shows it: `2025-12-02 06:24:44` (UTC).
fn create_time(pod: &Value) -> String {
    kubectl::parse_rfc3339(text(pod, "/metadata/creationTimestamp"))
        .map(|t| Instant::from_secs(t).datetime())
        .unwrap_or_default()
}

/// `GET /v1/training/instance/{id}/{podName}/basic`.
pub fn basic(req: &Request) -> Result<Response, ApiError> {
    let tp = resolve(req)?;
    let cluster_name = match tp.task.text("clusterid") {
        Some(id) => inventory::get("clusters", id)?
            .and_then(|c| c.text("name").map(str::to_string))
            .unwrap_or_default(),
        None => String::new(),
    };
    let pod = &tp.pod;
    let data = json!({
        "clusterName": cluster_name,
        "hostName": text(pod, "/spec/nodeName"),
        "namespace": tp.namespace,
        "hostIp": text(pod, "/status/hostIP"),
        "status": kubectl::pod_status(pod),
        "podIp": text(pod, "/status/podIP"),
        "restartCount": kubectl::pod_restarts(pod),
        // Set by Kubernetes from the containers' requests and limits.
        "qosClass": text(pod, "/status/qosClass"),
        "createBy": tp.task.text("created_by").unwrap_or(""),
        "createTime": create_time(pod),
    });
    Ok(alaya::ok(&data))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pod_names() {
        assert!(pod_name_ok("llama3-8b-sft-worker-0"));
        assert!(pod_name_ok("a.b-c"));
        for bad in ["", "-a", "a-", "Upper", "a_b", "a b"] {
            assert!(!pod_name_ok(bad), "{bad}");
        }
        assert!(!pod_name_ok(&"a".repeat(254)));
    }

    #[test]
    fn create_time_is_the_documented_shape() {
        let pod = json!({"metadata": {"creationTimestamp": "2025-12-02T06:24:44Z"}});
        assert_eq!(create_time(&pod), "2025-12-02 06:24:44");
        assert_eq!(create_time(&json!({})), "");
    }
}
