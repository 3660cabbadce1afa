//! Progress lines on stderr, once a second: deliveries and their rate, the phase, churn and
//! restarts done, malformed packets fed, RSS.

use std::sync::atomic::AtomicBool;
use std::sync::atomic::Ordering::{Relaxed, SeqCst};
use std::time::{Duration, Instant};

use crate::procstat;
use crate::state::Shared;

/// Prints a progress line every second until `finished`.
pub(crate) fn progress(shared: &Shared, finished: &AtomicBool) {
    let cfg = &shared.cfg;
    let expected = cfg.slots() as u64 * 2 * cfg.messages * u64::from(cfg.stack_restarts + 1);
    let mut last = (0u64, 0u64, Instant::now());
    let mut next = Instant::now() + Duration::from_secs(1);
    while !finished.load(SeqCst) {
        std::thread::sleep(Duration::from_millis(50));
        if Instant::now() < next {
            continue;
        }
        next += Duration::from_secs(1);
        let delivered = shared.delivered.load(Relaxed);
        let bytes = shared.bytes_delivered.load(Relaxed);
        let dt = last.2.elapsed().as_secs_f64().max(1e-9);
        let rate = (delivered - last.0) as f64 / dt;
        let mbps = (bytes - last.1) as f64 / dt / 1e6;
        last = (delivered, bytes, Instant::now());
        let malformed = if cfg.malformed > 0 {
            format!(
                "  malformed {}/{}",
                shared.malformed.injected(),
                cfg.malformed
            )
        } else {
            String::new()
        };
        eprintln!(
            "[{:>6.1}s] {}  delivered {delivered}/{expected} ({rate:.0} msg/s, {mbps:.1} MB/s)  \
             churn {}/{}  restarts {}/{}{malformed}  rss {} MB",
            shared.elapsed().as_secs_f64(),
            shared.phase(),
            shared.churn_cycles.load(Relaxed),
            cfg.churn,
            shared.stack_restarts.load(Relaxed),
            cfg.stack_restarts,
            procstat::memory().0 / 1024
        );
    }
}
