//! The per-thread worker: a mailbox plus a handle to the stack.

use std::cell::Cell;
use std::marker::PhantomData;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, RawFd};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use crate::association::Association;
use crate::config::AssociationConfig;
use crate::error::Error;
use crate::event::{AssocId, Event};
use crate::shared::assoc::AssocShared;
use crate::shared::command::Command;
use crate::shared::mailbox::{mailbox, Mailbox, MailboxSender};
use crate::shared::routes::{self, Route, WorkerId};
use crate::stack::Stack;

impl Stack {
    /// A new worker: a mailbox on which the associations it creates report their events.
    pub fn worker(&self) -> Result<Worker, Error> {
        if !self.is_running() {
            return Err(Error::StackShutdown);
        }
        Worker::new(self.clone())
    }
}

static NEXT_WORKER: AtomicU64 = AtomicU64::new(1);
static NEXT_ASSOC: AtomicU64 = AtomicU64::new(1);

/// One worker's view of the stack: the associations it creates deliver every event to its
/// mailbox, and it pulls them on its own thread.
///
/// Wait for events by blocking ([`recv`](Self::recv), [`recv_timeout`](Self::recv_timeout)),
/// by polling ([`try_recv`](Self::try_recv), [`drain`](Self::drain)), or through the eventfd
/// ([`AsRawFd`]) from an epoll / mio / tokio `AsyncFd` loop: it is readable exactly while the
/// mailbox is non-empty (it may rarely wake once with nothing to take).
///
/// A worker is `Send` (create it, then move it into the thread that runs it) but not `Sync`:
/// one thread drives it. Dropping it aborts all its associations at once and unregisters their
/// ids; packets and callbacks still in flight for them are dropped safely.
///
/// ```compile_fail
/// fn assert_sync<T: Sync>() {}
/// assert_sync::<usrsctp::Worker>();
/// ```
pub struct Worker {
    id: WorkerId,
    stack: Stack,
    mailbox: Mailbox,
    sender: MailboxSender,
    _not_sync: PhantomData<Cell<()>>,
}

impl std::fmt::Debug for Worker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Worker")
            .field("id", &self.id)
            .field("pending", &self.pending())
            .finish()
    }
}

impl Worker {
    pub(crate) fn new(stack: Stack) -> Result<Worker, Error> {
        let (sender, mailbox) = mailbox().map_err(|source| Error::Io {
            op: "creating the worker eventfd",
            source,
        })?;
        let id = NEXT_WORKER.fetch_add(1, Ordering::Relaxed);
        Ok(Worker {
            id,
            stack,
            mailbox,
            sender,
            _not_sync: PhantomData,
        })
    }

    /// The stack this worker belongs to.
    pub fn stack(&self) -> &Stack {
        &self.stack
    }

    /// Creates an AF_CONN association and starts its handshake (WebRTC simultaneous open: both
    /// sides call this and connect to each other). Its first packets arrive as
    /// [`Event::Transmit`]; [`Event::Connected`] follows once the peer answered.
    ///
    /// Waits for the stack thread to create the socket (tens of microseconds).
    pub fn associate(&self, config: AssociationConfig) -> Result<Association, Error> {
        config.validate_for(self.stack.config())?;
        let id = AssocId(NEXT_ASSOC.fetch_add(1, Ordering::Relaxed));
        let tx = self.stack.sender();
        let shared = Arc::new(AssocShared::new(id, config, tx.clone()));
        // Route first: the handshake's first packet is output while the socket connects.
        routes::insert(
            id,
            Route {
                owner: self.id,
                mailbox: self.sender.clone(),
                shared: shared.clone(),
                commands: tx,
            },
        );
        let (reply, answer) = crossbeam_channel::bounded(1);
        let opened = self
            .stack
            .command(Command::Open { id, reply })
            .and_then(|()| answer.recv().map_err(|_| Error::StackShutdown)?);
        match opened {
            Ok(()) => Ok(Association::new(shared, self.stack.clone())),
            Err(e) => {
                routes::remove(id);
                shared.set_closed();
                Err(e)
            }
        }
    }

    /// Waits for the next event. Blocks until one arrives: call it only while the worker has
    /// associations (or use [`recv_timeout`](Self::recv_timeout)).
    pub fn recv(&self) -> Event {
        // The worker holds a sender of its own mailbox, so the channel never disconnects.
        loop {
            if let Some(event) = self.mailbox.recv() {
                return event;
            }
        }
    }

    /// Waits up to `timeout` for the next event.
    pub fn recv_timeout(&self, timeout: Duration) -> Option<Event> {
        self.mailbox.recv_timeout(timeout)
    }

    /// The next event, if one is waiting.
    pub fn try_recv(&self) -> Option<Event> {
        self.mailbox.try_recv()
    }

    /// Moves up to `max` waiting events into `out`; returns how many.
    pub fn drain(&self, out: &mut Vec<Event>, max: usize) -> usize {
        let mut n = 0;
        while n < max {
            match self.mailbox.try_recv() {
                Some(event) => {
                    out.push(event);
                    n += 1;
                }
                None => break,
            }
        }
        n
    }

    /// Events waiting in the mailbox.
    pub fn pending(&self) -> usize {
        self.mailbox.len()
    }
}

impl AsRawFd for Worker {
    fn as_raw_fd(&self) -> RawFd {
        self.mailbox.raw_fd()
    }
}

impl AsFd for Worker {
    fn as_fd(&self) -> BorrowedFd<'_> {
        // SAFETY: the eventfd is owned by the mailbox, which lives as long as `self`.
        unsafe { BorrowedFd::borrow_raw(self.mailbox.raw_fd()) }
    }
}

impl Drop for Worker {
    fn drop(&mut self) {
        // Unregister first: from here on, callbacks for these ids are counted and dropped, and
        // their handles refuse to send (nobody could learn a message's outcome any more).
        let ids = routes::remove_owner(self.id);
        if !ids.is_empty() {
            tracing::debug!(
                worker = self.id,
                associations = ids.len(),
                "worker dropped; aborting its associations"
            );
            // A stopped stack has closed them already.
            let _ = self.stack.command(Command::Discard { ids });
        }
    }
}
