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
use std::process::Stdio;

use crate::common::*;

/// The tests' usual grants, with pcapi allowed to reach the loopback
/// machine the browser test provisions.
const CONSOLE_CONFIG: &str = concat!(
    r#"
default-deadline-ms = 5000
[plugins.fixtures]
role = "endpoint"
grants = ["log", "inventory"]
write = ["devices", "compute_centers"]
secrets = ["devices.adminpwd", "compute_centers.api_pwd"]
public-routes = ["/fixtures/echo/{name}", "/fixtures/trap", "/fixtures/spin", "/fixtures/hog", "/fixtures/sleep"]
[plugins.echo]
role = "endpoint"
grants = ["log"]
public-routes = ["/echo/version", "/echo/sleep"]
[plugins.pcapi]
role = "endpoint"
grants = ["log", "inventory", "kubernetes", "scheduling", "ssh", "operations"]
ssh-targets = ["127.0.0.0/8"]
kube-targets = ["127.0.0.1"]
read = ["devices", "clusters"]
"#,
    crate::common::loopback_clusters!()
);

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

mod browser;
mod dry_run;
mod sessions;
