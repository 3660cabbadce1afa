//! The registry of live associations, and the C callbacks that consult it.
//!
//! usrsctp knows an association only by its id (an integer passed as the AF_CONN address and as
//! the upcall argument). Every callback looks the id up here, copies what it needs, posts a
//! message and returns. An id that is not here any more (closed association, dropped worker) is
//! counted and dropped — usrsctp does call the output callback after close
//! (sctplab/usrsctp#405) — and never dereferenced.
//!
//! # Lock order
//!
//! `ROUTES` is a **leaf** lock. usrsctp may hold its own locks while it calls us, so:
//! - no code holds `ROUTES` while calling into usrsctp;
//! - code that holds `ROUTES` only posts to non-blocking channels (crossbeam unbounded
//!   senders, the mailbox eventfd) and never takes another lock of ours;
//! - the stack lifecycle locks in `stack.rs` (`GLOBAL`, then `PREVIOUS`) are never taken by a
//!   callback and never held while waiting on `ROUTES`.

use std::collections::HashMap;
use std::os::raw::{c_int, c_void};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, PoisonError, RwLock};

use crossbeam_channel::Sender;
use once_cell::sync::Lazy;

use crate::association::AssocShared;
use crate::driver::Command;
use crate::event::{AssocId, Event};
use crate::mailbox::MailboxSender;

/// Identifies a `Worker` (its associations are removed together when it is dropped).
pub(crate) type WorkerId = u64;

/// Where the events of one association go.
pub(crate) struct Route {
    pub(crate) owner: WorkerId,
    pub(crate) mailbox: MailboxSender,
    pub(crate) shared: Arc<AssocShared>,
    pub(crate) stack: Sender<Command>,
}

static ROUTES: Lazy<RwLock<HashMap<u64, Route>>> = Lazy::new(|| RwLock::new(HashMap::new()));

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
};

pub(crate) fn bump(counter: &AtomicU64) {
    counter.fetch_add(1, Ordering::Relaxed);
}

pub(crate) fn insert(id: AssocId, route: Route) {
    ROUTES
        .write()
        .unwrap_or_else(PoisonError::into_inner)
        .insert(id.0, route);
}

pub(crate) fn remove(id: AssocId) -> bool {
    ROUTES
        .write()
        .unwrap_or_else(PoisonError::into_inner)
        .remove(&id.0)
        .is_some()
}

/// Removes every route of `owner` and returns their ids.
pub(crate) fn remove_owner(owner: WorkerId) -> Vec<AssocId> {
    let mut routes = ROUTES.write().unwrap_or_else(PoisonError::into_inner);
    let ids: Vec<u64> = routes
        .iter()
        .filter(|(_, r)| r.owner == owner)
        .map(|(id, _)| *id)
        .collect();
    for id in &ids {
        routes.remove(id);
    }
    ids.into_iter().map(AssocId).collect()
}

/// Number of registered routes.
pub(crate) fn len() -> usize {
    ROUTES.read().unwrap_or_else(PoisonError::into_inner).len()
}

fn with_route<R>(id: u64, f: impl FnOnce(&Route) -> R) -> Option<R> {
    let routes = ROUTES.read().unwrap_or_else(PoisonError::into_inner);
    routes.get(&id).map(f)
}

/// The id usrsctp hands back to us as an AF_CONN address or upcall argument.
pub(crate) fn id_to_addr(id: AssocId) -> *mut c_void {
    id.0 as usize as *mut c_void
}

fn addr_to_id(addr: *mut c_void) -> u64 {
    addr as usize as u64
}

/// A packet usrsctp wants on the wire: to the owner's mailbox. Returns 0 if posted, -1 if the
/// association is gone (usrsctp then counts a send error; nothing else happens).
fn output(id: u64, packet: Vec<u8>) -> c_int {
    bump(&COUNTERS.output_callbacks);
    let len = packet.len() as u64;
    let posted = with_route(id, |r| {
        r.shared.output_seen(&packet);
        r.mailbox.post_event(Event::Transmit {
            assoc: AssocId(id),
            packet,
        })
    });
    if posted == Some(true) {
        bump(&COUNTERS.packets_out);
        COUNTERS.bytes_out.fetch_add(len, Ordering::Relaxed);
        0
    } else {
        bump(&COUNTERS.late_callbacks_dropped);
        -1
    }
}

/// Socket readiness changed: ask the stack thread to look (at most one request in flight).
fn upcall(id: u64) {
    bump(&COUNTERS.upcalls);
    let known = with_route(id, |r| {
        if !r.shared.upcall_pending.swap(true, Ordering::AcqRel) {
            // A stopped stack thread has closed everything; nothing to do then.
            let _ = r.stack.send(Command::Upcall { id: AssocId(id) });
        }
    });
    if known.is_none() {
        bump(&COUNTERS.late_callbacks_dropped);
    }
}

/// usrsctp's AF_CONN output callback (`usrsctp_init`'s `conn_output`).
///
/// # Safety
/// Called by usrsctp only, with `buffer` valid for `length` bytes for the duration of the call.
pub(crate) unsafe extern "C" fn on_output(
    addr: *mut c_void,
    buffer: *mut c_void,
    length: usize,
    _tos: u8,
    _set_df: u8,
) -> c_int {
    if buffer.is_null() {
        return -1;
    }
    // SAFETY: usrsctp passes a buffer of `length` readable bytes that lives until we return;
    // we copy it before returning and keep no reference.
    let mut packet = unsafe { std::slice::from_raw_parts(buffer as *const u8, length) }.to_vec();
    // CRC32c offload is on: the checksum is ours to write.
    crate::packet::fill_checksum(&mut packet);
    let id = addr_to_id(addr);
    catch_unwind(AssertUnwindSafe(|| output(id, packet))).unwrap_or_else(|_| {
        bump(&COUNTERS.callback_panics);
        -1
    })
}

/// usrsctp's socket upcall (`usrsctp_set_upcall`); `arg` is the association id.
///
/// # Safety
/// Called by usrsctp only; neither pointer is dereferenced.
pub(crate) unsafe extern "C" fn on_upcall(
    _sock: *mut usrsctp_sys::socket,
    arg: *mut c_void,
    _flags: c_int,
) {
    let id = addr_to_id(arg);
    if catch_unwind(AssertUnwindSafe(|| upcall(id))).is_err() {
        bump(&COUNTERS.callback_panics);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::AssociationConfig;
    use crate::mailbox::mailbox;

    #[test]
    fn output_for_an_unknown_id_is_counted_and_dropped() {
        let before = COUNTERS.late_callbacks_dropped.load(Ordering::Relaxed);
        let mut bytes = [1u8, 2, 3, 4];
        // SAFETY: a valid 4-byte buffer; the id was never registered.
        let rc = unsafe {
            on_output(
                0xdead_beef_usize as *mut c_void,
                bytes.as_mut_ptr().cast(),
                4,
                0,
                0,
            )
        };
        assert_eq!(rc, -1);
        // SAFETY: the arguments are never dereferenced.
        unsafe { on_upcall(std::ptr::null_mut(), 0xdead_beef_usize as *mut c_void, 0) };
        assert!(COUNTERS.late_callbacks_dropped.load(Ordering::Relaxed) >= before + 2);
    }

    #[test]
    fn output_reaches_the_owner_and_upcalls_coalesce() {
        let (tx, mb) = mailbox().unwrap();
        let (stack_tx, stack_rx) = crossbeam_channel::unbounded();
        let id = AssocId(u64::MAX - 7);
        let shared = Arc::new(AssocShared::new(
            id,
            AssociationConfig::default(),
            stack_tx.clone(),
        ));
        insert(
            id,
            Route {
                owner: 99,
                mailbox: tx,
                shared: shared.clone(),
                stack: stack_tx,
            },
        );
        let mut bytes = *b"sctp-packet!";
        // SAFETY: a valid buffer of the stated length.
        let rc = unsafe { on_output(id_to_addr(id), bytes.as_mut_ptr().cast(), bytes.len(), 0, 0) };
        assert_eq!(rc, 0);
        // The callback fills in the checksum (CRC32c offload is on).
        let mut expected = b"sctp-packet!".to_vec();
        crate::packet::fill_checksum(&mut expected);
        assert!(crate::packet::checksum_ok(&expected));
        assert_eq!(
            mb.try_recv(),
            Some(Event::Transmit {
                assoc: id,
                packet: expected
            })
        );
        for _ in 0..5 {
            // SAFETY: the arguments are never dereferenced.
            unsafe { on_upcall(std::ptr::null_mut(), id_to_addr(id), 0) };
        }
        assert!(matches!(stack_rx.try_recv(), Ok(Command::Upcall { id: got }) if got == id));
        assert!(stack_rx.try_recv().is_err(), "five upcalls, one request");
        assert_eq!(remove_owner(99), vec![id]);
        assert!(!remove(id));
    }
}
