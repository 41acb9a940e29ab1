//! Collections declared by plugins (WIT `declarations.collections`): checked,
//! created as tables named `<plugin id>.<name>`, and migrated when a new
//! version declares more. What each plugin declared is kept in
//! `plugin_collections`, so a restart knows the schema before any plugin
//! loads.
//!
//! A new version may add collections, optional fields, unique keys and
//! indexes (applied on load, in one transaction). It may not drop a
//! collection or a field, change a field's kind or reference, or make a
//! field required: those changes lose or break stored rows and are refused
//! with one sentence. Loading an *earlier* version again (a rollback, a
//! restart) keeps the larger schema: [`Mode::Keep`].

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::sync::Arc;

use super::db::{params, Database, Dialect, Executor};
use serde::{Deserialize, Serialize};

use super::collections::{self, Collection, FieldDef, FieldKind};
use super::{records, Store, StoreError};

mod check;
mod counts;
mod indexes;
mod moved;
use check::check;
use indexes::{missing_ordered, ordered_keys, ordered_sql, unique_keys, unique_sql};
pub(super) use moved::{adopt_moved, declare_moved};

/// One field as a plugin declares it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FieldDecl {
    pub name: String,
    pub kind: FieldKind,
    pub required: bool,
    pub unique: bool,
    /// A collection of the same plugin by its short name, or one of the
    /// host's (`clusters`, `compute_centers`, `devices`).
    pub references: Option<String>,
}

/// One collection as a plugin declares it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CollectionDecl {
    pub name: String,
    pub fields: Vec<FieldDecl>,
    pub unique_keys: Vec<Vec<String>>,
    pub indexes: Vec<Vec<String>>,
}

/// How a declaration meets what is stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// A new version: any destructive change is refused.
    Upgrade,
    /// A version loaded before (boot, rollback): additions are applied,
    /// and what it lacks of the stored schema is kept, not refused.
    Keep,
}

/// Why a declaration was not applied.
#[derive(Debug, thiserror::Error)]
pub enum SchemaError {
    /// One sentence for the operator, naming the plugin and the field.
    #[error("{0}")]
    Refused(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// The table name of `plugin`'s collection `name`.
pub fn qualified(plugin: &str, name: &str) -> String {
    format!("{plugin}.{name}")
}

fn kind_name(k: FieldKind) -> &'static str {
    match k {
        FieldKind::Text => "text",
        FieldKind::Integer => "integer",
        FieldKind::Decimal => "decimal",
        FieldKind::Boolean => "boolean",
        FieldKind::Secret => "secret",
        FieldKind::Timestamp => "timestamp",
    }
}

fn sql_type(d: Dialect, k: FieldKind) -> &'static str {
    match k {
        FieldKind::Integer | FieldKind::Boolean => d.integer(),
        FieldKind::Secret => d.blob(),
        FieldKind::Text | FieldKind::Decimal | FieldKind::Timestamp => d.text(),
    }
}

/// The full name of the collection a field of `plugin` refers to: one of
/// its own (`own`, short names) or one of the host's.
fn target(plugin: &str, own: &[&str], t: &str) -> String {
    if own.contains(&t) {
        qualified(plugin, t)
    } else {
        t.to_string()
    }
}

/// The runtime form of a stored declaration; `own` names every collection
/// of the plugin, `counted` the fields whose counts the database keeps.
fn collection(
    plugin: &str,
    d: &CollectionDecl,
    own: &[&str],
    counted: &counts::Counted,
) -> Collection {
    let table = qualified(plugin, &d.name);
    let limits = indexes::text_limits(d);
    Collection {
        name: Cow::Owned(table.clone()),
        fields: Cow::Owned(
            d.fields
                .iter()
                .map(|f| FieldDef {
                    name: Cow::Owned(f.name.clone()),
                    kind: f.kind,
                    required: f.required,
                    unique: f.unique,
                    references: f
                        .references
                        .as_ref()
                        .map(|t| Cow::Owned(target(plugin, own, t))),
                    counted: counted.contains(&(table.clone(), f.name.clone())),
                    max_bytes: limits.get(f.name.as_str()).copied(),
                })
                .collect(),
        ),
        owner: Some(plugin.to_string()),
    }
}

fn column_sql(d: Dialect, plugin: &str, own: &[&str], f: &FieldDecl) -> String {
    let mut s = format!("\"{}\" {}", f.name, sql_type(d, f.kind));
    if let Some(t) = &f.references {
        s.push_str(&format!(" REFERENCES \"{}\"(id)", target(plugin, own, t)));
    }
    s
}

fn create_sql(dialect: Dialect, plugin: &str, own: &[&str], d: &CollectionDecl) -> Vec<String> {
    let table = qualified(plugin, &d.name);
    let text = dialect.text();
    let mut cols = vec![
        format!("id {text} PRIMARY KEY"),
        format!("org_id {text} NOT NULL REFERENCES organisations(id)"),
        format!("created_at {text} NOT NULL"),
        format!("updated_at {text} NOT NULL"),
    ];
    cols.extend(d.fields.iter().map(|f| column_sql(dialect, plugin, own, f)));
    let by_org = dialect.index_name(&format!("{table}.by_org"));
    let mut sql = vec![
        format!("CREATE TABLE \"{table}\" ({})", cols.join(", ")),
        format!("CREATE INDEX \"{by_org}\" ON \"{table}\" (org_id, created_at, id)"),
    ];
    sql.extend(
        unique_keys(d)
            .iter()
            .map(|k| unique_sql(dialect, &table, k)),
    );
    sql.extend(
        ordered_keys(d)
            .iter()
            .map(|k| ordered_sql(dialect, &table, k)),
    );
    sql.extend(counts::counted_fields(d).map(|f| counts::triggers_sql(dialect, &table, f)));
    sql
}

/// What `new` changes of `old` (the same collection), as SQL; a destructive
/// change is refused in [`Mode::Upgrade`] and kept in [`Mode::Keep`].
/// Returns the merged declaration and the SQL.
fn migrate_one(
    dialect: Dialect,
    plugin: &str,
    own: &[&str],
    version: &str,
    old: &CollectionDecl,
    new: &CollectionDecl,
    mode: Mode,
) -> Result<(CollectionDecl, Vec<String>), SchemaError> {
    let table = qualified(plugin, &old.name);
    let refuse = |why: String| {
        Err(SchemaError::Refused(format!(
            "version {version} of plugin `{plugin}` {why}; that would lose or break stored rows, so it is refused"
        )))
    };
    let mut merged = old.clone();
    let mut sql = Vec::new();
    for f in &old.fields {
        let at = format!("{}.{}", old.name, f.name);
        match new.fields.iter().find(|g| g.name == f.name) {
            None if mode == Mode::Upgrade => return refuse(format!("drops field `{at}`")),
            None => {}
            Some(g) if g.kind != f.kind && mode == Mode::Upgrade => {
                return refuse(format!(
                    "changes field `{at}` from {} to {}",
                    kind_name(f.kind),
                    kind_name(g.kind)
                ))
            }
            Some(g) if g.references != f.references && mode == Mode::Upgrade => {
                return refuse(format!("changes what field `{at}` refers to"))
            }
            Some(g) if g.required && !f.required && mode == Mode::Upgrade => {
                return refuse(format!("makes field `{at}` required"))
            }
            Some(g) if g.unique && !f.unique && mode == Mode::Upgrade => {
                sql.push(unique_sql(dialect, &table, std::slice::from_ref(&g.name)));
                if let Some(m) = merged.fields.iter_mut().find(|m| m.name == g.name) {
                    m.unique = true;
                }
            }
            Some(g) if !g.required && f.required && mode == Mode::Upgrade => {
                if let Some(m) = merged.fields.iter_mut().find(|m| m.name == g.name) {
                    m.required = false;
                }
            }
            Some(_) => {}
        }
    }
    for g in &new.fields {
        if old.fields.iter().any(|f| f.name == g.name) {
            continue;
        }
        if g.required {
            if mode == Mode::Upgrade {
                return refuse(format!(
                    "adds required field `{}.{}` to a collection that exists (a field added later must be optional)",
                    old.name, g.name
                ));
            }
            continue;
        }
        sql.push(format!(
            "ALTER TABLE \"{table}\" ADD COLUMN {}",
            column_sql(dialect, plugin, own, g)
        ));
        if g.unique {
            sql.push(unique_sql(dialect, &table, std::slice::from_ref(&g.name)));
        }
        merged.fields.push(g.clone());
    }
    for k in &new.unique_keys {
        if !merged.unique_keys.contains(k)
            && k.iter().all(|n| merged.fields.iter().any(|f| &f.name == n))
        {
            sql.push(unique_sql(dialect, &table, k));
            merged.unique_keys.push(k.clone());
        }
    }
    for k in &new.indexes {
        if !merged.indexes.contains(k)
            && k.iter().all(|n| merged.fields.iter().any(|f| &f.name == n))
        {
            // Its index in page order is made with the others the table
            // lacks (`missing_ordered`, which `declare` runs after this).
            merged.indexes.push(k.clone());
        }
    }
    Ok((merged, sql))
}

/// What `plugin` declared before, by collection name.
async fn stored(
    ex: &mut dyn Executor,
    plugin: &str,
) -> Result<BTreeMap<String, CollectionDecl>, SchemaError> {
    let rows = ex
        .query(
            "SELECT name, definition FROM plugin_collections WHERE plugin_id = ?1",
            params![plugin],
        )
        .await?;
    let mut out = BTreeMap::new();
    for row in rows {
        let (name, json) = (row.get::<String>(0)?, row.get::<String>(1)?);
        let decl: CollectionDecl = serde_json::from_str(&json).map_err(|e| {
            SchemaError::Store(StoreError::Internal(format!(
                "stored declaration of `{plugin}.{name}` is unreadable: {e}"
            )))
        })?;
        out.insert(name, decl);
    }
    Ok(out)
}

/// Every declared collection in the database, for the store's schema.
pub(super) async fn load_all(db: &dyn Database) -> Result<Vec<Collection>, StoreError> {
    let rows = db
        .query(
            "SELECT plugin_id, definition FROM plugin_collections",
            params![],
        )
        .await?;
    let mut by_plugin: BTreeMap<String, Vec<CollectionDecl>> = BTreeMap::new();
    for row in rows {
        let (plugin, json) = (row.get::<String>(0)?, row.get::<String>(1)?);
        let decl: CollectionDecl = serde_json::from_str(&json).map_err(|e| {
            StoreError::Internal(format!(
                "a stored declaration of `{plugin}` is unreadable: {e}"
            ))
        })?;
        by_plugin.entry(plugin).or_default().push(decl);
    }
    let counted = counts::present(&mut super::db::Direct(db), db.dialect()).await?;
    let mut out = Vec::new();
    for (plugin, decls) in &by_plugin {
        let own: Vec<&str> = decls.iter().map(|d| d.name.as_str()).collect();
        out.extend(decls.iter().map(|d| collection(plugin, d, &own, &counted)));
    }
    Ok(out)
}

/// `decls` with every collection after the ones of the same plugin it
/// refers to, so their tables exist when its foreign keys name them
/// (PostgreSQL checks that at once; SQLite would not). A cycle cannot be
/// created in any order; what is left of one keeps the declared order and
/// fails on the database's own check.
fn creation_order(decls: &[CollectionDecl]) -> Vec<&CollectionDecl> {
    let mut left: Vec<&CollectionDecl> = decls.iter().collect();
    let mut out: Vec<&CollectionDecl> = Vec::with_capacity(left.len());
    while !left.is_empty() {
        let ready = left.iter().position(|d| {
            d.fields.iter().all(|f| match &f.references {
                Some(t) if t != &d.name => {
                    !left.iter().any(|o| &o.name == t) || out.iter().any(|o| &o.name == t)
                }
                _ => true,
            })
        });
        out.push(left.remove(ready.unwrap_or(0)));
    }
    out
}

/// The counts by reference field of the rows in `plugin`'s collections,
/// where `record_counts` has none for them (an import from a store whose
/// plugin collections were not counted: the exported counts lack them).
pub(crate) fn recount_sql(plugin: &str, decls: &[CollectionDecl]) -> Vec<String> {
    decls
        .iter()
        .flat_map(|d| {
            let table = qualified(plugin, &d.name);
            counts::counted_fields(d)
                .map(|f| counts::recount_sql(&table, f, false))
                .collect::<Vec<_>>()
        })
        .collect()
}

/// What a declaration changed: collections created, fields added.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Applied {
    pub created: Vec<String>,
    pub added_fields: Vec<String>,
}

impl Store {
    /// Brings `plugin`'s collections up to `decls` (the declaration of its
    /// `version`), in one transaction, and makes them usable at once.
    pub async fn declare(
        &self,
        plugin: &str,
        version: &str,
        decls: &[CollectionDecl],
        mode: Mode,
    ) -> Result<Applied, SchemaError> {
        check(plugin, decls)?;
        let dialect = self.db().dialect();
        let mut tx = self.db().begin().await?;
        // Replicas loading the same plugin at once declare one at a time.
        super::db::advisory_lock(&mut *tx, &format!("declare {plugin}")).await?;
        let before = stored(&mut *tx, plugin).await?;
        if mode == Mode::Upgrade {
            if let Some(gone) = before.keys().find(|n| !decls.iter().any(|d| &&d.name == n)) {
                return Err(SchemaError::Refused(format!(
                    "version {version} of plugin `{plugin}` drops collection `{gone}`; that would lose its rows, so it is refused"
                )));
            }
        }
        let mut applied = Applied::default();
        let mut result = before.clone();
        let own_names: Vec<String> = before
            .keys()
            .cloned()
            .chain(decls.iter().map(|d| d.name.clone()))
            .collect();
        let own: Vec<&str> = own_names.iter().map(String::as_str).collect();
        // Counted fields: those with triggers now, and those this load
        // gives triggers (with the table, or below for a table from before).
        let mut counted = counts::present(&mut *tx, dialect).await?;
        for d in creation_order(decls) {
            let (merged, sql) = match before.get(&d.name) {
                None => {
                    applied.created.push(qualified(plugin, &d.name));
                    (d.clone(), create_sql(dialect, plugin, &own, d))
                }
                Some(old) => {
                    let (merged, mut sql) =
                        migrate_one(dialect, plugin, &own, version, old, d, mode)?;
                    let table = qualified(plugin, &d.name);
                    sql.extend(missing_ordered(&mut *tx, dialect, &table, &merged).await?);
                    sql.extend(counts::missing_sql(dialect, &table, &merged, &counted));
                    applied.added_fields.extend(
                        merged
                            .fields
                            .iter()
                            .filter(|f| !old.fields.iter().any(|o| o.name == f.name))
                            .map(|f| format!("{}.{}", qualified(plugin, &d.name), f.name)),
                    );
                    (merged, sql)
                }
            };
            for statement in &sql {
                tx.batch(statement).await.map_err(|e| match e {
                    StoreError::Conflict(_) => SchemaError::Refused(format!(
                        "version {version} of plugin `{plugin}` makes `{}` unique, but stored rows repeat a value",
                        d.name
                    )),
                    other => SchemaError::Store(other),
                })?;
            }
            if before.get(&d.name) != Some(&merged) {
                let json = serde_json::to_string(&merged)
                    .map_err(|e| StoreError::Internal(e.to_string()))?;
                tx.execute(
                    "INSERT INTO plugin_collections (plugin_id, name, definition, updated_at) VALUES (?1, ?2, ?3, ?4)
                     ON CONFLICT (plugin_id, name) DO UPDATE SET definition = excluded.definition, updated_at = excluded.updated_at",
                    params![plugin, &d.name, json, records::now()],
                )
                .await?;
            }
            let table = qualified(plugin, &d.name);
            if !before.contains_key(&d.name) {
                // A new table: empty, so counted from its first write.
                super::usage::mark_counted(&mut *tx, &table).await?;
            }
            counted.extend(counts::counted_fields(&merged).map(|f| (table.clone(), f.to_string())));
            result.insert(d.name.clone(), merged);
        }
        tx.commit().await?;
        self.publish_schema(
            result
                .values()
                .map(|d| collection(plugin, d, &own, &counted)),
        );
        Ok(applied)
    }

    /// The names of the collections `plugin` declared (short names).
    pub async fn declared(&self, plugin: &str) -> Result<Vec<String>, StoreError> {
        self.db()
            .query(
                "SELECT name FROM plugin_collections WHERE plugin_id = ?1 ORDER BY name",
                params![plugin],
            )
            .await?
            .iter()
            .map(|r| r.get::<String>(0))
            .collect()
    }

    /// Whether `plugin` declared collection `name`.
    pub fn owns(&self, plugin: &str, name: &str) -> bool {
        self.schema_get(&qualified(plugin, name))
            .is_some_and(|c| c.owner.as_deref() == Some(plugin))
    }

    fn publish_schema(&self, collections: impl Iterator<Item = Collection>) {
        let mut schema = self.schema.write().unwrap_or_else(|p| p.into_inner());
        for c in collections {
            schema.insert(c.name.to_string(), Arc::new(c));
        }
    }

    /// A collection by its full name (`devices`, `hello.notes`), or by the
    /// bare name it had before its area's plugin owned it (`labels`).
    pub fn schema_get(&self, name: &str) -> Option<Arc<Collection>> {
        let schema = self.schema.read().unwrap_or_else(|p| p.into_inner());
        schema
            .get(collections::current_name(name).as_ref())
            .cloned()
    }

    /// Every collection, host's and plugins'.
    pub fn schema_all(&self) -> Vec<Arc<Collection>> {
        let schema = self.schema.read().unwrap_or_else(|p| p.into_inner());
        schema.values().cloned().collect()
    }

    /// Whether a row exists in `collection` (any organisation): for checks
    /// at load, never for callers.
    pub async fn has_rows(&self, collection: &str) -> Result<bool, StoreError> {
        let Some(c) = self.schema_get(collection) else {
            return Ok(false);
        };
        let found = self
            .db()
            .query_opt(&format!("SELECT 1 FROM \"{}\" LIMIT 1", c.name), params![])
            .await?;
        Ok(found.is_some())
    }
}

#[cfg(test)]
mod tests;
