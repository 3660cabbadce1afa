//! Issue 14's contract: one stack with N associations (N / 2 pairs, each pair's two ends on one
//! worker, the pairs spread over 8 worker threads, packets carried in memory). Measures what N
//! costs: setup time, the cost of one more `associate`, the stack thread's idle CPU, memory per
//! association and after closing, and one pair's per-message time with N idle neighbours.
//! Ends by printing one JSON line.
//!
//! ```text
//! cargo bench --bench scale                                         # N = 10,000 (about a minute)
//! SCALE_ASSOCIATIONS=200 SCALE_IDLE_SECS=1 cargo bench --bench scale  # CI-sized
//! ```
//!
//! Settings (environment): `SCALE_ASSOCIATIONS` (N, even, default 10000), `SCALE_WORKERS`
//! (default 8), `SCALE_IDLE_SECS` (the idle window, default 5), `SCALE_PROBES` (`associate`
//! calls per cost figure, default 200), `SCALE_MESSAGES` (messages of the per-message figure,
//! default 1000). Criterion's arguments (`--bench`) are ignored.
//!
//! Figures:
//! - `setup_s`: wall time to create and connect all N (8 workers at once).
//! - `associate_us_{empty,2k,at_max}`: median wall time from a `Worker::associate` call until
//!   that association's INIT is in the worker's mailbox (the stack thread creates, binds and
//!   connects the socket; the handshake is not carried), one call at a time, with 0, 2,000 and
//!   N associations live; `associate_stack_us_*` is the stack thread's CPU per call over the
//!   same calls (from `/proc/self/task/<tid>/schedstat`).
//! - `idle_cpu_pct`: the stack thread's CPU (`/proc/self/task/<tid>/stat`, utime + stime) over
//!   the idle window, as a percentage of one core, with all N connected and nothing sent;
//!   `idle_process_cpu_pct` is the whole process (workers carrying heartbeats included);
//!   `idle_cpu_pct_empty` the stack thread with no association (its timer tick alone).
//! - `rss_start_kb` (stack and workers running, no association), `rss_at_max_kb`,
//!   `rss_per_association_kb` = (at max − start) / N, `rss_after_close_running_kb` (every
//!   association closed, the stack still running, once it has handed the freed memory back:
//!   `Diagnostics::memory_returns` moved; null below `return_memory_after_closed`
//!   associations), `rss_closed_before_return_kb` (the same right after the closes, before
//!   that), `memory_return_s` (how long after the closes the return came),
//!   `rss_after_close_kb` (every association
//!   closed gracefully, workers gone, the stack shut down: the stack thread has called
//!   `malloc_trim` once on its way out, the bench has not);
//!   `heap_{in_use,free}_after_close_kb` split glibc's heap at that point (`mallinfo2`: bytes
//!   still allocated, and bytes freed but kept in its arenas), and `rss_after_trim_kb` is RSS
//!   after `malloc_trim(0)` (measured last: nothing before it is trimmed).
//! - `per_packet_us_{empty,at_max}`: one extra pair on the main thread sends `SCALE_MESSAGES`
//!   messages of 64 B one at a time (each one waits for its arrival), in 5 rounds after 200
//!   uncounted: the best round's wall time per message, alone and with N idle neighbours
//!   (`per_packet_median_us_*`: the median round's); `per_packet_stack_us_*` is the best round's
//!   stack-thread CPU per
//!   message, and `per_packet_stack_net_us_*` the same less its idle CPU over that time (what
//!   the messages themselves cost it).

#[allow(dead_code)]
mod peers;

use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, Sender};
use usrsctp::{ppid, AssociationConfig, Diagnostics, Event, SendOptions, Stack, StackConfig};

use peers::cpu_time::{process_cpu, rss_kb, ThreadCpu};
use peers::local::LocalPairs;
use peers::{wait_readable, Doorbell};

const CONNECT_TIMEOUT: Duration = Duration::from_secs(120);
const CLOSE_TIMEOUT: Duration = Duration::from_secs(120);
/// Messages the per-message figure sends before it starts counting.
const PER_PACKET_WARM_UP: usize = 200;
/// Rounds the counted messages are split into; the figure is the best round's.
const PER_PACKET_ROUNDS: usize = 5;
/// Live associations of the middle `associate` figure.
const MIDDLE: usize = 2000;

fn env_usize(name: &str, default: usize) -> usize {
    match std::env::var(name) {
        Ok(v) => v
            .parse()
            .unwrap_or_else(|_| panic!("{name}={v:?} is not a non-negative integer")),
        Err(_) => default,
    }
}

enum Ctrl {
    /// Open this many more pairs; reply when all are connected.
    Open { pairs: usize },
    /// Close every pair gracefully; reply when all are closed, then exit.
    CloseAll,
}

/// A worker thread owning some of the pairs; between commands it carries their packets
/// (heartbeats and their acknowledgements) as an SFU worker would.
struct ScaleWorker {
    ctrl: Sender<Ctrl>,
    bell: std::sync::Arc<Doorbell>,
    done: Receiver<Result<(), String>>,
    thread: Option<JoinHandle<()>>,
}

impl ScaleWorker {
    fn spawn(stack: &Stack, n: usize) -> ScaleWorker {
        let (ctrl, ctrl_rx) = crossbeam_channel::unbounded::<Ctrl>();
        let (done_tx, done) = crossbeam_channel::unbounded();
        let bell = std::sync::Arc::new(Doorbell::new().expect("eventfd"));
        let worker = stack.worker().expect("worker");
        let thread_bell = bell.clone();
        let thread = std::thread::Builder::new()
            .name(format!("scale-{n}"))
            .spawn(move || {
                let config = AssociationConfig::default();
                let mut pairs = LocalPairs::new(worker);
                loop {
                    for cmd in ctrl_rx.try_iter() {
                        match cmd {
                            Ctrl::Open { pairs: more } => {
                                let r = pairs.open(more, &config, CONNECT_TIMEOUT, unexpected);
                                let _ = done_tx.send(r);
                            }
                            Ctrl::CloseAll => {
                                let _ = done_tx.send(pairs.close_all(CLOSE_TIMEOUT));
                                return;
                            }
                        }
                    }
                    if pairs.pump(unexpected) == 0 {
                        let [_, rung] = wait_readable(
                            [pairs.raw_fd(), thread_bell.raw_fd()],
                            Duration::from_secs(1),
                        );
                        if rung {
                            thread_bell.clear();
                        }
                    }
                }
            })
            .expect("spawning a worker thread");
        ScaleWorker {
            ctrl,
            bell,
            done,
            thread: Some(thread),
        }
    }

    fn send(&self, cmd: Ctrl) {
        self.ctrl.send(cmd).expect("worker thread alive");
        self.bell.ring();
    }

    fn wait(&self) {
        self.done
            .recv_timeout(CONNECT_TIMEOUT + CLOSE_TIMEOUT)
            .expect("worker thread answered")
            .unwrap_or_else(|e| panic!("worker: {e}"));
    }
}

/// Idle pairs report nothing but packets; anything else is a failure of the run.
fn unexpected(i: usize, event: Event) {
    panic!("association {i}: unexpected event while idle: {event:?}");
}

/// Opens `pairs` more pairs, spread evenly over the workers, and waits until all are connected.
fn open(workers: &[ScaleWorker], pairs: usize) -> Duration {
    let start = Instant::now();
    let n = workers.len();
    for (w, worker) in workers.iter().enumerate() {
        let share = pairs / n + usize::from(w < pairs % n);
        worker.send(Ctrl::Open { pairs: share });
    }
    for worker in workers {
        worker.wait();
    }
    start.elapsed()
}

/// `probes` calls of `Worker::associate` on a fresh worker, one at a time: the median wall time
/// from the call until the association's INIT is in the worker's mailbox (`associate` itself
/// returns at once; the stack thread creates, binds and connects the socket after), and the
/// stack thread's CPU per call, in µs. The worker is dropped after, discarding the probes;
/// returns once the stack thread has ended them.
fn associate_cost(stack: &Stack, stack_thread: ThreadCpu, probes: usize) -> (f64, f64) {
    let live = stack.diagnostics().associations;
    let worker = stack.worker().expect("worker");
    let config = AssociationConfig::default();
    let mut times = Vec::with_capacity(probes);
    let mut kept = Vec::with_capacity(probes);
    let cpu0 = stack_thread.precise_time().expect("stack thread");
    for _ in 0..probes {
        let start = Instant::now();
        let assoc = worker.associate(config.clone()).expect("associate");
        let id = assoc.id();
        loop {
            match worker.recv_timeout(CONNECT_TIMEOUT) {
                Some(Event::Transmit { assoc: from, .. }) if from == id => break,
                Some(Event::Transmit { .. }) => {}
                Some(other) => panic!("associate probe: unexpected {other:?}"),
                None => panic!("associate probe: no INIT within {CONNECT_TIMEOUT:?}"),
            }
        }
        times.push(start.elapsed());
        kept.push(assoc);
    }
    let cpu = stack_thread.precise_time().expect("stack thread") - cpu0;
    drop(worker);
    drop(kept);
    // The stack thread discards the probes after the worker is gone; wait until it has, so
    // that work does not land in the next measurement.
    let deadline = Instant::now() + CLOSE_TIMEOUT;
    while stack.diagnostics().associations > live {
        assert!(Instant::now() < deadline, "probes were not discarded");
        std::thread::sleep(Duration::from_millis(1));
    }
    times.sort();
    let median = times[times.len() / 2];
    (
        median.as_secs_f64() * 1e6,
        cpu.as_secs_f64() * 1e6 / probes as f64,
    )
}

/// The stack thread's and the whole process's CPU over `secs` of idling, in % of one core.
fn idle_cpu(stack_thread: ThreadCpu, secs: usize) -> (f64, f64) {
    let stack0 = stack_thread.stat_time().expect("stack thread");
    let process0 = process_cpu();
    let window = Instant::now();
    std::thread::sleep(Duration::from_secs(secs as u64));
    let elapsed = window.elapsed().as_secs_f64();
    let stack = stack_thread.stat_time().expect("stack thread") - stack0;
    let process = process_cpu() - process0;
    (
        stack.as_secs_f64() / elapsed * 100.0,
        process.as_secs_f64() / elapsed * 100.0,
    )
}

/// One more pair on this thread: `messages` messages of 64 B, each sent once the previous one
/// arrived, after `PER_PACKET_WARM_UP` uncounted ones, in `PER_PACKET_ROUNDS` rounds. Returns
/// the best round's wall time and stack-thread CPU per message, and the median round's wall
/// time, in µs: on this VM a round costs 10× more when the scheduler puts the threads where
/// every wake-up halts a vCPU, whatever N is; the best round shows the cost of the work.
fn per_packet(stack: &Stack, stack_thread: ThreadCpu, messages: usize) -> (f64, f64, f64) {
    let mut pair = LocalPairs::new(stack.worker().expect("worker"));
    pair.open(1, &AssociationConfig::default(), CONNECT_TIMEOUT, |_, _| {})
        .expect("probe pair connects");
    let data = [7u8; 64];
    let mut one_by_one = |count: usize| {
        for _ in 0..count {
            pair.assoc(0)
                .send(0, ppid::BINARY, &data[..], SendOptions::reliable())
                .expect("send");
            let deadline = Instant::now() + Duration::from_secs(10);
            let mut arrived = false;
            while !arrived {
                assert!(Instant::now() < deadline, "message lost");
                let n = pair.pump(|i, e| {
                    if i == 1 && matches!(e, Event::Message { .. }) {
                        arrived = true;
                    }
                });
                if n == 0 && !arrived {
                    pair.wait(Duration::from_millis(5));
                }
            }
        }
    };
    // The first ones (not counted) bring the new association's windows and timers up to speed.
    one_by_one(PER_PACKET_WARM_UP);
    let d0 = stack.diagnostics();
    let round = messages.div_ceil(PER_PACKET_ROUNDS);
    let (mut best_wall, mut best_cpu) = (f64::INFINITY, f64::INFINITY);
    let mut rounds = Vec::new();
    for _ in 0..PER_PACKET_ROUNDS {
        let cpu0 = stack_thread.precise_time().expect("stack thread");
        let start = Instant::now();
        one_by_one(round);
        let wall = start.elapsed();
        let cpu = stack_thread.precise_time().expect("stack thread") - cpu0;
        let per = |d: Duration| d.as_secs_f64() * 1e6 / round as f64;
        best_wall = best_wall.min(per(wall));
        best_cpu = best_cpu.min(per(cpu));
        rounds.push(per(wall));
    }
    let d1 = stack.diagnostics();
    let per_msg = |a: u64, b: u64| (b - a) as f64 / (round * PER_PACKET_ROUNDS) as f64;
    eprintln!(
        "scale: per message: {:.1} packets out, {:.1} in, {:.1} commands, {:.1} upcalls, \
         {:.1} output callbacks, {} stall probes; best {best_cpu:.1} µs stack CPU",
        per_msg(d0.packets_out, d1.packets_out),
        per_msg(d0.packets_in, d1.packets_in),
        per_msg(d0.commands, d1.commands),
        per_msg(d0.upcalls, d1.upcalls),
        per_msg(d0.output_callbacks, d1.output_callbacks),
        d1.stall_probes - d0.stall_probes,
    );
    pair.close_all(CLOSE_TIMEOUT).expect("probe pair closes");
    rounds.sort_by(f64::total_cmp);
    (best_wall, best_cpu, rounds[rounds.len() / 2])
}

fn main() {
    let n = env_usize("SCALE_ASSOCIATIONS", 10_000);
    let workers_n = env_usize("SCALE_WORKERS", 8).max(1);
    let idle_secs = env_usize("SCALE_IDLE_SECS", 5).max(1);
    let probes = env_usize("SCALE_PROBES", 200).max(1);
    let messages = env_usize("SCALE_MESSAGES", 1000).max(1);
    assert!(
        n >= 2 && n % 2 == 0,
        "SCALE_ASSOCIATIONS must be even and at least 2"
    );
    let pairs_n = n / 2;
    let started = Instant::now();

    let stack = Stack::get_or_start(StackConfig::default()).expect("starting the stack");
    let stack_thread = ThreadCpu::wait_for("usrsctp", Duration::from_secs(5))
        .expect("exactly one `usrsctp` thread");
    let workers: Vec<ScaleWorker> = (0..workers_n)
        .map(|i| ScaleWorker::spawn(&stack, i))
        .collect();
    // Warm up what is created once (usrsctp's zones, the route table): one pair on this
    // thread, opened, used and closed.
    per_packet(&stack, stack_thread, PER_PACKET_ROUNDS);
    let rss_start_kb = rss_kb();

    let (idle_cpu_pct_empty, _) = idle_cpu(stack_thread, idle_secs);
    let (associate_us_empty, associate_stack_us_empty) =
        associate_cost(&stack, stack_thread, probes);
    let (per_packet_us_empty, per_packet_stack_us_empty, per_packet_median_us_empty) =
        per_packet(&stack, stack_thread, messages);

    let middle_pairs = (MIDDLE / 2).min(pairs_n);
    let mut setup = open(&workers, middle_pairs);
    let (associate_us_2k, associate_stack_us_2k) = if 2 * middle_pairs == MIDDLE {
        associate_cost(&stack, stack_thread, probes)
    } else {
        (f64::NAN, f64::NAN)
    };
    setup += open(&workers, pairs_n - middle_pairs);
    let setup_s = setup.as_secs_f64();
    let live = stack.diagnostics();
    assert!(
        live.associations as usize >= n,
        "{} associations live, {n} expected",
        live.associations
    );

    // Idle: one second to settle (the handshakes' delayed acknowledgements), then the window.
    std::thread::sleep(Duration::from_secs(1));
    let (idle_cpu_pct, idle_process_cpu_pct) = idle_cpu(stack_thread, idle_secs);
    let rss_at_max_kb = rss_kb();

    let (associate_us_at_max, associate_stack_us_at_max) =
        associate_cost(&stack, stack_thread, probes);
    let (per_packet_us_at_max, per_packet_stack_us_at_max, per_packet_median_us_at_max) =
        per_packet(&stack, stack_thread, messages);

    let returns_before = Diagnostics::current().memory_returns;
    let close = Instant::now();
    for worker in &workers {
        worker.send(Ctrl::CloseAll);
    }
    for worker in &workers {
        worker.wait();
    }
    let close_s = close.elapsed().as_secs_f64();
    for mut worker in workers {
        if let Some(t) = worker.thread.take() {
            t.join().expect("worker thread");
        }
    }
    let (rss_closed_before_return_kb, rss_after_close_running_kb, memory_return_s) =
        memory_return(n, returns_before);
    stack.shutdown().expect("stack shutdown");
    drop(stack);
    assert!(Stack::running().is_none(), "the stack is still running");
    let rss_after_close_kb = rss_kb();
    // Where that memory is: still allocated, or free but kept by glibc in its arenas.
    // SAFETY: mallinfo2 only reads the allocator's statistics.
    let heap = unsafe { libc::mallinfo2() };
    let heap_in_use_after_close_kb = heap.uordblks / 1024;
    let heap_free_after_close_kb = heap.fordblks / 1024;
    // And what is left once glibc is told to give its free pages back.
    // SAFETY: malloc_trim only releases memory the allocator holds free.
    unsafe { libc::malloc_trim(0) };
    let rss_after_trim_kb = rss_kb();

    let rss_per_association_kb = rss_at_max_kb.saturating_sub(rss_start_kb) as f64 / n as f64;
    eprintln!(
        "scale: N={n} ({pairs_n} pairs on {workers_n} workers; the stack saw {} associations \
         live) in {:.1} s",
        live.associations,
        started.elapsed().as_secs_f64()
    );
    let fields: Vec<(&str, String)> = vec![
        ("bench", "\"scale\"".into()),
        ("associations", n.to_string()),
        ("workers", workers_n.to_string()),
        ("setup_s", num(setup_s, 3)),
        ("associate_us_empty", num(associate_us_empty, 1)),
        ("associate_us_2k", num(associate_us_2k, 1)),
        ("associate_us_at_max", num(associate_us_at_max, 1)),
        ("associate_stack_us_empty", num(associate_stack_us_empty, 1)),
        ("associate_stack_us_2k", num(associate_stack_us_2k, 1)),
        (
            "associate_stack_us_at_max",
            num(associate_stack_us_at_max, 1),
        ),
        ("idle_secs", idle_secs.to_string()),
        ("idle_cpu_pct", num(idle_cpu_pct, 2)),
        ("idle_cpu_pct_empty", num(idle_cpu_pct_empty, 2)),
        ("idle_process_cpu_pct", num(idle_process_cpu_pct, 2)),
        ("rss_start_kb", rss_start_kb.to_string()),
        ("rss_at_max_kb", rss_at_max_kb.to_string()),
        ("rss_per_association_kb", num(rss_per_association_kb, 1)),
        (
            "rss_closed_before_return_kb",
            num(rss_closed_before_return_kb, 0),
        ),
        (
            "rss_after_close_running_kb",
            num(rss_after_close_running_kb, 0),
        ),
        ("memory_return_s", num(memory_return_s, 2)),
        ("rss_after_close_kb", rss_after_close_kb.to_string()),
        (
            "heap_in_use_after_close_kb",
            heap_in_use_after_close_kb.to_string(),
        ),
        (
            "heap_free_after_close_kb",
            heap_free_after_close_kb.to_string(),
        ),
        ("rss_after_trim_kb", rss_after_trim_kb.to_string()),
        ("per_packet_us_empty", num(per_packet_us_empty, 2)),
        ("per_packet_us_at_max", num(per_packet_us_at_max, 2)),
        (
            "per_packet_median_us_empty",
            num(per_packet_median_us_empty, 2),
        ),
        (
            "per_packet_median_us_at_max",
            num(per_packet_median_us_at_max, 2),
        ),
        (
            "per_packet_stack_us_empty",
            num(per_packet_stack_us_empty, 2),
        ),
        (
            "per_packet_stack_us_at_max",
            num(per_packet_stack_us_at_max, 2),
        ),
        (
            "per_packet_stack_net_us_empty",
            num(
                net(
                    per_packet_stack_us_empty,
                    per_packet_us_empty,
                    idle_cpu_pct_empty,
                ),
                2,
            ),
        ),
        (
            "per_packet_stack_net_us_at_max",
            num(
                net(
                    per_packet_stack_us_at_max,
                    per_packet_us_at_max,
                    idle_cpu_pct,
                ),
                2,
            ),
        ),
        ("close_s", num(close_s, 3)),
    ];
    let body: Vec<String> = fields.iter().map(|(k, v)| format!("\"{k}\":{v}")).collect();
    println!("{{{}}}", body.join(","));
}

/// Stack-thread CPU per message less what the stack thread spends idling in the same time.
fn net(cpu_per: f64, wall_per: f64, idle_pct: f64) -> f64 {
    cpu_per - wall_per * idle_pct / 100.0
}

/// A JSON number with `decimals` decimals; `null` if not finite (a figure not measured).
/// While the stack still runs, after `n` associations closed: RSS at once, RSS once the stack
/// has handed the freed memory back (`Diagnostics::memory_returns` moved past `before`: it
/// waits for 2 s of quiet, see `StackConfig::return_memory_after_closed`), and how long after
/// the call that came. NaN (null) below that many associations, or after 30 s without it.
fn memory_return(n: usize, before: u64) -> (f64, f64, f64) {
    if n < StackConfig::default().return_memory_after_closed as usize {
        return (f64::NAN, f64::NAN, f64::NAN);
    }
    let closed_kb = rss_kb() as f64;
    let closed = Instant::now();
    let deadline = closed + Duration::from_secs(30);
    while Diagnostics::current().memory_returns == before {
        if Instant::now() >= deadline {
            return (closed_kb, f64::NAN, f64::NAN);
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    (closed_kb, rss_kb() as f64, closed.elapsed().as_secs_f64())
}

fn num(v: f64, decimals: usize) -> String {
    if v.is_finite() {
        format!("{v:.decimals$}")
    } else {
        "null".into()
    }
}
