//! SCTP packet helpers for tests: the checksum (RFC 9260 appendix A) and a walk over a
//! packet's chunk headers. Everything here takes any bytes, however short or broken: what does
//! not parse is left out, nothing panics.

/// Length of the SCTP common header (ports, verification tag, checksum).
pub const COMMON_HEADER: usize = 12;

/// DATA chunk type.
pub const DATA: u8 = 0;
/// INIT chunk type.
pub const INIT: u8 = 1;
/// INIT ACK chunk type.
pub const INIT_ACK: u8 = 2;
/// SACK chunk type.
pub const SACK: u8 = 3;
/// I-DATA chunk type (RFC 8260).
pub const I_DATA: u8 = 64;

/// The most chunks [`chunk_offsets`] lists.
const MAX_OFFSETS: usize = 64;

/// The CRC32c of an SCTP packet of at least 12 bytes, computed with its checksum field
/// (bytes 8..12) taken as zero.
pub fn checksum(packet: &[u8]) -> u32 {
    let header = packet.len().min(8);
    let crc = crc32c::crc32c(&packet[..header]);
    let crc = crc32c::crc32c_append(crc, &[0; 4]);
    crc32c::crc32c_append(crc, packet.get(COMMON_HEADER..).unwrap_or_default())
}

/// Writes the SCTP checksum of `packet` into bytes 8..12: the CRC32c over the packet with
/// that field zeroed, stored little-endian, in the byte order RFC 9260 appendix A's reference
/// code produces. Packets shorter than the common header are left as they are.
pub fn fill_checksum(packet: &mut [u8]) {
    if packet.len() >= COMMON_HEADER {
        let sum = checksum(packet);
        packet[8..12].copy_from_slice(&sum.to_le_bytes());
    }
}

/// True if `packet` is at least a common header long and its checksum is right.
pub fn checksum_ok(packet: &[u8]) -> bool {
    packet.len() >= COMMON_HEADER && checksum(packet).to_le_bytes() == packet[8..12]
}

/// One chunk header found in a packet.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Chunk {
    /// Where the chunk starts (its type byte) in the packet.
    pub offset: usize,
    /// The chunk type.
    pub kind: u8,
    /// The chunk flags.
    pub flags: u8,
    /// The chunk's length field (header included, padding not), as the packet states it.
    pub len: usize,
}

/// The chunk headers of an SCTP packet, in order; see [`chunks`].
#[derive(Clone, Debug)]
pub struct Chunks<'a> {
    packet: &'a [u8],
    at: usize,
    done: bool,
}

impl Iterator for Chunks<'_> {
    type Item = Chunk;

    fn next(&mut self) -> Option<Chunk> {
        if self.done || self.at + 4 > self.packet.len() {
            return None;
        }
        let p = &self.packet[self.at..];
        let chunk = Chunk {
            offset: self.at,
            kind: p[0],
            flags: p[1],
            len: usize::from(u16::from_be_bytes([p[2], p[3]])),
        };
        if chunk.len < 4 {
            // A length that cannot be: no way to find the next chunk.
            self.done = true;
        } else {
            self.at += (chunk.len + 3) & !3;
        }
        Some(chunk)
    }
}

/// Walks the chunk headers after the common header, each chunk's length (padded to 4) leading
/// to the next, as a receiver does. It yields every chunk whose 4-byte header is in the
/// packet, including one with an impossible length (under 4), after which it stops. A length
/// that runs past the end is reported as stated; the walk then ends.
pub fn chunks(packet: &[u8]) -> Chunks<'_> {
    Chunks {
        packet,
        at: COMMON_HEADER,
        done: false,
    }
}

/// Offsets of the first 64 chunks of `packet` (each chunk's type byte).
pub fn chunk_offsets(packet: &[u8]) -> Vec<usize> {
    chunks(packet).take(MAX_OFFSETS).map(|c| c.offset).collect()
}

/// True if the packet carries a DATA or I-DATA chunk.
pub fn has_data(packet: &[u8]) -> bool {
    chunks(packet).any(|c| c.kind == DATA || c.kind == I_DATA)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header(vtag: u32) -> Vec<u8> {
        let mut p = vec![0x13, 0x88, 0x13, 0x89];
        p.extend_from_slice(&vtag.to_be_bytes());
        p.extend_from_slice(&[0; 4]);
        p
    }

    /// A chunk of type `kind` with `body`, its length field right and padded to 4.
    fn chunk(kind: u8, flags: u8, body: &[u8]) -> Vec<u8> {
        let mut c = vec![kind, flags];
        c.extend_from_slice(&((4 + body.len()) as u16).to_be_bytes());
        c.extend_from_slice(body);
        while c.len() % 4 != 0 {
            c.push(0);
        }
        c
    }

    /// Common header, a DATA chunk with a 5-byte payload (padded), a SACK.
    fn data_and_sack() -> Vec<u8> {
        let mut p = header(0xDEAD_BEEF);
        p.extend(chunk(
            DATA,
            3,
            &[
                0, 0, 0, 1, 0, 1, 0, 0, 0, 0, 0, 53, b'h', b'e', b'l', b'l', b'o',
            ],
        ));
        p.extend(chunk(SACK, 0, &[0, 0, 0, 9, 0, 1, 0, 0, 0, 0, 0, 0]));
        fill_checksum(&mut p);
        p
    }

    #[test]
    fn checksum_is_the_crc32c_of_the_packet_with_the_field_zeroed() {
        // RFC 3720 B.4's CRC32c test vector: 32 zero bytes.
        assert_eq!(crc32c::crc32c(&[0u8; 32]), 0x8A91_36AA);
        let mut p = vec![0u8; 32];
        fill_checksum(&mut p);
        assert_eq!(p[8..12], 0x8A91_36AAu32.to_le_bytes());
        // The field's old contents do not matter.
        let mut q = vec![0u8; 32];
        q[8..12].copy_from_slice(&[1, 2, 3, 4]);
        assert_eq!(checksum(&q), 0x8A91_36AA);
        fill_checksum(&mut q);
        assert_eq!(p, q);
    }

    #[test]
    fn a_filled_checksum_verifies_and_any_flipped_bit_breaks_it() {
        let p = data_and_sack();
        assert!(checksum_ok(&p));
        for bit in 0..p.len() * 8 {
            let mut q = p.clone();
            q[bit / 8] ^= 1 << (bit % 8);
            assert!(!checksum_ok(&q), "bit {bit}");
        }
    }

    #[test]
    fn short_packets_are_left_alone_and_never_verify() {
        let mut p = vec![7u8; 11];
        fill_checksum(&mut p);
        assert_eq!(p, vec![7u8; 11]);
        assert!(!checksum_ok(&p));
        assert!(!checksum_ok(&[]));
        // The bare common header is a packet: it has a checksum.
        let mut h = header(1);
        fill_checksum(&mut h);
        assert!(checksum_ok(&h));
    }

    #[test]
    fn chunks_are_walked_with_their_padding() {
        let p = data_and_sack();
        let found: Vec<Chunk> = chunks(&p).collect();
        assert_eq!(
            found,
            vec![
                Chunk {
                    offset: 12,
                    kind: DATA,
                    flags: 3,
                    len: 21
                },
                Chunk {
                    offset: 36,
                    kind: SACK,
                    flags: 0,
                    len: 16
                },
            ]
        );
        assert_eq!(chunk_offsets(&p), vec![12, 36]);
    }

    #[test]
    fn a_broken_length_ends_the_walk_after_its_chunk() {
        let mut p = header(1);
        p.extend_from_slice(&[SACK, 0, 0, 2]); // length 2: impossible
        p.extend(chunk(DATA, 0, &[0; 12]));
        assert_eq!(chunk_offsets(&p), vec![12]);
        assert!(!has_data(&p));
        // A length past the end is reported; nothing follows it.
        let mut q = header(1);
        q.extend_from_slice(&[DATA, 0, 0xFF, 0xFF, 1, 2]);
        let c: Vec<Chunk> = chunks(&q).collect();
        assert_eq!(c.len(), 1);
        assert_eq!(c[0].len, 0xFFFF);
        // Headers cut short are not chunks.
        assert_eq!(chunks(&q[..15]).count(), 0);
        assert_eq!(chunks(&[]).count(), 0);
    }

    #[test]
    fn offsets_stop_at_64_chunks() {
        let mut p = header(1);
        for _ in 0..100 {
            p.extend(chunk(SACK, 0, &[0; 12]));
        }
        assert_eq!(chunks(&p).count(), 100);
        let offsets = chunk_offsets(&p);
        assert_eq!(offsets.len(), 64);
        assert_eq!(offsets[63], 12 + 63 * 16);
    }

    #[test]
    fn has_data_finds_data_and_i_data_anywhere() {
        assert!(has_data(&data_and_sack()));
        let mut sack_only = header(1);
        sack_only.extend(chunk(SACK, 0, &[0; 12]));
        assert!(!has_data(&sack_only));
        let mut sack_then_idata = sack_only.clone();
        sack_then_idata.extend(chunk(I_DATA, 0, &[0; 20]));
        assert!(has_data(&sack_then_idata));
        // A DATA type byte inside another chunk's body is not a chunk.
        let mut hidden = header(1);
        hidden.extend(chunk(SACK, 0, &[DATA, 0, 0, 4]));
        assert!(!has_data(&hidden));
        assert!(!has_data(&header(1)));
        assert!(!has_data(&[]));
    }
}
