//! The wire between workers: a channel per worker, and the faults a worker applies to each
//! packet it sends into another worker's channel (loss, duplication, reordering, bit flips,
//! injected garbage).

use usrsctp_test_support::Rng;

use crate::malformed;

/// Which association a packet is for: the pair slot, its incarnation and the receiving side.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Dest {
    /// Pair slot.
    pub slot: u32,
    /// Incarnation of the pair.
    pub gen: u32,
    /// 0: side A, 1: side B.
    pub side: u8,
}

/// Fault probabilities, each applied per packet.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Faults {
    /// Drop the packet.
    pub loss: f64,
    /// Deliver it twice.
    pub duplicate: f64,
    /// Hold it back and deliver it after the next packet for the same association.
    pub reorder: f64,
    /// Flip one random bit (SCTP's CRC32c must reject it).
    pub corrupt: f64,
    /// Also inject a packet of random bytes.
    pub garbage: f64,
}

/// What the faults did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct WireStats {
    /// Packets handed to the wire.
    pub packets: u64,
    /// Dropped.
    pub dropped: u64,
    /// Delivered twice.
    pub duplicated: u64,
    /// Held back behind a later packet.
    pub reordered: u64,
    /// Delivered with a flipped bit.
    pub corrupted: u64,
    /// Random packets injected.
    pub garbage: u64,
}

impl WireStats {
    /// Adds `other` into `self`.
    pub fn add(&mut self, other: &WireStats) {
        self.packets += other.packets;
        self.dropped += other.dropped;
        self.duplicated += other.duplicated;
        self.reordered += other.reordered;
        self.corrupted += other.corrupted;
        self.garbage += other.garbage;
    }
}

struct Held {
    worker: usize,
    dest: Dest,
    packet: Vec<u8>,
    epoch: u64,
}

/// One worker's sending end of the wire, with its fault injector.
pub struct Wire {
    faults: Faults,
    rng: Rng,
    held: Vec<Held>,
    epoch: u64,
    /// What the faults did so far.
    pub stats: WireStats,
}

impl Wire {
    /// A wire applying `faults`, its decisions drawn from `seed`.
    pub fn new(faults: Faults, seed: u64) -> Self {
        Wire {
            faults,
            rng: Rng::new(seed),
            held: Vec::new(),
            epoch: 0,
            stats: WireStats::default(),
        }
    }

    /// Sends `packet` for `dest` (living on `worker`) through the faults; `out` delivers.
    pub fn transmit(
        &mut self,
        worker: usize,
        dest: Dest,
        mut packet: Vec<u8>,
        out: &mut impl FnMut(usize, Dest, Vec<u8>),
    ) {
        self.stats.packets += 1;
        let f = self.faults;
        if self.rng.chance(f.garbage) {
            self.stats.garbage += 1;
            out(worker, dest, malformed::random_packet(&mut self.rng));
        }
        if self.rng.chance(f.loss) {
            self.stats.dropped += 1;
            return;
        }
        if !packet.is_empty() && self.rng.chance(f.corrupt) {
            self.stats.corrupted += 1;
            let bit = self.rng.below(packet.len() as u64 * 8) as usize;
            packet[bit / 8] ^= 1 << (bit % 8);
        }
        let twice = self.rng.chance(f.duplicate);
        let held = self.held.iter().position(|h| h.dest == dest);
        if held.is_none() && self.rng.chance(f.reorder) {
            self.stats.reordered += 1;
            if twice {
                self.stats.duplicated += 1;
                out(worker, dest, packet.clone());
            }
            self.held.push(Held {
                worker,
                dest,
                packet,
                epoch: self.epoch,
            });
            return;
        }
        if twice {
            self.stats.duplicated += 1;
            out(worker, dest, packet.clone());
        }
        out(worker, dest, packet);
        if let Some(i) = held {
            let h = self.held.swap_remove(i);
            out(h.worker, h.dest, h.packet);
        }
    }

    /// Ends one pass of the worker loop: packets held since an earlier pass go out now, so a
    /// held packet waits for at most one more pass when nothing follows it.
    pub fn end_pass(&mut self, out: &mut impl FnMut(usize, Dest, Vec<u8>)) {
        let epoch = self.epoch;
        let mut i = 0;
        while i < self.held.len() {
            if self.held[i].epoch < epoch {
                let h = self.held.swap_remove(i);
                out(h.worker, h.dest, h.packet);
            } else {
                i += 1;
            }
        }
        self.epoch += 1;
    }

    /// Packets held back right now.
    pub fn held(&self) -> usize {
        self.held.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const D: Dest = Dest {
        slot: 1,
        gen: 0,
        side: 1,
    };

    fn run(faults: Faults, n: u8) -> (Vec<Vec<u8>>, WireStats) {
        let mut wire = Wire::new(faults, 42);
        let mut got = Vec::new();
        let mut out = |_: usize, _: Dest, p: Vec<u8>| got.push(p);
        for i in 0..n {
            wire.transmit(0, D, vec![i; 16], &mut out);
        }
        wire.end_pass(&mut out);
        wire.end_pass(&mut out);
        assert_eq!(wire.held(), 0);
        (got, wire.stats)
    }

    #[test]
    fn a_clean_wire_delivers_everything_in_order() {
        let (got, stats) = run(Faults::default(), 100);
        assert_eq!(got, (0..100).map(|i| vec![i; 16]).collect::<Vec<_>>());
        assert_eq!(stats.packets, 100);
    }

    #[test]
    fn each_fault_does_what_it_says() {
        let (got, s) = run(
            Faults {
                loss: 0.3,
                ..Faults::default()
            },
            200,
        );
        assert_eq!(got.len() as u64, 200 - s.dropped);
        assert!(s.dropped > 30 && s.dropped < 90, "{s:?}");

        let (got, s) = run(
            Faults {
                duplicate: 0.3,
                ..Faults::default()
            },
            200,
        );
        assert_eq!(got.len() as u64, 200 + s.duplicated);
        assert!(s.duplicated > 30, "{s:?}");

        let (got, s) = run(
            Faults {
                reorder: 0.3,
                ..Faults::default()
            },
            200,
        );
        assert_eq!(got.len(), 200);
        assert!(s.reordered > 30, "{s:?}");
        let swaps = got.windows(2).filter(|w| w[0][0] > w[1][0]).count() as u64;
        assert_eq!(
            swaps, s.reordered,
            "every held packet comes after its successor"
        );

        let (got, s) = run(
            Faults {
                corrupt: 0.3,
                ..Faults::default()
            },
            200,
        );
        let flipped = got.iter().filter(|p| p.iter().any(|&b| b != p[0])).count() as u64;
        assert!(s.corrupted > 30, "{s:?}");
        assert_eq!(
            flipped, s.corrupted,
            "each corrupted packet has one bit flipped"
        );

        let (got, s) = run(
            Faults {
                garbage: 0.3,
                ..Faults::default()
            },
            200,
        );
        assert_eq!(got.len() as u64, 200 + s.garbage);
    }

    #[test]
    fn the_same_seed_gives_the_same_pattern() {
        let f = Faults {
            loss: 0.1,
            duplicate: 0.1,
            reorder: 0.1,
            corrupt: 0.1,
            garbage: 0.1,
        };
        assert_eq!(run(f, 200), run(f, 200));
    }
}
