//! What the stack thread's adaptive poll (`StackConfig::adaptive_spin_us`) costs and saves when
//! traffic is paced: one association pair on one worker (this thread, both ends; the worker
//! carries each end's packets into the other's `input`) sends a 64-byte message every `gap`,
//! and between events the worker sleeps in `ppoll` on its mailbox until the next send is due.
//!
//! For each gap the poll's bound is run at 0 (off: the stack thread parks at once) and at the
//! default, alternately, each on a fresh stack: 0.5 s warm-up, then the window. One JSON line
//! per run: messages per second, the stack thread's CPU and the process CPU per message, and
//! the polls that caught a command or missed (`Diagnostics::spins_caught` / `spins_missed`).
//! A gap of 0 sends as fast as `WouldBlock` allows.
//!
//! ```text
//! cargo bench --bench paced                                  # about 40 s
//! PACED_GAPS_US=0,50 PACED_SECS=1 cargo bench --bench paced  # a short run
//! ```
//!
//! Settings (environment): `PACED_GAPS_US` (comma-separated, default 0,20,50,100,300,1000),
//! `PACED_SECS` (window per run, default 3).

#[allow(dead_code)]
mod peers;

use std::time::{Duration, Instant};

use usrsctp::{ppid, AssociationConfig, Diagnostics, Event, SendOptions, Stack, StackConfig};

use peers::cpu_time::{process_cpu, ThreadCpu};
use peers::local::LocalPairs;

const SIZE: usize = 64;
const WARM_UP: Duration = Duration::from_millis(500);
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// Counts of one window.
#[derive(Default)]
struct Window {
    sent: u64,
    received: u64,
}

/// Sends one message every `gap` for `length`, carrying packets and sleeping in between.
fn pace(pairs: &mut LocalPairs, gap: Duration, length: Duration) -> Window {
    let data = [7u8; SIZE];
    let mut w = Window::default();
    let start = Instant::now();
    let end = start + length;
    let mut next = start;
    loop {
        let moved = pairs.pump(|i, e| {
            if i == 1 && matches!(e, Event::Message { .. }) {
                w.received += 1;
            }
        });
        let now = Instant::now();
        if now >= end {
            return w;
        }
        if now >= next {
            match pairs
                .assoc(0)
                .send(0, ppid::BINARY, &data[..], SendOptions::reliable())
            {
                Ok(_) => w.sent += 1,
                Err(e) if e.is_would_block() => {}
                Err(e) => panic!("send: {e}"),
            }
            // The schedule does not catch up after a stall: the gap is a gap.
            next = now + gap;
        } else if moved == 0 {
            pairs.wait(next - now);
        }
    }
}

fn run(gap_us: u64, adaptive_spin_us: u32, secs: f64) {
    let stack = Stack::start(StackConfig {
        adaptive_spin_us,
        ..StackConfig::default()
    })
    .expect("the stack starts");
    let stack_thread =
        ThreadCpu::wait_for("usrsctp", Duration::from_secs(5)).expect("the stack thread");
    let mut pairs = LocalPairs::new(stack.worker().expect("worker"));
    pairs
        .open(1, &AssociationConfig::default(), CONNECT_TIMEOUT, |_, _| {})
        .expect("the pair connects");
    let gap = Duration::from_micros(gap_us);
    pace(&mut pairs, gap, WARM_UP);

    let (stack0, process0, d0) = (
        stack_thread.precise_time().expect("stack thread CPU"),
        process_cpu(),
        Diagnostics::current(),
    );
    let start = Instant::now();
    let w = pace(&mut pairs, gap, Duration::from_secs_f64(secs));
    let elapsed = start.elapsed().as_secs_f64();
    let (stack1, process1, d1) = (
        stack_thread.precise_time().expect("stack thread CPU"),
        process_cpu(),
        Diagnostics::current(),
    );
    pairs.close_all(CONNECT_TIMEOUT).expect("the pair closes");
    drop(pairs);
    stack.shutdown().expect("shutdown");

    let per_msg = |d: Duration| d.as_secs_f64() * 1e6 / w.sent.max(1) as f64;
    println!(
        "{{\"bench\":\"paced\",\"gap_us\":{gap_us},\"adaptive_spin_us\":{adaptive_spin_us},\
         \"secs\":{elapsed:.2},\"sent\":{},\"received\":{},\"msgs_per_s\":{:.0},\
         \"stack_cpu_pct\":{:.1},\"stack_us_per_msg\":{:.2},\"process_us_per_msg\":{:.2},\
         \"spins_caught\":{},\"spins_missed\":{}}}",
        w.sent,
        w.received,
        w.sent as f64 / elapsed,
        (stack1 - stack0).as_secs_f64() * 100.0 / elapsed,
        per_msg(stack1 - stack0),
        per_msg(process1 - process0),
        d1.spins_caught - d0.spins_caught,
        d1.spins_missed - d0.spins_missed,
    );
}

fn main() {
    let gaps: Vec<u64> = std::env::var("PACED_GAPS_US")
        .unwrap_or_else(|_| "0,20,50,100,300,1000".into())
        .split(',')
        .map(|g| {
            g.trim()
                .parse()
                .expect("PACED_GAPS_US: µs, comma-separated")
        })
        .collect();
    let secs: f64 = std::env::var("PACED_SECS")
        .ok()
        .map(|s| s.parse().expect("PACED_SECS: seconds"))
        .unwrap_or(3.0);
    assert!(secs > 0.0, "PACED_SECS must be positive");
    let default_bound = StackConfig::default().adaptive_spin_us;
    for gap in gaps {
        for bound in [0, default_bound] {
            run(gap, bound, secs);
        }
    }
}
