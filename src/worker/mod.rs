//! One worker thread: its `Worker`, one end of several cross-worker pairs (see `pair_end`), its
//! end of the wire, and the malformed packets it feeds.

mod retire;

use retire::book_failure;

use std::collections::HashMap;
use std::sync::atomic::Ordering::{Acquire, Relaxed, Release};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, TryRecvError};
use usrsctp::{
    ppid, AssocId, AssociationConfig, CloseReason, Diagnostics, Event, Message, MessageId,
    SendFailure, Worker,
};
use usrsctp_test_support::rng::{self, Rng};

use crate::books::Ledger;
use crate::latency::Histogram;
use crate::malformed;
use crate::pair_end::{Local, A, B};
use crate::state::{Inbound, Round, Shared};
use crate::tamper::Tamper;
use crate::trace::Way;
use crate::wire::{Dest, Wire};

/// Events and inbound items handled per pass.
const PASS: usize = 1024;

/// How long a worker that ends waits for the associations it aborted to report `Closed`
/// (at most half the watchdog's limit). An abort is served at once by the stack thread, so
/// this is only reached if the crate fails to end one.
const CLOSE_WAIT: Duration = Duration::from_secs(10);

/// Why the worker loop ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Exit {
    /// Churn: tear down everything mid-transfer.
    Churn,
    /// The round is over (or the orchestrator went away).
    Stop,
}

struct Loop {
    round: Arc<Round>,
    index: usize,
    rx: Receiver<Inbound>,
    worker: Worker,
    locals: HashMap<(u32, u8), Local>,
    by_id: HashMap<AssocId, (u32, u8)>,
    /// Ends aborted here (replaced, churned, or at the round's end) that have not reported
    /// `Closed` yet: their failure reports and their last received messages still count.
    retiring: HashMap<AssocId, Local>,
    /// Ends that reported `Closed`. One that ended on its own (even if it was being aborted
    /// here) reports a `send` that raced with its end after its `Closed`, through its handle's
    /// route, so the handle and the books stay until the worker ends (see `settle_gone`).
    gone: HashMap<AssocId, Local>,
    wire: Wire,
    rng: Rng,
    hist: Histogram,
    events: Vec<Event>,
    slow: bool,
    stall: bool,
    malformed_mode: bool,
    tamper: Option<Tamper>,
}

/// Runs worker `index` for `round` until it is told to stop or to churn. `restart` says that
/// it replaces a worker churn tore down: its pairs get new incarnations.
pub(crate) fn run(
    round: Arc<Round>,
    index: usize,
    rx: Receiver<Inbound>,
    restart: bool,
    life: u64,
) {
    let worker = match round.stack.worker() {
        Ok(w) => w,
        Err(e) => {
            round
                .shared
                .fail(format!("worker {index}: creating the Worker failed: {e}"));
            return;
        }
    };
    let cfg = &round.shared.cfg;
    let seed = rng::hash(&[cfg.seed, u64::from(round.index), index as u64, life]);
    let mut lp = Loop {
        index,
        rx,
        worker,
        locals: HashMap::new(),
        by_id: HashMap::new(),
        retiring: HashMap::new(),
        gone: HashMap::new(),
        wire: Wire::new(cfg.faults, seed),
        rng: Rng::new(seed ^ 0xBAD),
        hist: Histogram::default(),
        events: Vec::with_capacity(PASS),
        slow: cfg.slow_consumer && index == 0,
        stall: cfg.stall && index == 0,
        malformed_mode: cfg.malformed > 0,
        tamper: (cfg.tamper && index == 0 && life == 1).then(Tamper::default),
        round,
    };
    lp.start(restart);
    let exit = lp.work();
    lp.finish(exit);
}

/// WebRTC defaults, with the send queue and socket send buffer at 256 KiB instead of 1 MiB:
/// a bulk sender that queues until `WouldBlock` then waits for roughly a quarter as long per
/// message, so latency reflects the transport more than queueing, and churn discards less.
fn association_config() -> AssociationConfig {
    AssociationConfig {
        send_high_water: 256 * 1024,
        send_buffer: Some(256 * 1024),
        ..AssociationConfig::default()
    }
}

impl Loop {
    fn start(&mut self, restart: bool) {
        let round = self.round.clone();
        for (s, slot) in round.slots.iter().enumerate() {
            if slot.a == self.index {
                self.create_a(s as u32);
            }
        }
        if restart {
            for (s, slot) in round.slots.iter().enumerate() {
                if slot.b == self.index {
                    if let Some(gen) = slot.current_gen() {
                        let _ = round.txs[slot.a].send(Inbound::Respawn {
                            slot: s as u32,
                            stale_gen: gen,
                        });
                    }
                }
            }
        }
    }

    /// Starts a new incarnation of `slot`, whose side A lives here, and asks side B's worker
    /// to create the other end.
    fn create_a(&mut self, slot: u32) {
        let round = self.round.clone();
        let ledger = round.new_incarnation(slot);
        self.retire((slot, A), true);
        self.open(slot, A, ledger.clone());
        let _ = round.txs[round.slots[slot as usize].b].send(Inbound::Create { ledger });
    }

    fn open(&mut self, slot: u32, side: u8, ledger: Arc<Ledger>) {
        let s = &self.round.slots[slot as usize];
        let peer = if side == A { s.b } else { s.a };
        match self.worker.associate(association_config()) {
            Ok(assoc) => {
                self.by_id.insert(assoc.id(), (slot, side));
                self.locals
                    .insert((slot, side), Local::new(slot, side, ledger, assoc, peer));
            }
            Err(e) => {
                ledger.dead.store(true, Release);
                self.round.shared.fail(format!(
                    "worker {}: associate for slot {slot} failed: {e}",
                    self.index
                ));
            }
        }
    }

    fn work(&mut self) -> Exit {
        let mut idle = Duration::from_micros(50);
        let mut next_pause = Instant::now() + Duration::from_secs(1);
        loop {
            let mut work = 0usize;
            for _ in 0..PASS {
                match self.rx.try_recv() {
                    Ok(Inbound::Churn) => return Exit::Churn,
                    Ok(Inbound::Stop) | Err(TryRecvError::Disconnected) => return Exit::Stop,
                    Ok(item) => {
                        work += 1;
                        self.inbound(item);
                    }
                    Err(TryRecvError::Empty) => break,
                }
            }
            if self.stall && self.locals.values().any(|l| l.connected) {
                // Testing aid: stop carrying anything, as a deadlocked worker would.
                std::thread::sleep(Duration::from_millis(20));
                continue;
            }
            let max = if self.slow { 32 } else { PASS };
            let mut events = std::mem::take(&mut self.events);
            work += self.worker.drain(&mut events, max);
            for ev in events.drain(..) {
                self.event(ev);
            }
            self.events = events;
            self.flush_wire();
            work += self.inject_malformed();
            work += self.send_all();
            self.check_done();
            if self.slow {
                // The slow consumer: a short sleep every pass and a long pause every second.
                std::thread::sleep(Duration::from_millis(1));
                if Instant::now() >= next_pause {
                    std::thread::sleep(Duration::from_millis(250));
                    next_pause = Instant::now() + Duration::from_secs(1);
                }
            }
            if work == 0 {
                if let Some(ev) = self.worker.recv_timeout(idle) {
                    self.event(ev);
                    self.flush_wire();
                }
                idle = (idle * 2).min(Duration::from_millis(1));
            } else {
                idle = Duration::from_micros(50);
            }
        }
    }

    fn flush_wire(&mut self) {
        let txs = &self.round.txs;
        self.wire.end_pass(&mut |w, dest, packet| {
            let _ = txs[w].send(Inbound::Packet {
                dest,
                packet,
                malformed: false,
            });
        });
    }

    fn inbound(&mut self, item: Inbound) {
        match item {
            Inbound::Packet {
                dest,
                packet,
                malformed,
            } => {
                let shared = &self.round.shared;
                let now = shared.now_us();
                let result = self
                    .locals
                    .get_mut(&(dest.slot, dest.side))
                    .filter(|l| l.ledger.gen == dest.gen)
                    .map(|l| {
                        if !malformed {
                            l.trace.record(now, Way::In, &packet);
                        }
                        let result = l.assoc.input(packet);
                        if result.is_err() && !malformed {
                            l.trace.mark_last_refused();
                        }
                        result
                    });
                // Handed to the stack thread (the injector's backlog check counts these).
                let fed = matches!(result, Some(Ok(())));
                // Or refused by `input` as malformed: still the association's answer to it.
                let taken =
                    fed || matches!(result, Some(Err(usrsctp::Error::MalformedPacket { .. })));
                if fed {
                    shared.malformed.fed();
                }
                if malformed {
                    shared.malformed.arrived(taken);
                }
            }
            Inbound::Create { ledger } => {
                let key = (ledger.slot, B);
                let newer_here = self
                    .locals
                    .get(&key)
                    .is_some_and(|l| l.ledger.gen >= ledger.gen);
                let superseded = self.round.slots[ledger.slot as usize]
                    .current_gen()
                    .is_some_and(|g| g > ledger.gen);
                if newer_here || superseded {
                    return;
                }
                self.retire(key, true);
                self.open(ledger.slot, B, ledger);
            }
            Inbound::Respawn { slot, stale_gen } => {
                if self.round.slots[slot as usize].current_gen() == Some(stale_gen) {
                    self.create_a(slot);
                }
            }
            Inbound::Dump => self.dump(),
            Inbound::Churn | Inbound::Stop => {}
        }
    }

    /// Prints (stderr) each end here whose pair has not finished, with the crate's view of it.
    fn dump(&self) {
        for l in self.locals.values() {
            l.dump(self.index);
        }
    }

    fn event(&mut self, ev: Event) {
        if self.retiring.contains_key(&ev.assoc()) {
            self.retiring_event(ev);
            return;
        }
        if let Some(l) = self.gone.get(&ev.assoc()) {
            if let Event::SendFailed {
                message, reason, ..
            } = ev
            {
                book_failure(&self.round.shared, l, message, reason);
            }
            return;
        }
        let Some(&key) = self.by_id.get(&ev.assoc()) else {
            // An end that reported `Closed` already: nothing follows it.
            return;
        };
        match ev {
            Event::Transmit { packet, .. } => {
                let Some(l) = self.locals.get_mut(&key) else {
                    return;
                };
                if self.malformed_mode {
                    l.transmits += 1;
                    if l.sample.is_none() || l.transmits % 16 == 0 {
                        l.sample = Some(packet.clone());
                    }
                }
                l.trace
                    .record(self.round.shared.now_us(), Way::Out, &packet);
                let (peer, dest) = (l.peer, l.dest_of_peer());
                let txs = &self.round.txs;
                self.wire
                    .transmit(peer, dest, packet, &mut |w, dest, packet| {
                        let _ = txs[w].send(Inbound::Packet {
                            dest,
                            packet,
                            malformed: false,
                        });
                    });
            }
            Event::Connected { .. } => {
                if let Some(l) = self.locals.get_mut(&key) {
                    l.connected = true;
                    self.round.shared.progress.fetch_add(1, Relaxed);
                }
            }
            Event::Message { message, .. } => match self.tamper.as_mut() {
                Some(t) => {
                    for (k, m) in t.apply(key, message) {
                        self.verify(k, m);
                    }
                }
                None => self.verify(key, message),
            },
            Event::BufferedAmountLow { .. } => {
                if let Some(l) = self.locals.get_mut(&key) {
                    l.blocked = false;
                }
            }
            Event::SendFailed {
                message,
                reason,
                ppid,
                ..
            } => {
                let Some(l) = self.locals.get_mut(&key) else {
                    return;
                };
                book_failure(&self.round.shared, l, message, reason);
                if ppid != ppid::BINARY_PARTIAL {
                    self.round
                        .shared
                        .reliable_send_failures
                        .fetch_add(1, Relaxed);
                    if !l.ledger.churned.load(Acquire)
                        && !self.malformed_mode
                        && !std::mem::replace(&mut l.failure_noted, true)
                    {
                        let reason = match reason {
                            SendFailure::Abandoned { sent } => {
                                format!("abandoned (sent: {sent})")
                            }
                            SendFailure::AssociationClosed => "association closed".into(),
                            SendFailure::Rejected(e) => format!("rejected ({e:?})"),
                        };
                        self.round.shared.note(format!(
                            "slot {} gen {} side {}: a reliable message failed: {reason} \
                             (reported once per association end)",
                            l.slot,
                            l.ledger.gen,
                            l.side_name()
                        ));
                    }
                }
            }
            Event::Closed { reason, .. } => {
                let Some(mut l) = self.locals.remove(&key) else {
                    return;
                };
                let id = l.assoc.id();
                self.by_id.remove(&id);
                self.closed_on_its_own(&l, reason);
                l.sample = None;
                self.gone.insert(id, l);
            }
            Event::StreamsReset { .. } => {}
            // Every message of the run is within the associations' max_message_size, so a
            // peer message over it can only be forged (malformed mode) or a bug.
            Event::MessageTooLarge { stream, size, .. } => self.round.shared.note(format!(
                "a message over max_message_size arrived on stream {stream} ({size} bytes)"
            )),
            _ => {}
        }
    }

    fn verify(&mut self, key: (u32, u8), message: Message) {
        if let Some(l) = self.locals.get_mut(&key) {
            l.verify(&self.round.shared, &mut self.hist, message);
        }
    }

    fn send_all(&mut self) -> usize {
        let stop = self.round.shared.stop_sending.load(Acquire);
        let round = &self.round;
        self.locals
            .values_mut()
            .map(|l| l.send_batch(round, stop))
            .sum()
    }

    /// Marks each direction this worker receives as done once its sender finished and every
    /// reliable message it sent has arrived.
    fn check_done(&self) {
        for l in self.locals.values() {
            let d = usize::from(1 - l.side);
            let ledger = &l.ledger;
            if !ledger.done[d].load(Relaxed)
                && ledger.finished[d].load(Acquire)
                && ledger.delivered[d].load(Acquire) >= ledger.sent[d].load(Acquire)
            {
                ledger.done[d].store(true, Release);
                self.round.shared.progress.fetch_add(1, Relaxed);
            }
        }
    }

    /// Feeds malformed packets, made from our own recent packets, to the peers' associations.
    fn inject_malformed(&mut self) -> usize {
        let budget = &self.round.shared.malformed;
        let stack_taken = || {
            let d = Diagnostics::current();
            d.packets_in + d.inputs_dropped
        };
        if !self.malformed_mode || !budget.ready(stack_taken) {
            return 0;
        }
        let targets: Vec<(usize, Dest, Vec<u8>)> = self
            .locals
            .values()
            .filter(|l| l.connected)
            .filter_map(|l| {
                l.sample
                    .as_ref()
                    .map(|s| (l.peer, l.dest_of_peer(), s.clone()))
            })
            .collect();
        if targets.is_empty() {
            return 0;
        }
        let n = budget.take_batch();
        for _ in 0..n {
            let (peer, dest, sample) = &targets[self.rng.below(targets.len() as u64) as usize];
            let packet = malformed::malformed(&mut self.rng, sample);
            let _ = self.round.txs[*peer].send(Inbound::Packet {
                dest: *dest,
                packet,
                malformed: true,
            });
        }
        n as usize
    }

    /// Ends the worker. Every end it holds is aborted mid-transfer (churn) or at the round's
    /// end, and the worker keeps draining its mailbox until each has reported `Closed`: the
    /// crate reports every message not delivered before that, so each one has an outcome.
    /// Only then is the `Worker` dropped (dropping it first would abort its associations with
    /// no one left to tell). `--debug-drop-worker` drops it outright on churn instead.
    fn finish(mut self, exit: Exit) {
        let churn = exit == Exit::Churn;
        if churn && self.round.shared.cfg.drop_worker {
            for l in self.locals.values() {
                l.ledger.churned.store(true, Release);
            }
        } else {
            let keys: Vec<(u32, u8)> = self.locals.keys().copied().collect();
            for key in keys {
                self.retire(key, churn);
            }
            self.drain_retiring();
            self.settle_gone();
        }
        let Loop {
            round,
            worker,
            locals,
            retiring,
            gone,
            wire,
            hist,
            ..
        } = self;
        round.shared.merge(&hist, &wire.stats);
        drop(worker);
        drop(locals);
        drop(retiring);
        drop(gone);
    }
}
