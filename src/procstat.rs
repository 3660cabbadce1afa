//! Threads, file descriptors and memory of this process, read from `/proc/self`.

use std::fs;

/// A snapshot of the process's resources.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ProcStat {
    /// Threads (`/proc/self/task` entries).
    pub threads: usize,
    /// Open file descriptors (`/proc/self/fd` entries, not counting the one used to list them).
    pub fds: usize,
    /// Resident set size, KiB (`VmRSS`).
    pub rss_kb: u64,
    /// Peak resident set size, KiB (`VmHWM`).
    pub rss_peak_kb: u64,
}

impl ProcStat {
    /// Reads the current values (zeros where `/proc` cannot be read).
    pub fn now() -> Self {
        let (rss_kb, rss_peak_kb) = memory();
        ProcStat {
            threads: threads(),
            fds: fds(),
            rss_kb,
            rss_peak_kb,
        }
    }
}

/// Threads of this process.
pub fn threads() -> usize {
    fs::read_dir("/proc/self/task").map_or(0, |d| d.count())
}

/// Names of this process's threads (`comm`), for reporting a leak.
pub fn thread_names() -> Vec<String> {
    let Ok(dir) = fs::read_dir("/proc/self/task") else {
        return Vec::new();
    };
    let mut names: Vec<String> = dir
        .flatten()
        .map(|e| {
            fs::read_to_string(e.path().join("comm"))
                .map(|s| s.trim().to_owned())
                .unwrap_or_else(|_| "?".to_owned())
        })
        .collect();
    names.sort();
    names
}

/// Open file descriptors of this process.
pub fn fds() -> usize {
    // Listing the directory opens one descriptor of its own, which the listing includes.
    fs::read_dir("/proc/self/fd").map_or(0, |d| d.count().saturating_sub(1))
}

/// Where each open descriptor points (`/proc/self/fd/N` link targets), for reporting a leak.
pub fn fd_targets() -> Vec<String> {
    let Ok(dir) = fs::read_dir("/proc/self/fd") else {
        return Vec::new();
    };
    let mut targets: Vec<String> = dir
        .flatten()
        .filter_map(|e| fs::read_link(e.path()).ok())
        .map(|t| t.display().to_string())
        .collect();
    targets.sort();
    targets
}

/// Returns the allocator's free memory to the operating system (glibc `malloc_trim`), so that
/// RSS measured next reflects memory in use rather than what the allocator keeps cached in its
/// per-thread arenas (which depends on which threads happened to free what). A no-op on other
/// C libraries.
pub fn trim_heap() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim only gives free heap pages back to the kernel; it does not touch
    // allocated memory, so no pointer held anywhere in the process is affected.
    unsafe {
        libc::malloc_trim(0);
    }
}

/// Heap bytes in use (allocated and not freed, in all malloc arenas plus mmapped blocks), KiB,
/// from glibc's `mallinfo2`; 0 on other C libraries. Unlike RSS it does not depend on how
/// fragmented the allocator's arenas are, so it tells a leak from allocator caching.
pub fn heap_in_use_kb() -> u64 {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        // SAFETY: mallinfo2 only reads the allocator's statistics and returns them by value.
        let info = unsafe { libc::mallinfo2() };
        ((info.uordblks + info.hblkhd) / 1024) as u64
    }
    #[cfg(not(all(target_os = "linux", target_env = "gnu")))]
    {
        0
    }
}

/// `(VmRSS, VmHWM)` in KiB.
pub fn memory() -> (u64, u64) {
    let status = fs::read_to_string("/proc/self/status").unwrap_or_default();
    (field_kb(&status, "VmRSS:"), field_kb(&status, "VmHWM:"))
}

fn field_kb(status: &str, key: &str) -> u64 {
    status
        .lines()
        .find_map(|l| l.strip_prefix(key))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_a_new_thread_and_a_new_fd() {
        let before = ProcStat::now();
        assert!(before.threads >= 1 && before.fds >= 3 && before.rss_kb > 0);
        assert!(before.rss_peak_kb >= before.rss_kb);
        let (tx, rx) = std::sync::mpsc::channel::<()>();
        let (ready_tx, ready_rx) = std::sync::mpsc::channel::<()>();
        let t = std::thread::spawn(move || {
            let _ = ready_tx.send(());
            let _ = rx.recv();
        });
        let _ = ready_rx.recv();
        // Other tests run in parallel threads: the count can only be at least one higher.
        assert!(threads() > 0);
        let file = std::fs::File::open("/proc/self/status").expect("open");
        let with_file = fds();
        assert!(fd_targets().iter().any(|t| t.ends_with("/status")));
        drop(file);
        assert!(
            fds() < with_file || fds() == with_file,
            "closing cannot add fds"
        );
        let _ = tx.send(());
        let _ = t.join();
    }

    #[test]
    fn trimming_the_heap_does_not_grow_it() {
        let big: Vec<Vec<u8>> = (0..64).map(|i| vec![i as u8; 64 * 1024]).collect();
        drop(big);
        let (before, _) = memory();
        trim_heap();
        let (after, _) = memory();
        // Other tests allocate concurrently, so allow some slack.
        assert!(after <= before + 1024, "{before} -> {after}");
    }

    #[test]
    fn parses_status_fields() {
        let s = "Name:\tx\nVmHWM:\t  2048 kB\nVmRSS:\t  1024 kB\n";
        assert_eq!(field_kb(s, "VmRSS:"), 1024);
        assert_eq!(field_kb(s, "VmHWM:"), 2048);
        assert_eq!(field_kb(s, "VmSwap:"), 0);
    }
}
