//! `serve --demo` runs a simulated cluster in the server process and makes
//! it the demo organisation's cluster: the machine's real `kubectl` reaches
//! it through `DATA_DIR/demo-kubeconfig.yaml`, pcapi resolves it from the
//! master's address through the inventory, and kboss reads it by cluster id.

use std::process::Command;

use serde_json::Value;

use crate::common::*;
use crate::kb::path;

/// The line after the first line containing `marker`.
fn after(lines: &[String], marker: &str) -> String {
    let at = lines
        .iter()
        .rposition(|l| l.contains(marker))
        .unwrap_or_else(|| panic!("no `{marker}` in {lines:?}"));
    lines[at + 1].clone()
}

#[tokio::test(flavor = "multi_thread")]
async fn the_demo_cluster_answers_kubectl_pcapi_and_kboss() {
    // The built-in grants alone: the demo adds its cluster's loopback
    // address to those of the plugins that reach it.
    let s = Server::with(Options {
        args: vec!["--demo"],
        config: BUILTIN_GRANTS_ONLY,
        plugins: Vec::new(),
        ..Options::default()
    });
    let lines = s.stdout.lock().unwrap().clone();
    let bearer = after(&lines, "bearer API key");
    let basic = after(&lines, "pcapi basic key");
    let kubeconfig = s.data().join("demo-kubeconfig.yaml");
    let printed = format!("kubectl --kubeconfig {} get nodes", kubeconfig.display());
    assert!(lines.iter().any(|l| l.contains(&printed)), "{lines:?}");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&kubeconfig).unwrap().permissions().mode();
        assert_eq!(mode & 0o077, 0, "the kubeconfig is private");
    }

    // The machine's kubectl, as printed.
    let out = Command::new("kubectl")
        .arg("--kubeconfig")
        .arg(&kubeconfig)
        .args(["get", "nodes"])
        .output()
        .expect("kubectl runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let rows: Vec<&str> = stdout.lines().skip(1).collect();
    assert_eq!(rows.len(), 4, "{stdout}");
    assert!(stdout.contains("master-1") && stdout.contains("control-plane"));
    for w in ["worker-1", "worker-2", "worker-3"] {
        assert!(stdout.contains(w), "{stdout}");
    }
    assert!(rows.iter().all(|r| r.contains(" Ready ")), "{stdout}");

    // pcapi names the cluster by its master's address (through the
    // inventory), not by kubeconfig.
    let (user, pass) = basic.split_once(':').unwrap();
    let r = s
        .http
        .get(s.url("/pcapi/api/v1/cluster/common/get_cluster_nodes"))
        .query(&[("host", "127.0.0.1"), ("port", "22"), ("user", "root")])
        .basic_auth(user, Some(pass))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["status"], true, "{body}");
    let text = body.to_string();
    assert!(
        text.contains("master-1") && text.contains("worker-3"),
        "{text}"
    );
    // An address no master has is refused.
    let r = s
        .http
        .get(s.url("/pcapi/api/v1/cluster/common/get_cluster_nodes"))
        .query(&[("host", "127.0.0.2")])
        .basic_auth(user, Some(pass))
        .send()
        .await
        .unwrap();
    // As the document answers a failure: HTTP 200, `operate failed`.
    assert_eq!(r.status(), 200);
    let body: Value = r.json().await.unwrap();
    assert_eq!(
        (&body["status"], &body["info"]),
        (
            &serde_json::json!(false),
            &serde_json::json!("operate failed")
        ),
        "{body}"
    );

    // kboss: the demo cluster's record points at the master's address and
    // never returns the kubeconfig.
    let cpcid = lines
        .iter()
        .find_map(|l| l.split("(cpcid ").nth(1))
        .and_then(|rest| rest.split(')').next())
        .unwrap()
        .to_string();
    let r = s
        .http
        .get(s.url(&path("cpccluster/get_cpccluster")))
        .query(&[("cpcid", cpcid.as_str())])
        .bearer_auth(&bearer)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let text = r.text().await.unwrap();
    assert!(
        text.contains("朝阳区") && text.contains("127.0.0.1"),
        "{text}"
    );
    let token = std::fs::read_to_string(&kubeconfig).unwrap();
    let token = token
        .lines()
        .find_map(|l| l.trim().strip_prefix("token: "))
        .unwrap()
        .to_string();
    assert!(
        !text.contains(&token),
        "the kubeconfig never leaves the host"
    );
    assert!(!s.log_text().contains(&token), "nor reaches the log");
    // kboss's live board reads the simulation by cluster id.
    let clusterid = lines
        .iter()
        .find_map(|l| l.split("(id ").nth(1))
        .and_then(|rest| rest.split(')').next())
        .unwrap()
        .to_string();
    let r = s
        .http
        .get(s.url(&path("cpcworker/get_cpcworker")))
        .query(&[("cpcid", cpcid.as_str()), ("clusterid", clusterid.as_str())])
        .bearer_auth(&bearer)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["data"]["total"], 4, "{body}");
    let gpu = body["data"]["rows"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["node_name"] == "worker-3")
        .unwrap();
    assert!(gpu["available_gpu"].as_i64().unwrap() <= 8, "{gpu}");
    assert_eq!(gpu["node_cpurate"], "14.1%", "{gpu}");
}
