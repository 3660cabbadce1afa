//! SCTP packets as bytes: the few facts about the wire format the crate needs, free of any
//! usrsctp or thread state.
//!
//! - [`checksum`]: CRC32c, filled in and verified by us (usrsctp runs with checksum offload);
//! - [`validate`]: the structural check of incoming packets that guards usrsctp 0.9.5.0;
//! - [`ports`]: the source and destination ports, rewritten between wire and usrsctp;
//! - chunk walking here: [`chunks`], one walk over the chunk headers of each packet in or out,
//!   which says whether it carries data (the stall probe's seed), an ABORT (room for the
//!   reports) or only heartbeats (the timer clock tells an idle stack from a busy one).

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
/// HEARTBEAT and HEARTBEAT ACK chunk types.
pub(crate) const CHUNK_HEARTBEAT: u8 = 4;
pub(crate) const CHUNK_HEARTBEAT_ACK: u8 = 5;

/// What one walk over a packet's chunk headers found; the walk ends at a header whose length
/// is under 4.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Chunks {
    /// A DATA or I-DATA chunk.
    pub(crate) data: bool,
    /// An ABORT chunk.
    pub(crate) abort: bool,
    /// At least one chunk, every one a HEARTBEAT or HEARTBEAT ACK, none malformed: the only
    /// traffic of an idle association.
    pub(crate) heartbeat_only: bool,
}

/// Walks the chunk headers of `packet` once (see [`Chunks`]).
pub(crate) fn chunks(packet: &[u8]) -> Chunks {
    let mut found = Chunks::default();
    let mut other = false;
    let mut any = false;
    let mut at = COMMON_HEADER;
    while at + 4 <= packet.len() {
        any = true;
        match packet[at] {
            CHUNK_DATA | CHUNK_I_DATA => found.data = true,
            CHUNK_ABORT => found.abort = true,
            CHUNK_HEARTBEAT | CHUNK_HEARTBEAT_ACK => {}
            _ => other = true,
        }
        let len = be16(packet, at + 2);
        if len < 4 {
            other = true;
            break;
        }
        at += pad4(len);
    }
    found.heartbeat_only = any && !other && !found.data && !found.abort;
    found
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
    fn the_walk_finds_data_and_i_data_chunks_and_aborts() {
        let sack = chunk(3, &[0, 0, 0, 9, 0, 1, 0, 0, 0, 0, 0, 0]);
        let mut p = header(1);
        p.extend_from_slice(&sack);
        assert!(!chunks(&p).data);
        p.extend_from_slice(&chunk(CHUNK_I_DATA, &[0; 17]));
        assert!(chunks(&p).data);
        let mut d = header(1);
        d.extend_from_slice(&chunk(CHUNK_DATA, &[0; 16]));
        assert!(chunks(&d).data);
        assert_eq!(chunks(&[0; 11]), Chunks::default());
        // A chunk whose length is below 4 ends the walk.
        let mut broken = header(1);
        broken.extend_from_slice(&[3, 0, 0, 1]);
        broken.extend_from_slice(&chunk(CHUNK_DATA, &[0; 16]));
        assert!(!chunks(&broken).data);
        let mut abort = header(1);
        abort.extend_from_slice(&chunk(CHUNK_ABORT, &[]));
        assert!(chunks(&abort).abort);
        assert!(!chunks(&d).abort);
    }

    #[test]
    fn heartbeat_only_means_every_chunk_is_a_heartbeat_or_its_ack() {
        let only = |p: &[u8]| chunks(p).heartbeat_only;
        let hb = chunk(CHUNK_HEARTBEAT, &[0, 1, 0, 8, 1, 2, 3, 4]);
        let ack = chunk(CHUNK_HEARTBEAT_ACK, &[0, 1, 0, 8, 1, 2, 3, 4]);
        let sack = chunk(3, &[0, 0, 0, 9, 0, 1, 0, 0, 0, 0, 0, 0]);
        let mut p = header(1);
        p.extend_from_slice(&hb);
        assert!(only(&p));
        p.extend_from_slice(&ack);
        assert!(only(&p), "a heartbeat bundled with an ack");
        p.extend_from_slice(&sack);
        assert!(!only(&p), "a SACK is activity");
        let mut sack_first = header(1);
        sack_first.extend_from_slice(&sack);
        sack_first.extend_from_slice(&hb);
        assert!(!only(&sack_first));
        let mut d = header(1);
        d.extend_from_slice(&chunk(CHUNK_DATA, &[0; 16]));
        assert!(!only(&d));
        assert!(!only(&header(1)), "no chunk at all");
        assert!(!only(&[0; 11]));
        let mut broken = header(1);
        broken.extend_from_slice(&[CHUNK_HEARTBEAT, 0, 0, 2]);
        assert!(!only(&broken), "a chunk length under 4");
    }
}
