//! The `ssh` capability against a real OpenSSH sshd on 127.0.0.1, through the
//! `remote-probe` test component (one capability call per request): quoting
//! round trips, exit status, stderr, output caps, timeouts, connection reuse,
//! upload/download, password and key login, devices by id with sealed
//! credentials, host keys pinned and a changed key refused, injection refused
//! before anything connects, explicit targets only inside the grant.

use std::os::unix::fs::PermissionsExt;
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::common::*;
use crate::machine::{Machine, PASSWORD, USER};

const CONFIG: &str = r#"
default-deadline-ms = 5000
[plugins.probe]
role = "endpoint"
grants = ["log", "inventory", "ssh"]
ssh-targets = ["127.0.0.0/8"]
[plugins.outside]
role = "endpoint"
grants = ["log", "ssh"]
ssh-targets = ["10.0.0.0/8"]
"#;

struct Env {
    s: Server,
    key: String,
}

fn env() -> Env {
    let s = Server::with(Options {
        config: CONFIG,
        plugins: vec![("remote_probe.wasm", "probe")],
        ..Options::default()
    });
    let key = s.key("acme", "bearer");
    Env { s, key }
}

impl Env {
    async fn probe(&self, op: &str, body: Value) -> (u16, Value) {
        probe_as(&self.s, &self.key, op, body).await
    }
}

async fn probe_as(s: &Server, key: &str, op: &str, body: Value) -> (u16, Value) {
    let r = s
        .http
        .post(s.url(&format!("/probe/{op}")))
        .bearer_auth(key)
        .json(&body)
        .send()
        .await
        .unwrap();
    let status = r.status().as_u16();
    (status, r.json().await.unwrap_or(Value::Null))
}

fn run(target: &Value, program: &str, args: &[&str]) -> Value {
    json!({"target": target, "program": program, "args": args})
}

#[tokio::test(flavor = "multi_thread")]
async fn ssh_runs_commands_and_reuses_the_connection() {
    let m = Machine::start("node-a", "127.0.0.2");
    let e = env();
    let t = m.target();

    // Arguments arrive exactly as sent, whatever quoting they needed.
    let (st, b) = e
        .probe(
            "run",
            run(&t, "printf", &["[%s]", "a b", "it's", "*", "", "--x=\"y\""]),
        )
        .await;
    assert_eq!(st, 200, "{b}");
    assert_eq!(b["exit_status"], 0);
    assert_eq!(b["stdout"], "[a b][it's][*][][--x=\"y\"]");
    assert_eq!(b["truncated"], false);

    // Exit status and stderr.
    let (st, b) = e.probe("run", run(&t, "ls", &["/nonexistent-dir"])).await;
    assert_eq!(st, 200, "{b}");
    assert_eq!(b["exit_status"], 2);
    assert!(
        b["stderr"].as_str().unwrap().contains("No such file"),
        "{b}"
    );
    let (_, b) = e.probe("run", run(&t, "bash", &["-c", "exit 7"])).await;
    assert_eq!(b["exit_status"], 7);

    // Output is capped at 1 MiB per stream.
    let (st, b) = e
        .probe("run", run(&t, "head", &["-c", "3000000", "/dev/zero"]))
        .await;
    assert_eq!(st, 200);
    assert_eq!(b["stdout_len"], 1 << 20);
    assert_eq!(b["truncated"], true);

    // A command past its timeout is cut off with `timeout`.
    let started = Instant::now();
    let mut body = run(&t, "sleep", &["5"]);
    body["timeout_ms"] = json!(500);
    let (st, b) = e.probe("run", body).await;
    assert_eq!(st, 504, "{b}");
    assert_eq!(b["error"], "timeout");
    assert!(started.elapsed() < Duration::from_secs(4));

    // Five calls, one login: the connection is pooled per target.
    assert_eq!(m.logins(), 1, "every call so far reused one connection");
    // The machine ran exactly what was asked, quoted.
    let lines = m.ssh_lines();
    assert_eq!(
        lines[0],
        r#"printf '[%s]' 'a b' 'it'\''s' '*' '' '--x="y"'"#
    );
    assert_eq!(lines.len(), 5);
}

#[tokio::test(flavor = "multi_thread")]
async fn injection_is_refused_before_anything_connects() {
    let m = Machine::start("node-a", "127.0.0.2");
    let e = env();
    let t = m.target();
    for bad in [
        "n1;reboot",
        "$(id)",
        "`id`",
        "a\nb",
        "x && y",
        "a|b",
        "${HOME}",
    ] {
        let (st, b) = e.probe("run", run(&t, "echo", &[bad])).await;
        assert_eq!(st, 400, "{bad:?}: {b}");
        assert_eq!(b["error"], "invalid");
        assert!(b["message"].as_str().unwrap().contains("argument 1"), "{b}");
    }
    let (st, b) = e.probe("run", run(&t, "rm -rf /", &[])).await;
    assert_eq!(st, 400, "{b}");
    let (st, b) = e
        .probe(
            "upload",
            json!({"target": t, "path": "/tmp/x;reboot", "contents": "x"}),
        )
        .await;
    assert_eq!(st, 400, "{b}");
    assert!(b["message"].as_str().unwrap().contains("path"), "{b}");
    // Nothing reached the machine, not even a login.
    assert!(m.ssh_lines().is_empty(), "{:?}", m.ssh_lines());
    assert_eq!(m.logins(), 0);
}

#[tokio::test(flavor = "multi_thread")]
async fn upload_and_download_round_trip() {
    let m = Machine::start("node-a", "127.0.0.2");
    let e = env();
    let t = m.target();
    let path = format!("{}/dir with space/kubeadm.yaml", m.scratch("up"));
    let text = "kind: InitConfiguration\nname: 'quoted' $NOT_EXPANDED `x`\n";
    let (st, b) = e
        .probe(
            "upload",
            json!({"target": t, "path": path, "contents": text, "mode": 0o600}),
        )
        .await;
    assert_eq!(st, 200, "{b}");
    assert_eq!(std::fs::read_to_string(&path).unwrap(), text);
    let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);
    let (st, b) = e
        .probe("download", json!({"target": t, "path": path}))
        .await;
    assert_eq!(st, 200, "{b}");
    assert_eq!(b["contents"], text);
    let (st, b) = e
        .probe(
            "download",
            json!({"target": t, "path": m.scratch("missing.conf")}),
        )
        .await;
    assert_eq!(st, 502, "{b}");
    assert_eq!(b["error"], "remote");
    assert!(
        b["message"].as_str().unwrap().contains("No such file"),
        "{b}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn logins_by_password_key_and_device_id() {
    let m = Machine::start("node-a", "127.0.0.2");
    let e = env();
    // A wrong password is `auth-failed`, and names neither password.
    let mut wrong = m.target();
    wrong["password"] = json!("not-the-password");
    let (st, b) = e.probe("run", run(&wrong, "true", &[])).await;
    assert_eq!(st, 502, "{b}");
    assert_eq!(b["error"], "auth-failed");
    assert!(!b.to_string().contains("not-the-password"));

    // Key authentication.
    let keyed =
        json!({"host": "127.0.0.1", "port": m.port, "user": USER, "private_key": m.client_key()});
    let (st, b) = e.probe("run", run(&keyed, "hostname", &[])).await;
    assert_eq!(st, 200, "{b}");
    assert_eq!(b["stdout"], "node-a\n");

    // An inventory device: the host opens the sealed password itself.
    let device = insert_device(&e.s, m.port).await;
    let by_id = json!({"device": device});
    let (st, b) = e.probe("run", run(&by_id, "hostname", &[])).await;
    assert_eq!(st, 200, "{b}");
    assert_eq!(b["stdout"], "node-a\n");

    // Another organisation cannot use it, nor learn it exists.
    let other = e.s.key("globex", "bearer");
    let (st, b) = probe_as(&e.s, &other, "run", run(&by_id, "hostname", &[])).await;
    assert_eq!(st, 400, "{b}");
    assert!(b["message"].as_str().unwrap().contains("no device"), "{b}");

    // Nothing secret reached the log.
    let log = e.s.log_text();
    assert!(!log.contains(PASSWORD) && !log.contains("not-the-password"));
}

#[tokio::test(flavor = "multi_thread")]
async fn host_keys_are_pinned_and_a_changed_key_is_refused() {
    let mut m = Machine::start("node-a", "127.0.0.2");
    let e = env();
    let t = m.target();
    let (st, _) = e.probe("run", run(&t, "true", &[])).await;
    assert_eq!(st, 200);
    let pinned: String =
        e.s.rows(
            "SELECT fingerprint FROM ssh_host_keys WHERE org_id = 'acme' AND target = ?1",
            vec![format!("127.0.0.1:{}", m.port).into()],
        )
        .await[0]
            .get(0)
            .unwrap();
    assert!(pinned.starts_with("SHA256:"), "{pinned}");
    let ran = m.ssh_lines().len();

    m.new_host_key();
    let (st, b) = e
        .probe("run", run(&t, "touch", &["/tmp/should-not-run"]))
        .await;
    assert_eq!(st, 502, "{b}");
    assert_eq!(b["error"], "host-key-changed");
    let msg = b["message"].as_str().unwrap();
    assert!(msg.contains(&pinned) && msg.contains("refusing"), "{msg}");
    assert_eq!(m.ssh_lines().len(), ran, "nothing ran on the impostor");

    // Another organisation pins its own first key and connects.
    let other = e.s.key("globex", "bearer");
    let (st, b) = probe_as(&e.s, &other, "run", run(&t, "true", &[])).await;
    assert_eq!(st, 200, "{b}");

    // The operator sees acme's pin and removes it (the machine was
    // reinstalled); the next connection pins the key it presents now.
    let target = format!("127.0.0.1:{}", m.port);
    let (st, b) = e.s.get_admin("/admin/ssh-host-keys?org=acme").await;
    assert_eq!(st, 200, "{b}");
    let keys = b["host_keys"].as_array().unwrap();
    assert_eq!(keys.len(), 1, "{b}");
    assert_eq!(keys[0]["target"], target.as_str());
    assert_eq!(keys[0]["fingerprint"], pinned.as_str());
    let (st, b) = e.s.get("/admin/ssh-host-keys").await;
    assert_eq!(st, 401, "{b}");
    let path = format!("/admin/ssh-host-keys/acme/{target}");
    let (st, b) = e.s.admin_delete(&path).await;
    assert_eq!(st, 200, "{b}");
    assert_eq!(b["forgotten"], true);
    let (st, b) = e.s.admin_delete(&path).await;
    assert_eq!(st, 404, "{b}");
    let before = m.ssh_lines().len();
    let (st, b) = e.probe("run", run(&t, "true", &[])).await;
    assert_eq!(st, 200, "{b}");
    let (_, b) = e.s.get_admin("/admin/ssh-host-keys?org=acme").await;
    let now = b["host_keys"][0]["fingerprint"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(
        now.starts_with("SHA256:") && now != pinned,
        "{now} {pinned}"
    );
    assert_eq!(
        m.ssh_lines().len(),
        before + 1,
        "the command ran once re-pinned"
    );
}

/// A device of `acme` at 127.0.0.1:`port` (the test machine's login): its id.
async fn insert_device(s: &Server, port: u16) -> String {
    let store = s.store().await;
    let center = store
        .insert(
            "acme",
            "compute_centers",
            &fields(&[
                ("name", text("c1")),
                ("pcapi_url", text("http://127.0.0.1:1")),
                ("api_user", text("u")),
                ("api_pwd", secret("p")),
                ("contactname", text("n")),
                ("contactphone", text("1")),
            ]),
        )
        .await
        .unwrap();
    store
        .insert(
            "acme",
            "devices",
            &fields(&[
                ("cpcid", text(&center.id)),
                ("name", text("node-a")),
                ("ip", text("127.0.0.1")),
                ("devicetype", text("server")),
                ("sshport", computehub::store::Value::Integer(port.into())),
                ("adminuser", text(USER)),
                ("adminpwd", secret(PASSWORD)),
                ("node_status", text("idle")),
            ]),
        )
        .await
        .unwrap()
        .id
}

/// Explicit targets and devices alike: an address is its caller's (or its
/// organisation's) text, reached only inside the plugin's `ssh-targets`.
#[tokio::test(flavor = "multi_thread")]
async fn targets_stay_inside_the_grant() {
    let m = Machine::start("node-a", "127.0.0.2");
    let s = Server::with(Options {
        config: CONFIG,
        plugins: vec![("remote_probe.wasm", "outside")],
        ..Options::default()
    });
    let key = s.key("acme", "bearer");
    let (st, b) = probe_as(&s, &key, "run", run(&m.target(), "true", &[])).await;
    assert_eq!(st, 403, "{b}");
    assert_eq!(b["error"], "denied");
    assert!(
        b["message"].as_str().unwrap().contains("ssh-targets"),
        "{b}"
    );
    let mut named = m.target();
    named["host"] = json!("localhost");
    let (st, b) = probe_as(&s, &key, "run", run(&named, "true", &[])).await;
    assert_eq!(st, 400, "{b}");
    // A device whose `ip` is loopback, outside the grant (10.0.0.0/8):
    // refused before anything connects, its password never sent.
    let device = insert_device(&s, m.port).await;
    let (st, b) = probe_as(
        &s,
        &key,
        "run",
        run(&json!({"device": device}), "true", &[]),
    )
    .await;
    assert_eq!(st, 403, "{b}");
    assert_eq!(b["error"], "denied");
    assert!(
        b["message"].as_str().unwrap().contains("ssh-targets"),
        "{b}"
    );
    assert_eq!(m.logins(), 0);
}

fn fields(f: &[(&str, computehub::store::Value)]) -> Vec<(String, computehub::store::Value)> {
    f.iter().map(|(k, v)| (k.to_string(), v.clone())).collect()
}

fn text(s: &str) -> computehub::store::Value {
    computehub::store::Value::Text(s.into())
}

fn secret(s: &str) -> computehub::store::Value {
    computehub::store::Value::Secret(s.into())
}
