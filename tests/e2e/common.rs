//! The test harness: the real `computehub` binary on an ephemeral loopback
//! port, with its own data dir, the fixture plugins in a plugins dir, and a
//! log file the tests can read.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

pub const BIN: &str = env!("CARGO_BIN_EXE_computehub");
pub const PLUGINS: &str = env!("COMPUTEHUB_TEST_PLUGINS");
pub const ADMIN: &str = "test-admin-token-0123456789";

/// The built-in grants of the plugins that reach clusters by id (kboss,
/// alaya, ief), with the tests' simulated clusters: every kubeconfig's API
/// server, stored or inline, must be inside the plugin's `kube-targets`, and
/// loopback is reachable only when a rule names it.
macro_rules! loopback_clusters {
    () => {
        r#"
[plugins.kboss]
role = "endpoint"
grants = ["log", "inventory", "pricing", "scheduling", "kubernetes", "ssh", "operations"]
ssh-targets = ["10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16"]
kube-targets = ["127.0.0.1"]
write = ["compute_centers", "clusters", "devices"]
secrets = ["compute_centers.api_pwd", "clusters.kubeconfig", "clusters.clusterjoin", "devices.adminpwd"]
[plugins.alaya]
role = "endpoint"
grants = ["log", "inventory", "kubernetes"]
read = ["clusters"]
kube-targets = ["127.0.0.1"]
[plugins.ief]
role = "endpoint"
grants = ["log", "inventory", "kubernetes"]
read = ["clusters"]
kube-targets = ["127.0.0.1"]
"#
    };
}
pub(crate) use loopback_clusters;

/// Grants for the fixture plugins, for pcapi the loopback API servers of the
/// tests' simulated clusters (inline kubeconfigs reach loopback only when
/// the config names it), and [`loopback_clusters`].
pub const CONFIG: &str = concat!(
    r#"
default-deadline-ms = 5000
[plugins.fixtures]
role = "endpoint"
grants = ["log", "inventory"]
write = ["devices", "compute_centers"]
secrets = ["devices.adminpwd", "compute_centers.api_pwd"]
public-routes = ["/fixtures/echo/{name}", "/fixtures/trap", "/fixtures/spin", "/fixtures/hog", "/fixtures/sleep"]
[plugins.echo]
role = "endpoint"
grants = ["log"]
public-routes = ["/echo/version", "/echo/sleep"]
[plugins.pcapi]
role = "endpoint"
grants = ["log", "inventory", "kubernetes", "scheduling", "ssh", "operations"]
kube-targets = ["127.0.0.1"]
read = ["devices", "clusters"]
"#,
    loopback_clusters!()
);

/// No grants but the built-in plugins' own (with no fixture plugins): what
/// `serve --demo` runs with on a fresh machine.
pub const BUILTIN_GRANTS_ONLY: &str = "default-deadline-ms = 5000\n";

/// The routes the fixtures component serves without authentication: a grant
/// of it (under any id) names them in `public-routes`, or it does not load.
pub const FIXTURES_PUBLIC: [&str; 5] = [
    "/fixtures/echo/{name}",
    "/fixtures/trap",
    "/fixtures/spin",
    "/fixtures/hog",
    "/fixtures/sleep",
];

/// `grant` (a JSON config entry) with the fixtures' public routes added.
pub fn fixtures_grant(mut grant: serde_json::Value) -> serde_json::Value {
    grant["public-routes"] = serde_json::json!(FIXTURES_PUBLIC);
    grant
}

pub fn wasm(name: &str) -> Vec<u8> {
    std::fs::read(Path::new(PLUGINS).join(name)).unwrap_or_else(|e| panic!("{name}: {e}"))
}

/// A compiled-component cache shared by tests that do not test the cache.
fn shared_cache() -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("e2e-cache");
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

pub struct Server {
    child: Option<Child>,
    pub base: String,
    pub dir: tempfile::TempDir,
    pub log: PathBuf,
    pub own_cache: bool,
    pub args: Vec<&'static str>,
    /// What the server printed on stdout (the demo's key and curl lines).
    pub stdout: std::sync::Arc<std::sync::Mutex<Vec<String>>>,
    pub http: reqwest::Client,
    /// The PostgreSQL store of this server (a fresh database of
    /// [`pgtest`]) when the tests run with `COMPUTEHUB_TEST_DATABASE=postgres`;
    /// `None`: SQLite in the data dir.
    pub database: Option<String>,
    /// Extra environment of the server and of the CLI beside it (replicas:
    /// their shared seal key).
    pub env: Vec<(String, String)>,
}

/// Whether this run's servers keep their store in PostgreSQL.
pub fn on_postgres() -> bool {
    std::env::var("COMPUTEHUB_TEST_DATABASE").as_deref() == Ok("postgres")
}

pub struct Options {
    pub config: &'static str,
    /// (file in PLUGINS, id) loaded from the plugins dir.
    pub plugins: Vec<(&'static str, &'static str)>,
    pub own_cache: bool,
    /// Extra `serve` arguments (`--debug-orgid`, `--demo`).
    pub args: Vec<&'static str>,
    /// The store in a fresh PostgreSQL database, whatever the run's
    /// `COMPUTEHUB_TEST_DATABASE`.
    pub postgres: bool,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            config: CONFIG,
            plugins: vec![("fixtures.wasm", "fixtures"), ("echo_v1.wasm", "echo")],
            own_cache: false,
            args: Vec::new(),
            postgres: false,
        }
    }
}

impl Server {
    pub fn start() -> Server {
        Self::with(Options::default())
    }

    pub fn with(opts: Options) -> Server {
        let database = (opts.postgres || on_postgres()).then(pgtest::database);
        Self::build(opts, database, Vec::new())
    }

    /// A replica: a server on the PostgreSQL database `url` (which other
    /// servers may share), its own data dir and port, with `env` added to
    /// its environment and the CLI's (e.g. `COMPUTEHUB_SEAL_KEY_FILE`).
    pub fn on_database(opts: Options, url: &str, env: Vec<(String, String)>) -> Server {
        Self::build(opts, Some(url.to_string()), env)
    }

    fn build(opts: Options, database: Option<String>, env: Vec<(String, String)>) -> Server {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("config.toml"), opts.config).unwrap();
        let pdir = dir.path().join("plugins-dir");
        std::fs::create_dir_all(&pdir).unwrap();
        for (file, id) in &opts.plugins {
            std::fs::write(pdir.join(format!("{id}.wasm")), wasm(file)).unwrap();
        }
        let mut s = Server {
            child: None,
            base: String::new(),
            log: dir.path().join("server.log"),
            dir,
            own_cache: opts.own_cache,
            args: opts.args,
            stdout: Default::default(),
            http: reqwest::Client::builder()
                .pool_max_idle_per_host(64)
                .build()
                .unwrap(),
            database,
            env,
        };
        s.launch();
        s
    }

    pub fn data(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    /// Start the binary and wait until it listens.
    pub fn launch(&mut self) {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log)
            .unwrap();
        let mut cmd = self.command();
        cmd.arg("serve")
            .arg("--listen")
            .arg("127.0.0.1:0")
            .arg("--data-dir")
            .arg(self.data())
            .arg("--config")
            .arg(self.dir.path().join("config.toml"))
            .arg("--plugins-dir")
            .arg(self.dir.path().join("plugins-dir"))
            .env("COMPUTEHUB_ADMIN_TOKEN", ADMIN)
            .env("COMPUTEHUB_LOG", "info")
            .stdout(Stdio::piped())
            .stderr(log);
        if !self.own_cache {
            cmd.arg("--cache-dir").arg(shared_cache());
        }
        cmd.args(&self.args);
        let mut child = cmd.spawn().unwrap();
        let stdout = child.stdout.take().unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        let printed = std::sync::Arc::clone(&self.stdout);
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if let Some(addr) = line.strip_prefix("listening on ") {
                    let _ = tx.send(addr.to_string());
                }
                printed.lock().unwrap().push(line);
            }
        });
        let base = rx
            .recv_timeout(Duration::from_secs(120))
            .unwrap_or_else(|_| {
                let _ = child.kill();
                panic!(
                    "server did not start; log:\n{}",
                    std::fs::read_to_string(&self.log).unwrap_or_default()
                )
            });
        self.base = base;
        self.child = Some(child);
    }

    /// The binary, acting on this server's store (`COMPUTEHUB_DATABASE_URL`
    /// set when it is in PostgreSQL).
    pub fn command(&self) -> Command {
        let mut cmd = Command::new(BIN);
        if let Some(url) = &self.database {
            cmd.env("COMPUTEHUB_DATABASE_URL", url);
        }
        cmd.envs(self.env.iter().map(|(k, v)| (k, v)));
        cmd
    }

    /// SIGTERM, and wait for the process to exit.
    pub fn stop(&mut self) -> std::process::ExitStatus {
        let mut child = self.child.take().expect("server running");
        let _ = Command::new("kill")
            .arg("-TERM")
            .arg(child.id().to_string())
            .status();
        child.wait().unwrap()
    }

    /// SIGKILL (`kill -9`: no shutdown at all), and wait for the process
    /// to exit.
    pub fn kill(&mut self) {
        let mut child = self.child.take().expect("server running");
        child.kill().unwrap();
        child.wait().unwrap();
    }

    /// The server's process id.
    pub fn pid(&self) -> u32 {
        self.child.as_ref().expect("server running").id()
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    /// The server's SQLite file opened beside it, for a test of the file
    /// itself; tests of what the store holds use [`Server::rows`] and its
    /// kin, which read either backend.
    pub fn sqlite(&self) -> rusqlite::Connection {
        assert!(
            self.database.is_none(),
            "this test reads the SQLite file; its store is in PostgreSQL"
        );
        rusqlite::Connection::open(self.data().join("computehub.db")).unwrap()
    }

    /// What the store holds, to look for what must not be there (a secret
    /// in the clear, hostile input): on SQLite every byte of the file and
    /// its write-ahead log, on PostgreSQL every row of every table as text.
    pub async fn stored_bytes(&self) -> Vec<u8> {
        let mut bytes = Vec::new();
        if self.database.is_none() {
            for name in ["computehub.db", "computehub.db-wal"] {
                if let Ok(b) = std::fs::read(self.data().join(name)) {
                    bytes.extend(b);
                }
            }
            return bytes;
        }
        let store = self.store().await;
        for table in self.table_names().await {
            let sql = format!("SELECT CAST(t AS TEXT) FROM \"{table}\" t");
            for row in store.db().query(&sql, vec![]).await.unwrap() {
                bytes.extend(row.get::<String>(0).unwrap().into_bytes());
            }
        }
        bytes
    }

    /// The store's tables by name, on either backend.
    pub async fn table_names(&self) -> Vec<String> {
        let sql = if self.database.is_some() {
            "SELECT table_name FROM information_schema.tables \
             WHERE table_schema = current_schema() ORDER BY table_name"
        } else {
            "SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name"
        };
        let store = self.store().await;
        let rows = store.db().query(sql, vec![]).await.unwrap();
        rows.iter().map(|r| r.get::<String>(0).unwrap()).collect()
    }

    /// Rows of a statement on the server's store, on either backend (`?1`
    /// parameters; PostgreSQL's integers are `BIGINT`, read as `i64`).
    pub async fn rows(
        &self,
        sql: &str,
        params: Vec<computehub::store::db::Sql>,
    ) -> Vec<computehub::store::db::DbRow> {
        self.store().await.db().query(sql, params).await.unwrap()
    }

    /// The one integer a statement answers (a `COUNT(*)`), on either backend.
    pub async fn count(&self, sql: &str, params: Vec<computehub::store::db::Sql>) -> i64 {
        let rows = self.rows(sql, params).await;
        assert_eq!(rows.len(), 1, "{sql}");
        rows[0].get::<i64>(0).unwrap()
    }

    /// The columns of a table by name, in their order, on either backend.
    pub async fn columns(&self, table: &str) -> Vec<String> {
        let sql = if self.database.is_some() {
            "SELECT column_name FROM information_schema.columns \
             WHERE table_schema = current_schema() AND table_name = ?1 ORDER BY ordinal_position"
        } else {
            "SELECT name FROM pragma_table_info(?1)"
        };
        let rows = self.rows(sql, vec![table.into()]).await;
        rows.iter().map(|r| r.get::<String>(0).unwrap()).collect()
    }

    pub async fn store(&self) -> computehub::store::Store {
        match &self.database {
            Some(url) => computehub::store::Store::open_url(url, &self.data())
                .await
                .unwrap(),
            None => computehub::store::Store::open(&self.data()).await.unwrap(),
        }
    }

    /// The server's log, holding every line written before this call.
    ///
    /// The server writes its log from a buffer a few milliseconds behind
    /// (host/src/telemetry/writer.rs), so reading the file right after a
    /// response could miss that response's lines, and a test asserting a
    /// secret is absent would pass without looking. A running server is
    /// sent a marker request first and the file read once the marker's
    /// `served` line is in it: the lines keep their order, so every line
    /// logged before the marker is there too. (A TLS server has no plain
    /// HTTP port for the marker; its log is read after a few flush periods,
    /// and the TLS tests assert lines are present, which cannot pass
    /// vacuously.)
    pub fn log_text(&self) -> String {
        let read = || std::fs::read_to_string(&self.log).unwrap_or_default();
        if self.child.is_none() {
            return read();
        }
        let Some(marker) = self.log_marker() else {
            std::thread::sleep(Duration::from_millis(200));
            return read();
        };
        let until = std::time::Instant::now() + Duration::from_secs(10);
        loop {
            let text = read();
            if text.contains(&marker) {
                return text;
            }
            assert!(
                std::time::Instant::now() < until,
                "the marker request {marker} never reached the log:\n{text}"
            );
            std::thread::sleep(Duration::from_millis(2));
        }
    }

    /// Sends `GET /healthz` with a fresh request id over plain HTTP and
    /// answers the id once the response came; `None` when the server has no
    /// plain HTTP port or does not answer (it exited).
    fn log_marker(&self) -> Option<String> {
        use std::io::{Read, Write};
        static MARKERS: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
        let host = self.base.strip_prefix("http://")?;
        let n = MARKERS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let id = format!("log-marker-{}-{n}", std::process::id());
        let mut c = std::net::TcpStream::connect(host).ok()?;
        c.set_read_timeout(Some(Duration::from_secs(10))).ok()?;
        write!(
            c,
            "GET /healthz HTTP/1.1\r\nHost: {host}\r\nx-request-id: {id}\r\nConnection: close\r\n\r\n"
        )
        .ok()?;
        let mut answer = Vec::new();
        c.read_to_end(&mut answer).ok()?;
        answer.starts_with(b"HTTP/1.1 200").then_some(id)
    }

    /// `computehub keys create`; the credential is the last line.
    pub fn key(&self, org: &str, scheme: &str) -> String {
        let out = self
            .command()
            .args([
                "keys",
                "create",
                "--org",
                org,
                "--scheme",
                scheme,
                "--data-dir",
            ])
            .arg(self.data())
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let stdout = String::from_utf8(out.stdout).unwrap();
        stdout.lines().last().unwrap().to_string()
    }

    pub async fn get(&self, path: &str) -> (u16, serde_json::Value) {
        let r = self.http.get(self.url(path)).send().await.unwrap();
        let status = r.status().as_u16();
        (status, r.json().await.unwrap_or(serde_json::Value::Null))
    }

    pub async fn get_admin(&self, path: &str) -> (u16, serde_json::Value) {
        self.admin(reqwest::Method::GET, path).await
    }

    pub async fn admin_delete(&self, path: &str) -> (u16, serde_json::Value) {
        self.admin(reqwest::Method::DELETE, path).await
    }

    /// A bodiless admin API call with the admin token.
    async fn admin(&self, method: reqwest::Method, path: &str) -> (u16, serde_json::Value) {
        self.admin_json(method, path, None).await
    }

    /// An admin API call with the admin token and `body` as JSON (none
    /// when `None`): status and the answer's JSON.
    pub async fn admin_json(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<&serde_json::Value>,
    ) -> (u16, serde_json::Value) {
        let mut r = self.http.request(method, self.url(path)).bearer_auth(ADMIN);
        if let Some(body) = body {
            r = r.json(body);
        }
        let r = r.send().await.unwrap();
        let status = r.status().as_u16();
        (status, r.json().await.unwrap_or(serde_json::Value::Null))
    }

    /// `/metrics` as text.
    pub async fn metrics(&self) -> String {
        let r = self.http.get(self.url("/metrics")).send().await.unwrap();
        r.text().await.unwrap()
    }

    /// Runs `read` until one run of it is answered with at least `n` hits
    /// of the read cache. On SQLite the first repeat of a read hits; on
    /// PostgreSQL a commit anywhere on the server (other tests share it) is
    /// a new snapshot, so a run may miss, and some run must not.
    pub async fn until_cached<F: AsyncFn()>(&self, n: u64, read: F) {
        for _ in 0..100 {
            let before = self.read_cache().await.0;
            read().await;
            if self.read_cache().await.0 >= before + n {
                return;
            }
        }
        panic!(
            "no read was answered from the cache: {:?}",
            self.read_cache().await
        );
    }

    /// Hits and misses of the read cache, from `/metrics`.
    pub async fn read_cache(&self) -> (u64, u64) {
        let metrics = self.metrics().await;
        let read = |result: &str| {
            metrics
                .lines()
                .find_map(|l| {
                    l.strip_prefix(&format!(
                        "computehub_store_read_cache_total{{result=\"{result}\"}} "
                    ))
                })
                .and_then(|n| n.parse().ok())
                .unwrap_or_else(|| panic!("no read cache figures in {metrics}"))
        };
        (read("hit"), read("miss"))
    }

    /// Insert a row through the fixtures plugin's `records` route (any
    /// collection: what its storage grant refuses is the point): status, body.
    pub async fn fixtures_record(
        &self,
        key: &str,
        collection: &str,
        body: serde_json::Value,
    ) -> (u16, String) {
        let r = self
            .http
            .post(self.url(&format!("/fixtures/records/{collection}")))
            .bearer_auth(key)
            .json(&body)
            .send()
            .await
            .unwrap();
        (r.status().as_u16(), r.text().await.unwrap())
    }

    /// `PUT /admin/plugins/{id}/grants` with `grant`: status and body.
    pub async fn put_grant(&self, id: &str, grant: serde_json::Value) -> (u16, serde_json::Value) {
        let path = format!("/admin/plugins/{id}/grants");
        self.admin_json(reqwest::Method::PUT, &path, Some(&grant))
            .await
    }

    /// [`Server::put_grant`], which must succeed.
    pub async fn grant(&self, id: &str, grant: serde_json::Value) {
        let (status, body) = self.put_grant(id, grant).await;
        assert_eq!(status, 200, "{body}");
    }

    pub async fn admin_put(&self, id: &str, file: &str) -> (u16, serde_json::Value) {
        let r = self
            .http
            .put(self.url(&format!("/admin/plugins/{id}?role=endpoint")))
            .bearer_auth(ADMIN)
            .body(wasm(file))
            .send()
            .await
            .unwrap();
        let status = r.status().as_u16();
        (status, r.json().await.unwrap_or(serde_json::Value::Null))
    }
}

/// What a server printed on stdout up to and including its `listening on`
/// line (or until it exits). Blocks: call it from a thread.
pub fn printed_until_listening(stdout: std::process::ChildStdout) -> Vec<String> {
    let mut seen = Vec::new();
    for line in BufReader::new(stdout).lines().map_while(Result::ok) {
        let done = line.starts_with("listening on");
        seen.push(line);
        if done {
            break;
        }
    }
    seen
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}
