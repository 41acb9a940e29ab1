//! DELETE's options as kube-apiserver reads them: a propagation policy it
//! does not know deletes nothing, a body's options are the only ones read,
//! and a collection's delete takes them as a single delete does.

use super::refusals::{config_map, stored};
use super::*;

const UNSUPPORTED_ORPHAN: &str = "DeleteOptions.meta.k8s.io \"\" is invalid: propagationPolicy: Unsupported value: \"orphan\": supported values: \"Foreground\", \"Background\", \"Orphan\", \"nil\"";

fn assert_unsupported_orphan(code: u16, v: &Value) {
    assert_eq!((code, v["reason"].as_str()), (422, Some("Invalid")), "{v}");
    assert_eq!(v["message"], UNSUPPORTED_ORPHAN);
    assert_eq!(v["details"]["causes"][0]["field"], "propagationPolicy");
    assert_eq!(
        v["details"]["causes"][0]["reason"],
        "FieldValueNotSupported"
    );
}

/// `propagationPolicy=orphan` (lower case) is not `Orphan`, and not a
/// Background delete either: kube-apiserver answers `422` and deletes
/// nothing, the owner nor its dependent.
#[test]
fn an_unknown_propagation_policy_deletes_nothing() {
    let c = cluster();
    let owner = config_map(&c, "owner", json!({}), None);
    config_map(&c, "dependent", json!({}), Some(&owner));
    let path = "/api/v1/namespaces/default/configmaps/owner";
    let (code, v) = call(
        &c,
        "DELETE",
        &format!("{path}?propagationPolicy=orphan"),
        "application/json",
        "",
    );
    assert_unsupported_orphan(code, &v);
    let body = r#"{"kind":"DeleteOptions","apiVersion":"v1","propagationPolicy":"orphan"}"#;
    let (code, v) = call(&c, "DELETE", path, "application/json", body);
    assert_unsupported_orphan(code, &v);
    assert_eq!(
        stored(&c, "ConfigMap", Some("default"), "owner"),
        Some(owner)
    );
    assert!(stored(&c, "ConfigMap", Some("default"), "dependent").is_some());

    let (code, v) = call(
        &c,
        "DELETE",
        &format!("{path}?propagationPolicy=Orphan"),
        "application/json",
        "",
    );
    assert_eq!(code, 200, "{v}");
    let left = stored(&c, "ConfigMap", Some("default"), "dependent").unwrap();
    assert_eq!(left["metadata"]["ownerReferences"], json!([]));
}

/// With a `DeleteOptions` body kube-apiserver reads the options from the
/// body alone: the query's `propagationPolicy` is not read, for a single
/// delete nor for a collection's.
#[test]
fn a_delete_body_s_options_are_the_only_ones_read() {
    let c = cluster();
    let owner = config_map(&c, "owner", json!({}), None);
    config_map(&c, "dependent", json!({}), Some(&owner));
    let orphan = r#"{"kind":"DeleteOptions","apiVersion":"v1","propagationPolicy":"Orphan"}"#;
    let (code, v) = call(
        &c,
        "DELETE",
        "/api/v1/namespaces/default/configmaps/owner?propagationPolicy=orphan",
        "application/json",
        orphan,
    );
    assert_eq!(code, 200, "{v}");
    assert!(stored(&c, "ConfigMap", Some("default"), "owner").is_none());
    let left = stored(&c, "ConfigMap", Some("default"), "dependent").unwrap();
    assert_eq!(left["metadata"]["ownerReferences"], json!([]));

    let a = config_map(&c, "a", json!({"app": "x"}), None);
    config_map(&c, "a-dep", json!({}), Some(&a));
    let (code, v) = call(
        &c,
        "DELETE",
        "/api/v1/namespaces/default/configmaps?labelSelector=app%3Dx&propagationPolicy=Background",
        "application/json",
        orphan,
    );
    assert_eq!(
        (code, v["items"].as_array().map(Vec::len)),
        (200, Some(1)),
        "{v}"
    );
    assert!(stored(&c, "ConfigMap", Some("default"), "a").is_none());
    let dep = stored(&c, "ConfigMap", Some("default"), "a-dep").unwrap();
    assert_eq!(dep["metadata"]["ownerReferences"], json!([]));
}

/// A collection delete takes the query's options as a single delete does:
/// `dryRun=All` deletes nothing (and answers what it would), an unknown
/// propagation policy is a `422`, `Orphan` leaves the dependents.
#[test]
fn deleting_a_collection_takes_dry_run_and_propagation() {
    let c = cluster();
    let a = config_map(&c, "a", json!({"app": "x"}), None);
    let b = config_map(&c, "b", json!({"app": "x"}), None);
    config_map(&c, "a-dep", json!({}), Some(&a));
    config_map(&c, "b-dep", json!({}), Some(&b));
    let path = "/api/v1/namespaces/default/configmaps?labelSelector=app%3Dx";
    let (code, v) = call(
        &c,
        "DELETE",
        &format!("{path}&dryRun=All"),
        "application/json",
        "",
    );
    assert_eq!(
        (code, v["items"].as_array().map(Vec::len)),
        (200, Some(2)),
        "{v}"
    );
    let (code, v) = call(
        &c,
        "DELETE",
        &format!("{path}&propagationPolicy=orphan"),
        "application/json",
        "",
    );
    assert_unsupported_orphan(code, &v);
    for (name, was) in [("a", &a), ("b", &b)] {
        assert_eq!(
            stored(&c, "ConfigMap", Some("default"), name).as_ref(),
            Some(was)
        );
    }
    for name in ["a-dep", "b-dep"] {
        assert!(stored(&c, "ConfigMap", Some("default"), name).is_some());
    }

    let (code, v) = call(
        &c,
        "DELETE",
        &format!("{path}&propagationPolicy=Orphan"),
        "application/json",
        "",
    );
    assert_eq!(
        (code, v["items"].as_array().map(Vec::len)),
        (200, Some(2)),
        "{v}"
    );
    assert!(stored(&c, "ConfigMap", Some("default"), "a").is_none());
    for name in ["a-dep", "b-dep"] {
        let dep = stored(&c, "ConfigMap", Some("default"), name).unwrap();
        assert_eq!(dep["metadata"]["ownerReferences"], json!([]), "{name}");
    }
}
