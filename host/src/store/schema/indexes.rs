//! The indexes of plugin collections: unique keys, and indexes in page
//! order for declared indexes and reference fields (stop 27), with what an
//! existing table lacks of them.

use std::collections::BTreeMap;

use super::CollectionDecl;
use crate::store::collections::{FieldKind, INDEXED_TEXT_BUDGET};
use crate::store::db::{params, Dialect, Executor};
use crate::store::StoreError;

/// A unique key: `UNIQUE (org_id, fields..)`.
pub(super) fn unique_sql(d: Dialect, table: &str, fields: &[String]) -> String {
    format!(
        "CREATE UNIQUE INDEX IF NOT EXISTS \"{}\" ON \"{table}\" (org_id, {})",
        index_name(d, table, 'u', fields),
        columns(fields)
    )
}

/// An index in page order: `(org_id, fields.., created_at, id)`. Every
/// query ends its ordering with `created_at, id`, so a page filtered on
/// these fields is read in index order and stops at its limit, where an
/// index on the fields alone would have the database sort every matching
/// row first (a page of 20 out of 100,000 rows under one parent).
pub(super) fn ordered_sql(d: Dialect, table: &str, fields: &[String]) -> String {
    format!(
        "CREATE INDEX IF NOT EXISTS \"{}\" ON \"{table}\" (org_id, {}, created_at, id)",
        index_name(d, table, 'o', fields),
        columns(fields)
    )
}

/// The name of `table`'s index of `kind` (`u` unique, `o` in page order,
/// `i` the declared indexes without page order of hosts before stop 27).
pub(super) fn index_name(d: Dialect, table: &str, kind: char, fields: &[String]) -> String {
    d.index_name(&format!("{table}.{kind}.{}", fields.join(".")))
}

fn columns(fields: &[String]) -> String {
    let cols: Vec<String> = fields.iter().map(|f| format!("\"{f}\"")).collect();
    cols.join(", ")
}

/// Every unique key of `d`, single-field unique fields included.
pub(super) fn unique_keys(d: &CollectionDecl) -> Vec<Vec<String>> {
    let mut out: Vec<Vec<String>> = d
        .fields
        .iter()
        .filter(|f| f.unique)
        .map(|f| vec![f.name.clone()])
        .collect();
    out.extend(d.unique_keys.iter().cloned());
    out
}

/// The indexes of `d` in page order: each declared index, and each
/// reference field on its own (a plugin lists a parent's rows by it).
pub(super) fn ordered_keys(d: &CollectionDecl) -> Vec<Vec<String>> {
    let mut out = d.indexes.clone();
    for f in d.fields.iter().filter(|f| f.references.is_some()) {
        let key = vec![f.name.clone()];
        if !out.contains(&key) {
            out.push(key);
        }
    }
    out
}

/// The most bytes a text value of each indexed field of `d` may hold: the
/// [`INDEXED_TEXT_BUDGET`] shared by the text fields (references aside, which
/// hold row ids) of the widest index the field is in. Fields in no index
/// are not listed.
pub(super) fn text_limits(d: &CollectionDecl) -> BTreeMap<String, u32> {
    let is_text = |name: &str| {
        d.fields.iter().any(|f| {
            f.name == name
                && matches!(f.kind, FieldKind::Text | FieldKind::Timestamp)
                && f.references.is_none()
        })
    };
    let mut out = BTreeMap::new();
    for key in unique_keys(d).iter().chain(&ordered_keys(d)) {
        let texts: Vec<&String> = key.iter().filter(|f| is_text(f)).collect();
        let Ok(n) = u32::try_from(texts.len()) else {
            continue;
        };
        for f in texts {
            let share = INDEXED_TEXT_BUDGET / n;
            out.entry(f.clone())
                .and_modify(|m: &mut u32| *m = (*m).min(share))
                .or_insert(share);
        }
    }
    out
}

/// What an existing table of `d` lacks of its indexes in page order, and
/// the indexes they replace that it still has (a table made by a host
/// before stop 27 gets them on the plugin's first load after the upgrade).
/// Only what is missing: a load that changes nothing runs no DDL, which on
/// PostgreSQL would hold the table against writes until the load commits.
pub(super) async fn missing_ordered(
    ex: &mut dyn Executor,
    dialect: Dialect,
    table: &str,
    d: &CollectionDecl,
) -> Result<Vec<String>, StoreError> {
    let sql = match dialect {
        Dialect::Sqlite => "SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = ?1",
        Dialect::Postgres => {
            "SELECT indexname FROM pg_indexes WHERE schemaname = current_schema() AND tablename = ?1"
        }
    };
    let have = ex
        .query(sql, params![table])
        .await?
        .into_iter()
        .map(|r| r.get::<String>(0))
        .collect::<Result<Vec<_>, _>>()?;
    let mut out: Vec<String> = ordered_keys(d)
        .iter()
        .filter(|k| !have.contains(&index_name(dialect, table, 'o', k)))
        .map(|k| ordered_sql(dialect, table, k))
        .collect();
    out.extend(
        d.indexes
            .iter()
            .map(|k| index_name(dialect, table, 'i', k))
            .filter(|name| have.contains(name))
            .map(|name| format!("DROP INDEX \"{name}\"")),
    );
    Ok(out)
}
