//! Objects of any kind by `apiVersion` + `kind`: list, get, delete, and
//! multi-document manifests applied by server-side apply under one field
//! manager (`computehub`) or deleted.

use kube::api::{Api, DeleteParams, DynamicObject, ListParams, Patch, PatchParams};
use kube::discovery::Scope;

use super::client::Cluster;
use super::KubeError;

/// The field manager of everything the platform applies.
pub const FIELD_MANAGER: &str = "computehub";
/// Most documents one manifest may hold.
const MAX_DOCUMENTS: usize = 100;

pub struct Selector<'a> {
    pub namespace: Option<&'a str>,
    pub labels: Option<&'a str>,
    pub fields: Option<&'a str>,
}

async fn api(
    cluster: &Cluster,
    api_version: &str,
    kind: &str,
    namespace: Option<&str>,
) -> Result<Api<DynamicObject>, KubeError> {
    let (ar, caps) = cluster.resource(api_version, kind).await?;
    let client = cluster.client.clone();
    Ok(match (caps.scope, namespace) {
        (Scope::Namespaced, Some(ns)) => Api::namespaced_with(client, ns, &ar),
        (Scope::Namespaced, None) => Api::all_with(client, &ar),
        (Scope::Cluster, _) => Api::all_with(client, &ar),
    })
}

pub async fn list(
    cluster: &Cluster,
    api_version: &str,
    kind: &str,
    sel: Selector<'_>,
) -> Result<Vec<serde_json::Value>, KubeError> {
    let api = api(cluster, api_version, kind, sel.namespace).await?;
    let mut lp = ListParams::default();
    if let Some(l) = sel.labels.filter(|s| !s.is_empty()) {
        lp = lp.labels(l);
    }
    if let Some(f) = sel.fields.filter(|s| !s.is_empty()) {
        lp = lp.fields(f);
    }
    let list = api.list(&lp).await?;
    list.items
        .into_iter()
        .map(|mut o| {
            // Lists omit each item's type; clients expect it on the object.
            o.types = Some(kube::core::TypeMeta {
                api_version: api_version.to_string(),
                kind: kind.to_string(),
            });
            serde_json::to_value(o).map_err(|e| KubeError::Unavailable(e.to_string()))
        })
        .collect()
}

pub async fn get(
    cluster: &Cluster,
    api_version: &str,
    kind: &str,
    namespace: Option<&str>,
    name: &str,
) -> Result<Option<serde_json::Value>, KubeError> {
    let api = api(cluster, api_version, kind, namespace).await?;
    match api.get_opt(name).await? {
        Some(o) => Ok(Some(
            serde_json::to_value(o).map_err(|e| KubeError::Unavailable(e.to_string()))?,
        )),
        None => Ok(None),
    }
}

pub async fn delete(
    cluster: &Cluster,
    api_version: &str,
    kind: &str,
    namespace: Option<&str>,
    name: &str,
) -> Result<bool, KubeError> {
    let api = api(cluster, api_version, kind, namespace).await?;
    match api.delete(name, &DeleteParams::background()).await {
        Ok(_) => Ok(true),
        Err(e) => match KubeError::from(e) {
            KubeError::NotFound(_) => Ok(false),
            other => Err(other),
        },
    }
}

/// The documents of a YAML or JSON manifest, each with apiVersion, kind and name.
pub fn documents(manifests: &str) -> Result<Vec<serde_json::Value>, KubeError> {
    use serde::Deserialize;
    let mut docs = Vec::new();
    for (i, de) in serde_yaml::Deserializer::from_str(manifests).enumerate() {
        let v = serde_json::Value::deserialize(de).map_err(|e| {
            KubeError::Invalid(format!(
                "manifest document {} is not valid YAML: {e}",
                i + 1
            ))
        })?;
        if v.is_null() {
            continue;
        }
        let field = |p: &str| v.pointer(p).and_then(|x| x.as_str()).unwrap_or("");
        for (p, what) in [
            ("/apiVersion", "apiVersion"),
            ("/kind", "kind"),
            ("/metadata/name", "metadata.name"),
        ] {
            if field(p).is_empty() {
                return Err(KubeError::Invalid(format!(
                    "manifest document {} has no {what}",
                    i + 1
                )));
            }
        }
        docs.push(v);
        if docs.len() > MAX_DOCUMENTS {
            return Err(KubeError::Invalid(format!(
                "a manifest may hold at most {MAX_DOCUMENTS} documents"
            )));
        }
    }
    if docs.is_empty() {
        return Err(KubeError::Invalid("the manifest holds no document".into()));
    }
    Ok(docs)
}

fn parts(doc: &serde_json::Value) -> (String, String, Option<String>, String) {
    let s = |p: &str| doc.pointer(p).and_then(|x| x.as_str()).map(str::to_string);
    (
        s("/apiVersion").unwrap_or_default(),
        s("/kind").unwrap_or_default(),
        s("/metadata/namespace"),
        s("/metadata/name").unwrap_or_default(),
    )
}

/// Server-side apply of every document, in order. Answers the applied objects.
pub async fn apply(
    cluster: &Cluster,
    manifests: &str,
) -> Result<Vec<serde_json::Value>, KubeError> {
    let docs = documents(manifests)?;
    let mut out = Vec::with_capacity(docs.len());
    for doc in docs {
        let (av, kind, ns, name) = parts(&doc);
        let (_, caps) = cluster.resource(&av, &kind).await?;
        let ns = match caps.scope {
            Scope::Namespaced => Some(ns.unwrap_or_else(|| "default".to_string())),
            Scope::Cluster => None,
        };
        let api = api(cluster, &av, &kind, ns.as_deref()).await?;
        let applied = api
            .patch(
                &name,
                &PatchParams::apply(FIELD_MANAGER).force(),
                &Patch::Apply(&doc),
            )
            .await?;
        out.push(serde_json::to_value(applied).map_err(|e| KubeError::Unavailable(e.to_string()))?);
    }
    Ok(out)
}

/// Delete every document's object, last first. Answers `kind/name` (or
/// `kind/namespace/name`) of what existed and was deleted.
pub async fn delete_manifests(
    cluster: &Cluster,
    manifests: &str,
) -> Result<Vec<String>, KubeError> {
    let docs = documents(manifests)?;
    let mut deleted = Vec::new();
    for doc in docs.iter().rev() {
        let (av, kind, ns, name) = parts(doc);
        let (_, caps) = cluster.resource(&av, &kind).await?;
        let ns = match caps.scope {
            Scope::Namespaced => Some(ns.unwrap_or_else(|| "default".to_string())),
            Scope::Cluster => None,
        };
        if delete(cluster, &av, &kind, ns.as_deref(), &name).await? {
            deleted.push(match &ns {
                Some(ns) => format!("{kind}/{ns}/{name}"),
                None => format!("{kind}/{name}"),
            });
        }
    }
    Ok(deleted)
}
