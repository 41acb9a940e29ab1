//! Command line: `serve`, `plugin list|check`, `keys create`, `clusters import`,
//! `admin rotate-token` ([`admin`]), `backup` and `restore` ([`backup`]).

mod admin;
mod backup;
mod plugins;
mod serve;
mod transfer;
mod users;

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;
use clap::{Parser, Subcommand, ValueEnum};

use crate::auth::{self, Scheme};
use crate::config::Config;
use crate::runtime::Role;
use crate::server::ServerLimits;
use crate::store::Store;
use plugins::plugin_command;
pub use serve::open_app;
use serve::{registry, serve, Serve};

#[derive(Parser)]
#[command(
    name = "computehub",
    version,
    about = "Compute-center cloud server hosting WebAssembly API plugins"
)]
pub struct Cli {
    #[command(subcommand)]
    command: Command,
}

/// How log lines are written.
#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
enum LogFormat {
    Text,
    Json,
}

#[derive(Subcommand)]
enum Command {
    /// Serve the APIs.
    Serve {
        /// Address to listen on.
        #[arg(long)]
        listen: Option<String>,
        #[arg(long, default_value = "computehub-data")]
        data_dir: PathBuf,
        /// TOML config (grants, limits); built-in defaults otherwise.
        #[arg(long)]
        config: Option<PathBuf>,
        /// `<id>.wasm` files that override or add to the built-in plugins.
        #[arg(long)]
        plugins_dir: Option<PathBuf>,
        /// Seed demo data and print the credentials a newcomer needs.
        #[arg(long)]
        demo: bool,
        /// TLS certificate chain (PEM); with `--tls-key` the server speaks
        /// HTTPS only (HTTP/2 and HTTP/1.1), reloading both on SIGHUP or change.
        #[arg(long, requires = "tls_key")]
        tls_cert: Option<PathBuf>,
        /// TLS private key (PEM) of `--tls-cert`.
        #[arg(long, requires = "tls_cert")]
        tls_key: Option<PathBuf>,
        /// Log lines as text (default) or as JSON objects, one per line,
        /// with the request's fields (id, client, caller, route) on each.
        #[arg(long, value_enum, default_value = "text")]
        log_format: LogFormat,
        /// Export traces over OTLP/HTTP to this collector (its base URL, e.g.
        /// http://127.0.0.1:4318; `/v1/traces` is appended). Off by default;
        /// `OTEL_EXPORTER_OTLP_ENDPOINT` in the environment turns it on too.
        #[arg(long)]
        otlp_endpoint: Option<String>,
        /// A file holding a bearer token that `/metrics` then requires
        /// (read at start; without it `/metrics` is open).
        #[arg(long)]
        metrics_token_file: Option<PathBuf>,
        /// Compiled-component cache (default: `<data dir>/cache`).
        #[arg(long)]
        cache_dir: Option<PathBuf>,
        /// Keep the store in PostgreSQL (`postgres://user:password@host:port/db`)
        /// instead of SQLite in the data dir: any number of replicas share it.
        /// The seal key then comes from COMPUTEHUB_SEAL_KEY_FILE or
        /// COMPUTEHUB_SEAL_KEY (the same for every replica).
        #[arg(long, env = "COMPUTEHUB_DATABASE_URL", hide_env_values = true)]
        database: Option<String>,
        /// Honour kboss's `orgid` parameter on session routes called without
        /// an API key (offline debugging): anyone can then act as any
        /// organisation. Never in production.
        #[arg(long)]
        debug_orgid: bool,
        /// Milliseconds this replica's claim on the operations it runs lasts
        /// unless renewed (every third of it); once a stopped replica's
        /// claim passes, the others mark its operations `interrupted`.
        #[arg(long, env = "COMPUTEHUB_OPERATION_LEASE_MS", default_value_t = ms(crate::operations::DEFAULT_LEASE))]
        operation_lease_ms: u64,
        #[command(flatten)]
        limits: LimitArgs,
    },
    /// Make, develop (hot-swap on save) and inspect plugins.
    Plugin {
        #[command(subcommand)]
        command: PluginCommand,
    },
    /// Manage API keys.
    Keys {
        #[command(subcommand)]
        command: KeysCommand,
    },
    /// Register Kubernetes clusters for an organisation.
    Clusters {
        #[command(subcommand)]
        command: ClustersCommand,
    },
    /// Operator credentials (the admin token).
    Admin {
        #[command(subcommand)]
        command: admin::AdminCommand,
    },
    /// Console users (sign-in to `/console/`).
    Users {
        #[command(subcommand)]
        command: users::UsersCommand,
    },
    /// Back up the store (online: the server may be running).
    Backup(backup::BackupArgs),
    /// Restore a backup into a new data dir.
    Restore(backup::RestoreArgs),
    /// Bring a store's schema up to date and print its version.
    Migrate(transfer::MigrateArgs),
    /// Write every row of a store (SQLite or PostgreSQL) to a file of JSON
    /// lines, secrets still sealed. Plugin wasm files and the admin token
    /// hash live in the data dir, not the database: they are not exported.
    Export(transfer::ExportArgs),
    /// Load an export into an empty store (SQLite or PostgreSQL) opened
    /// with the source's seal key, all rows in one transaction. Plugin wasm
    /// files and the admin token hash are not in the export: copy them.
    Import(transfer::ImportArgs),
}

/// What clients may hold of the server before they are authenticated.
#[derive(clap::Args)]
struct LimitArgs {
    /// Open connections in total; a connection beyond it is closed at once.
    #[arg(long, default_value_t = ServerLimits::default().max_connections)]
    max_connections: usize,
    /// Open connections from one client address.
    #[arg(long, default_value_t = ServerLimits::default().max_connections_per_ip)]
    max_connections_per_ip: usize,
    /// Milliseconds a request's headers may take to arrive (from its first
    /// byte, or from accept for a connection's first request).
    #[arg(long, default_value_t = ms(ServerLimits::default().header_read_timeout))]
    header_read_timeout_ms: u64,
    /// Milliseconds a connection may wait idle for its next request.
    #[arg(long, default_value_t = ms(ServerLimits::default().idle_timeout))]
    idle_timeout_ms: u64,
    /// MiB held at once, across all connections, for request bodies read
    /// before their sender is verified (AK/SK-signed bodies, debug `orgid`
    /// bodies, routes without authentication); beyond it such requests get 503.
    #[arg(long, default_value_t = ServerLimits::default().unverified_budget >> 20)]
    unverified_body_budget_mib: usize,
    /// Milliseconds an unverified request body may take to arrive (408 beyond).
    #[arg(long, default_value_t = ms(ServerLimits::default().unverified_body_timeout))]
    unverified_body_timeout_ms: u64,
    /// Failed authentications one client address (or one claimed key id)
    /// may have at once; beyond it 429 with Retry-After. 0: no throttling.
    #[arg(long, default_value_t = ServerLimits::default().auth_failure_burst)]
    auth_failure_burst: u32,
    /// How many more failures a minute that allowance refills.
    #[arg(long, default_value_t = ServerLimits::default().auth_failures_per_minute)]
    auth_failures_per_minute: u32,
    /// Requests one organisation may make a minute (after authentication);
    /// beyond it 429 with Retry-After. 0 (the default): no limit.
    #[arg(long, default_value_t = ServerLimits::default().org_requests_per_minute)]
    org_requests_per_minute: u32,
    /// Requests one organisation may make at once (0: a minute's worth).
    #[arg(long, default_value_t = ServerLimits::default().org_request_burst)]
    org_request_burst: u32,
    /// Milliseconds the server keeps serving after SIGTERM/Ctrl-C with
    /// `/readyz` answering 503 (draining), before it stops accepting and
    /// drains the requests in flight (behind Kubernetes: a few seconds).
    #[arg(long, default_value_t = ms(ServerLimits::default().shutdown_delay))]
    shutdown_delay_ms: u64,
    /// A reverse proxy (address or CIDR block; repeat for several) whose
    /// `X-Forwarded-For` names the client and `X-Forwarded-Proto: https`
    /// makes console cookies `Secure`: throttles, logs and the audit log
    /// then see the client, and the proxy is held to `--max-connections`
    /// only. From any other address those headers are ignored.
    #[arg(long = "trusted-proxy", value_name = "CIDR")]
    trusted_proxies: Vec<String>,
}

fn ms(d: std::time::Duration) -> u64 {
    d.as_millis() as u64
}

impl LimitArgs {
    fn limits(&self) -> anyhow::Result<ServerLimits> {
        use std::time::Duration;
        let trusted_proxies =
            crate::server::forwarded::TrustedProxies::parse(&self.trusted_proxies)
                .map_err(|e| anyhow::anyhow!("--trusted-proxy: {e}"))?;
        Ok(ServerLimits {
            max_connections: self.max_connections.max(1),
            max_connections_per_ip: self.max_connections_per_ip.max(1),
            header_read_timeout: Duration::from_millis(self.header_read_timeout_ms.max(1)),
            idle_timeout: Duration::from_millis(self.idle_timeout_ms.max(1)),
            unverified_budget: self.unverified_body_budget_mib << 20,
            unverified_body_timeout: Duration::from_millis(self.unverified_body_timeout_ms.max(1)),
            auth_failure_burst: self.auth_failure_burst,
            auth_failures_per_minute: self.auth_failures_per_minute,
            org_requests_per_minute: self.org_requests_per_minute,
            org_request_burst: self.org_request_burst,
            shutdown_delay: Duration::from_millis(self.shutdown_delay_ms),
            trusted_proxies,
        })
    }
}

#[derive(Subcommand)]
enum ClustersCommand {
    /// Register (or update) a cluster by its kubeconfig (sealed at rest); the
    /// cluster's id is printed alone on the last line. Plugins reach it only
    /// where their grant's `kube-targets` names its API server (the built-in
    /// grants name the private ranges; loopback only when named).
    Import {
        #[arg(long, default_value = "computehub-data")]
        data_dir: PathBuf,
        #[arg(long)]
        org: String,
        /// Cluster name (unique within its compute center).
        #[arg(long)]
        name: String,
        /// Path of the kubeconfig file.
        #[arg(long)]
        kubeconfig: PathBuf,
        /// Compute center to file it under (created if the organisation has
        /// none of that name).
        #[arg(long, default_value = "imported")]
        center: String,
        /// Also map this Huawei IEF project id to the cluster.
        #[arg(long)]
        ief_project: Option<String>,
    },
}

mod plugin_dev;
mod plugin_new;

#[derive(Subcommand)]
enum PluginCommand {
    /// Write a new plugin crate (endpoint or engine) that builds anywhere:
    /// the SDK and the WIT contract vendored, a README, a skeleton.
    New(plugin_new::NewArgs),
    /// Build a plugin crate, check it, hot-swap it into a running server and
    /// call its first route; again on every save.
    Dev(plugin_dev::DevArgs),
    /// The built-in plugins and their routes.
    List {
        #[arg(long)]
        config: Option<PathBuf>,
    },
    /// Check that a component loads: compiles, exports its role's world,
    /// imports only what its grant allows, and describes its routes.
    Check {
        file: PathBuf,
        #[arg(long, value_enum, default_value = "endpoint")]
        role: RoleArg,
        /// Plugin id whose grant applies (defaults to the file name).
        #[arg(long)]
        id: Option<String>,
        #[arg(long)]
        config: Option<PathBuf>,
    },
    /// Grant a plugin in the data dir's store, as `PUT
    /// /admin/plugins/{id}/grants` does (in force at the server's next start;
    /// the admin API puts it in force at once). The config file still wins.
    Grant {
        id: String,
        /// The plugin's config entry as JSON: `{"grants": ["log",
        /// "inventory"], "write": ["devices"], "kube-targets": [...]}`.
        grant: String,
        #[arg(long, default_value = "computehub-data")]
        data_dir: PathBuf,
        #[arg(long)]
        config: Option<PathBuf>,
    },
}

#[derive(Subcommand)]
enum KeysCommand {
    /// Create an API key; its credential is printed alone on the last line.
    Create {
        #[arg(long, default_value = "computehub-data")]
        data_dir: PathBuf,
        #[arg(long)]
        org: String,
        #[arg(long, value_enum)]
        scheme: SchemeArg,
        /// Bind the key to a project (IEF `project_id`): it is then accepted
        /// only on that project's paths.
        #[arg(long)]
        project: Option<String>,
    },
    /// List keys (ids, organisations, schemes, projects, dates; no secrets).
    List {
        #[arg(long, default_value = "computehub-data")]
        data_dir: PathBuf,
        /// Only this organisation's keys.
        #[arg(long)]
        org: Option<String>,
    },
    /// Revoke a key by id (the key id of a Bearer/X-Auth-Token credential
    /// `chk.<id>.<secret>`, the user of a Basic one, the AK of an AK/SK pair).
    Revoke {
        #[arg(long, default_value = "computehub-data")]
        data_dir: PathBuf,
        key_id: String,
    },
}

#[derive(Clone, Copy, ValueEnum)]
enum RoleArg {
    Endpoint,
    Pricing,
    Scheduling,
}

#[derive(Clone, Copy, ValueEnum)]
enum SchemeArg {
    Bearer,
    XAuthToken,
    Basic,
    /// Huawei AK/SK request signing: the last line is `AK SK`.
    Aksk,
}

impl From<RoleArg> for Role {
    fn from(r: RoleArg) -> Role {
        match r {
            RoleArg::Endpoint => Role::Endpoint,
            RoleArg::Pricing => Role::Pricing,
            RoleArg::Scheduling => Role::Scheduling,
        }
    }
}

/// Logging to stderr, and trace export when configured
/// ([`crate::telemetry`]). The server logs what it does (`info`); the one-shot
/// commands (keys, plugin, clusters) print their answer on stdout and log
/// only warnings, so their output is not buried under store migrations and
/// compile lines. `COMPUTEHUB_LOG` overrides either.
fn init_tracing(command: &Command) -> anyhow::Result<crate::telemetry::Guard> {
    use crate::telemetry::{self, otlp, Format, Output};
    let default = match command {
        Command::Serve { .. } => "info,wasmtime=warn,cranelift=warn",
        _ => "warn",
    };
    let filter = tracing_subscriber::EnvFilter::try_from_env("COMPUTEHUB_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    let (format, export) = match command {
        Command::Serve {
            log_format,
            otlp_endpoint,
            ..
        } => (
            match log_format {
                LogFormat::Json => Format::Json,
                LogFormat::Text => Format::Text,
            },
            otlp::configured(otlp_endpoint.as_deref())?,
        ),
        _ => (Format::Text, None),
    };
    // The server's lines are buffered (no request waits on a write); a
    // one-shot command's go out as they come.
    let output = match command {
        Command::Serve { .. } => Output::Buffered,
        _ => Output::Stderr,
    };
    Ok(telemetry::init(format, output, filter, export)?)
}

/// The runtime every command (and the benchmarks' servers) runs on.
pub fn runtime_tokio() -> anyhow::Result<tokio::runtime::Runtime> {
    Ok(tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        // A worker going idle gives back what its heap freed, once per
        // release (memory.rs).
        .on_thread_park(crate::memory::on_idle)
        .build()?)
}

pub fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    // Dropped when the command returns: the last spans are exported then.
    let _telemetry = init_tracing(&cli.command)?;
    // Every command runs on one runtime: the store is async.
    runtime_tokio()?.block_on(run_command(cli.command))
}

async fn run_command(command: Command) -> anyhow::Result<ExitCode> {
    match command {
        Command::Serve {
            listen,
            data_dir,
            config,
            plugins_dir,
            demo,
            cache_dir,
            debug_orgid,
            limits,
            log_format: _,
            otlp_endpoint: _,
            tls_cert,
            tls_key,
            metrics_token_file,
            database,
            operation_lease_ms,
        } => {
            let mut config = Config::load(config.as_deref())?;
            config.debug_orgid |= debug_orgid;
            if database.is_some() {
                config.database = database;
            }
            if config.debug_orgid {
                tracing::warn!(
                    "debug mode: kboss routes accept `orgid` instead of an API key; never use this in production"
                );
            }
            let cache_dir = cache_dir.unwrap_or_else(|| data_dir.join("cache"));
            serve(Serve {
                listen,
                data_dir,
                cache_dir,
                config,
                plugins_dir,
                demo,
                limits: limits.limits()?,
                tls: tls_cert.zip(tls_key),
                metrics_token_file,
                operation_lease: std::time::Duration::from_millis(operation_lease_ms),
            })
            .await?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Keys {
            command:
                KeysCommand::Create {
                    data_dir,
                    org,
                    scheme,
                    project,
                },
        } => {
            let store = open_store(&data_dir, database_from_env().as_deref()).await?;
            let scheme = match scheme {
                SchemeArg::Bearer => Scheme::Bearer,
                SchemeArg::XAuthToken => Scheme::XAuthToken,
                SchemeArg::Basic => Scheme::Basic,
                SchemeArg::Aksk => Scheme::Aksk,
            };
            let cred = auth::create_project_key(&store, &org, scheme, project.as_deref()).await?;
            let bound = match &cred.project {
                Some(p) => format!(" (project {p})"),
                None => String::new(),
            };
            println!(
                "created {} key {} for organisation {}{bound}",
                scheme.as_str(),
                cred.key_id,
                cred.organisation
            );
            println!("{}", cred.credential);
            Ok(ExitCode::SUCCESS)
        }
        Command::Keys {
            command: KeysCommand::List { data_dir, org },
        } => {
            let store = open_existing_store(&data_dir).await?;
            for k in auth::list_keys(&store, org.as_deref()).await? {
                println!(
                    "{}\t{}\t{}\t{}\t{}\t{}",
                    k.id,
                    k.organisation,
                    k.scheme,
                    k.project.as_deref().unwrap_or("-"),
                    k.created_at,
                    k.revoked_at
                        .as_deref()
                        .map_or("active".into(), |t| format!("revoked {t}")),
                );
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Keys {
            command: KeysCommand::Revoke { data_dir, key_id },
        } => {
            let store = open_existing_store(&data_dir).await?;
            if auth::revoke_key(&store, &key_id).await? {
                println!("revoked key {key_id}");
                Ok(ExitCode::SUCCESS)
            } else {
                eprintln!("no active key `{key_id}`");
                Ok(ExitCode::FAILURE)
            }
        }
        Command::Clusters {
            command:
                ClustersCommand::Import {
                    data_dir,
                    org,
                    name,
                    kubeconfig,
                    center,
                    ief_project,
                },
        } => {
            let yaml = std::fs::read_to_string(&kubeconfig)
                .with_context(|| format!("cannot read {}", kubeconfig.display()))?;
            let store = open_existing_store(&data_dir).await?;
            let imported = crate::clusters::import(&store, &org, &name, &yaml, &center).await?;
            println!(
                "{} cluster `{name}` for organisation {org} (center `{center}`)",
                if imported.created {
                    "imported"
                } else {
                    "updated"
                }
            );
            if let Ok(checked) = crate::policy::kubeconfig::check(&yaml) {
                let (host, port) = checked.host_port();
                println!(
                    "its API server is {host}:{port}: a plugin reaches it only where its grant's `kube-targets` names that address (the built-in grants name 10.0.0.0/8, 172.16.0.0/12 and 192.168.0.0/16; loopback and public addresses must be named)"
                );
            }
            if let Some(project) = ief_project {
                let ns =
                    crate::clusters::map_ief_project(&store, &org, &project, &imported.id).await?;
                println!("IEF project {project} -> this cluster, namespace {ns}");
            }
            println!("{}", imported.id);
            Ok(ExitCode::SUCCESS)
        }
        Command::Plugin { command } => plugin_command(command).await,
        Command::Admin { command } => admin::run(command).await,
        Command::Users { command } => users::run(command).await,
        Command::Backup(args) => backup::backup(args),
        Command::Restore(args) => backup::restore(args).await,
        Command::Migrate(args) => transfer::migrate(args).await,
        Command::Export(args) => transfer::export(args).await,
        Command::Import(args) => transfer::import(args).await,
    }
}

/// Hold `<data dir>/computehub.lock` for as long as the server runs (an
/// advisory lock the OS drops when the process ends, however it ends).
fn lock_data_dir(data_dir: &Path) -> anyhow::Result<std::fs::File> {
    std::fs::create_dir_all(data_dir)
        .with_context(|| format!("cannot create data dir {}", data_dir.display()))?;
    let path = data_dir.join("computehub.lock");
    let mut file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .read(true)
        .write(true)
        .open(&path)
        .with_context(|| format!("cannot open {}", path.display()))?;
    if file.try_lock().is_err() {
        let holder = std::fs::read_to_string(&path).unwrap_or_default();
        anyhow::bail!(
            "another computehub server (pid {}) serves data dir {}; stop it first or use another --data-dir",
            holder.trim(),
            data_dir.display()
        );
    }
    use std::io::Write as _;
    file.set_len(0)?;
    write!(file, "{}", std::process::id())?;
    Ok(file)
}

/// The store: PostgreSQL when a database URL is given, else the data dir's
/// SQLite file.
pub(crate) async fn open_store(data_dir: &Path, database: Option<&str>) -> anyhow::Result<Store> {
    match database {
        Some(url) => Store::open_url(url, data_dir)
            .await
            .context("opening the PostgreSQL store"),
        None => Store::open(data_dir).await.context("opening the store"),
    }
}

/// The database URL the environment names for commands other than `serve`
/// (`COMPUTEHUB_DATABASE_URL`), so they act on the same store as the
/// server.
pub(crate) fn database_from_env() -> Option<String> {
    std::env::var("COMPUTEHUB_DATABASE_URL")
        .ok()
        .filter(|v| !v.is_empty())
}

/// The store of an existing data dir (a typo must not create a new one),
/// or the PostgreSQL store `COMPUTEHUB_DATABASE_URL` names.
async fn open_existing_store(data_dir: &Path) -> anyhow::Result<Store> {
    if let Some(url) = database_from_env() {
        return open_store(data_dir, Some(&url)).await;
    }
    if !data_dir.join("computehub.db").exists() {
        anyhow::bail!(
            "{} holds no computehub store (start the server with --data-dir there first)",
            data_dir.display()
        );
    }
    Store::open(data_dir).await
}
