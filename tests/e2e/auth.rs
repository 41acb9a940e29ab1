//! Authentication: the per-route schemes, 401/403, and keys bound to organisations.

use crate::common::*;

#[tokio::test(flavor = "multi_thread")]
async fn each_scheme_resolves_the_principal_and_refuses_the_rest() {
    let s = Server::start();
    let bearer = s.key("acme", "bearer");
    let token = s.key("globex", "x-auth-token");
    let basic = s.key("initech", "basic");

    // Bearer
    let r = s
        .http
        .get(s.url("/fixtures/whoami"))
        .bearer_auth(&bearer)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let body: serde_json::Value = r.json().await.unwrap();
    assert_eq!(body["organisation"], "acme");
    assert_eq!(body["scheme"], "bearer");
    assert!(!body["key_id"].as_str().unwrap().is_empty());
    assert!(!bearer.contains(body["key_id"].as_str().unwrap()) || bearer.starts_with("chk."));

    // X-Auth-Token
    let r = s
        .http
        .get(s.url("/fixtures/token"))
        .header("X-Auth-Token", &token)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let body: serde_json::Value = r.json().await.unwrap();
    assert_eq!(body["organisation"], "globex");

    // Basic: key id as user, secret as password
    let (user, pass) = basic.split_once(':').unwrap();
    let r = s
        .http
        .get(s.url("/fixtures/basic"))
        .basic_auth(user, Some(pass))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let body: serde_json::Value = r.json().await.unwrap();
    assert_eq!(body["organisation"], "initech");

    // No credentials: 401 naming what to send
    let (status, body) = s.get("/fixtures/whoami").await;
    assert_eq!(status, 401);
    assert!(body["error"].as_str().unwrap().contains("Bearer"), "{body}");

    // A wrong secret for a real key id: 401
    let forged = format!("{}x", &bearer[..bearer.len() - 1]);
    let r = s
        .http
        .get(s.url("/fixtures/whoami"))
        .bearer_auth(forged)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);

    // A valid key of another scheme: 403
    let r = s
        .http
        .get(s.url("/fixtures/whoami"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    let r = s
        .http
        .get(s.url("/fixtures/token"))
        .header("X-Auth-Token", &bearer)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);

    // The secret never reaches the log.
    let secret = bearer.rsplit('.').next().unwrap();
    assert!(!s.log_text().contains(secret));
}

#[tokio::test(flavor = "multi_thread")]
async fn the_admin_api_needs_the_admin_token() {
    let s = Server::start();
    let r = s.http.get(s.url("/admin/plugins")).send().await.unwrap();
    assert_eq!(r.status(), 401);
    let key = s.key("acme", "bearer");
    let r = s
        .http
        .get(s.url("/admin/plugins"))
        .bearer_auth(key)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    let r = s
        .http
        .put(s.url("/admin/plugins/echo"))
        .body(wasm("echo_v2.wasm"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    assert_eq!(s.get("/echo/version").await.1["version"], "1.0.0");
}

#[test]
fn keys_create_prints_the_credential_alone_on_its_last_line() {
    let dir = tempfile::tempdir().unwrap();
    for (scheme, check) in [
        (
            "bearer",
            (|l: &str| l.starts_with("chk.") && l.len() > 40) as fn(&str) -> bool,
        ),
        ("x-auth-token", |l: &str| l.starts_with("chk.")),
        ("basic", |l: &str| {
            l.split_once(':')
                .is_some_and(|(u, p)| !u.is_empty() && p.len() >= 43)
        }),
    ] {
        let out = std::process::Command::new(BIN)
            .args([
                "keys",
                "create",
                "--org",
                "acme",
                "--scheme",
                scheme,
                "--data-dir",
            ])
            .arg(dir.path())
            .output()
            .unwrap();
        assert!(out.status.success());
        let stdout = String::from_utf8(out.stdout).unwrap();
        let last = stdout.lines().last().unwrap();
        assert!(check(last), "{scheme}: {last}");
        assert!(!last.contains(' '));
    }
    let out = std::process::Command::new(BIN)
        .args([
            "keys",
            "create",
            "--org",
            "bad org!",
            "--scheme",
            "bearer",
            "--data-dir",
        ])
        .arg(dir.path())
        .output()
        .unwrap();
    assert!(!out.status.success());
}

/// `computehub keys <args> --data-dir <server's>`: exit success and stdout.
fn keys_cli(s: &Server, args: &[&str]) -> (bool, String) {
    let out = s
        .command()
        .arg("keys")
        .args(args)
        .arg("--data-dir")
        .arg(s.data())
        .output()
        .unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
    )
}

#[tokio::test(flavor = "multi_thread")]
async fn keys_are_listed_without_secrets_and_revoked_at_once() {
    let s = Server::start();
    let bearer = s.key("acme", "bearer");
    let basic = s.key("acme", "basic");
    let other = s.key("globex", "bearer");
    let whoami = |cred: &str| {
        let r = s.http.get(s.url("/fixtures/whoami")).bearer_auth(cred);
        async move { r.send().await.unwrap().status().as_u16() }
    };
    assert_eq!(whoami(&bearer).await, 200);
    let bearer_id = bearer.split('.').nth(1).unwrap().to_string();
    let (basic_id, basic_secret) = basic.split_once(':').unwrap();

    // Listed by organisation, never with a secret.
    let (status, body) = s.get_admin("/admin/keys?org=acme").await;
    assert_eq!(status, 200, "{body}");
    let keys = body["keys"].as_array().unwrap();
    let ids: Vec<&str> = keys.iter().map(|k| k["id"].as_str().unwrap()).collect();
    assert_eq!(ids.len(), 2, "{body}");
    assert!(
        ids.contains(&bearer_id.as_str()) && ids.contains(&basic_id),
        "{body}"
    );
    assert!(keys
        .iter()
        .all(|k| k["organisation"] == "acme" && k["revoked_at"].is_null()));
    let text = body.to_string();
    assert!(!text.contains(bearer.rsplit('.').next().unwrap()) && !text.contains(basic_secret));
    let (_, all) = s.get_admin("/admin/keys").await;
    assert_eq!(all["keys"].as_array().unwrap().len(), 3);
    let (status, _) = s.get("/admin/keys").await;
    assert_eq!(status, 401);

    // Revoked through the admin API: refused from the next request on.
    let (status, body) = s.admin_delete(&format!("/admin/keys/{bearer_id}")).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["revoked"], true);
    assert_eq!(whoami(&bearer).await, 401);
    assert_eq!(whoami(&other).await, 200, "other keys keep working");
    let (status, _) = s.admin_delete(&format!("/admin/keys/{bearer_id}")).await;
    assert_eq!(status, 404);

    // Revoked with the CLI while the server runs.
    let (ok, out) = keys_cli(&s, &["list", "--org", "acme"]);
    assert!(ok);
    assert!(
        out.contains(&format!("{bearer_id}\tacme\tbearer")) && out.contains("revoked "),
        "{out}"
    );
    assert!(!out.contains(basic_secret));
    let basic_call = || {
        s.http
            .get(s.url("/fixtures/basic"))
            .basic_auth(basic_id, Some(basic_secret))
            .send()
    };
    assert_eq!(basic_call().await.unwrap().status(), 200);
    // The key's row is answered from the read cache (kept until a commit):
    // the CLI's commit, in another process, must reach it.
    s.until_cached(1, async || {
        assert_eq!(basic_call().await.unwrap().status(), 200)
    })
    .await;
    let (ok, out) = keys_cli(&s, &["revoke", basic_id]);
    assert!(ok, "{out}");
    assert_eq!(basic_call().await.unwrap().status(), 401);
    let (ok, _) = keys_cli(&s, &["revoke", basic_id]);
    assert!(!ok, "a revoked key cannot be revoked twice");
}

#[tokio::test(flavor = "multi_thread")]
async fn the_admin_api_creates_keys_shown_once() {
    let s = Server::start();
    let create = |body: serde_json::Value| {
        let req = s
            .http
            .post(s.url("/admin/keys"))
            .bearer_auth(ADMIN)
            .json(&body);
        async move {
            let r = req.send().await.unwrap();
            (
                r.status().as_u16(),
                r.json::<serde_json::Value>().await.unwrap(),
            )
        }
    };
    let (status, body) = create(serde_json::json!({"org": "acme", "scheme": "bearer"})).await;
    assert_eq!(status, 201, "{body}");
    let credential = body["credential"].as_str().unwrap().to_string();
    let id = body["id"].as_str().unwrap().to_string();
    assert!(credential.starts_with(&format!("chk.{id}.")), "{body}");
    // The key works, as its organisation.
    let r = s
        .http
        .get(s.url("/fixtures/whoami"))
        .bearer_auth(&credential)
        .send()
        .await
        .unwrap();
    let who: serde_json::Value = r.json().await.unwrap();
    assert_eq!(who["organisation"], "acme");
    // Listed without its secret; the secret is in no later answer.
    let (_, list) = s.get_admin("/admin/keys?org=acme").await;
    let secret = credential.rsplit('.').next().unwrap();
    assert!(list.to_string().contains(&id));
    assert!(!list.to_string().contains(secret));
    // Refusals name the field and create nothing.
    let (status, body) = create(serde_json::json!({"org": "acme", "scheme": "ssh"})).await;
    assert_eq!(status, 400);
    assert!(
        body["error"].as_str().unwrap().starts_with("`scheme`"),
        "{body}"
    );
    let (status, body) = create(serde_json::json!({"org": "a b", "scheme": "basic"})).await;
    assert_eq!(status, 400);
    assert!(
        body["error"].as_str().unwrap().starts_with("`org`"),
        "{body}"
    );
    let (_, after) = s.get_admin("/admin/keys?org=acme").await;
    assert_eq!(after["keys"].as_array().unwrap().len(), 1);
    // Without the admin token: 401, nothing created.
    let r = s
        .http
        .post(s.url("/admin/keys"))
        .json(&serde_json::json!({"org": "acme", "scheme": "bearer"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 401);
}
