//! What a request asks to do, in the terms RBAC decides on: kube-apiserver's
//! `RequestInfoFactory` (`k8s.io/apiserver/pkg/endpoints/request`).
//!
//! `/api/v1/...` and `/apis/<group>/<version>/...` are resource requests:
//! the method gives the verb (`GET` a collection is `list`, or `watch` with
//! `watch=true`; `DELETE` a collection is `deletecollection`), the path the
//! namespace, resource, name and subresource. Everything else (`/api`,
//! `/apis/apps`, `/version`, `/openapi/v2`) is a non-resource request whose
//! verb is the method in lower case.

use std::collections::HashMap;

use hyper::Method;
use serde_json::Value;

/// One request's authorization attributes.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Attributes {
    /// `get`, `list`, `watch`, `create`, `update`, `patch`, `delete`,
    /// `deletecollection`; for a non-resource request the lower-case method.
    pub verb: String,
    /// Whether the request names a resource (rather than a path).
    pub resource_request: bool,
    /// API group (`""` for core).
    pub group: String,
    /// `pods`.
    pub resource: String,
    /// `status`, `eviction`, `token`; empty for none.
    pub subresource: String,
    /// The object's name; empty for a collection.
    pub name: String,
    /// The namespace; empty at the cluster scope.
    pub namespace: String,
    /// The URL path (what a non-resource rule matches).
    pub path: String,
}

/// Subresources of a namespace itself: `/api/v1/namespaces/<n>/status` is
/// the namespace `<n>`'s `status`, not a resource named `status` in it.
const NAMESPACE_SUBRESOURCES: &[&str] = &["status", "finalize"];

impl Attributes {
    /// The attributes of `method path?query`, from the path's decoded
    /// segments (`segments`, the ones the router reads) and the decoded
    /// path itself (`path`, what a non-resource rule matches).
    pub fn of(
        method: &Method,
        path: &str,
        segments: &[&str],
        query: &HashMap<String, String>,
    ) -> Self {
        let mut a = Attributes {
            verb: method.as_str().to_ascii_lowercase(),
            path: path.to_string(),
            ..Attributes::default()
        };
        let rest = match segments {
            ["api", _version, rest @ ..] if !rest.is_empty() => rest,
            ["apis", group, _version, rest @ ..] if !rest.is_empty() => {
                a.group = group.to_string();
                rest
            }
            _ => return a,
        };
        a.resource_request = true;
        a.verb = match *method {
            Method::POST => "create",
            Method::GET | Method::HEAD => "get",
            Method::PUT => "update",
            Method::PATCH => "patch",
            Method::DELETE => "delete",
            _ => "",
        }
        .to_string();
        let mut rest = rest;
        if rest.first() == Some(&"namespaces") {
            if let Some(ns) = rest.get(1) {
                a.namespace = ns.to_string();
                if let Some(tail @ [plural, ..]) = rest.get(2..) {
                    if !NAMESPACE_SUBRESOURCES.contains(plural) {
                        rest = tail;
                    }
                }
            }
        }
        a.resource = rest.first().map(|s| s.to_string()).unwrap_or_default();
        a.name = rest.get(1).map(|s| s.to_string()).unwrap_or_default();
        a.subresource = rest.get(2).map(|s| s.to_string()).unwrap_or_default();
        if a.name.is_empty() && a.verb == "get" {
            let watch = matches!(query.get("watch").map(String::as_str), Some("true" | "1"));
            a.verb = if watch { "watch" } else { "list" }.to_string();
            // `kubectl get pod web -w` watches one object by a field
            // selector; a rule with `resourceNames` may allow it.
            if let Some(name) = query
                .get("fieldSelector")
                .and_then(|s| s.strip_prefix("metadata.name="))
                .filter(|n| !n.contains(','))
            {
                a.name = name.to_string();
            }
        }
        if a.name.is_empty() && a.verb == "delete" {
            a.verb = "deletecollection".to_string();
        }
        a
    }

    /// The attributes a `SelfSubjectAccessReview`'s `spec` asks about.
    pub fn of_review(spec: &Value) -> Self {
        let text = |v: &Value, k: &str| v[k].as_str().unwrap_or("").to_string();
        let r = &spec["resourceAttributes"];
        if r.is_object() {
            return Attributes {
                verb: text(r, "verb"),
                resource_request: true,
                group: text(r, "group"),
                resource: text(r, "resource"),
                subresource: text(r, "subresource"),
                name: text(r, "name"),
                namespace: text(r, "namespace"),
                path: String::new(),
            };
        }
        let n = &spec["nonResourceAttributes"];
        Attributes {
            verb: text(n, "verb"),
            path: text(n, "path"),
            ..Attributes::default()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn of(method: Method, path: &str, query: &[(&str, &str)]) -> Attributes {
        let q = query
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let segments: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
        Attributes::of(&method, path, &segments, &q)
    }

    #[test]
    fn resource_requests_read_as_kube_apiserver_reads_them() {
        let a = of(Method::GET, "/api/v1/namespaces/team/pods", &[]);
        assert_eq!(
            (a.verb.as_str(), a.resource.as_str(), a.namespace.as_str()),
            ("list", "pods", "team")
        );
        assert!(a.resource_request && a.name.is_empty() && a.group.is_empty());

        let a = of(
            Method::GET,
            "/api/v1/namespaces/team/pods",
            &[("watch", "true")],
        );
        assert_eq!(a.verb, "watch");
        let a = of(
            Method::GET,
            "/api/v1/namespaces/team/pods",
            &[("watch", "1"), ("fieldSelector", "metadata.name=web")],
        );
        assert_eq!((a.verb.as_str(), a.name.as_str()), ("watch", "web"));

        let a = of(
            Method::POST,
            "/api/v1/namespaces/team/pods/web/eviction",
            &[],
        );
        assert_eq!(
            (a.verb.as_str(), a.name.as_str(), a.subresource.as_str()),
            ("create", "web", "eviction")
        );
        let a = of(
            Method::PATCH,
            "/apis/apps/v1/namespaces/a/deployments/d/scale",
            &[],
        );
        assert_eq!(
            (a.verb.as_str(), a.group.as_str(), a.subresource.as_str()),
            ("patch", "apps", "scale")
        );
        let a = of(
            Method::DELETE,
            "/apis/apps/v1/namespaces/a/deployments",
            &[],
        );
        assert_eq!(a.verb, "deletecollection");
        let a = of(Method::PUT, "/api/v1/nodes/n1", &[]);
        assert_eq!(
            (a.verb.as_str(), a.resource.as_str(), a.namespace.as_str()),
            ("update", "nodes", "")
        );
    }

    #[test]
    fn a_namespace_is_its_own_resource_with_its_own_subresources() {
        let a = of(Method::GET, "/api/v1/namespaces/team", &[]);
        assert_eq!(
            (
                a.verb.as_str(),
                a.resource.as_str(),
                a.name.as_str(),
                a.namespace.as_str()
            ),
            ("get", "namespaces", "team", "team")
        );
        let a = of(Method::PUT, "/api/v1/namespaces/team/finalize", &[]);
        assert_eq!(
            (a.resource.as_str(), a.name.as_str(), a.subresource.as_str()),
            ("namespaces", "team", "finalize")
        );
        let a = of(Method::GET, "/api/v1/namespaces", &[]);
        assert_eq!((a.verb.as_str(), a.namespace.as_str()), ("list", ""));
    }

    #[test]
    fn discovery_and_the_rest_are_paths() {
        for p in [
            "/api",
            "/api/v1",
            "/apis",
            "/apis/apps",
            "/apis/apps/v1",
            "/version",
            "/openapi/v2",
        ] {
            let a = of(Method::GET, p, &[]);
            assert!(!a.resource_request, "{p}");
            assert_eq!((a.verb.as_str(), a.path.as_str()), ("get", p));
        }
    }
}
