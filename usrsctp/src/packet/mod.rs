//! SCTP packets as bytes: the few facts about the wire format the crate needs, free of any
//! usrsctp or thread state.
//!
//! - [`checksum`]: CRC32c, filled in and verified by us (usrsctp runs with checksum offload);
//! - [`validate`]: the structural check of incoming packets that guards usrsctp 0.9.5.0;
//! - [`ports`]: the source and destination ports, rewritten between wire and usrsctp;
//! - chunk walking here: [`has_data`] (the output callback keeps the stall probe's seed) and
//!   [`is_heartbeat_only`] (the timer clock tells an idle stack from a busy one).

pub(crate) mod checksum;
pub(crate) mod ports;
pub(crate) mod validate;

/// SCTP common header length.
pub(crate) const COMMON_HEADER: usize = 12;
/// DATA and I-DATA chunk types.
pub(crate) const CHUNK_DATA: u8 = 0;
pub(crate) const CHUNK_I_DATA: u8 = 64;

/// The big-endian u16 at `at`.
pub(crate) fn be16(b: &[u8], at: usize) -> usize {
    usize::from(u16::from_be_bytes([b[at], b[at + 1]]))
}

/// A chunk length rounded up to the 4-byte boundary the next chunk starts on.
pub(crate) fn pad4(n: usize) -> usize {
    (n + 3) & !3
}

/// The ABORT chunk type.
pub(crate) const CHUNK_ABORT: u8 = 6;

/// True if the packet carries a chunk of type `kind` (a walk over chunk headers only).
pub(crate) fn has_chunk(packet: &[u8], kind: u8) -> bool {
    let mut at = COMMON_HEADER;
    while at + 4 <= packet.len() {
        if packet[at] == kind {
            return true;
        }
        let len = be16(packet, at + 2);
        if len < 4 {
            return false;
        }
        at += pad4(len);
    }
    false
}

/// True if the packet carries a DATA or I-DATA chunk (a walk over chunk headers only).
pub(crate) fn has_data(packet: &[u8]) -> bool {
    has_chunk(packet, CHUNK_DATA) || has_chunk(packet, CHUNK_I_DATA)
}

/// HEARTBEAT and HEARTBEAT ACK chunk types.
pub(crate) const CHUNK_HEARTBEAT: u8 = 4;
pub(crate) const CHUNK_HEARTBEAT_ACK: u8 = 5;

/// True if the packet has chunks and all of them are HEARTBEAT or HEARTBEAT ACK: the only
/// traffic of an idle association. A malformed chunk header (length under 4) makes it false.
pub(crate) fn is_heartbeat_only(packet: &[u8]) -> bool {
    let mut at = COMMON_HEADER;
    let mut chunks = 0;
    while at + 4 <= packet.len() {
        if packet[at] != CHUNK_HEARTBEAT && packet[at] != CHUNK_HEARTBEAT_ACK {
            return false;
        }
        let len = be16(packet, at + 2);
        if len < 4 {
            return false;
        }
        chunks += 1;
        at += pad4(len);
    }
    chunks > 0
}

#[cfg(test)]
pub(crate) mod test_packets {
    //! Packet builders for the unit tests of this module and of the stall probe.

    pub(crate) fn header(vtag: u32) -> Vec<u8> {
        let mut p = vec![0x13, 0x88, 0x13, 0x88];
        p.extend_from_slice(&vtag.to_be_bytes());
        p.extend_from_slice(&[0; 4]);
        p
    }

    pub(crate) fn chunk(kind: u8, body: &[u8]) -> Vec<u8> {
        let mut c = vec![kind, 0];
        c.extend_from_slice(&((4 + body.len()) as u16).to_be_bytes());
        c.extend_from_slice(body);
        while c.len() % 4 != 0 {
            c.push(0);
        }
        c
    }
}

#[cfg(test)]
mod tests {
    use super::test_packets::{chunk, header};
    use super::*;

    #[test]
    fn has_data_finds_data_and_i_data_chunks_only() {
        let sack = chunk(3, &[0, 0, 0, 9, 0, 1, 0, 0, 0, 0, 0, 0]);
        let mut p = header(1);
        p.extend_from_slice(&sack);
        assert!(!has_data(&p));
        p.extend_from_slice(&chunk(CHUNK_I_DATA, &[0; 17]));
        assert!(has_data(&p));
        let mut d = header(1);
        d.extend_from_slice(&chunk(CHUNK_DATA, &[0; 16]));
        assert!(has_data(&d));
        assert!(!has_data(&[0; 11]));
        // A chunk whose length is below 4 ends the walk.
        let mut broken = header(1);
        broken.extend_from_slice(&[3, 0, 0, 1]);
        broken.extend_from_slice(&chunk(CHUNK_DATA, &[0; 16]));
        assert!(!has_data(&broken));
        let mut abort = header(1);
        abort.extend_from_slice(&chunk(CHUNK_ABORT, &[]));
        assert!(has_chunk(&abort, CHUNK_ABORT));
        assert!(!has_chunk(&d, CHUNK_ABORT));
    }

    #[test]
    fn heartbeat_only_means_every_chunk_is_a_heartbeat_or_its_ack() {
        let hb = chunk(CHUNK_HEARTBEAT, &[0, 1, 0, 8, 1, 2, 3, 4]);
        let ack = chunk(CHUNK_HEARTBEAT_ACK, &[0, 1, 0, 8, 1, 2, 3, 4]);
        let sack = chunk(3, &[0, 0, 0, 9, 0, 1, 0, 0, 0, 0, 0, 0]);
        let mut p = header(1);
        p.extend_from_slice(&hb);
        assert!(is_heartbeat_only(&p));
        p.extend_from_slice(&ack);
        assert!(is_heartbeat_only(&p), "a heartbeat bundled with an ack");
        p.extend_from_slice(&sack);
        assert!(!is_heartbeat_only(&p), "a SACK is activity");
        let mut sack_first = header(1);
        sack_first.extend_from_slice(&sack);
        sack_first.extend_from_slice(&hb);
        assert!(!is_heartbeat_only(&sack_first));
        let mut d = header(1);
        d.extend_from_slice(&chunk(CHUNK_DATA, &[0; 16]));
        assert!(!is_heartbeat_only(&d));
        assert!(!is_heartbeat_only(&header(1)), "no chunk at all");
        assert!(!is_heartbeat_only(&[0; 11]));
        let mut broken = header(1);
        broken.extend_from_slice(&[CHUNK_HEARTBEAT, 0, 0, 2]);
        assert!(!is_heartbeat_only(&broken), "a chunk length under 4");
    }
}
