//! A `send` racing with the association's end: the message is either accepted and reported
//! before `Closed` (the association's last event), or refused with `Error::Closed`. Before the
//! fix, a message accepted while the stack thread was ending the association was reported
//! after `Closed`.

mod common;

use std::time::{Duration, Instant};

use usrsctp::{ppid, AssociationConfig, Error, Event, SendOptions};

#[test]
fn a_send_racing_with_the_peers_abort_is_reported_before_closed_or_refused() {
    let stack = common::stack();
    const ROUNDS: usize = 30;
    for round in 0..ROUNDS {
        let cfg = AssociationConfig::default;
        let mut pair = common::LocalPair::new(&stack, cfg(), cfg());
        pair.connect();
        // B aborts; its ABORT is fed to A, and A keeps sending while the stack thread ends A.
        pair.assoc_b.abort().expect("abort b");
        let deadline = Instant::now() + Duration::from_secs(10);
        let abort = loop {
            assert!(Instant::now() < deadline, "round {round}: no ABORT from b");
            if let Some(Event::Transmit { packet, .. }) =
                pair.b.recv_timeout(Duration::from_millis(100))
            {
                break packet;
            }
        };
        pair.assoc_a
            .input(abort)
            .expect("the ABORT is a valid packet");
        let mut accepted = Vec::new();
        loop {
            let sent = pair
                .assoc_a
                .send(0, ppid::BINARY, &[1u8; 16][..], SendOptions::reliable());
            match sent {
                Ok(id) => accepted.push(id.get()),
                Err(Error::Closed { .. }) => break,
                // The queue is full (nothing is carried): try again until the end comes.
                Err(Error::WouldBlock { .. }) => std::thread::yield_now(),
                Err(e) => panic!("round {round}: send: {e}"),
            }
            assert!(Instant::now() < deadline, "round {round}: A never closed");
        }
        // Every accepted message is reported, and `Closed` comes after all of them. (A's
        // DATA packets are not carried: none is delivered.)
        let mut reported = Vec::new();
        let mut closed = false;
        let deadline = Instant::now() + Duration::from_secs(20);
        while reported.len() < accepted.len() || !closed {
            assert!(
                Instant::now() < deadline,
                "round {round}: {} of {} accepted messages reported, closed: {closed}",
                reported.len(),
                accepted.len()
            );
            let Some(ev) = pair.a.recv_timeout(Duration::from_millis(100)) else {
                continue;
            };
            match ev {
                Event::SendFailed { message, .. } => {
                    assert!(
                        !closed,
                        "round {round}: message {} of {} reported after Closed",
                        message.get(),
                        accepted.len()
                    );
                    reported.push(message.get());
                }
                Event::Closed { .. } => closed = true,
                _ => {}
            }
        }
        reported.sort_unstable();
        assert_eq!(
            reported, accepted,
            "round {round}: one report per accepted message"
        );
    }
}
