//! pcapi: `{"status": <bool>, "info": "...", "data": ...}`.
//!
//! The documented failures answer HTTP 200 with `status: false`, the
//! endpoint's documented `info` exactly (`operate failed`, `delete node
//! failed`, `switch node failed`) and `"data": ""` (or what the document
//! shows: an object describing what was attempted for `node_state_switch`,
//! `null` for `yaml_apply_delete`); what went wrong is in `detail`
//! ([`failure`]).

use serde::Serialize;

use crate::error::ApiError;
use crate::{response, Response};

#[derive(Serialize)]
struct Envelope<'a, T: ?Sized> {
    status: bool,
    info: &'a str,
    data: &'a T,
    #[serde(skip_serializing_if = "Option::is_none")]
    detail: Option<&'a str>,
}

/// The failure `info` of most endpoints (`new_cluster`, `new_worker`, the
/// boards, `yaml_apply_delete`), and of failures no document covers.
pub const FAILED: &str = "operate failed";

/// The OpenAPI description of a pcapi route's 200 answer, which is also
/// every documented failure's.
pub const RESPONSE_200: &str = "`{status: true, info, data}`. Every documented failure (a refused \
parameter, an unknown cluster or node, a failed operation) also answers HTTP 200, as the document \
shows: `{status: false, info, data, detail}`, `info` the endpoint's documented text \
(`operate failed`; `delete node failed`, `switch node failed`), `data` as the document shows it, \
`detail` which parameter and why. Only the host's own answers use other statuses (401/403 \
authentication, 413, 408/503 for bodies, 500/503 for a plugin trap or deadline), in this envelope.";

/// The JSON Schema of a pcapi answer: the envelope, `status` true or false.
pub fn response_schema() -> serde_json::Value {
    serde_json::json!({"type": "object", "required": ["status", "info", "data"], "properties": {
        "status": {"type": "boolean"}, "info": {"type": "string"}, "data": {},
        "detail": {"type": "string", "description": "a failure's reason (status false)"}}})
}

/// `200 {"status": true, "info": info, "data": data}`.
pub fn ok<T: Serialize + ?Sized>(info: &str, data: &T) -> Response {
    respond(200, true, info, data)
}

/// `{"status": false, "info": info, "data": data}` with HTTP `http_status`.
pub fn fail<T: Serialize + ?Sized>(http_status: u16, info: &str, data: &T) -> Response {
    respond(http_status, false, info, data)
}

/// `{"status": false, "info": info, "data": ""}` with HTTP `http_status`.
pub fn error(http_status: u16, info: &str) -> Response {
    fail(http_status, info, "")
}

/// The envelope with every part explicit.
pub fn respond<T: Serialize + ?Sized>(
    http_status: u16,
    status: bool,
    info: &str,
    data: &T,
) -> Response {
    response::json(
        http_status,
        &Envelope {
            status,
            info,
            data,
            detail: None,
        },
    )
}

/// `200 {"status": false, "info": info, "data": data, "detail": detail}`,
/// the way the document answers a failure (`detail` left out when empty).
pub fn refuse<T: Serialize + ?Sized>(info: &str, data: &T, detail: &str) -> Response {
    response::json(
        200,
        &Envelope {
            status: false,
            info,
            data,
            detail: (!detail.is_empty()).then_some(detail),
        },
    )
}

/// Renders an [`ApiError`] as the document answers the endpoint's failure:
/// HTTP 200 (authentication and the statuses of [`super::failure_status`]
/// keep theirs), `info` the error's documented text or the endpoint's
/// (`info`), `data` as the document shows it, `detail` what went wrong.
pub fn failure<T: Serialize + ?Sized>(info: &str, data: &T, err: &ApiError) -> Response {
    let detail = err.detail();
    response::json(
        super::failure_status(err),
        &Envelope {
            status: false,
            info: err.text().unwrap_or(info),
            data,
            detail: Some(&detail),
        },
    )
}

/// [`failure`] with the common `info` ([`FAILED`]) and `"data": ""`.
pub fn from_error(err: &ApiError) -> Response {
    failure(FAILED, "", err)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn shapes() {
        let v: serde_json::Value = serde_json::from_slice(&ok("operate success", &1).body).unwrap();
        assert_eq!(
            v,
            serde_json::json!({"status": true, "info": "operate success", "data": 1})
        );
        let r = error(500, "operate failed");
        assert_eq!(r.status, 500);
        let v: serde_json::Value = serde_json::from_slice(&r.body).unwrap();
        assert_eq!(
            v,
            serde_json::json!({"status": false, "info": "operate failed", "data": ""})
        );
    }

    #[test]
    fn failures_answer_200_with_the_endpoints_info_and_a_detail() {
        let e = ApiError::NotFound("no node `w9`".into());
        let r = failure(
            "delete node failed",
            &serde_json::json!({"node_name": "w9", "force": false}),
            &e,
        );
        assert_eq!(r.status, 200);
        let v: serde_json::Value = serde_json::from_slice(&r.body).unwrap();
        assert_eq!(
            v,
            serde_json::json!({"status": false, "info": "delete node failed",
                "data": {"node_name": "w9", "force": false}, "detail": "no node `w9`"})
        );
        let r = from_error(&ApiError::BadGateway("ssh: unreachable".into()));
        let v: serde_json::Value = serde_json::from_slice(&r.body).unwrap();
        assert_eq!(
            (r.status, &v["info"], &v["data"]),
            (200, &"operate failed".into(), &"".into())
        );
        let r = from_error(&ApiError::Unauthorized("who?".into()));
        assert_eq!(r.status, 401);
        let v: serde_json::Value =
            serde_json::from_slice(&refuse(FAILED, &serde_json::Value::Null, "").body).unwrap();
        assert_eq!(
            v,
            serde_json::json!({"status": false, "info": "operate failed", "data": null})
        );
    }
}
