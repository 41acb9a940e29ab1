//! The operations surface: health, metrics, OpenAPI, graceful shutdown, demo.

use crate::common::*;

#[tokio::test(flavor = "multi_thread")]
async fn health_metrics_and_openapi() {
    let s = Server::start();
    assert_eq!(
        s.get("/healthz").await,
        (200, serde_json::json!({"status": "ok"}))
    );
    for _ in 0..3 {
        assert_eq!(s.get("/fixtures/echo/m").await.0, 200);
    }
    let r = s.http.get(s.url("/metrics")).send().await.unwrap();
    assert!(r.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/plain"));
    let m = r.text().await.unwrap();
    assert!(
        m.contains(r#"computehub_requests_total{plugin="fixtures",method="GET",route="/fixtures/echo/{name}",status="200"} 3"#),
        "{m}"
    );
    assert!(m.contains(r#"computehub_request_duration_seconds_count{plugin="fixtures",method="GET",route="/fixtures/echo/{name}"} 3"#));

    let (status, doc) = s.get("/openapi.json").await;
    assert_eq!(status, 200);
    assert_eq!(doc["openapi"], "3.1.0");
    assert!(
        doc["paths"]["/fixtures/echo/{name}"]["get"].is_object(),
        "{doc}"
    );
    assert!(doc["paths"]["/echo/version"]["get"].is_object());
    assert_eq!(
        doc["paths"]["/fixtures/whoami"]["get"]["security"][0]["bearer"],
        serde_json::json!([])
    );
    // Every operation has a unique operationId; template parameters are
    // typed path parameters; the host's own endpoints are documented too.
    let mut ids = std::collections::BTreeSet::new();
    for (path, ops) in doc["paths"].as_object().unwrap() {
        for (method, op) in ops.as_object().unwrap() {
            let id = op["operationId"]
                .as_str()
                .unwrap_or_else(|| panic!("{method} {path}"));
            assert!(ids.insert(id.to_string()), "duplicate operationId {id}");
        }
    }
    let echo = &doc["paths"]["/fixtures/echo/{name}"]["get"];
    assert_eq!(echo["operationId"], "fixtures_get_fixtures_echo_name");
    assert_eq!(
        echo["parameters"][0],
        serde_json::json!({"name": "name", "in": "path", "required": true, "schema": {"type": "string"}})
    );
    for (path, method) in [
        ("/readyz", "get"),
        ("/admin/audit", "get"),
        ("/admin/plugins/{id}/grants", "put"),
        ("/operations/{id}/events", "get"),
    ] {
        assert!(
            doc["paths"][path][method].is_object(),
            "{method} {path} undocumented"
        );
    }
    assert_eq!(
        doc["paths"]["/admin/audit"]["get"]["security"][0]["admin"],
        serde_json::json!([])
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn every_response_carries_a_request_id_that_the_log_names() {
    let s = Server::start();
    let r = s
        .http
        .get(s.url("/fixtures/echo/rid"))
        .send()
        .await
        .unwrap();
    let id = r.headers()["x-request-id"].to_str().unwrap().to_string();
    assert_eq!(id.len(), 16);
    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    let log = s.log_text();
    assert!(
        log.lines().any(|l| l.contains(&id) && l.contains("served")),
        "{log}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn shutdown_drains_requests_in_flight() {
    let mut s = Server::start();
    let url = s.url("/fixtures/sleep?ms=800");
    let http = s.http.clone();
    let in_flight = tokio::spawn(async move { http.get(url).send().await });
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    let status = tokio::task::spawn_blocking(move || {
        let st = s.stop();
        (st, s)
    })
    .await
    .unwrap();
    assert!(status.0.success());
    let r = in_flight.await.unwrap().unwrap();
    assert_eq!(r.status(), 200);
    let body: serde_json::Value = r.json().await.unwrap();
    assert_eq!(body["slept"], 800);
}
