//! Memory probe: RSS growth per 1,000 idle associations.
//!
//! Opens `PAIRS` association pairs (2 × `PAIRS` associations) between two workers on this
//! thread, waits until all are established, lets them idle, and prints how much the resident
//! set grew, per 1,000 associations and per association. Each configuration runs in a fresh
//! child process, so memory freed by one does not hide the growth of the next.
//!
//! ```text
//! cargo bench --bench idle_memory
//! ```

use std::collections::HashMap;
use std::os::fd::AsRawFd;
use std::process::Command;
use std::time::{Duration, Instant};

use usrsctp::{AssocId, Association, AssociationConfig, Event, Stack, StackConfig, Worker};

/// Association pairs per measurement (2,000 associations).
const PAIRS: usize = 1000;
const VARIANT_ENV: &str = "IDLE_MEMORY_STREAMS";

fn rss_bytes() -> u64 {
    let statm = std::fs::read_to_string("/proc/self/statm").unwrap_or_default();
    let pages: u64 = statm
        .split_whitespace()
        .nth(1)
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    // SAFETY: sysconf takes no pointers.
    let page = unsafe { libc::sysconf(libc::_SC_PAGESIZE) } as u64;
    pages * page
}

/// Opens `pairs` pairs with `config` and drives them until every one is established.
fn open_pairs(
    a: &Worker,
    b: &Worker,
    config: &AssociationConfig,
    pairs: usize,
) -> Vec<(Association, Association)> {
    let mut opened = Vec::with_capacity(pairs);
    // Each side's association id → index of the pair.
    let mut index: HashMap<AssocId, usize> = HashMap::new();
    for i in 0..pairs {
        let x = a.associate(config.clone()).expect("associate");
        let y = b.associate(config.clone()).expect("associate");
        index.insert(x.id(), i);
        index.insert(y.id(), i);
        opened.push((x, y));
    }
    let mut connected = 0;
    let mut events = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(60);
    while connected < 2 * pairs {
        assert!(Instant::now() < deadline, "associations did not connect");
        let mut progress = false;
        for (side, worker) in [(0, a), (1, b)] {
            events.clear();
            if worker.drain(&mut events, 4096) > 0 {
                progress = true;
            }
            for event in events.drain(..) {
                match event {
                    Event::Transmit { assoc, packet } => {
                        let (x, y) = &opened[index[&assoc]];
                        let peer = if side == 0 { y } else { x };
                        let _ = peer.input(packet);
                    }
                    Event::Connected { .. } => connected += 1,
                    Event::Closed { reason, .. } => panic!("closed while connecting: {reason:?}"),
                    _ => {}
                }
            }
        }
        if !progress {
            let mut pfds = [a.as_raw_fd(), b.as_raw_fd()].map(|fd| libc::pollfd {
                fd,
                events: libc::POLLIN,
                revents: 0,
            });
            // SAFETY: a live array of two pollfd structs.
            unsafe { libc::poll(pfds.as_mut_ptr(), 2, 5) };
        }
    }
    opened
}

/// Measures one configuration in this process and prints one line.
fn measure(streams: Option<u16>) {
    let stack = Stack::get_or_start(StackConfig::default()).expect("stack");
    let a = stack.worker().expect("worker");
    let b = stack.worker().expect("worker");
    let mut config = AssociationConfig::default();
    if let Some(n) = streams {
        config.outbound_streams = n;
        config.inbound_streams = n;
    }
    // Warm up: lazily created state (registry, usrsctp zones, thread stacks) is not per
    // association.
    let warm = open_pairs(&a, &b, &config, 8);
    std::thread::sleep(Duration::from_millis(200));
    let before = rss_bytes();
    let pairs = open_pairs(&a, &b, &config, PAIRS);
    // Idle: let delayed acknowledgements and timers settle.
    std::thread::sleep(Duration::from_secs(1));
    let after = rss_bytes();
    let associations = 2 * PAIRS as u64;
    let growth = after.saturating_sub(before);
    println!(
        "idle_memory: streams={} associations={} rss_before={:.1} MiB rss_after={:.1} MiB \
         growth_per_1000={:.0} KiB per_association={:.1} KiB",
        config.outbound_streams,
        associations,
        before as f64 / 1048576.0,
        after as f64 / 1048576.0,
        growth as f64 * 1000.0 / associations as f64 / 1024.0,
        growth as f64 / associations as f64 / 1024.0,
    );
    drop(pairs);
    drop(warm);
    drop((a, b));
    stack.shutdown().expect("shutdown");
}

fn main() {
    if let Ok(v) = std::env::var(VARIANT_ENV) {
        measure(v.parse().ok().filter(|&n: &u16| n > 0));
        return;
    }
    // Criterion-style flags (`--bench`, filters) are ignored. Defaults first (256 outgoing
    // streams, so 256 each way between two of ours), then 1,024 each way (the default before
    // issue 14, and what many WebRTC stacks negotiate) and 16, to show what the stream tables
    // cost.
    let exe = std::env::current_exe().expect("current exe");
    for streams in ["0", "1024", "16"] {
        let status = Command::new(&exe)
            .env(VARIANT_ENV, streams)
            .status()
            .expect("running the probe");
        assert!(status.success(), "probe with streams={streams} failed");
    }
}
