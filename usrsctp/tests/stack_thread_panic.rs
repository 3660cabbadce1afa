//! Issue 12, item 8: the stack thread cannot die silently. A configuration that would overflow
//! a deadline is refused up front, and a panic on the stack thread (injected: no user input
//! reaches one) closes every association with `StackFailed`, marks the stack dead with the
//! reason, finishes usrsctp, and lets the next `Stack::global` start a fresh stack.

mod common;

use std::time::Duration;

use common::{closed_reason, test_stack_config, LocalPair};
use usrsctp::{
    ppid, AssociationConfig, CloseReason, Diagnostics, Error, Event, SendOptions, Stack,
};

#[test]
fn stack_thread_panic() {
    let stack = Stack::get_or_start(test_stack_config()).expect("stack");

    // A close timeout that cannot be added to a clock reading is refused, not accepted and
    // then fatal to the stack thread when `close` computes its deadline.
    let worker = stack.worker().expect("worker");
    let err = worker
        .associate(AssociationConfig {
            close_timeout: Duration::MAX,
            ..Default::default()
        })
        .expect_err("Duration::MAX is not a close timeout");
    assert!(
        matches!(
            err,
            Error::InvalidConfig {
                field: "close_timeout",
                ..
            }
        ),
        "{err}"
    );

    // A connected pair and a third association still connecting, then a panic.
    let mut pair = LocalPair::new(
        &stack,
        AssociationConfig::default(),
        AssociationConfig::default(),
    );
    pair.connect();
    let lonely = worker
        .associate(AssociationConfig::default())
        .expect("third");
    let before = Diagnostics::current().stack_panics;
    let generation = stack.diagnostics().generation;
    stack
        .inject_panic_for_tests()
        .expect("the stack thread takes the command");

    pair.run_until("Closed on both sides", Duration::from_secs(20), |p| {
        closed_reason(&p.events_a).is_some() && closed_reason(&p.events_b).is_some()
    });
    assert_eq!(
        closed_reason(&pair.events_a),
        Some(CloseReason::StackFailed)
    );
    assert_eq!(
        closed_reason(&pair.events_b),
        Some(CloseReason::StackFailed)
    );
    let mut lonely_reason = None;
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while lonely_reason.is_none() && std::time::Instant::now() < deadline {
        if let Some(Event::Closed { reason, .. }) = worker.recv_timeout(Duration::from_millis(50)) {
            lonely_reason = Some(reason);
        }
    }
    assert_eq!(lonely_reason, Some(CloseReason::StackFailed));

    assert!(!stack.is_running(), "a failed stack does not claim to run");
    assert!(Stack::running().is_none(), "nor is it handed out");
    let why = stack.failure().expect("the stack says why it stopped");
    assert!(why.contains("panicked"), "{why}");
    assert_eq!(Diagnostics::current().stack_panics, before + 1);
    assert!(matches!(stack.worker(), Err(Error::StackShutdown)));
    assert!(matches!(
        pair.assoc_a
            .send(0, ppid::BINARY, vec![1], SendOptions::reliable()),
        Err(Error::Closed { .. })
    ));
    drop(lonely);

    // The next global stack is a fresh one, and it works.
    let fresh = Stack::get_or_start(test_stack_config()).expect("a fresh stack starts");
    assert!(fresh.is_running());
    assert!(fresh.diagnostics().generation > generation);
    let mut pair = LocalPair::new(
        &fresh,
        AssociationConfig::default(),
        AssociationConfig::default(),
    );
    pair.connect();
    pair.exchange("after the panic");
}
