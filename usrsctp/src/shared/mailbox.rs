//! A worker's mailbox: a crossbeam channel of events paired with an eventfd that is readable
//! exactly while the mailbox is non-empty (the protocol is in `signal.rs`), so an epoll / mio /
//! tokio loop can wait on it.
//!
//! The sending side never blocks (unbounded channel, non-blocking eventfd write), which is what
//! lets usrsctp's callbacks post into it while usrsctp holds its own locks.
//!
//! # Wake-ups deferred on the stack thread
//! A post that makes a mailbox non-empty raises its eventfd: a system call, and a wake-up of
//! the worker if it sleeps on it. The stack thread posts in bursts (one command or turn feeds
//! many packets, each can deliver a message and send a SACK), and a worker that keeps up
//! empties its mailbox between two posts of a burst: each post was a new raise, each take a
//! new clear, two system calls per event. So on the stack thread ([`defer_wakeups_here`]) the
//! first raise of a mailbox in a burst happens at once (the worker starts waking while the
//! burst goes on: a round trip waits for no more than before), and any later one is put off
//! until [`wake_deferred`], which the stack thread calls after each command and each turn, and
//! always before it waits. Putting off a raise is what the signal protocol allows any poster
//! (it is a poster that is slow to synchronise), and the worker still takes the event at once
//! if it is looking (`try_recv` does not read the descriptor).

use std::cell::RefCell;
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, Sender, TryRecvError};

use super::assoc::AssocShared;
use super::signal::{Readiness, Signal};
use crate::event::Event;
use crate::packet::checksum::fill_checksum;

/// One mailbox entry: the event plus, for a received message, the receive credit it holds.
pub(crate) struct Envelope {
    pub(crate) event: Event,
    /// Set for `Event::Message`: the association whose credit the message's bytes count against.
    pub(crate) credit: Option<Arc<AssocShared>>,
}

/// The eventfd a worker's loop waits on.
struct EventFd(OwnedFd);

impl EventFd {
    fn new() -> io::Result<EventFd> {
        // SAFETY: eventfd takes no pointers; a negative return is an error reported via errno.
        let fd = unsafe { libc::eventfd(0, libc::EFD_NONBLOCK | libc::EFD_CLOEXEC) };
        if fd < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: `fd` is a freshly created descriptor that nothing else owns.
        Ok(EventFd(unsafe { OwnedFd::from_raw_fd(fd) }))
    }
}

impl Readiness for EventFd {
    fn raise(&self) {
        let one: u64 = 1;
        // SAFETY: writes 8 bytes from a live u64 to an eventfd we own. EAGAIN (counter saturated)
        // leaves it readable, which is all we need, so the result is not checked.
        unsafe { libc::write(self.0.as_raw_fd(), (&one as *const u64).cast(), 8) };
    }

    fn clear(&self) {
        let mut buf: u64 = 0;
        // SAFETY: reads 8 bytes into a live u64 from a non-blocking eventfd we own; EAGAIN means
        // it was already clear.
        unsafe { libc::read(self.0.as_raw_fd(), (&mut buf as *mut u64).cast(), 8) };
    }
}

/// The posting side; cloned into the registry for every association the worker owns.
#[derive(Clone)]
pub(crate) struct MailboxSender {
    tx: Sender<Envelope>,
    signal: Arc<Signal<EventFd>>,
}

impl MailboxSender {
    /// Posts without blocking. Returns false if the mailbox is gone (worker dropped).
    pub(crate) fn post(&self, envelope: Envelope) -> bool {
        // Count before the envelope becomes visible, so a taker can never count below zero;
        // synchronise the descriptor after (see `signal.rs`).
        let edge = self.signal.posting();
        if self.tx.send(envelope).is_err() {
            self.signal.cancelled();
            return false;
        }
        if edge && !defer(&self.signal) {
            self.signal.sync();
        }
        true
    }

    /// Posts an event that holds no receive credit.
    pub(crate) fn post_event(&self, event: Event) -> bool {
        self.post(Envelope {
            event,
            credit: None,
        })
    }
}

/// A mailbox the current burst has raised, and whether a later raise was put off.
struct Raised {
    signal: Arc<Signal<EventFd>>,
    deferred: bool,
}

thread_local! {
    /// On the stack thread: the mailboxes raised in the current burst (cleared by
    /// [`wake_deferred`]). `None` elsewhere: posts raise at once.
    static DEFERRED: RefCell<Option<Vec<Raised>>> = const { RefCell::new(None) };
}

/// From now on, the raises of posts made on this thread wait for [`wake_deferred`].
pub(crate) fn defer_wakeups_here() {
    DEFERRED.with(|d| *d.borrow_mut() = Some(Vec::new()));
}

/// Ends the burst: raises every descriptor whose raise was put off on this thread (each one
/// matches its mailbox again). With `stop`, posts on this thread raise at once from now on.
pub(crate) fn wake_deferred(stop: bool) {
    DEFERRED.with(|d| {
        let mut slot = d.borrow_mut();
        if let Some(list) = slot.as_mut() {
            // `sync` only takes the signal's leaf lock and writes its eventfd: it never posts,
            // so it cannot come back here. The list keeps its capacity for the next burst.
            for r in list.drain(..) {
                if r.deferred {
                    r.signal.sync();
                }
            }
        }
        if stop {
            *slot = None;
        }
    });
}

/// True if the raise of `signal` is put off: this thread defers raises, and the burst has
/// raised this mailbox already. False: the caller raises now.
fn defer(signal: &Arc<Signal<EventFd>>) -> bool {
    DEFERRED.with(|d| match d.try_borrow_mut() {
        Ok(mut slot) => match slot.as_mut() {
            Some(list) => match list.iter_mut().find(|r| Arc::ptr_eq(&r.signal, signal)) {
                Some(r) => {
                    r.deferred = true;
                    true
                }
                None => {
                    list.push(Raised {
                        signal: signal.clone(),
                        deferred: false,
                    });
                    false
                }
            },
            None => false,
        },
        Err(_) => false,
    })
}

/// The receiving side, owned by one `Worker`.
pub(crate) struct Mailbox {
    rx: Receiver<Envelope>,
    signal: Arc<Signal<EventFd>>,
}

pub(crate) fn mailbox() -> io::Result<(MailboxSender, Mailbox)> {
    let signal = Arc::new(Signal::new(EventFd::new()?));
    let (tx, rx) = crossbeam_channel::unbounded();
    Ok((
        MailboxSender {
            tx,
            signal: signal.clone(),
        },
        Mailbox { rx, signal },
    ))
}

impl Mailbox {
    fn took(&self, envelope: Envelope) -> Event {
        self.signal.taken();
        let mut event = envelope.event;
        match (&mut event, &envelope.credit) {
            (Event::Message { message, .. }, Some(shared)) => {
                shared.release_credit(message.data.len());
            }
            // usrsctp leaves the checksum to us (CRC32c offload): written here, on the worker
            // that takes the packet, rather than on the one stack thread all workers share.
            (Event::Transmit { packet, .. }, _) => fill_checksum(packet),
            _ => {}
        }
        event
    }

    pub(crate) fn try_recv(&self) -> Option<Event> {
        match self.rx.try_recv() {
            Ok(e) => Some(self.took(e)),
            Err(TryRecvError::Empty) | Err(TryRecvError::Disconnected) => None,
        }
    }

    /// Waits for the next event (`None` only if the channel is gone, which a worker's own
    /// sender prevents).
    pub(crate) fn recv(&self) -> Option<Event> {
        self.recv_until(None)
    }

    pub(crate) fn recv_timeout(&self, timeout: Duration) -> Option<Event> {
        // A timeout too large for the clock waits without a limit.
        self.recv_until(Instant::now().checked_add(timeout))
    }

    /// Waits on the eventfd, not in the channel: the channel's own blocking receive spins
    /// (`pause`, then `sched_yield`) before it parks, and that spinning was 17 % of all CPU
    /// samples of the `bulk` example, whose workers wait in `recv_timeout`. The descriptor is
    /// armed by the first wait; from then on it follows the mailbox (`signal.rs`).
    fn recv_until(&self, deadline: Option<Instant>) -> Option<Event> {
        loop {
            match self.rx.try_recv() {
                Ok(e) => return Some(self.took(e)),
                Err(TryRecvError::Disconnected) => return None,
                Err(TryRecvError::Empty) => {}
            }
            let left = match deadline {
                None => None,
                Some(d) => match d.checked_duration_since(Instant::now()) {
                    Some(left) if !left.is_zero() => Some(left),
                    _ => return None,
                },
            };
            wait_readable(self.raw_fd(), left);
        }
    }

    pub(crate) fn len(&self) -> usize {
        self.rx.len()
    }

    pub(crate) fn raw_fd(&self) -> RawFd {
        // Handed out: from now on it must follow the mailbox (see `signal`'s docs).
        self.signal.arm();
        self.signal.readiness.0.as_raw_fd()
    }

    /// The eventfd, kept open by the returned value for as long as it lives (for a reactor
    /// registration that must not outlive the descriptor).
    #[cfg_attr(not(feature = "tokio"), allow(dead_code))]
    pub(crate) fn fd(&self) -> MailboxFd {
        self.signal.arm();
        MailboxFd(self.signal.clone())
    }
}

/// Sleeps until `fd` is readable or `timeout` has passed (`None`: no limit). Errors (EINTR)
/// return early; the caller looks at the mailbox and waits again.
fn wait_readable(fd: RawFd, timeout: Option<Duration>) {
    let mut pfd = libc::pollfd {
        fd,
        events: libc::POLLIN,
        revents: 0,
    };
    let limit = timeout.map(|t| libc::timespec {
        tv_sec: libc::time_t::try_from(t.as_secs()).unwrap_or(libc::time_t::MAX),
        // Below 10^9: fits every target's c_long.
        tv_nsec: t.subsec_nanos() as libc::c_long,
    });
    let limit_ptr = limit
        .as_ref()
        .map_or(std::ptr::null(), |t| t as *const libc::timespec);
    // SAFETY: one valid pollfd for the call; `limit_ptr` is null or points at a live
    // timespec; a null signal mask leaves the thread's mask alone.
    unsafe { libc::ppoll(&mut pfd, 1, limit_ptr, std::ptr::null()) };
}

/// A worker's eventfd, holding the mailbox's signal (which owns the descriptor) alive.
pub(crate) struct MailboxFd(Arc<Signal<EventFd>>);

impl AsRawFd for MailboxFd {
    fn as_raw_fd(&self) -> RawFd {
        self.0.readiness.0.as_raw_fd()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::AssocId;

    fn readable(fd: RawFd) -> bool {
        let mut pfd = libc::pollfd {
            fd,
            events: libc::POLLIN,
            revents: 0,
        };
        // SAFETY: one valid pollfd, zero timeout.
        let n = unsafe { libc::poll(&mut pfd, 1, 0) };
        n == 1 && pfd.revents & libc::POLLIN != 0
    }

    fn ev(n: u64) -> Event {
        Event::Transmit {
            assoc: AssocId(n),
            packet: vec![n as u8],
        }
    }

    #[test]
    fn eventfd_is_readable_exactly_while_non_empty() {
        let (tx, mb) = mailbox().unwrap();
        assert!(!readable(mb.raw_fd()));
        assert!(tx.post_event(ev(1)));
        assert!(tx.post_event(ev(2)));
        assert!(readable(mb.raw_fd()));
        assert_eq!(mb.try_recv(), Some(ev(1)));
        assert!(readable(mb.raw_fd()), "one event left");
        assert_eq!(mb.try_recv(), Some(ev(2)));
        assert!(!readable(mb.raw_fd()), "empty mailbox must not be readable");
        assert_eq!(mb.try_recv(), None);
        assert!(tx.post_event(ev(3)));
        assert!(readable(mb.raw_fd()));
        assert_eq!(mb.recv_timeout(Duration::from_millis(10)), Some(ev(3)));
        assert_eq!(mb.recv_timeout(Duration::from_millis(10)), None);
    }

    #[test]
    fn posts_from_many_threads_never_leave_a_non_empty_mailbox_unsignalled() {
        let (tx, mb) = mailbox().unwrap();
        let threads: Vec<_> = (0..4)
            .map(|t| {
                let tx = tx.clone();
                std::thread::spawn(move || {
                    for i in 0..2000 {
                        tx.post_event(ev(t * 10_000 + i));
                    }
                })
            })
            .collect();
        let mut got = 0;
        while got < 8000 {
            // Wait on the fd, as an epoll loop would; a lost wake-up shows up as a timeout here.
            let mut pfd = libc::pollfd {
                fd: mb.raw_fd(),
                events: libc::POLLIN,
                revents: 0,
            };
            // SAFETY: one valid pollfd.
            let n = unsafe { libc::poll(&mut pfd, 1, 5000) };
            assert_eq!(
                n,
                1,
                "eventfd not readable although {} events were pending",
                mb.len()
            );
            while mb.try_recv().is_some() {
                got += 1;
            }
        }
        for t in threads {
            t.join().unwrap();
        }
        assert!(!readable(mb.raw_fd()));
    }

    #[test]
    fn a_deferring_thread_raises_the_descriptor_at_wake_deferred() {
        let (tx, mb) = mailbox().unwrap();
        let fd = mb.raw_fd();
        defer_wakeups_here();
        // The burst's first raise of this mailbox happens at once.
        assert!(tx.post_event(ev(1)));
        assert!(readable(fd));
        assert_eq!(mb.try_recv(), Some(ev(1)));
        assert!(!readable(fd));
        // A second edge in the same burst is put off until the burst ends.
        assert!(tx.post_event(ev(2)));
        assert!(!readable(fd), "raised only at wake_deferred");
        wake_deferred(false);
        assert!(readable(fd));
        // Next burst: at once again; a later edge taken before the burst ends raises nothing.
        assert_eq!(mb.try_recv(), Some(ev(2)));
        assert!(tx.post_event(ev(3)));
        assert_eq!(mb.try_recv(), Some(ev(3)));
        assert!(tx.post_event(ev(4)));
        assert_eq!(mb.try_recv(), Some(ev(4)), "the event is not held back");
        wake_deferred(false);
        assert!(!readable(fd));
        // Stopped: what was put off is raised, and later posts raise at once.
        assert!(tx.post_event(ev(5)));
        assert_eq!(mb.try_recv(), Some(ev(5)));
        assert!(tx.post_event(ev(6)));
        assert!(!readable(fd));
        wake_deferred(true);
        assert!(readable(fd));
        assert_eq!(mb.try_recv(), Some(ev(6)));
        assert!(tx.post_event(ev(7)));
        assert!(readable(fd));
    }

    #[test]
    fn post_after_receiver_dropped_reports_gone() {
        let (tx, mb) = mailbox().unwrap();
        drop(mb);
        assert!(!tx.post_event(ev(1)));
    }
}
