//! The policy a new cluster starts with (kube-apiserver's bootstrap policy,
//! `plugin/pkg/auth/authorizer/rbac/bootstrappolicy`, the part that matters
//! to people and clients) and the cluster-role aggregation controller.
//!
//! Cluster roles: `cluster-admin` (everything), the user-facing `admin`,
//! `edit` and `view`, aggregated from `system:aggregate-to-{admin,edit,view}`
//! (and from any role labelled `rbac.authorization.k8s.io/aggregate-to-*`,
//! as on a real cluster), and `system:discovery`, `system:basic-user` and
//! `system:public-info-viewer`. Bindings: `cluster-admin` to the group
//! `system:masters`; discovery, basic user and public info to every
//! authenticated user.

use serde_json::{json, Value};

use crate::resources::{self, ResourceDef};
use crate::selectors::LabelSelector;
use crate::state::State;

const GROUP: &str = "rbac.authorization.k8s.io";
const READ: &[&str] = &["get", "list", "watch"];
const WRITE: &[&str] = &["create", "delete", "deletecollection", "patch", "update"];

fn rule(verbs: &[&str], groups: &[&str], resources: &[&str]) -> Value {
    json!({"verbs": verbs, "apiGroups": groups, "resources": resources})
}

fn meta(name: &str, labels: Value) -> Value {
    let mut l = json!({"kubernetes.io/bootstrapping": "rbac-defaults"});
    if let (Some(l), Some(extra)) = (l.as_object_mut(), labels.as_object()) {
        l.extend(extra.clone());
    }
    json!({
        "name": name,
        "labels": l,
        "annotations": {"rbac.authorization.kubernetes.io/autoupdate": "true"},
    })
}

fn cluster_role(name: &str, labels: Value, rules: Vec<Value>) -> Value {
    json!({"apiVersion": format!("{GROUP}/v1"), "kind": "ClusterRole", "metadata": meta(name, labels), "rules": rules})
}

/// `admin`, `edit` or `view`: its rules are what the roles labelled
/// `aggregate-to-<name>` hold.
fn aggregated(name: &str, labels: Value) -> Value {
    let mut r = cluster_role(name, labels, vec![]);
    r["aggregationRule"] = json!({"clusterRoleSelectors": [
        {"matchLabels": {format!("{GROUP}/aggregate-to-{name}"): "true"}}
    ]});
    r
}

fn cluster_roles() -> Vec<Value> {
    let to = |who: &str| json!({format!("{GROUP}/aggregate-to-{who}"): "true"});
    let view = vec![
        rule(
            READ,
            &[""],
            &[
                "configmaps",
                "endpoints",
                "persistentvolumeclaims",
                "persistentvolumeclaims/status",
                "pods",
                "replicationcontrollers",
                "replicationcontrollers/scale",
                "serviceaccounts",
                "services",
                "services/status",
                "bindings",
                "events",
                "limitranges",
                "namespaces/status",
                "pods/log",
                "pods/status",
                "replicationcontrollers/status",
                "resourcequotas",
                "resourcequotas/status",
                "namespaces",
            ],
        ),
        rule(READ, &["discovery.k8s.io"], &["endpointslices"]),
        rule(
            READ,
            &["apps"],
            &[
                "controllerrevisions",
                "daemonsets",
                "daemonsets/status",
                "deployments",
                "deployments/scale",
                "deployments/status",
                "replicasets",
                "replicasets/scale",
                "replicasets/status",
                "statefulsets",
                "statefulsets/scale",
                "statefulsets/status",
            ],
        ),
        rule(
            READ,
            &["autoscaling"],
            &[
                "horizontalpodautoscalers",
                "horizontalpodautoscalers/status",
            ],
        ),
        rule(
            READ,
            &["batch"],
            &["cronjobs", "cronjobs/status", "jobs", "jobs/status"],
        ),
        rule(
            READ,
            &["policy"],
            &["poddisruptionbudgets", "poddisruptionbudgets/status"],
        ),
        rule(
            READ,
            &["networking.k8s.io"],
            &["ingresses", "ingresses/status", "networkpolicies"],
        ),
        rule(READ, &["metrics.k8s.io"], &["pods", "nodes"]),
    ];
    let edit = vec![
        rule(
            READ,
            &[""],
            &[
                "pods/attach",
                "pods/exec",
                "pods/portforward",
                "pods/proxy",
                "secrets",
                "services/proxy",
            ],
        ),
        rule(&["impersonate"], &[""], &["serviceaccounts"]),
        rule(
            WRITE,
            &[""],
            &[
                "pods",
                "pods/attach",
                "pods/exec",
                "pods/portforward",
                "pods/proxy",
            ],
        ),
        rule(&["create"], &[""], &["pods/eviction"]),
        rule(
            WRITE,
            &[""],
            &[
                "configmaps",
                "events",
                "persistentvolumeclaims",
                "replicationcontrollers",
                "replicationcontrollers/scale",
                "secrets",
                "serviceaccounts",
                "services",
                "services/proxy",
            ],
        ),
        rule(&["create"], &[""], &["serviceaccounts/token"]),
        rule(
            WRITE,
            &["apps"],
            &[
                "daemonsets",
                "deployments",
                "deployments/rollback",
                "deployments/scale",
                "replicasets",
                "replicasets/scale",
                "statefulsets",
                "statefulsets/scale",
            ],
        ),
        rule(WRITE, &["autoscaling"], &["horizontalpodautoscalers"]),
        rule(WRITE, &["batch"], &["cronjobs", "jobs"]),
        rule(
            WRITE,
            &["networking.k8s.io"],
            &["ingresses", "networkpolicies"],
        ),
        rule(WRITE, &["policy"], &["poddisruptionbudgets"]),
    ];
    let admin = vec![
        rule(
            &["create"],
            &["authorization.k8s.io"],
            &["localsubjectaccessreviews"],
        ),
        rule(
            resources::STORED_VERBS,
            &[GROUP],
            &["rolebindings", "roles"],
        ),
    ];
    let discovery = [
        "/api",
        "/api/*",
        "/apis",
        "/apis/*",
        "/healthz",
        "/livez",
        "/openapi",
        "/openapi/*",
        "/readyz",
        "/version",
        "/version/",
    ];
    let public = ["/healthz", "/livez", "/readyz", "/version", "/version/"];
    vec![
        cluster_role(
            "cluster-admin",
            json!({}),
            vec![
                rule(&["*"], &["*"], &["*"]),
                json!({"verbs": ["*"], "nonResourceURLs": ["*"]}),
            ],
        ),
        aggregated("admin", json!({})),
        aggregated("edit", to("admin")),
        aggregated("view", to("edit")),
        cluster_role("system:aggregate-to-admin", to("admin"), admin),
        cluster_role("system:aggregate-to-edit", to("edit"), edit),
        cluster_role("system:aggregate-to-view", to("view"), view),
        cluster_role(
            "system:discovery",
            json!({}),
            vec![json!({"verbs": ["get"], "nonResourceURLs": discovery})],
        ),
        cluster_role(
            "system:public-info-viewer",
            json!({}),
            vec![json!({"verbs": ["get"], "nonResourceURLs": public})],
        ),
        cluster_role(
            "system:basic-user",
            json!({}),
            vec![
                rule(
                    &["create"],
                    &["authorization.k8s.io"],
                    &["selfsubjectaccessreviews", "selfsubjectrulesreviews"],
                ),
                rule(
                    &["create"],
                    &["authentication.k8s.io"],
                    &["selfsubjectreviews"],
                ),
            ],
        ),
    ]
}

fn binding(name: &str, role: &str, groups: &[&str]) -> Value {
    let subjects: Vec<Value> = groups
        .iter()
        .map(|g| json!({"kind": "Group", "apiGroup": GROUP, "name": g}))
        .collect();
    json!({
        "apiVersion": format!("{GROUP}/v1"),
        "kind": "ClusterRoleBinding",
        "metadata": meta(name, json!({})),
        "roleRef": {"apiGroup": GROUP, "kind": "ClusterRole", "name": role},
        "subjects": subjects,
    })
}

fn def(plural: &str) -> Option<&'static ResourceDef> {
    resources::find(GROUP, "v1", plural)
}

/// Stores the bootstrap roles and bindings in a new cluster.
pub(crate) fn install(st: &mut State) {
    let bindings = [
        binding("cluster-admin", "cluster-admin", &["system:masters"]),
        binding(
            "system:discovery",
            "system:discovery",
            &["system:authenticated"],
        ),
        binding(
            "system:basic-user",
            "system:basic-user",
            &["system:authenticated"],
        ),
        binding(
            "system:public-info-viewer",
            "system:public-info-viewer",
            &["system:authenticated", "system:unauthenticated"],
        ),
    ];
    if let (Some(roles), Some(role_bindings)) = (def("clusterroles"), def("clusterrolebindings")) {
        for r in cluster_roles() {
            st.store.insert(roles, r);
        }
        for b in bindings {
            st.store.insert(role_bindings, b);
        }
    }
}

const KEY: &str = "clusterroles.rbac.authorization.k8s.io";

/// The cluster-role aggregation controller: a role with an
/// `aggregationRule` holds the rules of every other cluster role its
/// selectors pick, in name order, without repeats. True when it wrote.
pub(crate) fn aggregate(st: &mut State) -> bool {
    if !st.inputs_changed("clusterrole-aggregation", &[KEY]) {
        return false;
    }
    let roles: Vec<Value> = st.store.list(KEY, None).map(|o| (**o).clone()).collect();
    let mut changed = false;
    for role in roles.iter().filter(|r| r["aggregationRule"].is_object()) {
        let selectors: Vec<LabelSelector> = role["aggregationRule"]["clusterRoleSelectors"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|s| LabelSelector::from_object(Some(s)).ok())
            .collect();
        let mut rules: Vec<Value> = Vec::new();
        for other in &roles {
            if other["metadata"]["name"] == role["metadata"]["name"]
                || !selectors.iter().any(|s| s.matches_object(other))
            {
                continue;
            }
            for r in other["rules"].as_array().into_iter().flatten() {
                if !rules.contains(r) {
                    rules.push(r.clone());
                }
            }
        }
        if role["rules"].as_array() != Some(&rules) {
            let mut updated = role.clone();
            updated["rules"] = Value::Array(rules);
            changed |= crate::controllers::put(st, KEY, updated);
        }
    }
    changed
}
