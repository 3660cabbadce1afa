//! The life of an association on the stack thread — open, graceful close, abort, end — and of
//! usrsctp itself: the shutdown teardown and `usrsctp_finish`.

use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use crossbeam_channel::Sender;
use tracing::debug;

use super::receive::Reassembly;
use super::send::{self, failed, Outbox, PendingResets};
use super::timers::TimerClock;
use super::{Driver, Entry};
use crate::callbacks;
use crate::error::Error;
use crate::event::{AssocId, CloseReason, Event, SendFailure};
use crate::ffi::{self, socket::RawSocket, ConnAddr};
use crate::shared::assoc::{AssocShared, Release};
use crate::shared::command::Command;
use crate::shared::counters::{bump, COUNTERS};
use crate::shared::mailbox::MailboxSender;
use crate::shared::port_owners;
use crate::shared::routes;

/// Set once `usrsctp_finish` gave up: usrsctp cannot be initialised again in this process.
pub(crate) static FINISH_FAILED: AtomicBool = AtomicBool::new(false);

/// A graceful shutdown under way (`Stack::shutdown_graceful`): every association is being
/// closed; the stack stops once none is left or at `deadline`, whichever comes first.
pub(super) struct Drain {
    deadline: Instant,
    /// Answered once usrsctp is finished.
    replies: Vec<Sender<()>>,
    /// The associations this drain closed: their end, graceful or aborted, is reported as
    /// `StackShutdown` (those ending for a reason of their own keep it).
    closing: HashSet<AssocId>,
}

/// Calls `usrsctp_finish` until it succeeds (it fails while associations are still being torn
/// down by usrsctp's timers, which keep running here meanwhile). Returns false if it never did
/// within `limit`.
pub(super) fn finish_usrsctp(timers: &mut TimerClock, limit: Duration) -> bool {
    let start = Instant::now();
    timers.fine();
    loop {
        if ffi::finish() {
            return true;
        }
        if start.elapsed() > limit {
            return false;
        }
        std::thread::sleep(timers.due_in(Instant::now()));
        timers.advance();
    }
}

/// Tells the owner of `id` that its association could not be set up: `Closed { SetupFailed }`
/// (with usrsctp's errno), and forgets it like any ended association.
pub(super) fn setup_failed(id: AssocId, error: &Error) {
    let Some((shared, mailbox)) = routes::endpoints(id) else {
        return;
    };
    let (op, errno) = match error {
        Error::Usrsctp { op, errno, .. } => (*op, *errno),
        _ => ("association setup", crate::errno::Errno(libc::EINVAL)),
    };
    end_without_socket(
        id,
        &shared,
        &mailbox,
        CloseReason::SetupFailed { op, errno },
    );
    if shared.release(Release::Ended) {
        routes::remove(id);
    }
}

/// Ends association `id`, which has no socket here (its setup failed or was refused, the stack
/// stopped before setting it up, or its record was lost): what its handle queued is reported
/// and later sends are refused (`send::fail_queued`), then `Closed { reason }` is posted, as
/// `Driver::end` does for one with a socket.
pub(super) fn end_without_socket(
    id: AssocId,
    shared: &AssocShared,
    mailbox: &MailboxSender,
    reason: CloseReason,
) {
    send::fail_queued(id, shared, mailbox);
    shared.set_closed();
    mailbox.post_event(Event::Closed { assoc: id, reason });
}

impl Driver {
    /// Creates the socket of association `id`, whose route the worker registered, and starts
    /// the handshake.
    pub(super) fn open(&mut self, id: AssocId) -> Result<(), Error> {
        let (shared, mailbox) = routes::endpoints(id).ok_or(Error::Closed { assoc: id })?;
        if self.drain.is_some() {
            // `associate` raced with a graceful shutdown: refused, as `shutdown` would.
            end_without_socket(id, &shared, &mailbox, CloseReason::StackShutdown);
            if shared.release(Release::Ended) {
                routes::remove(id);
            }
            return Ok(());
        }
        let cfg = &shared.config;
        // The address is claimed before the socket exists and given back on every failure.
        let inner_port = self.ports.take();
        let addr = ConnAddr::of(id, inner_port);
        match inner_port {
            Some(port) => port_owners::set(port, id.0),
            None => ffi::register_address(addr),
        }
        let raw = match RawSocket::open(id, addr, callbacks::on_upcall) {
            Ok(raw) => raw,
            Err(e) => {
                self.free_address(id, inner_port);
                return Err(e);
            }
        };
        let setup = raw
            .configure(cfg, self.config.heartbeat_interval_ms)
            .and_then(|()| {
                raw.bind(inner_port.unwrap_or(cfg.local_port))?;
                raw.connect(cfg.remote_port)
            });
        if let Err(e) = setup {
            raw.close();
            self.free_address(id, inner_port);
            return Err(e);
        }
        let inbound = Reassembly::new(shared.config.max_message_size);
        bump(&COUNTERS.associations_opened);
        debug!(assoc = %id, local_port = cfg.local_port, remote_port = cfg.remote_port, ?inner_port, "association connecting");
        self.entries.insert(
            id,
            Entry {
                raw,
                shared,
                mailbox,
                outbox: Outbox::default(),
                inbound,
                connected: false,
                close_deadline: None,
                shutdown_sent: false,
                resets: PendingResets::default(),
                inner_port,
                adds: (0, 0),
                outputs_at_last_scan: 0,
                aborting: None,
                room_for_reports: false,
                backlog: Default::default(),
                waiting_turn: false,
            },
        );
        Ok(())
    }

    /// Gives back what `open` took for `id`'s address, once its socket is closed (or was
    /// never made): its own address leaves usrsctp, its inner port loses its owner and goes
    /// back to the pool.
    fn free_address(&mut self, id: AssocId, inner_port: Option<u16>) {
        match inner_port {
            Some(port) => {
                port_owners::clear(port, id.0);
                self.ports.put(port);
            }
            None => ffi::deregister_address(ConnAddr::Own(id)),
        }
    }

    /// Starts a graceful close: flush, then SHUTDOWN; abort if it takes too long.
    pub(super) fn close(&mut self, id: AssocId) {
        let Some(e) = self.entries.get_mut(&id) else {
            return;
        };
        if e.close_deadline.is_some() {
            return;
        }
        if !e.connected {
            // Nothing to shut down gracefully yet.
            self.abort(id, CloseReason::AbortedLocally, true);
            return;
        }
        // The timeout is validated (at most an hour); a clock that cannot add it gets no
        // deadline rather than a panic.
        e.close_deadline = Instant::now().checked_add(e.shared.config.close_timeout);
        self.timed.insert(id);
        debug!(assoc = %id, "graceful close");
        self.flush(id);
    }

    /// Starts a graceful shutdown: every association is closed as `close` does (its queue goes
    /// out first, then SHUTDOWN), with the drain's deadline instead of its own; one the owner
    /// is already closing keeps its course. `serve` stops once none is left or at `deadline`.
    pub(super) fn start_drain(&mut self, deadline: Instant, reply: Sender<()>) {
        if let Some(d) = &mut self.drain {
            // Only one `Stack::shutdown_graceful` sends this; a second one would shorten it.
            d.deadline = d.deadline.min(deadline);
            d.replies.push(reply);
            return;
        }
        self.drain = Some(Drain {
            deadline,
            replies: vec![reply],
            closing: HashSet::new(),
        });
        let ids: Vec<AssocId> = self.entries.keys().copied().collect();
        debug!(associations = ids.len(), ?deadline, "graceful shutdown");
        for id in ids {
            // What the handle queued before the call goes first.
            self.service(id);
            let Some(e) = self.entries.get_mut(&id) else {
                continue;
            };
            // No new sends from the owner; those already on their way are still queued.
            e.shared.set_closing();
            if e.close_deadline.is_some() {
                continue;
            }
            if !e.connected {
                // Nothing to shut down gracefully yet.
                self.abort(id, CloseReason::StackShutdown, true);
                continue;
            }
            // usrsctp takes the whole queue now. The peer may be shutting down too (both ends
            // of a pair on this stack, or a peer stopping at the same time): once its SHUTDOWN
            // arrives, usrsctp refuses new data, but still delivers all it holds. Queued here,
            // those messages would fail. The queue is already in memory; the limit only moves.
            let queued = e.shared.buffered();
            if queued > 0 {
                if let Err(err) = e.raw.grow_send_buffer(queued.saturating_add(64 * 1024)) {
                    debug!(assoc = %id, error = %err, "could not grow the send buffer for the drain");
                }
            }
            e.close_deadline = Some(deadline);
            self.timed.insert(id);
            if let Some(d) = &mut self.drain {
                d.closing.insert(id);
            }
            self.flush(id);
        }
    }

    /// True when a graceful shutdown is done waiting: no association is left, or its deadline
    /// passed (the teardown then aborts the rest).
    pub(super) fn drain_over(&self) -> bool {
        self.drain
            .as_ref()
            .is_some_and(|d| self.entries.is_empty() || Instant::now() >= d.deadline)
    }

    /// usrsctp is finished: tells whoever waits on a graceful shutdown.
    pub(super) fn drain_ended(&mut self) {
        for reply in self.drain.take().into_iter().flat_map(|d| d.replies) {
            let _ = reply.send(());
        }
    }

    /// Aborts, ending with `reason`. Every message accepted for it gets its outcome: usrsctp
    /// reports what it still holds (SEND_FAILED, read here before the socket closes), and
    /// `end` reports what never reached usrsctp. Without `notify` (the owner is gone) nothing
    /// is read or reported.
    pub(super) fn abort(&mut self, id: AssocId, reason: CloseReason, notify: bool) {
        let Some(e) = self.entries.get_mut(&id) else {
            return;
        };
        if notify && e.connected {
            e.aborting = Some(reason);
            e.make_room_for_reports(id);
            match e.raw.abort_association() {
                // usrsctp ended it: the COMM_LOST read here calls `end`.
                Ok(()) => self.drain_aborted(id),
                Err(errno) => {
                    debug!(assoc = %id, %errno, "SCTP_ABORT refused; closing with linger 0")
                }
            }
        }
        if let Some(e) = self.entries.get(&id) {
            if let Err(err) = e.raw.set_abortive_close() {
                debug!(assoc = %id, error = %err, "SO_LINGER failed; closing anyway");
            }
            self.end(id, reason, notify);
        }
    }

    /// Ends an association: reports queued messages as failed and `Closed`, closes the socket,
    /// then forgets the id. Callbacks for it after this are counted and dropped.
    pub(super) fn end(&mut self, id: AssocId, reason: CloseReason, notify: bool) {
        let Some(mut e) = self.entries.remove(&id) else {
            return;
        };
        // What the handle queued and the stack has not taken yet ends here too; sealed, so a
        // `send` from now on is refused rather than reported after `Closed`.
        let mut batch = std::mem::take(&mut self.batch);
        e.shared.pending.seal(&mut batch);
        COUNTERS.inputs_dropped.fetch_add(
            (batch.inputs.len() + e.backlog.len()) as u64,
            Ordering::Relaxed,
        );
        batch.inputs.clear();
        e.outbox.append(&mut batch.sends);
        self.batch = batch;
        // Closed by a graceful shutdown: the owner learns that, however the close ended.
        let reason = match (&self.drain, reason) {
            (Some(d), CloseReason::Graceful | CloseReason::AbortedLocally)
                if d.closing.contains(&id) =>
            {
                CloseReason::StackShutdown
            }
            _ => reason,
        };
        for msg in e.outbox.take_all() {
            e.shared.dequeued(msg.data.len());
            if notify {
                e.mailbox
                    .post_event(failed(id, &msg, SendFailure::AssociationClosed));
            }
        }
        // Close while the association is not yet marked closed, so an ABORT usrsctp outputs
        // now still reaches the owner's wire; callbacks after this are late and dropped.
        e.raw.close();
        self.free_address(id, e.inner_port);
        e.shared.set_closed();
        if notify {
            e.mailbox.post_event(Event::Closed { assoc: id, reason });
        }
        // The route stays while the handle lives (a `send` that raced with the end is reported
        // through it); whichever of the two ends last removes it.
        if e.shared.release(Release::Ended) {
            routes::remove(id);
        }
        bump(&COUNTERS.associations_closed);
        debug!(assoc = %id, ?reason, "association closed");
    }

    /// Shutdown (or a failure): every association ends with `Closed { reason }`; commands that
    /// raced with the shutdown and wait for an answer get one.
    pub(super) fn teardown(&mut self, reason: CloseReason) {
        let ids: Vec<AssocId> = self.entries.keys().copied().collect();
        for id in ids {
            self.abort(id, reason, true);
        }
        while let Ok(cmd) = self.rx.try_recv() {
            match cmd {
                // Never set up: its owner learns it like any other association.
                Command::Open { id } => {
                    if let Some((shared, mailbox)) = routes::endpoints(id) {
                        end_without_socket(id, &shared, &mailbox, reason);
                    }
                }
                Command::Shutdown { reply: Some(reply) } => {
                    let _ = reply.send(());
                }
                // Sent by a handle after its association ended here.
                Command::Service { id } => send::fail_unrouted(id),
                _ => {}
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::MessageId;
    use crate::shared::command::Outgoing;

    #[test]
    fn a_failed_setup_reports_the_queued_messages_before_closed_and_refuses_later_ones() {
        // A message sent before the stack thread got to the association's setup.
        let id = AssocId(u64::MAX - 21);
        let (shared, mb, _stack_rx) = routes::insert_for_test(id, 97);
        shared.admit(4).expect("admitted");
        assert!(shared.pending.push_send(Outgoing::for_test(1)).is_ok());

        setup_failed(id, &Error::Closed { assoc: id });

        match mb.try_recv() {
            Some(Event::SendFailed {
                assoc,
                message,
                reason: SendFailure::AssociationClosed,
                ..
            }) => assert_eq!((assoc, message), (id, MessageId(1))),
            other => panic!("expected the queued message reported first, got {other:?}"),
        }
        assert!(matches!(
            mb.try_recv(),
            Some(Event::Closed {
                reason: CloseReason::SetupFailed { .. },
                ..
            })
        ));
        assert_eq!(mb.try_recv(), None);
        assert_eq!(shared.buffered(), 0, "its bytes left the send queue");
        assert!(
            shared.pending.push_send(Outgoing::for_test(2)).is_err(),
            "sealed"
        );
        // The handle still holds the route (it lets go last).
        assert!(routes::remove(id));
    }
}
