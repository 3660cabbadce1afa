//! The orchestrator: rounds of traffic between worker threads, churn, stack restarts, and the
//! final verdict; it starts the watchdog and progress threads.

use std::sync::atomic::AtomicBool;
use std::sync::atomic::Ordering::{Acquire, Relaxed, SeqCst};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, Sender};
use usrsctp::{Stack, StackConfig};
use usrsctp_test_support::rng::{self, Rng};

use crate::cli::Config;
use crate::procstat::{self, ProcStat};
use crate::progress::progress;
use crate::report::{build_report, Baseline, Report};
use crate::state::{Inbound, Round, Shared, Slot};
use crate::watchdog::{dump_stuck, watchdog};

/// The stack settings of the run: short timers, since the wire is in memory, and RFC 9260's
/// retransmission limits (Association.Max.Retrans 10, Max.Init.Retransmits 8) instead of the
/// WebRTC defaults (5 each). At the soak's 5 % loss and 1 % corruption each way a timed-out
/// retransmission round trip fails about 12 % of the time, so with a limit of 5 some of the
/// hundreds of associations are declared dead by SCTP itself (0.12^5 per T3 episode), which
/// says nothing about the crate; at 10 that is about 0.12^10.
pub fn stack_config() -> StackConfig {
    StackConfig {
        rto_min_ms: 50,
        rto_initial_ms: 200,
        rto_max_ms: 1000,
        init_rto_max_ms: 1000,
        delayed_sack_ms: 10,
        assoc_rtx_max: 10,
        init_rtx_max: 8,
        ..StackConfig::default()
    }
}

/// Runs the stress test described by `cfg` and returns its report. The report's `ok` is the
/// verdict; the caller prints it.
pub fn run(cfg: Config) -> Report {
    let base = Baseline::now();
    let shared = Arc::new(Shared::new(cfg));
    let finished = Arc::new(AtomicBool::new(false));
    let watchdog = spawn_named("stress-watchdog", {
        let (shared, finished) = (shared.clone(), finished.clone());
        move || watchdog(&shared, &finished, base)
    });
    let progress = if shared.cfg.quiet {
        None
    } else {
        spawn_named("stress-progress", {
            let (shared, finished) = (shared.clone(), finished.clone());
            move || progress(&shared, &finished)
        })
    };
    orchestrate(&shared);
    finished.store(true, SeqCst);
    for handle in [watchdog, progress].into_iter().flatten() {
        if handle.join().is_err() {
            shared.panics.fetch_add(1, Relaxed);
            shared.fail("a harness thread panicked".into());
        }
    }
    // Measured like RSS after round 1: with the allocator's cached free memory returned.
    procstat::trim_heap();
    let end = ProcStat::now();
    let mut report = build_report(&shared, base, end, false);
    if report.threads_end != report.threads_start {
        report.failures.push(format!(
            "threads: {} at start, {} after shutdown: {:?}",
            report.threads_start,
            report.threads_end,
            procstat::thread_names()
        ));
    }
    if report.fds_end != report.fds_start {
        report.failures.push(format!(
            "file descriptors: {} at start, {} after shutdown: {:?}",
            report.fds_start,
            report.fds_end,
            procstat::fd_targets()
        ));
    }
    report.ok = report.failures.is_empty();
    report
}

fn spawn_named(name: &str, f: impl FnOnce() + Send + 'static) -> Option<JoinHandle<()>> {
    std::thread::Builder::new()
        .name(name.to_owned())
        .spawn(f)
        .ok()
}

fn churn_per_round(churn: u32, rounds: u32) -> Vec<u32> {
    (0..rounds)
        .map(|r| churn / rounds + u32::from(r < churn % rounds))
        .collect()
}

fn orchestrate(shared: &Arc<Shared>) {
    let cfg = &shared.cfg;
    let rounds = cfg.stack_restarts + 1;
    let churns = churn_per_round(cfg.churn, rounds);
    let mut stack = match Stack::start(stack_config()) {
        Ok(s) => s,
        Err(e) => {
            shared.fail(format!("starting the stack failed: {e}"));
            return;
        }
    };
    for r in 0..rounds {
        let last = r + 1 == rounds;
        let completed = run_round(shared, &stack, r, last, churns[r as usize]);
        shared.rounds.fetch_add(1, Relaxed);
        shared.set_phase(format!("round {}: stack shutdown", r + 1));
        if let Err(e) = stack.shutdown() {
            shared.fail(format!("stack shutdown after round {} failed: {e}", r + 1));
            return;
        }
        if r == 0 {
            procstat::trim_heap();
            shared
                .rss_after_round1_kb
                .store(procstat::memory().0, Relaxed);
            shared
                .heap_after_round1_kb
                .store(procstat::heap_in_use_kb(), Relaxed);
        }
        if last || !completed || shared.stop_sending.load(Acquire) {
            return;
        }
        shared.set_phase(format!("round {}: stack start", r + 2));
        stack = match Stack::start(stack_config()) {
            Ok(s) => s,
            Err(e) => {
                shared.fail(format!("restarting the stack failed: {e}"));
                return;
            }
        };
        shared.stack_restarts.fetch_add(1, Relaxed);
    }
}

/// Runs one round; false if it had to be abandoned (a worker died).
fn run_round(shared: &Arc<Shared>, stack: &Stack, r: u32, last: bool, churn_target: u32) -> bool {
    let cfg = &shared.cfg;
    let n = cfg.workers;
    shared.set_phase(format!("round {}: traffic", r + 1));
    let (txs, rxs): (Vec<Sender<Inbound>>, Vec<Receiver<Inbound>>) =
        (0..n).map(|_| crossbeam_channel::unbounded()).unzip();
    let slots = (0..cfg.slots())
        .map(|s| {
            let (w, i) = (s / cfg.associations, s % cfg.associations);
            let b = if n == 1 { 0 } else { (w + 1 + i % (n - 1)) % n };
            Slot {
                a: w,
                b,
                current: Mutex::new(None),
                sent: Default::default(),
            }
        })
        .collect();
    let round = Arc::new(Round {
        index: r,
        shared: shared.clone(),
        stack: stack.clone(),
        txs,
        slots,
        ledgers: Mutex::new(Vec::new()),
    });
    shared.begin_round(round.clone());
    let mut lives = 0u64;
    let mut spawn = |w: usize, restart: bool| -> Option<JoinHandle<()>> {
        let (round, rx) = (round.clone(), rxs[w].clone());
        lives += 1;
        let life = lives;
        let handle = spawn_named(&format!("stress-w{w}"), move || {
            crate::worker::run(round, w, rx, restart, life)
        });
        if handle.is_none() {
            shared.fail(format!("spawning worker thread {w} failed"));
        }
        handle
    };
    let mut handles: Vec<Option<JoinHandle<()>>> = (0..n).map(|w| spawn(w, false)).collect();
    let total = (cfg.slots() as u64 * 2 * cfg.messages).max(1);
    let mut rng = Rng::new(rng::hash(&[cfg.seed, u64::from(r), 0xC4_u64]));
    let mut churn_done = 0u32;
    let mut completed = handles.iter().all(Option::is_some);
    let mut last_delivered = (shared.delivered.load(Relaxed), Instant::now());
    let settle = if cfg.malformed > 0 {
        Duration::from_secs(5)
    } else {
        Duration::from_secs(10).min(cfg.watchdog / 2)
    };
    while completed {
        std::thread::sleep(Duration::from_millis(5));
        for (w, h) in handles.iter_mut().enumerate() {
            if h.as_ref().is_some_and(|h| h.is_finished()) {
                join_worker(shared, w, h.take());
                shared.fail(format!("worker {w} ended before the round did"));
                completed = false;
            }
        }
        if !completed {
            break;
        }
        if let Some(d) = cfg.duration {
            if shared.elapsed() >= d && !shared.stop_sending.swap(true, SeqCst) {
                shared.capped.store(true, SeqCst);
            }
        }
        let stopping = shared.stop_sending.load(Acquire);
        if churn_done < churn_target && !stopping {
            let threshold = total as f64 * f64::from(churn_done + 1) / f64::from(churn_target + 1);
            if round.sent() as f64 >= threshold {
                let w = rng.below(n as u64) as usize;
                let _ = round.txs[w].send(Inbound::Churn);
                join_worker(shared, w, handles[w].take());
                handles[w] = spawn(w, true);
                churn_done += 1;
                shared.churn_cycles.fetch_add(1, Relaxed);
                shared.progress.fetch_add(1, Relaxed);
                if handles[w].is_none() {
                    completed = false;
                    break;
                }
            }
        }
        let churn_ok = churn_done >= churn_target || stopping;
        let malformed_ok = !last || shared.malformed.left() == 0;
        if churn_ok && malformed_ok && round.traffic_done(cfg.malformed > 0) {
            break;
        }
        let delivered = shared.delivered.load(Relaxed);
        if delivered != last_delivered.0 {
            last_delivered = (delivered, Instant::now());
        } else if malformed_ok
            && last_delivered.1.elapsed() > settle
            && (cfg.malformed > 0 || round.senders_finished())
        {
            // Everything is sent and nothing arrives any more: what is missing is lost (or,
            // with malformed input, forged packets stalled an association for good, e.g. by a
            // forged SACK or FORWARD-TSN). End the round and let the books say so.
            shared.note(format!(
                "round {}: ended with messages outstanding after {:.0} s without a delivery",
                r + 1,
                settle.as_secs_f64()
            ));
            if cfg.malformed == 0 {
                dump_stuck(shared);
            }
            break;
        }
    }
    shared.set_phase(format!("round {}: stopping workers", r + 1));
    for tx in &round.txs {
        let _ = tx.send(Inbound::Stop);
    }
    for (w, h) in handles.iter_mut().enumerate() {
        join_worker(shared, w, h.take());
    }
    // Malformed packets nobody took go back to the budget.
    let unfed = rxs
        .iter()
        .flat_map(|rx| rx.try_iter())
        .filter(|item| {
            matches!(
                item,
                Inbound::Packet {
                    malformed: true,
                    ..
                }
            )
        })
        .count() as u64;
    shared.malformed.round_over(unfed);
    shared.end_round(&round);
    completed
}

fn join_worker(shared: &Shared, w: usize, handle: Option<JoinHandle<()>>) {
    if let Some(h) = handle {
        if h.join().is_err() {
            shared.panics.fetch_add(1, Relaxed);
            shared.fail(format!("worker thread {w} panicked"));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn churn_is_spread_over_rounds() {
        assert_eq!(churn_per_round(200, 11).iter().sum::<u32>(), 200);
        assert_eq!(churn_per_round(3, 2), vec![2, 1]);
        assert_eq!(churn_per_round(0, 3), vec![0, 0, 0]);
    }
}
