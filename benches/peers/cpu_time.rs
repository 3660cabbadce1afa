//! CPU time and memory of this process, for the benchmarks that measure cost rather than speed.
//!
//! - [`ProcessCpu`]: a criterion [`Measurement`] on the CPU time of the whole process
//!   (`clock_gettime(CLOCK_PROCESS_CPUTIME_ID)`: every thread, user and system). A bulk transfer
//!   measured with it costs what all its threads burned, however many vCPUs they ran on; with
//!   `Throughput::Elements` criterion's `thrpt:` line shows the CPU time per element.
//! - [`ThreadCpu`]: the CPU time of one thread of this process found by name (the crate's stack
//!   thread is `usrsctp`), from `/proc/self/task/<tid>/stat` (utime + stime, clock ticks) or, to
//!   the nanosecond, `/proc/self/task/<tid>/schedstat`.
//! - [`rss_kb`], [`peak_rss_kb`]: resident set now (`/proc/self/statm`) and its high-water mark
//!   (`VmHWM` in `/proc/self/status`).
//!
//! `tests/bench_cpu_time.rs` checks that the clocks advance under load and not while sleeping.

use std::fs;
use std::time::Duration;

use criterion::measurement::{Measurement, ValueFormatter};
use criterion::Throughput;

/// CPU time used by the whole process so far (all threads, user + system).
pub fn process_cpu() -> Duration {
    clock(libc::CLOCK_PROCESS_CPUTIME_ID)
}

/// CPU time used by the calling thread so far.
pub fn own_thread_cpu() -> Duration {
    clock(libc::CLOCK_THREAD_CPUTIME_ID)
}

fn clock(id: libc::clockid_t) -> Duration {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a live, writable timespec; `id` is one of the CPU-time clocks Linux has.
    let rc = unsafe { libc::clock_gettime(id, &mut ts) };
    assert_eq!(
        rc,
        0,
        "clock_gettime({id}): {}",
        std::io::Error::last_os_error()
    );
    Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32)
}

/// Computes until the calling thread has used `d` of CPU; `false` if that took longer than
/// `limit` of wall time (a machine too loaded to give it).
pub fn spin_cpu(d: Duration, limit: Duration) -> bool {
    let start = own_thread_cpu();
    let deadline = std::time::Instant::now() + limit;
    let mut x = 0u64;
    while own_thread_cpu() - start < d {
        if std::time::Instant::now() > deadline {
            return false;
        }
        for _ in 0..1000 {
            x = std::hint::black_box(x.wrapping_mul(6364136223846793005).wrapping_add(1));
        }
    }
    true
}

/// Criterion measurement: process CPU time between `start` and `end`.
pub struct ProcessCpu;

impl Measurement for ProcessCpu {
    type Intermediate = Duration;
    type Value = Duration;

    fn start(&self) -> Duration {
        process_cpu()
    }
    fn end(&self, start: Duration) -> Duration {
        process_cpu().saturating_sub(start)
    }
    fn add(&self, v1: &Duration, v2: &Duration) -> Duration {
        *v1 + *v2
    }
    fn zero(&self) -> Duration {
        Duration::ZERO
    }
    fn to_f64(&self, value: &Duration) -> f64 {
        value.as_nanos() as f64
    }
    fn formatter(&self) -> &dyn ValueFormatter {
        &CpuFormatter
    }
}

/// Formats CPU nanoseconds as time; a throughput as CPU time per element (or per byte).
pub struct CpuFormatter;

/// Factor from nanoseconds to the unit that suits `typical_ns`, and that unit's index in
/// [`UNITS`] (ns, µs, ms, s).
fn time_unit(typical_ns: f64) -> (f64, usize) {
    if typical_ns < 1e3 {
        (1.0, 0)
    } else if typical_ns < 1e6 {
        (1e-3, 1)
    } else if typical_ns < 1e9 {
        (1e-6, 2)
    } else {
        (1e-9, 3)
    }
}

const UNITS: [&str; 4] = ["ns CPU", "µs CPU", "ms CPU", "s CPU"];
const UNITS_PER_ELEMENT: [&str; 4] = ["ns CPU/elem", "µs CPU/elem", "ms CPU/elem", "s CPU/elem"];
const UNITS_PER_BYTE: [&str; 4] = ["ns CPU/B", "µs CPU/B", "ms CPU/B", "s CPU/B"];

impl ValueFormatter for CpuFormatter {
    fn scale_values(&self, typical_ns: f64, values: &mut [f64]) -> &'static str {
        let (factor, unit) = time_unit(typical_ns);
        for v in values {
            *v *= factor;
        }
        UNITS[unit]
    }

    /// CPU time per element (per byte for byte throughputs; bits are counted as bytes / 8).
    fn scale_throughputs(
        &self,
        typical_ns: f64,
        throughput: &Throughput,
        values: &mut [f64],
    ) -> &'static str {
        let (per, units) = match *throughput {
            Throughput::Elements(n) | Throughput::ElementsAndBytes { elements: n, .. } => {
                (n as f64, &UNITS_PER_ELEMENT)
            }
            Throughput::Bytes(n) | Throughput::BytesDecimal(n) => (n as f64, &UNITS_PER_BYTE),
            Throughput::Bits(n) => (n as f64 / 8.0, &UNITS_PER_BYTE),
        };
        let per = per.max(1.0);
        let (factor, unit) = time_unit(typical_ns / per);
        for v in values {
            *v = *v / per * factor;
        }
        units[unit]
    }

    fn scale_for_machines(&self, _values: &mut [f64]) -> &'static str {
        "ns"
    }
}

/// One thread of this process, found by its name (`/proc/self/task/*/comm`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ThreadCpu {
    tid: u32,
}

impl ThreadCpu {
    /// The only thread of this process named `name`; `None` if there is none or more than one.
    pub fn find(name: &str) -> Option<ThreadCpu> {
        let mut found = None;
        for entry in fs::read_dir("/proc/self/task").ok()?.flatten() {
            let Some(tid) = entry.file_name().to_str().and_then(|s| s.parse().ok()) else {
                continue;
            };
            let comm = fs::read_to_string(entry.path().join("comm")).unwrap_or_default();
            if comm.trim_end_matches('\n') == name {
                if found.is_some() {
                    return None;
                }
                found = Some(ThreadCpu { tid });
            }
        }
        found
    }

    /// [`find`](Self::find), retried until it succeeds or `timeout` passes. A new thread
    /// carries its creator's name until it sets its own: usrsctp's iterator thread, started by
    /// the stack thread, is called `usrsctp` too for a moment before it becomes
    /// `SCTP iterator`.
    pub fn wait_for(name: &str, timeout: Duration) -> Option<ThreadCpu> {
        let deadline = std::time::Instant::now() + timeout;
        loop {
            if let Some(t) = ThreadCpu::find(name) {
                return Some(t);
            }
            if std::time::Instant::now() >= deadline {
                return None;
            }
            std::thread::sleep(Duration::from_millis(1));
        }
    }

    /// The kernel's id of the thread.
    pub fn tid(&self) -> u32 {
        self.tid
    }

    /// utime + stime from `/proc/self/task/<tid>/stat`, in clock ticks (usually 10 ms) turned
    /// into time; `None` once the thread is gone.
    pub fn stat_time(&self) -> Option<Duration> {
        let stat = fs::read_to_string(format!("/proc/self/task/{}/stat", self.tid)).ok()?;
        let ticks = stat_ticks(&stat)?;
        // SAFETY: sysconf takes no pointers.
        let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
        if hz <= 0 {
            return None;
        }
        Some(Duration::from_nanos(
            ticks.saturating_mul(1_000_000_000) / hz as u64,
        ))
    }

    /// Time on CPU from `/proc/self/task/<tid>/schedstat` (nanoseconds; the scheduler's own
    /// account, the same quantity as `stat_time` without the tick rounding); falls back to
    /// `stat_time` if the kernel has no schedstat.
    pub fn precise_time(&self) -> Option<Duration> {
        match fs::read_to_string(format!("/proc/self/task/{}/schedstat", self.tid)) {
            Ok(s) => s
                .split_whitespace()
                .next()
                .and_then(|ns| ns.parse().ok())
                .map(Duration::from_nanos),
            Err(_) => self.stat_time(),
        }
    }
}

/// utime + stime (fields 14 and 15) of a `/proc/<pid>/stat` line. The command name (field 2)
/// is in parentheses and may itself hold spaces and parentheses: the fields after it are
/// counted from the last `)`.
pub fn stat_ticks(stat: &str) -> Option<u64> {
    let rest = &stat[stat.rfind(')')? + 1..];
    let mut fields = rest.split_whitespace();
    // After the name: field 3 (state) is index 0, so utime (14) is index 11, stime (15) is 12.
    let utime: u64 = fields.nth(11)?.parse().ok()?;
    let stime: u64 = fields.next()?.parse().ok()?;
    Some(utime + stime)
}

/// Resident set size of this process now, in KiB.
pub fn rss_kb() -> u64 {
    let statm = fs::read_to_string("/proc/self/statm").unwrap_or_default();
    let pages: u64 = statm
        .split_whitespace()
        .nth(1)
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    // SAFETY: sysconf takes no pointers.
    let page = unsafe { libc::sysconf(libc::_SC_PAGESIZE) }.max(0) as u64;
    pages * page / 1024
}

/// The highest resident set size this process has had (`VmHWM`), in KiB.
pub fn peak_rss_kb() -> u64 {
    let status = fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}
