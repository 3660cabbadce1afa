//! A fast hasher for the maps keyed by association id.
//!
//! The stack thread looks an association up by id several times per packet and per message
//! (its entry, its route), and std's SipHash showed as ~1.7 % of the stack thread's samples in
//! `cpu/wrapper/1024`. SipHash guards maps whose keys an attacker picks; association ids are a
//! process-wide counter the crate hands out, so a multiplicative hash (as rustc's FxHash) is
//! safe here and costs one multiply.

use std::collections::{HashMap, HashSet};
use std::hash::{BuildHasherDefault, Hasher};

/// Hashes integers with a rotate, xor and multiply (FxHash's step).
#[derive(Default, Clone, Copy)]
pub(crate) struct IdHasher(u64);

const SEED: u64 = 0x51_7c_c1_b7_27_22_0a_95;

impl IdHasher {
    fn add(&mut self, word: u64) {
        self.0 = (self.0.rotate_left(5) ^ word).wrapping_mul(SEED);
    }
}

impl Hasher for IdHasher {
    fn write(&mut self, bytes: &[u8]) {
        for chunk in bytes.chunks(8) {
            let mut word = [0u8; 8];
            word[..chunk.len()].copy_from_slice(chunk);
            self.add(u64::from_le_bytes(word));
        }
    }

    fn write_u64(&mut self, n: u64) {
        self.add(n);
    }

    fn finish(&self) -> u64 {
        self.0
    }
}

/// A map keyed by association id (or its integer).
pub(crate) type IdMap<K, V> = HashMap<K, V, BuildHasherDefault<IdHasher>>;
/// A set of association ids.
pub(crate) type IdSet<K> = HashSet<K, BuildHasherDefault<IdHasher>>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sequential_ids_spread_and_maps_work() {
        let mut map: IdMap<u64, u64> = IdMap::default();
        for id in 1..=10_000u64 {
            map.insert(id, id * 2);
        }
        assert_eq!(map.get(&7_777), Some(&15_554));
        assert_eq!(map.len(), 10_000);
        // The low bits pick the bucket: sequential ids must not collide there.
        let mut low: IdSet<u64> = IdSet::default();
        for id in 1..=1024u64 {
            let mut h = IdHasher::default();
            h.write_u64(id);
            low.insert(h.finish() & 1023);
        }
        assert!(low.len() > 600, "{} distinct low parts of 1024", low.len());
        // Byte input (not used by the ids) hashes too.
        let (mut a, mut b) = (IdHasher::default(), IdHasher::default());
        a.write(b"abc");
        b.write(b"abd");
        assert_ne!(a.finish(), b.finish());
    }
}
