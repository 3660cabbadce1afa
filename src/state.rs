//! The state a run shares between its threads: the counters and verdicts of the whole run
//! ([`Shared`]), the round under way ([`Round`]: its stack, the workers' channels, the pair
//! slots) and what travels in a worker's channel ([`Inbound`]).

use std::sync::atomic::Ordering::{Acquire, Relaxed, Release};
use std::sync::atomic::{AtomicBool, AtomicU64};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use crossbeam_channel::Sender;
use usrsctp::Stack;

use crate::books::{unaccounted_detail, Accounting, Ledger};
use crate::cli::Config;
use crate::latency::Histogram;
use crate::malformed::Budget;
use crate::payload::Plan;
use crate::wire::{Dest, WireStats};

/// What travels in a worker's inbound channel.
pub(crate) enum Inbound {
    /// A packet from the wire for the association `dest` names.
    Packet {
        /// The receiving association.
        dest: Dest,
        /// The packet.
        packet: Vec<u8>,
        /// Made by `--malformed` (counted when it reaches a live association).
        malformed: bool,
    },
    /// Side B: create your end of this incarnation (replacing any older one).
    Create {
        /// The incarnation.
        ledger: Arc<Ledger>,
    },
    /// Side A: your peer was torn down; replace incarnation `stale_gen` of `slot`.
    Respawn {
        /// The pair slot.
        slot: u32,
        /// The incarnation to replace (ignored if it was replaced already).
        stale_gen: u32,
    },
    /// Tear this worker down now, mid-transfer.
    Churn,
    /// The watchdog tripped: print what each unfinished pair end waits for.
    Dump,
    /// The round is over.
    Stop,
}

/// One pair slot of a round: where its ends live and its current incarnation.
pub(crate) struct Slot {
    /// Worker of side A (the one that creates incarnations).
    pub a: usize,
    /// Worker of side B.
    pub b: usize,
    pub current: Mutex<Option<Arc<Ledger>>>,
    /// Messages accepted so far this round, all incarnations, per direction.
    pub sent: [AtomicU64; 2],
}

impl Slot {
    /// The slot's current incarnation, if it has one.
    pub fn current(&self) -> Option<Arc<Ledger>> {
        lock(&self.current).clone()
    }

    /// The generation of the slot's current incarnation.
    pub fn current_gen(&self) -> Option<u32> {
        lock(&self.current).as_ref().map(|l| l.gen)
    }
}

/// Locks `m`, also after a thread panicked holding it (the harness reports panics itself).
fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// One round: a stack, the workers' channels, the slots and every incarnation's books.
pub(crate) struct Round {
    pub index: u32,
    pub shared: Arc<Shared>,
    pub stack: Stack,
    pub txs: Vec<Sender<Inbound>>,
    pub slots: Vec<Slot>,
    pub ledgers: Mutex<Vec<Arc<Ledger>>>,
}

impl Round {
    /// Registers a new incarnation of `slot` as its current one; the previous one counts as
    /// replaced by churn.
    pub fn new_incarnation(&self, slot: u32) -> Arc<Ledger> {
        let mut cur = lock(&self.slots[slot as usize].current);
        let gen = cur.as_ref().map_or(0, |l| l.gen + 1);
        if let Some(old) = cur.as_ref() {
            old.churned.store(true, Release);
        }
        let ledger = Arc::new(Ledger::new(slot, gen));
        *cur = Some(ledger.clone());
        drop(cur);
        lock(&self.ledgers).push(ledger.clone());
        ledger
    }

    /// True when every slot's current incarnation has delivered everything (or, outside
    /// malformed mode, died: its undelivered messages then count as lost).
    pub fn traffic_done(&self, malformed: bool) -> bool {
        self.slots.iter().all(|s| {
            lock(&s.current).as_ref().is_some_and(|l| {
                !l.churned.load(Acquire)
                    && ((l.done[0].load(Acquire) && l.done[1].load(Acquire))
                        || (!malformed && l.dead.load(Acquire)))
            })
        })
    }

    /// True when every slot's current incarnation has sent its share in both directions.
    pub fn senders_finished(&self) -> bool {
        self.slots.iter().all(|s| {
            lock(&s.current).as_ref().is_some_and(|l| {
                l.dead.load(Acquire) || (l.finished[0].load(Acquire) && l.finished[1].load(Acquire))
            })
        })
    }

    pub fn sent(&self) -> u64 {
        self.slots
            .iter()
            .map(|s| s.sent[0].load(Relaxed) + s.sent[1].load(Relaxed))
            .sum()
    }
}

/// State shared by the whole run: counters, the verdicts, and the books of finished rounds.
pub(crate) struct Shared {
    pub cfg: Config,
    pub plan: Plan,
    start: Instant,
    pub sent: AtomicU64,
    pub delivered: AtomicU64,
    pub bytes_delivered: AtomicU64,
    pub duplicated: AtomicU64,
    pub out_of_order: AtomicU64,
    pub corrupted: AtomicU64,
    pub unexpected_closes: AtomicU64,
    pub reliable_send_failures: AtomicU64,
    /// `SendFailed` reports for a message the end never sent (a `MessageId` it never got).
    pub reports_unmatched: AtomicU64,
    /// Ends that did not report `Closed` in time after their worker aborted them.
    pub ends_not_closed: AtomicU64,
    /// Packet traces printed so far (a few per run).
    pub traces_printed: AtomicU64,
    /// Bumped by anything that shows the run is alive besides deliveries.
    pub progress: AtomicU64,
    pub stop_sending: AtomicBool,
    /// The `--malformed` packets: still to make, in flight, injected.
    pub malformed: Budget,
    pub churn_cycles: AtomicU64,
    pub stack_restarts: AtomicU64,
    pub rounds: AtomicU64,
    pub panics: AtomicU64,
    pub capped: AtomicBool,
    pub rss_after_round1_kb: AtomicU64,
    pub heap_after_round1_kb: AtomicU64,
    wire: Mutex<WireStats>,
    latency: Mutex<Histogram>,
    failures: Mutex<Vec<String>>,
    notes: Mutex<Vec<String>>,
    phase: Mutex<String>,
    totals: Mutex<Accounting>,
    current: Mutex<Option<Arc<Round>>>,
}

impl Shared {
    pub fn new(cfg: Config) -> Self {
        let plan = Plan {
            seed: cfg.seed,
            size_min: cfg.size_min,
            size_max: cfg.size_max,
            unordered: cfg.unordered,
            partial: cfg.partial,
        };
        Shared {
            malformed: Budget::new(cfg.malformed),
            cfg,
            plan,
            start: Instant::now(),
            sent: AtomicU64::new(0),
            delivered: AtomicU64::new(0),
            bytes_delivered: AtomicU64::new(0),
            duplicated: AtomicU64::new(0),
            out_of_order: AtomicU64::new(0),
            corrupted: AtomicU64::new(0),
            unexpected_closes: AtomicU64::new(0),
            reliable_send_failures: AtomicU64::new(0),
            reports_unmatched: AtomicU64::new(0),
            ends_not_closed: AtomicU64::new(0),
            traces_printed: AtomicU64::new(0),
            progress: AtomicU64::new(0),
            stop_sending: AtomicBool::new(false),
            churn_cycles: AtomicU64::new(0),
            stack_restarts: AtomicU64::new(0),
            rounds: AtomicU64::new(0),
            panics: AtomicU64::new(0),
            capped: AtomicBool::new(false),
            rss_after_round1_kb: AtomicU64::new(0),
            heap_after_round1_kb: AtomicU64::new(0),
            wire: Mutex::new(WireStats::default()),
            latency: Mutex::new(Histogram::default()),
            failures: Mutex::new(Vec::new()),
            notes: Mutex::new(Vec::new()),
            phase: Mutex::new(String::from("starting")),
            totals: Mutex::new(Accounting::default()),
            current: Mutex::new(None),
        }
    }

    /// Time since the run started.
    pub fn elapsed(&self) -> Duration {
        self.start.elapsed()
    }

    /// Microseconds since the run started.
    pub fn now_us(&self) -> u64 {
        self.start.elapsed().as_micros() as u64
    }

    /// Records a reason the run fails.
    pub fn fail(&self, why: String) {
        if !self.cfg.quiet {
            eprintln!("usrsctp-stress: {why}");
        }
        let mut f = lock(&self.failures);
        if f.len() < 20 {
            f.push(why);
        }
    }

    /// Records something worth showing (the first few of each run), without failing the run
    /// by itself: the counters decide.
    pub fn note(&self, what: String) {
        let mut n = lock(&self.notes);
        if n.len() < 10 {
            if !self.cfg.quiet {
                eprintln!("usrsctp-stress: {what}");
            }
            n.push(what);
        }
    }

    /// Adds a finished worker's latency histogram and wire statistics.
    pub fn merge(&self, hist: &Histogram, wire: &WireStats) {
        lock(&self.latency).merge(hist);
        lock(&self.wire).add(wire);
    }

    /// Says what the run does now (for progress lines and the watchdog); counts as progress.
    pub fn set_phase(&self, phase: String) {
        *lock(&self.phase) = phase;
        self.progress.fetch_add(1, Relaxed);
    }

    /// What the run does now.
    pub fn phase(&self) -> String {
        lock(&self.phase).clone()
    }

    /// The reasons recorded by [`fail`](Self::fail) so far.
    pub fn failures(&self) -> Vec<String> {
        lock(&self.failures).clone()
    }

    /// The finished workers' wire statistics, added up.
    pub fn wire_stats(&self) -> WireStats {
        *lock(&self.wire)
    }

    /// The finished workers' latency histograms, merged.
    pub fn latency(&self) -> Histogram {
        lock(&self.latency).clone()
    }

    /// Makes `round` the round under way.
    pub fn begin_round(&self, round: Arc<Round>) {
        *lock(&self.current) = Some(round);
    }

    /// The round under way, if any.
    pub fn current_round(&self) -> Option<Arc<Round>> {
        lock(&self.current).clone()
    }

    /// Ends the round under way: its books join the totals.
    pub fn end_round(&self, round: &Round) {
        let books = Accounting::of(&lock(&round.ledgers));
        if books.unaccounted > 0 && self.cfg.malformed == 0 {
            for line in unaccounted_detail(&lock(&round.ledgers), 5) {
                self.fail(format!("round {}: {line}", round.index + 1));
            }
        }
        let mut current = lock(&self.current);
        lock(&self.totals).add(&books);
        *current = None;
    }

    /// What has happened so far, for the progress counter the watchdog watches.
    pub fn heartbeat(&self) -> u64 {
        self.delivered.load(Relaxed) + self.progress.load(Relaxed) + self.malformed.injected()
    }

    /// The books so far: finished rounds plus the round under way.
    pub fn accounting(&self) -> Accounting {
        let mut a = *lock(&self.totals);
        if let Some(round) = lock(&self.current).as_ref() {
            a.add(&Accounting::of(&lock(&round.ledgers)));
        }
        a
    }
}
