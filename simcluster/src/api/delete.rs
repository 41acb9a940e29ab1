//! DELETE: preconditions, dry runs, finalizers and namespaces marked first,
//! and the propagation of a delete to dependents (background, foreground,
//! orphan).

use super::*;

/// Options of a delete.
#[derive(Debug, Clone, Default)]
pub struct DeleteOptions {
    /// `Background` (default), `Foreground` or `Orphan`.
    pub propagation: Option<String>,
    /// Precondition on uid.
    pub uid: Option<String>,
    /// Precondition on resourceVersion.
    pub resource_version: Option<String>,
    /// `?dryRun=All`.
    pub dry_run: bool,
    /// The body's `dryRun` values (each must be `All`).
    pub dry_run_values: Vec<String>,
}

impl DeleteOptions {
    /// Reads a `DeleteOptions` body (may be empty); a `dryRun` that is not
    /// a list of strings is the decoder's `400`, as kube-apiserver's.
    pub fn from_body(v: &Value) -> ApiResult<Self> {
        let refuse = |got: &Value, want: &str| {
            crate::admission::decode::cannot_unmarshal("DeleteOptions", "v1", ".dryRun", got, want)
        };
        let mut dry_run_values = Vec::new();
        if let Some(d) = v.get("dryRun").filter(|d| !d.is_null()) {
            let items = d.as_array().ok_or_else(|| refuse(d, "[]string"))?;
            for x in items {
                let text = x.as_str().ok_or_else(|| refuse(x, "string"))?;
                dry_run_values.push(text.to_string());
            }
        }
        Ok(DeleteOptions {
            propagation: v
                .get("propagationPolicy")
                .and_then(Value::as_str)
                .map(String::from),
            uid: v
                .pointer("/preconditions/uid")
                .and_then(Value::as_str)
                .map(String::from),
            resource_version: v
                .pointer("/preconditions/resourceVersion")
                .and_then(Value::as_str)
                .map(String::from),
            dry_run: !dry_run_values.is_empty(),
            dry_run_values,
        })
    }

    /// kube-apiserver's `ValidateDeleteOptions`: a propagation policy
    /// other than the three (`orphan` in lower case among them) is a `422`,
    /// never a Background delete.
    pub fn validate(&self) -> ApiResult<()> {
        let values: Vec<&str> = self.dry_run_values.iter().map(String::as_str).collect();
        check_dry_run("DeleteOptions", &values)?;
        match self.propagation.as_deref() {
            None | Some("Foreground" | "Background" | "Orphan") => Ok(()),
            Some(other) => {
                let mut causes = Vec::new();
                admission::field::not_supported(
                    &mut causes,
                    "propagationPolicy",
                    &json!(other),
                    &["Foreground", "Background", "Orphan", "nil"],
                );
                Err(ApiError::invalid(
                    "DeleteOptions",
                    "meta.k8s.io",
                    "",
                    &causes,
                ))
            }
        }
    }
}

/// DELETE: removes an object (namespaces and objects with finalizers are marked first).
pub fn delete(
    st: &mut State,
    def: &ResourceDef,
    ns: Option<&str>,
    name: &str,
    opts: &DeleteOptions,
) -> ApiResult<Value> {
    if !def.stored {
        return Err(ApiError::method_not_allowed());
    }
    opts.validate()?;
    let ns = scope_ns(def, ns);
    let obj = get(st, def, Some(&ns), name)?;
    if def.plural == "priorityclasses" {
        crate::admission::priority::deletable(name)?;
    }
    let uid = obj["metadata"]["uid"].as_str().unwrap_or("").to_string();
    if let Some(u) = &opts.uid {
        if *u != uid {
            return Err(ApiError::new(
                409,
                "Conflict",
                format!("Precondition failed: UID in precondition: {u}, UID in object meta: {uid}"),
            ));
        }
    }
    if let Some(rv) = &opts.resource_version {
        let cur = obj["metadata"]["resourceVersion"].as_str().unwrap_or("");
        if rv != cur {
            return Err(ApiError::new(409, "Conflict", format!("Precondition failed: ResourceVersion in precondition: {rv}, ResourceVersion in object meta: {cur}")));
        }
    }
    if opts.dry_run {
        return Ok((*obj).clone());
    }
    let has_finalizers = obj
        .pointer("/metadata/finalizers")
        .and_then(Value::as_array)
        .is_some_and(|f| !f.is_empty());
    if def.plural == "namespaces" || has_finalizers {
        if obj.pointer("/metadata/deletionTimestamp").is_none() {
            let mut marked = (*obj).clone();
            marked["metadata"]["deletionTimestamp"] = json!(now_rfc3339());
            marked["metadata"]["deletionGracePeriodSeconds"] = json!(0);
            if def.plural == "namespaces" {
                marked["status"]["phase"] = json!("Terminating");
            }
            st.store.replace(def, marked);
            controllers::reconcile(st);
        }
        return Ok(current(st, def, &ns, name));
    }
    match opts.propagation.as_deref() {
        Some("Orphan") => orphan_dependents(st, &uid),
        Some("Foreground") => delete_dependents_first(st, &uid),
        _ => {}
    }
    let gone = remove_cascading(st, &def.key(), &ns, name);
    controllers::reconcile(st);
    let gone = gone.map(|o| (*o).clone()).unwrap_or(Value::Null);
    if def.plural == "pods" {
        Ok(gone)
    } else {
        Ok(success_status(def.group, def.plural, name, &uid))
    }
}

/// Every dependent of `uid`, and theirs, each once, deepest last: owner
/// references may form a cycle (an object may name itself), which a real
/// cluster's garbage collector also survives.
fn dependents_tree(st: &State, uid: &str) -> Vec<(String, String, String)> {
    let mut seen = std::collections::BTreeSet::from([uid.to_string()]);
    let mut queue = std::collections::VecDeque::from([uid.to_string()]);
    let mut found = Vec::new();
    while let Some(u) = queue.pop_front() {
        for (k, dns, dname) in st.store.dependents(&u) {
            let Some(dep) = st.store.get(&k, &dns, &dname) else {
                continue;
            };
            let dep_uid = dep["metadata"]["uid"].as_str().unwrap_or("").to_string();
            if seen.insert(dep_uid.clone()) {
                queue.push_back(dep_uid);
                found.push((k, dns, dname));
            }
        }
    }
    found
}

/// Foreground propagation: the dependents are deleted before their owner,
/// the deepest first.
fn delete_dependents_first(st: &mut State, uid: &str) {
    for (k, dns, dname) in dependents_tree(st, uid).into_iter().rev() {
        if let Some(d) = resources::by_key(&k) {
            let _ = delete(st, d, Some(&dns), &dname, &DeleteOptions::default());
        }
    }
}

/// Removes an object, then every dependent all of whose owners are gone
/// (background GC), as a work list: a chain of owners as long as the store
/// holds does not deepen the stack.
pub fn remove_cascading(st: &mut State, key: &str, ns: &str, name: &str) -> Option<Obj> {
    let gone = st.store.remove(key, ns, name)?;
    let mut work = vec![gone["metadata"]["uid"].as_str().unwrap_or("").to_string()];
    while let Some(uid) = work.pop() {
        for (k, dns, dname) in st.store.dependents(&uid) {
            let Some(dep) = st.store.get(&k, &dns, &dname) else {
                continue;
            };
            if owner_uids(dep).iter().all(|u| st.store.by_uid(u).is_none()) {
                if let Some(removed) = st.store.remove(&k, &dns, &dname) {
                    work.push(
                        removed["metadata"]["uid"]
                            .as_str()
                            .unwrap_or("")
                            .to_string(),
                    );
                }
            }
        }
    }
    Some(gone)
}

fn orphan_dependents(st: &mut State, uid: &str) {
    for (k, dns, dname) in st.store.dependents(uid) {
        let (Some(def), Some(dep)) = (resources::by_key(&k), st.store.get(&k, &dns, &dname)) else {
            continue;
        };
        let mut d = (**dep).clone();
        if let Some(refs) = d
            .pointer_mut("/metadata/ownerReferences")
            .and_then(Value::as_array_mut)
        {
            refs.retain(|r| r["uid"] != uid);
        }
        st.store.replace(def, d);
    }
}
