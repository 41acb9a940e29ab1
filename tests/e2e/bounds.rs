//! Input bounds: list parameters beyond their documented maximum answer a
//! 4xx in the area's envelope (never a 500), names that would reach a
//! command or a cluster are refused when stored (and nothing is stored),
//! the documented 10,000 products with `explain` fit in the default plugin
//! memory cap, and the data files are the owner's alone.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use serde_json::{json, Value};

use crate::common::*;
use crate::kb::*;
use crate::kboss_live::{live, Live};

/// A GET with its parameters in a form body (10,000 products do not fit in
/// a URL).
async fn get_form(
    s: &Server,
    path: &str,
    auth: (&str, Option<&str>),
    params: &[(&str, &str)],
) -> (u16, Value) {
    let mut r = s.http.get(s.url(path)).form(params);
    r = match auth.1 {
        Some(pass) => r.basic_auth(auth.0, Some(pass)),
        None => r.bearer_auth(auth.0),
    };
    let r = r.send().await.unwrap();
    let status = r.status().as_u16();
    let text = r.text().await.unwrap();
    let body = serde_json::from_str(&text).unwrap_or(Value::String(text));
    (status, body)
}

#[tokio::test(flavor = "multi_thread")]
async fn a_sort_of_2000_terms_is_refused_in_the_kboss_envelope() {
    let k = Kb::start();
    let cpcid = k.center("c").await;
    let (status, body) = k.device(&cpcid, "d1", &[]).await;
    assert_eq!(status, 200, "{body}");
    let many = ["name"; 2000].join(",");
    let nine = ["name desc"; 9].join(",");
    for sort in [many.as_str(), nine.as_str()] {
        for (short, extra) in [
            ("cpclist/get_cpclist", None),
            ("cpcnode/get_cpcnode", Some(("cpcid", cpcid.as_str()))),
            ("cpclabel/get_cpclabel", None),
            ("cpcwidget/get_cpcwidget", Some(("cpcid", cpcid.as_str()))),
        ] {
            let mut p = vec![("sort", sort)];
            p.extend(extra);
            let (status, body) = k.get(short, &p).await;
            let (msg, detail) = refused(status, &body);
            assert_eq!(msg, INVALID, "{short}: {body}");
            assert!(
                detail.contains("`sort`") && detail.contains("at most 8"),
                "{short}: {detail}"
            );
        }
    }
    // Eight keys are fine.
    let eight = ["name", "ip", "-sshport", "created_at desc"]
        .repeat(2)
        .join(",");
    let (status, body) = k
        .get(
            "cpcnode/get_cpcnode",
            &[("cpcid", cpcid.as_str()), ("sort", eight.as_str())],
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["data"]["total"], 1);
    assert!(!k.s.log_text().contains("too many terms"));
}

#[tokio::test(flavor = "multi_thread")]
async fn other_list_parameters_beyond_their_maximum_are_refused() {
    let l = live().await;
    // kyylabels: at most 32.
    let labels: Vec<String> = (0..33).map(|i| format!("k{i}=v")).collect();
    let labels = labels.join(",");
    let mut p = l.at();
    p.extend([
        ("resources", r#"[{"id":"p"}]"#),
        ("kyylabels", labels.as_str()),
    ]);
    let (status, body) = l.kb.get("cpcbuy/determine_accommodat", &p).await;
    refused_as(status, &body, INVALID, "`kyylabels`");
    // products: at most 10,000, and 32 labels each.
    let products: Vec<Value> = (0..10_001).map(|i| json!({"id": i.to_string()})).collect();
    let text = Value::Array(products).to_string();
    let mut p = l.at();
    p.extend([("resources", text.as_str()), ("kyylabels", "")]);
    let (status, body) = get_form(
        &l.kb.s,
        &path("cpcbuy/determine_accommodat"),
        (&l.kb.key, None),
        &p,
    )
    .await;
    let (msg, detail) = refused(status, &body);
    assert_eq!(msg, INVALID);
    assert!(
        detail.contains("`resources`") && detail.contains("10000"),
        "{detail}"
    );
    let many: serde_json::Map<String, Value> =
        (0..33).map(|i| (format!("k{i}"), json!("v"))).collect();
    let text = json!([{"id": "p", "labels": many}]).to_string();
    let mut p = l.at();
    p.extend([("resources", text.as_str()), ("kyylabels", "")]);
    let (status, body) = l.kb.get("cpcbuy/determine_accommodat", &p).await;
    refused_as(status, &body, INVALID, "at most 32");
    // accrual_price: 1-100 components.
    let items: Vec<Value> = (0..101)
        .map(|_| json!({"type": "cpu", "model": "STANDARD", "amount": 1}))
        .collect();
    let text = Value::Array(items).to_string();
    let (status, body) =
        l.kb.get(
            "cpcwidget/accrual_price",
            &[
                ("cpcid", l.cpcid.as_str()),
                ("resources", text.as_str()),
                ("duration", "1"),
                ("duration_unit", "小时"),
            ],
        )
        .await;
    refused_as(status, &body, INVALID, "`resources`");
}

/// Values a shell or a manifest would read as more than a name.
const HOSTILE: &[(&str, &str)] = &[
    ("semicolon", "n1;reboot"),
    ("substitution", "n$(touch /tmp/computehub-bounds-marker)"),
    ("backticks", "n`id`"),
    ("newline", "n1\nreboot"),
    ("pipe", "n1|sh"),
];

#[tokio::test(flavor = "multi_thread")]
async fn names_that_would_reach_a_shell_or_a_cluster_are_refused_when_stored() {
    let k = Kb::start();
    let cpcid = k.center("c").await;
    let (status, body) = k.device(&cpcid, "kept", &[]).await;
    assert_eq!(status, 200, "{body}");
    let kept = body["data"]["id"].as_str().unwrap().to_string();

    for (_, bad) in HOSTILE {
        // Devices: add and update, each field that reaches a machine or a
        // cluster named in the answer.
        for field in [
            "name",
            "adminuser",
            "ip",
            "external_ip",
            "cpu_model",
            "gpu_model",
        ] {
            let (status, body) = k.device(&cpcid, "fresh", &[(field, *bad)]).await;
            refused_as(status, &body, INVALID, &format!("`{field}`"));
        }
        // Labels: name, key, value.
        for (field, value) in [("name", *bad), ("label_key", *bad), ("label_value", *bad)] {
            let mut p = vec![
                ("name", "n"),
                ("labeltype", "1"),
                ("label_key", "kyy-gpu"),
                ("label_value", "true"),
            ];
            p.retain(|(k, _)| *k != field);
            p.push((field, value));
            let (status, body) = k.post("cpclabel/add_cpclabel", &p).await;
            refused_as(status, &body, INVALID, &format!("`{field}`"));
        }
    }
    // Updates: every field sent again, one of them hostile.
    for (_, bad) in HOSTILE {
        for field in ["name", "adminuser", "gpu_model"] {
            let mut p = device_fields(&cpcid, "kept");
            p.retain(|(k, _)| *k != field);
            p.push((field, *bad));
            p.push(("id", kept.as_str()));
            let (status, body) = k.post("cpcnode/update_cpcnode", &p).await;
            refused_as(status, &body, INVALID, &format!("`{field}`"));
        }
    }

    // Nothing new stored: one device, unchanged; no label.
    let (_, body) = k
        .get("cpcnode/get_cpcnode", &[("cpcid", cpcid.as_str())])
        .await;
    assert_eq!(body["data"]["total"], 1, "{body}");
    let row = &body["data"]["rows"][0];
    assert_eq!(row["name"], "kept");
    assert_eq!(row["adminuser"], "ysh");
    assert_eq!(row["gpu_model"], "RTX5090-32G");
    let (_, body) = k.get("cpclabel/get_cpclabel", &[]).await;
    assert_eq!(body["data"]["total"], 0, "{body}");
    let bytes = k.database_bytes().await;
    for (_, bad) in HOSTILE {
        assert!(!contains(&bytes, bad), "{bad:?} reached the database");
    }
    assert!(!Path::new("/tmp/computehub-bounds-marker").exists());

    // Names people use still work, as the documents show them.
    let (status, body) = k.device(&cpcid, "2-虚拟机ubuntu2204", &[]).await;
    assert_eq!(status, 200, "{body}");
    let (status, body) = k
        .post(
            "cpclabel/add_cpclabel",
            &[
                ("name", "GPU节点"),
                ("labeltype", "1"),
                ("label_key", "kyy.io/gpu"),
                ("label_value", "RTX5090-32G"),
            ],
        )
        .await;
    assert_eq!(status, 200, "{body}");
}

/// The parameters of `add_cpcnode`/`update_cpcnode` as `Kb::device` sends them.
fn device_fields<'a>(cpcid: &'a str, name: &'a str) -> Vec<(&'a str, &'a str)> {
    vec![
        ("cpcid", cpcid),
        ("ip", "192.168.0.8"),
        ("name", name),
        ("devicetype", "1"),
        ("sshport", "22"),
        ("adminuser", "ysh"),
        ("adminpwd", "******"),
        ("node_status", "0"),
        ("external_ip", ""),
        ("cpu_model", "STANDARD"),
        ("cpu_stock", "64"),
        ("memory_model", "STANDARD"),
        ("memory_stock", "256"),
        ("sysdisk_stock", "100"),
        ("datadisk_stock", "2000"),
        ("gpu_model", "RTX5090-32G"),
        ("gpu_stock", "8"),
        ("role", ""),
        ("enable_date", "2025-05-16"),
        ("export_date", "2026-06-17"),
    ]
}

/// The center sells enough cores, memory and RTX5090-32G cards that every
/// product below passes the stock check and reaches the nodes.
async fn stocked() -> Live {
    let l = live().await;
    for (kind, model, unit, stock) in [
        ("cpu", "STANDARD", "核", "100000"),
        ("memory", "DDR5", "Gi", "1000000"),
        ("gpu", "RTX5090-32G", "卡", "1000"),
    ] {
        let (status, body) =
            l.kb.widget(&l.cpcid, &l.cid, kind, model, "1", unit, stock, "no")
                .await;
        assert_eq!(status, 200, "{body}");
    }
    l
}

/// `n` products no node holds: 100 cores (the largest node has 64), and
/// with `heavy` also memory, GPUs and a label no node has, so each has
/// shortfalls on every node.
fn products(n: usize, heavy: bool) -> String {
    let items: Vec<Value> = (0..n)
        .map(|i| {
            if heavy {
                json!({"id": format!("product-{i}"), "cpu": "100", "memory": "600Gi",
                    "gpu": 9, "gpu_model": "RTX5090-32G", "labels": {"kyy-gpu": "true"}})
            } else {
                json!({"id": format!("product-{i}"), "cpu": "100"})
            }
        })
        .collect();
    Value::Array(items).to_string()
}

fn assert_explained(p: &Value, nodes: &[&str]) {
    let why = p["shortfalls"].as_array().unwrap();
    assert!(!why.is_empty(), "{p}");
    for s in why {
        for key in ["node", "reason", "requested", "available", "unresolvable"] {
            assert!(s.get(key).is_some(), "{key} missing in {s}");
        }
    }
    if p.get("shortfalls_omitted").is_none() {
        for n in nodes {
            assert!(why.iter().any(|s| s["node"] == *n), "{n} missing in {p}");
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn ten_thousand_products_with_explain_fit_in_the_default_memory_cap() {
    let l = stocked().await;
    let nodes = ["master-1", "worker-1", "worker-2", "worker-3"];
    for heavy in [false, true] {
        let resources = products(10_000, heavy);
        let mut p = l.at();
        p.extend([
            ("resources", resources.as_str()),
            ("kyylabels", if heavy { "zone=a" } else { "" }),
            ("explain", "true"),
        ]);
        let (status, body) = get_form(
            &l.kb.s,
            &path("cpcbuy/determine_accommodat"),
            (&l.kb.key, None),
            &p,
        )
        .await;
        assert_eq!(status, 200, "heavy {heavy}: {body}");
        assert_eq!(body["status"], true);
        assert_eq!(body["reason"], "dynamic");
        assert_eq!(body["data"].as_array().unwrap().len(), 10_000);
        assert_eq!(body["reasons"]["product-9999"], "dynamic");
        let explain = body["explain"].as_array().unwrap();
        assert_eq!(explain.len(), 10_000);
        for (i, e) in explain.iter().enumerate().step_by(997) {
            assert_eq!(e["id"], format!("product-{i}"));
            assert_eq!(e["reason"], "dynamic");
            assert!(e["node"].is_null());
            assert_explained(e, &nodes);
        }
        if heavy {
            // More than a fair share each: whole nodes first, the rest
            // counted.
            let e = &explain[0];
            assert!(e["shortfalls_omitted"].as_u64().unwrap() > 0, "{e}");
            let mut seen: Vec<&str> = Vec::new();
            for s in e["shortfalls"].as_array().unwrap() {
                let node = s["node"].as_str().unwrap();
                if seen.last() != Some(&node) {
                    assert!(!seen.contains(&node), "{node} split in {e}");
                    seen.push(node);
                }
            }
            assert!(seen.len() < nodes.len(), "{e}");
        } else {
            // Small explanations are complete: every node, nothing omitted.
            assert!(explain
                .iter()
                .all(|e| e.get("shortfalls_omitted").is_none()));
        }
    }
    assert!(!l.kb.s.log_text().contains("memory limit"));
}

#[tokio::test(flavor = "multi_thread")]
async fn pcapi_explains_ten_thousand_products_within_the_cap() {
    let e = crate::pcapi::env();
    let basic = e.s.key("acme", "basic");
    let (user, pass) = basic.split_once(':').unwrap();
    let kubeconfig = e.sim.kubeconfig_yaml();
    let resources = products(10_000, false);
    let (status, body) = get_form(
        &e.s,
        "/pcapi/api/v1/cluster/common/determine_accommodat",
        (user, Some(pass)),
        &[
            ("kubeconfig", kubeconfig.as_str()),
            ("resources", resources.as_str()),
            ("explain", "true"),
        ],
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["status"], true);
    assert_eq!(body["info"], "operate success");
    assert_eq!(
        body["data"]["unplaceable"].as_array().unwrap().len(),
        10_000
    );
    let products = body["data"]["products"].as_array().unwrap();
    assert_eq!(products.len(), 10_000);
    for (i, p) in products.iter().enumerate().step_by(991) {
        assert_eq!(p["id"], format!("product-{i}"));
        assert!(p["node"].is_null());
        assert_explained(p, &["k8s-master", "worker-1", "worker-2"]);
    }
    // Without explain: the documented bare array.
    let (status, body) = get_form(
        &e.s,
        "/pcapi/api/v1/cluster/common/determine_accommodat",
        (user, Some(pass)),
        &[
            ("kubeconfig", kubeconfig.as_str()),
            ("resources", resources.as_str()),
        ],
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(body.as_array().unwrap().len(), 10_000);
    assert_eq!(body[0], "product-0");
}

fn mode(path: &Path) -> u32 {
    std::fs::metadata(path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .permissions()
        .mode()
        & 0o777
}

/// Every file and directory of the data dir with its mode (not following
/// symlinks).
fn modes(dir: &Path) -> Vec<(String, u32, bool)> {
    let mut out = Vec::new();
    let mut todo = vec![dir.to_path_buf()];
    while let Some(d) = todo.pop() {
        for entry in std::fs::read_dir(&d).unwrap() {
            let entry = entry.unwrap();
            let kind = entry.file_type().unwrap();
            let path = entry.path();
            if kind.is_dir() {
                todo.push(path.clone());
            }
            if !kind.is_symlink() {
                let shown = path.strip_prefix(dir).unwrap().display().to_string();
                out.push((shown, mode(&path), kind.is_dir()));
            }
        }
    }
    out
}

fn assert_private(data: &Path) -> Vec<String> {
    assert_eq!(mode(data), 0o700, "data dir");
    let all = modes(data);
    for (name, m, dir) in &all {
        let want = if *dir { 0o700 } else { 0o600 };
        assert_eq!(*m, want, "{name} is {m:o}");
    }
    all.into_iter().map(|(n, _, _)| n).collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn data_files_are_the_owners_alone_new_and_existing() {
    let k = Kb::with(Options {
        own_cache: true,
        ..Options::default()
    });
    // Something in every file: keys, records with a sealed secret, an
    // activated plugin version.
    k.center("c").await;
    let (status, body) = k.s.admin_put("echo", "echo_v2.wasm").await;
    assert_eq!(status, 200, "{body}");
    let mut s = k.s;

    let data = s.data();
    let names = assert_private(&data);
    for expected in [
        "computehub.db",
        "computehub.db-wal",
        "computehub.db-shm",
        "seal.key",
        "cache",
    ] {
        assert!(
            names.iter().any(|n| n == expected),
            "{expected} not in {names:?}"
        );
    }
    // The activated version's wasm is a row of the store, not a file.
    assert!(!names.iter().any(|n| n.starts_with("plugins")), "{names:?}");
    assert!(names
        .iter()
        .any(|n| n.starts_with("cache/") && n.ends_with(".cwasm")));

    // Files an earlier version left world-readable are restricted on start.
    s.stop();
    for (name, _, dir) in modes(&data) {
        let want = if dir { 0o755 } else { 0o644 };
        std::fs::set_permissions(data.join(&name), std::fs::Permissions::from_mode(want)).unwrap();
    }
    std::fs::set_permissions(&data, std::fs::Permissions::from_mode(0o755)).unwrap();
    s.launch();
    let (status, _) = s.get("/healthz").await;
    assert_eq!(status, 200);
    assert_private(&data);
}

/// One `determine_accommodat` of kboss with `explain` under a memory cap
/// of `cap` MiB: the status and the body's size.
async fn explain_under(cap: u32, n: usize, heavy: bool, explain: &str) -> (u16, usize) {
    let config: &'static str =
        Box::leak(format!("memory-limit-mib = {cap}\n{CONFIG}").into_boxed_str());
    let kb = Kb::with(Options {
        config,
        ..Options::default()
    });
    let sim =
        simcluster::SimCluster::start(simcluster::ClusterSpec::demo("live", 3, 8, "RTX5090-32G"))
            .unwrap();
    // Another build of kboss to compare with (`MEASURE_KBOSS_WASM`).
    if let Ok(file) = std::env::var("MEASURE_KBOSS_WASM") {
        let r =
            kb.s.http
                .put(kb.s.url("/admin/plugins/kboss?role=endpoint"))
                .bearer_auth(ADMIN)
                .body(std::fs::read(file).unwrap())
                .send()
                .await
                .unwrap();
        assert!(r.status().is_success(), "{}", r.text().await.unwrap());
    }
    let l = crate::kboss_live::live_on(kb, sim).await;
    for (kind, model, unit, stock) in [
        ("cpu", "STANDARD", "核", "100000"),
        ("memory", "DDR5", "Gi", "1000000"),
        ("gpu", "RTX5090-32G", "卡", "1000"),
    ] {
        let (status, body) =
            l.kb.widget(&l.cpcid, &l.cid, kind, model, "1", unit, stock, "no")
                .await;
        assert_eq!(status, 200, "{body}");
    }
    let resources = products(n, heavy);
    let mut p = l.at();
    p.extend([
        ("resources", resources.as_str()),
        ("kyylabels", if heavy { "zone=a" } else { "" }),
        ("explain", explain),
    ]);
    let (status, body) = get_form(
        &l.kb.s,
        &path("cpcbuy/determine_accommodat"),
        (&l.kb.key, None),
        &p,
    )
    .await;
    (status, body.to_string().len())
}

/// The smallest memory cap (MiB) under which kboss answers 10,000 products
/// with `explain` (`MEASURE_N`, `MEASURE_EXPLAIN` change the request,
/// `MEASURE_KBOSS_WASM` measures another build of kboss):
/// `cargo test -p computehub --test e2e explain_memory -- --ignored
/// --nocapture`.
#[tokio::test(flavor = "multi_thread")]
#[ignore = "a measurement: run by hand"]
async fn explain_memory() {
    let n: usize = std::env::var("MEASURE_N")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(10_000);
    let explain = std::env::var("MEASURE_EXPLAIN").unwrap_or_else(|_| "true".into());
    for heavy in [false, true] {
        let (mut lo, mut hi) = (1u32, 256u32);
        let mut size = 0;
        while lo < hi {
            let cap = (lo + hi) / 2;
            let (status, bytes) = explain_under(cap, n, heavy, &explain).await;
            if status == 200 {
                hi = cap;
                size = bytes;
            } else {
                lo = cap + 1;
            }
        }
        println!(
            "{n} products, heavy {heavy}, explain {explain}: smallest cap {lo} MiB (answer {size} bytes)"
        );
    }
}
