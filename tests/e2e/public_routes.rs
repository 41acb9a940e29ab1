//! Routes without authentication are the operator's choice: a plugin that
//! declares one loads only when its grant names the template in
//! `public-routes`. Refused, nothing is installed and the answer says what
//! to grant; granted, anonymous callers reach that route and no other; a
//! grant that would drop a route the active version serves is refused whole.

use std::process::{Command, Stdio};

use serde_json::json;

use crate::common::*;

const REFUSAL: &str = "plugin `hello` serves `GET /hello/{name}` without authentication, which its grant does not allow; name it in its `public-routes`";

#[tokio::test(flavor = "multi_thread")]
async fn a_route_without_authentication_needs_the_operators_grant() {
    let s = Server::start();
    let key = s.key("acme", "bearer");

    // Not granted: the dry run and the upload give the same refusal, with
    // what to grant; nothing is installed or served.
    let r = s
        .http
        .post(s.url("/admin/plugins/hello/check?role=endpoint"))
        .bearer_auth(ADMIN)
        .body(wasm("hello_plugin.wasm"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 422);
    let checked: serde_json::Value = r.json().await.unwrap();
    let (status, body) = s.admin_put("hello", "hello_plugin.wasm").await;
    assert_eq!(status, 422, "{body}");
    assert_eq!(body, checked);
    assert_eq!(body["error"], REFUSAL);
    assert_eq!(body["needs"]["public-routes"], json!(["/hello/{name}"]));
    assert_eq!(body["needs"]["grants"], json!([]), "it imports nothing");
    assert_eq!(body["grant_at"], "/admin/plugins/hello/grants");
    assert_eq!(s.get_admin("/admin/plugins/hello").await.0, 404);
    assert_eq!(s.get("/hello/world").await.0, 404);
    let (_, doc) = s.get("/openapi.json").await;
    assert!(
        doc["paths"].get("/hello/{name}").is_none(),
        "not documented either"
    );

    // A template the router would not accept is no grant.
    let (status, body) = s
        .put_grant("hello", json!({"public-routes": ["hello"]}))
        .await;
    assert_eq!(status, 422, "{body}");
    assert!(
        body["error"]
            .as_str()
            .unwrap()
            .contains("plugin `hello`: public-routes: route `hello` must start with `/`"),
        "{body}"
    );

    // Granted: the route serves anonymous callers, the others still
    // authenticate theirs.
    s.grant("hello", json!({"public-routes": ["/hello/{name}"]}))
        .await;
    let (_, shown) = s.get_admin("/admin/plugins/hello/grants").await;
    assert_eq!(shown["grant"]["public-routes"], json!(["/hello/{name}"]));
    let (status, body) = s.admin_put("hello", "hello_plugin.wasm").await;
    assert_eq!(status, 200, "{body}");
    let (status, body) = s.get("/hello/world").await;
    assert_eq!((status, &body["message"]), (200, &json!("hello, world")));
    assert_eq!(s.get("/hello").await.0, 401, "GET /hello takes a key");
    let r = s
        .http
        .get(s.url("/hello"))
        .bearer_auth(&key)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);

    // A grant without the route the running version serves anonymously
    // is refused whole; the grant in force and the route stay.
    let (status, body) = s
        .put_grant("hello", json!({"grants": ["log"], "public-routes": []}))
        .await;
    assert_eq!(status, 422, "{body}");
    assert_eq!(body["error"], REFUSAL);
    let (_, shown) = s.get_admin("/admin/plugins/hello/grants").await;
    assert_eq!(shown["grant"]["public-routes"], json!(["/hello/{name}"]));
    assert_eq!(s.get("/hello/world").await.0, 200);
}

#[test]
fn plugin_check_says_which_routes_to_make_public() {
    let out = Command::new(BIN)
        .args(["plugin", "check", "--role", "endpoint", "--id", "hello"])
        .arg(std::path::Path::new(PLUGINS).join("hello_plugin.wasm"))
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains(&format!("refused: {REFUSAL}")), "{stdout}");
    assert!(
        stdout.contains("[plugins.hello]\n  role = \"endpoint\"\n  grants = []\n  public-routes = [\"/hello/{name}\"]"),
        "{stdout}"
    );
}

#[test]
fn a_server_does_not_start_with_a_public_route_it_was_not_granted() {
    let dir = tempfile::tempdir().unwrap();
    let plugins = dir.path().join("plugins");
    std::fs::create_dir_all(&plugins).unwrap();
    std::fs::write(plugins.join("hello.wasm"), wasm("hello_plugin.wasm")).unwrap();
    let out = Command::new(BIN)
        .args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(dir.path().join("data"))
        .arg("--plugins-dir")
        .arg(&plugins)
        .env_remove("COMPUTEHUB_ADMIN_TOKEN")
        .env_remove("COMPUTEHUB_DATABASE_URL")
        .env("COMPUTEHUB_LOG", "warn")
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains(REFUSAL), "{stderr}");
    assert!(!String::from_utf8_lossy(&out.stdout).contains("listening on"));
}
