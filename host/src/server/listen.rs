//! Connections: accepting them (limited in number, per client address
//! too), TLS when configured, hyper's HTTP/1 and HTTP/2 with bounded
//! buffers, the header-read and idle timeouts of [`watchdog`], and graceful
//! shutdown (stop accepting, drain what is in flight).

use std::convert::Infallible;
use std::sync::Arc;
use std::time::{Duration, Instant};

use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use tokio::net::TcpListener;

use super::{handle, limits, throttle, trim, unverified, watchdog};
use super::{org_limit, App, ServerLimits, Shared};

/// How long shutdown waits for requests in flight.
const DRAIN: Duration = Duration::from_secs(30);
/// Largest HTTP/1 buffer of a connection (so the largest request head:
/// beyond it, 431).
const MAX_CONN_BUF: usize = 32 << 10;
/// Largest HTTP/2 header list.
const MAX_H2_HEADERS: u32 = 64 << 10;
/// HTTP/2 streams one connection may have open at once.
const MAX_H2_STREAMS: u32 = 64;
/// At most one `accept failed` (or `connection refused`) line per interval.
const LOG_INTERVAL: Duration = Duration::from_secs(5);

/// The connection builder: HTTP/1 with a bounded read buffer, HTTP/2 with
/// bounded streams, headers and windows, and pings to find dead peers.
/// (The header-read and idle timeouts are [`watchdog`]'s, for both.)
fn builder() -> auto::Builder<TokioExecutor> {
    let mut builder = auto::Builder::new(TokioExecutor::new());
    builder
        .http1()
        .header_read_timeout(None)
        .max_buf_size(MAX_CONN_BUF);
    builder
        .http2()
        .timer(TokioTimer::new())
        .keep_alive_interval(Some(Duration::from_secs(30)))
        .keep_alive_timeout(Duration::from_secs(20))
        .max_concurrent_streams(MAX_H2_STREAMS)
        .max_header_list_size(MAX_H2_HEADERS)
        .initial_stream_window_size(256 << 10)
        .initial_connection_window_size(1 << 20)
        .max_send_buf_size(256 << 10);
    builder
}

/// A connection's byte stream: plain TCP or TLS over it.
trait Io: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send {}
impl<T: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send> Io for T {}

/// [`serve_with`], with TLS on every connection when `tls` is given (the
/// handshake must finish within the header-read timeout).
pub async fn serve_tls(
    listener: TcpListener,
    app: Arc<App>,
    limits: ServerLimits,
    tls: Option<tokio_rustls::TlsAcceptor>,
    shutdown: impl std::future::Future<Output = ()>,
) -> anyhow::Result<()> {
    let graceful = hyper_util::server::graceful::GracefulShutdown::new();
    let builder = builder();
    let shared = Arc::new(Shared {
        budget: unverified::Budget::new(limits.unverified_budget),
        unverified_body_timeout: limits.unverified_body_timeout,
        throttle: throttle::Throttle::new(
            limits.auth_failure_burst,
            limits.auth_failures_per_minute,
        ),
        org_limit: org_limit::OrgLimit::new(
            limits.org_requests_per_minute,
            limits.org_request_burst,
        ),
        tls: tls.is_some(),
        proxies: limits.trusted_proxies.clone(),
    });
    let timeouts = watchdog::Timeouts {
        header_read: limits.header_read_timeout,
        idle: limits.idle_timeout,
    };
    let open = limits::ConnLimiter::new(limits.max_connections, limits.max_connections_per_ip);
    let trimmer = trim::spawn(Arc::clone(&open));
    let mut backoff = limits::Backoff::new();
    let mut accept_log = limits::LogEvery::new(LOG_INTERVAL);
    let mut refused_log = limits::LogEvery::new(LOG_INTERVAL);
    // After the signal: not ready, still serving, for the shutdown delay.
    let delay = limits.shutdown_delay;
    let drain_app = Arc::clone(&app);
    let shutdown = async move {
        shutdown.await;
        if !delay.is_zero() {
            drain_app
                .draining
                .store(true, std::sync::atomic::Ordering::Release);
            tracing::info!(
                delay_ms = delay.as_millis() as u64,
                "shutdown signal: /readyz answers 503; serving on for the shutdown delay"
            );
            tokio::time::sleep(delay).await;
        }
    };
    tokio::pin!(shutdown);
    loop {
        let accepted = tokio::select! {
            accepted = listener.accept() => accepted,
            _ = &mut shutdown => break,
        };
        let (stream, peer) = match accepted {
            Ok(s) => {
                backoff.succeeded();
                s
            }
            Err(e) => {
                // Out of descriptors (or memory) the listener stays readable:
                // retrying at once would spin. Pause, and say so once per
                // interval with the count, not once per attempt.
                let pause = (!limits::is_connection_error(&e)).then(|| backoff.failed());
                if let Some(failures) = accept_log.hit(Instant::now()) {
                    tracing::warn!(
                        error = %e,
                        failures,
                        pause_ms = pause.map_or(0, |p| p.as_millis() as u64),
                        "accept failed (logged at most once per {}s)",
                        LOG_INTERVAL.as_secs()
                    );
                }
                if let Some(pause) = pause {
                    tokio::select! {
                        _ = tokio::time::sleep(pause) => {}
                        _ = &mut shutdown => break,
                    }
                }
                continue;
            }
        };
        // Over a limit the connection is closed before anything is read.
        let proxied = limits.trusted_proxies.contains(peer.ip());
        let permit = match open.try_acquire(peer.ip(), proxied) {
            Ok(p) => p,
            Err(limit) => {
                if let Some(refused) = refused_log.hit(Instant::now()) {
                    tracing::warn!(
                        client = %peer.ip(),
                        ?limit,
                        refused,
                        open = open.open(),
                        "connection refused: too many open connections (logged at most once per {}s)",
                        LOG_INTERVAL.as_secs()
                    );
                }
                drop(stream);
                continue;
            }
        };
        let _ = stream.set_nodelay(true);
        let activity = watchdog::Activity::new();
        // What a request needs of the server, counted once per connection:
        // a request counts this connection's own `Arc` (its cache line stays
        // with the connection) instead of the server-wide ones.
        let server = Arc::new((Arc::clone(&app), Arc::clone(&shared)));
        let on_request = Arc::clone(&activity);
        let service = hyper::service::service_fn(move |req| {
            let server = Arc::clone(&server);
            let in_flight = on_request.request();
            async move {
                let (app, shared) = &*server;
                let resp = handle(app, shared, req, peer).await;
                Ok::<_, Infallible>(resp.map(|b| watchdog::InFlightBody::new(b, in_flight)))
            }
        });
        let (builder, watcher, tls) = (builder.clone(), graceful.watcher(), tls.clone());
        tokio::spawn(async move {
            let _permit = permit;
            let io: Box<dyn Io> = match tls {
                None => Box::new(stream),
                Some(acceptor) => {
                    match tokio::time::timeout(timeouts.header_read, acceptor.accept(stream)).await
                    {
                        Ok(Ok(s)) => Box::new(s),
                        _ => {
                            tracing::debug!(client = %peer, "TLS handshake failed or timed out");
                            return;
                        }
                    }
                }
            };
            let io = TokioIo::new(watchdog::Tracked::new(io, Arc::clone(&activity)));
            let conn = watcher.watch(builder.serve_connection(io, service).into_owned());
            tokio::pin!(conn);
            // While a request is handled there may be no deadline, and what
            // happens meanwhile may bring one closer (a response starts to
            // wait for the client): look again after a while at the latest.
            let recheck = timeouts.header_read.min(timeouts.idle);
            loop {
                let later = Instant::now() + recheck;
                let wake = activity.deadline(&timeouts).map_or(later, |d| d.min(later));
                tokio::select! {
                    ended = conn.as_mut() => {
                        if let Err(e) = ended {
                            tracing::debug!(error = %e, "connection ended with an error");
                        }
                        break;
                    }
                    _ = tokio::time::sleep_until(wake.into()) => {
                        if activity.deadline(&timeouts).is_some_and(|d| d <= Instant::now()) {
                            tracing::debug!(client = %peer, "closing a connection: header-read or idle timeout");
                            break;
                        }
                    }
                }
            }
        });
    }
    tracing::info!("shutting down: no new connections, draining requests in flight");
    app.draining
        .store(true, std::sync::atomic::Ordering::Release);
    drop(listener);
    trimmer.abort();
    if tokio::time::timeout(DRAIN, graceful.shutdown())
        .await
        .is_err()
    {
        tracing::warn!("requests still in flight after {DRAIN:?}; stopping anyway");
    }
    Ok(())
}
