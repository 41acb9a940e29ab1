//! The object store: every stored object as JSON, keyed by resource, namespace
//! and name, with the bookkeeping a real API server does on each write.
//!
//! * `metadata.uid` (random v4 UUID) and `creationTimestamp` on insert.
//! * `metadata.resourceVersion`: one cluster-wide, strictly increasing counter,
//!   bumped by every write (also deletes, which report the new version).
//! * `metadata.generation` for kinds that keep it, bumped when anything but
//!   `metadata`/`status` changes.
//! * A bounded event log plus a broadcast channel feeding watches, so a watch
//!   can resume from any recent `resourceVersion`.
//! * Indexes the controllers need to stay cheap with many pods: uid -> object,
//!   owner uid -> dependents, requests of non-terminal pods per node, and the
//!   set of pods still waiting for a node.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet, VecDeque};
use std::sync::Arc;

use serde_json::{json, Value};
use tokio::sync::broadcast;

use crate::pods::{self, Resources};
use crate::resources::ResourceDef;

/// A stored object (shared with watch events, copied on write).
pub type Obj = Arc<Value>;

/// `(resource key, namespace, name)`; namespace is `""` for cluster-scoped.
pub type ObjRef = (String, String, String);

/// The kind of a watch event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventType {
    /// Object created.
    Added,
    /// Object changed.
    Modified,
    /// Object removed.
    Deleted,
}

impl EventType {
    /// Wire name (`ADDED`).
    pub fn as_str(&self) -> &'static str {
        match self {
            EventType::Added => "ADDED",
            EventType::Modified => "MODIFIED",
            EventType::Deleted => "DELETED",
        }
    }
}

/// One change, as delivered to watches.
#[derive(Debug, Clone)]
pub struct Event {
    /// resourceVersion of the change.
    pub rv: u64,
    /// Resource store key (`pods`).
    pub key: String,
    /// Namespace (`""` when cluster-scoped).
    pub namespace: String,
    /// What happened.
    pub kind: EventType,
    /// The object after the change (the last state for deletes).
    pub object: Obj,
}

const LOG_CAP: usize = 20_000;

/// All stored objects and their indexes.
pub struct Store {
    objects: HashMap<String, BTreeMap<(String, String), Obj>>,
    rv: u64,
    log: VecDeque<Arc<Event>>,
    tx: broadcast::Sender<Arc<Event>>,
    uids: HashMap<String, ObjRef>,
    children: HashMap<String, BTreeSet<ObjRef>>,
    node_requests: HashMap<String, Resources>,
    pending: BTreeSet<(String, String)>,
    starting: BTreeSet<(String, String)>,
    last_change: HashMap<String, u64>,
    /// uids of objects changed since the workload controllers last looked,
    /// plus the uids of their owners (a controller's work queue).
    pub dirty: HashSet<String>,
    /// While a cluster is made: the creation time of what it starts with
    /// (the cluster's age, not the moment the simulation started).
    pub(crate) born: Option<String>,
}

impl Default for Store {
    fn default() -> Self {
        Self::new()
    }
}

/// Current time as a Kubernetes timestamp (`2024-01-02T03:04:05Z`).
pub fn now_rfc3339() -> String {
    chrono::Utc::now().format("%Y-%m-%dT%H:%M:%SZ").to_string()
}

/// A random v4 UUID string.
pub fn new_uid() -> String {
    let b: [u8; 16] = rand::random();
    format!(
        "{:02x}{:02x}{:02x}{:02x}-{:02x}{:02x}-4{:01x}{:02x}-{:01x}{:01x}{:02x}-{:02x}{:02x}{:02x}{:02x}{:02x}{:02x}",
        b[0], b[1], b[2], b[3], b[4], b[5], b[6] & 0x0f, b[7], 8 | (b[8] & 0x3), b[8] >> 4, b[9], b[10], b[11], b[12], b[13], b[14], b[15]
    )
}

fn meta_str<'a>(obj: &'a Value, field: &str) -> &'a str {
    obj.get("metadata")
        .and_then(|m| m.get(field))
        .and_then(Value::as_str)
        .unwrap_or("")
}

/// Everything but `metadata` and `status` (what `generation` tracks).
fn spec_part(obj: &Value) -> Value {
    let mut m = obj.as_object().cloned().unwrap_or_default();
    for k in ["metadata", "status", "apiVersion", "kind"] {
        m.remove(k);
    }
    Value::Object(m)
}

impl Store {
    /// An empty store.
    pub fn new() -> Self {
        let (tx, _) = broadcast::channel(8192);
        Store {
            objects: HashMap::new(),
            rv: 1,
            log: VecDeque::new(),
            tx,
            uids: HashMap::new(),
            children: HashMap::new(),
            node_requests: HashMap::new(),
            pending: BTreeSet::new(),
            starting: BTreeSet::new(),
            last_change: HashMap::new(),
            dirty: HashSet::new(),
            born: None,
        }
    }

    /// The latest resourceVersion.
    pub fn resource_version(&self) -> u64 {
        self.rv
    }

    /// One object.
    pub fn get(&self, key: &str, ns: &str, name: &str) -> Option<&Obj> {
        self.objects
            .get(key)?
            .get(&(ns.to_string(), name.to_string()))
    }

    /// Objects of a resource, in one namespace or all (`None`), sorted by namespace and name.
    pub fn list<'a>(
        &'a self,
        key: &str,
        ns: Option<&'a str>,
    ) -> Box<dyn Iterator<Item = &'a Obj> + 'a> {
        self.list_after(key, ns, None)
    }

    /// Objects of a resource in key order (namespace, then name), only those
    /// strictly after `after` when given: where a list page left off. Finding
    /// the start is a tree seek, so a page costs its own size, not the list's.
    pub fn list_after<'a>(
        &'a self,
        key: &str,
        ns: Option<&'a str>,
        after: Option<(String, String)>,
    ) -> Box<dyn Iterator<Item = &'a Obj> + 'a> {
        use std::ops::Bound::{Excluded, Included, Unbounded};
        let Some(map) = self.objects.get(key) else {
            return Box::new(std::iter::empty());
        };
        let lower = match (after, ns) {
            (Some(after), _) => Excluded(after),
            (None, Some(ns)) => Included((ns.to_string(), String::new())),
            (None, None) => Unbounded,
        };
        let from = map.range((lower, Unbounded));
        match ns {
            None => Box::new(from.map(|(_, v)| v)),
            Some(ns) => Box::new(
                from.skip_while(move |((n, _), _)| n.as_str() < ns)
                    .take_while(move |((n, _), _)| n == ns)
                    .map(|(_, v)| v),
            ),
        }
    }

    /// Number of objects of a resource.
    pub fn count(&self, key: &str) -> usize {
        self.objects.get(key).map_or(0, BTreeMap::len)
    }

    /// The object with this uid.
    pub fn by_uid(&self, uid: &str) -> Option<&ObjRef> {
        self.uids.get(uid)
    }

    /// Objects whose ownerReferences name this uid.
    pub fn dependents(&self, uid: &str) -> Vec<ObjRef> {
        self.children
            .get(uid)
            .map(|s| s.iter().cloned().collect())
            .unwrap_or_default()
    }

    /// Requests of the non-terminal pods bound to a node.
    pub fn node_requests(&self, node: &str) -> Resources {
        self.node_requests.get(node).cloned().unwrap_or_default()
    }

    /// Pods (namespace, name) without a node that still need one.
    pub fn pending_pods(&self) -> Vec<(String, String)> {
        self.pending.iter().cloned().collect()
    }

    /// Bound pods (namespace, name) the kubelet has not started yet.
    pub fn starting_pods(&self) -> Vec<(String, String)> {
        self.starting.iter().cloned().collect()
    }

    /// Whether any of these resources changed after resourceVersion `rv`.
    pub fn changed_since(&self, keys: &[&str], rv: u64) -> bool {
        keys.iter()
            .any(|k| self.last_change.get(*k).is_some_and(|c| *c > rv))
    }

    /// Subscribes to future events (take it before replaying the log).
    pub fn subscribe(&self) -> broadcast::Receiver<Arc<Event>> {
        self.tx.subscribe()
    }

    /// Logged events after `rv`, or `None` when the log no longer reaches back that far.
    pub fn events_since(&self, rv: u64) -> Option<Vec<Arc<Event>>> {
        if let Some(first) = self.log.front() {
            if rv.saturating_add(1) < first.rv && rv < self.rv {
                return None;
            }
        }
        Some(self.log.iter().filter(|e| e.rv > rv).cloned().collect())
    }

    fn next_rv(&mut self) -> u64 {
        self.rv += 1;
        self.rv
    }

    fn emit(&mut self, key: &str, ns: &str, kind: EventType, object: Obj) {
        self.last_change.insert(key.to_string(), self.rv);
        let ev = Arc::new(Event {
            rv: self.rv,
            key: key.to_string(),
            namespace: ns.to_string(),
            kind,
            object,
        });
        self.log.push_back(ev.clone());
        if self.log.len() > LOG_CAP {
            self.log.pop_front();
        }
        let _ = self.tx.send(ev);
    }

    fn index_remove(&mut self, key: &str, obj: &Value) {
        let ns = meta_str(obj, "namespace").to_string();
        let name = meta_str(obj, "name").to_string();
        self.uids.remove(meta_str(obj, "uid"));
        self.dirty.insert(meta_str(obj, "uid").to_string());
        let r: ObjRef = (key.to_string(), ns.clone(), name.clone());
        for owner in owner_uids(obj) {
            self.dirty.insert(owner.clone());
            if let Some(set) = self.children.get_mut(&owner) {
                set.remove(&r);
                if set.is_empty() {
                    self.children.remove(&owner);
                }
            }
        }
        if key == "pods" {
            self.starting.remove(&(ns.clone(), name.clone()));
            self.pending.remove(&(ns, name));
            if let Some(node) = pods::bound_node(obj) {
                if !pods::is_terminal(obj) {
                    let req = pods::sched_requests(obj);
                    if let Some(acc) = self.node_requests.get_mut(node) {
                        pods::sub_resources(acc, &req);
                    }
                }
            }
        }
    }

    fn index_add(&mut self, key: &str, obj: &Value) {
        let ns = meta_str(obj, "namespace").to_string();
        let name = meta_str(obj, "name").to_string();
        let r: ObjRef = (key.to_string(), ns.clone(), name.clone());
        self.uids
            .insert(meta_str(obj, "uid").to_string(), r.clone());
        self.dirty.insert(meta_str(obj, "uid").to_string());
        for owner in owner_uids(obj) {
            self.dirty.insert(owner.clone());
            self.children.entry(owner).or_default().insert(r.clone());
        }
        if key == "pods" && !pods::is_terminal(obj) {
            match pods::bound_node(obj) {
                Some(node) => {
                    let req = pods::sched_requests(obj);
                    pods::add_resources(
                        self.node_requests.entry(node.to_string()).or_default(),
                        &req,
                    );
                    if pods::phase(obj) == "Pending" && obj.pointer("/status/startTime").is_none() {
                        self.starting.insert((ns, name));
                    }
                }
                None if obj.pointer("/metadata/deletionTimestamp").is_none() => {
                    self.pending.insert((ns, name));
                }
                None => {}
            }
        }
    }

    /// Inserts a new object: assigns uid, creationTimestamp, generation and resourceVersion.
    /// The caller has checked that the name is free.
    pub fn insert(&mut self, def: &ResourceDef, mut obj: Value) -> Obj {
        let rv = self.next_rv();
        if !obj["metadata"].is_object() {
            obj["metadata"] = json!({});
        }
        if let Some(meta) = obj["metadata"].as_object_mut() {
            if meta
                .get("uid")
                .and_then(Value::as_str)
                .unwrap_or("")
                .is_empty()
            {
                meta.insert("uid".into(), json!(new_uid()));
            }
            if meta
                .get("creationTimestamp")
                .and_then(Value::as_str)
                .is_none()
            {
                let created = self.born.clone().unwrap_or_else(now_rfc3339);
                meta.insert("creationTimestamp".into(), json!(created));
            }
            if def.generation {
                meta.insert("generation".into(), json!(1));
            } else {
                meta.remove("generation");
            }
            meta.insert("resourceVersion".into(), json!(rv.to_string()));
        }
        obj["apiVersion"] = json!(def.api_version());
        obj["kind"] = json!(def.kind);
        let key = def.key();
        let ns = meta_str(&obj, "namespace").to_string();
        let name = meta_str(&obj, "name").to_string();
        self.index_add(&key, &obj);
        let obj: Obj = Arc::new(obj);
        self.objects
            .entry(key.clone())
            .or_default()
            .insert((ns.clone(), name), obj.clone());
        self.emit(&key, &ns, EventType::Added, obj.clone());
        obj
    }

    /// Replaces an existing object: keeps uid and creationTimestamp, bumps
    /// resourceVersion (and generation when the spec changed). Returns the
    /// stored object; a replacement equal to the stored one is not a write.
    pub fn replace(&mut self, def: &ResourceDef, mut obj: Value) -> Option<Obj> {
        let key = def.key();
        let ns = meta_str(&obj, "namespace").to_string();
        let name = meta_str(&obj, "name").to_string();
        let old = self.get(&key, &ns, &name)?.clone();
        for f in ["uid", "creationTimestamp", "resourceVersion", "generation"] {
            match old["metadata"].get(f) {
                Some(v) => obj["metadata"][f] = v.clone(),
                None => {
                    if let Some(m) = obj["metadata"].as_object_mut() {
                        m.remove(f);
                    }
                }
            }
        }
        obj["apiVersion"] = json!(def.api_version());
        obj["kind"] = json!(def.kind);
        if obj == *old {
            return Some(old);
        }
        if def.generation && spec_part(&obj) != spec_part(&old) {
            let g = old["metadata"]["generation"].as_i64().unwrap_or(1);
            obj["metadata"]["generation"] = json!(g + 1);
        }
        let rv = self.next_rv();
        obj["metadata"]["resourceVersion"] = json!(rv.to_string());
        if key == "pods" && holds_node(&old).is_some() && holds_node(&old) != holds_node(&obj) {
            self.last_change.insert("pods-freed".into(), rv);
        }
        self.index_remove(&key, &old);
        self.index_add(&key, &obj);
        let obj: Obj = Arc::new(obj);
        self.objects
            .entry(key.clone())
            .or_default()
            .insert((ns.clone(), name), obj.clone());
        self.emit(&key, &ns, EventType::Modified, obj.clone());
        Some(obj)
    }

    /// Removes an object; the returned (and watched) copy carries the deleting resourceVersion.
    pub fn remove(&mut self, key: &str, ns: &str, name: &str) -> Option<Obj> {
        let old = self
            .objects
            .get_mut(key)?
            .remove(&(ns.to_string(), name.to_string()))?;
        if key == "pods" && holds_node(&old).is_some() {
            self.last_change.insert("pods-freed".into(), self.rv + 1);
        }
        self.index_remove(key, &old);
        let rv = self.next_rv();
        let mut last = (*old).clone();
        last["metadata"]["resourceVersion"] = json!(rv.to_string());
        let last: Obj = Arc::new(last);
        self.emit(key, ns, EventType::Deleted, last.clone());
        Some(last)
    }
}

/// The node a pod holds resources on (bound and not terminal).
fn holds_node(pod: &Value) -> Option<&str> {
    pods::bound_node(pod).filter(|_| !pods::is_terminal(pod))
}

/// uids in an object's ownerReferences.
pub fn owner_uids(obj: &Value) -> Vec<String> {
    obj.pointer("/metadata/ownerReferences")
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(|o| o.get("uid").and_then(Value::as_str).map(String::from))
                .collect()
        })
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::resources;

    #[test]
    fn versions_and_indexes() {
        let mut s = Store::new();
        let pods = resources::find("", "v1", "pods").unwrap();
        let p = s.insert(pods, json!({"metadata": {"name": "a", "namespace": "ns"}, "spec": {"containers": [{"name": "c", "resources": {"requests": {"cpu": "500m"}}}]}}));
        let rv1: u64 = p["metadata"]["resourceVersion"]
            .as_str()
            .unwrap()
            .parse()
            .unwrap();
        assert_eq!(p["metadata"]["uid"].as_str().unwrap().len(), 36);
        assert_eq!(s.pending_pods(), vec![("ns".to_string(), "a".to_string())]);
        let mut bound = (*p).clone();
        bound["spec"]["nodeName"] = json!("n1");
        let b = s.replace(pods, bound).unwrap();
        let rv2: u64 = b["metadata"]["resourceVersion"]
            .as_str()
            .unwrap()
            .parse()
            .unwrap();
        assert!(rv2 > rv1);
        assert_eq!(b["metadata"]["uid"], p["metadata"]["uid"]);
        assert!(s.pending_pods().is_empty());
        assert_eq!(s.node_requests("n1").get("cpu"), Some(&500));
        assert_eq!(s.node_requests("n1").get("pods"), Some(&1000));
        let same = s.replace(pods, (*b).clone()).unwrap();
        assert_eq!(
            same["metadata"]["resourceVersion"], b["metadata"]["resourceVersion"],
            "no-op writes keep the version"
        );
        let gone = s.remove("pods", "ns", "a").unwrap();
        assert!(
            gone["metadata"]["resourceVersion"]
                .as_str()
                .unwrap()
                .parse::<u64>()
                .unwrap()
                > rv2
        );
        assert_eq!(s.node_requests("n1").get("cpu"), Some(&0));
        assert_eq!(s.events_since(rv1 - 1).unwrap().len(), 3);
        // A watch from the largest version a caller can send: nothing yet.
        assert_eq!(s.events_since(u64::MAX).map(|e| e.len()), Some(0));
    }

    #[test]
    fn generation_tracks_spec() {
        let mut s = Store::new();
        let d = resources::find("apps", "v1", "deployments").unwrap();
        let o = s.insert(
            d,
            json!({"metadata": {"name": "d", "namespace": "ns"}, "spec": {"replicas": 1}}),
        );
        assert_eq!(o["metadata"]["generation"], 1);
        let mut st = (*o).clone();
        st["status"] = json!({"replicas": 1});
        let o = s.replace(d, st).unwrap();
        assert_eq!(o["metadata"]["generation"], 1);
        let mut sp = (*o).clone();
        sp["spec"]["replicas"] = json!(3);
        assert_eq!(s.replace(d, sp).unwrap()["metadata"]["generation"], 2);
    }
}
