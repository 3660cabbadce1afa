//! The stall probe (`StackConfig::stall_probe_ms`): a guard against usrsctp losing an
//! association's retransmission timer while data is outstanding (sctplab/usrsctp#750), which
//! would leave the association silent for good.

use std::sync::atomic::Ordering::Relaxed;
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use tracing::debug;
use usrsctp_sys as sys;

use super::Driver;
use crate::event::Event;
use crate::packet::checksum::fill_checksum;
use crate::packet::{be16, pad4, CHUNK_DATA, CHUNK_I_DATA, COMMON_HEADER};
use crate::shared::counters::{bump, COUNTERS};

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// The DATA (and I-DATA) chunks of an outgoing packet, re-packed alone behind its common
/// header with a fresh checksum; `None` if it carries none. This is the stall probe (see
/// `StackConfig::stall_probe_ms`), made from the last DATA packet sent: if the peer lacks
/// that data (the tail was lost), it acknowledges it; if it has it, the duplicate must be
/// acknowledged at once (RFC 9260 §6.2), and a SACK reporting gaps makes usrsctp re-arm its
/// retransmission timer. Other chunks are left out, so a replay repeats nothing but data the
/// peer already has or is owed.
pub(crate) fn data_only(packet: &[u8]) -> Option<Vec<u8>> {
    if packet.len() < COMMON_HEADER {
        return None;
    }
    let mut out: Option<Vec<u8>> = None;
    let mut at = COMMON_HEADER;
    while at + 4 <= packet.len() {
        let kind = packet[at];
        let len = be16(packet, at + 2);
        if len < 4 || at + len > packet.len() {
            break;
        }
        if kind == CHUNK_DATA || kind == CHUNK_I_DATA {
            let end = (at + pad4(len)).min(packet.len());
            out.get_or_insert_with(|| packet[..COMMON_HEADER].to_vec())
                .extend_from_slice(&packet[at..end]);
        }
        at += pad4(len);
    }
    let mut out = out?;
    fill_checksum(&mut out);
    Some(out)
}

impl Driver {
    /// The stall probe (`StackConfig::stall_probe_ms`): once per probe interval, each
    /// association whose output count has not moved since the previous scan (so usrsctp sent
    /// nothing for at least an interval), and that sent data since it was last found idle, is
    /// asked whether data is outstanding. If so, the DATA chunks of the last DATA packet it
    /// sent go to its owner's wire again: the peer acknowledges them (if the tail was lost) or
    /// reports the gaps (a duplicate is answered at once), and either SACK gets usrsctp going
    /// again. If not, the copy is dropped.
    pub(super) fn probe_stalls(&mut self) {
        let interval = u64::from(self.config.stall_probe_ms);
        let now = Instant::now();
        if interval == 0 || now < self.next_probe_scan {
            return;
        }
        self.next_probe_scan = now + Duration::from_millis(interval);
        for (&id, s) in &mut self.entries {
            let outputs = s.shared.outputs.load(Relaxed);
            let silent = outputs == s.outputs_at_last_scan;
            s.outputs_at_last_scan = outputs;
            if !s.connected || !silent || lock(&s.shared.probe).is_empty() {
                continue;
            }
            // No lock is held across this call.
            let outstanding = s
                .raw
                .getsockopt::<sys::sctp_status>(
                    "getsockopt(SCTP_STATUS)",
                    sys::IPPROTO_SCTP,
                    sys::SCTP_STATUS,
                )
                .map(|st| st.sstat_unackdata > 0);
            let probe = {
                let mut slot = lock(&s.shared.probe);
                // The output callback counts a packet before it fills the slot: a packet sent
                // meanwhile shows here, and its copy must not be thrown away.
                let sent_meanwhile = s.shared.outputs.load(Relaxed) != outputs;
                match outstanding {
                    _ if sent_meanwhile => None,
                    Ok(true) => data_only(&slot),
                    _ => {
                        slot.clear();
                        None
                    }
                }
            };
            if let Some(packet) = probe {
                bump(&COUNTERS.stall_probes);
                debug!(assoc = %id, len = packet.len(), "stall probe: data outstanding and nothing sent; replaying data");
                s.post(Event::Transmit { assoc: id, packet });
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::packet::checksum::checksum_ok;
    use crate::packet::chunks;
    use crate::packet::test_packets::{chunk, header};
    use crate::packet::validate::check;

    #[test]
    fn data_only_keeps_the_data_chunks_and_a_valid_checksum() {
        let sack = chunk(3, &[0, 0, 0, 9, 0, 1, 0, 0, 0, 0, 0, 0]);
        let data1 = chunk(
            CHUNK_DATA,
            &[0, 0, 0, 10, 0, 1, 0, 0, 0, 0, 0, 51, b'h', b'i'],
        );
        let data2 = chunk(CHUNK_I_DATA, &[0; 17]);
        let mut p = header(0x1234_5678);
        p.extend_from_slice(&sack);
        p.extend_from_slice(&data1);
        p.extend_from_slice(&data2);
        fill_checksum(&mut p);
        assert!(chunks(&p).data);
        let probe = data_only(&p).expect("has DATA");
        let mut expected = header(0x1234_5678);
        expected.extend_from_slice(&data1);
        expected.extend_from_slice(&data2);
        assert_eq!(probe[..8], expected[..8]);
        assert_eq!(probe[12..], expected[12..]);
        assert!(checksum_ok(&probe));
        assert_eq!(check(&probe), Ok(()));

        let mut no_data = header(1);
        no_data.extend_from_slice(&sack);
        assert_eq!(data_only(&no_data), None);
        assert!(!chunks(&no_data).data);
        assert!(!chunks(&[0; 11]).data);
        assert_eq!(data_only(&[1, 2, 3]), None);
        // A chunk running past the packet ends the walk; what came before is kept.
        let mut cut = header(1);
        cut.extend_from_slice(&data1);
        cut.extend_from_slice(&[0, 0, 0, 200, 1, 2]);
        assert_eq!(data_only(&cut).map(|p| p.len()), Some(12 + data1.len()));
    }
}
