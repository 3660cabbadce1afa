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
    /// Asks for streams until there are at least this many each way (idempotent).
    fn grow_streams_to(&self, inbound: u16, outbound: u16) -> Result<(), Error>;
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
    fn grow_streams_to(&self, inbound: u16, outbound: u16) -> Result<(), Error> {
        Association::grow_streams_to(self, inbound, outbound)
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
    /// WebRTC `bufferedAmountLowThreshold`: `BufferedAmountLow` fires when `buffered` drops
    /// from above it to at most it.
    low_threshold: usize,
    /// The id of the first message sent on this channel (its DCEP OPEN, for an in-band one):
    /// a failure of an earlier id on the same stream belongs to an earlier channel.
    first_message: Option<MessageId>,
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
            low_threshold: 0,
            first_message: None,
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
/// and by calls of the worker that owns both. See the [module docs](super);
/// [`DataChannels`](super::DataChannels) holds a manager and its association together.
///
/// Two associations in one thread, wired to each other, each with its manager:
///
/// ```
/// use std::time::{Duration, Instant};
/// use usrsctp::datachannel::{ChannelData, ChannelEvent, ChannelInit, ChannelManager, DtlsRole};
/// use usrsctp::{AssociationConfig, Event, Stack};
///
/// let stack = Stack::global()?;
/// let (wa, wb) = (stack.worker()?, stack.worker()?);
/// let a = wa.associate(AssociationConfig { buffered_amount_low_threshold: Some(0), ..Default::default() })?;
/// let b = wb.associate(AssociationConfig { buffered_amount_low_threshold: Some(0), ..Default::default() })?;
/// let mut ma = ChannelManager::new(&a, DtlsRole::Client);
/// let mut mb = ChannelManager::new(&b, DtlsRole::Server);
/// let ch = ma.open_channel(&a, ChannelInit::reliable("chat"))?;
/// ma.send_binary(&a, ch, b"ping")?;
///
/// let deadline = Instant::now() + Duration::from_secs(10);
/// let mut got = None;
/// while got.is_none() && Instant::now() < deadline {
///     for (worker, assoc, manager, peer) in [(&wa, &a, &mut ma, &b), (&wb, &b, &mut mb, &a)] {
///         while let Some(ev) = worker.recv_timeout(Duration::from_millis(1)) {
///             if let Event::Transmit { packet, .. } = &ev {
///                 let _ = peer.input(packet.clone());
///             }
///             manager.handle_event(assoc, &ev);
///         }
///     }
///     while let Some(ev) = mb.poll_event() {
///         if let ChannelEvent::Message { data, .. } = ev {
///             got = Some(data);
///         }
///     }
/// }
/// assert_eq!(got, Some(ChannelData::Binary(b"ping".to_vec())));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct ChannelManager {
    assoc: AssocId,
    role: DtlsRole,
    remote_max_message_size: usize,
    connected: bool,
    closed: bool,
    /// The association's (incoming, outgoing) stream counts, as `Connected` and then
    /// `StreamsChanged` reported them (`None` before the handshake). A channel id must be
    /// below both (see `limit`).
    stream_counts: Option<(u16, u16)>,
    /// Local channels past the streams may ask the peer for more (`with_stream_growth`).
    grow: bool,
    /// An Add Streams request of ours is outstanding.
    growing: bool,
    /// Our Add Streams requests refused in a row (see `on_streams_changed`).
    grow_refusals: u8,
    /// A refused request waits for the next stream change to be made again (DTLS server).
    grow_deferred: bool,
    /// Local channels on ids at or above `limit`: opened, waiting for the streams their
    /// id needs (their DCEP OPEN goes out when `StreamsChanged` brings them).
    awaiting_streams: BTreeSet<u16>,
    channels: BTreeMap<u16, Channel>,
    /// Stream ids whose reset never completed: never handed out again.
    retired: BTreeSet<u16>,
    /// Streams we reset to refuse a bad OPEN, until the peer's reset in return arrives.
    refusing: BTreeSet<u16>,
    queue: VecDeque<Queued>,
    queued_bytes: usize,
    /// Channels (stream, generation) whose send got `WouldBlock` and that have not been told
    /// `BufferedAmountLow` since.
    blocked: Vec<(u16, u64)>,
    /// Channels whose `BufferedAmountLow` is due, in the order they became due.
    low_due: Vec<u16>,
    next_generation: u64,
    events: VecDeque<ChannelEvent>,
}

/// The DCEP OPEN that announces a local channel (RFC 8832 §5.1).
fn dcep_open(info: &ChannelInfo) -> DcepMessage {
    DcepMessage::Open(DataChannelOpen {
        channel_type: info.channel_type,
        priority: info.priority,
        label: info.label.clone(),
        protocol: info.protocol.clone(),
    })
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
            stream_counts: None,
            grow: false,
            growing: false,
            grow_refusals: 0,
            grow_deferred: false,
            awaiting_streams: BTreeSet::new(),
            channels: BTreeMap::new(),
            retired: BTreeSet::new(),
            refusing: BTreeSet::new(),
            queue: VecDeque::new(),
            queued_bytes: 0,
            blocked: Vec::new(),
            low_due: Vec::new(),
            next_generation: 0,
            events: VecDeque::new(),
        }
    }

    /// Sets the peer's `a=max-message-size` (RFC 8841); 0 means the peer sets no limit.
    pub fn with_remote_max_message_size(mut self, size: usize) -> Self {
        self.remote_max_message_size = if size == 0 { usize::MAX } else { size };
        self
    }

    /// Lets a local channel whose id is past the association's streams ask the peer for more
    /// (RFC 6525 Add Streams); the channel opens when they arrive. Off by default: a channel
    /// past the streams is refused (`StreamOutOfRange`, `NoFreeStream`).
    ///
    /// Turn it on only for peers known to answer such a request: usrsctp-based ones do (this
    /// crate, libdatachannel, Firefox with `media.peerconnection.sctp.use_dcsctp = false`).
    /// WebRTC does not require it, and dcsctp (the SCTP stack of Chrome, Safari and today's
    /// Firefox) never answers one: the request then stays outstanding, usrsctp retransmits it
    /// until the association fails, and no channel can be closed meanwhile (one request at a
    /// time). For more channels with any peer, raise `AssociationConfig::outbound_streams`
    /// (and `inbound_streams`) instead.
    pub fn with_stream_growth(mut self, on: bool) -> Self {
        self.grow = on;
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
    /// `MessageTooLarge`, `StreamsReset`, `BufferedAmountLow`, `SendFailed` and `Closed`, and
    /// returns true for those. Events of other associations are ignored (false).
    ///
    /// Pass `Transmit` events too (it returns false for them: the packet is still yours to
    /// carry): every event is a moment at which the manager looks at how far the association's
    /// send queue has drained, which is how it notices a channel's
    /// [`ChannelEvent::BufferedAmountLow`] as soon as it is due (see
    /// [`buffered_amount`](Self::buffered_amount)).
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
    /// SCTP (WebRTC's `bufferedAmount`, minus what SCTP itself holds unacknowledged). Payload
    /// bytes only: an empty message counts 0, DCEP messages count nothing, and the 128 bytes
    /// per message that the association's admission charges are not included.
    ///
    /// The association keeps one send queue for all streams, emptied in order, and reports its
    /// total; the manager remembers which channel queued which message and attributes the
    /// total accordingly. It is exact as long as every message of the association is sent
    /// through this manager. 0 for an unknown channel.
    ///
    /// The manager looks at the association's queue on every call and every event it is
    /// given, and reports [`ChannelEvent::BufferedAmountLow`] when a channel's amount has
    /// dropped from above its threshold to at most it. Every drain of the queue is followed by
    /// some event of the association if it was created with `buffered_amount_low_threshold:
    /// Some(0)` (then the association reports each time its queue empties), so a manager fed
    /// every event never reports late; [`DataChannels::associate`](super::DataChannels::associate)
    /// sets it so.
    pub fn buffered_amount(&mut self, assoc: &Association, channel: ChannelId) -> usize {
        self.reconcile(assoc);
        self.channels.get(&channel.0).map_or(0, |c| c.buffered)
    }

    /// Sets `channel`'s `bufferedAmountLowThreshold` (WebRTC; mediasoup's DataConsumer has the
    /// same): [`ChannelEvent::BufferedAmountLow`] is reported each time the channel's
    /// [`buffered_amount`](Self::buffered_amount) drops from above `bytes` to at most `bytes`.
    /// Every channel starts at 0, as in WebRTC: the event then comes each time the channel's
    /// queued messages have all been handed to SCTP. Setting it reports nothing by itself.
    ///
    /// After a send on the channel failed with `WouldBlock` (the association's queue is shared
    /// by all channels), the channel is also told `BufferedAmountLow` at the first drain of
    /// the association's queue that finds its amount at most its threshold, so a sender
    /// waiting to retry is always woken.
    pub fn set_buffered_amount_low_threshold(
        &mut self,
        channel: ChannelId,
        bytes: usize,
    ) -> Result<(), ChannelError> {
        let c = self
            .channels
            .get_mut(&channel.0)
            .ok_or(ChannelError::UnknownChannel { channel })?;
        c.low_threshold = bytes;
        Ok(())
    }

    /// `channel`'s `bufferedAmountLowThreshold`, if the channel exists.
    pub fn buffered_amount_low_threshold(&self, channel: ChannelId) -> Option<usize> {
        self.channels.get(&channel.0).map(|c| c.low_threshold)
    }

    // --- internals, written against `Transport` ---------------------------------------------

    /// Catches up with the association's send queue (reporting channels now low).
    pub(crate) fn refresh(&mut self, t: &dyn Transport) {
        if !self.closed {
            self.reconcile(t);
        }
    }

    fn limit(&self, t: &dyn Transport) -> u16 {
        self.stream_counts
            .map_or_else(|| t.configured_streams(), |(i, o)| i.min(o))
    }

    /// Whether a channel on `stream` can wait for Add Streams to bring its stream: only with
    /// growth on (`with_stream_growth`), once the association is up (before, the handshake's
    /// counts are not known), and within the 65,535 streams SCTP has.
    fn can_grow_to(&self, stream: u16) -> bool {
        self.grow && self.connected && stream < u16::MAX
    }

    /// Asks the peer for streams up to `stream` in both directions (RFC 6525 Add Streams),
    /// unless a request is outstanding (the next `StreamsChanged` asks again if still short).
    /// Grows at least to double the current limit, so that opening channels one by one does
    /// not cost a request each. The request names totals, so asking again after a change that
    /// was not the answer to ours (the peer's own request) asks for nothing twice.
    fn request_streams(&mut self, t: &dyn Transport, stream: u16) -> Result<(), Error> {
        if self.growing {
            return Ok(());
        }
        let (inbound, outbound) = self.stream_counts.unwrap_or((0, 0));
        let limit = inbound.min(outbound);
        let target = u32::from(stream) + 1;
        let target = target.max((2 * u32::from(limit)).min(u32::from(u16::MAX))) as u16;
        t.grow_streams_to(inbound.max(target), outbound.max(target))?;
        self.growing = true;
        Ok(())
    }

    /// Drops from our record of the association's queue the messages SCTP has taken (or that
    /// failed), charges them off their channels, and reports the channels whose buffered amount
    /// fell to their threshold.
    fn reconcile(&mut self, t: &dyn Transport) {
        let in_assoc = t.buffered_amount();
        let mut drained = false;
        while let Some(front) = self.queue.front() {
            if self.queued_bytes - front.wire_len < in_assoc {
                break;
            }
            self.queued_bytes -= front.wire_len;
            drained = true;
            if let Some(c) = self.channels.get_mut(&front.stream) {
                if c.generation == front.generation {
                    let before = c.buffered;
                    c.buffered -= front.user_len;
                    if before > c.low_threshold && c.buffered <= c.low_threshold {
                        self.low_due.push(front.stream);
                    }
                }
            }
            self.queue.pop_front();
        }
        if drained {
            self.wake_blocked();
        }
        self.report_low();
    }

    /// The association's queue drained: channels that were refused with `WouldBlock` and are
    /// at or below their threshold are due a `BufferedAmountLow` (they may retry).
    fn wake_blocked(&mut self) {
        let channels = &self.channels;
        let due = &mut self.low_due;
        self.blocked.retain(|&(stream, generation)| {
            match channels.get(&stream) {
                Some(c) if c.generation == generation => {
                    if c.buffered > c.low_threshold {
                        // Its own crossing will report it.
                        return true;
                    }
                    due.push(stream);
                    false
                }
                // That channel is gone.
                _ => false,
            }
        });
    }

    fn report_low(&mut self) {
        if self.low_due.is_empty() {
            return;
        }
        let mut due = std::mem::take(&mut self.low_due);
        let mut seen = BTreeSet::new();
        for stream in due.drain(..) {
            let Some(c) = self.channels.get(&stream) else {
                continue;
            };
            if !seen.insert(stream) {
                continue;
            }
            let generation = c.generation;
            self.blocked
                .retain(|&(s, g)| !(s == stream && g == generation));
            self.events.push_back(ChannelEvent::BufferedAmountLow {
                channel: ChannelId(stream),
                buffered: c.buffered,
            });
        }
        // Keep the allocation.
        self.low_due = due;
    }

    /// Records that a send on `stream` was refused for a full queue.
    fn note_blocked(&mut self, stream: u16) {
        if let Some(c) = self.channels.get(&stream) {
            let key = (stream, c.generation);
            if !self.blocked.contains(&key) {
                self.blocked.push(key);
            }
        }
    }

    /// Notes that message `id` went out on `stream`'s current channel.
    fn note_sent(&mut self, stream: u16, id: MessageId) {
        if let Some(c) = self.channels.get_mut(&stream) {
            c.first_message.get_or_insert(id);
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
        let id = t
            .send(stream, ppid::DCEP, bytes, SendOptions::reliable())
            .map_err(|source| ChannelError::Sctp {
                channel: ChannelId(stream),
                source,
            })?;
        self.note_sent(stream, id);
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
                if stream >= limit && !self.can_grow_to(stream) {
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
            // The lowest free id of our parity; past the streams we have, one that Add Streams
            // can bring.
            None => (self.role.parity()..u16::MAX)
                .step_by(2)
                .find(|s| {
                    !self.channels.contains_key(s)
                        && !self.retired.contains(s)
                        && !self.refusing.contains(s)
                })
                .filter(|&s| s < limit || self.can_grow_to(s))
                .ok_or(ChannelError::NoFreeStream { limit })?,
        };
        let awaiting = stream >= limit;
        if awaiting {
            self.request_streams(t, stream)
                .map_err(|source| ChannelError::Sctp {
                    channel: ChannelId(stream),
                    source,
                })?;
        }
        let negotiated = init.negotiated.is_some();
        let info = ChannelInfo {
            id: ChannelId(stream),
            label: init.label,
            protocol: init.protocol,
            channel_type: init.channel_type,
            priority: init.priority,
            negotiated,
            origin: Origin::Local,
            state: if self.connected && !awaiting {
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
        if awaiting {
            self.awaiting_streams.insert(stream);
            return Ok(ChannelId(stream));
        }
        if !negotiated {
            if let Err(e) = self.send_dcep(t, stream, &dcep_open(&info)) {
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
        self.reconcile(t);
        let c = self
            .channels
            .get(&channel.0)
            .ok_or(ChannelError::UnknownChannel { channel })?;
        if c.info.state == ChannelState::Closing || self.awaiting_streams.contains(&channel.0) {
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
            self.note_blocked(channel.0);
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
        let id = match t.send(channel.0, ppid, data, options) {
            Ok(id) => id,
            Err(source) => {
                if source.is_would_block() {
                    self.note_blocked(channel.0);
                }
                return Err(ChannelError::Sctp { channel, source });
            }
        };
        self.note_sent(channel.0, id);
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
        /// Stream totals asked for: (inbound, outbound).
        adds: RefCell<Vec<(u16, u16)>>,
        /// The id of the last message accepted (ids start at 1, as the association's do).
        last_id: Cell<u32>,
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
            self.last_id.set(self.last_id.get() + 1);
            Ok(MessageId(self.last_id.get()))
        }
        fn reset_streams(&self, streams: &[u16]) -> Result<(), Error> {
            self.resets.borrow_mut().extend_from_slice(streams);
            Ok(())
        }
        fn grow_streams_to(&self, inbound: u16, outbound: u16) -> Result<(), Error> {
            self.adds.borrow_mut().push((inbound, outbound));
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

    /// A manager whose association is up with 16 streams each way, stream growth on.
    fn connected(role: DtlsRole) -> (Recorder, ChannelManager) {
        connected_growing(role, true)
    }

    fn connected_growing(role: DtlsRole, grow: bool) -> (Recorder, ChannelManager) {
        let t = Recorder::default();
        let mut m = ChannelManager::for_transport(&t, role).with_stream_growth(grow);
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

    /// A connected client manager with negotiated channels "a" (stream 0) and "b" (stream 2).
    fn two_negotiated_channels() -> (Recorder, ChannelManager, ChannelId, ChannelId) {
        let (t, mut m) = connected(DtlsRole::Client);
        let a = m
            .open(&t, ChannelInit::reliable("a").negotiated(0))
            .unwrap();
        let b = m
            .open(&t, ChannelInit::reliable("b").negotiated(2))
            .unwrap();
        (t, m, a, b)
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
        // The ninth waits for more streams (Add Streams), on the next odd id.
        assert_eq!(
            server.open(&t, ChannelInit::reliable("ninth")).unwrap(),
            ChannelId(17)
        );
        assert_eq!(*t.adds.borrow(), [(32, 32)]);
        // Without stream growth (the default), the ninth is refused and nothing is asked.
        let (t, mut server) = connected_growing(DtlsRole::Server, false);
        for _ in 0..8 {
            server.open(&t, ChannelInit::reliable("one")).unwrap();
        }
        assert!(matches!(
            server.open(&t, ChannelInit::reliable("ninth")),
            Err(ChannelError::NoFreeStream { limit: 16 })
        ));
        assert!(t.adds.borrow().is_empty());
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

    /// Opens `n` in-band channels "c0", "c1", … and takes the events.
    fn open_many(t: &Recorder, m: &mut ChannelManager, n: usize) -> Vec<ChannelId> {
        let ids = (0..n)
            .map(|i| m.open(t, ChannelInit::reliable(format!("c{i}"))).unwrap())
            .collect();
        events(m);
        ids
    }

    #[test]
    fn a_channel_past_the_stream_limit_waits_for_add_streams_then_opens() {
        // 16 streams each way: a client has the even ids 0..=14, eight channels.
        let (t, mut m) = connected(DtlsRole::Client);
        open_many(&t, &mut m, 8);
        assert!(t.adds.borrow().is_empty());
        let sent_before = t.sent.borrow().len();
        let ninth = m.open(&t, ChannelInit::reliable("ninth")).unwrap();
        assert_eq!(ninth, ChannelId(16));
        // Streams asked for both ways, up to double the limit; nothing sent on 16 yet.
        assert_eq!(*t.adds.borrow(), [(32, 32)]);
        assert_eq!(t.sent.borrow().len(), sent_before);
        assert_eq!(m.channel(ninth).unwrap().state, ChannelState::Connecting);
        assert!(
            events(&mut m).is_empty(),
            "no Opened before the streams exist"
        );
        assert!(matches!(
            m.send_user(&t, ninth, ppid::BINARY, vec![1]),
            Err(ChannelError::NotOpen { .. })
        ));
        // A tenth while the request is outstanding asks nothing more.
        let tenth = m.open(&t, ChannelInit::reliable("tenth")).unwrap();
        assert_eq!(tenth, ChannelId(18));
        assert_eq!(t.adds.borrow().len(), 1);
        changed(&mut m, &t, (32, 32), ResetOutcome::Performed);
        // Both OPENs go out, in id order, and both channels open.
        let sent = t.sent.borrow();
        let opens: Vec<u16> = sent[sent_before..]
            .iter()
            .filter(|s| s.1 == ppid::DCEP)
            .map(|s| s.0)
            .collect();
        assert_eq!(opens, [16, 18]);
        drop(sent);
        let opened: Vec<ChannelId> = events(&mut m)
            .into_iter()
            .filter_map(|e| match e {
                ChannelEvent::Opened { channel, .. } => Some(channel),
                _ => None,
            })
            .collect();
        assert_eq!(opened, [ninth, tenth]);
        assert!(m.send_user(&t, ninth, ppid::BINARY, vec![1]).is_ok());
    }

    /// The association reports its stream counts (incoming, outgoing) changed.
    fn changed(m: &mut ChannelManager, t: &Recorder, counts: (u16, u16), outcome: ResetOutcome) {
        m.handle(
            t,
            &Event::StreamsChanged {
                assoc: ASSOC,
                inbound: counts.0,
                outbound: counts.1,
                outcome,
            },
        );
    }

    /// Our request was refused; the counts stay at 16.
    fn refused(m: &mut ChannelManager, t: &Recorder) {
        changed(m, t, (16, 16), ResetOutcome::Denied);
    }

    #[test]
    fn a_client_asks_again_after_a_refusal_and_gives_up_after_three() {
        let (t, mut m) = connected(DtlsRole::Client);
        open_many(&t, &mut m, 8);
        let ninth = m.open(&t, ChannelInit::reliable("ninth")).unwrap();
        let far = m
            .open(&t, ChannelInit::reliable("far").negotiated(40_000))
            .unwrap();
        // A refusal may be a crossing request of the peer's ("in progress"): asked again.
        for asked in 2..=3 {
            refused(&mut m, &t);
            assert!(events(&mut m).is_empty());
            assert_eq!(t.adds.borrow().len(), asked);
        }
        refused(&mut m, &t);
        assert_eq!(t.adds.borrow().len(), 3);
        assert_eq!(
            events(&mut m),
            [
                ChannelEvent::Closed { channel: ninth },
                ChannelEvent::Closed { channel: far }
            ]
        );
        assert!(m.channel(ninth).is_none() && m.channel(far).is_none());
        // The id is free again; the next open asks again.
        assert_eq!(m.open(&t, ChannelInit::reliable("again")).unwrap(), ninth);
        assert_eq!(t.adds.borrow().len(), 4);
    }

    #[test]
    fn a_server_asks_again_only_after_the_next_stream_change() {
        let (t, mut m) = connected(DtlsRole::Server);
        let far = m
            .open(&t, ChannelInit::reliable("far").negotiated(100))
            .unwrap();
        assert_eq!(t.adds.borrow().len(), 1);
        // Refused (both sides asked at once): the server waits, so the two do not cross again.
        refused(&mut m, &t);
        assert_eq!(t.adds.borrow().len(), 1);
        // The client's request lands (streams grown to 64, short of 100): now it asks again.
        changed(&mut m, &t, (64, 64), ResetOutcome::Performed);
        assert_eq!(t.adds.borrow().len(), 2);
        changed(&mut m, &t, (128, 128), ResetOutcome::Performed);
        assert!(matches!(
            events(&mut m)[..],
            [ChannelEvent::Opened { channel, .. }] if channel == far
        ));
    }

    #[test]
    fn a_grant_short_of_a_waiting_channel_asks_again() {
        let (t, mut m) = connected(DtlsRole::Client);
        let far = m
            .open(&t, ChannelInit::reliable("far").negotiated(100))
            .unwrap();
        assert_eq!(*t.adds.borrow(), [(101, 101)], "up to id 100 both ways");
        // The peer grew only to 64 (say another request of its own crossed ours).
        changed(&mut m, &t, (64, 64), ResetOutcome::Performed);
        assert!(events(&mut m).is_empty());
        // Asked again, up to double the new limit.
        assert_eq!(t.adds.borrow()[1], (128, 128));
        changed(&mut m, &t, (128, 128), ResetOutcome::Performed);
        assert!(matches!(
            events(&mut m)[..],
            [ChannelEvent::Opened { channel, .. }] if channel == far
        ));
    }

    #[test]
    fn no_stream_is_asked_for_before_the_handshake_or_past_65535() {
        let t = Recorder::default();
        let mut m = ChannelManager::for_transport(&t, DtlsRole::Client);
        assert!(matches!(
            m.open(&t, ChannelInit::reliable("x").negotiated(16)),
            Err(ChannelError::StreamOutOfRange { stream: 16, .. })
        ));
        let (t, mut m) = connected(DtlsRole::Client);
        assert!(matches!(
            m.open(&t, ChannelInit::reliable("x").negotiated(u16::MAX)),
            Err(ChannelError::StreamOutOfRange { .. })
        ));
        assert!(t.adds.borrow().is_empty());
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
        let mut m = ChannelManager::for_transport(&t, DtlsRole::Client).with_stream_growth(true);
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
        // Past the 8 streams usable both ways, once connected: streams are asked for (totals
        // of double the limit each way; the outgoing 16 already suffice); the channel waits.
        let nine = m
            .open(&t, ChannelInit::reliable("n").negotiated(9))
            .unwrap();
        assert_eq!(*t.adds.borrow(), [(16, 16)]);
        assert_eq!(m.channel(nine).unwrap().state, ChannelState::Connecting);
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
        let (t, mut m, a, b) = two_negotiated_channels();
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
    fn transmit() -> Event {
        Event::Transmit {
            assoc: ASSOC,
            packet: vec![0; 12],
        }
    }

    fn send_failed(message: MessageId, stream: u16, ppid: u32) -> Event {
        Event::SendFailed {
            assoc: ASSOC,
            message,
            stream,
            ppid,
            reason: crate::event::SendFailure::Abandoned { sent: false },
        }
    }

    fn low(channel: u16, buffered: usize) -> ChannelEvent {
        ChannelEvent::BufferedAmountLow {
            channel: ChannelId(channel),
            buffered,
        }
    }

    #[test]
    fn buffered_amount_low_fires_per_channel_when_it_crosses_its_threshold() {
        let (t, mut m, a, b) = two_negotiated_channels();
        events(&mut m);
        m.set_buffered_amount_low_threshold(a, 100).unwrap();
        assert_eq!(m.buffered_amount_low_threshold(a), Some(100));
        assert_eq!(
            m.buffered_amount_low_threshold(b),
            Some(0),
            "WebRTC's default"
        );
        m.send_user(&t, a, ppid::BINARY, vec![0; 150]).unwrap();
        m.send_user(&t, b, ppid::BINARY, vec![0; 30]).unwrap();
        m.send_user(&t, a, ppid::BINARY, vec![0; 50]).unwrap();
        assert!(events(&mut m).is_empty(), "nothing drained yet");
        // SCTP takes a's first message: a drops from 200 to 50, below its threshold of 100;
        // b has not moved.
        t.buffered.set(80);
        assert!(
            !m.handle(&t, &transmit()),
            "a Transmit is left to the caller"
        );
        assert_eq!(events(&mut m), [low(0, 50)]);
        // b's message goes: b drops from 30 to 0 (threshold 0).
        t.buffered.set(50);
        m.handle(&t, &transmit());
        assert_eq!(events(&mut m), [low(2, 0)]);
        // a's last message: 50 -> 0 was never above 100, so no second event for a.
        t.buffered.set(0);
        m.handle(&t, &transmit());
        assert!(events(&mut m).is_empty());
        // Raising the threshold over the amount reports nothing by itself, and a drain that
        // starts at or below the threshold is not a crossing.
        m.send_user(&t, b, ppid::BINARY, vec![0; 40]).unwrap();
        m.set_buffered_amount_low_threshold(b, 1000).unwrap();
        t.buffered.set(0);
        m.handle(&t, &transmit());
        assert!(events(&mut m).is_empty());
        // Both cross in one look: reported in queue order, each once.
        m.set_buffered_amount_low_threshold(b, 0).unwrap();
        m.send_user(&t, b, ppid::BINARY, vec![0; 10]).unwrap();
        m.send_user(&t, a, ppid::BINARY, vec![0; 101]).unwrap();
        m.send_user(&t, b, ppid::BINARY, vec![0; 10]).unwrap();
        t.buffered.set(0);
        m.reconcile(&t);
        assert_eq!(m.channels[&0].buffered, 0);
        assert_eq!(events(&mut m), [low(0, 0), low(2, 0)]);
        assert!(matches!(
            m.set_buffered_amount_low_threshold(ChannelId(7), 1),
            Err(ChannelError::UnknownChannel { .. })
        ));
    }

    #[test]
    fn a_channel_refused_with_would_block_is_told_at_the_next_drain() {
        let (t, mut m, a, b) = two_negotiated_channels();
        events(&mut m);
        m.set_buffered_amount_low_threshold(b, 1000).unwrap();
        m.send_user(&t, b, ppid::BINARY, vec![0; 100]).unwrap();
        // The association's queue is full (b's bytes, and per-message overhead): a is refused
        // with nothing of its own queued, so no crossing of a's threshold will ever come.
        t.refuse_sends.set(true);
        let err = m.send_user(&t, a, ppid::BINARY, vec![1]).unwrap_err();
        assert!(err.is_would_block(), "{err}");
        t.refuse_sends.set(false);
        // b's message leaves the queue: b was never above its threshold, but a is told.
        t.buffered.set(0);
        m.handle(&t, &transmit());
        assert_eq!(events(&mut m), [low(0, 0)]);
        // Told once.
        m.handle(&t, &transmit());
        assert!(events(&mut m).is_empty());
        // Refused again with nothing of ours queued (another user of the association filled
        // it): the association's own BufferedAmountLow wakes the channel.
        t.refuse_sends.set(true);
        assert!(m.send_user(&t, a, ppid::BINARY, vec![1]).is_err());
        t.refuse_sends.set(false);
        m.handle(&t, &transmit());
        assert!(events(&mut m).is_empty(), "nothing drained");
        assert!(m.handle(
            &t,
            &Event::BufferedAmountLow {
                assoc: ASSOC,
                buffered: 0
            }
        ));
        assert_eq!(events(&mut m), [low(0, 0)]);
    }

    #[test]
    fn send_failed_is_mapped_to_the_channel_generation_that_sent_it() {
        let (t, mut m) = connected(DtlsRole::Client);
        let ch = m
            .open(&t, ChannelInit::reliable("first").negotiated(2))
            .unwrap();
        events(&mut m);
        let old = m.send_user(&t, ch, ppid::BINARY, vec![1]).unwrap();
        // While the channel is still there (closing), its failure is reported.
        m.close(&t, ch).unwrap();
        assert!(m.handle(&t, &send_failed(old, 2, ppid::BINARY)));
        assert_eq!(
            events(&mut m),
            [ChannelEvent::SendFailed {
                channel: ch,
                message: old,
                reason: crate::event::SendFailure::Abandoned { sent: false },
            }]
        );
        m.handle(&t, &reset(ResetDirection::Outgoing, 2));
        m.handle(&t, &reset(ResetDirection::Incoming, 2));
        assert_eq!(events(&mut m), [ChannelEvent::Closed { channel: ch }]);
        // The same stream carries a new channel.
        let again = m
            .open(&t, ChannelInit::reliable("second").negotiated(2))
            .unwrap();
        assert_eq!(again, ch);
        events(&mut m);
        // Before the new channel has sent anything, and after: a late failure of the first
        // channel's message is not the new channel's.
        assert!(m.handle(&t, &send_failed(old, 2, ppid::BINARY)));
        let new = m.send_user(&t, again, ppid::STRING, b"x".to_vec()).unwrap();
        assert!(m.handle(&t, &send_failed(old, 2, ppid::BINARY)));
        assert!(events(&mut m).is_empty(), "an earlier channel's message");
        m.handle(&t, &send_failed(new, 2, ppid::STRING));
        assert_eq!(
            events(&mut m),
            [ChannelEvent::SendFailed {
                channel: again,
                message: new,
                reason: crate::event::SendFailure::Abandoned { sent: false },
            }]
        );
        // DCEP messages are the manager's own, not reported as a user message.
        let inband = m.open(&t, ChannelInit::reliable("in band")).unwrap();
        events(&mut m);
        let open_id = MessageId(t.last_id.get());
        assert_eq!(t.sent.borrow().last().unwrap().1, ppid::DCEP);
        m.handle(&t, &send_failed(open_id, inband.0, ppid::DCEP));
        // Nor are failures on streams with no channel.
        m.handle(&t, &send_failed(MessageId(1), 9, ppid::BINARY));
        assert!(events(&mut m).is_empty());
    }
}
