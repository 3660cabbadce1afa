//! The CRC32c checksum of SCTP packets (RFC 9260 appendix A).
//!
//! The stack runs usrsctp with CRC32c offload on, so usrsctp neither computes nor verifies it.
//! We fill it in as a worker takes an outgoing packet from its mailbox and verify it in
//! `Association::input`, both on the worker's thread, with the CPU's CRC instruction — usrsctp's software CRC32c was 28% of the stack
//! thread's time (docs/benchmarks-history.md).

use super::COMMON_HEADER;

/// The CRC32c of an SCTP packet, computed with its checksum field taken as zero (RFC 9260
/// appendix A). The `crc32c` crate uses the CPU's CRC instruction where there is one.
fn crc(packet: &[u8]) -> u32 {
    let crc = crc32c::crc32c(&packet[..8]);
    let crc = crc32c::crc32c_append(crc, &[0; 4]);
    crc32c::crc32c_append(crc, &packet[12..])
}

/// Writes the checksum of an outgoing packet (usrsctp leaves it to us: CRC32c offload is on).
pub(crate) fn fill_checksum(packet: &mut [u8]) {
    if packet.len() >= COMMON_HEADER {
        let sum = crc(packet);
        // The checksum travels in the byte order the CRC32c register produces it.
        packet[8..12].copy_from_slice(&sum.to_le_bytes());
    }
}

/// True if an incoming packet's checksum is right (usrsctp does not check it: offload is on).
pub(crate) fn checksum_ok(packet: &[u8]) -> bool {
    packet.len() >= COMMON_HEADER && crc(packet).to_le_bytes() == packet[8..12]
}

#[cfg(test)]
mod tests {
    use super::super::test_packets::{chunk, header};
    use super::*;

    #[test]
    fn checksums_round_trip_and_catch_a_flipped_bit() {
        let mut p = header(0x1234);
        p.extend(chunk(0, &[7; 20]));
        assert!(!checksum_ok(&p));
        fill_checksum(&mut p);
        assert!(checksum_ok(&p));
        // RFC 9260 appendix A's software algorithm, bit by bit, agrees with the crate.
        let mut reference = !0u32;
        let mut zeroed = p.clone();
        zeroed[8..12].copy_from_slice(&[0; 4]);
        for &b in &zeroed {
            reference ^= u32::from(b);
            for _ in 0..8 {
                reference = if reference & 1 != 0 {
                    (reference >> 1) ^ 0x82F6_3B78
                } else {
                    reference >> 1
                };
            }
        }
        assert_eq!((!reference).to_le_bytes(), p[8..12]);
        p[20] ^= 0x10;
        assert!(!checksum_ok(&p));
        assert!(!checksum_ok(&[0; 11]));
    }
}
