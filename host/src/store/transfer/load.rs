//! Loading an export into an empty store ([`import`]): the file is read
//! twice, first to check it whole (nothing is written when a line is bad),
//! then to insert its rows in one transaction.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{BufRead, BufReader};
use std::path::Path;

use super::{
    count, declarations, deferred, from_json, quote, tables, Header, RowLine, Summary,
    TransferError, COUNTS, FORMAT, FORMAT_VERSION,
};
use crate::store::db::{params, Dialect, Direct, Executor, Sql};
use crate::store::schema::{CollectionDecl, Mode};
use crate::store::{migrations, seal, Store, StoreError};

/// Tables the target keeps rows of while it counts as empty: the
/// collections every store declares on opening, and its own seal check.
const KEPT: &[&str] = &["plugin_collections", "seal_check"];

/// What the first reading of a file found.
struct Checked {
    header: Header,
    decls: BTreeMap<String, Vec<CollectionDecl>>,
    seal_check: Option<Vec<u8>>,
}

fn bad(line: usize, why: impl Into<String>) -> TransferError {
    TransferError::BadLine {
        line,
        why: why.into(),
    }
}

fn lines(path: &Path) -> Result<impl Iterator<Item = std::io::Result<String>>, TransferError> {
    Ok(BufReader::new(File::open(path)?).lines())
}

/// Reads the whole file: a header of this format and schema, then rows of
/// the tables it names with the columns it names, as many as it says.
fn check_file(path: &Path) -> Result<Checked, TransferError> {
    let mut it = lines(path)?;
    let first = it.next().transpose()?.unwrap_or_default();
    let header: Header = serde_json::from_str(&first)
        .map_err(|e| bad(1, format!("not a computehub export header ({e})")))?;
    if header.format != FORMAT || header.format_version != FORMAT_VERSION {
        return Err(bad(
            1,
            format!(
                "format `{}` version {} is not `{FORMAT}` version {FORMAT_VERSION}",
                header.format, header.format_version
            ),
        ));
    }
    if header.schema_version != migrations::latest() {
        return Err(TransferError::SchemaVersion(
            header.schema_version,
            migrations::latest(),
        ));
    }
    let mut found: BTreeMap<&str, u64> = BTreeMap::new();
    let mut decl_rows: Vec<(String, String)> = Vec::new();
    let mut seal_check = None;
    for (i, text) in it.enumerate() {
        let n = i + 2;
        let text = text?;
        let row: RowLine = serde_json::from_str(&text).map_err(|e| bad(n, e.to_string()))?;
        let Some(t) = header.tables.iter().find(|t| t.name == row.table) else {
            return Err(bad(
                n,
                format!("table `{}` is not in the header", row.table),
            ));
        };
        for (column, v) in &row.values {
            if !t.columns.contains(column) {
                return Err(bad(n, format!("`{}` has no column `{column}`", t.name)));
            }
            from_json(v).map_err(|e| bad(n, format!("`{}.{column}`: {e}", t.name)))?;
        }
        *found.entry(t.name.as_str()).or_default() += 1;
        let text_of = |c: &str| match row.values.get(c) {
            Some(serde_json::Value::String(s)) => Ok(s.clone()),
            _ => Err(bad(n, format!("`{}.{c}` is not text", t.name))),
        };
        match t.name.as_str() {
            "plugin_collections" => {
                decl_rows.push((text_of("plugin_id")?, text_of("definition")?));
            }
            "seal_check" => {
                let v = row.values.get("sealed").unwrap_or(&serde_json::Value::Null);
                match from_json(v) {
                    Ok(Sql::Blob(b)) => seal_check = Some(b),
                    _ => return Err(bad(n, "`seal_check.sealed` is not bytes")),
                }
            }
            _ => {}
        }
    }
    for t in &header.tables {
        let n = found.get(t.name.as_str()).copied().unwrap_or(0);
        if n != t.rows {
            return Err(TransferError::Count {
                table: t.name.clone(),
                expected: t.rows,
                found: n,
            });
        }
    }
    let decls = declarations(&decl_rows).map_err(|e| bad(1, e))?;
    Ok(Checked {
        header,
        decls,
        seal_check,
    })
}

/// Whether the export at `path` (checked whole) was sealed with
/// `sealer`'s key: asked before a target store is opened, so a wrong key
/// leaves no trace on it.
pub fn sealed_with(path: &Path, sealer: &seal::Sealer) -> Result<bool, TransferError> {
    let checked = check_file(path)?;
    let sealed = checked
        .seal_check
        .as_deref()
        .ok_or(TransferError::NoSealCheck)?;
    Ok(seal::opens_check(sealer, sealed))
}

/// Loads the export at `path` into `store`, which must be empty and
/// sealed with the source's key; all rows or none.
pub async fn import(store: &Store, path: &Path) -> Result<Summary, TransferError> {
    let checked = check_file(path)?;
    let db = store.db();
    let mut direct = Direct(db);
    let mut present = tables(&mut direct).await?;
    present.sort();
    for t in present.iter().filter(|t| !KEPT.contains(&t.as_str())) {
        let sql = format!("SELECT 1 FROM {} LIMIT 1", quote(t));
        if direct.query_opt(&sql, params![]).await?.is_some() {
            return Err(TransferError::NotEmpty(t.clone()));
        }
    }
    let sealed = checked
        .seal_check
        .as_deref()
        .ok_or(TransferError::NoSealCheck)?;
    if !seal::opens_check(store.sealer(), sealed) {
        return Err(TransferError::WrongKey);
    }
    for (plugin, decls) in &checked.decls {
        store.declare(plugin, "import", decls, Mode::Keep).await?;
    }
    let deferred = deferred(&checked.decls);
    let mut tx = db.begin().await?;
    // (table, column, value, row id) set after every row is in.
    let mut later: Vec<(String, String, Sql, Sql)> = Vec::new();
    let mut counts: Vec<RowLine> = Vec::new();
    for text in lines(path)?.skip(1) {
        let row: RowLine = serde_json::from_str(&text?)
            .map_err(|e| StoreError::Internal(format!("the export changed while read: {e}")))?;
        match row.table.as_str() {
            "seal_check" => continue,
            COUNTS => {
                counts.push(row);
                continue;
            }
            _ => {}
        }
        let put_later = deferred.get(&row.table);
        let mut cols = Vec::with_capacity(row.values.len());
        let mut values = Vec::with_capacity(row.values.len());
        for (c, v) in &row.values {
            let v = from_json(v).map_err(StoreError::Internal)?;
            cols.push(quote(c));
            if put_later.is_some_and(|l| l.contains(c)) && v != Sql::Null {
                let id = row.values.get("id").map(from_json).transpose();
                let id = id.map_err(StoreError::Internal)?.unwrap_or(Sql::Null);
                later.push((row.table.clone(), c.clone(), v, id));
                values.push(Sql::Null);
            } else {
                values.push(v);
            }
        }
        let marks: Vec<String> = (1..=values.len()).map(|i| format!("?{i}")).collect();
        let mut sql = format!(
            "INSERT INTO {} ({}) VALUES ({})",
            quote(&row.table),
            cols.join(", "),
            marks.join(", ")
        );
        if row.table == "plugin_collections" {
            // The target declared them already: the source's rows win.
            sql.push_str(
                " ON CONFLICT (plugin_id, name) DO UPDATE SET definition = excluded.definition, updated_at = excluded.updated_at",
            );
        }
        tx.execute(&sql, values).await?;
    }
    for (table, column, value, id) in later {
        let sql = format!(
            "UPDATE {} SET {} = ?1 WHERE id = ?2",
            quote(&table),
            quote(&column)
        );
        tx.execute(&sql, vec![value, id]).await?;
    }
    load_counts(&mut *tx, counts).await?;
    // An export from a host before stop 27 has no counts for plugin
    // collections; they are made from the rows (the counts exported win).
    for (plugin, decls) in &checked.decls {
        for sql in crate::store::schema::recount_sql(plugin, decls) {
            tx.batch(&sql).await?;
        }
    }
    if tx.dialect() == Dialect::Postgres {
        move_sequences(&mut *tx).await?;
    }
    // What each organisation stores, from the rows now in.
    let all = store.schema_all();
    crate::store::usage::recount_all(&mut *tx, all.iter().map(|c| &**c)).await?;
    // `record_counts` is derived from the rows: it may have more than the
    // export had (the counts made above).
    for t in checked.header.tables.iter().filter(|t| t.name != COUNTS) {
        let found = count(&mut *tx, &t.name).await?;
        if found != t.rows {
            return Err(TransferError::Mismatch {
                table: t.name.clone(),
                expected: t.rows,
                found,
            });
        }
    }
    tx.commit().await?;
    Ok(Summary {
        schema_version: checked.header.schema_version,
        tables: checked
            .header
            .tables
            .iter()
            .map(|t| (t.name.clone(), t.rows))
            .collect(),
    })
}

/// Replaces the counts the target's triggers kept while rows went in with
/// the exported ones (the same, plus any count at zero).
async fn load_counts(tx: &mut dyn Executor, rows: Vec<RowLine>) -> Result<(), StoreError> {
    tx.execute(&format!("DELETE FROM {COUNTS}"), params![])
        .await?;
    for row in rows {
        let mut cols = Vec::new();
        let mut values = Vec::new();
        for (c, v) in &row.values {
            cols.push(quote(c));
            values.push(from_json(v).map_err(StoreError::Internal)?);
        }
        let marks: Vec<String> = (1..=values.len()).map(|i| format!("?{i}")).collect();
        let sql = format!(
            "INSERT INTO {COUNTS} ({}) VALUES ({})",
            cols.join(", "),
            marks.join(", ")
        );
        tx.execute(&sql, values).await?;
    }
    Ok(())
}

/// Moves every identity column's sequence past the largest value imported,
/// so the next row the server adds gets a new one.
async fn move_sequences(tx: &mut dyn Executor) -> Result<(), StoreError> {
    let identities = tx
        .query(
            "SELECT table_name::text, column_name::text FROM information_schema.columns
             WHERE table_schema = current_schema() AND is_identity = 'YES'",
            params![],
        )
        .await?;
    for row in identities {
        let (table, column) = (row.get::<String>(0)?, row.get::<String>(1)?);
        let sql = format!(
            "SELECT setval(pg_get_serial_sequence(?1, ?2), m) FROM (SELECT MAX({}) AS m FROM {}) s WHERE m IS NOT NULL",
            quote(&column),
            quote(&table)
        );
        tx.query(&sql, params![quote(&table), column]).await?;
    }
    Ok(())
}
