//! Patch formats: JSON merge patch (RFC 7386), strategic merge patch (the
//! Kubernetes flavour, for the list fields clients patch) and JSON patch
//! (RFC 6902). Server-side apply lives in [`crate::apply`].
//!
//! Strategic merge knows the merge keys of the lists clients touch: containers,
//! init/ephemeral containers, env, volumes and volume mounts (`name`/`mountPath`),
//! container ports (`containerPort`), service ports (`port`), conditions
//! (`type`), tolerations are atomic (replaced), owner references (`uid`),
//! imagePullSecrets, hostAliases, topologySpreadConstraints, node addresses;
//! `finalizers` merge as a set. Directives: `$patch: replace|delete` (maps and
//! list items), `$deleteFromPrimitiveList/<field>`, `$setElementOrder/<field>`
//! (honoured for ordering), `$retainKeys`.

use serde_json::{Map, Value};

/// Applies a JSON merge patch (RFC 7386) to `target` (the `json-patch`
/// crate's).
pub fn merge_patch(target: &mut Value, patch: &Value) {
    json_patch::merge(target, patch);
}

/// The strategic-merge key of a list at `path` (field names, no indices).
pub fn merge_key(path: &[String]) -> Option<&'static str> {
    let last = path.last()?.as_str();
    let parent = path
        .len()
        .checked_sub(2)
        .map(|i| path[i].as_str())
        .unwrap_or("");
    Some(match last {
        "containers"
        | "initContainers"
        | "ephemeralContainers"
        | "env"
        | "volumes"
        | "imagePullSecrets" => "name",
        "volumeMounts" => "mountPath",
        "volumeDevices" => "devicePath",
        "ports"
            if matches!(
                parent,
                "containers" | "initContainers" | "ephemeralContainers"
            ) =>
        {
            "containerPort"
        }
        "ports" if parent == "spec" => "port",
        "conditions" => "type",
        "addresses" if parent == "status" => "type",
        "ownerReferences" => "uid",
        "hostAliases" => "ip",
        "topologySpreadConstraints" => "topologyKey",
        "podIPs" | "hostIPs" => "ip",
        _ => return None,
    })
}

/// Primitive lists that strategic merge treats as sets.
fn is_primitive_set(path: &[String]) -> bool {
    matches!(path.last().map(String::as_str), Some("finalizers"))
}

/// Applies a strategic merge patch to `target`.
pub fn strategic_merge(target: &mut Value, patch: &Value) -> Result<(), String> {
    smp(target, patch, &mut Vec::new())
}

fn smp(target: &mut Value, patch: &Value, path: &mut Vec<String>) -> Result<(), String> {
    let Some(pm) = patch.as_object() else {
        *target = patch.clone();
        return Ok(());
    };
    match pm.get("$patch").and_then(Value::as_str) {
        Some("replace") => {
            let mut m = pm.clone();
            m.remove("$patch");
            *target = strip_directives(Value::Object(m));
            return Ok(());
        }
        Some("delete") => {
            *target = Value::Null;
            return Ok(());
        }
        Some(other) => return Err(format!("unknown patch type: {other}")),
        None => {}
    }
    if !target.is_object() {
        *target = Value::Object(Map::new());
    }
    let retain: Option<Vec<String>> = pm.get("$retainKeys").and_then(Value::as_array).map(|a| {
        a.iter()
            .filter_map(|v| v.as_str().map(String::from))
            .collect()
    });
    for (k, v) in pm {
        if k.starts_with('$') {
            if let Some(field) = k.strip_prefix("$deleteFromPrimitiveList/") {
                if let (Some(Value::Array(list)), Some(del)) = (target.get_mut(field), v.as_array())
                {
                    list.retain(|x| !del.contains(x));
                }
            }
            continue;
        }
        path.push(k.clone());
        let Some(tm) = target.as_object_mut() else {
            return Err("a strategic merge patch applies to an object".into());
        };
        if v.is_null() {
            tm.remove(k);
        } else if let Some(items) = v.as_array() {
            let cur = tm.entry(k.clone()).or_insert(Value::Null);
            merge_list(cur, items, path)?;
            if let Some(order) = pm
                .get(&format!("$setElementOrder/{k}"))
                .and_then(Value::as_array)
            {
                reorder(cur, order, path);
            }
        } else if v.is_object() {
            let cur = tm.entry(k.clone()).or_insert(Value::Null);
            smp(cur, v, path)?;
            if cur.is_null() {
                tm.remove(k);
            }
        } else {
            tm.insert(k.clone(), v.clone());
        }
        path.pop();
    }
    if let Some(keep) = retain {
        if let Some(tm) = target.as_object_mut() {
            tm.retain(|k, _| keep.contains(k));
        }
    }
    Ok(())
}

fn merge_list(cur: &mut Value, items: &[Value], path: &mut Vec<String>) -> Result<(), String> {
    if let Some(key) = merge_key(path) {
        if !cur.is_array() {
            *cur = Value::Array(vec![]);
        }
        // `$patch: replace` item replaces the whole list.
        if items
            .iter()
            .any(|i| i.get("$patch").and_then(Value::as_str) == Some("replace"))
        {
            *cur = Value::Array(
                items
                    .iter()
                    .filter(|i| i.get("$patch").is_none())
                    .cloned()
                    .map(strip_directives)
                    .collect(),
            );
            return Ok(());
        }
        let Some(list) = cur.as_array_mut() else {
            return Err("a list merges into a list".into());
        };
        for item in items {
            let id = item.get(key).cloned();
            let pos = id
                .as_ref()
                .and_then(|id| list.iter().position(|x| x.get(key) == Some(id)));
            if item.get("$patch").and_then(Value::as_str) == Some("delete") {
                if let Some(p) = pos {
                    list.remove(p);
                }
                continue;
            }
            match pos {
                Some(p) => smp(&mut list[p], item, path)?,
                None => list.push(strip_directives(item.clone())),
            }
        }
        return Ok(());
    }
    if is_primitive_set(path) {
        if !cur.is_array() {
            *cur = Value::Array(vec![]);
        }
        let Some(list) = cur.as_array_mut() else {
            return Err("a list merges into a list".into());
        };
        for i in items {
            if !list.contains(i) {
                list.push(i.clone());
            }
        }
        return Ok(());
    }
    *cur = Value::Array(items.iter().cloned().map(strip_directives).collect());
    Ok(())
}

fn reorder(cur: &mut Value, order: &[Value], path: &[String]) {
    let Some(list) = cur.as_array_mut() else {
        return;
    };
    let key = merge_key(path);
    let rank = |x: &Value| -> usize {
        order
            .iter()
            .position(|o| match key {
                Some(k) => o.get(k) == x.get(k),
                None => o == x,
            })
            .unwrap_or(usize::MAX)
    };
    list.sort_by_key(rank);
}

fn strip_directives(v: Value) -> Value {
    match v {
        Value::Object(m) => Value::Object(
            m.into_iter()
                .filter(|(k, _)| !k.starts_with('$'))
                .map(|(k, v)| (k, strip_directives(v)))
                .collect(),
        ),
        Value::Array(a) => Value::Array(a.into_iter().map(strip_directives).collect()),
        other => other,
    }
}

/// Applies a JSON patch (RFC 6902) to `doc` with the `json-patch` crate:
/// all operations or none, each measured before it applies (see
/// `within_bounds`). A refusal is worded as kube-apiserver words it (its
/// JSON patch library's messages), naming the operation's path.
pub fn json_patch(doc: &mut Value, ops: &Value) -> Result<(), String> {
    if !ops.is_array() {
        return Err("a JSON patch must be an array of operations".into());
    }
    let patch: json_patch::Patch =
        serde_json::from_value(ops.clone()).map_err(|e| format!("invalid JSON patch: {e}"))?;
    if patch.0.len() > MAX_OPERATIONS {
        return Err(format!(
            "The allowed maximum operations in a JSON patch is {MAX_OPERATIONS}, got {}",
            patch.0.len()
        ));
    }
    // Operations apply one at a time to a copy, so each is measured against
    // what the ones before it left; `doc` changes only when all applied.
    let mut work = doc.clone();
    let mut copied = 0usize;
    for op in patch.0 {
        within_bounds(&work, &op, &mut copied)?;
        let one = json_patch::Patch(vec![op]);
        json_patch::patch(&mut work, &one).map_err(|e| refusal(&one, &e))?;
    }
    *doc = work;
    Ok(())
}

/// kube-apiserver's most operations in one JSON patch.
const MAX_OPERATIONS: usize = 10_000;
/// The most bytes `copy` operations may copy in one patch (kube-apiserver
/// bounds the accumulated copy size the same way): each copy can double
/// the document.
const MAX_COPIED: usize = 3 << 20;
/// The deepest a patched document may become (the JSON parser's own limit,
/// so every stored object can be read back).
const MAX_DEPTH: usize = 128;

/// Refuses an operation that would grow `doc` without bound: copies that,
/// with the patch's earlier ones (`copied`), add up past [`MAX_COPIED`], or
/// a value placed so deep that the result passes [`MAX_DEPTH`].
fn within_bounds(
    doc: &Value,
    op: &json_patch::PatchOperation,
    copied: &mut usize,
) -> Result<(), String> {
    use json_patch::PatchOperation as Op;
    let (name, path, placed) = match op {
        Op::Add(o) => ("add", o.path.as_str(), Some(&o.value)),
        Op::Replace(o) => ("replace", o.path.as_str(), Some(&o.value)),
        Op::Copy(o) => ("copy", o.path.as_str(), doc.pointer(o.from.as_str())),
        Op::Move(o) => ("move", o.path.as_str(), doc.pointer(o.from.as_str())),
        Op::Remove(_) | Op::Test(_) => return Ok(()),
    };
    // A `from` that names nothing is refused by the crate in its words.
    let Some(value) = placed else { return Ok(()) };
    if name == "copy" {
        *copied = copied.saturating_add(size_at_most(value, MAX_COPIED + 1));
        if *copied > MAX_COPIED {
            return Err(format!(
                "copy operation does not apply: the values copied by the patch exceed {MAX_COPIED} bytes"
            ));
        }
    }
    let depth = path.matches('/').count() + depth_at_most(value, MAX_DEPTH + 1);
    if depth > MAX_DEPTH {
        return Err(format!(
            "{name} operation does not apply: the document would nest deeper than {MAX_DEPTH} levels at {path}"
        ));
    }
    Ok(())
}

/// The serialized size of `v`, roughly (strings and keys by their bytes,
/// every value a few), counted only up to `limit`.
fn size_at_most(v: &Value, limit: usize) -> usize {
    let mut total = 0usize;
    let mut stack = vec![v];
    while let Some(v) = stack.pop() {
        total = total.saturating_add(match v {
            Value::String(s) => s.len() + 2,
            Value::Object(m) => {
                stack.extend(m.values());
                m.keys().map(|k| k.len() + 4).sum::<usize>() + 2
            }
            Value::Array(a) => {
                stack.extend(a.iter());
                a.len() + 2
            }
            _ => 8,
        });
        if total > limit {
            break;
        }
    }
    total
}

/// How deep `v` nests (a scalar is 0), counted only up to `limit`.
fn depth_at_most(v: &Value, limit: usize) -> usize {
    let mut deepest = 0;
    let mut stack = vec![(v, 0usize)];
    while let Some((v, d)) = stack.pop() {
        deepest = deepest.max(d);
        if deepest >= limit {
            break;
        }
        match v {
            Value::Object(m) => stack.extend(m.values().map(|x| (x, d + 1))),
            Value::Array(a) => stack.extend(a.iter().map(|x| (x, d + 1))),
            _ => {}
        }
    }
    deepest
}

/// kube-apiserver's words for a JSON patch operation that does not apply.
fn refusal(patch: &json_patch::Patch, e: &json_patch::PatchError) -> String {
    use json_patch::{PatchErrorKind, PatchOperation};
    let path = &e.path;
    let (kind, from) = match patch.0.get(e.operation) {
        Some(PatchOperation::Add(_)) => ("add", None),
        Some(PatchOperation::Remove(_)) => ("remove", None),
        Some(PatchOperation::Replace(_)) => ("replace", None),
        Some(PatchOperation::Move(op)) => ("move", Some(op.from.to_string())),
        Some(PatchOperation::Copy(op)) => ("copy", Some(op.from.to_string())),
        Some(PatchOperation::Test(_)) | None => ("test", None),
    };
    match e.kind {
        PatchErrorKind::TestFailed => format!("testing value {path} failed"),
        PatchErrorKind::InvalidPointer => {
            format!("{kind} operation does not apply: doc is missing path: {path}")
        }
        PatchErrorKind::InvalidFromPointer => format!(
            "{kind} operation does not apply: doc is missing from path: {}",
            from.unwrap_or_default()
        ),
        PatchErrorKind::CannotMoveInsideItself => {
            format!(
                "move operation does not apply: cannot move {} into its child {path}",
                from.unwrap_or_default()
            )
        }
        _ => format!("{kind} operation does not apply at {path}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn merge_patch_rfc7386() {
        let mut t = json!({"a": "b", "c": {"d": "e", "f": "g"}, "l": [1, 2]});
        merge_patch(
            &mut t,
            &json!({"a": "z", "c": {"f": null}, "l": [3], "n": {"x": 1}}),
        );
        assert_eq!(
            t,
            json!({"a": "z", "c": {"d": "e"}, "l": [3], "n": {"x": 1}})
        );
    }

    #[test]
    fn strategic_merges_containers_by_name() {
        let mut t = json!({"spec": {"template": {"spec": {"containers": [
            {"name": "app", "image": "a:1", "env": [{"name": "X", "value": "1"}]},
            {"name": "side", "image": "s:1"}]}}}});
        let p = json!({"spec": {"template": {"spec": {"containers": [
            {"name": "app", "image": "a:2", "env": [{"name": "Y", "value": "2"}]},
            {"name": "side", "$patch": "delete"},
            {"name": "new", "image": "n:1"}]}}}});
        strategic_merge(&mut t, &p).unwrap();
        let cs = &t["spec"]["template"]["spec"]["containers"];
        assert_eq!(cs.as_array().unwrap().len(), 2);
        assert_eq!(cs[0]["image"], "a:2");
        assert_eq!(
            cs[0]["env"],
            json!([{"name": "X", "value": "1"}, {"name": "Y", "value": "2"}])
        );
        assert_eq!(cs[1]["name"], "new");
    }

    #[test]
    fn strategic_atomic_lists_and_sets() {
        let mut t = json!({"spec": {"taints": [{"key": "a", "effect": "NoSchedule"}], "unschedulable": true},
                           "metadata": {"finalizers": ["x"], "labels": {"a": "1", "b": "2"}}});
        let p = json!({"spec": {"taints": [{"key": "b", "effect": "NoExecute"}], "unschedulable": null},
                       "metadata": {"finalizers": ["y"], "labels": {"a": null, "c": "3"}}});
        strategic_merge(&mut t, &p).unwrap();
        assert_eq!(
            t["spec"],
            json!({"taints": [{"key": "b", "effect": "NoExecute"}]})
        );
        assert_eq!(t["metadata"]["finalizers"], json!(["x", "y"]));
        assert_eq!(t["metadata"]["labels"], json!({"b": "2", "c": "3"}));
        strategic_merge(
            &mut t,
            &json!({"metadata": {"$deleteFromPrimitiveList/finalizers": ["x"]}}),
        )
        .unwrap();
        assert_eq!(t["metadata"]["finalizers"], json!(["y"]));
    }

    #[test]
    fn strategic_ports_and_replace() {
        let mut svc = json!({"spec": {"ports": [{"port": 80, "name": "http"}, {"port": 443, "name": "https"}]}});
        strategic_merge(
            &mut svc,
            &json!({"spec": {"ports": [{"port": 80, "nodePort": 30080}]}}),
        )
        .unwrap();
        assert_eq!(
            svc["spec"]["ports"][0],
            json!({"port": 80, "name": "http", "nodePort": 30080})
        );
        assert_eq!(svc["spec"]["ports"].as_array().unwrap().len(), 2);
        strategic_merge(
            &mut svc,
            &json!({"spec": {"$patch": "replace", "ports": [{"port": 1}]}}),
        )
        .unwrap();
        assert_eq!(svc["spec"], json!({"ports": [{"port": 1}]}));
        let mut c = json!({"containers": [{"name": "a", "ports": [{"containerPort": 80}]}]});
        strategic_merge(
            &mut c,
            &json!({"containers": [{"name": "a", "ports": [{"containerPort": 81}]}]}),
        )
        .unwrap();
        assert_eq!(c["containers"][0]["ports"].as_array().unwrap().len(), 2);
    }

    #[test]
    fn strategic_set_element_order() {
        let mut t = json!({"spec": {"containers": [{"name": "a"}, {"name": "b"}]}});
        let p = json!({"spec": {"$setElementOrder/containers": [{"name": "b"}, {"name": "a"}], "containers": [{"name": "a", "image": "x"}]}});
        strategic_merge(&mut t, &p).unwrap();
        assert_eq!(
            t["spec"]["containers"],
            json!([{"name": "b"}, {"name": "a", "image": "x"}])
        );
    }

    /// A patch cannot grow a document without bound: copies of copies
    /// double it (a few dozen operations would fill any memory), and values
    /// placed deeper and deeper would overflow the stack of whatever walks
    /// the object next. Each is refused before anything changes.
    #[test]
    fn json_patches_that_would_grow_without_bound_are_refused() {
        let mut d = json!({"spec": {"blob": "x".repeat(1 << 20)}});
        let before = d.clone();
        let copies: Vec<Value> = (0..4)
            .map(|i| json!({"op": "copy", "from": "/spec/blob", "path": format!("/spec/c{i}")}))
            .collect();
        let e = json_patch(&mut d, &Value::Array(copies)).unwrap_err();
        assert!(e.contains("exceed 3145728 bytes"), "{e}");
        assert_eq!(d, before);
        // Copies of the whole document into itself, each doubling it: refused
        // as they add up; nested one level deeper each time: refused at 128.
        let mut d = json!({"a": "y".repeat(1000)});
        let doubling: Vec<Value> = (0..40)
            .map(|i| json!({"op": "copy", "from": "", "path": format!("/b{i}")}))
            .collect();
        let e = json_patch(&mut d, &Value::Array(doubling)).unwrap_err();
        assert!(e.contains("exceed 3145728 bytes"), "{e}");
        let nesting: Vec<Value> = (0..200)
            .map(|_| json!({"op": "copy", "from": "", "path": "/a"}))
            .collect();
        let e = json_patch(&mut d, &Value::Array(nesting)).unwrap_err();
        assert!(e.contains("deeper than 128"), "{e}");
        assert_eq!(d, json!({"a": "y".repeat(1000)}));
        // A value of depth 100 under a path of depth 100.
        let mut deep = json!(1);
        for _ in 0..100 {
            deep = json!({"d": deep});
        }
        let path = "/d".repeat(100);
        let mut d = deep.clone();
        let e = json_patch(
            &mut d,
            &json!([{"op": "add", "path": format!("{path}/x"), "value": deep}]),
        )
        .unwrap_err();
        assert!(e.contains("deeper than 128"), "{e}");
        let many: Vec<Value> = (0..=10_000)
            .map(|_| json!({"op": "test", "path": "/d", "value": 1}))
            .collect();
        let e = json_patch(&mut d, &Value::Array(many)).unwrap_err();
        assert_eq!(
            e,
            "The allowed maximum operations in a JSON patch is 10000, got 10001"
        );
    }

    #[test]
    fn json_patch_ops() {
        let mut d = json!({"metadata": {"labels": {"a/b": "1"}}, "spec": {"list": [1, 2, 3]}});
        json_patch(
            &mut d,
            &json!([
                {"op": "add", "path": "/metadata/labels/c", "value": "2"},
                {"op": "remove", "path": "/metadata/labels/a~1b"},
                {"op": "replace", "path": "/spec/list/0", "value": 9},
                {"op": "add", "path": "/spec/list/-", "value": 4},
                {"op": "test", "path": "/spec/list/1", "value": 2},
                {"op": "copy", "from": "/spec/list", "path": "/spec/copy"},
                {"op": "move", "from": "/spec/copy", "path": "/spec/moved"}
            ]),
        )
        .unwrap();
        assert_eq!(
            d,
            json!({"metadata": {"labels": {"c": "2"}}, "spec": {"list": [9, 2, 3, 4], "moved": [9, 2, 3, 4]}})
        );
        assert!(json_patch(
            &mut d,
            &json!([{"op": "test", "path": "/spec/list/0", "value": 1}])
        )
        .is_err());
        assert_eq!(
            json_patch(&mut d, &json!([{"op": "remove", "path": "/nope/x"}])),
            Err("remove operation does not apply: doc is missing path: /nope/x".into())
        );
        assert_eq!(
            json_patch(
                &mut d,
                &json!([{"op": "test", "path": "/spec/list/0", "value": 1}])
            ),
            Err("testing value /spec/list/0 failed".into())
        );
        assert_eq!(
            json_patch(
                &mut d,
                &json!([{"op": "copy", "from": "/none", "path": "/x"}])
            ),
            Err("copy operation does not apply: doc is missing from path: /none".into())
        );
        // All operations or none: the first applied, the second refused.
        let before = d.clone();
        assert!(json_patch(
            &mut d,
            &json!([
                {"op": "add", "path": "/metadata/labels/z", "value": "1"},
                {"op": "replace", "path": "/missing", "value": 1}
            ])
        )
        .is_err());
        assert_eq!(d, before);
        assert!(json_patch(&mut d, &json!({"op": "add"})).is_err());
        assert!(json_patch(&mut d, &json!([{"op": "frobnicate", "path": "/x"}])).is_err());
    }
}
