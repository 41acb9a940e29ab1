//! The plugins page's dry run, over plain HTTP.

use super::*;

/// `POST /admin/plugins/{id}/check`: `(status, body)` of a dry run.
async fn check(s: &Server, id: &str, file: &str) -> (u16, serde_json::Value) {
    let r = s
        .http
        .post(s.url(&format!("/admin/plugins/{id}/check?role=endpoint")))
        .bearer_auth(ADMIN)
        .body(wasm(file))
        .send()
        .await
        .unwrap();
    let status = r.status().as_u16();
    (status, r.json().await.unwrap())
}

/// The plugins page's dry run: the routes an upload would add, remove and
/// keep, the grants it asks for, its collections; refused as the upload
/// would be; and nothing stored, activated or migrated.
#[tokio::test(flavor = "multi_thread")]
async fn a_plugin_dry_run_shows_the_changes_and_changes_nothing() {
    use serde_json::json;
    let s = Server::start();
    let versions = || async {
        let (_, list) = s.get_admin("/admin/plugins").await;
        list["plugins"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| format!("{} {} {}", p["id"], p["version"], p["sha256"]))
            .collect::<Vec<_>>()
    };
    let before = versions().await;

    // A new endpoint plugin serving a route without authentication: refused
    // until the grant names it, as the upload would be.
    let (status, body) = check(&s, "hello", "hello_plugin.wasm").await;
    assert_eq!(status, 422, "{body}");
    assert_eq!(body["needs"]["public-routes"], json!(["/hello/{name}"]));
    s.grant("hello", json!({"public-routes": ["/hello/{name}"]}))
        .await;
    // Granted: its routes are all added.
    let (status, body) = check(&s, "hello", "hello_plugin.wasm").await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["grants"]["public-routes"], json!(["/hello/{name}"]));
    assert_eq!(body["stored"], false);
    assert_eq!(body["active"], serde_json::Value::Null);
    assert_eq!(
        body["routes"]["added"],
        json!(["GET /hello", "GET /hello/{name}"]),
        "{body}"
    );
    assert_eq!(body["routes"]["removed"], json!([]));
    // It calls no capability of the host.
    assert_eq!(body["grants"]["imports"], json!([]), "{body}");
    assert_eq!(body["grants"]["missing"], json!([]));
    let (status, _) = s.get("/hello/world").await;
    assert_eq!(status, 404, "the checked plugin is not serving");
    let (status, _) = s.get_admin("/admin/plugins/hello").await;
    assert_eq!(status, 404, "nor is it installed");

    // A new version of an active plugin: its routes kept, the active
    // version still serving.
    let (status, body) = check(&s, "echo", "echo_v2.wasm").await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["active"]["version"], "1.0.0");
    assert_eq!(body["plugin"]["version"], "2.0.0");
    assert!(body["routes"]["kept"]
        .as_array()
        .unwrap()
        .contains(&json!("GET /echo/version")));
    let (_, v) = s.get("/echo/version").await;
    assert_eq!(v["version"], "1.0.0");

    // A plugin declaring a collection: reported, not created.
    s.grant(
        "notes",
        json!({"grants": ["inventory"], "public-routes": ["/notes/version"]}),
    )
    .await;
    let (status, body) = check(&s, "notes", "notes_v1.wasm").await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        body["collections"],
        json!([{"name": "notes.notes", "exists": false}])
    );
    assert!(body["grants"]["imports"]
        .as_array()
        .unwrap()
        .contains(&json!("inventory")));
    assert!(body["grants"]["granted"]
        .as_array()
        .unwrap()
        .contains(&json!("inventory")));
    assert!(s.store().await.declared("notes").await.unwrap().is_empty());
    // Installed, then v2 (a field added) and v3 (a field dropped) checked:
    // v3 is refused with the upload's sentence, and v2's field is not added.
    let (status, body) = s.admin_put("notes", "notes_v1.wasm").await;
    assert_eq!(status, 200, "{body}");
    let (status, body) = check(&s, "notes", "notes_v2.wasm").await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        body["collections"],
        json!([{"name": "notes.notes", "exists": true}])
    );
    let columns = s.columns("notes.notes").await;
    assert!(!columns.contains(&"tag".to_string()), "{columns:?}");
    let (status, body) = check(&s, "notes", "notes_v3.wasm").await;
    assert_eq!(status, 422, "{body}");
    let (put_status, put_body) = s.admin_put("notes", "notes_v3.wasm").await;
    assert_eq!(put_status, 422, "{put_body}");
    assert_eq!(body["error"], put_body["error"]);
    assert!(
        body["error"]
            .as_str()
            .unwrap()
            .contains("drops field `notes.token`"),
        "{body}"
    );

    // Refused exactly as the upload would be: a route collision, and
    // imports the grant does not cover (with what it needs).
    s.grant(
        "echo2",
        json!({"grants": ["log"], "public-routes": ["/echo/version", "/echo/sleep"]}),
    )
    .await;
    let (status, body) = check(&s, "echo2", "echo_v1.wasm").await;
    let (put_status, put_body) = s.admin_put("echo2", "echo_v1.wasm").await;
    assert_eq!((status, put_status), (409, 409), "{body} {put_body}");
    assert_eq!(body["error"], put_body["error"]);
    let (status, body) = check(&s, "desk", "service_desk.wasm").await;
    assert_eq!(status, 422, "{body}");
    assert!(body["needs"]["grants"]
        .as_array()
        .unwrap()
        .contains(&json!("inventory")));
    assert_eq!(body["grant_at"], "/admin/plugins/desk/grants");

    // Nothing was activated by any of it (but the one real upload of
    // notes); every dry run is audited.
    let mut now = versions().await;
    now.retain(|v| !v.starts_with("\"notes\""));
    assert_eq!(before, now);
    let (_, audit) = s
        .get_admin("/admin/audit?route=/admin/plugins/{id}/check")
        .await;
    assert_eq!(audit["total"], 8, "{audit}");
}
