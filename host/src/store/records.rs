//! Organisation-scoped records in the registered collections: get, query,
//! insert, update, delete and atomic multi-write transactions.
//!
//! SQL is assembled only from names in the collection registry; every value
//! travels as a bound parameter. Secret fields are sealed on the way in and
//! come back as [`Value::Redacted`].

use std::str::FromStr;

use rust_decimal::Decimal;

use super::db::{params, DbRow, Executor, Sql as SqlValue};

use super::collections::{Collection, FieldDef, FieldKind};
use super::usage::{self, Change};
use super::{ids, Store, StoreError};

/// A field value as plugins exchange it.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Null,
    Text(String),
    Integer(i64),
    Decimal(String),
    Boolean(bool),
    Secret(String),
    Redacted,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Row {
    pub id: String,
    pub fields: Vec<(String, Value)>,
    pub created_at: String,
    pub updated_at: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Comparison {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
    Contains,
}

#[derive(Debug, Clone)]
pub struct Condition {
    pub field: String,
    pub op: Comparison,
    pub value: Value,
}

#[derive(Debug, Clone)]
pub struct Order {
    pub field: String,
    pub descending: bool,
}

#[derive(Debug, Clone, Default)]
pub struct Query {
    pub conditions: Vec<Condition>,
    pub order_by: Vec<Order>,
    pub limit: Option<u32>,
    pub offset: u32,
}

#[derive(Debug, Clone)]
pub struct Page {
    pub total: u64,
    pub rows: Vec<Row>,
}

#[derive(Debug, Clone)]
pub enum Write {
    Insert(String, Vec<(String, Value)>),
    Update(String, String, Vec<(String, Value)>),
    Add(String, String, String, Value),
    Delete(String, String),
}

/// Most rows one query returns.
pub const MAX_LIMIT: u32 = 10_000;

const BASE_COLUMNS: &str = "id, created_at, updated_at";

/// The store's timestamps: RFC 3339 UTC to the millisecond, strictly
/// increasing within this process. Rows are listed by `created_at`, then
/// `id` (random), by default: rows written within one millisecond would
/// otherwise list in no particular order, not in the order they were
/// written. Under more than a thousand writes a second the stamps run
/// ahead of the clock by what the burst needs and meet it again after.
pub fn now() -> String {
    use std::sync::atomic::{AtomicI64, Ordering::Relaxed};
    static LAST: AtomicI64 = AtomicI64::new(0);
    let wall = chrono::Utc::now();
    let mut last = LAST.load(Relaxed);
    let ms = loop {
        let next = wall.timestamp_millis().max(last.saturating_add(1));
        match LAST.compare_exchange_weak(last, next, Relaxed, Relaxed) {
            Ok(_) => break next,
            Err(seen) => last = seen,
        }
    };
    chrono::DateTime::from_timestamp_millis(ms)
        .unwrap_or(wall)
        .to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

pub(super) fn field_def<'c>(c: &'c Collection, name: &str) -> Result<&'c FieldDef, StoreError> {
    c.field(name)
        .ok_or_else(|| StoreError::Invalid(format!("`{}` has no field `{name}`", c.name)))
}

fn context(c: &Collection, field: &str, id: &str) -> String {
    format!("{}/{field}/{id}", c.name)
}

/// Check a value against its field and turn it into what SQLite stores.
fn to_sql(
    store: &Store,
    c: &Collection,
    f: &FieldDef,
    id: &str,
    v: &Value,
) -> Result<SqlValue, StoreError> {
    let wrong = |what: &str| StoreError::Invalid(format!("field `{}` must be {what}", f.name));
    // Only text fields in an index have a bound (see `FieldDef::max_bytes`).
    if let (Some(max), Value::Text(s)) = (f.max_bytes, v) {
        if s.len() > max as usize {
            return Err(StoreError::Invalid(format!(
                "field `{}` is indexed and holds text of at most {max} bytes, got {}",
                f.name,
                s.len()
            )));
        }
    }
    Ok(match (f.kind, v) {
        (_, Value::Null) if f.required => {
            return Err(StoreError::Invalid(format!(
                "field `{}` is required",
                f.name
            )))
        }
        (_, Value::Null) => SqlValue::Null,
        (_, Value::Redacted) => return Err(wrong("a value (`redacted` is read-only)")),
        (FieldKind::Text | FieldKind::Timestamp, Value::Text(s)) if !super::storable(s) => {
            return Err(wrong("text without NUL characters (U+0000)"))
        }
        (FieldKind::Text | FieldKind::Timestamp, Value::Text(s)) => SqlValue::Text(s.clone()),
        (FieldKind::Integer, Value::Integer(i)) => SqlValue::Integer(*i),
        (FieldKind::Boolean, Value::Boolean(b)) => SqlValue::Integer(*b as i64),
        (FieldKind::Decimal, Value::Decimal(s)) => {
            let d = Decimal::from_str(s).map_err(|_| wrong("a decimal number such as 12.50"))?;
            SqlValue::Text(d.normalize().to_string())
        }
        (FieldKind::Secret, Value::Secret(s)) => SqlValue::Blob(
            store
                .sealer()
                .seal(s.as_bytes(), &context(c, &f.name, id))
                .map_err(|e| StoreError::Internal(e.to_string()))?,
        ),
        (FieldKind::Text | FieldKind::Timestamp, _) => return Err(wrong("text")),
        (FieldKind::Integer, _) => return Err(wrong("an integer")),
        (FieldKind::Boolean, _) => return Err(wrong("a boolean")),
        (FieldKind::Decimal, _) => return Err(wrong("a decimal")),
        (FieldKind::Secret, _) => return Err(wrong("a secret")),
    })
}

fn from_sql(f: &FieldDef, v: SqlValue) -> Value {
    match (f.kind, v) {
        (_, SqlValue::Null) => Value::Null,
        (FieldKind::Secret, _) => Value::Redacted,
        (FieldKind::Boolean, SqlValue::Integer(i)) => Value::Boolean(i != 0),
        (FieldKind::Integer, SqlValue::Integer(i)) => Value::Integer(i),
        (FieldKind::Boolean, SqlValue::Text(s)) => Value::Boolean(s != "0"),
        (FieldKind::Decimal, SqlValue::Text(s)) => Value::Decimal(s),
        (_, SqlValue::Text(s)) => Value::Text(s),
        (_, SqlValue::Integer(i)) => Value::Integer(i),
        (_, SqlValue::Real(r)) => Value::Decimal(r.to_string()),
        (_, SqlValue::Blob(_)) => Value::Redacted,
    }
}

pub(super) fn select_list(c: &Collection) -> String {
    let mut s = BASE_COLUMNS.to_string();
    for f in c.fields.iter() {
        s.push_str(", \"");
        s.push_str(&f.name);
        s.push('"');
    }
    s
}

pub(super) fn read_row(c: &Collection, mut r: DbRow) -> Result<Row, StoreError> {
    let mut fields = Vec::with_capacity(c.fields.len());
    for (i, f) in c.fields.iter().enumerate() {
        fields.push((f.name.to_string(), from_sql(f, r.take::<SqlValue>(i + 3)?)));
    }
    Ok(Row {
        id: r.take(0)?,
        created_at: r.take(1)?,
        updated_at: r.take(2)?,
        fields,
    })
}

/// The statement that reads a row by id (`lock`: `FOR UPDATE` where the
/// dialect has it).
fn get_sql(c: &Collection, lock: &str) -> String {
    format!(
        "SELECT {} FROM \"{}\" WHERE org_id = ?1 AND id = ?2{lock}",
        select_list(c),
        c.name,
    )
}

/// A row by id and what it counts ([`usage::row_bytes`]); `lock` also
/// locks it for the rest of the transaction where the database can (a read
/// before a write of the same row).
async fn get_in(
    ex: &mut dyn Executor,
    c: &Collection,
    org: &str,
    id: &str,
    lock: bool,
) -> Result<Option<(Row, u64)>, StoreError> {
    // No id holds NUL (ids are made by the store); PostgreSQL would fail
    // the statement rather than find nothing.
    if !super::storable(id) {
        return Ok(None);
    }
    let sql = get_sql(c, if lock { ex.dialect().for_update() } else { "" });
    ex.query_opt(&sql, params![org, id])
        .await?
        .map(|r| {
            let bytes = usage::row_bytes(r.0.get(3..).unwrap_or_default());
            read_row(c, r).map(|row| (row, bytes))
        })
        .transpose()
}

async fn must_get(
    ex: &mut dyn Executor,
    c: &Collection,
    org: &str,
    id: &str,
    lock: bool,
) -> Result<(Row, u64), StoreError> {
    get_in(ex, c, org, id, lock)
        .await?
        .ok_or_else(|| StoreError::NotFound(format!("no `{}` record `{id}`", c.name)))
}

/// Reference fields must name a row of the same organisation.
async fn check_reference(
    ex: &mut dyn Executor,
    org: &str,
    f: &FieldDef,
    v: &SqlValue,
) -> Result<(), StoreError> {
    let (Some(target), SqlValue::Text(id)) = (f.references.as_deref(), v) else {
        return Ok(());
    };
    let found = ex
        .query_opt(
            &format!("SELECT 1 FROM \"{target}\" WHERE org_id = ?1 AND id = ?2"),
            params![org, id],
        )
        .await?;
    match found {
        Some(_) => Ok(()),
        // Ids are 21 characters: a longer value is not echoed whole.
        None if id.len() > 64 => Err(StoreError::Invalid(format!(
            "field `{}` names no `{target}` record (a record id is 21 characters, got {} bytes)",
            f.name,
            id.len()
        ))),
        None => Err(StoreError::Invalid(format!(
            "field `{}` names no `{target}` record `{id}`",
            f.name
        ))),
    }
}

/// A record left by a write, which must fit [`usage::MAX_RECORD_BYTES`]:
/// what it counts is added to `change`, less what it counted before.
fn counted(
    change: &mut Change,
    c: &Collection,
    before: u64,
    (row, after): (Row, u64),
) -> Result<Row, StoreError> {
    usage::check_record(c, before, after)?;
    change.record(&c.name, before, after);
    Ok(row)
}

async fn insert_in(
    store: &Store,
    ex: &mut dyn Executor,
    change: &mut Change,
    org: &str,
    c: &Collection,
    fields: &[(String, Value)],
) -> Result<Row, StoreError> {
    let id = ids::record_id();
    let mut names = vec!["id", "org_id", "created_at", "updated_at"];
    let ts = now();
    let mut values = vec![
        SqlValue::Text(id.clone()),
        SqlValue::Text(org.to_string()),
        SqlValue::Text(ts.clone()),
        SqlValue::Text(ts),
    ];
    for (name, v) in fields {
        let f = field_def(c, name)?;
        if names.contains(&f.name.as_ref()) {
            return Err(StoreError::Invalid(format!("field `{name}` given twice")));
        }
        let sql = to_sql(store, c, f, &id, v)?;
        check_reference(ex, org, f, &sql).await?;
        names.push(&f.name);
        values.push(sql);
    }
    if let Some(missing) = c
        .fields
        .iter()
        .find(|f| f.required && !names.contains(&f.name.as_ref()))
    {
        return Err(StoreError::Invalid(format!(
            "field `{}` is required",
            missing.name
        )));
    }
    let cols = names
        .iter()
        .map(|n| format!("\"{n}\""))
        .collect::<Vec<_>>()
        .join(", ");
    let marks = (1..=names.len())
        .map(|i| format!("?{i}"))
        .collect::<Vec<_>>()
        .join(", ");
    ex.execute(
        &format!("INSERT INTO \"{}\" ({cols}) VALUES ({marks})", c.name),
        values,
    )
    .await?;
    counted(change, c, 0, must_get(ex, c, org, &id, false).await?)
}

async fn update_in(
    store: &Store,
    ex: &mut dyn Executor,
    change: &mut Change,
    org: &str,
    c: &Collection,
    id: &str,
    fields: &[(String, Value)],
) -> Result<Row, StoreError> {
    let (current, before) = must_get(ex, c, org, id, true).await?;
    if fields.is_empty() {
        return Ok(current);
    }
    let mut sets = vec!["updated_at = ?1".to_string()];
    let mut values = vec![SqlValue::Text(now())];
    for (name, v) in fields {
        let f = field_def(c, name)?;
        let sql = to_sql(store, c, f, id, v)?;
        check_reference(ex, org, f, &sql).await?;
        values.push(sql);
        sets.push(format!("\"{}\" = ?{}", f.name, values.len()));
    }
    values.push(SqlValue::Text(org.to_string()));
    values.push(SqlValue::Text(id.to_string()));
    let n = values.len();
    ex.execute(
        &format!(
            "UPDATE \"{}\" SET {} WHERE org_id = ?{} AND id = ?{}",
            c.name,
            sets.join(", "),
            n - 1,
            n
        ),
        values,
    )
    .await?;
    counted(change, c, before, must_get(ex, c, org, id, false).await?)
}

async fn add_in(
    ex: &mut dyn Executor,
    change: &mut Change,
    org: &str,
    c: &Collection,
    id: &str,
    name: &str,
    delta: &Value,
) -> Result<Row, StoreError> {
    let f = field_def(c, name)?;
    let (row, before) = must_get(ex, c, org, id, true).await?;
    let current = row
        .fields
        .iter()
        .find(|(n, _)| *n == f.name)
        .map(|(_, v)| v.clone())
        .unwrap_or(Value::Null);
    let new = match (f.kind, current, delta) {
        (FieldKind::Integer, cur, Value::Integer(d)) => {
            let cur = if let Value::Integer(i) = cur { i } else { 0 };
            let sum = cur
                .checked_add(*d)
                .ok_or_else(|| StoreError::Invalid(format!("field `{name}` would overflow")))?;
            if sum < 0 {
                return Err(StoreError::Conflict(format!(
                    "field `{name}` would fall below zero ({cur} + {d})"
                )));
            }
            SqlValue::Integer(sum)
        }
        (FieldKind::Decimal, cur, Value::Decimal(d)) => {
            let cur = match cur {
                Value::Decimal(s) => Decimal::from_str(&s).unwrap_or_default(),
                _ => Decimal::ZERO,
            };
            let d = Decimal::from_str(d).map_err(|_| {
                StoreError::Invalid(format!("delta for `{name}` must be a decimal"))
            })?;
            let sum = cur
                .checked_add(d)
                .ok_or_else(|| StoreError::Invalid(format!("field `{name}` would overflow")))?;
            if sum.is_sign_negative() && !sum.is_zero() {
                return Err(StoreError::Conflict(format!(
                    "field `{name}` would fall below zero ({cur} + {d})"
                )));
            }
            SqlValue::Text(sum.normalize().to_string())
        }
        _ => {
            return Err(StoreError::Invalid(format!(
                "field `{name}` cannot be added to with this value"
            )))
        }
    };
    ex.execute(
        &format!(
            "UPDATE \"{}\" SET \"{}\" = ?1, updated_at = ?2 WHERE org_id = ?3 AND id = ?4",
            c.name, f.name
        ),
        vec![new, SqlValue::Text(now()), org.into(), id.into()],
    )
    .await?;
    counted(change, c, before, must_get(ex, c, org, id, false).await?)
}

async fn delete_in(
    ex: &mut dyn Executor,
    change: &mut Change,
    org: &str,
    c: &Collection,
    id: &str,
) -> Result<Option<Row>, StoreError> {
    let Some((row, bytes)) = get_in(ex, c, org, id, true).await? else {
        return Ok(None);
    };
    ex.execute(
        &format!("DELETE FROM \"{}\" WHERE org_id = ?1 AND id = ?2", c.name),
        params![org, id],
    )
    .await?;
    change.record(&c.name, bytes, 0);
    Ok(Some(row))
}

impl Store {
    pub async fn get(
        &self,
        org: &str,
        collection_name: &str,
        id: &str,
    ) -> Result<Option<Row>, StoreError> {
        let c = self.collection(collection_name)?;
        if !super::storable(id) {
            return Ok(None);
        }
        // Outside a transaction: a pure read (SQLite's read cache).
        self.db()
            .query_pure_opt(&get_sql(&c, ""), params![org, id])
            .await?
            .map(|r| read_row(&c, r))
            .transpose()
    }

    pub async fn insert(
        &self,
        org: &str,
        collection_name: &str,
        fields: &[(String, Value)],
    ) -> Result<Row, StoreError> {
        let c = self.collection(collection_name)?;
        let mut rows = self
            .transact(org, &[Write::Insert(c.name.to_string(), fields.to_vec())])
            .await?;
        rows.pop()
            .ok_or_else(|| StoreError::Internal("an insert returned no row".into()))
    }

    pub async fn update(
        &self,
        org: &str,
        collection_name: &str,
        id: &str,
        fields: &[(String, Value)],
    ) -> Result<Row, StoreError> {
        let c = self.collection(collection_name)?;
        let mut rows = self
            .transact(
                org,
                &[Write::Update(
                    c.name.to_string(),
                    id.to_string(),
                    fields.to_vec(),
                )],
            )
            .await?;
        rows.pop()
            .ok_or_else(|| StoreError::Internal("an update returned no row".into()))
    }

    pub async fn delete(
        &self,
        org: &str,
        collection_name: &str,
        id: &str,
    ) -> Result<bool, StoreError> {
        let c = self.collection(collection_name)?;
        let mut tx = self.db().begin().await?;
        let mut change = Change::default();
        let gone = delete_in(&mut *tx, &mut change, org, &c, id)
            .await?
            .is_some();
        change.apply(&mut *tx, org, self.storage_quota()).await?;
        tx.commit().await?;
        Ok(gone)
    }

    /// Apply every write or none: none when a record would hold more than
    /// [`usage::MAX_RECORD_BYTES`] or the organisation more than its quota.
    pub async fn transact(&self, org: &str, writes: &[Write]) -> Result<Vec<Row>, StoreError> {
        let mut tx = self.db().begin().await?;
        let mut change = Change::default();
        let mut out = Vec::with_capacity(writes.len());
        for w in writes {
            let (ex, ch): (&mut dyn Executor, _) = (&mut *tx, &mut change);
            let row = match w {
                Write::Insert(cn, fields) => {
                    insert_in(self, ex, ch, org, &*self.collection(cn)?, fields).await?
                }
                Write::Update(cn, id, fields) => {
                    update_in(self, ex, ch, org, &*self.collection(cn)?, id, fields).await?
                }
                Write::Add(cn, id, field, delta) => {
                    add_in(ex, ch, org, &*self.collection(cn)?, id, field, delta).await?
                }
                Write::Delete(cn, id) => delete_in(ex, ch, org, &*self.collection(cn)?, id)
                    .await?
                    .ok_or_else(|| StoreError::NotFound(format!("no `{cn}` record `{id}`")))?,
            };
            out.push(row);
        }
        change.apply(&mut *tx, org, self.storage_quota()).await?;
        tx.commit().await?;
        Ok(out)
    }
}

pub(super) async fn reveal(
    store: &Store,
    org: &str,
    collection_name: &str,
    id: &str,
    field: &str,
) -> Result<Option<String>, StoreError> {
    let c = store.collection(collection_name)?;
    let f = field_def(&c, field)?;
    if f.kind != FieldKind::Secret {
        return Err(StoreError::Invalid(format!(
            "`{field}` is not a secret field"
        )));
    }
    if !super::storable(id) {
        return Err(StoreError::NotFound(format!(
            "no `{}` record `{}`",
            c.name,
            id.escape_debug()
        )));
    }
    let blob = store
        .db()
        .query_opt(
            &format!(
                "SELECT \"{}\" FROM \"{}\" WHERE org_id = ?1 AND id = ?2",
                f.name, c.name
            ),
            params![org, id],
        )
        .await?
        .map(|r| r.get::<Option<Vec<u8>>>(0))
        .transpose()?;
    let Some(blob) = blob else {
        return Err(StoreError::NotFound(format!(
            "no `{}` record `{id}`",
            c.name
        )));
    };
    blob.map(|b| {
        let plain = store
            .sealer()
            .open(&b, &context(&c, &f.name, id))
            .map_err(|e| StoreError::Internal(e.to_string()))?;
        String::from_utf8(plain)
            .map_err(|_| StoreError::Internal("sealed value is not UTF-8".into()))
    })
    .transpose()
}
