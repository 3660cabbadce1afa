//! The thread that first starts the stack creates a worker and an association, then exits.
//! Workers on other threads then exchange 10,000 messages on the same stack without error.

mod common;

use std::time::{Duration, Instant};

use common::{pair, receive_messages, test_stack_config};
use usrsctp::{ppid, AssociationConfig, Diagnostics, Error, Event, SendOptions, Stack};
use usrsctp_test_support::pattern;

const N: u32 = 10_000;

#[test]
fn initiator_thread_exits() {
    assert!(
        Stack::running().is_none(),
        "no stack before the initiator runs"
    );
    let initiator = std::thread::spawn(|| {
        let stack = Stack::get_or_start(test_stack_config()).unwrap();
        let worker = stack.worker().unwrap();
        let assoc = worker.associate(AssociationConfig::default()).unwrap();
        // Its INIT goes out to nobody.
        assert!(matches!(
            worker.recv_timeout(Duration::from_secs(5)),
            Some(Event::Transmit { .. })
        ));
        let _ = assoc.id();
        (stack.clone(), std::thread::current().id())
        // worker, association and the thread end here
    });
    let (stack, initiator_id) = initiator.join().unwrap();
    assert_ne!(initiator_id, std::thread::current().id());
    let generation = stack.diagnostics().generation;
    assert!(
        stack.is_running(),
        "the stack outlives the thread that started it"
    );

    let (sent, got) = pair(
        AssociationConfig::default(),
        AssociationConfig::default(),
        0.0,
        |a| {
            a.connected();
            let mut i = 0;
            let deadline = Instant::now() + Duration::from_secs(60);
            while i < N {
                assert!(Instant::now() < deadline, "sending stalled at {i}");
                match a
                    .assoc
                    .send(0, ppid::BINARY, pattern(7, i, 100), SendOptions::reliable())
                {
                    Ok(_) => i += 1,
                    Err(Error::WouldBlock { .. }) => {
                        a.wait_for("BufferedAmountLow", Duration::from_secs(20), |e| {
                            matches!(e, Event::BufferedAmountLow { .. })
                        });
                    }
                    Err(e) => panic!("send {i}: {e}"),
                }
            }
            i
        },
        |b| {
            b.connected();
            let got = receive_messages(b, N as usize, Duration::from_secs(60));
            for (i, m) in got.iter().enumerate() {
                assert!(
                    m.data == pattern(7, i as u32, 100),
                    "message {i} intact and in order"
                );
            }
            got.len()
        },
    );
    assert_eq!((sent, got), (N, N as usize));
    assert_eq!(
        stack.diagnostics().generation,
        generation,
        "same stack throughout"
    );
    assert_eq!(Diagnostics::current().callback_panics, 0);
}
