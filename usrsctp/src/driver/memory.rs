//! Handing the memory that closed associations freed back to the operating system.
//!
//! usrsctp allocates each association's tables (~37 KiB with the default streams) with
//! `malloc` on the stack thread. glibc keeps freed memory in its arenas for reuse, and a few
//! bytes still in use near the top of an arena's heap keep it from shrinking: after 10,000
//! associations were closed, 50 KiB were still allocated and 190–300 MB free, and RSS stayed
//! where it was. `malloc_trim` releases the free pages of every arena.
//!
//! The stack thread calls it once at shutdown, and while it runs when a crowd has gone: at
//! least `StackConfig::return_memory_after_closed` associations fewer than at their peak since
//! the last return, and the stack quiet (nothing but heartbeats, see `timers`) for
//! [`QUIET_BEFORE_RETURN`]. The trim takes glibc's arena locks and touches every free page,
//! so it waits for a quiet stack; it never runs on a busy one.

use std::time::{Duration, Instant};

use tracing::debug;

use crate::shared::counters::{bump, COUNTERS};

/// How long the stack must have been quiet before memory is returned while it runs: long
/// enough for usrsctp's teardown timers of the closed associations to have run.
pub(super) const QUIET_BEFORE_RETURN: Duration = Duration::from_secs(2);

/// When to return memory while the stack runs.
pub(super) struct MemoryWatch {
    /// `StackConfig::return_memory_after_closed` (0: never while running).
    after_closed: usize,
    /// The most associations live since the last return.
    peak: usize,
}

impl MemoryWatch {
    pub(super) fn new(after_closed: u32) -> Self {
        MemoryWatch {
            after_closed: usize::try_from(after_closed).unwrap_or(usize::MAX),
            peak: 0,
        }
    }

    /// With `live` associations: whether to return memory now (then the peak starts again
    /// from `live`). `quiet` (how long the stack has been quiet) is asked only once enough
    /// associations have closed, so the serve loop reads no clock for it otherwise.
    pub(super) fn due(&mut self, live: usize, quiet: impl FnOnce() -> Duration) -> bool {
        self.peak = self.peak.max(live);
        let gone = self.peak - live;
        if self.after_closed == 0 || gone < self.after_closed || quiet() < QUIET_BEFORE_RETURN {
            return false;
        }
        self.peak = live;
        true
    }
}

/// Returns the free pages of glibc's arenas to the operating system (`malloc_trim`), counted
/// in `Diagnostics::memory_returns`. Elsewhere than glibc it does nothing.
pub(super) fn return_freed_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        let started = Instant::now();
        // SAFETY: malloc_trim only releases pages the allocator holds free; it takes the
        // arenas' own locks and touches no memory of ours.
        let released = unsafe { libc::malloc_trim(0) };
        bump(&COUNTERS.memory_returns);
        debug!(
            released = released != 0,
            took_us = started.elapsed().as_micros() as u64,
            "freed memory returned to the system"
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const QUIET: Duration = QUIET_BEFORE_RETURN;

    #[test]
    fn memory_is_returned_once_enough_associations_closed_and_the_stack_is_quiet() {
        let mut w = MemoryWatch::new(1_000);
        assert!(!w.due(10_000, || QUIET), "nothing closed yet");
        assert!(!w.due(9_001, || QUIET), "999 closed");
        assert!(
            !w.due(9_000, || QUIET - Duration::from_millis(1)),
            "1,000 closed, but not quiet long enough"
        );
        assert!(w.due(9_000, || QUIET));
        assert!(
            !w.due(9_000, || QUIET * 10),
            "once: the peak starts again from 9,000"
        );
        // The crowd grows again and goes: the new peak counts.
        assert!(!w.due(9_500, || QUIET));
        assert!(!w.due(8_501, || QUIET));
        assert!(w.due(8_500, || QUIET));
        assert!(w.due(0, || QUIET), "8,500 more closed");
    }

    #[test]
    fn zero_never_returns_memory_while_running() {
        let mut w = MemoryWatch::new(0);
        assert!(!w.due(10_000, || QUIET));
        assert!(!w.due(0, || QUIET * 100));
    }
}
