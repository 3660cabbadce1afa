//! Memory probe: RSS growth per 1,000 idle associations.
//!
//! Opens `PAIRS` association pairs (2 × `PAIRS` associations) between two workers on this
//! thread, waits until all are established, lets them idle, and prints how much the resident
//! set grew, per 1,000 associations and per association. Each configuration runs in a fresh
//! child process, so memory freed by one does not hide the growth of the next.
//!
//! Against a browser, the two ends differ: Chrome announces 65,535 streams each way, so
//! usrsctp sizes our incoming streams by our `inbound_streams` alone. Both ends of a pair live
//! in this process, so that share is measured as a difference: two runs whose only change is
//! our side's incoming streams (the peer announces 1,024 outgoing ones, and its own tables stay
//! the same).
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

/// Opens `pairs` pairs, `config_a` on `a`'s side and `config_b` on `b`'s, and drives them
/// until every one is established.
fn open_pairs(
    a: &Worker,
    b: &Worker,
    config_a: &AssociationConfig,
    config_b: &AssociationConfig,
    pairs: usize,
) -> Vec<(Association, Association)> {
    let mut opened = Vec::with_capacity(pairs);
    // Each side's association id → index of the pair.
    let mut index: HashMap<AssocId, usize> = HashMap::new();
    for i in 0..pairs {
        let x = a.associate(config_a.clone()).expect("associate");
        let y = b.associate(config_b.clone()).expect("associate");
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

/// One end's stream counts: (outbound, inbound).
type Streams = (u16, u16);

/// Parses `out/in` or `out/in:peer_out/peer_in` (the peer defaults to the same).
fn parse_variant(v: &str) -> Option<(Streams, Streams)> {
    let one = |s: &str| -> Option<Streams> {
        let (o, i) = s.split_once('/')?;
        Some((o.parse().ok()?, i.parse().ok()?))
    };
    match v.split_once(':') {
        Some((ours, peer)) => Some((one(ours)?, one(peer)?)),
        None => one(v).map(|s| (s, s)),
    }
}

/// Measures one configuration in this process and prints one line.
fn measure(ours: Streams, peer: Streams) {
    let stack = Stack::get_or_start(StackConfig::default()).expect("stack");
    let a = stack.worker().expect("worker");
    let b = stack.worker().expect("worker");
    let config = |(outbound_streams, inbound_streams): Streams| AssociationConfig {
        outbound_streams,
        inbound_streams,
        ..AssociationConfig::default()
    };
    let (config_a, config_b) = (config(ours), config(peer));
    // Warm up: lazily created state (registry, usrsctp zones, thread stacks) is not per
    // association.
    let warm = open_pairs(&a, &b, &config_a, &config_b, 8);
    std::thread::sleep(Duration::from_millis(200));
    let before = rss_bytes();
    let pairs = open_pairs(&a, &b, &config_a, &config_b, PAIRS);
    // Idle: let delayed acknowledgements and timers settle.
    std::thread::sleep(Duration::from_secs(1));
    let after = rss_bytes();
    let associations = 2 * PAIRS as u64;
    let growth = after.saturating_sub(before);
    println!(
        "idle_memory: streams={}/{}:{}/{} associations={} rss_before={:.1} MiB \
         rss_after={:.1} MiB growth_per_1000={:.0} KiB per_association={:.1} KiB",
        ours.0,
        ours.1,
        peer.0,
        peer.1,
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

/// Runs one variant in a child process; returns its growth per association in KiB.
fn run_child(exe: &std::path::Path, variant: &str) -> f64 {
    let out = Command::new(exe)
        .env(VARIANT_ENV, variant)
        .output()
        .expect("running the probe");
    let text = String::from_utf8_lossy(&out.stdout);
    print!("{text}");
    assert!(out.status.success(), "probe {variant} failed");
    text.split_whitespace()
        .find_map(|w| w.strip_prefix("per_association="))
        .and_then(|v| v.parse().ok())
        .expect("a per_association figure")
}

fn main() {
    if let Ok(v) = std::env::var(VARIANT_ENV) {
        let (ours, peer) = parse_variant(&v).expect("IDLE_MEMORY_STREAMS: out/in[:out/in]");
        measure(ours, peer);
        return;
    }
    // Criterion-style flags (`--bench`, filters) are ignored. Defaults first (256 each way),
    // then 1,024 each way (the default before issue 14, and what many WebRTC stacks
    // negotiate) and 16, to show what the stream tables cost.
    let exe = std::env::current_exe().expect("current exe");
    let d = AssociationConfig::default();
    let default = format!("{}/{}", d.outbound_streams, d.inbound_streams);
    for variant in [default.as_str(), "1024/1024", "16/16"] {
        run_child(&exe, variant);
    }
    // Our incoming streams against a peer that announces more outgoing ones than we accept
    // (a browser): what 1,024 cost over 256, on our side alone.
    let wide = run_child(&exe, "256/1024:1024/256");
    let narrow = run_child(&exe, "256/256:1024/256");
    println!(
        "idle_memory: inbound_streams 1024 instead of 256, against a peer announcing >= 1024 \
         outgoing: +{:.1} KiB per association of ours",
        (wide - narrow) * 2.0
    );
}
