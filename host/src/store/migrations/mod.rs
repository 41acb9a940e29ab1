//! Versioned schema migrations, applied in order inside one transaction each.
//! SQLite's are the list below, recorded in `PRAGMA user_version`;
//! PostgreSQL's ([`postgres`]) start from a baseline equal to SQLite's
//! version 10 and are versioned alike, so version `n` means the same schema
//! in both. A migration, once released, never changes: new schema goes
//! into a new entry at the end of both lists.

pub mod postgres;

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
    // 2: the kboss inventory (compute centers, clusters, devices, labels,
    // priced components and their per-cluster stock), replacing the
    // placeholder `devices`; and maintained row counts.
    r#"
    DROP TABLE devices;
    CREATE TABLE compute_centers (
        id TEXT PRIMARY KEY,
        org_id TEXT NOT NULL REFERENCES organisations(id),
        created_at TEXT NOT NULL,
        updated_at TEXT NOT NULL,
        name TEXT NOT NULL,
        pcapi_url TEXT NOT NULL,
        api_user TEXT NOT NULL,
        api_pwd BLOB NOT NULL,
        contactname TEXT NOT NULL,
        contactphone TEXT NOT NULL,
        enable_date TEXT,
        expire_date TEXT,
        UNIQUE (org_id, name)
    );
    CREATE TABLE clusters (
        id TEXT PRIMARY KEY,
        org_id TEXT NOT NULL REFERENCES organisations(id),
        created_at TEXT NOT NULL,
        updated_at TEXT NOT NULL,
        cpcid TEXT NOT NULL REFERENCES compute_centers(id),
        name TEXT NOT NULL,
        clustertype TEXT NOT NULL,
        controllerid TEXT REFERENCES devices(id),
        enable_date TEXT,
        export_date TEXT,
        clusterjoin BLOB,
        kubeconfig BLOB,
        ready INTEGER NOT NULL
    );
    CREATE INDEX clusters_by_center ON clusters(cpcid, org_id, created_at, id);
    CREATE INDEX clusters_by_controller ON clusters(controllerid);
    CREATE TABLE devices (
        id TEXT PRIMARY KEY,
        org_id TEXT NOT NULL REFERENCES organisations(id),
        created_at TEXT NOT NULL,
        updated_at TEXT NOT NULL,
        cpcid TEXT NOT NULL REFERENCES compute_centers(id),
        clusterid TEXT REFERENCES clusters(id),
        name TEXT NOT NULL,
        ip TEXT NOT NULL,
        devicetype TEXT NOT NULL,
        sshport INTEGER NOT NULL,
        adminuser TEXT NOT NULL,
        adminpwd BLOB NOT NULL,
        node_status TEXT NOT NULL,
        external_ip TEXT,
        cpu_model TEXT,
        cpu_stock INTEGER,
        memory_model TEXT,
        memory_stock INTEGER,
        sysdisk_stock INTEGER,
        datadisk_stock INTEGER,
        gpu_model TEXT,
        gpu_stock INTEGER,
        role TEXT,
        enable_date TEXT,
        export_date TEXT,
        UNIQUE (org_id, name)
    );
    -- Pages of one center in creation order, by name, by IP, idle ones.
    CREATE INDEX devices_by_center ON devices(cpcid, org_id, created_at, id);
    CREATE INDEX devices_by_center_name ON devices(cpcid, org_id, name, created_at, id);
    CREATE INDEX devices_by_center_ip ON devices(cpcid, org_id, ip, created_at, id);
    CREATE INDEX devices_by_center_status ON devices(cpcid, org_id, node_status, created_at, id);
    CREATE INDEX devices_by_cluster ON devices(clusterid);
    CREATE TABLE labels (
        id TEXT PRIMARY KEY,
        org_id TEXT NOT NULL REFERENCES organisations(id),
        created_at TEXT NOT NULL,
        updated_at TEXT NOT NULL,
        name TEXT NOT NULL,
        labeltype TEXT NOT NULL,
        label_key TEXT NOT NULL,
        symbol TEXT NOT NULL,
        label_value TEXT NOT NULL
    );
    CREATE INDEX labels_by_org ON labels(org_id, created_at, id);
    CREATE TABLE widgets (
        id TEXT PRIMARY KEY,
        org_id TEXT NOT NULL REFERENCES organisations(id),
        created_at TEXT NOT NULL,
        updated_at TEXT NOT NULL,
        cpcid TEXT NOT NULL REFERENCES compute_centers(id),
        type TEXT NOT NULL,
        model TEXT NOT NULL,
        unit_price TEXT NOT NULL,
        resource_unit TEXT NOT NULL,
        charge_unit TEXT NOT NULL,
        account_unit TEXT NOT NULL,
        stock INTEGER NOT NULL,
        consumed INTEGER NOT NULL,
        UNIQUE (org_id, cpcid, type, model)
    );
    CREATE INDEX widgets_by_center ON widgets(cpcid);
    CREATE TABLE widget_stock (
        id TEXT PRIMARY KEY,
        org_id TEXT NOT NULL REFERENCES organisations(id),
        created_at TEXT NOT NULL,
        updated_at TEXT NOT NULL,
        widgetid TEXT NOT NULL REFERENCES widgets(id),
        cpcid TEXT NOT NULL REFERENCES compute_centers(id),
        clusterid TEXT NOT NULL REFERENCES clusters(id),
        stock INTEGER NOT NULL,
        consumed INTEGER NOT NULL,
        UNIQUE (org_id, widgetid, clusterid)
    );
    CREATE INDEX widget_stock_by_center ON widget_stock(cpcid);
    CREATE INDEX widget_stock_by_cluster ON widget_stock(clusterid);

    -- Row counts per value of the counted fields (collections.rs), kept by
    -- triggers inside the writing transaction.
    CREATE TABLE record_counts (
        collection TEXT NOT NULL,
        org_id TEXT NOT NULL,
        field TEXT NOT NULL,
        value TEXT NOT NULL,
        n INTEGER NOT NULL,
        PRIMARY KEY (collection, org_id, field, value)
    ) WITHOUT ROWID;
    CREATE TRIGGER devices_cpcid_count_insert AFTER INSERT ON devices
    WHEN NEW.cpcid IS NOT NULL BEGIN
        INSERT INTO record_counts (collection, org_id, field, value, n)
        VALUES ('devices', NEW.org_id, 'cpcid', NEW.cpcid, 1)
        ON CONFLICT (collection, org_id, field, value) DO UPDATE SET n = n + 1;
    END;
    CREATE TRIGGER devices_cpcid_count_delete AFTER DELETE ON devices
    WHEN OLD.cpcid IS NOT NULL BEGIN
        UPDATE record_counts SET n = n - 1
        WHERE collection = 'devices' AND org_id = OLD.org_id AND field = 'cpcid'
          AND value = OLD.cpcid;
    END;
    CREATE TRIGGER devices_cpcid_count_update AFTER UPDATE OF cpcid ON devices
    WHEN OLD.cpcid IS NOT NEW.cpcid BEGIN
        UPDATE record_counts SET n = n - 1
        WHERE collection = 'devices' AND org_id = OLD.org_id AND field = 'cpcid'
          AND value = OLD.cpcid;
        INSERT INTO record_counts (collection, org_id, field, value, n)
        SELECT 'devices', NEW.org_id, 'cpcid', NEW.cpcid, 1 WHERE NEW.cpcid IS NOT NULL
        ON CONFLICT (collection, org_id, field, value) DO UPDATE SET n = n + 1;
    END;
    "#,
    // 3: Alaya training instances and the ports opened on their pods; IEF
    // projects (a project id mapped to a cluster and a namespace) and their
    // deployments; the sealed secret of AK/SK keys.
    r#"
    ALTER TABLE api_keys ADD COLUMN secret_sealed BLOB;
    CREATE TABLE training_instances (
        id TEXT PRIMARY KEY,
        org_id TEXT NOT NULL REFERENCES organisations(id),
        created_at TEXT NOT NULL,
        updated_at TEXT NOT NULL,
        task_id TEXT NOT NULL,
        name TEXT NOT NULL,
        clusterid TEXT NOT NULL REFERENCES clusters(id),
        namespace TEXT NOT NULL,
        created_by TEXT,
        gateway TEXT,
        UNIQUE (org_id, task_id)
    );
    CREATE INDEX training_instances_by_cluster ON training_instances(clusterid);
    CREATE TABLE training_ports (
        id TEXT PRIMARY KEY,
        org_id TEXT NOT NULL REFERENCES organisations(id),
        created_at TEXT NOT NULL,
        updated_at TEXT NOT NULL,
        instance_id TEXT NOT NULL REFERENCES training_instances(id),
        pod_name TEXT NOT NULL,
        source TEXT NOT NULL,
        protocol TEXT,
        port INTEGER NOT NULL,
        service_name TEXT NOT NULL,
        UNIQUE (org_id, instance_id, pod_name, port)
    );
    CREATE TABLE ief_projects (
        id TEXT PRIMARY KEY,
        org_id TEXT NOT NULL REFERENCES organisations(id),
        created_at TEXT NOT NULL,
        updated_at TEXT NOT NULL,
        project_id TEXT NOT NULL,
        clusterid TEXT NOT NULL REFERENCES clusters(id),
        namespace TEXT NOT NULL,
        UNIQUE (org_id, project_id)
    );
    CREATE INDEX ief_projects_by_cluster ON ief_projects(clusterid);
    CREATE TABLE ief_deployments (
        id TEXT PRIMARY KEY,
        org_id TEXT NOT NULL REFERENCES organisations(id),
        created_at TEXT NOT NULL,
        updated_at TEXT NOT NULL,
        project TEXT NOT NULL REFERENCES ief_projects(id),
        deployment_id TEXT NOT NULL,
        name TEXT NOT NULL,
        body TEXT NOT NULL,
        UNIQUE (org_id, deployment_id),
        UNIQUE (org_id, project, name)
    );
    "#,
    // 4 (ssh and operations): SSH host keys pinned on first use per
    // organisation and target (`device:<id>` or `ip:port`); long operations
    // with their phases and event log. At most one operation runs per target
    // (the partial unique index is the per-host lock).
    r#"
    CREATE TABLE ssh_host_keys (
        org_id TEXT NOT NULL REFERENCES organisations(id),
        target TEXT NOT NULL,
        public_key TEXT NOT NULL,
        fingerprint TEXT NOT NULL,
        pinned_at TEXT NOT NULL,
        PRIMARY KEY (org_id, target)
    ) WITHOUT ROWID;
    CREATE TABLE operations (
        id TEXT PRIMARY KEY,
        org_id TEXT NOT NULL REFERENCES organisations(id),
        plugin TEXT NOT NULL,
        request_id TEXT NOT NULL,
        kind TEXT NOT NULL,
        target TEXT NOT NULL,
        -- running, succeeded, failed, interrupted
        status TEXT NOT NULL,
        created_at TEXT NOT NULL,
        updated_at TEXT NOT NULL,
        finished_at TEXT,
        result TEXT,
        error TEXT
    );
    CREATE UNIQUE INDEX operations_running_target ON operations(target) WHERE status = 'running';
    CREATE INDEX operations_by_org ON operations(org_id, created_at);
    CREATE INDEX operations_by_status ON operations(status);
    CREATE TABLE operation_phases (
        operation_id TEXT NOT NULL REFERENCES operations(id) ON DELETE CASCADE,
        idx INTEGER NOT NULL,
        name TEXT NOT NULL,
        -- pending, running, succeeded, failed, skipped, interrupted
        status TEXT NOT NULL,
        started_at TEXT,
        finished_at TEXT,
        message TEXT,
        output TEXT NOT NULL DEFAULT '',
        PRIMARY KEY (operation_id, idx)
    ) WITHOUT ROWID;
    CREATE TABLE operation_events (
        operation_id TEXT NOT NULL REFERENCES operations(id) ON DELETE CASCADE,
        seq INTEGER NOT NULL,
        at TEXT NOT NULL,
        event TEXT NOT NULL,
        data TEXT NOT NULL,
        PRIMARY KEY (operation_id, seq)
    ) WITHOUT ROWID;
    "#,
    // 5: kboss resource-instance configs (`cpcpodyaml`): the documented
    // `source_*` parameters of one instance in a cluster (JSON; the initial
    // password sealed), realised as Kubernetes objects whose names derive
    // from the config id, the cluster id and the organisation.
    r#"
    CREATE TABLE pod_configs (
        id TEXT PRIMARY KEY,
        org_id TEXT NOT NULL REFERENCES organisations(id),
        created_at TEXT NOT NULL,
        updated_at TEXT NOT NULL,
        cpcid TEXT NOT NULL REFERENCES compute_centers(id),
        clusterid TEXT NOT NULL REFERENCES clusters(id),
        source_name TEXT NOT NULL,
        params TEXT NOT NULL,
        source_authpasswd BLOB,
        username TEXT
    );
    CREATE INDEX pod_configs_by_cluster ON pod_configs(clusterid, org_id, created_at, id);
    CREATE INDEX pod_configs_by_center ON pod_configs(cpcid);
    "#,
    // 6: grants given through the admin API (`PUT /admin/plugins/{id}/grants`):
    // a plugin's config entry as JSON, in force where the operator's config
    // file does not name the plugin.
    r#"
    CREATE TABLE plugin_grants (
        plugin_id TEXT PRIMARY KEY,
        grant_json TEXT NOT NULL,
        updated_at TEXT NOT NULL
    );
    "#,
    // 7: the audit log of state-changing calls (`server/audit.rs`): who,
    // what, when, the outcome; never a secret, a query or a body.
    r#"
    CREATE TABLE audit_log (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        at TEXT NOT NULL,
        request_id TEXT NOT NULL,
        org_id TEXT,
        key_id TEXT,
        scheme TEXT,
        client TEXT NOT NULL,
        method TEXT NOT NULL,
        route TEXT NOT NULL,
        path TEXT NOT NULL,
        plugin TEXT NOT NULL,
        status INTEGER NOT NULL
    );
    CREATE INDEX audit_log_by_org ON audit_log(org_id, seq);
    "#,
    // 8: collections declared by plugins (`store/schema.rs`): what each
    // plugin declared, merged over its versions; their tables are created
    // by the declarations themselves, as `<plugin id>.<name>`.
    r#"
    CREATE TABLE plugin_collections (
        plugin_id TEXT NOT NULL,
        name TEXT NOT NULL,
        definition TEXT NOT NULL,
        updated_at TEXT NOT NULL,
        PRIMARY KEY (plugin_id, name)
    );
    "#,
    // 9: console users (argon2id password hashes) and their sessions (the
    // SHA-256 of the cookie's token, never the token; a per-session CSRF
    // token; an absolute expiry).
    r#"
    CREATE TABLE console_users (
        id TEXT PRIMARY KEY,
        org_id TEXT NOT NULL REFERENCES organisations(id),
        name TEXT NOT NULL,
        password_hash TEXT NOT NULL,
        admin INTEGER NOT NULL DEFAULT 0,
        created_at TEXT NOT NULL,
        disabled_at TEXT,
        UNIQUE (org_id, name)
    );
    CREATE TABLE console_sessions (
        token_sha256 TEXT PRIMARY KEY,
        user_id TEXT NOT NULL REFERENCES console_users(id),
        csrf TEXT NOT NULL,
        created_at TEXT NOT NULL,
        expires_at INTEGER NOT NULL
    );
    CREATE INDEX console_sessions_user ON console_sessions(user_id);
    "#,
    // 10: a value sealed with the store's seal key when it was first opened
    // with this table (`seal::check`): a store opened with another key
    // (a wrong `COMPUTEHUB_SEAL_KEY_FILE`, a replaced `seal.key`) is refused
    // before anything is sealed with it.
    r#"
    CREATE TABLE seal_check (
        id INTEGER PRIMARY KEY CHECK (id = 1),
        sealed BLOB NOT NULL,
        created_at TEXT NOT NULL
    );
    "#,
    // 11: what replicas on one database share (#20): the wasm of every
    // uploaded plugin version (by SHA-256), host settings such as the admin
    // token's hash, the owner and lease of a running operation (a replica
    // renews the lease; another marks the operation `interrupted` once it
    // has expired), and the signatures of AK/SK writes already accepted
    // (replay protection shared by every replica), each until it expires.
    r#"
    CREATE TABLE plugin_wasm (
        sha256 TEXT PRIMARY KEY,
        wasm BLOB NOT NULL,
        stored_at TEXT NOT NULL
    );
    CREATE TABLE host_settings (
        name TEXT PRIMARY KEY,
        value TEXT NOT NULL,
        updated_at TEXT NOT NULL
    );
    ALTER TABLE operations ADD COLUMN owner TEXT;
    ALTER TABLE operations ADD COLUMN lease_until INTEGER;
    CREATE TABLE request_signatures (
        signature TEXT PRIMARY KEY,
        expires_at INTEGER NOT NULL
    );
    CREATE INDEX request_signatures_expiry ON request_signatures(expires_at);
    "#,
    // 12: the bytes each organisation stores per collection (`usage`), the
    // collections counted so far (the rows a store already held are counted
    // on its first open by this version), and the organisations whose quota
    // the operator set apart from the default.
    r#"
    CREATE TABLE stored_bytes (
        org_id TEXT NOT NULL,
        collection TEXT NOT NULL,
        bytes INTEGER NOT NULL,
        PRIMARY KEY (org_id, collection)
    ) WITHOUT ROWID;
    CREATE TABLE stored_bytes_ready (
        collection TEXT PRIMARY KEY
    );
    CREATE TABLE storage_quotas (
        org_id TEXT PRIMARY KEY,
        bytes INTEGER NOT NULL,
        updated_at TEXT NOT NULL
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
