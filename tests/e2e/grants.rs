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

/// A declared reference is a read: alaya's `training_instances.clusterid`
/// refers to the host's `clusters`, so a grant without `read = ["clusters"]`
/// is one alaya cannot load under. It is refused whole, naming the field
/// and the grant to add, and the grant in force stays.
#[tokio::test(flavor = "multi_thread")]
async fn a_declared_reference_needs_a_read_grant_on_what_it_refers_to() {
    let mut s = Server::with(Options {
        config: CONFIG,
        plugins: vec![("echo_v1.wasm", "echo")],
        ..Options::default()
    });
    let (_, before) = s.get_admin("/admin/plugins/alaya/grants").await;
    assert_eq!(before["source"], "built-in", "{before}");
    assert_eq!(before["grant"]["read"], json!(["clusters"]), "{before}");

    let (status, body) = s
        .put_grant(
            "alaya",
            json!({"grants": ["log", "inventory", "kubernetes"], "kube-targets": ["10.0.0.0/8"]}),
        )
        .await;
    assert_eq!(status, 422, "{body}");
    let error = body["error"].as_str().unwrap();
    assert!(
        error.contains("field `training_instances.clusterid` refers to collection `clusters`"),
        "{body}"
    );
    assert!(
        error.contains("add `clusters` to the plugin's `read`"),
        "{body}"
    );
    let (_, after) = s.get_admin("/admin/plugins/alaya/grants").await;
    assert_eq!(after, before);

    // With the read grant the same narrowing is accepted.
    let (status, body) = s
        .put_grant(
            "alaya",
            json!({"grants": ["log", "inventory", "kubernetes"], "read": ["clusters"], "kube-targets": ["10.0.0.0/8"]}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let (_, accepted) = s.get_admin("/admin/plugins/alaya/grants").await;
    assert_eq!(accepted["source"], "admin", "{accepted}");

    // The CLI's offline grant refuses it too (the next start would not
    // load alaya), and stores nothing.
    s.stop();
    let out = s
        .command()
        .args([
            "plugin",
            "grant",
            "alaya",
            r#"{"grants": ["log", "inventory", "kubernetes"], "kube-targets": ["10.0.0.0/8"]}"#,
            "--data-dir",
        ])
        .arg(s.data())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{stderr}");
    assert!(
        stderr.contains("refers to collection `clusters`"),
        "{stderr}"
    );
    s.launch();
    let (_, after) = s.get_admin("/admin/plugins/alaya/grants").await;
    assert_eq!(after, accepted);
}

/// The same at boot: a config file that names alaya without the read its
/// declarations need stops the server before it listens, with the sentence.
#[test]
fn a_server_does_not_start_with_a_reference_its_plugin_may_not_read() {
    use std::process::{Command, Stdio};
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("config.toml");
    std::fs::write(
        &config,
        "[plugins.alaya]\nrole = \"endpoint\"\ngrants = [\"log\", \"inventory\", \"kubernetes\"]\n",
    )
    .unwrap();
    let child = Command::new(BIN)
        .args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(dir.path().join("data"))
        .arg("--config")
        .arg(&config)
        .env_remove("COMPUTEHUB_ADMIN_TOKEN")
        .env_remove("COMPUTEHUB_DATABASE_URL")
        .env("COMPUTEHUB_LOG", "warn")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // A server that starts would run on: it is stopped after three minutes
    // (time enough to compile the built-in plugins on a slow machine).
    let mut child = child;
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(180);
    while child.try_wait().unwrap().is_none() {
        if std::time::Instant::now() > deadline {
            let _ = child.kill();
            panic!("the server started under a grant its plugin's reference may not read");
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{stderr}");
    assert!(
        stderr.contains("field `training_instances.clusterid` refers to collection `clusters`"),
        "{stderr}"
    );
    assert!(!String::from_utf8_lossy(&out.stdout).contains("listening on"));
}
