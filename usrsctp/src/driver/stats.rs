//! Reading usrsctp's status of an association into its snapshot (`AssocShared::status`), which
//! `Association::stats` reads without waiting for this thread.

use std::time::Instant;

use tracing::trace;
use usrsctp_sys as sys;

use super::{Driver, Entry};
use crate::event::{AssocId, Event};
use crate::shared::assoc::{Status, STATUS_MAX_AGE};

/// Reads the status of `e` now.
pub(super) fn refresh(id: AssocId, e: &Entry, now: Instant) {
    e.shared
        .refresh_pending
        .store(false, std::sync::atomic::Ordering::Release);
    match e.raw.getsockopt::<sys::sctp_status>(
        "getsockopt(SCTP_STATUS)",
        sys::IPPROTO_SCTP,
        sys::SCTP_STATUS,
    ) {
        Ok(status) => e.shared.set_status(Status {
            srtt_ms: status.sstat_primary.spinfo_srtt,
            rto_ms: status.sstat_primary.spinfo_rto,
            cwnd: status.sstat_primary.spinfo_cwnd,
            peer_rwnd: status.sstat_rwnd,
            mtu: status.sstat_primary.spinfo_mtu,
            unacked_chunks: status.sstat_unackdata,
            pending_chunks: status.sstat_penddata,
            outbound_streams: status.sstat_outstrms,
            inbound_streams: status.sstat_instrms,
            queued_messages: e.outbox.len(),
            at: Some(now),
        }),
        // Before the handshake (or after the end) there is no status to read.
        Err(err) => trace!(assoc = %id, error = %err, "no status"),
    }
}

/// Reads the status of `e` if its snapshot is older than `STATUS_MAX_AGE`.
pub(super) fn refresh_if_old(id: AssocId, e: &Entry) {
    let now = Instant::now();
    let old = e
        .shared
        .status()
        .at
        .is_none_or(|at| now.saturating_duration_since(at) >= STATUS_MAX_AGE);
    if old && e.connected {
        refresh(id, e, now);
    }
}

impl Driver {
    /// `Association::stats` found the snapshot old, or `refresh_stats` asked (`notify`).
    pub(super) fn refresh_status(&self, id: AssocId, notify: bool) {
        if let Some(e) = self.entries.get(&id) {
            refresh(id, e, Instant::now());
            if notify {
                e.post(Event::Stats {
                    assoc: id,
                    stats: e.shared.stats(),
                });
            }
        }
    }
}
