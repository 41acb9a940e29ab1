//! IEF authentication: AK/SK signatures as Huawei's SDKs send them (body
//! tampering, replayed writes, clock skew, unknown keys) and X-Auth-Token,
//! keys bound to a project, and organisations that cannot see each other's
//! projects.

use chrono::Utc;
use serde_json::json;

use crate::ief::{env, example, N1, N2};

#[tokio::test(flavor = "multi_thread")]
async fn aksk_signatures_are_checked_with_skew_and_replay_limits() {
    let e = env();
    // keys create --scheme aksk: the last line is `AK SK`.
    assert_eq!(e.ak.len(), 20);
    assert!(e
        .ak
        .bytes()
        .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit()));
    assert_eq!(e.sk.len(), 40);
    assert!(e.sk.bytes().all(|b| b.is_ascii_alphanumeric()));

    let path = e.path(&format!("pods?node_id={N1}"));
    let now = Utc::now();
    let h = e.sign("GET", &path, b"", &e.ak, &e.sk, now);
    let (status, body) = e.raw("GET", &path, b"", &h).await;
    assert_eq!((status, &body), (200, &json!({"count": 0, "pods": []})));
    // A read may be repeated (a client polling within one second).
    assert_eq!(e.raw("GET", &path, b"", &h).await.0, 200);

    // A signed create; the same signature over another body fails.
    let create = e.path("deployments");
    let payload = serde_json::to_vec(&example()).unwrap();
    let h = e.sign("POST", &create, &payload, &e.ak, &e.sk, Utc::now());
    let mut other = example();
    other["name"] = json!("evil");
    let tampered = serde_json::to_vec(&other).unwrap();
    let (status, _) = e.raw("POST", &create, &tampered, &h).await;
    assert_eq!(status, 401);
    let (status, body) = e.raw("POST", &create, &payload, &h).await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(e.deployments().len(), 1);
    assert_eq!(e.deployments()[0]["metadata"]["name"], "app");
    // The same signed create again is a replay, refused before the plugin
    // runs (not the 409 a second create of that name would get).
    let (status, body) = e.raw("POST", &create, &payload, &h).await;
    assert_eq!(status, 401, "{body}");
    assert_eq!(body["error_code"], "IEF.000401");
    assert!(body["error_msg"].as_str().unwrap().contains("replay"));
    // A signed delete, replayed.
    let (_, listed) = e.call("GET", "deployments", None).await;
    let del = e.path(&format!(
        "deployments/{}",
        listed["deployments"][0]["id"].as_str().unwrap()
    ));
    let h = e.sign("DELETE", &del, b"", &e.ak, &e.sk, Utc::now());
    assert_eq!(e.raw("DELETE", &del, b"", &h).await.0, 204);
    let (status, body) = e.raw("DELETE", &del, b"", &h).await;
    assert_eq!(status, 401, "{body}");
    assert!(e.deployments().is_empty());

    // A query changed after signing, a wrong secret, a skewed clock.
    let h = e.sign("GET", &path, b"", &e.ak, &e.sk, Utc::now());
    let (status, _) = e
        .raw("GET", &e.path(&format!("pods?node_id={N2}")), b"", &h)
        .await;
    assert_eq!(status, 401);
    let wrong = format!("{}x", &e.sk[1..]);
    let h = e.sign("GET", &path, b"", &e.ak, &wrong, Utc::now());
    assert_eq!(e.raw("GET", &path, b"", &h).await.0, 401);
    for skew in [-20i64, 20] {
        let h = e.sign(
            "GET",
            &path,
            b"",
            &e.ak,
            &e.sk,
            Utc::now() + chrono::Duration::minutes(skew),
        );
        let (status, body) = e.raw("GET", &path, b"", &h).await;
        assert_eq!(status, 401, "{skew}: {body}");
        assert!(body["error_msg"].as_str().unwrap().contains("clock"));
    }
    // Within the window is fine.
    let h = e.sign(
        "GET",
        &path,
        b"",
        &e.ak,
        &e.sk,
        Utc::now() - chrono::Duration::minutes(5),
    );
    assert_eq!(e.raw("GET", &path, b"", &h).await.0, 200);

    // An unknown AK.
    let h = e.sign("GET", &path, b"", "AAAAAAAAAAAAAAAAAAAA", &e.sk, Utc::now());
    assert_eq!(e.raw("GET", &path, b"", &h).await.0, 401);
    // No credentials at all.
    let (status, body) = e.call_with("GET", &path, None, &[]).await;
    assert_eq!(status, 401);
    assert_eq!(body["error_code"], "IEF.000401");
    // Neither the SK nor the token reaches the log.
    let log = e.s.log_text();
    assert!(!log.contains(&e.sk));
    assert!(!log.contains(e.token.rsplit('.').next().unwrap()));
}

#[tokio::test(flavor = "multi_thread")]
async fn projects_and_organisations_are_kept_apart() {
    let e = env();
    let (status, _) = e.call("POST", "deployments", Some(&example())).await;
    assert_eq!(status, 201);
    // A key bound to another project is refused on this one.
    let elsewhere =
        e.s.project_key("acme", "x-auth-token", Some("other-project"));
    let (status, body) = e
        .call_with(
            "GET",
            &e.path("deployments"),
            None,
            &[("x-auth-token", &elsewhere)],
        )
        .await;
    assert_eq!(status, 403, "{body}");
    assert_eq!(body["error_code"], "IEF.000403");
    // An unbound key of another organisation does not see the project: the
    // documented PROJECT_ID answer, as for a project that does not exist.
    let globex = e.s.project_key("globex", "x-auth-token", None);
    let (status, body) = e
        .call_with(
            "GET",
            &e.path("deployments"),
            None,
            &[("x-auth-token", &globex)],
        )
        .await;
    assert_eq!(status, 400);
    assert_eq!(
        body,
        json!({"error_code": "IEF.100001", "error_msg": "PROJECT_ID not found"})
    );
    let (_, unknown) = e
        .call_with(
            "GET",
            "/v3/nope/edgemgr/deployments",
            None,
            &[("x-auth-token", &globex)],
        )
        .await;
    assert_eq!(unknown, body);
    let (status, _) = e
        .call_with(
            "DELETE",
            &e.path("deployments/whatever"),
            None,
            &[("x-auth-token", &globex)],
        )
        .await;
    assert_eq!(status, 400);
    assert_eq!(e.deployments().len(), 1);
    // A bearer key is not an IEF token.
    let bearer = e.s.key("acme", "bearer");
    let (status, _) = e
        .call_with(
            "GET",
            &e.path("deployments"),
            None,
            &[("x-auth-token", &bearer)],
        )
        .await;
    assert_eq!(status, 403);
}

/// A signed write replayed after a restart, inside the clock window, is
/// still refused: the signatures seen are kept in the store (shared by
/// every replica on one database), not in the process.
#[tokio::test(flavor = "multi_thread")]
async fn a_replayed_write_is_refused_after_a_restart() {
    let mut e = env();
    let create = e.path("deployments");
    let payload = serde_json::to_vec(&example()).unwrap();
    let mut h = e.sign("POST", &create, &payload, &e.ak, &e.sk, Utc::now());
    // The signed Host, sent as such: the restarted server listens on
    // another port.
    let host = e.s.base.trim_start_matches("http://").to_string();
    h.push(("host".into(), host));
    let (status, body) = e.raw("POST", &create, &payload, &h).await;
    assert_eq!(status, 201, "{body}");
    let ids = |listed: &serde_json::Value| -> Vec<String> {
        let all = listed["deployments"].as_array().unwrap();
        all.iter()
            .map(|d| d["id"].as_str().unwrap().to_string())
            .collect()
    };
    let (_, listed) = e.call("GET", "deployments", None).await;
    let before = ids(&listed);
    assert_eq!(before.len(), 1);

    e.s.stop();
    e.s.launch();
    let (status, body) = e.raw("POST", &create, &payload, &h).await;
    assert_eq!(status, 401, "{body}");
    assert_eq!(body["error_code"], "IEF.000401");
    assert!(
        body["error_msg"].as_str().unwrap().contains("replay"),
        "{body}"
    );
    // Nothing changed: the same deployment, in the API and in the cluster,
    // and the one signature the store keeps.
    let (_, listed) = e.call("GET", "deployments", None).await;
    assert_eq!(ids(&listed), before);
    assert_eq!(e.deployments().len(), 1);
    let store = e.s.store().await;
    let rows = store
        .db()
        .query(
            "SELECT signature FROM request_signatures",
            computehub::store::db::params![],
        )
        .await
        .unwrap();
    assert_eq!(rows.len(), 1);
    let kept: String = rows[0].get(0).unwrap();
    assert!(kept.starts_with(&format!("{}:", e.ak)), "{kept}");
}
