//! Side-by-side benchmarks of the `usrsctp` crate against raw usrsctp and the pure-Rust SCTP
//! stacks. Ids are a contract (see BENCHMARKS.md):
//!
//! - `throughput/{wrapper,raw,sctp-proto,webrtc-sctp}/{64,1024,16384,65536}`: one-way bulk
//!   transfer of reliable ordered messages of that size on one stream; bytes/s.
//! - `latency/{wrapper,raw,sctp-proto,webrtc-sctp}/64`: one round trip of a 64-byte message;
//!   `latency/wrapper-park/64` with the stack thread's adaptive poll off
//!   (`StackConfig::adaptive_spin_us` = 0), `latency/wrapper-spin/64` with the low-latency
//!   opt-in (`spin_before_park_us` = 200). Each wrapper id prints its process CPU per round trip.
//! - `scaling/workers/{1,2,4,8}`: aggregate messages/s (1 KiB) with that many wrapper pairs.
//! - `setup/wrapper/associate`: bring an association pair up and close it.
//! - `cpu/{wrapper,raw,sctp-proto}/1024`: the `throughput/*/1024` transfer measured in process
//!   CPU time (all threads) instead of wall time; `thrpt:` is CPU time per message. For the
//!   wrapper the stack thread's own CPU per message is printed next to it.
//!
//! Each id sets its pair up once (outside the timed loop) and tears it down after; an iteration
//! transfers a batch and waits until the receiver has all of it. usrsctp is process-global:
//! the wrapper's stack is shut down after each wrapper id, before the raw peer initialises
//! usrsctp itself.
//!
//! ```text
//! cargo bench --bench sctp                 # everything (about 2 minutes)
//! cargo bench --bench sctp -- throughput/  # one group
//! ```

mod peers;

use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use usrsctp::{Diagnostics, Stack, StackConfig};

use peers::cpu_time::{process_cpu, spin_cpu, ProcessCpu, ThreadCpu};

use peers::raw::RawPair;
use peers::sctp_proto::ProtoPair;
use peers::webrtc_sctp::WebrtcPair;
use peers::wrapper::{self, SetupPair, WrapperPair};

const SIZES: [usize; 4] = [64, 1024, 16384, 65536];
/// Bytes per throughput iteration (fewer for 64-byte messages, which are per-message bound).
const BATCH_BYTES: usize = 2 * 1024 * 1024;
const MAX_BATCH_MESSAGES: usize = 16 * 1024;
/// Messages of 1 KiB per scaling iteration, split evenly over the pairs.
const SCALING_MESSAGES: u64 = 8 * 1024;
const SCALING_SIZE: usize = 1024;
/// `latency/wrapper-spin`: the low-latency opt-in's setting (`StackConfig::spin_before_park_us`).
/// `latency/wrapper-park` turns the adaptive poll off (`StackConfig::adaptive_spin_us` = 0).
const LOW_LATENCY_SPIN_US: u32 = 200;

fn batch_messages(size: usize) -> u64 {
    (BATCH_BYTES / size).clamp(16, MAX_BATCH_MESSAGES) as u64
}

/// Runs `iters` calls of `f` and adds up the durations they report.
fn total(iters: u64, mut f: impl FnMut() -> Duration) -> Duration {
    (0..iters).map(|_| f()).sum()
}

/// Shuts the wrapper's stack down (after its pairs were dropped), so raw usrsctp may start.
fn stop(stack: Option<Stack>) {
    if let Some(stack) = stack {
        stack.shutdown().expect("stack shutdown");
    }
}

fn throughput(c: &mut Criterion) {
    let d = usrsctp::Diagnostics::current();
    eprintln!("usrsctp {} ({} build)", d.version, d.build);
    let mut group = c.benchmark_group("throughput");
    group
        .sample_size(10)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(3));
    for size in SIZES {
        let count = batch_messages(size);
        group.throughput(Throughput::Bytes(count * size as u64));

        let mut pair: Option<(Stack, WrapperPair)> = None;
        group.bench_function(BenchmarkId::new("wrapper", size), |b| {
            let (_, pair) = pair.get_or_insert_with(|| {
                let stack = wrapper::stack();
                let pair = WrapperPair::bulk(&stack, size);
                (stack, pair)
            });
            b.iter_custom(|iters| total(iters, || pair.transfer(count)));
        });
        stop(pair.map(|(stack, pair)| {
            drop(pair);
            stack
        }));

        let mut pair: Option<RawPair> = None;
        group.bench_function(BenchmarkId::new("raw", size), |b| {
            let pair = pair.get_or_insert_with(|| RawPair::new(size));
            b.iter_custom(|iters| total(iters, || pair.transfer(count)));
        });
        drop(pair);

        let mut pair: Option<ProtoPair> = None;
        group.bench_function(BenchmarkId::new("sctp-proto", size), |b| {
            let pair = pair.get_or_insert_with(|| ProtoPair::new(size));
            b.iter_custom(|iters| total(iters, || pair.transfer(count)));
        });
        drop(pair);

        let mut pair: Option<WebrtcPair> = None;
        group.bench_function(BenchmarkId::new("webrtc-sctp", size), |b| {
            let pair = pair.get_or_insert_with(|| WebrtcPair::new(size));
            b.iter_custom(|iters| total(iters, || pair.transfer(count)));
        });
        drop(pair);
    }
    group.finish();
}

fn latency(c: &mut Criterion) {
    const SIZE: usize = 64;
    let mut group = c.benchmark_group("latency");
    group
        .sample_size(10)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(3));

    // The default configuration; the stack thread parking at once (no adaptive poll, the
    // default before it); the low-latency opt-in (`spin_before_park_us`). Each also reports
    // its process CPU per round trip on a side line (the price or the saving of polling).
    let defaults = StackConfig::default();
    for (id, spin_us, adaptive_us) in [
        (
            "wrapper",
            defaults.spin_before_park_us,
            defaults.adaptive_spin_us,
        ),
        ("wrapper-park", 0, 0),
        (
            "wrapper-spin",
            LOW_LATENCY_SPIN_US,
            defaults.adaptive_spin_us,
        ),
    ] {
        let mut pair: Option<(Stack, WrapperPair)> = None;
        let (mut cpu, mut trips, mut polls) = (Duration::ZERO, 0u64, (0u64, 0u64));
        group.bench_function(BenchmarkId::new(id, SIZE), |b| {
            let (_, pair) = pair.get_or_insert_with(|| {
                let stack = wrapper::stack_with(StackConfig {
                    spin_before_park_us: spin_us,
                    adaptive_spin_us: adaptive_us,
                    ..StackConfig::default()
                });
                let pair = WrapperPair::echo(&stack, SIZE);
                (stack, pair)
            });
            b.iter_custom(|iters| {
                let (cpu0, d0) = (process_cpu(), Diagnostics::current());
                let wall = pair.ping(iters);
                cpu += process_cpu() - cpu0;
                let d1 = Diagnostics::current();
                polls.0 += d1.spins_caught - d0.spins_caught;
                polls.1 += d1.spins_missed - d0.spins_missed;
                trips += iters;
                wall
            });
        });
        if trips > 0 {
            eprintln!(
                "latency/{id}/{SIZE}: {:.1} µs process CPU per round trip ({trips} round trips, \
                 warm-up included; spin_before_park_us = {spin_us}, adaptive_spin_us = \
                 {adaptive_us}; polls caught {}, missed {})",
                cpu.as_secs_f64() * 1e6 / trips as f64,
                polls.0,
                polls.1
            );
        }
        stop(pair.map(|(stack, pair)| {
            drop(pair);
            stack
        }));
    }

    let mut pair: Option<RawPair> = None;
    group.bench_function(BenchmarkId::new("raw", SIZE), |b| {
        let pair = pair.get_or_insert_with(|| RawPair::new(SIZE));
        b.iter_custom(|iters| pair.ping(iters));
    });
    drop(pair);

    let mut pair: Option<ProtoPair> = None;
    group.bench_function(BenchmarkId::new("sctp-proto", SIZE), |b| {
        let pair = pair.get_or_insert_with(|| ProtoPair::new(SIZE));
        b.iter_custom(|iters| pair.ping(iters));
    });
    drop(pair);

    let mut pair: Option<WebrtcPair> = None;
    group.bench_function(BenchmarkId::new("webrtc-sctp", SIZE), |b| {
        let pair = pair.get_or_insert_with(|| WebrtcPair::new(SIZE));
        b.iter_custom(|iters| pair.ping(iters));
    });
    drop(pair);
    group.finish();
}

fn scaling(c: &mut Criterion) {
    let mut group = c.benchmark_group("scaling");
    group
        .sample_size(10)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(3))
        .throughput(Throughput::Elements(SCALING_MESSAGES));
    for workers in [1usize, 2, 4, 8] {
        let per_pair = SCALING_MESSAGES / workers as u64;
        let mut pairs: Option<(Stack, Vec<WrapperPair>)> = None;
        group.bench_function(BenchmarkId::new("workers", workers), |b| {
            let (_, pairs) = pairs.get_or_insert_with(|| {
                let stack = wrapper::stack();
                let pairs = (0..workers)
                    .map(|_| WrapperPair::bulk(&stack, SCALING_SIZE))
                    .collect();
                (stack, pairs)
            });
            b.iter_custom(|iters| {
                total(iters, || {
                    let start = Instant::now();
                    for pair in pairs.iter_mut() {
                        pair.start(per_pair);
                    }
                    for pair in pairs.iter() {
                        pair.wait();
                    }
                    start.elapsed()
                })
            });
        });
        stop(pairs.map(|(stack, pairs)| {
            drop(pairs);
            stack
        }));
    }
    group.finish();
}

fn setup(c: &mut Criterion) {
    let mut group = c.benchmark_group("setup");
    group
        .sample_size(10)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(3));
    let mut pair: Option<(Stack, SetupPair)> = None;
    group.bench_function(BenchmarkId::new("wrapper", "associate"), |b| {
        let (_, pair) = pair.get_or_insert_with(|| {
            let stack = wrapper::stack();
            let pair = SetupPair::new(&stack);
            (stack, pair)
        });
        b.iter_custom(|iters| {
            let start = Instant::now();
            for _ in 0..iters {
                pair.cycle();
            }
            start.elapsed()
        });
    });
    stop(pair.map(|(stack, pair)| {
        drop(pair);
        stack
    }));
    group.finish();
}

/// Message size of the `cpu` group (the `throughput/*/1024` transfer).
const CPU_SIZE: usize = 1024;

/// CPU time of the stack thread and of the process over the measured batches of one id.
#[derive(Default)]
struct SideCpu {
    stack: Duration,
    process: Duration,
    messages: u64,
}

fn cpu(c: &mut Criterion<ProcessCpu>) {
    // The measurement must count computing (sleeping is checked in tests/bench_cpu_time.rs):
    // 20 ms of this thread's CPU must show in the process clock.
    let before = process_cpu();
    assert!(spin_cpu(Duration::from_millis(20), Duration::from_secs(10)));
    let spun = process_cpu() - before;
    assert!(
        spun >= Duration::from_millis(20),
        "process CPU clock did not advance under load: {spun:?} for 20 ms of computing"
    );

    let count = batch_messages(CPU_SIZE);
    let mut group = c.benchmark_group("cpu");
    group
        .sample_size(10)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(3))
        .throughput(Throughput::Elements(count));

    let mut pair: Option<(Stack, WrapperPair, ThreadCpu)> = None;
    let mut side = SideCpu::default();
    group.bench_function(BenchmarkId::new("wrapper", CPU_SIZE), |b| {
        let (_, pair, stack_thread) = pair.get_or_insert_with(|| {
            let stack = wrapper::stack();
            let pair = WrapperPair::bulk(&stack, CPU_SIZE);
            let thread = ThreadCpu::wait_for("usrsctp", Duration::from_secs(5))
                .expect("exactly one `usrsctp` thread");
            (stack, pair, thread)
        });
        b.iter_custom(|iters| {
            let stack0 = stack_thread.stat_time().expect("stack thread alive");
            let process0 = process_cpu();
            for _ in 0..iters {
                pair.transfer(count);
            }
            let process = process_cpu() - process0;
            side.process += process;
            side.stack += stack_thread.stat_time().expect("stack thread alive") - stack0;
            side.messages += iters * count;
            process
        });
    });
    if side.messages > 0 {
        let per = |d: Duration| d.as_secs_f64() * 1e6 / side.messages as f64;
        eprintln!(
            "cpu/wrapper/{CPU_SIZE}: stack thread {:.3} µs CPU per message, process {:.3} µs \
             ({} messages, warm-up included; stack thread from /proc/self/task/<tid>/stat)",
            per(side.stack),
            per(side.process),
            side.messages
        );
    }
    stop(pair.map(|(stack, pair, _)| {
        drop(pair);
        stack
    }));

    let mut pair: Option<RawPair> = None;
    group.bench_function(BenchmarkId::new("raw", CPU_SIZE), |b| {
        let pair = pair.get_or_insert_with(|| RawPair::new(CPU_SIZE));
        b.iter_custom(|iters| {
            cpu_of(|| {
                for _ in 0..iters {
                    pair.transfer(count);
                }
            })
        });
    });
    drop(pair);

    let mut pair: Option<ProtoPair> = None;
    group.bench_function(BenchmarkId::new("sctp-proto", CPU_SIZE), |b| {
        let pair = pair.get_or_insert_with(|| ProtoPair::new(CPU_SIZE));
        b.iter_custom(|iters| {
            cpu_of(|| {
                for _ in 0..iters {
                    pair.transfer(count);
                }
            })
        });
    });
    drop(pair);
    group.finish();
}

/// The process CPU time `f` takes.
fn cpu_of(f: impl FnOnce()) -> Duration {
    let start = process_cpu();
    f();
    process_cpu() - start
}

criterion_group!(benches, throughput, latency, scaling, setup);
criterion_group! {
    name = cpu_benches;
    config = Criterion::default().with_measurement(ProcessCpu);
    targets = cpu
}
criterion_main!(benches, cpu_benches);
