//! The stall probe: an association with data outstanding that usrsctp has stopped
//! retransmitting (sctplab/usrsctp#750) gets its data replayed by the stack thread.
//!
//! usrsctp's lost timer cannot be provoked on demand, so this test shows the mechanism on the
//! case that looks the same from outside: the only DATA packet is lost and the retransmission
//! timer is set far out (3 s). The probe (300 ms) must replay the data before the timer would,
//! the peer must deliver it, and an association with nothing outstanding must not be probed.

use std::time::{Duration, Instant};

use usrsctp::{
    ppid, Association, AssociationConfig, Diagnostics, Event, SendOptions, Stack, StackConfig,
    Worker,
};
use usrsctp_test_support::sctp::has_data;

const RTO_MS: u32 = 3_000;
const PROBE_MS: u32 = 300;

struct Side {
    worker: Worker,
    assoc: Association,
}

/// Moves packets between the two sides until `done` says so or `limit` passes. Packets from
/// A are passed to `a_to_b` first, which may drop them. Returns the non-transmit events.
fn pump(
    a: &Side,
    b: &Side,
    limit: Duration,
    mut a_to_b: impl FnMut(&[u8]) -> bool,
    mut done: impl FnMut(&Event, bool) -> bool,
) -> bool {
    let end = Instant::now() + limit;
    while Instant::now() < end {
        let mut idle = true;
        for (from_a, side, other) in [(true, a, b), (false, b, a)] {
            while let Some(ev) = side.worker.try_recv() {
                idle = false;
                match ev {
                    Event::Transmit { packet, .. } => {
                        if !from_a || a_to_b(&packet) {
                            // The peer may refuse nothing here: the wire is clean.
                            other.assoc.input(packet).expect("input");
                        }
                    }
                    other_event => {
                        if done(&other_event, from_a) {
                            return true;
                        }
                    }
                }
            }
        }
        if idle {
            std::thread::sleep(Duration::from_millis(2));
        }
    }
    false
}

#[test]
fn a_lost_packet_is_replayed_by_the_probe_before_the_retransmission_timer() {
    let stack = Stack::start(StackConfig {
        rto_min_ms: RTO_MS,
        rto_initial_ms: RTO_MS,
        rto_max_ms: RTO_MS,
        init_rto_max_ms: RTO_MS,
        stall_probe_ms: PROBE_MS,
        ..StackConfig::default()
    })
    .expect("stack");
    let side = |stack: &Stack| {
        let worker = stack.worker().expect("worker");
        let assoc = worker
            .associate(AssociationConfig::default())
            .expect("associate");
        Side { worker, assoc }
    };
    let (a, b) = (side(&stack), side(&stack));
    let mut up = 0;
    let connected = pump(
        &a,
        &b,
        Duration::from_secs(10),
        |_| true,
        |ev, _| {
            up += usize::from(matches!(ev, Event::Connected { .. }));
            up == 2
        },
    );
    assert!(connected, "the handshake completes on a clean wire");

    // Let the handshake's last packets settle, so the only outstanding data is ours.
    pump(&a, &b, Duration::from_millis(200), |_| true, |_, _| false);
    let before = Diagnostics::current().stall_probes;
    let payload = b"probe me".to_vec();
    a.assoc
        .send(0, ppid::BINARY, payload.clone(), SendOptions::default())
        .expect("send");
    let sent = Instant::now();
    let mut dropped = 0;
    let mut got = None;
    let delivered = pump(
        &a,
        &b,
        Duration::from_millis(u64::from(RTO_MS) * 3),
        |packet| {
            // The first DATA packet is lost; everything after it goes through.
            if dropped == 0 && has_data(packet) {
                dropped += 1;
                return false;
            }
            true
        },
        |ev, from_a| match ev {
            Event::Message { message, .. } if !from_a => {
                got = Some((message.data.clone(), sent.elapsed()));
                true
            }
            _ => false,
        },
    );
    assert!(delivered, "the message arrives");
    assert_eq!(dropped, 1, "the first DATA packet was dropped");
    let (data, after) = got.expect("message");
    assert_eq!(data, payload);
    let probes = Diagnostics::current().stall_probes - before;
    assert!(probes >= 1, "the probe replayed the data");
    assert!(
        after < Duration::from_millis(u64::from(RTO_MS)),
        "delivered after {after:?}: by the probe, before the {RTO_MS} ms retransmission timer"
    );

    // Everything is acknowledged now: an idle association is not probed.
    pump(&a, &b, Duration::from_millis(200), |_| true, |_, _| false);
    let settled = Diagnostics::current().stall_probes;
    pump(
        &a,
        &b,
        Duration::from_millis(u64::from(PROBE_MS) * 4),
        |_| true,
        |_, _| false,
    );
    assert_eq!(
        Diagnostics::current().stall_probes,
        settled,
        "no probe without outstanding data"
    );
}
