//! kubectl's way of showing objects: human ages (`17h`, `5d18h`), a pod's
//! READY and STATUS columns, a node's STATUS and ROLES. Shared by the areas
//! that render cluster boards (pcapi, kboss); the code is
//! [`kubefmt::kubectl`], which the simulated cluster's tables print with too.

pub use kubefmt::human_duration;
pub use kubefmt::kubectl::{
    age, node_address, node_roles, node_status, now, or_none, parse_rfc3339, pod_ready,
    pod_restarts, pod_status, NODE_COLUMN_FIELDS, POD_COLUMN_FIELDS,
};
use serde_json::Value;

use crate::fields::At;

/// The READINESS GATES of a pod: its gates' condition types (empty when
/// none; kubectl joins them with `,` and shows `<none>`).
pub fn readiness_gates(pod: &Value) -> Vec<&str> {
    pod.at("/spec/readinessGates")
        .and_then(Value::as_array)
        .map(|g| {
            g.iter()
                .filter_map(|x| x["conditionType"].as_str())
                .collect()
        })
        .unwrap_or_default()
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn readiness_gates_are_their_condition_types() {
        let pod = serde_json::json!({"spec": {"readinessGates": [
            {"conditionType": "example.com/lb"}, {"conditionType": "example.com/db"}]}});
        assert_eq!(readiness_gates(&pod), ["example.com/lb", "example.com/db"]);
        assert!(readiness_gates(&serde_json::json!({"spec": {}})).is_empty());
    }

    /// `v` as a board parses it, keeping only `fields`.
    fn kept(v: &Value, fields: &[&str]) -> Value {
        use crate::fields::{parse_kept, Keep};
        parse_kept(&v.to_string(), &Keep::new(fields.iter().copied())).unwrap()
    }

    #[test]
    fn the_column_fields_are_all_the_columns_read() {
        let pod = json!({
            "metadata": {"name": "p", "creationTimestamp": "2025-04-08T13:22:43Z",
                "managedFields": [{"manager": "x"}]},
            "spec": {"containers": [{"name": "a", "image": "i"}, {"name": "b"}]},
            "status": {"phase": "Running", "containerStatuses": [
                {"ready": true, "restartCount": 4, "image": "i"},
                {"ready": false, "restartCount": 1,
                    "state": {"terminated": {"reason": "OOMKilled"}}}]}
        });
        let kept = kept(&pod, POD_COLUMN_FIELDS);
        assert!(kept.at("/metadata/managedFields").is_none());
        assert_eq!(pod_ready(&kept), "1/2");
        assert_eq!(pod_restarts(&kept), 5);
        assert_eq!(pod_status(&kept), "OOMKilled");
        assert_eq!(age(&kept), age(&pod));
        let node = json!({
            "metadata": {"labels": {"node-role.kubernetes.io/control-plane": ""},
                "creationTimestamp": "2025-04-08T13:22:43Z", "annotations": {"a": "b"}},
            "spec": {"unschedulable": true},
            "status": {"conditions": [{"type": "Ready", "status": "False", "message": "m"}],
                "addresses": [{"type": "ExternalIP", "address": "127.0.0.7"}], "images": []}
        });
        let kept = self::kept(&node, NODE_COLUMN_FIELDS);
        assert!(kept.at("/status/images").is_none());
        assert_eq!(node_status(&kept), "NotReady,SchedulingDisabled");
        assert_eq!(node_roles(&kept), "control-plane");
        assert_eq!(node_address(&kept, "ExternalIP"), Some("127.0.0.7"));
        assert_eq!(age(&kept), age(&node));
    }
}
