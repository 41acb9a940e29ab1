//! Row counts of plugin collections by reference field, kept in
//! `record_counts` by triggers as the host's own counted fields are
//! (`migrations`), so the total of a page filtered on a parent alone is read,
//! not counted: a page of 20 out of 100,000 rows under one parent no longer
//! costs a `COUNT(*)` over all of them.
//!
//! A field is counted (its [`FieldDef::counted`](super::FieldDef) set, which
//! `store::query` trusts) only when the database holds its triggers: they
//! are made with the table, or, for a table from a host before stop 27, on
//! the plugin's next load together with the counts of the rows it already
//! has, in the load's transaction (which holds the table against writes
//! until both are in).

use std::collections::HashSet;

use super::indexes::index_name;
use super::CollectionDecl;
use crate::store::db::{literal, params, Dialect, Executor};
use crate::store::StoreError;

/// `(table, field)` of every counted plugin field.
pub(super) type Counted = HashSet<(String, String)>;

/// The reference fields of `d`: the ones counted.
pub(super) fn counted_fields(d: &CollectionDecl) -> impl Iterator<Item = &str> {
    d.fields
        .iter()
        .filter(|f| f.references.is_some())
        .map(|f| f.name.as_str())
}

/// The name of the insert trigger, by which [`present`] finds a counted
/// field: SQLite's names are the database's, PostgreSQL's the table's.
fn trigger(dialect: Dialect, table: &str, field: &str, event: &str) -> String {
    match dialect {
        Dialect::Sqlite => format!("{table}.c.{field}.{event}"),
        Dialect::Postgres => format!("c.{field}.{event}"),
    }
}

/// The triggers that keep `table`'s counts by `field`.
pub(super) fn triggers_sql(dialect: Dialect, table: &str, field: &str) -> String {
    let (t, f) = (literal(table), literal(field));
    let name = |event| trigger(dialect, table, field, event);
    match dialect {
        Dialect::Sqlite => format!(
            r#"CREATE TRIGGER IF NOT EXISTS "{insert}" AFTER INSERT ON "{table}"
WHEN NEW."{field}" IS NOT NULL BEGIN
    INSERT INTO record_counts (collection, org_id, field, value, n)
    VALUES ({t}, NEW.org_id, {f}, NEW."{field}", 1)
    ON CONFLICT (collection, org_id, field, value) DO UPDATE SET n = n + 1;
END;
CREATE TRIGGER IF NOT EXISTS "{delete}" AFTER DELETE ON "{table}"
WHEN OLD."{field}" IS NOT NULL BEGIN
    UPDATE record_counts SET n = n - 1
    WHERE collection = {t} AND org_id = OLD.org_id AND field = {f} AND value = OLD."{field}";
END;
CREATE TRIGGER IF NOT EXISTS "{update}" AFTER UPDATE OF "{field}" ON "{table}"
WHEN OLD."{field}" IS NOT NEW."{field}" BEGIN
    UPDATE record_counts SET n = n - 1
    WHERE collection = {t} AND org_id = OLD.org_id AND field = {f} AND value = OLD."{field}";
    INSERT INTO record_counts (collection, org_id, field, value, n)
    SELECT {t}, NEW.org_id, {f}, NEW."{field}", 1 WHERE NEW."{field}" IS NOT NULL
    ON CONFLICT (collection, org_id, field, value) DO UPDATE SET n = n + 1;
END;"#,
            insert = name("insert"),
            delete = name("delete"),
            update = name("update"),
        ),
        Dialect::Postgres => {
            let function = index_name(
                dialect,
                table,
                'c',
                std::slice::from_ref(&field.to_string()),
            );
            format!(
                r#"CREATE OR REPLACE FUNCTION "{function}"() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP <> 'INSERT' AND OLD."{field}" IS NOT NULL THEN
        UPDATE record_counts SET n = n - 1
        WHERE collection = {t} AND org_id = OLD.org_id AND field = {f} AND value = OLD."{field}";
    END IF;
    IF TG_OP <> 'DELETE' AND NEW."{field}" IS NOT NULL THEN
        INSERT INTO record_counts (collection, org_id, field, value, n)
        VALUES ({t}, NEW.org_id, {f}, NEW."{field}", 1)
        ON CONFLICT (collection, org_id, field, value)
        DO UPDATE SET n = record_counts.n + 1;
    END IF;
    RETURN NULL;
END
$$;
CREATE TRIGGER "{insert}" AFTER INSERT ON "{table}"
    FOR EACH ROW EXECUTE FUNCTION "{function}"();
CREATE TRIGGER "{delete}" AFTER DELETE ON "{table}"
    FOR EACH ROW EXECUTE FUNCTION "{function}"();
CREATE TRIGGER "{update}" AFTER UPDATE OF "{field}" ON "{table}"
    FOR EACH ROW WHEN (OLD."{field}" IS DISTINCT FROM NEW."{field}")
    EXECUTE FUNCTION "{function}"();"#,
                insert = name("insert"),
                delete = name("delete"),
                update = name("update"),
            )
        }
    }
}

/// The counts of the rows `table` holds by `field`, where `record_counts`
/// has none for them yet (`replace`: instead of what it has).
pub(super) fn recount_sql(table: &str, field: &str, replace: bool) -> String {
    let (t, f) = (literal(table), literal(field));
    let insert = format!(
        r#"INSERT INTO record_counts (collection, org_id, field, value, n)
SELECT {t}, org_id, {f}, "{field}", COUNT(*) FROM "{table}" WHERE "{field}" IS NOT NULL
GROUP BY org_id, "{field}"
ON CONFLICT (collection, org_id, field, value) DO NOTHING"#
    );
    if replace {
        format!("DELETE FROM record_counts WHERE collection = {t} AND field = {f};\n{insert}")
    } else {
        insert
    }
}

/// The counted fields whose triggers the database holds.
pub(super) async fn present(
    ex: &mut dyn Executor,
    dialect: Dialect,
) -> Result<Counted, StoreError> {
    let rows = match dialect {
        Dialect::Sqlite => {
            ex.query(
                "SELECT tbl_name, name FROM sqlite_master WHERE type = 'trigger'",
                params![],
            )
            .await?
        }
        Dialect::Postgres => {
            ex.query(
                "SELECT c.relname::text, t.tgname::text FROM pg_trigger t
                 JOIN pg_class c ON c.oid = t.tgrelid
                 JOIN pg_namespace n ON n.oid = c.relnamespace
                 WHERE n.nspname = current_schema() AND NOT t.tgisinternal",
                params![],
            )
            .await?
        }
    };
    let mut out = Counted::new();
    for row in rows {
        let (table, name) = (row.get::<String>(0)?, row.get::<String>(1)?);
        let rest = match dialect {
            Dialect::Sqlite => name.strip_prefix(&format!("{table}.c.")),
            Dialect::Postgres => name.strip_prefix("c."),
        };
        if let Some(field) = rest.and_then(|r| r.strip_suffix(".insert")) {
            out.insert((table.clone(), field.to_string()));
        }
    }
    Ok(out)
}

/// What an existing table of `d` needs so its reference fields are counted:
/// the triggers, then the counts of the rows it holds (replacing any left
/// from before).
pub(super) fn missing_sql(
    dialect: Dialect,
    table: &str,
    d: &CollectionDecl,
    have: &Counted,
) -> Vec<String> {
    counted_fields(d)
        .filter(|f| !have.contains(&(table.to_string(), f.to_string())))
        .flat_map(|f| [triggers_sql(dialect, table, f), recount_sql(table, f, true)])
        .collect()
}
