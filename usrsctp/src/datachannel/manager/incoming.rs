//! The manager's reactions to its association's events: the handshake, DCEP, user messages,
//! stream resets in both directions, and the end of the association.

use super::super::dcep::{DcepMessage, MESSAGE_TYPE_OPEN};
use super::super::{
    ChannelData, ChannelEvent, ChannelId, ChannelInfo, ChannelState, Origin, PeerError,
};
use super::{Channel, ChannelManager, Transport, RESET_ATTEMPTS};

/// Add Streams requests refused in a row before the channels waiting for them are closed.
const GROW_REFUSALS: u8 = 3;
use crate::event::{ppid, Event, MessageId, ResetDirection, ResetOutcome, SendFailure};

impl ChannelManager {
    pub(crate) fn handle(&mut self, t: &dyn Transport, event: &Event) -> bool {
        if event.assoc() != self.assoc || self.closed {
            return false;
        }
        match event {
            Event::Connected {
                outbound_streams,
                inbound_streams,
                ..
            } => {
                self.stream_counts = Some((*inbound_streams, *outbound_streams));
                self.on_connected((*outbound_streams).min(*inbound_streams));
                true
            }
            Event::StreamsChanged {
                inbound,
                outbound,
                outcome,
                ..
            } => {
                self.on_streams_changed(t, *inbound, *outbound, *outcome);
                true
            }
            Event::Message { message, .. } => {
                self.reconcile(t);
                self.on_message(t, message.stream, message.ppid, &message.data);
                true
            }
            Event::MessageTooLarge { stream, max, .. } => {
                let error = if self.channels.contains_key(stream) {
                    PeerError::MessageTooLarge {
                        channel: ChannelId(*stream),
                        max: *max,
                    }
                } else {
                    PeerError::MessageOnUnknownStream {
                        stream: *stream,
                        ppid: 0,
                    }
                };
                self.peer_error(error);
                true
            }
            Event::StreamsReset {
                direction,
                streams,
                outcome,
                ..
            } => {
                self.reconcile(t);
                let streams: Vec<u16> = if streams.is_empty() {
                    self.channels.keys().copied().collect()
                } else {
                    streams.clone()
                };
                for stream in streams {
                    match direction {
                        ResetDirection::Incoming => self.on_incoming_reset(t, stream),
                        ResetDirection::Outgoing => self.on_outgoing_reset(t, stream, *outcome),
                    }
                }
                true
            }
            Event::BufferedAmountLow { .. } => {
                self.reconcile(t);
                // The association's own wake-up after a WouldBlock: whatever our record of the
                // queue says, a channel that was refused may try again.
                self.wake_blocked();
                self.report_low();
                self.flush_owed_acks(t, None);
                true
            }
            Event::SendFailed {
                message,
                stream,
                ppid,
                reason,
                ..
            } => {
                self.reconcile(t);
                self.on_send_failed(*message, *stream, *ppid, *reason);
                true
            }
            Event::Closed { .. } => {
                self.closed = true;
                for stream in std::mem::take(&mut self.channels).into_keys() {
                    self.events.push_back(ChannelEvent::Closed {
                        channel: ChannelId(stream),
                    });
                }
                self.awaiting_streams.clear();
                self.queue.clear();
                self.queued_bytes = 0;
                self.blocked.clear();
                self.low_due.clear();
                true
            }
            // Concerns no association (filtered out above by its id); for exhaustiveness.
            Event::User { .. } => false,
            Event::Transmit { .. } => {
                // Not ours to act on, but a moment to see how far the send queue has drained.
                self.reconcile(t);
                false
            }
            // Events of the association alone (figures asked for by its owner, ...).
            _ => false,
        }
    }

    /// Maps a failed message back to its channel: the channel now on `stream`, if the message
    /// is one of its own (its id is not older than the channel's first message; ids grow by
    /// one per message of the association, wrapping after 2³², so this holds while fewer than
    /// 2³¹ messages separate the two). A message of an earlier channel on the same stream is
    /// not reported: that channel's `Closed` was its last event.
    fn on_send_failed(&mut self, message: MessageId, stream: u16, ppid: u32, reason: SendFailure) {
        let Some(c) = self.channels.get(&stream) else {
            tracing::debug!(assoc = %self.assoc, stream, message = message.get(), ?reason, "send failed on a stream with no channel");
            return;
        };
        let ours = c
            .first_message
            .is_some_and(|first| message.get().wrapping_sub(first.get()) < 1 << 31);
        if !ours {
            tracing::debug!(assoc = %self.assoc, stream, message = message.get(), ?reason, "send failed for an earlier channel on this stream");
            return;
        }
        if ppid == ppid::DCEP {
            // The peer may never learn of the channel; the association is most likely ending,
            // and its Closed will close the channel.
            tracing::debug!(assoc = %self.assoc, stream, ?reason, "a DCEP message was not delivered");
            return;
        }
        self.events.push_back(ChannelEvent::SendFailed {
            channel: ChannelId(stream),
            message,
            reason,
        });
    }

    fn on_connected(&mut self, limit: u16) {
        self.connected = true;
        let streams: Vec<u16> = self.channels.keys().copied().collect();
        for stream in streams {
            let Some(c) = self.channels.get_mut(&stream) else {
                continue;
            };
            if c.info.state != ChannelState::Connecting {
                continue;
            }
            if stream >= limit {
                // The peer granted fewer streams than we configured: the channel cannot exist.
                tracing::warn!(assoc = %self.assoc, stream, limit, "channel above the negotiated stream count; closed");
                self.forget(stream);
                continue;
            }
            c.info.state = ChannelState::Open;
            self.events.push_back(ChannelEvent::Opened {
                channel: ChannelId(stream),
                info: c.info.clone(),
            });
        }
    }

    /// The association's stream counts changed (either side's Add Streams), or our request
    /// was answered: channels waiting for streams now below the limit open (their DCEP OPEN
    /// goes out); those still past it ask again.
    ///
    /// A refusal is not final: when both sides ask at once, usrsctp answers each request with
    /// "in progress", which its notification reports as denied or failed. The DTLS client asks
    /// again at once; the server waits for the next stream change (the client's request
    /// landing), so the two do not cross again. After `GROW_REFUSALS` refusals in a row the
    /// waiting channels are closed.
    fn on_streams_changed(
        &mut self,
        t: &dyn Transport,
        inbound: u16,
        outbound: u16,
        outcome: ResetOutcome,
    ) {
        self.stream_counts = Some((inbound, outbound));
        let limit = inbound.min(outbound);
        let ours = std::mem::replace(&mut self.growing, false);
        let deferred = std::mem::replace(&mut self.grow_deferred, false);
        let refused = ours && outcome != ResetOutcome::Performed;
        if refused {
            self.grow_refusals += 1;
        } else if ours {
            self.grow_refusals = 0;
        }
        let waiting: Vec<u16> = self.awaiting_streams.iter().copied().collect();
        for stream in waiting {
            if stream < limit {
                self.awaiting_streams.remove(&stream);
                self.open_awaited(t, stream);
                continue;
            }
            let give_up = self.grow_refusals >= GROW_REFUSALS;
            if !give_up && refused && self.role == crate::datachannel::DtlsRole::Server && !deferred
            {
                self.grow_deferred = true;
                continue;
            }
            if give_up || self.request_streams(t, stream).is_err() {
                tracing::warn!(assoc = %self.assoc, stream, limit, ?outcome, "the peer did not add the streams a channel needs; closed");
                self.forget(stream);
            }
        }
    }

    /// A channel whose stream has just been added: its DCEP OPEN (unless negotiated), then
    /// `Opened`.
    fn open_awaited(&mut self, t: &dyn Transport, stream: u16) {
        let Some(c) = self.channels.get(&stream) else {
            return;
        };
        if !c.info.negotiated {
            let open = super::dcep_open(&c.info);
            if let Err(error) = self.send_dcep(t, stream, &open) {
                tracing::warn!(assoc = %self.assoc, stream, %error, "could not send the OPEN of a channel; closed");
                self.forget(stream);
                return;
            }
        }
        if let Some(c) = self.channels.get_mut(&stream) {
            c.info.state = ChannelState::Open;
            self.events.push_back(ChannelEvent::Opened {
                channel: ChannelId(stream),
                info: c.info.clone(),
            });
        }
    }

    fn peer_error(&mut self, error: PeerError) {
        tracing::debug!(assoc = %self.assoc, %error, "data channel peer error");
        self.events.push_back(ChannelEvent::PeerError(error));
    }

    fn on_message(&mut self, t: &dyn Transport, stream: u16, ppid: u32, data: &[u8]) {
        match ppid {
            ppid::DCEP => self.on_dcep(t, stream, data),
            ppid::STRING
            | ppid::BINARY
            | ppid::STRING_EMPTY
            | ppid::BINARY_EMPTY
            | ppid::STRING_PARTIAL
            | ppid::BINARY_PARTIAL => self.on_user_message(t, stream, ppid, data),
            other => self.peer_error(PeerError::UnknownPpid {
                stream,
                ppid: other,
            }),
        }
    }

    /// Refuses a bad OPEN (RFC 8832 §6): no ACK, and the stream is reset.
    fn refuse_open(&mut self, t: &dyn Transport, stream: u16, error: PeerError) {
        self.peer_error(error);
        if let Some(c) = self.channels.get_mut(&stream) {
            // The stream carries a channel: RFC 8832 §6 says to close it.
            if !c.out_reset_requested {
                c.info.state = ChannelState::Closing;
                c.out_reset_requested = true;
                c.reset_attempts = 1;
                if let Err(e) = t.reset_streams(&[stream]) {
                    tracing::debug!(assoc = %self.assoc, stream, error = %e, "reset refused");
                }
            }
        } else if stream < self.limit(t) && self.refusing.insert(stream) {
            if let Err(e) = t.reset_streams(&[stream]) {
                tracing::debug!(assoc = %self.assoc, stream, error = %e, "reset refused");
                self.refusing.remove(&stream);
            }
        }
    }

    fn on_dcep(&mut self, t: &dyn Transport, stream: u16, data: &[u8]) {
        let msg = match DcepMessage::decode(data) {
            Ok(msg) => msg,
            Err(error) => {
                let error = PeerError::MalformedDcep { stream, error };
                // A bad OPEN is refused; anything else that does not parse is dropped.
                if data.first() == Some(&MESSAGE_TYPE_OPEN) {
                    self.refuse_open(t, stream, error);
                } else {
                    self.peer_error(error);
                }
                return;
            }
        };
        match msg {
            DcepMessage::Ack => match self.channels.get_mut(&stream) {
                Some(c) if c.info.origin == Origin::Local && !c.info.negotiated => {
                    c.info.acked = true;
                }
                _ => self.peer_error(PeerError::UnexpectedAck { stream }),
            },
            DcepMessage::Open(open) => {
                if self.channels.contains_key(&stream) || self.refusing.contains(&stream) {
                    return self.refuse_open(t, stream, PeerError::OpenOnUsedStream { stream });
                }
                if stream % 2 == self.role.parity() {
                    return self.refuse_open(
                        t,
                        stream,
                        PeerError::OpenWrongParity {
                            stream,
                            our_role: self.role,
                        },
                    );
                }
                let info = ChannelInfo {
                    id: ChannelId(stream),
                    label: open.label,
                    protocol: open.protocol,
                    channel_type: open.channel_type,
                    priority: open.priority,
                    negotiated: false,
                    origin: Origin::Remote,
                    state: ChannelState::Open,
                    acked: true,
                };
                let generation = self.next_generation;
                self.next_generation += 1;
                let mut channel = Channel::new(info.clone(), generation);
                channel.ack_owed = true;
                self.channels.insert(stream, channel);
                self.flush_owed_acks(t, Some(stream));
                self.events.push_back(ChannelEvent::Opened {
                    channel: ChannelId(stream),
                    info,
                });
            }
        }
    }

    fn on_user_message(&mut self, t: &dyn Transport, stream: u16, ppid: u32, data: &[u8]) {
        let max = t.max_message_size();
        let Some(c) = self.channels.get_mut(&stream) else {
            return self.peer_error(PeerError::MessageOnUnknownStream { stream, ppid });
        };
        let channel = ChannelId(stream);
        // A user message from the peer on our channel means it has seen our OPEN (libwebrtc
        // reasons the same way: old peers never sent an ACK).
        c.info.acked = true;
        if matches!(ppid, ppid::STRING_PARTIAL | ppid::BINARY_PARTIAL) {
            if c.partial_dropping {
                return;
            }
            if c.partial.len() + data.len() > max {
                c.partial = Vec::new();
                c.partial_dropping = true;
                return self.peer_error(PeerError::MessageTooLarge { channel, max });
            }
            c.partial.extend_from_slice(data);
            return;
        }
        if std::mem::take(&mut c.partial_dropping) {
            // The final part of a message already dropped as too large.
            return;
        }
        let mut bytes = std::mem::take(&mut c.partial);
        if bytes.len() + data.len() > max {
            return self.peer_error(PeerError::MessageTooLarge { channel, max });
        }
        bytes.extend_from_slice(data);
        let data = match ppid {
            ppid::STRING | ppid::STRING_EMPTY => match String::from_utf8(bytes) {
                Ok(s) => ChannelData::Text(s),
                Err(_) => return self.peer_error(PeerError::InvalidUtf8 { channel }),
            },
            _ => ChannelData::Binary(bytes),
        };
        self.events
            .push_back(ChannelEvent::Message { channel, data });
    }

    fn on_incoming_reset(&mut self, t: &dyn Transport, stream: u16) {
        if self.refusing.remove(&stream) {
            // The peer's answer to our refusal of its OPEN.
            return;
        }
        let Some(c) = self.channels.get_mut(&stream) else {
            return;
        };
        c.in_reset_done = true;
        c.partial.clear();
        c.info.state = ChannelState::Closing;
        if !c.out_reset_requested {
            // RFC 8831 §6.7: the peer closed; reset our side in return.
            c.out_reset_requested = true;
            c.reset_attempts = 1;
            if let Err(e) = t.reset_streams(&[stream]) {
                tracing::debug!(assoc = %self.assoc, stream, error = %e, "answering reset failed");
            }
        }
        self.maybe_finish(stream);
    }

    fn on_outgoing_reset(&mut self, t: &dyn Transport, stream: u16, outcome: ResetOutcome) {
        let Some(c) = self.channels.get_mut(&stream) else {
            return;
        };
        if !c.out_reset_requested {
            return;
        }
        match outcome {
            ResetOutcome::Performed => c.out_reset_done = true,
            _ if c.reset_attempts < RESET_ATTEMPTS => {
                c.reset_attempts += 1;
                tracing::debug!(assoc = %self.assoc, stream, ?outcome, "stream reset not performed; asking again");
                if t.reset_streams(&[stream]).is_ok() {
                    return;
                }
                self.retired.insert(stream);
                c.out_reset_done = true;
                c.in_reset_done = true;
            }
            _ => {
                tracing::warn!(assoc = %self.assoc, stream, ?outcome, "stream reset failed; stream id retired");
                self.retired.insert(stream);
                c.out_reset_done = true;
                c.in_reset_done = true;
            }
        }
        self.maybe_finish(stream);
    }

    fn maybe_finish(&mut self, stream: u16) {
        if self
            .channels
            .get(&stream)
            .is_some_and(|c| c.in_reset_done && c.out_reset_done)
        {
            self.forget(stream);
        }
    }

    /// The channel on `stream` is gone (closed both ways, or it could never exist): it is
    /// forgotten, and its owner told `Closed`.
    fn forget(&mut self, stream: u16) {
        self.channels.remove(&stream);
        self.awaiting_streams.remove(&stream);
        self.events.push_back(ChannelEvent::Closed {
            channel: ChannelId(stream),
        });
    }
}
