//! `StackConfig::spin_before_park_us` (issue 13's low-latency opt-in): a stack that polls its
//! command channel before parking still delivers every message, in order and intact, in a
//! ping-pong (the traffic shape it is for: one message in flight, the stack idle in between),
//! and an out-of-range value is refused before any thread starts.

mod common;

use std::time::Duration;

use common::{default_pair, receive_messages, test_stack_config};
use usrsctp::{ppid, Error, SendOptions, Stack, StackConfig};
use usrsctp_test_support::pattern;

const ROUNDS: u32 = 300;
const SPIN_US: u32 = 200;

#[test]
fn low_latency_spin_delivers_a_ping_pong() {
    let refused = Stack::start(StackConfig {
        spin_before_park_us: 5_000,
        ..test_stack_config()
    });
    assert!(
        matches!(&refused, Err(Error::InvalidConfig { field, .. }) if *field == "spin_before_park_us"),
        "{refused:?}"
    );

    let stack = Stack::get_or_start(StackConfig {
        spin_before_park_us: SPIN_US,
        ..test_stack_config()
    })
    .expect("the stack starts");
    assert_eq!(stack.config().spin_before_park_us, SPIN_US);

    let (echoes, served) = default_pair(
        |a| {
            a.connected();
            let mut echoes = Vec::new();
            for i in 0..ROUNDS {
                a.assoc
                    .send(1, ppid::BINARY, pattern(7, i, 64), SendOptions::reliable())
                    .expect("send ping");
                let got = receive_messages(a, 1, Duration::from_secs(10));
                echoes.extend(got.into_iter().map(|m| m.data));
            }
            echoes
        },
        |b| {
            b.connected();
            for _ in 0..ROUNDS {
                let got = receive_messages(b, 1, Duration::from_secs(10));
                for m in got {
                    b.assoc
                        .send(1, ppid::BINARY, m.data, SendOptions::reliable())
                        .expect("send echo");
                }
            }
            ROUNDS
        },
    );
    assert_eq!(served, ROUNDS);
    assert_eq!(echoes.len(), ROUNDS as usize);
    for (i, data) in echoes.iter().enumerate() {
        assert_eq!(data, &pattern(7, i as u32, 64), "echo {i}");
    }
    stack.shutdown().expect("shutdown");
}
