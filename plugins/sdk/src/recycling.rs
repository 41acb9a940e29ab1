//! Small blocks kept for reuse in front of the guest's allocator
//! ([`Recycling`], wrapped around talc in `alloc.rs`).
//!
//! Of a warm quote's CPU, talc's `allocate` and `deallocate` were about 7%
//! (stop 43): most of a request's allocations are small blocks (each string
//! the host lowers into the guest, JSON values, query parameters), freed
//! when the request is answered, and the same sizes come back with the next
//! request of a warm instance. A pop from a free list is far cheaper than a
//! search of talc's bins; with the lists the allocator was about 3%.

use core::alloc::{GlobalAlloc, Layout};
use core::cell::UnsafeCell;

/// Size classes of the small blocks kept for reuse: 8, 16, ... 256 bytes.
const STEP: usize = 8;
const CLASSES: usize = 32;
/// Freed blocks kept per class at most (the rest go back to talc): at most
/// about 264 KiB kept, all of it reused by later blocks of its class.
const KEEP: u32 = 64;

/// Small blocks (up to 256 bytes, alignment up to 8) freed are kept on a
/// free list per size class and handed out again by the next allocation of
/// their class: a pop, not a search of talc's bins. Most of a request's
/// allocations are such blocks (each string the host lowers into the guest,
/// JSON values, query parameters), freed when the request is answered, and
/// the same sizes come back with the next request of a warm instance.
///
/// A block of class `c` is always `(c + 1) * STEP` bytes at alignment
/// `STEP` to talc, whatever size within the class was asked for.
pub struct Recycling<A> {
    inner: A,
    lists: UnsafeCell<[Free; CLASSES]>,
}

#[derive(Clone, Copy)]
struct Free {
    head: *mut u8,
    count: u32,
}

// SAFETY: only on single-threaded WebAssembly, where there is one thread
// and no interruption (as for talc's `TalcSyncCell`). Elsewhere (the tests)
// a `Recycling` is not `Sync`, so not shared between threads.
#[cfg(all(target_family = "wasm", not(target_feature = "atomics")))]
unsafe impl<A: Sync> Sync for Recycling<A> {}

impl<A> Recycling<A> {
    pub const fn new(inner: A) -> Self {
        Recycling {
            inner,
            lists: UnsafeCell::new(
                [Free {
                    head: core::ptr::null_mut(),
                    count: 0,
                }; CLASSES],
            ),
        }
    }
}

/// The class of a block of `size` bytes at alignment `align`, if it is small.
fn class(size: usize, align: usize) -> Option<usize> {
    (size != 0 && size <= STEP * CLASSES && align <= STEP).then(|| (size - 1) / STEP)
}

/// The layout talc gives every block of class `c`.
fn class_layout(c: usize) -> Layout {
    // SAFETY: a non-zero multiple of 8 at alignment 8, far below isize::MAX.
    unsafe { Layout::from_size_align_unchecked((c + 1) * STEP, STEP) }
}

unsafe impl<A: GlobalAlloc> GlobalAlloc for Recycling<A> {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let Some(c) = class(layout.size(), layout.align()) else {
            return unsafe { self.inner.alloc(layout) };
        };
        // SAFETY: one thread, and no reference to the lists outlives a call.
        let list = unsafe { &mut (*self.lists.get())[c] };
        if list.head.is_null() {
            return unsafe { self.inner.alloc(class_layout(c)) };
        }
        let block = list.head;
        // SAFETY: a block on the list holds the next block's address.
        list.head = unsafe { block.cast::<*mut u8>().read() };
        list.count -= 1;
        block
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        let Some(c) = class(layout.size(), layout.align()) else {
            return unsafe { self.inner.dealloc(ptr, layout) };
        };
        // SAFETY: as in `alloc`.
        let list = unsafe { &mut (*self.lists.get())[c] };
        if list.count >= KEEP {
            return unsafe { self.inner.dealloc(ptr, class_layout(c)) };
        }
        // SAFETY: the block is at least 8 bytes at alignment 8 and ours now.
        unsafe { ptr.cast::<*mut u8>().write(list.head) };
        list.head = ptr;
        list.count += 1;
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let old = class(layout.size(), layout.align());
        let new = class(new_size, layout.align());
        match (old, new) {
            // Still fits its block.
            (Some(a), Some(b)) if a == b => ptr,
            // Neither is a small block: talc grows or shrinks it in place
            // when it can.
            (None, None) => unsafe { self.inner.realloc(ptr, layout, new_size) },
            _ => {
                // SAFETY: `realloc`'s contract: `new_size` is not zero and,
                // rounded up to the alignment, does not overflow `isize`.
                let new_layout =
                    unsafe { Layout::from_size_align_unchecked(new_size, layout.align()) };
                let moved = unsafe { self.alloc(new_layout) };
                if !moved.is_null() {
                    // SAFETY: both blocks hold at least the smaller size.
                    unsafe {
                        core::ptr::copy_nonoverlapping(ptr, moved, layout.size().min(new_size));
                        self.dealloc(ptr, layout);
                    }
                }
                moved
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cell::Cell;

    /// The system allocator, counting what reaches it.
    #[derive(Default)]
    struct Counting {
        allocs: Cell<usize>,
        frees: Cell<usize>,
    }

    unsafe impl GlobalAlloc for Counting {
        unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
            self.allocs.set(self.allocs.get() + 1);
            unsafe { std::alloc::System.alloc(layout) }
        }
        unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
            self.frees.set(self.frees.get() + 1);
            unsafe { std::alloc::System.dealloc(ptr, layout) }
        }
    }

    fn layout(size: usize, align: usize) -> Layout {
        Layout::from_size_align(size, align).unwrap()
    }

    /// Every block still on the lists back to the system allocator (so the
    /// tests do not leak).
    fn drain(r: &Recycling<Counting>) {
        for c in 0..CLASSES {
            let list = unsafe { &mut (*r.lists.get())[c] };
            while !list.head.is_null() {
                let block = list.head;
                list.head = unsafe { block.cast::<*mut u8>().read() };
                list.count -= 1;
                unsafe { std::alloc::System.dealloc(block, class_layout(c)) };
            }
        }
    }

    #[test]
    fn a_freed_small_block_is_handed_out_again_for_any_size_of_its_class() {
        let r = Recycling::new(Counting::default());
        let a = unsafe { r.alloc(layout(20, 4)) };
        unsafe { a.write_bytes(7, 20) };
        unsafe { r.dealloc(a, layout(20, 4)) };
        assert_eq!(r.inner.frees.get(), 0, "kept, not freed");
        // 17..=24 bytes is one class: the same block, no new allocation.
        let b = unsafe { r.alloc(layout(24, 8)) };
        assert_eq!(b, a);
        assert_eq!(r.inner.allocs.get(), 1);
        // Another class is another block.
        let c = unsafe { r.alloc(layout(25, 8)) };
        assert_ne!(c, a);
        assert_eq!(r.inner.allocs.get(), 2);
        unsafe {
            r.dealloc(b, layout(24, 8));
            r.dealloc(c, layout(25, 8));
        }
        drain(&r);
    }

    #[test]
    fn large_or_overaligned_blocks_go_straight_to_the_inner_allocator() {
        let r = Recycling::new(Counting::default());
        for l in [layout(257, 8), layout(4096, 8), layout(16, 16)] {
            let p = unsafe { r.alloc(l) };
            unsafe { r.dealloc(p, l) };
        }
        assert_eq!((r.inner.allocs.get(), r.inner.frees.get()), (3, 3));
    }

    #[test]
    fn at_most_keep_blocks_of_a_class_are_kept() {
        let r = Recycling::new(Counting::default());
        let n = KEEP as usize + 10;
        let blocks: Vec<*mut u8> = (0..n).map(|_| unsafe { r.alloc(layout(8, 8)) }).collect();
        for &p in &blocks {
            unsafe { r.dealloc(p, layout(8, 8)) };
        }
        assert_eq!(r.inner.frees.get(), 10, "the ones beyond KEEP went back");
        assert_eq!(unsafe { (*r.lists.get())[0].count }, KEEP);
        drain(&r);
    }

    #[test]
    fn realloc_keeps_the_contents_within_and_across_classes() {
        let r = Recycling::new(Counting::default());
        let p = unsafe { r.alloc(layout(10, 1)) };
        unsafe { core::ptr::copy_nonoverlapping(b"0123456789".as_ptr(), p, 10) };
        // 10 -> 16 bytes: the same class, the same block.
        let q = unsafe { r.realloc(p, layout(10, 1), 16) };
        assert_eq!(q, p);
        // 16 -> 300 bytes: a large block, the contents copied, the small
        // one kept for reuse.
        let big = unsafe { r.realloc(q, layout(16, 1), 300) };
        assert_ne!(big, q);
        assert_eq!(
            unsafe { core::slice::from_raw_parts(big, 10) },
            b"0123456789"
        );
        assert_eq!(unsafe { (*r.lists.get())[1].count }, 1);
        // 300 -> 4000 bytes: large to large, through the inner allocator.
        let bigger = unsafe { r.realloc(big, layout(300, 1), 4000) };
        assert_eq!(
            unsafe { core::slice::from_raw_parts(bigger, 10) },
            b"0123456789"
        );
        // And back down to a small block.
        let small = unsafe { r.realloc(bigger, layout(4000, 1), 5) };
        assert_eq!(unsafe { core::slice::from_raw_parts(small, 5) }, b"01234");
        unsafe { r.dealloc(small, layout(5, 1)) };
        drain(&r);
    }
}
