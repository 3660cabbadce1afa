//! Process-wide counters (monotonic across stack restarts), read by `Diagnostics`.

use std::sync::atomic::{AtomicU64, Ordering};

/// Process-wide counters (monotonic across stack restarts).
pub(crate) struct Counters {
    pub(crate) output_callbacks: AtomicU64,
    pub(crate) packets_out: AtomicU64,
    pub(crate) bytes_out: AtomicU64,
    pub(crate) upcalls: AtomicU64,
    pub(crate) late_callbacks_dropped: AtomicU64,
    pub(crate) callback_panics: AtomicU64,
    pub(crate) commands: AtomicU64,
    pub(crate) packets_in: AtomicU64,
    pub(crate) inputs_dropped: AtomicU64,
    pub(crate) inputs_refused: AtomicU64,
    pub(crate) checksum_errors: AtomicU64,
    pub(crate) associations_opened: AtomicU64,
    pub(crate) associations_closed: AtomicU64,
    pub(crate) association_restarts: AtomicU64,
    pub(crate) stall_probes: AtomicU64,
    pub(crate) stack_panics: AtomicU64,
    pub(crate) messages_too_large: AtomicU64,
    pub(crate) memory_returns: AtomicU64,
    pub(crate) spins_caught: AtomicU64,
    pub(crate) spins_missed: AtomicU64,
}

pub(crate) static COUNTERS: Counters = Counters {
    output_callbacks: AtomicU64::new(0),
    packets_out: AtomicU64::new(0),
    bytes_out: AtomicU64::new(0),
    upcalls: AtomicU64::new(0),
    late_callbacks_dropped: AtomicU64::new(0),
    callback_panics: AtomicU64::new(0),
    commands: AtomicU64::new(0),
    packets_in: AtomicU64::new(0),
    inputs_dropped: AtomicU64::new(0),
    inputs_refused: AtomicU64::new(0),
    checksum_errors: AtomicU64::new(0),
    associations_opened: AtomicU64::new(0),
    associations_closed: AtomicU64::new(0),
    association_restarts: AtomicU64::new(0),
    stall_probes: AtomicU64::new(0),
    stack_panics: AtomicU64::new(0),
    messages_too_large: AtomicU64::new(0),
    memory_returns: AtomicU64::new(0),
    spins_caught: AtomicU64::new(0),
    spins_missed: AtomicU64::new(0),
};

pub(crate) fn bump(counter: &AtomicU64) {
    counter.fetch_add(1, Ordering::Relaxed);
}
