//! `inventory.query-table` through a plugin: the same rows as `query`, as
//! columns named once; only the caller's organisation's rows, secrets
//! redacted, the grant checked, and a column the collection lacks refused
//! by name; and a plugin built before `query-table` existed still served.

use serde_json::{json, Value};

use crate::common::*;

async fn device(s: &Server, key: &str, name: &str) -> Value {
    let r = s
        .http
        .post(s.url("/fixtures/devices"))
        .bearer_auth(key)
        .json(&json!({"name": name, "ip": "127.0.0.2", "password": "pw-table-secret"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    r.json().await.unwrap()
}

async fn table(s: &Server, key: &str, path: &str) -> (u16, String) {
    let r = s
        .http
        .get(s.url(path))
        .bearer_auth(key)
        .send()
        .await
        .unwrap();
    (r.status().as_u16(), r.text().await.unwrap())
}

#[tokio::test(flavor = "multi_thread")]
async fn tables_answer_the_asked_columns_of_the_callers_rows() {
    let s = Server::start();
    let a = s.key("acme", "bearer");
    let b = s.key("globex", "bearer");
    let first = device(&s, &a, "gpu-01").await;
    let second = device(&s, &a, "gpu-02").await;
    device(&s, &b, "other-01").await;

    let (status, text) = table(
        &s,
        &a,
        "/fixtures/table/devices?columns=name,sshport,adminpwd,created-at",
    )
    .await;
    assert_eq!(status, 200, "{text}");
    assert!(!text.contains("pw-table-secret"), "{text}");
    let t: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(t["total"], 2);
    assert_eq!(
        t["columns"],
        json!(["name", "sshport", "adminpwd", "created-at"])
    );
    let rows = t["rows"].as_array().unwrap();
    assert_eq!(rows.len(), 2);
    for (row, dev) in rows.iter().zip([&first, &second]) {
        assert_eq!(row["id"], dev["id"]);
        let values = row["values"].as_array().unwrap();
        assert_eq!(values[0], dev["name"]);
        assert_eq!(values[1], 22);
        assert_eq!(values[2], "******");
        assert!(
            values[3].as_str().is_some_and(|t| t.starts_with("20")),
            "{row}"
        );
    }
    // Read back by column name, each row holds exactly what was asked.
    let object = t["objects"][1].as_object().unwrap();
    let mut keys: Vec<&str> = object.keys().map(String::as_str).collect();
    keys.sort_unstable();
    assert_eq!(keys, ["adminpwd", "created-at", "id", "name", "sshport"]);
    assert_eq!(object["name"], "gpu-02");
    let in_order = format!(
        r#"{{"id":{},"name":"gpu-02","sshport":22,"adminpwd":"******","created-at":""#,
        second["id"]
    );
    assert!(text.contains(&in_order), "{text}");

    // Another organisation's table holds only its own row.
    let (_, text) = table(&s, &b, "/fixtures/table/devices?columns=name").await;
    let t: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(
        (t["total"].clone(), t["rows"][0]["values"].clone()),
        (json!(1), json!(["other-01"]))
    );

    // No columns: every field of the collection, as `query` answers a row.
    let (status, text) = table(&s, &a, "/fixtures/table/devices").await;
    assert_eq!(status, 200, "{text}");
    let t: Value = serde_json::from_str(&text).unwrap();
    let path = format!("/fixtures/devices/{}", first["id"].as_str().unwrap());
    let (_, whole) = table(&s, &a, &path).await;
    let whole: Value = serde_json::from_str(&whole).unwrap();
    assert_eq!(t["objects"][0], whole);
}

#[tokio::test(flavor = "multi_thread")]
async fn tables_refuse_unknown_and_repeated_columns_and_ungranted_collections() {
    let s = Server::start();
    let a = s.key("acme", "bearer");
    device(&s, &a, "gpu-01").await;
    for (path, says) in [
        (
            "/fixtures/table/devices?columns=name,nope",
            "no field `nope` in `devices`",
        ),
        (
            "/fixtures/table/devices?columns=name,name",
            "column `name` is asked twice",
        ),
        (
            "/fixtures/table/clusters?columns=name",
            "denied: plugin `fixtures` may not read collection `clusters`",
        ),
        ("/fixtures/table/no_such_thing", "no_such_thing"),
    ] {
        let (status, text) = table(&s, &a, path).await;
        assert!((400..500).contains(&status), "{path}: {status} {text}");
        assert!(text.contains(says), "{path}: {text}");
    }
}

/// A plugin built against the WIT as it was before `query-table` (raw
/// wit-bindgen over a copy of stop 35's WIT, `plugins/testing/wit-0-1-0`)
/// still installs, links and reads through `inventory.query`: an addition
/// to an interface breaks no plugin built before it.
#[tokio::test(flavor = "multi_thread")]
async fn plugins_built_before_query_table_still_link_and_query() {
    let s = Server::start();
    let a = s.key("acme", "bearer");
    device(&s, &a, "gpu-01").await;
    s.grant(
        "wit-0-1-0",
        json!({"grants": ["inventory"], "read": ["devices"]}),
    )
    .await;
    let (status, body) = s.admin_put("wit-0-1-0", "wit_0_1_0.wasm").await;
    assert_eq!(status, 200, "{body}");
    let (status, text) = table(&s, &a, "/wit-0-1-0/devices").await;
    assert_eq!(status, 200, "{text}");
    let v: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(v, json!({"total": 1, "first": "gpu-01"}));
    // Another organisation's call sees none of it.
    let b = s.key("globex", "bearer");
    let (_, text) = table(&s, &b, "/wit-0-1-0/devices").await;
    assert_eq!(
        serde_json::from_str::<Value>(&text).unwrap(),
        json!({"total": 0, "first": ""})
    );
}
