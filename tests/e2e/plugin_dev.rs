//! `computehub plugin new` and `plugin dev`: a crate written outside the
//! repository builds, goes live on a running server in one `--once` round,
//! and an edit goes live in the next.
//!
//! The crates build into `target/wasm` (where `host/build.rs` built the
//! repository's plugins with the same release profile), so they reuse the
//! compiled dependencies and only the vendored SDK (once for both tests) and
//! the crates compile. `scripts/bench-plugin-dev.sh` times the default
//! `dev-live` profile.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::common::{Server, ADMIN, BIN};

fn wasm_target_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .join("target")
        .join("wasm")
}

/// `computehub ARGS` in `dir`: (succeeded, stdout).
fn try_run(args: &[&str], dir: &Path) -> (bool, String) {
    let out = Command::new(BIN)
        .args(args)
        .current_dir(dir)
        .env_remove("COMPUTEHUB_ADMIN_TOKEN")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let all = format!(
        "stdout:\n{stdout}\nstderr:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    (
        out.status.success(),
        if out.status.success() { stdout } else { all },
    )
}

fn run(args: &[&str], dir: &Path) -> String {
    let (ok, out) = try_run(args, dir);
    assert!(ok, "computehub {args:?} failed\n{out}");
    out
}

fn dev_once(server: &Server, krate: &Path, key: &str) -> String {
    let (ok, out) = try_dev_once(server, krate, key);
    assert!(ok, "plugin dev --once failed\n{out}");
    out
}

/// One round of `plugin dev`; `key` (an API key, may be empty) goes with
/// the first request.
fn try_dev_once(server: &Server, krate: &Path, key: &str) -> (bool, String) {
    let target = wasm_target_dir();
    try_run(
        &[
            "plugin",
            "dev",
            krate.to_str().unwrap(),
            "--server",
            &server.base,
            "--admin-token",
            ADMIN,
            "--target-dir",
            target.to_str().unwrap(),
            // The release profile: what `host/build.rs` built the repository's
            // plugins with, so their dependencies are reused (the default
            // `dev-live` profile would compile them once more).
            "--release",
            "--once",
            "--key",
            key,
        ],
        krate,
    )
}

#[tokio::test]
async fn a_new_endpoint_goes_live_and_an_edit_follows() {
    let server = Server::start();
    let outside = tempfile::tempdir().unwrap();
    assert!(!outside
        .path()
        .starts_with(Path::new(env!("CARGO_MANIFEST_DIR")).join("..")));
    let made = run(
        &[
            "plugin",
            "new",
            "devloop-probe",
            "--kind",
            "endpoint",
            "--dir",
            outside.path().to_str().unwrap(),
        ],
        outside.path(),
    );
    assert!(
        made.contains("created endpoint plugin `devloop-probe`"),
        "{made}"
    );
    let krate = outside.path().join("devloop-probe");
    for file in [
        "Cargo.toml",
        "Cargo.lock",
        "README.md",
        ".gitignore",
        "src/lib.rs",
        "vendor/wit/worlds.wit",
        "vendor/crates/computehub-sdk/Cargo.toml",
        "vendor/crates/kubefmt/src/lib.rs",
    ] {
        assert!(krate.join(file).is_file(), "{file} missing");
    }
    let manifest = std::fs::read_to_string(krate.join("Cargo.toml")).unwrap();
    assert!(manifest.contains("[workspace]"), "{manifest}");
    assert!(!manifest.contains(".."), "{manifest}");

    // First round: new plugin, its routes (every one authenticates its
    // caller), its first GET route's answer to the `--key` key.
    let key = server.key("acme", "bearer");
    let out = dev_once(&server, &krate, &key);
    assert!(out.contains("new plugin"), "{out}");
    assert!(out.contains("+ GET /devloop-probe [bearer]"), "{out}");
    assert!(
        out.contains("+ GET /devloop-probe/items/{id} [bearer]"),
        "{out}"
    );
    assert!(out.contains("grants needed (its imports): none"), "{out}");
    assert!(out.contains("GET /devloop-probe -> 200"), "{out}");
    assert!(out.contains("hello from devloop-probe"), "{out}");
    assert!(out.contains(r#""organisation":"acme""#), "{out}");
    assert_eq!(
        server.get("/devloop-probe").await.0,
        401,
        "no key, no answer"
    );

    // An edit: a changed answer and a new route without authentication that
    // calls `inventory`, neither of which the plugin is granted: the round
    // fails and says which grant to give, and the running version stays.
    let lib = krate.join("src/lib.rs");
    let src = std::fs::read_to_string(&lib).unwrap();
    let edited = src
        .replace("hello from devloop-probe", "edited devloop-probe")
        .replace(
            "route::get(\"/devloop-probe\", AuthScheme::Bearer)",
            "route::get(\"/devloop-probe/extra\", AuthScheme::None),\n                route::get(\"/devloop-probe\", AuthScheme::Bearer)",
        )
        .replace(
            "        _ => Ok(response::error(404",
            "        (Method::Get, \"/devloop-probe/extra\") => {\n            let n = computehub_sdk::inventory::collections().len();\n            Ok(response::json(200, &json!({ \"collections\": n })))\n        }\n        _ => Ok(response::error(404",
        );
    assert_ne!(src, edited);
    std::fs::write(&lib, edited).unwrap();
    let (ok, out) = try_dev_once(&server, &krate, &key);
    assert!(!ok, "{out}");
    assert!(out.contains("inventory"), "{out}");
    assert!(out.contains("/admin/plugins/devloop-probe/grants"), "{out}");
    let hello = || {
        let req = server
            .http
            .get(server.url("/devloop-probe"))
            .bearer_auth(&key);
        async move {
            let r = req.send().await.unwrap();
            r.json::<serde_json::Value>().await.unwrap()
        }
    };
    assert_eq!(hello().await["message"], "hello from devloop-probe");

    // The imports granted, the check names the route to make public, and
    // the grant to give.
    let grant = |body: &'static str| {
        let req = server
            .http
            .put(server.url("/admin/plugins/devloop-probe/grants"))
            .bearer_auth(ADMIN)
            .body(body);
        async move {
            let r = req.send().await.unwrap();
            assert_eq!(r.status().as_u16(), 200, "{}", r.text().await.unwrap());
        }
    };
    grant(r#"{"grants": ["log", "inventory"]}"#).await;
    let (ok, out) = try_dev_once(&server, &krate, &key);
    assert!(!ok, "{out}");
    assert!(
        out.contains("serves `GET /devloop-probe/extra` without authentication"),
        "{out}"
    );
    assert!(
        out.contains(r#"PUT "#) && out.contains(r#""public-routes":["/devloop-probe/extra"]"#),
        "{out}"
    );
    assert_eq!(server.get("/devloop-probe/extra").await.0, 404);

    // Granted through the admin API, the next round goes live: the local
    // check applies the grant the server holds.
    grant(r#"{"grants": ["log", "inventory"], "public-routes": ["/devloop-probe/extra"]}"#).await;
    let out = dev_once(&server, &krate, &key);
    assert!(out.contains("replaced devloop-probe 0.1.0"), "{out}");
    assert!(out.contains("+ GET /devloop-probe/extra [none]"), "{out}");
    assert!(
        out.contains("grants needed (its imports): inventory"),
        "{out}"
    );
    let (status, body) = server.get("/devloop-probe/extra").await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(hello().await["message"], "edited devloop-probe");
}

#[tokio::test]
async fn a_new_pricing_engine_replaces_the_active_one() {
    let server = Server::start();
    let outside = tempfile::tempdir().unwrap();
    run(
        &[
            "plugin",
            "new",
            "devloop-pricing",
            "--kind",
            "pricing",
            "--dir",
            outside.path().to_str().unwrap(),
        ],
        outside.path(),
    );
    let krate = outside.path().join("devloop-pricing");
    let out = dev_once(&server, &krate, "");
    assert!(out.contains("live as `pricing`"), "{out}");
    assert!(out.contains("an engine serves no routes"), "{out}");
    let (status, body) = server.get_admin("/admin/plugins/pricing").await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["name"], "devloop-pricing", "{body}");
}

#[test]
fn a_name_outside_the_id_rules_is_refused() {
    let outside = tempfile::tempdir().unwrap();
    let out = Command::new(BIN)
        .args(["plugin", "new", "Bad_Name", "--dir"])
        .arg(outside.path())
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("plugin name `Bad_Name`"), "{err}");
    assert!(std::fs::read_dir(outside.path()).unwrap().next().is_none());
}
