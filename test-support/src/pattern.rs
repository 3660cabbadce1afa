//! Deterministic message payloads: a receiver recomputes what it should have got from the
//! message's sequence number and a tag, so it checks content as well as order.

/// Payload of `len` bytes for message `seq` of the sender `tag`: the sequence number
/// (little-endian) in the first four bytes when there is room, then bytes that depend on tag,
/// sequence number and position.
pub fn pattern(tag: u8, seq: u32, len: usize) -> Vec<u8> {
    let mut data: Vec<u8> = (0..len)
        .map(|i| {
            (i as u32)
                .wrapping_mul(31)
                .wrapping_add(seq.wrapping_mul(7))
                .wrapping_add(u32::from(tag)) as u8
        })
        .collect();
    if len >= 4 {
        data[..4].copy_from_slice(&seq.to_le_bytes());
    }
    data
}

/// The sequence number [`pattern`] wrote into `data` for `tag`, if the whole payload is what
/// `pattern` makes for it; `None` for anything else (other tag, damaged, shorter than 4 bytes).
pub fn pattern_seq(tag: u8, data: &[u8]) -> Option<u32> {
    let seq = u32::from_le_bytes(data.get(..4)?.try_into().ok()?);
    (pattern(tag, seq, data.len()) == data).then_some(seq)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn starts_with_the_sequence_number_and_has_the_asked_length() {
        for len in [4, 5, 100, 1200] {
            let p = pattern(3, 0x0102_0304, len);
            assert_eq!(p.len(), len);
            assert_eq!(p[..4], [4, 3, 2, 1]);
        }
        assert!(pattern(3, 9, 0).is_empty());
        // Too short for the sequence number: position, sequence number and tag only.
        assert_eq!(pattern(1, 2, 3), vec![15, 46, 77]);
    }

    #[test]
    fn depends_on_tag_and_sequence_number() {
        assert_eq!(pattern(1, 7, 64), pattern(1, 7, 64));
        assert_ne!(pattern(1, 7, 64)[4..], pattern(2, 7, 64)[4..]);
        assert_ne!(pattern(1, 7, 64)[4..], pattern(1, 8, 64)[4..]);
    }

    #[test]
    fn pattern_seq_reads_back_only_intact_payloads() {
        let p = pattern(5, 123_456, 300);
        assert_eq!(pattern_seq(5, &p), Some(123_456));
        assert_eq!(pattern_seq(6, &p), None, "another sender's tag");
        for at in [0, 4, 150, 299] {
            let mut q = p.clone();
            q[at] ^= 0x10;
            assert_eq!(pattern_seq(5, &q), None, "byte {at} damaged");
        }
        // A prefix is the pattern of that length: receivers check the length themselves.
        assert_eq!(pattern_seq(5, &p[..299]), Some(123_456));
        assert_eq!(pattern_seq(5, &p[..3]), None);
        assert_eq!(pattern_seq(5, &pattern(5, 0, 4)), Some(0));
    }
}
