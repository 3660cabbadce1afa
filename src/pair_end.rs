//! One end of one pair incarnation, as a worker holds it: its association, where its peer
//! lives, and what it has sent and received.

use std::sync::Arc;

use usrsctp::Association;

use crate::books::Ledger;
use crate::payload::STREAMS;
use crate::trace::Trace;
use crate::wire::Dest;

/// Side A sends direction 0 and receives direction 1; side B the reverse.
pub(crate) const A: u8 = 0;
pub(crate) const B: u8 = 1;

/// One end of one pair incarnation.
pub(crate) struct Local {
    pub(crate) slot: u32,
    pub(crate) side: u8,
    pub(crate) ledger: Arc<Ledger>,
    pub(crate) assoc: Association,
    /// The worker the other end lives on.
    pub(crate) peer: usize,
    pub(crate) connected: bool,
    pub(crate) blocked: bool,
    pub(crate) next_seq: u32,
    /// Sequence numbers received (a bitmap), to find duplicates.
    pub(crate) seen: Vec<u64>,
    /// Highest sequence number received per ordered stream.
    pub(crate) last_ordered: [Option<u32>; STREAMS as usize],
    /// A recent real packet of ours, the seed of malformed ones.
    pub(crate) sample: Option<Vec<u8>>,
    pub(crate) transmits: u64,
    /// The last packets it sent and received.
    pub(crate) trace: Trace,
    /// A failed reliable send was reported for it already.
    pub(crate) failure_noted: bool,
}

impl Local {
    pub(crate) fn dest_of_peer(&self) -> Dest {
        Dest {
            slot: self.slot,
            gen: self.ledger.gen,
            side: 1 - self.side,
        }
    }
}

/// Marks a sequence number seen; false if it was seen already.
pub(crate) fn mark(seen: &mut Vec<u64>, seq: u32) -> bool {
    let (word, bit) = ((seq / 64) as usize, seq % 64);
    if seen.len() <= word {
        seen.resize(word + 1, 0);
    }
    let fresh = seen[word] & (1 << bit) == 0;
    seen[word] |= 1 << bit;
    fresh
}
