//! Figures of one association, as [`Association::stats`](crate::Association::stats) reports
//! them.

/// Counters and transport figures of one association, from [`Association::stats`](crate::Association::stats).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AssociationStats {
    /// Smoothed round-trip time of the primary path, ms.
    pub srtt_ms: u32,
    /// Current retransmission timeout, ms.
    pub rto_ms: u32,
    /// Congestion window, bytes.
    pub cwnd: u32,
    /// The peer's advertised receive window, bytes.
    pub peer_rwnd: u32,
    /// Path MTU in use.
    pub mtu: u32,
    /// DATA chunks sent and not yet acknowledged.
    pub unacked_chunks: u16,
    /// DATA chunks waiting to be sent inside SCTP.
    pub pending_chunks: u16,
    /// Negotiated outgoing streams.
    pub outbound_streams: u16,
    /// Negotiated incoming streams.
    pub inbound_streams: u16,
    /// Bytes accepted by `send` not yet taken by SCTP.
    pub buffered_amount: usize,
    /// Messages the stack thread holds because SCTP's send buffer was full (or the handshake
    /// is not complete); they go to SCTP as it frees space.
    pub queued_messages: usize,
    /// Bytes of received messages waiting in the owner's mailbox, each message charged 128
    /// bytes on top of its payload (the receive credit counts the same way).
    pub mailbox_bytes: usize,
    /// The most `mailbox_bytes` has been (at most the receive credit plus one message).
    pub mailbox_peak_bytes: usize,
    /// Reading from SCTP is paused until the owner takes messages from its mailbox (the
    /// receive credit is used up).
    pub receive_paused: bool,
    /// A readiness upcall from usrsctp is queued for the stack thread.
    pub upcall_pending: bool,
    /// Messages SCTP accepted from us.
    pub messages_sent: u64,
    /// Payload bytes SCTP accepted from us.
    pub bytes_sent: u64,
    /// Complete messages delivered to the mailbox.
    pub messages_received: u64,
    /// Payload bytes delivered to the mailbox.
    pub bytes_received: u64,
}
