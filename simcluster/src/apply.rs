//! Server-side apply and `metadata.managedFields`.
//!
//! Field ownership is tracked per field manager in the `FieldsV1` format
//! (`{"f:spec":{"f:replicas":{}}}`, keyed list items as `k:{"name":"app"}`,
//! set members as `v:"x"`). An apply (`application/apply-patch+yaml`):
//!
//! 1. computes the set of fields in the applied configuration;
//! 2. reports a `409 Conflict` for every field owned by another manager whose
//!    live value differs from the applied one, unless `force=true`, in which
//!    case ownership moves to the applier;
//! 3. removes fields the applier owned before, no longer applies, and nobody
//!    else owns;
//! 4. merges the configuration into the live object (maps recursively, keyed
//!    lists by merge key, other lists replaced).
//!
//! Ordinary writes (create, update, merge/strategic/json patch) record an
//! `Update` entry for the fields they changed and take those fields from
//! other managers, which is what makes a later apply conflict, as in Kubernetes.

use std::collections::BTreeMap;

use serde_json::{json, Map, Value};

use crate::error::ApiError;
use crate::patch::merge_key;

/// A field set: children by path element (`f:name`, `k:{..}`, `v:..`, `.`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Fields(pub BTreeMap<String, Fields>);

const SKIP_META: &[&str] = &[
    "name",
    "namespace",
    "uid",
    "resourceVersion",
    "creationTimestamp",
    "generation",
    "managedFields",
    "deletionTimestamp",
    "selfLink",
];

impl Fields {
    /// The fields present in an object (top-level `apiVersion`, `kind`,
    /// `status` and server-owned metadata are not tracked).
    pub fn of_object(obj: &Value) -> Fields {
        let mut f = Fields::default();
        if let Some(m) = obj.as_object() {
            for (k, v) in m {
                match k.as_str() {
                    "apiVersion" | "kind" | "status" => {}
                    "metadata" => {
                        let mut meta = Fields::default();
                        if let Some(mm) = v.as_object() {
                            for (mk, mv) in mm {
                                if !SKIP_META.contains(&mk.as_str()) {
                                    meta.0.insert(
                                        format!("f:{mk}"),
                                        of_value(mv, &mut vec!["metadata".into(), mk.clone()]),
                                    );
                                }
                            }
                        }
                        if !meta.0.is_empty() {
                            f.0.insert("f:metadata".into(), meta);
                        }
                    }
                    _ => {
                        f.0.insert(format!("f:{k}"), of_value(v, &mut vec![k.clone()]));
                    }
                }
            }
        }
        f
    }

    /// Reads the `fieldsV1` JSON form.
    pub fn from_json(v: &Value) -> Fields {
        Fields(
            v.as_object()
                .map(|m| {
                    m.iter()
                        .map(|(k, v)| (k.clone(), Fields::from_json(v)))
                        .collect()
                })
                .unwrap_or_default(),
        )
    }

    /// The `fieldsV1` JSON form.
    pub fn to_json(&self) -> Value {
        Value::Object(
            self.0
                .iter()
                .map(|(k, v)| (k.clone(), v.to_json()))
                .collect(),
        )
    }

    /// Paths to every leaf (and every `.` marker).
    pub fn leaves(&self) -> Vec<Vec<String>> {
        let mut out = Vec::new();
        self.collect(&mut Vec::new(), &mut out);
        out
    }

    fn collect(&self, prefix: &mut Vec<String>, out: &mut Vec<Vec<String>>) {
        for (k, v) in &self.0 {
            prefix.push(k.clone());
            if v.0.is_empty() {
                out.push(prefix.clone());
            } else {
                v.collect(prefix, out);
            }
            prefix.pop();
        }
    }

    /// Whether a leaf path is in the set.
    pub fn contains(&self, path: &[String]) -> bool {
        let mut cur = self;
        for p in path {
            match cur.0.get(p) {
                Some(n) => cur = n,
                None => return false,
            }
        }
        true
    }

    /// Removes a path, pruning emptied parents.
    pub fn remove(&mut self, path: &[String]) {
        if path.is_empty() {
            return;
        }
        if path.len() == 1 {
            self.0.remove(&path[0]);
            return;
        }
        if let Some(child) = self.0.get_mut(&path[0]) {
            child.remove(&path[1..]);
            if child.0.is_empty() {
                self.0.remove(&path[0]);
            }
        }
    }

    /// Adds a leaf path.
    pub fn insert(&mut self, path: &[String]) {
        let mut cur = self;
        for p in path {
            cur = cur.0.entry(p.clone()).or_default();
        }
    }
}

fn of_value(v: &Value, path: &mut Vec<String>) -> Fields {
    match v {
        Value::Object(m) if !m.is_empty() => {
            let mut f = Fields::default();
            for (k, v) in m {
                path.push(k.clone());
                f.0.insert(format!("f:{k}"), of_value(v, path));
                path.pop();
            }
            f
        }
        Value::Array(items) => {
            let mut f = Fields::default();
            if let Some(key) = merge_key(path) {
                for item in items {
                    let mut entry = of_value(item, path);
                    entry.0.insert(".".into(), Fields::default());
                    f.0.insert(item_key(key, item), entry);
                }
            } else if path.last().map(String::as_str) == Some("finalizers") {
                for item in items {
                    f.0.insert(format!("v:{item}"), Fields::default());
                }
            }
            f
        }
        _ => Fields::default(),
    }
}

fn item_key(key: &str, item: &Value) -> String {
    let mut m = Map::new();
    m.insert(
        key.to_string(),
        item.get(key).cloned().unwrap_or(Value::Null),
    );
    format!("k:{}", Value::Object(m))
}

/// The value at a field path, if present.
pub fn value_at<'a>(obj: &'a Value, path: &[String]) -> Option<&'a Value> {
    let mut cur = obj;
    for p in path {
        if p == "." {
            continue;
        }
        if let Some(f) = p.strip_prefix("f:") {
            cur = cur.get(f)?;
        } else if let Some(k) = p.strip_prefix("k:") {
            let want: Map<String, Value> = serde_json::from_str(k).ok()?;
            cur = cur
                .as_array()?
                .iter()
                .find(|i| want.iter().all(|(k, v)| i.get(k) == Some(v)))?;
        } else if let Some(v) = p.strip_prefix("v:") {
            let want: Value = serde_json::from_str(v).ok()?;
            cur = cur.as_array()?.iter().find(|i| **i == want)?;
        } else {
            return None;
        }
    }
    Some(cur)
}

/// Removes the value at a field path (a whole list item for `k:`/`v:` paths ending in `.`).
fn remove_at(obj: &mut Value, path: &[String]) {
    let path: Vec<&String> = path.iter().filter(|p| *p != ".").collect();
    let Some((last, parents)) = path.split_last() else {
        return;
    };
    let mut cur = obj;
    for p in parents {
        let next = if let Some(f) = p.strip_prefix("f:") {
            cur.get_mut(f)
        } else if let Some(k) = p.strip_prefix("k:") {
            let want: Map<String, Value> = serde_json::from_str(k).unwrap_or_default();
            cur.as_array_mut().and_then(|a| {
                a.iter_mut()
                    .find(|i| want.iter().all(|(k, v)| i.get(k) == Some(v)))
            })
        } else {
            None
        };
        match next {
            Some(n) => cur = n,
            None => return,
        }
    }
    if let Some(f) = last.strip_prefix("f:") {
        if let Some(m) = cur.as_object_mut() {
            m.remove(f);
        }
    } else if let Some(k) = last.strip_prefix("k:") {
        let want: Map<String, Value> = serde_json::from_str(k).unwrap_or_default();
        if let Some(a) = cur.as_array_mut() {
            a.retain(|i| !want.iter().all(|(k, v)| i.get(k) == Some(v)));
        }
    } else if let Some(v) = last.strip_prefix("v:") {
        let want: Value = serde_json::from_str(v).unwrap_or(Value::Null);
        if let Some(a) = cur.as_array_mut() {
            a.retain(|i| *i != want);
        }
    }
}

/// `.spec.template.spec.containers[name="app"].image`
pub fn display_path(path: &[String]) -> String {
    let mut s = String::new();
    for p in path {
        if let Some(f) = p.strip_prefix("f:") {
            s.push('.');
            s.push_str(f);
        } else if let Some(k) = p.strip_prefix("k:") {
            let m: Map<String, Value> = serde_json::from_str(k).unwrap_or_default();
            let inner: Vec<String> = m.iter().map(|(k, v)| format!("{k}={v}")).collect();
            s.push_str(&format!("[{}]", inner.join(",")));
        } else if let Some(v) = p.strip_prefix("v:") {
            s.push_str(&format!("[={v}]"));
        }
    }
    s
}

/// Merges an applied configuration into a live object (structured merge).
pub fn structured_merge(live: &mut Value, applied: &Value, path: &mut Vec<String>) {
    match (live.as_object_mut(), applied) {
        (Some(lm), Value::Object(am)) => {
            for (k, v) in am {
                if v.is_null() {
                    continue;
                }
                path.push(k.clone());
                match lm.get_mut(k) {
                    Some(cur) => structured_merge(cur, v, path),
                    None => {
                        lm.insert(k.clone(), v.clone());
                    }
                }
                path.pop();
            }
        }
        _ => match (merge_key(path), live.as_array_mut(), applied.as_array()) {
            (Some(key), Some(list), Some(items)) => {
                for item in items {
                    match list.iter_mut().find(|x| x.get(key) == item.get(key)) {
                        Some(existing) => structured_merge(existing, item, path),
                        None => list.push(item.clone()),
                    }
                }
            }
            _ => *live = applied.clone(),
        },
    }
}

/// One `managedFields` entry.
#[derive(Debug, Clone)]
struct Managed {
    manager: String,
    operation: String,
    subresource: Option<String>,
    api_version: String,
    time: String,
    fields: Fields,
}

fn read_managed(obj: &Value) -> Vec<Managed> {
    obj.pointer("/metadata/managedFields")
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .map(|m| Managed {
                    manager: m["manager"].as_str().unwrap_or_default().to_string(),
                    operation: m["operation"].as_str().unwrap_or("Update").to_string(),
                    subresource: m["subresource"].as_str().map(String::from),
                    api_version: m["apiVersion"].as_str().unwrap_or_default().to_string(),
                    time: m["time"].as_str().unwrap_or_default().to_string(),
                    fields: Fields::from_json(&m["fieldsV1"]),
                })
                .collect()
        })
        .unwrap_or_default()
}

fn write_managed(obj: &mut Value, list: Vec<Managed>) {
    let arr: Vec<Value> = list
        .into_iter()
        .filter(|m| !m.fields.0.is_empty())
        .map(|m| {
            let mut v = json!({
                "manager": m.manager, "operation": m.operation, "apiVersion": m.api_version,
                "time": m.time, "fieldsType": "FieldsV1", "fieldsV1": m.fields.to_json()
            });
            if let Some(s) = m.subresource {
                v["subresource"] = json!(s);
            }
            v
        })
        .collect();
    if arr.is_empty() {
        if let Some(m) = obj["metadata"].as_object_mut() {
            m.remove("managedFields");
        }
    } else {
        obj["metadata"]["managedFields"] = Value::Array(arr);
    }
}

/// Server-side apply of `applied` onto `live` (None: create) by `manager`.
/// Returns the new object with updated managedFields.
pub fn apply(
    live: Option<&Value>,
    applied: &Value,
    manager: &str,
    force: bool,
    now: &str,
) -> Result<Value, ApiError> {
    let api_version = applied["apiVersion"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let new_set = Fields::of_object(applied);
    let Some(live) = live else {
        let mut obj = applied.clone();
        strip_nulls(&mut obj);
        let entry = Managed {
            manager: manager.into(),
            operation: "Apply".into(),
            subresource: None,
            api_version,
            time: now.into(),
            fields: new_set,
        };
        write_managed(&mut obj, vec![entry]);
        return Ok(obj);
    };
    let mut managers = read_managed(live);
    let mut conflicts: Vec<(String, String, Vec<String>)> = Vec::new();
    for leaf in new_set.leaves() {
        if leaf.last().map(String::as_str) == Some(".") {
            continue;
        }
        for m in managers
            .iter()
            .filter(|m| !(m.manager == manager && m.operation == "Apply"))
        {
            if m.subresource.is_none()
                && m.fields.contains(&leaf)
                && value_at(live, &leaf) != value_at(applied, &leaf)
            {
                conflicts.push((m.manager.clone(), m.api_version.clone(), leaf.clone()));
            }
        }
    }
    if !conflicts.is_empty() && !force {
        return Err(conflict_error(applied, &conflicts));
    }
    for (who, _, leaf) in &conflicts {
        for m in managers.iter_mut().filter(|m| &m.manager == who) {
            m.fields.remove(leaf);
        }
    }
    let mut obj = live.clone();
    if let Some(prev) = managers
        .iter()
        .find(|m| m.manager == manager && m.operation == "Apply")
    {
        for leaf in prev.fields.leaves() {
            let owned_elsewhere = managers.iter().any(|m| {
                !(m.manager == manager && m.operation == "Apply") && m.fields.contains(&leaf)
            });
            if !new_set.contains(&leaf) && !owned_elsewhere {
                remove_at(&mut obj, &leaf);
            }
        }
    }
    structured_merge(&mut obj, applied, &mut Vec::new());
    managers.retain(|m| !(m.manager == manager && m.operation == "Apply"));
    managers.push(Managed {
        manager: manager.into(),
        operation: "Apply".into(),
        subresource: None,
        api_version,
        time: now.into(),
        fields: new_set,
    });
    write_managed(&mut obj, managers);
    Ok(obj)
}

fn strip_nulls(v: &mut Value) {
    match v {
        Value::Object(m) => {
            m.retain(|_, v| !v.is_null());
            m.values_mut().for_each(strip_nulls);
        }
        Value::Array(a) => a.iter_mut().for_each(strip_nulls),
        _ => {}
    }
}

fn conflict_error(applied: &Value, conflicts: &[(String, String, Vec<String>)]) -> ApiError {
    let n = conflicts.len();
    let mut msg = format!(
        "Apply failed with {n} conflict{}: ",
        if n == 1 { "" } else { "s" }
    );
    let parts: Vec<String> = conflicts
        .iter()
        .map(|(m, v, p)| format!("conflict with \"{m}\" using {v}: {}", display_path(p)))
        .collect();
    msg.push_str(&parts.join("\n"));
    let causes: Vec<Value> = conflicts
        .iter()
        .map(|(m, v, p)| json!({"reason": "FieldManagerConflict", "message": format!("conflict with \"{m}\" using {v}"), "field": display_path(p)}))
        .collect();
    let mut e = ApiError::new(409, "Conflict", msg);
    e.details = Some(
        json!({"name": applied.pointer("/metadata/name"), "kind": applied["kind"], "causes": causes}),
    );
    e
}

/// Records an ordinary write (`operation: Update`) by `manager` going from
/// `old` (None: create) to `new`, taking changed fields from other managers.
pub fn record_update(
    old: Option<&Value>,
    new: &mut Value,
    manager: &str,
    subresource: Option<&str>,
    now: &str,
) {
    let mut managers = old.map(read_managed).unwrap_or_default();
    let new_fields = Fields::of_object(new);
    let changed: Vec<Vec<String>> = match old {
        None => new_fields.leaves(),
        Some(o) => new_fields
            .leaves()
            .into_iter()
            .filter(|l| value_at(o, l) != value_at(new, l))
            .collect(),
    };
    // fields gone from the object are owned by nobody
    for m in managers.iter_mut() {
        for leaf in m.fields.leaves() {
            if !new_fields.contains(&leaf) && m.subresource.is_none() {
                m.fields.remove(&leaf);
            }
        }
    }
    if subresource.is_none() {
        for m in managers
            .iter_mut()
            .filter(|m| !(m.manager == manager && m.operation == "Update"))
        {
            for leaf in &changed {
                m.fields.remove(leaf);
            }
        }
    }
    let api_version = new["apiVersion"].as_str().unwrap_or_default().to_string();
    let pos = managers.iter().position(|m| {
        m.manager == manager && m.operation == "Update" && m.subresource.as_deref() == subresource
    });
    let p = pos.unwrap_or_else(|| {
        managers.push(Managed {
            manager: manager.into(),
            operation: "Update".into(),
            subresource: subresource.map(String::from),
            api_version,
            time: now.into(),
            fields: Fields::default(),
        });
        managers.len() - 1
    });
    let entry = &mut managers[p];
    if !changed.is_empty() {
        entry.time = now.into();
    }
    for leaf in &changed {
        entry.fields.insert(leaf);
    }
    write_managed(new, managers);
}

#[cfg(test)]
mod tests;
