//! `/admin/storage`: what each organisation stores in collections
//! (`store::usage`) and the quota each may fill: the config's
//! `storage-quota-mib`, or one the operator sets for a single organisation.

use std::collections::BTreeMap;

use http::{Request, Response};
use http_body_util::{BodyExt, Limited};
use hyper::body::Incoming;
use serde_json::{json, Value};

use super::{error, org_param, store_failed};
use crate::server::reply::{self, Body};
use crate::server::App;
use crate::store::{storable, usage::Usage};

/// One organisation's figures: its bytes by collection (the largest
/// first), their sum, its quota and whether the operator set it for it.
#[derive(Default)]
struct Entry {
    bytes: u64,
    collections: Vec<Value>,
    own_quota: Option<u64>,
}

impl Entry {
    fn json(&self, org: &str, default: u64) -> Value {
        json!({
            "organisation": org,
            "bytes": self.bytes,
            "quota_bytes": self.own_quota.unwrap_or(default),
            "quota_set": self.own_quota.is_some(),
            "collections": self.collections,
        })
    }
}

/// The figures of `org` (every organisation's when `None`), by
/// organisation: those that store something or have a quota of their own.
async fn entries(app: &App, org: Option<&str>) -> Result<BTreeMap<String, Entry>, Response<Body>> {
    let usage: Vec<Usage> = app
        .store
        .stored_bytes(org)
        .await
        .map_err(|e| store_failed("reading what organisations store", e))?;
    let quotas = app
        .store
        .storage_quotas()
        .await
        .map_err(|e| store_failed("reading storage quotas", e))?;
    let mut out: BTreeMap<String, Entry> = BTreeMap::new();
    for u in usage {
        let e = out.entry(u.org).or_default();
        e.bytes += u.bytes;
        e.collections
            .push(json!({"collection": u.collection, "bytes": u.bytes}));
    }
    for (o, q) in quotas {
        if org.is_none_or(|wanted| wanted == o) {
            out.entry(o).or_default().own_quota = Some(q);
        }
    }
    Ok(out)
}

/// `GET /admin/storage[?org=ORG]`.
pub(super) async fn show(app: &App, query: Option<&str>) -> Response<Body> {
    let org = org_param(query);
    let default = app.store.storage_quota();
    if org.as_deref().is_some_and(|o| !storable(o)) {
        return reply::json(200, &json!({ "quota_bytes": default, "organisations": [] }));
    }
    match entries(app, org.as_deref()).await {
        Ok(all) => {
            let list: Vec<Value> = all.iter().map(|(o, e)| e.json(o, default)).collect();
            reply::json(
                200,
                &json!({ "quota_bytes": default, "organisations": list }),
            )
        }
        Err(r) => r,
    }
}

/// `POST /admin/storage`: every organisation's figures counted again from
/// the rows (after a rolling upgrade from a version without the count, or
/// a repair by hand); answers them as `GET` does.
pub(super) async fn recount(app: &App) -> Response<Body> {
    if let Err(e) = app.store.recount_stored_bytes().await {
        return store_failed("counting what organisations store", e);
    }
    show(app, None).await
}

/// `GET /admin/storage/{org}`: one organisation (nothing stored yet: zero).
pub(super) async fn show_one(app: &App, org: &str) -> Response<Body> {
    let default = app.store.storage_quota();
    if !storable(org) {
        return error(400, "`org` must be an organisation id");
    }
    match entries(app, Some(org)).await {
        Ok(mut all) => reply::json(200, &all.remove(org).unwrap_or_default().json(org, default)),
        Err(r) => r,
    }
}

/// The quota `PUT /admin/storage/{org}` asks for: `{"quota_mib": N}` in
/// MiB, or `{"quota_mib": null}` for the default again; the field must be
/// there (an empty object is refused, not read as `null`).
fn quota_asked(body: &[u8]) -> Option<Option<u32>> {
    let Value::Object(mut m) = serde_json::from_slice(body).ok()? else {
        return None;
    };
    let v = m.remove("quota_mib")?;
    if !m.is_empty() {
        return None;
    }
    if v.is_null() {
        return Some(None);
    }
    // A whole number, as JSON may write one (`4096`, `4096.0`).
    let n = v.as_u64().or_else(|| {
        v.as_f64()
            .filter(|f| f.fract() == 0.0 && (0.0..=f64::from(u32::MAX)).contains(f))
            .map(|f| f as u64)
    })?;
    Some(Some(u32::try_from(n).ok()?))
}

/// `PUT /admin/storage/{org}` (`{"quota_mib": N | null}`): the
/// organisation's own quota, in force for its next write; answers its
/// figures.
pub(super) async fn set_quota(app: &App, org: &str, req: Request<Incoming>) -> Response<Body> {
    let body = match Limited::new(req.into_body(), 1 << 10).collect().await {
        Ok(b) => b.to_bytes(),
        Err(_) => return error(413, "a quota request is at most 1 KiB of JSON"),
    };
    let Some(quota) = quota_asked(&body) else {
        return error(
            400,
            "the body must be {\"quota_mib\": MiB from 0 to 4294967295, or null for the default}",
        );
    };
    match app.store.set_org_storage_quota_mib(org, quota).await {
        Ok(()) => show_one(app, org).await,
        Err(crate::store::StoreError::Invalid(m)) => error(400, &format!("`org`: {m}")),
        Err(e) => store_failed("setting a storage quota", e),
    }
}
