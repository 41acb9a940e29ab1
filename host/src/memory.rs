//! The process's allocator, and giving freed memory back after a burst.
//!
//! Rust's allocations go to mimalloc: a heap per thread, so memory that one
//! tokio worker allocates and the other frees does not queue on one arena's
//! lock, as it did with glibc's `malloc` (more than half the `futex` calls
//! of a warm plugin route, docs/ARCHITECTURE.md "Where the time goes").
//!
//! A thread's heap keeps what it freed until that thread collects it, and a
//! collection reaches only the calling thread's heap. So [`release`] (called
//! after a burst of connections, `server/trim.rs`) collects on its own
//! thread and raises an epoch; every long-lived thread calls [`on_idle`] when
//! it is about to wait (tokio's workers when they park, the store's readers,
//! the log writer), and collects once when the epoch moved. Steady traffic
//! never collects: the check is one atomic load. C libraries (SQLite) still
//! use the C allocator; [`release`] trims that too.

use std::cell::Cell;
use std::sync::atomic::{AtomicU64, Ordering};

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// mimalloc's option numbers (`mi_option_e` in its v3 `mimalloc.h`; the
/// `-sys` crate's constants follow v2's). A unit test checks their defaults.
const ARENA_EAGER_COMMIT: libmimalloc_sys::mi_option_t = 4;
const PURGE_DELAY: libmimalloc_sys::mi_option_t = 15;

/// Sets the allocator up to give memory back: called first in `main`.
///
/// - arenas are committed as they are used, not all at once;
/// - freed memory is purged when it is freed, not a second later, when the
///   thread that would purge it may be parked.
///
/// (Transparent huge pages are not asked for: the crate's `no_thp`.)
pub fn configure() {
    // SAFETY: `mi_option_set` takes no pointer and may be called at any
    // time; these two options are read when they are used.
    unsafe {
        libmimalloc_sys::mi_option_set(ARENA_EAGER_COMMIT, 0);
        libmimalloc_sys::mi_option_set(PURGE_DELAY, 0);
    }
}

/// Raised by each [`release`].
static EPOCH: AtomicU64 = AtomicU64::new(0);

thread_local! {
    /// The epoch this thread last collected at.
    static COLLECTED: Cell<u64> = const { Cell::new(0) };
}

/// Returns what this thread's heap and the C allocator hold free to the
/// system now, and has every other thread do the same when it next goes
/// idle.
pub fn release() {
    let epoch = EPOCH.fetch_add(1, Ordering::AcqRel) + 1;
    collect(epoch);
    trim_c_heap();
}

/// For a thread about to wait: collects its heap if a [`release`] came since
/// it last did.
pub fn on_idle() {
    let epoch = EPOCH.load(Ordering::Acquire);
    if COLLECTED.with(Cell::get) != epoch {
        collect(epoch);
    }
}

fn collect(epoch: u64) {
    COLLECTED.with(|c| c.set(epoch));
    // SAFETY: `mi_collect` takes no pointer; it frees this thread's empty
    // pages and purges free memory, and may be called on any thread.
    unsafe { libmimalloc_sys::mi_collect(true) }
}

#[cfg(all(target_os = "linux", target_env = "gnu"))]
fn trim_c_heap() {
    extern "C" {
        fn malloc_trim(pad: usize) -> std::ffi::c_int;
    }
    // SAFETY: glibc's `malloc_trim` takes no pointer, only releases free
    // memory, and may be called from any thread at any time.
    unsafe {
        malloc_trim(0);
    }
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
fn trim_c_heap() {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_option_numbers_are_mimalloc_v3s() {
        // Their defaults, as `options.c` gives them (nothing in this test
        // binary sets them).
        // SAFETY: `mi_option_get` takes no pointer.
        let (commit, delay) = unsafe {
            (
                libmimalloc_sys::mi_option_get(ARENA_EAGER_COMMIT),
                libmimalloc_sys::mi_option_get(PURGE_DELAY),
            )
        };
        assert_eq!((commit, delay), (2, 1000));
    }

    #[test]
    fn a_thread_collects_once_per_release() {
        let before = EPOCH.load(Ordering::Acquire);
        // A thread of its own, so its `COLLECTED` starts at zero.
        std::thread::spawn(move || {
            on_idle();
            let seen = COLLECTED.with(Cell::get);
            assert!(seen >= before, "{seen} < {before}");
            std::thread::spawn(release).join().unwrap();
            assert_ne!(COLLECTED.with(Cell::get), EPOCH.load(Ordering::Acquire));
            on_idle();
            assert_eq!(COLLECTED.with(Cell::get), EPOCH.load(Ordering::Acquire));
        })
        .join()
        .unwrap();
    }
}
