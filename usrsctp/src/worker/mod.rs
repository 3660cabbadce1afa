//! The per-thread worker: a mailbox plus a handle to the stack.

// Feature `tokio`: `Worker::recv_async` (a part of the worker, so it may see its fields).
#[cfg(feature = "tokio")]
mod async_worker;

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
use crate::shared::assoc::AssociationState;
use crate::shared::command::Command;
#[cfg(feature = "tokio")]
use crate::shared::mailbox::MailboxFd;
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
/// ([`AsRawFd`]) from an epoll / mio / tokio `AsyncFd` loop: it is readable while the mailbox
/// is non-empty and only then (it may rarely wake once with nothing to take; the stack thread
/// may raise it when it ends the burst of work that posted, rather than at the post).
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
    /// The tokio reactor registration of the eventfd (`recv_async`), made on first use.
    #[cfg(feature = "tokio")]
    async_slot: async_worker::AsyncSlot,
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
            #[cfg(feature = "tokio")]
            async_slot: Default::default(),
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
    /// here, and [`Error::StackShutdown`] once the stack is stopping or stopped.
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
        // Stopped or stopping (`Stack::shutdown_graceful` keeps the thread serving meanwhile).
        if !self.stack.is_running() {
            return Err(Error::StackShutdown);
        }
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

    #[cfg(feature = "tokio")]
    pub(crate) fn mailbox_fd(&self) -> MailboxFd {
        self.mailbox.fd()
    }

    #[cfg(feature = "tokio")]
    pub(crate) fn async_slot(&self) -> &async_worker::AsyncSlot {
        &self.async_slot
    }

    /// A handle any thread can use to post a value into this worker's mailbox, waking it
    /// wherever it waits: [`recv`](Self::recv), [`recv_timeout`](Self::recv_timeout),
    /// `recv_async`, or an epoll / mio loop on its eventfd. See [`WorkerWaker`].
    ///
    /// ```
    /// use usrsctp::{Event, Stack};
    ///
    /// let worker = Stack::global()?.worker()?;
    /// let waker = worker.waker();
    /// std::thread::spawn(move || waker.post(42)).join().unwrap()?;
    /// assert_eq!(worker.recv(), Event::User { value: 42 });
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn waker(&self) -> WorkerWaker {
        WorkerWaker {
            worker: self.id,
            mailbox: self.sender.clone(),
        }
    }

    /// Aborts every association of this worker, as [`Association::abort`] does for one: an
    /// ABORT goes to each peer, and this worker's mailbox receives, as usual, each ABORT packet
    /// as [`Event::Transmit`], an [`Event::SendFailed`] for every message not delivered, then
    /// [`Event::Closed`] `{ reason: AbortedLocally }`. Returns how many associations it asked
    /// the stack thread to abort (those not already closed).
    ///
    /// **Call it before dropping a worker whose lower layer (DTLS) is still alive**, then keep
    /// taking events and carrying `Transmit`s until every association reported `Closed`:
    /// that is how peers learn at once that this side is gone. Dropping a worker without it
    /// aborts its associations too, but silently: its mailbox is gone, so the ABORT packets
    /// reach nobody and each peer finds out only when its own retransmissions or heartbeats
    /// run out (tens of seconds).
    ///
    /// The handles of the aborted associations refuse further sends with [`Error::Closed`].
    ///
    /// ```
    /// use std::time::{Duration, Instant};
    /// use usrsctp::{AssociationConfig, CloseReason, Event, Stack};
    ///
    /// let worker = Stack::global()?.worker()?;
    /// let _a = worker.associate(AssociationConfig::default())?;
    /// let _b = worker.associate(AssociationConfig::default())?;
    /// assert_eq!(worker.abort_all(), 2);
    /// let deadline = Instant::now() + Duration::from_secs(10);
    /// let mut closed = 0;
    /// while closed < 2 && Instant::now() < deadline {
    ///     match worker.recv_timeout(Duration::from_millis(100)) {
    ///         // Hand these to DTLS: they are the ABORTs.
    ///         Some(Event::Transmit { .. }) => {}
    ///         Some(Event::Closed { reason, .. }) => {
    ///             assert_eq!(reason, CloseReason::AbortedLocally);
    ///             closed += 1;
    ///         }
    ///         _ => {}
    ///     }
    /// }
    /// assert_eq!(closed, 2);
    /// # Ok::<(), usrsctp::Error>(())
    /// ```
    pub fn abort_all(&self) -> usize {
        let mut asked = 0;
        for (id, shared) in routes::ids_of(self.id) {
            if shared.state() == AssociationState::Closed {
                continue;
            }
            // As `Association::abort`: a graceful close in progress becomes an abort.
            shared.set_closing();
            if self.stack.command(Command::Abort { id }).is_ok() {
                asked += 1;
            }
        }
        asked
    }
}

/// Posts values into a [`Worker`]'s mailbox from any thread; `Clone + Send + Sync`. Made by
/// [`Worker::waker`].
///
/// For an SFU's router threads that hand work to a worker: [`post`](Self::post) puts
/// [`Event::User`] `{ value }` into the mailbox, in order with the worker's other events
/// (first in, first out), and wakes the worker wherever it waits (`recv`, `recv_timeout`,
/// `recv_async`, or epoll / mio on its eventfd: the same mailbox and the same eventfd, no
/// second descriptor).
///
/// The value is a `u64`, not a boxed payload: [`Event`] stays `Clone + Eq` and a post
/// allocates nothing. Use it as a token: put the payload in a queue of your own (a crossbeam
/// channel, a slab index) and post to say it is there, or post the value itself when a
/// number is all the worker needs.
///
/// After the worker is dropped, `post` fails with [`WorkerGone`]. A post that races with the
/// drop may succeed and never be taken.
#[derive(Clone)]
pub struct WorkerWaker {
    worker: WorkerId,
    mailbox: MailboxSender,
}

impl std::fmt::Debug for WorkerWaker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WorkerWaker")
            .field("worker", &self.worker)
            .finish()
    }
}

impl WorkerWaker {
    /// Posts [`Event::User`] `{ value }` into the worker's mailbox; never blocks.
    pub fn post(&self, value: u64) -> Result<(), WorkerGone> {
        if self.mailbox.post_event(Event::User { value }) {
            Ok(())
        } else {
            Err(WorkerGone)
        }
    }
}

/// [`WorkerWaker::post`] failed: the worker was dropped.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct WorkerGone;

impl std::fmt::Display for WorkerGone {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("the worker was dropped")
    }
}

impl std::error::Error for WorkerGone {}

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

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;
    use std::time::Instant;

    use super::*;
    use crate::config::SendOptions;
    use crate::event::{ppid, CloseReason};

    fn readable(fd: RawFd, timeout_ms: i32) -> bool {
        let mut pfd = libc::pollfd {
            fd,
            events: libc::POLLIN,
            revents: 0,
        };
        // SAFETY: one valid pollfd for the duration of the call.
        let n = unsafe { libc::poll(&mut pfd, 1, timeout_ms) };
        n == 1 && pfd.revents & libc::POLLIN != 0
    }

    /// A thread posts while the worker blocks in `recv`; the eventfd is readable while the
    /// value waits; user values keep their place among the association's events.
    #[test]
    fn waker_wakes_a_blocked_recv_and_keeps_fifo_order() {
        let worker = Stack::global().unwrap().worker().unwrap();
        let waker = worker.waker();
        let (go, ready) = std::sync::mpsc::channel::<()>();
        let poster = {
            let waker = waker.clone();
            std::thread::spawn(move || {
                for value in 1..=3 {
                    ready.recv().unwrap();
                    waker.post(value).unwrap();
                }
            })
        };
        for value in 1..=3 {
            go.send(()).unwrap();
            // Blocks until the post (no association: nothing else can arrive).
            assert_eq!(worker.recv(), Event::User { value });
        }
        poster.join().unwrap();

        // The fd says so, as an epoll loop would see it.
        assert!(!readable(worker.as_raw_fd(), 0));
        let t = {
            let waker = waker.clone();
            std::thread::spawn(move || waker.post(7))
        };
        assert!(readable(worker.as_raw_fd(), 5000), "readable after a post");
        t.join().unwrap().unwrap();
        assert_eq!(worker.try_recv(), Some(Event::User { value: 7 }));
        assert!(!readable(worker.as_raw_fd(), 0), "clear once taken");

        // FIFO with the association's events: a post before `associate` comes before its INIT
        // (output when the stack thread sets the socket up), a post after the INIT after it.
        waker.post(10).unwrap();
        let _assoc = worker.associate(AssociationConfig::default()).unwrap();
        let next = || worker.recv_timeout(Duration::from_secs(5)).unwrap();
        assert_eq!(next(), Event::User { value: 10 });
        let init = next();
        assert!(matches!(init, Event::Transmit { .. }), "{init:?}");
        waker.post(11).unwrap();
        assert_eq!(next(), Event::User { value: 11 });

        drop(_assoc);
        drop(worker);
        assert_eq!(waker.post(12), Err(WorkerGone));
    }

    /// Carries `from`'s waiting events' packets to `to` (by association id); returns the other
    /// events.
    fn carry(from: &Worker, to: &[(AssocId, &Association)], wait: Duration) -> Vec<Event> {
        let mut other = Vec::new();
        while let Some(ev) = from.recv_timeout(wait) {
            match ev {
                Event::Transmit { assoc, packet } => {
                    let peer = to.iter().find(|(id, _)| *id == assoc).map(|(_, p)| *p);
                    if let Some(peer) = peer {
                        let _ = peer.input(packet);
                    }
                }
                ev => other.push(ev),
            }
        }
        other
    }

    /// `abort_all` puts the ABORTs in the mailbox: carried, they end the peers' associations
    /// at once (not after tens of seconds of retransmissions), and every message the aborted
    /// side accepted has its outcome.
    #[test]
    fn abort_all_reaches_the_peers_and_reports_every_message() {
        let stack = Stack::global().unwrap();
        let (wa, wb) = (stack.worker().unwrap(), stack.worker().unwrap());
        let a: Vec<Association> = (0..2)
            .map(|_| wa.associate(AssociationConfig::default()).unwrap())
            .collect();
        let b: Vec<Association> = (0..2)
            .map(|_| wb.associate(AssociationConfig::default()).unwrap())
            .collect();
        // a[i] <-> b[i]
        let a_to_b: Vec<(AssocId, &Association)> =
            a.iter().zip(&b).map(|(x, y)| (x.id(), y)).collect();
        let b_to_a: Vec<(AssocId, &Association)> =
            b.iter().zip(&a).map(|(y, x)| (y.id(), x)).collect();
        let deadline = Instant::now() + Duration::from_secs(10);
        let (mut up_a, mut up_b) = (0, 0);
        while up_a < 2 || up_b < 2 {
            assert!(Instant::now() < deadline, "handshakes");
            let connected = |evs: Vec<Event>| {
                evs.iter()
                    .filter(|e| matches!(e, Event::Connected { .. }))
                    .count()
            };
            up_a += connected(carry(&wa, &a_to_b, Duration::from_millis(1)));
            up_b += connected(carry(&wb, &b_to_a, Duration::from_millis(1)));
        }

        // A sends; nothing is carried, so nothing can be acknowledged before the abort.
        let mut sent = BTreeSet::new();
        for assoc in &a {
            for i in 0..5u8 {
                let id = assoc
                    .send(0, ppid::BINARY, [i; 500], SendOptions::reliable())
                    .unwrap();
                sent.insert((assoc.id(), id.get()));
            }
        }
        assert_eq!(wa.abort_all(), 2);
        assert!(a[0]
            .send(0, ppid::BINARY, b"late", SendOptions::reliable())
            .is_err());

        // A's mailbox: the packets (DATA, then the ABORTs), carried to B, and the outcomes.
        let mut failed = BTreeSet::new();
        let mut closed_a = BTreeSet::new();
        let mut closed_b = BTreeSet::new();
        let deadline = Instant::now() + Duration::from_secs(2);
        let mut pumps = 0;
        while closed_a.len() < 2 || closed_b.len() < 2 {
            assert!(
                Instant::now() < deadline,
                "after {pumps} pumps: A closed {closed_a:?}, B closed {closed_b:?}"
            );
            pumps += 1;
            for ev in carry(&wa, &a_to_b, Duration::from_millis(5)) {
                match ev {
                    Event::SendFailed { assoc, message, .. } => {
                        assert!(failed.insert((assoc, message.get())), "reported twice");
                    }
                    Event::Closed { assoc, reason } => {
                        assert_eq!(reason, CloseReason::AbortedLocally);
                        closed_a.insert(assoc);
                    }
                    _ => {}
                }
            }
            for ev in carry(&wb, &b_to_a, Duration::ZERO) {
                if let Event::Closed { assoc, reason } = ev {
                    assert_eq!(reason, CloseReason::AbortedByPeer);
                    closed_b.insert(assoc);
                }
            }
        }
        assert_eq!(failed, sent, "every accepted message is reported failed");
        assert_eq!(wa.abort_all(), 0, "nothing left to abort");
    }
}
