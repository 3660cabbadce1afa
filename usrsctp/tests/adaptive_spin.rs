//! `StackConfig::adaptive_spin_us` (issue 13): with the default configuration the stack thread
//! polls for its next command while a ping-pong keeps commands coming soon after it ran dry
//! (counted in `Diagnostics::spins_caught`), every message still arrives in order and intact,
//! and a bound of 0 turns the polling off (as does a process confined to one CPU).

mod common;

use std::time::{Duration, Instant};

use common::{test_stack_config, LocalPair};
use usrsctp::{ppid, AssociationConfig, Diagnostics, Event, SendOptions, Stack, StackConfig};
use usrsctp_test_support::pattern;

const ROUNDS: u32 = 300;

/// Steps `pair` without waiting (the loop of a worker with nothing else to do, so each command
/// follows the stack thread's last output within µs) until `side` has a message; returns it.
fn next_message(pair: &mut LocalPair, side_b: bool) -> Vec<u8> {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        if !pair.step() {
            // Polite polling: lets the stack thread run where it shares this CPU.
            std::thread::yield_now();
        }
        let events = if side_b {
            &mut pair.events_b
        } else {
            &mut pair.events_a
        };
        if let Some(i) = events
            .iter()
            .position(|e| matches!(e, Event::Message { .. }))
        {
            if let Event::Message { message, .. } = events.remove(i) {
                return message.data.to_vec();
            }
        }
        assert!(Instant::now() < deadline, "no message within 10 s");
    }
}

/// `ROUNDS` round trips of 64-byte messages between two workers on this thread; checks every
/// echo.
fn ping_pong(stack: &Stack) {
    let mut pair = LocalPair::new(
        stack,
        AssociationConfig::default(),
        AssociationConfig::default(),
    );
    pair.connect();
    for i in 0..ROUNDS {
        let ping = pattern(9, i, 64);
        pair.assoc_a
            .send(1, ppid::BINARY, &ping[..], SendOptions::reliable())
            .expect("send ping");
        let got = next_message(&mut pair, true);
        pair.assoc_b
            .send(1, ppid::BINARY, got, SendOptions::reliable())
            .expect("send echo");
        assert_eq!(next_message(&mut pair, false), ping, "echo {i}");
    }
}

#[test]
fn the_adaptive_spin_catches_a_ping_pong_and_a_zero_bound_turns_it_off() {
    let stack = Stack::get_or_start(test_stack_config()).expect("the stack starts");
    assert_eq!(stack.config().adaptive_spin_us, 50, "on by default");
    assert_eq!(stack.config().spin_before_park_us, 0);
    let before = Diagnostics::current();
    ping_pong(&stack);
    let after = Diagnostics::current();
    let caught = after.spins_caught - before.spins_caught;
    let missed = after.spins_missed - before.spins_missed;
    if std::thread::available_parallelism().map_or(1, |n| n.get()) > 1 {
        // A round trip hands the stack thread four commands, each soon after it ran dry: the
        // window grows within the first few and then catches most of them.
        assert!(
            caught >= u64::from(ROUNDS),
            "{caught} commands caught by the spin in {ROUNDS} round trips ({missed} polls missed)"
        );
    } else {
        // One CPU: the poll would hold the CPU the worker needs, so it stays off.
        assert_eq!((caught, missed), (0, 0), "no poll on one CPU");
    }
    stack.shutdown().expect("shutdown");

    let stack = Stack::start(StackConfig {
        adaptive_spin_us: 0,
        ..test_stack_config()
    })
    .expect("the stack starts without the adaptive spin");
    let before = Diagnostics::current();
    ping_pong(&stack);
    let after = Diagnostics::current();
    assert_eq!(
        after.spins_caught, before.spins_caught,
        "no poll caught anything"
    );
    assert_eq!(after.spins_missed, before.spins_missed, "no poll ran");
    stack.shutdown().expect("shutdown");
}
