//! `GET /operations`: the caller's organisation's operations, a page at a
//! time, with the kboss paging parameters (`page` from 1, `rows` 1-200,
//! default 20; `sort` one key, `field`, `field asc`, `field desc` or
//! `-field`, on `created_at`, `updated_at`, `kind`, `target`, `status`;
//! newest first by default) and the filters `status` and `kind`. Each row is
//! a summary: no output, the phase counts and the phase running now.

use crate::store::db::Sql as SqlValue;
use crate::store::StoreError;
use serde::Serialize;

use super::{OpError, Operations};

/// Rows of a page unless `rows` says otherwise.
pub const DEFAULT_ROWS: u32 = 20;
/// Largest page.
pub const MAX_ROWS: u32 = 200;
/// The columns `sort` may name.
pub const SORTABLE: &[&str] = &["created_at", "updated_at", "kind", "target", "status"];
const STATUSES: &[&str] = &["running", "succeeded", "failed", "interrupted"];

/// What a list asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListQuery {
    pub page: u32,
    pub rows: u32,
    pub sort: &'static str,
    pub descending: bool,
    pub status: Option<String>,
    pub kind: Option<String>,
}

impl Default for ListQuery {
    fn default() -> Self {
        ListQuery {
            page: 1,
            rows: DEFAULT_ROWS,
            sort: "created_at",
            descending: true,
            status: None,
            kind: None,
        }
    }
}

impl ListQuery {
    /// Parse a query string; the error names the parameter.
    pub fn parse(query: Option<&str>) -> Result<ListQuery, String> {
        let mut q = ListQuery::default();
        for (k, v) in url::form_urlencoded::parse(query.unwrap_or("").as_bytes()) {
            let number = |what: &str, min: u32, max: u32| {
                v.trim()
                    .parse::<u32>()
                    .ok()
                    .filter(|n| (min..=max).contains(n))
                    .ok_or_else(|| {
                        format!(
                            "parameter `{what}` must be an integer from {min} to {max}, got `{v}`"
                        )
                    })
            };
            match k.as_ref() {
                "page" => q.page = number("page", 1, u32::MAX)?,
                "rows" => q.rows = number("rows", 1, MAX_ROWS)?,
                "sort" => {
                    let text = v.trim();
                    let (field, desc) = match text.strip_prefix('-') {
                        Some(f) => (f.trim(), true),
                        None => match text.split_once(char::is_whitespace) {
                            Some((f, dir)) => match dir.trim().to_ascii_lowercase().as_str() {
                                "asc" => (f, false),
                                "desc" => (f, true),
                                _ => {
                                    return Err(format!(
                                    "parameter `sort`: the direction must be asc or desc, got `{}`",
                                    dir.trim()
                                ))
                                }
                            },
                            None => (text, false),
                        },
                    };
                    let Some(known) = SORTABLE.iter().find(|s| **s == field) else {
                        return Err(format!(
                            "parameter `sort`: `{field}` is not one of {}",
                            SORTABLE.join(", ")
                        ));
                    };
                    q.sort = known;
                    q.descending = desc;
                }
                "status" if !v.is_empty() => {
                    if !STATUSES.contains(&v.as_ref()) {
                        return Err(format!(
                            "parameter `status` must be one of {}, got `{v}`",
                            STATUSES.join(", ")
                        ));
                    }
                    q.status = Some(v.into_owned());
                }
                "kind" if v.contains('\0') => {
                    return Err("parameter `kind` may not contain a NUL character".into())
                }
                "kind" if !v.is_empty() => q.kind = Some(v.into_owned()),
                "status" | "kind" => {}
                other => {
                    return Err(format!(
                        "unknown parameter `{other}` (page, rows, sort, status, kind)"
                    ))
                }
            }
        }
        Ok(q)
    }
}

/// One operation in a list.
#[derive(Debug, Serialize)]
pub struct Summary {
    pub id: String,
    pub kind: String,
    pub target: String,
    pub plugin: String,
    pub status: String,
    pub created_at: String,
    pub updated_at: String,
    pub finished_at: Option<String>,
    pub error: Option<String>,
    /// Phases in all, and how many have ended (succeeded, failed, skipped).
    pub phases: i64,
    pub phases_done: i64,
    /// The phase running now, if any.
    pub current_phase: Option<String>,
}

/// A page and the count of all that match.
#[derive(Debug, Serialize)]
pub struct Page {
    pub total: i64,
    pub page: u32,
    pub rows: Vec<Summary>,
}

impl Operations {
    /// A page of `org`'s operations.
    pub async fn list(&self, org: &str, q: &ListQuery) -> Result<Page, OpError> {
        let mut filter = String::from("o.org_id = ?1");
        let mut args: Vec<SqlValue> = vec![SqlValue::Text(org.to_string())];
        if let Some(s) = &q.status {
            args.push(SqlValue::Text(s.clone()));
            filter.push_str(&format!(" AND o.status = ?{}", args.len()));
        }
        if let Some(k) = &q.kind {
            args.push(SqlValue::Text(k.clone()));
            filter.push_str(&format!(" AND o.kind = ?{}", args.len()));
        }
        let db = self.store.db();
        let total: i64 = db
            .query_opt(
                &format!("SELECT COUNT(*) FROM operations o WHERE {filter}"),
                args.clone(),
            )
            .await?
            .map(|r| r.get(0))
            .transpose()?
            .unwrap_or(0);
        let offset = u64::from(q.page - 1) * u64::from(q.rows);
        // `sort` is one of SORTABLE (checked when parsed): safe to name.
        let sql = format!(
            "SELECT o.id, o.kind, o.target, o.plugin, o.status, o.created_at, o.updated_at,
                    o.finished_at, o.error,
                    (SELECT COUNT(*) FROM operation_phases p WHERE p.operation_id = o.id),
                    (SELECT COUNT(*) FROM operation_phases p WHERE p.operation_id = o.id
                       AND p.status IN ('succeeded', 'failed', 'skipped')),
                    (SELECT p.name FROM operation_phases p WHERE p.operation_id = o.id
                       AND p.status = 'running' ORDER BY p.idx LIMIT 1)
             FROM operations o WHERE {filter}
             ORDER BY o.{} {}, o.id LIMIT {} OFFSET {offset}",
            q.sort,
            if q.descending { "DESC" } else { "ASC" },
            q.rows,
        );
        let rows = db
            .query(&sql, args)
            .await?
            .into_iter()
            .map(|mut r| -> Result<_, StoreError> {
                Ok(Summary {
                    id: r.take(0)?,
                    kind: r.take(1)?,
                    target: r.take(2)?,
                    plugin: r.take(3)?,
                    status: r.take(4)?,
                    created_at: r.take(5)?,
                    updated_at: r.take(6)?,
                    finished_at: r.take(7)?,
                    error: r.take(8)?,
                    phases: r.take(9)?,
                    phases_done: r.take(10)?,
                    current_phase: r.take(11)?,
                })
            })
            .collect::<Result<_, _>>()?;
        Ok(Page {
            total,
            page: q.page,
            rows,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_paging_parameters_are_read_and_refused_by_name() {
        let q = ListQuery::parse(Some("page=2&rows=5&sort=status%20asc&status=running")).unwrap();
        assert_eq!(
            (q.page, q.rows, q.sort, q.descending),
            (2, 5, "status", false)
        );
        assert_eq!(q.status.as_deref(), Some("running"));
        let q = ListQuery::parse(Some("sort=-kind")).unwrap();
        assert_eq!((q.sort, q.descending), ("kind", true));
        assert_eq!(ListQuery::parse(None).unwrap(), ListQuery::default());
        for (bad, names) in [
            ("page=0", "`page`"),
            ("rows=201", "`rows`"),
            ("sort=output", "`output`"),
            ("sort=kind%20up", "direction"),
            ("status=done", "`status`"),
            ("limit=3", "`limit`"),
        ] {
            let e = ListQuery::parse(Some(bad)).unwrap_err();
            assert!(e.contains(names), "{bad}: {e}");
        }
    }

    #[tokio::test]
    async fn a_page_is_the_organisations_own_with_phase_counts() {
        use crate::operations::{Origin, PhaseStatus};
        use crate::store::{Sealer, Store};
        let conn = rusqlite::Connection::open_in_memory().unwrap();
        let store = Store::with_connection(conn, Sealer::from_key(&[7u8; 32]))
            .await
            .unwrap();
        let o = Operations::new(std::sync::Arc::new(store));
        let origin = |org| Origin {
            org,
            plugin: "pcapi",
            request_id: "r",
        };
        let phases = vec!["a".to_string(), "b".to_string()];
        let mut ids = Vec::new();
        for i in 0..3 {
            ids.push(
                o.begin(
                    &origin("acme"),
                    "new-cluster",
                    &format!("10.0.0.{i}:22"),
                    &phases,
                )
                .await
                .unwrap(),
            );
        }
        o.begin(&origin("globex"), "new-cluster", "10.9.9.9:22", &phases)
            .await
            .unwrap();
        o.phase(&ids[0], "a", PhaseStatus::Succeeded, "")
            .await
            .unwrap();
        o.phase(&ids[0], "b", PhaseStatus::Running, "")
            .await
            .unwrap();
        o.finish(&ids[1], Ok("")).await.unwrap();

        let all = o
            .list(
                "acme",
                &ListQuery {
                    sort: "target",
                    descending: false,
                    ..Default::default()
                },
            )
            .await
            .unwrap();
        assert_eq!(all.total, 3);
        let targets: Vec<&str> = all.rows.iter().map(|r| r.target.as_str()).collect();
        assert_eq!(targets, ["10.0.0.0:22", "10.0.0.1:22", "10.0.0.2:22"]);
        assert_eq!((all.rows[0].phases, all.rows[0].phases_done), (2, 1));
        assert_eq!(all.rows[0].current_phase.as_deref(), Some("b"));
        let q = ListQuery {
            rows: 2,
            page: 2,
            sort: "target",
            descending: true,
            ..Default::default()
        };
        let second = o.list("acme", &q).await.unwrap();
        assert_eq!((second.total, second.rows.len()), (3, 1));
        assert_eq!(second.rows[0].target, "10.0.0.0:22");
        let running = ListQuery {
            status: Some("succeeded".into()),
            ..Default::default()
        };
        let done = o.list("acme", &running).await.unwrap();
        assert_eq!((done.total, done.rows[0].id.as_str()), (1, ids[1].as_str()));
        assert_eq!(
            o.list("nobody", &ListQuery::default()).await.unwrap().total,
            0
        );
    }
}
