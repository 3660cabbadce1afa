//! WebRTC data channels (RFC 8831) over an [`Association`](crate::Association), opened in band
//! with DCEP (RFC 8832) or negotiated out of band.
//!
//! A [`ChannelManager`] is a plain state machine that lives on the worker thread beside its
//! association. The worker hands it every [`Event`](crate::Event) of that association
//! ([`ChannelManager::handle_event`]) and pulls [`ChannelEvent`]s back
//! ([`ChannelManager::poll_event`]); its methods (`open_channel`, `send_text`, …) call the
//! association's `send` / `reset_streams`. It never blocks and spawns nothing.
//! [`DataChannels`] owns an association and its manager together, so its calls need no
//! association argument; its docs have a runnable example.
//!
//! What it does, by RFC section:
//!
//! - **Stream ids** (RFC 8832 §6): the DTLS client opens channels on even stream ids, the
//!   server on odd ones; a `DATA_CHANNEL_OPEN` from the peer on an id of our parity, on a stream
//!   already in use, or that does not parse is refused: it is not acknowledged, the stream is
//!   reset, and a [`ChannelEvent::PeerError`] says why.
//! - **DCEP** (RFC 8832 §5): OPEN and ACK, ordered and reliable, PPID 50, on the channel's own
//!   stream. The opener may send right after its OPEN; until the ACK (or any user message of
//!   the peer on that stream, which libwebrtc also takes as an ACK) it sends ordered, even on an
//!   unordered channel, so nothing can overtake the OPEN.
//! - **PPIDs** (RFC 8831 §8): 51 text, 53 binary, 56 / 57 empty text / binary; the deprecated
//!   partial PPIDs 52 / 54 are accepted on receive and reassembled until the final 51 / 53.
//! - **Closing** (RFC 8831 §6.7): a close resets our outgoing stream; the peer resets its own in
//!   return. When the peer closes, we reset ours in return. [`ChannelEvent::Closed`] comes once
//!   both directions are reset; only then is the stream id reused.
//! - **Max message size** (RFC 8841): sends larger than the smaller of the peer's
//!   `a=max-message-size` and our association's `max_message_size` are refused.
//! - **Flow control per channel** (WebRTC's `bufferedAmount`, `bufferedAmountLowThreshold`,
//!   `bufferedamountlow`; mediasoup's DataConsumer has the same): each channel's share of the
//!   association's send queue, a threshold per channel
//!   ([`ChannelManager::set_buffered_amount_low_threshold`]) and
//!   [`ChannelEvent::BufferedAmountLow`] when the channel's share falls to it. The queue is
//!   one FIFO for the whole association: a channel drains on its own only as far as its
//!   messages are ahead of others'. A message SCTP did not deliver comes back as
//!   [`ChannelEvent::SendFailed`] on the channel that sent it.
//!
//! All messages of the association must go through its manager: the per-channel buffered
//! amount is derived from the association's queue, which the manager assumes it alone fills.
//!
//! The shape of a worker's loop, with the peer behind DTLS:
//!
//! ```no_run
//! use usrsctp::datachannel::{ChannelEvent, ChannelInit, DataChannels, DtlsRole};
//! use usrsctp::{AssociationConfig, Event, Stack};
//!
//! let worker = Stack::global()?.worker()?;
//! let mut channels = DataChannels::associate(&worker, AssociationConfig::default(), DtlsRole::Client)?;
//! let chat = channels.open_channel(ChannelInit::reliable("chat")).unwrap();
//! loop {
//!     let event = worker.recv();
//!     channels.handle_event(&event);
//!     if let Event::Transmit { packet, .. } = event {
//!         // ... hand the packet to DTLS; feed the peer's packets to channels.assoc().input ...
//!     }
//!     while let Some(ev) = channels.poll_event() {
//!         match ev {
//!             ChannelEvent::Opened { channel, .. } if channel == chat => {
//!                 channels.send_text(chat, "hello").unwrap();
//!             }
//!             ChannelEvent::Message { channel, data } => println!("{channel}: {data:?}"),
//!             ChannelEvent::BufferedAmountLow { channel, .. } => { /* send more on it */ }
//!             _ => {}
//!         }
//!     }
//! }
//! # Ok::<(), usrsctp::Error>(())
//! ```

mod channels;
mod dcep;
mod manager;

use std::fmt;

pub use channels::DataChannels;
pub use dcep::{
    priority, ChannelType, DataChannelOpen, DcepError, DcepField, DcepMessage, MESSAGE_TYPE_ACK,
    MESSAGE_TYPE_OPEN, OPEN_HEADER_LEN,
};
pub use manager::ChannelManager;

use crate::error::Error;
use crate::event::{MessageId, SendFailure};

/// Our DTLS role on the connection that carries the association; it decides which stream ids
/// we may open channels on (RFC 8832 §6).
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
pub enum DtlsRole {
    /// DTLS client: even stream ids.
    Client,
    /// DTLS server: odd stream ids.
    Server,
}

impl DtlsRole {
    /// The parity (0 even, 1 odd) of the stream ids this role opens channels on.
    pub fn parity(self) -> u16 {
        match self {
            DtlsRole::Client => 0,
            DtlsRole::Server => 1,
        }
    }
}

/// A data channel, identified by its SCTP stream id (WebRTC's `RTCDataChannel.id`). An id is
/// reused only after the channel that had it is closed in both directions.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ChannelId(pub u16);

impl ChannelId {
    /// The SCTP stream id.
    pub fn stream(self) -> u16 {
        self.0
    }
}

impl fmt::Display for ChannelId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "channel#{}", self.0)
    }
}

/// Who opened a channel.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Origin {
    /// We did ([`ChannelManager::open_channel`]).
    Local,
    /// The peer did, with a `DATA_CHANNEL_OPEN`.
    Remote,
}

/// Where a channel is in its life.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum ChannelState {
    /// Created before the association is up; messages sent now are queued.
    Connecting,
    /// Usable both ways.
    Open,
    /// A stream reset is under way (ours, the peer's, or both); no more sends.
    Closing,
}

/// How to open a channel: WebRTC's `RTCDataChannelInit`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ChannelInit {
    /// The label.
    pub label: String,
    /// The sub-protocol.
    pub protocol: String,
    /// Ordering and reliability.
    pub channel_type: ChannelType,
    /// Priority ([`priority::NORMAL`] by default). Carried in DCEP; it does not change how
    /// SCTP schedules the stream.
    pub priority: u16,
    /// `Some(id)`: a negotiated channel on a stream id both sides agreed on out of band; no
    /// DCEP message is sent and any stream id below the stream limit may be used. `None`: in
    /// band, on the next free id of our DTLS role's parity.
    pub negotiated: Option<u16>,
}

impl ChannelInit {
    /// A reliable, ordered, in-band channel with this label.
    pub fn reliable(label: impl Into<String>) -> Self {
        ChannelInit {
            label: label.into(),
            protocol: String::new(),
            channel_type: ChannelType::default(),
            priority: priority::NORMAL,
            negotiated: None,
        }
    }

    /// This value with another channel type.
    pub fn with_type(mut self, channel_type: ChannelType) -> Self {
        self.channel_type = channel_type;
        self
    }

    /// This value with a sub-protocol.
    pub fn with_protocol(mut self, protocol: impl Into<String>) -> Self {
        self.protocol = protocol.into();
        self
    }

    /// This value with a priority.
    pub fn with_priority(mut self, priority: u16) -> Self {
        self.priority = priority;
        self
    }

    /// This value as a negotiated channel on stream `id`.
    pub fn negotiated(mut self, id: u16) -> Self {
        self.negotiated = Some(id);
        self
    }
}

/// What is known about a channel.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ChannelInfo {
    /// Its id.
    pub id: ChannelId,
    /// Label.
    pub label: String,
    /// Sub-protocol.
    pub protocol: String,
    /// Ordering and reliability.
    pub channel_type: ChannelType,
    /// Priority.
    pub priority: u16,
    /// True for a negotiated (out-of-band) channel.
    pub negotiated: bool,
    /// Who opened it.
    pub origin: Origin,
    /// Where it is in its life.
    pub state: ChannelState,
    /// True once the peer acknowledged our OPEN (always true for remote and negotiated
    /// channels). Until then our messages go out ordered.
    pub acked: bool,
}

/// A message received on a channel.
#[derive(Clone, PartialEq, Eq)]
pub enum ChannelData {
    /// PPID 51 (or 56 empty, or reassembled 54 partials): UTF-8 text.
    Text(String),
    /// PPID 53 (or 57 empty, or reassembled 52 partials).
    Binary(Vec<u8>),
}

impl ChannelData {
    /// The payload bytes.
    pub fn as_bytes(&self) -> &[u8] {
        match self {
            ChannelData::Text(s) => s.as_bytes(),
            ChannelData::Binary(b) => b,
        }
    }

    /// True for text.
    pub fn is_text(&self) -> bool {
        matches!(self, ChannelData::Text(_))
    }
}

impl fmt::Debug for ChannelData {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ChannelData::Text(s) if s.len() <= 64 => write!(f, "Text({s:?})"),
            ChannelData::Text(s) => write!(f, "Text({} bytes)", s.len()),
            ChannelData::Binary(b) => write!(f, "Binary({} bytes)", b.len()),
        }
    }
}

/// What a [`ChannelManager`] reports. New kinds of events may be added: match with a `_` arm.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum ChannelEvent {
    /// A channel can carry messages: a remote one whose OPEN arrived (and was acknowledged), or
    /// a local one once the association is up.
    Opened {
        /// The channel.
        channel: ChannelId,
        /// What is known about it.
        info: ChannelInfo,
    },
    /// A message arrived.
    Message {
        /// The channel.
        channel: ChannelId,
        /// The message.
        data: ChannelData,
    },
    /// The channel is closed in both directions (or its association ended); its id may be
    /// reused.
    Closed {
        /// The channel.
        channel: ChannelId,
    },
    /// The channel's buffered amount dropped from above its `bufferedAmountLowThreshold` to at
    /// most it (WebRTC's `bufferedamountlow`; with the default threshold 0: all its queued
    /// messages were handed to SCTP), or the association's queue drained after a send on this
    /// channel got `WouldBlock`. See [`ChannelManager::set_buffered_amount_low_threshold`].
    BufferedAmountLow {
        /// The channel.
        channel: ChannelId,
        /// Its buffered amount now.
        buffered: usize,
    },
    /// A message sent on the channel was not delivered (the association's
    /// [`Event::SendFailed`](crate::Event::SendFailed), mapped back to the channel that sent
    /// it). Only messages of the channel that has this id now are reported.
    SendFailed {
        /// The channel.
        channel: ChannelId,
        /// The message, as returned by `send_text` / `send_binary`.
        message: MessageId,
        /// Why.
        reason: SendFailure,
    },
    /// The peer broke the protocol; what it sent was dropped (and, for a bad OPEN, refused by
    /// resetting the stream, RFC 8832 §6).
    PeerError(PeerError),
}

/// Something the peer sent that the manager refused.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PeerError {
    /// A PPID 50 message that is not valid DCEP.
    MalformedDcep {
        /// The stream it came on.
        stream: u16,
        /// What is wrong.
        error: DcepError,
    },
    /// A `DATA_CHANNEL_OPEN` on a stream id of our parity (RFC 8832 §6).
    OpenWrongParity {
        /// The stream.
        stream: u16,
        /// Our role.
        our_role: DtlsRole,
    },
    /// A `DATA_CHANNEL_OPEN` on a stream that already carries a channel.
    OpenOnUsedStream {
        /// The stream.
        stream: u16,
    },
    /// A `DATA_CHANNEL_ACK` on a stream where we sent no OPEN.
    UnexpectedAck {
        /// The stream.
        stream: u16,
    },
    /// A user message on a stream with no channel.
    MessageOnUnknownStream {
        /// The stream.
        stream: u16,
        /// Its PPID.
        ppid: u32,
    },
    /// A PPID that WebRTC does not define.
    UnknownPpid {
        /// The stream.
        stream: u16,
        /// The PPID.
        ppid: u32,
    },
    /// A text message (PPID 51 / 54) that is not UTF-8.
    InvalidUtf8 {
        /// The channel.
        channel: ChannelId,
    },
    /// Reassembled deprecated partial messages (PPID 52 / 54) grew past our maximum message
    /// size; the message was dropped.
    MessageTooLarge {
        /// The channel.
        channel: ChannelId,
        /// The maximum.
        max: usize,
    },
}

impl fmt::Display for PeerError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PeerError::MalformedDcep { stream, error } => {
                write!(f, "malformed DCEP message on stream {stream}: {error}")
            }
            PeerError::OpenWrongParity { stream, our_role } => write!(
                f,
                "DATA_CHANNEL_OPEN on stream {stream}, whose parity belongs to us (the DTLS \
                 {our_role:?}); RFC 8832 §6 requires the peer to use the other parity"
            ),
            PeerError::OpenOnUsedStream { stream } => write!(
                f,
                "DATA_CHANNEL_OPEN on stream {stream}, which already carries a channel"
            ),
            PeerError::UnexpectedAck { stream } => write!(
                f,
                "DATA_CHANNEL_ACK on stream {stream}, where we sent no DATA_CHANNEL_OPEN"
            ),
            PeerError::MessageOnUnknownStream { stream, ppid } => write!(
                f,
                "message with PPID {ppid} on stream {stream}, which carries no channel"
            ),
            PeerError::UnknownPpid { stream, ppid } => write!(
                f,
                "message with PPID {ppid} on stream {stream}: not a WebRTC PPID (RFC 8831 §8)"
            ),
            PeerError::InvalidUtf8 { channel } => {
                write!(f, "text message on {channel} is not valid UTF-8")
            }
            PeerError::MessageTooLarge { channel, max } => write!(
                f,
                "partial messages on {channel} grew past the maximum message size ({max} bytes)"
            ),
        }
    }
}

impl std::error::Error for PeerError {}

/// Why a [`ChannelManager`] call failed.
#[derive(Debug)]
#[non_exhaustive]
pub enum ChannelError {
    /// No channel has this id.
    UnknownChannel {
        /// The id.
        channel: ChannelId,
    },
    /// The channel is closing: no more sends.
    NotOpen {
        /// The channel.
        channel: ChannelId,
        /// Its state.
        state: ChannelState,
    },
    /// A negotiated id that already carries a channel (or is still being reset).
    StreamInUse {
        /// The stream.
        stream: u16,
    },
    /// A negotiated id at or above the number of usable streams.
    StreamOutOfRange {
        /// The stream.
        stream: u16,
        /// The number of streams usable in both directions.
        limit: u16,
    },
    /// Every stream id of our parity below the limit is in use.
    NoFreeStream {
        /// The number of streams usable in both directions.
        limit: u16,
    },
    /// The message is larger than the maximum message size.
    MessageTooLarge {
        /// The channel.
        channel: ChannelId,
        /// The message size.
        size: usize,
        /// The smaller of the peer's `a=max-message-size` and ours.
        max: usize,
    },
    /// The `DATA_CHANNEL_OPEN` cannot be encoded (a label or protocol over 65535 bytes).
    Dcep(DcepError),
    /// The association refused the operation (closed, [`Error::WouldBlock`], …).
    Sctp {
        /// The channel concerned.
        channel: ChannelId,
        /// The association's error.
        source: Error,
    },
}

impl ChannelError {
    /// True if the association's send queue is full: retry after the channel's
    /// [`ChannelEvent::BufferedAmountLow`].
    pub fn is_would_block(&self) -> bool {
        matches!(self, ChannelError::Sctp { source, .. } if source.is_would_block())
    }
}

impl fmt::Display for ChannelError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ChannelError::UnknownChannel { channel } => write!(f, "{channel} does not exist"),
            ChannelError::NotOpen { channel, state } => {
                write!(f, "{channel} is not open (state {state:?})")
            }
            ChannelError::StreamInUse { stream } => {
                write!(f, "stream {stream} already carries a data channel")
            }
            ChannelError::StreamOutOfRange { stream, limit } => write!(
                f,
                "stream {stream} is out of range: the association has {limit} streams each way"
            ),
            ChannelError::NoFreeStream { limit } => write!(
                f,
                "no free stream id of our parity below {limit} for a new data channel"
            ),
            ChannelError::MessageTooLarge { channel, size, max } => write!(
                f,
                "cannot send a {size}-byte message on {channel}: the maximum message size is \
                 {max} bytes"
            ),
            ChannelError::Dcep(e) => write!(f, "cannot encode DATA_CHANNEL_OPEN: {e}"),
            ChannelError::Sctp { channel, source } => write!(f, "{channel}: {source}"),
        }
    }
}

impl std::error::Error for ChannelError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            ChannelError::Dcep(e) => Some(e),
            ChannelError::Sctp { source, .. } => Some(source),
            _ => None,
        }
    }
}
