//! Two workers on two threads, simultaneous open, messages of 0 B to 200 KiB both ways, ordered
//! and unordered, content verified; then a graceful close seen by both sides.

mod common;

use std::time::Duration;

use common::{default_pair, receive_messages, Endpoint};
use usrsctp::{ppid, CloseReason, SendOptions};
use usrsctp_test_support::pattern;

const SIZES: [usize; 5] = [0, 1, 1024, 64 * 1024, 200 * 1024];
const ORDERED_STREAM: u16 = 1;
const UNORDERED_STREAM: u16 = 2;

/// Sends every size on both streams, then receives the peer's ten messages and checks them.
fn exchange(ep: &mut Endpoint, my_tag: u8, peer_tag: u8) -> Vec<(u16, usize)> {
    let (out, inb) = ep.connected();
    assert_eq!(
        (out, inb),
        (256, 256),
        "negotiated stream counts (the default)"
    );
    for (seq, &size) in SIZES.iter().enumerate() {
        let data = pattern(my_tag, seq as u32, size);
        ep.assoc
            .send(
                ORDERED_STREAM,
                ppid::BINARY,
                data.clone(),
                SendOptions::reliable(),
            )
            .expect("ordered send");
        ep.assoc
            .send(
                UNORDERED_STREAM,
                ppid::BINARY,
                data,
                SendOptions::unordered(),
            )
            .expect("unordered send");
    }
    let got = receive_messages(ep, 2 * SIZES.len(), Duration::from_secs(30));
    let mut ordered_seen = Vec::new();
    let mut unordered_seen = Vec::new();
    for m in &got {
        let seq = match SIZES.iter().position(|&s| s == m.data.len()) {
            Some(seq) => seq,
            None => panic!("unexpected message length {}", m.data.len()),
        };
        if m.data.is_empty() {
            assert_eq!(
                m.ppid,
                ppid::BINARY_EMPTY,
                "an empty binary message arrives as PPID 57"
            );
        } else {
            assert_eq!(m.ppid, ppid::BINARY);
            assert!(
                m.data == pattern(peer_tag, seq as u32, m.data.len()),
                "content of {}-byte message",
                m.data.len()
            );
        }
        match m.stream {
            ORDERED_STREAM => {
                assert!(!m.unordered);
                ordered_seen.push(m.data.len());
            }
            UNORDERED_STREAM => {
                assert!(m.unordered, "unordered flag on stream 2");
                unordered_seen.push(m.data.len());
            }
            s => panic!("message on unexpected stream {s}"),
        }
    }
    assert_eq!(
        ordered_seen,
        SIZES.to_vec(),
        "ordered stream keeps send order"
    );
    unordered_seen.sort_unstable();
    assert_eq!(
        unordered_seen,
        SIZES.to_vec(),
        "every unordered message once"
    );
    got.iter().map(|m| (m.stream, m.data.len())).collect()
}

#[test]
fn pair_roundtrip() {
    let (a, b) = default_pair(
        |ep| {
            let got = exchange(ep, 0xA, 0xB);
            let stats = ep.assoc.stats().expect("stats");
            assert_eq!(stats.messages_sent, 10);
            assert_eq!(stats.messages_received, 10);
            assert_eq!(stats.mtu, 1200, "fixed MTU, no PMTU discovery");
            assert_eq!(stats.buffered_amount, 0);
            // A closes; both sides must see a graceful end.
            ep.assoc.close().expect("close");
            assert_eq!(ep.closed(), CloseReason::Graceful);
            let err = ep
                .assoc
                .send(1, ppid::BINARY, vec![1], SendOptions::reliable())
                .unwrap_err();
            assert!(matches!(err, usrsctp::Error::Closed { .. }), "{err}");
            got
        },
        |ep| {
            let got = exchange(ep, 0xB, 0xA);
            assert_eq!(ep.closed(), CloseReason::Graceful);
            let err = ep.assoc.input(vec![0u8; 32]).unwrap_err();
            assert!(
                matches!(err, usrsctp::Error::Closed { .. }),
                "input after close is refused as Closed, got {err}"
            );
            got
        },
    );
    assert_eq!(a.len(), 10);
    assert_eq!(b.len(), 10);
}
