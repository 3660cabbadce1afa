//! Association pairs whose two ends belong to one [`Worker`] on one thread: the worker carries
//! each end's packets straight into the other end's `input`. Many pairs per worker, as the
//! `scale` and `fairness` benchmarks need (an SFU's worker owns many associations; here their
//! peers are on the same worker instead of across DTLS).
//!
//! Association `2 * p` is pair `p`'s end A, `2 * p + 1` its end B.

use std::collections::HashMap;
use std::os::fd::AsRawFd;
use std::time::{Duration, Instant};

use usrsctp::{AssocId, Association, AssociationConfig, CloseReason, Event, Worker};

use super::wait_readable;

/// Events taken from the mailbox per pass.
const DRAIN: usize = 4096;
/// Pairs opened between two passes over the mailbox while opening many.
const OPEN_CHUNK: usize = 32;

/// A worker and the pairs it owns.
pub struct LocalPairs {
    worker: Worker,
    assocs: Vec<Association>,
    index: HashMap<AssocId, usize>,
    events: Vec<Event>,
}

impl LocalPairs {
    pub fn new(worker: Worker) -> LocalPairs {
        LocalPairs {
            worker,
            assocs: Vec::new(),
            index: HashMap::new(),
            events: Vec::with_capacity(DRAIN),
        }
    }

    /// Pairs so far.
    pub fn pairs(&self) -> usize {
        self.assocs.len() / 2
    }

    /// Association `i` (`2 * pair` is end A, `2 * pair + 1` end B).
    pub fn assoc(&self, i: usize) -> &Association {
        &self.assocs[i]
    }

    /// Creates `pairs` more pairs and carries their handshakes until every new association is
    /// connected (or `timeout` passes: an error). Events of older pairs met meanwhile go to
    /// `on_event`.
    pub fn open(
        &mut self,
        pairs: usize,
        config: &AssociationConfig,
        timeout: Duration,
        mut on_event: impl FnMut(usize, Event),
    ) -> Result<(), String> {
        let first = self.assocs.len();
        let deadline = Instant::now() + timeout;
        let mut connected = 0;
        let mut count = |i: usize, event: Event, connected: &mut usize| match event {
            Event::Connected { .. } if i >= first => *connected += 1,
            Event::Closed { reason, .. } if i >= first => {
                panic!("association closed while connecting: {reason:?}")
            }
            other => on_event(i, other),
        };
        for p in 0..pairs {
            for _ in 0..2 {
                let assoc = self
                    .worker
                    .associate(config.clone())
                    .map_err(|e| format!("associate: {e}"))?;
                self.index.insert(assoc.id(), self.assocs.len());
                self.assocs.push(assoc);
            }
            if p % OPEN_CHUNK == OPEN_CHUNK - 1 {
                self.pump(|i, e| count(i, e, &mut connected));
            }
        }
        while connected < 2 * pairs {
            if Instant::now() > deadline {
                return Err(format!(
                    "{connected} of {} associations connected within {timeout:?}",
                    2 * pairs
                ));
            }
            if self.pump(|i, e| count(i, e, &mut connected)) == 0 {
                self.wait(Duration::from_millis(5));
            }
        }
        Ok(())
    }

    /// Takes what is in the mailbox: packets go to the other end of their pair, every other
    /// event to `on_event` with its association's index. Returns how many events there were.
    pub fn pump(&mut self, mut on_event: impl FnMut(usize, Event)) -> usize {
        self.events.clear();
        let n = self.worker.drain(&mut self.events, DRAIN);
        for event in self.events.drain(..) {
            let Some(&i) = self.index.get(&event.assoc()) else {
                continue;
            };
            match event {
                Event::Transmit { packet, .. } => {
                    // Fails only once the peer is closed; its owner sees `Closed`.
                    let _ = self.assocs[i ^ 1].input(packet);
                }
                other => on_event(i, other),
            }
        }
        n
    }

    /// Sleeps until the mailbox is readable or `timeout` passes.
    pub fn wait(&self, timeout: Duration) {
        wait_readable([self.worker.as_raw_fd()], timeout);
    }

    /// The mailbox's eventfd, for waiting on it together with other descriptors.
    pub fn raw_fd(&self) -> std::os::fd::RawFd {
        self.worker.as_raw_fd()
    }

    /// Closes every pair gracefully (end A starts the SHUTDOWN) and carries packets until both
    /// ends of every pair report `Closed` (an error after `timeout`, or if one closes otherwise).
    pub fn close_all(&mut self, timeout: Duration) -> Result<(), String> {
        let deadline = Instant::now() + timeout;
        for pair in self.assocs.chunks(2) {
            pair[0].close().map_err(|e| format!("close: {e}"))?;
        }
        let total = self.assocs.len();
        let mut closed = 0;
        let mut other = None;
        while closed < total {
            if Instant::now() > deadline {
                return Err(format!("{closed} of {total} closed within {timeout:?}"));
            }
            let n = self.pump(|_, event| {
                if let Event::Closed { reason, .. } = event {
                    closed += 1;
                    if reason != CloseReason::Graceful {
                        other = Some(reason);
                    }
                }
            });
            if let Some(reason) = other {
                return Err(format!("an association closed with {reason:?}"));
            }
            if n == 0 {
                self.wait(Duration::from_millis(5));
            }
        }
        self.assocs.clear();
        self.index.clear();
        Ok(())
    }
}
