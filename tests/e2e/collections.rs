//! Collections declared by plugins (#18): the `notes` test plugin owns
//! `notes.notes` with a secret field. Rows are per organisation, the secret
//! is sealed in the database (the file on SQLite, every row on PostgreSQL), an added field migrates with rows kept, a
//! dropped field is refused with one sentence and changes nothing, another
//! plugin reads the rows only once the admin API grants it (no restart), and
//! the host answers the plugin's routes in the envelope the plugin declares.

use serde_json::{json, Value};

use crate::common::*;

const CONFIG: &str = "default-deadline-ms = 5000\n";

async fn post_note(s: &Server, key: &str, note: Value) -> (u16, Value) {
    let r = s
        .http
        .post(s.url("/notes"))
        .bearer_auth(key)
        .json(&note)
        .send()
        .await
        .unwrap();
    (r.status().as_u16(), r.json().await.unwrap_or(Value::Null))
}

async fn notes(s: &Server, key: &str) -> Value {
    let r = s
        .http
        .get(s.url("/notes"))
        .bearer_auth(key)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
    r.json().await.unwrap()
}

async fn count(s: &Server, key: &str, collection: &str) -> (u16, String) {
    let r = s
        .http
        .get(s.url(&format!("/fixtures/records/{collection}")))
        .bearer_auth(key)
        .send()
        .await
        .unwrap();
    (r.status().as_u16(), r.text().await.unwrap())
}

/// A server with no built-in plugins under `config`, running version 2 of
/// the `notes` plugin (granted `inventory`).
async fn with_notes(config: &'static str) -> Server {
    let s = Server::with(Options {
        config,
        plugins: vec![],
        ..Options::default()
    });
    s.grant(
        "notes",
        json!({"grants": ["inventory"], "public-routes": ["/notes/version"]}),
    )
    .await;
    let (status, body) = s.admin_put("notes", "notes_v2.wasm").await;
    assert_eq!(status, 200, "{body}");
    s
}

fn contains(haystack: &[u8], needle: &str) -> bool {
    haystack
        .windows(needle.len())
        .any(|w| w == needle.as_bytes())
}

#[tokio::test(flavor = "multi_thread")]
async fn a_plugin_owns_migrates_and_shares_its_collections() {
    let mut s = Server::with(Options {
        config: CONFIG,
        plugins: vec![],
        ..Options::default()
    });
    let acme = s.key("acme", "bearer");
    let beta = s.key("beta", "bearer");

    // The owner needs `inventory`, and no storage grant for its own rows.
    s.grant(
        "notes",
        json!({"grants": ["inventory"], "public-routes": ["/notes/version"]}),
    )
    .await;
    let (status, body) = s.admin_put("notes", "notes_v1.wasm").await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["collections"], json!(["notes.notes"]));
    assert_eq!(body["envelope"], "`{ok: false, reason}`");

    let (status, body) =
        post_note(&s, &acme, json!({"title": "a1", "token": "tok-acme-7f3a"})).await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(body["data"]["token"], "******", "{body}");
    let acme_id = body["data"]["id"].as_str().unwrap().to_string();
    let (status, _) = post_note(&s, &beta, json!({"title": "b1", "token": "tok-beta-91c2"})).await;
    assert_eq!(status, 201);
    // Unique per organisation: beta may reuse acme's title, acme may not.
    let (status, _) = post_note(&s, &beta, json!({"title": "a1"})).await;
    assert_eq!(status, 201);
    let (status, body) = post_note(&s, &acme, json!({"title": "a1"})).await;
    assert_eq!(status, 400);
    assert_eq!(body["ok"], false);
    assert!(
        body["reason"].as_str().unwrap().contains("`title`"),
        "{body}"
    );

    // Each organisation sees its own rows only.
    let a = notes(&s, &acme).await;
    assert_eq!(a["data"]["total"], 1, "{a}");
    assert_eq!(a["data"]["rows"][0]["title"], "a1");
    let b = notes(&s, &beta).await;
    assert_eq!(b["data"]["total"], 2, "{b}");
    assert!(!b.to_string().contains(&acme_id));

    // The secret is sealed in the file, and the host's capabilities open it.
    let bytes = s.stored_bytes().await;
    assert!(!bytes.is_empty());
    assert!(!contains(&bytes, "tok-acme-7f3a"));
    assert!(!contains(&bytes, "tok-beta-91c2"));
    let store = s.store().await;
    assert_eq!(
        store
            .reveal("acme", "notes.notes", &acme_id, "token")
            .await
            .unwrap()
            .as_deref(),
        Some("tok-acme-7f3a")
    );
    drop(store);

    // The host's own answers use the envelope the plugin declared.
    let r = s.http.get(s.url("/notes")).send().await.unwrap();
    assert_eq!(r.status().as_u16(), 401);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["ok"], false, "{body}");
    assert!(body["reason"].is_string(), "{body}");
    assert!(body.get("error").is_none(), "{body}");

    // v2 adds an optional field: applied on upload, rows kept.
    let (status, body) = s.admin_put("notes", "notes_v2.wasm").await;
    assert_eq!(status, 200, "{body}");
    let a = notes(&s, &acme).await;
    assert_eq!(a["data"]["total"], 1);
    assert_eq!(a["data"]["rows"][0]["id"], acme_id.as_str());
    assert_eq!(a["data"]["rows"][0]["tag"], Value::Null);
    let (status, body) = post_note(&s, &acme, json!({"title": "a2", "tag": "blue"})).await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(body["data"]["tag"], "blue");

    // v3 drops the secret field: refused with one sentence, nothing changes.
    let (status, body) = s.admin_put("notes", "notes_v3.wasm").await;
    assert_eq!(status, 422, "{body}");
    assert_eq!(
        body["error"],
        "version 3.0.0 of plugin `notes` drops field `notes.token`; that would lose or break stored rows, so it is refused"
    );
    let (_, v) = s.get("/notes/version").await;
    assert_eq!(v["version"], "2.0.0");
    assert_eq!(notes(&s, &acme).await["data"]["total"], 2);

    // Another plugin is denied the rows until a grant names them, then
    // reads them at once (no restart); writing still needs `write`.
    s.grant(
        "stranger",
        fixtures_grant(json!({"grants": ["log", "inventory"]})),
    )
    .await;
    let (status, body) = s.admin_put("stranger", "fixtures.wasm").await;
    assert_eq!(status, 200, "{body}");
    let (status, body) = count(&s, &acme, "notes.notes").await;
    assert_eq!(status, 400, "{body}");
    assert!(
        body.contains("denied: plugin `stranger` may not read collection `notes.notes`"),
        "{body}"
    );
    // Its short name means nothing to another plugin.
    let (status, _) = count(&s, &acme, "notes").await;
    assert_ne!(status, 200);
    s.grant(
        "stranger",
        fixtures_grant(json!({"grants": ["log", "inventory"], "read": ["notes.notes"]})),
    )
    .await;
    let (status, body) = count(&s, &acme, "notes.notes").await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(serde_json::from_str::<Value>(&body).unwrap()["total"], 2);
    let (status, body) = s
        .fixtures_record(&acme, "notes.notes", json!({"title": "x"}))
        .await;
    assert_eq!(status, 400, "{body}");
    assert!(
        body.contains("may not write collection `notes.notes`"),
        "{body}"
    );
    assert_eq!(notes(&s, &acme).await["data"]["total"], 2);

    // A restart knows the schema and the active version.
    s.stop();
    s.launch();
    let a = notes(&s, &acme).await;
    assert_eq!(a["data"]["total"], 2, "{a}");
    let (_, v) = s.get("/notes/version").await;
    assert_eq!(v["version"], "2.0.0");
    // A rollback to v1 keeps the larger schema and every row.
    let r = s
        .http
        .post(s.url("/admin/plugins/notes/rollback"))
        .bearer_auth(ADMIN)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 200, "{}", r.text().await.unwrap());
    let (_, v) = s.get("/notes/version").await;
    assert_eq!(v["version"], "1.0.0");
    let a = notes(&s, &acme).await;
    assert_eq!(a["data"]["total"], 2, "{a}");
    assert_eq!(a["data"]["rows"][1]["tag"], "blue");
}

/// The API areas own their collections: the built-in plugins declare what
/// the host kept for them before (handed over when the store opened) and
/// their envelopes, and uploading the same kboss again is no schema change.
#[tokio::test(flavor = "multi_thread")]
async fn the_built_in_areas_own_their_collections_and_envelopes() {
    let s = Server::start();
    let (status, body) = s.get_admin("/admin/plugins").await;
    assert_eq!(status, 200);
    let plugin = |id: &str| {
        body["plugins"]
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["id"] == id)
            .cloned()
            .unwrap()
    };
    assert_eq!(
        plugin("kboss")["collections"],
        json!([
            "kboss.labels",
            "kboss.widgets",
            "kboss.widget_stock",
            "kboss.pod_configs"
        ])
    );
    assert_eq!(
        plugin("alaya")["collections"],
        json!(["alaya.training_instances", "alaya.training_ports"])
    );
    assert_eq!(
        plugin("ief")["collections"],
        json!(["ief.ief_projects", "ief.ief_deployments"])
    );
    assert_eq!(plugin("pcapi")["collections"], json!([]));
    assert_eq!(plugin("kboss")["envelope"], "`{status: false, msg}`");
    assert_eq!(
        plugin("pcapi")["envelope"],
        "`{status: false, info, data: \"\"}`"
    );
    assert_eq!(
        plugin("ief")["envelope"],
        "`{error_code: <code>, error_msg}`"
    );
    // The tables carry the owners' names; no bare one is left.
    let tables = s.table_names().await;
    assert!(tables.contains(&"kboss.widgets".to_string()), "{tables:?}");
    assert!(!tables.contains(&"widgets".to_string()), "{tables:?}");
    // The same declaration again is accepted as an upgrade with no change.
    let (status, body) = s.admin_put("kboss", "kboss.wasm").await;
    assert_eq!(status, 200, "{body}");
    // The host answers IEF's routes in IEF's declared envelope.
    let r = s
        .http
        .get(s.url("/v3/p1/edgemgr/pods"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 401);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["error_code"], "IEF.000401", "{body}");
}

/// A tenant cannot make the host hold an unbounded page: rows whose text
/// (a field without an index has no bound of its own) adds up past the
/// store's answer budget (32 MiB) are refused to the plugin that asked, in
/// its own envelope, before they are read into the host or the plugin; a
/// smaller page of the same rows is read.
#[tokio::test(flavor = "multi_thread")]
async fn a_page_past_the_answer_budget_is_refused_not_held() {
    let s = with_notes(CONFIG).await;
    let acme = s.key("acme", "bearer");
    // Twelve notes of 3 MiB each: 36 MiB in all, each one well within a
    // request body and what the plugin can hold.
    let tag = "x".repeat(3 << 20);
    for i in 0..12 {
        let (status, body) =
            post_note(&s, &acme, json!({"title": format!("big{i}"), "tag": tag})).await;
        assert_eq!(status, 201, "note {i}: {}", body["reason"]);
    }
    let r = s
        .http
        .get(s.url("/notes"))
        .bearer_auth(&acme)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 400);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["ok"], false, "{body}");
    assert!(
        body["reason"].as_str().is_some_and(
            |m| m.contains("the rows asked for hold more than 32 MiB: read fewer at a time")
        ),
        "{body}"
    );

    // The host's own reads have no budget: an export holds every note.
    let out = tempfile::tempdir().unwrap();
    let file = out.path().join("store.jsonl");
    let key = s.data().join("seal.key");
    let o = match &s.database {
        Some(url) => crate::transfer::run(
            &["export", "--database", url],
            &[("--out", &file)],
            Some(&key),
        ),
        None => crate::transfer::run(
            &["export"],
            &[("--data-dir", &s.data()), ("--out", &file)],
            None,
        ),
    };
    assert!(o.status.success(), "{}", crate::transfer::text(&o));
    let exported = std::fs::metadata(&file).unwrap().len();
    assert!(exported > 12 * (3 << 20), "{exported} bytes");

    // A page of one of the same rows is read (another plugin granted them
    // counts them so).
    s.grant(
        "stranger",
        fixtures_grant(json!({"grants": ["log", "inventory"], "read": ["notes.notes"]})),
    )
    .await;
    let (status, body) = s.admin_put("stranger", "fixtures.wasm").await;
    assert_eq!(status, 200, "{body}");
    let (status, body) = count(&s, &acme, "notes.notes").await;
    assert_eq!(status, 200, "{}", &body[..body.len().min(300)]);
    assert_eq!(serde_json::from_str::<Value>(&body).unwrap()["total"], 12);
}

/// An organisation's records are bounded by the operator's quota
/// (`storage-quota-mib`): past it, the plugin's write is refused in its own
/// envelope with the reason and nothing is stored, while another
/// organisation still writes; `GET /admin/storage` shows each
/// organisation's bytes by collection, to the admin token only, and
/// `PUT /admin/storage/{org}` gives one organisation a quota of its own.
#[tokio::test(flavor = "multi_thread")]
async fn an_organisation_past_its_storage_quota_is_refused_in_the_plugin_envelope() {
    let s = with_notes("default-deadline-ms = 5000\nstorage-quota-mib = 1\n").await;
    let acme = s.key("acme", "bearer");
    let other = s.key("other", "bearer");
    let tag = "q".repeat(300 << 10);
    for i in 0..3 {
        let (status, body) =
            post_note(&s, &acme, json!({"title": format!("n{i}"), "tag": tag})).await;
        assert_eq!(status, 201, "note {i}: {body}");
    }
    let (status, body) = post_note(&s, &acme, json!({"title": "n3", "tag": tag})).await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["ok"], false, "{body}");
    let reason = body["reason"].as_str().unwrap_or_default();
    assert!(
        reason.contains("organisation `acme` would store") && reason.contains("quota of 1 MiB"),
        "{body}"
    );
    let titles: Vec<String> = notes(&s, &acme).await["data"]["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["title"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(titles.len(), 3, "{titles:?}");
    assert!(!titles.contains(&"n3".to_string()));
    let (status, body) = post_note(&s, &other, json!({"title": "o", "tag": tag})).await;
    assert_eq!(status, 201, "{body}");

    let (status, body) = s.get_admin("/admin/storage?org=acme").await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["quota_bytes"], 1 << 20);
    let orgs = body["organisations"].as_array().unwrap();
    assert_eq!(orgs.len(), 1, "{body}");
    assert_eq!(orgs[0]["organisation"], "acme");
    let bytes = orgs[0]["bytes"].as_u64().unwrap();
    assert!((3 * (300 << 10)..=1 << 20).contains(&bytes), "{body}");
    assert_eq!(
        orgs[0]["collections"][0]["collection"], "notes.notes",
        "{body}"
    );
    let (status, body) = s.get_admin("/admin/storage").await;
    assert_eq!(status, 200, "{body}");
    let names: Vec<&str> = body["organisations"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|o| o["organisation"].as_str())
        .collect();
    assert_eq!(names, ["acme", "other"], "{body}");
    let (status, _) = s.get("/admin/storage").await;
    assert_eq!(status, 401);

    // The operator gives `acme` a quota of its own: the refused note now
    // goes in; back to the default, the next one is refused again.
    let (status, body) = put_quota(&s, "acme", json!({"quota_mib": 2})).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["quota_bytes"], 2 << 20);
    assert_eq!(body["quota_set"], true);
    let (status, body) = post_note(&s, &acme, json!({"title": "n3", "tag": tag})).await;
    assert_eq!(status, 201, "{body}");
    for bad in [
        json!({"quota_mib": "lots"}),
        json!({}),
        json!({"quota_mib": -1}),
    ] {
        let (status, body) = put_quota(&s, "acme", bad.clone()).await;
        assert_eq!(status, 400, "{bad}: {body}");
    }
    let (_, body) = s.get_admin("/admin/storage/acme").await;
    assert_eq!(
        body["quota_bytes"],
        2 << 20,
        "a refused change changes nothing"
    );
    let (status, body) = put_quota(&s, "acme", json!({"quota_mib": null})).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        (body["quota_bytes"].clone(), body["quota_set"].clone()),
        (json!(1 << 20), json!(false))
    );
    let (status, body) = post_note(&s, &acme, json!({"title": "n4", "tag": "t"})).await;
    assert_eq!(status, 400, "{body}");

    // Figures gone wrong (here by hand; after a rolling upgrade, by a
    // replica of a version without them) are counted again on request.
    let (_, right) = s.get_admin("/admin/storage").await;
    s.store()
        .await
        .db()
        .execute("UPDATE stored_bytes SET bytes = 0", vec![])
        .await
        .unwrap();
    let (_, wrong) = s.get_admin("/admin/storage").await;
    assert_eq!(wrong["organisations"], json!([]));
    let (status, recounted) = s
        .admin_json(reqwest::Method::POST, "/admin/storage", None)
        .await;
    assert_eq!(status, 200);
    assert_eq!(recounted, right);
}

async fn put_quota(s: &Server, org: &str, body: Value) -> (u16, Value) {
    let path = format!("/admin/storage/{org}");
    s.admin_json(reqwest::Method::PUT, &path, Some(&body)).await
}
