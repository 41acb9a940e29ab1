//! Wire fidelity of what the host answers itself: a path under an area that
//! matches no route (or not with that method) answers in that area's
//! envelope; a doubled slash is routed as one.

use serde_json::{json, Value};

use crate::common::*;

async fn call(s: &Server, method: reqwest::Method, path: &str) -> (u16, Option<String>, Value) {
    let r = s.http.request(method, s.url(path)).send().await.unwrap();
    let status = r.status().as_u16();
    let allow = r
        .headers()
        .get("allow")
        .map(|v| v.to_str().unwrap().to_string());
    (status, allow, r.json().await.unwrap_or(Value::Null))
}

#[tokio::test(flavor = "multi_thread")]
async fn unmatched_paths_answer_in_their_areas_envelope() {
    let s = Server::start();
    let get = reqwest::Method::GET;
    let (status, _, body) = call(&s, get.clone(), "/dev/cpcc/cpcnope/get_nope.dspy").await;
    assert_eq!(status, 404);
    assert_eq!(
        body,
        json!({"status": false, "msg": "no route for GET /dev/cpcc/cpcnope/get_nope.dspy"})
    );
    let (status, _, body) = call(&s, get.clone(), "/pcapi/api/v1/cluster/common/nope").await;
    assert_eq!(status, 404);
    assert_eq!(body["status"], false);
    assert_eq!(body["data"], "");
    assert_eq!(
        body["info"],
        "no route for GET /pcapi/api/v1/cluster/common/nope"
    );
    let (status, _, body) = call(&s, get.clone(), "/v3/p1/edgemgr/nope").await;
    assert_eq!(status, 404);
    assert!(
        body["error_code"].as_str().unwrap().starts_with("IEF."),
        "{body}"
    );
    assert_eq!(body["error_msg"], "no route for GET /v3/p1/edgemgr/nope");
    let (status, _, body) = call(&s, get.clone(), "/v1/training/nope").await;
    assert_eq!(status, 404);
    assert_eq!(body["status"], 404);
    assert_eq!(body["data"], json!({}));
    // A documented path with another method: 405 in the area's envelope.
    let (status, allow, body) = call(
        &s,
        reqwest::Method::DELETE,
        "/pcapi/api/v1/cluster/common/get_cluster_nodes",
    )
    .await;
    assert_eq!(status, 405);
    assert!(allow.unwrap().contains("GET"));
    assert_eq!(body["status"], false, "{body}");
    // Outside every area: the plain format.
    let (status, _, body) = call(&s, get, "/nowhere").await;
    assert_eq!(status, 404);
    assert_eq!(body, json!({"error": "no route for GET /nowhere"}));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_doubled_slash_is_routed_as_one() {
    let s = Server::start();
    let (status, _, body) = call(&s, reqwest::Method::GET, "//fixtures//echo/x?a=1").await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["name"], "x");
    assert_eq!(body["route"], "/fixtures/echo/{name}");
}
