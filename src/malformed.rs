//! Malformed SCTP packets: random bytes, and real packets (a valid verification tag, captured
//! from a live association) whose chunks are mutated and whose CRC32c is then made right again,
//! so the packet gets past the checksum and into usrsctp's chunk parsers; and the run's
//! [`Budget`] of them, which paces the workers that feed them.

use std::sync::atomic::AtomicU64;
use std::sync::atomic::Ordering::Relaxed;

use usrsctp_test_support::sctp::{chunk_offsets, fill_checksum};
use usrsctp_test_support::Rng;

/// The largest packet generated (a little above the 1200-byte MTU the associations use).
const MAX_RANDOM: usize = 1400;

/// Chunk types worth aiming at: RFC 9260's that do not end the association, AUTH, I-DATA,
/// ASCONF-ACK, RE-CONFIG, PAD, FORWARD-TSN, ASCONF, I-FORWARD-TSN, and unknown ones of each
/// "action" class (the top two bits say what a receiver does with a chunk it does not know).
const CHUNK_TYPES: &[u8] = &[
    0, 1, 2, 3, 4, 5, 9, 10, 11, 12, 13, 15, 0x40, 0x80, 0x82, 0x84, 0xC0, 0xC1, 0xC2, 0x3F, 0x7F,
    0xBF, 0xFF,
];

/// ABORT, SHUTDOWN, SHUTDOWN ACK, SHUTDOWN COMPLETE: with a valid tag they end the association
/// (as they should), so they are used rarely, or live associations would be gone most of
/// the time and the other parsers would see little.
const ENDING_TYPES: &[u8] = &[6, 7, 8, 14];

fn chunk_type(rng: &mut Rng) -> u8 {
    if rng.chance(0.002) {
        ENDING_TYPES[rng.below(ENDING_TYPES.len() as u64) as usize]
    } else {
        CHUNK_TYPES[rng.below(CHUNK_TYPES.len() as u64) as usize]
    }
}

/// A packet of 12 to 1400 random bytes; half of them get a correct checksum so they reach
/// the verification-tag check.
pub fn random_packet(rng: &mut Rng) -> Vec<u8> {
    let mut p = vec![0u8; rng.range(12, MAX_RANDOM)];
    rng.fill(&mut p);
    if rng.chance(0.5) {
        fill_checksum(&mut p);
    }
    p
}

fn put_u16(p: &mut [u8], at: usize, v: u16) {
    if at + 2 <= p.len() {
        p[at..at + 2].copy_from_slice(&v.to_be_bytes());
    }
}

fn put_u32(p: &mut [u8], at: usize, v: u32) {
    if at + 4 <= p.len() {
        p[at..at + 4].copy_from_slice(&v.to_be_bytes());
    }
}

/// Interesting values for a 16-bit length or count field of a chunk at `at` in `p`.
fn edge_u16(rng: &mut Rng, p: &[u8], at: usize) -> u16 {
    let remaining = p.len().saturating_sub(at) as u16;
    let choices = [
        0,
        1,
        3,
        4,
        5,
        8,
        16,
        17,
        remaining.wrapping_sub(1),
        remaining,
        remaining.wrapping_add(1),
        remaining.wrapping_add(4),
        0x7FFF,
        0x8000,
        0xFFFC,
        0xFFFF,
    ];
    choices[rng.below(choices.len() as u64) as usize]
}

fn edge_u32(rng: &mut Rng) -> u32 {
    let choices = [
        0,
        1,
        0x7FFF_FFFF,
        0x8000_0000,
        0xFFFF_FFFE,
        0xFFFF_FFFF,
        rng.next_u64() as u32,
    ];
    choices[rng.below(choices.len() as u64) as usize]
}

/// One mutation of `p` in place (may change its length).
fn mutate_once(rng: &mut Rng, p: &mut Vec<u8>) {
    let chunks = chunk_offsets(p);
    let chunk = if chunks.is_empty() {
        12
    } else {
        chunks[rng.below(chunks.len() as u64) as usize]
    };
    match rng.below(12) {
        // A random bit anywhere after the common header.
        0 if p.len() > 12 => {
            let bit = 12 * 8 + rng.below((p.len() as u64 - 12) * 8) as usize;
            p[bit / 8] ^= 1 << (bit % 8);
        }
        // A random byte in the chunk area set to an edge value.
        1 if p.len() > 12 => {
            let at = rng.range(12, p.len() - 1);
            p[at] = [0x00, 0x01, 0x7F, 0x80, 0xFF, rng.next_u64() as u8][rng.below(6) as usize];
        }
        // The chunk's type.
        2 if chunk < p.len() => {
            p[chunk] = chunk_type(rng);
        }
        // The chunk's flags.
        3 if chunk + 1 < p.len() => p[chunk + 1] = rng.next_u64() as u8,
        // The chunk's length.
        4 => {
            let v = edge_u16(rng, p, chunk);
            put_u16(p, chunk + 2, v);
        }
        // A 32-bit field of the chunk (TSN, cumulative TSN ack, a_rwnd, tags, ...).
        5 => {
            let at = chunk + 4 + 4 * rng.below(4) as usize;
            let v = edge_u32(rng);
            put_u32(p, at, v);
        }
        // A 16-bit field of the chunk (stream, SSN, gap-block and duplicate counts, ...).
        6 => {
            let at = chunk + 4 + 2 * rng.below(8) as usize;
            let v = edge_u16(rng, p, chunk);
            put_u16(p, at, v);
        }
        // Truncate.
        7 if p.len() > 13 => {
            let len = rng.range(12, p.len() - 1);
            p.truncate(len);
        }
        // Append a chunk of a chosen type with a random body and a length that may lie.
        8 => {
            let body = rng.range(0, 64);
            let at = p.len();
            p.resize(at + 4 + body, 0);
            rng.fill(&mut p[at + 4..]);
            p[at] = chunk_type(rng);
            p[at + 1] = rng.next_u64() as u8;
            let len = if rng.chance(0.5) {
                (4 + body) as u16
            } else {
                edge_u16(rng, p, at)
            };
            put_u16(p, at + 2, len);
        }
        // Repeat an existing chunk (or the whole chunk area).
        9 if chunk < p.len() => {
            let copy = p[chunk..].to_vec();
            p.extend_from_slice(&copy[..copy.len().min(600)]);
        }
        // Swap two chunks' type bytes (e.g. a SACK's fields read as a DATA chunk's).
        10 if chunks.len() >= 2 => {
            let (a, b) = (chunks[0], chunks[chunks.len() - 1]);
            p.swap(a, b);
        }
        // The verification tag (the packet should then be dropped as out of the blue).
        11 => put_u32(p, 4, rng.next_u64() as u32),
        _ => {
            let at = chunk + 2;
            put_u16(p, at, 0);
        }
    }
    if p.len() > 65_535 {
        p.truncate(65_535);
    }
}

/// A mutated copy of the real packet `sample`, with a correct checksum.
pub fn mutate(rng: &mut Rng, sample: &[u8]) -> Vec<u8> {
    let mut p = sample.to_vec();
    if p.len() < 12 {
        p.resize(12, 0);
    }
    let n = 1 + rng.below(3);
    for _ in 0..n {
        mutate_once(rng, &mut p);
    }
    fill_checksum(&mut p);
    p
}

/// One malformed packet: a fifth are random bytes, the rest mutations of `sample`.
///
/// Mutations can produce INIT chunks; `Association::input` refuses the structurally invalid
/// ones (usrsctp 0.9.5.0 can spin forever on some, see `tests/stress_usrsctp_init_loop.rs`),
/// which is part of what a malformed run exercises.
pub fn malformed(rng: &mut Rng, sample: &[u8]) -> Vec<u8> {
    if rng.chance(0.2) {
        return random_packet(rng);
    }
    mutate(rng, sample)
}

/// Malformed packets a worker makes per pass.
const BATCH: u64 = 64;
/// Malformed packets that may wait for the stack thread before the workers hold back.
const BACKLOG: u64 = 20_000;

/// The `--malformed N` budget of a run, shared by its workers: how many packets are still to be
/// made, how many wait in the workers' channels, how many reached a live association, and how
/// many packets of any kind were handed to the stack thread (so the workers hold back while it
/// lags behind).
#[derive(Debug, Default)]
pub struct Budget {
    left: AtomicU64,
    injected: AtomicU64,
    /// Made and not yet taken from a worker's channel.
    in_flight: AtomicU64,
    /// Packets of any kind `Association::input` handed to the stack thread.
    fed: AtomicU64,
}

impl Budget {
    /// A budget of `total` packets.
    pub fn new(total: u64) -> Self {
        Budget {
            left: AtomicU64::new(total),
            ..Budget::default()
        }
    }

    /// Packets still to be made.
    pub fn left(&self) -> u64 {
        self.left.load(Relaxed)
    }

    /// Packets that reached a live association (fed to it, or refused by it as malformed).
    pub fn injected(&self) -> u64 {
        self.injected.load(Relaxed)
    }

    /// True when packets are still to be made and not too many wait, neither in the workers'
    /// channels nor in the stack thread's queue. `stack_taken` says how many packets the stack
    /// thread has taken from its queue so far; it is asked only when the other checks pass.
    pub fn ready(&self, stack_taken: impl FnOnce() -> u64) -> bool {
        self.left() > 0
            && self.in_flight.load(Relaxed) <= BACKLOG
            && self.fed.load(Relaxed).saturating_sub(stack_taken()) <= BACKLOG
    }

    /// Takes up to one batch from the budget: how many packets to make now. They count as in
    /// flight until [`arrived`](Self::arrived) or [`round_over`](Self::round_over).
    pub fn take_batch(&self) -> u64 {
        let prev = self
            .left
            .fetch_update(Relaxed, Relaxed, |left| Some(left.saturating_sub(BATCH)))
            .unwrap_or_else(|left| left);
        let n = prev.min(BATCH);
        self.in_flight.fetch_add(n, Relaxed);
        n
    }

    /// A packet (of any kind) was handed to the stack thread.
    pub fn fed(&self) {
        self.fed.fetch_add(1, Relaxed);
    }

    /// A malformed packet was taken from a worker's channel: `taken` if its association took it
    /// (fed, or refused as malformed); if its association was gone, another packet will be
    /// made in its place.
    pub fn arrived(&self, taken: bool) {
        self.in_flight.fetch_sub(1, Relaxed);
        if taken {
            self.injected.fetch_add(1, Relaxed);
        } else {
            self.left.fetch_add(1, Relaxed);
        }
    }

    /// The round is over: `unfed` packets were left in the channels; they go back to the budget.
    pub fn round_over(&self, unfed: u64) {
        self.left.fetch_add(unfed, Relaxed);
        self.in_flight.store(0, Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use usrsctp_test_support::checksum_ok;

    /// A plausible SCTP packet: common header, one DATA chunk, one SACK chunk.
    fn sample() -> Vec<u8> {
        let mut p = vec![0x13, 0x88, 0x13, 0x88, 0xDE, 0xAD, 0xBE, 0xEF, 0, 0, 0, 0];
        // DATA: type 0, flags 3, length 16+8, TSN, stream 1, SSN 0, PPID 53, 8 bytes.
        p.extend_from_slice(&[0, 3, 0, 24, 0, 0, 0, 1, 0, 1, 0, 0, 0, 0, 0, 53]);
        p.extend_from_slice(b"payload!");
        // SACK: type 3, length 16, cum TSN, a_rwnd, 0 gaps, 0 dups.
        p.extend_from_slice(&[3, 0, 0, 16, 0, 0, 0, 9, 0, 1, 0, 0, 0, 0, 0, 0]);
        fill_checksum(&mut p);
        p
    }

    #[test]
    fn mutations_produce_init_chunks() {
        let mut rng = Rng::new(8);
        let s = sample();
        let has_init = |p: &Vec<u8>| chunk_offsets(p).iter().any(|&at| p[at] == 1);
        let with = (0..20_000)
            .map(|_| malformed(&mut rng, &s))
            .filter(has_init)
            .count();
        assert!(with > 100, "{with}");
    }

    #[test]
    fn mutations_keep_the_checksum_right_and_the_tag_mostly() {
        let mut rng = Rng::new(5);
        let s = sample();
        let mut same_tag = 0;
        let mut differs = 0;
        for _ in 0..10_000 {
            let m = mutate(&mut rng, &s);
            assert!((12..=65_535).contains(&m.len()));
            assert!(checksum_ok(&m));
            same_tag += usize::from(m[4..8] == s[4..8]);
            differs += usize::from(m != s);
        }
        assert!(same_tag > 8_000, "{same_tag}");
        assert!(differs > 9_500, "{differs}");
    }

    #[test]
    fn random_packets_are_in_range_and_half_have_a_valid_checksum() {
        let mut rng = Rng::new(6);
        let valid = (0..2000)
            .map(|_| random_packet(&mut rng))
            .inspect(|p| assert!((12..=MAX_RANDOM).contains(&p.len())))
            .filter(|p| checksum_ok(p))
            .count();
        assert!((850..1150).contains(&valid), "{valid}");
    }

    #[test]
    fn the_budget_is_taken_in_batches_and_given_back_for_packets_that_missed() {
        let b = Budget::new(100);
        assert!(b.ready(|| 0));
        assert_eq!(b.take_batch(), 64);
        assert_eq!(b.take_batch(), 36);
        assert_eq!(b.take_batch(), 0);
        assert_eq!(b.left(), 0);
        assert!(!b.ready(|| 0), "nothing left to make");
        // 60 reach an association, 10 find theirs gone, 30 are still in the channels.
        for _ in 0..60 {
            b.arrived(true);
        }
        for _ in 0..10 {
            b.arrived(false);
        }
        assert_eq!((b.injected(), b.left()), (60, 10));
        b.round_over(30);
        assert_eq!(b.left(), 40);
        assert!(b.ready(|| 0));
    }

    #[test]
    fn the_budget_holds_back_while_too_many_wait() {
        let b = Budget::new(u64::MAX);
        for _ in 0..=BACKLOG / BATCH {
            b.take_batch();
        }
        assert!(!b.ready(|| 0), "the channels hold over {BACKLOG}");
        b.round_over(0);
        assert!(b.ready(|| 0));
        for _ in 0..=BACKLOG {
            b.fed();
        }
        assert!(!b.ready(|| 0), "the stack thread has taken none of them");
        assert!(b.ready(|| 1), "it has taken enough");
    }
}
