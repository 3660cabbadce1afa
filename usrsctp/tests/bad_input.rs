//! Random bytes, truncated packets, and packets with a correct CRC32c but garbage chunks are fed
//! to a live association: nothing crashes, and the association either keeps working (a message
//! round trip succeeds) or reports Closed. Invalid stream ids, oversize and empty messages and
//! impossible packet lengths give errors.

mod common;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use common::{default_pair, receive_messages, Endpoint};
use usrsctp::{ppid, CloseReason, Error, Event, SendOptions};
use usrsctp_test_support::{fill_checksum, Rng};

const T: Duration = Duration::from_secs(20);

/// After the garbage: either a round trip still works, or the association said it closed.
fn survived_or_closed(ep: &mut Endpoint, tag: &str) -> &'static str {
    ep.pump_for(Duration::from_millis(200));
    let closed = ep.backlog.iter().find_map(|e| match e {
        Event::Closed { reason, .. } => Some(*reason),
        _ => None,
    });
    if let Some(reason) = closed {
        // Forged chunks with a valid tag may end it (an ABORT chunk, a protocol violation
        // that makes usrsctp abort, which it reports as a loss), but never look like a clean end.
        assert!(
            matches!(
                reason,
                CloseReason::AbortedByPeer
                    | CloseReason::AbortedLocally
                    | CloseReason::CommunicationLost
            ),
            "{tag}: closed for {reason:?}"
        );
        let err = ep
            .assoc
            .send(0, ppid::STRING, "x", SendOptions::reliable())
            .unwrap_err();
        assert!(matches!(err, Error::Closed { .. }), "{tag}: {err}");
        return "closed";
    }
    let probe = format!("{tag}: still working");
    ep.assoc
        .send(0, ppid::STRING, probe.clone(), SendOptions::reliable())
        .unwrap();
    // The peer echoes; garbage DATA chunks that usrsctp accepted may arrive first, so wait for
    // the echo itself and check it byte for byte.
    let deadline = std::time::Instant::now() + T;
    loop {
        let left = deadline.saturating_duration_since(std::time::Instant::now());
        let got = receive_messages(ep, 1, left);
        if got[0].data == probe.as_bytes() {
            assert_eq!(got[0].ppid, ppid::STRING, "{tag}: echo with its PPID");
            break;
        }
        assert!(!left.is_zero(), "{tag}: the echo never came back intact");
    }
    "survived"
}

fn echo_until_closed(ep: &mut Endpoint, peer_done: &AtomicBool) {
    while !peer_done.load(Ordering::SeqCst) {
        match ep.next_event(Duration::from_millis(50)) {
            Some(Event::Message { message, .. }) if message.ppid == ppid::STRING => {
                let _ = ep
                    .assoc
                    .send(0, ppid::STRING, message.data, SendOptions::reliable());
            }
            Some(Event::Closed { .. }) => return,
            _ => {}
        }
        if ep.backlog.iter().any(|e| matches!(e, Event::Closed { .. })) {
            return;
        }
        if ep.assoc.state() == usrsctp::AssociationState::Closed {
            return;
        }
    }
}

/// Runs one kind of garbage against a fresh pair.
fn run(kind: &'static str, feed: fn(&mut Endpoint, &mut Rng, &[Vec<u8>])) -> &'static str {
    let a_done = Arc::new(AtomicBool::new(false));
    let b_view = a_done.clone();
    let (outcome, ()) = default_pair(
        move |a| {
            a.capture = Some(Vec::new());
            a.connected();
            // Some real traffic to learn valid headers from.
            a.assoc
                .send(0, ppid::STRING, "hello", SendOptions::reliable())
                .unwrap();
            receive_messages(a, 1, T);
            a.pump_for(Duration::from_millis(100));
            let real = a.capture.take().unwrap();
            assert!(!real.is_empty());
            let mut rng = Rng::new(0x5eed ^ kind.len() as u64);
            feed(a, &mut rng, &real);
            let outcome = survived_or_closed(a, kind);
            let _ = a.assoc.close();
            // If garbage aborted our side the peer cannot know it: tell it we are done.
            a_done.store(true, Ordering::SeqCst);
            outcome
        },
        move |b| {
            b.connected();
            echo_until_closed(b, &b_view);
        },
    );
    eprintln!("{kind}: association {outcome}");
    outcome
}

#[test]
fn bad_input() {
    // Random bytes: the checksum rejects them all (reported, and counted), so the association
    // must survive.
    let outcome = run("random", |ep, rng, _| {
        for _ in 0..3000 {
            let mut p = vec![0u8; 12 + rng.below(1500) as usize];
            rng.fill(&mut p);
            let err = ep.assoc.input(p).unwrap_err();
            assert!(
                matches!(err, Error::MalformedPacket { reason, .. } if reason.contains("checksum")),
                "{err}"
            );
        }
    });
    assert_eq!(
        outcome, "survived",
        "packets with a bad checksum are dropped"
    );

    // Truncated real packets, half of them with the checksum fixed so the parser sees them.
    // SCTP discards a chunk that runs past its packet (RFC 9260 §3.2): the association lives.
    let outcome = run("truncated", |ep, rng, real| {
        for i in 0..3000 {
            let src = &real[rng.below(real.len() as u64) as usize];
            let cut = 12 + rng.below((src.len() - 12).max(1) as u64) as usize;
            let mut p = src[..cut.min(src.len())].to_vec();
            if i % 2 == 0 {
                fill_checksum(&mut p);
            }
            match ep.assoc.input(p) {
                // Fed to usrsctp, or refused: a wrong checksum, an invalid INIT.
                Ok(()) | Err(Error::MalformedPacket { .. }) => {}
                Err(e) => panic!("{e}"),
            }
            if ep.assoc.state() == usrsctp::AssociationState::Closed {
                break;
            }
        }
    });
    assert_eq!(outcome, "survived", "truncated chunks are discarded");

    // A valid common header (ports, verification tag) followed by random chunks, CRC32c correct.
    run("garbage chunks", |ep, rng, real| {
        for _ in 0..3000 {
            let src = &real[rng.below(real.len() as u64) as usize];
            let mut p = src[..12].to_vec();
            let body = 4 + rng.below(600) as usize;
            let mut chunk = vec![0u8; body];
            rng.fill(&mut chunk);
            // Half of the chunks carry a consistent length field.
            if rng.chance(0.5) {
                chunk[2..4].copy_from_slice(&(body as u16).to_be_bytes());
            }
            p.extend_from_slice(&chunk);
            fill_checksum(&mut p);
            if let Err(Error::Closed { .. }) = ep.assoc.input(p) {
                break; // closed by a garbage ABORT or protocol violation
            }
            // Keep the mailbox moving so outputs (ABORTs, error reports) are carried.
            while let Some(ev) = ep.worker.try_recv() {
                if !matches!(ev, Event::Transmit { .. }) {
                    ep.backlog.push_back(ev);
                }
            }
        }
    });

    // API misuse gives errors, and checks happen before anything is queued.
    let ((), ()) = default_pair(
        |a| {
            let (out, _) = a.connected();
            let err = a
                .assoc
                .send(out, ppid::BINARY, vec![1], SendOptions::reliable())
                .unwrap_err();
            assert!(
                matches!(err, Error::InvalidStream { stream, streams, .. } if stream == out && streams == out),
                "{err}"
            );
            let big = vec![0u8; a.assoc.config().max_message_size + 1];
            let err = a
                .assoc
                .send(0, ppid::BINARY, big, SendOptions::reliable())
                .unwrap_err();
            assert!(matches!(err, Error::MessageTooLarge { .. }), "{err}");
            assert!(err.to_string().contains("maximum message size"), "{err}");
            let err = a
                .assoc
                .send(0, 99, Vec::new(), SendOptions::reliable())
                .unwrap_err();
            assert!(matches!(err, Error::EmptyMessage { ppid: 99, .. }), "{err}");
            let err = a.assoc.input(vec![0u8; 5]).unwrap_err();
            assert!(
                matches!(err, Error::MalformedPacket { len: 5, .. }),
                "{err}"
            );
            let err = a.assoc.input(vec![0u8; 70_000]).unwrap_err();
            assert!(matches!(err, Error::MalformedPacket { .. }), "{err}");
            assert_eq!(a.assoc.buffered_amount(), 0, "refused sends queue nothing");
            // The association is unharmed.
            a.assoc
                .send(0, ppid::STRING, "still fine", SendOptions::reliable())
                .unwrap();
            let got = receive_messages(a, 1, T);
            assert_eq!(got[0].data, b"still fine");
        },
        |b| {
            b.connected();
            let got = receive_messages(b, 1, T);
            b.assoc
                .send(
                    0,
                    ppid::STRING,
                    got[0].data.clone(),
                    SendOptions::reliable(),
                )
                .unwrap();
        },
    );
    assert_eq!(usrsctp::Diagnostics::current().callback_panics, 0);
}
