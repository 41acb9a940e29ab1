//! Routing: templates with parameters, 404/405, collisions refused, grants.

use crate::common::*;

#[tokio::test(flavor = "multi_thread")]
async fn routes_pass_decoded_parameters_and_query() {
    let s = Server::start();
    let (status, body) = s
        .get("/fixtures/echo/hello%20w%C3%B6rld?x=1&y=%E4%B8%AD")
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["name"], "hello wörld");
    assert_eq!(body["query"], "x=1&y=%E4%B8%AD");
    assert_eq!(body["route"], "/fixtures/echo/{name}");
    assert_eq!(body["plugin"], "fixtures");
}

#[tokio::test(flavor = "multi_thread")]
async fn unknown_paths_are_404_and_wrong_methods_405_in_json() {
    let s = Server::start();
    let (status, body) = s.get("/no/such/route").await;
    assert_eq!(status, 404);
    assert!(body["error"].as_str().unwrap().contains("/no/such/route"));

    let r = s.http.post(s.url("/fixtures/echo/x")).send().await.unwrap();
    assert_eq!(r.status(), 405);
    assert_eq!(r.headers()["allow"], "GET");
    let body: serde_json::Value = r.json().await.unwrap();
    assert!(body["error"].as_str().unwrap().contains("GET"), "{body}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_second_plugin_claiming_a_route_is_refused() {
    let s = Server::start();
    // echo v1 is already loaded as `echo`; the same routes under another id
    // (granted to serve them anonymously, as `echo` is) collide.
    s.grant(
        "echo-copy",
        serde_json::json!({"grants": ["log"], "public-routes": ["/echo/version", "/echo/sleep"]}),
    )
    .await;
    let (status, body) = s.admin_put("echo-copy", "echo_v1.wasm").await;
    assert_eq!(status, 409, "{body}");
    let msg = body["error"].as_str().unwrap();
    assert!(
        msg.contains("`echo-copy`") && msg.contains("`echo`") && msg.contains("/echo/"),
        "{msg}"
    );
    // nothing changed
    let (status, body) = s.get("/echo/version").await;
    assert_eq!((status, body["version"].as_str()), (200, Some("1.0.0")));
    let (_, list) = s.get_admin("/admin/plugins").await;
    assert!(!list["plugins"]
        .as_array()
        .unwrap()
        .iter()
        .any(|p| p["id"] == "echo-copy"));
}

#[tokio::test(flavor = "multi_thread")]
async fn an_ungranted_import_is_refused_at_load_with_one_sentence() {
    let s = Server::start();
    // `stranger` is not in the config: it is granted `log` only, and
    // fixtures imports `inventory`.
    let (status, body) = s.admin_put("stranger", "fixtures.wasm").await;
    assert_eq!(status, 422, "{body}");
    assert_eq!(
        body["error"],
        "plugin `stranger` imports `computehub:platform/inventory@0.1.0`, which its grant does not include"
    );

    // The same check from the CLI, before any server is involved.
    let cfg = s.dir.path().join("log-only.toml");
    std::fs::write(
        &cfg,
        "[plugins.fixtures]\nrole = \"endpoint\"\ngrants = [\"log\"]\n",
    )
    .unwrap();
    let out = std::process::Command::new(BIN)
        .args(["plugin", "check", "--role", "endpoint", "--config"])
        .arg(&cfg)
        .arg(std::path::Path::new(PLUGINS).join("fixtures.wasm"))
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("plugin `fixtures` imports `computehub:platform/inventory@0.1.0`, which its grant does not include"),
        "{stdout}"
    );
    // It says which grant the component needs, storage included.
    assert!(
        stdout.contains("[plugins.fixtures]\n  role = \"endpoint\"\n  grants = [\"log\", \"inventory\"]\n  read = []"),
        "{stdout}"
    );
    assert!(stdout.contains("secrets = []"), "{stdout}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_component_of_the_wrong_world_is_refused() {
    let s = Server::start();
    let r = s
        .http
        .put(s.url("/admin/plugins/pricey?role=pricing"))
        .bearer_auth(ADMIN)
        .body(wasm("echo_v1.wasm"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 422);
    let body: serde_json::Value = r.json().await.unwrap();
    assert_eq!(
        body["error"],
        "plugin `pricey` does not export `computehub:platform/pricing@0.1.0`, which the pricing role requires"
    );
    let r = s
        .http
        .put(s.url("/admin/plugins/junk?role=endpoint"))
        .bearer_auth(ADMIN)
        .body(b"not wasm".to_vec())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 422);
    let body: serde_json::Value = r.json().await.unwrap();
    assert!(body["error"]
        .as_str()
        .unwrap()
        .starts_with("plugin `junk` is not a valid WebAssembly component"));
}

#[tokio::test(flavor = "multi_thread")]
async fn the_example_plugin_installs_through_the_admin_api() {
    let s = Server::start();
    assert_eq!(s.get("/hello/world").await.0, 404);
    s.grant(
        "hello",
        serde_json::json!({"public-routes": ["/hello/{name}"]}),
    )
    .await;
    let (status, body) = s.admin_put("hello", "hello_plugin.wasm").await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["source"], "uploaded");
    assert_eq!(s.get("/hello/world").await.1["message"], "hello, world");
    let key = s.key("acme", "bearer");
    let r = s
        .http
        .get(s.url("/hello"))
        .bearer_auth(key)
        .send()
        .await
        .unwrap();
    let body: serde_json::Value = r.json().await.unwrap();
    assert_eq!(body["message"], "hello, acme");
    let (_, doc) = s.get("/openapi.json").await;
    assert_eq!(
        doc["paths"]["/hello/{name}"]["get"]["summary"],
        "Greet someone by name"
    );
}

#[test]
fn plugin_check_accepts_a_good_component_and_lists_its_routes() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("hello.toml");
    std::fs::write(
        &cfg,
        "[plugins.hello]\nrole = \"endpoint\"\npublic-routes = [\"/hello/{name}\"]\n",
    )
    .unwrap();
    let out = std::process::Command::new(BIN)
        .args([
            "plugin", "check", "--role", "endpoint", "--id", "hello", "--config",
        ])
        .arg(&cfg)
        .arg(std::path::Path::new(PLUGINS).join("hello_plugin.wasm"))
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}");
    assert!(stdout.contains("GET /hello/{name} [none]"), "{stdout}");
    assert!(stdout.contains("GET /hello [bearer]"), "{stdout}");
    // A one-shot command logs only warnings: its answer is not buried under
    // store migrations and compile lines.
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.is_empty(), "{stderr}");
}

#[tokio::test(flavor = "multi_thread")]
async fn engines_built_with_the_sdk_name_themselves() {
    let s = Server::start();
    for id in ["pricing", "scheduling"] {
        let (_, p) = s.get_admin(&format!("/admin/plugins/{id}")).await;
        // The crate's name and version, not the plugin id and a hash.
        assert_eq!(p["name"], id, "{p}");
        assert_eq!(p["version"], "0.1.0", "{p}");
    }
    let metrics = s.metrics().await;
    assert!(
        metrics.contains(
            "computehub_plugin_info{plugin=\"pricing\",name=\"pricing\",version=\"0.1.0\",role=\"pricing\"} 1"
        ),
        "{metrics}"
    );
    let out = std::process::Command::new(BIN)
        .args(["plugin", "check", "--role", "pricing", "--id", "pricey"])
        .arg(std::path::Path::new(PLUGINS).join("pricing.wasm"))
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("ok: plugin `pricey` pricing 0.1.0 (pricing)"),
        "{stdout}"
    );
}
