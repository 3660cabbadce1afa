//! A per-association record of the last SCTP packets it sent and received, printed when an
//! association ends unexpectedly or a round stalls: enough to see which chunks and
//! verification tags went by, at the cost of a few words per packet.

use std::fmt::{self, Write as _};

use usrsctp_test_support::sctp::chunks;

/// Packets kept per association end.
const KEEP: usize = 48;
/// Chunks described per packet.
const CHUNKS: usize = 4;

/// Which way a packet went, and what became of a received one.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Way {
    /// Produced by this end's SCTP stack (before the wire's faults).
    Out,
    /// Arrived, and `Association::input` handed it to the stack.
    In,
    /// Arrived, and `Association::input` refused it (bad checksum, malformed).
    Refused,
}

#[derive(Clone, Copy, Default)]
struct Chunk {
    kind: u8,
    /// The chunk's key field: TSN (DATA), cumulative TSN (SACK, FORWARD-TSN), initiate tag
    /// (INIT, INIT ACK); 0 for the others.
    key: u32,
}

#[derive(Clone, Copy)]
struct Entry {
    at_us: u64,
    way: Way,
    len: u16,
    vtag: u32,
    chunks: [Chunk; CHUNKS],
    count: u8,
}

/// The ring of the last packets of one association end.
#[derive(Default)]
pub struct Trace {
    ring: Vec<Entry>,
    next: usize,
}

fn be32(b: &[u8], at: usize) -> u32 {
    b.get(at..at + 4)
        .map_or(0, |s| u32::from_be_bytes([s[0], s[1], s[2], s[3]]))
}

impl Trace {
    /// Records one packet (however malformed: what cannot be parsed is left out).
    pub fn record(&mut self, at_us: u64, way: Way, packet: &[u8]) {
        let mut e = Entry {
            at_us,
            way,
            len: packet.len().min(usize::from(u16::MAX)) as u16,
            vtag: be32(packet, 4),
            chunks: [Chunk::default(); CHUNKS],
            count: 0,
        };
        for c in chunks(packet).take(usize::from(u8::MAX)) {
            let key = match c.kind {
                0 | 1 | 2 | 3 | 0xC0 => be32(packet, c.offset + 4),
                _ => 0,
            };
            if usize::from(e.count) < CHUNKS {
                e.chunks[usize::from(e.count)] = Chunk { kind: c.kind, key };
            }
            e.count += 1;
        }
        if self.ring.len() < KEEP {
            self.ring.push(e);
        } else {
            self.ring[self.next] = e;
        }
        self.next = (self.next + 1) % KEEP;
    }

    /// The packet recorded last was refused by `Association::input`.
    pub fn mark_last_refused(&mut self) {
        let last = (self.next + KEEP - 1) % KEEP;
        if let Some(e) = self.ring.get_mut(last) {
            e.way = Way::Refused;
        }
    }
}

fn name(kind: u8) -> &'static str {
    match kind {
        0 => "DATA",
        1 => "INIT",
        2 => "INIT-ACK",
        3 => "SACK",
        4 => "HEARTBEAT",
        5 => "HEARTBEAT-ACK",
        6 => "ABORT",
        7 => "SHUTDOWN",
        8 => "SHUTDOWN-ACK",
        9 => "ERROR",
        10 => "COOKIE-ECHO",
        11 => "COOKIE-ACK",
        14 => "SHUTDOWN-COMPLETE",
        0x82 => "RE-CONFIG",
        0xC0 => "FORWARD-TSN",
        _ => "?",
    }
}

impl fmt::Display for Trace {
    /// Oldest first, one packet per line.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let n = self.ring.len();
        let start = if n < KEEP { 0 } else { self.next };
        for i in 0..n {
            let e = &self.ring[(start + i) % n.max(1)];
            let way = match e.way {
                Way::Out => "out",
                Way::In => "in ",
                Way::Refused => "ref",
            };
            let mut line = format!(
                "    {:>12.6}s {way} {:>5} B vtag {:08x}",
                e.at_us as f64 / 1e6,
                e.len,
                e.vtag
            );
            for c in &e.chunks[..usize::from(e.count).min(CHUNKS)] {
                match c.kind {
                    0 | 1 | 2 | 3 | 0xC0 => {
                        let _ = write!(line, " {}({:08x})", name(c.kind), c.key);
                    }
                    k => {
                        let _ = write!(line, " {}", name(k));
                        if name(k) == "?" {
                            let _ = write!(line, "{k}");
                        }
                    }
                }
            }
            if usize::from(e.count) > CHUNKS {
                let _ = write!(line, " +{}", usize::from(e.count) - CHUNKS);
            }
            writeln!(f, "{line}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn packet(vtag: u32, chunks: &[(u8, u32, usize)]) -> Vec<u8> {
        let mut p = vec![0u8; 12];
        p[4..8].copy_from_slice(&vtag.to_be_bytes());
        for &(kind, key, len) in chunks {
            let mut c = vec![0u8; len];
            c[0] = kind;
            c[2..4].copy_from_slice(&(len as u16).to_be_bytes());
            if len >= 8 {
                c[4..8].copy_from_slice(&key.to_be_bytes());
            }
            p.extend_from_slice(&c);
            while p.len() % 4 != 0 {
                p.push(0);
            }
        }
        p
    }

    #[test]
    fn describes_chunks_and_keeps_the_latest() {
        let mut t = Trace::default();
        t.record(1, Way::Out, &packet(7, &[(3, 0x10, 16), (0, 0x11, 21)]));
        let s = t.to_string();
        assert!(
            s.contains("vtag 00000007 SACK(00000010) DATA(00000011)"),
            "{s}"
        );
        for i in 0..(KEEP as u32 + 5) {
            t.record(2 + u64::from(i), Way::In, &packet(i, &[(11, 0, 4)]));
        }
        let s = t.to_string();
        assert_eq!(s.lines().count(), KEEP);
        assert!(!s.contains("SACK"), "the oldest entries are gone");
        let last = s.lines().last().unwrap_or_default();
        assert!(last.contains(&format!("vtag {:08x} COOKIE-ACK", KEEP as u32 + 4)));
    }

    #[test]
    fn survives_garbage() {
        let mut t = Trace::default();
        t.record(1, Way::In, &[1, 2, 3]);
        t.mark_last_refused();
        assert!(t.to_string().contains("ref     3 B"), "{t}");
        // A chunk whose length field says 0 ends the walk.
        let mut p = packet(1, &[]);
        p.extend_from_slice(&[200, 0, 0, 0, 9, 9, 9, 9]);
        t.record(2, Way::Refused, &p);
        assert_eq!(t.to_string().lines().count(), 2);
    }
}
