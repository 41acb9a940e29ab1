//! The audit log: every state-changing call (any method but GET, HEAD and
//! OPTIONS; API and admin alike) is recorded in the store with who (the
//! caller's organisation, key id and scheme, or `admin`, and the client
//! address), what (method, route template, path, plugin version), when and
//! the outcome (status), under its request id. Never a secret: no query, no
//! body, no header. Operators read it at `GET /admin/audit` (newest first,
//! paged with `limit`/`offset`, filtered by `org`, `route`, `status`).

use http::Method;
use serde::Serialize;

use crate::store::db::params;

use crate::store::{records::now, Store, StoreError};

/// Who made a call, as the server learned it.
#[derive(Debug, Clone, Default)]
pub struct Caller {
    pub organisation: Option<String>,
    pub key_id: Option<String>,
    pub scheme: Option<&'static str>,
}

/// One recorded call.
#[derive(Debug, Clone, Serialize)]
pub struct Entry {
    pub seq: i64,
    pub at: String,
    pub request_id: String,
    pub organisation: Option<String>,
    pub key_id: Option<String>,
    pub scheme: Option<String>,
    pub client: String,
    pub method: String,
    pub route: String,
    pub path: String,
    pub plugin: String,
    pub status: u16,
}

/// Whether a call of `method` changes state (and is audited).
pub fn changes_state(method: &Method) -> bool {
    !matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS)
}

/// Whether the request carries credentials of any scheme (checked or not).
pub fn presents_credentials(headers: &http::HeaderMap) -> bool {
    [
        http::header::AUTHORIZATION,
        http::header::COOKIE,
        http::HeaderName::from_static("x-auth-token"),
    ]
    .iter()
    .any(|h| headers.contains_key(h))
}

/// Whether a state-changing call gets a row: always when its caller was
/// identified; when not, only a refusal of the credentials it presented
/// at a route that exists (an attempt on someone's account). Calls that
/// presented nothing, and paths no route serves, change nothing and can be
/// sent by anyone without bound: they are in the access log only.
pub(super) fn worth_a_row(
    caller: &Caller,
    to: &super::Counted,
    presented: bool,
    status: u16,
) -> bool {
    if caller.organisation.is_some() || caller.key_id.is_some() {
        return true;
    }
    presented && !matches!(to, super::Counted::Unmatched) && matches!(status, 401 | 403)
}

/// The longest path kept in a row (longer ones are cut at a character
/// boundary and end in `…`).
const MAX_PATH: usize = 1024;

fn clipped(path: &str) -> std::borrow::Cow<'_, str> {
    if path.len() <= MAX_PATH {
        return path.into();
    }
    let mut end = MAX_PATH;
    while !path.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &path[..end]).into()
}

/// What is recorded of one call.
pub struct Record<'a> {
    pub request_id: &'a str,
    pub caller: &'a Caller,
    pub client: &'a str,
    pub method: &'a str,
    pub route: &'a str,
    pub path: &'a str,
    pub plugin: &'a str,
    pub status: u16,
}

/// Record one call.
pub async fn record(store: &Store, r: &Record<'_>) -> Result<(), StoreError> {
    store.db().execute(
        "INSERT INTO audit_log (at, request_id, org_id, key_id, scheme, client, method, route, path, plugin, status)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
        params![
            now(),
            r.request_id,
            &r.caller.organisation,
            &r.caller.key_id,
            r.caller.scheme,
            r.client,
            r.method,
            r.route,
            &*clipped(r.path),
            r.plugin,
            r.status
        ],
    )
    .await?;
    Ok(())
}

/// What `GET /admin/audit` asks for.
#[derive(Debug, Default)]
pub struct Filter {
    pub org: Option<String>,
    pub route: Option<String>,
    pub status: Option<u16>,
    pub limit: u32,
    pub offset: u32,
}

/// Entries matching `f`, newest first, and how many match in all.
pub async fn query(store: &Store, f: &Filter) -> Result<(Vec<Entry>, i64), StoreError> {
    let db = store.db();
    // The casts give PostgreSQL each parameter's type: from `?1 IS NULL`
    // alone it cannot tell, and refuses to prepare the statement.
    let filter = "(CAST(?1 AS TEXT) IS NULL OR org_id = ?1) \
        AND (CAST(?2 AS TEXT) IS NULL OR route = ?2) \
        AND (CAST(?3 AS INTEGER) IS NULL OR status = ?3)";
    let total: i64 = db
        .query_opt(
            &format!("SELECT COUNT(*) FROM audit_log WHERE {filter}"),
            params![
                f.org.as_deref(),
                f.route.as_deref(),
                f.status.map(u32::from)
            ],
        )
        .await?
        .map(|r| r.get(0))
        .transpose()?
        .unwrap_or(0);
    let rows = db
        .query(
            &format!(
                "SELECT seq, at, request_id, org_id, key_id, scheme, client, method, route, path, plugin, status
                 FROM audit_log WHERE {filter} ORDER BY seq DESC LIMIT ?4 OFFSET ?5"
            ),
            params![
                f.org.as_deref(),
                f.route.as_deref(),
                f.status.map(u32::from),
                f.limit,
                f.offset
            ],
        )
        .await?
        .into_iter()
        .map(|mut r| -> Result<_, StoreError> {
            Ok(Entry {
                seq: r.take(0)?,
                at: r.take(1)?,
                request_id: r.take(2)?,
                organisation: r.take(3)?,
                key_id: r.take(4)?,
                scheme: r.take(5)?,
                client: r.take(6)?,
                method: r.take(7)?,
                route: r.take(8)?,
                path: r.take(9)?,
                plugin: r.take(10)?,
                status: u16::try_from(r.take::<i64>(11)?).unwrap_or_default(),
            })
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok((rows, total))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::Sealer;

    /// Two calls recorded, then read back through every filter.
    async fn filters_on(store: Store) {
        let acme = Caller {
            organisation: Some("acme".into()),
            key_id: Some("k1".into()),
            scheme: Some("bearer"),
        };
        let admin = Caller::default();
        for (caller, route, status) in [(&acme, "/a/{id}", 200), (&admin, "/admin/keys", 201)] {
            record(
                &store,
                &Record {
                    request_id: "r",
                    caller,
                    client: "127.0.0.1",
                    method: "POST",
                    route,
                    path: route,
                    plugin: "p",
                    status,
                },
            )
            .await
            .unwrap();
        }
        let page = |org: Option<&str>, route: Option<&str>, status: Option<u16>| Filter {
            org: org.map(String::from),
            route: route.map(String::from),
            status,
            limit: 10,
            offset: 0,
        };
        let routes = |(rows, total): (Vec<Entry>, i64)| {
            (total, rows.into_iter().map(|e| e.route).collect::<Vec<_>>())
        };
        let q = |f: Filter| {
            let store = &store;
            async move { routes(query(store, &f).await.unwrap()) }
        };
        assert_eq!(
            q(page(None, None, None)).await,
            (2, vec!["/admin/keys".into(), "/a/{id}".into()])
        );
        assert_eq!(
            q(page(Some("acme"), None, None)).await,
            (1, vec!["/a/{id}".into()])
        );
        assert_eq!(
            q(page(None, Some("/admin/keys"), None)).await,
            (1, vec!["/admin/keys".into()])
        );
        assert_eq!(
            q(page(None, None, Some(200))).await,
            (1, vec!["/a/{id}".into()])
        );
        assert_eq!(
            q(page(Some("acme"), Some("/admin/keys"), None)).await,
            (0, vec![])
        );
    }

    #[tokio::test]
    async fn the_audit_log_filters_on_sqlite() {
        filters_on(Store::in_memory(Sealer::from_key(&[5; 32])).await.unwrap()).await;
    }

    /// PostgreSQL cannot type a parameter from `?1 IS NULL` alone; every
    /// filtered read failed there until the parameters were cast.
    #[tokio::test]
    async fn the_audit_log_filters_on_postgres() {
        let store =
            Store::open_postgres(&pgtest::database(), 2, Sealer::from_key(&[5; 32]), "test")
                .await
                .unwrap();
        filters_on(store).await;
    }
}
