//! Backup and restore (#19): a running demo server backed up online, the
//! backup restored into a fresh data dir, a server started on it answering
//! every area's records as the original does, sealed secrets included (the
//! demo cluster's kubeconfig opens, so pcapi reaches the cluster).

use std::collections::BTreeMap;
use std::path::Path;
use std::process::{Command, Output};

use crate::common::*;

fn run(args: &[&str], paths: &[(&str, &Path)]) -> Output {
    let mut cmd = Command::new(BIN);
    cmd.args(args).env("COMPUTEHUB_LOG", "warn");
    for (flag, path) in paths {
        cmd.arg(flag).arg(path);
    }
    cmd.output().unwrap()
}

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

#[cfg(unix)]
fn mode(path: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
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

/// Rows of every table but the audit log (which grows with each call).
fn counts(conn: &rusqlite::Connection) -> BTreeMap<String, i64> {
    let mut stmt = conn
        .prepare("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' AND name <> 'audit_log'")
        .unwrap();
    let names: Vec<String> = stmt
        .query_map([], |r| r.get(0))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    names
        .into_iter()
        .map(|t| {
            let n = conn
                .query_row(&format!("SELECT count(*) FROM \"{t}\""), [], |r| r.get(0))
                .unwrap();
            (t, n)
        })
        .collect()
}

/// The same calls, answered by `s`: status and body of each.
async fn answers(s: &Server, v: &BTreeMap<String, String>) -> Vec<(u16, String)> {
    let key = &v["KEY"];
    let (user, pass) = v["BASIC"].split_once(':').unwrap();
    let cpcid = &v["CPCID"];
    let project = "5e1f0c3f4ac94a0c9a6a9b1e6e2f7d10";
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
        s.http
            .get(s.url(&format!(
                "/v3/{project}/edgemgr/pods?group_id={}",
                v["GROUP"]
            )))
            .header("X-Auth-Token", &v["TOKEN"]),
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
async fn a_running_demo_backed_up_and_restored_answers_as_the_original() {
    let s = Server::with(Options {
        args: vec!["--demo"],
        ..Options::default()
    });
    let v = exports(&s);
    let before = counts(&s.sqlite());
    let original = answers(&s, &v).await;
    for (status, body) in &original {
        assert_eq!(*status, 200, "{body}");
    }
    assert!(original[5].1.contains("worker-3"), "{}", original[5].1);

    // Online backup of the running server, the seal key apart.
    let out_dir = tempfile::tempdir().unwrap();
    let file = out_dir.path().join("computehub.backup");
    let key = out_dir.path().join("seal.key");
    let o = run(
        &["backup"],
        &[
            ("--data-dir", &s.data()),
            ("--to", &file),
            ("--seal-key-to", &key),
        ],
    );
    assert!(o.status.success(), "{}", text(&o));
    assert!(text(&o).contains("seal key exported"), "{}", text(&o));
    #[cfg(unix)]
    {
        assert_eq!(mode(&file), 0o600);
        assert_eq!(mode(&key), 0o600);
    }
    assert_eq!(
        std::fs::read(&key).unwrap(),
        std::fs::read(s.data().join("seal.key")).unwrap()
    );
    // One file: no journal or WAL beside it.
    let names: Vec<_> = std::fs::read_dir(out_dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    assert_eq!(names.len(), 2, "{names:?}");
    // A backup never overwrites.
    let size = std::fs::metadata(&file).unwrap().len();
    let o = run(&["backup"], &[("--data-dir", &s.data()), ("--to", &file)]);
    assert!(!o.status.success());
    assert!(text(&o).contains("already exists"), "{}", text(&o));
    assert_eq!(std::fs::metadata(&file).unwrap().len(), size);
    // Without --seal-key-to the key stays where it is.
    let plain = out_dir.path().join("plain.backup");
    let o = run(&["backup"], &[("--data-dir", &s.data()), ("--to", &plain)]);
    assert!(o.status.success(), "{}", text(&o));
    assert!(
        text(&o).contains("seal key was not exported"),
        "{}",
        text(&o)
    );

    // A file that is no backup restores nothing, and makes no data dir.
    let scratch = tempfile::tempdir().unwrap();
    let junk = scratch.path().join("junk.db");
    std::fs::write(&junk, "not a database").unwrap();
    let nowhere = scratch.path().join("nowhere");
    let o = run(&["restore"], &[("--from", &junk), ("--data-dir", &nowhere)]);
    assert!(!o.status.success());
    assert!(
        text(&o).contains("is not a computehub backup"),
        "{}",
        text(&o)
    );
    assert!(!nowhere.exists());

    // A wrong key restores nothing.
    let wrong = scratch.path().join("wrong.key");
    std::fs::write(&wrong, [7u8; 32]).unwrap();
    let elsewhere = scratch.path().join("elsewhere");
    let o = run(
        &["restore"],
        &[
            ("--from", &file),
            ("--data-dir", &elsewhere),
            ("--seal-key", &wrong),
        ],
    );
    assert!(!o.status.success());
    assert!(
        text(&o).contains("does not open the backup's sealed values"),
        "{}",
        text(&o)
    );
    assert!(!elsewhere.join("computehub.db").exists());
    assert!(!elsewhere.join("seal.key").exists());

    // Restore into a fresh data dir, and start a server there.
    let mut r = Server::with(Options::default());
    r.stop();
    std::fs::remove_dir_all(r.data()).unwrap();
    let o = run(
        &["restore"],
        &[
            ("--from", &file),
            ("--data-dir", &r.data()),
            ("--seal-key", &key),
        ],
    );
    assert!(o.status.success(), "{}", text(&o));
    let sealed: usize = text(&o)
        .split("seal key restored: all ")
        .nth(1)
        .and_then(|t| t.split(' ').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("{}", text(&o)));
    // The demo cluster's kubeconfig and the IEF AK/SK's SK at least.
    assert!(sealed >= 2, "{}", text(&o));
    // A restore never goes over a store.
    let db = std::fs::read(r.data().join("computehub.db")).unwrap();
    let o = run(
        &["restore"],
        &[
            ("--from", &plain),
            ("--data-dir", &r.data()),
            ("--seal-key", &key),
        ],
    );
    assert!(!o.status.success());
    assert!(
        text(&o).contains("already holds a computehub store"),
        "{}",
        text(&o)
    );
    assert_eq!(std::fs::read(r.data().join("computehub.db")).unwrap(), db);

    r.launch();
    assert_eq!(counts(&r.sqlite()), before);
    let restored = answers(&r, &v).await;
    assert_eq!(restored, original);
}
