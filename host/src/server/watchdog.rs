//! The per-connection timeouts, for HTTP/1 and HTTP/2 alike: a connection
//! is closed when its (first or next) request's headers take longer than the
//! header-read timeout, when it waits idle longer than the idle timeout, or
//! when the client has not taken response bytes for the idle timeout
//! (writes blocked, or, on HTTP/2, a window that does not open).
//!
//! hyper's own HTTP/1 `header_read_timeout` also runs while a keep-alive
//! connection waits for its next request, so it cannot give the two timeouts
//! different values, and nothing in hyper times out the protocol sniffing of
//! the auto builder or an idle HTTP/2 connection. So the connection's IO is
//! wrapped ([`Tracked`]) to note reads and blocked writes, each request is
//! counted from the call of the service until its response body is dropped
//! ([`Activity::request`], [`InFlightBody`], which also notes a chunk it
//! handed over and that waits for the client), and one timer per connection
//! ([`Activity::deadline`]) closes it. A request being handled has no
//! deadline here: the plugin call has its own, and a body read before the
//! caller is known has [`super::unverified`]'s.

use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use bytes::Bytes;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// What a client sends first on an HTTP/2 connection without TLS.
const H2_PREFACE: &[u8] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";
/// "Not set" in the millisecond fields.
const UNSET: u64 = u64::MAX;

/// The two timeouts.
#[derive(Debug, Clone, Copy)]
pub struct Timeouts {
    pub header_read: Duration,
    pub idle: Duration,
}

/// What one connection has been doing, in milliseconds since it was accepted.
pub struct Activity {
    start: Instant,
    in_flight: AtomicUsize,
    served: AtomicU64,
    /// When the connection last became idle (no request in flight).
    idle_since: AtomicU64,
    /// The first byte read while idle: a next request has begun.
    first_read: AtomicU64,
    /// Since when the client has not taken the bytes written to it.
    write_blocked: AtomicU64,
    /// Response bodies that handed a chunk over and have not been asked
    /// for the next since (HTTP/2 holds a chunk until the client's window
    /// opens, without writing anything), and since when none of them moved.
    waiting: AtomicUsize,
    waiting_since: AtomicU64,
    /// Bytes of the HTTP/2 preface matched so far; `H2_PREFACE.len()` once
    /// the connection is known to be HTTP/2, `UNSET` once known not to be.
    preface: AtomicU64,
    h2: AtomicBool,
}

/// The state [`deadline`] decides on.
#[derive(Debug, Clone, Copy, Default)]
pub struct Snapshot {
    pub in_flight: usize,
    pub served: u64,
    pub idle_since: u64,
    pub first_read: Option<u64>,
    pub write_blocked: Option<u64>,
    /// Since when response bodies have waited for the client without any
    /// of them moving.
    pub waiting: Option<u64>,
    pub h2: bool,
}

/// When (milliseconds since accept) a connection in state `s` is to be
/// closed, if nothing changes; `None` while a request is being handled.
pub fn deadline(s: &Snapshot, t: &Timeouts) -> Option<u64> {
    let ms = |d: Duration| d.as_millis() as u64;
    let stalled = match (s.write_blocked, s.waiting) {
        (Some(b), Some(w)) => Some(b.min(w)),
        (b, w) => b.or(w),
    };
    let blocked = stalled.map(|b| b.saturating_add(ms(t.idle)));
    if s.in_flight > 0 {
        return blocked;
    }
    let idle = if s.served == 0 {
        // The first request's headers, counted from accept (a client that
        // sends nothing, or sends it slowly).
        s.idle_since.saturating_add(ms(t.header_read))
    } else {
        match s.first_read {
            // An HTTP/1 request has begun: its headers are due. (HTTP/2
            // reads pings and settings while idle; its next request cannot
            // be told from them, so only the idle timeout applies.)
            Some(first) if !s.h2 => first.saturating_add(ms(t.header_read)),
            _ => s.idle_since.saturating_add(ms(t.idle)),
        }
    };
    Some(blocked.map_or(idle, |b| b.min(idle)))
}

impl Activity {
    pub fn new() -> Arc<Self> {
        Arc::new(Activity {
            start: Instant::now(),
            in_flight: AtomicUsize::new(0),
            served: AtomicU64::new(0),
            idle_since: AtomicU64::new(0),
            first_read: AtomicU64::new(UNSET),
            write_blocked: AtomicU64::new(UNSET),
            waiting: AtomicUsize::new(0),
            waiting_since: AtomicU64::new(UNSET),
            preface: AtomicU64::new(0),
            h2: AtomicBool::new(false),
        })
    }

    fn now(&self) -> u64 {
        self.start.elapsed().as_millis() as u64
    }

    fn opt(v: u64) -> Option<u64> {
        (v != UNSET).then_some(v)
    }

    pub fn snapshot(&self) -> Snapshot {
        Snapshot {
            in_flight: self.in_flight.load(Ordering::Acquire),
            served: self.served.load(Ordering::Relaxed),
            idle_since: self.idle_since.load(Ordering::Relaxed),
            first_read: Self::opt(self.first_read.load(Ordering::Relaxed)),
            write_blocked: Self::opt(self.write_blocked.load(Ordering::Relaxed)),
            waiting: if self.waiting.load(Ordering::Acquire) > 0 {
                Self::opt(self.waiting_since.load(Ordering::Relaxed))
            } else {
                None
            },
            h2: self.h2.load(Ordering::Relaxed),
        }
    }

    /// The instant the connection is to be closed, if nothing changes.
    pub fn deadline(&self, t: &Timeouts) -> Option<Instant> {
        deadline(&self.snapshot(), t).map(|ms| self.start + Duration::from_millis(ms))
    }

    /// A request's headers arrived: it is in flight until the returned
    /// guard is dropped (with the response body).
    pub fn request(self: &Arc<Self>) -> InFlight {
        self.in_flight.fetch_add(1, Ordering::AcqRel);
        self.served.fetch_add(1, Ordering::Relaxed);
        self.first_read.store(UNSET, Ordering::Relaxed);
        InFlight(Arc::clone(self))
    }

    fn on_read(&self, bytes: &[u8]) {
        self.sniff(bytes);
        if self.in_flight.load(Ordering::Acquire) == 0 {
            let _ = self.first_read.compare_exchange(
                UNSET,
                self.now(),
                Ordering::Relaxed,
                Ordering::Relaxed,
            );
        }
    }

    /// Note whether the connection starts with the HTTP/2 preface.
    fn sniff(&self, bytes: &[u8]) {
        let matched = self.preface.load(Ordering::Relaxed);
        if matched == UNSET || matched as usize >= H2_PREFACE.len() {
            return;
        }
        let rest = &H2_PREFACE[matched as usize..];
        let n = rest.len().min(bytes.len());
        if bytes[..n] != rest[..n] {
            self.preface.store(UNSET, Ordering::Relaxed);
            return;
        }
        let matched = matched + n as u64;
        self.preface.store(matched, Ordering::Relaxed);
        if matched as usize == H2_PREFACE.len() {
            self.h2.store(true, Ordering::Relaxed);
        }
    }

    /// A response body handed a chunk over: it waits for the client.
    fn handed(&self) {
        if self.waiting.fetch_add(1, Ordering::AcqRel) == 0 {
            self.waiting_since.store(self.now(), Ordering::Relaxed);
        }
    }

    /// A body that waited was asked for more (its chunk went out) or
    /// dropped: the client took something, so the wait starts over.
    fn moved(&self) {
        self.waiting_since.store(self.now(), Ordering::Relaxed);
        self.waiting.fetch_sub(1, Ordering::AcqRel);
    }

    fn on_write(&self, blocked: bool) {
        if blocked {
            let _ = self.write_blocked.compare_exchange(
                UNSET,
                self.now(),
                Ordering::Relaxed,
                Ordering::Relaxed,
            );
        } else {
            self.write_blocked.store(UNSET, Ordering::Relaxed);
        }
    }
}

/// A request in flight on its connection.
pub struct InFlight(Arc<Activity>);

impl Drop for InFlight {
    fn drop(&mut self) {
        let a = &self.0;
        a.first_read.store(UNSET, Ordering::Relaxed);
        a.idle_since.store(a.now(), Ordering::Relaxed);
        a.in_flight.fetch_sub(1, Ordering::AcqRel);
    }
}

/// A response body that keeps its request in flight until hyper drops it
/// (sent, or the connection gone), and notes while a chunk it handed over
/// waits for the client ([`Activity::handed`]).
pub struct InFlightBody<B> {
    inner: B,
    in_flight: InFlight,
    handed: bool,
}

impl<B> InFlightBody<B> {
    pub fn new(inner: B, in_flight: InFlight) -> Self {
        InFlightBody {
            inner,
            in_flight,
            handed: false,
        }
    }
}

impl<B> Drop for InFlightBody<B> {
    fn drop(&mut self) {
        if self.handed {
            self.in_flight.0.moved();
        }
    }
}

impl<B> hyper::body::Body for InFlightBody<B>
where
    B: hyper::body::Body<Data = Bytes> + Unpin,
{
    type Data = Bytes;
    type Error = B::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<hyper::body::Frame<Bytes>, B::Error>>> {
        let this = &mut *self;
        if std::mem::take(&mut this.handed) {
            this.in_flight.0.moved();
        }
        let frame = Pin::new(&mut this.inner).poll_frame(cx);
        if let Poll::Ready(Some(Ok(f))) = &frame {
            if f.data_ref().is_some_and(|d| !d.is_empty()) {
                this.handed = true;
                this.in_flight.0.handed();
            }
        }
        frame
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> hyper::body::SizeHint {
        self.inner.size_hint()
    }
}

/// A connection's IO, noting reads and blocked writes in its [`Activity`].
pub struct Tracked<T> {
    inner: T,
    activity: Arc<Activity>,
}

impl<T> Tracked<T> {
    pub fn new(inner: T, activity: Arc<Activity>) -> Self {
        Tracked { inner, activity }
    }
}

impl<T: AsyncRead + Unpin> AsyncRead for Tracked<T> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let before = buf.filled().len();
        let r = Pin::new(&mut self.inner).poll_read(cx, buf);
        if let Poll::Ready(Ok(())) = r {
            let read = &buf.filled()[before..];
            if !read.is_empty() {
                self.activity.on_read(read);
            }
        }
        r
    }
}

impl<T: AsyncWrite + Unpin> AsyncWrite for Tracked<T> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        let r = Pin::new(&mut self.inner).poll_write(cx, buf);
        self.activity.on_write(r.is_pending());
        r
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        let r = Pin::new(&mut self.inner).poll_write_vectored(cx, bufs);
        self.activity.on_write(r.is_pending());
        r
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const T: Timeouts = Timeouts {
        header_read: Duration::from_secs(10),
        idle: Duration::from_secs(60),
    };

    #[test]
    fn deadlines_follow_the_connection_state() {
        // Fresh: the first request's headers within the header timeout.
        let fresh = Snapshot::default();
        assert_eq!(deadline(&fresh, &T), Some(10_000));
        // A request in flight has none, unless the client stopped reading.
        let busy = Snapshot {
            in_flight: 1,
            served: 1,
            ..fresh
        };
        assert_eq!(deadline(&busy, &T), None);
        let stalled = Snapshot {
            write_blocked: Some(5_000),
            ..busy
        };
        assert_eq!(deadline(&stalled, &T), Some(65_000));
        // A response body waiting for the client (an HTTP/2 window that
        // never opens: no write is even attempted) stalls it the same way;
        // the earlier of the two counts.
        let waiting = Snapshot {
            waiting: Some(7_000),
            ..busy
        };
        assert_eq!(deadline(&waiting, &T), Some(67_000));
        let both = Snapshot {
            waiting: Some(7_000),
            ..stalled
        };
        assert_eq!(deadline(&both, &T), Some(65_000));
        // Idle after a request: the idle timeout; a next request begun:
        // its headers.
        let idle = Snapshot {
            served: 1,
            idle_since: 2_000,
            ..fresh
        };
        assert_eq!(deadline(&idle, &T), Some(62_000));
        let begun = Snapshot {
            first_read: Some(30_000),
            ..idle
        };
        assert_eq!(deadline(&begun, &T), Some(40_000));
        // HTTP/2 reads pings while idle: the idle timeout still applies.
        let h2 = Snapshot { h2: true, ..begun };
        assert_eq!(deadline(&h2, &T), Some(62_000));
    }

    #[test]
    fn activity_tracks_requests_reads_and_the_preface() {
        let a = Activity::new();
        a.on_read(b"GET / HTTP/1.1\r\n");
        assert!(a.snapshot().first_read.is_some());
        let r = a.request();
        let s = a.snapshot();
        assert_eq!((s.in_flight, s.served, s.first_read), (1, 1, None));
        a.on_read(b"body");
        assert_eq!(a.snapshot().first_read, None);
        drop(r);
        let s = a.snapshot();
        assert_eq!((s.in_flight, s.first_read, s.h2), (0, None, false));

        let b = Activity::new();
        b.on_read(&H2_PREFACE[..10]);
        assert!(!b.snapshot().h2);
        b.on_read(&H2_PREFACE[10..]);
        assert!(b.snapshot().h2);
        b.on_write(true);
        assert!(b.snapshot().write_blocked.is_some());
        b.on_write(false);
        assert!(b.snapshot().write_blocked.is_none());
    }
}
