//! Objects of any kind by `apiVersion` + `kind` with kube-rs: list, get,
//! delete, and a manifest's documents applied by server-side apply under one
//! field manager (`computehub`) or deleted. Parsing and checking a manifest
//! ([`documents`]) is the capability's, before anything reaches a cluster.

use kube::api::{Api, DeleteParams, DynamicObject, ListParams, Patch, PatchParams};
use kube::discovery::Scope;
use serde_json::value::RawValue;

use super::backend::{Page, Selector};
use super::kube_rs::KubeCluster as Cluster;
use super::KubeError;

/// The field manager of everything the platform applies.
pub const FIELD_MANAGER: &str = "computehub";
/// Most documents one manifest may hold.
const MAX_DOCUMENTS: usize = 100;

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

/// The listed objects as JSON texts, each with its `apiVersion` and `kind`.
///
/// The list body is not turned into object trees: a 10,000-pod list is about
/// 25 MB, and the plugin parses what it needs anyway. Each item is cut out of
/// the body as it stands and only gets the type fields lists leave out.
pub async fn list(
    cluster: &Cluster,
    api_version: &str,
    kind: &str,
    sel: Selector<'_>,
) -> Result<Vec<String>, KubeError> {
    let body = list_body(cluster, api_version, kind, sel, ListParams::default()).await?;
    Ok(typed_items(&body, api_version, kind)?.items)
}

/// At most `limit` objects from where `continue_token` left off, as
/// [`list`] gives them, in the API server's order (`limit` checked by the
/// capability).
pub async fn list_page(
    cluster: &Cluster,
    api_version: &str,
    kind: &str,
    sel: Selector<'_>,
    limit: u32,
    continue_token: Option<&str>,
) -> Result<Page, KubeError> {
    let mut lp = ListParams::default().limit(limit);
    if let Some(token) = continue_token.filter(|t| !t.is_empty()) {
        lp = lp.continue_token(token);
    }
    let body = list_body(cluster, api_version, kind, sel, lp).await?;
    typed_items(&body, api_version, kind)
}

/// The body of a list request, with `sel` added to `lp`.
async fn list_body(
    cluster: &Cluster,
    api_version: &str,
    kind: &str,
    sel: Selector<'_>,
    mut lp: ListParams,
) -> Result<String, KubeError> {
    let api = api(cluster, api_version, kind, sel.namespace).await?;
    if let Some(l) = sel.labels.filter(|s| !s.is_empty()) {
        lp = lp.labels(l);
    }
    if let Some(f) = sel.fields.filter(|s| !s.is_empty()) {
        lp = lp.fields(f);
    }
    let req = kube::core::Request::new(api.resource_url())
        .list(&lp)
        .map_err(|_| KubeError::Invalid("the list parameters are not valid".into()))?;
    Ok(cluster.client.request_text(req).await?)
}

/// A list body's items, borrowed from the body, and its continue token.
#[derive(serde::Deserialize)]
struct RawList<'a> {
    #[serde(borrow, default)]
    items: Option<Vec<&'a RawValue>>,
    #[serde(default)]
    metadata: Option<ListMeta>,
}

#[derive(serde::Deserialize)]
struct ListMeta {
    #[serde(rename = "continue", default)]
    continue_token: Option<String>,
}

/// Whether an item already names its type (lists of custom resources do).
#[derive(serde::Deserialize)]
struct TypeFields {
    #[serde(rename = "apiVersion")]
    api_version: Option<serde::de::IgnoredAny>,
    kind: Option<serde::de::IgnoredAny>,
}

fn typed_items(body: &str, api_version: &str, kind: &str) -> Result<Page, KubeError> {
    let invalid = |e: serde_json::Error| {
        KubeError::Unreachable(format!("the cluster answered an invalid list: {e}"))
    };
    let list: RawList = serde_json::from_str(body).map_err(invalid)?;
    let head = serde_json::to_string(&serde_json::json!({"apiVersion": api_version, "kind": kind}))
        .map_err(invalid)?;
    // `{"apiVersion":..,"kind":..` without its closing brace.
    let head = &head[..head.len() - 1];
    let items = list
        .items
        .unwrap_or_default()
        .into_iter()
        .map(|raw| {
            let text = raw.get();
            let typed: TypeFields = serde_json::from_str(text).map_err(invalid)?;
            let rest = text.trim_start().strip_prefix('{').ok_or_else(|| {
                KubeError::Unavailable("the cluster listed an item that is not an object".into())
            })?;
            if typed.api_version.is_some() || typed.kind.is_some() {
                return Ok(text.to_string());
            }
            let sep = if rest.trim_start().starts_with('}') {
                ""
            } else {
                ","
            };
            Ok(format!("{head}{sep}{rest}"))
        })
        .collect::<Result<Vec<_>, KubeError>>()?;
    // The last page has no token, or (some servers) an empty one.
    let continue_token = list
        .metadata
        .and_then(|m| m.continue_token)
        .filter(|t| !t.is_empty());
    Ok(Page {
        items,
        continue_token,
    })
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
            serde_json::to_value(o).map_err(|e| KubeError::Unreachable(e.to_string()))?,
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

/// Server-side apply of every document (from [`documents`]), in order.
/// Answers the applied objects.
///
/// A document the API server refuses stops the apply, and the objects this
/// call created before it (those that did not exist) are deleted again, last
/// first: a refused manifest leaves no half-made workload behind. Objects it
/// changed keep their change (their earlier state is not the platform's to
/// restore).
pub async fn apply(
    cluster: &Cluster,
    docs: &[serde_json::Value],
) -> Result<Vec<serde_json::Value>, KubeError> {
    let mut out = Vec::with_capacity(docs.len());
    let mut made: Vec<serde_json::Value> = Vec::new();
    for doc in docs {
        match apply_one(cluster, doc).await {
            Ok((applied, created)) => {
                if created {
                    made.push(doc.clone());
                }
                out.push(applied);
            }
            Err(e) => {
                if !made.is_empty() {
                    if let Err(undo) = delete_documents(cluster, &made).await {
                        tracing::warn!(error = %undo, "could not delete what a refused manifest created");
                    }
                }
                return Err(e);
            }
        }
    }
    Ok(out)
}

/// Apply one document: the applied object, and whether it is new.
async fn apply_one(
    cluster: &Cluster,
    doc: &serde_json::Value,
) -> Result<(serde_json::Value, bool), KubeError> {
    let (av, kind, ns, name) = parts(doc);
    let (_, caps) = cluster.resource(&av, &kind).await?;
    let ns = match caps.scope {
        Scope::Namespaced => Some(ns.unwrap_or_else(|| "default".to_string())),
        Scope::Cluster => None,
    };
    let api = api(cluster, &av, &kind, ns.as_deref()).await?;
    let existed = api.get_opt(&name).await?.is_some();
    let applied = api
        .patch(
            &name,
            &PatchParams::apply(FIELD_MANAGER).force(),
            &Patch::Apply(doc),
        )
        .await?;
    let applied =
        serde_json::to_value(applied).map_err(|e| KubeError::Unreachable(e.to_string()))?;
    Ok((applied, !existed))
}

/// Delete every document's object (from [`documents`]), last first.
/// Answers `kind/name` (or `kind/namespace/name`) of what existed and was
/// deleted.
pub async fn delete_documents(
    cluster: &Cluster,
    docs: &[serde_json::Value],
) -> Result<Vec<String>, KubeError> {
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

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use serde_json::{json, Value};

    fn parsed(items: Vec<String>) -> Vec<Value> {
        items
            .iter()
            .map(|s| serde_json::from_str(s).unwrap())
            .collect()
    }

    #[test]
    fn list_items_get_their_type_unless_they_name_one() {
        let body = r#"{"kind":"PodList","apiVersion":"v1","metadata":{},"items":[
            {"metadata":{"name":"a"}},
            { },
            {"apiVersion":"example.com/v2","kind":"Widget","metadata":{"name":"w"}}]}"#;
        let page = typed_items(body, "v1", "Pod").unwrap();
        assert_eq!(page.continue_token, None, "a list without a token is whole");
        let items = parsed(page.items);
        assert_eq!(
            items,
            [
                json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "a"}}),
                json!({"apiVersion": "v1", "kind": "Pod"}),
                json!({"apiVersion": "example.com/v2", "kind": "Widget", "metadata": {"name": "w"}}),
            ]
        );
        let empty = typed_items(r#"{"kind":"PodList","items":null}"#, "v1", "Pod").unwrap();
        assert!(empty.items.is_empty());
    }

    #[test]
    fn a_page_carries_its_continue_token_and_the_last_page_none() {
        let more = r#"{"metadata":{"continue":"abc","remainingItemCount":3},"items":[{}]}"#;
        let page = typed_items(more, "v1", "Pod").unwrap();
        assert_eq!(page.continue_token.as_deref(), Some("abc"));
        assert_eq!(page.items.len(), 1);
        let last = typed_items(r#"{"metadata":{"continue":""},"items":[]}"#, "v1", "Pod");
        assert_eq!(last.unwrap().continue_token, None);
    }

    #[test]
    fn invalid_list_bodies_are_errors() {
        for body in [r#"{"items":[1]}"#, r#"{"items":[{"a":}]}"#, "not json"] {
            assert!(typed_items(body, "v1", "Pod").is_err(), "{body}");
        }
    }
}
