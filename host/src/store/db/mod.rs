//! The SQL database under the store, behind one small async trait with two
//! backends: the embedded SQLite file ([`sqlite`], the default) and
//! PostgreSQL ([`postgres`], for replicas).
//!
//! Everything above this module writes SQL once, in the subset both
//! dialects share: numbered parameters `?1`, `?2` (rewritten to `$1` for
//! PostgreSQL), `ON CONFLICT`, `RETURNING`, `LIMIT`/`OFFSET`, and values of
//! five kinds ([`Sql`]). What differs (column types, a substring test, row
//! locks, the schema version) is asked of the [`Dialect`].
//!
//! No call blocks an async worker: SQLite statements run on tokio's
//! blocking pool, PostgreSQL ones on an async connection pool.

pub mod postgres;
pub mod read_cache;
pub mod scope;
pub mod sqlite;

use async_trait::async_trait;

use super::StoreError;

/// A text literal in SQL, for names the store checked (collection and
/// field names); the quote is doubled all the same.
pub(crate) fn literal(s: &str) -> String {
    format!("'{}'", s.replace('\'', "''"))
}

/// Holds `key`'s advisory lock (PostgreSQL) until the transaction ends, so
/// replicas doing the same at once take turns; SQLite has one writer and
/// needs none.
pub(crate) async fn advisory_lock(ex: &mut dyn Executor, key: &str) -> Result<(), StoreError> {
    if ex.dialect() == Dialect::Postgres {
        ex.query("SELECT pg_advisory_xact_lock(hashtext(?1))", params![key])
            .await?;
    }
    Ok(())
}

/// A statement that begins with `SELECT`: one that reads (a data-modifying
/// `WITH` begins otherwise). A backend still confirms it before relying on
/// it where it can.
pub(crate) fn is_select(sql: &str) -> bool {
    sql.trim_start()
        .get(..6)
        .is_some_and(|w| w.eq_ignore_ascii_case("select"))
}

/// A value bound to, or read from, a statement.
#[derive(Debug, Clone, PartialEq)]
pub enum Sql {
    Null,
    Integer(i64),
    Real(f64),
    Text(String),
    Blob(Vec<u8>),
}

impl Sql {
    /// The bytes of a text or blob (0 for any other value).
    pub fn payload_len(&self) -> usize {
        match self {
            Sql::Text(t) => t.len(),
            Sql::Blob(b) => b.len(),
            _ => 0,
        }
    }
}

impl From<i64> for Sql {
    fn from(v: i64) -> Self {
        Sql::Integer(v)
    }
}
impl From<i32> for Sql {
    fn from(v: i32) -> Self {
        Sql::Integer(v.into())
    }
}
impl From<u16> for Sql {
    fn from(v: u16) -> Self {
        Sql::Integer(v.into())
    }
}
impl From<&Option<String>> for Sql {
    fn from(v: &Option<String>) -> Self {
        v.as_deref().into()
    }
}
impl From<u32> for Sql {
    fn from(v: u32) -> Self {
        Sql::Integer(v.into())
    }
}
impl From<usize> for Sql {
    fn from(v: usize) -> Self {
        Sql::Integer(i64::try_from(v).unwrap_or(i64::MAX))
    }
}
impl From<bool> for Sql {
    fn from(v: bool) -> Self {
        Sql::Integer(v.into())
    }
}
impl From<f64> for Sql {
    fn from(v: f64) -> Self {
        Sql::Real(v)
    }
}
impl From<String> for Sql {
    fn from(v: String) -> Self {
        Sql::Text(v)
    }
}
impl From<&str> for Sql {
    fn from(v: &str) -> Self {
        Sql::Text(v.to_string())
    }
}
impl From<&String> for Sql {
    fn from(v: &String) -> Self {
        Sql::Text(v.clone())
    }
}
impl From<Vec<u8>> for Sql {
    fn from(v: Vec<u8>) -> Self {
        Sql::Blob(v)
    }
}
impl From<&[u8]> for Sql {
    fn from(v: &[u8]) -> Self {
        Sql::Blob(v.to_vec())
    }
}
impl<T: Into<Sql>> From<Option<T>> for Sql {
    fn from(v: Option<T>) -> Self {
        v.map_or(Sql::Null, Into::into)
    }
}

/// The parameters of a statement: `params![a, b]` is `vec![Sql::from(a), ..]`.
#[macro_export]
macro_rules! params {
    () => { ::std::vec::Vec::<$crate::store::db::Sql>::new() };
    ($($v:expr),+ $(,)?) => { vec![$($crate::store::db::Sql::from($v)),+] };
}
pub use params;

/// A Rust type a column reads into.
pub trait Column: Sized {
    fn read(v: Sql) -> Option<Self>;
}
impl Column for Sql {
    fn read(v: Sql) -> Option<Self> {
        Some(v)
    }
}
impl Column for i64 {
    fn read(v: Sql) -> Option<Self> {
        match v {
            Sql::Integer(i) => Some(i),
            _ => None,
        }
    }
}
impl Column for bool {
    fn read(v: Sql) -> Option<Self> {
        i64::read(v).map(|i| i != 0)
    }
}
impl Column for f64 {
    fn read(v: Sql) -> Option<Self> {
        match v {
            Sql::Real(r) => Some(r),
            Sql::Integer(i) => Some(i as f64),
            _ => None,
        }
    }
}
impl Column for String {
    fn read(v: Sql) -> Option<Self> {
        match v {
            Sql::Text(s) => Some(s),
            _ => None,
        }
    }
}
impl Column for Vec<u8> {
    fn read(v: Sql) -> Option<Self> {
        match v {
            Sql::Blob(b) => Some(b),
            _ => None,
        }
    }
}
impl<T: Column> Column for Option<T> {
    fn read(v: Sql) -> Option<Self> {
        match v {
            Sql::Null => Some(None),
            v => T::read(v).map(Some),
        }
    }
}

/// The most bytes the answer to a page a caller asked for may hold
/// ([`Database::query_pure`], the store's collection pages), as the host
/// keeps its values: a page of rows whose text is large (a field not in an
/// index has no bound of its own) would otherwise make the host hold
/// gigabytes for one call. A plugin's memory cap (64 MiB by default) holds
/// the page lowered, its own copy and its heap: a page near this budget may
/// still be more than a plugin can take in, which then fails alone. The
/// host's own reads (an export's whole tables, a plugin's wasm, an
/// operation's log) have no budget.
pub const MAX_ANSWER_BYTES: usize = 32 << 20;

/// Counts an answer's bytes as its rows arrive; both backends stop reading
/// at the first row past its limit, so at most the limit and one row are
/// held.
#[derive(Debug, Clone, Copy)]
pub(crate) struct AnswerBudget {
    used: usize,
    limit: usize,
}

impl AnswerBudget {
    /// No bound: the host's own reads.
    pub(crate) fn none() -> Self {
        AnswerBudget {
            used: 0,
            limit: usize::MAX,
        }
    }

    /// A page a caller asked for: [`MAX_ANSWER_BYTES`].
    pub(crate) fn page() -> Self {
        AnswerBudget {
            used: 0,
            limit: MAX_ANSWER_BYTES,
        }
    }

    /// Counts `row`: `Invalid` (the caller's to fix: fewer rows at a time)
    /// once the answer is past the limit.
    pub(crate) fn take(&mut self, row: &DbRow) -> Result<(), StoreError> {
        if self.limit == usize::MAX {
            return Ok(());
        }
        self.used = row.0.iter().fold(self.used, |n, v| {
            n.saturating_add(std::mem::size_of::<Sql>())
                .saturating_add(v.payload_len())
        });
        if self.exceeded() {
            return Err(StoreError::Invalid(format!(
                "the rows asked for hold more than {} MiB: read fewer at a time (a smaller limit)",
                self.limit >> 20
            )));
        }
        Ok(())
    }

    /// Whether the answer went past the limit (and was cut short).
    pub(crate) fn exceeded(&self) -> bool {
        self.used > self.limit
    }
}

/// One row of a result.
#[derive(Debug, Clone, PartialEq)]
pub struct DbRow(pub Vec<Sql>);

impl DbRow {
    /// Column `i` as `T`; a missing column or one of another kind is an
    /// internal error (the SQL and the schema disagree).
    pub fn get<T: Column>(&self, i: usize) -> Result<T, StoreError> {
        let v = self.0.get(i).cloned().unwrap_or(Sql::Null);
        let kind = kind_of(&v);
        T::read(v).ok_or_else(|| {
            StoreError::Internal(format!(
                "column {i} holds {kind}, not {}",
                std::any::type_name::<T>()
            ))
        })
    }

    /// Column `i` moved out of the row (the row keeps a null).
    pub fn take<T: Column>(&mut self, i: usize) -> Result<T, StoreError> {
        let v = self
            .0
            .get_mut(i)
            .map(|v| std::mem::replace(v, Sql::Null))
            .unwrap_or(Sql::Null);
        let kind = kind_of(&v);
        T::read(v).ok_or_else(|| {
            StoreError::Internal(format!(
                "column {i} holds {kind}, not {}",
                std::any::type_name::<T>()
            ))
        })
    }
}

fn kind_of(v: &Sql) -> &'static str {
    match v {
        Sql::Null => "null",
        Sql::Integer(_) => "an integer",
        Sql::Real(_) => "a real",
        Sql::Text(_) => "text",
        Sql::Blob(_) => "bytes",
    }
}

/// What differs between the two databases, for the SQL the store builds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    Sqlite,
    Postgres,
}

impl Dialect {
    /// `haystack` contains the text of parameter `p`.
    pub fn contains(self, haystack: &str, p: usize) -> String {
        match self {
            Dialect::Sqlite => format!("instr({haystack}, ?{p}) > 0"),
            Dialect::Postgres => format!("strpos({haystack}, ?{p}) > 0"),
        }
    }

    /// Appended to a `SELECT` inside a transaction that will write the rows
    /// it read: PostgreSQL locks them against concurrent writers (other
    /// connections, other replicas); SQLite's one writer needs nothing.
    pub fn for_update(self) -> &'static str {
        match self {
            Dialect::Sqlite => "",
            Dialect::Postgres => " FOR UPDATE",
        }
    }

    /// The column type of an integer.
    pub fn integer(self) -> &'static str {
        match self {
            Dialect::Sqlite => "INTEGER",
            Dialect::Postgres => "BIGINT",
        }
    }

    /// The column type of sealed bytes.
    pub fn blob(self) -> &'static str {
        match self {
            Dialect::Sqlite => "BLOB",
            Dialect::Postgres => "BYTEA",
        }
    }

    /// The column type of text, compared and ordered byte by byte in both
    /// (SQLite's `BINARY`, PostgreSQL's `C` collation), so pages come back
    /// in the same order whichever database holds them.
    pub fn text(self) -> &'static str {
        match self {
            Dialect::Sqlite => "TEXT",
            Dialect::Postgres => "TEXT COLLATE \"C\"",
        }
    }

    /// PostgreSQL truncates identifiers past 63 bytes (SQLite keeps them
    /// whole): a longer index name is shortened with a hash, stable for
    /// the same name.
    pub fn index_name(self, name: &str) -> String {
        if self == Dialect::Sqlite || name.len() <= 63 {
            return name.to_string();
        }
        use sha2::Digest;
        let hash = hex::encode(&sha2::Sha256::digest(name.as_bytes())[..6]);
        let mut cut = 50;
        while !name.is_char_boundary(cut) {
            cut -= 1;
        }
        format!("{}.{hash}", &name[..cut])
    }
}

/// Runs statements: the database itself (each statement on its own) or an
/// open transaction.
#[async_trait]
pub trait Executor: Send {
    fn dialect(&self) -> Dialect;
    /// Runs one statement; the number of rows it changed.
    async fn execute(&mut self, sql: &str, params: Vec<Sql>) -> Result<u64, StoreError>;
    /// Runs one statement; every row it returned.
    async fn query(&mut self, sql: &str, params: Vec<Sql>) -> Result<Vec<DbRow>, StoreError>;
    /// Runs several statements without parameters (schema changes).
    async fn batch(&mut self, sql: &str) -> Result<(), StoreError>;

    /// The first row, if any.
    async fn query_opt(
        &mut self,
        sql: &str,
        params: Vec<Sql>,
    ) -> Result<Option<DbRow>, StoreError> {
        Ok(self.query(sql, params).await?.into_iter().next())
    }
}

/// An open transaction: dropped without [`Transaction::commit`], it rolls
/// back.
#[async_trait]
pub trait Transaction: Executor {
    async fn commit(self: Box<Self>) -> Result<(), StoreError>;
}

/// A database: statements on their own, or transactions.
#[async_trait]
pub trait Database: Send + Sync + 'static {
    fn dialect(&self) -> Dialect;
    /// Where it is, without credentials (for logs and errors).
    fn describe(&self) -> String;
    async fn execute(&self, sql: &str, params: Vec<Sql>) -> Result<u64, StoreError>;
    async fn query(&self, sql: &str, params: Vec<Sql>) -> Result<Vec<DbRow>, StoreError>;
    async fn batch(&self, sql: &str) -> Result<(), StoreError>;
    async fn begin(&self) -> Result<Box<dyn Transaction>, StoreError>;

    /// The first row, if any.
    async fn query_opt(&self, sql: &str, params: Vec<Sql>) -> Result<Option<DbRow>, StoreError> {
        Ok(self.query(sql, params).await?.into_iter().next())
    }

    /// `query` for a `SELECT` whose answer is a function of the database's
    /// content alone (no clock, no random, no session state): a backend may
    /// answer it with what the same statement read before, as long as
    /// nothing has been committed since by anyone ([`read_cache`]; SQLite
    /// per statement, PostgreSQL per request, [`scope`]). Its answer is a
    /// page a caller asked for: at most [`MAX_ANSWER_BYTES`], past that
    /// `Invalid`.
    async fn query_pure(&self, sql: &str, params: Vec<Sql>) -> Result<Vec<DbRow>, StoreError>;

    /// [`Database::query_pure`]'s first row, if any.
    async fn query_pure_opt(
        &self,
        sql: &str,
        params: Vec<Sql>,
    ) -> Result<Option<DbRow>, StoreError> {
        Ok(self.query_pure(sql, params).await?.into_iter().next())
    }

    /// Whether a request's pure reads share a stamp ([`scope`]): for a
    /// backend whose stamp costs a round trip.
    fn reads_per_request(&self) -> bool {
        false
    }

    /// Hits and misses of the read cache; `None` without one.
    fn read_cache(&self) -> Option<read_cache::CacheFigures> {
        None
    }

    /// Turn the read cache on (the default) or off (config `read-cache =
    /// false`: every read runs its statement).
    fn set_read_cache(&self, _on: bool) {}

    /// Tell every process listening on `channel` (PostgreSQL's `NOTIFY`),
    /// this one included. SQLite serves one process: nobody else to tell.
    async fn notify(&self, _channel: &str, _payload: &str) -> Result<(), StoreError> {
        Ok(())
    }

    /// The notices of every process on `channels`, on a connection of their
    /// own; `None` when the backend serves one process. The stream ends when
    /// that connection is lost: listen again (notices sent meanwhile are
    /// lost, so a listener also checks what it follows now and then).
    async fn listen(&self, _channels: &[&str]) -> Result<Option<Notices>, StoreError> {
        Ok(None)
    }
}

/// One notice: its channel and payload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Notice {
    pub channel: String,
    pub payload: String,
}

/// The notices a [`Database::listen`] receives, while its connection lives.
pub struct Notices {
    pub(crate) rx: tokio::sync::mpsc::Receiver<Notice>,
    /// Whatever keeps the listening connection open.
    pub(crate) _keep: Box<dyn std::any::Any + Send + Sync>,
}

impl Notices {
    /// The next notice; `None` once the connection is lost.
    pub async fn recv(&mut self) -> Option<Notice> {
        self.rx.recv().await
    }

    /// The notices already received and not yet taken, without waiting
    /// (so that a burst of them is handled once).
    pub fn ready(&mut self) -> Vec<Notice> {
        let mut out = Vec::new();
        while let Ok(n) = self.rx.try_recv() {
            out.push(n);
        }
        out
    }
}

/// A [`Database`] used as an [`Executor`]: each statement on its own.
pub struct Direct<'a>(pub &'a dyn Database);

#[async_trait]
impl Executor for Direct<'_> {
    fn dialect(&self) -> Dialect {
        self.0.dialect()
    }
    async fn execute(&mut self, sql: &str, params: Vec<Sql>) -> Result<u64, StoreError> {
        self.0.execute(sql, params).await
    }
    async fn query(&mut self, sql: &str, params: Vec<Sql>) -> Result<Vec<DbRow>, StoreError> {
        self.0.query(sql, params).await
    }
    async fn batch(&mut self, sql: &str) -> Result<(), StoreError> {
        self.0.batch(sql).await
    }
}

/// "a record with this `name` already exists", from the last column a
/// unique constraint names.
pub(crate) fn unique_message(column: &str) -> String {
    format!("a record with this `{column}` already exists")
}

#[cfg(test)]
mod tests;
#[cfg(test)]
mod tls_tests;
