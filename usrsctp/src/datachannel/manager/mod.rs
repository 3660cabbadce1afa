//! The per-association channel state machine: its state, the calls of the worker that owns
//! it, and the attribution of the association's send queue to channels. Reacting to the
//! association's events is in [`incoming`].

mod incoming;

use std::collections::{BTreeMap, BTreeSet, VecDeque};

use super::dcep::{DataChannelOpen, DcepMessage};
use super::{
    ChannelError, ChannelEvent, ChannelId, ChannelInfo, ChannelInit, ChannelState, DtlsRole, Origin,
};
use crate::association::Association;
use crate::config::SendOptions;
use crate::error::Error;
use crate::event::{ppid, AssocId, Event, MessageId};

/// How often a refused or failed outgoing stream reset is asked for again before the channel
/// is given up (and its id retired for the life of the association).
const RESET_ATTEMPTS: u8 = 3;

/// RFC 8841 §6.1: without an `a=max-message-size`, the peer accepts 64 KiB messages.
const DEFAULT_REMOTE_MAX_MESSAGE_SIZE: usize = 65_536;

/// What the manager needs from an association. Implemented by [`Association`]; the unit tests
/// implement it with a recorder, so the state machine is tested without a stack.
pub(crate) trait Transport {
    fn assoc_id(&self) -> AssocId;
    fn send(
        &self,
        stream: u16,
        ppid: u32,
        data: Vec<u8>,
        options: SendOptions,
    ) -> Result<MessageId, Error>;
    fn reset_streams(&self, streams: &[u16]) -> Result<(), Error>;
    fn buffered_amount(&self) -> usize;
    fn max_message_size(&self) -> usize;
    fn configured_streams(&self) -> u16;
}

impl Transport for Association {
    fn assoc_id(&self) -> AssocId {
        self.id()
    }
    fn send(
        &self,
        stream: u16,
        ppid: u32,
        data: Vec<u8>,
        options: SendOptions,
    ) -> Result<MessageId, Error> {
        Association::send(self, stream, ppid, data, options)
    }
    fn reset_streams(&self, streams: &[u16]) -> Result<(), Error> {
        Association::reset_streams(self, streams)
    }
    fn buffered_amount(&self) -> usize {
        Association::buffered_amount(self)
    }
    fn max_message_size(&self) -> usize {
        self.config().max_message_size
    }
    fn configured_streams(&self) -> u16 {
        self.config()
            .outbound_streams
            .min(self.config().inbound_streams)
    }
}

struct Channel {
    info: ChannelInfo,
    /// Distinguishes this channel from a later one on the same stream id in the send FIFO.
    generation: u64,
    /// User bytes of this channel in the association's send queue.
    buffered: usize,
    /// A `DATA_CHANNEL_ACK` we owe the peer but could not queue yet (send queue full).
    ack_owed: bool,
    /// Deprecated partial messages (PPID 52 / 54) waiting for their final part.
    partial: Vec<u8>,
    /// The partial message grew too large: drop parts until the final one.
    partial_dropping: bool,
    out_reset_requested: bool,
    out_reset_done: bool,
    in_reset_done: bool,
    reset_attempts: u8,
}

impl Channel {
    fn new(info: ChannelInfo, generation: u64) -> Self {
        Channel {
            info,
            generation,
            buffered: 0,
            ack_owed: false,
            partial: Vec::new(),
            partial_dropping: false,
            out_reset_requested: false,
            out_reset_done: false,
            in_reset_done: false,
            reset_attempts: 0,
        }
    }
}

/// One message in the association's send queue, in queue order.
struct Queued {
    stream: u16,
    generation: u64,
    /// Bytes it occupies in the association's queue (an empty message takes one).
    wire_len: usize,
    /// Bytes it counts in the channel's buffered amount (0 for DCEP messages).
    user_len: usize,
}

/// The data channels of one association: a state machine driven by the association's events
/// and by calls of the worker that owns both. See the [module docs](super).
pub struct ChannelManager {
    assoc: AssocId,
    role: DtlsRole,
    remote_max_message_size: usize,
    connected: bool,
    closed: bool,
    /// Streams usable in both directions (negotiated at `Connected`; configured before).
    stream_limit: Option<u16>,
    channels: BTreeMap<u16, Channel>,
    /// Stream ids whose reset never completed: never handed out again.
    retired: BTreeSet<u16>,
    /// Streams we reset to refuse a bad OPEN, until the peer's reset in return arrives.
    refusing: BTreeSet<u16>,
    queue: VecDeque<Queued>,
    queued_bytes: usize,
    next_generation: u64,
    events: VecDeque<ChannelEvent>,
}

impl std::fmt::Debug for ChannelManager {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ChannelManager")
            .field("assoc", &self.assoc)
            .field("role", &self.role)
            .field("channels", &self.channels.len())
            .field("connected", &self.connected)
            .finish()
    }
}

impl ChannelManager {
    /// A manager for the channels of `assoc`, on which we play DTLS `role`. The peer's maximum
    /// message size is taken to be 64 KiB (RFC 8841's default when SDP has no
    /// `a=max-message-size`); see [`with_remote_max_message_size`](Self::with_remote_max_message_size).
    pub fn new(assoc: &Association, role: DtlsRole) -> Self {
        Self::for_transport(assoc, role)
    }

    pub(crate) fn for_transport(t: &dyn Transport, role: DtlsRole) -> Self {
        ChannelManager {
            assoc: t.assoc_id(),
            role,
            remote_max_message_size: DEFAULT_REMOTE_MAX_MESSAGE_SIZE,
            connected: false,
            closed: false,
            stream_limit: None,
            channels: BTreeMap::new(),
            retired: BTreeSet::new(),
            refusing: BTreeSet::new(),
            queue: VecDeque::new(),
            queued_bytes: 0,
            next_generation: 0,
            events: VecDeque::new(),
        }
    }

    /// Sets the peer's `a=max-message-size` (RFC 8841); 0 means the peer sets no limit.
    pub fn with_remote_max_message_size(mut self, size: usize) -> Self {
        self.remote_max_message_size = if size == 0 { usize::MAX } else { size };
        self
    }

    /// Our DTLS role.
    pub fn role(&self) -> DtlsRole {
        self.role
    }

    /// The association whose channels this manager runs.
    pub fn assoc(&self) -> AssocId {
        self.assoc
    }

    /// The largest message a channel may send: the smaller of the peer's
    /// `a=max-message-size` and the association's `max_message_size`.
    pub fn max_message_size(&self, assoc: &Association) -> usize {
        self.max_size(assoc)
    }

    fn max_size(&self, t: &dyn Transport) -> usize {
        self.remote_max_message_size.min(t.max_message_size())
    }

    /// What is known about a channel, while it exists (until its `Closed` event).
    pub fn channel(&self, channel: ChannelId) -> Option<&ChannelInfo> {
        self.channels.get(&channel.0).map(|c| &c.info)
    }

    /// The ids of the channels that exist (open, connecting or closing), in id order.
    pub fn channel_ids(&self) -> Vec<ChannelId> {
        self.channels.keys().map(|&s| ChannelId(s)).collect()
    }

    /// The next event, if any. Call it after [`handle_event`](Self::handle_event) and after
    /// calls that may produce events (`open_channel` on a connected association).
    pub fn poll_event(&mut self) -> Option<ChannelEvent> {
        self.events.pop_front()
    }

    /// Feeds one event of the association to the manager. It acts on `Connected`, `Message`,
    /// `StreamsReset`, `BufferedAmountLow` and `Closed`; others (and events of other
    /// associations) are ignored and left to the caller. Returns true if the event was one
    /// the manager acted on.
    pub fn handle_event(&mut self, assoc: &Association, event: &Event) -> bool {
        self.handle(assoc, event)
    }

    /// Opens a channel. In band (`init.negotiated == None`): picks the lowest free stream id of
    /// our DTLS role's parity and queues a `DATA_CHANNEL_OPEN`; messages may be sent at once.
    /// Negotiated: uses the given id and sends nothing. The channel is reported
    /// [`ChannelEvent::Opened`] once the association is up (at once if it already is).
    pub fn open_channel(
        &mut self,
        assoc: &Association,
        init: ChannelInit,
    ) -> Result<ChannelId, ChannelError> {
        self.open(assoc, init)
    }

    /// Sends a text message (PPID 51; PPID 56 when empty).
    pub fn send_text(
        &mut self,
        assoc: &Association,
        channel: ChannelId,
        text: &str,
    ) -> Result<MessageId, ChannelError> {
        self.send_user(assoc, channel, ppid::STRING, text.as_bytes().to_vec())
    }

    /// Sends a binary message (PPID 53; PPID 57 when empty).
    pub fn send_binary(
        &mut self,
        assoc: &Association,
        channel: ChannelId,
        data: &[u8],
    ) -> Result<MessageId, ChannelError> {
        self.send_user(assoc, channel, ppid::BINARY, data.to_vec())
    }

    /// Closes a channel: resets our outgoing stream (messages queued before are still sent).
    /// [`ChannelEvent::Closed`] follows once the peer has reset its side too. Closing a channel
    /// that is already closing does nothing.
    pub fn close_channel(
        &mut self,
        assoc: &Association,
        channel: ChannelId,
    ) -> Result<(), ChannelError> {
        self.close(assoc, channel)
    }

    /// Bytes of user messages sent on `channel` that the association has not yet handed to
    /// SCTP (WebRTC's `bufferedAmount`, minus what SCTP itself holds unacknowledged).
    ///
    /// The association keeps one send queue for all streams, emptied in order, and reports its
    /// total; the manager remembers which channel queued which message and attributes the
    /// total accordingly. It is exact as long as every message of the association is sent
    /// through this manager. 0 for an unknown channel.
    pub fn buffered_amount(&mut self, assoc: &Association, channel: ChannelId) -> usize {
        self.reconcile(assoc);
        self.channels.get(&channel.0).map_or(0, |c| c.buffered)
    }

    // --- internals, written against `Transport` ---------------------------------------------

    fn limit(&self, t: &dyn Transport) -> u16 {
        self.stream_limit.unwrap_or_else(|| t.configured_streams())
    }

    fn reconcile(&mut self, t: &dyn Transport) {
        let in_assoc = t.buffered_amount();
        while let Some(front) = self.queue.front() {
            if self.queued_bytes - front.wire_len < in_assoc {
                break;
            }
            self.queued_bytes -= front.wire_len;
            if let Some(c) = self.channels.get_mut(&front.stream) {
                if c.generation == front.generation {
                    c.buffered -= front.user_len;
                }
            }
            self.queue.pop_front();
        }
    }

    fn enqueue(&mut self, stream: u16, wire_len: usize, user_len: usize) {
        let generation = self
            .channels
            .get(&stream)
            .map_or(u64::MAX, |c| c.generation);
        if let Some(c) = self.channels.get_mut(&stream) {
            c.buffered += user_len;
        }
        self.queued_bytes += wire_len;
        self.queue.push_back(Queued {
            stream,
            generation,
            wire_len,
            user_len,
        });
    }

    fn send_dcep(
        &mut self,
        t: &dyn Transport,
        stream: u16,
        msg: &DcepMessage,
    ) -> Result<(), ChannelError> {
        let bytes = msg.encode().map_err(ChannelError::Dcep)?;
        let len = bytes.len();
        t.send(stream, ppid::DCEP, bytes, SendOptions::reliable())
            .map_err(|source| ChannelError::Sctp {
                channel: ChannelId(stream),
                source,
            })?;
        self.enqueue(stream, len, 0);
        Ok(())
    }

    /// Sends ACKs we owe; true if none is left owed on `only` (or anywhere, if `None`).
    fn flush_owed_acks(&mut self, t: &dyn Transport, only: Option<u16>) -> bool {
        let owed: Vec<u16> = self
            .channels
            .iter()
            .filter(|(s, c)| c.ack_owed && only.is_none_or(|o| o == **s))
            .map(|(s, _)| *s)
            .collect();
        for stream in owed {
            if self.send_dcep(t, stream, &DcepMessage::Ack).is_err() {
                return false;
            }
            if let Some(c) = self.channels.get_mut(&stream) {
                c.ack_owed = false;
            }
        }
        true
    }

    pub(crate) fn open(
        &mut self,
        t: &dyn Transport,
        init: ChannelInit,
    ) -> Result<ChannelId, ChannelError> {
        let limit = self.limit(t);
        let stream = match init.negotiated {
            Some(stream) => {
                if stream >= limit {
                    return Err(ChannelError::StreamOutOfRange { stream, limit });
                }
                if self.channels.contains_key(&stream)
                    || self.retired.contains(&stream)
                    || self.refusing.contains(&stream)
                {
                    return Err(ChannelError::StreamInUse { stream });
                }
                stream
            }
            None => (self.role.parity()..limit)
                .step_by(2)
                .find(|s| {
                    !self.channels.contains_key(s)
                        && !self.retired.contains(s)
                        && !self.refusing.contains(s)
                })
                .ok_or(ChannelError::NoFreeStream { limit })?,
        };
        let negotiated = init.negotiated.is_some();
        let open = DataChannelOpen {
            channel_type: init.channel_type,
            priority: init.priority,
            label: init.label,
            protocol: init.protocol,
        };
        let info = ChannelInfo {
            id: ChannelId(stream),
            label: open.label.clone(),
            protocol: open.protocol.clone(),
            channel_type: open.channel_type,
            priority: open.priority,
            negotiated,
            origin: Origin::Local,
            state: if self.connected {
                ChannelState::Open
            } else {
                ChannelState::Connecting
            },
            acked: negotiated,
        };
        let generation = self.next_generation;
        self.next_generation += 1;
        self.channels
            .insert(stream, Channel::new(info.clone(), generation));
        if !negotiated {
            if let Err(e) = self.send_dcep(t, stream, &DcepMessage::Open(open)) {
                self.channels.remove(&stream);
                return Err(e);
            }
        }
        if self.connected {
            self.events.push_back(ChannelEvent::Opened {
                channel: ChannelId(stream),
                info,
            });
        }
        Ok(ChannelId(stream))
    }

    pub(crate) fn send_user(
        &mut self,
        t: &dyn Transport,
        channel: ChannelId,
        ppid: u32,
        data: Vec<u8>,
    ) -> Result<MessageId, ChannelError> {
        let max = self.max_size(t);
        let c = self
            .channels
            .get(&channel.0)
            .ok_or(ChannelError::UnknownChannel { channel })?;
        if c.info.state == ChannelState::Closing {
            return Err(ChannelError::NotOpen {
                channel,
                state: c.info.state,
            });
        }
        if data.len() > max {
            return Err(ChannelError::MessageTooLarge {
                channel,
                size: data.len(),
                max,
            });
        }
        let mut options = c.info.channel_type.send_options();
        // RFC 8832 §6: until the ACK, user messages go ordered so none overtakes the OPEN.
        if !c.info.acked {
            options.unordered = false;
        }
        if c.ack_owed && !self.flush_owed_acks(t, Some(channel.0)) {
            // Our ACK must precede our first user message on this stream.
            return Err(ChannelError::Sctp {
                channel,
                source: Error::WouldBlock {
                    assoc: self.assoc,
                    buffered: t.buffered_amount(),
                    high_water: 0,
                },
            });
        }
        let user_len = data.len();
        let id = t
            .send(channel.0, ppid, data, options)
            .map_err(|source| ChannelError::Sctp { channel, source })?;
        self.enqueue(channel.0, user_len.max(1), user_len);
        Ok(id)
    }

    pub(crate) fn close(
        &mut self,
        t: &dyn Transport,
        channel: ChannelId,
    ) -> Result<(), ChannelError> {
        let c = self
            .channels
            .get_mut(&channel.0)
            .ok_or(ChannelError::UnknownChannel { channel })?;
        if c.out_reset_requested {
            return Ok(());
        }
        c.info.state = ChannelState::Closing;
        c.out_reset_requested = true;
        c.reset_attempts = 1;
        t.reset_streams(&[channel.0])
            .map_err(|source| ChannelError::Sctp { channel, source })
    }
}

#[cfg(test)]
mod tests {
    use std::cell::{Cell, RefCell};

    use super::*;
    use crate::datachannel::dcep::{priority, ChannelType};
    use crate::datachannel::{ChannelData, PeerError};
    use crate::event::Message;
    use crate::event::{ResetDirection, ResetOutcome};

    /// One message handed to `send`: stream, PPID, payload, options.
    type Sent = (u16, u32, Vec<u8>, SendOptions);

    /// Records what the manager asks of the association.
    #[derive(Default)]
    struct Recorder {
        sent: RefCell<Vec<Sent>>,
        resets: RefCell<Vec<u16>>,
        buffered: Cell<usize>,
        refuse_sends: Cell<bool>,
    }

    const ASSOC: AssocId = AssocId(99);

    impl Transport for Recorder {
        fn assoc_id(&self) -> AssocId {
            ASSOC
        }
        fn send(
            &self,
            stream: u16,
            ppid: u32,
            data: Vec<u8>,
            options: SendOptions,
        ) -> Result<MessageId, Error> {
            if self.refuse_sends.get() {
                return Err(Error::WouldBlock {
                    assoc: ASSOC,
                    buffered: 1,
                    high_water: 1,
                });
            }
            self.buffered.set(self.buffered.get() + data.len().max(1));
            self.sent.borrow_mut().push((stream, ppid, data, options));
            Ok(MessageId(0))
        }
        fn reset_streams(&self, streams: &[u16]) -> Result<(), Error> {
            self.resets.borrow_mut().extend_from_slice(streams);
            Ok(())
        }
        fn buffered_amount(&self) -> usize {
            self.buffered.get()
        }
        fn max_message_size(&self) -> usize {
            1000
        }
        fn configured_streams(&self) -> u16 {
            16
        }
    }

    fn connected(role: DtlsRole) -> (Recorder, ChannelManager) {
        let t = Recorder::default();
        let mut m = ChannelManager::for_transport(&t, role);
        assert!(m.handle(
            &t,
            &Event::Connected {
                assoc: ASSOC,
                outbound_streams: 16,
                inbound_streams: 16
            }
        ));
        (t, m)
    }

    fn msg(stream: u16, ppid: u32, data: &[u8]) -> Event {
        Event::Message {
            assoc: ASSOC,
            message: Message {
                stream,
                ppid,
                data: data.to_vec(),
                unordered: false,
            },
        }
    }

    fn reset(direction: ResetDirection, stream: u16) -> Event {
        Event::StreamsReset {
            assoc: ASSOC,
            direction,
            streams: vec![stream],
            outcome: ResetOutcome::Performed,
        }
    }

    fn events(m: &mut ChannelManager) -> Vec<ChannelEvent> {
        std::iter::from_fn(|| m.poll_event()).collect()
    }

    fn remote_open(stream: u16, label: &str) -> Event {
        let open = DataChannelOpen {
            label: label.into(),
            ..Default::default()
        };
        msg(stream, ppid::DCEP, &open.encode().unwrap())
    }

    #[test]
    fn ids_follow_the_dtls_role_parity() {
        let (t, mut client) = connected(DtlsRole::Client);
        let ids: Vec<u16> = (0..3)
            .map(|i| {
                client
                    .open(&t, ChannelInit::reliable(format!("c{i}")))
                    .unwrap()
                    .0
            })
            .collect();
        assert_eq!(ids, [0, 2, 4]);
        let (t, mut server) = connected(DtlsRole::Server);
        let ids: Vec<u16> = (0..3)
            .map(|i| {
                server
                    .open(&t, ChannelInit::reliable(format!("s{i}")))
                    .unwrap()
                    .0
            })
            .collect();
        assert_eq!(ids, [1, 3, 5]);
        // 16 streams: 8 odd ids in all.
        for _ in 3..8 {
            server.open(&t, ChannelInit::reliable("more")).unwrap();
        }
        assert!(matches!(
            server.open(&t, ChannelInit::reliable("one too many")),
            Err(ChannelError::NoFreeStream { limit: 16 })
        ));
    }

    #[test]
    fn in_band_open_sends_dcep_and_orders_messages_until_the_ack() {
        let (t, mut m) = connected(DtlsRole::Client);
        let init = ChannelInit::reliable("chat")
            .with_protocol("p")
            .with_priority(priority::HIGH)
            .with_type(ChannelType::PartialReliableRexmit {
                unordered: true,
                max_retransmits: 2,
            });
        let ch = m.open(&t, init).unwrap();
        let ev = events(&mut m);
        assert!(
            matches!(&ev[..], [ChannelEvent::Opened { channel, info }]
                if *channel == ch && info.origin == Origin::Local && !info.acked && info.label == "chat"),
            "{ev:?}"
        );
        m.send_user(&t, ch, ppid::STRING, b"early".to_vec())
            .unwrap();
        {
            let sent = t.sent.borrow();
            assert_eq!(sent[0].1, ppid::DCEP);
            let DcepMessage::Open(open) = DcepMessage::decode(&sent[0].2).unwrap() else {
                panic!("first message is not an OPEN")
            };
            assert_eq!(open.label, "chat");
            assert_eq!(open.priority, priority::HIGH);
            assert_eq!(
                sent[0].3,
                SendOptions::reliable(),
                "DCEP is ordered and reliable"
            );
            assert!(!sent[1].3.unordered, "ordered before the ACK");
        }
        assert!(m.handle(&t, &msg(ch.0, ppid::DCEP, &[2])));
        assert!(m.channel(ch).unwrap().acked);
        m.send_user(&t, ch, ppid::STRING, b"late".to_vec()).unwrap();
        let sent = t.sent.borrow();
        assert!(sent[2].3.unordered, "unordered after the ACK");
        assert_eq!(
            sent[2].3.reliability,
            crate::config::Reliability::MaxRetransmits(2)
        );
    }

    #[test]
    fn remote_open_is_acknowledged_and_reported() {
        let (t, mut m) = connected(DtlsRole::Client);
        m.handle(&t, &remote_open(3, "from peer"));
        let ev = events(&mut m);
        assert!(
            matches!(&ev[..], [ChannelEvent::Opened { channel: ChannelId(3), info }]
                if info.origin == Origin::Remote && info.label == "from peer"),
            "{ev:?}"
        );
        assert_eq!(
            t.sent.borrow()[0],
            (3, ppid::DCEP, vec![2], SendOptions::reliable())
        );
    }

    #[test]
    fn remote_open_on_our_parity_is_refused_with_a_reset() {
        let (t, mut m) = connected(DtlsRole::Client);
        m.handle(&t, &remote_open(4, "bad"));
        let ev = events(&mut m);
        assert_eq!(
            ev,
            [ChannelEvent::PeerError(PeerError::OpenWrongParity {
                stream: 4,
                our_role: DtlsRole::Client
            })]
        );
        assert!(t.sent.borrow().is_empty(), "no ACK");
        assert_eq!(*t.resets.borrow(), [4]);
        // The peer's reset in return completes the refusal silently; the id is free again.
        m.handle(&t, &reset(ResetDirection::Incoming, 4));
        assert!(events(&mut m).is_empty());
        assert_eq!(
            m.open(&t, ChannelInit::reliable("x").negotiated(4))
                .unwrap(),
            ChannelId(4)
        );
    }

    #[test]
    fn malformed_open_is_reported_and_refused_without_panicking() {
        let (t, mut m) = connected(DtlsRole::Server);
        let mut bytes = DataChannelOpen {
            label: "abc".into(),
            ..Default::default()
        }
        .encode()
        .unwrap();
        bytes[9] = 200; // label length past the end
        m.handle(&t, &msg(2, ppid::DCEP, &bytes));
        let ev = events(&mut m);
        assert!(
            matches!(
                &ev[..],
                [ChannelEvent::PeerError(PeerError::MalformedDcep {
                    stream: 2,
                    error: crate::datachannel::DcepError::LengthPastEnd { .. }
                })]
            ),
            "{ev:?}"
        );
        assert_eq!(*t.resets.borrow(), [2]);
        assert!(t.sent.borrow().is_empty());
        // Unknown message type: reported, nothing reset.
        m.handle(&t, &msg(6, ppid::DCEP, &[0x09]));
        let ev = events(&mut m);
        assert!(matches!(
            &ev[..],
            [ChannelEvent::PeerError(PeerError::MalformedDcep {
                stream: 6,
                error: crate::datachannel::DcepError::UnknownMessageType(9)
            })]
        ));
        assert_eq!(*t.resets.borrow(), [2]);
    }

    #[test]
    fn open_on_a_used_stream_closes_that_channel() {
        let (t, mut m) = connected(DtlsRole::Client);
        let ch = m
            .open(&t, ChannelInit::reliable("n").negotiated(5))
            .unwrap();
        events(&mut m);
        m.handle(&t, &remote_open(5, "dup"));
        assert_eq!(
            events(&mut m),
            [ChannelEvent::PeerError(PeerError::OpenOnUsedStream {
                stream: 5
            })]
        );
        assert_eq!(m.channel(ch).unwrap().state, ChannelState::Closing);
        assert_eq!(*t.resets.borrow(), [5]);
    }

    #[test]
    fn ppids_map_to_text_binary_and_empty() {
        let (t, mut m) = connected(DtlsRole::Client);
        m.handle(&t, &remote_open(1, "x"));
        events(&mut m);
        for (ppid, data) in [
            (ppid::STRING, &b"hi"[..]),
            (ppid::BINARY, &[0u8, 1][..]),
            (ppid::STRING_EMPTY, &[][..]),
            (ppid::BINARY_EMPTY, &[][..]),
        ] {
            m.handle(&t, &msg(1, ppid, data));
        }
        let data: Vec<ChannelData> = events(&mut m)
            .into_iter()
            .map(|e| match e {
                ChannelEvent::Message { data, .. } => data,
                other => panic!("{other:?}"),
            })
            .collect();
        assert_eq!(
            data,
            [
                ChannelData::Text("hi".into()),
                ChannelData::Binary(vec![0, 1]),
                ChannelData::Text(String::new()),
                ChannelData::Binary(Vec::new()),
            ]
        );
        m.handle(&t, &msg(1, 99, b"?"));
        m.handle(&t, &msg(7, ppid::BINARY, b"?"));
        m.handle(&t, &msg(1, ppid::STRING, &[0xff]));
        assert_eq!(
            events(&mut m),
            [
                ChannelEvent::PeerError(PeerError::UnknownPpid {
                    stream: 1,
                    ppid: 99
                }),
                ChannelEvent::PeerError(PeerError::MessageOnUnknownStream {
                    stream: 7,
                    ppid: ppid::BINARY
                }),
                ChannelEvent::PeerError(PeerError::InvalidUtf8 {
                    channel: ChannelId(1)
                }),
            ]
        );
    }

    #[test]
    fn deprecated_partial_ppids_are_reassembled() {
        let (t, mut m) = connected(DtlsRole::Client);
        m.handle(&t, &remote_open(1, "x"));
        events(&mut m);
        m.handle(&t, &msg(1, ppid::STRING_PARTIAL, "hé".as_bytes()));
        m.handle(&t, &msg(1, ppid::STRING_PARTIAL, b"l"));
        assert!(events(&mut m).is_empty(), "nothing until the final part");
        m.handle(&t, &msg(1, ppid::STRING, b"lo"));
        m.handle(&t, &msg(1, ppid::BINARY_PARTIAL, &[1, 2]));
        m.handle(&t, &msg(1, ppid::BINARY, &[3]));
        assert_eq!(
            events(&mut m),
            [
                ChannelEvent::Message {
                    channel: ChannelId(1),
                    data: ChannelData::Text("héllo".into())
                },
                ChannelEvent::Message {
                    channel: ChannelId(1),
                    data: ChannelData::Binary(vec![1, 2, 3])
                },
            ]
        );
        // Past the maximum message size (1000 here): dropped, reported once, then recovers.
        for _ in 0..3 {
            m.handle(&t, &msg(1, ppid::BINARY_PARTIAL, &[0; 400]));
        }
        m.handle(&t, &msg(1, ppid::BINARY, &[0; 10]));
        m.handle(&t, &msg(1, ppid::BINARY, &[7]));
        assert_eq!(
            events(&mut m),
            [
                ChannelEvent::PeerError(PeerError::MessageTooLarge {
                    channel: ChannelId(1),
                    max: 1000
                }),
                ChannelEvent::Message {
                    channel: ChannelId(1),
                    data: ChannelData::Binary(vec![7])
                },
            ]
        );
    }

    #[test]
    fn local_close_completes_after_both_resets() {
        let (t, mut m) = connected(DtlsRole::Client);
        let ch = m.open(&t, ChannelInit::reliable("x")).unwrap();
        events(&mut m);
        m.close(&t, ch).unwrap();
        assert_eq!(*t.resets.borrow(), [0]);
        assert!(matches!(
            m.send_user(&t, ch, ppid::BINARY, vec![1]),
            Err(ChannelError::NotOpen { .. })
        ));
        m.handle(&t, &reset(ResetDirection::Outgoing, 0));
        assert!(
            events(&mut m).is_empty(),
            "the peer has not reset its side yet"
        );
        m.handle(&t, &reset(ResetDirection::Incoming, 0));
        assert_eq!(events(&mut m), [ChannelEvent::Closed { channel: ch }]);
        assert_eq!(*t.resets.borrow(), [0], "no second reset");
        assert_eq!(
            m.open(&t, ChannelInit::reliable("y")).unwrap(),
            ch,
            "id reused"
        );
    }

    #[test]
    fn remote_close_is_answered_with_our_reset() {
        let (t, mut m) = connected(DtlsRole::Client);
        m.handle(&t, &remote_open(1, "x"));
        events(&mut m);
        m.handle(&t, &reset(ResetDirection::Incoming, 1));
        assert_eq!(*t.resets.borrow(), [1]);
        assert!(events(&mut m).is_empty());
        m.handle(&t, &reset(ResetDirection::Outgoing, 1));
        assert_eq!(
            events(&mut m),
            [ChannelEvent::Closed {
                channel: ChannelId(1)
            }]
        );
    }

    #[test]
    fn denied_resets_are_retried_then_the_id_is_retired() {
        let (t, mut m) = connected(DtlsRole::Client);
        let ch = m
            .open(&t, ChannelInit::reliable("x").negotiated(2))
            .unwrap();
        m.close(&t, ch).unwrap();
        for _ in 0..RESET_ATTEMPTS {
            m.handle(
                &t,
                &Event::StreamsReset {
                    assoc: ASSOC,
                    direction: ResetDirection::Outgoing,
                    streams: vec![2],
                    outcome: ResetOutcome::Denied,
                },
            );
        }
        assert_eq!(t.resets.borrow().len(), usize::from(RESET_ATTEMPTS));
        assert!(events(&mut m).contains(&ChannelEvent::Closed { channel: ch }));
        assert!(matches!(
            m.open(&t, ChannelInit::reliable("x").negotiated(2)),
            Err(ChannelError::StreamInUse { stream: 2 })
        ));
    }

    #[test]
    fn negotiated_channels_check_range_and_collisions() {
        let t = Recorder::default();
        let mut m = ChannelManager::for_transport(&t, DtlsRole::Client);
        let ch = m
            .open(&t, ChannelInit::reliable("n").negotiated(3))
            .unwrap();
        assert!(
            t.sent.borrow().is_empty(),
            "no DCEP for a negotiated channel"
        );
        assert!(
            events(&mut m).is_empty(),
            "not opened before the association is up"
        );
        assert_eq!(m.channel(ch).unwrap().state, ChannelState::Connecting);
        assert!(matches!(
            m.open(&t, ChannelInit::reliable("n").negotiated(3)),
            Err(ChannelError::StreamInUse { stream: 3 })
        ));
        assert!(matches!(
            m.open(&t, ChannelInit::reliable("n").negotiated(16)),
            Err(ChannelError::StreamOutOfRange {
                stream: 16,
                limit: 16
            })
        ));
        m.handle(
            &t,
            &Event::Connected {
                assoc: ASSOC,
                outbound_streams: 16,
                inbound_streams: 8,
            },
        );
        assert!(
            matches!(&events(&mut m)[..], [ChannelEvent::Opened { channel, .. }] if *channel == ch)
        );
        assert!(matches!(
            m.open(&t, ChannelInit::reliable("n").negotiated(9)),
            Err(ChannelError::StreamOutOfRange {
                stream: 9,
                limit: 8
            })
        ));
    }

    #[test]
    fn max_message_size_is_the_smaller_of_both_sides() {
        let t = Recorder::default();
        let mut m =
            ChannelManager::for_transport(&t, DtlsRole::Client).with_remote_max_message_size(100);
        let ch = m
            .open(&t, ChannelInit::reliable("x").negotiated(0))
            .unwrap();
        m.send_user(&t, ch, ppid::BINARY, vec![0; 100]).unwrap();
        assert!(matches!(
            m.send_user(&t, ch, ppid::BINARY, vec![0; 101]),
            Err(ChannelError::MessageTooLarge {
                size: 101,
                max: 100,
                ..
            })
        ));
        let mut m = m.with_remote_max_message_size(0);
        assert_eq!(m.max_size(&t), 1000, "0: no remote limit; ours applies");
        assert!(matches!(
            m.send_user(&t, ch, ppid::BINARY, vec![0; 1001]),
            Err(ChannelError::MessageTooLarge { max: 1000, .. })
        ));
    }

    #[test]
    fn buffered_amount_is_attributed_per_channel() {
        let (t, mut m) = connected(DtlsRole::Client);
        let a = m
            .open(&t, ChannelInit::reliable("a").negotiated(0))
            .unwrap();
        let b = m
            .open(&t, ChannelInit::reliable("b").negotiated(2))
            .unwrap();
        m.send_user(&t, a, ppid::BINARY, vec![0; 100]).unwrap();
        m.send_user(&t, b, ppid::BINARY, vec![0; 30]).unwrap();
        m.send_user(&t, a, ppid::BINARY, vec![0; 50]).unwrap();
        m.send_user(&t, b, ppid::STRING, Vec::new()).unwrap();
        assert_eq!(t.buffered.get(), 181, "the empty message takes one byte");
        m.reconcile(&t);
        assert_eq!(m.channels[&0].buffered, 150);
        assert_eq!(m.channels[&2].buffered, 30);
        // SCTP takes the first two messages.
        t.buffered.set(51);
        m.reconcile(&t);
        assert_eq!((m.channels[&0].buffered, m.channels[&2].buffered), (50, 0));
        t.buffered.set(0);
        m.reconcile(&t);
        assert_eq!((m.channels[&0].buffered, m.channels[&2].buffered), (0, 0));
        assert_eq!(m.queued_bytes, 0);
    }

    #[test]
    fn an_ack_that_cannot_be_queued_is_sent_before_the_next_message() {
        let (t, mut m) = connected(DtlsRole::Client);
        t.refuse_sends.set(true);
        m.handle(&t, &remote_open(1, "x"));
        assert!(matches!(&events(&mut m)[..], [ChannelEvent::Opened { .. }]));
        let err = m
            .send_user(&t, ChannelId(1), ppid::BINARY, vec![1])
            .unwrap_err();
        assert!(err.is_would_block(), "{err}");
        t.refuse_sends.set(false);
        m.send_user(&t, ChannelId(1), ppid::BINARY, vec![1])
            .unwrap();
        let sent = t.sent.borrow();
        assert_eq!((sent[0].1, &sent[0].2[..]), (ppid::DCEP, &[2u8][..]));
        assert_eq!(sent[1].1, ppid::BINARY);
    }

    #[test]
    fn association_close_closes_every_channel() {
        let (t, mut m) = connected(DtlsRole::Client);
        m.open(&t, ChannelInit::reliable("a")).unwrap();
        m.handle(&t, &remote_open(1, "b"));
        events(&mut m);
        m.handle(
            &t,
            &Event::Closed {
                assoc: ASSOC,
                reason: crate::event::CloseReason::AbortedByPeer,
            },
        );
        assert_eq!(
            events(&mut m),
            [
                ChannelEvent::Closed {
                    channel: ChannelId(0)
                },
                ChannelEvent::Closed {
                    channel: ChannelId(1)
                },
            ]
        );
        assert!(
            !m.handle(&t, &remote_open(3, "late")),
            "ignored after close"
        );
    }

    #[test]
    fn events_of_other_associations_are_ignored() {
        let (t, mut m) = connected(DtlsRole::Client);
        let other = Event::Message {
            assoc: AssocId(1),
            message: Message {
                stream: 1,
                ppid: ppid::DCEP,
                data: vec![2],
                unordered: false,
            },
        };
        assert!(!m.handle(&t, &other));
        assert!(events(&mut m).is_empty());
    }
}
