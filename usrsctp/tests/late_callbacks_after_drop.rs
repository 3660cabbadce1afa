//! A worker is dropped mid-transfer while its peer keeps sending and retransmitting. Nothing
//! crashes; the dropped side's handle reports Closed; the stack counts the callbacks it dropped;
//! the peer sees the association lost.

mod common;

use std::time::{Duration, Instant};

use common::{receive_messages, stack, Endpoint};
use usrsctp::{ppid, AssociationConfig, CloseReason, Diagnostics, Error, Event, SendOptions};
use usrsctp_test_support::pattern;

#[test]
fn late_callbacks_after_drop() {
    let stack = stack();
    let before = Diagnostics::current();
    let (a_out, b_in) = crossbeam_channel::unbounded();
    let (b_out, a_in) = crossbeam_channel::unbounded();

    let st = stack.clone();
    let b = std::thread::spawn(move || {
        let mut ep = Endpoint::new(&st, AssociationConfig::default(), b_out, b_in, 2);
        ep.connected();
        receive_messages(&mut ep, 50, Duration::from_secs(20));
        let Endpoint {
            worker, assoc, inp, ..
        } = ep;
        // Mid-transfer: packets for it are in flight both ways.
        drop(worker);
        // Use after the worker is gone: a clear error, never a crash.
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            match assoc.send(1, ppid::BINARY, vec![1; 10], SendOptions::reliable()) {
                Err(Error::Closed { .. }) => break,
                Ok(_) | Err(Error::WouldBlock { .. }) => {
                    assert!(
                        Instant::now() < deadline,
                        "send after worker drop must report Closed"
                    );
                    std::thread::sleep(Duration::from_millis(5));
                }
                Err(e) => panic!("unexpected error after worker drop: {e}"),
            }
        }
        // Keep feeding the peer's packets into the dead association for a while.
        let until = Instant::now() + Duration::from_millis(300);
        let mut refused = 0;
        while Instant::now() < until {
            if let Ok(p) = inp.recv_timeout(Duration::from_millis(10)) {
                assert!(matches!(assoc.input(p), Err(Error::Closed { .. })));
                refused += 1;
            }
        }
        refused
    });

    let mut a = Endpoint::new(&stack, AssociationConfig::default(), a_out, a_in, 1);
    a.connected();
    let mut sent = 0u32;
    let deadline = Instant::now() + Duration::from_secs(60);
    let reason = loop {
        assert!(
            Instant::now() < deadline,
            "the sender never noticed the peer was gone"
        );
        match a.assoc.send(
            1,
            ppid::BINARY,
            pattern(1, sent, 1024),
            SendOptions::reliable(),
        ) {
            Ok(_) => sent += 1,
            Err(Error::WouldBlock { .. }) | Err(Error::Closed { .. }) => {}
            Err(e) => panic!("send: {e}"),
        }
        if let Some(Event::Closed { reason, .. }) = a.next_event(Duration::from_millis(1)) {
            break reason;
        }
    };
    let refused = b.join().unwrap();
    let after = Diagnostics::current();
    eprintln!(
        "sent {sent}; peer lost: {reason:?}; inputs refused after drop: {refused}; late callbacks dropped: {}",
        after.late_callbacks_dropped - before.late_callbacks_dropped
    );
    assert_eq!(reason, CloseReason::CommunicationLost);
    assert!(
        after.late_callbacks_dropped > before.late_callbacks_dropped,
        "the ABORT of the dropped side was a late callback"
    );
    assert_eq!(after.callback_panics, 0);
}
