//! The embedded system of record: one SQLite file in the data dir.
//!
//! The host owns the schema (versioned migrations in [`migrations`]) and the
//! rules plugins cannot bypass: every collection row belongs to an
//! organisation and every call is scoped to one ([`records`]); secret fields
//! are sealed with an AEAD key kept beside the database ([`seal`]) and only
//! ever leave the store redacted, except through [`Store::reveal`], which the
//! host's own capabilities use.

pub mod collections;
pub mod db;
pub mod ids;
pub mod migrations;
mod query;
pub mod records;
pub mod schema;
pub mod seal;
#[cfg(test)]
mod tests;
pub mod transfer;
pub mod usage;

use std::collections::HashMap;
use std::path::Path;
use std::sync::{Arc, RwLock};

use rusqlite::Connection;

pub use collections::Collection;
pub use db::{Database, Dialect};
pub use records::{Comparison, Condition, Order, Page, Query, Row, Value, Write};
pub use schema::{CollectionDecl, FieldDecl, Mode as SchemaMode, SchemaError};
pub use seal::Sealer;

/// Whether `text` can be a stored value at all. PostgreSQL's text never
/// holds NUL (U+0000), so a lookup by such a value finds nothing on either
/// backend, and callers answer so without asking the store (which on
/// PostgreSQL would fail the statement).
pub fn storable(text: &str) -> bool {
    !text.contains('\0')
}

/// Errors at the store's boundary. Messages of `NotFound`, `Conflict` and
/// `Invalid` are safe to show to the caller; `Internal` details go to the log.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    Conflict(String),
    #[error("{0}")]
    Invalid(String),
    #[error("store failure: {0}")]
    Internal(String),
}

impl From<rusqlite::Error> for StoreError {
    fn from(e: rusqlite::Error) -> Self {
        if let rusqlite::Error::SqliteFailure(code, msg) = &e {
            if code.code == rusqlite::ErrorCode::ConstraintViolation {
                let msg = msg.clone().unwrap_or_default();
                if msg.contains("UNIQUE") {
                    return StoreError::Conflict(unique_message(&msg));
                }
                if msg.contains("FOREIGN KEY") {
                    return StoreError::Conflict(
                        "the record is referenced by other records".into(),
                    );
                }
            }
        }
        StoreError::Internal(e.to_string())
    }
}

/// "UNIQUE constraint failed: devices.org_id, devices.name" -> "`name` already exists".
fn unique_message(msg: &str) -> String {
    let field = msg
        .rsplit(',')
        .next()
        .and_then(|s| s.trim().rsplit('.').next())
        .unwrap_or("value");
    db::unique_message(field)
}

/// The store: a database (SQLite or PostgreSQL, [`db`]), the sealing key
/// and the schema of every collection (the host's and those plugins
/// declared).
pub struct Store {
    db: Arc<dyn Database>,
    /// The same database when it is SQLite, for what only SQLite has.
    sqlite: Option<Arc<db::sqlite::Sqlite>>,
    sealer: Sealer,
    schema: RwLock<HashMap<String, Arc<Collection>>>,
    /// The bytes an organisation may store ([`usage`]).
    quota: std::sync::atomic::AtomicU64,
}

/// Connections one process keeps to PostgreSQL at most.
const POOL_CONNECTIONS: usize = 16;

/// Mode of every file the host keeps in its data dir (the database and its
/// `-wal`/`-shm`, the seal key, the admin token hash, plugin wasm copies,
/// compiled components): readable and writable by the owner only.
pub const PRIVATE_FILE: u32 = 0o600;
/// Mode of the data dir and the directories the host makes in it.
pub const PRIVATE_DIR: u32 = 0o700;

/// Creates `dir` (and missing parents) with mode [`PRIVATE_DIR`], and makes
/// an existing one so. A directory the process cannot change (owned by
/// someone else) is logged, not refused.
pub fn private_dir(dir: &Path) -> std::io::Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(PRIVATE_DIR)
            .create(dir)?;
    }
    #[cfg(not(unix))]
    std::fs::create_dir_all(dir)?;
    restrict(dir, PRIVATE_DIR);
    Ok(())
}

/// Makes an existing file (not a symlink) mode [`PRIVATE_FILE`]; nothing
/// when it does not exist.
pub fn private_file(path: &Path) {
    match std::fs::symlink_metadata(path) {
        Ok(m) if m.file_type().is_file() => restrict(path, PRIVATE_FILE),
        _ => {}
    }
}

/// Writes `bytes` to a new file `path` created with mode [`PRIVATE_FILE`]
/// (replacing what was there).
pub fn write_private_file(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(PRIVATE_FILE);
    }
    let mut f = opts.open(path)?;
    // An existing file keeps its mode on open: restrict it too.
    restrict(path, PRIVATE_FILE);
    f.write_all(bytes)
}

#[cfg(unix)]
fn restrict(path: &Path, mode: u32) {
    use std::os::unix::fs::PermissionsExt;
    let current = std::fs::symlink_metadata(path).map(|m| m.permissions().mode() & 0o7777);
    if current.is_ok_and(|m| m == mode) {
        return;
    }
    if let Err(e) = std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)) {
        tracing::warn!(path = %path.display(), error = %e, "cannot restrict the permissions of a data file");
    }
}

#[cfg(not(unix))]
fn restrict(_path: &Path, _mode: u32) {}

/// Makes the data dir and everything the host keeps in it private: the
/// directory itself and its `plugins/` and `cache/` directories
/// [`PRIVATE_DIR`], every regular file in them [`PRIVATE_FILE`] (files
/// written by an earlier version with the default umask included).
/// Symlinks are left alone.
pub fn secure_data_dir(data_dir: &Path) -> std::io::Result<()> {
    private_dir(data_dir)?;
    let mut dirs = vec![data_dir.to_path_buf()];
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(&dir)? {
            let entry = entry?;
            let kind = entry.file_type()?;
            let path = entry.path();
            if kind.is_file() {
                restrict(&path, PRIVATE_FILE);
            } else if kind.is_dir()
                && dir == data_dir
                && matches!(entry.file_name().to_str(), Some("plugins" | "cache"))
            {
                restrict(&path, PRIVATE_DIR);
                dirs.push(path);
            }
        }
    }
    Ok(())
}

impl Store {
    /// Open (creating if needed) `computehub.db` and the seal key in `data_dir`,
    /// and bring the schema up to date. The data dir and its files are made
    /// private ([`secure_data_dir`]); the database is created 0600, so
    /// SQLite creates its `-wal` and `-shm` files 0600 too (it copies the
    /// database's mode).
    pub async fn open(data_dir: &Path) -> anyhow::Result<Self> {
        secure_data_dir(data_dir)?;
        let db = data_dir.join("computehub.db");
        {
            let mut opts = std::fs::OpenOptions::new();
            opts.create(true).append(true);
            #[cfg(unix)]
            {
                use std::os::unix::fs::OpenOptionsExt;
                opts.mode(PRIVATE_FILE);
            }
            opts.open(&db)?;
        }
        private_file(&db);
        let sqlite = Arc::new(db::sqlite::Sqlite::new(Connection::open(&db)?)?);
        let source = seal::KeySource::from_env(data_dir);
        if let seal::KeySource::DataDir(key) = &source {
            // A store sealed with a key from elsewhere gets no new key here.
            if !key.exists() && seal::has_check(&*sqlite).await {
                return Err(seal::KeyError::Missing(data_dir.to_path_buf()).into());
            }
        }
        let sealer = Sealer::from_source(&source, data_dir)?;
        let store = Self::with_sqlite(sqlite, sealer).await?;
        seal::check(store.db(), store.sealer(), &source.describe()).await?;
        for suffix in ["-wal", "-shm"] {
            let mut name = db.clone().into_os_string();
            name.push(suffix);
            private_file(Path::new(&name));
        }
        Ok(store)
    }

    /// Open the PostgreSQL database at `url` (a pool of at most
    /// `connections`), sealing with `sealer`, and bring its schema up to
    /// date (replicas starting together migrate once: an advisory lock).
    /// TLS as the URL's `sslmode` says, trusting the CA file the
    /// environment names (`COMPUTEHUB_DATABASE_CA_FILE`) or the Mozilla roots.
    pub async fn open_postgres(
        url: &str,
        connections: usize,
        sealer: Sealer,
        source: &str,
    ) -> anyhow::Result<Self> {
        let tls = db::postgres::TlsOptions::from_env();
        Self::open_postgres_tls(url, connections, &tls, sealer, source).await
    }

    /// [`Store::open_postgres`], trusting what `tls` names.
    pub async fn open_postgres_tls(
        url: &str,
        connections: usize,
        tls: &db::postgres::TlsOptions,
        sealer: Sealer,
        source: &str,
    ) -> anyhow::Result<Self> {
        let pg = db::postgres::Postgres::connect_with(url, connections, tls).await?;
        let store = Self::with_database(Arc::new(pg), None, sealer).await?;
        seal::check(store.db(), store.sealer(), source).await?;
        schema::declare_moved(&store).await?;
        Ok(store)
    }

    /// The store a database URL names (`postgres://user:pass@host:port/db`,
    /// or `postgresql://`), sealing with the key the environment names
    /// (`COMPUTEHUB_SEAL_KEY_FILE`, `COMPUTEHUB_SEAL_KEY`) or else
    /// `data_dir`'s own `seal.key`: replicas must share one, so production
    /// names it; the database never holds it. `data_dir` keeps what is not
    /// in the database (the compiled-plugin cache, uploaded wasm).
    pub async fn open_url(url: &str, data_dir: &Path) -> anyhow::Result<Self> {
        if !(url.starts_with("postgres://") || url.starts_with("postgresql://")) {
            anyhow::bail!("the database URL must start with postgres:// or postgresql://");
        }
        secure_data_dir(data_dir)?;
        let source = seal::KeySource::from_env(data_dir);
        let sealer = Sealer::from_source(&source, data_dir)?;
        Self::open_postgres(url, POOL_CONNECTIONS, sealer, &source.describe()).await
    }

    /// A store over an in-memory SQLite database (tests).
    pub async fn in_memory(sealer: Sealer) -> anyhow::Result<Self> {
        Self::with_connection(Connection::open_in_memory()?, sealer).await
    }

    /// A store over an existing SQLite connection.
    pub async fn with_connection(conn: Connection, sealer: Sealer) -> anyhow::Result<Self> {
        Self::with_sqlite(Arc::new(db::sqlite::Sqlite::new(conn)?), sealer).await
    }

    async fn with_sqlite(sqlite: Arc<db::sqlite::Sqlite>, sealer: Sealer) -> anyhow::Result<Self> {
        let seal = sealer.clone();
        let adopted = sqlite
            .with_conn(move |conn| {
                migrations::migrate(conn)?;
                schema::adopt_moved(conn, &seal)
            })
            .await?;
        if adopted > 0 {
            tracing::info!(
                collections = adopted,
                "handed the API areas' collections to their plugins"
            );
        }
        let db: Arc<dyn Database> = sqlite.clone();
        Self::with_database(db, Some(sqlite), sealer).await
    }

    async fn with_database(
        db: Arc<dyn Database>,
        sqlite: Option<Arc<db::sqlite::Sqlite>>,
        sealer: Sealer,
    ) -> anyhow::Result<Self> {
        if db.dialect() == Dialect::Postgres {
            migrations::postgres::migrate(&*db).await?;
        }
        let mut schema: HashMap<String, Arc<Collection>> = collections::COLLECTIONS
            .iter()
            .map(|c| (c.name.to_string(), Arc::new(c.clone())))
            .collect();
        for c in schema::load_all(&*db).await? {
            schema.insert(c.name.to_string(), Arc::new(c));
        }
        let counted = usage::count_missing(&*db, schema.values().map(|c| &**c)).await?;
        if counted > 0 {
            tracing::info!(
                collections = counted,
                "counted the bytes stored per organisation"
            );
        }
        Ok(Store {
            db,
            sqlite,
            sealer,
            schema: RwLock::new(schema),
            quota: (u64::from(usage::DEFAULT_QUOTA_MIB) << 20).into(),
        })
    }

    /// Sets the bytes each organisation may store (`storage-quota-mib`).
    pub fn set_storage_quota_mib(&self, mib: u32) {
        self.quota
            .store(u64::from(mib) << 20, std::sync::atomic::Ordering::Relaxed);
    }

    /// The bytes each organisation may store.
    pub fn storage_quota(&self) -> u64 {
        self.quota.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// The quotas the operator set for single organisations.
    pub async fn storage_quotas(
        &self,
    ) -> Result<std::collections::BTreeMap<String, u64>, StoreError> {
        usage::quotas(&*self.db).await
    }

    /// Sets `org`'s own quota in MiB (`None`: the default again).
    pub async fn set_org_storage_quota_mib(
        &self,
        org: &str,
        mib: Option<u32>,
    ) -> Result<(), StoreError> {
        ids::validate_org(org).map_err(StoreError::Invalid)?;
        usage::set_quota(&*self.db, org, mib.map(|m| u64::from(m) << 20)).await
    }

    /// Counts what every organisation stores again from the rows (after a
    /// rolling upgrade from a version without the count, or a repair by
    /// hand), in one transaction.
    pub async fn recount_stored_bytes(&self) -> Result<(), StoreError> {
        // The collections as the database has them now (another replica
        // may have declared more than this one knows).
        let declared = schema::load_all(&*self.db).await?;
        let all = collections::COLLECTIONS.iter().chain(declared.iter());
        let mut tx = self.db.begin().await?;
        usage::recount_all(&mut *tx, all).await?;
        tx.commit().await
    }

    /// The bytes stored by organisation and collection (of `org` alone
    /// when given), the largest first within an organisation.
    pub async fn stored_bytes(&self, org: Option<&str>) -> Result<Vec<usage::Usage>, StoreError> {
        usage::usage(&*self.db, org).await
    }

    /// A collection by its full name, or `NotFound`.
    pub fn collection(&self, name: &str) -> Result<Arc<Collection>, StoreError> {
        self.schema_get(name)
            .ok_or_else(|| StoreError::NotFound(format!("no collection `{name}`")))
    }

    /// The database, for the host's own tables (keys, plugin versions).
    pub fn db(&self) -> &dyn Database {
        &*self.db
    }

    /// The SQLite database, when the store is one (backups).
    pub fn sqlite(&self) -> Option<&db::sqlite::Sqlite> {
        self.sqlite.as_deref()
    }

    pub fn sealer(&self) -> &Sealer {
        &self.sealer
    }

    /// Create the organisation if it does not exist yet.
    pub async fn ensure_organisation(&self, org: &str) -> Result<(), StoreError> {
        ids::validate_org(org).map_err(StoreError::Invalid)?;
        self.db
            .execute(
                "INSERT INTO organisations (id, created_at) VALUES (?1, ?2) ON CONFLICT(id) DO NOTHING",
                db::params![org, records::now()],
            )
            .await?;
        Ok(())
    }

    /// Open a sealed field for the host's own use (SSH passwords,
    /// kubeconfigs). Never exposed to plugins.
    pub async fn reveal(
        &self,
        org: &str,
        collection: &str,
        id: &str,
        field: &str,
    ) -> Result<Option<String>, StoreError> {
        records::reveal(self, org, collection, id, field).await
    }
}
