//! The stack is shut down and started again several times, with traffic on every cycle: each
//! start initialises usrsctp afresh (without a timer thread of its own), each shutdown finishes
//! it, and no thread is left behind.

mod common;

use std::time::Duration;

use common::{default_pair, receive_messages, test_stack_config};
use usrsctp::{ppid, AssociationConfig, CloseReason, Error, Event, SendOptions, Stack};
use usrsctp_test_support::pattern;

const CYCLES: u64 = 4;
const MESSAGES: u32 = 200;

fn thread_count() -> usize {
    std::fs::read_dir("/proc/self/task")
        .map(|d| d.count())
        .unwrap_or(0)
}

/// The names of this process's threads.
fn thread_names() -> Vec<String> {
    let Ok(dir) = std::fs::read_dir("/proc/self/task") else {
        return Vec::new();
    };
    dir.filter_map(|t| std::fs::read_to_string(t.ok()?.path().join("comm")).ok())
        .map(|n| n.trim_end().to_owned())
        .collect()
}

fn exchange() {
    default_pair(
        |a| {
            a.connected();
            for i in 0..MESSAGES {
                a.assoc
                    .send(0, ppid::BINARY, pattern(1, i, 500), SendOptions::reliable())
                    .unwrap();
            }
            let got = receive_messages(a, 1, Duration::from_secs(20));
            assert_eq!(got[0].data, b"done");
            a.assoc.close().unwrap();
            assert_eq!(a.closed(), CloseReason::Graceful);
        },
        |b| {
            b.connected();
            let got = receive_messages(b, MESSAGES as usize, Duration::from_secs(20));
            for (i, m) in got.iter().enumerate() {
                assert!(m.data == pattern(1, i as u32, 500));
            }
            b.assoc
                .send(0, ppid::STRING, "done", SendOptions::reliable())
                .unwrap();
            b.closed();
        },
    );
}

#[test]
fn stack_restart() {
    let threads_before = thread_count();
    let mut last_generation = 0;
    for cycle in 0..CYCLES {
        let stack = Stack::start(test_stack_config())
            .unwrap_or_else(|e| panic!("cycle {cycle}: start: {e}"));
        assert!(matches!(
            Stack::start(test_stack_config()),
            Err(Error::AlreadyRunning)
        ));
        // The stack thread drives usrsctp's timers: usrsctp runs no timer thread (and no
        // receive threads, even when the system library has IPv4/IPv6 support).
        let names = thread_names();
        assert!(names.iter().any(|n| n == "usrsctp"), "threads: {names:?}");
        assert!(
            !names
                .iter()
                .any(|n| n.starts_with("SCTP timer") || n.starts_with("SCTP/IP")),
            "cycle {cycle}: usrsctp started threads of its own: {names:?}"
        );
        let generation = stack.diagnostics().generation;
        assert!(generation > last_generation, "a new stack each cycle");
        last_generation = generation;
        exchange();
        // A worker that outlives the shutdown sees its association end with StackShutdown.
        let worker = stack.worker().unwrap();
        let assoc = worker.associate(AssociationConfig::default()).unwrap();
        stack
            .shutdown()
            .unwrap_or_else(|e| panic!("cycle {cycle}: shutdown: {e}"));
        assert!(!stack.is_running());
        let mut saw_shutdown = false;
        while let Some(ev) = worker.try_recv() {
            saw_shutdown |= matches!(
                ev,
                Event::Closed {
                    reason: CloseReason::StackShutdown,
                    ..
                }
            );
        }
        assert!(
            saw_shutdown,
            "cycle {cycle}: open associations are told about the shutdown"
        );
        assert!(matches!(
            assoc.send(0, ppid::BINARY, vec![1], SendOptions::reliable()),
            Err(Error::Closed { .. })
        ));
        assert!(matches!(stack.worker(), Err(Error::StackShutdown)));
        drop(assoc);
        drop(worker);
    }
    // usrsctp's own threads (its address iterator) are joined by usrsctp_finish; ours by
    // shutdown. A joined thread's /proc entry can outlive the join by a moment (the kernel
    // wakes the joiner before it reaps the thread: 1 run in ~40 saw it), so the count is
    // polled until it is back, within a bound; a thread really left behind never leaves.
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    while thread_count() != threads_before && std::time::Instant::now() < deadline {
        std::thread::yield_now();
    }
    assert_eq!(
        thread_count(),
        threads_before,
        "no thread left behind after {CYCLES} cycles: {:?}",
        thread_names()
    );
}
