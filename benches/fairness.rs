//! `fairness/busy/200` (issue 13): does a quiet association still get through while 200 busy
//! ones saturate the stack thread?
//!
//! 200 busy pairs (200 sending associations and their 200 receivers) on 8 worker threads (25
//! pairs each, both ends of a pair on the same worker) send 1 KiB messages as fast as
//! `WouldBlock` lets them. One quiet pair on its own worker thread sends a 64-byte message
//! about every millisecond; each carries its send time, and its one-way latency (send → the
//! receiving end's `Event::Message` taken from the mailbox) is recorded. Before that, one busy
//! pair runs alone on one worker (the same shape) for the baseline aggregate. After the
//! window the busy pairs go on until every quiet message of the window has arrived (at most
//! 5 s more); a message still missing then (`quiet_missing`) counts with the time from its
//! send to the end of the run, a lower bound, and a percentile that falls among those says so
//! (`p50_is_lower_bound`, `p99_is_lower_bound`).
//!
//! A separate `harness = false` binary rather than a criterion group: the figures are
//! percentiles of single messages, an aggregate rate and a peak RSS from one bounded run, where
//! criterion would report the mean time of repeated iterations. Ends by printing one JSON line.
//!
//! ```text
//! cargo bench --bench fairness                                   # about 15 s
//! FAIRNESS_PAIRS=16 FAIRNESS_SECS=2 cargo bench --bench fairness   # CI-sized
//! ```
//!
//! Settings (environment): `FAIRNESS_PAIRS` (busy pairs, default 200), `FAIRNESS_WORKERS`
//! (default 8), `FAIRNESS_SECS` (measured window, default 10), `FAIRNESS_BASELINE_SECS`
//! (default 3; 0 skips the baseline). Each phase warms up for 1 s before its window.

#[allow(dead_code)]
mod peers;

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crossbeam_channel::Sender;
use usrsctp::{ppid, AssociationConfig, Event, SendOptions, Stack, StackConfig};

use peers::cpu_time::{peak_rss_kb, rss_kb, ThreadCpu};
use peers::local::LocalPairs;

const MESSAGE: usize = 1024;
const QUIET_MESSAGE: usize = 64;
const QUIET_PERIOD: Duration = Duration::from_millis(1);
/// Messages a busy sender queues per turn before the worker serves its other pairs.
const SEND_BURST: usize = 64;
const CONNECT_TIMEOUT: Duration = Duration::from_secs(60);
const WARM_UP: Duration = Duration::from_secs(1);

fn env_usize(name: &str, default: usize) -> usize {
    match std::env::var(name) {
        Ok(v) => v
            .parse()
            .unwrap_or_else(|_| panic!("{name}={v:?} is not a non-negative integer")),
        Err(_) => default,
    }
}

/// What the main thread and the workers share.
struct Shared {
    stop: AtomicBool,
    /// The quiet pair records latencies while this is set.
    measuring: AtomicBool,
    /// Messages the busy receivers took from their mailboxes.
    received: AtomicU64,
    /// Quiet messages sent and received while measuring.
    quiet_sent: AtomicU64,
    quiet_received: AtomicU64,
    epoch: Instant,
}

/// A worker thread with `pairs` busy pairs: end A of each sends 1 KiB messages until
/// `WouldBlock`, again after `BufferedAmountLow`; end B counts them.
fn busy(
    stack: &Stack,
    pairs: usize,
    name: String,
    shared: Arc<Shared>,
    ready: Sender<()>,
) -> JoinHandle<()> {
    let worker = stack.worker().expect("worker");
    std::thread::Builder::new()
        .name(name)
        .spawn(move || {
            let mut local = LocalPairs::new(worker);
            local
                .open(
                    pairs,
                    &AssociationConfig::default(),
                    CONNECT_TIMEOUT,
                    |_, _| {},
                )
                .expect("busy pairs connect");
            let _ = ready.send(());
            let data = vec![0x5au8; MESSAGE];
            let mut blocked = vec![false; pairs];
            while !shared.stop.load(Ordering::Relaxed) {
                let mut got = 0;
                let events = local.pump(|i, event| match event {
                    Event::Message { .. } if i % 2 == 1 => got += 1,
                    Event::BufferedAmountLow { .. } if i % 2 == 0 => blocked[i / 2] = false,
                    Event::Closed { reason, .. } => panic!("busy association closed: {reason:?}"),
                    Event::SendFailed { reason, .. } => panic!("busy send failed: {reason:?}"),
                    _ => {}
                });
                shared.received.fetch_add(got, Ordering::Relaxed);
                let mut sent = 0;
                for (p, blocked) in blocked.iter_mut().enumerate() {
                    for _ in 0..SEND_BURST {
                        if *blocked {
                            break;
                        }
                        match local.assoc(2 * p).send(
                            0,
                            ppid::BINARY,
                            &data[..],
                            SendOptions::reliable(),
                        ) {
                            Ok(_) => sent += 1,
                            Err(e) if e.is_would_block() => *blocked = true,
                            Err(e) => panic!("busy send: {e}"),
                        }
                    }
                }
                if events == 0 && sent == 0 {
                    local.wait(Duration::from_millis(5));
                }
            }
            // Dropping the worker aborts its associations.
        })
        .expect("spawning a busy worker")
}

/// What the quiet pair saw in the measured window.
struct Quiet {
    /// Send time (since the epoch) of each measured message, by sequence number.
    sent_at: Vec<Duration>,
    /// Latency of each measured message that arrived, by sequence number.
    latency: Vec<Option<Duration>>,
}

impl Quiet {
    /// Every measured message's latency, sorted, and how many of them are lower bounds: a
    /// message still missing at `end` counts as `end` − its send time.
    fn latencies(&self, end: Duration) -> (Vec<Duration>, usize) {
        let mut missing = 0;
        let mut all: Vec<Duration> = self
            .latency
            .iter()
            .zip(&self.sent_at)
            .map(|(l, sent)| {
                l.unwrap_or_else(|| {
                    missing += 1;
                    end.saturating_sub(*sent)
                })
            })
            .collect();
        all.sort();
        (all, missing)
    }
}

/// The quiet pair's worker thread: a 64-byte message about every millisecond, stamped with its
/// send time; the receiving end records send → receipt while `measuring`.
fn quiet(stack: &Stack, shared: Arc<Shared>, ready: Sender<()>) -> JoinHandle<(Quiet, Duration)> {
    let worker = stack.worker().expect("worker");
    std::thread::Builder::new()
        .name("fair-quiet".into())
        .spawn(move || {
            let mut local = LocalPairs::new(worker);
            local
                .open(1, &AssociationConfig::default(), CONNECT_TIMEOUT, |_, _| {})
                .expect("quiet pair connects");
            let _ = ready.send(());
            let mut out = Quiet {
                sent_at: Vec::with_capacity(16 * 1024),
                latency: Vec::with_capacity(16 * 1024),
            };
            let mut data = [0u8; QUIET_MESSAGE];
            let mut next = Instant::now();
            // When the receiving end's mailbox was last looked at.
            let mut out_end = Duration::ZERO;
            while !shared.stop.load(Ordering::Relaxed) {
                let now = Instant::now();
                if now >= next {
                    let measuring = shared.measuring.load(Ordering::Relaxed);
                    // Byte 0: whether it counts; bytes 8..16: its sequence number.
                    data[0] = u8::from(measuring);
                    let seq = out.sent_at.len() as u64;
                    data[8..16].copy_from_slice(&seq.to_le_bytes());
                    local
                        .assoc(0)
                        .send(0, ppid::BINARY, &data[..], SendOptions::reliable())
                        .expect("quiet send");
                    if measuring {
                        out.sent_at.push(now.duration_since(shared.epoch));
                        out.latency.push(None);
                        shared.quiet_sent.fetch_add(1, Ordering::Relaxed);
                    }
                    next += QUIET_PERIOD;
                    if next < now {
                        next = now + QUIET_PERIOD;
                    }
                }
                let events = local.pump(|i, event| match event {
                    Event::Message { message, .. } if i == 1 => {
                        let at = shared.epoch.elapsed();
                        let d = &message.data;
                        if d.len() == QUIET_MESSAGE && d[0] == 1 {
                            let mut seq = [0u8; 8];
                            seq.copy_from_slice(&d[8..16]);
                            let seq = u64::from_le_bytes(seq) as usize;
                            if let (Some(sent), Some(slot)) =
                                (out.sent_at.get(seq), out.latency.get_mut(seq))
                            {
                                *slot = Some(at.saturating_sub(*sent));
                                shared.quiet_received.fetch_add(1, Ordering::Relaxed);
                            }
                        }
                    }
                    Event::Closed { reason, .. } => panic!("quiet association closed: {reason:?}"),
                    _ => {}
                });
                out_end = shared.epoch.elapsed();
                if events == 0 {
                    let left = next.saturating_duration_since(Instant::now());
                    if !left.is_zero() {
                        // poll(2) counts whole milliseconds: round up, never spin.
                        local.wait(left.max(Duration::from_millis(1)));
                    }
                }
            }
            (out, out_end)
        })
        .expect("spawning the quiet worker")
}

/// Opens `pairs` busy pairs over `workers` threads (and the quiet pair if asked), warms up,
/// and measures for `secs`. Returns messages/s of the busy receivers, the stack thread's CPU
/// share, and the quiet pair's record.
fn phase(
    stack: &Stack,
    pairs: usize,
    workers: usize,
    with_quiet: bool,
    secs: u64,
) -> (f64, f64, Option<(Quiet, Duration)>) {
    let shared = Arc::new(Shared {
        stop: AtomicBool::new(false),
        measuring: AtomicBool::new(false),
        received: AtomicU64::new(0),
        quiet_sent: AtomicU64::new(0),
        quiet_received: AtomicU64::new(0),
        epoch: Instant::now(),
    });
    let (ready_tx, ready) = crossbeam_channel::unbounded();
    let mut threads = Vec::new();
    for w in 0..workers {
        let share = pairs / workers + usize::from(w < pairs % workers);
        if share > 0 {
            let name = format!("fair-busy-{w}");
            threads.push(busy(stack, share, name, shared.clone(), ready_tx.clone()));
        }
    }
    let quiet = with_quiet.then(|| quiet(stack, shared.clone(), ready_tx.clone()));
    let expected = threads.len() + usize::from(with_quiet);
    for _ in 0..expected {
        ready
            .recv_timeout(CONNECT_TIMEOUT)
            .expect("a worker did not connect its pairs");
    }
    let stack_thread = ThreadCpu::wait_for("usrsctp", Duration::from_secs(5))
        .expect("exactly one `usrsctp` thread");
    std::thread::sleep(WARM_UP);
    let r0 = shared.received.load(Ordering::Relaxed);
    let c0 = stack_thread.stat_time().expect("stack thread");
    let start = Instant::now();
    shared.measuring.store(true, Ordering::Relaxed);
    std::thread::sleep(Duration::from_secs(secs));
    shared.measuring.store(false, Ordering::Relaxed);
    let elapsed = start.elapsed().as_secs_f64();
    let received = shared.received.load(Ordering::Relaxed) - r0;
    let stack_cpu = (stack_thread.stat_time().expect("stack thread") - c0).as_secs_f64();
    // The busy pairs go on until every quiet message of the window has arrived (or 5 s).
    let deadline = Instant::now() + Duration::from_secs(5);
    while with_quiet
        && shared.quiet_received.load(Ordering::Relaxed) < shared.quiet_sent.load(Ordering::Relaxed)
        && Instant::now() < deadline
    {
        std::thread::sleep(Duration::from_millis(1));
    }
    shared.stop.store(true, Ordering::Relaxed);
    for t in threads {
        t.join().expect("busy worker");
    }
    let quiet = quiet.map(|t| t.join().expect("quiet worker"));
    (
        received as f64 / elapsed,
        stack_cpu / elapsed * 100.0,
        quiet,
    )
}

/// The `q`-quantile (nearest rank) of sorted `v`.
fn quantile(v: &[Duration], q: f64) -> Duration {
    let rank = ((q * v.len() as f64).ceil() as usize).clamp(1, v.len());
    v[rank - 1]
}

fn main() {
    let pairs = env_usize("FAIRNESS_PAIRS", 200).max(1);
    let workers = env_usize("FAIRNESS_WORKERS", 8).max(1);
    let secs = env_usize("FAIRNESS_SECS", 10).max(1) as u64;
    let baseline_secs = env_usize("FAIRNESS_BASELINE_SECS", 3) as u64;

    let stack = Stack::get_or_start(StackConfig::default()).expect("starting the stack");
    let rss_start_kb = rss_kb();
    let baseline = (baseline_secs > 0).then(|| phase(&stack, 1, 1, false, baseline_secs).0);
    let (aggregate, stack_cpu_pct, quiet) = phase(&stack, pairs, workers, true, secs);
    let peak = peak_rss_kb();
    stack.shutdown().expect("stack shutdown");

    let (quiet, end) = quiet.expect("the quiet pair ran");
    let (latencies, missing) = quiet.latencies(end);
    assert!(!latencies.is_empty(), "no quiet message sent in {secs} s");
    assert!(
        missing < latencies.len(),
        "no quiet message of the window arrived"
    );
    // A percentile is a lower bound if its rank falls among the missing (the slowest).
    let us = |q: f64| format!("{:.1}", quantile(&latencies, q).as_secs_f64() * 1e6);
    let lower_bound = |q: f64| {
        let rank = ((q * latencies.len() as f64).ceil() as usize).max(1);
        (rank > latencies.len() - missing).to_string()
    };
    let fields: Vec<(&str, String)> = vec![
        ("bench", "\"fairness\"".into()),
        ("id", format!("\"fairness/busy/{pairs}\"")),
        ("busy_pairs", pairs.to_string()),
        ("workers", workers.to_string()),
        ("secs", secs.to_string()),
        ("quiet_sent", latencies.len().to_string()),
        ("quiet_missing", missing.to_string()),
        ("latency_p50_us", us(0.50)),
        ("latency_p99_us", us(0.99)),
        ("latency_max_us", us(1.0)),
        ("p50_is_lower_bound", lower_bound(0.50)),
        ("p99_is_lower_bound", lower_bound(0.99)),
        ("aggregate_msgs_per_s", format!("{aggregate:.0}")),
        (
            "baseline_msgs_per_s",
            baseline.map_or("null".into(), |b| format!("{b:.0}")),
        ),
        (
            "aggregate_vs_baseline",
            baseline.map_or("null".into(), |b| format!("{:.3}", aggregate / b)),
        ),
        ("stack_cpu_pct", format!("{stack_cpu_pct:.1}")),
        ("rss_start_kb", rss_start_kb.to_string()),
        ("peak_rss_kb", peak.to_string()),
    ];
    let body: Vec<String> = fields.iter().map(|(k, v)| format!("\"{k}\":{v}")).collect();
    println!("{{{}}}", body.join(","));
}
