//! Kinds served but not stored: the reviews (`selfsubjectaccessreviews`,
//! `selfsubjectrulesreviews`, `selfsubjectreviews`: answered, never kept)
//! and the metrics API's node and pod metrics (computed from the cluster's
//! state at each request).

use std::sync::Arc;

use hyper::{Method, Response};
use serde_json::{json, Value};

use super::{json_response, Body, Ctx, Inner, Target};
use crate::auth::{self, Attributes, Decision};
use crate::error::{ApiError, ApiResult};
use crate::metrics;

/// `POST selfsubjectaccessreviews` and `selfsubjectrulesreviews` (`kubectl
/// auth can-i [--list]`) and `POST selfsubjectreviews` (`kubectl auth
/// whoami`): answered for the caller by the cluster's authorizer and
/// authenticator; nothing is stored.
pub(super) fn review(inner: &Arc<Inner>, ctx: &Ctx, t: &Target) -> ApiResult<Response<Body>> {
    if ctx.method != Method::POST || t.name.is_some() {
        return Err(ApiError::method_not_allowed());
    }
    let mut review = ctx.json_body()?;
    let kind = t.def.kind;
    let Some(object) = review.as_object_mut() else {
        return Err(ApiError::bad_request(format!(
            "error decoding body: a {kind} is an object"
        )));
    };
    object.insert("apiVersion".into(), json!(t.def.api_version()));
    object.insert("kind".into(), json!(kind));
    object.insert("metadata".into(), json!({"creationTimestamp": null}));
    let user = ctx.user;
    if kind == "SelfSubjectReview" {
        let mut info = json!({"username": user.name, "groups": user.groups});
        if !user.uid.is_empty() {
            info["uid"] = json!(user.uid);
        }
        if !user.extra.is_empty() {
            info["extra"] = json!(user.extra);
        }
        object.insert("status".into(), json!({"userInfo": info}));
        return Ok(json_response(201, &review));
    }
    let spec = object.get("spec").cloned().unwrap_or(Value::Null);
    if kind == "SelfSubjectRulesReview" {
        let ns = spec["namespace"].as_str().unwrap_or("");
        let status = auth::rbac::rules_review(&crate::lock(&inner.state), user, ns);
        object.insert("status".into(), status);
        return Ok(json_response(201, &review));
    }
    let has = |k: &str| spec.get(k).is_some_and(Value::is_object);
    if has("resourceAttributes") == has("nonResourceAttributes") {
        return Err(ApiError::invalid(
            kind,
            "authorization.k8s.io",
            "",
            &[(
                "spec.resourceAttributes".to_string(),
                "Invalid value: \"null\": exactly one of nonResourceAttributes or resourceAttributes must be specified".to_string(),
            )],
        ));
    }
    let attrs = Attributes::of_review(&spec);
    let decision = auth::authorize(&crate::lock(&inner.state), user, &attrs);
    let mut status = json!({"allowed": decision.allowed()});
    if let Decision::Allow(reason) = decision {
        if !reason.is_empty() {
            status["reason"] = json!(reason);
        }
    }
    object.insert("status".into(), status);
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
