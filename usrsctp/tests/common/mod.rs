//! Test harness: two endpoints on two threads joined by an in-memory wire with seeded faults.
#![allow(dead_code)]

use std::collections::VecDeque;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, Sender};
use usrsctp::{Association, AssociationConfig, CloseReason, Event, Stack, StackConfig, Worker};
use usrsctp_test_support::Rng;

/// Short timers so lossy tests finish in seconds; everything else WebRTC defaults.
pub fn test_stack_config() -> StackConfig {
    StackConfig {
        rto_min_ms: 50,
        rto_initial_ms: 200,
        rto_max_ms: 1000,
        init_rto_max_ms: 1000,
        delayed_sack_ms: 10,
        ..StackConfig::default()
    }
}

pub fn stack() -> Stack {
    Stack::get_or_start(test_stack_config()).expect("the usrsctp stack starts")
}

/// One side of a pair: a worker, its association, and its end of the wire.
pub struct Endpoint {
    pub worker: Worker,
    pub assoc: Association,
    out: Sender<Vec<u8>>,
    pub inp: Receiver<Vec<u8>>,
    rng: Rng,
    pub loss: f64,
    pub dropped: u64,
    /// Non-transmit events seen by `wait_for` that did not match.
    pub backlog: VecDeque<Event>,
    /// Packets this side received from the wire, when set (for tests that mutate them).
    pub capture: Option<Vec<Vec<u8>>>,
}

impl Endpoint {
    pub fn new(
        stack: &Stack,
        cfg: AssociationConfig,
        out: Sender<Vec<u8>>,
        inp: Receiver<Vec<u8>>,
        seed: u64,
    ) -> Self {
        let worker = stack.worker().expect("worker");
        let assoc = worker.associate(cfg).expect("associate");
        Endpoint {
            worker,
            assoc,
            out,
            inp,
            rng: Rng::new(seed),
            loss: 0.0,
            dropped: 0,
            backlog: VecDeque::new(),
            capture: None,
        }
    }

    fn transmit(&mut self, packet: Vec<u8>) {
        if self.loss > 0.0 && self.rng.chance(self.loss) {
            self.dropped += 1;
            return;
        }
        // The peer may be gone; then the packet is lost, as on a real network.
        let _ = self.out.send(packet);
    }

    /// Feeds arriving packets in and carries outgoing ones out; returns the next other event
    /// from the worker (the backlog is not consulted).
    pub fn next_event(&mut self, timeout: Duration) -> Option<Event> {
        let deadline = Instant::now() + timeout;
        loop {
            for packet in self.inp.try_iter().collect::<Vec<_>>() {
                if let Some(c) = &mut self.capture {
                    c.push(packet.clone());
                }
                let _ = self.assoc.input(packet);
            }
            while let Some(ev) = self.worker.try_recv() {
                match ev {
                    Event::Transmit { packet, .. } => self.transmit(packet),
                    other => return Some(other),
                }
            }
            let now = Instant::now();
            if now >= deadline {
                return None;
            }
            let wait = (deadline - now).min(Duration::from_micros(500));
            match self.worker.recv_timeout(wait) {
                Some(Event::Transmit { packet, .. }) => self.transmit(packet),
                Some(other) => return Some(other),
                None => {}
            }
        }
    }

    /// Pumps until an event matches `pred`; others go to the backlog. Panics after `timeout`.
    pub fn wait_for(
        &mut self,
        what: &str,
        timeout: Duration,
        mut pred: impl FnMut(&Event) -> bool,
    ) -> Event {
        if let Some(i) = self.backlog.iter().position(&mut pred) {
            return self.backlog.remove(i).unwrap();
        }
        let deadline = Instant::now() + timeout;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.next_event(left) {
                Some(ev) if pred(&ev) => return ev,
                Some(ev) => self.backlog.push_back(ev),
                None => panic!(
                    "timed out after {timeout:?} waiting for {what}; other events: {:?}",
                    self.backlog
                ),
            }
        }
    }

    /// Waits for the handshake; returns the negotiated (outbound, inbound) stream counts.
    pub fn connected(&mut self) -> (u16, u16) {
        let ev = self.wait_for("Connected", Duration::from_secs(20), |e| {
            matches!(e, Event::Connected { .. })
        });
        assert!(
            !self
                .backlog
                .iter()
                .any(|e| matches!(e, Event::Message { .. })),
            "a message was delivered before Connected: {:?}",
            self.backlog
        );
        match ev {
            Event::Connected {
                outbound_streams,
                inbound_streams,
                ..
            } => (outbound_streams, inbound_streams),
            _ => unreachable!(),
        }
    }

    /// Waits for the association to end and returns why.
    pub fn closed(&mut self) -> CloseReason {
        match self.wait_for("Closed", Duration::from_secs(30), |e| {
            matches!(e, Event::Closed { .. })
        }) {
            Event::Closed { reason, .. } => reason,
            _ => unreachable!(),
        }
    }

    /// Keeps the wire moving for `d`, keeping events in the backlog.
    pub fn pump_for(&mut self, d: Duration) {
        let deadline = Instant::now() + d;
        while let Some(left) = deadline.checked_duration_since(Instant::now()) {
            if let Some(ev) = self.next_event(left) {
                self.backlog.push_back(ev);
            }
        }
    }
}

/// The shared part of one side of a `pair`.
struct Side {
    stack: Stack,
    cfg: AssociationConfig,
    out: Sender<Vec<u8>>,
    inp: Receiver<Vec<u8>>,
    seed: u64,
    loss: f64,
    done: Arc<AtomicUsize>,
    start: Arc<Barrier>,
}

impl Side {
    fn run<R>(self, f: impl FnOnce(&mut Endpoint) -> R) -> R {
        let mut ep = Endpoint::new(&self.stack, self.cfg, self.out, self.inp, self.seed);
        ep.loss = self.loss;
        self.start.wait();
        let r = f(&mut ep);
        self.done.fetch_add(1, Ordering::SeqCst);
        let until = Instant::now() + Duration::from_secs(60);
        while self.done.load(Ordering::SeqCst) < 2 && Instant::now() < until {
            if let Some(ev) = ep.next_event(Duration::from_millis(5)) {
                ep.backlog.push_back(ev);
            }
        }
        // Both sides are done: close cleanly (dropping the handle would abort), carrying
        // packets until the association reports its end.
        if ep.assoc.state() != usrsctp::AssociationState::Closed {
            let _ = ep.assoc.close();
            ep.closed();
        }
        r
    }
}

/// Runs `a` and `b` on two threads, each with its own worker and association, joined by a wire
/// that loses `loss` of the packets each way. Each side keeps carrying packets after its closure
/// returns until the other one is done too, so the last acknowledgements get through.
pub fn pair<RA, RB>(
    cfg_a: AssociationConfig,
    cfg_b: AssociationConfig,
    loss: f64,
    a: impl FnOnce(&mut Endpoint) -> RA + Send + 'static,
    b: impl FnOnce(&mut Endpoint) -> RB + Send + 'static,
) -> (RA, RB)
where
    RA: Send + 'static,
    RB: Send + 'static,
{
    let stack = stack();
    let (a_out, b_in) = crossbeam_channel::unbounded();
    let (b_out, a_in) = crossbeam_channel::unbounded();
    let done = Arc::new(AtomicUsize::new(0));
    let start = Arc::new(Barrier::new(2));
    let side_a = Side {
        stack: stack.clone(),
        cfg: cfg_a,
        out: a_out,
        inp: a_in,
        seed: 0xA,
        loss,
        done: done.clone(),
        start: start.clone(),
    };
    let side_b = Side {
        stack,
        cfg: cfg_b,
        out: b_out,
        inp: b_in,
        seed: 0xB,
        loss,
        done,
        start,
    };
    let ta = std::thread::Builder::new()
        .name("peer-a".into())
        .spawn(move || side_a.run(a))
        .unwrap();
    let tb = std::thread::Builder::new()
        .name("peer-b".into())
        .spawn(move || side_b.run(b))
        .unwrap();
    let ra = ta.join().unwrap_or_else(|e| std::panic::resume_unwind(e));
    let rb = tb.join().unwrap_or_else(|e| std::panic::resume_unwind(e));
    (ra, rb)
}

/// `pair` with default associations and a perfect wire.
pub fn default_pair<RA, RB>(
    a: impl FnOnce(&mut Endpoint) -> RA + Send + 'static,
    b: impl FnOnce(&mut Endpoint) -> RB + Send + 'static,
) -> (RA, RB)
where
    RA: Send + 'static,
    RB: Send + 'static,
{
    pair(
        AssociationConfig::default(),
        AssociationConfig::default(),
        0.0,
        a,
        b,
    )
}

/// Collects `n` messages (other events go to the backlog).
pub fn receive_messages(ep: &mut Endpoint, n: usize, timeout: Duration) -> Vec<usrsctp::Message> {
    let mut got = Vec::with_capacity(n);
    let mut rest = VecDeque::new();
    for ev in ep.backlog.drain(..) {
        match ev {
            Event::Message { message, .. } if got.len() < n => got.push(message),
            other => rest.push_back(other),
        }
    }
    ep.backlog = rest;
    let deadline = Instant::now() + timeout;
    while got.len() < n {
        let left = deadline.saturating_duration_since(Instant::now());
        match ep.next_event(left) {
            Some(Event::Message { message, .. }) => got.push(message),
            Some(other) => ep.backlog.push_back(other),
            None => panic!("timed out with {} of {n} messages", got.len()),
        }
    }
    got
}

/// Decides whether a packet is lost (true) on its way.
pub type PacketFilter = Box<dyn FnMut(&[u8]) -> bool>;

/// Two associations on the calling thread, each on its own worker, joined by a perfect
/// in-memory wire that `step` carries. For tests that must see every event of both sides in
/// order, with no second thread.
pub struct LocalPair {
    pub a: Worker,
    pub b: Worker,
    pub assoc_a: Association,
    pub assoc_b: Association,
    /// Events other than `Transmit`, per side, in arrival order.
    pub events_a: Vec<Event>,
    pub events_b: Vec<Event>,
    /// Packets carried A → B and B → A; `drop_ab` decides which A → B packets are lost.
    pub carried: (u64, u64),
    pub drop_ab: Option<PacketFilter>,
}

impl LocalPair {
    pub fn new(stack: &Stack, cfg_a: AssociationConfig, cfg_b: AssociationConfig) -> Self {
        let a = stack.worker().expect("worker a");
        let b = stack.worker().expect("worker b");
        let assoc_a = a.associate(cfg_a).expect("associate a");
        let assoc_b = b.associate(cfg_b).expect("associate b");
        LocalPair {
            a,
            b,
            assoc_a,
            assoc_b,
            events_a: Vec::new(),
            events_b: Vec::new(),
            carried: (0, 0),
            drop_ab: None,
        }
    }

    /// Takes every waiting event of both sides once, carrying packets; true if anything moved.
    pub fn step(&mut self) -> bool {
        let mut moved = false;
        while let Some(ev) = self.a.try_recv() {
            moved = true;
            self.requeue_a(ev);
        }
        while let Some(ev) = self.b.try_recv() {
            moved = true;
            match ev {
                Event::Transmit { packet, .. } => {
                    self.carried.1 += 1;
                    let _ = self.assoc_a.input(packet);
                }
                other => self.events_b.push(other),
            }
        }
        moved
    }

    /// Steps until `done` holds, waiting on the workers' mailboxes in between. Panics with
    /// `what` after `timeout`.
    pub fn run_until(
        &mut self,
        what: &str,
        timeout: Duration,
        mut done: impl FnMut(&Self) -> bool,
    ) {
        let deadline = Instant::now() + timeout;
        loop {
            self.step();
            if done(self) {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "timed out after {timeout:?} waiting for {what}; A saw {:?}; B saw {:?}",
                self.events_a,
                self.events_b
            );
            // Wait for the next event of either side (no sleep: a mailbox wait).
            if let Some(ev) = self.a.recv_timeout(Duration::from_millis(1)) {
                self.requeue_a(ev);
            }
        }
    }

    fn requeue_a(&mut self, ev: Event) {
        match ev {
            Event::Transmit { packet, .. } => {
                let lose = self.drop_ab.as_mut().is_some_and(|f| f(&packet));
                if !lose {
                    self.carried.0 += 1;
                    let _ = self.assoc_b.input(packet);
                }
            }
            other => self.events_a.push(other),
        }
    }

    /// Sends `text` from A and steps until B has it.
    pub fn exchange(&mut self, text: &str) {
        self.assoc_a
            .send(
                0,
                usrsctp::ppid::STRING,
                text,
                usrsctp::SendOptions::reliable(),
            )
            .expect("send");
        self.run_until("the message", Duration::from_secs(20), |p| {
            p.events_b.iter().any(
                |e| matches!(e, Event::Message { message, .. } if message.data == text.as_bytes()),
            )
        });
    }

    /// Steps until both sides are connected.
    pub fn connect(&mut self) {
        self.run_until("both sides Connected", Duration::from_secs(20), |p| {
            p.events_a
                .iter()
                .any(|e| matches!(e, Event::Connected { .. }))
                && p.events_b
                    .iter()
                    .any(|e| matches!(e, Event::Connected { .. }))
        });
    }
}

/// The `Closed` reason among `events`, if any.
pub fn closed_reason(events: &[Event]) -> Option<CloseReason> {
    events.iter().find_map(|e| match e {
        Event::Closed { reason, .. } => Some(*reason),
        _ => None,
    })
}
