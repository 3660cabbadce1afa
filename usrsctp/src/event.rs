//! What a worker pulls from its mailbox: ids, messages and events.

use std::fmt;

use crate::errno::Errno;

/// The id of an association, unique for the life of the process (ids are never reused, not even
/// across stack restarts). usrsctp sees only this integer, never a pointer into Rust memory.
#[derive(Copy, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct AssocId(pub(crate) u64);

impl AssocId {
    /// The id no association has (ids start at 1): what [`Event::assoc`] says for an event
    /// that concerns none, [`Event::User`].
    pub const NONE: AssocId = AssocId(0);

    /// The numeric value.
    pub fn get(self) -> u64 {
        self.0
    }
}

impl fmt::Display for AssocId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "assoc#{}", self.0)
    }
}

impl fmt::Debug for AssocId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

/// Identifies one message given to [`Association::send`](crate::Association::send), so a
/// [`Event::SendFailed`] can say which one failed. Numbers wrap after 2³² messages.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
pub struct MessageId(pub(crate) u32);

impl MessageId {
    /// The numeric value (the SCTP send context of the message).
    pub fn get(self) -> u32 {
        self.0
    }
}

/// WebRTC payload protocol identifiers (RFC 8831 §8).
pub mod ppid {
    /// DCEP control message.
    pub const DCEP: u32 = 50;
    /// UTF-8 string.
    pub const STRING: u32 = 51;
    /// Binary, partial (deprecated).
    pub const BINARY_PARTIAL: u32 = 52;
    /// Binary.
    pub const BINARY: u32 = 53;
    /// String, partial (deprecated).
    pub const STRING_PARTIAL: u32 = 54;
    /// Empty string.
    pub const STRING_EMPTY: u32 = 56;
    /// Empty binary.
    pub const BINARY_EMPTY: u32 = 57;
}

/// A complete user message, reassembled across partial deliveries.
#[derive(Clone, PartialEq, Eq)]
pub struct Message {
    /// The stream it arrived on.
    pub stream: u16,
    /// The payload protocol identifier as sent on the wire (host byte order).
    pub ppid: u32,
    /// The payload. Empty for PPID 56/57 (their one padding byte is removed).
    pub data: Vec<u8>,
    /// True if it was sent unordered.
    pub unordered: bool,
}

impl fmt::Debug for Message {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Message")
            .field("stream", &self.stream)
            .field("ppid", &self.ppid)
            .field("len", &self.data.len())
            .field("unordered", &self.unordered)
            .finish()
    }
}

/// Which direction of a stream reset an event reports.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum ResetDirection {
    /// The peer reset its outgoing streams: our incoming streams were reset.
    Incoming,
    /// Our outgoing reset request was performed (or refused, see [`ResetOutcome`]).
    Outgoing,
}

/// The outcome of a stream reset.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum ResetOutcome {
    /// The streams were reset.
    Performed,
    /// The peer denied the request.
    Denied,
    /// The request failed.
    Failed,
}

/// Why a message handed to [`Association::send`](crate::Association::send) was not delivered.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum SendFailure {
    /// SCTP abandoned it: its partial-reliability limit ran out, or the association ended
    /// with it queued. `sent` says whether any of it had been on the wire.
    Abandoned {
        /// True if some of it had been transmitted.
        sent: bool,
    },
    /// The association closed before SCTP accepted it from our queue.
    AssociationClosed,
    /// usrsctp refused it.
    Rejected(Errno),
}

/// Why an association ended.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum CloseReason {
    /// The SHUTDOWN handshake completed (either side started it).
    Graceful,
    /// The peer sent ABORT.
    AbortedByPeer,
    /// We aborted it ([`Association::abort`](crate::Association::abort), or a graceful close
    /// that did not finish within its timeout).
    AbortedLocally,
    /// Retransmissions ran out: the peer stopped answering.
    CommunicationLost,
    /// The handshake never completed.
    ConnectFailed,
    /// The stack was shut down.
    StackShutdown,
    /// The stack thread failed (a bug of ours, caught: see [`Stack::failure`](crate::Stack::failure)).
    StackFailed,
    /// usrsctp refused to set the association up ([`Worker::associate`](crate::Worker::associate)
    /// returns at once; this is how a failure of the socket setup arrives).
    SetupFailed {
        /// The usrsctp call that failed.
        op: &'static str,
        /// Its error.
        errno: Errno,
    },
}

/// Everything an association reports to the worker that owns it. New kinds of events may be
/// added: match with a `_` arm.
///
/// Events are pulled by the worker on its own thread ([`Worker::recv`](crate::Worker::recv) and
/// friends); no user code ever runs on a usrsctp thread.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Event {
    /// An SCTP packet to hand to the lower layer (DTLS, or an in-memory wire).
    Transmit {
        /// The association.
        assoc: AssocId,
        /// The packet, checksum included.
        packet: Vec<u8>,
    },
    /// The association is established.
    Connected {
        /// The association.
        assoc: AssocId,
        /// Negotiated number of outgoing streams.
        outbound_streams: u16,
        /// Negotiated number of incoming streams.
        inbound_streams: u16,
    },
    /// A complete message arrived.
    Message {
        /// The association.
        assoc: AssocId,
        /// The message.
        message: Message,
    },
    /// The peer sent a message larger than our `max_message_size`. Its bytes were read and
    /// dropped as they arrived (the stack never held more than `max_message_size` of it), so a
    /// peer cannot grow our memory with one huge message; the association goes on. RFC 8831
    /// §6.6 treats this as the peer's error: a data-channel user may close the channel (the
    /// data-channel manager reports it as `PeerError::MessageTooLarge`).
    MessageTooLarge {
        /// The association.
        assoc: AssocId,
        /// Its stream.
        stream: u16,
        /// Its PPID.
        ppid: u32,
        /// How many bytes it had in all.
        size: usize,
        /// Our `max_message_size`.
        max: usize,
    },
    /// Streams were reset (RFC 6525).
    StreamsReset {
        /// The association.
        assoc: AssocId,
        /// Incoming (the peer reset) or outgoing (our request completed).
        direction: ResetDirection,
        /// The streams; empty means all.
        streams: Vec<u16>,
        /// Whether it was performed.
        outcome: ResetOutcome,
    },
    /// The number of streams changed (RFC 6525 Add Streams): the peer added streams, or our
    /// [`Association::add_streams`](crate::Association::add_streams) completed. Also posted
    /// when our request was denied or failed (`outcome`), with the counts unchanged. Sends may
    /// use every stream below `outbound` once this arrives.
    StreamsChanged {
        /// The association.
        assoc: AssocId,
        /// Incoming streams now.
        inbound: u16,
        /// Outgoing streams now.
        outbound: u16,
        /// Whether the change asked for was made.
        outcome: ResetOutcome,
    },
    /// The send queue drained to the low-water mark after being above it.
    BufferedAmountLow {
        /// The association.
        assoc: AssocId,
        /// Bytes still buffered.
        buffered: usize,
    },
    /// A message was not delivered.
    SendFailed {
        /// The association.
        assoc: AssocId,
        /// The message, as returned by `send`.
        message: MessageId,
        /// Its stream.
        stream: u16,
        /// Its PPID.
        ppid: u32,
        /// Why.
        reason: SendFailure,
    },
    /// The figures asked for by [`Association::refresh_stats`](crate::Association::refresh_stats),
    /// read by the stack thread when it got to the request.
    Stats {
        /// The association.
        assoc: AssocId,
        /// Its figures.
        stats: crate::stats::AssociationStats,
    },
    /// The association ended; its id is never used again. It is the association's last
    /// event: every message `send` accepted was reported (`SendFailed`) or delivered before
    /// it, and a `send` racing with the end returns `Error::Closed` instead.
    Closed {
        /// The association.
        assoc: AssocId,
        /// Why.
        reason: CloseReason,
    },
    /// A value posted by [`WorkerWaker::post`](crate::WorkerWaker::post) from any thread, in
    /// order with the worker's other events. It concerns no association: its
    /// [`assoc`](Event::assoc) is [`AssocId::NONE`].
    User {
        /// The value given to `post`.
        value: u64,
    },
}

impl Event {
    /// The association the event concerns; [`AssocId::NONE`] for [`Event::User`].
    pub fn assoc(&self) -> AssocId {
        match self {
            Event::Transmit { assoc, .. }
            | Event::Connected { assoc, .. }
            | Event::Message { assoc, .. }
            | Event::MessageTooLarge { assoc, .. }
            | Event::StreamsReset { assoc, .. }
            | Event::StreamsChanged { assoc, .. }
            | Event::BufferedAmountLow { assoc, .. }
            | Event::SendFailed { assoc, .. }
            | Event::Stats { assoc, .. }
            | Event::Closed { assoc, .. } => *assoc,
            Event::User { .. } => AssocId::NONE,
        }
    }
}
