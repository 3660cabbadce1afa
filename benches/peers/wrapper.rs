//! The `usrsctp` crate as an SFU runs it: each side of a pair is a worker on its own thread,
//! sleeping in `poll(2)` on its mailbox's eventfd and on a doorbell eventfd that the peer rings
//! after queueing packets on the in-memory wire (a `crossbeam` channel standing in for DTLS).
//! The crate's stack thread sits between every worker and usrsctp.

use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, Sender};
use usrsctp::{
    ppid, Association, AssociationConfig, CloseReason, Event, SendOptions, Stack, StackConfig,
    Worker,
};

use super::{payload, wait_readable, Doorbell};

/// Messages queued per burst between two passes over the mailbox.
const SEND_BURST: usize = 256;
/// Events taken from the mailbox per pass.
const DRAIN: usize = 1024;
/// Upper bound of one sleep; every wake-up that matters comes from an eventfd.
const IDLE_WAIT: Duration = Duration::from_millis(5);
/// How long establishing a pair may take before the benchmark gives up.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// The running stack with the default (WebRTC-grade) configuration, started if needed.
pub fn stack() -> Stack {
    assert!(
        !super::raw::RawStack::active(),
        "the raw benchmark's usrsctp is still initialised"
    );
    stack_with(StackConfig::default())
}

/// A stack with `config` (the previous one must have been shut down).
pub fn stack_with(config: StackConfig) -> Stack {
    assert!(
        !super::raw::RawStack::active(),
        "the raw benchmark's usrsctp is still initialised"
    );
    Stack::get_or_start(config).expect("starting the usrsctp stack")
}

/// The association settings the benchmarks use: the crate's defaults (MTU 1200, 1 MiB send
/// high-water mark, 1 MiB receive credit, 256 KiB max message size).
pub fn association_config() -> AssociationConfig {
    AssociationConfig::default()
}

enum Ctrl {
    /// Queue this many more messages.
    Send {
        count: u64,
    },
    /// Report on `done` once this many messages (cumulative) have arrived.
    Expect {
        total: u64,
    },
    /// Time `iters` round trips and send the total on `reply`.
    Ping {
        iters: u64,
        reply: Sender<Duration>,
    },
    Stop,
}

#[derive(Copy, Clone)]
enum Role {
    Sender,
    Receiver,
    Pinger,
    Echo,
}

/// One side's worker, association and wire ends.
struct Side {
    worker: Worker,
    assoc: Association,
    inbox: Receiver<Vec<u8>>,
    bell: Arc<Doorbell>,
    out: Sender<Vec<u8>>,
    peer_bell: Arc<Doorbell>,
    events: Vec<Event>,
}

impl Side {
    /// Feeds what arrived on the wire, carries the mailbox's packets to the peer, and moves the
    /// other events to `others`. Returns true if anything happened.
    fn pass(&mut self, others: &mut Vec<Event>) -> bool {
        let mut progress = false;
        for packet in self.inbox.try_iter() {
            progress = true;
            // Input fails only once the association is closed; the roles notice that.
            let _ = self.assoc.input(packet);
        }
        let mut carried = 0;
        self.events.clear();
        if self.worker.drain(&mut self.events, DRAIN) > 0 {
            progress = true;
        }
        for event in self.events.drain(..) {
            match event {
                Event::Transmit { packet, .. } => {
                    let _ = self.out.send(packet);
                    carried += 1;
                }
                other => others.push(other),
            }
        }
        if carried > 0 {
            self.peer_bell.ring();
        }
        progress
    }

    /// Sleeps until the mailbox or the doorbell is readable.
    fn wait(&self) {
        let [_, bell] = wait_readable([self.worker_fd(), self.bell.raw_fd()], IDLE_WAIT);
        if bell {
            self.bell.clear();
        }
    }

    fn worker_fd(&self) -> std::os::fd::RawFd {
        use std::os::fd::AsRawFd;
        self.worker.as_raw_fd()
    }
}

/// A pair of associations on two worker threads: `a` sends (or pings), `b` receives (or echoes).
pub struct WrapperPair {
    ctrl_a: Sender<Ctrl>,
    bell_a: Arc<Doorbell>,
    ctrl_b: Sender<Ctrl>,
    bell_b: Arc<Doorbell>,
    done: Receiver<()>,
    expected: u64,
    threads: Vec<JoinHandle<()>>,
}

impl WrapperPair {
    /// A bulk pair: `a` sends messages of `size` bytes on stream 0 (reliable, ordered), `b`
    /// counts them.
    pub fn bulk(stack: &Stack, size: usize) -> WrapperPair {
        Self::new(stack, size, Role::Sender, Role::Receiver)
    }

    /// A ping pair: `a` sends a `size`-byte message and waits for `b` to echo it back.
    pub fn echo(stack: &Stack, size: usize) -> WrapperPair {
        Self::new(stack, size, Role::Pinger, Role::Echo)
    }

    fn new(stack: &Stack, size: usize, role_a: Role, role_b: Role) -> WrapperPair {
        let (a_out, b_in) = crossbeam_channel::unbounded();
        let (b_out, a_in) = crossbeam_channel::unbounded();
        let bell_a = Arc::new(Doorbell::new().expect("eventfd"));
        let bell_b = Arc::new(Doorbell::new().expect("eventfd"));
        let (ctrl_a, ctrl_a_rx) = crossbeam_channel::unbounded();
        let (ctrl_b, ctrl_b_rx) = crossbeam_channel::unbounded();
        let (done_tx, done) = crossbeam_channel::unbounded();
        let (ready_tx, ready) = crossbeam_channel::unbounded();
        let spawn = |role: Role,
                     inbox: Receiver<Vec<u8>>,
                     out: Sender<Vec<u8>>,
                     bell: Arc<Doorbell>,
                     peer_bell: Arc<Doorbell>,
                     ctrl: Receiver<Ctrl>| {
            let stack = stack.clone();
            let done = done_tx.clone();
            let ready = ready_tx.clone();
            std::thread::Builder::new()
                .name("bench-worker".into())
                .spawn(move || {
                    let worker = stack.worker().expect("worker");
                    let assoc = worker.associate(association_config()).expect("associate");
                    let side = Side {
                        worker,
                        assoc,
                        inbox,
                        bell,
                        out,
                        peer_bell,
                        events: Vec::with_capacity(DRAIN),
                    };
                    run(role, side, size, ctrl, ready, done);
                })
                .expect("spawning a worker thread")
        };
        let threads = vec![
            spawn(
                role_a,
                a_in,
                a_out,
                bell_a.clone(),
                bell_b.clone(),
                ctrl_a_rx,
            ),
            spawn(
                role_b,
                b_in,
                b_out,
                bell_b.clone(),
                bell_a.clone(),
                ctrl_b_rx,
            ),
        ];
        for _ in 0..2 {
            ready
                .recv_timeout(CONNECT_TIMEOUT)
                .expect("the pair did not connect");
        }
        WrapperPair {
            ctrl_a,
            bell_a,
            ctrl_b,
            bell_b,
            done,
            expected: 0,
            threads,
        }
    }

    /// Starts a one-way transfer of `count` messages; [`wait`](Self::wait) waits for its end.
    pub fn start(&mut self, count: u64) {
        self.expected += count;
        self.ctrl_b
            .send(Ctrl::Expect {
                total: self.expected,
            })
            .expect("receiver alive");
        self.bell_b.ring();
        self.ctrl_a
            .send(Ctrl::Send { count })
            .expect("sender alive");
        self.bell_a.ring();
    }

    /// Waits until the receiver has every message started so far.
    pub fn wait(&self) {
        self.done
            .recv_timeout(Duration::from_secs(60))
            .expect("transfer did not complete within 60 s");
    }

    /// Transfers `count` messages and returns how long it took.
    pub fn transfer(&mut self, count: u64) -> Duration {
        let start = Instant::now();
        self.start(count);
        self.wait();
        start.elapsed()
    }

    /// Times `iters` round trips (measured on the pinging thread).
    pub fn ping(&self, iters: u64) -> Duration {
        let (reply, answer) = crossbeam_channel::bounded(1);
        self.ctrl_a
            .send(Ctrl::Ping { iters, reply })
            .expect("pinger alive");
        self.bell_a.ring();
        answer
            .recv_timeout(Duration::from_secs(60))
            .expect("round trips did not complete within 60 s")
    }
}

impl Drop for WrapperPair {
    fn drop(&mut self) {
        let _ = self.ctrl_a.send(Ctrl::Stop);
        let _ = self.ctrl_b.send(Ctrl::Stop);
        self.bell_a.ring();
        self.bell_b.ring();
        for t in self.threads.drain(..) {
            let _ = t.join();
        }
    }
}

fn run(
    role: Role,
    mut side: Side,
    size: usize,
    ctrl: Receiver<Ctrl>,
    ready: Sender<()>,
    done: Sender<()>,
) {
    let data = payload(size);
    let mut others = Vec::new();
    // Establish.
    let deadline = Instant::now() + CONNECT_TIMEOUT;
    let mut connected = false;
    while !connected && Instant::now() < deadline {
        if !side.pass(&mut others) {
            side.wait();
        }
        connected = others
            .drain(..)
            .any(|e| matches!(e, Event::Connected { .. }));
    }
    assert!(connected, "association did not connect");
    let _ = ready.send(());

    let mut remaining = 0u64; // Sender: messages still to queue.
    let mut blocked = false; // Sender: WouldBlock seen, BufferedAmountLow not yet.
    let mut received = 0u64; // Receiver: messages so far.
    let mut target = u64::MAX; // Receiver: report when `received` reaches it.
    loop {
        let mut progress = false;
        for cmd in ctrl.try_iter() {
            progress = true;
            match cmd {
                Ctrl::Send { count } => remaining += count,
                Ctrl::Expect { total } => target = total,
                Ctrl::Ping { iters, reply } => {
                    let _ = reply.send(ping(&mut side, &data, iters));
                }
                Ctrl::Stop => {
                    // Abort: the peer is stopping too, nobody would carry a SHUTDOWN handshake.
                    let _ = side.assoc.abort();
                    return;
                }
            }
        }
        progress |= side.pass(&mut others);
        for event in others.drain(..) {
            match event {
                Event::Message { message, .. } => {
                    debug_assert_eq!(message.data.len(), size);
                    match role {
                        Role::Echo => {
                            side.assoc
                                .send(0, ppid::BINARY, message.data, SendOptions::reliable())
                                .expect("echo");
                        }
                        _ => received += 1,
                    }
                }
                Event::BufferedAmountLow { .. } => blocked = false,
                Event::Closed { reason, .. } => {
                    assert_eq!(reason, CloseReason::StackShutdown, "pair closed early");
                    return;
                }
                _ => {}
            }
        }
        if received >= target {
            target = u64::MAX;
            let _ = done.send(());
        }
        let mut burst = 0;
        while remaining > 0 && !blocked && burst < SEND_BURST {
            match side
                .assoc
                .send(0, ppid::BINARY, &data[..], SendOptions::reliable())
            {
                Ok(_) => {
                    remaining -= 1;
                    burst += 1;
                    progress = true;
                }
                Err(e) if e.is_would_block() => blocked = true,
                Err(e) => panic!("send: {e}"),
            }
        }
        if !progress {
            side.wait();
        }
    }
}

/// `iters` round trips of `data`, on the pinging side's thread.
fn ping(side: &mut Side, data: &[u8], iters: u64) -> Duration {
    let mut others = Vec::new();
    let start = Instant::now();
    for _ in 0..iters {
        side.assoc
            .send(0, ppid::BINARY, data, SendOptions::reliable())
            .expect("ping");
        let mut answered = false;
        while !answered {
            let progress = side.pass(&mut others);
            answered = others.drain(..).any(|e| matches!(e, Event::Message { .. }));
            if !answered && !progress {
                side.wait();
            }
        }
    }
    start.elapsed()
}

/// Two workers on the calling thread, for the association setup benchmark: packets are handed
/// from one mailbox straight to the other association's `input`.
pub struct SetupPair {
    a: Worker,
    b: Worker,
    events: Vec<Event>,
}

impl SetupPair {
    pub fn new(stack: &Stack) -> SetupPair {
        SetupPair {
            a: stack.worker().expect("worker"),
            b: stack.worker().expect("worker"),
            events: Vec::new(),
        }
    }

    /// Brings an association pair up, closes it gracefully and waits until both sides report
    /// `Closed`.
    pub fn cycle(&mut self) {
        let aa = self.a.associate(association_config()).expect("associate");
        let ab = self.b.associate(association_config()).expect("associate");
        let deadline = Instant::now() + CONNECT_TIMEOUT;
        let (mut up, mut closed) = ([false; 2], [false; 2]);
        let mut close_sent = false;
        while !(closed[0] && closed[1]) {
            assert!(Instant::now() < deadline, "setup cycle timed out");
            let mut progress = false;
            for (i, (w, peer)) in [(&self.a, &ab), (&self.b, &aa)].into_iter().enumerate() {
                self.events.clear();
                if w.drain(&mut self.events, DRAIN) > 0 {
                    progress = true;
                }
                for event in self.events.drain(..) {
                    match event {
                        Event::Transmit { packet, .. } => {
                            let _ = peer.input(packet);
                        }
                        Event::Connected { .. } => up[i] = true,
                        Event::Closed { reason, .. } => {
                            assert_eq!(reason, CloseReason::Graceful);
                            closed[i] = true;
                        }
                        _ => {}
                    }
                }
            }
            if up[0] && up[1] && !close_sent {
                close_sent = true;
                aa.close().expect("close");
                progress = true;
            }
            if !progress {
                use std::os::fd::AsRawFd;
                wait_readable([self.a.as_raw_fd(), self.b.as_raw_fd()], IDLE_WAIT);
            }
        }
    }
}
