//! The inventory capability through a plugin: organisation scoping, sealed
//! secrets, typed errors.

use crate::common::*;

#[tokio::test(flavor = "multi_thread")]
async fn records_are_scoped_sealed_and_redacted() {
    let s = Server::start();
    let a = s.key("acme", "bearer");
    let b = s.key("globex", "bearer");
    let password = "pw-Zq81-very-secret";

    let r = s
        .http
        .post(s.url("/fixtures/devices"))
        .bearer_auth(&a)
        .json(&serde_json::json!({"name": "gpu-01", "ip": "127.0.0.2", "password": password}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let text = r.text().await.unwrap();
    assert!(!text.contains(password), "{text}");
    let row: serde_json::Value = serde_json::from_str(&text).unwrap();
    let id = row["id"].as_str().unwrap().to_string();
    assert_eq!(id.len(), 21);
    assert_eq!(row["adminpwd"], "******");
    assert_eq!(row["name"], "gpu-01");

    // The same name again in the same organisation: 409.
    let r = s
        .http
        .post(s.url("/fixtures/devices"))
        .bearer_auth(&a)
        .json(&serde_json::json!({"name": "gpu-01", "ip": "127.0.0.3", "password": "x"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 409);

    // Another organisation sees nothing and touches nothing.
    let get =
        |key: &str, path: String| s.http.get(s.url(&path)).bearer_auth(key.to_string()).send();
    let r = get(&b, format!("/fixtures/devices/{id}")).await.unwrap();
    assert_eq!(r.status(), 404);
    let list: serde_json::Value = get(&b, "/fixtures/devices".into())
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(list["total"], 0);
    let r = s
        .http
        .delete(s.url(&format!("/fixtures/devices/{id}")))
        .bearer_auth(&b)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
    let list: serde_json::Value = get(&a, "/fixtures/devices".into())
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(list["total"], 1);
    assert_eq!(list["rows"][0]["adminpwd"], "******");

    // Sealed at rest: neither the database nor its WAL holds the password.
    for file in ["computehub.db", "computehub.db-wal"] {
        if let Ok(bytes) = std::fs::read(s.data().join(file)) {
            assert!(
                !bytes
                    .windows(password.len())
                    .any(|w| w == password.as_bytes()),
                "{file}"
            );
        }
    }
    assert!(!s.log_text().contains(password));

    // The owner deletes it.
    let r = s
        .http
        .delete(s.url(&format!("/fixtures/devices/{id}")))
        .bearer_auth(&a)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 204);
    let list: serde_json::Value = get(&a, "/fixtures/devices".into())
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(list["total"], 0);
}

#[tokio::test(flavor = "multi_thread")]
async fn bad_fields_are_refused_and_change_nothing() {
    let s = Server::start();
    let a = s.key("acme", "bearer");
    let r = s
        .http
        .post(s.url("/fixtures/devices"))
        .bearer_auth(&a)
        .json(&serde_json::json!({"name": "gpu-01"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    let body: serde_json::Value = r.json().await.unwrap();
    assert!(body["error"].as_str().unwrap().contains("ip"), "{body}");
    let r = s
        .http
        .get(s.url("/fixtures/devices"))
        .bearer_auth(&a)
        .send()
        .await
        .unwrap();
    let list: serde_json::Value = r.json().await.unwrap();
    assert_eq!(list["total"], 0);
}
