//! The plugin guide's walk-through "A new API area with its own data" is
//! true: its code blocks are `examples/service-desk`'s code, and the steps it
//! gives (grant, upload, call as two organisations, share through a grant)
//! work against the real server with that component.

use serde_json::{json, Value};

use crate::common::*;

const GUIDE: &str = include_str!("../../docs/plugin-guide.md");
const EXAMPLE: &str = include_str!("../../examples/service-desk/src/lib.rs");

/// The walk-through's text.
fn section() -> &'static str {
    let start = GUIDE
        .find("## Walk-through: a new API area with its own data")
        .expect("the guide has the walk-through");
    let rest = &GUIDE[start..];
    let end = rest[3..].find("\n## ").map_or(rest.len(), |i| i + 3);
    &rest[..end]
}

/// The fenced blocks of `lang` in `text`.
fn blocks<'a>(text: &'a str, lang: &str) -> Vec<&'a str> {
    let fence = format!("```{lang}\n");
    let mut out = Vec::new();
    let mut rest = text;
    while let Some(i) = rest.find(&fence) {
        let body = &rest[i + fence.len()..];
        let end = body.find("```").expect("a closed block");
        out.push(&body[..end]);
        rest = &body[end + 3..];
    }
    out
}

#[test]
fn the_guides_code_is_the_examples_code() {
    let rust = blocks(section(), "rust");
    assert_eq!(rust.len(), 3, "declare, export, store");
    for block in rust {
        assert!(
            EXAMPLE.contains(block.trim_end()),
            "the guide's block is not in examples/service-desk:\n{block}"
        );
    }
}

/// The grant the guide's `curl` gives.
fn guide_grant() -> Value {
    let sh = blocks(section(), "sh").join("\n");
    let at = sh.find("/grants").expect("the guide grants the plugin");
    let after = &sh[at..];
    let open = after.find("-d '").expect("a JSON body") + 4;
    let close = after[open..].find('\'').expect("a closed body") + open;
    serde_json::from_str(&after[open..close]).expect("the guide's grant is JSON")
}

async fn tickets(s: &Server, key: Option<&str>) -> (u16, Value) {
    let mut r = s.http.get(s.url("/desk/tickets"));
    if let Some(k) = key {
        r = r.bearer_auth(k);
    }
    let r = r.send().await.unwrap();
    (r.status().as_u16(), r.json().await.unwrap_or(Value::Null))
}

#[tokio::test(flavor = "multi_thread")]
async fn the_walk_through_works_as_written() {
    let s = Server::with(Options {
        config: "default-deadline-ms = 5000\n",
        plugins: vec![],
        ..Options::default()
    });
    let acme = s.key("acme", "bearer");
    let beta = s.key("beta", "bearer");
    s.grant("service-desk", guide_grant()).await;
    let (status, body) = s.admin_put("service-desk", "service_desk.wasm").await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["collections"], json!(["service-desk.tickets"]));

    // As the guide's curl: a form body.
    let open = |key: &str, title: &str| {
        let req = s
            .http
            .post(s.url("/desk/tickets"))
            .bearer_auth(key)
            .form(&[("title", title), ("contact_token", "tok-desk-5e1d")]);
        async move {
            let r = req.send().await.unwrap();
            (r.status().as_u16(), r.json::<Value>().await.unwrap())
        }
    };
    let (status, body) = open(&acme, "printer").await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(body["data"]["status"], "open");
    assert_eq!(body["data"]["contact_token"], "******");
    let (status, _) = open(&beta, "network").await;
    assert_eq!(status, 201);
    let (_, a) = tickets(&s, Some(&acme)).await;
    assert_eq!(a["data"]["total"], 1);
    assert_eq!(a["data"]["rows"][0]["title"], "printer");
    let (_, b) = tickets(&s, Some(&beta)).await;
    assert_eq!(b["data"]["rows"][0]["title"], "network");
    let bytes = s.stored_bytes().await;
    assert!(!bytes.is_empty());
    assert!(!bytes.windows(13).any(|w| w == b"tok-desk-5e1d"));
    // Failures and the host's own answers in the declared envelope.
    let (status, body) = tickets(&s, None).await;
    assert_eq!(status, 401);
    assert_eq!(body["ok"], false, "{body}");
    assert!(body["error"].is_string(), "{body}");

    // Sharing: another plugin reads the tickets once its grant names them.
    s.grant(
        "other",
        fixtures_grant(json!({"grants": ["log", "inventory"]})),
    )
    .await;
    let (status, body) = s.admin_put("other", "fixtures.wasm").await;
    assert_eq!(status, 200, "{body}");
    let count = || {
        let req = s
            .http
            .get(s.url("/fixtures/records/service-desk.tickets"))
            .bearer_auth(&acme);
        async move {
            let r = req.send().await.unwrap();
            (r.status().as_u16(), r.text().await.unwrap())
        }
    };
    let (status, body) = count().await;
    assert_eq!(status, 400);
    assert!(
        body.contains("denied: plugin `other` may not read collection `service-desk.tickets`"),
        "{body}"
    );
    let shared = json!({"grants": ["log", "inventory"], "read": ["service-desk.tickets"]});
    assert!(section().contains("read = [\"service-desk.tickets\"]"));
    s.grant("other", fixtures_grant(shared)).await;
    let (status, body) = count().await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(serde_json::from_str::<Value>(&body).unwrap()["total"], 1);
}

#[test]
fn plugin_check_shows_the_declared_collections_and_envelope() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("config.toml");
    std::fs::write(
        &config,
        "[plugins.service-desk]\nrole = \"endpoint\"\ngrants = [\"inventory\"]\n",
    )
    .unwrap();
    let out = std::process::Command::new(BIN)
        .args(["plugin", "check", "--role", "endpoint", "--config"])
        .arg(&config)
        .arg(std::path::Path::new(PLUGINS).join("service_desk.wasm"))
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}");
    assert!(
        stdout.contains("collection service-desk.tickets"),
        "{stdout}"
    );
    assert!(stdout.contains("errors `{ok: false, error}`"), "{stdout}");
}
