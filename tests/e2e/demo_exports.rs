//! `serve --demo` prints `export NAME='value'` lines that a shell takes as
//! they are, and the README tour's calls work with them pasted.

use std::process::Command;

use crate::common::*;

#[tokio::test(flavor = "multi_thread")]
async fn the_printed_exports_paste_into_a_shell_and_the_tour_calls_work() {
    let s = Server::with(Options {
        args: vec!["--demo"],
        ..Options::default()
    });
    let lines = s.stdout.lock().unwrap().clone();
    let exports: Vec<&String> = lines.iter().filter(|l| l.starts_with("export ")).collect();
    let names: Vec<&str> = exports
        .iter()
        .filter_map(|l| l["export ".len()..].split('=').next())
        .collect();
    for name in [
        "KEY",
        "BASIC",
        "TOKEN",
        "AK",
        "SK",
        "CPCID",
        "CLUSTERID",
        "GROUP",
    ] {
        assert!(names.contains(&name), "{name} missing: {lines:#?}");
    }
    // The admin token came from the environment: no ADMIN line, a pointer.
    assert!(!names.contains(&"ADMIN"));
    assert!(lines.iter().any(|l| l.contains("admin rotate-token")));
    let script = format!(
        "{}\n\
         curl -sf -H \"Authorization: Bearer $KEY\" \"{base}/dev/cpcc/cpcnode/get_cpcnode.dspy?cpcid=$CPCID&rows=10&sort=name\"\n\
         echo\n\
         curl -sf -u \"$BASIC\" \"{base}/pcapi/api/v1/cluster/common/get_cluster_nodes?host=127.0.0.1&port=22&user=root\"\n\
         echo\n\
         curl -sf -H \"X-Auth-Token: $TOKEN\" \"{base}/v3/5e1f0c3f4ac94a0c9a6a9b1e6e2f7d10/edgemgr/pods?group_id=$GROUP\"\n",
        exports
            .iter()
            .map(|l| l.as_str())
            .collect::<Vec<_>>()
            .join("\n"),
        base = s.base
    );
    let out = Command::new("sh").arg("-c").arg(&script).output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let answers: Vec<serde_json::Value> = stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|_| panic!("{l}")))
        .collect();
    assert_eq!(answers.len(), 3, "{stdout}");
    assert_eq!(answers[0]["status"], true, "{}", answers[0]);
    assert!(
        answers[1].to_string().contains("worker-3"),
        "{}",
        answers[1]
    );
    assert!(answers[2].is_object(), "{}", answers[2]);
}
