//! An abort reaches the peer as AbortedByPeer; queued messages are reported as failed.

mod common;

use std::time::Duration;

use common::default_pair;
use usrsctp::{ppid, AssociationConfig, CloseReason, Event, SendOptions};

#[test]
fn abort_reaches_the_peer() {
    default_pair(
        |a| {
            a.connected();
            a.assoc.abort().unwrap();
            assert_eq!(a.closed(), CloseReason::AbortedLocally);
            assert!(a
                .assoc
                .send(0, ppid::BINARY, vec![1], SendOptions::reliable())
                .is_err());
        },
        |b| {
            b.connected();
            assert_eq!(b.closed(), CloseReason::AbortedByPeer);
        },
    );
}

#[test]
fn connect_to_nobody_fails_and_reports_it() {
    let stack = common::stack();
    let worker = stack.worker().unwrap();
    let assoc = worker.associate(AssociationConfig::default()).unwrap();
    // Packets go nowhere: after the INIT retransmissions run out the handshake fails.
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    let reason = loop {
        assert!(std::time::Instant::now() < deadline, "no ConnectFailed");
        if let Some(Event::Closed { reason, .. }) = worker.recv_timeout(Duration::from_millis(100))
        {
            break reason;
        }
    };
    assert_eq!(reason, CloseReason::ConnectFailed);
    assert_eq!(assoc.state(), usrsctp::AssociationState::Closed);
}
