//! The console (#21): its users, sessions and files over plain HTTP, and
//! the pages in real headless Chromium (Debian's `chromium`, driven by
//! playwright-core from the npm registry, installed by this test into
//! `target/console-e2e` with `npm ci`) against the binary in demo mode.
//! Screenshots land in `target/console-screenshots/`. Without Chromium or
//! npm the browser test fails and says what to install. The browser test
//! also provisions a simulated machine (a real sshd, as the provisioning
//! tests do) so the console can follow a long operation live; and the
//! plugins page's dry run is checked here over plain HTTP too.

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use crate::common::*;
use crate::machine::{Machine, PASSWORD, USER};

/// The tests' usual grants, with pcapi allowed to reach the loopback
/// machine the browser test provisions.
const CONSOLE_CONFIG: &str = r#"
default-deadline-ms = 5000
[plugins.fixtures]
role = "endpoint"
grants = ["log", "inventory"]
write = ["devices", "compute_centers"]
secrets = ["devices.adminpwd", "compute_centers.api_pwd"]
[plugins.echo]
role = "endpoint"
grants = ["log"]
[plugins.pcapi]
role = "endpoint"
grants = ["log", "inventory", "kubernetes", "scheduling", "ssh", "operations"]
ssh-targets = ["127.0.0.0/8"]
kube-targets = ["127.0.0.1"]
read = ["devices", "clusters"]
"#;

/// `target/` (the parent of the tests' scratch dir).
fn target_dir() -> PathBuf {
    Path::new(env!("CARGO_TARGET_TMPDIR"))
        .parent()
        .expect("target dir")
        .to_path_buf()
}

/// The value a `serve --demo` export line gives `name`.
fn export(lines: &[String], name: &str) -> String {
    let prefix = format!("export {name}='");
    lines
        .iter()
        .find_map(|l| {
            l.strip_prefix(&prefix)?
                .strip_suffix('\'')
                .map(str::to_string)
        })
        .unwrap_or_else(|| panic!("no export {name} in {lines:#?}"))
}

/// The demo console user's password: the line after `console: <url> ...`.
fn demo_password(lines: &[String]) -> (String, String) {
    let i = lines
        .iter()
        .position(|l| l.starts_with("console: "))
        .unwrap_or_else(|| panic!("no console line in {lines:#?}"));
    let url = lines[i]["console: ".len()..]
        .split_whitespace()
        .next()
        .unwrap()
        .to_string();
    (url, lines[i + 1].clone())
}

/// `computehub users create` with the password on stdin.
fn create_user(s: &Server, org: &str, name: &str, password: &str, admin: bool) {
    let mut cmd = s.command();
    cmd.args([
        "users",
        "create",
        "--org",
        org,
        "--name",
        name,
        "--data-dir",
    ])
    .arg(s.data())
    .stdin(Stdio::piped())
    .stdout(Stdio::piped())
    .stderr(Stdio::piped());
    if admin {
        cmd.arg("--admin");
    }
    let mut child = cmd.spawn().unwrap();
    writeln!(child.stdin.take().unwrap(), "{password}").unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // The password is never printed back.
    assert!(!String::from_utf8_lossy(&out.stdout).contains(password));
}

struct Signed {
    cookie: String,
    csrf: String,
    set_cookie: String,
}

async fn sign_in(s: &Server, org: &str, name: &str, password: &str) -> (u16, Option<Signed>) {
    let r = s
        .http
        .post(s.url("/console/api/session"))
        .json(&serde_json::json!({"org": org, "name": name, "password": password}))
        .send()
        .await
        .unwrap();
    let status = r.status().as_u16();
    let set_cookie = r
        .headers()
        .get("set-cookie")
        .map(|v| v.to_str().unwrap().to_string());
    let body: serde_json::Value = r.json().await.unwrap();
    let signed = set_cookie.map(|set_cookie| Signed {
        cookie: set_cookie.split(';').next().unwrap().to_string(),
        csrf: body["csrf"].as_str().unwrap_or_default().to_string(),
        set_cookie,
    });
    (status, signed)
}

#[tokio::test(flavor = "multi_thread")]
async fn sessions_are_the_kboss_session_scheme_with_csrf_and_throttled_sign_in() {
    let s = Server::with(Options {
        args: vec!["--demo", "--auth-failure-burst", "10"],
        ..Options::default()
    });
    let lines = s.stdout.lock().unwrap().clone();
    let (url, password) = demo_password(&lines);
    assert_eq!(url, s.url("/console/"));
    assert!(
        !s.log_text().contains(&password),
        "the password is not logged"
    );
    create_user(&s, "other", "bob", "bob-password-123", false);

    // The page and its files: hashed, cached, compressed, hardened.
    let page = s
        .http
        .get(s.url("/console/"))
        .header("accept-encoding", "gzip")
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), 200);
    assert_eq!(page.headers()["content-encoding"], "gzip");
    assert!(page.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .starts_with("default-src 'none'; script-src 'self' 'sha256-"));
    let raw = s.http.get(s.url("/console/")).send().await.unwrap();
    let html = raw.text().await.unwrap();
    let asset = html
        .split("href=\"/console/assets/")
        .nth(1)
        .and_then(|r| r.split('"').next())
        .unwrap()
        .to_string();
    let file = s
        .http
        .get(s.url(&format!("/console/assets/{asset}")))
        .send()
        .await
        .unwrap();
    assert_eq!(file.status(), 200);
    assert_eq!(
        file.headers()["cache-control"],
        "public, max-age=31536000, immutable"
    );

    // Sign-in: a wrong password is 401, the right one sets the cookie.
    let (status, none) = sign_in(&s, "demo", "demo", "wrong-password").await;
    assert_eq!(status, 401);
    assert!(none.is_none());
    // NUL in the organisation or the name (no stored text holds one, and
    // PostgreSQL refuses it in a statement) is an unknown user: 401.
    for (org, name) in [("de\0mo", "demo"), ("demo", "de\0mo")] {
        let (status, none) = sign_in(&s, org, name, &password).await;
        assert_eq!((status, none.is_none()), (401, true), "{org:?} {name:?}");
    }
    let (status, demo) = sign_in(&s, "demo", "demo", &password).await;
    assert_eq!(status, 200);
    let demo = demo.unwrap();
    for attr in ["HttpOnly", "SameSite=Strict", "Path=/", "Max-Age="] {
        assert!(demo.set_cookie.contains(attr), "{}", demo.set_cookie);
    }
    assert!(!demo.set_cookie.contains("Secure"), "plain HTTP here");

    // The same public endpoint a key calls, with the cookie.
    let list = |cookie: String| {
        let req = s
            .http
            .get(s.url("/dev/cpcc/cpclist/get_cpclist.dspy"))
            .header("cookie", cookie);
        async move {
            let v: serde_json::Value = req.send().await.unwrap().json().await.unwrap();
            v
        }
    };
    let centers = list(demo.cookie.clone()).await;
    assert_eq!(centers["data"]["total"], 1, "{centers}");
    let add = |cookie: &str, csrf: Option<&str>| {
        let mut req = s
            .http
            .post(s.url("/dev/cpcc/cpclist/add_cpclist.dspy"))
            .header("cookie", cookie)
            .form(&[
                ("name", "会话中心"),
                ("pcapi_url", "https://p.example"),
                ("api_user", "u"),
                ("api_pwd", "p"),
                ("contactname", "c"),
                ("contactphone", ""),
            ]);
        if let Some(t) = csrf {
            req = req.header("x-csrf-token", t);
        }
        async move {
            let r = req.send().await.unwrap();
            (r.status().as_u16(), r.text().await.unwrap())
        }
    };
    let (status, body) = add(&demo.cookie, None).await;
    assert_eq!(status, 403, "{body}");
    assert!(body.contains("X-CSRF-Token"), "{body}");
    let (status, _) = add(&demo.cookie, Some("wrong")).await;
    assert_eq!(status, 403);
    assert_eq!(list(demo.cookie.clone()).await["data"]["total"], 1);
    let (status, body) = add(&demo.cookie, Some(&demo.csrf)).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(list(demo.cookie.clone()).await["data"]["total"], 2);

    // Another organisation's user sees none of it.
    let (_, bob) = sign_in(&s, "other", "bob", "bob-password-123").await;
    let bob = bob.unwrap();
    assert_eq!(list(bob.cookie.clone()).await["data"]["total"], 0);

    // Operators' sessions open /admin; tenants' do not.
    let admin = |cookie: String| {
        let req = s.http.get(s.url("/admin/plugins")).header("cookie", cookie);
        async move { req.send().await.unwrap().status().as_u16() }
    };
    assert_eq!(admin(demo.cookie.clone()).await, 200);
    assert_eq!(admin(bob.cookie.clone()).await, 401);
    // A change an operator makes through the console is audited as that
    // user's session, not as the admin token.
    let r = s
        .http
        .post(s.url("/admin/keys"))
        .header("cookie", &demo.cookie)
        .header("x-csrf-token", &demo.csrf)
        .json(&serde_json::json!({"org": "demo", "scheme": "bearer"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 201);
    let (_, audit) = s.get_admin("/admin/audit?route=/admin/keys").await;
    let row = audit["entries"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["method"] == "POST")
        .cloned()
        .unwrap_or_else(|| panic!("no audit row: {audit}"));
    assert_eq!(row["scheme"], "console-session", "{row}");
    assert_eq!(row["key_id"], "console:demo", "{row}");
    assert_eq!(row["organisation"], "demo", "{row}");

    // Sign-out needs the CSRF token, then the cookie is worthless.
    let out = s
        .http
        .delete(s.url("/console/api/session"))
        .header("cookie", &demo.cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(out.status(), 403);
    let out = s
        .http
        .delete(s.url("/console/api/session"))
        .header("cookie", &demo.cookie)
        .header("x-csrf-token", &demo.csrf)
        .send()
        .await
        .unwrap();
    assert_eq!(out.status(), 200);
    assert!(out.headers()["set-cookie"]
        .to_str()
        .unwrap()
        .contains("Max-Age=0"));
    let gone = list(demo.cookie.clone()).await;
    assert_eq!(gone["status"], false, "{gone}");

    // Disabling a user ends its sessions.
    let out = s
        .command()
        .args([
            "users",
            "disable",
            "--org",
            "other",
            "--name",
            "bob",
            "--data-dir",
        ])
        .arg(s.data())
        .output()
        .unwrap();
    assert!(out.status.success());
    assert_eq!(list(bob.cookie.clone()).await["status"], false);
    let (status, _) = sign_in(&s, "other", "bob", "bob-password-123").await;
    assert_eq!(status, 401);

    // Failed sign-ins are throttled (a burst of 10 failures here, the refused
    // CSRF tokens, cookies and admin call above among them): then 429.
    let mut last = 0;
    for _ in 0..10 {
        last = sign_in(&s, "demo", "demo", "guess-guess-guess").await.0;
    }
    assert_eq!(last, 429);
    let (status, _) = sign_in(&s, "demo", "demo", &password).await;
    assert_eq!(status, 429, "even the right password waits");
}

/// The browser test: install playwright-core and axe-core (npm ci), find
/// Chromium, run `tests/console/browser.mjs` against a demo server.
///
/// A failure ends the test with a short `Err` (no backtrace): the step that
/// failed and the browser's error, last in the output, where a truncated CI
/// log still shows them.
#[tokio::test(flavor = "multi_thread")]
async fn the_console_in_headless_chromium() -> Result<(), BrowserFailure> {
    let chromium = std::env::var("CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into());
    assert!(
        Path::new(&chromium).exists(),
        "the console's browser test needs Chromium at {chromium} (Debian: apt-get install chromium; \
         or set CHROMIUM); .ci/run installs it"
    );
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let modules = target_dir().join("console-e2e");
    std::fs::create_dir_all(&modules).unwrap();
    let lock = std::fs::read(root.join("tests/console/package-lock.json")).unwrap();
    let installed = std::fs::read(modules.join("package-lock.json")).ok();
    if installed.as_deref() != Some(&lock[..])
        || !modules.join("node_modules/playwright-core").exists()
    {
        std::fs::copy(
            root.join("tests/console/package.json"),
            modules.join("package.json"),
        )
        .unwrap();
        std::fs::write(modules.join("package-lock.json"), &lock).unwrap();
        let npm = Command::new("npm")
            .args(["ci", "--no-audit", "--no-fund", "--ignore-scripts"])
            .current_dir(&modules)
            .output()
            .unwrap_or_else(|e| panic!("the console's browser test needs npm (Node.js): {e}"));
        assert!(
            npm.status.success(),
            "npm ci of playwright-core and axe-core failed: {}",
            String::from_utf8_lossy(&npm.stderr)
        );
    }

    let s = Server::with(Options {
        args: vec!["--demo"],
        config: CONSOLE_CONFIG,
        ..Options::default()
    });
    let lines = s.stdout.lock().unwrap().clone();
    let (_, password) = demo_password(&lines);
    let cpcid = export(&lines, "CPCID");
    // A machine to install a cluster master on: its init phase takes 3 s,
    // long enough to watch the phases move.
    let sim = simcluster::SimCluster::start(simcluster::ClusterSpec::new("console-op")).unwrap();
    let machine = Machine::start("console-m", "127.0.0.2");
    machine.attach(&sim);
    machine.slow("kubeadm-init", 3.0);
    create_user(&s, "other", "bob", "bob-password-123", false);
    let shots = target_dir().join("console-screenshots");
    // Last run's pictures must not stand in for this run's.
    let _ = std::fs::remove_dir_all(&shots);
    let started = std::time::Instant::now();
    let out = Command::new("node")
        .arg(root.join("tests/console/browser.mjs"))
        .env("CONSOLE_BASE", &s.base)
        .env("DEMO_PASSWORD", &password)
        .env("OTHER_ORG", "other")
        .env("OTHER_NAME", "bob")
        .env("OTHER_PASSWORD", "bob-password-123")
        .env("CPCID", &cpcid)
        .env("BASIC", export(&lines, "BASIC"))
        .env("MACHINE_PORT", machine.port.to_string())
        .env("MACHINE_USER", USER)
        .env("MACHINE_PASSWORD", PASSWORD)
        .env("HELLO_WASM", Path::new(PLUGINS).join("hello_plugin.wasm"))
        .env(
            "VOLUME_DISCOUNT_WASM",
            Path::new(PLUGINS).join("volume_discount.wasm"),
        )
        .env("SCREENSHOTS", &shots)
        .env("E2E_MODULES", modules.join("node_modules"))
        .env("CHROMIUM", &chromium)
        .output()
        .expect("node runs the browser script");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    eprintln!(
        "{stdout}{stderr}browser steps took {:.1} s",
        started.elapsed().as_secs_f32()
    );
    if !out.status.success() || !stdout.contains("console e2e: all steps passed") {
        return Err(browser_failure(&stdout, &stderr));
    }
    for shot in [
        "01-sign-in",
        "03-centers",
        "05-devices",
        "06b-device-added",
        "07-quote-64.08",
        "13-plugin-swapped",
        "14-quote-volume-discount",
        "16-quote-rolled-back",
        "17-keys",
        "19-cluster-board",
        "24-operations",
        "25-operation-live",
        "26-operation-done",
        "27-host-keys",
        "12b-plugin-check",
        "22c-cascade-done",
        "10-other-tenant-centers",
    ] {
        if !shots.join(format!("{shot}.png")).exists() {
            return Err(BrowserFailure(format!(
                "the screenshot {shot}.png was not taken"
            )));
        }
    }
    Ok(())
}

/// The browser script's failure in a few lines: the last step it began and
/// the first lines of its error (the whole output was printed above).
fn browser_failure(stdout: &str, stderr: &str) -> BrowserFailure {
    let step = stdout
        .lines()
        .rev()
        .find(|l| l.starts_with("step: "))
        .unwrap_or("step: (none began)");
    let error: Vec<&str> = stderr
        .lines()
        .skip_while(|l| !l.starts_with("console e2e failed"))
        .take(12)
        .collect();
    let error = if error.is_empty() {
        stderr
            .lines()
            .rev()
            .take(12)
            .collect::<Vec<_>>()
            .into_iter()
            .rev()
            .collect()
    } else {
        error
    };
    BrowserFailure(format!(
        "the console's browser test failed\nlast {step}\n{}",
        error.join("\n")
    ))
}

/// A failure the test harness prints as written (its `Debug` is the text,
/// lines unescaped).
struct BrowserFailure(String);

impl std::fmt::Debug for BrowserFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

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

    // A new endpoint plugin: its routes are all added.
    let (status, body) = check(&s, "hello", "hello_plugin.wasm").await;
    assert_eq!(status, 200, "{body}");
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
    s.grant("notes", json!({"grants": ["inventory"]})).await;
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
    assert_eq!(audit["total"], 7, "{audit}");
}

/// `/operations` takes the console session as it takes keys, and failed
/// cookies and keys there are throttled as on the other endpoints.
#[tokio::test(flavor = "multi_thread")]
async fn operations_take_the_session_and_throttle_failures() {
    let s = Server::with(Options {
        args: vec!["--auth-failure-burst", "3"],
        ..Options::default()
    });
    create_user(&s, "acme", "ann", "ann-password-123", false);
    let (_, ann) = sign_in(&s, "acme", "ann", "ann-password-123").await;
    let ann = ann.unwrap();
    let get = |path: &str, cookie: &str| {
        let req = s.http.get(s.url(path)).header("cookie", cookie);
        async move {
            let r = req.send().await.unwrap();
            let status = r.status().as_u16();
            (status, r.json::<serde_json::Value>().await.unwrap())
        }
    };
    let (status, page) = get("/operations", &ann.cookie).await;
    assert_eq!(status, 200, "{page}");
    assert_eq!(
        (page["total"].as_i64(), page["page"].as_i64()),
        (Some(0), Some(1))
    );
    let (status, body) = get("/operations/op-nope/events", &ann.cookie).await;
    assert_eq!(status, 404, "{body}");
    let (status, body) = get("/operations?sort=output", &ann.cookie).await;
    assert_eq!(status, 400);
    assert!(
        body["error"].as_str().unwrap().contains("`output`"),
        "{body}"
    );
    // A cookie that is no session: 401, then 429 once over the burst.
    let mut last = 0;
    for _ in 0..5 {
        last = get("/operations", "chsession=not-a-session").await.0;
    }
    assert_eq!(last, 429);
}
