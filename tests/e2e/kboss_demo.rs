//! `serve --demo` seeds the kboss tour and prints calls that work.

use crate::common::*;
use crate::kb::path;

/// The demo's bearer key and center id, from what the server printed.
fn printed(s: &Server) -> (String, String) {
    let lines = s.stdout.lock().unwrap().clone();
    let key_at = lines
        .iter()
        .rposition(|l| l.contains("bearer API key"))
        .expect("the demo prints a key");
    let key = lines[key_at + 1].clone();
    let cpcid = lines
        .iter()
        .find_map(|l| l.split("(cpcid ").nth(1))
        .and_then(|rest| rest.split(')').next())
        .expect("the demo prints the center id")
        .to_string();
    assert!(
        lines.iter().any(|l| l.contains("accrual_price.dspy")),
        "{lines:?}"
    );
    (key, cpcid)
}

#[tokio::test(flavor = "multi_thread")]
async fn the_demo_seeds_centers_devices_clusters_labels_and_widgets() {
    let mut s = Server::with(Options {
        args: vec!["--demo"],
        ..Options::default()
    });
    let (key, cpcid) = printed(&s);
    let get = |short: &'static str, params: Vec<(&'static str, String)>| {
        let (s, key) = (&s, key.clone());
        async move {
            let r = s
                .http
                .get(s.url(&path(short)))
                .query(&params)
                .bearer_auth(key)
                .send()
                .await
                .unwrap();
            (r.status().as_u16(), r.text().await.unwrap())
        }
    };
    let (status, text) = get("cpcnode/get_cpcnode", vec![("cpcid", cpcid.clone())]).await;
    assert_eq!(status, 200, "{text}");
    let body: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_eq!(body["data"]["total"], 4);
    let kinds: Vec<&str> = body["data"]["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["devicetype_text"].as_str().unwrap())
        .collect();
    assert!(kinds.contains(&"物理机") && kinds.contains(&"虚拟机"));
    let (_, text) = get("cpccluster/get_cpccluster", vec![("cpcid", cpcid.clone())]).await;
    assert!(
        text.contains("朝阳区") && text.contains("127.0.0.1"),
        "{text}"
    );
    let (_, text) = get("cpclabel/get_cpclabel", vec![]).await;
    assert!(text.contains(r#""total":4"#), "{text}");
    let (_, text) = get(
        "cpcwidget/obtaining_gpuinfo",
        vec![("cpcid", cpcid.clone())],
    )
    .await;
    assert!(text.contains(r#""RTX5090-32G":8"#), "{text}");
    // The printed quote: the document's example, exactly 64.08.
    let resources = r#"[{"type":"cpu","model":"INTEL(R) XEON(R) PLATINUM 8582C","amount":4},{"type":"memory","model":"Samsung DDR4 DIMMs","amount":8192},{"type":"disk","model":"DATA","amount":512},{"type":"gpu","model":"RTX5090-32G","amount":2}]"#;
    let (status, text) = get(
        "cpcwidget/accrual_price",
        vec![
            ("cpcid", cpcid.clone()),
            ("resources", resources.to_string()),
            ("duration", "1".into()),
            ("duration_unit", "小时".into()),
        ],
    )
    .await;
    assert_eq!(status, 200, "{text}");
    assert!(text.contains(r#""total_price":64.08,"#), "{text}");

    // A restart with --demo seeds nothing twice, and replaces the keys it
    // printed instead of adding more.
    const ACTIVE: &str =
        "SELECT COUNT(*) FROM api_keys WHERE org_id = 'demo' AND revoked_at IS NULL";
    let before = s.count(ACTIVE, vec![]).await;
    assert_eq!(before, 4, "bearer, basic, x-auth-token and aksk");
    let (old_key, _) = printed(&s);
    let stopped = s.stop();
    assert!(stopped.success(), "{stopped:?}\n{}", s.log_text());
    s.stdout.lock().unwrap().clear();
    s.launch();
    let (key, again) = printed(&s);
    assert_eq!(again, cpcid);
    assert_eq!(s.count(ACTIVE, vec![]).await, before);
    let r = s
        .http
        .get(s.url(&path("cpclist/get_cpclist")))
        .bearer_auth(&old_key)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401, "the earlier start's key still works");
    let r = s
        .http
        .get(s.url(&path("cpclist/get_cpclist")))
        .bearer_auth(key)
        .send()
        .await
        .unwrap();
    let body: serde_json::Value = r.json().await.unwrap();
    assert_eq!(body["data"]["total"], 1);
}
