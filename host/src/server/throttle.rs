//! Failed authentication is rate-limited per client address and per claimed
//! key id (`governor`'s GCRA): after a burst of failures (30 by default) a
//! client gets 429 with `Retry-After` in the area's envelope until its quota
//! refills (30 a minute by default), without its credentials being checked.
//! A key id guessed at from many addresses is slowed the same way. Missing
//! credentials are not failures (a probe without a key is not guessing).
//!
//! Memory is bounded: the limiters forget keys whose quota is full again
//! (`retain_recent` on every 1,024th failure), and at most 65,536 clients are
//! remembered as blocked at once.

use std::collections::HashMap;
use std::net::IpAddr;
use std::num::NonZeroU32;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};

/// Most clients remembered as blocked.
const MAX_BLOCKED: usize = 65_536;

/// Who failed: a client address or a claimed key id.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum Who {
    Addr(IpAddr),
    Key(String),
}

pub struct Throttle {
    by_addr: DefaultKeyedRateLimiter<IpAddr>,
    by_key: DefaultKeyedRateLimiter<String>,
    blocked: Mutex<HashMap<Who, Instant>>,
    failures: AtomicU64,
    clock: DefaultClock,
}

impl Throttle {
    /// `burst` failures at once, refilling `per_minute` a minute; `None`
    /// when either is zero (throttling off).
    pub fn new(burst: u32, per_minute: u32) -> Option<Throttle> {
        let quota =
            Quota::per_minute(NonZeroU32::new(per_minute)?).allow_burst(NonZeroU32::new(burst)?);
        Some(Throttle {
            by_addr: RateLimiter::keyed(quota),
            by_key: RateLimiter::keyed(quota),
            blocked: Mutex::new(HashMap::new()),
            failures: AtomicU64::new(0),
            clock: DefaultClock::default(),
        })
    }

    /// Before authenticating: how long `addr` (or the key id it claims) must
    /// still wait, if it is blocked.
    pub fn blocked(&self, addr: IpAddr, key: Option<&str>) -> Option<Duration> {
        let now = Instant::now();
        let blocked = self.blocked.lock().unwrap_or_else(|p| p.into_inner());
        let until = |who: &Who| blocked.get(who).filter(|u| **u > now).copied();
        let a = until(&Who::Addr(addr));
        let k = key.and_then(|k| until(&Who::Key(k.to_string())));
        a.max(k).map(|u| u - now)
    }

    /// After a failed authentication: how long to wait, when this failure is
    /// one too many.
    pub fn failed(&self, addr: IpAddr, key: Option<&str>) -> Option<Duration> {
        if self.failures.fetch_add(1, Ordering::Relaxed) % 1024 == 1023 {
            self.by_addr.retain_recent();
            self.by_key.retain_recent();
        }
        let now = self.clock.now();
        // Each one over its allowance is blocked (both, when both are: the
        // address must not go free because its key waits a little longer).
        let mut over: Vec<(Who, Duration)> = Vec::new();
        if let Err(n) = self.by_addr.check_key(&addr) {
            over.push((Who::Addr(addr), n.wait_time_from(now)));
        }
        if let Some(k) = key {
            if let Err(n) = self.by_key.check_key(&k.to_string()) {
                over.push((Who::Key(k.to_string()), n.wait_time_from(now)));
            }
        }
        let w = over
            .iter()
            .map(|(_, w)| *w)
            .max()?
            .max(Duration::from_secs(1));
        let mut blocked = self.blocked.lock().unwrap_or_else(|p| p.into_inner());
        for (who, wait) in over {
            if blocked.len() >= MAX_BLOCKED {
                let t = Instant::now();
                blocked.retain(|_, u| *u > t);
            }
            if blocked.len() < MAX_BLOCKED {
                blocked.insert(who, Instant::now() + wait.max(Duration::from_secs(1)));
            }
        }
        Some(w)
    }
}

/// Failed console sign-ins count here too (the claimed key is the user).
impl crate::console::Throttle for Throttle {
    fn blocked(&self, addr: IpAddr, key: Option<&str>) -> Option<Duration> {
        Throttle::blocked(self, addr, key)
    }
    fn failed(&self, addr: IpAddr, key: Option<&str>) -> Option<Duration> {
        Throttle::failed(self, addr, key)
    }
}

/// The key id a request's credentials claim, whatever the scheme: the id of
/// a `chk.<id>.<secret>` bearer or X-Auth-Token, the user of Basic, the
/// `Access` of an AK/SK signature. Not checked: only to count failures by.
pub fn claimed_key(headers: &http::HeaderMap) -> Option<String> {
    use base64::Engine as _;
    let id_of = |token: &str| {
        token
            .trim()
            .strip_prefix("chk.")
            .and_then(|r| r.split_once('.'))
            .map(|(id, _)| id.to_string())
    };
    if let Some(t) = headers.get("x-auth-token").and_then(|v| v.to_str().ok()) {
        return id_of(t);
    }
    let auth = headers.get(http::header::AUTHORIZATION)?.to_str().ok()?;
    let (kind, rest) = auth.split_once(' ')?;
    let key = if kind.eq_ignore_ascii_case("bearer") {
        id_of(rest)?
    } else if kind.eq_ignore_ascii_case("basic") {
        let raw = base64::engine::general_purpose::STANDARD
            .decode(rest.trim())
            .ok()?;
        String::from_utf8(raw).ok()?.split_once(':')?.0.to_string()
    } else {
        rest.split(',')
            .find_map(|p| p.trim().strip_prefix("Access="))?
            .to_string()
    };
    (!key.is_empty() && key.len() <= 128).then_some(key)
}

/// The `Retry-After` seconds of a wait (at least 1).
pub fn retry_after(wait: Duration) -> u64 {
    wait.as_secs_f64().ceil().max(1.0) as u64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_burst_of_failures_then_a_wait() {
        let t = Throttle::new(3, 60).unwrap();
        let a: IpAddr = "127.0.0.1".parse().unwrap();
        let b: IpAddr = "127.0.0.2".parse().unwrap();
        for _ in 0..3 {
            assert!(t.failed(a, None).is_none());
        }
        assert!(t.blocked(a, None).is_none());
        let wait = t
            .failed(a, None)
            .expect("the fourth failure is one too many");
        assert!(wait >= Duration::from_secs(1));
        assert!(t.blocked(a, None).is_some());
        // Another address is not affected...
        assert!(t.blocked(b, None).is_none());
        // ...unless it claims a key id that is being guessed at.
        for _ in 0..3 {
            t.failed(b, Some("k1"));
        }
        assert!(t.failed(b, Some("k1")).is_some());
        let c: IpAddr = "127.0.0.3".parse().unwrap();
        assert!(t.blocked(c, Some("k1")).is_some());
        assert!(t.blocked(c, Some("k2")).is_none());
        // Both over at once: both are blocked, the address with any key.
        assert!(t.blocked(b, Some("k2")).is_some());
        assert!(Throttle::new(0, 60).is_none());
        assert_eq!(retry_after(Duration::from_millis(1200)), 2);
    }
}
