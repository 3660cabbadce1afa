//! The `usrsctp-stress` binary, run as a user runs it, with short settings: its verdicts (exit
//! status and JSON report) are checked against what each run did.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use usrsctp_harness::report::{parse_flat, Value, CONTRACT_KEYS};

struct Run {
    code: i32,
    json: BTreeMap<String, Value>,
    elapsed: Duration,
}

impl Run {
    fn u(&self, key: &str) -> u64 {
        self.json
            .get(key)
            .and_then(Value::as_u64)
            .unwrap_or_else(|| panic!("{key} is not a whole number in {:?}", self.json))
    }
    fn b(&self, key: &str) -> bool {
        self.json
            .get(key)
            .and_then(Value::as_bool)
            .unwrap_or_else(|| panic!("{key} is not a boolean"))
    }
}

fn stress(args: &str) -> Run {
    static RUNS: AtomicUsize = AtomicUsize::new(0);
    let dir = std::env::temp_dir().join(format!(
        "usrsctp-stress-test-{}-{}",
        std::process::id(),
        RUNS.fetch_add(1, Ordering::Relaxed)
    ));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let json_path: PathBuf = dir.join("report.json");
    let started = Instant::now();
    let out = Command::new(env!("CARGO_BIN_EXE_usrsctp-stress"))
        .args(args.split_whitespace())
        .args(["--quiet", "--json"])
        .arg(&json_path)
        .output()
        .expect("the binary runs");
    let elapsed = started.elapsed();
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let file = std::fs::read_to_string(&json_path).unwrap_or_default();
    let _ = std::fs::remove_dir_all(&dir);
    assert_eq!(stdout, file, "stdout and --json carry the same report");
    let json = parse_flat(&stdout).unwrap_or_else(|e| {
        panic!(
            "report is not JSON ({e}): {stdout}\nstderr: {}",
            String::from_utf8_lossy(&out.stderr)
        )
    });
    Run {
        code: out.status.code().unwrap_or(-1),
        json,
        elapsed,
    }
}

/// The run every worker/association/round count is derived from below.
const FAULTY: &str = "--workers 3 --associations 2 --messages 1500 --size 1..4096 \
    --unordered 0.2 --partial 0.1 --loss 0.02 --duplicate 0.01 --reorder 0.02 \
    --corrupt 0.01 --garbage 0.01 --churn 2 --stack-restarts 1 --seed 7";

#[test]
fn a_faulty_run_with_churn_and_restarts_accounts_for_every_message() {
    let r = stress(FAULTY);
    assert_eq!(r.code, 0, "{:?}", r.json);
    for key in CONTRACT_KEYS {
        assert!(r.json.contains_key(*key), "{key} missing");
    }
    assert_eq!(r.u("version"), 1);
    assert!(r.b("ok"));
    assert_eq!((r.u("workers"), r.u("associations")), (3, 6));
    for key in ["lost", "duplicated", "out_of_order", "corrupted"] {
        assert_eq!(r.u(key), 0, "{key}");
    }
    // 6 pairs x 2 directions x 1500 messages x 2 rounds, every one accepted by `send`.
    assert_eq!(r.u("messages_sent"), 6 * 2 * 1500 * 2);
    assert_eq!(
        (r.u("churn_cycles"), r.u("stack_restarts"), r.u("rounds")),
        (2, 1, 2)
    );
    // Every message sent is delivered, abandoned (partial), or discarded with a churned
    // association: nothing else.
    assert_eq!(
        r.u("messages_delivered"),
        r.u("messages_sent") - r.u("abandoned_partial") - r.u("discarded_by_churn")
    );
    assert!(
        r.u("discarded_by_churn") > 0,
        "churn tore associations down mid-transfer"
    );
    assert!(r.u("partial_sent") > 0 && r.u("abandoned_partial") <= r.u("partial_sent"));
    assert!(r.u("bytes_delivered") >= r.u("messages_delivered") * 36);
    // Every fault was injected and SCTP survived it.
    for key in [
        "wire_dropped",
        "wire_duplicated",
        "wire_reordered",
        "wire_corrupted",
        "garbage_injected",
    ] {
        assert!(r.u(key) > 0, "{key}");
    }
    assert_eq!(r.u("threads_end"), r.u("threads_start"));
    assert_eq!(r.u("fds_end"), r.u("fds_start"));
    assert!(r.u("rss_peak_kb") >= r.u("rss_end_kb"));
    assert!(r.u("p99_latency_us") >= r.u("p50_latency_us"));
    assert!(!r.b("watchdog_tripped"));
}

#[test]
fn every_accepted_message_is_delivered_or_reported_failed_through_churn_and_restarts() {
    // The churned workers abort their associations mid-transfer and drain their reports before
    // dropping their `Worker`; the round ends abort the rest before each stack shutdown.
    let r = stress(&FAULTY.replace("--seed 7", "--seed 11"));
    assert_eq!(r.code, 0, "{:?}", r.json);
    assert!(r.b("ok"));
    assert_eq!(
        (r.u("churn_cycles"), r.u("stack_restarts"), r.u("rounds")),
        (2, 1, 2)
    );
    for key in [
        "unaccounted",
        "delivered_but_reported_unsent",
        "reports_unmatched",
        "ends_not_closed",
        "lost",
    ] {
        assert_eq!(r.u(key), 0, "{key}: {:?}", r.json);
    }
    // The books balance: every message accepted is delivered or reported failed, one that is
    // both (sent, but its SACK did not return) counted once.
    let (sent, delivered) = (r.u("messages_sent"), r.u("messages_delivered"));
    let (failed, both) = (r.u("reported_failed"), r.u("delivered_and_reported"));
    assert_eq!(sent, delivered + failed - both, "{:?}", r.json);
    assert!(both <= failed.min(delivered));
    // What was not delivered is exactly what the reports name: every message churn discarded
    // and every partial one abandoned was reported.
    assert_eq!(
        failed - both,
        r.u("discarded_by_churn") + r.u("abandoned_partial"),
        "{:?}",
        r.json
    );
    assert!(
        r.u("discarded_by_churn") > 0,
        "churn had messages in flight"
    );
}

#[test]
fn dropping_the_worker_on_churn_leaves_messages_unaccounted_and_fails_the_run() {
    // The old churn: the Worker is dropped outright, aborting its associations with nobody
    // left to receive their reports. The books must notice, and only they fail the run.
    let r = stress(&format!("{FAULTY} --debug-drop-worker"));
    assert_eq!(r.code, 1, "{:?}", r.json);
    assert!(!r.b("ok"));
    assert!(r.u("unaccounted") > 0, "{:?}", r.json);
    assert!(
        matches!(&r.json["failures"], Value::Str(s) if s.contains("no outcome")),
        "{:?}",
        r.json["failures"]
    );
    for key in ["lost", "duplicated", "out_of_order", "corrupted"] {
        assert_eq!(r.u(key), 0, "{key}");
    }
    assert_eq!(r.u("churn_cycles"), 2);
    // The messages nobody reported are among those churn discarded.
    assert!(r.u("unaccounted") <= r.u("discarded_by_churn") + r.u("abandoned_partial"));
    assert_eq!(
        r.u("messages_sent"),
        r.u("messages_delivered") + r.u("reported_failed") - r.u("delivered_and_reported")
            + r.u("unaccounted")
    );
}

#[test]
fn tampering_above_sctp_is_caught_and_fails_the_run() {
    // Worker 0 drops, repeats, corrupts and reorders one received message each before the
    // checks see them: each must show up in its counter, and the run must fail.
    let r = stress(
        "--workers 2 --associations 2 --messages 800 --size 1..2048 --churn 0 \
         --stack-restarts 0 --loss 0 --duplicate 0 --reorder 0 --corrupt 0 --garbage 0 \
         --partial 0 --unordered 0 --debug-tamper --watchdog 6",
    );
    assert_eq!(r.code, 1, "{:?}", r.json);
    assert!(!r.b("ok"));
    assert!(r.u("lost") >= 2, "dropped + corrupted: {:?}", r.json);
    assert_eq!(r.u("duplicated"), 1);
    assert_eq!(r.u("out_of_order"), 1);
    assert_eq!(r.u("corrupted"), 1);
    assert!(!r.b("watchdog_tripped"));
}

#[test]
fn the_watchdog_reports_and_fails_a_stalled_run() {
    let r = stress(
        "--workers 2 --associations 1 --messages 100000 --churn 0 --stack-restarts 0 \
         --debug-stall --watchdog 2",
    );
    assert_eq!(r.code, 2, "{:?}", r.json);
    assert!(!r.b("ok"));
    assert!(r.b("watchdog_tripped"));
    assert!(matches!(&r.json["failures"], Value::Str(s) if s.contains("watchdog")));
    assert!(r.elapsed < Duration::from_secs(30), "{:?}", r.elapsed);
}

#[test]
fn malformed_packets_reach_live_associations_without_crash_hang_or_leak() {
    let r = stress(
        "--workers 3 --associations 2 --messages 300 --churn 1 --stack-restarts 1 \
         --malformed 30000",
    );
    assert_eq!(r.code, 0, "{:?}", r.json);
    assert_eq!(r.u("malformed_injected"), 30_000);
    assert_eq!(r.u("threads_end"), r.u("threads_start"));
    assert_eq!(r.u("fds_end"), r.u("fds_start"));
    assert_eq!(r.u("panics"), 0);
}

#[test]
fn duration_caps_sending_and_in_flight_messages_are_still_verified() {
    let r = stress(
        "--workers 2 --associations 2 --messages 10000000 --churn 0 --stack-restarts 3 \
         --duration 1.5",
    );
    assert_eq!(r.code, 0, "{:?}", r.json);
    assert!(r.b("capped"));
    assert_eq!(r.u("rounds"), 1, "no further rounds once capped");
    assert!(r.u("messages_sent") < 4 * 2 * 10_000_000);
    assert_eq!(r.u("lost"), 0);
    assert!(r.elapsed < Duration::from_secs(30), "{:?}", r.elapsed);
}

#[test]
fn the_same_seed_sends_the_same_messages() {
    // Without faults, partial messages or churn, every message is delivered, and what is
    // sent depends only on the seed: the byte counts match exactly.
    let args = |seed: u64| {
        format!(
            "--workers 2 --associations 1 --messages 400 --partial 0 --loss 0 --duplicate 0 \
             --reorder 0 --corrupt 0 --garbage 0 --churn 0 --stack-restarts 0 --seed {seed}"
        )
    };
    let (a, b, c) = (stress(&args(5)), stress(&args(5)), stress(&args(6)));
    assert_eq!((a.code, b.code, c.code), (0, 0, 0));
    assert_eq!(a.u("messages_delivered"), 2 * 2 * 400);
    assert_eq!(a.u("bytes_delivered"), b.u("bytes_delivered"));
    assert_ne!(a.u("bytes_delivered"), c.u("bytes_delivered"));
}

#[test]
fn usage_errors_exit_64_and_help_exits_0() {
    let bin = env!("CARGO_BIN_EXE_usrsctp-stress");
    let out = Command::new(bin)
        .args(["--loss", "2"])
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(64));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--loss"));
    let out = Command::new(bin).arg("--help").output().expect("runs");
    assert_eq!(out.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&out.stdout).contains("--stack-restarts"));
}
