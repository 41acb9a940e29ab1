//! What each organisation stores: bytes per organisation and collection in
//! `stored_bytes`, kept by the store's writes (`records`) inside the writing
//! transaction, and the two bounds they serve.
//!
//! - A record holds at most [`MAX_RECORD_BYTES`], half an answer's budget
//!   (`db::MAX_ANSWER_BYTES`), so any record can be read back, alone or
//!   with another.
//! - An organisation's records hold at most its quota: the one the operator
//!   set for it (`storage_quotas`, `PUT /admin/storage/{org}`), or else
//!   `storage-quota-mib` of the config. A write that would take the
//!   organisation past it is refused and changes nothing; one that frees
//!   space is always taken, even above the quota.
//!
//! Both refusals are `invalid`: the plugin answers its caller a 4xx in its
//! own envelope, with the reason.
//!
//! The measure of a record ([`row_bytes`]) is [`ROW_OVERHEAD`] plus each
//! field's stored bytes: text and sealed secrets by their length in bytes,
//! an integer or boolean 8, null nothing. The same measure is written in SQL
//! ([`size_sql`]) to count the rows a collection already holds: once per
//! collection, at the first open of a store of a version before this count
//! (`stored_bytes_ready` names the collections counted), and again after an
//! import, which writes rows without the store's writes.

use std::collections::BTreeMap;

use super::collections::{Collection, FieldKind};
use super::db::{advisory_lock, literal, params, Database, Dialect, Executor, Sql};
use super::StoreError;

/// The most a record may hold ([`row_bytes`]): 16 MiB.
pub const MAX_RECORD_BYTES: u64 = 16 << 20;
/// What a record counts beyond its fields (its id, organisation, times).
pub const ROW_OVERHEAD: u64 = 64;
/// The advisory lock (PostgreSQL) under which collections are counted.
const LOCK: &str = "computehub stored_bytes";
/// The quota of an organisation unless the operator sets one: 1 GiB.
pub const DEFAULT_QUOTA_MIB: u32 = 1024;

/// What one stored value counts.
fn value_bytes(v: &Sql) -> u64 {
    match v {
        Sql::Null => 0,
        Sql::Integer(_) | Sql::Real(_) => 8,
        Sql::Text(_) | Sql::Blob(_) => v.payload_len() as u64,
    }
}

/// What a record whose field values are `fields` counts.
pub(super) fn row_bytes(fields: &[Sql]) -> u64 {
    fields.iter().map(value_bytes).sum::<u64>() + ROW_OVERHEAD
}

/// [`row_bytes`] of a row of `c` in SQL.
fn size_sql(dialect: Dialect, c: &Collection) -> String {
    let mut sql = ROW_OVERHEAD.to_string();
    for f in c.fields.iter() {
        let column = format!("\"{}\"", f.name);
        sql.push_str(" + ");
        sql.push_str(&match (f.kind, dialect) {
            (FieldKind::Integer | FieldKind::Boolean, _) => {
                format!("(CASE WHEN {column} IS NULL THEN 0 ELSE 8 END)")
            }
            (_, Dialect::Sqlite) => format!("COALESCE(length(CAST({column} AS BLOB)), 0)"),
            (_, Dialect::Postgres) => format!("COALESCE(octet_length({column}), 0)"),
        });
    }
    sql
}

/// The record a write leaves must fit [`MAX_RECORD_BYTES`], unless it was
/// larger before (a record stored before the bound may still shrink).
pub(super) fn check_record(c: &Collection, before: u64, bytes: u64) -> Result<(), StoreError> {
    if bytes > MAX_RECORD_BYTES && bytes > before {
        return Err(StoreError::Invalid(format!(
            "a `{}` record would hold {bytes} bytes, more than a record may ({MAX_RECORD_BYTES}): store less in one record",
            c.name
        )));
    }
    Ok(())
}

/// The change a transaction makes to what its organisation stores, by
/// collection.
#[derive(Debug, Default)]
pub(super) struct Change(BTreeMap<String, i64>);

impl Change {
    /// A record of `collection` went from `before` to `after` bytes (0: none).
    pub(super) fn record(&mut self, collection: &str, before: u64, after: u64) {
        let delta = after as i64 - before as i64;
        if delta != 0 {
            *self.0.entry(collection.to_string()).or_default() += delta;
        }
    }

    /// Writes the change into `stored_bytes`; refused when it adds bytes
    /// and the organisation then stores more than its quota (`default`
    /// unless the operator set one for it).
    pub(super) async fn apply(
        self,
        ex: &mut dyn Executor,
        org: &str,
        default: u64,
    ) -> Result<(), StoreError> {
        let added: i64 = self.0.values().sum();
        for (collection, delta) in self.0 {
            // No row yet: the organisation had none of these records when
            // the collection was counted, so the change is all it holds.
            ex.execute(
                "INSERT INTO stored_bytes (org_id, collection, bytes) VALUES (?1, ?2, ?3)
                 ON CONFLICT (org_id, collection) DO UPDATE SET bytes = stored_bytes.bytes + excluded.bytes",
                params![org, collection, delta],
            )
            .await?;
        }
        if added <= 0 {
            return Ok(());
        }
        let (used, own) = total(ex, org).await?;
        let quota = own.unwrap_or(default);
        if used > quota {
            return Err(StoreError::Invalid(format!(
                "organisation `{org}` would store {} MiB, more than its quota of {} MiB: delete records, or ask the operator for a larger quota",
                used.div_ceil(1 << 20),
                quota >> 20
            )));
        }
        Ok(())
    }
}

/// What `org` stores, in bytes, and the quota the operator set for it.
async fn total(ex: &mut dyn Executor, org: &str) -> Result<(u64, Option<u64>), StoreError> {
    let row = ex
        .query_opt(
            "SELECT CAST(COALESCE(SUM(bytes), 0) AS BIGINT),
                    (SELECT bytes FROM storage_quotas WHERE org_id = ?1)
             FROM stored_bytes WHERE org_id = ?1",
            params![org],
        )
        .await?;
    let Some(row) = row else {
        return Ok((0, None));
    };
    let used = u64::try_from(row.get::<i64>(0)?).unwrap_or(0);
    let own = row
        .get::<Option<i64>>(1)?
        .map(|q| u64::try_from(q).unwrap_or(0));
    Ok((used, own))
}

/// The quotas the operator set apart from the default, by organisation.
pub(super) async fn quotas(db: &dyn Database) -> Result<BTreeMap<String, u64>, StoreError> {
    db.query("SELECT org_id, bytes FROM storage_quotas", params![])
        .await?
        .iter()
        .map(|r| Ok((r.get(0)?, u64::try_from(r.get::<i64>(1)?).unwrap_or(0))))
        .collect()
}

/// Sets `org`'s own quota (`None`: the default again).
pub(super) async fn set_quota(
    db: &dyn Database,
    org: &str,
    bytes: Option<u64>,
) -> Result<(), StoreError> {
    match bytes {
        Some(b) => {
            let b = i64::try_from(b)
                .map_err(|_| StoreError::Invalid("the quota is too large".into()))?;
            db.execute(
                "INSERT INTO storage_quotas (org_id, bytes, updated_at) VALUES (?1, ?2, ?3)
                 ON CONFLICT (org_id) DO UPDATE SET bytes = excluded.bytes, updated_at = excluded.updated_at",
                params![org, b, super::records::now()],
            )
            .await?
        }
        None => {
            db.execute("DELETE FROM storage_quotas WHERE org_id = ?1", params![org])
                .await?
        }
    };
    Ok(())
}

/// Counts the records of `c` already stored, replacing what
/// `stored_bytes` held for it, and marks it counted.
pub(super) async fn recount(ex: &mut dyn Executor, c: &Collection) -> Result<(), StoreError> {
    let name = literal(&c.name);
    ex.batch(&format!(
        "DELETE FROM stored_bytes WHERE collection = {name};
         INSERT INTO stored_bytes (org_id, collection, bytes)
             SELECT org_id, {name}, SUM({size}) FROM \"{table}\" GROUP BY org_id;",
        size = size_sql(ex.dialect(), c),
        table = c.name,
    ))
    .await?;
    mark_counted(ex, &c.name).await
}

/// `collection` is counted from here on (a new, empty one at once).
pub(super) async fn mark_counted(
    ex: &mut dyn Executor,
    collection: &str,
) -> Result<(), StoreError> {
    ex.execute(
        "INSERT INTO stored_bytes_ready (collection) VALUES (?1) ON CONFLICT (collection) DO NOTHING",
        params![collection],
    )
    .await?;
    Ok(())
}

/// Counts every collection of `all` not counted yet (a store of an earlier
/// version), in one transaction; replicas opening at once count in turn.
pub(super) async fn count_missing<'c>(
    db: &dyn Database,
    all: impl Iterator<Item = &'c Collection>,
) -> Result<usize, StoreError> {
    let mut tx = db.begin().await?;
    lock_for_count(&mut *tx).await?;
    let ready: std::collections::HashSet<String> = tx
        .query("SELECT collection FROM stored_bytes_ready", params![])
        .await?
        .iter()
        .map(|r| r.get::<String>(0))
        .collect::<Result<_, _>>()?;
    let mut counted = 0;
    for c in all.filter(|c| !ready.contains(c.name.as_ref())) {
        recount(&mut *tx, c).await?;
        counted += 1;
    }
    tx.commit().await?;
    Ok(counted)
}

/// A count's locks until its transaction ends: replicas count in turn, and
/// on PostgreSQL writers wait (their new figures would otherwise meet the
/// count's own).
async fn lock_for_count(ex: &mut dyn Executor) -> Result<(), StoreError> {
    advisory_lock(ex, LOCK).await?;
    if ex.dialect() == Dialect::Postgres {
        ex.batch("LOCK TABLE stored_bytes IN SHARE ROW EXCLUSIVE MODE")
            .await?;
    }
    Ok(())
}

/// Counts every collection of `all` again (after an import, or when the
/// operator asks: `POST /admin/storage`).
pub(super) async fn recount_all<'c>(
    ex: &mut dyn Executor,
    all: impl Iterator<Item = &'c Collection>,
) -> Result<(), StoreError> {
    lock_for_count(ex).await?;
    for c in all {
        recount(ex, c).await?;
    }
    Ok(())
}

/// What one organisation stores in one collection.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Usage {
    pub org: String,
    pub collection: String,
    pub bytes: u64,
}

/// Every organisation's bytes by collection (of `org` alone when given),
/// the largest first.
pub(super) async fn usage(db: &dyn Database, org: Option<&str>) -> Result<Vec<Usage>, StoreError> {
    let rows = match org {
        Some(org) => {
            db.query(
                "SELECT org_id, collection, bytes FROM stored_bytes WHERE org_id = ?1 AND bytes > 0
                 ORDER BY bytes DESC, collection",
                params![org],
            )
            .await?
        }
        None => {
            db.query(
                "SELECT org_id, collection, bytes FROM stored_bytes WHERE bytes > 0
                 ORDER BY org_id, bytes DESC, collection",
                params![],
            )
            .await?
        }
    };
    rows.iter()
        .map(|r| {
            Ok(Usage {
                org: r.get(0)?,
                collection: r.get(1)?,
                bytes: u64::try_from(r.get::<i64>(2)?).unwrap_or(0),
            })
        })
        .collect()
}
