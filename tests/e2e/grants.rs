//! Grants through the admin API: an upload refused for an ungranted import
//! says what the component needs; `PUT /admin/plugins/{id}/grants` grants it
//! without a restart (imports, storage, egress), persisted across restarts;
//! the operator's config file still wins where it names a plugin.

use serde_json::json;

use crate::common::*;

/// Only the echo plugin is named (by the config file); `stranger` is not.
const CONFIG: &str = r#"
default-deadline-ms = 5000
[plugins.echo]
role = "endpoint"
grants = ["log"]
public-routes = ["/echo/version", "/echo/sleep"]
"#;

#[tokio::test(flavor = "multi_thread")]
async fn a_grant_given_through_the_admin_api_takes_effect_without_a_restart() {
    let mut s = Server::with(Options {
        config: CONFIG,
        plugins: vec![("echo_v1.wasm", "echo")],
        ..Options::default()
    });
    let key = s.key("acme", "bearer");
    // Ungranted: refused, with what the component asks for.
    let (status, body) = s.admin_put("stranger", "fixtures.wasm").await;
    assert_eq!(status, 422, "{body}");
    assert_eq!(body["needs"]["grants"], json!(["log", "inventory"]));
    assert_eq!(body["grant_at"], "/admin/plugins/stranger/grants");
    let (_, shown) = s.get_admin("/admin/plugins/stranger/grants").await;
    assert_eq!(shown["source"], "default");

    // Granted: the same upload loads, and the storage grant holds per call.
    let (status, body) = s.put_grant("stranger",
        fixtures_grant(json!({"grants": ["log", "inventory"], "write": ["compute_centers"], "secrets": ["compute_centers.api_pwd"]})),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["source"], "admin");
    assert_eq!(body["reloaded"], false);
    let (status, body) = s.admin_put("stranger", "fixtures.wasm").await;
    assert_eq!(status, 200, "{body}");
    let center = json!({"name": "c1", "pcapi_url": "", "api_user": "", "api_pwd": {"secret": "x"}, "contactname": "o", "contactphone": ""});
    let (status, body) = s
        .fixtures_record(&key, "compute_centers", center.clone())
        .await;
    assert_eq!(status, 201, "{body}");
    let (status, body) = s
        .fixtures_record(&key, "labels", json!({"name": "l"}))
        .await;
    assert_eq!(status, 400, "{body}");
    assert!(
        body.contains("denied: plugin `stranger` may not write collection `kboss.labels`"),
        "{body}"
    );

    // A wider grant: in force for the next call, no restart, no reload.
    let (status, body) = s.put_grant("stranger",
        fixtures_grant(json!({"grants": ["log", "inventory"], "write": ["compute_centers", "labels"], "secrets": ["compute_centers.api_pwd"]})),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let (status, body) = s.fixtures_record(&key, "labels", json!({"name": "l", "labeltype": "1", "label_key": "k", "symbol": "=", "label_value": "v", "cpcid": ""})).await;
    assert!(!body.contains("denied"), "{status} {body}");

    // A grant the active version cannot load under (it imports `inventory`)
    // is refused whole, in one sentence; the grant before it stays.
    let (status, body) = s.put_grant("stranger", json!({"grants": ["log"]})).await;
    assert_eq!(status, 422, "{body}");
    assert!(
        body["error"].as_str().unwrap().contains("inventory"),
        "{body}"
    );
    let (_, shown) = s.get_admin("/admin/plugins/stranger/grants").await;
    assert_eq!(shown["grant"]["grants"], json!(["log", "inventory"]));
    let mut second = center.clone();
    second["name"] = json!("c2");
    let (status, body) = s.fixtures_record(&key, "compute_centers", second).await;
    assert_eq!(status, 201, "{body}");

    // The CLI grants into the store, in force at the next start; a data dir
    // that holds no store is an error, not a new store.
    let cli = |mut cmd: std::process::Command, dir: &std::path::Path| {
        cmd.args([
            "plugin",
            "grant",
            "other",
            r#"{"grants": ["log"], "read": ["labels"]}"#,
            "--data-dir",
        ])
        .arg(dir)
        .output()
        .unwrap()
    };
    if !on_postgres() {
        // (A store in PostgreSQL has no data dir to mistype.)
        let typo = s.dir.path().join("typo");
        let out = cli(std::process::Command::new(BIN), &typo);
        assert!(!out.status.success());
        assert!(String::from_utf8_lossy(&out.stderr).contains("holds no computehub store"));
        assert!(!typo.exists());
    }

    // Persisted: after a restart the last accepted grant is in force.
    s.stop();
    let out = cli(s.command(), &s.data());
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    s.launch();
    let (_, other) = s.get_admin("/admin/plugins/other/grants").await;
    assert_eq!(other["source"], "admin");
    assert_eq!(other["grant"]["read"], json!(["labels"]));
    let (_, shown) = s.get_admin("/admin/plugins/stranger/grants").await;
    assert_eq!(shown["source"], "admin");
    // The config file wins where it names a plugin.
    let (status, body) = s
        .put_grant("echo", json!({"grants": ["log", "inventory"]}))
        .await;
    assert_eq!(status, 409, "{body}");
    assert!(
        body["error"].as_str().unwrap().contains("config file"),
        "{body}"
    );
}
