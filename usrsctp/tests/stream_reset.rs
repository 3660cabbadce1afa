//! A stream reset (RFC 6525) is seen by the peer, which resets its side as WebRTC does; the
//! stream is usable afterwards in both directions.

mod common;

use std::time::Duration;

use common::{default_pair, receive_messages};
use usrsctp::{ppid, Error, Event, ResetDirection, ResetOutcome, SendOptions};

const STREAM: u16 = 3;
const T: Duration = Duration::from_secs(20);

fn is_reset(e: &Event, dir: ResetDirection) -> bool {
    matches!(e, Event::StreamsReset { direction, streams, outcome: ResetOutcome::Performed, .. }
        if *direction == dir && streams == &[STREAM])
}

#[test]
fn stream_reset() {
    default_pair(
        |a| {
            a.connected();
            a.assoc
                .send(STREAM, ppid::STRING, "before", SendOptions::reliable())
                .unwrap();
            a.assoc.reset_streams(&[STREAM]).unwrap();
            a.wait_for("our outgoing reset", T, |e| {
                is_reset(e, ResetDirection::Outgoing)
            });
            a.wait_for("the peer's reset of its side", T, |e| {
                is_reset(e, ResetDirection::Incoming)
            });
            a.assoc
                .send(
                    STREAM,
                    ppid::STRING,
                    "after, from A",
                    SendOptions::reliable(),
                )
                .unwrap();
            let got = receive_messages(a, 1, T);
            assert_eq!(got[0].data, b"after, from B");
            assert_eq!(got[0].stream, STREAM);
            let err = a.assoc.reset_streams(&[5000]).unwrap_err();
            assert!(
                matches!(err, Error::InvalidStream { stream: 5000, .. }),
                "{err}"
            );
        },
        |b| {
            b.connected();
            let got = receive_messages(b, 1, T);
            assert_eq!(
                got[0].data, b"before",
                "data sent before the reset arrives before it"
            );
            b.wait_for("the peer's reset", T, |e| {
                is_reset(e, ResetDirection::Incoming)
            });
            b.assoc.reset_streams(&[STREAM]).unwrap();
            b.wait_for("our outgoing reset", T, |e| {
                is_reset(e, ResetDirection::Outgoing)
            });
            b.assoc
                .send(
                    STREAM,
                    ppid::STRING,
                    "after, from B",
                    SendOptions::reliable(),
                )
                .unwrap();
            let got = receive_messages(b, 1, T);
            assert_eq!(got[0].data, b"after, from A");
        },
    );
}
