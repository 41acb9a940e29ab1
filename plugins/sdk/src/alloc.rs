//! The guest's allocator: talc instead of wasi-libc's dlmalloc.
//!
//! A warm instance serves up to its pool's limit of requests, each of which
//! allocates a few hundred small blocks (lowered row fields, JSON values);
//! dlmalloc and its frees were about 8% of a quote's CPU. talc takes its
//! first heap from a static arena in the module's zero-initialised data, so
//! a fresh instance (`request` isolation) allocates without growing its
//! linear memory (a heap that starts empty and grows page by page made each
//! fresh instance grow it: 3x slower); beyond the arena it grows memory as
//! it needs, extending one heap. In front of talc, [`Recycling`] keeps
//! freed small blocks for the next allocation of their size.

use core::alloc::Layout;
use core::ptr::NonNull;

use talc::base::binning::Binning;
use talc::base::Talc;
use talc::cell::TalcSyncCell;
use talc::wasm::WasmBinning;

use crate::recycling::Recycling;

/// The first heap. Untouched pages of it cost nothing: they are zero pages
/// of the instance's memory image.
const ARENA: usize = 256 << 10;
/// WebAssembly's page.
const PAGE: usize = 64 * 1024;

static mut HEAP: [u8; ARENA] = [0; ARENA];

/// The arena first, then memory grown for what does not fit, each growth
/// extending the heap grown before when it is adjacent (as memory grows
/// upwards it is, unless wasi-libc grew memory in between), so freed blocks
/// of successive growths merge.
#[derive(Debug)]
pub struct ArenaThenGrow {
    arena_claimed: bool,
    /// The end of the heap grown last.
    grown_end: Option<NonNull<u8>>,
}

// SAFETY: `acquire` only claims memory no one else uses (the static arena,
// pages just grown) and never allocates.
unsafe impl talc::source::Source for ArenaThenGrow {
    fn acquire<B: Binning>(talc: &mut Talc<Self, B>, layout: Layout) -> Result<(), ()> {
        if !talc.source.arena_claimed {
            talc.source.arena_claimed = true;
            // SAFETY: `HEAP` is used by this allocator only, and claimed once.
            if unsafe { talc.claim((&raw mut HEAP).cast(), ARENA) }.is_some() {
                return Ok(());
            }
        }
        // Room for the block, its alignment and talc's bookkeeping.
        let needed = layout.size() + layout.align() + 4 * talc::base::CHUNK_UNIT;
        let pages = needed.div_ceil(PAGE);
        let previous = core::arch::wasm32::memory_grow::<0>(pages);
        if previous == usize::MAX {
            return Err(());
        }
        let base = (previous * PAGE) as *mut u8;
        let end = base.wrapping_add(pages * PAGE);
        talc.source.grown_end = match talc.source.grown_end.take() {
            // SAFETY: the pages from `old_end` to `end` were just grown.
            Some(old_end) if old_end.as_ptr() == base => Some(unsafe { talc.extend(old_end, end) }),
            // SAFETY: the pages were just grown, so nothing else uses them.
            _ => unsafe { talc.claim(base, pages * PAGE) },
        };
        match talc.source.grown_end {
            Some(_) => Ok(()),
            None => Err(()),
        }
    }
}

#[global_allocator]
static ALLOCATOR: Recycling<TalcSyncCell<ArenaThenGrow, WasmBinning>> =
    Recycling::new(TalcSyncCell::new_wasm(ArenaThenGrow {
        arena_claimed: false,
        grown_end: None,
    }));
