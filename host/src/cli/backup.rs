//! `computehub backup` and `computehub restore`.
//!
//! A backup is SQLite's online backup of `computehub.db` (the server may be
//! running: the copy is one consistent snapshot, restarted by SQLite if the
//! server writes midway) into a new single-file database, mode 0600. The
//! seal key, which opens every sealed secret of the backup, is exported only
//! when asked (`--seal-key-to`), to a separate new 0600 file. The admin token
//! hash and the uploaded plugin versions are rows of the store, so a backup
//! holds them.
//!
//! A restore goes into a data dir without a store (a new one, or one whose
//! database is empty), holding its `computehub.lock` so no server starts on
//! it meanwhile; the backup is checked (SQLite `quick_check`, a computehub
//! schema no newer than this binary's), and with `--seal-key` every sealed
//! value must open with the key, else nothing is left behind.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use rusqlite::{backup::Backup, Connection, OpenFlags};

use crate::store::{self, seal::write_private, Store};

const DB: &str = "computehub.db";
const SEAL_KEY: &str = "seal.key";

#[derive(clap::Args)]
pub struct BackupArgs {
    #[arg(long, default_value = "computehub-data")]
    data_dir: PathBuf,
    /// The backup file to create (refused if it exists); mode 0600.
    #[arg(long)]
    to: PathBuf,
    /// Also export the seal key (which opens the backup's sealed secrets) to
    /// this new file, mode 0600. Keep it apart from the backup.
    #[arg(long)]
    seal_key_to: Option<PathBuf>,
}

#[derive(clap::Args)]
pub struct RestoreArgs {
    /// A file `computehub backup` made.
    #[arg(long)]
    from: PathBuf,
    /// The data dir to restore into: new, or without a non-empty store.
    #[arg(long)]
    data_dir: PathBuf,
    /// The seal key `backup --seal-key-to` exported; without it the sealed
    /// secrets (kubeconfigs, passwords, SKs) of the backup cannot be opened.
    #[arg(long)]
    seal_key: Option<PathBuf>,
}

#[derive(Debug, thiserror::Error)]
pub enum BackupError {
    #[error("{0} holds no computehub store (start the server with --data-dir there first)")]
    NoStore(PathBuf),
    #[error("{0} already exists; choose a new file (a backup never overwrites)")]
    Exists(PathBuf),
    #[error("{0} already holds a computehub store; restore into a new data dir")]
    StoreExists(PathBuf),
    #[error("{0} is not a computehub backup")]
    NotABackup(PathBuf),
    #[error("{0} is from a newer computehub (schema {1}); use that version to restore it")]
    Newer(PathBuf, usize),
    #[error("{0} is not a seal key (32 bytes)")]
    NotAKey(PathBuf),
    #[error("{0} already holds another seal key; restore into a new data dir")]
    OtherKey(PathBuf),
    #[error("the seal key {0} does not open the backup's sealed values ({1} of them); nothing was restored")]
    WrongKey(PathBuf, usize),
    #[error("cannot read the seal key of {0}")]
    ReadKey(PathBuf),
    #[error("cannot write {path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("SQLite failed on {path}: {source}")]
    Sqlite {
        path: PathBuf,
        source: rusqlite::Error,
    },
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> BackupError + '_ {
    move |source| BackupError::Io {
        path: path.to_path_buf(),
        source,
    }
}

fn sql(path: &Path) -> impl FnOnce(rusqlite::Error) -> BackupError + '_ {
    move |source| BackupError::Sqlite {
        path: path.to_path_buf(),
        source,
    }
}

/// Create `path` empty, mode 0600, failing if it exists.
fn create_private(path: &Path) -> Result<(), BackupError> {
    match write_private(path, b"") {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
            Err(BackupError::Exists(path.to_path_buf()))
        }
        Err(e) => Err(io(path)(e)),
    }
}

/// Copy `from` into `to` page by page (SQLite's online backup), then make
/// `to` a single file (rollback journal, not WAL).
fn copy(from: &Connection, to: &mut Connection, to_path: &Path) -> Result<(), BackupError> {
    Backup::new(from, to)
        .and_then(|b| b.run_to_completion(256, Duration::from_millis(2), None))
        .map_err(sql(to_path))?;
    to.pragma_update(None, "journal_mode", "DELETE")
        .map_err(sql(to_path))?;
    Ok(())
}

/// Backup and restore copy the SQLite file: a PostgreSQL store is backed
/// up by PostgreSQL's own tools.
fn refuse_postgres() -> anyhow::Result<()> {
    if super::database_from_env().is_some() {
        anyhow::bail!(
            "COMPUTEHUB_DATABASE_URL names a PostgreSQL store: back it up with pg_dump (or move it with `computehub export`); backup and restore copy a data dir's SQLite file"
        );
    }
    Ok(())
}

/// `computehub backup`.
pub fn backup(args: BackupArgs) -> anyhow::Result<ExitCode> {
    refuse_postgres()?;
    let BackupArgs {
        data_dir,
        to,
        seal_key_to,
    } = args;
    let db = data_dir.join(DB);
    if !db.is_file() {
        return Err(BackupError::NoStore(data_dir).into());
    }
    if seal_key_to.as_deref().is_some_and(|k| k == to) {
        anyhow::bail!("the seal key must go to another file than the backup");
    }
    let key = match &seal_key_to {
        Some(k) if k.exists() => return Err(BackupError::Exists(k.clone()).into()),
        Some(_) => Some(
            std::fs::read(data_dir.join(SEAL_KEY))
                .map_err(|_| BackupError::ReadKey(data_dir.clone()))?,
        ),
        None => None,
    };
    create_private(&to)?;
    let made = (|| {
        let src = Connection::open_with_flags(
            &db,
            OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )
        .map_err(sql(&db))?;
        src.busy_timeout(Duration::from_secs(10))
            .map_err(sql(&db))?;
        let mut dst = Connection::open(&to).map_err(sql(&to))?;
        copy(&src, &mut dst, &to)?;
        check(&dst, &to)
    })();
    let tables = match made {
        Ok(t) => t,
        Err(e) => {
            let _ = std::fs::remove_file(&to);
            return Err(e.into());
        }
    };
    store::private_file(&to);
    println!(
        "backed up {} (schema {}, {} rows) to {}",
        db.display(),
        tables.schema,
        tables.rows,
        to.display()
    );
    match (seal_key_to, key) {
        (Some(path), Some(key)) => {
            write_private(&path, &key).map_err(io(&path))?;
            println!(
                "seal key exported to {} (it opens every sealed secret of the backup: keep it apart)",
                path.display()
            );
        }
        _ => println!(
            "the seal key was not exported: the backup's sealed secrets open only with {} (--seal-key-to FILE exports it)",
            data_dir.join(SEAL_KEY).display()
        ),
    }
    Ok(ExitCode::SUCCESS)
}

/// What a checked backup holds.
struct Checked {
    schema: usize,
    rows: i64,
}

/// The backup is sound SQLite and a computehub store this binary can open.
fn check(conn: &Connection, path: &Path) -> Result<Checked, BackupError> {
    let not = || BackupError::NotABackup(path.to_path_buf());
    let ok: String = conn
        .query_row("PRAGMA quick_check", [], |r| r.get(0))
        .map_err(|_| not())?;
    if ok != "ok" {
        return Err(not());
    }
    let schema: i64 = conn
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .map_err(|_| not())?;
    let schema = schema.max(0) as usize;
    let has_keys: bool = conn
        .query_row(
            "SELECT count(*) > 0 FROM sqlite_master WHERE type = 'table' AND name = 'api_keys'",
            [],
            |r| r.get(0),
        )
        .map_err(|_| not())?;
    if schema == 0 || !has_keys {
        return Err(not());
    }
    if schema > store::migrations::latest() {
        return Err(BackupError::Newer(path.to_path_buf(), schema));
    }
    let mut rows = 0i64;
    let tables: Vec<String> = conn
        .prepare("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'")
        .and_then(|mut s| {
            s.query_map([], |r| r.get(0))?
                .collect::<rusqlite::Result<_>>()
        })
        .map_err(|_| not())?;
    for t in tables {
        let n: i64 = conn
            .query_row(&format!("SELECT count(*) FROM \"{t}\""), [], |r| r.get(0))
            .map_err(|_| not())?;
        rows += n;
    }
    Ok(Checked { schema, rows })
}

/// `computehub restore`.
pub async fn restore(args: RestoreArgs) -> anyhow::Result<ExitCode> {
    refuse_postgres()?;
    let RestoreArgs {
        from,
        data_dir,
        seal_key,
    } = args;
    let db = data_dir.join(DB);
    if std::fs::metadata(&db).is_ok_and(|m| m.len() > 0) {
        return Err(BackupError::StoreExists(data_dir).into());
    }
    let key = match &seal_key {
        Some(path) => {
            let key = std::fs::read(path).map_err(|_| BackupError::NotAKey(path.clone()))?;
            if key.len() != 32 {
                return Err(BackupError::NotAKey(path.clone()).into());
            }
            match std::fs::read(data_dir.join(SEAL_KEY)) {
                Ok(existing) if existing != key => {
                    return Err(BackupError::OtherKey(data_dir).into())
                }
                _ => {}
            }
            Some(key)
        }
        None => None,
    };
    let src = Connection::open_with_flags(&from, OpenFlags::SQLITE_OPEN_READ_ONLY)
        .map_err(|_| BackupError::NotABackup(from.clone()))?;
    let checked = check(&src, &from)?;
    // No server may start on the data dir while it is restored into.
    let _lock = super::lock_data_dir(&data_dir)?;
    store::private_dir(&data_dir).map_err(io(&data_dir))?;
    let key_path = data_dir.join(SEAL_KEY);
    let wrote_key = match &key {
        Some(k) if !key_path.exists() => {
            write_private(&key_path, k).map_err(io(&key_path))?;
            true
        }
        _ => false,
    };
    let sealed = match restore_into(&src, &from, &data_dir, key.is_some()).await {
        Ok(n) => n,
        Err(e) => {
            // Nothing is left behind: not the database, not the key we wrote.
            for suffix in ["", "-wal", "-shm", "-journal"] {
                let _ = std::fs::remove_file(data_dir.join(format!("{DB}{suffix}")));
            }
            if wrote_key {
                let _ = std::fs::remove_file(&key_path);
            }
            return Err(e.into());
        }
    };
    println!(
        "restored {} (schema {}, {} rows) into {}",
        from.display(),
        checked.schema,
        checked.rows,
        data_dir.display()
    );
    if key.is_some() {
        println!("seal key restored: all {sealed} sealed values open");
    } else {
        println!(
            "no seal key given: the {sealed} sealed values (kubeconfigs, passwords, SKs) do not open with this data dir's key"
        );
    }
    Ok(ExitCode::SUCCESS)
}

/// Copy the backup into `data_dir`'s database and open it as a store (which
/// brings an older schema up to date); with a key, check that every sealed
/// value opens. The number of sealed values.
async fn restore_into(
    src: &Connection,
    from: &Path,
    data_dir: &Path,
    keyed: bool,
) -> Result<usize, BackupError> {
    let db = data_dir.join(DB);
    let tmp = data_dir.join(format!("{DB}.restoring"));
    let _ = std::fs::remove_file(&tmp);
    create_private(&tmp)?;
    let copied = (|| {
        let mut dst = Connection::open(&tmp).map_err(sql(&tmp))?;
        copy(src, &mut dst, &tmp)
    })();
    if let Err(e) = copied {
        let _ = std::fs::remove_file(&tmp);
        return Err(e);
    }
    if !keyed {
        // Without the key the sealed values are lost: the restored store
        // gets a new key, so the old key's seal check goes too.
        let dst = Connection::open(&tmp).map_err(sql(&tmp))?;
        let _ = dst.execute("DELETE FROM seal_check", []);
    }
    std::fs::rename(&tmp, &db).map_err(io(&db))?;
    let store = Store::open(data_dir).await.map_err(|e| {
        match e.downcast_ref::<crate::store::seal::KeyError>() {
            // The store's seal check does not open with the given key.
            Some(crate::store::seal::KeyError::Mismatch(_)) => {
                BackupError::WrongKey(from.to_path_buf(), sealed_count(src))
            }
            _ => BackupError::NotABackup(from.to_path_buf()),
        }
    })?;
    let (opened, total) = open_sealed(&store).await.map_err(|e| {
        tracing::error!(error = %e, "cannot read the restored store's sealed values");
        BackupError::NotABackup(from.to_path_buf())
    })?;
    if keyed && opened < total {
        return Err(BackupError::WrongKey(from.to_path_buf(), total));
    }
    Ok(total)
}

/// How many sealed values the backup holds (secret fields of the host's
/// collections, AK/SK secrets), for the message of a key that opens none.
fn sealed_count(src: &Connection) -> usize {
    use crate::store::collections::{FieldKind, COLLECTIONS};
    let mut total = 0;
    for c in COLLECTIONS {
        for f in c.fields.iter().filter(|f| f.kind == FieldKind::Secret) {
            let sql = format!(
                "SELECT COUNT(*) FROM \"{}\" WHERE \"{}\" IS NOT NULL",
                c.name, f.name
            );
            total += src.query_row(&sql, [], |r| r.get::<_, i64>(0)).unwrap_or(0) as usize;
        }
    }
    let keys = "SELECT COUNT(*) FROM api_keys WHERE secret_sealed IS NOT NULL";
    total + src.query_row(keys, [], |r| r.get::<_, i64>(0)).unwrap_or(0) as usize
}

/// How many of the store's sealed values (secret fields of the host's
/// collections, AK/SK secrets) open with its key, of how many.
async fn open_sealed(store: &Store) -> Result<(usize, usize), crate::store::StoreError> {
    use crate::store::collections::{FieldKind, COLLECTIONS};
    use crate::store::db::params;
    let (mut opened, mut total) = (0, 0);
    for c in COLLECTIONS {
        for f in c.fields.iter().filter(|f| f.kind == FieldKind::Secret) {
            let rows: Vec<(String, String)> = store
                .db()
                .query(
                    &format!(
                        "SELECT org_id, id FROM \"{}\" WHERE \"{}\" IS NOT NULL",
                        c.name, f.name
                    ),
                    params![],
                )
                .await?
                .into_iter()
                .map(|mut r| Ok((r.take(0)?, r.take(1)?)))
                .collect::<Result<_, crate::store::StoreError>>()?;
            for (org, id) in rows {
                total += 1;
                if store.reveal(&org, &c.name, &id, &f.name).await.is_ok() {
                    opened += 1;
                }
            }
        }
    }
    let aksk: Vec<(String, Vec<u8>)> = store
        .db()
        .query(
            "SELECT id, secret_sealed FROM api_keys WHERE secret_sealed IS NOT NULL",
            params![],
        )
        .await?
        .into_iter()
        .map(|mut r| Ok((r.take(0)?, r.take(1)?)))
        .collect::<Result<_, crate::store::StoreError>>()?;
    for (id, sealed) in aksk {
        total += 1;
        if crate::auth::sealed_secret_opens(store, &id, &sealed) {
            opened += 1;
        }
    }
    Ok((opened, total))
}
