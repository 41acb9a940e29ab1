//! Versioned schema migrations, applied in order inside one transaction each
//! and recorded in `PRAGMA user_version`. A migration, once released, never
//! changes: new schema goes into a new entry at the end.

use rusqlite::Connection;

/// Migration `i` brings the schema from version `i` to `i + 1`.
const MIGRATIONS: &[&str] = &[
    // 1: host tables and the first collection.
    r#"
    CREATE TABLE organisations (
        id TEXT PRIMARY KEY,
        created_at TEXT NOT NULL
    );
    CREATE TABLE api_keys (
        id TEXT PRIMARY KEY,
        org_id TEXT NOT NULL REFERENCES organisations(id),
        scheme TEXT NOT NULL,
        secret_sha256 TEXT NOT NULL,
        project_id TEXT,
        created_at TEXT NOT NULL,
        revoked_at TEXT
    );
    CREATE INDEX api_keys_org ON api_keys(org_id);
    CREATE TABLE plugin_activations (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        plugin_id TEXT NOT NULL,
        role TEXT NOT NULL,
        sha256 TEXT NOT NULL,
        version TEXT NOT NULL,
        activated_at TEXT NOT NULL,
        -- set when a rollback retires this activation
        retired_at TEXT
    );
    CREATE INDEX plugin_activations_plugin ON plugin_activations(plugin_id, seq);
    CREATE TABLE devices (
        id TEXT PRIMARY KEY,
        org_id TEXT NOT NULL REFERENCES organisations(id),
        created_at TEXT NOT NULL,
        updated_at TEXT NOT NULL,
        name TEXT NOT NULL,
        ip TEXT NOT NULL,
        port INTEGER,
        username TEXT,
        password BLOB,
        UNIQUE (org_id, name)
    );
    "#,
];

/// Apply every migration the database has not seen yet.
pub fn migrate(conn: &mut Connection) -> rusqlite::Result<()> {
    let current: usize =
        conn.query_row("PRAGMA user_version", [], |r| r.get::<_, i64>(0))? as usize;
    for (i, sql) in MIGRATIONS.iter().enumerate().skip(current) {
        let tx = conn.transaction()?;
        tx.execute_batch(sql)?;
        tx.pragma_update(None, "user_version", (i + 1) as i64)?;
        tx.commit()?;
        tracing::info!(version = i + 1, "applied store migration");
    }
    Ok(())
}

/// The schema version this binary brings a database to.
pub fn latest() -> usize {
    MIGRATIONS.len()
}

#[cfg(test)]
mod tests {
    #[test]
    fn migrating_twice_is_a_no_op() {
        let mut conn = rusqlite::Connection::open_in_memory().unwrap();
        super::migrate(&mut conn).unwrap();
        super::migrate(&mut conn).unwrap();
        let v: i64 = conn
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .unwrap();
        assert_eq!(v as usize, super::latest());
    }
}
