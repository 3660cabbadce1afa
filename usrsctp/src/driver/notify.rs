//! Acting on usrsctp's notifications: the association coming up or going down, the peer's
//! SHUTDOWN, failed sends, stream resets.

use tracing::{debug, trace, warn};
use usrsctp_sys as sys;

use super::Driver;
use crate::event::{
    AssocId, CloseReason, Event, MessageId, ResetDirection, ResetOutcome, SendFailure,
};
use crate::notification::Notification;
use crate::shared::counters::{bump, COUNTERS};

/// The outcome an RFC 6525 notification's `flags` report, given its event's DENIED and FAILED
/// bits (stream reset and stream change events name them differently).
fn outcome(flags: u16, denied: u16, failed: u16) -> ResetOutcome {
    if flags & denied != 0 {
        ResetOutcome::Denied
    } else if flags & failed != 0 {
        ResetOutcome::Failed
    } else {
        ResetOutcome::Performed
    }
}

impl Driver {
    /// Acts on one notification, in the order usrsctp delivered it among the messages.
    pub(super) fn notification(&mut self, id: AssocId, n: Notification) {
        let Some(e) = self.entries.get_mut(&id) else {
            return;
        };
        trace!(assoc = %id, ?n, "notification");
        match n {
            Notification::AssocChange {
                state,
                outbound_streams,
                inbound_streams,
                peer_abort,
                error,
            } => match state {
                sys::SCTP_COMM_UP | sys::SCTP_RESTART => {
                    if state == sys::SCTP_RESTART {
                        bump(&COUNTERS.association_restarts);
                        warn!(assoc = %id, connected = e.connected, "usrsctp reported an association restart");
                    }
                    if !e.connected {
                        e.connected = true;
                        super::stats::refresh(id, e, std::time::Instant::now());
                        e.shared.set_open(outbound_streams);
                        debug!(assoc = %id, outbound_streams, inbound_streams, "association up");
                        e.post(Event::Connected {
                            assoc: id,
                            outbound_streams,
                            inbound_streams,
                        });
                    }
                    self.flush(id);
                    self.try_resets(id);
                }
                sys::SCTP_SHUTDOWN_COMP => self.end(id, CloseReason::Graceful, true),
                sys::SCTP_CANT_STR_ASSOC => self.end(id, CloseReason::ConnectFailed, true),
                _ => {
                    let reason = if let Some(ours) = e.aborting {
                        ours
                    } else if peer_abort {
                        CloseReason::AbortedByPeer
                    } else {
                        CloseReason::CommunicationLost
                    };
                    debug!(assoc = %id, error, ?reason, "association lost");
                    self.end(id, reason, true);
                }
            },
            Notification::ShutdownEvent => {
                // The peer started a graceful close: no new sends; SHUTDOWN_COMP follows.
                e.shared.set_closing();
            }
            Notification::SendFailed {
                sent,
                last,
                stream,
                ppid,
                context,
                ..
            } => {
                if e.outbox.first_failure(context, last) {
                    e.post(Event::SendFailed {
                        assoc: id,
                        message: MessageId(context),
                        stream,
                        ppid,
                        reason: SendFailure::Abandoned { sent },
                    });
                }
            }
            Notification::StreamReset { flags, streams } => {
                let outcome = outcome(
                    flags,
                    sys::SCTP_STREAM_RESET_DENIED,
                    sys::SCTP_STREAM_RESET_FAILED,
                );
                if flags & sys::SCTP_STREAM_RESET_INCOMING_SSN != 0 {
                    e.post(Event::StreamsReset {
                        assoc: id,
                        direction: ResetDirection::Incoming,
                        streams: streams.clone(),
                        outcome,
                    });
                }
                if flags & sys::SCTP_STREAM_RESET_OUTGOING_SSN != 0 {
                    e.post(Event::StreamsReset {
                        assoc: id,
                        direction: ResetDirection::Outgoing,
                        streams,
                        outcome,
                    });
                }
            }
            Notification::StreamChange {
                inbound,
                outbound,
                flags,
            } => {
                let outcome = outcome(
                    flags,
                    sys::SCTP_STREAM_CHANGE_DENIED,
                    sys::SCTP_STREAM_CHANGE_FAILED,
                );
                debug!(assoc = %id, inbound, outbound, ?outcome, "streams changed");
                // Sends may use the new streams from here on (before the owner hears of it).
                e.shared.set_outbound_streams(outbound);
                super::stats::refresh(id, e, std::time::Instant::now());
                e.post(Event::StreamsChanged {
                    assoc: id,
                    inbound,
                    outbound,
                    outcome,
                });
                // Our request is answered: a queued one may go now.
                self.try_adds(id);
            }
            Notification::PartialDeliveryAborted => e.inbound.abandon_message(),
            Notification::RemoteError { .. } | Notification::Other { .. } => {}
        }
    }
}
