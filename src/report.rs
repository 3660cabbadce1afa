//! The run's report: the JSON contract (version 1) plus a few extra keys, and a summary for
//! people.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::io::Write as _;
use std::sync::atomic::Ordering::Relaxed;

use usrsctp::Diagnostics;

use crate::cli::Config;
use crate::procstat::{self, ProcStat};
use crate::state::Shared;

/// Everything a run measured. The first block of fields is the version-1 contract, in its
/// order; the rest are extra keys a reader may ignore.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Report {
    /// Worker threads.
    pub workers: u64,
    /// Associations (pair slots; each has one end on each of two workers).
    pub associations: u64,
    /// Messages accepted by `send` (reliable and partial).
    pub messages_sent: u64,
    /// Distinct messages delivered intact.
    pub messages_delivered: u64,
    /// Bytes of those.
    pub bytes_delivered: u64,
    /// Reliable messages never delivered on associations churn did not tear down.
    pub lost: u64,
    /// Messages delivered more than once (extra copies).
    pub duplicated: u64,
    /// Ordered messages delivered after a later one of the same stream.
    pub out_of_order: u64,
    /// Messages whose framing or checksum was wrong, or that arrived on the wrong association.
    pub corrupted: u64,
    /// Partially reliable messages not delivered.
    pub abandoned_partial: u64,
    /// Reliable messages not delivered because churn tore their association down.
    pub discarded_by_churn: u64,
    /// Worker teardown/re-create cycles done.
    pub churn_cycles: u64,
    /// Stack shutdown/start cycles done.
    pub stack_restarts: u64,
    /// Callbacks usrsctp made for associations already gone, counted and dropped by the crate.
    pub late_callbacks_dropped: u64,
    /// Threads before the stack started.
    pub threads_start: u64,
    /// Threads after the final shutdown, all worker threads joined.
    pub threads_end: u64,
    /// File descriptors before the stack started.
    pub fds_start: u64,
    /// File descriptors after the final shutdown.
    pub fds_end: u64,
    /// RSS at the start, KiB.
    pub rss_start_kb: u64,
    /// Peak RSS, KiB.
    pub rss_peak_kb: u64,
    /// RSS at the end, KiB.
    pub rss_end_kb: u64,
    /// Wall time, seconds.
    pub elapsed_s: f64,
    /// Delivered messages per second.
    pub messages_per_s: f64,
    /// Median send-to-delivery latency of reliable messages, µs.
    pub p50_latency_us: u64,
    /// 99th percentile of the same, µs.
    pub p99_latency_us: u64,
    /// The verdict.
    pub ok: bool,

    /// Why `ok` is false (empty when it is true).
    pub failures: Vec<String>,
    /// The seed.
    pub seed: u64,
    /// Rounds run (stack restarts + 1, fewer if capped).
    pub rounds: u64,
    /// RSS after the first round and its stack shutdown, KiB (the soak's baseline).
    pub rss_after_round1_kb: u64,
    /// Heap in use after round 1 and its stack shutdown, KiB (glibc `mallinfo2`).
    pub heap_after_round1_kb: u64,
    /// Heap in use at the end, KiB.
    pub heap_end_kb: u64,
    /// Partially reliable messages accepted by `send`.
    pub partial_sent: u64,
    /// Partially reliable messages delivered.
    pub partial_delivered: u64,
    /// Distinct messages (reliable and partial) the sending end was told failed
    /// (`Event::SendFailed`).
    pub reported_failed: u64,
    /// Messages both delivered and reported failed, counted once (as delivered): possible only
    /// with `Abandoned { sent: true }` (delivered, but the acknowledgement did not return).
    pub delivered_and_reported: u64,
    /// Messages `send` accepted that were neither delivered nor reported failed: must be 0.
    /// `messages_sent = messages_delivered + reported_failed - delivered_and_reported +
    /// unaccounted`.
    pub unaccounted: u64,
    /// Messages delivered although their failure report said they never were on the wire
    /// (must be 0).
    pub delivered_but_reported_unsent: u64,
    /// Failure reports repeated for a message already reported (counted once above).
    pub reported_twice: u64,
    /// `SendFailed` reports naming a message the end never sent (must be 0).
    pub reports_unmatched: u64,
    /// Aborted associations that did not report `Closed` before their worker gave up waiting
    /// (must be 0).
    pub ends_not_closed: u64,
    /// Associations that ended while nobody closed them.
    pub unexpected_closes: u64,
    /// Packets the workers put on the wire.
    pub wire_packets: u64,
    /// Packets dropped by the loss fault.
    pub wire_dropped: u64,
    /// Packets duplicated.
    pub wire_duplicated: u64,
    /// Packets reordered.
    pub wire_reordered: u64,
    /// Packets with a flipped bit.
    pub wire_corrupted: u64,
    /// Random packets injected by `--garbage`.
    pub garbage_injected: u64,
    /// Malformed packets fed by `--malformed`.
    pub malformed_injected: u64,
    /// Association restarts usrsctp reported (`SCTP_RESTART`).
    pub association_restarts: u64,
    /// Stall probes the crate sent (an association with data outstanding that usrsctp had
    /// stopped retransmitting, sctplab/usrsctp#750).
    pub stall_probes: u64,
    /// Panics caught in worker threads or at the FFI boundary.
    pub panics: u64,
    /// The watchdog ended the run.
    pub watchdog_tripped: bool,
    /// `--duration` stopped sending early.
    pub capped: bool,
    /// Which usrsctp is linked.
    pub usrsctp_build: String,
    /// Its version.
    pub usrsctp_version: String,
}

fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if (c as u32) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

impl Report {
    /// The report as JSON, one key per line, contract keys first.
    pub fn to_json(&self) -> String {
        let mut fields: Vec<(&str, String)> = vec![("version", "1".into())];
        let mut n = |k: &'static str, v: u64| fields.push((k, v.to_string()));
        n("workers", self.workers);
        n("associations", self.associations);
        n("messages_sent", self.messages_sent);
        n("messages_delivered", self.messages_delivered);
        n("bytes_delivered", self.bytes_delivered);
        n("lost", self.lost);
        n("duplicated", self.duplicated);
        n("out_of_order", self.out_of_order);
        n("corrupted", self.corrupted);
        n("abandoned_partial", self.abandoned_partial);
        n("discarded_by_churn", self.discarded_by_churn);
        n("churn_cycles", self.churn_cycles);
        n("stack_restarts", self.stack_restarts);
        n("late_callbacks_dropped", self.late_callbacks_dropped);
        n("threads_start", self.threads_start);
        n("threads_end", self.threads_end);
        n("fds_start", self.fds_start);
        n("fds_end", self.fds_end);
        n("rss_start_kb", self.rss_start_kb);
        n("rss_peak_kb", self.rss_peak_kb);
        n("rss_end_kb", self.rss_end_kb);
        fields.push(("elapsed_s", format!("{:.3}", self.elapsed_s)));
        fields.push(("messages_per_s", format!("{:.1}", self.messages_per_s)));
        let mut n = |k: &'static str, v: u64| fields.push((k, v.to_string()));
        n("p50_latency_us", self.p50_latency_us);
        n("p99_latency_us", self.p99_latency_us);
        fields.push(("ok", self.ok.to_string()));
        fields.push(("failures", esc(&self.failures.join("; "))));
        let mut n = |k: &'static str, v: u64| fields.push((k, v.to_string()));
        n("seed", self.seed);
        n("rounds", self.rounds);
        n("rss_after_round1_kb", self.rss_after_round1_kb);
        n("heap_after_round1_kb", self.heap_after_round1_kb);
        n("heap_end_kb", self.heap_end_kb);
        n("partial_sent", self.partial_sent);
        n("partial_delivered", self.partial_delivered);
        n("reported_failed", self.reported_failed);
        n("delivered_and_reported", self.delivered_and_reported);
        n("unaccounted", self.unaccounted);
        n(
            "delivered_but_reported_unsent",
            self.delivered_but_reported_unsent,
        );
        n("reported_twice", self.reported_twice);
        n("reports_unmatched", self.reports_unmatched);
        n("ends_not_closed", self.ends_not_closed);
        n("unexpected_closes", self.unexpected_closes);
        n("wire_packets", self.wire_packets);
        n("wire_dropped", self.wire_dropped);
        n("wire_duplicated", self.wire_duplicated);
        n("wire_reordered", self.wire_reordered);
        n("wire_corrupted", self.wire_corrupted);
        n("garbage_injected", self.garbage_injected);
        n("malformed_injected", self.malformed_injected);
        n("association_restarts", self.association_restarts);
        n("stall_probes", self.stall_probes);
        n("panics", self.panics);
        fields.push(("watchdog_tripped", self.watchdog_tripped.to_string()));
        fields.push(("capped", self.capped.to_string()));
        fields.push(("usrsctp_build", esc(&self.usrsctp_build)));
        fields.push(("usrsctp_version", esc(&self.usrsctp_version)));
        let body: Vec<String> = fields
            .iter()
            .map(|(k, v)| format!("  \"{k}\": {v}"))
            .collect();
        format!("{{\n{}\n}}\n", body.join(",\n"))
    }

    /// A few lines for people.
    pub fn summary(&self) -> String {
        let mb = self.bytes_delivered as f64 / 1e6;
        let secs = self.elapsed_s.max(1e-9);
        let mut s = String::new();
        let _ = writeln!(
            s,
            "usrsctp-stress: {} workers, {} associations (cross-worker pairs), {} round(s), \
             usrsctp {} {}, seed {}",
            self.workers,
            self.associations,
            self.rounds,
            self.usrsctp_build,
            self.usrsctp_version,
            self.seed
        );
        let _ = writeln!(
            s,
            "  delivered {} of {} messages ({:.1} MB) in {:.1} s: {:.0} msg/s, {:.1} MB/s; \
             latency p50 {} us, p99 {} us",
            self.messages_delivered,
            self.messages_sent,
            mb,
            self.elapsed_s,
            self.messages_per_s,
            mb / secs,
            self.p50_latency_us,
            self.p99_latency_us
        );
        let _ = writeln!(
            s,
            "  exactly-once: lost {}, duplicated {}, out of order {}, corrupted {}  \
             (partial: {} sent, {} abandoned; {} reliable discarded by churn)",
            self.lost,
            self.duplicated,
            self.out_of_order,
            self.corrupted,
            self.partial_sent,
            self.abandoned_partial,
            self.discarded_by_churn
        );
        let _ = writeln!(
            s,
            "  outcomes: {} delivered + {} reported failed - {} both = {} of {} accepted; \
             unaccounted {}",
            self.messages_delivered,
            self.reported_failed,
            self.delivered_and_reported,
            (self.messages_delivered + self.reported_failed)
                .saturating_sub(self.delivered_and_reported),
            self.messages_sent,
            self.unaccounted
        );
        let _ = writeln!(
            s,
            "  faults: {} packets, {} dropped, {} duplicated, {} reordered, {} bit-flipped, \
             {} garbage, {} malformed; {} churn cycles, {} stack restarts, {} late callbacks dropped",
            self.wire_packets,
            self.wire_dropped,
            self.wire_duplicated,
            self.wire_reordered,
            self.wire_corrupted,
            self.garbage_injected,
            self.malformed_injected,
            self.churn_cycles,
            self.stack_restarts,
            self.late_callbacks_dropped
        );
        let _ = writeln!(
            s,
            "  resources: threads {} -> {}, fds {} -> {}, RSS {} -> {} KiB (peak {}, after round 1 {}), \
             heap in use {} KiB after round 1, {} KiB at the end",
            self.threads_start,
            self.threads_end,
            self.fds_start,
            self.fds_end,
            self.rss_start_kb,
            self.rss_end_kb,
            self.rss_peak_kb,
            self.rss_after_round1_kb,
            self.heap_after_round1_kb,
            self.heap_end_kb
        );
        if self.ok {
            let _ = writeln!(s, "  OK");
        } else {
            let _ = writeln!(s, "  FAILED: {}", self.failures.join("; "));
        }
        s
    }
}

/// A value of a flat JSON object.
#[derive(Clone, Debug, PartialEq)]
pub enum Value {
    /// A number.
    Num(f64),
    /// `true` / `false`.
    Bool(bool),
    /// A string.
    Str(String),
    /// `null`.
    Null,
}

impl Value {
    /// The number, if it is one.
    pub fn as_f64(&self) -> Option<f64> {
        match self {
            Value::Num(n) => Some(*n),
            _ => None,
        }
    }

    /// The number as an integer, if it is a non-negative whole one.
    pub fn as_u64(&self) -> Option<u64> {
        self.as_f64()
            .filter(|n| *n >= 0.0 && n.fract() == 0.0)
            .map(|n| n as u64)
    }

    /// The boolean, if it is one.
    pub fn as_bool(&self) -> Option<bool> {
        match self {
            Value::Bool(b) => Some(*b),
            _ => None,
        }
    }
}

/// Parses a flat JSON object (string keys; number, boolean, string or null values), as the
/// report is. For tests and scripts that check a report.
pub fn parse_flat(json: &str) -> Result<BTreeMap<String, Value>, String> {
    let mut chars = json.trim().chars().peekable();
    let mut map = BTreeMap::new();
    let ws = |c: &mut std::iter::Peekable<std::str::Chars>| {
        while c.peek().is_some_and(|ch| ch.is_whitespace()) {
            c.next();
        }
    };
    let string = |c: &mut std::iter::Peekable<std::str::Chars>| -> Result<String, String> {
        if c.next() != Some('"') {
            return Err("expected a string".into());
        }
        let mut s = String::new();
        loop {
            match c.next().ok_or("unterminated string")? {
                '"' => return Ok(s),
                '\\' => match c.next().ok_or("bad escape")? {
                    'u' => {
                        let hex: String = c.by_ref().take(4).collect();
                        let code = u32::from_str_radix(&hex, 16).map_err(|e| e.to_string())?;
                        s.push(char::from_u32(code).unwrap_or('?'));
                    }
                    'n' => s.push('\n'),
                    't' => s.push('\t'),
                    other => s.push(other),
                },
                ch => s.push(ch),
            }
        }
    };
    if chars.next() != Some('{') {
        return Err("expected '{'".into());
    }
    loop {
        ws(&mut chars);
        if chars.peek() == Some(&'}') {
            chars.next();
            break;
        }
        let key = string(&mut chars)?;
        ws(&mut chars);
        if chars.next() != Some(':') {
            return Err(format!("expected ':' after {key:?}"));
        }
        ws(&mut chars);
        let value = match chars.peek() {
            Some('"') => Value::Str(string(&mut chars)?),
            Some(_) => {
                let mut tok = String::new();
                while chars
                    .peek()
                    .is_some_and(|ch| !matches!(ch, ',' | '}') && !ch.is_whitespace())
                {
                    tok.extend(chars.next());
                }
                match tok.as_str() {
                    "true" => Value::Bool(true),
                    "false" => Value::Bool(false),
                    "null" => Value::Null,
                    t => Value::Num(
                        t.parse()
                            .map_err(|_| format!("bad value {t:?} for {key:?}"))?,
                    ),
                }
            }
            None => return Err("unexpected end".into()),
        };
        map.insert(key, value);
        ws(&mut chars);
        match chars.next() {
            Some(',') => continue,
            Some('}') => break,
            other => return Err(format!("expected ',' or '}}', got {other:?}")),
        }
    }
    Ok(map)
}

/// The keys of the version-1 contract, in order.
pub const CONTRACT_KEYS: &[&str] = &[
    "version",
    "workers",
    "associations",
    "messages_sent",
    "messages_delivered",
    "bytes_delivered",
    "lost",
    "duplicated",
    "out_of_order",
    "corrupted",
    "abandoned_partial",
    "discarded_by_churn",
    "churn_cycles",
    "stack_restarts",
    "late_callbacks_dropped",
    "threads_start",
    "threads_end",
    "fds_start",
    "fds_end",
    "rss_start_kb",
    "rss_peak_kb",
    "rss_end_kb",
    "elapsed_s",
    "messages_per_s",
    "p50_latency_us",
    "p99_latency_us",
    "ok",
];

/// What the run looked like before it started, to compare with the end.
#[derive(Clone, Copy)]
pub(crate) struct Baseline {
    proc: ProcStat,
    late_callbacks: u64,
    callback_panics: u64,
    association_restarts: u64,
    stall_probes: u64,
}

impl Baseline {
    /// The process and the crate's counters now.
    pub(crate) fn now() -> Self {
        let diag = Diagnostics::current();
        Baseline {
            proc: ProcStat::now(),
            late_callbacks: diag.late_callbacks_dropped,
            callback_panics: diag.callback_panics,
            association_restarts: diag.association_restarts,
            stall_probes: diag.stall_probes,
        }
    }
}

/// The report of the run so far, `end` being the process now; the verdict (`ok`) is left to
/// the caller, the failures the counters show are filled in.
pub(crate) fn build_report(
    shared: &Shared,
    base: Baseline,
    end: ProcStat,
    watchdog: bool,
) -> Report {
    let cfg = &shared.cfg;
    let books = shared.accounting();
    let diag = Diagnostics::current();
    let wire = shared.wire_stats();
    let latency = shared.latency();
    let elapsed = shared.elapsed().as_secs_f64();
    let delivered = shared.delivered.load(Relaxed);
    let callback_panics = diag.callback_panics.saturating_sub(base.callback_panics);
    let mut r = Report {
        workers: cfg.workers as u64,
        associations: cfg.slots() as u64,
        messages_sent: books.sent,
        messages_delivered: delivered,
        bytes_delivered: shared.bytes_delivered.load(Relaxed),
        lost: books.lost,
        duplicated: shared.duplicated.load(Relaxed),
        out_of_order: shared.out_of_order.load(Relaxed),
        corrupted: shared.corrupted.load(Relaxed),
        abandoned_partial: books.abandoned_partial,
        discarded_by_churn: books.discarded_by_churn,
        churn_cycles: shared.churn_cycles.load(Relaxed),
        stack_restarts: shared.stack_restarts.load(Relaxed),
        late_callbacks_dropped: diag
            .late_callbacks_dropped
            .saturating_sub(base.late_callbacks),
        threads_start: base.proc.threads as u64,
        threads_end: end.threads as u64,
        fds_start: base.proc.fds as u64,
        fds_end: end.fds as u64,
        rss_start_kb: base.proc.rss_kb,
        rss_peak_kb: end.rss_peak_kb,
        rss_end_kb: end.rss_kb,
        elapsed_s: elapsed,
        messages_per_s: delivered as f64 / elapsed.max(1e-9),
        p50_latency_us: latency.quantile(0.5),
        p99_latency_us: latency.quantile(0.99),
        ok: false,
        failures: shared.failures(),
        seed: cfg.seed,
        rounds: shared.rounds.load(Relaxed),
        rss_after_round1_kb: shared.rss_after_round1_kb.load(Relaxed),
        heap_after_round1_kb: shared.heap_after_round1_kb.load(Relaxed),
        heap_end_kb: procstat::heap_in_use_kb(),
        partial_sent: books.partial_sent,
        partial_delivered: books.partial_delivered,
        reported_failed: books.reported_failed,
        delivered_and_reported: books.delivered_and_reported,
        unaccounted: books.unaccounted,
        delivered_but_reported_unsent: books.delivered_but_reported_unsent,
        reported_twice: books.reported_twice,
        reports_unmatched: shared.reports_unmatched.load(Relaxed),
        ends_not_closed: shared.ends_not_closed.load(Relaxed),
        unexpected_closes: shared.unexpected_closes.load(Relaxed),
        wire_packets: wire.packets,
        wire_dropped: wire.dropped,
        wire_duplicated: wire.duplicated,
        wire_reordered: wire.reordered,
        wire_corrupted: wire.corrupted,
        garbage_injected: wire.garbage,
        malformed_injected: shared.malformed.injected(),
        association_restarts: diag
            .association_restarts
            .saturating_sub(base.association_restarts),
        stall_probes: diag.stall_probes.saturating_sub(base.stall_probes),
        panics: shared.panics.load(Relaxed) + callback_panics,
        watchdog_tripped: watchdog,
        capped: shared.capped.load(Relaxed),
        usrsctp_build: diag.build.to_owned(),
        usrsctp_version: diag.version.to_owned(),
    };
    if callback_panics > 0 {
        r.failures.push(format!(
            "{callback_panics} panics caught at the usrsctp callback boundary"
        ));
    }
    // Forged packets with a valid checksum and verification tag are indistinguishable from
    // the peer's own: they may legitimately abort associations, acknowledge or skip data, or
    // deliver forged bytes. A malformed run is judged on crashes, hangs and leaks only.
    if cfg.malformed == 0 {
        let checks = [
            (r.lost, "reliable messages lost"),
            (r.duplicated, "messages duplicated"),
            (r.out_of_order, "messages out of order"),
            (r.corrupted, "messages corrupted"),
            (
                r.unaccounted,
                "messages accepted by send with no outcome (neither delivered nor reported failed)",
            ),
            (
                r.delivered_but_reported_unsent,
                "messages delivered although reported failed before they were sent",
            ),
            (
                r.reports_unmatched,
                "SendFailed reports for messages the end never sent",
            ),
        ];
        for (count, what) in checks {
            if count > 0 {
                r.failures.push(format!("{count} {what}"));
            }
        }
    }
    r
}

/// Prints the report: JSON on stdout (and to `--json PATH`), the summary on stderr unless
/// `--quiet`.
pub fn emit(cfg: &Config, report: &Report) {
    let json = report.to_json();
    if let Some(path) = &cfg.json {
        if let Err(e) = std::fs::write(path, &json) {
            eprintln!("usrsctp-stress: writing {}: {e}", path.display());
        }
    }
    let mut out = std::io::stdout().lock();
    let _ = out.write_all(json.as_bytes());
    let _ = out.flush();
    if !cfg.quiet {
        eprint!("{}", report.summary());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_has_the_contract_keys_in_order_and_round_trips() {
        let r = Report {
            workers: 4,
            messages_delivered: 123,
            elapsed_s: 1.5,
            ok: false,
            failures: vec!["lost 2 \"reliable\" messages".into(), "x\ny".into()],
            usrsctp_build: "system".into(),
            ..Report::default()
        };
        let json = r.to_json();
        let mut last = 0;
        for key in CONTRACT_KEYS {
            let at = json
                .find(&format!("\"{key}\":"))
                .unwrap_or_else(|| panic!("{key} missing"));
            assert!(at >= last, "{key} out of order");
            last = at;
        }
        let map = parse_flat(&json).expect("parses");
        assert_eq!(map["version"].as_u64(), Some(1));
        assert_eq!(map["workers"].as_u64(), Some(4));
        assert_eq!(map["messages_delivered"].as_u64(), Some(123));
        assert_eq!(map["elapsed_s"].as_f64(), Some(1.5));
        assert_eq!(map["ok"].as_bool(), Some(false));
        assert_eq!(
            map["failures"],
            Value::Str("lost 2 \"reliable\" messages; x\ny".into())
        );
        assert_eq!(map["usrsctp_build"], Value::Str("system".into()));
    }

    #[test]
    fn parser_refuses_broken_json() {
        assert!(parse_flat("").is_err());
        assert!(parse_flat("{\"a\" 1}").is_err());
        assert!(parse_flat("{\"a\": 1").is_err());
        assert!(parse_flat("{\"a\": nope}").is_err());
        assert_eq!(parse_flat("{}").map(|m| m.len()), Ok(0));
    }
}
