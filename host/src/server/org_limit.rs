//! Per-organisation request rate limits (`serve --org-requests-per-minute`,
//! `--org-request-burst`; off by default): once a request's caller is
//! authenticated, its organisation spends one cell of a `governor` GCRA
//! quota keyed by organisation. Beyond it the request gets 429 with
//! `Retry-After` in its area's envelope, before the plugin is called, and is
//! counted in `computehub_throttled_requests_total{reason="org_rate"}`.
//! Keys whose quota is full again are forgotten (`retain_recent` on every
//! 1,024th check), so memory follows the organisations active recently.

use std::num::NonZeroU32;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};

pub struct OrgLimit {
    limiter: DefaultKeyedRateLimiter<String>,
    checks: AtomicU64,
    clock: DefaultClock,
}

impl OrgLimit {
    /// `per_minute` requests a minute per organisation, `burst` at once (0:
    /// as many as a minute's); `None` when `per_minute` is 0 (no limit).
    pub fn new(per_minute: u32, burst: u32) -> Option<OrgLimit> {
        let rate = NonZeroU32::new(per_minute)?;
        let burst = NonZeroU32::new(burst).unwrap_or(rate);
        Some(OrgLimit {
            limiter: RateLimiter::keyed(Quota::per_minute(rate).allow_burst(burst)),
            checks: AtomicU64::new(0),
            clock: DefaultClock::default(),
        })
    }

    /// One request of `org`: `Err(wait)` when it is over its rate.
    pub fn check(&self, org: &str) -> Result<(), Duration> {
        if self.checks.fetch_add(1, Ordering::Relaxed) % 1024 == 1023 {
            self.limiter.retain_recent();
        }
        self.limiter
            .check_key(&org.to_string())
            .map_err(|n| n.wait_time_from(self.clock.now()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_organisation_over_its_rate_does_not_slow_another() {
        let l = OrgLimit::new(60, 2).unwrap();
        assert!(l.check("a").is_ok());
        assert!(l.check("a").is_ok());
        let wait = l.check("a").expect_err("the third at once is over");
        assert!(wait <= Duration::from_secs(1));
        assert!(l.check("b").is_ok());
        std::thread::sleep(wait + Duration::from_millis(20));
        assert!(l.check("a").is_ok());
        assert!(OrgLimit::new(0, 5).is_none());
    }
}
