//! Affinity (表8-21): node affinity (preferred terms with weights, required
//! node selector terms), pod affinity and anti-affinity (weighted and
//! required pod affinity terms with label selectors, namespaces and a
//! topology key), and the match expressions all of them use (表21):
//!
//! - `key`: required, a Kubernetes label key;
//! - `operator`: `In`, `NotIn`, `Exists`, `DoesNotExist`, `Gt`, `Lt`;
//!   `Gt`/`Lt` only in node affinity, because a pod affinity term's label
//!   selector is a Kubernetes `LabelSelector`, which has no such operators
//!   (a cluster would refuse the deployment; we refuse the request);
//! - `values`: non-empty for `In`/`NotIn`, empty for `Exists`/
//!   `DoesNotExist`, a single integer for `Gt`/`Lt` (negative ones too;
//!   other values are Kubernetes label values);
//! - `weight`: 1-100; `topologyKey`: required;
//! - no member the tables do not list (the object is passed to the cluster
//!   as it is, and server-side apply refuses a field Kubernetes does not
//!   know).
//!
//! The caller has already checked that the request is platinum (the
//! document: "仅铂金版支持").

use computehub_sdk::workload::{label_key_ok, label_value_ok};

use super::{
    as_obj, index, int_in, join, only, opt_arr, opt_obj, opt_str, opt_strings, req_obj, req_str,
    Obj,
};
use crate::error::{IefError, IefResult, INCONSISTENT, MISSING};

pub const OPERATORS: &[&str] = &["In", "NotIn", "Exists", "DoesNotExist", "Gt", "Lt"];
/// The operators of a label selector (pod affinity terms).
const SELECTOR_OPERATORS: &[&str] = &["In", "NotIn", "Exists", "DoesNotExist"];

const PREFERRED: &str = "preferredDuringSchedulingIgnoredDuringExecution";
const REQUIRED: &str = "requiredDuringSchedulingIgnoredDuringExecution";

fn label_key(key: &str, path: &str) -> IefResult<()> {
    label_key_ok(key).then_some(()).ok_or_else(|| {
        IefError::format(
            path,
            &format!("must be a Kubernetes label key, got `{key}`"),
        )
    })
}

/// One MatchExpression (表21) whose operator is one of `operators`.
fn expression(e: &Obj, path: &str, operators: &[&str]) -> IefResult<()> {
    only(e, &["key", "operator", "values"], path)?;
    let key = req_str(e, "key", path)?;
    label_key(key, &join(path, "key"))?;
    let op = req_str(e, "operator", path)?;
    if !operators.contains(&op) {
        return Err(IefError::not_allowed(
            &join(path, "operator"),
            op,
            operators,
        ));
    }
    let vpath = join(path, "values");
    let values = opt_strings(e, "values", path)?.unwrap_or_default();
    let wrong = |rule: &str| {
        IefError::bad(
            INCONSISTENT,
            format!("`{vpath}` must {rule} with operator `{op}`"),
        )
    };
    match op {
        "In" | "NotIn" if values.is_empty() => return Err(wrong("not be empty")),
        "Exists" | "DoesNotExist" if !values.is_empty() => return Err(wrong("be empty")),
        "Gt" | "Lt" if values.len() != 1 || values.iter().any(|v| v.parse::<i64>().is_err()) => {
            return Err(wrong("hold exactly one integer"))
        }
        "Gt" | "Lt" => return Ok(()),
        _ => {}
    }
    for (i, v) in values.iter().enumerate() {
        if !label_value_ok(v) {
            return Err(IefError::format(
                &index(&vpath, i),
                &format!("must be a Kubernetes label value, got `{v}`"),
            ));
        }
    }
    Ok(())
}

fn expressions(o: &Obj, path: &str, required: bool, operators: &[&str]) -> IefResult<()> {
    let Some(items) = opt_arr(o, "matchExpressions", path)? else {
        if required {
            return Err(IefError::missing(&join(path, "matchExpressions")));
        }
        return Ok(());
    };
    let apath = join(path, "matchExpressions");
    if required && items.is_empty() {
        return Err(IefError::missing(&apath));
    }
    for (i, e) in items.iter().enumerate() {
        let p = index(&apath, i);
        expression(as_obj(e, &p)?, &p, operators)?;
    }
    Ok(())
}

fn weight(o: &Obj, path: &str) -> IefResult<()> {
    int_in(o, "weight", path, 1, 100)?.ok_or_else(|| IefError::missing(&join(path, "weight")))?;
    Ok(())
}

fn node_affinity(n: &Obj, path: &str) -> IefResult<()> {
    only(n, &[PREFERRED, REQUIRED], path)?;
    if let Some(terms) = opt_arr(n, PREFERRED, path)? {
        let apath = join(path, PREFERRED);
        for (i, t) in terms.iter().enumerate() {
            let p = index(&apath, i);
            let t = as_obj(t, &p)?;
            only(t, &["weight", "preference"], &p)?;
            weight(t, &p)?;
            let pref = req_obj(t, "preference", &p)?;
            only(pref, &["matchExpressions"], &join(&p, "preference"))?;
            expressions(pref, &join(&p, "preference"), true, OPERATORS)?;
        }
    }
    if let Some(req) = opt_obj(n, REQUIRED, path)? {
        let rpath = join(path, REQUIRED);
        only(req, &["nodeSelectorTerms"], &rpath)?;
        let terms = opt_arr(req, "nodeSelectorTerms", &rpath)?
            .filter(|t| !t.is_empty())
            .ok_or_else(|| IefError::missing(&join(&rpath, "nodeSelectorTerms")))?;
        let tpath = join(&rpath, "nodeSelectorTerms");
        for (i, t) in terms.iter().enumerate() {
            let p = index(&tpath, i);
            let t = as_obj(t, &p)?;
            only(t, &["matchExpressions"], &p)?;
            expressions(t, &p, true, OPERATORS)?;
        }
    }
    Ok(())
}

fn label_selector(o: &Obj, path: &str) -> IefResult<()> {
    let Some(sel) = opt_obj(o, "labelSelector", path)? else {
        return Ok(());
    };
    let spath = join(path, "labelSelector");
    only(sel, &["matchExpressions", "matchLabels"], &spath)?;
    expressions(sel, &spath, false, SELECTOR_OPERATORS)?;
    if let Some(labels) = opt_obj(sel, "matchLabels", &spath)? {
        let lpath = join(&spath, "matchLabels");
        for (k, v) in labels {
            let p = join(&lpath, k);
            label_key(k, &p)?;
            let v = v
                .as_str()
                .ok_or_else(|| IefError::wrong_type(&p, "a string"))?;
            if !label_value_ok(v) {
                return Err(IefError::format(
                    &p,
                    &format!("must be a Kubernetes label value, got `{v}`"),
                ));
            }
        }
    }
    Ok(())
}

/// A PodAffinityTerm (表17/19).
fn pod_term(t: &Obj, path: &str) -> IefResult<()> {
    only(t, &["labelSelector", "namespaces", "topologyKey"], path)?;
    label_selector(t, path)?;
    if let Some(ns) = opt_strings(t, "namespaces", path)? {
        for (i, n) in ns.iter().enumerate() {
            computehub_sdk::workload::check_dns_label(&index(&join(path, "namespaces"), i), n)
                .map_err(|e| {
                    IefError::format(&index(&join(path, "namespaces"), i), &e.to_string())
                })?;
        }
    }
    match opt_str(t, "topologyKey", path)? {
        Some(k) if !k.is_empty() => label_key(k, &join(path, "topologyKey")),
        _ => Err(IefError::bad(
            MISSING,
            format!("`{}` is required", join(path, "topologyKey")),
        )),
    }
}

fn pod_affinity(a: &Obj, path: &str) -> IefResult<()> {
    only(a, &[PREFERRED, REQUIRED], path)?;
    if let Some(terms) = opt_arr(a, PREFERRED, path)? {
        let apath = join(path, PREFERRED);
        for (i, t) in terms.iter().enumerate() {
            let p = index(&apath, i);
            let t = as_obj(t, &p)?;
            only(t, &["weight", "podAffinityTerm"], &p)?;
            weight(t, &p)?;
            let term = req_obj(t, "podAffinityTerm", &p)?;
            pod_term(term, &join(&p, "podAffinityTerm"))?;
        }
    }
    if let Some(terms) = opt_arr(a, REQUIRED, path)? {
        let apath = join(path, REQUIRED);
        for (i, t) in terms.iter().enumerate() {
            let p = index(&apath, i);
            pod_term(as_obj(t, &p)?, &p)?;
        }
    }
    Ok(())
}

/// Validate `template.affinity` (at `path`).
pub fn validate(a: &Obj, path: &str) -> IefResult<()> {
    only(a, &["nodeAffinity", "podAffinity", "podAntiAffinity"], path)?;
    if let Some(n) = opt_obj(a, "nodeAffinity", path)? {
        node_affinity(n, &join(path, "nodeAffinity"))?;
    }
    for kind in ["podAffinity", "podAntiAffinity"] {
        if let Some(p) = opt_obj(a, kind, path)? {
            pod_affinity(p, &join(path, kind))?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn obj(v: serde_json::Value) -> Obj {
        v.as_object().cloned().unwrap_or_default()
    }

    fn node_expr(v: serde_json::Value) -> IefResult<()> {
        expression(&obj(v), "e", OPERATORS)
    }

    #[test]
    fn label_selectors_have_no_numeric_operators() {
        let e = json!({"key": "n", "operator": "Gt", "values": ["1"]});
        assert!(node_expr(e.clone()).is_ok());
        let err = expression(&obj(e), "e", SELECTOR_OPERATORS).unwrap_err();
        assert_eq!(err.code, crate::error::NOT_ALLOWED);
        // A negative integer is a valid Gt/Lt value.
        assert!(node_expr(json!({"key": "n", "operator": "Lt", "values": ["-1"]})).is_ok());
    }

    #[test]
    fn expressions_follow_their_operator() {
        assert!(node_expr(json!({"key": "zone", "operator": "In", "values": ["a"]})).is_ok());
        assert!(node_expr(json!({"key": "zone", "operator": "In", "values": []})).is_err());
        assert!(node_expr(json!({"key": "zone", "operator": "Exists", "values": ["a"]})).is_err());
        assert!(node_expr(json!({"key": "n", "operator": "Gt", "values": ["1", "2"]})).is_err());
        assert!(node_expr(json!({"key": "n", "operator": "Gt", "values": ["x"]})).is_err());
        assert!(node_expr(json!({"key": "n", "operator": "Near"})).is_err());
    }

    #[test]
    fn weights_and_topology() {
        let a = obj(
            json!({"podAffinity": {PREFERRED: [{"weight": 0, "podAffinityTerm": {"topologyKey": "zone"}}]}}),
        );
        assert_eq!(
            validate(&a, "a").unwrap_err().code,
            crate::error::OUT_OF_RANGE
        );
        let a = obj(
            json!({"podAntiAffinity": {REQUIRED: [{"labelSelector": {"matchLabels": {"app": "x"}}}]}}),
        );
        assert_eq!(validate(&a, "a").unwrap_err().code, MISSING);
    }

    #[test]
    fn unknown_members_are_refused() {
        let a = obj(json!({"nodeAffinity": {REQUIRED: {"nodeSelectorTerms": [
            {"matchExpressions": [{"key": "z", "operator": "Exists", "value": ["x"]}]}]}}}));
        let e = validate(&a, "a").unwrap_err();
        assert_eq!(e.code, crate::error::NOT_ALLOWED);
        assert!(e.msg.contains("matchExpressions[0].value`"), "{}", e.msg);
        assert!(validate(&obj(json!({"nodeAfinity": {}})), "a").is_err());
    }
}
