//! kubectl's columns for objects given as JSON: an object's AGE, a pod's
//! READY, STATUS and RESTARTS, a node's STATUS, ROLES and addresses. The
//! simulated cluster's server-side tables and the guest SDK's cluster boards
//! (pcapi, kboss) both print them with these functions.

use std::time::{SystemTime, UNIX_EPOCH};

use serde_json::Value;

use crate::human_duration;

/// What [`age`], [`pod_ready`], [`pod_restarts`] and [`pod_status`] read of
/// a pod: a reader that keeps only some fields of thousands of pods (the
/// SDK's `fields::Keep`) keeps these (plus its own).
pub const POD_COLUMN_FIELDS: &[&str] = &[
    "/metadata/creationTimestamp",
    "/metadata/deletionTimestamp",
    "/spec/containers/name",
    "/status/reason",
    "/status/phase",
    "/status/containerStatuses/ready",
    "/status/containerStatuses/restartCount",
    "/status/containerStatuses/state",
];

/// What [`age`], [`node_status`], [`node_roles`] and [`node_address`] read of
/// a node.
pub const NODE_COLUMN_FIELDS: &[&str] = &[
    "/metadata/creationTimestamp",
    "/metadata/labels",
    "/spec/unschedulable",
    "/status/conditions/type",
    "/status/conditions/status",
    "/status/addresses",
];

/// The value at a JSON pointer, as [`Value::pointer`] finds it, without
/// allocating when the pointer has no `~` escapes (boards read thousands of
/// objects).
pub fn at<'a>(v: &'a Value, pointer: &str) -> Option<&'a Value> {
    if pointer.contains('~') {
        return v.pointer(pointer);
    }
    if pointer.is_empty() {
        return Some(v);
    }
    pointer
        .strip_prefix('/')?
        .split('/')
        .try_fold(v, |v, token| match v {
            Value::Object(m) => m.get(token),
            Value::Array(a) => {
                let canonical =
                    !token.starts_with('+') && (token == "0" || !token.starts_with('0'));
                a.get(token.parse::<usize>().ok().filter(|_| canonical)?)
            }
            _ => None,
        })
}

/// The non-empty string at `p`.
fn str_at<'a>(v: &'a Value, p: &str) -> Option<&'a str> {
    at(v, p).and_then(Value::as_str).filter(|s| !s.is_empty())
}

fn array_at<'a>(v: &'a Value, p: &str) -> &'a [Value] {
    at(v, p)
        .and_then(Value::as_array)
        .map_or(&[], Vec::as_slice)
}

/// Seconds since the Unix epoch of an RFC 3339 timestamp
/// (`2024-04-08T13:22:43Z`, fractions and offsets allowed).
pub fn parse_rfc3339(ts: &str) -> Option<i64> {
    chrono::DateTime::parse_from_rfc3339(ts)
        .ok()
        .map(|t| t.timestamp())
}

/// Now, in seconds since the Unix epoch.
pub fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

/// The AGE column of an object (`metadata.creationTimestamp` until now),
/// `<unknown>` without one.
pub fn age(obj: &Value) -> String {
    age_at(obj, now())
}

/// The AGE column of an object at `now` (seconds since the Unix epoch).
pub fn age_at(obj: &Value, now: i64) -> String {
    since_at(obj, "/metadata/creationTimestamp", now).unwrap_or_else(|| "<unknown>".into())
}

/// How long ago the RFC 3339 time at pointer `p` of `obj` was, in kubectl's
/// duration format (an event's `LAST SEEN`); `None` without one.
pub fn since(obj: &Value, p: &str) -> Option<String> {
    since_at(obj, p, now())
}

/// [`since`] at `now` (seconds since the Unix epoch).
pub fn since_at(obj: &Value, p: &str, now: i64) -> Option<String> {
    str_at(obj, p)
        .and_then(parse_rfc3339)
        .map(|t| human_duration(now - t))
}

/// A value or kubectl's `<none>` (also for an empty one).
pub fn or_none(v: Option<&str>) -> String {
    v.filter(|s| !s.is_empty()).unwrap_or("<none>").to_string()
}

/// The READY column of a pod: ready containers / containers.
pub fn pod_ready(pod: &Value) -> String {
    let total = array_at(pod, "/spec/containers").len();
    let ready = array_at(pod, "/status/containerStatuses")
        .iter()
        .filter(|c| c["ready"].as_bool() == Some(true))
        .count();
    format!("{ready}/{total}")
}

/// The RESTARTS column of a pod: its containers' restarts.
pub fn pod_restarts(pod: &Value) -> u64 {
    array_at(pod, "/status/containerStatuses")
        .iter()
        .filter_map(|c| c["restartCount"].as_u64())
        .fold(0, u64::saturating_add)
}

/// The STATUS column of a pod as kubectl prints it (`Running`, `Pending`,
/// `Completed`, `CrashLoopBackOff`, `Terminating`): the pod's reason, else
/// its phase (`Pending` before it has one); a container's waiting or
/// terminated reason wins over both; `Terminating` while being deleted.
pub fn pod_status(pod: &Value) -> String {
    if at(pod, "/metadata/deletionTimestamp").is_some_and(|v| !v.is_null()) {
        return "Terminating".into();
    }
    let mut reason = str_at(pod, "/status/reason")
        .or_else(|| str_at(pod, "/status/phase"))
        .unwrap_or("Pending");
    for c in array_at(pod, "/status/containerStatuses") {
        if let Some(r) = str_at(c, "/state/waiting/reason") {
            reason = r;
        } else if let Some(r) = str_at(c, "/state/terminated/reason") {
            reason = r;
        }
    }
    reason.to_string()
}

/// The STATUS column of a node: `Ready`, `NotReady` or `Unknown` (its
/// `Ready` condition), plus `,SchedulingDisabled` when cordoned.
pub fn node_status(node: &Value) -> String {
    let ready = array_at(node, "/status/conditions")
        .iter()
        .find(|c| c["type"] == "Ready")
        .map(|c| match c["status"].as_str() {
            Some("True") => "Ready",
            Some("False") => "NotReady",
            _ => "Unknown",
        })
        .unwrap_or("Unknown");
    if at(node, "/spec/unschedulable").and_then(Value::as_bool) == Some(true) {
        format!("{ready},SchedulingDisabled")
    } else {
        ready.to_string()
    }
}

/// The ROLES column of a node: its `node-role.kubernetes.io/<role>` labels
/// and the value of `kubernetes.io/role` (or `node-role.kubernetes.io`),
/// sorted, or `<none>`.
pub fn node_roles(node: &Value) -> String {
    let mut roles: Vec<&str> = at(node, "/metadata/labels")
        .and_then(Value::as_object)
        .into_iter()
        .flatten()
        .filter_map(|(k, v)| match k.strip_prefix("node-role.kubernetes.io/") {
            Some(role) => Some(role),
            None if k == "node-role.kubernetes.io" || k == "kubernetes.io/role" => v.as_str(),
            None => None,
        })
        .filter(|r| !r.is_empty())
        .collect();
    roles.sort_unstable();
    roles.dedup();
    or_none(Some(&roles.join(",")))
}

/// A node address of the given type (`InternalIP`, `ExternalIP`).
pub fn node_address<'a>(node: &'a Value, kind: &str) -> Option<&'a str> {
    array_at(node, "/status/addresses")
        .iter()
        .find(|a| a["type"] == kind)
        .and_then(|a| a["address"].as_str())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn rfc3339() {
        assert_eq!(parse_rfc3339("1970-01-01T00:00:00Z"), Some(0));
        assert_eq!(parse_rfc3339("2025-04-08T13:22:43Z"), Some(1_744_118_563));
        assert_eq!(
            parse_rfc3339("2025-04-08T21:22:43.5+08:00"),
            Some(1_744_118_563)
        );
        assert_eq!(parse_rfc3339("yesterday"), None);
    }

    /// Restart counts are what a client wrote through the status
    /// subresource: their sum stops at the largest number.
    #[test]
    fn restarts_past_the_largest_number_do_not_overflow() {
        let pod = json!({"status": {"containerStatuses": [
            {"restartCount": u64::MAX}, {"restartCount": 1}
        ]}});
        assert_eq!(pod_restarts(&pod), u64::MAX);
    }

    #[test]
    fn ages() {
        let obj = json!({"metadata": {"creationTimestamp": "2025-04-08T13:22:43Z"}});
        assert_eq!(
            age_at(&obj, 1_744_118_563 + 5 * 86_400 + 18 * 3600),
            "5d18h"
        );
        assert_eq!(age_at(&json!({"metadata": {}}), 0), "<unknown>");
        assert_eq!(age(&json!({})), "<unknown>");
    }

    #[test]
    fn pod_columns() {
        let pod = json!({
            "spec": {"containers": [{}, {}]},
            "status": {"phase": "Pending", "containerStatuses": [
                {"ready": true, "restartCount": 2},
                {"ready": false, "restartCount": 1, "state": {"waiting": {"reason": "ImagePullBackOff"}}}
            ]}
        });
        assert_eq!(pod_ready(&pod), "1/2");
        assert_eq!(pod_restarts(&pod), 3);
        assert_eq!(pod_status(&pod), "ImagePullBackOff");
        let pod = json!({"status": {"phase": "Running", "containerStatuses": [{"state": {"waiting": {"reason": "CrashLoopBackOff"}}}]}});
        assert_eq!(pod_status(&pod), "CrashLoopBackOff");
        let pod = json!({"status": {"phase": "Running", "containerStatuses": [
            {"state": {"terminated": {"reason": "OOMKilled"}}}, {"state": {"waiting": {"reason": ""}}}]}});
        assert_eq!(
            pod_status(&pod),
            "OOMKilled",
            "an empty reason is no reason"
        );
        assert_eq!(
            pod_status(&json!({"status": {"reason": "Evicted", "phase": "Failed"}})),
            "Evicted"
        );
        assert_eq!(pod_status(&json!({"status": {}})), "Pending");
        let deleting = json!({"metadata": {"deletionTimestamp": "2025-04-08T13:22:43Z"}, "status": {"phase": "Running"}});
        assert_eq!(pod_status(&deleting), "Terminating");
        let not_deleting =
            json!({"metadata": {"deletionTimestamp": null}, "status": {"phase": "Running"}});
        assert_eq!(pod_status(&not_deleting), "Running");
    }

    #[test]
    fn node_columns() {
        let node = json!({
            "metadata": {"labels": {"node-role.kubernetes.io/control-plane": "", "node-role.kubernetes.io/etcd": ""}},
            "spec": {"unschedulable": true},
            "status": {"conditions": [{"type": "Ready", "status": "True"}],
                       "addresses": [{"type": "InternalIP", "address": "127.0.0.9"}]}
        });
        assert_eq!(node_status(&node), "Ready,SchedulingDisabled");
        assert_eq!(node_roles(&node), "control-plane,etcd");
        assert_eq!(node_address(&node, "InternalIP"), Some("127.0.0.9"));
        assert_eq!(node_address(&node, "ExternalIP"), None);
        assert_eq!(node_roles(&json!({})), "<none>");
        assert_eq!(node_roles(&json!({"metadata": {}})), "<none>");
        let labelled = json!({"metadata": {"labels": {"kubernetes.io/role": "worker", "node-role.kubernetes.io/worker": ""}}});
        assert_eq!(node_roles(&labelled), "worker");
        assert_eq!(
            node_status(&json!({"status": {"conditions": [{"type": "Ready", "status": "False"}]}})),
            "NotReady"
        );
        assert_eq!(node_status(&json!({})), "Unknown");
    }

    #[test]
    fn pointers() {
        let v = json!({"a": [{"b/c": 1, "d": 2}]});
        assert_eq!(at(&v, "/a/0/d"), Some(&json!(2)));
        assert_eq!(at(&v, "/a/0/b~1c"), Some(&json!(1)));
        assert_eq!(at(&v, "/a/00/d"), None);
        assert_eq!(at(&v, "/a/+0/d"), None);
        assert_eq!(at(&v, ""), Some(&v));
        assert_eq!(at(&v, "a"), None);
    }
}
