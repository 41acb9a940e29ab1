//! Resource-instance configs (`cpcpodyaml`): a stored config (collection
//! `pod_configs`: the documented `source_*` parameters as JSON, the initial
//! password sealed) cascaded into its cluster through the `kubernetes`
//! capability by cluster id. Names follow the document: the namespace is
//! `<clusterid>-<orgid>` lower-cased (`_` as `-`) with its
//! `-serviceaccount`; the workload `<id>-<engine>` (`-statefulset`, ...)
//! and the service `<id>-service`. Creating applies everything, updating
//! re-applies (replicas, limits, ports; a changed engine applies the new
//! workload first, then removes the old one, its secret and its claims, and
//! needs the password again, which is sealed), deleting removes every object the config made (its claims
//! too) and the namespace with its service account once no other config of
//! the organisation uses it. Objects are rendered by
//! [`computehub_sdk::workload`].

use computehub_sdk::envelope::kboss;
use computehub_sdk::inventory::{self, Row, RowQuery, Value};
use computehub_sdk::kubernetes::{self, Cluster, Selector};
use computehub_sdk::workload::{Workload, INSTANCE_LABEL};
use computehub_sdk::{ApiError, Params, Request, Response};
use serde_json::{json, Map, Value as Json};

use crate::common::*;

const CONFIGS: &str = crate::schema::POD_CONFIGS;

/// The documented parameters kept in a config, in the document's order.
const FIELDS: &[&str] = &[
    "source_name",
    "source_authuser",
    "source_podengine",
    "source_replicasetnum",
    "pod_imagepath",
    "source_memrate",
    "source_cpurate",
    "source_selflabel",
    "source_gpu",
    "source_portmode",
    "source_restartpolicy",
    "source_apiport",
    "source_insideport",
    "source_outsideport",
    "source_mountpath",
    "source_storagelimits",
    "instance_type",
    "source_nodeselector",
    "cpu_model",
    "gpu_model",
    "disk_sys_limit",
];
/// Required on create and update (the rest take the renderer's defaults).
const REQUIRED: &[&str] = &[
    "source_name",
    "source_podengine",
    "source_replicasetnum",
    "pod_imagepath",
    "source_memrate",
    "source_cpurate",
];
/// Shown as numbers in the list (the document's example).
const NUMERIC: &[&str] = &[
    "source_replicasetnum",
    "source_apiport",
    "source_insideport",
    "source_outsideport",
];

/// A DNS-label-safe form of an id: lower case, `_` as `-`, no edge `-`.
fn dns(id: &str) -> String {
    let s: String = id
        .chars()
        .map(|c| match c {
            '_' => '-',
            c => c.to_ascii_lowercase(),
        })
        .collect();
    s.trim_matches('-').to_owned()
}

/// At most 63 characters, no trailing `-`.
fn label63(s: String) -> String {
    let s: String = s.chars().take(63).collect();
    s.trim_end_matches('-').to_owned()
}

/// (namespace, service account, workload, service) of a config.
fn names(org: &str, clusterid: &str, id: &str, engine: &str) -> [String; 4] {
    let ns = label63(format!("{}-{}", dns(clusterid), dns(org)));
    let id = dns(id);
    [
        ns.clone(),
        label63(format!("{ns}-serviceaccount")),
        label63(format!("{id}-{}", engine.to_ascii_lowercase())),
        label63(format!("{id}-service")),
    ]
}

/// The stored parameters of a config as `Params` (what the renderer reads).
fn stored_params(row: &Row) -> Result<Params, ApiError> {
    let stored: Map<String, Json> = serde_json::from_str(row.text("params").unwrap_or("{}"))
        .map_err(|e| ApiError::Internal(format!("config `{}` is unreadable: {e}", row.id)))?;
    let mut p = Params::new();
    for (k, v) in stored {
        if let Some(s) = v.as_str() {
            p.insert(&k, s);
        }
    }
    Ok(p)
}

/// The documented parameters of the request over `base` (update keeps what
/// it does not send), each required one present, none longer than 255.
fn merged(p: &Params, base: Params) -> Result<(Params, Map<String, Json>), ApiError> {
    // `Params::insert` keeps the first value: the request's, then the stored.
    let mut out = Params::new();
    for f in FIELDS {
        if let Some(v) = p.optional_str(f)? {
            out.insert(f, limit(f, v.trim(), 255)?);
        } else if let Some(v) = base.optional_str(f)? {
            out.insert(f, v);
        }
    }
    for f in REQUIRED {
        if out.optional_str(f)?.is_none_or(str::is_empty) {
            return Err(ApiError::BadRequest(format!("parameter `{f}` is required")));
        }
    }
    if let Some(v) = out.optional_str("source_name")? {
        check_name("source_name", v)?;
    }
    let mut kept = Map::new();
    for f in FIELDS {
        if let Some(v) = out.optional_str(f)? {
            kept.insert((*f).to_owned(), json!(v));
        }
    }
    Ok((out, kept))
}

/// Render a config's objects (validating every parameter, naming the field).
fn render(
    org: &str,
    clusterid: &str,
    id: &str,
    params: &Params,
    password: Option<&str>,
) -> Result<Workload, ApiError> {
    let engine = params
        .optional_str("source_podengine")?
        .unwrap_or("StatefulSet");
    let [ns, sa, workload, service] = names(org, clusterid, id, engine);
    let mut p = params.clone();
    if let Some(pw) = password {
        p.insert("source_authpasswd", pw);
    }
    Ok(Workload::from_params(
        &p,
        [Some(ns), Some(sa), Some(workload), Some(service)],
    )?)
}

/// Objects of a rendered config without the shared namespace and account.
fn own_objects(w: &Workload) -> String {
    w.manifests()
        .into_iter()
        .filter(|d| !matches!(d["kind"].as_str(), Some("Namespace" | "ServiceAccount")))
        .map(|d| d.to_string())
        .collect::<Vec<_>>()
        .join("\n---\n")
}

/// The claims a StatefulSet made from its templates (they carry the
/// instance label of the workload's name, and no manifest names them).
fn delete_template_claims(c: &Cluster, w: &Workload) -> Result<(), ApiError> {
    let claims = kubernetes::list(
        c,
        "v1",
        "PersistentVolumeClaim",
        &Selector {
            namespace: Some(w.namespace.clone()),
            label_selector: Some(format!("{INSTANCE_LABEL}={}", w.name)),
            field_selector: None,
        },
    )?;
    for claim in claims {
        let v: Json = serde_json::from_str(&claim).unwrap_or(Json::Null);
        if let Some(name) = v.pointer("/metadata/name").and_then(Json::as_str) {
            kubernetes::delete(c, "v1", "PersistentVolumeClaim", Some(&w.namespace), name)?;
        }
    }
    Ok(())
}

/// The objects of `old` (namespace and account aside) that `new` has no
/// object of the same kind and name for.
fn stale_objects(old: &Workload, new: &[Json]) -> String {
    let key = |d: &Json| (d["kind"].clone(), d["metadata"]["name"].clone());
    let kept: Vec<_> = new.iter().map(key).collect();
    old.manifests()
        .into_iter()
        .filter(|d| !matches!(d["kind"].as_str(), Some("Namespace" | "ServiceAccount")))
        .filter(|d| !kept.contains(&key(d)))
        .map(|d| d.to_string())
        .collect::<Vec<_>>()
        .join("\n---\n")
}

fn answer(row: &Row, org: &str, w: &Workload, params: &Map<String, Json>) -> Map<String, Json> {
    let mut m = Map::new();
    m.insert("namespace_name".into(), json!(w.namespace));
    m.insert(
        "serviceaccount_name".into(),
        json!(w.service_account.clone().unwrap_or_default()),
    );
    m.insert("podcd_name".into(), json!(w.name));
    m.insert(
        "service_name".into(),
        json!(w.service.clone().unwrap_or_default()),
    );
    m.insert("clusterid".into(), json_of(row, "clusterid"));
    m.insert("orgid".into(), json!(org));
    for (k, v) in params {
        m.insert(k.clone(), v.clone());
    }
    m.insert("source_authpasswd".into(), json!(REDACTED));
    m.insert("id".into(), json!(row.id));
    m.insert("cpcid".into(), json_of(row, "cpcid"));
    m
}

fn cluster_ref(cpcid: &str, clusterid: &str) -> Result<(Row, Cluster), ApiError> {
    let row = cluster_of(cpcid, "clusterid", clusterid)?;
    if row.value("kubeconfig").is_none() {
        return Err(not_installed(clusterid));
    }
    let c = Cluster::Id(row.id.clone());
    Ok((row, c))
}

/// `POST cpcpodyaml/new_cpcpodyaml.dspy`.
pub fn create(req: &Request, p: &Params) -> Result<Response, ApiError> {
    let org = org(req)?;
    let clusterid = required_as(p, "clusterid", "无算力集群ID")?;
    let (params, kept) = merged(p, Params::new())?;
    let password = p.optional_str("source_authpasswd")?;
    if let Some(pw) = password {
        limit("source_authpasswd", pw, 255)?;
    }
    let cluster = inventory::get(CLUSTERS, clusterid)?
        .ok_or_else(|| not_found("clusterid", clusterid, "算力集群"))?;
    let cpcid = cluster.text("cpcid").unwrap_or_default().to_owned();
    let (_, c) = cluster_ref(&cpcid, clusterid)?;
    // Validate everything before anything is stored or applied.
    render(org, clusterid, "validate", &params, password)?;
    let text_json = Json::Object(kept.clone()).to_string();
    let mut fields = vec![
        inventory::field("cpcid", cpcid.as_str()),
        inventory::field("clusterid", clusterid),
        inventory::field(
            "source_name",
            params.optional_str("source_name")?.unwrap_or(""),
        ),
        inventory::field("params", text_json.as_str()),
        inventory::field("username", org),
    ];
    if let Some(pw) = password {
        fields.push(inventory::field("source_authpasswd", Value::secret(pw)));
    }
    let row = inventory::insert(CONFIGS, &fields)?;
    let w = render(org, clusterid, &row.id, &params, password)?;
    if let Err(e) = kubernetes::apply(&c, &w.manifest_text()) {
        // Nothing half-made stays behind: undo the objects and the record.
        let _ = kubernetes::delete_manifests(&c, &own_objects(&w));
        let _ = inventory::delete(CONFIGS, &row.id);
        return Err(e.into());
    }
    let mut data = Map::new();
    data.insert("action".into(), json!("apply"));
    data.extend(answer(&row, org, &w, &kept));
    data.insert(
        "instance_type".into(),
        kept.get("instance_type")
            .cloned()
            .unwrap_or_else(|| json!("")),
    );
    Ok(kboss::ok(
        "新增资源实例参数成功,请10秒后查看实时资源实例面板",
        &Json::Object(data),
    ))
}

/// `GET cpcpodyaml/get_cpcpodyaml.dspy`: the configs of a cluster.
pub fn list(req: &Request, p: &Params) -> Result<Response, ApiError> {
    let org = org(req)?;
    let cpcid = required_as(p, "cpcid", "无算力中心ID")?;
    let clusterid = required_as(p, "clusterid", "无算力集群ID")?;
    center(cpcid)?;
    cluster_of(cpcid, "clusterid", clusterid)?;
    let rows = all(CONFIGS, RowQuery::new().eq("clusterid", clusterid))?;
    let mut out = Vec::with_capacity(rows.len());
    for (i, row) in rows.iter().enumerate() {
        let params = stored_params(row)?;
        let w = render(org, clusterid, &row.id, &params, None)?;
        let kept: Map<String, Json> = FIELDS
            .iter()
            .filter_map(|f| {
                let v = params.optional_str(f).ok().flatten()?;
                let v = match (NUMERIC.contains(f), v.parse::<i64>()) {
                    (true, Ok(n)) => json!(n),
                    _ => json!(v),
                };
                Some(((*f).to_owned(), v))
            })
            .collect();
        let mut m = Map::new();
        m.insert("id".into(), json!(row.id));
        m.extend(answer(row, org, &w, &kept));
        m.insert("username".into(), json_of(row, "username"));
        m.insert("row_num_".into(), json!(i + 1));
        out.push(Json::Object(m));
    }
    Ok(kboss::ok(
        "获取资源实例静态配置成功",
        &computehub_sdk::object! { "total" => out.len(), "rows" => out },
    ))
}

/// The caller's config named by `id`.
fn config(p: &Params) -> Result<Row, ApiError> {
    let id = required_as(p, "id", "无资源实例配置ID")?;
    must_get(CONFIGS, "id", id, "资源实例配置")
}

/// `POST cpcpodyaml/update_cpcpodyaml.dspy`: change the config and re-apply.
pub fn update(req: &Request, p: &Params) -> Result<Response, ApiError> {
    let org = org(req)?;
    let cpcid = required_as(p, "cpcid", "无算力中心ID")?;
    let clusterid = required_as(p, "clusterid", "无算力集群ID")?;
    let row = config(p)?;
    if row.text("clusterid") != Some(clusterid) || row.text("cpcid") != Some(cpcid) {
        return Err(because(
            "资源实例配置不属于该算力集群",
            ApiError::BadRequest(format!(
                "parameter `id`: config `{}` is not in cluster `{clusterid}` of center `{cpcid}`",
                row.id
            )),
        ));
    }
    let (_, c) = cluster_ref(cpcid, clusterid)?;
    let old_params = stored_params(&row)?;
    let (params, kept) = merged(p, old_params.clone())?;
    let password = p
        .optional_str("source_authpasswd")?
        .filter(|v| *v != REDACTED);
    if let Some(pw) = password {
        limit("source_authpasswd", pw, 255)?;
    }
    let old = render(org, clusterid, &row.id, &old_params, None)?;
    let w = render(org, clusterid, &row.id, &params, password)?;
    // A changed engine renames the workload and its Secret (made from the
    // password, which is sealed: this plugin cannot read it back).
    let moved = old.name != w.name;
    let sealed = matches!(row.value("source_authpasswd"), Some(Value::Redacted));
    if moved && sealed && password.is_none() {
        return Err(ApiError::BadRequest(format!(
            "parameter `source_authpasswd` is required to change `source_podengine` to `{}`: the new workload gets a secret of its own, and the stored password is sealed",
            params.optional_str("source_podengine")?.unwrap_or("StatefulSet")
        )));
    }
    // Otherwise the secret is applied only when a new password is sent: the
    // rendered Secret would lose the stored one.
    let manifests: Vec<Json> = w
        .manifests()
        .into_iter()
        .filter(|d| password.is_some() || moved || d["kind"] != "Secret")
        .collect();
    let text = manifests
        .iter()
        .map(Json::to_string)
        .collect::<Vec<_>>()
        .join("\n---\n");
    let mut fields = vec![
        inventory::field(
            "source_name",
            params.optional_str("source_name")?.unwrap_or(""),
        ),
        inventory::field("params", Json::Object(kept.clone()).to_string().as_str()),
    ];
    if let Some(pw) = password {
        fields.push(inventory::field("source_authpasswd", Value::secret(pw)));
    }
    // The new objects first: a refused apply leaves the old workload, its
    // secret and its service in place (the apply undoes what it created).
    kubernetes::apply(&c, &text)?;
    if moved {
        // Then what the new ones do not replace (the old workload and its
        // Secret); a failure here is repaired by sending the update again.
        let stale = stale_objects(&old, &manifests);
        if !stale.is_empty() {
            kubernetes::delete_manifests(&c, &stale)?;
        }
        // Claims made for the old workload's name would otherwise outlive
        // the config (a delete looks for the current name's).
        delete_template_claims(&c, &old)?;
    }
    let row = inventory::update(CONFIGS, &row.id, &fields)?;
    let mut data = answer(&row, org, &w, &kept);
    for k in [
        "namespace_name",
        "serviceaccount_name",
        "podcd_name",
        "service_name",
    ] {
        data.remove(k);
    }
    Ok(kboss::ok(
        "资源参数更新成功,请10秒后查看实时资源实例面板",
        &Json::Object(data),
    ))
}

/// `POST cpcpodyaml/delete_cpcpodyaml.dspy`: remove everything the config
/// made, then the config.
pub fn delete(req: &Request, p: &Params) -> Result<Response, ApiError> {
    let org = org(req)?;
    let row = config(p)?;
    let clusterid = row.text("clusterid").unwrap_or_default().to_owned();
    let c = Cluster::Id(clusterid.clone());
    let w = render(org, &clusterid, &row.id, &stored_params(&row)?, None)?;
    kubernetes::delete_manifests(&c, &own_objects(&w))?;
    delete_template_claims(&c, &w)?;
    let others = all(CONFIGS, RowQuery::new().eq("clusterid", clusterid.as_str()))?
        .into_iter()
        .any(|r| r.id != row.id);
    if !others {
        if let Some(sa) = &w.service_account {
            kubernetes::delete(&c, "v1", "ServiceAccount", Some(&w.namespace), sa)?;
        }
        kubernetes::delete(&c, "v1", "Namespace", None, &w.namespace)?;
    }
    inventory::delete(CONFIGS, &row.id)?;
    Ok(kboss::ok(
        "级联删除集群资源成功,请10秒后查看实时资源实例面板",
        &json!({"id": row.id}),
    ))
}
