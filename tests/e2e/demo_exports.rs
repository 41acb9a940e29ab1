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

/// On the first start (no `COMPUTEHUB_ADMIN_TOKEN`) the generated admin
/// token is among the exports, and it is the one the server accepts.
#[tokio::test(flavor = "multi_thread")]
async fn the_first_demo_start_exports_the_admin_token() {
    let dir = tempfile::tempdir().unwrap();
    let cache = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("e2e-cache");
    let mut child = Command::new(BIN)
        .args(["serve", "--demo", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(dir.path().join("data"))
        .arg("--cache-dir")
        .arg(cache)
        .env_remove("COMPUTEHUB_ADMIN_TOKEN")
        .env("COMPUTEHUB_LOG", "warn")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let lines = tokio::task::spawn_blocking(move || printed_until_listening(stdout));
    let lines = tokio::time::timeout(std::time::Duration::from_secs(120), lines)
        .await
        .expect("the server starts")
        .unwrap();
    let base = lines
        .last()
        .and_then(|l| l.strip_prefix("listening on "))
        .unwrap_or_else(|| {
            let _ = child.kill();
            panic!("{lines:#?}")
        })
        .to_string();
    let admin = lines
        .iter()
        .find_map(|l| l.strip_prefix("export ADMIN='"))
        .and_then(|v| v.strip_suffix('\''))
        .unwrap_or_else(|| panic!("{lines:#?}"))
        .to_string();
    // The same token the start printed for operators.
    let at = lines
        .iter()
        .position(|l| l.starts_with("admin token"))
        .unwrap();
    assert_eq!(lines[at + 1], admin);
    let r = reqwest::Client::new()
        .get(format!("{base}/admin/plugins"))
        .bearer_auth(&admin)
        .send()
        .await
        .unwrap();
    let status = r.status();
    let _ = child.kill();
    let _ = child.wait();
    assert_eq!(status, 200);
}
