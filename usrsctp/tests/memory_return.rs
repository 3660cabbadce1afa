//! Issue 14: once enough associations have closed and the stack is quiet, the stack thread
//! hands the memory they freed back to the system while it keeps running
//! (`StackConfig::return_memory_after_closed`; glibc only).

mod common;

use std::time::{Duration, Instant};

use usrsctp::{AssociationConfig, Diagnostics, Stack, StackConfig};

#[cfg(all(target_os = "linux", target_env = "gnu"))]
#[test]
fn memory_is_returned_while_running_once_a_crowd_has_closed_and_the_stack_is_quiet() {
    const PAIRS: usize = 20;
    let stack = Stack::get_or_start(StackConfig {
        return_memory_after_closed: (2 * PAIRS) as u32,
        ..common::test_stack_config()
    })
    .expect("the stack starts");
    let mut pairs: Vec<common::LocalPair> = (0..PAIRS)
        .map(|_| {
            let cfg = AssociationConfig::default();
            common::LocalPair::new(&stack, cfg.clone(), cfg)
        })
        .collect();
    for pair in &mut pairs {
        pair.connect();
    }
    let before = Diagnostics::current().memory_returns;
    assert_eq!(stack.diagnostics().associations, (2 * PAIRS) as u64);

    // Dropping an association aborts it; the stack thread forgets it at once.
    let waiter = stack.worker().expect("worker");
    drop(pairs);
    let deadline = Instant::now() + Duration::from_secs(20);
    while Diagnostics::current().memory_returns == before {
        assert!(
            Instant::now() < deadline,
            "no memory returned 20 s after {} associations closed",
            2 * PAIRS
        );
        // A bounded wait on a mailbox nobody posts to: the stack needs 2 s of quiet.
        assert!(waiter.recv_timeout(Duration::from_millis(50)).is_none());
    }
    assert_eq!(stack.diagnostics().associations, 0);
    assert_eq!(
        Diagnostics::current().memory_returns,
        before + 1,
        "one return for one crowd"
    );
    // The stack still works afterwards.
    let mut pair = common::LocalPair::new(
        &stack,
        AssociationConfig::default(),
        AssociationConfig::default(),
    );
    pair.connect();
    pair.exchange("after the memory went back");
}
