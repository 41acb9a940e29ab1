//! kubectl's way of showing objects: human ages (`17h`, `5d18h`), a pod's
//! READY and STATUS columns, a node's STATUS and ROLES. Shared by the areas
//! that render cluster boards (pcapi, kboss).

use std::time::{SystemTime, UNIX_EPOCH};

use serde_json::Value;

use crate::fields::At;

/// What [`age`], [`pod_ready`], [`pod_restarts`] and [`pod_status`] read of
/// a pod, for [`crate::fields::Keep`]: a board over thousands of pods parses
/// only these (plus its own fields).
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

/// Seconds since the Unix epoch of an RFC 3339 timestamp
/// (`2024-04-08T13:22:43Z`, fractions and offsets allowed).
pub fn parse_rfc3339(ts: &str) -> Option<i64> {
    let b = ts.as_bytes();
    if b.len() < 20 || b[4] != b'-' || b[7] != b'-' || !matches!(b[10], b'T' | b't' | b' ') {
        return None;
    }
    let num = |r: std::ops::Range<usize>| ts.get(r)?.parse::<i64>().ok();
    let (y, mo, d) = (num(0..4)?, num(5..7)?, num(8..10)?);
    let (h, mi, s) = (num(11..13)?, num(14..16)?, num(17..19)?);
    if !(1..=12).contains(&mo) || !(1..=31).contains(&d) || h > 23 || mi > 59 || s > 60 {
        return None;
    }
    let mut rest = &ts[19..];
    if let Some(frac) = rest.strip_prefix('.') {
        let digits = frac.bytes().take_while(u8::is_ascii_digit).count();
        rest = &frac[digits..];
    }
    let offset = match rest {
        "Z" | "z" => 0,
        _ => {
            let sign = match rest.as_bytes().first()? {
                b'+' => 1,
                b'-' => -1,
                _ => return None,
            };
            let oh: i64 = rest.get(1..3)?.parse().ok()?;
            let om: i64 = rest.get(4..6)?.parse().ok()?;
            sign * (oh * 3600 + om * 60)
        }
    };
    // Days from civil (Howard Hinnant's algorithm).
    let y = if mo <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (mo + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    Some(days * 86_400 + h * 3600 + mi * 60 + s - offset)
}

/// Now, in seconds since the Unix epoch.
pub fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

/// kubectl's AGE format (the simulated cluster's tables print the same).
pub use kubefmt::human_duration;

/// The AGE column of an object (`metadata.creationTimestamp`).
pub fn age(obj: &Value) -> String {
    obj.at("/metadata/creationTimestamp")
        .and_then(Value::as_str)
        .and_then(parse_rfc3339)
        .map(|t| human_duration(now() - t))
        .unwrap_or_else(|| "<unknown>".into())
}

fn str_at<'a>(v: &'a Value, p: &str) -> Option<&'a str> {
    v.at(p).and_then(Value::as_str).filter(|s| !s.is_empty())
}

/// The READY column of a pod: ready containers / containers.
pub fn pod_ready(pod: &Value) -> String {
    let total = pod
        .at("/spec/containers")
        .and_then(Value::as_array)
        .map_or(0, Vec::len);
    let ready = pod
        .at("/status/containerStatuses")
        .and_then(Value::as_array)
        .map_or(0, |s| {
            s.iter()
                .filter(|c| c["ready"].as_bool() == Some(true))
                .count()
        });
    format!("{ready}/{total}")
}

/// The RESTARTS column of a pod.
pub fn pod_restarts(pod: &Value) -> u64 {
    pod.at("/status/containerStatuses")
        .and_then(Value::as_array)
        .map_or(0, |s| {
            s.iter().filter_map(|c| c["restartCount"].as_u64()).sum()
        })
}

/// The STATUS column of a pod as kubectl prints it: a container's waiting or
/// terminated reason wins over the phase; `Terminating` when deleting.
pub fn pod_status(pod: &Value) -> String {
    if pod
        .at("/metadata/deletionTimestamp")
        .is_some_and(|v| !v.is_null())
    {
        return "Terminating".into();
    }
    let mut reason = str_at(pod, "/status/reason")
        .or_else(|| str_at(pod, "/status/phase"))
        .unwrap_or("Unknown")
        .to_string();
    for c in pod
        .at("/status/containerStatuses")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        if let Some(r) = str_at(c, "/state/waiting/reason") {
            reason = r.to_string();
        } else if let Some(r) = str_at(c, "/state/terminated/reason") {
            reason = r.to_string();
        }
    }
    reason
}

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

/// A value or kubectl's `<none>`.
pub fn or_none(v: Option<&str>) -> String {
    v.filter(|s| !s.is_empty()).unwrap_or("<none>").to_string()
}

/// The STATUS column of a node: `Ready`/`NotReady`/`Unknown`, plus
/// `,SchedulingDisabled` when cordoned.
pub fn node_status(node: &Value) -> String {
    let ready = node
        .at("/status/conditions")
        .and_then(Value::as_array)
        .and_then(|cs| cs.iter().find(|c| c["type"] == "Ready"))
        .map(|c| match c["status"].as_str() {
            Some("True") => "Ready",
            Some("False") => "NotReady",
            _ => "Unknown",
        })
        .unwrap_or("Unknown");
    if node.at("/spec/unschedulable").and_then(Value::as_bool) == Some(true) {
        format!("{ready},SchedulingDisabled")
    } else {
        ready.to_string()
    }
}

/// The ROLES column of a node (`node-role.kubernetes.io/<role>` labels).
pub fn node_roles(node: &Value) -> String {
    let mut roles: Vec<&str> = node
        .at("/metadata/labels")
        .and_then(Value::as_object)
        .into_iter()
        .flatten()
        .filter_map(|(k, _)| k.strip_prefix("node-role.kubernetes.io/"))
        .filter(|r| !r.is_empty())
        .collect();
    roles.sort_unstable();
    if roles.is_empty() {
        "<none>".into()
    } else {
        roles.join(",")
    }
}

/// A node address of the given type (`InternalIP`, `ExternalIP`).
pub fn node_address<'a>(node: &'a Value, kind: &str) -> Option<&'a str> {
    node.at("/status/addresses")
        .and_then(Value::as_array)?
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
    fn readiness_gates_are_their_condition_types() {
        let pod = serde_json::json!({"spec": {"readinessGates": [
            {"conditionType": "example.com/lb"}, {"conditionType": "example.com/db"}]}});
        assert_eq!(readiness_gates(&pod), ["example.com/lb", "example.com/db"]);
        assert!(readiness_gates(&serde_json::json!({"spec": {}})).is_empty());
    }

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

    #[test]
    fn pod_and_node_columns() {
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
        let node = json!({
            "metadata": {"labels": {"node-role.kubernetes.io/control-plane": ""}},
            "spec": {"unschedulable": true},
            "status": {"conditions": [{"type": "Ready", "status": "True"}],
                       "addresses": [{"type": "InternalIP", "address": "127.0.0.9"}]}
        });
        assert_eq!(node_status(&node), "Ready,SchedulingDisabled");
        assert_eq!(node_roles(&node), "control-plane");
        assert_eq!(node_address(&node, "InternalIP"), Some("127.0.0.9"));
        assert_eq!(node_roles(&json!({})), "<none>");
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
