//! Taking turns: how the one stack thread shares itself among associations.
//!
//! A handle's packets and messages arrive in one `Command::Service` per batch (see
//! `shared::pending`). Messages join the association's outbox and go to usrsctp as it has
//! room (its send buffer bounds that). Packets join the association's [`Backlog`], and one
//! *turn* feeds about [`TURN_BYTES`] of them to usrsctp (deficit round robin by bytes: a turn
//! ends with the packet that reaches the quantum). An association with packets left after its
//! turn waits in the `heavy` queue and gets its next turn in round robin, at most
//! [`HEAVY_TURNS`] turns between two looks at the command channel.
//!
//! A `Service` after which the association's whole backlog fits in one turn is *light*: the
//! turn is taken at once. Any other only adds to the backlog and queues the association for a
//! turn (once). So a quiet association (a message, a packet now and then) is served as soon as
//! its command is read — after at most [`HEAVY_TURNS`] turns of busy ones, not after
//! everything the busy ones have queued — and busy associations get no extra turns by sending
//! more commands.
//!
//! Why bytes and not packets: with a quantum of 16 packets, a pair sending one 64-byte message
//! per millisecond among 200 pairs saturating the stack with 1 KiB messages needed more
//! packets per second than its round-robin share. Once its backlog passed one turn it stayed
//! in the heavy queue for good, and every one of its messages waited ~250–700 ms (seen in the
//! `fairness` bench as runs flipping from p50 1.4 ms to p50 250 ms). Counted in bytes, its
//! small packets fit in one turn and it stays light.

use std::collections::VecDeque;

use tracing::trace;

use super::Driver;
use crate::event::AssocId;
use crate::ffi;
use crate::shared::counters::{bump, COUNTERS};

/// Bytes of packets one turn feeds to usrsctp (the turn ends with the packet that reaches it).
pub(super) const TURN_BYTES: usize = 16 * 1024;
/// Turns of busy associations between two looks at the command channel.
pub(super) const HEAVY_TURNS: usize = 8;

/// The associations with packets left after their turn, oldest first (each at most once:
/// `Entry::waiting_turn`).
#[derive(Default)]
pub(super) struct Heavy(VecDeque<AssocId>);

impl Heavy {
    pub(super) fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// One association's packets from the peer that usrsctp has not been fed yet.
#[derive(Default)]
pub(super) struct Backlog {
    packets: VecDeque<Vec<u8>>,
    bytes: usize,
}

impl Backlog {
    pub(super) fn extend(&mut self, packets: impl Iterator<Item = Vec<u8>>) {
        for p in packets {
            self.bytes += p.len();
            self.packets.push_back(p);
        }
    }

    pub(super) fn is_empty(&self) -> bool {
        self.packets.is_empty()
    }

    pub(super) fn len(&self) -> usize {
        self.packets.len()
    }

    /// Whether all of it fits in one turn.
    fn fits_one_turn(&self) -> bool {
        self.bytes <= TURN_BYTES
    }

    /// The next packet of a turn that has fed `fed` bytes so far, if the turn goes on.
    fn next(&mut self, fed: &mut usize) -> Option<Vec<u8>> {
        if *fed >= TURN_BYTES {
            return None;
        }
        let p = self.packets.pop_front()?;
        self.bytes -= p.len();
        *fed += p.len();
        Some(p)
    }
}

impl Driver {
    /// Serves `Command::Service`: takes everything the handle queued; the messages join the
    /// outbox and go to usrsctp as it has room, the packets join the backlog. If the whole
    /// backlog fits in one turn, the turn is taken now; otherwise the association queues for
    /// one.
    pub(super) fn service(&mut self, id: AssocId) {
        let mut batch = std::mem::take(&mut self.batch);
        match self.entries.get_mut(&id) {
            Some(e) => {
                e.shared.pending.take(&mut batch);
                e.backlog.extend(batch.inputs.drain(..));
                // Light: everything waiting fits in one turn.
                let light = e.backlog.fits_one_turn();
                // With messages already queued, usrsctp's buffer was full at the last try;
                // its upcall flushes once a SACK frees room.
                let try_send = e.outbox.is_empty() && !batch.sends.is_empty();
                if !batch.sends.is_empty() {
                    self.timers.note_activity();
                }
                e.outbox.append(&mut batch.sends);
                if try_send {
                    self.flush(id);
                }
                if light {
                    self.turn(id);
                } else {
                    self.wait_turn(id);
                }
            }
            // It ended; the end sealed its queue, so only packets can have come since.
            None => super::send::fail_unrouted(id),
        }
        debug_assert!(batch.is_empty());
        self.batch = batch;
    }

    /// One turn: feeds about [`TURN_BYTES`] of the backlog; with more left, the association
    /// queues for another.
    fn turn(&mut self, id: AssocId) {
        let mut fed = 0;
        loop {
            let Some(e) = self.entries.get_mut(&id) else {
                return;
            };
            let Some(mut packet) = e.backlog.next(&mut fed) else {
                break;
            };
            if let Some(inner) = e.inner_port {
                crate::packet::ports::to_inner(&mut packet, e.shared.config.local_port, inner);
            }
            // The peer's ABORT makes usrsctp report every message it holds, right inside this
            // conninput: make room for the reports first.
            let chunks = crate::packet::chunks(&packet);
            if chunks.abort {
                e.make_room_for_reports(id);
            }
            if !chunks.heartbeat_only {
                self.timers.note_activity();
            }
            bump(&COUNTERS.packets_in);
            trace!(assoc = %id, len = packet.len(), "input");
            ffi::conninput(ffi::ConnAddr::of(id, e.inner_port), &packet);
            // usrsctp copied it: the buffer carries a packet or a message out next.
            crate::shared::recycle::give(packet);
            // What the packet made readable or writable (a message, a SACK) is served now.
            self.serve_upcalls();
        }
        self.wait_turn(id);
    }

    /// With packets in its backlog, the association queues for a turn (once).
    fn wait_turn(&mut self, id: AssocId) {
        if let Some(e) = self.entries.get_mut(&id) {
            if !e.backlog.is_empty() && !e.waiting_turn {
                e.waiting_turn = true;
                self.heavy.0.push_back(id);
            }
        }
    }

    /// Up to [`HEAVY_TURNS`] turns of associations waiting in the heavy queue.
    pub(super) fn heavy_turns(&mut self) {
        for _ in 0..HEAVY_TURNS {
            let Some(id) = self.heavy.0.pop_front() else {
                return;
            };
            if let Some(e) = self.entries.get_mut(&id) {
                e.waiting_turn = false;
                self.turn(id);
                crate::shared::mailbox::wake_deferred(false);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_turn_feeds_whole_packets_up_to_the_byte_quantum() {
        let mut b = Backlog::default();
        b.extend((0..40).map(|_| vec![0u8; 1200]));
        let mut fed = 0;
        let mut n = 0;
        while b.next(&mut fed).is_some() {
            n += 1;
        }
        // 13 packets make 15,600 bytes; the 14th reaches the quantum and ends the turn.
        assert_eq!(n, 14);
        assert_eq!(b.len(), 26);
        assert_eq!(b.bytes, 26 * 1200);
        assert!(!b.fits_one_turn());
    }

    #[test]
    fn many_small_packets_fit_one_turn_where_a_few_large_ones_do_not() {
        // The quiet pair of the fairness bench: 100 SACKs and 64-byte messages in a row are
        // still one turn; 16 full-size packets are not.
        let mut quiet = Backlog::default();
        quiet.extend((0..100).map(|_| vec![0u8; 100]));
        assert!(quiet.fits_one_turn());
        let mut fed = 0;
        let mut n = 0;
        while quiet.next(&mut fed).is_some() {
            n += 1;
        }
        assert_eq!(n, 100);
        assert!(quiet.is_empty());

        let mut busy = Backlog::default();
        busy.extend((0..16).map(|_| vec![0u8; 1200]));
        assert!(!busy.fits_one_turn());
    }
}
