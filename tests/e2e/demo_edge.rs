//! `serve --demo` for Alaya and IEF: the printed keys and ids work against
//! the demo's simulated cluster.

use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::common::*;

const TASK: &str = "demo-train-001";
const MASTER: &str = "demo-train-001-master-0";
const WORKER: &str = "demo-train-001-worker-0";
const PROJECT: &str = "5e1f0c3f4ac94a0c9a6a9b1e6e2f7d10";

/// The line printed after the first line containing `marker`.
fn after(lines: &[String], marker: &str) -> String {
    let i = lines
        .iter()
        .position(|l| l.contains(marker))
        .unwrap_or_else(|| panic!("no `{marker}` in {lines:#?}"));
    lines[i + 1].trim().to_string()
}

#[tokio::test(flavor = "multi_thread")]
async fn the_demo_training_task_and_edge_project_work() {
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
    let token = after(&lines, "IEF X-Auth-Token");
    let aksk = after(&lines, "IEF AK/SK");
    assert_eq!(aksk.split(' ').count(), 2, "{aksk}");
    let ief_line = lines
        .iter()
        .find(|l| l.starts_with("IEF: project"))
        .unwrap();
    let group = ief_line
        .split("node group ")
        .nth(1)
        .and_then(|r| r.split(';').next())
        .unwrap()
        .to_string();
    let nodes: Vec<String> = ief_line
        .split("edge nodes ")
        .nth(1)
        .unwrap()
        .split(" and ")
        .map(|n| n.split(' ').next().unwrap().to_string())
        .collect();
    assert_eq!(nodes.len(), 2, "{ief_line}");

    let get = |path: String, header: (&'static str, String)| {
        let http = s.http.clone();
        let url = s.url(&path);
        async move {
            let r = http
                .get(url)
                .header(header.0, header.1)
                .send()
                .await
                .unwrap();
            let status = r.status().as_u16();
            (status, r.json::<Value>().await.unwrap_or(Value::Null))
        }
    };
    let auth = || ("authorization", format!("Bearer {bearer}"));

    // Alaya: both pods answer from the live cluster; one system port.
    let (status, body) = get(
        format!("/v1/training/instance/{TASK}/{MASTER}/basic"),
        auth(),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["data"]["status"], "Running");
    assert_eq!(body["data"]["qosClass"], "Guaranteed");
    assert_eq!(body["data"]["createBy"], "demo");
    let (status, body) = get(
        format!("/v1/training/instance/{TASK}/{WORKER}/basic"),
        auth(),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["data"]["qosClass"], "Burstable");
    let (status, body) = get(
        format!("/v1/training/instance/{TASK}/{MASTER}/open-port/list"),
        auth(),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let ports = body["data"]["ports"].as_array().unwrap();
    assert_eq!(ports.len(), 1, "{body}");
    assert_eq!(ports[0]["port"], 22);
    assert!(ports[0]["externalPort"].as_u64().is_some());
    assert_eq!(body["data"]["customPorts"], json!([]));

    // IEF: the group's pods, then a deployment into the group.
    let tok = || ("x-auth-token", token.clone());
    let (status, body) = get(
        format!("/v3/{PROJECT}/edgemgr/pods?group_id={group}"),
        tok(),
    )
    .await;
    assert_eq!((status, &body), (200, &json!({"count": 0, "pods": []})));
    let create = json!({
        "name": "demo-web", "group_id": group,
        "deployment": {"replicas": 2, "template": {
            "configs": {"migration": true},
            "containers": [{"name": "web", "image_url": "nginx", "version": "1.27",
                "resources": {"limits": {"cpu": "0.5", "memory": "256"}}}]}}
    });
    let r = s
        .http
        .post(s.url(&format!("/v3/{PROJECT}/edgemgr/deployments")))
        .header("x-auth-token", &token)
        .json(&create)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 201);
    let id = r.json::<Value>().await.unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let (_, body) = get(
            format!("/v3/{PROJECT}/edgemgr/pods?deployment_id={id}"),
            tok(),
        )
        .await;
        let pods = body["pods"].as_array().cloned().unwrap_or_default();
        let running = pods.iter().filter(|p| p["state"] == "RUNNING").count();
        if running == 2 {
            for p in &pods {
                assert!(nodes.iter().any(|n| p["node_id"] == n.as_str()), "{p}");
            }
            break;
        }
        assert!(Instant::now() < deadline, "{body}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let r = s
        .http
        .delete(s.url(&format!("/v3/{PROJECT}/edgemgr/deployments/{id}")))
        .header("x-auth-token", &token)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 204);
}
