//! Issue 14: each socket is bound to a port of its own inside usrsctp (so usrsctp finds it by
//! hash instead of walking every endpoint on port 5000), and that port never reaches the wire:
//! every packet carries the configured ports, in both directions of a handshake and a message.

mod common;

use std::cell::RefCell;
use std::rc::Rc;

use usrsctp::AssociationConfig;
use usrsctp_test_support::sctp::checksum_ok;

#[test]
fn packets_carry_the_configured_ports_not_usrsctps_inner_ones() {
    let stack = common::stack();
    let ports = |local_port, remote_port| AssociationConfig {
        local_port,
        remote_port,
        ..AssociationConfig::default()
    };
    let mut pair = common::LocalPair::new(&stack, ports(5000, 5001), ports(5001, 5000));
    // Every packet A sends: (source port, destination port, checksum valid).
    let seen = Rc::new(RefCell::new(Vec::new()));
    let record = seen.clone();
    pair.drop_ab = Some(Box::new(move |packet: &[u8]| {
        let port = |at: usize| u16::from_be_bytes([packet[at], packet[at + 1]]);
        record
            .borrow_mut()
            .push((port(0), port(2), checksum_ok(packet)));
        false
    }));
    pair.connect();
    pair.exchange("over the configured ports");
    pair.assoc_b
        .send(
            0,
            usrsctp::ppid::STRING,
            "and back",
            usrsctp::SendOptions::reliable(),
        )
        .expect("send");
    pair.run_until("B's message", std::time::Duration::from_secs(20), |p| {
        p.events_a.iter().any(
            |e| matches!(e, usrsctp::Event::Message { message, .. } if message.data == b"and back"),
        )
    });
    let seen = seen.borrow();
    // INIT, COOKIE-ECHO or -ACK, DATA, SACK at least.
    assert!(seen.len() >= 4, "{seen:?}");
    assert!(
        seen.iter().all(|&s| s == (5000, 5001, true)),
        "A's packets: {seen:?}"
    );
}
