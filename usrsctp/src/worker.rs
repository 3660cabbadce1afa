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
    ///
    /// ```
    /// use usrsctp::{AssociationConfig, Event, Stack};
    ///
    /// let stack = Stack::global()?;
    /// let worker = stack.worker()?;
    /// // Create it anywhere; drive it from one thread.
    /// let first = std::thread::spawn(move || -> Result<bool, usrsctp::Error> {
    ///     let _assoc = worker.associate(AssociationConfig::default())?;
    ///     Ok(matches!(worker.recv(), Event::Transmit { .. }))
    /// });
    /// assert!(first.join().expect("the worker thread")?);
    /// # Ok::<(), usrsctp::Error>(())
    /// ```
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
/// ids; packets and callbacks still in flight for them are dropped safely, and their handles
/// refuse further sends with [`Error::Closed`] (with the mailbox gone, no outcome could be
/// reported).
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
    /// Returns at once: the stack thread creates the socket in the background, in order with
    /// this association's other commands (packets fed in meanwhile wait behind it). If usrsctp
    /// refuses the setup, the association ends with
    /// `Closed { reason: CloseReason::SetupFailed { .. } }`. Only configuration errors come back
    /// here.
    ///
    /// Two associations wired to each other in one thread:
    ///
    /// ```
    /// use std::time::{Duration, Instant};
    /// use usrsctp::{AssociationConfig, Event, Stack};
    ///
    /// let stack = Stack::global()?;
    /// let (wa, wb) = (stack.worker()?, stack.worker()?);
    /// let a = wa.associate(AssociationConfig::default())?;
    /// let b = wb.associate(AssociationConfig::default())?;
    /// // Carry each side's packets to the other until both are connected.
    /// let (mut up_a, mut up_b) = (false, false);
    /// let deadline = Instant::now() + Duration::from_secs(10);
    /// while !(up_a && up_b) && Instant::now() < deadline {
    ///     for (worker, peer, up) in [(&wa, &b, &mut up_a), (&wb, &a, &mut up_b)] {
    ///         while let Some(ev) = worker.recv_timeout(Duration::from_millis(1)) {
    ///             match ev {
    ///                 Event::Transmit { packet, .. } => peer.input(packet)?,
    ///                 Event::Connected { .. } => *up = true,
    ///                 _ => {}
    ///             }
    ///         }
    ///     }
    /// }
    /// assert!(up_a && up_b);
    /// # Ok::<(), usrsctp::Error>(())
    /// ```
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
        if let Err(e) = self.stack.command(Command::Open { id }) {
            routes::remove(id);
            shared.set_closed();
            return Err(e);
        }
        Ok(Association::new(shared, self.stack.clone()))
    }

    /// Waits for the next event. Blocks until one arrives: call it only while the worker has
    /// associations (or use [`recv_timeout`](Self::recv_timeout)).
    ///
    /// ```
    /// use usrsctp::{AssociationConfig, Event, Stack};
    ///
    /// let worker = Stack::global()?.worker()?;
    /// let _assoc = worker.associate(AssociationConfig::default())?;
    /// // The handshake's first packet (INIT) is output at once.
    /// assert!(matches!(worker.recv(), Event::Transmit { .. }));
    /// # Ok::<(), usrsctp::Error>(())
    /// ```
    pub fn recv(&self) -> Event {
        // The worker holds a sender of its own mailbox, so the channel never disconnects.
        loop {
            if let Some(event) = self.mailbox.recv() {
                return event;
            }
        }
    }

    /// Waits up to `timeout` for the next event.
    ///
    /// ```
    /// use std::time::Duration;
    /// use usrsctp::{AssociationConfig, Event, Stack};
    ///
    /// let worker = Stack::global()?.worker()?;
    /// assert!(worker.recv_timeout(Duration::from_millis(10)).is_none(), "no association, no event");
    /// let _assoc = worker.associate(AssociationConfig::default())?;
    /// let first = worker.recv_timeout(Duration::from_secs(5));
    /// assert!(matches!(first, Some(Event::Transmit { .. })));
    /// # Ok::<(), usrsctp::Error>(())
    /// ```
    pub fn recv_timeout(&self, timeout: Duration) -> Option<Event> {
        self.mailbox.recv_timeout(timeout)
    }

    /// The next event, if one is waiting.
    ///
    /// ```
    /// use std::time::Duration;
    /// use usrsctp::{AssociationConfig, Stack};
    ///
    /// let worker = Stack::global()?.worker()?;
    /// assert!(worker.try_recv().is_none());
    /// let _assoc = worker.associate(AssociationConfig::default())?;
    /// // Wait for something, then take whatever else is waiting without blocking.
    /// let mut events = Vec::from_iter(worker.recv_timeout(Duration::from_secs(5)));
    /// while let Some(ev) = worker.try_recv() {
    ///     events.push(ev);
    /// }
    /// assert!(!events.is_empty());
    /// # Ok::<(), usrsctp::Error>(())
    /// ```
    pub fn try_recv(&self) -> Option<Event> {
        self.mailbox.try_recv()
    }

    /// Moves up to `max` waiting events into `out`; returns how many.
    ///
    /// ```
    /// use std::time::Duration;
    /// use usrsctp::{AssociationConfig, Event, Stack};
    ///
    /// let worker = Stack::global()?.worker()?;
    /// let _assoc = worker.associate(AssociationConfig::default())?;
    /// let mut batch = Vec::from_iter(worker.recv_timeout(Duration::from_secs(5)));
    /// let more = worker.drain(&mut batch, 64); // at most 64 more, without blocking
    /// assert_eq!(batch.len(), 1 + more);
    /// assert!(matches!(batch[0], Event::Transmit { .. }));
    /// # Ok::<(), usrsctp::Error>(())
    /// ```
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
    /// The mailbox's eventfd.
    ///
    /// The eventfd is readable while the mailbox holds events:
    ///
    /// ```
    /// use std::os::fd::AsRawFd;
    /// use usrsctp::{AssociationConfig, Stack};
    ///
    /// let worker = Stack::global()?.worker()?;
    /// let _assoc = worker.associate(AssociationConfig::default())?;
    /// // Wait for the mailbox with poll(2), as an epoll / mio / tokio loop would.
    /// let mut fd = libc::pollfd { fd: worker.as_raw_fd(), events: libc::POLLIN, revents: 0 };
    /// // SAFETY: `fd` is one valid pollfd for the duration of the call.
    /// let ready = unsafe { libc::poll(&mut fd, 1, 5000) };
    /// assert_eq!(ready, 1);
    /// assert!(worker.try_recv().is_some());
    /// # Ok::<(), usrsctp::Error>(())
    /// ```
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
