//! Byte buffers the stack thread reuses instead of freeing and allocating again.
//!
//! Per message, the stack thread frees what workers allocated (a sent payload once usrsctp has
//! copied it, a received packet once usrsctp has taken it) and allocates what workers will
//! free (a packet to transmit, a received message). With glibc, a buffer freed on another
//! thread than the one that allocated it goes back to its arena under that arena's lock, so
//! the one serial thread and the workers kept taking each other's arena locks: perf of
//! `cpu/wrapper/1024` counted ~100,000 futex calls a second from glibc's internal locks, and
//! malloc and free were ~11 % of the stack thread's samples. The buffers the stack thread is
//! done with are kept here instead, and the next packet or message it builds takes one of a
//! fitting size.
//!
//! The pool is per thread (only the stack thread gives to it) and bounded: [`MAX_BUFFERS`]
//! buffers and [`MAX_POOLED_BYTES`] of capacity in all; what does not fit is freed as before.

use std::cell::RefCell;

/// Buffers held at most.
const MAX_BUFFERS: usize = 64;
/// Capacity held at most, in all (bytes).
const MAX_POOLED_BYTES: usize = 1 << 20;
/// Smaller buffers are left to the allocator's per-thread cache, which serves them well.
const MIN_CAPACITY: usize = 256;
/// How many of the most recently given buffers `take` looks at.
const LOOK_AT: usize = 8;

#[derive(Default)]
struct Pool {
    buffers: Vec<Vec<u8>>,
    bytes: usize,
}

thread_local! {
    static POOL: RefCell<Pool> = RefCell::new(Pool::default());
}

/// Keeps `buf` for reuse if the pool has room (its contents are dropped).
pub(crate) fn give(mut buf: Vec<u8>) {
    let cap = buf.capacity();
    if cap < MIN_CAPACITY {
        return;
    }
    POOL.with(|p| {
        let Ok(mut p) = p.try_borrow_mut() else {
            return;
        };
        if p.buffers.len() < MAX_BUFFERS && p.bytes + cap <= MAX_POOLED_BYTES {
            buf.clear();
            p.bytes += cap;
            p.buffers.push(buf);
        }
    });
}

/// An empty buffer with room for at least `len` bytes: the smallest recently kept one that
/// fits (not more than twice `len`, so a message held by its owner does not hold much more memory than
/// its size), or a new one.
pub(crate) fn take(len: usize) -> Vec<u8> {
    let kept = POOL.with(|p| {
        let mut p = p.try_borrow_mut().ok()?;
        let n = p.buffers.len();
        let fits = |b: &Vec<u8>| b.capacity() >= len && b.capacity() <= 2 * len.max(MIN_CAPACITY);
        // The smallest that fits, so a packet-sized buffer is left for a packet.
        let at = (n.saturating_sub(LOOK_AT)..n)
            .filter(|&i| fits(&p.buffers[i]))
            .min_by_key(|&i| p.buffers[i].capacity())?;
        let buf = p.buffers.swap_remove(at);
        p.bytes -= buf.capacity();
        Some(buf)
    });
    kept.unwrap_or_else(|| Vec::with_capacity(len))
}

/// A copy of `bytes` in a buffer from [`take`].
pub(crate) fn copy_of(bytes: &[u8]) -> Vec<u8> {
    let mut buf = take(bytes.len());
    buf.extend_from_slice(bytes);
    buf
}

#[cfg(test)]
mod tests {
    use super::*;

    fn held() -> (usize, usize) {
        POOL.with(|p| {
            let p = p.borrow();
            (p.buffers.len(), p.bytes)
        })
    }

    #[test]
    fn a_given_buffer_comes_back_for_a_fitting_size_only() {
        let buf = Vec::with_capacity(2048);
        let addr = buf.as_ptr();
        give(buf);
        assert_eq!(held(), (1, 2048));
        // Too large for a 100-byte packet (more than twice 256), too small for 4 KiB.
        let (small, large) = (take(100), take(4096));
        assert!(small.as_ptr() != addr && large.as_ptr() != addr);
        assert_eq!(held(), (1, 2048));
        let copy = copy_of(&[7u8; 1500]);
        assert_eq!(copy.as_ptr(), addr, "reused");
        assert_eq!(copy, vec![7u8; 1500]);
        assert_eq!(held(), (0, 0));
        // Small buffers are not kept.
        give(Vec::with_capacity(64));
        assert_eq!(held(), (0, 0));
    }

    #[test]
    fn the_pool_is_bounded_in_count_and_bytes() {
        for _ in 0..2 * MAX_BUFFERS {
            give(Vec::with_capacity(1024));
        }
        assert_eq!(held(), (MAX_BUFFERS, MAX_BUFFERS * 1024));
        while take(1024).capacity() == 1024 && held().0 > 0 {}
        assert_eq!(held(), (0, 0));
        for _ in 0..4 {
            give(Vec::with_capacity(MAX_POOLED_BYTES / 2));
        }
        assert_eq!(held(), (2, MAX_POOLED_BYTES));
    }
}
