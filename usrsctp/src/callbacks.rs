//! The two C callbacks usrsctp calls: packet output (AF_CONN) and socket upcalls.
//!
//! Each one finds the association id from what usrsctp passes back (the upcall argument; the
//! AF_CONN address, or for the shared one the packet's source port), looks up its route,
//! copies what it needs, posts a message and returns. It never runs user code, never blocks,
//! never calls back into usrsctp, and never unwinds into C (`catch_unwind`). An id with no
//! route is counted in `late_callbacks_dropped` and dropped.

use std::cell::{Cell, RefCell};
use std::os::raw::{c_int, c_void};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::Ordering;

use crate::event::{AssocId, Event};
use crate::ffi::{addr_to_id, ConnAddr};
use crate::shared::assoc::AssociationState;
use crate::shared::command::Command;
use crate::shared::counters::{bump, COUNTERS};
use crate::shared::port_owners;
use crate::shared::recycle;
use crate::shared::routes::with_route;

/// A packet usrsctp wants on the wire: to the owner's mailbox. Returns 0 if posted, -1 if the
/// association is gone (usrsctp then counts a send error; nothing else happens).
fn output(id: u64, mut packet: Vec<u8>, has_data: bool) -> c_int {
    bump(&COUNTERS.output_callbacks);
    let len = packet.len() as u64;
    let posted = with_route(id, |r| {
        // An association that has ended keeps its route while its handle lives; its late
        // callbacks are dropped like those of an unknown id.
        if r.shared.state() == AssociationState::Closed {
            return false;
        }
        // The socket's port inside usrsctp is not the one on the wire (`driver::ports`).
        crate::packet::ports::to_wire(&mut packet, r.shared.config.local_port);
        r.shared.output_seen(&packet, has_data);
        // Counted before the worker can see the packet (taken back if the mailbox is gone).
        bump(&COUNTERS.packets_out);
        COUNTERS.bytes_out.fetch_add(len, Ordering::Relaxed);
        let posted = r.mailbox.post_event(Event::Transmit {
            assoc: AssocId(id),
            packet,
        });
        if !posted {
            COUNTERS.packets_out.fetch_sub(1, Ordering::Relaxed);
            COUNTERS.bytes_out.fetch_sub(len, Ordering::Relaxed);
        }
        posted
    });
    if posted == Some(true) {
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
        if r.shared.state() == AssociationState::Closed {
            return false;
        }
        if !r.shared.upcall_pending.swap(true, Ordering::AcqRel) && !note_upcall_here(id) {
            // A stopped stack thread has closed everything; nothing to do then.
            let _ = r.commands.send(Command::Upcall { id: AssocId(id) });
        }
        true
    });
    if known != Some(true) {
        bump(&COUNTERS.late_callbacks_dropped);
    }
}

thread_local! {
    /// On the stack thread: the associations usrsctp signalled readiness for during the
    /// current API call, served right after it (`Driver::serve_upcalls`) instead of going
    /// to the back of the command channel behind every other worker's commands.
    static UPCALLS_HERE: RefCell<Option<Vec<u64>>> = const { RefCell::new(None) };
}

/// Called once by the stack thread: from now on, upcalls made on this thread are collected
/// for [`take_upcalls_here`] rather than sent as commands.
pub(crate) fn collect_upcalls_here() {
    UPCALLS_HERE.with(|u| *u.borrow_mut() = Some(Vec::new()));
}

/// Swaps the upcalls collected on this thread into `into` (empty).
pub(crate) fn take_upcalls_here(into: &mut Vec<u64>) {
    UPCALLS_HERE.with(|u| {
        if let Some(v) = u.borrow_mut().as_mut() {
            std::mem::swap(v, into);
        }
    });
}

thread_local! {
    /// Whether usrsctp, on this thread, sent a packet other than heartbeats since the last
    /// [`take_activity_here`]. The stack thread's timer clock stretches its tick only while
    /// the stack is quiet (`driver::timers`).
    static ACTIVE_HERE: Cell<bool> = const { Cell::new(false) };
}

/// True if usrsctp sent anything but heartbeats on this thread since the last call.
pub(crate) fn take_activity_here() -> bool {
    ACTIVE_HERE.with(|a| a.replace(false))
}

/// True if the upcall was noted for the stack thread itself (we are on it).
fn note_upcall_here(id: u64) -> bool {
    UPCALLS_HERE.with(|u| match u.try_borrow_mut() {
        Ok(mut slot) => match slot.as_mut() {
            Some(v) => {
                v.push(id);
                true
            }
            None => false,
        },
        Err(_) => false,
    })
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
    // CRC32c offload is on: the checksum is ours to write, and the worker writes it as it
    // takes the packet from its mailbox (`Mailbox::took`), off this serial thread.
    // SAFETY: usrsctp passes a buffer of `length` readable bytes that lives until we return;
    // we copy it before returning and keep no reference.
    let bytes = unsafe { std::slice::from_raw_parts(buffer as *const u8, length) };
    catch_unwind(AssertUnwindSafe(|| {
        let chunks = crate::packet::chunks(bytes);
        if !chunks.heartbeat_only {
            ACTIVE_HERE.with(|a| a.set(true));
        }
        // The copy goes into a buffer the stack thread is done with, when one fits (`recycle`).
        let packet = recycle::copy_of(bytes);
        // The shared address stands for every association with a port of its own: the packet's
        // source port says which. 0 is no id: counted and dropped as unknown.
        let id = match ConnAddr::from_ptr(addr) {
            ConnAddr::Shared => port_owners::owner_of_packet(&packet).unwrap_or(0),
            ConnAddr::Own(id) => id.0,
        };
        output(id, packet, chunks.data)
    }))
    .unwrap_or_else(|_| {
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
    use crate::ffi::id_to_addr;
    use crate::packet::checksum::{checksum_ok, fill_checksum};
    use crate::shared::mailbox::Mailbox;
    use crate::shared::routes::{remove, remove_owner};

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

    /// Registers a route for `id` owned by worker `owner`: its mailbox, and the stack's
    /// command channel.
    fn route(id: AssocId, owner: u64) -> (Mailbox, crossbeam_channel::Receiver<Command>) {
        let (_, mb, stack_rx) = crate::shared::routes::insert_for_test(id, owner);
        (mb, stack_rx)
    }

    #[test]
    fn output_reaches_the_owner_and_upcalls_coalesce() {
        let id = AssocId(u64::MAX - 7);
        let (mb, stack_rx) = route(id, 99);
        let mut bytes = *b"sctp-packet!";
        // SAFETY: a valid buffer of the stated length.
        let rc = unsafe { on_output(id_to_addr(id), bytes.as_mut_ptr().cast(), bytes.len(), 0, 0) };
        assert_eq!(rc, 0);
        // The source port is the configured one (5000 = 0x1388), whatever usrsctp's socket is
        // bound to; the checksum is filled in by the time the worker has it (CRC32c offload).
        let mut expected = b"sctp-packet!".to_vec();
        expected[..2].copy_from_slice(&[0x13, 0x88]);
        fill_checksum(&mut expected);
        assert!(checksum_ok(&expected));
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

    #[test]
    fn output_from_the_shared_address_goes_to_the_owner_of_its_source_port() {
        let id = AssocId(u64::MAX - 9);
        let (mb, _stack_rx) = route(id, 98);
        // Inner port 0xfe01 (a port no other unit test uses).
        port_owners::set(0xfe01, id.0);
        let shared_addr = ConnAddr::Shared.as_ptr();
        let mut bytes = *b"\xfe\x01\x13\x88vtagcrc!";
        // SAFETY: a valid buffer of the stated length.
        let rc = unsafe { on_output(shared_addr, bytes.as_mut_ptr().cast(), bytes.len(), 0, 0) };
        assert_eq!(rc, 0);
        match mb.try_recv() {
            Some(Event::Transmit { assoc, packet }) => {
                assert_eq!(assoc, id);
                assert_eq!(
                    &packet[..4],
                    &[0x13, 0x88, 0x13, 0x88],
                    "source port back to 5000"
                );
            }
            other => panic!("expected the packet in the owner's mailbox, got {other:?}"),
        }
        // Once the port has no owner, its packets are late: counted and dropped.
        port_owners::clear(0xfe01, id.0);
        let before = COUNTERS.late_callbacks_dropped.load(Ordering::Relaxed);
        let mut bytes = *b"\xfe\x01\x13\x88vtagcrc!";
        // SAFETY: as above.
        let rc = unsafe { on_output(shared_addr, bytes.as_mut_ptr().cast(), bytes.len(), 0, 0) };
        assert_eq!(rc, -1);
        assert!(COUNTERS.late_callbacks_dropped.load(Ordering::Relaxed) > before);
        assert_eq!(mb.try_recv(), None);
        assert_eq!(remove_owner(98), vec![id]);
    }
}
