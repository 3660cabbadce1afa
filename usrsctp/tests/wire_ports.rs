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

/// Inside usrsctp, every association with a port of its own shares one AF_CONN address; its
/// packets are told apart by that port. Several live pairs on one stack each get their own
/// messages, and a packet addressed to another port is refused before usrsctp sees it (there
/// it could have reached another association).
#[test]
fn live_pairs_get_only_their_own_packets_and_other_ports_are_refused() {
    let stack = common::stack();
    let mut pairs: Vec<common::LocalPair> = (0..4)
        .map(|_| {
            common::LocalPair::new(
                &stack,
                AssociationConfig::default(),
                AssociationConfig::default(),
            )
        })
        .collect();
    for pair in &mut pairs {
        pair.connect();
    }
    for (i, pair) in pairs.iter_mut().enumerate() {
        pair.exchange(&format!("for pair {i} only"));
    }
    for (i, pair) in pairs.iter().enumerate() {
        let texts: Vec<String> = pair
            .events_b
            .iter()
            .filter_map(|e| match e {
                usrsctp::Event::Message { message, .. } => {
                    Some(String::from_utf8_lossy(&message.data).into_owned())
                }
                _ => None,
            })
            .collect();
        assert_eq!(texts, [format!("for pair {i} only")], "pair {i}");
    }
    // A well-formed packet (valid checksum) for port 5001, fed to an association on 5000.
    let refused_before = stack.diagnostics().inputs_refused;
    let mut packet = vec![0x13, 0x88, 0x13, 0x89, 0, 0, 0, 1, 0, 0, 0, 0];
    packet.extend_from_slice(&[0x0e, 0, 0, 4]); // a SHUTDOWN COMPLETE chunk
    usrsctp_test_support::sctp::fill_checksum(&mut packet);
    let err = pairs[0].assoc_a.input(packet).unwrap_err();
    assert!(
        matches!(err, usrsctp::Error::MalformedPacket { reason, .. } if reason.contains("destination port")),
        "{err}"
    );
    assert!(stack.diagnostics().inputs_refused > refused_before);
    // Nothing was lost: the pair still carries messages.
    pairs[0].exchange("still fine");
}
