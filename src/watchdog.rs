//! The watchdog: when nothing progresses for `--watchdog` seconds it prints what every
//! unfinished pair waits for, emits the report with `watchdog_tripped` and ends the process, so
//! a deadlock cannot hang CI. [`dump_stuck`] also serves rounds that end with messages
//! outstanding.

use std::sync::atomic::AtomicBool;
use std::sync::atomic::Ordering::{Acquire, SeqCst};
use std::time::{Duration, Instant};

use usrsctp::Diagnostics;

use crate::procstat::ProcStat;
use crate::report::{build_report, emit, Baseline};
use crate::state::{Inbound, Shared};

/// Watches `shared`'s heartbeat until `finished`; trips (exit status 2) after
/// `--watchdog` seconds without one.
pub(crate) fn watchdog(shared: &Shared, finished: &AtomicBool, base: Baseline) {
    let limit = shared.cfg.watchdog;
    let mut last = (shared.heartbeat(), Instant::now());
    while !finished.load(SeqCst) {
        std::thread::sleep(Duration::from_millis(50));
        let beat = shared.heartbeat();
        if beat != last.0 {
            last = (beat, Instant::now());
            continue;
        }
        if last.1.elapsed() < limit {
            continue;
        }
        let phase = shared.phase();
        dump_stuck(shared);
        let mut report = build_report(shared, base, ProcStat::now(), true);
        report.failures.push(format!(
            "watchdog: no progress for {:.0} s during {phase}",
            limit.as_secs_f64()
        ));
        report.ok = false;
        emit(&shared.cfg, &report);
        std::process::exit(2);
    }
}

/// Watchdog (and stalled-round) aid: asks every worker of the round under way to print the pair ends that have
/// not finished (stderr), prints the slots' own state, and gives the workers a moment.
pub(crate) fn dump_stuck(shared: &Shared) {
    let Some(round) = shared.current_round() else {
        return;
    };
    eprintln!(
        "usrsctp-stress: unfinished pairs of round {}:",
        round.index + 1
    );
    for (i, slot) in round.slots.iter().enumerate() {
        let Some(l) = slot.current() else {
            eprintln!("  slot {i}: no incarnation");
            continue;
        };
        let done = [l.done[0].load(Acquire), l.done[1].load(Acquire)];
        if done == [true, true] {
            continue;
        }
        eprintln!(
            "  slot {i} (A on w{}, B on w{}) gen {}: sent {}/{} delivered {}/{} finished {:?} \
             done {done:?} churned {} dead {}; slot sent {}/{}",
            slot.a,
            slot.b,
            l.gen,
            l.sent[0].load(Acquire),
            l.sent[1].load(Acquire),
            l.delivered[0].load(Acquire),
            l.delivered[1].load(Acquire),
            [l.finished[0].load(Acquire), l.finished[1].load(Acquire)],
            l.churned.load(Acquire),
            l.dead.load(Acquire),
            slot.sent[0].load(Acquire),
            slot.sent[1].load(Acquire),
        );
    }
    eprintln!("  {:?}", Diagnostics::current());
    for tx in &round.txs {
        let _ = tx.send(Inbound::Dump);
    }
    std::thread::sleep(Duration::from_secs(3));
}
