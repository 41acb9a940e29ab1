//! Kinds served but not stored: `selfsubjectaccessreviews` (answered, never
//! kept) and the metrics API's node and pod metrics (computed from the
//! cluster's state at each request).

use std::sync::Arc;

use hyper::{Method, Response};
use serde_json::{json, Value};

use super::{json_response, Body, Ctx, Inner, Target};
use crate::error::{ApiError, ApiResult};
use crate::metrics;

/// `POST selfsubjectaccessreviews` (`kubectl auth can-i`): the cluster's
/// one credential is its administrator's token, so every well-formed review
/// is allowed; the review comes back with its status, nothing is stored.
pub(super) fn access_review(ctx: &Ctx, t: &Target) -> ApiResult<Response<Body>> {
    if ctx.method != Method::POST || t.name.is_some() {
        return Err(ApiError::method_not_allowed());
    }
    let mut review = ctx.json_body()?;
    let invalid = |field: &str, message: &str| {
        ApiError::invalid(
            "SelfSubjectAccessReview",
            "authorization.k8s.io",
            "",
            &[(field.to_string(), message.to_string())],
        )
    };
    let Some(object) = review.as_object_mut() else {
        return Err(ApiError::bad_request(
            "error decoding body: a SelfSubjectAccessReview is an object",
        ));
    };
    let spec = object.get("spec").and_then(Value::as_object);
    let has = |k: &str| spec.is_some_and(|s| s.get(k).is_some_and(Value::is_object));
    if has("resourceAttributes") == has("nonResourceAttributes") {
        return Err(invalid(
            "spec.resourceAttributes",
            "Invalid value: \"null\": exactly one of nonResourceAttributes or resourceAttributes must be specified",
        ));
    }
    object.insert("apiVersion".into(), json!("authorization.k8s.io/v1"));
    object.insert("kind".into(), json!("SelfSubjectAccessReview"));
    object.insert("metadata".into(), json!({"creationTimestamp": null}));
    object.insert(
        "status".into(),
        json!({"allowed": true, "reason": "the simulated cluster's token is its administrator's"}),
    );
    Ok(json_response(201, &review))
}

pub(super) fn metrics_route(
    inner: &Arc<Inner>,
    ctx: &Ctx,
    t: &Target,
) -> ApiResult<Response<Body>> {
    if ctx.method != Method::GET || t.sub.is_some() {
        return Err(ApiError::method_not_allowed());
    }
    let st = crate::lock(&inner.state);
    let (ls, _) = ctx.selectors()?;
    let v = match (t.def.kind, t.name.as_deref()) {
        ("NodeMetrics", None) => metrics::node_metrics_list(&st, &ls),
        ("NodeMetrics", Some(n)) => {
            let node = st
                .store
                .get("nodes", "", n)
                .ok_or_else(|| ApiError::not_found("metrics.k8s.io", "nodes", n))?;
            metrics::node_metrics(&st, node)
        }
        (_, None) => metrics::pod_metrics_list(&st, t.ns.as_deref(), &ls),
        (_, Some(n)) => {
            let ns = t.ns.as_deref().unwrap_or("default");
            st.store
                .get("pods", ns, n)
                .and_then(|p| metrics::pod_metrics(&st, p))
                .ok_or_else(|| ApiError::not_found("metrics.k8s.io", "pods", n))?
        }
    };
    Ok(json_response(200, &v))
}
