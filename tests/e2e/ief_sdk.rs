//! Huawei's official Python SDK (`huaweicloudsdkief` from PyPI) as a client:
//! it signs with AK/SK as it does against Huawei Cloud, and lists pods,
//! creates, shows, lists and deletes a deployment through the real binary.
//!
//! Needs a Python with the SDK installed: `.ci/run` makes a virtual
//! environment and runs this test with `IEF_SDK_PYTHON` pointing at its
//! interpreter (`cargo test --test e2e ief_sdk -- --ignored`).

use std::process::Command;

use serde_json::Value;

use crate::ief::{env, N1, NS, PROJECT};

#[tokio::test(flavor = "multi_thread")]
#[ignore = "needs huaweicloudsdkief: run by .ci/run with IEF_SDK_PYTHON"]
async fn the_official_python_sdk_drives_a_deployment() {
    let python = std::env::var("IEF_SDK_PYTHON")
        .expect("IEF_SDK_PYTHON: a Python with huaweicloudsdkief installed");
    let e = env();
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/../tests/ief_sdk/client.py");
    let e2 = &e;
    let out = tokio::task::spawn_blocking({
        let base = e2.s.base.clone();
        let (ak, sk) = (e2.ak.clone(), e2.sk.clone());
        move || {
            Command::new(python)
                .arg(script)
                .env("IEF_ENDPOINT", base)
                .env("IEF_PROJECT", PROJECT)
                .env("IEF_NODE_ID", N1)
                .env("IEF_AK", ak)
                .env("IEF_SK", sk)
                .output()
                .unwrap()
        }
    })
    .await
    .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "sdk client failed\nstdout: {stdout}\nstderr: {stderr}\nserver log:\n{}",
        e.s.log_text()
    );
    let seen: Value = serde_json::from_str(stdout.lines().last().unwrap()).unwrap();
    println!("{seen}");
    assert_eq!(seen["pods_before"], 0);
    assert_eq!(seen["create_status"], 201);
    assert_eq!(seen["id"].as_str().unwrap().len(), 36);
    assert_eq!(seen["created_name"], "sdk-app");
    assert_eq!(seen["api_version"], "v3");
    assert!(seen["created_at"].as_str().unwrap().ends_with(" +0000 UTC"));
    assert_eq!(seen["shown_name"], "sdk-app");
    assert_eq!(seen["shown_node_ids"], serde_json::json!([N1]));
    assert_eq!(seen["deployments"], 1);
    assert_eq!(seen["pods"], 1);
    assert_eq!(seen["pod_state"], "RUNNING");
    assert_eq!(seen["pod_node_id"], N1);
    assert_eq!(seen["pod_image"], "nginx");
    assert_eq!(seen["pod_version"], "1.27");
    assert_eq!(seen["pod_cpu_limit"], "0.5");
    assert_eq!(seen["pod_memory_limit"], "256");
    assert_eq!(seen["delete_status"], 204);
    assert_eq!(seen["after_delete"]["status"], 404);
    assert_eq!(seen["after_delete"]["code"], "IEF.100014");
    // What the SDK made is gone from the cluster too.
    assert!(e.sim.list("apps/v1", "Deployment", Some(NS)).is_empty());
    // Every SDK request was signed (none used a token), and the SK never
    // reached the log.
    assert!(!e.s.log_text().contains(&e.sk));
}
