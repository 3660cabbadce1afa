//! Issue 15, item 2: `Stack::shutdown_graceful` closes every association gracefully while the
//! workers keep carrying packets, and aborts what is left at its deadline. Either way every
//! message `send` accepted ends delivered or reported by `SendFailed`, and owners get `Closed`.
//!
//! Each test starts a stack of its own and shuts it down; only one usrsctp stack can run at a
//! time, so the tests of this file take turns (`ONE_STACK`).

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{mpsc, Mutex, MutexGuard, PoisonError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use common::test_stack_config;
use usrsctp::{
    ppid, AssociationConfig, AssociationState, CloseReason, Error, Event, SendFailure, SendOptions,
    Stack, Worker,
};
use usrsctp_test_support::{pattern, pattern_seq};

static ONE_STACK: Mutex<()> = Mutex::new(());

fn one_stack() -> MutexGuard<'static, ()> {
    // A test that failed while holding it poisons it; the next one may still run.
    ONE_STACK.lock().unwrap_or_else(PoisonError::into_inner)
}

const SIZE: usize = 1000;
/// How long any one side may run before the test fails.
const LIMIT: Duration = Duration::from_secs(30);

/// A small socket send buffer, so most of a burst waits in the crate's queue, not in usrsctp.
fn config() -> AssociationConfig {
    AssociationConfig {
        max_message_size: 2048,
        send_buffer: Some(8 * 1024),
        send_high_water: 4 * 1024 * 1024,
        ..AssociationConfig::default()
    }
}

/// What one side saw, up to its `Closed`.
#[derive(Debug, Default)]
struct Report {
    /// The ids of the messages it sent, by sequence number.
    sent: BTreeMap<u32, u32>,
    delivered: Vec<u32>,
    failed: BTreeMap<u32, SendFailure>,
    closed: Option<CloseReason>,
}

/// What a side tells the test.
#[derive(Debug, PartialEq)]
enum Note {
    Connected,
    /// The burst was sent; this many bytes of it wait ahead of usrsctp.
    Sent {
        buffered: usize,
    },
    /// It stopped carrying packets.
    Stalled,
    /// Its association is closing: the graceful shutdown has begun.
    Closing,
}

/// How a side behaves.
#[derive(Clone, Copy, Default)]
struct Role {
    /// Send this many messages when the test says go.
    burst: u32,
    /// Keep the packets output from the burst on (in order) instead of carrying them, until
    /// the association is closing (the graceful shutdown has begun); then carry them.
    hold_until_closing: bool,
    /// After this many messages received, stop carrying packets for good.
    stall_after: Option<usize>,
}

/// Runs a worker on its own thread (its association is confined to it) until its association
/// is closed: packets go out on `out` and come in on `inp`; `go` starts the burst.
fn spawn_side(
    worker: Worker,
    role: Role,
    out: mpsc::Sender<Vec<u8>>,
    inp: mpsc::Receiver<Vec<u8>>,
    go: mpsc::Receiver<()>,
    notes: mpsc::Sender<Note>,
) -> JoinHandle<Report> {
    std::thread::spawn(move || {
        let assoc = worker.associate(config()).expect("associate");
        let mut report = Report::default();
        let (mut holding, mut stalled, mut closing) = (false, false, false);
        let mut held: Vec<Vec<u8>> = Vec::new();
        let limit = Instant::now() + LIMIT;
        loop {
            assert!(
                Instant::now() < limit,
                "side still open after {LIMIT:?}: {report:?}"
            );
            if go.try_recv().is_ok() {
                holding = role.hold_until_closing;
                for seq in 0..role.burst {
                    let id = assoc
                        .send(
                            0,
                            ppid::BINARY,
                            pattern(1, seq, SIZE),
                            SendOptions::reliable(),
                        )
                        .expect("send");
                    report.sent.insert(id.get(), seq);
                }
                let _ = notes.send(Note::Sent {
                    buffered: assoc.buffered_amount(),
                });
            }
            if !closing
                && matches!(
                    assoc.state(),
                    AssociationState::Closing | AssociationState::Closed
                )
            {
                closing = true;
                holding = false;
                let _ = notes.send(Note::Closing);
            }
            if !holding {
                for p in held.drain(..) {
                    let _ = out.send(p);
                }
            }
            for packet in inp.try_iter() {
                let _ = assoc.input(packet);
            }
            // A short wait: the channels and the state are looked at again after it.
            let Some(ev) = worker.recv_timeout(Duration::from_millis(1)) else {
                continue;
            };
            match ev {
                // A stalled side drops its packets.
                Event::Transmit { .. } if stalled => {}
                Event::Transmit { packet, .. } if holding => held.push(packet),
                Event::Transmit { packet, .. } => {
                    let _ = out.send(packet);
                }
                Event::Connected { .. } => {
                    let _ = notes.send(Note::Connected);
                }
                Event::Message { message, .. } => {
                    let seq = pattern_seq(1, &message.data).expect("an intact payload");
                    report.delivered.push(seq);
                    if role.stall_after == Some(report.delivered.len()) {
                        stalled = true;
                        let _ = notes.send(Note::Stalled);
                    }
                }
                Event::SendFailed {
                    message, reason, ..
                } => {
                    let again = report.failed.insert(message.get(), reason);
                    assert!(again.is_none(), "message {} reported twice", message.get());
                }
                Event::Closed { reason, .. } => {
                    report.closed = Some(reason);
                    break;
                }
                _ => {}
            }
        }
        // Packets output with the end (the last of the SHUTDOWN handshake) still go out.
        while let Some(ev) = worker.try_recv() {
            if let (Event::Transmit { packet, .. }, false) = (ev, stalled) {
                let _ = out.send(packet);
            }
        }
        report
    })
}

/// A connected pair on a fresh stack, each side on its own thread; `a` sends its burst.
struct Pair {
    stack: Stack,
    go: mpsc::Sender<()>,
    notes_a: mpsc::Receiver<Note>,
    notes_b: mpsc::Receiver<Note>,
    side_a: JoinHandle<Report>,
    side_b: JoinHandle<Report>,
    _stop: StopOnDrop,
}

/// Stops the stack when a test fails half-way, so the next test can start its own.
struct StopOnDrop(Stack);

impl Drop for StopOnDrop {
    fn drop(&mut self) {
        let _ = self.0.shutdown();
    }
}

fn next_note(notes: &mpsc::Receiver<Note>) -> Note {
    notes
        .recv_timeout(Duration::from_secs(10))
        .expect("a side reports within 10 s")
}

fn pair(role_a: Role, role_b: Role) -> Pair {
    let stack = Stack::start(test_stack_config()).expect("a stack of this test's own");
    let (wa, wb) = (stack.worker().unwrap(), stack.worker().unwrap());
    let (a_out, b_in) = mpsc::channel();
    let (b_out, a_in) = mpsc::channel();
    let (go, go_a) = mpsc::channel();
    let (_go_b_tx, go_b) = mpsc::channel();
    let (na_tx, notes_a) = mpsc::channel();
    let (nb_tx, notes_b) = mpsc::channel();
    let side_a = spawn_side(wa, role_a, a_out, a_in, go_a, na_tx);
    let side_b = spawn_side(wb, role_b, b_out, b_in, go_b, nb_tx);
    let _stop = StopOnDrop(stack.clone());
    assert_eq!(next_note(&notes_a), Note::Connected);
    assert_eq!(next_note(&notes_b), Note::Connected);
    std::mem::forget(_stop);
    Pair {
        _stop: StopOnDrop(stack.clone()),
        stack,
        go,
        notes_a,
        notes_b,
        side_a,
        side_b,
    }
}

#[test]
fn graceful_shutdown_delivers_every_queued_message() {
    let _one = one_stack();
    const N: u32 = 300;
    let p = pair(
        Role {
            burst: N,
            hold_until_closing: true,
            ..Role::default()
        },
        Role::default(),
    );
    // a's packets are held from the burst on, so nothing is acknowledged: usrsctp keeps what
    // its small buffer took, and the rest of the burst stays queued ahead of it.
    p.go.send(()).unwrap();
    let Note::Sent { buffered } = next_note(&p.notes_a) else {
        panic!("the burst")
    };
    assert!(
        buffered >= (N as usize * SIZE) / 2,
        "most of the burst waits beyond usrsctp's buffer: {buffered} bytes"
    );
    // a's side lets its packets go once the shutdown has begun (a is closing).
    let start = Instant::now();
    p.stack
        .shutdown_graceful(Duration::from_secs(10))
        .expect("graceful shutdown");
    let took = start.elapsed();
    assert!(!p.stack.is_running());
    assert!(
        took < Duration::from_secs(10),
        "ended by the associations closing, not by the deadline: {took:?}"
    );
    let ra = p.side_a.join().expect("side a");
    let rb = p.side_b.join().expect("side b");
    assert_eq!(ra.sent.len(), N as usize);
    assert!(
        ra.failed.is_empty(),
        "no message failed; {} did, the first: {:?}",
        ra.failed.len(),
        ra.failed.iter().next()
    );
    assert_eq!(
        rb.delivered,
        (0..N).collect::<Vec<_>>(),
        "every message delivered, in order"
    );
    assert_eq!(ra.closed, Some(CloseReason::StackShutdown));
    assert_eq!(rb.closed, Some(CloseReason::StackShutdown));
    // Done: new work is refused, and a second call is harmless.
    assert!(matches!(p.stack.worker(), Err(Error::StackShutdown)));
    p.stack
        .shutdown_graceful(Duration::from_secs(1))
        .expect("a second call");
    p.stack.shutdown().expect("and a shutdown after it");
}

/// The stalled case: b stops carrying packets after 20 messages, so a gets no more
/// acknowledgements; `stop` shuts the stack down. Checks every message's outcome; returns how
/// long `stop` took.
fn stalled_shutdown(stop: impl FnOnce(&Pair) -> Result<(), Error>) -> Duration {
    const N: u32 = 200;
    let p = pair(
        Role {
            burst: N,
            ..Role::default()
        },
        Role {
            stall_after: Some(20),
            ..Role::default()
        },
    );
    p.go.send(()).unwrap();
    assert!(matches!(next_note(&p.notes_a), Note::Sent { .. }));
    assert_eq!(next_note(&p.notes_b), Note::Stalled);
    let start = Instant::now();
    stop(&p).expect("shutdown");
    let took = start.elapsed();
    assert!(!p.stack.is_running());
    let ra = p.side_a.join().expect("side a");
    let rb = p.side_b.join().expect("side b");
    let delivered: BTreeSet<u32> = rb.delivered.iter().copied().collect();
    assert!(delivered.len() >= 20, "b got the first messages");
    assert!(delivered.len() < N as usize, "b stalled before the end");
    let mut failed = BTreeSet::new();
    for (id, reason) in &ra.failed {
        let seq = *ra
            .sent
            .get(id)
            .unwrap_or_else(|| panic!("unknown message {id}"));
        // One b got but whose acknowledgement never came back is reported too: it had been
        // sent, as its report says.
        if delivered.contains(&seq) {
            assert_eq!(
                *reason,
                SendFailure::Abandoned { sent: true },
                "message {seq}"
            );
        }
        failed.insert(seq);
    }
    let accounted: BTreeSet<u32> = delivered.union(&failed).copied().collect();
    assert_eq!(
        accounted,
        (0..N).collect::<BTreeSet<_>>(),
        "every message delivered or reported failed"
    );
    assert_eq!(ra.closed, Some(CloseReason::StackShutdown));
    assert_eq!(rb.closed, Some(CloseReason::StackShutdown));
    took
}

#[test]
fn a_stalled_peer_is_aborted_at_the_deadline() {
    let _one = one_stack();
    const DEADLINE: Duration = Duration::from_millis(300);
    let took = stalled_shutdown(|p| {
        // A deadline past the allowed hour is refused, and changes nothing.
        for bad in [Duration::MAX, Duration::from_secs(3601)] {
            let err = p.stack.shutdown_graceful(bad).unwrap_err();
            assert!(
                matches!(
                    err,
                    Error::InvalidConfig {
                        field: "deadline",
                        ..
                    }
                ),
                "{err}"
            );
        }
        assert!(p.stack.is_running());
        p.stack.shutdown_graceful(DEADLINE)
    });
    assert!(took >= DEADLINE, "waited for the deadline: {took:?}");
    assert!(took < Duration::from_secs(10), "then aborted: {took:?}");
}

#[test]
fn shutdown_cuts_a_graceful_shutdown_short() {
    let _one = one_stack();
    let took = stalled_shutdown(|p| {
        std::thread::scope(|s| {
            let stack = &p.stack;
            let graceful = s.spawn(move || stack.shutdown_graceful(Duration::from_secs(60)));
            // Once the graceful shutdown has begun (a is closing), a plain one ends it now.
            assert_eq!(next_note(&p.notes_a), Note::Closing);
            assert!(matches!(stack.worker(), Err(Error::StackShutdown)));
            p.stack.shutdown()?;
            graceful.join().expect("the graceful caller")
        })
    });
    assert!(
        took < Duration::from_secs(30),
        "not the 60 s deadline: {took:?}"
    );
}
