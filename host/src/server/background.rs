//! A plugin call that may become a background operation.
//!
//! A call of a plugin whose grant reaches beyond the call (inventory,
//! kubernetes, ssh, operations) runs in its own task, so a client that goes
//! away does not cancel it and a change or an operation is never cut off
//! halfway by a dropped connection. A plugin granted `operations` also gets
//! an operation [`Link`] registered under its request id: if it begins an
//! operation and the client sent `Prefer: respond-async`, the client gets
//! `202 Accepted` with the operation id at once and the call goes on in the
//! background; otherwise the client waits for the plugin's answer as usual.
//! When the call ends, an operation it began but did not finish is failed
//! with the reason. Other plugins (log and the engines only) are called in
//! the request's own task.
//!
//! [`Link`]: crate::capabilities::operations::Link

use std::sync::Arc;
use std::time::Duration;

use http::{HeaderMap, HeaderValue, Response};
use serde_json::json;

use super::reply::{self, Body};
use crate::bindings::wit_types::{Request, Response as WitResponse};
use crate::capabilities::operations::Link;
use crate::envelope::Envelope;
use crate::registry::PluginEntry;
use crate::runtime::{call, CallContext, CallError, HostServices};

/// How the call ended, as far as the client is concerned.
pub enum Answer {
    /// The plugin answered (or failed) while the client waited.
    Done(Result<WitResponse, CallError>),
    /// An operation began and the client asked not to wait.
    Accepted(String),
}

/// Whether the client asked for the asynchronous form (RFC 7240).
pub fn prefers_async(headers: &HeaderMap) -> bool {
    headers.get_all("prefer").iter().any(|v| {
        v.to_str().is_ok_and(|v| {
            v.split([',', ';'])
                .any(|p| p.trim().eq_ignore_ascii_case("respond-async"))
        })
    })
}

/// Run the call in its own task, answering early if it becomes an operation
/// the client will not wait for.
///
/// A plugin whose grant has no capability with effects beyond the call
/// (see [`PluginEntry::detached`]) is called in the request's own task: it
/// cannot begin an operation, and stopping it with the client loses nothing.
/// Only a plugin granted `operations` gets an operation link.
pub async fn run(
    plugin: &Arc<PluginEntry>,
    services: &Arc<HostServices>,
    mut ctx: CallContext,
    deadline: Duration,
    req: Request,
    respond_async: bool,
) -> Answer {
    let Some(endpoint) = &plugin.endpoint else {
        return Answer::Done(Err(CallError::Trap(format!(
            "plugin `{}` is not an endpoint plugin",
            plugin.id
        ))));
    };
    if !plugin.detached {
        // Borrowed, not counted: the request holds the version until the
        // call returns.
        let result =
            call::handle_endpoint(endpoint, &plugin.permits, services, ctx, deadline, req).await;
        return Answer::Done(result);
    }
    let (plugin, endpoint) = (Arc::clone(plugin), endpoint.clone());
    let (link, started) = if plugin.operations {
        let (link, started) = Link::new();
        ctx.operation = Some(Arc::clone(&link));
        (Some(link), Some(started))
    } else {
        (None, None)
    };
    let task_services = Arc::clone(services);
    // The task keeps the request (its log lines carry the request id, its
    // spans the request's trace) and the request's scope of reads (the
    // stamp it took, if any).
    let mut task = tokio::spawn(crate::telemetry::request::carried(
        crate::store::db::scope::continued(async move {
            let result = call::handle_endpoint(
                &endpoint,
                &plugin.permits,
                &task_services,
                ctx,
                deadline,
                req,
            )
            .await;
            let Some(link) = link else {
                return result;
            };
            let ops = &task_services.capabilities.operations;
            if let Some(op) = link.operation() {
                let why = match &result {
                    Ok(r) => format!(
                        "the plugin answered {} without finishing the operation",
                        r.status
                    ),
                    Err(CallError::Trap(_)) => {
                        "the plugin failed while running the operation".into()
                    }
                    Err(e) => e.to_string(),
                };
                ops.records().abandon(&op, &why).await;
            }
            result
        }),
    ));
    let joined = match started {
        Some(mut started) if respond_async => {
            tokio::select! {
                biased;
                r = &mut task => r,
                Ok(op) = &mut started => return Answer::Accepted(op),
            }
        }
        _ => task.await,
    };
    Answer::Done(
        joined.unwrap_or_else(|e| Err(CallError::Trap(format!("the call's task failed: {e}")))),
    )
}

/// `202 Accepted` in the area's envelope, pointing at the operation.
pub fn accepted(format: &Envelope, op: &str) -> Response<Body> {
    let href = format!("/operations/{op}");
    let data = json!({"operation_id": op, "href": href, "events": format!("{href}/events")});
    let body = format.success_body(202, "operation accepted", data);
    let mut r = reply::json(202, &body);
    if let Ok(v) = HeaderValue::from_str(&href) {
        r.headers_mut().insert(http::header::LOCATION, v);
    }
    r.headers_mut().insert(
        "preference-applied",
        HeaderValue::from_static("respond-async"),
    );
    r
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefer_header_is_parsed() {
        let mut h = HeaderMap::new();
        assert!(!prefers_async(&h));
        h.insert(
            "prefer",
            HeaderValue::from_static("return=minimal, respond-async"),
        );
        assert!(prefers_async(&h));
        h.insert("prefer", HeaderValue::from_static("respond-async; wait=10"));
        assert!(prefers_async(&h));
        h.insert("prefer", HeaderValue::from_static("return=minimal"));
        assert!(!prefers_async(&h));
    }
}
