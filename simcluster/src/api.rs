//! API verbs over the state, independent of HTTP: get, list, create, update
//! (PUT), patch (merge, strategic, JSON, apply), delete with propagation and
//! preconditions, the `status` and `scale` subresources. The HTTP layer and the
//! test accessors of [`crate::SimCluster`] both go through here, so direct
//! writes get the same validation, bookkeeping and controllers as kubectl's.

use serde_json::{json, Value};

mod delete;
pub use delete::{delete, remove_cascading, DeleteOptions};

use crate::admission;
use crate::apply;
use crate::controllers;
use crate::error::{success_status, ApiError, ApiResult};
use crate::patch;
use crate::resources::{self, ResourceDef};
use crate::selectors::{FieldSelector, LabelSelector};
use crate::state::State;
use crate::store::{now_rfc3339, owner_uids, Obj};

/// Options shared by writes.
#[derive(Debug, Clone, Default)]
pub struct WriteOptions {
    /// `?dryRun=All`: validate and answer, store nothing.
    pub dry_run: bool,
    /// Field manager recorded in managedFields.
    pub field_manager: Option<String>,
    /// `?force=true` for server-side apply.
    pub force: bool,
}

/// kube-apiserver's `ValidateDryRun`: `dryRun` takes `All` alone; any
/// other value (an empty one too) is a `422` naming the verb's options
/// kind (`CreateOptions`, `UpdateOptions`, `PatchOptions`,
/// `DeleteOptions`) before anything is read or written.
pub fn check_dry_run(kind: &str, values: &[&str]) -> ApiResult<()> {
    if values.iter().all(|v| *v == "All") {
        return Ok(());
    }
    let shown: Vec<String> = values
        .iter()
        .map(|v| crate::admission::field::quote(v))
        .collect();
    let cause = (
        "dryRun".to_string(),
        format!(
            "Unsupported value: []string{{{}}}: supported values: \"All\"",
            shown.join(", ")
        ),
    );
    Err(ApiError::invalid(kind, "meta.k8s.io", "", &[cause]))
}

/// Patch content types.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PatchType {
    /// `application/merge-patch+json`
    Merge,
    /// `application/strategic-merge-patch+json`
    Strategic,
    /// `application/json-patch+json`
    Json,
    /// `application/apply-patch+yaml` (server-side apply)
    Apply,
}

impl PatchType {
    /// From a Content-Type header value.
    pub fn from_content_type(ct: &str) -> Option<PatchType> {
        let ct = ct.split(';').next().unwrap_or("").trim();
        Some(match ct {
            "application/merge-patch+json" => PatchType::Merge,
            "application/strategic-merge-patch+json" => PatchType::Strategic,
            "application/json-patch+json" => PatchType::Json,
            "application/apply-patch+yaml" | "application/apply-patch+json" => PatchType::Apply,
            _ => return None,
        })
    }
}

fn scope_ns(def: &ResourceDef, ns: Option<&str>) -> String {
    if def.namespaced {
        ns.unwrap_or("default").to_string()
    } else {
        String::new()
    }
}

/// One object or 404.
pub fn get(st: &State, def: &ResourceDef, ns: Option<&str>, name: &str) -> ApiResult<Obj> {
    st.store
        .get(&def.key(), &scope_ns(def, ns), name)
        .cloned()
        .ok_or_else(|| ApiError::not_found(def.group, def.plural, name))
}

/// A `<Kind>List` object holding `items`, which are moved in (`json!`
/// would copy every item once more).
pub fn list_value(kind: &str, api_version: &str, metadata: Value, items: Vec<Value>) -> Value {
    let mut list = json!({"kind": kind, "apiVersion": api_version, "metadata": metadata});
    list["items"] = Value::Array(items);
    list
}

/// Objects of a resource (one namespace or all) that match both selectors.
pub fn list(
    st: &State,
    def: &ResourceDef,
    ns: Option<&str>,
    ls: &LabelSelector,
    fs: &FieldSelector,
) -> Vec<Obj> {
    let key = def.key();
    let ns = if def.namespaced { ns } else { None };
    // metadata.name fast path
    if let Some(name) = fs.required("metadata.name") {
        let mut out = Vec::new();
        match ns {
            Some(n) => out.extend(st.store.get(&key, n, name).cloned()),
            None => out.extend(
                st.store
                    .list(&key, None)
                    .filter(|o| o["metadata"]["name"] == name)
                    .cloned(),
            ),
        }
        return out
            .into_iter()
            .filter(|o| ls.matches_object(o) && fs.matches(o))
            .collect();
    }
    st.store
        .list(&key, ns)
        .filter(|o| ls.matches_object(o) && fs.matches(o))
        .cloned()
        .collect()
}

/// At most `limit` objects of [`list`], strictly after the key `after`
/// (namespace, name), and whether more follow.
pub fn list_page(
    st: &State,
    def: &ResourceDef,
    ns: Option<&str>,
    ls: &LabelSelector,
    fs: &FieldSelector,
    after: Option<(String, String)>,
    limit: usize,
) -> (Vec<Obj>, bool) {
    let ns = if def.namespaced { ns } else { None };
    let mut page: Vec<Obj> = st
        .store
        .list_after(&def.key(), ns, after)
        .filter(|o| ls.matches_object(o) && fs.matches(o))
        .take(limit.saturating_add(1))
        .cloned()
        .collect();
    let more = page.len() > limit;
    page.truncate(limit);
    (page, more)
}

fn check_namespace(st: &State, def: &ResourceDef, ns: &str, name: &str) -> ApiResult<()> {
    if !def.namespaced {
        return Ok(());
    }
    match st.store.get("namespaces", "", ns) {
        None => Err(ApiError::not_found("", "namespaces", ns)),
        Some(n) if n.pointer("/metadata/deletionTimestamp").is_some() => {
            Err(ApiError::forbidden_object(
                def.group,
                def.plural,
                name,
                &format!(
                    "unable to create new content in namespace {ns} because it is being terminated"
                ),
            ))
        }
        Some(_) => Ok(()),
    }
}

fn prepare_meta(def: &ResourceDef, ns: &str, body: &mut Value) -> ApiResult<()> {
    if !body.is_object() {
        return Err(ApiError::bad_request(
            "the body of the request must be a JSON object",
        ));
    }
    if !body["metadata"].is_object() {
        body["metadata"] = json!({});
    }
    if let Some(k) = body.get("kind").and_then(Value::as_str) {
        if k != def.kind {
            return Err(ApiError::bad_request(format!(
                "the API version in the data ({}) does not match the expected API version ({})",
                body["apiVersion"].as_str().unwrap_or(""),
                def.api_version()
            )));
        }
    }
    if def.namespaced {
        match body["metadata"].get("namespace").and_then(Value::as_str) {
            Some(n) if !n.is_empty() && n != ns => {
                return Err(ApiError::bad_request("the namespace of the provided object does not match the namespace sent on the request"))
            }
            _ => body["metadata"]["namespace"] = json!(ns),
        }
    } else if let Some(m) = body["metadata"].as_object_mut() {
        m.remove("namespace");
    }
    Ok(())
}

fn manager(opts: &WriteOptions) -> String {
    opts.field_manager
        .clone()
        .unwrap_or_else(|| "unknown".to_string())
}

/// POST: creates an object.
pub fn create(
    st: &mut State,
    def: &ResourceDef,
    ns: Option<&str>,
    mut body: Value,
    opts: &WriteOptions,
) -> ApiResult<Value> {
    if !def.stored {
        return Err(ApiError::method_not_allowed());
    }
    admission::decode::check(def, &body)?;
    let ns = scope_ns(def, ns);
    prepare_meta(def, &ns, &mut body)?;
    let Some(meta) = body["metadata"].as_object_mut() else {
        return Err(ApiError::bad_request("metadata must be an object"));
    };
    for f in [
        "resourceVersion",
        "uid",
        "creationTimestamp",
        "deletionTimestamp",
        "managedFields",
        "generation",
        "selfLink",
    ] {
        meta.remove(f);
    }
    check_namespace(st, def, &ns, admission::shown_name(&body))?;
    // Admission first (it draws a generated name), the store's
    // AlreadyExists last, as kube-apiserver's storage answers it.
    let mut obj = admission::admit_create(st, def, body)?;
    apply::record_update(None, &mut obj, &manager(opts), None, &now_rfc3339());
    let charges = controllers::quota::check(st, def, &obj)?;
    let name = obj["metadata"]["name"].as_str().unwrap_or("").to_string();
    if st.store.get(&def.key(), &ns, &name).is_some() {
        return Err(ApiError::already_exists(def.group, def.plural, &name));
    }
    if opts.dry_run {
        return Ok(obj);
    }
    st.store.insert(def, obj);
    controllers::quota::charge(st, charges);
    controllers::reconcile(st);
    Ok(current(st, def, &ns, &name))
}

fn current(st: &State, def: &ResourceDef, ns: &str, name: &str) -> Value {
    st.store
        .get(&def.key(), ns, name)
        .map(|o| (**o).clone())
        .unwrap_or(Value::Null)
}

fn check_rv(def: &ResourceDef, old: &Value, body: &Value) -> ApiResult<()> {
    if let Some(rv) = body
        .pointer("/metadata/resourceVersion")
        .and_then(Value::as_str)
    {
        if !rv.is_empty() && Some(rv) != old["metadata"]["resourceVersion"].as_str() {
            return Err(ApiError::conflict(
                def.group,
                def.plural,
                old["metadata"]["name"].as_str().unwrap_or(""),
            ));
        }
    }
    Ok(())
}

/// PUT: replaces an object (or, with `subresource = Some("status")`, its status).
pub fn update(
    st: &mut State,
    def: &ResourceDef,
    ns: Option<&str>,
    name: &str,
    mut body: Value,
    sub: Option<&str>,
    opts: &WriteOptions,
) -> ApiResult<Value> {
    if !def.stored {
        return Err(ApiError::method_not_allowed());
    }
    let ns = scope_ns(def, ns);
    prepare_meta(def, &ns, &mut body)?;
    let body_name = body["metadata"]["name"].as_str().unwrap_or("");
    if body_name != name {
        return Err(ApiError::bad_request(format!(
            "the name of the object ({body_name}) does not match the name on the URL ({name})"
        )));
    }
    let old = get(st, def, Some(&ns), name)?;
    check_rv(def, &old, &body)?;
    write(st, def, &old, body, sub, opts)
}

fn write(
    st: &mut State,
    def: &ResourceDef,
    old: &Value,
    body: Value,
    sub: Option<&str>,
    opts: &WriteOptions,
) -> ApiResult<Value> {
    let ns = old["metadata"]["namespace"]
        .as_str()
        .unwrap_or("")
        .to_string();
    let name = old["metadata"]["name"].as_str().unwrap_or("").to_string();
    let mut new = if sub == Some("status") {
        let mut n = old.clone();
        n["status"] = body.get("status").cloned().unwrap_or(json!({}));
        // What the decoder refuses in a body is refused in a status too:
        // a typed client could not read the object back.
        admission::decode::check(def, &n)?;
        n
    } else if sub == Some("finalize") {
        // [`finalize`] hands over the stored namespace with only its
        // finalizers changed, which a namespace update would put back.
        admission::decode::check(def, &body)?;
        body
    } else {
        let mut n = body;
        if def.subresources.contains(&"status") {
            match old.get("status") {
                Some(s) => n["status"] = s.clone(),
                None => {
                    n.as_object_mut().map(|m| m.remove("status"));
                }
            }
        }
        for f in [
            "uid",
            "creationTimestamp",
            "deletionTimestamp",
            "generation",
        ] {
            match old["metadata"].get(f) {
                Some(v) => n["metadata"][f] = v.clone(),
                None => {
                    n["metadata"].as_object_mut().map(|m| m.remove(f));
                }
            }
        }
        if n["metadata"].get("managedFields").is_none() {
            if let Some(mf) = old["metadata"].get("managedFields") {
                n["metadata"]["managedFields"] = mf.clone();
            }
        }
        admission::admit_update(st, def, old, n)?
    };
    new["metadata"]["resourceVersion"] = old["metadata"]["resourceVersion"].clone();
    apply::record_update(Some(old), &mut new, &manager(opts), sub, &now_rfc3339());
    let charges = controllers::quota::check_update(st, def, old, &new)?;
    if opts.dry_run {
        return Ok(new);
    }
    st.store.replace(def, new);
    controllers::quota::charge(st, charges);
    controllers::reconcile(st);
    Ok(current(st, def, &ns, &name))
}

/// `PUT /api/v1/namespaces/<n>/finalize`: as kube-apiserver's
/// `FinalizeREST`, only the body's `spec.finalizers` are taken; the stored
/// namespace's metadata (labels, annotations) and status stay as they are.
pub fn finalize(
    st: &mut State,
    def: &ResourceDef,
    name: &str,
    mut body: Value,
    opts: &WriteOptions,
) -> ApiResult<Value> {
    admission::decode::check(def, &body)?;
    prepare_meta(def, "", &mut body)?;
    let body_name = body["metadata"]["name"].as_str().unwrap_or("");
    if body_name != name {
        return Err(ApiError::bad_request(format!(
            "the name of the object ({body_name}) does not match the name on the URL ({name})"
        )));
    }
    let old = get(st, def, None, name)?;
    check_rv(def, &old, &body)?;
    let mut new = (*old).clone();
    match body.pointer("/spec/finalizers").filter(|f| !f.is_null()) {
        Some(f) => new["spec"]["finalizers"] = f.clone(),
        None => {
            if let Some(spec) = new.get_mut("spec").and_then(Value::as_object_mut) {
                spec.remove("finalizers");
            }
        }
    }
    write(st, def, &old, new, Some("finalize"), opts)
}

/// Parses a request body as JSON, or YAML for apply patches.
pub fn parse_body(body: &[u8], yaml_ok: bool) -> ApiResult<Value> {
    if body.is_empty() {
        return Ok(json!({}));
    }
    match serde_json::from_slice::<Value>(body) {
        Ok(v) => Ok(v),
        Err(e) if !yaml_ok => Err(ApiError::bad_request(format!("error decoding body: {e}"))),
        Err(_) => serde_yaml::from_slice::<Value>(body)
            .map_err(|e| ApiError::bad_request(format!("error decoding YAML: {e}"))),
    }
}

/// PATCH: patches an object, its status, or (apply) creates it.
#[allow(clippy::too_many_arguments)]
pub fn patch(
    st: &mut State,
    def: &ResourceDef,
    ns: Option<&str>,
    name: &str,
    ptype: PatchType,
    body: &[u8],
    sub: Option<&str>,
    opts: &WriteOptions,
) -> ApiResult<Value> {
    if !def.stored {
        return Err(ApiError::method_not_allowed());
    }
    let ns = scope_ns(def, ns);
    let p = parse_body(body, ptype == PatchType::Apply)?;
    let old = st.store.get(&def.key(), &ns, name).cloned();
    if ptype == PatchType::Apply {
        let manager = opts.field_manager.clone().ok_or_else(|| {
            ApiError::bad_request("PATCH: fieldManager is required for apply requests")
        })?;
        let mut applied = p;
        prepare_meta(def, &ns, &mut applied)?;
        let applied_name = applied["metadata"]["name"].as_str().unwrap_or("");
        if applied_name != name {
            return Err(ApiError::bad_request(format!("the name of the object ({applied_name}) does not match the name on the URL ({name})")));
        }
        let now = now_rfc3339();
        return match old {
            // Applied to a subresource (`status`), nothing is created:
            // kube-apiserver's status strategy updates only.
            None if sub.is_some() => Err(ApiError::not_found(def.group, def.plural, name)),
            None => {
                check_namespace(st, def, &ns, name)?;
                let obj = apply::apply(None, &applied, &manager, opts.force, &now)?;
                let managed = obj["metadata"]["managedFields"].clone();
                let mut obj = admission::admit_create(st, def, obj)?;
                obj["metadata"]["managedFields"] = managed;
                let charges = controllers::quota::check(st, def, &obj)?;
                if opts.dry_run {
                    return Ok(obj);
                }
                st.store.insert(def, obj);
                controllers::quota::charge(st, charges);
                controllers::reconcile(st);
                Ok(current(st, def, &ns, name))
            }
            Some(old) => {
                let mut merged = apply::apply(Some(&old), &applied, &manager, opts.force, &now)?;
                let managed = merged["metadata"]["managedFields"].clone();
                if def.subresources.contains(&"status") && sub.is_none() {
                    merged["status"] = old.get("status").cloned().unwrap_or(Value::Null);
                }
                let mut new = if sub == Some("status") {
                    // Applied to the status, only the status changes (the
                    // status strategy keeps the rest), and what the decoder
                    // refuses is refused there too.
                    let mut n = (*old).clone();
                    n["status"] = merged.get("status").cloned().unwrap_or(json!({}));
                    admission::decode::check(def, &n)?;
                    n
                } else {
                    admission::admit_update(st, def, &old, merged)?
                };
                new["metadata"]["managedFields"] = managed;
                let charges = controllers::quota::check_update(st, def, &old, &new)?;
                if opts.dry_run {
                    return Ok(new);
                }
                st.store.replace(def, new);
                controllers::quota::charge(st, charges);
                controllers::reconcile(st);
                Ok(current(st, def, &ns, name))
            }
        };
    }
    let old = old.ok_or_else(|| ApiError::not_found(def.group, def.plural, name))?;
    let mut target = (*old).clone();
    let res = match ptype {
        PatchType::Merge => {
            patch::merge_patch(&mut target, &p);
            Ok(())
        }
        PatchType::Strategic => patch::strategic_merge(&mut target, &p),
        PatchType::Json => patch::json_patch(&mut target, &p),
        // Answered by server-side apply above; never reaches here.
        PatchType::Apply => Err("apply patches are answered by server-side apply".to_string()),
    };
    res.map_err(|e| ApiError::new(422, "Invalid", e))?;
    check_rv(def, &old, &target)?;
    if target.pointer("/metadata/name").and_then(Value::as_str) != Some(name) {
        return Err(ApiError::bad_request(
            "metadata.name cannot be changed by a patch",
        ));
    }
    write(st, def, &old, target, sub, opts)
}

/// `GET .../scale`: the autoscaling/v1 Scale of a workload.
pub fn get_scale(st: &State, def: &ResourceDef, ns: Option<&str>, name: &str) -> ApiResult<Value> {
    let o = get(st, def, ns, name)?;
    let sel = crate::table::selector_string(o.pointer("/spec/selector"));
    Ok(json!({
        "kind": "Scale", "apiVersion": "autoscaling/v1",
        "metadata": {"name": name, "namespace": o["metadata"]["namespace"], "uid": o["metadata"]["uid"],
                     "resourceVersion": o["metadata"]["resourceVersion"], "creationTimestamp": o["metadata"]["creationTimestamp"]},
        "spec": {"replicas": o.pointer("/spec/replicas").cloned().unwrap_or(json!(1))},
        "status": {"replicas": o.pointer("/status/replicas").cloned().unwrap_or(json!(0)), "selector": sel}
    }))
}

/// `PUT`/`PATCH .../scale`: sets `spec.replicas` from a (patched) Scale.
pub fn set_scale(
    st: &mut State,
    def: &ResourceDef,
    ns: Option<&str>,
    name: &str,
    scale: &Value,
    opts: &WriteOptions,
) -> ApiResult<Value> {
    let requested = scale.pointer("/spec/replicas");
    if let Some(n) = requested.filter(|v| v.is_number()) {
        if n.as_i64().and_then(|n| i32::try_from(n).ok()).is_none() {
            return Err(crate::admission::decode::cannot_unmarshal(
                "Scale",
                "v1",
                ".spec.replicas",
                n,
                "int32",
            ));
        }
    }
    let replicas = requested.and_then(Value::as_i64).ok_or_else(|| {
        ApiError::invalid(
            "Scale",
            "autoscaling",
            name,
            &[("spec.replicas".into(), "Required value".into())],
        )
    })?;
    if replicas < 0 {
        return Err(ApiError::invalid(
            "Scale",
            "autoscaling",
            name,
            &[(
                "spec.replicas".into(),
                format!("Invalid value: {replicas}: must be greater than or equal to 0"),
            )],
        ));
    }
    let old = get(st, def, ns, name)?;
    let mut new = (*old).clone();
    new["spec"]["replicas"] = json!(replicas);
    write(st, def, &old, new, None, opts)?;
    get_scale(st, def, ns, name)
}
