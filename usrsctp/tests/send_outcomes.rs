//! Issue 12, items 3 to 6: every message `send` accepted ends delivered or reported as
//! `SendFailed`, whichever way its association ends, and a sender waiting for
//! `BufferedAmountLow` is always told.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use common::test_stack_config;
use usrsctp::{
    ppid, Association, AssociationConfig, CloseReason, Error, Event, SendFailure, SendOptions,
    Stack, Worker,
};

/// One side: a worker, its association (dropped when the test says so), and what it saw.
struct Side {
    worker: Worker,
    assoc: Option<Association>,
    /// Message ids reported failed, and whether any of the message had been sent.
    failed: BTreeMap<u32, bool>,
    /// Message ids (as the sender numbered them) delivered here.
    delivered: BTreeSet<u32>,
    closed: Option<CloseReason>,
    connected: bool,
    low_events: usize,
}

impl Side {
    fn new(stack: &Stack, cfg: AssociationConfig) -> Side {
        let worker = stack.worker().expect("worker");
        let assoc = Some(worker.associate(cfg).expect("associate"));
        Side {
            worker,
            assoc,
            failed: BTreeMap::new(),
            delivered: BTreeSet::new(),
            closed: None,
            connected: false,
            low_events: 0,
        }
    }

    fn assoc(&self) -> &Association {
        self.assoc.as_ref().expect("association still held")
    }

    /// Takes every waiting event; packets go to `peer` (if it still has a handle and `carry`).
    fn pump(&mut self, peer: Option<&Association>, carry: bool) {
        while let Some(ev) = self.worker.try_recv() {
            match ev {
                Event::Transmit { packet, .. } => {
                    if let (Some(p), true) = (peer, carry) {
                        let _ = p.input(packet);
                    }
                }
                Event::Connected { .. } => self.connected = true,
                Event::Message { message, .. } => {
                    let id = u32::from_be_bytes(message.data[..4].try_into().expect("id"));
                    assert!(self.delivered.insert(id), "message {id} delivered twice");
                }
                Event::SendFailed {
                    message, reason, ..
                } => {
                    let sent = matches!(reason, SendFailure::Abandoned { sent: true });
                    let again = self.failed.insert(message.get(), sent);
                    assert!(again.is_none(), "message {} reported twice", message.get());
                }
                Event::BufferedAmountLow { .. } => self.low_events += 1,
                Event::Closed { reason, .. } => self.closed = Some(reason),
                _ => {}
            }
        }
    }
}

/// Pumps both sides until `done`; `carry_ab` / `carry_ba` say whether packets get through.
fn run(
    a: &mut Side,
    b: &mut Side,
    carry: (bool, bool),
    what: &str,
    done: impl Fn(&Side, &Side) -> bool,
) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while !done(a, b) {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        let pb = b.assoc.as_ref();
        a.pump(pb, carry.0);
        let pa = a.assoc.as_ref();
        b.pump(pa, carry.1);
        let _ = a.worker.recv_timeout(Duration::from_millis(1)).map(|ev| {
            // Put it back through the same path: handle it as `pump` would.
            match ev {
                Event::Transmit { packet, .. } => {
                    if let (Some(p), true) = (b.assoc.as_ref(), carry.0) {
                        let _ = p.input(packet);
                    }
                }
                other => handle_other(a, other),
            }
        });
    }
}

fn handle_other(side: &mut Side, ev: Event) {
    match ev {
        Event::Connected { .. } => side.connected = true,
        Event::SendFailed {
            message, reason, ..
        } => {
            let sent = matches!(reason, SendFailure::Abandoned { sent: true });
            assert!(side.failed.insert(message.get(), sent).is_none());
        }
        Event::BufferedAmountLow { .. } => side.low_events += 1,
        Event::Closed { reason, .. } => side.closed = Some(reason),
        Event::Message { message, .. } => {
            let id = u32::from_be_bytes(message.data[..4].try_into().expect("id"));
            assert!(side.delivered.insert(id));
        }
        _ => {}
    }
}

fn connected_pair(stack: &Stack, cfg_a: AssociationConfig) -> (Side, Side) {
    connected_pair_with(stack, cfg_a, AssociationConfig::default())
}

fn connected_pair_with(
    stack: &Stack,
    cfg_a: AssociationConfig,
    cfg_b: AssociationConfig,
) -> (Side, Side) {
    let mut a = Side::new(stack, cfg_a);
    let mut b = Side::new(stack, cfg_b);
    run(&mut a, &mut b, (true, true), "Connected", |a, b| {
        a.connected && b.connected
    });
    (a, b)
}

/// Sends up to `n` messages of `len` bytes carrying their own `MessageId`; returns the ids
/// accepted.
fn send_many(side: &Side, n: usize, len: usize) -> Vec<u32> {
    let mut accepted = Vec::new();
    for i in 0..n as u32 {
        // The payload carries the message's index among the accepted ones.
        let mut data = vec![0xAB; len];
        data[..4].copy_from_slice(&i.to_be_bytes());
        match side
            .assoc()
            .send(0, ppid::BINARY, data, SendOptions::reliable())
        {
            Ok(id) => accepted.push(id.get()),
            Err(e) if e.is_would_block() => break,
            Err(e) => panic!("send: {e}"),
        }
    }
    accepted
}

/// Every accepted message is delivered or reported failed; a message both delivered and
/// reported must have been reported as possibly sent.
fn assert_every_outcome(accepted: &[u32], a: &Side, b: &Side) {
    let mut unaccounted = Vec::new();
    for (index, &id) in accepted.iter().enumerate() {
        let delivered = b.delivered.contains(&(index as u32));
        match a.failed.get(&id) {
            Some(&sent) => assert!(
                !delivered || sent,
                "message {id} delivered but reported as never sent"
            ),
            None if delivered => {}
            None => unaccounted.push(id),
        }
    }
    assert!(
        unaccounted.is_empty(),
        "{} of {} accepted messages have no outcome (delivered {}, failed {}): {:?}",
        unaccounted.len(),
        accepted.len(),
        b.delivered.len(),
        a.failed.len(),
        &unaccounted[..unaccounted.len().min(10)]
    );
}

#[test]
fn send_outcomes() {
    let stack = Stack::get_or_start(test_stack_config()).expect("stack");

    // 3. Dropping the handle with 1,000 x 1 KiB in flight: what was not delivered is reported,
    //    both sides learn the end promptly.
    let (mut a, mut b) = connected_pair(&stack, AssociationConfig::default());
    let accepted = send_many(&a, 1000, 1024);
    assert!(accepted.len() > 100, "{} accepted", accepted.len());
    drop(a.assoc.take());
    run(
        &mut a,
        &mut b,
        (true, true),
        "both ends closed after the drop",
        |a, b| a.closed.is_some() && b.closed.is_some(),
    );
    assert_eq!(a.closed, Some(CloseReason::AbortedLocally));
    assert_eq!(
        b.closed,
        Some(CloseReason::AbortedByPeer),
        "the peer is told by an ABORT"
    );
    assert_every_outcome(&accepted, &a, &b);
    assert!(
        !a.failed.is_empty(),
        "a drop mid-transfer leaves something to report"
    );

    // 4. A local abort reports what usrsctp already holds, not only our own queue: the peer
    //    receives nothing (its packets are not carried), so every message must be reported.
    let (mut a, mut b) = connected_pair(&stack, AssociationConfig::default());
    let accepted = send_many(&a, 100, 1024);
    assert_eq!(accepted.len(), 100);
    // Let usrsctp take them all (and put some on the wire, which is cut).
    run(
        &mut a,
        &mut b,
        (false, false),
        "usrsctp took every message",
        |a, _| a.assoc().buffered_amount() == 0,
    );
    a.assoc().abort().expect("abort");
    run(&mut a, &mut b, (false, false), "Closed", |a, _| {
        a.closed.is_some()
    });
    assert_eq!(a.closed, Some(CloseReason::AbortedLocally));
    assert_every_outcome(&accepted, &a, &b);
    assert_eq!(a.failed.len(), 100);
    drop(b);

    // 4b. The peer's ABORT with a full send queue here: usrsctp reports every message it held
    //     (it drops reports that do not fit the receive buffer; the stack makes room first).
    // B's receive buffer (128 KiB) is far smaller than the reports of what it holds.
    let small_receive_buffer = AssociationConfig {
        recv_buffer: Some(128 * 1024),
        ..Default::default()
    };
    let (mut a, mut b) =
        connected_pair_with(&stack, AssociationConfig::default(), small_receive_buffer);
    // 600 KiB: all of it fits usrsctp's 1 MiB send buffer at once (more would wait in our
    // queue for acknowledgements that never come, until B gives up on its own).
    let accepted = send_many(&b, 600, 1024);
    assert_eq!(accepted.len(), 600);
    // B's packets never reach A: everything stays unacknowledged in B's usrsctp, and the
    // reports (each carrying its message) need more room than B's receive buffer has free.
    run(
        &mut a,
        &mut b,
        (true, false),
        "usrsctp took B's messages",
        |_, b| b.assoc().buffered_amount() == 0,
    );
    a.assoc().abort().expect("abort");
    run(&mut a, &mut b, (true, false), "both closed", |a, b| {
        a.closed.is_some() && b.closed.is_some()
    });
    assert_eq!(b.closed, Some(CloseReason::AbortedByPeer));
    assert_every_outcome(&accepted, &b, &a);
    assert_eq!(b.failed.len(), accepted.len(), "nothing was delivered");

    // 5. After its worker was dropped, a handle refuses to send (nobody would learn the
    //    outcome); after the association closed, too.
    let (a, b) = connected_pair(&stack, AssociationConfig::default());
    let Side { worker, assoc, .. } = a;
    drop(worker);
    let err = assoc
        .as_ref()
        .expect("handle")
        .send(0, ppid::BINARY, vec![1; 8], SendOptions::reliable())
        .expect_err("the worker is gone");
    assert!(matches!(err, Error::Closed { .. }), "{err}");
    drop(assoc);
    drop(b);

    // 6. With an explicit low threshold at or above high-water minus a message, a WouldBlock
    //    can come while the buffered amount is already at or below the threshold; the waiting
    //    sender must still get BufferedAmountLow.
    let cfg = AssociationConfig {
        max_message_size: 16 * 1024,
        send_high_water: 64 * 1024,
        buffered_amount_low_threshold: Some(60 * 1024),
        ..Default::default()
    };
    let (mut a, mut b) = connected_pair(&stack, cfg);
    // Sends pile up behind a cut wire (usrsctp's window fills), then WouldBlock.
    let mut blocked = false;
    for _ in 0..10_000 {
        match a
            .assoc()
            .send(0, ppid::BINARY, vec![7; 16 * 1024], SendOptions::reliable())
        {
            Ok(_) => {}
            Err(e) if e.is_would_block() => {
                blocked = true;
                break;
            }
            Err(e) => panic!("send: {e}"),
        }
        a.pump(None, false);
    }
    assert!(blocked, "the queue filled");
    let lows_before = a.low_events;
    run(
        &mut a,
        &mut b,
        (true, true),
        "BufferedAmountLow after the WouldBlock",
        |a, _| a.low_events > lows_before,
    );
}
