//! Lists and watches of a resource path: a list page (`limit`, `continue`
//! tokens that resume after the last key listed), rendered as the objects,
//! a `Table` or `PartialObjectMetadataList`; a watch as a chunked stream.

use std::sync::Arc;
use std::time::Duration;

use http_body_util::BodyExt;
use hyper::header::HeaderValue;
use hyper::{Response, StatusCode};
use serde_json::{json, Value};

use super::{bytes_response, json_response, partial, response, Body, Ctx, Inner, Target};
use crate::api;
use crate::error::{ApiError, ApiResult};
use crate::table;
use crate::watch::{self, WatchRequest};

/// A list page's continue token: the resource version it was listed at and
/// the key (namespace, name) of its last object, so the next page starts
/// right after it (as kube-apiserver's tokens do) even if objects were
/// added or removed in between.
fn continue_token(rv: &str, last: &Value) -> String {
    let meta = &last["metadata"];
    let ns = meta["namespace"].as_str().unwrap_or("");
    let name = meta["name"].as_str().unwrap_or("");
    format!("{rv}:{ns}/{name}")
}

/// The key a continue token resumes after; a token we did not make is a
/// 400, as kube-apiserver answers it.
fn continue_key(token: &str) -> ApiResult<(String, String)> {
    token
        .split_once(':')
        .filter(|(rv, _)| rv.parse::<u64>().is_ok())
        .and_then(|(_, key)| key.split_once('/'))
        .map(|(ns, name)| (ns.to_string(), name.to_string()))
        .ok_or_else(|| ApiError::bad_request(format!("continue key is not valid: {token}")))
}

/// A list's body. The items are `Arc`s taken under the state lock; the
/// (possibly tens of megabytes of) JSON is written after the lock is released
/// and straight from the stored objects, without copying them into a new tree.
pub(super) fn list_response(
    inner: &Arc<Inner>,
    ctx: &Ctx,
    t: &Target,
) -> ApiResult<Response<Body>> {
    let (ls, fs) = ctx.selectors()?;
    requested_version(ctx.q("resourceVersion"))?;
    let limit: Option<usize> = ctx
        .q("limit")
        .and_then(|l| l.parse().ok())
        .filter(|l| *l > 0);
    let after = match ctx.q("continue").filter(|c| !c.is_empty()) {
        Some(token) => Some(continue_key(token)?),
        None => None,
    };
    let (page, more, rv) = {
        let st = crate::lock(&inner.state);
        let rv = st.store.resource_version().to_string();
        let ns = t.ns.as_deref();
        if limit.is_none() && after.is_none() {
            (api::list(&st, t.def, ns, &ls, &fs), false, rv)
        } else {
            let limit = limit.unwrap_or(usize::MAX);
            let (page, more) = api::list_page(&st, t.def, ns, &ls, &fs, after, limit);
            (page, more, rv)
        }
    };
    let mut meta = json!({"resourceVersion": rv});
    if more {
        if let Some(last) = page.last() {
            meta["continue"] = json!(continue_token(&rv, last));
        }
    }
    if let Some(inc) = ctx.table() {
        let mut tbl = table::table(t.def, &page, &rv, inc);
        tbl["metadata"] = meta;
        return Ok(json_response(200, &tbl));
    }
    if ctx.accept.contains("as=PartialObjectMetadataList") {
        let items: Vec<Value> = page.iter().map(|o| partial(o)).collect();
        return Ok(json_response(
            200,
            &api::list_value("PartialObjectMetadataList", "meta.k8s.io/v1", meta, items),
        ));
    }
    #[derive(serde::Serialize)]
    #[serde(rename_all = "camelCase")]
    struct List<'a> {
        kind: String,
        api_version: String,
        metadata: Value,
        items: Vec<&'a Value>,
    }
    let list = List {
        kind: t.def.list_kind(),
        api_version: t.def.api_version(),
        metadata: meta,
        items: page.iter().map(|o| &**o).collect(),
    };
    Ok(bytes_response(
        200,
        serde_json::to_vec(&list).unwrap_or_default(),
    ))
}

pub(super) fn watch_route(inner: &Arc<Inner>, ctx: &Ctx, t: &Target) -> ApiResult<Response<Body>> {
    let (labels, fields) = ctx.selectors()?;
    let req = WatchRequest {
        def: t.def,
        namespace: if t.def.namespaced { t.ns.clone() } else { None },
        labels,
        fields,
        resource_version: requested_version(ctx.q("resourceVersion"))?,
        send_initial: ctx.flag("sendInitialEvents"),
        bookmarks: ctx.flag("allowWatchBookmarks"),
        timeout: ctx
            .q("timeoutSeconds")
            .and_then(|s| s.parse().ok())
            .map(Duration::from_secs),
        table: ctx.table(),
    };
    let body = watch::start(inner, req)?;
    let mut resp = response(StatusCode::OK, "application/json", body.boxed());
    resp.headers_mut().insert(
        http::header::TRANSFER_ENCODING,
        HeaderValue::from_static("chunked"),
    );
    Ok(resp)
}

/// A list's or watch's `resourceVersion`: none (or empty) is the current
/// state; anything but a decimal number is refused as kube-apiserver's
/// versioner refuses it, in `strconv.ParseUint`'s words, with the `500`
/// its handlers answer for that error (kubernetes#101350, still so in
/// 1.32), where it used to be ignored (a watch began from the current
/// objects).
fn requested_version(rv: Option<&str>) -> ApiResult<Option<u64>> {
    let Some(rv) = rv.filter(|s| !s.is_empty()) else {
        return Ok(None);
    };
    let digits = rv.bytes().all(|b| b.is_ascii_digit());
    match rv.parse::<u64>() {
        Ok(v) if digits => Ok(Some(v)),
        _ => {
            let quoted = crate::admission::field::quote(rv);
            let why = if digits {
                "value out of range"
            } else {
                "invalid syntax"
            };
            Err(ApiError::unconverted(format!(
                "resourceVersion: Invalid value: {quoted}: strconv.ParseUint: parsing {quoted}: {why}"
            )))
        }
    }
}
