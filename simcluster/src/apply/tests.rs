//! Server-side apply in the simulation: field sets, create then update and
//! prune, conflicts with another field manager, shared fields kept.

use super::*;

fn deploy(replicas: i64, image: &str) -> Value {
    json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "d", "labels": {"app": "d"}},
           "spec": {"replicas": replicas, "template": {"spec": {"containers": [{"name": "c", "image": image}]}}}})
}

#[test]
fn field_sets() {
    let f = Fields::of_object(&deploy(1, "x"));
    let j = f.to_json();
    assert!(
        j["f:spec"]["f:template"]["f:spec"]["f:containers"]["k:{\"name\":\"c\"}"]["f:image"]
            .is_object()
    );
    assert!(j["f:metadata"]["f:labels"]["f:app"].is_object());
    assert!(j["f:metadata"].get("f:name").is_none());
    assert_eq!(Fields::from_json(&j), f);
}

#[test]
fn apply_create_then_update_and_prune() {
    let obj = apply(None, &deploy(1, "x"), "me", false, "t").unwrap();
    assert_eq!(obj["metadata"]["managedFields"][0]["manager"], "me");
    assert_eq!(obj["metadata"]["managedFields"][0]["operation"], "Apply");
    let mut second = deploy(2, "y");
    second["metadata"]["labels"] = json!({});
    second["metadata"].as_object_mut().unwrap().remove("labels");
    let obj2 = apply(Some(&obj), &second, "me", false, "t").unwrap();
    assert_eq!(obj2["spec"]["replicas"], 2);
    assert_eq!(
        obj2["spec"]["template"]["spec"]["containers"][0]["image"],
        "y"
    );
    assert!(
        obj2["metadata"]["labels"].get("app").is_none(),
        "dropped field pruned: {obj2}"
    );
}

#[test]
fn apply_conflicts_with_other_manager() {
    let mut obj = apply(None, &deploy(1, "x"), "me", false, "t").unwrap();
    let old = obj.clone();
    obj["spec"]["replicas"] = json!(5);
    record_update(Some(&old), &mut obj, "kubectl-scale", None, "t");
    let err = apply(Some(&obj), &deploy(1, "x"), "me", false, "t").unwrap_err();
    assert_eq!(err.code, 409);
    assert!(
        err.message.contains("conflict with \"kubectl-scale\""),
        "{}",
        err.message
    );
    assert!(err.message.contains(".spec.replicas"));
    // the same value is no conflict
    assert!(apply(Some(&obj), &deploy(5, "x"), "me", false, "t").is_ok());
    // force takes ownership
    let forced = apply(Some(&obj), &deploy(1, "x"), "me", true, "t").unwrap();
    assert_eq!(forced["spec"]["replicas"], 1);
    let mf = forced["metadata"]["managedFields"].as_array().unwrap();
    assert!(mf.iter().all(|m| m["manager"] != "kubectl-scale"), "{mf:?}");
}

#[test]
fn shared_fields_are_not_pruned() {
    let a = apply(None, &deploy(1, "x"), "a", false, "t").unwrap();
    let b = apply(Some(&a), &deploy(1, "x"), "b", false, "t").unwrap();
    let mut less = deploy(1, "x");
    less["metadata"].as_object_mut().unwrap().remove("labels");
    let c = apply(Some(&b), &less, "a", false, "t").unwrap();
    assert_eq!(c["metadata"]["labels"]["app"], "d", "still owned by b");
}
