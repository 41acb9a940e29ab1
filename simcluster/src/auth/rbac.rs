//! The RBAC authorizer (`plugin/pkg/auth/authorizer/rbac`): a request is
//! allowed when a rule of a role bound to the user allows it, and denied
//! otherwise (there is no deny rule).
//!
//! Cluster role bindings are read first, then the role bindings of the
//! request's namespace; a role binding's subject `ServiceAccount` without a
//! namespace means one in the binding's namespace. A rule allows when its
//! verbs, API groups, resources (`pods`, `pods/log`, `*`, `*/scale`) and
//! `resourceNames` (empty: any) match, or for a path its `nonResourceURLs`
//! (`/healthz`, `/apis/*`). The members of `system:masters` are allowed
//! everything before RBAC is asked, as kube-apiserver's privileged-group
//! authorizer does. A denial is kube-apiserver's `403`:
//! `pods is forbidden: User "system:serviceaccount:team:ci" cannot list
//! resource "pods" in API group "" in the namespace "team"`.

use serde_json::{json, Value};

use super::{Attributes, User};
use crate::error::ApiError;
use crate::state::State;

const CLUSTER_ROLES: &str = "clusterroles.rbac.authorization.k8s.io";
const ROLES: &str = "roles.rbac.authorization.k8s.io";
const CLUSTER_ROLE_BINDINGS: &str = "clusterrolebindings.rbac.authorization.k8s.io";
const ROLE_BINDINGS: &str = "rolebindings.rbac.authorization.k8s.io";
/// The group whose members are allowed everything.
pub const PRIVILEGED_GROUP: &str = "system:masters";

/// An authorizer's answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    /// Allowed, and why (`RBAC: allowed by ClusterRoleBinding "x" of
    /// ClusterRole "y" to Group "z"`; empty for `system:masters`).
    Allow(String),
    /// No rule allows it.
    Deny,
}

impl Decision {
    /// True when allowed.
    pub fn allowed(&self) -> bool {
        matches!(self, Decision::Allow(_))
    }
}

fn strings(v: &Value) -> impl Iterator<Item = &str> {
    v.as_array().into_iter().flatten().filter_map(Value::as_str)
}

fn has(v: &Value, wanted: &str) -> bool {
    strings(v).any(|s| s == "*" || s == wanted)
}

/// `RuleAllows`.
fn rule_allows(a: &Attributes, rule: &Value) -> bool {
    if !has(&rule["verbs"], &a.verb) {
        return false;
    }
    if !a.resource_request {
        return strings(&rule["nonResourceURLs"]).any(|u| {
            u == "*"
                || u == a.path
                || u.strip_suffix('*')
                    .is_some_and(|prefix| a.path.starts_with(prefix))
        });
    }
    let combined = if a.subresource.is_empty() {
        a.resource.clone()
    } else {
        format!("{}/{}", a.resource, a.subresource)
    };
    let resource = strings(&rule["resources"]).any(|r| {
        r == "*"
            || r == combined
            || (!a.subresource.is_empty() && r.strip_prefix("*/") == Some(a.subresource.as_str()))
    });
    let names: Vec<&str> = strings(&rule["resourceNames"]).collect();
    has(&rule["apiGroups"], &a.group)
        && resource
        && (names.is_empty() || names.contains(&a.name.as_str()))
}

/// Whether `subject` (of a binding in `binding_ns`, empty for a cluster
/// role binding) is `user`; `appliesToUser`.
fn applies(subject: &Value, user: &User, binding_ns: &str) -> bool {
    let name = subject["name"].as_str().unwrap_or("");
    match subject["kind"].as_str().unwrap_or("") {
        "User" => user.name == name,
        "Group" => user.groups.iter().any(|g| g == name),
        "ServiceAccount" => {
            let ns = subject["namespace"]
                .as_str()
                .filter(|n| !n.is_empty())
                .unwrap_or(binding_ns);
            !ns.is_empty() && user.name == format!("system:serviceaccount:{ns}:{name}")
        }
        _ => false,
    }
}

/// `describeSubject`: `Group "system:masters"`, `ServiceAccount "ci/team"`.
fn describe(subject: &Value, binding_ns: &str) -> String {
    let kind = subject["kind"].as_str().unwrap_or("");
    let name = subject["name"].as_str().unwrap_or("");
    if kind == "ServiceAccount" {
        let ns = subject["namespace"]
            .as_str()
            .filter(|n| !n.is_empty())
            .unwrap_or(binding_ns);
        return format!("{kind} \"{name}/{ns}\"");
    }
    format!("{kind} \"{name}\"")
}

/// The rules of the role a binding (in `ns`, empty for a cluster role
/// binding) refers to; none when it is missing.
fn role_rules<'a>(st: &'a State, role_ref: &Value, ns: &str) -> Option<&'a Value> {
    let name = role_ref["name"].as_str().unwrap_or("");
    let role = match role_ref["kind"].as_str() {
        Some("ClusterRole") => st.store.get(CLUSTER_ROLES, "", name),
        Some("Role") if !ns.is_empty() => st.store.get(ROLES, ns, name),
        _ => None,
    }?;
    Some(&role["rules"])
}

/// One binding that applies to a user: its namespace (empty for a cluster
/// role binding), the binding, the subject that names the user, and the
/// rules of the role it binds.
struct Grant<'a> {
    ns: &'a str,
    binding: &'a Value,
    subject: &'a Value,
    rules: &'a Value,
}

impl Grant<'_> {
    fn rules(&self) -> impl Iterator<Item = &Value> {
        self.rules.as_array().into_iter().flatten()
    }

    /// `RBAC: allowed by RoleBinding "ci-view/team" of ClusterRole "view"
    /// to ServiceAccount "ci/team"`.
    fn reason(&self) -> String {
        let name = self.binding["metadata"]["name"].as_str().unwrap_or("");
        let role_ref = &self.binding["roleRef"];
        let what = if self.ns.is_empty() {
            format!("ClusterRoleBinding \"{name}\"")
        } else {
            format!("RoleBinding \"{name}/{}\"", self.ns)
        };
        format!(
            "RBAC: allowed by {what} of {} \"{}\" to {}",
            role_ref["kind"].as_str().unwrap_or(""),
            role_ref["name"].as_str().unwrap_or(""),
            describe(self.subject, self.ns)
        )
    }
}

/// The bindings that apply to `user` in `namespace` (the cluster role
/// bindings, then the namespace's role bindings), with their roles' rules.
fn grants<'a>(st: &'a State, user: &User, namespace: &'a str) -> Vec<Grant<'a>> {
    let mut bindings: Vec<(&str, &Value)> = st
        .store
        .list(CLUSTER_ROLE_BINDINGS, None)
        .map(|b| ("", &**b))
        .collect();
    if !namespace.is_empty() {
        bindings.extend(
            st.store
                .list(ROLE_BINDINGS, Some(namespace))
                .map(|b| (namespace, &**b)),
        );
    }
    bindings
        .into_iter()
        .filter_map(|(ns, binding)| {
            let subject = binding["subjects"]
                .as_array()
                .into_iter()
                .flatten()
                .find(|s| applies(s, user, ns))?;
            let rules = role_rules(st, &binding["roleRef"], ns)?;
            Some(Grant {
                ns,
                binding,
                subject,
                rules,
            })
        })
        .collect()
}

/// Whether `user` may do what `a` says.
pub fn authorize(st: &State, user: &User, a: &Attributes) -> Decision {
    if user.groups.iter().any(|g| g == PRIVILEGED_GROUP) {
        return Decision::Allow(String::new());
    }
    grants(st, user, &a.namespace)
        .iter()
        .find(|g| g.rules().any(|r| rule_allows(a, r)))
        .map_or(Decision::Deny, |g| Decision::Allow(g.reason()))
}

/// What `user` may do in `namespace`, for a `SelfSubjectRulesReview`
/// (`kubectl auth can-i --list`): the `resourceRules` and
/// `nonResourceRules` of every role bound to it there, in binding order.
pub fn rules_review(st: &State, user: &User, namespace: &str) -> Value {
    let mut resource = Vec::new();
    let mut non_resource = Vec::new();
    for grant in grants(st, user, namespace) {
        for r in grant.rules() {
            let pick = |keys: &[&str]| {
                let mut o = serde_json::Map::new();
                for k in keys {
                    if let Some(v) = r.get(*k).filter(|v| !v.is_null()) {
                        o.insert((*k).to_string(), v.clone());
                    }
                }
                Value::Object(o)
            };
            if r["nonResourceURLs"].is_array() {
                non_resource.push(pick(&["verbs", "nonResourceURLs"]));
            } else {
                resource.push(pick(&["verbs", "apiGroups", "resources", "resourceNames"]));
            }
        }
    }
    json!({"resourceRules": resource, "nonResourceRules": non_resource, "incomplete": false})
}

/// kube-apiserver's `403` for a denied request (`forbiddenMessage` inside
/// `NewForbidden`).
pub fn forbidden(user: &User, a: &Attributes) -> ApiError {
    if !a.resource_request {
        return ApiError::forbidden(format!(
            "forbidden: User \"{}\" cannot {} path \"{}\"",
            user.name, a.verb, a.path
        ));
    }
    let resource = if a.subresource.is_empty() {
        a.resource.clone()
    } else {
        format!("{}/{}", a.resource, a.subresource)
    };
    let scope = if a.namespace.is_empty() {
        "at the cluster scope".to_string()
    } else {
        format!("in the namespace \"{}\"", a.namespace)
    };
    let why = format!(
        "User \"{}\" cannot {} resource \"{resource}\" in API group \"{}\" {scope}",
        user.name, a.verb, a.group
    );
    let qualified = if a.group.is_empty() {
        a.resource.clone()
    } else {
        format!("{}.{}", a.resource, a.group)
    };
    let message = if a.name.is_empty() {
        format!("{qualified} is forbidden: {why}")
    } else {
        format!("{qualified} \"{}\" is forbidden: {why}", a.name)
    };
    let mut e = ApiError::forbidden(message);
    let mut details = json!({"kind": a.resource});
    if !a.group.is_empty() {
        details["group"] = json!(a.group);
    }
    if !a.name.is_empty() {
        details["name"] = json!(a.name);
    }
    e.details = Some(details);
    e
}

#[cfg(test)]
mod tests {
    use super::*;

    fn attrs(verb: &str, group: &str, resource: &str, sub: &str, name: &str) -> Attributes {
        Attributes {
            verb: verb.into(),
            resource_request: true,
            group: group.into(),
            resource: resource.into(),
            subresource: sub.into(),
            name: name.into(),
            namespace: "team".into(),
            path: String::new(),
        }
    }

    #[test]
    fn rules_match_as_kubernetes_matches_them() {
        let rule =
            json!({"verbs": ["get", "list"], "apiGroups": [""], "resources": ["pods", "pods/log"]});
        assert!(rule_allows(&attrs("get", "", "pods", "", "web"), &rule));
        assert!(rule_allows(&attrs("get", "", "pods", "log", "web"), &rule));
        assert!(!rule_allows(
            &attrs("get", "", "pods", "status", "web"),
            &rule
        ));
        assert!(!rule_allows(&attrs("delete", "", "pods", "", "web"), &rule));
        assert!(!rule_allows(
            &attrs("get", "apps", "pods", "", "web"),
            &rule
        ));

        let scale = json!({"verbs": ["*"], "apiGroups": ["*"], "resources": ["*/scale"]});
        assert!(rule_allows(
            &attrs("patch", "apps", "deployments", "scale", "d"),
            &scale
        ));
        assert!(!rule_allows(
            &attrs("patch", "apps", "deployments", "", "d"),
            &scale
        ));

        let named = json!({"verbs": ["get"], "apiGroups": [""], "resources": ["configmaps"], "resourceNames": ["settings"]});
        assert!(rule_allows(
            &attrs("get", "", "configmaps", "", "settings"),
            &named
        ));
        assert!(!rule_allows(
            &attrs("get", "", "configmaps", "", "other"),
            &named
        ));
        assert!(!rule_allows(
            &attrs("get", "", "configmaps", "", ""),
            &named
        ));

        let paths = json!({"verbs": ["get"], "nonResourceURLs": ["/healthz", "/apis/*"]});
        let path = |p: &str| Attributes {
            verb: "get".into(),
            path: p.into(),
            ..Attributes::default()
        };
        assert!(rule_allows(&path("/healthz"), &paths));
        assert!(rule_allows(&path("/apis/apps/v1"), &paths));
        assert!(!rule_allows(&path("/api"), &paths));
    }

    #[test]
    fn denials_read_as_kube_apiserver_writes_them() {
        let user = User::service_account("team", "ci", "u1");
        let e = forbidden(&user, &attrs("list", "", "pods", "", ""));
        assert_eq!(e.code, 403);
        assert_eq!(
            e.message,
            "pods is forbidden: User \"system:serviceaccount:team:ci\" cannot list resource \"pods\" in API group \"\" in the namespace \"team\""
        );
        let e = forbidden(
            &user,
            &attrs("patch", "apps", "deployments", "scale", "web"),
        );
        assert_eq!(
            e.message,
            "deployments.apps \"web\" is forbidden: User \"system:serviceaccount:team:ci\" cannot patch resource \"deployments/scale\" in API group \"apps\" in the namespace \"team\""
        );
        let mut node = attrs("update", "", "nodes", "", "n1");
        node.namespace.clear();
        assert!(forbidden(&user, &node)
            .message
            .ends_with("cannot update resource \"nodes\" in API group \"\" at the cluster scope"));
    }
}
