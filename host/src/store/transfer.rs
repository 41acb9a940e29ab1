//! A whole store moved between databases (SQLite to PostgreSQL and back):
//! `computehub export` writes every row of every table to a file of JSON
//! lines, `computehub import` loads such a file into an empty store.
//!
//! The file: a header line ([`Header`]: the format and its version, the
//! schema version, each table with its columns and row count, in an order
//! that satisfies the foreign keys), then one line per row ([`RowLine`]:
//! the table and its values by column; bytes as `{"base64": "..."}`).
//! Sealed values are copied as they are, still sealed: the target must be
//! opened with the source's seal key, which the import checks against the
//! exported `seal_check` row before it writes anything.
//!
//! An import declares the exported plugin collections on the target first
//! ([`Store::declare`], so their tables exist in the target's dialect),
//! then inserts every row in one transaction: all or nothing. Identity
//! columns keep their values (PostgreSQL's sequences are moved past them);
//! `record_counts` is replaced by the exported counts; the target keeps
//! its own `seal_check` (which opens with the same key).

use std::collections::{BTreeMap, HashMap};
use std::io::Write;

use base64::Engine as _;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value as Json};

use super::db::{params, Database, Dialect, Executor, Sql};
use super::schema::{qualified, CollectionDecl, SchemaError};
use super::{Store, StoreError};

/// The `format` of the header line.
pub const FORMAT: &str = "computehub-export";
/// The version of the file's layout.
pub const FORMAT_VERSION: u32 = 1;

/// The host's tables in an order that satisfies their foreign keys; tables
/// not named here come after them, then the plugins' collections, then
/// [`COUNTS`].
const HOST_ORDER: &[&str] = &[
    "organisations",
    "plugin_collections",
    "seal_check",
    "compute_centers",
    "clusters",
    "devices",
    "api_keys",
    "plugin_activations",
    "plugin_grants",
    "ssh_host_keys",
    "operations",
    "operation_phases",
    "operation_events",
    "audit_log",
    "console_users",
    "console_sessions",
    "plugin_wasm",
    "host_settings",
    "storage_quotas",
];
/// Row counts kept by triggers: replaced by the exported ones, last.
const COUNTS: &str = "record_counts";
/// Columns that point at a table loaded after theirs (a cycle): inserted
/// null, then set once every row is in.
const DEFERRED: &[(&str, &str)] = &[("clusters", "controllerid")];
/// Tables that are not the store's data (`stored_bytes` and its
/// `stored_bytes_ready` are counted again from the rows an import loads).
const NOT_DATA: &[&str] = &[
    "computehub_schema",
    "sqlite_sequence",
    "request_signatures",
    "stored_bytes",
    "stored_bytes_ready",
];

/// The first line of an export.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Header {
    pub format: String,
    pub format_version: u32,
    pub schema_version: usize,
    /// `sqlite` or `postgres`: where it came from.
    pub source: String,
    pub tables: Vec<TableHeader>,
}

/// One table of an export.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TableHeader {
    pub name: String,
    pub columns: Vec<String>,
    pub rows: u64,
}

/// Every line after the header: one row.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RowLine {
    pub table: String,
    pub values: Map<String, Json>,
}

/// Why an export or import stopped, in one sentence.
#[derive(Debug, thiserror::Error)]
pub enum TransferError {
    #[error("the target store is not empty (`{0}` has rows): import only into a new store; nothing was written")]
    NotEmpty(String),
    #[error("the target's seal key does not open the exported store's seal check: open the target with the source's seal key; nothing was written")]
    WrongKey,
    #[error("the export has no `seal_check` row, so its seal key cannot be checked; nothing was written")]
    NoSealCheck,
    #[error("line {line} of the export is not valid: {why}")]
    BadLine { line: usize, why: String },
    #[error("the export is of schema version {0} and this computehub's is {1}: export it again with this version")]
    SchemaVersion(usize, usize),
    #[error("the export holds {found} rows of `{table}` where its header says {expected}")]
    Count {
        table: String,
        expected: u64,
        found: u64,
    },
    #[error("after the import `{table}` would hold {found} rows where the export has {expected}; nothing was written")]
    Mismatch {
        table: String,
        expected: u64,
        found: u64,
    },
    #[error("the exported collections could not be declared on the target: {0}")]
    Declare(String),
    #[error("cannot read or write the export: {0}")]
    Io(#[from] std::io::Error),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<SchemaError> for TransferError {
    fn from(e: SchemaError) -> Self {
        match e {
            SchemaError::Refused(m) => TransferError::Declare(m),
            SchemaError::Store(s) => TransferError::Store(s),
        }
    }
}

/// What was moved: rows per table, in the file's order.
#[derive(Debug, Clone, PartialEq)]
pub struct Summary {
    pub schema_version: usize,
    pub tables: Vec<(String, u64)>,
}

impl Summary {
    pub fn rows(&self) -> u64 {
        self.tables.iter().map(|(_, n)| n).sum()
    }
}

fn quote(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// The schema version the database is at.
pub async fn schema_version(ex: &mut dyn Executor) -> Result<usize, StoreError> {
    let sql = match ex.dialect() {
        Dialect::Sqlite => "PRAGMA user_version",
        Dialect::Postgres => "SELECT version FROM computehub_schema",
    };
    let row = ex.query_opt(sql, params![]).await?;
    let v = match row {
        Some(r) => r.get::<i64>(0)?,
        None => 0,
    };
    Ok(usize::try_from(v).unwrap_or(0))
}

/// Every table holding the store's data, unordered.
async fn tables(ex: &mut dyn Executor) -> Result<Vec<String>, StoreError> {
    let sql = match ex.dialect() {
        Dialect::Sqlite => "SELECT name FROM sqlite_master WHERE type = 'table'",
        Dialect::Postgres => {
            "SELECT table_name::text FROM information_schema.tables
             WHERE table_schema = current_schema() AND table_type = 'BASE TABLE'"
        }
    };
    let mut out = Vec::new();
    for row in ex.query(sql, params![]).await? {
        let name: String = row.get(0)?;
        if !NOT_DATA.contains(&name.as_str()) && !name.starts_with("sqlite_") {
            out.push(name);
        }
    }
    Ok(out)
}

/// The columns of `table`, in their order.
async fn columns(ex: &mut dyn Executor, table: &str) -> Result<Vec<String>, StoreError> {
    let sql = match ex.dialect() {
        Dialect::Sqlite => "SELECT name FROM pragma_table_info(?1) ORDER BY cid",
        Dialect::Postgres => {
            "SELECT column_name::text FROM information_schema.columns
             WHERE table_schema = current_schema() AND table_name = ?1 ORDER BY ordinal_position"
        }
    };
    ex.query(sql, params![table])
        .await?
        .iter()
        .map(|r| r.get::<String>(0))
        .collect()
}

async fn count(ex: &mut dyn Executor, table: &str) -> Result<u64, StoreError> {
    let row = ex
        .query_opt(&format!("SELECT COUNT(*) FROM {}", quote(table)), params![])
        .await?;
    let n = match row {
        Some(r) => r.get::<i64>(0)?,
        None => 0,
    };
    Ok(u64::try_from(n).unwrap_or(0))
}

/// Rows per table of the store (every table holding data).
pub async fn row_counts(db: &dyn Database) -> Result<BTreeMap<String, u64>, StoreError> {
    let mut ex = super::db::Direct(db);
    let mut out = BTreeMap::new();
    for t in tables(&mut ex).await? {
        let n = count(&mut ex, &t).await?;
        out.insert(t, n);
    }
    Ok(out)
}

/// Plugin declarations from `plugin_collections` rows (plugin id, JSON).
fn declarations(
    rows: &[(String, String)],
) -> Result<BTreeMap<String, Vec<CollectionDecl>>, String> {
    let mut out: BTreeMap<String, Vec<CollectionDecl>> = BTreeMap::new();
    for (plugin, json) in rows {
        let decl: CollectionDecl = serde_json::from_str(json)
            .map_err(|e| format!("a declaration of plugin `{plugin}` is unreadable: {e}"))?;
        out.entry(plugin.clone()).or_default().push(decl);
    }
    Ok(out)
}

/// `tables` in load order: [`HOST_ORDER`], other host tables, each
/// plugin's collections after the ones they refer to, [`COUNTS`].
fn load_order(tables: &[String], decls: &BTreeMap<String, Vec<CollectionDecl>>) -> Vec<String> {
    let mut out: Vec<String> = HOST_ORDER
        .iter()
        .filter(|t| tables.iter().any(|x| x == *t))
        .map(|t| t.to_string())
        .collect();
    let mut declared: Vec<String> = Vec::new();
    for (plugin, ds) in decls {
        let mut left: Vec<&CollectionDecl> = ds.iter().collect();
        while !left.is_empty() {
            let ready = left.iter().position(|d| {
                d.fields.iter().all(|f| match &f.references {
                    Some(r) if r != &d.name => !left.iter().any(|o| &o.name == r),
                    _ => true,
                })
            });
            let d = left.remove(ready.unwrap_or(0));
            declared.push(qualified(plugin, &d.name));
        }
    }
    let mut others: Vec<String> = tables
        .iter()
        .filter(|t| !out.contains(t) && !declared.contains(t) && t.as_str() != COUNTS)
        .cloned()
        .collect();
    others.sort();
    out.extend(others);
    out.extend(declared.into_iter().filter(|t| tables.contains(t)));
    if tables.iter().any(|t| t == COUNTS) {
        out.push(COUNTS.to_string());
    }
    out
}

/// Columns inserted null and set once every row is in: [`DEFERRED`] and
/// the plugins' references of a collection to itself.
fn deferred(decls: &BTreeMap<String, Vec<CollectionDecl>>) -> HashMap<String, Vec<String>> {
    let mut out: HashMap<String, Vec<String>> = HashMap::new();
    for (t, c) in DEFERRED {
        out.entry(t.to_string()).or_default().push(c.to_string());
    }
    for (plugin, ds) in decls {
        for d in ds {
            for f in &d.fields {
                if f.references.as_deref() == Some(d.name.as_str()) {
                    out.entry(qualified(plugin, &d.name))
                        .or_default()
                        .push(f.name.clone());
                }
            }
        }
    }
    out
}

fn to_json(v: Sql) -> Json {
    match v {
        Sql::Null => Json::Null,
        Sql::Integer(i) => i.into(),
        Sql::Real(r) => serde_json::Number::from_f64(r).map_or(Json::Null, Json::Number),
        Sql::Text(s) => Json::String(s),
        Sql::Blob(b) => {
            let mut m = Map::new();
            m.insert(
                "base64".into(),
                base64::engine::general_purpose::STANDARD.encode(b).into(),
            );
            Json::Object(m)
        }
    }
}

fn from_json(v: &Json) -> Result<Sql, String> {
    Ok(match v {
        Json::Null => Sql::Null,
        Json::Number(n) => match (n.as_i64(), n.as_f64()) {
            (Some(i), _) => Sql::Integer(i),
            (None, Some(f)) => Sql::Real(f),
            _ => return Err(format!("{n} is out of range")),
        },
        Json::String(s) => Sql::Text(s.clone()),
        Json::Bool(b) => Sql::Integer((*b).into()),
        Json::Object(m) => match (m.len(), m.get("base64")) {
            (1, Some(Json::String(b))) => Sql::Blob(
                base64::engine::general_purpose::STANDARD
                    .decode(b)
                    .map_err(|e| format!("bad base64: {e}"))?,
            ),
            _ => return Err("an object other than {\"base64\": ...}".into()),
        },
        Json::Array(_) => return Err("an array is not a value".into()),
    })
}

/// Writes every row of `store` to `out` (one consistent snapshot: a
/// read-only transaction).
pub async fn export(store: &Store, out: &mut dyn Write) -> Result<Summary, TransferError> {
    let db = store.db();
    let mut tx = db.begin().await?;
    if db.dialect() == Dialect::Postgres {
        tx.batch("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
            .await?;
    }
    let version = schema_version(&mut *tx).await?;
    let names = tables(&mut *tx).await?;
    let decl_rows: Vec<(String, String)> = tx
        .query(
            "SELECT plugin_id, definition FROM plugin_collections",
            params![],
        )
        .await?
        .iter()
        .map(|r| Ok((r.get::<String>(0)?, r.get::<String>(1)?)))
        .collect::<Result<_, StoreError>>()?;
    let decls = declarations(&decl_rows).map_err(StoreError::Internal)?;
    let mut header = Header {
        format: FORMAT.into(),
        format_version: FORMAT_VERSION,
        schema_version: version,
        source: match db.dialect() {
            Dialect::Sqlite => "sqlite".into(),
            Dialect::Postgres => "postgres".into(),
        },
        tables: Vec::new(),
    };
    for name in load_order(&names, &decls) {
        let columns = columns(&mut *tx, &name).await?;
        let rows = count(&mut *tx, &name).await?;
        header.tables.push(TableHeader {
            name,
            columns,
            rows,
        });
    }
    out.write_all(line(&header)?.as_bytes())?;
    for t in &header.tables {
        let cols: Vec<String> = t.columns.iter().map(|c| quote(c)).collect();
        let sql = format!(
            "SELECT {} FROM {} ORDER BY 1",
            cols.join(", "),
            quote(&t.name)
        );
        for row in tx.query(&sql, params![]).await? {
            let values: Map<String, Json> = t
                .columns
                .iter()
                .cloned()
                .zip(row.0.into_iter().map(to_json))
                .collect();
            let row = RowLine {
                table: t.name.clone(),
                values,
            };
            out.write_all(line(&row)?.as_bytes())?;
        }
    }
    out.flush()?;
    tx.commit().await?;
    Ok(Summary {
        schema_version: version,
        tables: header
            .tables
            .iter()
            .map(|t| (t.name.clone(), t.rows))
            .collect(),
    })
}

/// One JSON line of a header or a row.
fn line<T: Serialize>(v: &T) -> Result<String, TransferError> {
    let mut s = serde_json::to_string(v).map_err(|e| StoreError::Internal(e.to_string()))?;
    s.push('\n');
    Ok(s)
}

mod load;
pub use load::{import, sealed_with};

#[cfg(test)]
mod tests;
