//! Freed memory given back to the system after a burst of connections.
//!
//! An allocator keeps what is freed for its next allocations: after 1,000
//! connections that had each sent 60 KiB of headers were closed, the
//! server's RSS stayed 70 MiB above its idle figure until it was asked to
//! give it back. So once most of the connections that were open a moment
//! ago have closed (a burst is over), the server calls
//! [`crate::memory::release`], at most once per [`MIN_GAP`]. Steady traffic
//! (about as many connections open as closing) does not trigger it.

use std::sync::Arc;
use std::time::{Duration, Instant};

use super::limits::ConnLimiter;

/// How often the connection counts are looked at.
const TICK: Duration = Duration::from_secs(1);
/// Least time between two trims.
const MIN_GAP: Duration = Duration::from_secs(5);
/// Closed connections that make a burst worth a trim.
const MIN_CLOSED: u64 = 64;

/// When to trim, from the connection counts.
#[derive(Default)]
pub struct TrimPolicy {
    closed_at_trim: u64,
    last: Option<Instant>,
}

impl TrimPolicy {
    /// Whether to trim now, with `open` connections open and `closed`
    /// closed since the start; a `true` counts as a trim.
    pub fn due(&mut self, now: Instant, open: usize, closed: u64) -> bool {
        let since = closed.saturating_sub(self.closed_at_trim);
        let recent = self
            .last
            .is_some_and(|last| now.saturating_duration_since(last) < MIN_GAP);
        if since < MIN_CLOSED || (open as u64).saturating_mul(2) > since || recent {
            return false;
        }
        self.closed_at_trim = closed;
        self.last = Some(now);
        true
    }
}

/// Watch `connections` and trim after bursts, until dropped (aborted).
pub fn spawn(connections: Arc<ConnLimiter>) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut policy = TrimPolicy::default();
        loop {
            tokio::time::sleep(TICK).await;
            if policy.due(Instant::now(), connections.open(), connections.closed()) {
                let started = Instant::now();
                crate::memory::release();
                tracing::debug!(
                    micros = started.elapsed().as_micros() as u64,
                    "returned freed memory to the system after a burst of connections"
                );
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trims_after_a_burst_not_under_steady_traffic() {
        let t0 = Instant::now();
        let at = |s: u64| t0 + Duration::from_secs(s);
        let mut p = TrimPolicy::default();
        // Few closed: nothing to return.
        assert!(!p.due(at(1), 0, 10));
        // Steady: 1,000 open while 300 closed.
        assert!(!p.due(at(2), 1_000, 300));
        // The burst is over: 1,000 closed, 20 still open.
        assert!(p.due(at(3), 20, 1_000));
        // Not again right away, nor for the same closed connections.
        assert!(!p.due(at(4), 0, 1_100));
        assert!(!p.due(at(9), 0, 1_010));
        // The next burst, past the gap.
        assert!(p.due(at(9), 0, 1_100));
    }
}
