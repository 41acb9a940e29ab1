//! RBAC objects as `pkg/apis/rbac/validation` checks them: a rule has
//! verbs, and either resources with their API groups or (cluster roles
//! only) non-resource URLs; a binding refers to a role of its own API group
//! and kind it may bind (a `RoleBinding` a `Role` or `ClusterRole`, a
//! `ClusterRoleBinding` a `ClusterRole`), its subjects are service accounts
//! (of the core group, with a namespace where the binding has none), users
//! or groups, each named; and `roleRef` never changes.
//!
//! What they allow is decided by [`crate::auth::rbac`].

use serde_json::{json, Value};

use super::{field, Causes};

const GROUP: &str = "rbac.authorization.k8s.io";

fn strings(v: &Value) -> Vec<&str> {
    v.as_array()
        .map(|a| a.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default()
}

/// Go's `%#v` of a `[]string`.
fn go_strings(v: &[&str]) -> String {
    let items: Vec<String> = v.iter().map(|s| field::quote(s)).collect();
    format!("[]string{{{}}}", items.join(", "))
}

/// `ValidatePolicyRule` for each of a role's `rules`.
pub(crate) fn role(obj: &Value, namespaced: bool, causes: &mut Causes) {
    for (i, rule) in obj["rules"].as_array().into_iter().flatten().enumerate() {
        let path = format!("rules[{i}]");
        if strings(&rule["verbs"]).is_empty() {
            field::required(
                causes,
                format!("{path}.verbs"),
                "verbs must contain at least one value",
            );
        }
        let urls = strings(&rule["nonResourceURLs"]);
        if !urls.is_empty() {
            if namespaced {
                field::invalid_shown(
                    causes,
                    format!("{path}.nonResourceURLs"),
                    &go_strings(&urls),
                    "namespaced rules cannot apply to non-resource URLs",
                );
            }
            if !strings(&rule["apiGroups"]).is_empty() || !strings(&rule["resources"]).is_empty() {
                field::invalid_shown(
                    causes,
                    format!("{path}.nonResourceURLs"),
                    &go_strings(&urls),
                    "rules cannot apply to both regular resources and non-resource URLs",
                );
            }
            continue;
        }
        if rule["apiGroups"].as_array().is_none_or(Vec::is_empty) {
            field::required(
                causes,
                format!("{path}.apiGroups"),
                "resource rules must supply at least one api group",
            );
        }
        if strings(&rule["resources"]).is_empty() {
            field::required(
                causes,
                format!("{path}.resources"),
                "resource rules must supply at least one resource",
            );
        }
    }
}

/// `ValidateRoleBinding` / `ValidateClusterRoleBinding`.
pub(crate) fn binding(obj: &Value, namespaced: bool, causes: &mut Causes) {
    let role_ref = &obj["roleRef"];
    let group = role_ref["apiGroup"].as_str().unwrap_or("");
    if group != GROUP {
        field::not_supported(causes, "roleRef.apiGroup", &json!(group), &[GROUP]);
    }
    let kind = role_ref["kind"].as_str().unwrap_or("");
    let kinds: &[&str] = if namespaced {
        &["Role", "ClusterRole"]
    } else {
        &["ClusterRole"]
    };
    if !kinds.contains(&kind) {
        field::not_supported(causes, "roleRef.kind", &json!(kind), kinds);
    }
    if role_ref["name"].as_str().unwrap_or("").is_empty() {
        field::required(causes, "roleRef.name", "");
    }
    for (i, s) in obj["subjects"].as_array().into_iter().flatten().enumerate() {
        let path = format!("subjects[{i}]");
        let name = s["name"].as_str().unwrap_or("");
        if name.is_empty() {
            field::required(causes, format!("{path}.name"), "");
        }
        let api_group = s["apiGroup"].as_str().unwrap_or("");
        match s["kind"].as_str().unwrap_or("") {
            "ServiceAccount" => {
                if !api_group.is_empty() {
                    field::not_supported(
                        causes,
                        format!("{path}.apiGroup"),
                        &json!(api_group),
                        &[""],
                    );
                }
                if !namespaced && s["namespace"].as_str().unwrap_or("").is_empty() {
                    field::required(causes, format!("{path}.namespace"), "");
                }
            }
            "User" | "Group" => {
                if api_group != GROUP {
                    field::not_supported(
                        causes,
                        format!("{path}.apiGroup"),
                        &json!(api_group),
                        &[GROUP],
                    );
                }
            }
            other => field::not_supported(
                causes,
                format!("{path}.kind"),
                &json!(other),
                &["ServiceAccount", "User", "Group"],
            ),
        }
    }
}

/// A binding's `roleRef` stays what it was created with.
pub(crate) fn same_role_ref(old: &Value, new: &Value, causes: &mut Causes) {
    if old["roleRef"] != new["roleRef"] {
        let r = &new["roleRef"];
        let shown = format!(
            "rbac.RoleRef{{APIGroup:{}, Kind:{}, Name:{}}}",
            field::quote(r["apiGroup"].as_str().unwrap_or("")),
            field::quote(r["kind"].as_str().unwrap_or("")),
            field::quote(r["name"].as_str().unwrap_or(""))
        );
        field::invalid_shown(causes, "roleRef", &shown, "cannot change roleRef");
    }
}
