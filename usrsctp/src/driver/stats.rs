//! [`AssociationStats`] as the stack thread reads them.

use std::sync::atomic::Ordering::Relaxed;

use usrsctp_sys as sys;

use super::Driver;
use crate::error::Error;
use crate::event::AssocId;
use crate::stats::AssociationStats;

impl Driver {
    /// The association's figures: usrsctp's status and our counters.
    pub(super) fn stats(&self, id: AssocId) -> Result<AssociationStats, Error> {
        let s = self.entries.get(&id).ok_or(Error::Closed { assoc: id })?;
        let status: sys::sctp_status = s.raw.getsockopt(
            "getsockopt(SCTP_STATUS)",
            sys::IPPROTO_SCTP,
            sys::SCTP_STATUS,
        )?;
        Ok(AssociationStats {
            srtt_ms: status.sstat_primary.spinfo_srtt,
            rto_ms: status.sstat_primary.spinfo_rto,
            cwnd: status.sstat_primary.spinfo_cwnd,
            peer_rwnd: status.sstat_rwnd,
            mtu: status.sstat_primary.spinfo_mtu,
            unacked_chunks: status.sstat_unackdata,
            pending_chunks: status.sstat_penddata,
            outbound_streams: status.sstat_outstrms,
            inbound_streams: status.sstat_instrms,
            buffered_amount: s.shared.buffered(),
            queued_messages: s.outbox.len(),
            mailbox_bytes: s.shared.mailbox_bytes(),
            mailbox_peak_bytes: s.shared.mailbox_peak_bytes(),
            receive_paused: s.shared.receive_paused(),
            upcall_pending: s.shared.upcall_pending.load(Relaxed),
            messages_sent: s.shared.messages_sent.load(Relaxed),
            bytes_sent: s.shared.bytes_sent.load(Relaxed),
            messages_received: s.shared.messages_received.load(Relaxed),
            bytes_received: s.shared.bytes_received.load(Relaxed),
        })
    }
}
