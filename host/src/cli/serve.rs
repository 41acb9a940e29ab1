//! `serve`: the application over a data dir (store, plugins, admin token,
//! operations left running by a stopped process), the listener (TLS when
//! configured), and shutdown on SIGTERM or Ctrl-C.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::Context;

use super::{lock_data_dir, open_store};
use crate::auth::AdminToken;
use crate::capabilities::Capabilities;
use crate::config::Config;
use crate::registry::Registry;
use crate::runtime::{HostServices, Limits, Runtime};
use crate::server::{self, metrics::Metrics, App, ServerLimits};
use crate::store::Store;

fn limits(config: &Config) -> Limits {
    Limits {
        memory_bytes: (config.memory_limit_mib as usize) << 20,
        default_deadline: std::time::Duration::from_millis(config.default_deadline_ms.into()),
        max_concurrency: config.max_concurrency as usize,
        ..Limits::default()
    }
}

/// The registry over a data dir (the store, the cache and plugin versions).
pub(super) async fn registry(
    data_dir: &Path,
    cache_dir: PathBuf,
    config: Config,
) -> anyhow::Result<(Registry, Arc<Store>)> {
    let store = Arc::new(open_store(data_dir, config.database.as_deref()).await?);
    store.db().set_read_cache(config.read_cache);
    store.set_storage_quota_mib(config.storage_quota_mib);
    let limits = limits(&config);
    let capabilities = Capabilities::new(Arc::clone(&store));
    capabilities.policy.set_grants(config.policy_grants()?);
    let services = HostServices::new(capabilities, limits.clone());
    let runtime = Runtime::new(cache_dir, limits, services)?;
    Ok((
        Registry::new(
            runtime,
            Arc::clone(&store),
            config,
            data_dir.to_path_buf(),
            crate::builtin::BUILTIN_PLUGINS,
        ),
        store,
    ))
}

/// The application over a data dir, its plugins booted: what `serve` runs
/// (and what the benchmarks run in-process). The second value is a newly
/// generated admin token, present only on the very first start.
pub async fn open_app(
    data_dir: &Path,
    cache_dir: PathBuf,
    config: Config,
    plugins_dir: Option<&Path>,
    admin_token: Option<String>,
) -> anyhow::Result<(Arc<App>, Option<String>)> {
    std::fs::create_dir_all(data_dir)
        .with_context(|| format!("cannot create data dir {}", data_dir.display()))?;
    let (registry, store) = registry(data_dir, cache_dir, config).await?;
    let (admin, fresh_token) = AdminToken::load(&store, data_dir, admin_token).await?;
    // Operations that were running died with the previous process (SQLite),
    // or with a replica whose lease has passed (PostgreSQL).
    let operations = registry.runtime.capabilities().operations.records();
    let interrupted = operations.interrupt_running().await?;
    if interrupted > 0 {
        tracing::warn!(
            interrupted,
            "operations left running by a stopped process are now `interrupted`"
        );
    }
    registry.boot(plugins_dir).await?;
    let app = Arc::new(App {
        registry,
        store,
        admin,
        metrics: Metrics::default(),
        draining: Default::default(),
    });
    Ok((app, fresh_token))
}

/// What `serve` runs with.
pub(super) struct Serve {
    pub(super) listen: Option<String>,
    pub(super) data_dir: PathBuf,
    pub(super) cache_dir: PathBuf,
    pub(super) config: Config,
    pub(super) plugins_dir: Option<PathBuf>,
    pub(super) demo: bool,
    pub(super) limits: ServerLimits,
    /// Certificate chain and key (PEM).
    pub(super) tls: Option<(PathBuf, PathBuf)>,
    /// The token `/metrics` requires.
    pub(super) metrics_token_file: Option<PathBuf>,
    /// How long this replica's claim on a running operation lasts.
    pub(super) operation_lease: std::time::Duration,
}

pub(super) async fn serve(opts: Serve) -> anyhow::Result<()> {
    let Serve {
        listen,
        data_dir,
        cache_dir,
        config,
        plugins_dir,
        demo,
        limits,
        tls,
        metrics_token_file,
        operation_lease,
    } = opts;
    let listen = listen
        .or_else(|| config.listen.clone())
        .unwrap_or_else(|| "127.0.0.1:8080".to_string());
    // One server per data dir: a second would diverge from the first and mark
    // its running operations `interrupted`.
    let _lock = lock_data_dir(&data_dir)?;
    // A certificate that does not load stops the start, before anything else.
    let tls = match &tls {
        Some((cert, key)) => Some(server::tls::acceptor(cert, key)?),
        None => None,
    };
    let metrics_token = metrics_token_file
        .as_deref()
        .map(server::metrics_token::MetricsToken::load)
        .transpose()?;
    // Bind before anything is generated: a start that cannot listen must not
    // use up the admin token's only printing.
    let listener = tokio::net::TcpListener::bind(&listen)
        .await
        .with_context(|| format!("cannot listen on {listen}"))?;
    let (app, fresh_token) = open_app(
        &data_dir,
        cache_dir,
        config,
        plugins_dir.as_deref(),
        std::env::var("COMPUTEHUB_ADMIN_TOKEN").ok(),
    )
    .await?;
    if let Some(token) = &fresh_token {
        println!("admin token (shown once; only its hash is kept, in the store):");
        println!("{token}");
    }
    if let Some(token) = metrics_token {
        let _ = app.metrics.token.set(token);
    }
    let addr = listener.local_addr()?;
    // Egress rules never reach this server by accident.
    app.registry
        .runtime
        .capabilities()
        .policy
        .set_own(vec![addr]);
    // Idle warm instances past their timeout are dropped every second.
    app.registry.runtime.warm().spawn_sweeper();
    // Replicas on one PostgreSQL database follow each other's plugin changes
    // and operations.
    let _replicas = server::replicas::spawn(Arc::clone(&app));
    // This replica renews the leases of the operations it runs and marks
    // those of stopped replicas `interrupted`, every third of the lease.
    let operations = Arc::clone(app.registry.runtime.capabilities().operations.records());
    operations.set_lease(operation_lease);
    let leases = operations.spawn_leases();
    // The demo's simulated cluster lives as long as the server.
    let running_demo = if demo {
        Some(
            crate::demo::seed(
                &app.store,
                &format!("http://{addr}"),
                &data_dir,
                fresh_token.as_deref(),
            )
            .await?,
        )
    } else {
        None
    };
    // Its API server listens on loopback, which no built-in grant names: the
    // built-in plugins that reach clusters may reach exactly that one.
    if let Some(demo) = &running_demo {
        let policy = &app.registry.runtime.capabilities().policy;
        for plugin in crate::demo::CLUSTER_USERS {
            policy.add_kube_target(plugin, demo.cluster.addr());
        }
    }
    let scheme = if tls.is_some() { "https" } else { "http" };
    tracing::info!(%addr, scheme, "computehub listening");
    println!("listening on {scheme}://{addr}");
    let served = server::serve_tls(listener, app, limits, tls, shutdown_signal()).await;
    leases.abort();
    // Operations still running die with this process: say so now, not when
    // their lease passes.
    match operations.release().await {
        Ok(0) => {}
        Ok(interrupted) => tracing::warn!(
            interrupted,
            "operations still running at shutdown are now `interrupted`"
        ),
        Err(e) => {
            tracing::error!(error = %e, "cannot mark this replica's operations `interrupted`")
        }
    }
    served
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = term => {},
    }
}
