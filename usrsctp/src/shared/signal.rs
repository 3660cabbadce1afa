//! The readiness signal of a mailbox: a file descriptor (an eventfd) that is readable exactly
//! while the mailbox holds an event, so an epoll / mio / tokio loop can wait on it.
//!
//! # The protocol
//! `pending` counts events posted and not yet taken; it is raised before an event becomes
//! visible and lowered after one was taken. Whoever moves it across zero (0 → 1 when posting,
//! 1 → 0 when taking) then *synchronises* the descriptor: under the `raised` lock, it reads
//! `pending` and raises or clears the descriptor to match, if it does not already. Every
//! change of `pending > 0` is followed by a synchronisation that reads it afterwards, and the
//! lock orders them, so when the posts and takes stop, the last synchronisation has seen the
//! final count: the descriptor is readable if and only if the mailbox is non-empty.
//!
//! The previous protocol raised after the post and cleared after the take without that lock:
//! a reader that took the event and cleared between the poster's count and its raise left the
//! descriptor readable over an empty mailbox (about 1 in 69,000 hand-offs), and a
//! level-triggered loop spun until the next event. The `loom` model below explores every
//! interleaving of two posters and a taker and checks the invariant
//! (`RUSTFLAGS="--cfg loom" cargo test -p usrsctp --lib mailbox_wakeups`).
//!
//! # Armed on first use
//! A worker that never waits (it polls with `try_recv` / `drain`) never looks at the
//! descriptor, and writing it on every empty → non-empty edge cost the stack thread a system
//! call and a contended lock per hand-off. So the signal starts unarmed: posts and takes move
//! the count without synchronising until [`arm`](Signal::arm) (called when the descriptor is
//! first handed out, or by the first blocking wait of `Worker::recv` / `recv_timeout`, which
//! sleep on it) sets the `ARMED` bit of the same atomic and synchronises once. Being one
//! atomic, every change of the count is ordered before or after the arming: before, and the
//! arming's synchronisation reads it; after, and it sees the bit and synchronises itself.
//! (A separate flag would need a `SeqCst` store-load argument across two locations, which loom
//! does not model; the first version of this, written that way, failed the model.) The loom
//! model `mailbox_wakeups_armed_late` checks the arming.
//!
//! The `raised` lock is a leaf: held only for one eventfd read or write, taken by callbacks
//! (a post) and by the worker (a take), never while holding another lock of ours.

#[cfg(loom)]
use loom::sync::{
    atomic::{AtomicUsize, Ordering},
    Mutex,
};
#[cfg(not(loom))]
use std::sync::{
    atomic::{AtomicUsize, Ordering},
    Mutex,
};

/// What the signal drives: a readiness flag that can be raised and cleared.
pub(crate) trait Readiness {
    fn raise(&self);
    fn clear(&self);
}

pub(crate) struct Signal<R> {
    /// Events posted and not taken, and the [`ARMED`] bit.
    pending: AtomicUsize,
    /// Whether the descriptor is raised; guards every change of it.
    raised: Mutex<bool>,
    pub(crate) readiness: R,
}

/// The bit of `Signal::pending` that says the descriptor has been handed out (armed); the
/// other bits count the events.
const ARMED: usize = 1 << (usize::BITS - 1);

impl<R: Readiness> Signal<R> {
    pub(crate) fn new(readiness: R) -> Self {
        Signal {
            pending: AtomicUsize::new(0),
            raised: Mutex::new(false),
            readiness,
        }
    }

    /// Before an event becomes visible. Returns true if the caller must `sync` once the event
    /// is visible (it made the count leave zero while the signal is armed).
    pub(crate) fn posting(&self) -> bool {
        self.pending.fetch_add(1, Ordering::SeqCst) == ARMED
    }

    /// A post counted by `posting` did not happen after all (the mailbox is gone).
    pub(crate) fn cancelled(&self) {
        self.pending.fetch_sub(1, Ordering::SeqCst);
    }

    /// After an event was taken.
    pub(crate) fn taken(&self) {
        if self.pending.fetch_sub(1, Ordering::SeqCst) == ARMED | 1 {
            self.sync();
        }
    }

    /// From now on the descriptor follows the count; makes it match now. Idempotent.
    pub(crate) fn arm(&self) {
        if self.pending.fetch_or(ARMED, Ordering::SeqCst) & ARMED == 0 {
            self.sync();
        }
    }

    /// Makes the descriptor match the count.
    pub(crate) fn sync(&self) {
        #[cfg(not(loom))]
        let mut raised = self
            .raised
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        #[cfg(loom)]
        let mut raised = self.raised.lock().unwrap();
        let want = self.pending.load(Ordering::SeqCst) & !ARMED > 0;
        if want != *raised {
            if want {
                self.readiness.raise();
            } else {
                self.readiness.clear();
            }
            *raised = want;
        }
    }
}

#[cfg(all(test, loom))]
mod tests {
    use loom::sync::atomic::AtomicBool;
    use loom::sync::{Arc, Mutex};
    use std::collections::VecDeque;

    use super::*;

    /// A descriptor's readable state.
    struct Flag(AtomicBool);

    impl Readiness for Flag {
        fn raise(&self) {
            self.0.store(true, Ordering::SeqCst);
        }
        fn clear(&self) {
            self.0.store(false, Ordering::SeqCst);
        }
    }

    struct Mailbox {
        signal: Signal<Flag>,
        queue: Mutex<VecDeque<u32>>,
    }

    impl Mailbox {
        fn post(&self, v: u32) {
            let edge = self.signal.posting();
            self.queue.lock().unwrap().push_back(v);
            if edge {
                self.signal.sync();
            }
        }

        fn take(&self) -> Option<u32> {
            let v = self.queue.lock().unwrap().pop_front();
            if v.is_some() {
                self.signal.taken();
            }
            v
        }
    }

    impl Mailbox {
        fn new() -> Arc<Mailbox> {
            Arc::new(Mailbox {
                signal: Signal::new(Flag(AtomicBool::new(false))),
                queue: Mutex::new(VecDeque::new()),
            })
        }

        /// The invariant, once every thread is done.
        fn assert_readable_iff_non_empty(&self) {
            let non_empty = !self.queue.lock().unwrap().is_empty();
            let readable = self.signal.readiness.0.load(Ordering::SeqCst);
            assert_eq!(
                readable, non_empty,
                "descriptor readable = {readable}, mailbox non-empty = {non_empty}"
            );
        }
    }

    /// Checks `body` under every interleaving up to three preemptions (loom's usual bound).
    fn model(body: impl Fn() + Sync + Send + 'static) {
        let mut model = loom::model::Builder::new();
        model.preemption_bound = Some(3);
        model.check(body);
    }

    /// Two posters and a reader that takes what it finds, twice: once all are done, the
    /// descriptor is readable exactly while the mailbox holds an event.
    #[test]
    fn mailbox_wakeups() {
        model(|| {
            let mb = Mailbox::new();
            mb.signal.arm();
            let posters: Vec<_> = (0..2)
                .map(|i| {
                    let mb = mb.clone();
                    loom::thread::spawn(move || mb.post(i))
                })
                .collect();
            let reader = {
                let mb = mb.clone();
                loom::thread::spawn(move || {
                    let _ = mb.take();
                    let _ = mb.take();
                })
            };
            for p in posters {
                p.join().unwrap();
            }
            reader.join().unwrap();
            mb.assert_readable_iff_non_empty();
        });
    }

    /// The descriptor is handed out (armed) while a poster and a reader run: once all are
    /// done, it is readable exactly while the mailbox holds an event.
    #[test]
    fn mailbox_wakeups_armed_late() {
        model(|| {
            let mb = Mailbox::new();
            let poster = {
                let mb = mb.clone();
                loom::thread::spawn(move || {
                    mb.post(1);
                    mb.post(2);
                })
            };
            let reader = {
                let mb = mb.clone();
                loom::thread::spawn(move || {
                    let _ = mb.take();
                })
            };
            mb.signal.arm();
            poster.join().unwrap();
            reader.join().unwrap();
            mb.assert_readable_iff_non_empty();
        });
    }
}
