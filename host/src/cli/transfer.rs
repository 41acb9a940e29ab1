//! `computehub migrate`, `export` and `import`: an explicit schema step,
//! and a whole store moved between SQLite (a data dir) and PostgreSQL (a
//! database URL) through a file of JSON lines ([`crate::store::transfer`]).
//!
//! Sealed values stay sealed: the file holds them as the source stored
//! them, and the target must be opened with the same seal key, which the
//! environment names (`COMPUTEHUB_SEAL_KEY_FILE`, `COMPUTEHUB_SEAL_KEY`) or,
//! for a data dir, its own `seal.key`. The plugin wasm files and the admin
//! token hash live in the data dir, not in the database, so they are not
//! in the file.

use std::io::BufWriter;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use crate::store::seal::{self, KeySource};
use crate::store::{transfer, Store};

/// Connections an export, import or migration keeps to PostgreSQL.
const CONNECTIONS: usize = 2;

/// Said after every export and import.
const NOT_MOVED: &str = "moved with the rows: the uploaded plugin versions and the admin token hash; not moved: the seal key, which the database never holds (keep using the same one)";

/// A store: a data dir's SQLite file, or a PostgreSQL database.
#[derive(clap::Args, Debug, Clone)]
#[group(required = true, multiple = false)]
pub struct StoreArgs {
    /// The data dir whose SQLite store (`computehub.db`) is meant.
    #[arg(long)]
    data_dir: Option<PathBuf>,
    /// A PostgreSQL database (`postgres://user:password@host:port/db`); the
    /// seal key then comes from COMPUTEHUB_SEAL_KEY_FILE or COMPUTEHUB_SEAL_KEY.
    #[arg(long)]
    database: Option<String>,
}

#[derive(clap::Args)]
pub struct MigrateArgs {
    #[command(flatten)]
    store: StoreArgs,
}

#[derive(clap::Args)]
pub struct ExportArgs {
    #[command(flatten)]
    store: StoreArgs,
    /// The file to write (refused if it exists); mode 0600. It holds the
    /// sealed secrets, still sealed, and the password hashes.
    #[arg(long)]
    out: PathBuf,
}

#[derive(clap::Args)]
pub struct ImportArgs {
    /// A file `computehub export` wrote.
    #[arg(long = "in")]
    input: PathBuf,
    #[command(flatten)]
    store: StoreArgs,
}

/// Why a command stopped before touching the store, in one sentence.
#[derive(Debug, thiserror::Error)]
pub enum TransferCliError {
    #[error("{0} holds no computehub store")]
    NoStore(PathBuf),
    #[error("the database URL must start with postgres:// or postgresql://")]
    NotPostgres,
    #[error("no seal key for the PostgreSQL store: name it with COMPUTEHUB_SEAL_KEY_FILE or COMPUTEHUB_SEAL_KEY")]
    NoEnvKey,
    #[error("{0} has no seal.key and the environment names no seal key: copy the source's seal.key there, or name it with COMPUTEHUB_SEAL_KEY_FILE or COMPUTEHUB_SEAL_KEY; nothing was written")]
    NoDirKey(PathBuf),
    #[error("{0} already exists; choose a new file (an export never overwrites)")]
    Exists(PathBuf),
    #[error("cannot write {0}: {1}")]
    Write(PathBuf, std::io::Error),
}

/// What `open` may do to a data dir that holds no store yet.
#[derive(Clone, Copy, PartialEq, Eq)]
enum New {
    /// Create it (migrate).
    Create,
    /// Create it only with a seal key already there (import).
    WithKey,
    /// Refuse (export).
    Refuse,
}

/// Opens the store; with `export`, only once its seal key is known to be
/// the one the export at that path was sealed with (a wrong key leaves no
/// trace on the target).
async fn open(args: &StoreArgs, new: New, export: Option<&Path>) -> anyhow::Result<Store> {
    let key_matches = |sealer: &seal::Sealer| -> anyhow::Result<()> {
        match export {
            Some(path) if !transfer::sealed_with(path, sealer)? => {
                Err(transfer::TransferError::WrongKey.into())
            }
            _ => Ok(()),
        }
    };
    if let Some(url) = &args.database {
        if !(url.starts_with("postgres://") || url.starts_with("postgresql://")) {
            return Err(TransferCliError::NotPostgres.into());
        }
        let (sealer, source) = seal::env_sealer()?.ok_or(TransferCliError::NoEnvKey)?;
        key_matches(&sealer)?;
        return Store::open_postgres(url, CONNECTIONS, sealer, &source).await;
    }
    let dir = args.data_dir.clone().unwrap_or_default();
    let exists = dir.join("computehub.db").exists();
    if !exists && new == New::Refuse {
        return Err(TransferCliError::NoStore(dir).into());
    }
    if new == New::WithKey {
        match KeySource::from_env(&dir) {
            KeySource::DataDir(key) if !key.exists() => {
                return Err(TransferCliError::NoDirKey(dir).into());
            }
            KeySource::DataDir(key) => key_matches(&seal::Sealer::load_or_create(&key)?)?,
            _ => {
                if let Some((sealer, _)) = seal::env_sealer()? {
                    key_matches(&sealer)?;
                }
            }
        }
    }
    Store::open(&dir).await
}

pub async fn migrate(args: MigrateArgs) -> anyhow::Result<ExitCode> {
    let store = open(&args.store, New::Create, None).await?;
    let mut db = crate::store::db::Direct(store.db());
    let version = transfer::schema_version(&mut db).await?;
    println!(
        "{}: schema version {version} (this computehub's latest is {})",
        store.db().describe(),
        crate::store::migrations::latest()
    );
    Ok(ExitCode::SUCCESS)
}

pub async fn export(args: ExportArgs) -> anyhow::Result<ExitCode> {
    let store = open(&args.store, New::Refuse, None).await?;
    let file = create_private(&args.out)?;
    let mut out = BufWriter::new(file);
    let summary = match transfer::export(&store, &mut out).await {
        Ok(s) => s,
        Err(e) => {
            drop(out);
            let _ = std::fs::remove_file(&args.out);
            return Err(e.into());
        }
    };
    println!(
        "exported {} rows of {} tables (schema version {}) from {} to {}",
        summary.rows(),
        summary.tables.len(),
        summary.schema_version,
        store.db().describe(),
        args.out.display()
    );
    print_tables(&summary);
    println!("{NOT_MOVED}");
    Ok(ExitCode::SUCCESS)
}

pub async fn import(args: ImportArgs) -> anyhow::Result<ExitCode> {
    if !args.input.is_file() {
        anyhow::bail!("{} is not a file", args.input.display());
    }
    let store = open(&args.store, New::WithKey, Some(&args.input)).await?;
    let summary = transfer::import(&store, &args.input).await?;
    println!(
        "imported {} rows of {} tables (schema version {}) from {} into {}",
        summary.rows(),
        summary.tables.len(),
        summary.schema_version,
        args.input.display(),
        store.db().describe()
    );
    print_tables(&summary);
    println!("{NOT_MOVED}");
    Ok(ExitCode::SUCCESS)
}

fn print_tables(summary: &transfer::Summary) {
    for (table, rows) in &summary.tables {
        println!("  {table}: {rows}");
    }
}

/// A new file, mode 0600; an existing one is refused.
fn create_private(path: &Path) -> Result<std::fs::File, TransferCliError> {
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(crate::store::PRIVATE_FILE);
    }
    opts.open(path).map_err(|e| match e.kind() {
        std::io::ErrorKind::AlreadyExists => TransferCliError::Exists(path.to_path_buf()),
        _ => TransferCliError::Write(path.to_path_buf(), e),
    })
}
