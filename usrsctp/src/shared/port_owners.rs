//! Which association owns each inner port (`driver::ports`): how the output callback finds the
//! association of a packet usrsctp sends from the shared AF_CONN address.
//!
//! usrsctp keeps its AF_CONN addresses in a table of 16 buckets (in the system library) and
//! walks a bucket on every register, deregister and bind; each registration also queues work
//! for usrsctp's address iterator, which then visits every endpoint. With one address per
//! association, both grew with the crowd. So an association with a port of its own uses one
//! address that every such association shares (`ffi::ConnAddr::Shared`), registered once per
//! stack, and its packets are told apart by their source port, which is its inner port. Only
//! an association that shares its port (all 65,535 inner ports in use) keeps an address of its
//! own.
//!
//! The table is written by the stack thread only: an owner before its socket is bound, cleared
//! after its socket is closed (usrsctp may still send an ABORT inside the close). Callbacks
//! read it without a lock. A port is given again only after every other of the 65,535 was
//! (`PortPool`), so a closed socket's late packet finds the port empty and is dropped, as a
//! late packet for an unknown id always was.

use std::sync::atomic::{AtomicU64, Ordering};

/// One slot per port, indexed by the port's network-order value (the order `PortPool` hands
/// them out in, so the slots in use are the first ones). 0: no owner. In `.bss`: only the
/// pages of slots ever written are resident (8 bytes per port, 512 KiB at most).
static OWNERS: [AtomicU64; 1 << 16] = [const { AtomicU64::new(0) }; 1 << 16];

fn slot(port: u16) -> &'static AtomicU64 {
    &OWNERS[usize::from(port.to_be())]
}

/// Association `id` (never 0) owns `port` from now on.
pub(crate) fn set(port: u16, id: u64) {
    slot(port).store(id, Ordering::Release);
}

/// `port` has no owner any more, if `id` still owns it.
pub(crate) fn clear(port: u16, id: u64) {
    let _ = slot(port).compare_exchange(id, 0, Ordering::AcqRel, Ordering::Acquire);
}

/// The association that owns `port`, if any.
pub(crate) fn owner(port: u16) -> Option<u64> {
    match slot(port).load(Ordering::Acquire) {
        0 => None,
        id => Some(id),
    }
}

/// The owner of the source port of a packet usrsctp sends (None for a packet too short to
/// have one).
pub(crate) fn owner_of_packet(packet: &[u8]) -> Option<u64> {
    let port = packet.get(..2)?;
    owner(u16::from_be_bytes([port[0], port[1]]))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn owners_are_set_cleared_and_found_by_a_packets_source_port() {
        // Ports no other test binds (unit tests never start usrsctp).
        let (a, b) = (0xfff1_u16, 0xfff2_u16);
        set(a, 41);
        set(b, 42);
        assert_eq!(owner(a), Some(41));
        assert_eq!(owner_of_packet(&[0xff, 0xf2, 0x13, 0x88]), Some(42));
        assert_eq!(owner_of_packet(&[0xff]), None, "too short");
        // Only the owner clears its port: a port given again is not cleared by the old one.
        set(a, 43);
        clear(a, 41);
        assert_eq!(owner(a), Some(43));
        clear(a, 43);
        clear(b, 42);
        assert_eq!((owner(a), owner(b)), (None, None));
    }
}
