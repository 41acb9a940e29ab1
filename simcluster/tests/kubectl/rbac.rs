//! RBAC objects: kubectl's generators (protobuf) create roles, cluster
//! roles and bindings; they are stored, printed with kube-apiserver's
//! columns, validated in its words, and a binding's `roleRef` never changes.

use super::*;

const RBAC: &str = "rbac.authorization.k8s.io/v1";

/// The tenant set-up a compute center scripts: a service account, a role,
/// a binding of the role to it, a user and a group; a cluster role and its
/// binding. What kubectl sent is what is stored and printed.
#[test]
fn roles_and_bindings_are_created_printed_and_kept() {
    let k = Kube::standard();
    k.ok(&["create", "serviceaccount", "runner"]);
    k.ok(&[
        "create",
        "role",
        "pod-reader",
        "--verb=get,list,watch",
        "--resource=pods",
    ]);
    k.ok(&[
        "create",
        "rolebinding",
        "readers",
        "--role=pod-reader",
        "--serviceaccount=default:runner",
        "--user=alice",
        "--group=devs",
    ]);
    k.ok(&[
        "create",
        "clusterrole",
        "node-reader",
        "--verb=get,list",
        "--resource=nodes",
    ]);
    k.ok(&[
        "create",
        "clusterrolebinding",
        "ops",
        "--clusterrole=node-reader",
        "--user=bob",
    ]);

    let role = k
        .cluster
        .get(RBAC, "Role", Some("default"), "pod-reader")
        .unwrap();
    assert_eq!(
        role["rules"],
        json!([{"apiGroups": [""], "resources": ["pods"], "verbs": ["get", "list", "watch"]}])
    );
    let binding = k
        .cluster
        .get(RBAC, "RoleBinding", Some("default"), "readers")
        .unwrap();
    assert_eq!(
        binding["roleRef"],
        json!({"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "pod-reader"})
    );
    let subjects = binding["subjects"].as_array().unwrap();
    assert!(subjects
        .contains(&json!({"kind": "ServiceAccount", "name": "runner", "namespace": "default"})));
    assert!(subjects.contains(
        &json!({"kind": "User", "apiGroup": "rbac.authorization.k8s.io", "name": "alice"})
    ));
    assert!(k
        .cluster
        .get(RBAC, "ClusterRoleBinding", None, "ops")
        .is_some());

    let table = rows(&k.ok(&["get", "rolebinding", "readers", "-o", "wide"]));
    assert_eq!(
        table[0],
        ["NAME", "ROLE", "AGE", "USERS", "GROUPS", "SERVICEACCOUNTS"]
    );
    let r = row(&table, "readers");
    assert_eq!(
        (r[1].as_str(), r[3].as_str(), r[4].as_str(), r[5].as_str()),
        ("Role/pod-reader", "alice", "devs", "default/runner")
    );
    let table = rows(&k.ok(&["get", "clusterrolebinding", "ops"]));
    assert_eq!(row(&table, "ops")[1], "ClusterRole/node-reader");
    assert_eq!(rows(&k.ok(&["get", "role"]))[0], ["NAME", "CREATED", "AT"]);

    // roleRef is immutable: the binding is unchanged.
    let err = fails(
        &k,
        &[
            "patch",
            "rolebinding",
            "readers",
            "--type=merge",
            "-p",
            r#"{"roleRef":{"name":"other"}}"#,
        ],
    );
    assert!(err.contains("roleRef: Invalid value: rbac.RoleRef{APIGroup:\"rbac.authorization.k8s.io\", Kind:\"Role\", Name:\"other\"}: cannot change roleRef"), "{err}");
    let after = k
        .cluster
        .get(RBAC, "RoleBinding", Some("default"), "readers")
        .unwrap();
    assert_eq!(after["roleRef"]["name"], "pod-reader");

    k.ok(&["delete", "clusterrolebinding", "ops"]);
    assert!(k
        .cluster
        .get(RBAC, "ClusterRoleBinding", None, "ops")
        .is_none());
}

/// What kube-apiserver refuses in RBAC objects, it refuses here; nothing is stored.
#[test]
fn invalid_roles_and_bindings_are_refused() {
    let k = Kube::standard();
    let refused = |obj: Value| {
        let (kind, name) = (
            obj["kind"].as_str().unwrap().to_string(),
            obj["metadata"]["name"].as_str().unwrap().to_string(),
        );
        let ns = obj["metadata"]["namespace"].as_str().map(String::from);
        let e = k.cluster.create(obj).unwrap_err().to_string();
        assert!(k.cluster.get(RBAC, &kind, ns.as_deref(), &name).is_none());
        e
    };
    let e = refused(json!({"apiVersion": RBAC, "kind": "Role",
        "metadata": {"name": "r", "namespace": "default"},
        "rules": [{"apiGroups": [""], "resources": ["pods"]}]}));
    assert!(
        e.contains("rules[0].verbs: Required value: verbs must contain at least one value"),
        "{e}"
    );
    let e = refused(json!({"apiVersion": RBAC, "kind": "Role",
        "metadata": {"name": "r", "namespace": "default"},
        "rules": [{"verbs": ["get"], "nonResourceURLs": ["/healthz"]}]}));
    assert!(e.contains("rules[0].nonResourceURLs: Invalid value: []string{\"/healthz\"}: namespaced rules cannot apply to non-resource URLs"), "{e}");
    let e = refused(json!({"apiVersion": RBAC, "kind": "ClusterRoleBinding",
        "metadata": {"name": "b"},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "r"},
        "subjects": [{"kind": "ServiceAccount", "name": "runner"}]}));
    assert!(
        e.contains("roleRef.kind: Unsupported value: \"Role\": supported values: \"ClusterRole\""),
        "{e}"
    );
    assert!(e.contains("subjects[0].namespace: Required value"), "{e}");
    let e = refused(json!({"apiVersion": RBAC, "kind": "RoleBinding",
        "metadata": {"name": "b", "namespace": "default"},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "r"},
        "subjects": [{"kind": "Robot", "name": "r2"}]}));
    assert!(e.contains("subjects[0].kind: Unsupported value: \"Robot\": supported values: \"ServiceAccount\", \"User\", \"Group\""), "{e}");
}
