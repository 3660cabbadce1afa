//! Sending: the messages usrsctp has not taken yet, handed over as its buffer frees space, and
//! the outgoing stream resets waiting for that queue to drain.
//!
//! Outcome accounting lives in [`Outbox`]: every message a worker's `send` accepted is either
//! taken by usrsctp (whose SEND_FAILED notifications then report it if it is abandoned) or
//! reported here as `SendFailed` when usrsctp refuses it or the association ends first.

use std::collections::VecDeque;
use std::sync::atomic::Ordering::Relaxed;

use tracing::{debug, trace};

use super::Driver;
use crate::error::Error;
use crate::event::{
    AssocId, CloseReason, Event, MessageId, ResetDirection, ResetOutcome, SendFailure,
};
use crate::shared::assoc::AssocShared;
use crate::shared::command::Outgoing;
use crate::shared::counters::COUNTERS;
use crate::shared::mailbox::MailboxSender;
use crate::shared::pending::Batch;
use crate::shared::routes;

/// The queue of accepted messages usrsctp has not taken yet.
#[derive(Default)]
pub(super) struct Outbox {
    queue: VecDeque<Outgoing>,
    /// Messages reported failed whose last part usrsctp has not reported yet (see
    /// [`Outbox::first_failure`]), oldest first, at most [`OPEN_FAILURES`].
    open_failures: Vec<u32>,
}

/// The most messages [`Outbox::first_failure`] remembers as partly reported. usrsctp has one
/// message partly moved into its queues per stream at most (one per association without
/// I-DATA); a report it dropped (receive buffer full) would otherwise leave an entry for good.
const OPEN_FAILURES: usize = 64;

/// The `SendFailed` event for `msg`.
pub(super) fn failed(assoc: AssocId, msg: &Outgoing, reason: SendFailure) -> Event {
    Event::SendFailed {
        assoc,
        message: MessageId(msg.info.context),
        stream: msg.info.stream,
        ppid: msg.info.ppid,
        reason,
    }
}

/// Ends what the handle of `id` queued, once its association has ended: the queue is sealed
/// (a later `send` is refused with `Error::Closed`), its packets are dropped (counted) and its
/// messages reported failed. Callers post `Closed` after this, so it stays the last event.
pub(super) fn fail_queued(id: AssocId, shared: &AssocShared, mailbox: &MailboxSender) {
    let mut batch = Batch::default();
    shared.pending.seal(&mut batch);
    COUNTERS
        .inputs_dropped
        .fetch_add(batch.inputs.len() as u64, Relaxed);
    for msg in batch.sends {
        shared.dequeued(msg.data.len());
        mailbox.post_event(failed(id, &msg, SendFailure::AssociationClosed));
    }
}

/// Serves a `Service` that reached the stack thread after the association ended (a handle
/// fed a packet meanwhile): as [`fail_queued`]. Without a route (the worker was dropped)
/// nobody is left to tell.
pub(super) fn fail_unrouted(id: AssocId) {
    if let Some((shared, mailbox)) = routes::endpoints(id) {
        fail_queued(id, &shared, &mailbox);
    }
}

impl Outbox {
    #[cfg(test)]
    pub(super) fn push(&mut self, msg: Outgoing) {
        self.queue.push_back(msg);
    }

    /// Appends `more` (leaving it empty), in order.
    pub(super) fn append(&mut self, more: &mut VecDeque<Outgoing>) {
        if self.queue.is_empty() {
            // Swap rather than move element by element: the common case of a burst.
            std::mem::swap(&mut self.queue, more);
        } else {
            self.queue.append(more);
        }
    }

    pub(super) fn front(&self) -> Option<&Outgoing> {
        self.queue.front()
    }

    pub(super) fn pop_front(&mut self) -> Option<Outgoing> {
        self.queue.pop_front()
    }

    pub(super) fn is_empty(&self) -> bool {
        self.queue.is_empty()
    }

    pub(super) fn len(&self) -> usize {
        self.queue.len()
    }

    /// Empties the queue: the messages the association can no longer send, oldest first.
    pub(super) fn take_all(&mut self) -> impl Iterator<Item = Outgoing> + '_ {
        self.queue.drain(..)
    }

    /// True the first time usrsctp reports the message with send context `context` as failed;
    /// `last`: this report covers the message's last part (its SCTP_DATA_LAST_FRAG flag).
    ///
    /// usrsctp reports a message once per chunk in its queues, and a message it had started
    /// to move into them once more for its unsent tail (flagged as the last part), after the
    /// unsent messages of every lower stream. So a message stays open from its first report
    /// to the one with its last part, and reports of an open message are not new. A message
    /// has one outcome.
    pub(super) fn first_failure(&mut self, context: u32, last: bool) -> bool {
        if let Some(at) = self.open_failures.iter().position(|&c| c == context) {
            if last {
                self.open_failures.remove(at);
            }
            return false;
        }
        if !last {
            if self.open_failures.len() == OPEN_FAILURES {
                self.open_failures.remove(0);
            }
            self.open_failures.push(context);
        }
        true
    }
}

/// Outgoing stream resets not yet accepted by usrsctp.
#[derive(Default)]
pub(super) struct PendingResets {
    streams: Vec<u16>,
    all: bool,
}

impl PendingResets {
    /// Adds a request; an empty list means every stream.
    pub(super) fn add(&mut self, streams: Vec<u16>) {
        if streams.is_empty() {
            self.all = true;
        } else {
            self.streams.extend(streams);
        }
    }

    pub(super) fn is_empty(&self) -> bool {
        self.streams.is_empty() && !self.all
    }

    /// The request to make: the streams, or an empty list for all of them.
    fn request(&self) -> Vec<u16> {
        if self.all {
            Vec::new()
        } else {
            self.streams.clone()
        }
    }

    fn clear(&mut self) {
        self.streams.clear();
        self.all = false;
    }
}

impl Driver {
    /// Hands queued messages to usrsctp until its buffer is full.
    pub(super) fn flush(&mut self, id: AssocId) {
        let Some(e) = self.entries.get_mut(&id) else {
            return;
        };
        if !e.connected {
            return;
        }
        while let Some(msg) = e.outbox.front() {
            match e.raw.sendv(&msg.data, &msg.info) {
                Ok(()) => {
                    let len = msg.data.len();
                    // usrsctp copied it: the buffer carries a packet or a message out next.
                    if let Some(sent) = e.outbox.pop_front() {
                        crate::shared::recycle::give(sent.data);
                    }
                    e.shared.messages_sent.fetch_add(1, Relaxed);
                    e.shared.bytes_sent.fetch_add(len as u64, Relaxed);
                    if let Some(buffered) = e.shared.dequeued(len) {
                        e.post(Event::BufferedAmountLow {
                            assoc: id,
                            buffered,
                        });
                    }
                }
                Err(errno) if errno.is_would_block() => break,
                Err(errno) => {
                    let Some(msg) = e.outbox.pop_front() else {
                        break;
                    };
                    debug!(assoc = %id, %errno, "usrsctp_sendv refused a message");
                    if let Some(buffered) = e.shared.dequeued(msg.data.len()) {
                        e.post(Event::BufferedAmountLow {
                            assoc: id,
                            buffered,
                        });
                    }
                    e.post(failed(id, &msg, SendFailure::Rejected(errno)));
                }
            }
        }
        super::stats::refresh_if_old(id, e);
        if e.outbox.is_empty() && e.close_deadline.is_some() && !e.shutdown_sent {
            e.shutdown_sent = true;
            if let Err(err) = e.raw.shutdown_write() {
                debug!(assoc = %id, error = %err, "shutdown failed; aborting");
                self.abort(id, CloseReason::AbortedLocally, true);
            }
        }
    }

    /// Asks usrsctp for the pending stream resets once the queue ahead of them has drained.
    pub(super) fn try_resets(&mut self, id: AssocId) {
        let Some(e) = self.entries.get_mut(&id) else {
            return;
        };
        if !e.connected || !e.outbox.is_empty() || e.resets.is_empty() {
            return;
        }
        let streams = e.resets.request();
        match e.raw.reset_streams(&streams) {
            Ok(()) => {
                trace!(assoc = %id, ?streams, "stream reset requested");
                e.resets.clear();
            }
            // A reset is already in flight, or the streams still have data: try again later.
            Err(Error::Usrsctp { errno, .. })
                if errno.is_would_block()
                    || errno.0 == libc::EALREADY
                    || errno.0 == libc::EBUSY => {}
            Err(err) => {
                debug!(assoc = %id, error = %err, "stream reset refused");
                e.resets.clear();
                e.post(Event::StreamsReset {
                    assoc: id,
                    direction: ResetDirection::Outgoing,
                    streams,
                    outcome: ResetOutcome::Failed,
                });
            }
        }
    }

    /// `Command::AddStreams`: turns the request into totals to reach (added to what an earlier
    /// request still waiting asks for, or to the counts now) and asks usrsctp for them.
    pub(super) fn add_streams(&mut self, id: AssocId, inbound: u16, outbound: u16, at_least: bool) {
        let Some(e) = self.entries.get_mut(&id) else {
            return;
        };
        super::stats::refresh(id, e, std::time::Instant::now());
        let status = e.shared.status();
        let now = (
            e.adds.0.max(status.inbound_streams),
            e.adds.1.max(status.outbound_streams),
        );
        e.adds = if at_least {
            (now.0.max(inbound), now.1.max(outbound))
        } else {
            (
                now.0.saturating_add(inbound),
                now.1.saturating_add(outbound),
            )
        };
        self.timed.insert(id);
        self.try_adds(id);
    }

    /// Asks usrsctp for the streams missing to the totals `add_streams` set, once the
    /// association is up and no other RFC 6525 request of ours is outstanding (EALREADY:
    /// `check_deadlines` and the next upcall try again). With nothing missing, or a request
    /// usrsctp refuses outright (past 65,535 streams, past our `inbound_streams`, a peer without
    /// RE-CONFIG), it says so at once with a `StreamsChanged` (performed, or failed).
    pub(super) fn try_adds(&mut self, id: AssocId) {
        let Some(e) = self.entries.get_mut(&id) else {
            return;
        };
        if !e.connected || e.adds == (0, 0) {
            return;
        }
        super::stats::refresh(id, e, std::time::Instant::now());
        let status = e.shared.status();
        let inbound = e.adds.0.saturating_sub(status.inbound_streams);
        let outbound = e.adds.1.saturating_sub(status.outbound_streams);
        let result = if (inbound, outbound) == (0, 0) {
            Ok(true)
        } else {
            e.raw.add_streams(inbound, outbound).map(|()| false)
        };
        let outcome = match result {
            Ok(false) => {
                trace!(assoc = %id, inbound, outbound, "streams requested");
                e.adds = (0, 0);
                return;
            }
            Ok(true) => ResetOutcome::Performed,
            Err(Error::Usrsctp { errno, .. })
                if errno.0 == libc::EALREADY || errno.0 == libc::EBUSY =>
            {
                return;
            }
            Err(err) => {
                debug!(assoc = %id, error = %err, "adding streams refused");
                ResetOutcome::Failed
            }
        };
        e.adds = (0, 0);
        e.post(Event::StreamsChanged {
            assoc: id,
            inbound: status.inbound_streams,
            outbound: e.shared.outbound_streams(),
            outcome,
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Reliability;
    use crate::ffi::socket::SendInfo;

    fn msg(context: u32, stream: u16) -> Outgoing {
        Outgoing {
            data: vec![7; 10],
            info: SendInfo {
                stream,
                ppid: 53,
                unordered: false,
                reliability: Reliability::Reliable,
                context,
            },
        }
    }

    #[test]
    fn the_outbox_keeps_order_and_gives_every_message_back_once() {
        let mut o = Outbox::default();
        for c in 1..=3 {
            o.push(msg(c, c as u16));
        }
        assert_eq!(o.len(), 3);
        assert_eq!(o.front().map(|m| m.info.context), Some(1));
        assert_eq!(o.pop_front().map(|m| m.info.context), Some(1));
        let rest: Vec<u32> = o.take_all().map(|m| m.info.context).collect();
        assert_eq!(rest, vec![2, 3]);
        assert!(o.is_empty());
        assert_eq!(o.take_all().count(), 0, "nothing is reported twice");
    }

    #[test]
    fn a_failure_reported_per_chunk_counts_once_per_message() {
        let mut o = Outbox::default();
        // Message 5 in three chunks (first, middle, last), then message 6 in one.
        assert!(o.first_failure(5, false));
        assert!(!o.first_failure(5, false), "middle chunk of message 5");
        assert!(!o.first_failure(5, true), "last chunk of message 5");
        assert!(o.first_failure(6, true));
        assert!(
            o.first_failure(5, true),
            "a later message with the same context after wrap"
        );
    }

    #[test]
    fn a_partly_moved_message_reported_again_after_other_streams_counts_once() {
        // usrsctp's order at an abort: the chunks of message 1 it holds (not its last), then
        // stream 0's unsent messages 2 and 3, then stream 1's unsent tail of message 1.
        let mut o = Outbox::default();
        assert!(o.first_failure(1, false));
        assert!(!o.first_failure(1, false));
        assert!(o.first_failure(2, true));
        assert!(o.first_failure(3, true));
        assert!(!o.first_failure(1, true), "the tail of message 1");
        assert!(o.open_failures.is_empty());
    }

    #[test]
    fn messages_whose_last_part_never_comes_are_forgotten_oldest_first() {
        let mut o = Outbox::default();
        for c in 0..OPEN_FAILURES as u32 + 10 {
            assert!(o.first_failure(c, false));
        }
        assert_eq!(o.open_failures.len(), OPEN_FAILURES);
        assert!(o.first_failure(0, true), "evicted: counted as new");
        assert!(!o.first_failure(OPEN_FAILURES as u32 + 9, true));
    }

    #[test]
    fn the_failure_event_names_the_message() {
        let e = failed(AssocId(9), &msg(42, 3), SendFailure::AssociationClosed);
        assert_eq!(
            e,
            Event::SendFailed {
                assoc: AssocId(9),
                message: MessageId(42),
                stream: 3,
                ppid: 53,
                reason: SendFailure::AssociationClosed,
            }
        );
    }

    #[test]
    fn resets_collect_streams_and_all_wins() {
        let mut r = PendingResets::default();
        assert!(r.is_empty());
        r.add(vec![1, 2]);
        r.add(vec![5]);
        assert_eq!(r.request(), vec![1, 2, 5]);
        r.add(Vec::new());
        assert_eq!(
            r.request(),
            Vec::<u16>::new(),
            "empty request = all streams"
        );
        r.clear();
        assert!(r.is_empty());
    }
}
