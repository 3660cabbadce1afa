//! Work a handle leaves for the stack thread: packets to feed and messages to send, queued per
//! association and picked up in one go.
//!
//! `Association::input` and `Association::send` do not send one command per packet or
//! message. They append to the association's [`Pending`] queue, and only the call that finds
//! no pickup scheduled sends a `Command::Service` for the association (the empty → scheduled
//! edge). The stack thread serves that command by taking everything queued at once. So:
//! - the command channel holds at most one `Service` per association, whatever its backlog:
//!   a message on a quiet association waits behind one turn of each busy association, not
//!   behind their megabytes of queued data (the head-of-line blocking of one shared FIFO);
//! - a burst of sends or packets costs one command and at most one wake-up of the stack
//!   thread;
//! - the memory waiting here is bounded per association by its send high-water mark (sends)
//!   and by what its owner feeds (packets), not by a global queue.
//!
//! The flag protocol: the stack clears `scheduled` *before* it takes the queue; a producer
//! pushes *before* it sets `scheduled`. Whatever a producer pushed is then either taken by a
//! pickup that started after its push, or its `swap` finds the flag cleared and schedules a
//! new pickup. A pickup may find the queue empty (a producer pushed before the take and
//! scheduled after the clear); that costs one empty command, never a lost item.
//!
//! The end: the stack thread *seals* the queue as it takes it for the last time
//! ([`Pending::seal`]), under the same lock a push takes. A `send` that pushed before the seal
//! is reported by the end, before `Closed`; one that comes after is refused (the message comes
//! back, and `send` returns `Error::Closed`). So `Closed` stays an association's last event even
//! for a `send` racing with the end.
//!
//! Lock order: `queue` is a leaf lock. It is held only to push or to swap the vectors, never
//! across a call into usrsctp, a channel send or another lock.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, PoisonError};

use super::command::Outgoing;

/// What waits for the stack thread, in arrival order per kind.
#[derive(Default)]
pub(crate) struct Batch {
    /// Packets from the peer, validated by `Association::input`.
    pub(crate) inputs: Vec<Vec<u8>>,
    /// Messages accepted by `Association::send`.
    pub(crate) sends: VecDeque<Outgoing>,
}

impl Batch {
    pub(crate) fn is_empty(&self) -> bool {
        self.inputs.is_empty() && self.sends.is_empty()
    }
}

/// The queued work, and whether the association has ended (sealed: no more sends).
#[derive(Default)]
struct Queue {
    batch: Batch,
    sealed: bool,
}

/// The per-association queue between the handle and the stack thread.
#[derive(Default)]
pub(crate) struct Pending {
    queue: Mutex<Queue>,
    /// A `Service` command is in the channel (or being served) and will take what is queued.
    scheduled: AtomicBool,
}

impl Pending {
    fn lock(&self) -> std::sync::MutexGuard<'_, Queue> {
        self.queue.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Producer side: queues a packet. True if the caller must send `Command::Service`. (After
    /// the seal the packet is queued all the same, and the stack thread drops it, counted.)
    pub(crate) fn push_input(&self, packet: Vec<u8>) -> bool {
        self.lock().batch.inputs.push(packet);
        !self.scheduled.swap(true, Ordering::AcqRel)
    }

    /// Producer side: queues a message. `Ok(true)` if the caller must send
    /// `Command::Service`; `Err` with the message if the queue is sealed (the association has
    /// ended: the message was not accepted).
    pub(crate) fn push_send(&self, msg: Outgoing) -> Result<bool, Outgoing> {
        {
            let mut q = self.lock();
            if q.sealed {
                return Err(msg);
            }
            q.batch.sends.push_back(msg);
        }
        Ok(!self.scheduled.swap(true, Ordering::AcqRel))
    }

    /// Producer side, when the `Service` command could not be sent (the stack is gone): takes
    /// back the message with send context `context`, if it is still queued, so the caller can
    /// return an error for it instead of leaving it without an outcome.
    pub(crate) fn withdraw_send(&self, context: u32) -> Option<Outgoing> {
        let mut q = self.lock();
        let at = q
            .batch
            .sends
            .iter()
            .rposition(|m| m.info.context == context)?;
        q.batch.sends.remove(at)
    }

    /// Stack side: takes everything queued into `into` (which must be empty; its capacity is
    /// given to the queue, so neither side allocates in the steady state).
    pub(crate) fn take(&self, into: &mut Batch) {
        debug_assert!(into.is_empty());
        // Clear before taking: see the module docs.
        self.scheduled.store(false, Ordering::Release);
        let mut q = self.lock();
        std::mem::swap(&mut q.batch.inputs, &mut into.inputs);
        std::mem::swap(&mut q.batch.sends, &mut into.sends);
    }

    /// Stack side, when the association ends: takes everything queued (as [`Pending::take`])
    /// and refuses every later `push_send`, in one step under the lock.
    pub(crate) fn seal(&self, into: &mut Batch) {
        debug_assert!(into.is_empty());
        self.scheduled.store(false, Ordering::Release);
        let mut q = self.lock();
        q.sealed = true;
        std::mem::swap(&mut q.batch.inputs, &mut into.inputs);
        std::mem::swap(&mut q.batch.sends, &mut into.sends);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn msg(context: u32) -> Outgoing {
        Outgoing::for_test(context)
    }

    #[test]
    fn only_the_first_push_after_a_pickup_schedules_one() {
        let p = Pending::default();
        assert_eq!(p.push_send(msg(1)).ok(), Some(true), "first push schedules");
        assert_eq!(p.push_send(msg(2)).ok(), Some(false), "already scheduled");
        assert!(!p.push_input(vec![0; 12]));
        let mut b = Batch::default();
        p.take(&mut b);
        assert_eq!(
            b.sends.iter().map(|m| m.info.context).collect::<Vec<_>>(),
            [1, 2]
        );
        assert_eq!(b.inputs.len(), 1);
        assert!(p.push_input(vec![0; 12]), "the pickup cleared the flag");
        let mut c = Batch::default();
        p.take(&mut c);
        assert_eq!((c.inputs.len(), c.sends.len()), (1, 0));
    }

    #[test]
    fn after_the_seal_sends_are_refused_and_what_came_before_is_taken() {
        let p = Pending::default();
        assert!(p.push_send(msg(1)).is_ok());
        assert!(!p.push_input(vec![0; 12]), "scheduled by the send");
        let mut b = Batch::default();
        p.seal(&mut b);
        assert_eq!((b.sends.len(), b.inputs.len()), (1, 1));
        let refused = p.push_send(msg(2)).expect_err("sealed");
        assert_eq!(refused.info.context, 2, "the message comes back");
        // Packets still queue (the stack drops them, counted); nothing else was accepted.
        assert!(p.push_input(vec![0; 12]));
        let mut c = Batch::default();
        p.take(&mut c);
        assert_eq!((c.sends.len(), c.inputs.len()), (0, 1));
    }

    #[test]
    fn a_message_can_be_withdrawn_while_queued() {
        let p = Pending::default();
        assert!(p.push_send(msg(1)).is_ok());
        assert!(p.push_send(msg(2)).is_ok());
        assert_eq!(p.withdraw_send(1).map(|m| m.info.context), Some(1));
        assert!(p.withdraw_send(1).is_none(), "only once");
        let mut b = Batch::default();
        p.take(&mut b);
        assert_eq!(b.sends.len(), 1);
        assert!(p.withdraw_send(2).is_none(), "taken by the stack");
    }

    #[test]
    fn concurrent_producers_never_leave_work_without_a_scheduled_pickup() {
        // Two producers push while a consumer picks up whenever a schedule was signalled;
        // every item must be picked up, and every pickup must have been signalled.
        use std::sync::Arc;
        let p = Arc::new(Pending::default());
        let (tx, rx) = crossbeam_channel::unbounded::<()>();
        const PER: u32 = 20_000;
        let producers: Vec<_> = (0..2)
            .map(|t| {
                let (p, tx) = (p.clone(), tx.clone());
                std::thread::spawn(move || {
                    for i in 0..PER {
                        if matches!(p.push_send(msg(t * PER + i)), Ok(true)) {
                            tx.send(()).expect("consumer alive");
                        }
                    }
                })
            })
            .collect();
        drop(tx);
        let mut seen = 0u32;
        let mut batch = Batch::default();
        while rx.recv().is_ok() {
            p.take(&mut batch);
            seen += batch.sends.len() as u32;
            batch.sends.clear();
        }
        for t in producers {
            t.join().expect("producer");
        }
        assert_eq!(seen, 2 * PER, "an item was queued with no pickup scheduled");
    }
}
