//! A plugin made with `computehub plugin new` (outside the repository, with
//! its vendored SDK) owns its data: it declares a collection with a secret
//! field, stores rows for two organisations (isolated, the secret sealed in
//! the database file), is upgraded with an added field (rows kept), is
//! refused with one sentence when a version drops a field; another plugin is
//! denied its rows until a grant through the admin API, which takes effect
//! without a restart.

use std::path::Path;
use std::process::Command;

use serde_json::{json, Value};

use crate::common::{fixtures_grant, Options, Server, ADMIN, BIN};

/// The plugin's code at a version: `tag` adds the optional field, `token`
/// keeps the secret field.
fn source(version: &str, token: bool, tag: bool) -> String {
    let mut fields = String::from(".unique(\"title\", Kind::Text)");
    if token {
        fields.push_str(".field(\"token\", Kind::Secret)");
    }
    if tag {
        fields.push_str(".field(\"tag\", Kind::Text)");
    }
    format!(
        r#"//! `notebook`: notes per organisation, a sealed token each.
use computehub_sdk::declare::{{collection, envelopes, CollectionDecl, Envelope, Kind}};
use computehub_sdk::inventory::{{self, RowQuery, Value}};
use computehub_sdk::prelude::*;
use serde_json::json;

struct Notebook;

impl computehub_sdk::declarations::Guest for Notebook {{
    fn collections() -> Vec<CollectionDecl> {{
        vec![collection("notes"){fields}.into()]
    }}
    fn error_envelope() -> Option<Envelope> {{
        Some(envelopes::flag("ok", "error"))
    }}
}}

impl Plugin for Notebook {{
    fn describe() -> PluginInfo {{
        plugin_info("notebook", "{version}", ErrorFormat::Plain, [
            route::post("/notebook", AuthScheme::Bearer),
            route::get("/notebook", AuthScheme::Bearer),
            route::get("/notebook/version", AuthScheme::None),
        ])
    }}

    fn handle(req: Request) -> Response {{
        serve(&req).unwrap_or_else(|e| {{
            response::json(e.status(), &json!({{ "ok": false, "error": e.to_string() }}))
        }})
    }}
}}

fn serve(req: &Request) -> Result<Response, ApiError> {{
    match (req.method, req.route.as_str()) {{
        (Method::Get, "/notebook/version") => Ok(response::json(200, &json!({{ "version": "{version}" }}))),
        (Method::Post, "/notebook") => {{
            let p = req.params()?;
            let mut fields = vec![inventory::field("title", p.required_str("title")?)];
            for name in ["token", "tag"] {{
                if let Some(v) = p.optional_str(name)? {{
                    let v = if name == "token" {{ Value::secret(v) }} else {{ Value::from(v) }};
                    fields.push(inventory::field(name, v));
                }}
            }}
            let row = inventory::insert("notes", &fields)?;
            Ok(response::json(201, &json!({{ "ok": true, "data": inventory::row_json(&row) }})))
        }}
        (Method::Get, "/notebook") => {{
            let page = inventory::query("notes", &RowQuery::new().order("title", false))?;
            let rows: Vec<_> = page.rows.iter().map(inventory::row_json).collect();
            Ok(response::json(200, &json!({{ "ok": true, "total": page.total, "rows": rows }})))
        }}
        _ => Err(ApiError::NotFound("no such route".into())),
    }}
}}

export_plugin!(Notebook);
computehub_sdk::export_declarations!(Notebook);
"#
    )
}

/// One `plugin dev --once` round of `krate`: (succeeded, output).
fn dev_once(server: &Server, krate: &Path) -> (bool, String) {
    let target = Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/wasm");
    let out = Command::new(BIN)
        .args(["plugin", "dev"])
        .arg(krate)
        .args([
            "--server",
            &server.base,
            "--admin-token",
            ADMIN,
            "--target-dir",
        ])
        .arg(target)
        .args(["--release", "--once"])
        .env_remove("COMPUTEHUB_ADMIN_TOKEN")
        .output()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

async fn post(s: &Server, key: &str, form: &[(&str, &str)]) -> (u16, Value) {
    let r = s
        .http
        .post(s.url("/notebook"))
        .bearer_auth(key)
        .form(form)
        .send()
        .await
        .unwrap();
    (r.status().as_u16(), r.json().await.unwrap_or(Value::Null))
}

async fn list(s: &Server, key: &str) -> Value {
    let r = s
        .http
        .get(s.url("/notebook"))
        .bearer_auth(key)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
    r.json().await.unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_plugin_from_plugin_new_owns_migrates_and_shares_its_data() {
    let s = Server::with(Options {
        config: "default-deadline-ms = 5000\n",
        plugins: vec![],
        ..Options::default()
    });
    let outside = tempfile::tempdir().unwrap();
    let made = Command::new(BIN)
        .args(["plugin", "new", "notebook", "--kind", "endpoint", "--dir"])
        .arg(outside.path())
        .output()
        .unwrap();
    assert!(made.status.success(), "{made:?}");
    let krate = outside.path().join("notebook");
    let lib = krate.join("src/lib.rs");
    std::fs::write(&lib, source("1.0.0", true, false)).unwrap();

    // The data capability is granted through the admin API: no restart.
    s.grant(
        "notebook",
        json!({"grants": ["inventory"], "public-routes": ["/notebook/version"]}),
    )
    .await;
    let (ok, out) = dev_once(&s, &krate);
    assert!(ok, "{out}");
    let acme = s.key("acme", "bearer");
    let beta = s.key("beta", "bearer");
    let (status, body) = post(&s, &acme, &[("title", "a"), ("token", "nb-acme-3f9e")]).await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(body["data"]["token"], "******");
    let id = body["data"]["id"].as_str().unwrap().to_string();
    let (status, _) = post(&s, &beta, &[("title", "b"), ("token", "nb-beta-77a0")]).await;
    assert_eq!(status, 201);
    assert_eq!(list(&s, &acme).await["total"], 1);
    assert_eq!(list(&s, &beta).await["rows"][0]["title"], "b");
    let bytes = s.stored_bytes().await;
    assert!(!bytes.is_empty());
    assert!(!bytes.windows(12).any(|w| w == b"nb-acme-3f9e"));
    let store = s.store().await;
    let token = store
        .reveal("acme", "notebook.notes", &id, "token")
        .await
        .unwrap();
    assert_eq!(token.as_deref(), Some("nb-acme-3f9e"));
    drop(store);

    // v2 adds an optional field: live, rows kept.
    std::fs::write(&lib, source("2.0.0", true, true)).unwrap();
    let (ok, out) = dev_once(&s, &krate);
    assert!(ok, "{out}");
    let (status, body) = post(&s, &acme, &[("title", "c"), ("tag", "red")]).await;
    assert_eq!(status, 201, "{body}");
    let a = list(&s, &acme).await;
    assert_eq!(a["total"], 2, "{a}");
    assert_eq!(a["rows"][0]["id"], id.as_str());
    assert_eq!(a["rows"][1]["tag"], "red");

    // v3 drops the secret field: refused with one sentence; v2 stays.
    std::fs::write(&lib, source("3.0.0", false, true)).unwrap();
    let (ok, out) = dev_once(&s, &krate);
    assert!(!ok, "{out}");
    assert!(
        out.contains("version 3.0.0 of plugin `notebook` drops field `notes.token`; that would lose or break stored rows, so it is refused"),
        "{out}"
    );
    let (_, v) = s.get("/notebook/version").await;
    assert_eq!(v["version"], "2.0.0");
    assert_eq!(list(&s, &acme).await["total"], 2);

    // Another plugin: denied, then granted through the admin API.
    s.grant(
        "reader",
        fixtures_grant(json!({"grants": ["log", "inventory"]})),
    )
    .await;
    let (status, body) = s.admin_put("reader", "fixtures.wasm").await;
    assert_eq!(status, 200, "{body}");
    let count = || {
        let req = s
            .http
            .get(s.url("/fixtures/records/notebook.notes"))
            .bearer_auth(&acme);
        async move {
            let r = req.send().await.unwrap();
            (r.status().as_u16(), r.text().await.unwrap())
        }
    };
    let (status, body) = count().await;
    assert_eq!(status, 400, "{body}");
    assert!(
        body.contains("may not read collection `notebook.notes`"),
        "{body}"
    );
    s.grant(
        "reader",
        fixtures_grant(json!({"grants": ["log", "inventory"], "read": ["notebook.notes"]})),
    )
    .await;
    let (status, body) = count().await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(serde_json::from_str::<Value>(&body).unwrap()["total"], 2);
}
