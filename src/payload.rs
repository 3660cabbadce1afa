//! Message framing: every message names its pair incarnation, direction, stream and sequence
//! number, carries its send time, and is covered by a CRC32c, so the receiver can prove
//! exactly-once, in-order and intact delivery without any other bookkeeping.
//!
//! Layout (little-endian), [`HEADER_LEN`] bytes followed by pseudo-random filler:
//!
//! ```text
//!  0 magic u32   4 slot u32   8 generation u32   12 direction u8   13 flags u8
//! 14 stream u16  16 seq u32   20 length u32      24 sent_us u64    32 crc32c u32
//! ```
//!
//! The CRC covers every byte of the message except its own four.

use usrsctp_test_support::rng::{self, Rng};

/// Size of the header; messages are never shorter.
pub const HEADER_LEN: usize = 36;
/// Streams the harness spreads its messages over.
pub const STREAMS: u16 = 16;
const MAGIC: u32 = 0x5354_5253;
const FLAG_UNORDERED: u8 = 1;
const FLAG_PARTIAL: u8 = 2;

/// What a message says about itself.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Header {
    /// Pair slot.
    pub slot: u32,
    /// Incarnation of the pair (bumped each time churn replaces it).
    pub gen: u32,
    /// 0: side A to side B, 1: B to A.
    pub dir: u8,
    /// Sent unordered.
    pub unordered: bool,
    /// Sent with `MaxRetransmits(0)`.
    pub partial: bool,
    /// SCTP stream.
    pub stream: u16,
    /// Sequence number within the incarnation and direction, from 0.
    pub seq: u32,
    /// Total message length, header included.
    pub len: u32,
    /// Send time in microseconds since the run started.
    pub sent_us: u64,
}

/// Why a received message is not one the harness sent.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Corrupt {
    /// Shorter than the header.
    Short,
    /// The magic number is wrong.
    Magic,
    /// The length field disagrees with the message length.
    Length,
    /// The CRC does not match.
    Checksum,
}

fn checksum(msg: &[u8]) -> u32 {
    let crc = crc32c::crc32c(&msg[..32]);
    crc32c::crc32c_append(crc, &msg[HEADER_LEN..])
}

/// Builds a message: header, then `len - HEADER_LEN` filler bytes derived from the header.
/// `len` below [`HEADER_LEN`] is raised to it.
pub fn encode(h: &Header) -> Vec<u8> {
    let len = (h.len as usize).max(HEADER_LEN);
    let mut msg = vec![0u8; len];
    msg[0..4].copy_from_slice(&MAGIC.to_le_bytes());
    msg[4..8].copy_from_slice(&h.slot.to_le_bytes());
    msg[8..12].copy_from_slice(&h.gen.to_le_bytes());
    msg[12] = h.dir;
    msg[13] =
        if h.unordered { FLAG_UNORDERED } else { 0 } | if h.partial { FLAG_PARTIAL } else { 0 };
    msg[14..16].copy_from_slice(&h.stream.to_le_bytes());
    msg[16..20].copy_from_slice(&h.seq.to_le_bytes());
    msg[20..24].copy_from_slice(&(len as u32).to_le_bytes());
    msg[24..32].copy_from_slice(&h.sent_us.to_le_bytes());
    let seed = rng::hash(&[
        u64::from(h.slot),
        u64::from(h.gen),
        u64::from(h.dir),
        u64::from(h.seq),
    ]);
    Rng::new(seed).fill(&mut msg[HEADER_LEN..]);
    let crc = checksum(&msg);
    msg[32..36].copy_from_slice(&crc.to_le_bytes());
    msg
}

fn u32_at(b: &[u8], at: usize) -> u32 {
    let mut w = [0u8; 4];
    w.copy_from_slice(&b[at..at + 4]);
    u32::from_le_bytes(w)
}

/// Parses and checks a received message.
pub fn decode(msg: &[u8]) -> Result<Header, Corrupt> {
    if msg.len() < HEADER_LEN {
        return Err(Corrupt::Short);
    }
    if u32_at(msg, 0) != MAGIC {
        return Err(Corrupt::Magic);
    }
    let len = u32_at(msg, 20);
    if len as usize != msg.len() {
        return Err(Corrupt::Length);
    }
    if u32_at(msg, 32) != checksum(msg) {
        return Err(Corrupt::Checksum);
    }
    let mut sent = [0u8; 8];
    sent.copy_from_slice(&msg[24..32]);
    Ok(Header {
        slot: u32_at(msg, 4),
        gen: u32_at(msg, 8),
        dir: msg[12],
        unordered: msg[13] & FLAG_UNORDERED != 0,
        partial: msg[13] & FLAG_PARTIAL != 0,
        stream: u16::from_le_bytes([msg[14], msg[15]]),
        seq: u32_at(msg, 16),
        len,
        sent_us: u64::from_le_bytes(sent),
    })
}

/// The shape of one message of the plan: drawn from the seed and the message's place in the
/// run, so the same seed sends the same messages whatever the timing.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Shape {
    /// Length in bytes, header included.
    pub len: u32,
    /// Stream, below [`STREAMS`].
    pub stream: u16,
    /// Sent unordered.
    pub unordered: bool,
    /// Sent with `MaxRetransmits(0)`.
    pub partial: bool,
}

/// What the plan draws from.
#[derive(Clone, Copy, Debug)]
pub struct Plan {
    /// Run seed.
    pub seed: u64,
    /// Smallest message size asked for.
    pub size_min: usize,
    /// Largest message size asked for.
    pub size_max: usize,
    /// Fraction sent unordered.
    pub unordered: f64,
    /// Fraction sent partially reliable.
    pub partial: f64,
}

impl Plan {
    /// The shape of the `n`th message of `slot` in `dir` during `round`.
    ///
    /// Sizes are log-uniform between the bounds: every order of magnitude is as likely as
    /// the next, so small messages (the common case on data channels) dominate while the
    /// largest sizes, which fragment into many DATA chunks, are still covered.
    pub fn shape(&self, round: u32, slot: u32, dir: u8, n: u64) -> Shape {
        let h = |k: u64| {
            rng::hash(&[
                self.seed,
                u64::from(round),
                u64::from(slot),
                u64::from(dir),
                n,
                k,
            ])
        };
        let lo = (self.size_min.max(1)) as f64;
        let hi = (self.size_max.max(self.size_min).max(1) + 1) as f64;
        let len = (lo.ln() + rng::unit(h(0)) * (hi.ln() - lo.ln())).exp() as usize;
        let len = len.clamp(
            self.size_min.max(1),
            self.size_max.max(self.size_min).max(1),
        );
        Shape {
            len: len.max(HEADER_LEN) as u32,
            stream: (h(1) % u64::from(STREAMS)) as u16,
            unordered: rng::unit(h(2)) < self.unordered,
            partial: rng::unit(h(3)) < self.partial,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header(len: u32) -> Header {
        Header {
            slot: 3,
            gen: 2,
            dir: 1,
            unordered: true,
            partial: false,
            stream: 7,
            seq: 12345,
            len,
            sent_us: 987_654_321,
        }
    }

    #[test]
    fn round_trip_keeps_every_field() {
        for len in [0, 1, 36, 37, 1000, 16384] {
            let msg = encode(&header(len));
            assert_eq!(msg.len(), (len as usize).max(HEADER_LEN));
            let h = decode(&msg).expect("decodes");
            assert_eq!(
                h,
                Header {
                    len: msg.len() as u32,
                    ..header(len)
                }
            );
        }
    }

    #[test]
    fn any_single_bit_flip_is_detected() {
        let msg = encode(&header(200));
        for bit in 0..msg.len() * 8 {
            let mut m = msg.clone();
            m[bit / 8] ^= 1 << (bit % 8);
            assert!(decode(&m).is_err(), "bit {bit} flipped undetected");
        }
        assert_eq!(decode(&msg[..msg.len() - 1]), Err(Corrupt::Length));
        assert_eq!(decode(&msg[..10]), Err(Corrupt::Short));
    }

    #[test]
    fn plan_is_reproducible_and_respects_bounds_and_fractions() {
        let plan = Plan {
            seed: 9,
            size_min: 1,
            size_max: 16384,
            unordered: 0.3,
            partial: 0.1,
        };
        let shapes: Vec<Shape> = (0..20_000).map(|n| plan.shape(0, 1, 0, n)).collect();
        assert_eq!(shapes[17], plan.shape(0, 1, 0, 17));
        assert!(shapes
            .iter()
            .all(|s| (HEADER_LEN as u32..=16384).contains(&s.len)));
        assert!(shapes.iter().any(|s| s.len > 8192));
        let unordered = shapes.iter().filter(|s| s.unordered).count();
        let partial = shapes.iter().filter(|s| s.partial).count();
        assert!((5_400..6_600).contains(&unordered), "{unordered}");
        assert!((1_600..2_400).contains(&partial), "{partial}");
        assert!(shapes.iter().all(|s| s.stream < STREAMS));
        let other = Plan { seed: 10, ..plan };
        assert_ne!(other.shape(0, 1, 0, 17), plan.shape(0, 1, 0, 17));
    }
}
