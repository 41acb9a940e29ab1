//! Sign-in, sessions and CSRF over plain HTTP; operations under a session.

use super::*;

#[tokio::test(flavor = "multi_thread")]
async fn sessions_are_the_kboss_session_scheme_with_csrf_and_throttled_sign_in() {
    let s = Server::with(Options {
        args: vec!["--demo", "--auth-failure-burst", "10"],
        ..Options::default()
    });
    let lines = s.stdout.lock().unwrap().clone();
    let (url, password) = demo_password(&lines);
    assert_eq!(url, s.url("/console/"));
    assert!(
        !s.log_text().contains(&password),
        "the password is not logged"
    );
    create_user(&s, "other", "bob", "bob-password-123", false);

    // The page and its files: hashed, cached, compressed, hardened.
    let page = s
        .http
        .get(s.url("/console/"))
        .header("accept-encoding", "gzip")
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), 200);
    assert_eq!(page.headers()["content-encoding"], "gzip");
    assert!(page.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .starts_with("default-src 'none'; script-src 'self' 'sha256-"));
    let raw = s.http.get(s.url("/console/")).send().await.unwrap();
    let html = raw.text().await.unwrap();
    let asset = html
        .split("href=\"/console/assets/")
        .nth(1)
        .and_then(|r| r.split('"').next())
        .unwrap()
        .to_string();
    let file = s
        .http
        .get(s.url(&format!("/console/assets/{asset}")))
        .send()
        .await
        .unwrap();
    assert_eq!(file.status(), 200);
    assert_eq!(
        file.headers()["cache-control"],
        "public, max-age=31536000, immutable"
    );

    // Sign-in: a wrong password is 401, the right one sets the cookie.
    let (status, none) = sign_in(&s, "demo", "demo", "wrong-password").await;
    assert_eq!(status, 401);
    assert!(none.is_none());
    // NUL in the organisation or the name (no stored text holds one, and
    // PostgreSQL refuses it in a statement) is an unknown user: 401.
    for (org, name) in [("de\0mo", "demo"), ("demo", "de\0mo")] {
        let (status, none) = sign_in(&s, org, name, &password).await;
        assert_eq!((status, none.is_none()), (401, true), "{org:?} {name:?}");
    }
    let (status, demo) = sign_in(&s, "demo", "demo", &password).await;
    assert_eq!(status, 200);
    let demo = demo.unwrap();
    for attr in ["HttpOnly", "SameSite=Strict", "Path=/", "Max-Age="] {
        assert!(demo.set_cookie.contains(attr), "{}", demo.set_cookie);
    }
    assert!(!demo.set_cookie.contains("Secure"), "plain HTTP here");

    // The same public endpoint a key calls, with the cookie.
    let list = |cookie: String| {
        let req = s
            .http
            .get(s.url("/dev/cpcc/cpclist/get_cpclist.dspy"))
            .header("cookie", cookie);
        async move {
            let v: serde_json::Value = req.send().await.unwrap().json().await.unwrap();
            v
        }
    };
    let centers = list(demo.cookie.clone()).await;
    assert_eq!(centers["data"]["total"], 1, "{centers}");
    let add = |cookie: &str, csrf: Option<&str>| {
        let mut req = s
            .http
            .post(s.url("/dev/cpcc/cpclist/add_cpclist.dspy"))
            .header("cookie", cookie)
            .form(&[
                ("name", "会话中心"),
                ("pcapi_url", "https://p.example"),
                ("api_user", "u"),
                ("api_pwd", "p"),
                ("contactname", "c"),
                ("contactphone", ""),
            ]);
        if let Some(t) = csrf {
            req = req.header("x-csrf-token", t);
        }
        async move {
            let r = req.send().await.unwrap();
            (r.status().as_u16(), r.text().await.unwrap())
        }
    };
    let (status, body) = add(&demo.cookie, None).await;
    assert_eq!(status, 403, "{body}");
    assert!(body.contains("X-CSRF-Token"), "{body}");
    let (status, _) = add(&demo.cookie, Some("wrong")).await;
    assert_eq!(status, 403);
    assert_eq!(list(demo.cookie.clone()).await["data"]["total"], 1);
    let (status, body) = add(&demo.cookie, Some(&demo.csrf)).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(list(demo.cookie.clone()).await["data"]["total"], 2);

    // Another organisation's user sees none of it.
    let (_, bob) = sign_in(&s, "other", "bob", "bob-password-123").await;
    let bob = bob.unwrap();
    assert_eq!(list(bob.cookie.clone()).await["data"]["total"], 0);

    // Operators' sessions open /admin; tenants' do not.
    let admin = |cookie: String| {
        let req = s.http.get(s.url("/admin/plugins")).header("cookie", cookie);
        async move { req.send().await.unwrap().status().as_u16() }
    };
    assert_eq!(admin(demo.cookie.clone()).await, 200);
    assert_eq!(admin(bob.cookie.clone()).await, 401);
    // A change an operator makes through the console is audited as that
    // user's session, not as the admin token.
    let r = s
        .http
        .post(s.url("/admin/keys"))
        .header("cookie", &demo.cookie)
        .header("x-csrf-token", &demo.csrf)
        .json(&serde_json::json!({"org": "demo", "scheme": "bearer"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 201);
    let (_, audit) = s.get_admin("/admin/audit?route=/admin/keys").await;
    let row = audit["entries"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["method"] == "POST")
        .cloned()
        .unwrap_or_else(|| panic!("no audit row: {audit}"));
    assert_eq!(row["scheme"], "console-session", "{row}");
    assert_eq!(row["key_id"], "console:demo", "{row}");
    assert_eq!(row["organisation"], "demo", "{row}");

    // Sign-out needs the CSRF token, then the cookie is worthless.
    let out = s
        .http
        .delete(s.url("/console/api/session"))
        .header("cookie", &demo.cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(out.status(), 403);
    let out = s
        .http
        .delete(s.url("/console/api/session"))
        .header("cookie", &demo.cookie)
        .header("x-csrf-token", &demo.csrf)
        .send()
        .await
        .unwrap();
    assert_eq!(out.status(), 200);
    assert!(out.headers()["set-cookie"]
        .to_str()
        .unwrap()
        .contains("Max-Age=0"));
    let gone = list(demo.cookie.clone()).await;
    assert_eq!(gone["status"], false, "{gone}");

    // Disabling a user ends its sessions.
    let out = s
        .command()
        .args([
            "users",
            "disable",
            "--org",
            "other",
            "--name",
            "bob",
            "--data-dir",
        ])
        .arg(s.data())
        .output()
        .unwrap();
    assert!(out.status.success());
    assert_eq!(list(bob.cookie.clone()).await["status"], false);
    let (status, _) = sign_in(&s, "other", "bob", "bob-password-123").await;
    assert_eq!(status, 401);

    // Failed sign-ins are throttled (a burst of 10 failures here, the refused
    // CSRF tokens, cookies and admin call above among them): then 429.
    let mut last = 0;
    for _ in 0..10 {
        last = sign_in(&s, "demo", "demo", "guess-guess-guess").await.0;
    }
    assert_eq!(last, 429);
    let (status, _) = sign_in(&s, "demo", "demo", &password).await;
    assert_eq!(status, 429, "even the right password waits");
}

/// `/operations` takes the console session as it takes keys, and failed
/// cookies and keys there are throttled as on the other endpoints.
#[tokio::test(flavor = "multi_thread")]
async fn operations_take_the_session_and_throttle_failures() {
    let s = Server::with(Options {
        args: vec!["--auth-failure-burst", "3"],
        ..Options::default()
    });
    create_user(&s, "acme", "ann", "ann-password-123", false);
    let (_, ann) = sign_in(&s, "acme", "ann", "ann-password-123").await;
    let ann = ann.unwrap();
    let get = |path: &str, cookie: &str| {
        let req = s.http.get(s.url(path)).header("cookie", cookie);
        async move {
            let r = req.send().await.unwrap();
            let status = r.status().as_u16();
            (status, r.json::<serde_json::Value>().await.unwrap())
        }
    };
    let (status, page) = get("/operations", &ann.cookie).await;
    assert_eq!(status, 200, "{page}");
    assert_eq!(
        (page["total"].as_i64(), page["page"].as_i64()),
        (Some(0), Some(1))
    );
    let (status, body) = get("/operations/op-nope/events", &ann.cookie).await;
    assert_eq!(status, 404, "{body}");
    let (status, body) = get("/operations?sort=output", &ann.cookie).await;
    assert_eq!(status, 400);
    assert!(
        body["error"].as_str().unwrap().contains("`output`"),
        "{body}"
    );
    // A cookie that is no session: 401, then 429 once over the burst.
    let mut last = 0;
    for _ in 0..5 {
        last = get("/operations", "chsession=not-a-session").await.0;
    }
    assert_eq!(last, 429);
}
