//! The trust boundary, from outside: a kubeconfig that would run a program or
//! read a file is refused and nothing runs or is read; an inline kubeconfig
//! reaches only the API servers its plugin's `kube-targets` grant (a loopback
//! listener outside it sees no connection); a plugin writes only the
//! collections and secret fields its storage grant names; no error body
//! carries a library's text.

use std::io::Write as _;
use std::net::TcpListener;
use std::path::Path;
use std::time::Duration;

use base64::Engine as _;
use serde_json::{json, Value};
use simcluster::{ClusterSpec, SimCluster};

use crate::common::*;

const NODES: &str = "/pcapi/api/v1/cluster/common/get_cluster_nodes";

/// Words of Rust and library error texts that no answer may carry.
const INTERNAL: [&str; 9] = [
    "ServiceError",
    "client error",
    "hyper",
    "kube::",
    "Kubeconfig",
    "No such file",
    "os error",
    "Connect",
    "rustls",
];

fn assert_no_internals(body: &str) {
    for w in INTERNAL {
        assert!(!body.contains(w), "`{w}` in {body}");
    }
}

fn b64(s: &str) -> String {
    base64::engine::general_purpose::STANDARD.encode(s)
}

/// A kubeconfig for `server` whose user has `user` (YAML lines, indented 4).
fn kubeconfig(server: &str, user: &str) -> String {
    format!(
        "apiVersion: v1\nkind: Config\nclusters:\n- name: c\n  cluster:\n    server: {server}\n    certificate-authority-data: {ca}\ncontexts:\n- name: c\n  context:\n    cluster: c\n    user: u\ncurrent-context: c\nusers:\n- name: u\n  user:\n{user}",
        ca = b64(simcluster::CA_PEM)
    )
}

/// An `exec` credential plugin that would create `marker` and print a token.
fn exec_user(marker: &Path) -> String {
    let cred = r#"{"apiVersion":"client.authentication.k8s.io/v1","kind":"ExecCredential","status":{"token":"x"}}"#;
    format!(
        "    exec:\n      apiVersion: client.authentication.k8s.io/v1\n      command: /bin/sh\n      args:\n      - -c\n      - touch {} && printf '%s' \"$CRED\"\n      env:\n      - name: CRED\n        value: '{cred}'\n      interactiveMode: Never\n",
        marker.display()
    )
}

/// kube-rs reads `yaml` as a kubeconfig whose first user has an `exec`
/// plugin: what the host refuses is what kube-rs would run.
fn kube_would_exec(yaml: &str) -> bool {
    kube::config::Kubeconfig::from_yaml(yaml)
        .ok()
        .and_then(|k| k.auth_infos.first()?.auth_info.clone())
        .is_some_and(|a| {
            a.exec
                .is_some_and(|e| e.command.as_deref() == Some("/bin/sh"))
        })
}

/// pcapi's node board with an inline kubeconfig: (status, body text).
async fn nodes(s: &Server, basic: &str, kc: &str) -> (u16, String) {
    let (user, pass) = basic.split_once(':').unwrap();
    let r = s
        .http
        .get(s.url(NODES))
        .query(&[("kubeconfig", kc)])
        .basic_auth(user, Some(pass))
        .send()
        .await
        .unwrap();
    (r.status().as_u16(), r.text().await.unwrap())
}

/// The `detail` of pcapi's documented failure body (`{"status": false,
/// "info": "operate failed", "data": ""}`, HTTP 200): why it was refused.
fn info(body: &str) -> String {
    let v: Value = serde_json::from_str(body).unwrap_or_else(|_| panic!("not JSON: {body}"));
    assert_eq!(v["status"], false, "{body}");
    assert_eq!(v["info"], "operate failed", "{body}");
    assert_eq!(v["data"], "", "{body}");
    v["detail"].as_str().unwrap().to_string()
}

#[tokio::test(flavor = "multi_thread")]
async fn kubeconfigs_that_run_programs_are_refused_and_nothing_runs() {
    let sim = SimCluster::start(ClusterSpec::new("trust")).unwrap();
    let s = Server::start();
    let basic = s.key("acme", "basic");
    let marker = s.dir.path().join("marker");

    // exec, in the context's user and in a user no context names.
    let kc = kubeconfig(&sim.url(), &exec_user(&marker));
    assert!(kube_would_exec(&kc), "{kc}");
    let (status, body) = nodes(&s, &basic, &kc).await;
    assert_eq!(status, 200, "{body}");
    assert!(
        info(&body).contains("users[0].user.exec is not accepted: it runs a program on the server"),
        "{body}"
    );
    assert_no_internals(&body);
    let unused = format!(
        "{}- name: other\n  user:\n{}",
        kubeconfig(&sim.url(), &format!("    token: {}\n", sim.token())),
        exec_user(&marker)
    );
    let (status, body) = nodes(&s, &basic, &unused).await;
    assert_eq!(status, 200, "{body}");
    assert!(info(&body).contains("users[1].user.exec"), "{body}");

    // auth-provider (gcp's cmd-path runs a program).
    let ap = format!(
        "    auth-provider:\n      name: gcp\n      config:\n        cmd-path: /bin/sh\n        cmd-args: -c 'touch {}'\n",
        marker.display()
    );
    let (status, body) = nodes(&s, &basic, &kubeconfig(&sim.url(), &ap)).await;
    assert_eq!(status, 200, "{body}");
    assert!(
        info(&body).contains("users[0].user.auth-provider is not accepted"),
        "{body}"
    );
    assert_no_internals(&body);

    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(!marker.exists(), "a kubeconfig's command ran on the host");
    // The same cluster with an inline token works: the refusals were the policy's.
    let ok = kubeconfig(&sim.url(), &format!("    token: {}\n", sim.token()));
    let (status, body) = nodes(&s, &basic, &ok).await;
    assert_eq!(status, 200, "{body}");
}

/// Open `fifo` for writing without blocking: succeeds only while a reader
/// has it open.
fn has_reader(fifo: &Path) -> bool {
    use std::os::unix::fs::OpenOptionsExt;
    // O_NONBLOCK on Linux.
    std::fs::OpenOptions::new()
        .write(true)
        .custom_flags(0o4000)
        .open(fifo)
        .map(|mut f| {
            let _ = f.write_all(b"-----BEGIN PRIVATE KEY-----\n");
        })
        .is_ok()
}

#[tokio::test(flavor = "multi_thread")]
async fn kubeconfigs_naming_files_are_refused_and_no_file_is_opened() {
    let sim = SimCluster::start(ClusterSpec::new("trust-files")).unwrap();
    let s = Server::start();
    let basic = s.key("acme", "basic");
    let secret = "FILE-CONTENTS-7f3a9c";
    let key_file = s.dir.path().join("client.key");
    std::fs::write(&key_file, secret).unwrap();
    // A FIFO: opening it to read blocks until a writer comes, so a reader
    // would be seen by `has_reader` below.
    let fifo = s.dir.path().join("ca.fifo");
    assert!(std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .unwrap()
        .success());

    let cases = [
        (
            kubeconfig(
                &sim.url(),
                &format!("    client-certificate: {}\n    client-key: {}\n", fifo.display(), key_file.display()),
            ),
            "users[0].user.client-certificate is not accepted: it names a file on the server",
        ),
        (
            kubeconfig(&sim.url(), &format!("    tokenFile: {}\n", key_file.display())),
            "users[0].user.tokenFile is not accepted: it names a file on the server",
        ),
        (
            kubeconfig(&sim.url(), "    token: t\n").replace(
                "    certificate-authority-data:",
                &format!("    certificate-authority: {}\n    x-was-data:", fifo.display()),
            ),
            "clusters[0].cluster.certificate-authority is not accepted: it names a file on the server",
        ),
        (
            kubeconfig(&sim.url(), "    token: t\n").replace(
                "    certificate-authority-data:",
                "    proxy-url: http://127.0.0.1:3128\n    certificate-authority-data:",
            ),
            "clusters[0].cluster.proxy-url is not accepted",
        ),
    ];
    for (kc, want) in cases {
        let call = nodes(&s, &basic, &kc);
        tokio::pin!(call);
        let mut opened = false;
        let (status, body) = loop {
            tokio::select! {
                r = &mut call => break r,
                _ = tokio::time::sleep(Duration::from_millis(20)) => opened |= has_reader(&fifo),
            }
        };
        opened |= has_reader(&fifo);
        assert!(!opened, "the server opened {} for {want}", fifo.display());
        assert_eq!(status, 200, "{body}");
        assert!(info(&body).contains(want), "{want}: {body}");
        assert!(!body.contains(secret), "{body}");
        assert_no_internals(&body);
    }
    assert!(
        !s.log_text().contains(secret),
        "the key file's contents reached the log"
    );
}

/// A listener that records whether anything connected.
fn listener(addr: &str) -> TcpListener {
    let l = TcpListener::bind(addr).unwrap();
    l.set_nonblocking(true).unwrap();
    l
}

fn saw_connection(l: &TcpListener) -> bool {
    l.accept().is_ok()
}

const WIDE: &str = r#"
[plugins.pcapi]
role = "endpoint"
grants = ["log", "inventory", "kubernetes", "scheduling", "ssh", "operations"]
kube-targets = ["0.0.0.0/0", "::/0", "127.0.0.1:1"]
read = ["devices", "clusters"]
"#;

#[tokio::test(flavor = "multi_thread")]
async fn inline_kubeconfigs_reach_only_granted_api_servers() {
    // The common config grants pcapi 127.0.0.1 (any port), nothing else.
    let s = Server::start();
    let basic = s.key("acme", "basic");
    let outside = listener("127.0.0.2:0");
    let url = format!("https://{}", outside.local_addr().unwrap());
    let (status, body) = nodes(&s, &basic, &kubeconfig(&url, "    token: t\n")).await;
    assert_eq!(status, 200, "{body}");
    let port = outside.local_addr().unwrap().port();
    assert_eq!(
        info(&body),
        format!("plugin `pcapi` may not connect to 127.0.0.2:{port}: it is outside the plugin's `kube-targets`")
    );
    // The server's own address is not reachable through a broad entry.
    let own = s.base.replace("http://", "https://");
    let (status, body) = nodes(&s, &basic, &kubeconfig(&own, "    token: t\n")).await;
    assert_eq!(status, 200, "{body}");
    assert!(info(&body).contains("this server's own address"), "{body}");
    // A granted address where nothing answers: one sentence with the request
    // id; the detail is in the log only.
    let closed = TcpListener::bind("127.0.0.1:0").unwrap();
    let closed_url = format!("https://{}", closed.local_addr().unwrap());
    drop(closed);
    let (status, body) = nodes(&s, &basic, &kubeconfig(&closed_url, "    token: t\n")).await;
    assert_eq!(status, 200, "{body}");
    assert!(
        info(&body).contains("could not be reached (request id"),
        "{body}"
    );
    assert_no_internals(&body);
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(!saw_connection(&outside), "a refused kubeconfig connected");

    // A grant of every address still keeps loopback and link-local out:
    // they are reachable only through an entry naming them.
    let wide = Server::with(Options {
        config: WIDE,
        plugins: vec![],
        ..Options::default()
    });
    let basic = wide.key("acme", "basic");
    let lo = listener("127.0.0.1:0");
    let lo_url = format!("https://{}", lo.local_addr().unwrap());
    for url in [
        lo_url.as_str(),
        "https://localhost:2",
        "https://169.254.169.254",
        "https://[::1]:1",
    ] {
        let (status, body) = nodes(&wide, &basic, &kubeconfig(url, "    token: t\n")).await;
        assert_eq!(status, 200, "{url}: {body}");
        assert!(
            info(&body).contains("reachable only when a `kube-targets` entry names them"),
            "{url}: {body}"
        );
    }
    // `127.0.0.1:1` names loopback explicitly, at one port only.
    let (status, body) = nodes(
        &wide,
        &basic,
        &kubeconfig("https://127.0.0.1:1", "    token: t\n"),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert!(
        info(&body).contains("could not be reached (request id"),
        "allowed, and nothing answers: {body}"
    );
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(
        !saw_connection(&lo),
        "a loopback listener outside the grant saw a connection"
    );
}

/// pcapi granted no API servers at all.
const NO_TARGETS: &str = r#"
[plugins.pcapi]
role = "endpoint"
grants = ["log", "inventory", "kubernetes", "scheduling", "ssh", "operations"]
read = ["devices", "clusters"]
"#;

#[tokio::test(flavor = "multi_thread")]
async fn a_plugin_without_kube_targets_looks_nothing_up() {
    let s = Server::with(Options {
        config: NO_TARGETS,
        plugins: vec![],
        ..Options::default()
    });
    let basic = s.key("acme", "basic");
    let listener = listener("127.0.0.1:0");
    for url in [
        "https://name-chosen-by-a-caller.invalid:6443".to_string(),
        format!("https://{}", listener.local_addr().unwrap()),
    ] {
        let (status, body) = nodes(&s, &basic, &kubeconfig(&url, "    token: t\n")).await;
        assert_eq!(status, 200, "{body}");
        // Refused before the name is resolved: not "does not resolve".
        assert!(
            info(&body).contains("it has no `kube-targets`"),
            "{url}: {body}"
        );
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(!saw_connection(&listener));
}

const STORAGE: &str = r#"
[plugins.fixtures]
role = "endpoint"
grants = ["log", "inventory"]
write = ["compute_centers", "clusters"]
secrets = ["compute_centers.api_pwd", "clusters.kubeconfig"]
public-routes = ["/fixtures/echo/{name}", "/fixtures/trap", "/fixtures/spin", "/fixtures/hog", "/fixtures/sleep"]
"#;

#[tokio::test(flavor = "multi_thread")]
async fn plugins_write_only_what_their_storage_grant_names() {
    // The common config grants fixtures `devices` and `compute_centers`.
    let s = Server::start();
    let key = s.key("acme", "bearer");
    let (status, body) = s
        .fixtures_record(&key, "labels", json!({"name": "x"}))
        .await;
    assert_eq!(status, 400, "{body}");
    assert!(
        body.contains("denied: plugin `fixtures` may not write collection `kboss.labels`"),
        "{body}"
    );
    let r = s
        .http
        .get(s.url("/fixtures/records/clusters"))
        .bearer_auth(&key)
        .send()
        .await
        .unwrap();
    let body = r.text().await.unwrap();
    assert!(
        body.contains("denied: plugin `fixtures` may not read collection `clusters`"),
        "{body}"
    );
    let store = s.store().await;
    let org = "acme".to_string();
    assert_eq!(
        store
            .query(&org, "labels", &Default::default())
            .await
            .unwrap()
            .total,
        0
    );

    // Granted `clusters` but not `clusters.clusterjoin`; a kubeconfig with
    // `exec` is refused before it is stored, a clean one is stored.
    let s = Server::with(Options {
        config: STORAGE,
        plugins: vec![("fixtures.wasm", "fixtures")],
        ..Options::default()
    });
    let key = s.key("acme", "bearer");
    let cpcid = &fixtures_center(&s, &key).await;
    let cluster = |extra: Value| {
        let mut c = json!({"cpcid": cpcid, "name": "k", "clustertype": "0", "ready": 0});
        c.as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        c
    };
    let (status, body) = s
        .fixtures_record(
            &key,
            "clusters",
            cluster(json!({"clusterjoin": {"secret": "kubeadm join"}})),
        )
        .await;
    assert_eq!(status, 400, "{body}");
    assert!(
        body.contains(
            "denied: plugin `fixtures` may not set credential field `clusters.clusterjoin`"
        ),
        "{body}"
    );
    let marker = s.dir.path().join("stored-marker");
    let bad = kubeconfig("https://127.0.0.1:6443", &exec_user(&marker));
    assert!(kube_would_exec(&bad));
    let (status, body) = s
        .fixtures_record(
            &key,
            "clusters",
            cluster(json!({"kubeconfig": {"secret": bad}})),
        )
        .await;
    assert_eq!(status, 400, "{body}");
    assert!(
        body.contains("kubeconfig: users[0].user.exec is not accepted"),
        "{body}"
    );
    assert_no_internals(&body);
    let org = "acme".to_string();
    assert_eq!(
        s.store()
            .await
            .query(&org, "clusters", &Default::default())
            .await
            .unwrap()
            .total,
        0
    );
    assert!(!marker.exists());
    let good = kubeconfig("https://127.0.0.1:6443", "    token: t\n");
    let (status, body) = s
        .fixtures_record(
            &key,
            "clusters",
            cluster(json!({"kubeconfig": {"secret": good}})),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(
        s.store()
            .await
            .query(&org, "clusters", &Default::default())
            .await
            .unwrap()
            .total,
        1
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn an_unreachable_machine_is_one_sentence_without_library_text() {
    let e = crate::provision::env();
    let closed = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = closed.local_addr().unwrap().port().to_string();
    drop(closed);
    let a = e
        .post(
            "new_cluster",
            &[
                ("host", "127.0.0.1"),
                ("port", &port),
                ("user", "root"),
                ("psssword", "pw"),
                ("role", "master"),
            ],
            false,
        )
        .await;
    let body = a.body.to_string();
    assert_eq!(a.body["status"], false, "{body}");
    // The document's failure body (HTTP 200), the sentence in `detail`.
    a.failed();
    assert!(
        body.contains(&format!(
            "127.0.0.1:{port} could not be reached over SSH (request id"
        )),
        "{body}"
    );
    assert_no_internals(&body);
    assert!(!body.contains("refused"), "{body}");
    // The log has the detail under the request id.
    assert!(e.s.log_text().contains("ssh: command failed"));
}

/// A compute center `c1` of `acme` made through the fixtures plugin: its id.
async fn fixtures_center(s: &Server, key: &str) -> String {
    let (status, body) = s.fixtures_record(key,
        "compute_centers",
        json!({"name": "c1", "pcapi_url": "", "api_user": "", "api_pwd": {"secret": ""}, "contactname": "o", "contactphone": ""}),
    )
    .await;
    assert_eq!(status, 201, "{body}");
    let center: Value = serde_json::from_str(&body).unwrap();
    center["id"].as_str().unwrap().to_string()
}

/// fixtures may write `devices` but holds none of their secrets.
const DEVICES_WITHOUT_SECRETS: &str = r#"
[plugins.fixtures]
role = "endpoint"
grants = ["log", "inventory"]
write = ["compute_centers", "devices"]
secrets = ["compute_centers.api_pwd"]
public-routes = ["/fixtures/echo/{name}", "/fixtures/trap", "/fixtures/spin", "/fixtures/hog", "/fixtures/sleep"]
"#;

#[tokio::test(flavor = "multi_thread")]
async fn a_devices_address_is_written_only_with_its_password_grant() {
    // A device's `ip` and `sshport` decide which machine receives its sealed
    // password: setting them counts as setting `devices.adminpwd`.
    let s = Server::with(Options {
        config: DEVICES_WITHOUT_SECRETS,
        plugins: vec![("fixtures.wasm", "fixtures")],
        ..Options::default()
    });
    let key = s.key("acme", "bearer");
    let cpcid = fixtures_center(&s, &key).await;
    for (field, value) in [("ip", json!("10.1.2.3")), ("sshport", json!(22))] {
        let mut device = json!({"cpcid": cpcid, "name": format!("d-{field}"), "devicetype": "0", "adminuser": "root"});
        device[field] = value;
        let (status, body) = s.fixtures_record(&key, "devices", device).await;
        assert_eq!(status, 400, "{body}");
        assert!(
            body.contains(&format!("denied: plugin `fixtures` may not set `devices.{field}`: it decides where credential `devices.adminpwd` is sent")),
            "{body}"
        );
    }
    let store = s.store().await;
    let devices = store
        .query("acme", "devices", &Default::default())
        .await
        .unwrap();
    assert_eq!(devices.total, 0, "nothing was stored");
}
