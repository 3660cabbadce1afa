//! A structural check of incoming SCTP packets, run before usrsctp sees them.
//!
//! usrsctp 0.9.5.0 (the pinned release) has a parameter walk with no end bound: when an INIT
//! arrives for an existing association, `sctp_send_initiate_ack` calls
//! `sctp_are_there_new_addresses`, which steps through the INIT's parameters with
//! `offset += SCTP_SIZE32(plen)` and no limit. A parameter of length 0 never advances it, and
//! the walk runs on past the INIT chunk into whatever follows. A peer can thereby make the stack
//! thread spin forever (upstream fixed it after 0.9.5.0, sctplab/usrsctp#570). Our stack thread
//! serves every association of the process, so one such packet would stall them all.
//!
//! The packets that reach that code are invalid anyway, so we refuse them here:
//! - an INIT or INIT ACK chunk must be the only chunk of its packet (RFC 9260 §6.10);
//! - a packet carrying an INIT must have verification tag 0 (RFC 9260 §8.5.1);
//! - the parameters of an INIT or INIT ACK must be well-formed TLVs: each at least 4 bytes,
//!   none running past the chunk (RFC 9260 §3.2.1, §3.3.2).
//!
//! Everything else (verification tags, other chunks) is left to usrsctp.

use super::{be16, pad4, COMMON_HEADER};

/// INIT / INIT ACK fixed part: chunk header + initiate tag, a_rwnd, streams, initial TSN.
const INIT_FIXED: usize = 20;
const CHUNK_INIT: u8 = 1;
const CHUNK_INIT_ACK: u8 = 2;

/// Checks `packet` (a whole SCTP packet, common header included). `Err` names the rule broken.
pub(crate) fn check(packet: &[u8]) -> Result<(), &'static str> {
    if packet.len() < COMMON_HEADER {
        return Err("shorter than the 12-byte SCTP common header");
    }
    let vtag_zero = packet[4..8] == [0, 0, 0, 0];
    let mut at = COMMON_HEADER;
    let mut chunks = 0;
    while at + 4 <= packet.len() {
        let kind = packet[at];
        let len = be16(packet, at + 2);
        chunks += 1;
        // usrsctp acts on an INIT / INIT ACK type before it looks at the length, so those are
        // checked whatever their length field says.
        if kind == CHUNK_INIT || kind == CHUNK_INIT_ACK {
            if chunks > 1 || at + pad4(len.max(INIT_FIXED)) < packet.len() {
                return Err("INIT or INIT ACK bundled with other chunks (RFC 9260 §6.10)");
            }
            if kind == CHUNK_INIT && !vtag_zero {
                return Err("INIT in a packet whose verification tag is not 0 (RFC 9260 §8.5.1)");
            }
            return check_init_parameters(&packet[at..], len);
        }
        if len < 4 {
            // A broken chunk list: usrsctp stops parsing here and drops the rest.
            return Ok(());
        }
        at += pad4(len);
    }
    Ok(())
}

/// `chunk` starts at the INIT / INIT ACK chunk header; `len` is its length field.
fn check_init_parameters(chunk: &[u8], len: usize) -> Result<(), &'static str> {
    if len < INIT_FIXED || len > chunk.len() {
        return Err("INIT or INIT ACK chunk length inconsistent with the packet");
    }
    let mut at = INIT_FIXED;
    while at < len {
        if at + 4 > len {
            return Err("INIT or INIT ACK parameter header cut off (RFC 9260 §3.2.1)");
        }
        let plen = be16(chunk, at + 2);
        if plen < 4 || at + plen > len {
            return Err("INIT or INIT ACK parameter with an impossible length (RFC 9260 §3.2.1)");
        }
        at += pad4(plen);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::super::test_packets::{chunk, header};
    use super::*;

    fn init_body(params: &[u8]) -> Vec<u8> {
        let mut b = vec![
            0xde, 0xad, 0xbe, 0xef, 0, 1, 0, 0, 0x04, 0, 0x04, 0, 0, 0, 0, 1,
        ];
        b.extend_from_slice(params);
        b
    }

    #[test]
    fn a_well_formed_init_passes() {
        // Forward-TSN-supported (0xc000, empty) and supported extensions (0x8008, 1 byte + pad).
        let params = [
            0xc0, 0x00, 0x00, 0x04, 0x80, 0x08, 0x00, 0x05, 0x82, 0, 0, 0,
        ];
        let mut p = header(0);
        p.extend(chunk(CHUNK_INIT, &init_body(&params)));
        assert_eq!(check(&p), Ok(()));
    }

    #[test]
    fn a_zero_length_parameter_is_refused() {
        let mut p = header(0);
        p.extend(chunk(CHUNK_INIT, &init_body(&[0, 0, 0, 0])));
        assert!(check(&p).unwrap_err().contains("impossible length"));
    }

    #[test]
    fn a_parameter_running_past_the_chunk_is_refused() {
        let mut p = header(0);
        p.extend(chunk(CHUNK_INIT, &init_body(&[0x01, 0x01, 0x01, 0x01])));
        assert!(check(&p).unwrap_err().contains("impossible length"));
    }

    #[test]
    fn an_init_with_a_tag_or_bundled_is_refused() {
        let mut p = header(0x1234);
        p.extend(chunk(CHUNK_INIT, &init_body(&[])));
        assert!(check(&p).unwrap_err().contains("verification tag"));

        // DATA, then INIT (the second packet the stress harness found).
        let mut p = header(0);
        p.extend(chunk(0, &[0; 16]));
        p.extend(chunk(CHUNK_INIT, &init_body(&[])));
        assert!(check(&p).unwrap_err().contains("bundled"));

        // INIT followed by trailing bytes that would parse as more parameters.
        let mut p = header(0);
        p.extend(chunk(CHUNK_INIT, &init_body(&[])));
        p.extend_from_slice(&[0; 8]);
        assert!(check(&p).unwrap_err().contains("bundled"));
    }

    #[test]
    fn an_init_with_a_short_length_field_is_refused() {
        // The packet the stress harness found: INIT, flags 3, length 0, tag non-zero.
        let hex = "138813888b86db78fb1b283701030000fb66c04300000000000000350101010101010101";
        let p: Vec<u8> = (0..hex.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).unwrap())
            .collect();
        assert!(check(&p).is_err());
        let mut p = header(0);
        p.extend_from_slice(&[CHUNK_INIT_ACK, 0, 0, 8, 0, 0, 0, 0]);
        assert!(check(&p).unwrap_err().contains("length"));
    }

    #[test]
    fn other_packets_pass_untouched() {
        let mut p = header(0x1234);
        p.extend(chunk(0, &[0; 20])); // DATA
        p.extend(chunk(3, &[0; 12])); // SACK
        assert_eq!(check(&p), Ok(()));
        // Garbage chunk lengths are usrsctp's to reject.
        let mut p = header(0x1234);
        p.extend_from_slice(&[0, 0, 0, 1, 9, 9]);
        assert_eq!(check(&p), Ok(()));
        assert!(check(&[0; 5]).is_err());
    }

    #[test]
    fn never_panics_on_arbitrary_bytes() {
        let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
        for _ in 0..20_000 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let len = (x % 80) as usize;
            let mut p: Vec<u8> = (0..len).map(|i| (x >> (i % 56)) as u8).collect();
            if p.len() > 12 && x % 3 == 0 {
                p[12] = (x % 3) as u8; // often an INIT / INIT ACK / DATA
            }
            let _ = check(&p);
        }
    }
}
