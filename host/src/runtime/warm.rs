//! Warm instances per organisation: a `Store` and its instance of one plugin
//! version serve one organisation's requests, one at a time, and go back to
//! the pool between them. An instance never serves two organisations (a
//! route without authentication has a pool key of its own) or two versions
//! (the pool belongs to the version and is retired with it).
//!
//! An instance is discarded, never reused, after a trap, a deadline, the
//! memory cap or any other failed call; when its resource table did not
//! return to empty; when its linear memory grew past the high-water mark;
//! after `max_uses` requests; after `idle` without a request; when its pool
//! already keeps `per_key` idle instances for that organisation; when the
//! host-wide budget of idle instances is spent; and when its version is
//! retired by a swap. `Isolation::Request` keeps nothing: a fresh instance
//! per request, as before pools existed.
//!
//! A checkout takes the idle instance last run on the calling thread when
//! there is one (else the last one back): its memory is still in that
//! core's caches.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};
use wasmtime::Store;

use super::PluginState;

/// How a plugin's instances are shared between requests.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Isolation {
    /// One instance serves one organisation's requests, one at a time.
    #[default]
    Organisation,
    /// A fresh instance per request.
    Request,
}

impl Isolation {
    pub fn as_str(self) -> &'static str {
        match self {
            Isolation::Organisation => "organisation",
            Isolation::Request => "request",
        }
    }
}

/// Bounds of reuse.
#[derive(Debug, Clone, Copy)]
pub struct WarmSettings {
    /// Requests one instance serves at most.
    pub max_uses: u32,
    /// An idle instance older than this is dropped.
    pub idle: Duration,
    /// An instance whose linear memory grew past this is not reused.
    pub high_water: usize,
    /// Idle instances kept per organisation.
    pub per_key: usize,
}

impl Default for WarmSettings {
    fn default() -> Self {
        WarmSettings {
            max_uses: 128,
            idle: Duration::from_secs(5),
            high_water: 32 << 20,
            per_key: 8,
        }
    }
}

/// Why an instance was not kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Discard {
    Failed,
    Resources,
    HighWater,
    MaxUses,
    Idle,
    PoolFull,
    Budget,
    Retired,
    Isolation,
}

impl Discard {
    pub const ALL: [Discard; 9] = [
        Discard::Failed,
        Discard::Resources,
        Discard::HighWater,
        Discard::MaxUses,
        Discard::Idle,
        Discard::PoolFull,
        Discard::Budget,
        Discard::Retired,
        Discard::Isolation,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Discard::Failed => "failed",
            Discard::Resources => "resources",
            Discard::HighWater => "high-water",
            Discard::MaxUses => "max-uses",
            Discard::Idle => "idle",
            Discard::PoolFull => "pool-full",
            Discard::Budget => "budget",
            Discard::Retired => "retired",
            Discard::Isolation => "isolation",
        }
    }
}

/// A live instance and what it is called through (`H`: the `handle`
/// export of an endpoint, an engine's bindings).
pub struct Warm<H> {
    pub store: Store<PluginState>,
    pub handle: H,
    uses: u32,
    idle_since: Instant,
    /// The thread that last called it (see [`here`]).
    home: usize,
}

impl<H> Warm<H> {
    pub fn new(store: Store<PluginState>, handle: H) -> Self {
        Warm {
            store,
            handle,
            uses: 0,
            idle_since: Instant::now(),
            home: here(),
        }
    }
}

/// A number for the calling thread, the same on every call from it.
///
/// An instance goes back to the pool warm in the caches of the core that
/// last ran it (its stack, heap, `vmctx` and store: tens of KiB it touches
/// on every call); a checkout prefers an instance last run on its own
/// thread, so that memory does not move between cores with every request.
fn here() -> usize {
    static NEXT: AtomicUsize = AtomicUsize::new(1);
    thread_local! {
        static HERE: usize = NEXT.fetch_add(1, Ordering::Relaxed);
    }
    HERE.try_with(|h| *h).unwrap_or(0)
}

/// The pool key: the organisation, or `""` for unauthenticated routes (an
/// organisation id is never empty).
type Key = Box<str>;

fn key(org: Option<&str>) -> &str {
    org.unwrap_or("")
}

/// Counters of one pool.
#[derive(Default)]
pub struct Stats {
    pub created: AtomicU64,
    pub reused: AtomicU64,
    discarded: [AtomicU64; Discard::ALL.len()],
}

impl Stats {
    fn discarded(&self, why: Discard) {
        let i = Discard::ALL.iter().position(|d| *d == why).unwrap_or(0);
        self.discarded[i].fetch_add(1, Ordering::Relaxed);
    }

    /// `(reason, count)` for every reason.
    pub fn discards(&self) -> Vec<(&'static str, u64)> {
        Discard::ALL
            .iter()
            .zip(&self.discarded)
            .map(|(d, n)| (d.as_str(), n.load(Ordering::Relaxed)))
            .collect()
    }
}

/// The idle instances of one plugin version, by organisation.
pub struct Pool<H> {
    pub isolation: Isolation,
    settings: WarmSettings,
    /// Looked up on every call: hashed with foldhash, not SipHash (the
    /// keys are authenticated organisations, not attacker-chosen).
    idle: Mutex<HashMap<Key, Vec<Warm<H>>, foldhash::fast::RandomState>>,
    retired: AtomicBool,
    budget: Arc<Budget>,
    pub stats: Stats,
}

/// Host-wide bound on idle instances (each holds a pooling-allocator slot).
pub struct Budget {
    limit: usize,
    used: AtomicUsize,
}

impl Budget {
    fn take(&self) -> bool {
        self.used
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
                (n < self.limit).then_some(n + 1)
            })
            .is_ok()
    }

    fn give(&self, n: usize) {
        self.used.fetch_sub(n, Ordering::AcqRel);
    }

    pub fn used(&self) -> usize {
        self.used.load(Ordering::Relaxed)
    }
}

/// What the sweep needs of a pool, whatever its instances' handle type.
trait Sweep: Send + Sync {
    fn sweep(&self);
}

/// Every pool of the host, for the idle sweep and the figures.
pub struct Pools {
    budget: Arc<Budget>,
    all: Mutex<Vec<Weak<dyn Sweep>>>,
    pub settings: WarmSettings,
}

impl Pools {
    /// `budget`: idle instances kept host-wide.
    pub fn new(budget: usize, settings: WarmSettings) -> Self {
        Pools {
            budget: Arc::new(Budget {
                limit: budget,
                used: AtomicUsize::new(0),
            }),
            all: Mutex::new(Vec::new()),
            settings,
        }
    }

    /// A pool for a new plugin version.
    pub fn pool<H: Send + 'static>(&self, isolation: Isolation) -> Arc<Pool<H>> {
        let pool = Arc::new(Pool {
            isolation,
            settings: self.settings,
            idle: Mutex::new(HashMap::default()),
            retired: AtomicBool::new(false),
            budget: Arc::clone(&self.budget),
            stats: Stats::default(),
        });
        let weak: Weak<dyn Sweep> = Arc::downgrade(&(Arc::clone(&pool) as Arc<dyn Sweep>));
        let mut all = self.all.lock().unwrap_or_else(|p| p.into_inner());
        all.retain(|w| w.strong_count() > 0);
        all.push(weak);
        pool
    }

    /// Drop idle instances past their timeout, in every pool.
    pub fn sweep(&self) {
        let pools: Vec<Arc<dyn Sweep>> = {
            let mut all = self.all.lock().unwrap_or_else(|p| p.into_inner());
            all.retain(|w| w.strong_count() > 0);
            all.iter().filter_map(Weak::upgrade).collect()
        };
        for p in pools {
            p.sweep();
        }
    }

    /// Idle instances kept host-wide now.
    pub fn idle(&self) -> usize {
        self.budget.used()
    }

    /// Sweep every second until the runtime stops.
    pub fn spawn_sweeper(self: &Arc<Self>) {
        let pools = Arc::downgrade(self);
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_secs(1));
            loop {
                tick.tick().await;
                let Some(p) = pools.upgrade() else { return };
                p.sweep();
            }
        });
    }
}

impl<H: Send> Pool<H> {
    /// A pool that keeps nothing (a fresh instance per call), outside any
    /// host's [`Pools`].
    pub fn unpooled() -> Self {
        Pool {
            isolation: Isolation::Request,
            settings: WarmSettings::default(),
            idle: Mutex::new(HashMap::default()),
            retired: AtomicBool::new(false),
            budget: Arc::new(Budget {
                limit: 0,
                used: AtomicUsize::new(0),
            }),
            stats: Stats::default(),
        }
    }

    /// An idle instance of `org`, if the pool keeps one.
    pub fn checkout(&self, org: Option<&str>) -> Option<Warm<H>> {
        if self.isolation == Isolation::Request || self.retired.load(Ordering::Acquire) {
            return None;
        }
        let now = Instant::now();
        let mut expired = Vec::new();
        let found = {
            let mut idle = self.idle.lock().unwrap_or_else(|p| p.into_inner());
            let list = idle.get_mut(key(org))?;
            let me = here();
            let mut found = None;
            if let Some(i) = list.iter().rposition(|w| w.home == me) {
                if now.duration_since(list[i].idle_since) <= self.settings.idle {
                    found = Some(list.remove(i));
                }
            }
            while found.is_none() {
                let Some(w) = list.pop() else { break };
                if now.duration_since(w.idle_since) > self.settings.idle {
                    expired.push(w);
                } else {
                    found = Some(w);
                }
            }
            found
        };
        let taken = expired.len() + usize::from(found.is_some());
        self.budget.give(taken);
        for _ in &expired {
            self.stats.discarded(Discard::Idle);
        }
        drop(expired);
        if found.is_some() {
            self.stats.reused.fetch_add(1, Ordering::Relaxed);
        }
        found
    }

    /// A new instance was made for a request.
    pub fn created(&self) {
        self.stats.created.fetch_add(1, Ordering::Relaxed);
    }

    /// Return an instance after a call; `ok` is false when the call failed
    /// in any way (the store may be poisoned).
    pub fn checkin(&self, mut w: Warm<H>, org: Option<&str>, ok: bool) {
        w.uses += 1;
        let why = if !ok {
            Some(Discard::Failed)
        } else if self.isolation == Isolation::Request {
            Some(Discard::Isolation)
        } else if self.retired.load(Ordering::Acquire) {
            Some(Discard::Retired)
        } else if !w.store.data().table_is_empty() {
            Some(Discard::Resources)
        } else if w.store.data().memory_peak() > self.settings.high_water {
            Some(Discard::HighWater)
        } else if w.uses >= self.settings.max_uses {
            Some(Discard::MaxUses)
        } else {
            None
        };
        if let Some(why) = why {
            self.stats.discarded(why);
            return;
        }
        w.store.data_mut().reset_between_requests();
        w.idle_since = Instant::now();
        w.home = here();
        let mut idle = self.idle.lock().unwrap_or_else(|p| p.into_inner());
        let list = match idle.get_mut(key(org)) {
            Some(list) => list,
            None => idle.entry(Key::from(key(org))).or_default(),
        };
        if list.len() >= self.settings.per_key {
            drop(idle);
            self.stats.discarded(Discard::PoolFull);
            return;
        }
        if !self.budget.take() {
            drop(idle);
            self.stats.discarded(Discard::Budget);
            return;
        }
        list.push(w);
    }

    /// The version is no longer active: drop what is idle, keep nothing more.
    pub fn retire(&self) {
        self.retired.store(true, Ordering::Release);
        let drained: Vec<Warm<H>> = {
            let mut idle = self.idle.lock().unwrap_or_else(|p| p.into_inner());
            idle.drain().flat_map(|(_, v)| v).collect()
        };
        self.budget.give(drained.len());
        for _ in &drained {
            self.stats.discarded(Discard::Retired);
        }
    }

    fn sweep_idle(&self) {
        let now = Instant::now();
        let expired: Vec<Warm<H>> = {
            let mut idle = self.idle.lock().unwrap_or_else(|p| p.into_inner());
            let mut out = Vec::new();
            for list in idle.values_mut() {
                let (old, keep): (Vec<Warm<H>>, Vec<Warm<H>>) = std::mem::take(list)
                    .into_iter()
                    .partition(|w| now.duration_since(w.idle_since) > self.settings.idle);
                *list = keep;
                out.extend(old);
            }
            idle.retain(|_, v| !v.is_empty());
            out
        };
        self.budget.give(expired.len());
        for _ in &expired {
            self.stats.discarded(Discard::Idle);
        }
    }

    /// Idle instances now.
    pub fn idle_count(&self) -> usize {
        self.idle
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .values()
            .map(Vec::len)
            .sum()
    }
}

impl<H: Send> Sweep for Pool<H> {
    fn sweep(&self) {
        self.sweep_idle();
    }
}

impl<H> Drop for Pool<H> {
    fn drop(&mut self) {
        let idle = self.idle.get_mut().unwrap_or_else(|p| p.into_inner());
        let n: usize = idle.values().map(Vec::len).sum();
        self.budget.give(n);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::capabilities::{CallContext, Capabilities};
    use crate::runtime::{HostServices, Limits};

    fn warm(engine: &wasmtime::Engine, services: &Arc<HostServices>, mark: u32) -> Warm<u32> {
        let ctx = CallContext {
            plugin: "echo".into(),
            request_id: "r".into(),
            organisation: Some("org-a".into()),
            operation: None,
        };
        let store = Store::new(engine, PluginState::new(ctx, Arc::clone(services)));
        Warm::new(store, mark)
    }

    /// An instance last run on this thread is taken before one that came
    /// back later from another thread; with none of its own, a thread takes
    /// the last one back; another organisation's is never taken.
    #[tokio::test]
    async fn a_thread_takes_its_own_instance_first() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = Arc::new(crate::store::Store::open(dir.path()).await.expect("store"));
        let services = HostServices::new(Capabilities::new(store), Limits::default());
        let engine = wasmtime::Engine::default();
        let pools = Pools::new(16, WarmSettings::default());
        let pool: Arc<Pool<u32>> = pools.pool(Isolation::Organisation);
        pool.checkin(warm(&engine, &services, 1), Some("org-a"), true);
        std::thread::scope(|s| {
            s.spawn(|| pool.checkin(warm(&engine, &services, 2), Some("org-a"), true));
        });
        assert_eq!(pool.idle_count(), 2);
        assert_eq!(pool.checkout(Some("org-b")).map(|w| w.handle), None);
        let mine = pool.checkout(Some("org-a")).expect("an idle instance");
        assert_eq!(
            mine.handle, 1,
            "this thread's own instance, not the last one back"
        );
        let other = std::thread::scope(|s| {
            s.spawn(|| pool.checkout(Some("org-a")).map(|w| w.handle))
                .join()
                .expect("thread")
        });
        assert_eq!(other, Some(2));
        pool.checkin(mine, Some("org-a"), true);
        std::thread::scope(|s| {
            s.spawn(|| {
                let w = pool.checkout(Some("org-a")).expect("the idle instance");
                assert_eq!(
                    w.handle, 1,
                    "with none of its own, a thread takes another's"
                );
            });
        });
        assert_eq!(pool.stats.reused.load(Ordering::Relaxed), 3);
    }
}
