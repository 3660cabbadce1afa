//! Our association (usrsctp) against an independent SCTP implementation, `sctp-proto` (the
//! sans-IO core of webrtc-rs), over an in-memory wire: setup in both roles, messages from 0 B to
//! the largest size both accept, ordered and unordered, partial reliability, stream reset,
//! graceful close, abort, and a lossy wire. No mocks: both stacks are the real crates.

mod support;

use std::time::{Duration, Instant};

use bytes::Bytes;
use sctp_proto::{
    AssociationError, Event as ProtoEvent, PayloadProtocolIdentifier as Ppi, ReliabilityType,
    StreamEvent, TransportConfig,
};
use support::proto::{Link, ProtoMessage, ProtoRole};
use support::T;
use usrsctp::{
    ppid, AssociationConfig, CloseReason, Error, Event, Reliability, ResetDirection, ResetOutcome,
    SendOptions,
};
use usrsctp_test_support::pattern;

/// sctp-proto's default maximum message size, both ways (its `DEFAULT_MAX_MESSAGE_SIZE`).
const PROTO_MAX: usize = 65_536;

fn theirs() -> TransportConfig {
    TransportConfig::default()
        .with_rto_initial_ms(200)
        .with_rto_min_ms(50)
        .with_rto_max_ms(1000)
}

fn ours() -> AssociationConfig {
    AssociationConfig {
        max_message_size: PROTO_MAX,
        ..AssociationConfig::default()
    }
}

fn connected(role: ProtoRole) -> Link {
    let mut link = Link::new(role, ours(), theirs());
    link.connect();
    link
}

/// Opens `stream` on sctp-proto's side and writes one message on it.
fn proto_send(link: &mut Link, stream: u16, ppi: Ppi, data: &[u8]) -> Result<usize, String> {
    let a = link.peer.assoc();
    if a.stream(stream).is_err() {
        a.open_stream(stream, Ppi::Binary)
            .map_err(|e| e.to_string())?;
    }
    a.stream(stream)
        .and_then(|mut s| s.write_sctp(&Bytes::copy_from_slice(data), ppi))
        .map_err(|e| e.to_string())
}

fn proto_set_reliability(
    link: &mut Link,
    stream: u16,
    unordered: bool,
    rel: ReliabilityType,
    v: u32,
) {
    let a = link.peer.assoc();
    if a.stream(stream).is_err() {
        a.open_stream(stream, Ppi::Binary).expect("open_stream");
    }
    a.stream(stream)
        .and_then(|mut s| s.set_reliability_params(unordered, rel, v))
        .expect("set_reliability_params");
}

fn wait_proto_messages(link: &mut Link, n: usize, timeout: Duration) -> Vec<ProtoMessage> {
    link.until(&format!("{n} messages at sctp-proto"), timeout, |l| {
        l.peer.received.len() >= n
    });
    link.peer.received.drain(..n).collect()
}

fn wait_our_messages(link: &mut Link, n: usize, timeout: Duration) -> Vec<usrsctp::Message> {
    let mut got = Vec::new();
    let deadline = Instant::now() + timeout;
    while got.len() < n {
        assert!(
            Instant::now() < deadline,
            "timed out with {} of {n} messages; other events {:?}",
            got.len(),
            link.our_events
        );
        link.step();
        got.extend(link.our_messages());
    }
    got
}

fn exchange_one_each_way(link: &mut Link) {
    link.ours
        .send(1, ppid::STRING, "hello sctp-proto", SendOptions::reliable())
        .unwrap();
    let got = wait_proto_messages(link, 1, T);
    assert_eq!(
        got[0],
        ProtoMessage {
            stream: 1,
            ppid: ppid::STRING,
            data: b"hello sctp-proto".to_vec()
        }
    );
    proto_send(link, 2, Ppi::String, b"hello usrsctp").unwrap();
    let got = wait_our_messages(link, 1, T);
    assert_eq!((got[0].stream, got[0].ppid), (2, ppid::STRING));
    assert_eq!(got[0].data, b"hello usrsctp");
}

#[test]
fn setup_with_sctp_proto_as_server() {
    let mut link = connected(ProtoRole::Server);
    exchange_one_each_way(&mut link);
}

#[test]
fn setup_with_sctp_proto_as_client() {
    // Both sides send an INIT. DISAGREEMENT, sctp-proto's side: a client-only sctp-proto
    // endpoint panics on our INIT instead of answering it (RFC 9260 §5.2.1) or dropping it; the
    // driver withholds our INITs (see support/proto.rs). usrsctp answers sctp-proto's INIT
    // from COOKIE-WAIT and the association comes up.
    let mut link = connected(ProtoRole::Client);
    assert!(link.peer.inits_withheld > 0, "usrsctp did send its INIT");
    exchange_one_each_way(&mut link);
}

const SIZES: [usize; 12] = [
    0, 1, 2, 100, 1187, 1188, 1189, 1200, 4096, 16_384, 65_535, PROTO_MAX,
];

#[test]
fn messages_from_empty_to_the_largest_size_both_accept() {
    let mut link = connected(ProtoRole::Server);
    for unordered in [false, true] {
        let stream = if unordered { 4 } else { 3 };
        let opts = if unordered {
            SendOptions::unordered()
        } else {
            SendOptions::reliable()
        };
        // Ours -> sctp-proto.
        for (i, &len) in SIZES.iter().enumerate() {
            link.ours
                .send(stream, ppid::BINARY, pattern(0, i as u32, len), opts)
                .unwrap_or_else(|e| panic!("send {len} B: {e}"));
        }
        let mut got = wait_proto_messages(&mut link, SIZES.len(), T);
        if unordered {
            got.sort_by_key(|m| m.data.len());
        }
        for (i, (&len, m)) in SIZES.iter().zip(&got).enumerate() {
            assert_eq!(m.stream, stream);
            if len == 0 {
                // RFC 8831 §6.6: an empty message is one zero byte with PPID 57.
                assert_eq!((m.ppid, &m.data[..]), (ppid::BINARY_EMPTY, &[0u8][..]));
            } else {
                assert_eq!(m.ppid, ppid::BINARY);
                assert_eq!(
                    m.data,
                    pattern(0, i as u32, len),
                    "{len} B, unordered {unordered}"
                );
            }
        }
        // sctp-proto -> ours.
        proto_set_reliability(&mut link, stream, unordered, ReliabilityType::Reliable, 0);
        for (i, &len) in SIZES.iter().enumerate() {
            let (ppi, data) = if len == 0 {
                (Ppi::BinaryEmpty, vec![0])
            } else {
                (Ppi::Binary, pattern(0, i as u32, len))
            };
            proto_send(&mut link, stream, ppi, &data)
                .unwrap_or_else(|e| panic!("sctp-proto send {len} B: {e}"));
        }
        let mut got = wait_our_messages(&mut link, SIZES.len(), T);
        if unordered {
            got.sort_by_key(|m| m.data.len());
        }
        for (i, (&len, m)) in SIZES.iter().zip(&got).enumerate() {
            assert_eq!(m.stream, stream);
            assert_eq!(m.unordered, unordered, "the U bit is reported");
            if len == 0 {
                assert_eq!(m.ppid, ppid::BINARY_EMPTY);
                assert!(m.data.is_empty(), "the padding byte is removed");
            } else {
                assert_eq!(m.ppid, ppid::BINARY);
                assert_eq!(m.data, pattern(0, i as u32, len));
            }
        }
    }
    // One byte past the largest size is refused by both senders, before anything is sent.
    let err = link
        .ours
        .send(
            3,
            ppid::BINARY,
            vec![0; PROTO_MAX + 1],
            SendOptions::reliable(),
        )
        .unwrap_err();
    assert!(
        matches!(err, Error::MessageTooLarge { size, max, .. } if size == PROTO_MAX + 1 && max == PROTO_MAX)
    );
    assert!(proto_send(&mut link, 3, Ppi::Binary, &vec![0; PROTO_MAX + 1]).is_err());
}

#[test]
fn partial_reliability_both_ways_over_a_lossy_wire() {
    const N: u32 = 200;
    let mut link = connected(ProtoRole::Server);
    link.loss = 0.3;
    // Ours -> sctp-proto: ordered MaxRetransmits(0) on stream 1, then one reliable message on
    // the same stream. It can be delivered only if sctp-proto honours our FORWARD-TSNs (RFC
    // 3758 §3.6) for the abandoned ones: the ordered stream has gaps it must skip.
    let rtx0 = SendOptions::reliable().with_reliability(Reliability::MaxRetransmits(0));
    for i in 0..N {
        link.ours
            .send(1, ppid::BINARY, pattern(0, i, 200), rtx0)
            .unwrap();
        if i % 20 == 0 {
            link.run_for(Duration::from_millis(2));
        }
    }
    link.ours
        .send(1, ppid::STRING, "final", SendOptions::reliable())
        .unwrap();
    link.until(
        "the final reliable message at sctp-proto",
        Duration::from_secs(60),
        |l| l.peer.received.iter().any(|m| m.data == b"final"),
    );
    let got: Vec<ProtoMessage> = link.peer.received.drain(..).collect();
    let seqs: Vec<u32> = got
        .iter()
        .filter(|m| m.ppid == ppid::BINARY)
        .map(|m| u32::from_le_bytes(m.data[..4].try_into().unwrap()))
        .collect();
    assert!(
        seqs.windows(2).all(|w| w[0] < w[1]),
        "ordered stream keeps its order"
    );
    assert!(
        (seqs.len() as u32) < N,
        "with 30% loss and no retransmission some messages must be abandoned"
    );
    eprintln!(
        "ours -> sctp-proto: {} of {N} partially reliable messages arrived",
        seqs.len()
    );

    // sctp-proto -> ours: the same, with sctp-proto's per-stream reliability.
    proto_set_reliability(&mut link, 5, false, ReliabilityType::Rexmit, 0);
    for i in 0..N {
        proto_send(&mut link, 5, Ppi::Binary, &pattern(0, i, 200)).unwrap();
        if i % 20 == 0 {
            link.run_for(Duration::from_millis(2));
        }
    }
    proto_set_reliability(&mut link, 5, false, ReliabilityType::Reliable, 0);
    proto_send(&mut link, 5, Ppi::String, b"final").unwrap();
    let mut seqs = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(60);
    'outer: loop {
        assert!(
            Instant::now() < deadline,
            "final message from sctp-proto never arrived"
        );
        link.step();
        for m in link.our_messages() {
            if m.data == b"final" {
                break 'outer;
            }
            seqs.push(u32::from_le_bytes(m.data[..4].try_into().unwrap()));
        }
    }
    assert!(
        seqs.windows(2).all(|w| w[0] < w[1]),
        "ordered stream keeps its order"
    );
    assert!((seqs.len() as u32) < N, "some were abandoned");
    eprintln!(
        "sctp-proto -> ours: {} of {N} partially reliable messages arrived",
        seqs.len()
    );
}

fn is_reset(e: &Event, dir: ResetDirection, stream: u16) -> bool {
    matches!(e, Event::StreamsReset { direction, streams, outcome: ResetOutcome::Performed, .. }
        if *direction == dir && streams.contains(&stream))
}

#[test]
fn stream_reset_started_by_us() {
    let mut link = connected(ProtoRole::Server);
    link.ours
        .send(3, ppid::STRING, "before", SendOptions::reliable())
        .unwrap();
    link.ours.reset_streams(&[3]).unwrap();
    link.until("our outgoing reset performed", T, |l| {
        l.our_events
            .iter()
            .any(|e| is_reset(e, ResetDirection::Outgoing, 3))
    });
    let got = wait_proto_messages(&mut link, 1, T);
    assert_eq!(
        got[0].data, b"before",
        "data queued before the reset arrives before it"
    );
    // sctp-proto resets its own outgoing stream in return (as RFC 8831 §6.7 asks of a data
    // channel peer) without being told to.
    link.until("sctp-proto resets its side in return", T, |l| {
        l.our_events
            .iter()
            .any(|e| is_reset(e, ResetDirection::Incoming, 3))
    });
    // The stream is usable again, both ways, from sequence number 0.
    link.ours
        .send(
            3,
            ppid::STRING,
            "after, from usrsctp",
            SendOptions::reliable(),
        )
        .unwrap();
    let got = wait_proto_messages(&mut link, 1, T);
    assert_eq!(got[0].data, b"after, from usrsctp");
    proto_send(&mut link, 3, Ppi::String, b"after, from sctp-proto").unwrap();
    let got = wait_our_messages(&mut link, 1, T);
    assert_eq!(got[0].data, b"after, from sctp-proto");
}

#[test]
fn stream_reset_started_by_sctp_proto() {
    let mut link = connected(ProtoRole::Client);
    proto_send(&mut link, 6, Ppi::String, b"before").unwrap();
    let got = wait_our_messages(&mut link, 1, T);
    assert_eq!(got[0].data, b"before");
    link.peer.assoc().stream(6).unwrap().close().unwrap();
    link.until("the peer's reset of stream 6", T, |l| {
        l.our_events
            .iter()
            .any(|e| is_reset(e, ResetDirection::Incoming, 6))
    });
    // Answer as the data channel layer does.
    link.ours.reset_streams(&[6]).unwrap();
    link.until("our answering reset performed", T, |l| {
        l.our_events
            .iter()
            .any(|e| is_reset(e, ResetDirection::Outgoing, 6))
    });
    link.until("sctp-proto reports the reset complete", T, |l| {
        l.peer
            .events
            .iter()
            .any(|e| matches!(e, ProtoEvent::Stream(StreamEvent::ResetComplete { id: 6 })))
    });
}

#[test]
fn graceful_close_started_by_us() {
    let mut link = connected(ProtoRole::Server);
    link.ours
        .send(1, ppid::STRING, "last words", SendOptions::reliable())
        .unwrap();
    link.ours.close().unwrap();
    link.until("our Closed event", T, |l| {
        l.our_events
            .iter()
            .any(|e| matches!(e, Event::Closed { .. }))
    });
    let closed = link
        .take_ours(|e| matches!(e, Event::Closed { .. }))
        .unwrap();
    assert_eq!(
        closed,
        Event::Closed {
            assoc: link.ours.id(),
            reason: CloseReason::Graceful
        }
    );
    assert_eq!(
        link.peer.received.pop_front().map(|m| m.data),
        Some(b"last words".to_vec())
    );
    link.until("sctp-proto sees the association end", T, |l| {
        l.peer.assoc.as_ref().is_some_and(|a| a.is_closed())
    });
}

/// DISAGREEMENT, sctp-proto's side. RFC 9260 §3.3.8: the SHUTDOWN chunk's Cumulative TSN Ack is
/// "the TSN of the last chunk received in sequence". sctp-proto 0.10.8 puts a TSN of its own
/// sending sequence there (captured on the wire: it equals the Initial TSN of its INIT). When
/// that value is at or beyond the next TSN usrsctp will send (about half the time, the TSNs
/// being random), usrsctp answers with ABORT "Cum ack ... greater or equal than TSN ..."
/// (protocol violation), and we report `CommunicationLost`; otherwise the close is graceful.
/// Run with `--ignored`: it fails about every other run.
#[test]
#[ignore = "sctp-proto 0.10.8 sends a wrong Cumulative TSN Ack in SHUTDOWN (RFC 9260 §3.3.8)"]
fn graceful_close_started_by_sctp_proto() {
    let mut link = connected(ProtoRole::Client);
    proto_send(&mut link, 2, Ppi::String, b"last words").unwrap();
    let got = wait_our_messages(&mut link, 1, T);
    assert_eq!(got[0].data, b"last words");
    link.run_for(Duration::from_millis(100)); // our SACK reaches sctp-proto
    link.peer.assoc().shutdown().unwrap();
    link.until("our Closed event", T, |l| {
        l.our_events
            .iter()
            .any(|e| matches!(e, Event::Closed { .. }))
    });
    let closed = link
        .take_ours(|e| matches!(e, Event::Closed { .. }))
        .unwrap();
    assert!(
        matches!(
            closed,
            Event::Closed {
                reason: CloseReason::Graceful,
                ..
            }
        ),
        "{closed:?}: usrsctp got sctp-proto's SHUTDOWN COMPLETE"
    );
}

/// DISAGREEMENT, sctp-proto's side. RFC 9260 §9.2: on SHUTDOWN ACK the endpoint sends SHUTDOWN
/// COMPLETE "and remove[s] all record of the association". sctp-proto 0.10.8 sends SHUTDOWN
/// COMPLETE (usrsctp reports a graceful close, test above) but stays in SHUTDOWN-SENT: it never
/// reports `AssociationLost` nor `is_closed()`. Run with `--ignored` to see it.
#[test]
#[ignore = "sctp-proto 0.10.8 never closes after sending SHUTDOWN COMPLETE (RFC 9260 §9.2)"]
fn sctp_proto_reports_the_end_of_its_own_graceful_close() {
    let mut link = connected(ProtoRole::Client);
    link.peer.assoc().shutdown().unwrap();
    link.until("our Closed event", T, |l| {
        l.our_events
            .iter()
            .any(|e| matches!(e, Event::Closed { .. }))
    });
    link.until("sctp-proto closed", T, |l| {
        l.peer.assoc.as_ref().is_some_and(|a| a.is_closed())
    });
}

/// DISAGREEMENT, sctp-proto's side. RFC 9260 §9.2: after the SHUTDOWN primitive the endpoint
/// stays in SHUTDOWN-PENDING "until all outstanding data has been acknowledged by its peer".
/// sctp-proto 0.10.8 checks only its in-flight queue (`inflight_queue_length == 0` in
/// `Association::shutdown`), so a message written but not yet transmitted is followed by an
/// immediate SHUTDOWN: the message is never delivered and usrsctp ends the association as
/// lost instead of gracefully. Run with `--ignored` to see it.
#[test]
#[ignore = "sctp-proto 0.10.8 sends SHUTDOWN before its queued data (RFC 9260 §9.2)"]
fn graceful_close_by_sctp_proto_right_after_a_write_delivers_the_write() {
    let mut link = connected(ProtoRole::Client);
    proto_send(&mut link, 2, Ppi::String, b"last words").unwrap();
    link.peer.assoc().shutdown().unwrap();
    link.until("our Closed event", T, |l| {
        l.our_events
            .iter()
            .any(|e| matches!(e, Event::Closed { .. }))
    });
    let got = link.our_messages();
    assert_eq!(got.len(), 1, "data written before SHUTDOWN is delivered");
    assert_eq!(got[0].data, b"last words");
    assert!(matches!(
        link.take_ours(|e| matches!(e, Event::Closed { .. })),
        Some(Event::Closed {
            reason: CloseReason::Graceful,
            ..
        })
    ));
}

#[test]
fn abort_by_us_is_seen_by_sctp_proto() {
    let mut link = connected(ProtoRole::Server);
    link.ours.abort().unwrap();
    link.until("sctp-proto loses the association", T, |l| {
        l.peer
            .events
            .iter()
            .any(|e| matches!(e, ProtoEvent::AssociationLost { .. }))
    });
    let lost = link
        .take_theirs(|e| matches!(e, ProtoEvent::AssociationLost { .. }))
        .unwrap();
    assert!(
        matches!(
            lost,
            ProtoEvent::AssociationLost {
                reason: AssociationError::AssociationClosed
            }
        ),
        "{lost:?}"
    );
    link.until("our Closed event", T, |l| {
        l.our_events
            .iter()
            .any(|e| matches!(e, Event::Closed { .. }))
    });
    assert!(matches!(
        link.take_ours(|e| matches!(e, Event::Closed { .. })),
        Some(Event::Closed {
            reason: CloseReason::AbortedLocally,
            ..
        })
    ));
}

#[test]
fn abort_by_sctp_proto_is_seen_by_us() {
    // sctp-proto has no public abort call; it sends ABORT (Out of Resource) when a message
    // cannot fit its receive buffer, which we provoke with a small one.
    let small = theirs()
        .with_max_receive_buffer_size(16 * 1024)
        .with_max_receive_message_size(PROTO_MAX as u32);
    let mut link = Link::new(ProtoRole::Server, ours(), small);
    link.connect();
    link.ours
        .send(1, ppid::BINARY, vec![7; 60_000], SendOptions::reliable())
        .unwrap();
    link.until("our Closed event", T, |l| {
        l.our_events
            .iter()
            .any(|e| matches!(e, Event::Closed { .. }))
    });
    assert!(matches!(
        link.take_ours(|e| matches!(e, Event::Closed { .. })),
        Some(Event::Closed {
            reason: CloseReason::AbortedByPeer,
            ..
        })
    ));
    assert!(link.peer.assoc.as_ref().is_some_and(|a| a.is_closed()));
}

#[test]
fn lossy_wire_delivers_everything_in_order_both_ways() {
    const N: u32 = 300;
    let mut link = connected(ProtoRole::Client);
    link.loss = 0.1;
    let mut rng = usrsctp_test_support::Rng::new(42);
    let sizes: Vec<usize> = (0..N)
        .map(|_| 1 + (rng.next_u64() % 3000) as usize)
        .collect();
    proto_set_reliability(&mut link, 7, false, ReliabilityType::Reliable, 0);
    let (mut sent_ours, mut sent_theirs) = (0u32, 0u32);
    let (mut got_ours, mut got_theirs) = (0u32, 0u32);
    let deadline = Instant::now() + Duration::from_secs(90);
    while got_ours < N || got_theirs < N {
        assert!(
            Instant::now() < deadline,
            "stalled: sctp-proto got {got_theirs}/{N}, we got {got_ours}/{N}, {} packets dropped",
            link.dropped
        );
        // Keep a bounded window in flight each way.
        while sent_ours < N && sent_ours < got_theirs + 50 {
            let i = sent_ours as usize;
            match link.ours.send(
                7,
                ppid::BINARY,
                pattern(0, sent_ours, sizes[i]),
                SendOptions::reliable(),
            ) {
                Ok(_) => sent_ours += 1,
                Err(e) if e.is_would_block() => break,
                Err(e) => panic!("{e}"),
            }
        }
        while sent_theirs < N && sent_theirs < got_ours + 50 {
            let i = sent_theirs as usize;
            proto_send(
                &mut link,
                7,
                Ppi::Binary,
                &pattern(0, sent_theirs, sizes[i]),
            )
            .unwrap();
            sent_theirs += 1;
        }
        link.step();
        for m in link.peer.received.drain(..) {
            assert_eq!(
                m.data,
                pattern(0, got_theirs, sizes[got_theirs as usize]),
                "sctp-proto got message {got_theirs} intact, in order"
            );
            got_theirs += 1;
        }
        for m in link.our_messages() {
            assert_eq!(
                m.data,
                pattern(0, got_ours, sizes[got_ours as usize]),
                "we got message {got_ours} intact, in order"
            );
            got_ours += 1;
        }
    }
    eprintln!("lossy wire: {} packets dropped", link.dropped);
    assert!(link.dropped > 0);
}
