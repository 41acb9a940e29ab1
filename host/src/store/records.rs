//! Organisation-scoped records in the registered collections: get, query,
//! insert, update, delete and atomic multi-write transactions.
//!
//! SQL is assembled only from names in the collection registry; every value
//! travels as a bound parameter. Secret fields are sealed on the way in and
//! come back as [`Value::Redacted`].

use std::str::FromStr;

use rusqlite::types::Value as SqlValue;
use rusqlite::{params_from_iter, Connection, OptionalExtension};
use rust_decimal::Decimal;

use super::collections::{Collection, FieldDef, FieldKind};
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

pub fn now() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
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
    Ok(match (f.kind, v) {
        (_, Value::Null) if f.required => {
            return Err(StoreError::Invalid(format!(
                "field `{}` is required",
                f.name
            )))
        }
        (_, Value::Null) => SqlValue::Null,
        (_, Value::Redacted) => return Err(wrong("a value (`redacted` is read-only)")),
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

pub(super) fn read_row(c: &Collection, r: &rusqlite::Row<'_>) -> rusqlite::Result<Row> {
    let mut fields = Vec::with_capacity(c.fields.len());
    for (i, f) in c.fields.iter().enumerate() {
        fields.push((
            f.name.to_string(),
            from_sql(f, r.get::<_, SqlValue>(i + 3)?),
        ));
    }
    Ok(Row {
        id: r.get(0)?,
        created_at: r.get(1)?,
        updated_at: r.get(2)?,
        fields,
    })
}

fn get_in(
    conn: &Connection,
    c: &Collection,
    org: &str,
    id: &str,
) -> Result<Option<Row>, StoreError> {
    let sql = format!(
        "SELECT {} FROM \"{}\" WHERE org_id = ?1 AND id = ?2",
        select_list(c),
        c.name
    );
    Ok(conn
        .prepare_cached(&sql)?
        .query_row(rusqlite::params![org, id], |r| read_row(c, r))
        .optional()?)
}

fn must_get(conn: &Connection, c: &Collection, org: &str, id: &str) -> Result<Row, StoreError> {
    get_in(conn, c, org, id)?
        .ok_or_else(|| StoreError::NotFound(format!("no `{}` record `{id}`", c.name)))
}

/// Reference fields must name a row of the same organisation.
fn check_reference(
    conn: &Connection,
    org: &str,
    f: &FieldDef,
    v: &SqlValue,
) -> Result<(), StoreError> {
    let (Some(target), SqlValue::Text(id)) = (f.references.as_deref(), v) else {
        return Ok(());
    };
    let found: Option<i64> = conn
        .prepare_cached(&format!(
            "SELECT 1 FROM \"{target}\" WHERE org_id = ?1 AND id = ?2"
        ))?
        .query_row(rusqlite::params![org, id], |r| r.get(0))
        .optional()?;
    match found {
        Some(_) => Ok(()),
        None => Err(StoreError::Invalid(format!(
            "field `{}` names no `{target}` record `{id}`",
            f.name
        ))),
    }
}

fn insert_in(
    store: &Store,
    conn: &Connection,
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
        check_reference(conn, org, f, &sql)?;
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
    conn.prepare_cached(&format!(
        "INSERT INTO \"{}\" ({cols}) VALUES ({marks})",
        c.name
    ))?
    .execute(params_from_iter(values.iter()))?;
    must_get(conn, c, org, &id)
}

fn update_in(
    store: &Store,
    conn: &Connection,
    org: &str,
    c: &Collection,
    id: &str,
    fields: &[(String, Value)],
) -> Result<Row, StoreError> {
    must_get(conn, c, org, id)?;
    if fields.is_empty() {
        return must_get(conn, c, org, id);
    }
    let mut sets = vec!["updated_at = ?1".to_string()];
    let mut values = vec![SqlValue::Text(now())];
    for (name, v) in fields {
        let f = field_def(c, name)?;
        let sql = to_sql(store, c, f, id, v)?;
        check_reference(conn, org, f, &sql)?;
        values.push(sql);
        sets.push(format!("\"{}\" = ?{}", f.name, values.len()));
    }
    values.push(SqlValue::Text(org.to_string()));
    values.push(SqlValue::Text(id.to_string()));
    let n = values.len();
    conn.prepare_cached(&format!(
        "UPDATE \"{}\" SET {} WHERE org_id = ?{} AND id = ?{}",
        c.name,
        sets.join(", "),
        n - 1,
        n
    ))?
    .execute(params_from_iter(values.iter()))?;
    must_get(conn, c, org, id)
}

fn add_in(
    conn: &Connection,
    org: &str,
    c: &Collection,
    id: &str,
    name: &str,
    delta: &Value,
) -> Result<Row, StoreError> {
    let f = field_def(c, name)?;
    let row = must_get(conn, c, org, id)?;
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
            let sum = cur + d;
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
    conn.prepare_cached(&format!(
        "UPDATE \"{}\" SET \"{}\" = ?1, updated_at = ?2 WHERE org_id = ?3 AND id = ?4",
        c.name, f.name
    ))?
    .execute(rusqlite::params![new, now(), org, id])?;
    must_get(conn, c, org, id)
}

fn delete_in(
    conn: &Connection,
    org: &str,
    c: &Collection,
    id: &str,
) -> Result<Option<Row>, StoreError> {
    let Some(row) = get_in(conn, c, org, id)? else {
        return Ok(None);
    };
    conn.prepare_cached(&format!(
        "DELETE FROM \"{}\" WHERE org_id = ?1 AND id = ?2",
        c.name
    ))?
    .execute(rusqlite::params![org, id])?;
    Ok(Some(row))
}

impl Store {
    pub fn get(
        &self,
        org: &str,
        collection_name: &str,
        id: &str,
    ) -> Result<Option<Row>, StoreError> {
        let c = self.collection(collection_name)?;
        get_in(&self.conn(), &c, org, id)
    }

    pub fn insert(
        &self,
        org: &str,
        collection_name: &str,
        fields: &[(String, Value)],
    ) -> Result<Row, StoreError> {
        let c = self.collection(collection_name)?;
        self.transact(org, &[Write::Insert(c.name.to_string(), fields.to_vec())])
            .map(|mut rows| rows.remove(0))
    }

    pub fn update(
        &self,
        org: &str,
        collection_name: &str,
        id: &str,
        fields: &[(String, Value)],
    ) -> Result<Row, StoreError> {
        let c = self.collection(collection_name)?;
        update_in(self, &self.conn(), org, &c, id, fields)
    }

    pub fn delete(&self, org: &str, collection_name: &str, id: &str) -> Result<bool, StoreError> {
        let c = self.collection(collection_name)?;
        Ok(delete_in(&self.conn(), org, &c, id)?.is_some())
    }

    /// Apply every write or none.
    pub fn transact(&self, org: &str, writes: &[Write]) -> Result<Vec<Row>, StoreError> {
        let mut conn = self.conn();
        let tx = conn.transaction()?;
        let mut out = Vec::with_capacity(writes.len());
        for w in writes {
            let row = match w {
                Write::Insert(cn, fields) => {
                    insert_in(self, &tx, org, &*self.collection(cn)?, fields)?
                }
                Write::Update(cn, id, fields) => {
                    update_in(self, &tx, org, &*self.collection(cn)?, id, fields)?
                }
                Write::Add(cn, id, field, delta) => {
                    add_in(&tx, org, &*self.collection(cn)?, id, field, delta)?
                }
                Write::Delete(cn, id) => delete_in(&tx, org, &*self.collection(cn)?, id)?
                    .ok_or_else(|| StoreError::NotFound(format!("no `{cn}` record `{id}`")))?,
            };
            out.push(row);
        }
        tx.commit()?;
        Ok(out)
    }
}

pub(super) fn reveal(
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
    let blob: Option<Option<Vec<u8>>> = store
        .conn()
        .query_row(
            &format!(
                "SELECT \"{}\" FROM \"{}\" WHERE org_id = ?1 AND id = ?2",
                f.name, c.name
            ),
            rusqlite::params![org, id],
            |r| r.get(0),
        )
        .optional()?;
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
