//! `computehub export` / `import` / `migrate` (#20): the demo store moved
//! from its data dir into a new PostgreSQL database with every row, and a
//! server started on that database answering as the original does, sealed
//! secrets included (the demo cluster's kubeconfig opens, so pcapi reaches
//! the cluster).

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Output;

use crate::common::*;

pub(crate) fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// `computehub ARGS` with the seal key `key` named by the environment
/// (when given) and no database URL from it.
pub(crate) fn run(args: &[&str], paths: &[(&str, &Path)], key: Option<&Path>) -> Output {
    let mut cmd = std::process::Command::new(BIN);
    cmd.args(args)
        .env("COMPUTEHUB_LOG", "warn")
        .env_remove("COMPUTEHUB_DATABASE_URL")
        .env_remove("COMPUTEHUB_SEAL_KEY")
        .env_remove("COMPUTEHUB_SEAL_KEY_FILE");
    if let Some(key) = key {
        cmd.env("COMPUTEHUB_SEAL_KEY_FILE", key);
    }
    for (flag, path) in paths {
        cmd.arg(flag).arg(path);
    }
    cmd.output().unwrap()
}

/// The `  table: rows` lines an export or import printed.
fn tables(o: &Output) -> BTreeMap<String, u64> {
    String::from_utf8_lossy(&o.stdout)
        .lines()
        .filter_map(|l| l.strip_prefix("  "))
        .filter_map(|l| l.split_once(": "))
        .map(|(t, n)| (t.to_string(), n.parse().unwrap()))
        .collect()
}

/// The `export NAME='value'` lines the demo printed.
fn exports(s: &Server) -> BTreeMap<String, String> {
    let lines = s.stdout.lock().unwrap().clone();
    lines
        .iter()
        .filter_map(|l| l.strip_prefix("export "))
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.to_string(), v.trim_matches('\'').to_string()))
        .collect()
}

/// The same calls, answered by `s`: status and body of each.
async fn answers(s: &Server, v: &BTreeMap<String, String>) -> Vec<(u16, String)> {
    let key = &v["KEY"];
    let (user, pass) = v["BASIC"].split_once(':').unwrap();
    let cpcid = &v["CPCID"];
    let calls = vec![
        s.http
            .get(s.url("/dev/cpcc/cpclist/get_cpclist.dspy"))
            .bearer_auth(key),
        s.http
            .get(s.url(&format!(
                "/dev/cpcc/cpcnode/get_cpcnode.dspy?cpcid={cpcid}&rows=10&sort=name"
            )))
            .bearer_auth(key),
        s.http
            .get(s.url(&format!(
                "/dev/cpcc/cpccluster/get_cpccluster.dspy?cpcid={cpcid}"
            )))
            .bearer_auth(key),
        s.http
            .get(s.url("/v1/training/instance/demo-train-001/demo-train-001-master-0/basic"))
            .bearer_auth(key),
        // The cluster through its sealed kubeconfig.
        s.http
            .get(s.url(
                "/pcapi/api/v1/cluster/common/get_cluster_nodes?host=127.0.0.1&port=22&user=root",
            ))
            .basic_auth(user, Some(pass)),
        s.http.get(s.url("/admin/keys")).bearer_auth(ADMIN),
    ];
    let mut out = Vec::new();
    for c in calls {
        let r = c.send().await.unwrap();
        out.push((r.status().as_u16(), r.text().await.unwrap()));
    }
    out
}

#[tokio::test(flavor = "multi_thread")]
async fn the_demo_store_moves_to_postgres_and_serves_as_before() {
    let s = Server::with(Options {
        args: vec!["--demo"],
        ..Options::default()
    });
    let v = exports(&s);
    let original = answers(&s, &v).await;
    for (status, body) in &original {
        assert_eq!(*status, 200, "{body}");
    }
    assert!(original[4].1.contains("worker-3"), "{}", original[4].1);
    let key = s.data().join("seal.key");

    // Export the running server's store (either backend the run uses).
    let out_dir = tempfile::tempdir().unwrap();
    let file = out_dir.path().join("demo.jsonl");
    let export = |file: &Path| match &s.database {
        Some(url) => run(
            &["export", "--database", url],
            &[("--out", file)],
            Some(&key),
        ),
        None => run(
            &["export"],
            &[("--data-dir", &s.data()), ("--out", file)],
            None,
        ),
    };
    let o = export(&file);
    assert!(o.status.success(), "{}", text(&o));
    assert!(text(&o).contains("admin token hash"), "{}", text(&o));
    let exported = tables(&o);
    assert!(exported["clusters"] >= 1, "{exported:?}");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&file).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
    }
    // An export never overwrites.
    let o = export(&file);
    assert!(!o.status.success());
    assert!(text(&o).contains("already exists"), "{}", text(&o));

    // A second server, stopped, gets a new PostgreSQL database: migrated
    // explicitly, then imported into with the source's seal key.
    let mut r = Server::with(Options::default());
    r.stop();
    let url = pgtest::database();
    r.database = Some(url.clone());
    let o = run(&["migrate", "--database", &url], &[], Some(&key));
    assert!(o.status.success(), "{}", text(&o));
    assert!(text(&o).contains("schema version"), "{}", text(&o));
    // Without a seal key, nothing is imported.
    let o = run(&["import", "--database", &url], &[("--in", &file)], None);
    assert!(!o.status.success());
    assert!(
        text(&o).contains("COMPUTEHUB_SEAL_KEY_FILE"),
        "{}",
        text(&o)
    );
    // With another key, neither.
    let wrong = out_dir.path().join("wrong.key");
    std::fs::write(&wrong, [3u8; 32]).unwrap();
    let o = run(
        &["import", "--database", &url],
        &[("--in", &file)],
        Some(&wrong),
    );
    assert!(!o.status.success());
    assert!(text(&o).contains("seal"), "{}", text(&o));

    let o = run(
        &["import", "--database", &url],
        &[("--in", &file)],
        Some(&key),
    );
    assert!(o.status.success(), "{}", text(&o));
    assert_eq!(tables(&o), exported);
    let sealer = computehub::store::Sealer::from_key(&std::fs::read(&key).unwrap());
    let pg = computehub::store::Store::open_postgres(&url, 2, sealer, "test")
        .await
        .unwrap();
    let counts = computehub::store::transfer::row_counts(pg.db())
        .await
        .unwrap();
    assert_eq!(counts, exported);
    // Into a store that is no longer empty: refused, nothing written.
    let o = run(
        &["import", "--database", &url],
        &[("--in", &file)],
        Some(&key),
    );
    assert!(!o.status.success());
    assert!(text(&o).contains("not empty"), "{}", text(&o));
    assert_eq!(
        computehub::store::transfer::row_counts(pg.db())
            .await
            .unwrap(),
        exported
    );
    drop(pg);

    // Into a new data dir: its seal key must be known first.
    let fresh = out_dir.path().join("fresh");
    let o = run(
        &["import"],
        &[("--in", &file), ("--data-dir", &fresh)],
        None,
    );
    assert!(!o.status.success());
    assert!(text(&o).contains("has no seal.key"), "{}", text(&o));
    assert!(!fresh.exists());
    let o = run(
        &["import"],
        &[("--in", &file), ("--data-dir", &fresh)],
        Some(&key),
    );
    assert!(o.status.success(), "{}", text(&o));
    assert_eq!(tables(&o), exported);
    let o = run(&["migrate"], &[("--data-dir", &fresh)], Some(&key));
    assert!(o.status.success(), "{}", text(&o));
    assert!(text(&o).contains("schema version"), "{}", text(&o));

    // A server on the imported database (its data dir holding the
    // source's seal key) answers as the original.
    std::fs::copy(&key, r.data().join("seal.key")).unwrap();
    r.launch();
    assert_eq!(answers(&r, &v).await, original);
}
