//! What one client, or all of them, may hold of the server before any of
//! them is authenticated: connections (in total and per client address),
//! time (a header-read and an idle keep-alive timeout, enforced by
//! [`super::watchdog`]), and memory for bodies read before their sender is
//! known ([`super::unverified`]). Also the accept loop's back-off and its
//! rate-limited log line.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// The server's limits; [`ServerLimits::default`] holds the production
/// defaults, `serve` flags override them.
#[derive(Debug, Clone)]
pub struct ServerLimits {
    /// Open connections in total; beyond it a new connection is closed at
    /// once, unread.
    pub max_connections: usize,
    /// Open connections from one client address.
    pub max_connections_per_ip: usize,
    /// From the first byte of a request (or from accept, for a connection's
    /// first request) to the end of its headers.
    pub header_read_timeout: Duration,
    /// How long a connection may wait, idle, for its next request.
    pub idle_timeout: Duration,
    /// Bytes held at once, across all connections, for bodies read before
    /// the caller is verified (AK/SK-signed bodies, debug `orgid` bodies,
    /// bodies of routes without authentication).
    pub unverified_budget: usize,
    /// Time to receive a whole unverified body.
    pub unverified_body_timeout: Duration,
    /// Failed authentications a client address (or a claimed key id) may
    /// have at once before 429; 0 turns throttling off.
    pub auth_failure_burst: u32,
    /// How fast that allowance refills, per minute.
    pub auth_failures_per_minute: u32,
    /// Requests an organisation may make a minute once authenticated; 0
    /// (the default) turns the limit off.
    pub org_requests_per_minute: u32,
    /// Requests an organisation may make at once (0: a minute's worth).
    pub org_request_burst: u32,
    /// How long the server keeps serving after a shutdown signal, with
    /// `/readyz` answering 503, before it stops accepting: a load balancer
    /// (a Kubernetes Service) takes it out of rotation first.
    pub shutdown_delay: Duration,
    /// Reverse proxies whose `X-Forwarded-For`/`-Proto` are believed
    /// ([`super::forwarded`]); none by default.
    pub trusted_proxies: super::forwarded::TrustedProxies,
}

impl Default for ServerLimits {
    fn default() -> Self {
        ServerLimits {
            max_connections: 10_000,
            max_connections_per_ip: 256,
            header_read_timeout: Duration::from_secs(10),
            idle_timeout: Duration::from_secs(60),
            unverified_budget: 16 << 20,
            unverified_body_timeout: Duration::from_secs(10),
            auth_failure_burst: 30,
            auth_failures_per_minute: 30,
            org_requests_per_minute: 0,
            org_request_burst: 0,
            shutdown_delay: Duration::ZERO,
            trusted_proxies: Default::default(),
        }
    }
}

/// Which limit refused a connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refused {
    Total,
    PerAddress,
}

#[derive(Default)]
struct Open {
    total: usize,
    by_ip: HashMap<IpAddr, usize>,
}

/// Counts open connections, in total and per client address.
pub struct ConnLimiter {
    max_total: usize,
    max_per_ip: usize,
    open: Mutex<Open>,
    /// Connections closed since the start.
    closed: AtomicU64,
}

/// One counted connection; dropping it frees its place.
pub struct ConnPermit {
    limiter: Arc<ConnLimiter>,
    ip: IpAddr,
}

impl ConnLimiter {
    pub fn new(max_total: usize, max_per_ip: usize) -> Arc<Self> {
        Arc::new(ConnLimiter {
            max_total,
            max_per_ip,
            open: Mutex::new(Open::default()),
            closed: AtomicU64::new(0),
        })
    }

    /// A place for a connection from `ip`, or the limit it would exceed. A
    /// `shared` address (a trusted proxy, carrying many clients) is held to
    /// the total only.
    pub fn try_acquire(self: &Arc<Self>, ip: IpAddr, shared: bool) -> Result<ConnPermit, Refused> {
        // An IPv4 client reaching an IPv6 socket counts as its IPv4 address.
        let ip = ip.to_canonical();
        let mut open = self.open.lock().unwrap_or_else(|p| p.into_inner());
        if open.total >= self.max_total {
            return Err(Refused::Total);
        }
        let n = open.by_ip.entry(ip).or_insert(0);
        if *n >= self.max_per_ip && !shared {
            return Err(Refused::PerAddress);
        }
        *n += 1;
        open.total += 1;
        Ok(ConnPermit {
            limiter: Arc::clone(self),
            ip,
        })
    }

    /// Open connections in total.
    pub fn open(&self) -> usize {
        self.open.lock().unwrap_or_else(|p| p.into_inner()).total
    }

    /// Connections closed since the start.
    pub fn closed(&self) -> u64 {
        self.closed.load(Ordering::Relaxed)
    }
}

impl Drop for ConnPermit {
    fn drop(&mut self) {
        self.limiter.closed.fetch_add(1, Ordering::Relaxed);
        let mut open = self.limiter.open.lock().unwrap_or_else(|p| p.into_inner());
        open.total = open.total.saturating_sub(1);
        if let Some(n) = open.by_ip.get_mut(&self.ip) {
            *n -= 1;
            if *n == 0 {
                open.by_ip.remove(&self.ip);
            }
        }
    }
}

/// A log line at most once per interval: [`LogEvery::hit`] says when to
/// write one and how many occurrences it stands for.
pub struct LogEvery {
    interval: Duration,
    last: Option<Instant>,
    suppressed: u64,
}

impl LogEvery {
    pub fn new(interval: Duration) -> Self {
        LogEvery {
            interval,
            last: None,
            suppressed: 0,
        }
    }

    /// An occurrence at `now`: `Some(n)` when a line is due, `n` being the
    /// occurrences it stands for (this one and those suppressed since the
    /// last line); `None` to stay silent.
    pub fn hit(&mut self, now: Instant) -> Option<u64> {
        self.suppressed += 1;
        let due = self
            .last
            .is_none_or(|last| now.saturating_duration_since(last) >= self.interval);
        if !due {
            return None;
        }
        self.last = Some(now);
        Some(std::mem::take(&mut self.suppressed))
    }
}

/// The accept loop's pause after a failed `accept` (descriptors or memory
/// exhausted): `MIN`, doubling up to `MAX`, back to `MIN` after a success.
pub struct Backoff {
    next: Duration,
}

impl Backoff {
    pub const MIN: Duration = Duration::from_millis(50);
    pub const MAX: Duration = Duration::from_secs(1);

    pub fn new() -> Self {
        Backoff { next: Self::MIN }
    }

    /// The pause after one more failure.
    pub fn failed(&mut self) -> Duration {
        let pause = self.next;
        self.next = (self.next * 2).min(Self::MAX);
        pause
    }

    pub fn succeeded(&mut self) {
        self.next = Self::MIN;
    }
}

impl Default for Backoff {
    fn default() -> Self {
        Self::new()
    }
}

/// Whether an `accept` error concerns only the connection being accepted
/// (the client gave up before it was accepted): the next accept may succeed
/// at once, so there is no pause.
pub fn is_connection_error(e: &std::io::Error) -> bool {
    use std::io::ErrorKind as K;
    matches!(
        e.kind(),
        K::ConnectionRefused | K::ConnectionAborted | K::ConnectionReset | K::Interrupted
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn connections_are_limited_in_total_and_per_address() {
        let a: IpAddr = "127.0.0.1".parse().unwrap();
        let b: IpAddr = "127.0.0.2".parse().unwrap();
        let limiter = ConnLimiter::new(3, 2);
        let a1 = limiter.try_acquire(a, false).unwrap();
        let a2 = limiter.try_acquire(a, false).unwrap();
        assert_eq!(
            limiter.try_acquire(a, false).err(),
            Some(Refused::PerAddress)
        );
        // The same client over IPv4-mapped IPv6 is the same address.
        let mapped: IpAddr = "::ffff:127.0.0.1".parse().unwrap();
        assert_eq!(
            limiter.try_acquire(mapped, false).err(),
            Some(Refused::PerAddress)
        );
        let b1 = limiter.try_acquire(b, false).unwrap();
        assert_eq!(limiter.try_acquire(b, false).err(), Some(Refused::Total));
        assert_eq!(limiter.open(), 3);
        drop(a1);
        let a3 = limiter.try_acquire(a, false).unwrap();
        drop((a2, a3, b1));
        assert_eq!((limiter.open(), limiter.closed()), (0, 4));
        assert!(limiter.open.lock().unwrap().by_ip.is_empty());
    }

    #[test]
    fn a_trusted_proxy_is_held_to_the_total_only() {
        let proxy: IpAddr = "10.0.0.1".parse().unwrap();
        let limiter = ConnLimiter::new(3, 1);
        let held: Vec<_> = (0..3)
            .map(|_| limiter.try_acquire(proxy, true).unwrap())
            .collect();
        assert_eq!(limiter.try_acquire(proxy, true).err(), Some(Refused::Total));
        drop(held);
        let one = limiter.try_acquire(proxy, false).unwrap();
        assert_eq!(
            limiter.try_acquire(proxy, false).err(),
            Some(Refused::PerAddress)
        );
        drop(one);
    }

    #[test]
    fn backoff_doubles_to_a_second_and_resets() {
        let mut b = Backoff::new();
        let pauses: Vec<u64> = (0..7).map(|_| b.failed().as_millis() as u64).collect();
        assert_eq!(pauses, [50, 100, 200, 400, 800, 1000, 1000]);
        b.succeeded();
        assert_eq!(b.failed(), Backoff::MIN);
    }

    #[test]
    fn a_line_per_interval_counts_what_it_suppressed() {
        let t0 = Instant::now();
        let mut log = LogEvery::new(Duration::from_secs(5));
        assert_eq!(log.hit(t0), Some(1));
        // 350,000 failures a second for 10 s give three lines, not millions.
        let mut lines = Vec::new();
        for i in 1..=3_500_000u64 {
            let now = t0 + Duration::from_micros(i * 10_000_000 / 3_500_000);
            if let Some(n) = log.hit(now) {
                lines.push(n);
            }
        }
        assert_eq!(lines.len(), 2, "{lines:?}");
        assert_eq!(1 + lines.iter().sum::<u64>() + log.suppressed, 3_500_001);
    }

    #[test]
    fn per_connection_errors_do_not_pause() {
        use std::io::{Error, ErrorKind};
        assert!(is_connection_error(&Error::from(
            ErrorKind::ConnectionAborted
        )));
        // EMFILE
        assert!(!is_connection_error(&Error::from_raw_os_error(24)));
    }
}
