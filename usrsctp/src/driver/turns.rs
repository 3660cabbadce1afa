//! Taking turns: how the one stack thread shares itself among associations.
//!
//! A handle's packets and messages arrive in one `Command::Service` per batch (see
//! `shared::pending`). Messages join the association's outbox and go to usrsctp as it has
//! room (its send buffer bounds that). Packets join the association's `backlog`, and one
//! *turn* feeds at most [`INPUT_QUANTUM`] of them to usrsctp. An association with packets left
//! after its turn waits in the `heavy` queue and gets its next turn in round robin, at most
//! [`HEAVY_TURNS`] turns between two looks at the command channel.
//!
//! A `Service` whose association has nothing waiting and whose packets fit in one turn is
//! *light*: its turn is taken at once. Any other only adds to the backlog and queues the
//! association for a turn (once). So a quiet association (a message, a packet now and then) is
//! served as soon as its command is read — after at most [`HEAVY_TURNS`] turns of busy ones,
//! not after everything the busy ones have queued — and busy associations do not get extra
//! turns by sending more commands.

use std::collections::VecDeque;

use tracing::trace;

use super::Driver;
use crate::event::AssocId;
use crate::ffi;
use crate::shared::counters::{bump, COUNTERS};

/// Packets one turn feeds to usrsctp.
pub(super) const INPUT_QUANTUM: usize = 16;
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

impl Driver {
    /// Serves `Command::Service`: takes everything the handle queued; the messages join the
    /// outbox and go to usrsctp as it has room, the packets join the backlog. An association
    /// not already waiting for a turn gets one now.
    pub(super) fn service(&mut self, id: AssocId) {
        let mut batch = std::mem::take(&mut self.batch);
        match self.entries.get_mut(&id) {
            Some(e) => {
                e.shared.pending.take(&mut batch);
                // Light: nothing was waiting and the batch fits in one turn.
                let light =
                    e.backlog.is_empty() && !e.waiting_turn && batch.inputs.len() <= INPUT_QUANTUM;
                e.backlog.extend(batch.inputs.drain(..));
                // With messages already queued, usrsctp's buffer was full at the last try;
                // its upcall flushes once a SACK frees room.
                let try_send = e.outbox.is_empty() && !batch.sends.is_empty();
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
            // It ended after `send` accepted these messages: report them to the owner, whose
            // route lives as long as the handle (see `AssocShared::release`).
            None => super::send::fail_unrouted(id, &mut batch),
        }
        debug_assert!(batch.is_empty());
        self.batch = batch;
    }

    /// One turn: feeds up to [`INPUT_QUANTUM`] packets of the backlog; with more left, the
    /// association queues for another.
    fn turn(&mut self, id: AssocId) {
        for _ in 0..INPUT_QUANTUM {
            let Some(e) = self.entries.get_mut(&id) else {
                return;
            };
            let Some(packet) = e.backlog.pop_front() else {
                break;
            };
            // The peer's ABORT makes usrsctp report every message it holds, right inside this
            // conninput: make room for the reports first.
            if crate::packet::has_chunk(&packet, crate::packet::CHUNK_ABORT) {
                e.make_room_for_reports(id);
            }
            bump(&COUNTERS.packets_in);
            trace!(assoc = %id, len = packet.len(), "input");
            ffi::conninput(id, &packet);
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
            }
        }
    }
}
