//! kube-scheduler's `DefaultPreemption`: a pod that fits nowhere may take
//! the place of pods of lower priority.
//!
//! A pod whose `preemptionPolicy` is not `Never` looks at each node that
//! refused it for resources alone (not a taint, a selector or a volume):
//! without every non-terminal pod of lower priority on it, would it fit?
//! If so, the fewest of them are victims: they are given back, the most
//! important first (higher priority, then the earlier started), while the
//! pod still fits. The node chosen has the least important victims (the lowest
//! highest-priority victim, then the lowest sum of priorities, then the
//! fewest, then the first by name). The victims are deleted, each with a
//! `Preempted` event naming the pod's uid and the node, and the pod is
//! nominated there (`status.nominatedNodeName`) until it is scheduled on a
//! later pass (tried there first): a pod of no higher priority sees the
//! node as if the nominated pod ran on it ([`Nominated`]), so the room made
//! is not taken from it. A nomination is given up when a later preemption
//! finds no candidate, or when one of higher priority takes the node.
//!
//! Not simulated: PodDisruptionBudgets of victims (kube prefers victims
//! whose budget allows it), a victim's graceful termination (it is gone at
//! once, without the `DisruptionTarget` condition).

use std::borrow::Cow;
use std::collections::BTreeMap;

use serde_json::Value;

use super::events::{self, Kind};
use super::scheduler::{constraint_failure, fit_failures};
use crate::pods::{self, add_resources, sub_resources, Resources};
use crate::state::State;

/// A pod's priority (`spec.priority`, 0 when unset).
pub(crate) fn priority(pod: &Value) -> i64 {
    pod["spec"]["priority"].as_i64().unwrap_or(0)
}

/// A pod that may displace others: its policy is not `Never`.
pub(super) fn may_preempt(pod: &Value) -> bool {
    pod["spec"]["preemptionPolicy"].as_str() != Some("Never")
}

/// A pod a node runs, as preemption weighs it.
struct Runner {
    key: (String, String),
    priority: i64,
    created: String,
    requests: Resources,
}

/// The pods each node runs (bound, not terminal), read once a pass and
/// only when a pod may preempt: with thousands of pods pending, each would
/// otherwise scan every pod of the cluster.
#[derive(Default)]
pub(super) struct Running {
    by_node: BTreeMap<String, Vec<Runner>>,
    /// Each node's lowest priority: a node with none below a pod's is
    /// passed over without a look at its pods.
    lowest: BTreeMap<String, i64>,
}

impl Running {
    pub(super) fn of(st: &State) -> Self {
        let mut r = Running::default();
        for p in st.store.list("pods", None) {
            let Some(node) = pods::bound_node(p).filter(|_| !pods::is_terminal(p)) else {
                continue;
            };
            let meta = &p["metadata"];
            let text = |f: &str| meta[f].as_str().unwrap_or("").to_string();
            let started = started_at(p);
            r.by_node.entry(node.to_string()).or_default().push(Runner {
                key: (text("namespace"), text("name")),
                priority: priority(p),
                created: started,
                requests: pods::sched_requests(p),
            });
        }
        for node in r.by_node.keys().cloned().collect::<Vec<_>>() {
            r.note_lowest(&node);
        }
        r
    }

    fn note_lowest(&mut self, node: &str) {
        match self
            .by_node
            .get(node)
            .and_then(|rs| rs.iter().map(|r| r.priority).min())
        {
            Some(p) => self.lowest.insert(node.to_string(), p),
            None => self.lowest.remove(node),
        };
    }
}

/// When a pod started, as kube's `MoreImportantPod` breaks ties by it: a
/// pod not started yet counts as starting now (`GetPodStartTime`), so it
/// is less important than any that runs.
fn started_at(pod: &Value) -> String {
    pod["status"]["startTime"]
        .as_str()
        .map(str::to_string)
        .unwrap_or_else(crate::store::now_rfc3339)
}

/// One candidate node: its victims.
struct Candidate {
    node: String,
    victims: Vec<(String, String)>,
    /// The highest victim priority, the sum of them.
    top: i64,
    sum: i128,
}

impl Candidate {
    /// kube's `pickOneNodeForPreemption` order: lower is better.
    fn cost(&self) -> (i64, i128, usize) {
        (self.top, self.sum, self.victims.len())
    }
}

/// The victims on `node` that would let a pod of priority `mine` asking
/// `req` fit, if there are any such.
fn victims_on<'a>(
    running: &'a [Runner],
    mine: i64,
    req: &Resources,
    alloc: &Resources,
    used: &Resources,
) -> Option<(Vec<&'a Runner>, i64, i128)> {
    let mut lower: Vec<&'a Runner> = running.iter().filter(|r| r.priority < mine).collect();
    if lower.is_empty() {
        return None;
    }
    let mut left = used.clone();
    for v in &lower {
        sub_resources(&mut left, &v.requests);
    }
    if !fit_failures(req, alloc, &left).is_empty() {
        return None;
    }
    // Given back the most important first: higher priority, then older.
    lower.sort_by(|a, b| {
        b.priority
            .cmp(&a.priority)
            .then_with(|| a.created.cmp(&b.created))
    });
    let mut victims = Vec::new();
    for v in lower {
        let mut with = left.clone();
        add_resources(&mut with, &v.requests);
        if fit_failures(req, alloc, &with).is_empty() {
            left = with;
        } else {
            victims.push(v);
        }
    }
    let top = victims.iter().map(|v| v.priority).max()?;
    // As kube sums them: each shifted above zero (by 2^31), so fewer
    // victims win even when priorities are negative.
    let sum = victims
        .iter()
        .map(|v| i128::from(v.priority) + (1 << 31))
        .sum();
    // None needed (the node's figures were stale): no candidate.
    Some((victims, top, sum))
}

/// What a preemption did: the node to nominate and what its victims held
/// there (now free).
pub(super) struct Preempted {
    pub node: String,
    pub freed: Resources,
}

/// Preempts for `pod`, which fits on no node: deletes the victims on the
/// node chosen and answers that node (to nominate), or `None` when no node
/// would take it. The caller has checked [`may_preempt`].
pub(super) fn preempt(
    st: &mut State,
    pod: &Value,
    nodes: &[(Value, Resources)],
    used: &BTreeMap<String, Resources>,
    pinned: Option<&str>,
    running: &mut Option<Running>,
) -> Option<Preempted> {
    let running = running.get_or_insert_with(|| Running::of(st));
    let mine = priority(pod);
    let req = pods::sched_requests(pod);
    let empty = Resources::new();
    let mut best: Option<Candidate> = None;
    for (node, alloc) in nodes {
        let name = node["metadata"]["name"].as_str().unwrap_or("");
        if running.lowest.get(name).is_none_or(|low| *low >= mine) {
            continue;
        }
        let Some(on_node) = running.by_node.get(name) else {
            continue;
        };
        // Only a node that refused the pod for resources can be helped.
        if constraint_failure(&pod["spec"], node).is_some() || pinned.is_some_and(|p| p != name) {
            continue;
        }
        let u = used.get(name).unwrap_or(&empty);
        let Some((victims, top, sum)) = victims_on(on_node, mine, &req, alloc, u) else {
            continue;
        };
        let c = Candidate {
            node: name.to_string(),
            victims: victims.iter().map(|v| v.key.clone()).collect(),
            top,
            sum,
        };
        if best
            .as_ref()
            .is_none_or(|b| (c.cost(), &c.node) < (b.cost(), &b.node))
        {
            best = Some(c);
        }
    }
    let chosen = best?;
    let mut freed = Resources::new();
    if let Some(on_node) = running.by_node.get_mut(&chosen.node) {
        for r in on_node.iter().filter(|r| chosen.victims.contains(&r.key)) {
            add_resources(&mut freed, &r.requests);
        }
        on_node.retain(|r| !chosen.victims.contains(&r.key));
    }
    running.note_lowest(&chosen.node);
    let uid = pod["metadata"]["uid"].as_str().unwrap_or("");
    let message = format!("Preempted by pod {uid} on node {}", chosen.node);
    for (ns, name) in &chosen.victims {
        if let Some(v) = st.store.remove("pods", ns, name) {
            let scheduler = super::scheduler::SCHEDULER;
            events::record(st, &v, Kind::Normal, "Preempted", &message, scheduler);
        }
    }
    Some(Preempted {
        node: chosen.node,
        freed,
    })
}

/// Pods nominated to a node (they preempted there and wait to be placed),
/// with what they will take: kube-scheduler's nominator.
#[derive(Default)]
pub(super) struct Nominated(Vec<Nomination>);

struct Nomination {
    key: (String, String),
    node: String,
    priority: i64,
    requests: Resources,
}

impl Nominated {
    /// The nominations of the pending pods.
    pub(super) fn of(st: &State, pending: &[(String, String)]) -> Self {
        let mut n = Nominated::default();
        for (ns, name) in pending {
            if let Some(p) = st.store.get("pods", ns, name) {
                if let Some(node) = p["status"]["nominatedNodeName"].as_str() {
                    n.add((ns.clone(), name.clone()), node, p);
                }
            }
        }
        n
    }

    /// Records that the pod `key` is nominated to `node`.
    pub(super) fn add(&mut self, key: (String, String), node: &str, pod: &Value) {
        self.remove(&key);
        self.0.push(Nomination {
            key,
            node: node.to_string(),
            priority: priority(pod),
            requests: pods::sched_requests(pod),
        });
    }

    /// The pods of priority below `priority` nominated to `node` (their
    /// room was taken by a preemption of higher priority), now no longer.
    pub(super) fn take_lower(&mut self, node: &str, priority: i64) -> Vec<(String, String)> {
        let (lower, keep) = std::mem::take(&mut self.0)
            .into_iter()
            .partition(|n| n.node == node && n.priority < priority);
        self.0 = keep;
        lower.into_iter().map(|n: Nomination| n.key).collect()
    }

    /// The pod `key` is placed (or gone): its nomination holds nothing.
    pub(super) fn remove(&mut self, key: &(String, String)) {
        self.0.retain(|n| &n.key != key);
    }

    /// What each node holds as the pod `key` of `priority` sees it: the
    /// nominated pods of at least its priority (itself aside) count as
    /// running where they were nominated.
    pub(super) fn used_for<'a>(
        &self,
        used: &'a BTreeMap<String, Resources>,
        key: &(String, String),
        priority: i64,
    ) -> Cow<'a, BTreeMap<String, Resources>> {
        let mut seen = Cow::Borrowed(used);
        for n in self
            .0
            .iter()
            .filter(|n| &n.key != key && n.priority >= priority)
        {
            add_resources(
                seen.to_mut().entry(n.node.clone()).or_default(),
                &n.requests,
            );
        }
        seen
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `n` GPUs (quantities are kept in thousandths).
    fn gpus(n: i128) -> Resources {
        Resources::from([("nvidia.com/gpu".to_string(), n * 1000)])
    }

    fn gpus_of(r: &BTreeMap<String, Resources>) -> i128 {
        r["gpu-1"]["nvidia.com/gpu"] / 1000
    }

    fn runner(name: &str, priority: i64, created: &str) -> Runner {
        Runner {
            key: ("default".into(), name.into()),
            priority,
            created: created.into(),
            requests: gpus(1),
        }
    }

    /// The fewest victims, the older and the more important given back
    /// first; no candidate where even all lower pods would not make room.
    #[test]
    fn victims_are_the_fewest_and_least_important() {
        let on_node = [
            runner("old", 10, "2026-01-01T00:00:00Z"),
            runner("new", 10, "2026-02-01T00:00:00Z"),
            runner("high", 500, "2026-01-01T00:00:00Z"),
            runner("newest", 10, "2026-03-01T00:00:00Z"),
        ];
        let (victims, top, sum) = victims_on(&on_node, 100, &gpus(2), &gpus(4), &gpus(4)).unwrap();
        let names: Vec<&str> = victims.iter().map(|v| v.key.1.as_str()).collect();
        assert_eq!(names, ["new", "newest"]);
        assert_eq!((top, sum), (10, 2 * (10 + (1 << 31))));
        // Three GPUs for it: the pod of 500 stays, so no room on this node.
        assert!(victims_on(&on_node, 100, &gpus(4), &gpus(4), &gpus(4)).is_none());
        // Nothing of lower priority: no candidate.
        assert!(victims_on(&on_node, 10, &gpus(1), &gpus(4), &gpus(4)).is_none());
    }

    #[test]
    fn a_pod_not_started_counts_as_starting_now() {
        let running = serde_json::json!({"status": {"startTime": "2026-01-01T00:00:00Z"}});
        assert_eq!(started_at(&running), "2026-01-01T00:00:00Z");
        let waiting =
            serde_json::json!({"metadata": {"creationTimestamp": "2020-01-01T00:00:00Z"}});
        assert!(started_at(&waiting) > started_at(&running));
    }

    #[test]
    fn a_nomination_counts_for_pods_of_lower_priority_only() {
        let mut n = Nominated::default();
        let pod = serde_json::json!({"spec": {"priority": 100, "containers": [
            {"name": "c", "resources": {"requests": {"nvidia.com/gpu": "2"}}}]}});
        n.add(("default".into(), "urgent".into()), "gpu-1", &pod);
        let used = BTreeMap::from([("gpu-1".to_string(), gpus(1))]);
        let lower = n.used_for(&used, &("default".into(), "peer".into()), 10);
        assert_eq!(gpus_of(&lower), 3);
        let higher = n.used_for(&used, &("default".into(), "vip".into()), 1000);
        assert_eq!(gpus_of(&higher), 1);
        let itself = n.used_for(&used, &("default".into(), "urgent".into()), 100);
        assert_eq!(gpus_of(&itself), 1);
        n.remove(&("default".into(), "urgent".into()));
        let after = n.used_for(&used, &("default".into(), "peer".into()), 10);
        assert_eq!(gpus_of(&after), 1);

        // A preemption of higher priority on the node takes the room of
        // the lower nominations there, not of others.
        n.add(("default".into(), "low".into()), "gpu-1", &pod);
        let mut other = pod.clone();
        other["spec"]["priority"] = serde_json::json!(5);
        n.add(("default".into(), "elsewhere".into()), "gpu-2", &other);
        let taken = n.take_lower("gpu-1", 500);
        assert_eq!(taken, [("default".to_string(), "low".to_string())]);
        let none = BTreeMap::new();
        let left = n.used_for(&none, &("default".into(), "x".into()), 0);
        assert!(left.get("gpu-1").is_none());
        assert_eq!(left["gpu-2"]["nvidia.com/gpu"], 2000);
    }
}
