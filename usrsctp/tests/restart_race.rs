//! Issue 12, items 9 and 10: a start racing a shutdown must not run two usrsctp instances. The
//! new stack may initialise usrsctp only after the old one's `usrsctp_finish` returned;
//! before, the old thread's finish could run after the new one's init, and the new stack,
//! though "running", failed every `associate` with EPROTONOSUPPORT (or the process crashed).

mod common;

use std::sync::{Arc, Barrier};

use common::{test_stack_config, LocalPair};
use usrsctp::{AssociationConfig, Diagnostics, Stack};

const ROUNDS: usize = 12;
const IDLE_ASSOCIATIONS: usize = 40;

#[test]
fn restart_race() {
    for round in 0..ROUNDS {
        let stack = Stack::get_or_start(test_stack_config()).expect("stack");
        let generation = stack.diagnostics().generation;
        // Idle associations give the old stack's teardown and `usrsctp_finish` some work.
        let worker = stack.worker().expect("worker");
        let idle: Vec<_> = (0..IDLE_ASSOCIATIONS)
            .map(|_| {
                worker
                    .associate(AssociationConfig::default())
                    .expect("associate")
            })
            .collect();

        let go = Arc::new(Barrier::new(3));
        let stopper = {
            let (stack, go) = (stack.clone(), go.clone());
            std::thread::spawn(move || {
                go.wait();
                stack.shutdown()
            })
        };
        let starter = {
            let go = go.clone();
            std::thread::spawn(move || {
                go.wait();
                // Ask until the old stack is gone and a new one is handed out.
                loop {
                    let s = Stack::get_or_start(test_stack_config()).expect("get_or_start");
                    if s.diagnostics().generation != generation {
                        return s;
                    }
                    // Still the old one (the shutdown has not begun): ask again.
                    std::thread::yield_now();
                }
            })
        };
        // Meanwhile the process-wide figures stay readable.
        let watcher = {
            let go = go.clone();
            std::thread::spawn(move || {
                go.wait();
                for _ in 0..200 {
                    let _ = Diagnostics::current();
                    let _ = Stack::running();
                }
            })
        };
        stopper.join().expect("stopper").expect("shutdown");
        let fresh = starter.join().expect("starter");
        watcher.join().expect("watcher");
        drop(idle);
        drop(worker);

        // The new stack owns a working usrsctp: a pair connects and carries a message.
        assert!(fresh.is_running(), "round {round}");
        let mut pair = LocalPair::new(
            &fresh,
            AssociationConfig::default(),
            AssociationConfig::default(),
        );
        pair.connect();
        pair.exchange(&format!("round {round}"));
        drop(pair);
        fresh.shutdown().expect("shutdown of the fresh stack");
    }
}
