//! A real PostgreSQL server for tests, started once per test process.
//!
//! [`database`] returns the URL of a fresh, empty database on it. The
//! server is the machine's own PostgreSQL (`initdb`/`postgres` from
//! `COMPUTEHUB_PG_BIN`, `pg_config --bindir`, `/usr/lib/postgresql/*/bin` or
//! `PATH`), initialised into a temporary directory, run as the `postgres`
//! user when the tests run as root (PostgreSQL refuses root), listening on
//! 127.0.0.1 only, with trust authentication on loopback. It dies with the
//! test process (`PR_SET_PDEATHSIG` from a thread that lives as long), and
//! its directory is removed at the next start.
//!
//! No binaries means a failed test, not a skipped one: `.ci/run` installs
//! Debian's `postgresql` where they are missing.
//!
//! [`tls_database`] does the same on a second server, started on first use
//! with TLS on (`ssl = on`): its certificate, for `127.0.0.1` and
//! `localhost`, is signed by a CA made for this process, whose PEM is
//! [`Tls::ca_file`]; [`Tls::other_ca_file`] is a CA that signed nothing (a
//! client trusting it must refuse the server). Plain connections are still
//! accepted, so `sslmode=disable` connects without TLS.
//!
//! [`proxy::Proxy`] stands between a client and the server, to cut the
//! database off and bring it back.

pub mod proxy;

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{mpsc, OnceLock};
use std::time::{Duration, Instant};

/// The running server of this test process.
pub struct Server {
    /// Where `initdb` and `createdb` are.
    bin: PathBuf,
    /// The loopback port it listens on.
    pub port: u16,
    /// Its data and socket directory.
    pub dir: PathBuf,
    /// Its TLS files, when it was started by [`tls_server`].
    pub tls: Option<Tls>,
}

/// The CA files of a server with TLS on.
pub struct Tls {
    /// PEM of the CA that signed the server's certificate.
    pub ca_file: PathBuf,
    /// PEM of another CA, which signed nothing the server has.
    pub other_ca_file: PathBuf,
}

static SERVER: OnceLock<Result<Server, String>> = OnceLock::new();
static TLS_SERVER: OnceLock<Result<Server, String>> = OnceLock::new();
static NEXT: AtomicUsize = AtomicUsize::new(0);

/// The server, started on first use. Panics (failing the test) with the
/// reason when PostgreSQL cannot be started.
pub fn server() -> &'static Server {
    match SERVER.get_or_init(|| start(false)) {
        Ok(s) => s,
        Err(e) => panic!("cannot start a PostgreSQL server for the tests: {e}"),
    }
}

/// The server with TLS on (its [`Server::tls`] is set), started on first
/// use, apart from [`server`]. Panics (failing the test) with the reason
/// when it cannot be started.
pub fn tls_server() -> &'static Server {
    match TLS_SERVER.get_or_init(|| start(true)) {
        Ok(s) => s,
        Err(e) => panic!("cannot start a PostgreSQL server with TLS for the tests: {e}"),
    }
}

/// The URL of a new empty database on [`server`].
pub fn database() -> String {
    server().create_database()
}

/// The URL of a new empty database on [`tls_server`] (no `sslmode`: the
/// test adds the one it means).
pub fn tls_database() -> String {
    tls_server().create_database()
}

impl Server {
    /// Creates a new empty database; its URL.
    pub fn create_database(&self) -> String {
        let s = self;
        let name = format!(
            "t{}_{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        );
        let out = Command::new(s.bin.join("createdb"))
            .args([
                "-h",
                "127.0.0.1",
                "-p",
                &s.port.to_string(),
                "-U",
                "postgres",
                &name,
            ])
            .output()
            .unwrap_or_else(|e| panic!("cannot run createdb: {e}"));
        assert!(
            out.status.success(),
            "createdb {name} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        s.url(&name)
    }

    /// The URL of database `name` as the `postgres` superuser.
    pub fn url(&self, name: &str) -> String {
        format!("postgres://postgres@127.0.0.1:{}/{name}", self.port)
    }

    /// Runs `psql -c sql` against database `name` (for what a test needs
    /// to see or break behind the server's back).
    pub fn psql(&self, name: &str, sql: &str) -> String {
        let out = Command::new(self.bin.join("psql"))
            .args([
                "-h",
                "127.0.0.1",
                "-p",
                &self.port.to_string(),
                "-U",
                "postgres",
            ])
            .args(["-d", name, "-At", "-v", "ON_ERROR_STOP=1", "-c", sql])
            .output()
            .unwrap_or_else(|e| panic!("cannot run psql: {e}"));
        assert!(
            out.status.success(),
            "psql failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    }
}

fn bindir() -> Result<PathBuf, String> {
    if let Some(dir) = std::env::var_os("COMPUTEHUB_PG_BIN") {
        return Ok(dir.into());
    }
    if let Ok(out) = Command::new("pg_config").arg("--bindir").output() {
        let dir = PathBuf::from(String::from_utf8_lossy(&out.stdout).trim());
        if dir.join("initdb").exists() {
            return Ok(dir);
        }
    }
    let mut found: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.path().join("bin"))
        .filter(|b| b.join("initdb").exists())
        .collect();
    found.sort();
    if let Some(dir) = found.pop() {
        return Ok(dir);
    }
    std::env::var_os("PATH")
        .into_iter()
        .flat_map(|p| std::env::split_paths(&p).collect::<Vec<_>>())
        .find(|d| d.join("initdb").exists())
        .ok_or_else(|| {
            "no initdb found (install Debian's postgresql, or set COMPUTEHUB_PG_BIN)".into()
        })
}

/// The uid and gid to run as: `postgres` when we are root.
fn run_as() -> Result<Option<(u32, u32)>, String> {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        return Ok(None);
    }
    let name = c"postgres";
    // SAFETY: a NUL-terminated name; the returned record is read at once,
    // before any other getpw* call of this thread.
    let pw = unsafe { libc::getpwnam(name.as_ptr()) };
    if pw.is_null() {
        return Err("running as root and there is no `postgres` user".into());
    }
    // SAFETY: non-null, from getpwnam.
    Ok(Some(unsafe { ((*pw).pw_uid, (*pw).pw_gid) }))
}

fn chown(path: &Path, ids: Option<(u32, u32)>) -> Result<(), String> {
    if let Some((uid, gid)) = ids {
        std::os::unix::fs::chown(path, Some(uid), Some(gid))
            .map_err(|e| format!("chown {}: {e}", path.display()))?;
    }
    Ok(())
}

fn command(bin: &Path, ids: Option<(u32, u32)>) -> Command {
    use std::os::unix::process::CommandExt;
    let mut c = Command::new(bin);
    if let Some((uid, gid)) = ids {
        // std drops root's supplementary groups before it changes the uid.
        c.uid(uid).gid(gid);
    }
    c
}

fn start(tls: bool) -> Result<Server, String> {
    let bin = bindir()?;
    let ids = run_as()?;
    let root = std::env::temp_dir().join("computehub-pgtest");
    std::fs::create_dir_all(&root).map_err(|e| e.to_string())?;
    chown(&root, ids)?;
    // Directories of earlier runs whose server is gone.
    for entry in std::fs::read_dir(&root).into_iter().flatten().flatten() {
        // `<pid>` or `<pid>-tls`.
        let name = entry.file_name().to_string_lossy().into_owned();
        let pid = name.split('-').next().and_then(|p| p.parse::<i32>().ok());
        // SAFETY: kill with signal 0 only checks that the process exists.
        if pid.is_some_and(|p| unsafe { libc::kill(p, 0) } != 0) {
            let _ = std::fs::remove_dir_all(entry.path());
        }
    }
    let suffix = if tls { "-tls" } else { "" };
    let dir = root.join(format!("{}{suffix}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
    chown(&dir, ids)?;
    let data = dir.join("data");
    let out = command(&bin.join("initdb"), ids)
        .args(["-D", &data.to_string_lossy(), "-U", "postgres"])
        .args(["--auth=trust", "--no-sync", "--encoding=UTF8", "--locale=C"])
        .output()
        .map_err(|e| format!("cannot run initdb: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "initdb failed: {}",
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    let (tls, ssl_args) = if tls {
        let (files, args) = tls_files(&dir, ids)?;
        (Some(files), args)
    } else {
        (None, Vec::new())
    };
    let port = TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map_err(|e| e.to_string())?
        .port();
    // Spawned from a thread that never ends: the death signal fires when
    // the spawning thread exits, and it must only fire with the process.
    let (tx, rx) = mpsc::channel();
    let (postgres, data2, dir2) = (bin.join("postgres"), data.clone(), dir.clone());
    std::thread::spawn(move || {
        use std::os::unix::process::CommandExt;
        let mut c = command(&postgres, ids);
        c.args(["-D", &data2.to_string_lossy()])
            .args(["-h", "127.0.0.1", "-p", &port.to_string()])
            .args(["-k", &dir2.to_string_lossy()])
            .args(["-c", "fsync=off", "-c", "synchronous_commit=off"])
            .args(["-c", "full_page_writes=off", "-c", "max_connections=300"])
            .args(&ssl_args)
            .stdout(Stdio::null())
            .stderr(Stdio::from(
                std::fs::File::create(dir2.join("server.log"))
                    .unwrap_or_else(|_| std::fs::File::create("/dev/null").expect("/dev/null")),
            ));
        // SAFETY: prctl is async-signal-safe.
        unsafe {
            c.pre_exec(|| {
                libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
                Ok(())
            });
        }
        let _ = tx.send(c.spawn().map_err(|e| format!("cannot start postgres: {e}")));
        loop {
            std::thread::park();
        }
    });
    let mut child = rx
        .recv()
        .map_err(|_| "the postgres thread ended".to_string())??;
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let ready = Command::new(bin.join("pg_isready"))
            .args(["-h", "127.0.0.1", "-p", &port.to_string(), "-U", "postgres"])
            .stdout(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        if ready {
            break;
        }
        if let Ok(Some(status)) = child.try_wait() {
            let log = std::fs::read_to_string(dir.join("server.log")).unwrap_or_default();
            return Err(format!("postgres exited ({status}): {log}"));
        }
        if Instant::now() > deadline {
            return Err("postgres did not accept connections within 30 s".into());
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    // The child handle is kept by nobody: the process ends with ours.
    std::mem::forget(child);
    Ok(Server {
        bin,
        port,
        dir,
        tls,
    })
}

/// A CA and a server certificate it signed for `127.0.0.1` and `localhost`,
/// written into `dir` for the server (owned by the user it runs as, the
/// key private to it), and another CA; the server's `-c` arguments.
fn tls_files(dir: &Path, ids: Option<(u32, u32)>) -> Result<(Tls, Vec<String>), String> {
    use rcgen::{
        BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer,
        KeyPair, KeyUsagePurpose,
    };
    use std::os::unix::fs::PermissionsExt;
    let err = |e: rcgen::Error| format!("cannot make the test certificates: {e}");
    let ca = |name: &str| -> Result<(String, Issuer<'static, KeyPair>), String> {
        let mut params = CertificateParams::new(Vec::<String>::new()).map_err(err)?;
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.distinguished_name.push(DnType::CommonName, name);
        params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        let key = KeyPair::generate().map_err(err)?;
        let cert = params.self_signed(&key).map_err(err)?;
        Ok((cert.pem(), Issuer::new(params, key)))
    };
    let (ca_pem, issuer) = ca("pgtest CA")?;
    let (other_pem, _) = ca("pgtest other CA")?;
    let mut params = CertificateParams::new(vec!["127.0.0.1".to_string(), "localhost".to_string()])
        .map_err(err)?;
    params
        .distinguished_name
        .push(DnType::CommonName, "pgtest server");
    params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    let key = KeyPair::generate().map_err(err)?;
    let cert = params.signed_by(&key, &issuer).map_err(err)?;
    let write = |name: &str, text: &str, mode: u32| -> Result<PathBuf, String> {
        let path = dir.join(name);
        std::fs::write(&path, text).map_err(|e| format!("write {}: {e}", path.display()))?;
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode))
            .map_err(|e| format!("chmod {}: {e}", path.display()))?;
        chown(&path, ids)?;
        Ok(path)
    };
    let ca_file = write("ca.crt", &ca_pem, 0o644)?;
    let other_ca_file = write("other-ca.crt", &other_pem, 0o644)?;
    let cert_file = write("server.crt", &cert.pem(), 0o644)?;
    // PostgreSQL refuses a key that others can read.
    let key_file = write("server.key", &key.serialize_pem(), 0o600)?;
    let args = vec![
        "-c".to_string(),
        "ssl=on".to_string(),
        "-c".to_string(),
        format!("ssl_cert_file={}", cert_file.display()),
        "-c".to_string(),
        format!("ssl_key_file={}", key_file.display()),
    ];
    Ok((
        Tls {
            ca_file,
            other_ca_file,
        },
        args,
    ))
}
