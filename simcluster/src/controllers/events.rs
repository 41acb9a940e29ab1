//! Events the controllers record, as a cluster's components do: what
//! happened to an object and who did it, for `kubectl describe` and
//! `kubectl events`.
//!
//! A repeat of one reason and message on one object raises the first
//! event's `count` and `lastTimestamp` (client-go's event correlator), so a
//! pod that stays unschedulable has one `FailedScheduling` event, not one
//! per attempt. At most [`MAX_EVENTS`] are kept, the oldest removed first
//! (a real cluster drops them after an hour), and at most [`BURST`] are
//! written in one pass of the controllers, the rest dropped, as client-go's
//! event broadcaster drops events when its queue is full: a burst of
//! thousands of pods would otherwise hold the cluster's lock for each of
//! their events. Nothing is recorded in a namespace that is gone or
//! terminating.

use std::time::{SystemTime, UNIX_EPOCH};

use serde_json::{json, Value};

use crate::resources;
use crate::state::State;
use crate::store::now_rfc3339;

/// Events kept at most.
pub const MAX_EVENTS: usize = 2_000;
/// Events written at most in one pass of the controllers.
pub const BURST: usize = 100;

/// `Normal` or `Warning`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Normal,
    Warning,
}

/// Records that `component` did `reason` (`message`) to `object`.
pub fn record(
    st: &mut State,
    object: &Value,
    kind: Kind,
    reason: &str,
    message: &str,
    component: &str,
) {
    write(
        st,
        object,
        kind,
        reason,
        message,
        json!({"component": component}),
    );
}

/// Records that the kubelet of `node` did `reason` (`message`) to `pod`
/// (kubectl shows `kubelet` as its source; the node is `source.host`).
pub fn record_by_kubelet(st: &mut State, pod: &Value, node: &str, reason: &str, message: &str) {
    let source = json!({"component": "kubelet", "host": node});
    write(st, pod, Kind::Normal, reason, message, source);
}

fn write(st: &mut State, object: &Value, kind: Kind, reason: &str, message: &str, source: Value) {
    if st.events_to_record == 0 {
        return;
    }
    let Some(def) = resources::by_key("events") else {
        return;
    };
    let meta = &object["metadata"];
    let text = |v: &Value| v.as_str().unwrap_or("").to_string();
    let (ns, name, uid) = (
        text(&meta["namespace"]),
        text(&meta["name"]),
        text(&meta["uid"]),
    );
    // Cluster-scoped objects' events live in `default`, as kubelet's do.
    let event_ns = if ns.is_empty() {
        "default".to_string()
    } else {
        ns.clone()
    };
    let open = st
        .store
        .get("namespaces", "", &event_ns)
        .is_some_and(|n| n["status"]["phase"] != "Terminating");
    if !open {
        return;
    }
    st.events_to_record -= 1;
    let now = now_rfc3339();
    let key = (uid.clone(), reason.to_string(), message.to_string());
    if let Some((ens, ename)) = st.event_index.get(&key) {
        if let Some(old) = st.store.get("events", ens, ename) {
            let mut e = (**old).clone();
            let count = e["count"].as_i64().unwrap_or(1).saturating_add(1);
            e["count"] = json!(count);
            e["lastTimestamp"] = json!(now);
            st.store.replace(def, e);
            return;
        }
    }
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    let mut event_name = format!("{name}.{nanos:x}");
    let mut n = 0u32;
    while st.store.get("events", &event_ns, &event_name).is_some() {
        n += 1;
        event_name = format!("{name}.{nanos:x}{n}");
    }
    let involved = json!({
        "kind": object["kind"], "namespace": ns, "name": name, "uid": uid,
        "apiVersion": object["apiVersion"], "resourceVersion": meta["resourceVersion"],
    });
    let event = json!({
        "metadata": {"name": event_name, "namespace": event_ns},
        "involvedObject": involved,
        "reason": reason,
        "message": message,
        "reportingComponent": source["component"],
        "source": source,
        "firstTimestamp": now,
        "lastTimestamp": now,
        "count": 1,
        "type": match kind { Kind::Normal => "Normal", Kind::Warning => "Warning" },
        "eventTime": null,
        "reportingInstance": "",
    });
    st.store.insert(def, event);
    let at = (event_ns, event_name);
    st.event_index.insert(key.clone(), at.clone());
    st.event_order.push_back((key, at));
    while st.event_order.len() > MAX_EVENTS {
        let Some((key, (ens, ename))) = st.event_order.pop_front() else {
            break;
        };
        st.store.remove("events", &ens, &ename);
        if st.event_index.get(&key) == Some(&(ens, ename)) {
            st.event_index.remove(&key);
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::spec::ClusterSpec;

    fn pod(i: usize) -> Value {
        json!({"apiVersion": "v1", "kind": "Pod",
               "metadata": {"name": format!("p{i}"), "namespace": "default", "uid": format!("u{i}")}})
    }

    #[test]
    fn repeats_count_and_the_oldest_go_first() {
        let mut st = State::new(ClusterSpec::new("events"));
        st.events_to_record = usize::MAX;
        for _ in 0..3 {
            record(
                &mut st,
                &pod(0),
                Kind::Warning,
                "FailedScheduling",
                "no room",
                "s",
            );
        }
        assert_eq!(st.store.count("events"), 1);
        let e = st.store.list("events", None).next().unwrap().clone();
        assert_eq!(
            (e["count"].as_i64(), e["type"].as_str()),
            (Some(3), Some("Warning"))
        );
        for i in 1..=MAX_EVENTS + 10 {
            record(&mut st, &pod(i), Kind::Normal, "Scheduled", "ok", "s");
        }
        assert_eq!(st.store.count("events"), MAX_EVENTS);
        assert_eq!(st.event_index.len(), MAX_EVENTS);
        let names: Vec<String> = st
            .store
            .list("events", None)
            .map(|e| e["involvedObject"]["name"].as_str().unwrap().to_string())
            .collect();
        assert!(!names.contains(&"p0".to_string()) && !names.contains(&"p10".to_string()));
        assert!(
            names.contains(&"p11".to_string()) && names.contains(&format!("p{}", MAX_EVENTS + 10))
        );
        // A deleted namespace records nothing.
        let mut gone = pod(1);
        gone["metadata"]["namespace"] = json!("nowhere");
        record(&mut st, &gone, Kind::Normal, "Scheduled", "ok", "s");
        assert_eq!(st.store.list("events", Some("nowhere")).count(), 0);
    }

    #[test]
    fn a_pass_writes_at_most_a_burst() {
        let mut st = State::new(ClusterSpec::new("events"));
        st.events_to_record = BURST;
        for i in 0..BURST * 3 {
            record(&mut st, &pod(i), Kind::Normal, "Scheduled", "ok", "s");
        }
        assert_eq!(st.store.count("events"), BURST);
    }
}
