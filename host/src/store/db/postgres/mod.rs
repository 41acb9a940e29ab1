//! The PostgreSQL backend for replicas: an async pool of tokio-postgres
//! connections (deadpool-postgres), prepared statements cached per
//! connection. The store's `?N` parameters become `$N`; values are bound
//! by the type PostgreSQL inferred for each parameter.
//!
//! Connections use TLS (rustls, the `ring` provider) as the URL's `sslmode`
//! says: `disable` plain; `prefer` (tokio-postgres' default) TLS when the
//! server offers it; `require` TLS or no connection. Whenever TLS is used
//! the server's certificate is verified, against the Mozilla roots or the
//! CA file of [`TlsOptions`]: never an unverified connection.

mod snapshot;
mod values;

use std::error::Error as StdError;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use async_trait::async_trait;
use deadpool_postgres::{Manager, ManagerConfig, Object, Pool, RecyclingMethod};
use tokio_postgres::types::ToSql;
use tokio_postgres_rustls::MakeRustlsConnect;

use super::read_cache::CacheFigures;
use super::{
    is_select, AnswerBudget, Database, DbRow, Dialect, Executor, Notice, Notices, Sql, Transaction,
};
use crate::store::StoreError;
pub use values::translate;
use values::Read;

/// A pool of connections to one PostgreSQL database.
pub struct Postgres {
    pool: Pool,
    describe: String,
    /// For connections outside the pool (`LISTEN`).
    config: tokio_postgres::Config,
    /// The pool's TLS connector, for those too.
    tls: MakeRustlsConnect,
    /// The CA file it trusts, for its errors.
    ca_file: Option<PathBuf>,
    /// The read cache, and this process's writes that invalidate a
    /// request's snapshot.
    snapshots: snapshot::Snapshots,
}

/// The environment variable naming the PEM file of the CA(s) that sign the
/// database server's certificate.
pub const CA_FILE_ENV: &str = "COMPUTEHUB_DATABASE_CA_FILE";

/// What a TLS connection to PostgreSQL trusts.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TlsOptions {
    /// A PEM file of the CA certificate(s) the server's certificate must
    /// chain to, in place of the Mozilla roots (a private CA).
    pub ca_file: Option<PathBuf>,
}

impl TlsOptions {
    /// From the environment: [`CA_FILE_ENV`] (unset or empty: the Mozilla
    /// roots).
    pub fn from_env() -> Self {
        TlsOptions {
            ca_file: std::env::var_os(CA_FILE_ENV)
                .filter(|v| !v.is_empty())
                .map(PathBuf::from),
        }
    }

    /// The connector for tokio-postgres, verifying the server's certificate
    /// and its name against the roots these options name.
    pub fn connector(&self) -> Result<MakeRustlsConnect, ConnectError> {
        let mut roots = rustls::RootCertStore::empty();
        match &self.ca_file {
            None => roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned()),
            Some(path) => {
                let bad = |why: String| {
                    ConnectError::CaFile(format!(
                        "the database CA file {} ({CA_FILE_ENV}) {why}",
                        path.display()
                    ))
                };
                let text = std::fs::read(path).map_err(|e| bad(format!("cannot be read: {e}")))?;
                let pems = pem::parse_many(&text).map_err(|e| bad(format!("is not PEM: {e}")))?;
                for p in pems.iter().filter(|p| p.tag() == "CERTIFICATE") {
                    roots
                        .add(rustls::pki_types::CertificateDer::from(
                            p.contents().to_vec(),
                        ))
                        .map_err(|e| {
                            bad(format!("holds a certificate that cannot be used: {e}"))
                        })?;
                }
                if roots.is_empty() {
                    return Err(bad("holds no PEM certificate".into()));
                }
            }
        }
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let config = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| ConnectError::CaFile(format!("TLS for PostgreSQL: {e}")))?
            .with_root_certificates(roots)
            .with_no_client_auth();
        Ok(MakeRustlsConnect::new(config))
    }
}

/// Why a PostgreSQL database could not be used.
#[derive(Debug, thiserror::Error)]
pub enum ConnectError {
    #[error("the database URL is not a PostgreSQL connection string")]
    Url,
    #[error("the connection pool could not be built")]
    Pool,
    #[error("PostgreSQL at {0} could not be reached")]
    Unreachable(String),
    /// The CA file cannot be used: the sentence says why.
    #[error("{0}")]
    CaFile(String),
    /// TLS failed with the server at `.0`: `.1` says why, in one sentence.
    #[error("PostgreSQL at {0}: {1}")]
    Tls(String, String),
}

/// Why a connection failed in TLS, in one sentence for an operator; `None`
/// when it failed otherwise.
fn tls_failure(e: &tokio_postgres::Error, ca_file: Option<&PathBuf>) -> Option<String> {
    use rustls::CertificateError as C;
    let mut cause: Option<&(dyn StdError + 'static)> = Some(e);
    let mut found = None;
    while let Some(c) = cause {
        if let Some(r) = c.downcast_ref::<rustls::Error>() {
            found = Some(r);
            break;
        }
        let inner = c
            .downcast_ref::<std::io::Error>()
            .and_then(|io| io.get_ref());
        if let Some(r) = inner.and_then(|i| i.downcast_ref::<rustls::Error>()) {
            found = Some(r);
            break;
        }
        if c.to_string() == "server does not support TLS" {
            return Some(
                "the server does not accept TLS, which the URL's sslmode=require demands".into(),
            );
        }
        cause = c.source();
    }
    let untrusted = || match ca_file {
        None => format!("the server's certificate is not trusted (set {CA_FILE_ENV} to its CA)"),
        Some(f) => format!(
            "the server's certificate is not trusted: no CA in {} ({CA_FILE_ENV}) signed it",
            f.display()
        ),
    };
    Some(match found? {
        rustls::Error::InvalidCertificate(c) => match c {
            C::UnknownIssuer | C::BadSignature => untrusted(),
            C::NotValidForName | C::NotValidForNameContext { .. } => {
                "the server's certificate is not issued for the host name in the URL".into()
            }
            C::Expired
            | C::ExpiredContext { .. }
            | C::NotValidYet
            | C::NotValidYetContext { .. } => {
                "the server's certificate has expired or is not valid yet".into()
            }
            C::Revoked => "the server's certificate has been revoked".into(),
            other => format!("the server's certificate was refused ({other:?})"),
        },
        other => format!("the TLS handshake failed ({other})"),
    })
}

impl Postgres {
    /// A pool of at most `max` connections to `url`
    /// (`postgres://user:password@host:port/db`), checked by one connection,
    /// with TLS as its `sslmode` says, trusting the Mozilla roots.
    pub async fn connect(url: &str, max: usize) -> Result<Self, ConnectError> {
        Self::connect_with(url, max, &TlsOptions::default()).await
    }

    /// [`Postgres::connect`], trusting what `tls` names.
    pub async fn connect_with(
        url: &str,
        max: usize,
        tls: &TlsOptions,
    ) -> Result<Self, ConnectError> {
        let config: tokio_postgres::Config = url.parse().map_err(|_| ConnectError::Url)?;
        let describe = describe(&config);
        let connector = tls.connector()?;
        let manager = Manager::from_config(
            config.clone(),
            connector.clone(),
            ManagerConfig {
                recycling_method: RecyclingMethod::Fast,
            },
        );
        let pool = Pool::builder(manager)
            .max_size(max.max(1))
            .build()
            .map_err(|_| ConnectError::Pool)?;
        let mut db = Postgres {
            pool,
            describe,
            config,
            tls: connector,
            ca_file: tls.ca_file.clone(),
            snapshots: snapshot::Snapshots::new(),
        };
        let first = db.pool.get().await.map_err(|e| {
            tracing::error!(database = %db.describe, error = %e, "cannot connect to PostgreSQL");
            match db.pool_tls_failure(&e) {
                Some(why) => ConnectError::Tls(db.describe.clone(), why),
                None => ConnectError::Unreachable(db.describe.clone()),
            }
        })?;
        match first.query_one("SHOW server_version_num", &[]).await {
            Ok(row) => {
                let version = row
                    .try_get::<_, &str>(0)
                    .ok()
                    .and_then(|v| v.parse::<u32>().ok());
                if let Some(v) = version {
                    db.snapshots.question = snapshot::question_for(v);
                }
            }
            Err(e) => {
                tracing::warn!(database = %db.describe, error = %e, "the server's version could not be read");
            }
        }
        drop(first);
        Ok(db)
    }

    fn pool_tls_failure(&self, e: &deadpool_postgres::PoolError) -> Option<String> {
        match e {
            deadpool_postgres::PoolError::Backend(e) => tls_failure(e, self.ca_file.as_ref()),
            _ => None,
        }
    }

    async fn client(&self) -> Result<Object, StoreError> {
        self.pool.get().await.map_err(|e| {
            let why = self.pool_tls_failure(&e).unwrap_or_else(|| e.to_string());
            StoreError::Internal(format!(
                "no PostgreSQL connection to {}: {why}",
                self.describe
            ))
        })
    }
}

/// `host:port/dbname`, never the user's password.
fn describe(c: &tokio_postgres::Config) -> String {
    let host = c
        .get_hosts()
        .first()
        .map(|h| match h {
            tokio_postgres::config::Host::Tcp(h) => h.clone(),
            #[cfg(unix)]
            tokio_postgres::config::Host::Unix(p) => p.display().to_string(),
        })
        .unwrap_or_default();
    let port = c.get_ports().first().copied().unwrap_or(5432);
    format!("{host}:{port}/{}", c.get_dbname().unwrap_or_default())
}

async fn run_execute(client: &Object, sql: &str, params: &[Sql]) -> Result<u64, StoreError> {
    let stmt = client.prepare_cached(&translate(sql)).await?;
    let refs: Vec<&(dyn ToSql + Sync)> = params.iter().map(|p| p as _).collect();
    Ok(client.execute(&stmt, &refs).await?)
}

async fn run_query(
    client: &Object,
    sql: &str,
    params: &[Sql],
    budget: &mut AnswerBudget,
) -> Result<Vec<DbRow>, StoreError> {
    let stmt = client.prepare_cached(&translate(sql)).await?;
    rows_of(client, &stmt, params, budget).await
}

/// A connection whose answer was cut short ([`AnswerBudget`]) would still
/// receive the rest of it: it is closed rather than given back to the pool,
/// which also stops the server sending.
fn discard_if_cut(client: Object, budget: &AnswerBudget) {
    if budget.exceeded() {
        drop(Object::take(client));
    }
}

/// The rows of the prepared `stmt`. Its request is queued on the connection
/// when the future is first polled, so two of them polled in turn run in
/// that order (one round trip for both).
///
/// Read as they arrive, no further than `budget` allows: past it the
/// stream is dropped (see [`discard_if_cut`] for the connection).
async fn rows_of(
    client: &Object,
    stmt: &tokio_postgres::Statement,
    params: &[Sql],
    budget: &mut AnswerBudget,
) -> Result<Vec<DbRow>, StoreError> {
    use futures_util::TryStreamExt;
    let refs = params.iter().map(|p| p as &(dyn ToSql + Sync));
    let stream = client.query_raw(stmt, refs).await?;
    futures_util::pin_mut!(stream);
    let mut out = Vec::new();
    while let Some(r) = stream.try_next().await? {
        let row = (0..r.len())
            .map(|i| r.try_get::<_, Read>(i).map(|v| v.0))
            .collect::<Result<Vec<_>, _>>()
            .map(DbRow)?;
        budget.take(&row)?;
        out.push(row);
    }
    Ok(out)
}

#[async_trait]
impl Database for Postgres {
    fn dialect(&self) -> Dialect {
        Dialect::Postgres
    }

    fn describe(&self) -> String {
        format!("PostgreSQL {}", self.describe)
    }

    async fn execute(&self, sql: &str, params: Vec<Sql>) -> Result<u64, StoreError> {
        let done = run_execute(&self.client().await?, sql, &params).await;
        self.snapshots.wrote();
        done
    }

    async fn query(&self, sql: &str, params: Vec<Sql>) -> Result<Vec<DbRow>, StoreError> {
        let done = run_query(
            &self.client().await?,
            sql,
            &params,
            &mut AnswerBudget::none(),
        )
        .await;
        if !is_select(sql) {
            // `INSERT .. RETURNING` and the like.
            self.snapshots.wrote();
        }
        done
    }

    async fn query_pure(&self, sql: &str, params: Vec<Sql>) -> Result<Vec<DbRow>, StoreError> {
        self.query_cached(sql, params).await
    }

    fn reads_per_request(&self) -> bool {
        true
    }

    fn read_cache(&self) -> Option<CacheFigures> {
        Some(self.snapshots.answers.figures())
    }

    fn set_read_cache(&self, on: bool) {
        self.snapshots.answers.set_enabled(on);
    }

    async fn batch(&self, sql: &str) -> Result<(), StoreError> {
        let done = self.client().await?.batch_execute(sql).await;
        self.snapshots.wrote();
        Ok(done?)
    }

    async fn begin(&self) -> Result<Box<dyn Transaction>, StoreError> {
        let client = self.client().await?;
        client.batch_execute("BEGIN").await?;
        Ok(Box::new(PgTx {
            client: Some(client),
            writes: self.snapshots.counter(),
        }))
    }

    async fn notify(&self, channel: &str, payload: &str) -> Result<(), StoreError> {
        run_query(
            &self.client().await?,
            "SELECT pg_notify(?1, ?2)",
            &[channel.into(), payload.into()],
            &mut AnswerBudget::none(),
        )
        .await?;
        Ok(())
    }

    async fn listen(&self, channels: &[&str]) -> Result<Option<Notices>, StoreError> {
        let (client, mut connection) =
            self.config.connect(self.tls.clone()).await.map_err(|e| {
                match tls_failure(&e, self.ca_file.as_ref()) {
                    Some(why) => {
                        StoreError::Internal(format!("PostgreSQL at {}: {why}", self.describe))
                    }
                    None => StoreError::from(e),
                }
            })?;
        let (tx, rx) = tokio::sync::mpsc::channel(256);
        let describe = self.describe.clone();
        // The connection's messages: notices go to the receiver; the task
        // ends with the connection, or when the receiver is dropped.
        tokio::spawn(async move {
            loop {
                let message = std::future::poll_fn(|cx| connection.poll_message(cx)).await;
                match message {
                    Some(Ok(tokio_postgres::AsyncMessage::Notification(n))) => {
                        let notice = Notice {
                            channel: n.channel().to_string(),
                            payload: n.payload().to_string(),
                        };
                        if tx.send(notice).await.is_err() {
                            return;
                        }
                    }
                    Some(Ok(_)) => {}
                    Some(Err(e)) => {
                        tracing::warn!(database = %describe, error = %e, "the LISTEN connection failed");
                        return;
                    }
                    None => return,
                }
            }
        });
        let mut sql = String::new();
        for c in channels {
            if c.is_empty() || !c.bytes().all(|b| b.is_ascii_lowercase() || b == b'_') {
                return Err(StoreError::Internal(format!("`{c}` is not a channel name")));
            }
            sql.push_str(&format!("LISTEN {c};"));
        }
        client.batch_execute(&sql).await?;
        Ok(Some(Notices {
            rx,
            _keep: Box::new(client),
        }))
    }
}

/// A transaction on one pooled connection; `ROLLBACK` when dropped open.
struct PgTx {
    client: Option<Object>,
    /// The database's count of writes, bumped when the commit returns.
    writes: Arc<AtomicU64>,
}

impl PgTx {
    fn client(&self) -> Result<&Object, StoreError> {
        self.client
            .as_ref()
            .ok_or_else(|| StoreError::Internal("the transaction has ended".into()))
    }
}

#[async_trait]
impl Executor for PgTx {
    fn dialect(&self) -> Dialect {
        Dialect::Postgres
    }
    async fn execute(&mut self, sql: &str, params: Vec<Sql>) -> Result<u64, StoreError> {
        run_execute(self.client()?, sql, &params).await
    }
    async fn query(&mut self, sql: &str, params: Vec<Sql>) -> Result<Vec<DbRow>, StoreError> {
        run_query(self.client()?, sql, &params, &mut AnswerBudget::none()).await
    }
    async fn batch(&mut self, sql: &str) -> Result<(), StoreError> {
        Ok(self.client()?.batch_execute(sql).await?)
    }
}

#[async_trait]
impl Transaction for PgTx {
    async fn commit(mut self: Box<Self>) -> Result<(), StoreError> {
        let client = self
            .client
            .take()
            .ok_or_else(|| StoreError::Internal("the transaction has ended".into()))?;
        let done = client.batch_execute("COMMIT").await;
        self.writes.fetch_add(1, Ordering::Release);
        Ok(done?)
    }
}

impl Drop for PgTx {
    fn drop(&mut self) {
        let Some(client) = self.client.take() else {
            return;
        };
        // The connection goes back to the pool only after its rollback;
        // without a runtime it is dropped (closed) instead.
        if let Ok(rt) = tokio::runtime::Handle::try_current() {
            rt.spawn(async move {
                if client.batch_execute("ROLLBACK").await.is_err() {
                    drop(Object::take(client));
                }
            });
        } else {
            drop(Object::take(client));
        }
    }
}
