//! The association handle a worker holds, and the state it shares with the stack thread.

use std::marker::PhantomData;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, AtomicU8, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use crossbeam_channel::Sender;

use crate::config::{AssociationConfig, SendOptions};
use crate::driver::{Command, Outgoing};
use crate::error::Error;
use crate::event::{ppid, AssocId, MessageId};
use crate::registry;
use crate::stack::Stack;

/// Where an association is in its life.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum AssociationState {
    /// The handshake is under way.
    Connecting,
    /// Established: messages flow.
    Open,
    /// A close was asked for (or the peer started one); no new sends.
    Closing,
    /// Gone; every call returns [`Error::Closed`].
    Closed,
}

impl AssociationState {
    fn from_u8(v: u8) -> Self {
        match v {
            0 => AssociationState::Connecting,
            1 => AssociationState::Open,
            2 => AssociationState::Closing,
            _ => AssociationState::Closed,
        }
    }
}

/// Counters and transport figures of one association, from [`Association::stats`].
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
    /// Bytes of received messages waiting in the owner's mailbox.
    pub mailbox_bytes: usize,
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

/// State shared by the handle (worker thread), the stack thread and the callbacks. Atomics,
/// and one leaf lock (`probe`, see there).
pub(crate) struct AssocShared {
    pub(crate) id: AssocId,
    pub(crate) config: AssociationConfig,
    stack: Sender<Command>,
    state: AtomicU8,
    /// Bytes accepted by `send` that SCTP has not taken yet.
    buffered: AtomicUsize,
    /// A `WouldBlock` was returned and no `BufferedAmountLow` has followed yet.
    blocked: AtomicBool,
    /// Bytes of `Message` events posted to the mailbox and not yet taken.
    recv_queued: AtomicUsize,
    /// The stack thread stopped reading for lack of credit; the consumer must send `Resume`.
    recv_paused: AtomicBool,
    /// An upcall is queued for the stack thread (coalesces upcall storms).
    pub(crate) upcall_pending: AtomicBool,
    /// Negotiated outgoing streams; 0 until the handshake completes.
    negotiated_outbound: AtomicU32,
    next_context: AtomicU32,
    pub(crate) messages_sent: AtomicU64,
    pub(crate) bytes_sent: AtomicU64,
    pub(crate) messages_received: AtomicU64,
    pub(crate) bytes_received: AtomicU64,
    /// Packets usrsctp output for it (the stall probe compares it between scans).
    pub(crate) outputs: AtomicU64,
    /// The last packet usrsctp output for it that carried DATA (empty: none since the stack
    /// thread last found nothing outstanding): the seed of the stall probe
    /// (`StackConfig::stall_probe_ms`). A leaf lock: the output callback overwrites it (its
    /// buffer is reused), the stack thread copies or clears it; neither holds it across any
    /// other call.
    pub(crate) probe: Mutex<Vec<u8>>,
}

impl AssocShared {
    pub(crate) fn new(id: AssocId, config: AssociationConfig, stack: Sender<Command>) -> Self {
        AssocShared {
            id,
            config,
            stack,
            state: AtomicU8::new(0),
            buffered: AtomicUsize::new(0),
            blocked: AtomicBool::new(false),
            recv_queued: AtomicUsize::new(0),
            recv_paused: AtomicBool::new(false),
            upcall_pending: AtomicBool::new(false),
            negotiated_outbound: AtomicU32::new(0),
            next_context: AtomicU32::new(1),
            messages_sent: AtomicU64::new(0),
            bytes_sent: AtomicU64::new(0),
            messages_received: AtomicU64::new(0),
            bytes_received: AtomicU64::new(0),
            outputs: AtomicU64::new(0),
            probe: Mutex::new(Vec::new()),
        }
    }

    /// Output callback side: usrsctp produced `packet` for this association.
    pub(crate) fn output_seen(&self, packet: &[u8]) {
        self.outputs.fetch_add(1, Ordering::Relaxed);
        if crate::packet::has_data(packet) {
            let mut probe = self.probe.lock().unwrap_or_else(PoisonError::into_inner);
            probe.clear();
            probe.extend_from_slice(packet);
        }
    }

    pub(crate) fn state(&self) -> AssociationState {
        AssociationState::from_u8(self.state.load(Ordering::Acquire))
    }

    pub(crate) fn set_open(&self, outbound: u16) {
        self.negotiated_outbound
            .store(u32::from(outbound), Ordering::Release);
        let _ = self
            .state
            .compare_exchange(0, 1, Ordering::AcqRel, Ordering::Acquire);
    }

    /// Moves to Closing unless already Closing or Closed. Returns true if it moved.
    pub(crate) fn set_closing(&self) -> bool {
        let mut cur = self.state.load(Ordering::Acquire);
        while cur < 2 {
            match self
                .state
                .compare_exchange(cur, 2, Ordering::AcqRel, Ordering::Acquire)
            {
                Ok(_) => return true,
                Err(v) => cur = v,
            }
        }
        false
    }

    pub(crate) fn set_closed(&self) {
        self.state.store(3, Ordering::Release);
    }

    /// Outgoing streams a send may use: negotiated, or configured before the handshake.
    pub(crate) fn outbound_streams(&self) -> u16 {
        match self.negotiated_outbound.load(Ordering::Acquire) {
            0 => self.config.outbound_streams,
            n => n as u16,
        }
    }

    pub(crate) fn buffered(&self) -> usize {
        self.buffered.load(Ordering::Acquire)
    }

    pub(crate) fn mailbox_bytes(&self) -> usize {
        self.recv_queued.load(Ordering::Acquire)
    }

    pub(crate) fn receive_paused(&self) -> bool {
        self.recv_paused.load(Ordering::Acquire)
    }

    /// Worker side: reserves `len` bytes of send queue, or says WouldBlock. A message always
    /// fits into an empty queue, so a message of up to `max_message_size` can always be sent.
    fn admit(&self, len: usize) -> Result<(), Error> {
        let high = self.config.send_high_water;
        let mut cur = self.buffered.load(Ordering::SeqCst);
        loop {
            if cur > 0 && cur + len > high {
                // Announce that we wait, then look again: a drain that raced with us either
                // sees the flag (and will post BufferedAmountLow) or has changed `buffered`.
                self.blocked.store(true, Ordering::SeqCst);
                let now = self.buffered.load(Ordering::SeqCst);
                if now == cur {
                    return Err(Error::WouldBlock {
                        assoc: self.id,
                        buffered: cur,
                        high_water: high,
                    });
                }
                cur = now;
                continue;
            }
            match self
                .buffered
                .compare_exchange(cur, cur + len, Ordering::SeqCst, Ordering::SeqCst)
            {
                Ok(_) => return Ok(()),
                Err(v) => cur = v,
            }
        }
    }

    /// Stack side: `len` bytes left our queue (taken by SCTP, or failed). Returns the new
    /// buffered amount if a `BufferedAmountLow` event is due.
    pub(crate) fn dequeued(&self, len: usize) -> Option<usize> {
        let before = self.buffered.fetch_sub(len, Ordering::SeqCst);
        let after = before - len;
        let low = self.config.low_water();
        let crossed = before > low && after <= low;
        match self.config.buffered_amount_low_threshold {
            Some(_) if crossed => {
                self.blocked.store(false, Ordering::SeqCst);
                Some(after)
            }
            Some(_) => None,
            None if after <= low && self.blocked.swap(false, Ordering::SeqCst) => Some(after),
            None => None,
        }
    }

    /// Stack side: may another message be read into the mailbox? Pauses reading (and arranges
    /// for the consumer to resume it) when the credit is used up.
    pub(crate) fn may_read(&self) -> bool {
        let credit = self.config.receive_credit;
        if self.recv_queued.load(Ordering::SeqCst) < credit {
            return true;
        }
        self.recv_paused.store(true, Ordering::SeqCst);
        if self.recv_queued.load(Ordering::SeqCst) < credit {
            // The consumer freed credit in between. If we take the flag back we go on; if the
            // consumer already took it, its Resume is on the way and will restart the drain.
            return self.recv_paused.swap(false, Ordering::SeqCst);
        }
        false
    }

    /// Stack side: a message of `len` bytes was posted to the mailbox.
    pub(crate) fn delivered(&self, len: usize) {
        self.recv_queued.fetch_add(len, Ordering::SeqCst);
        self.messages_received.fetch_add(1, Ordering::Relaxed);
        self.bytes_received.fetch_add(len as u64, Ordering::Relaxed);
    }

    /// Worker side: a message of `len` bytes was taken from the mailbox.
    pub(crate) fn release_credit(&self, len: usize) {
        let after = self.recv_queued.fetch_sub(len, Ordering::SeqCst) - len;
        if after <= self.config.receive_credit / 2
            && self.recv_paused.load(Ordering::SeqCst)
            && self.recv_paused.swap(false, Ordering::SeqCst)
        {
            // A closed stack has nothing left to resume.
            let _ = self.stack.send(Command::Resume { id: self.id });
        }
    }

    fn next_message_id(&self) -> MessageId {
        MessageId(self.next_context.fetch_add(1, Ordering::Relaxed))
    }
}

/// One SCTP association over AF_CONN, created by [`Worker::associate`](crate::Worker::associate).
///
/// Its events (packets to transmit, messages, …) arrive in the mailbox of the worker that
/// created it. No call blocks on the network: `send` queues (or says
/// [`Error::WouldBlock`]), `input` hands the packet to the stack thread. [`stats`](Self::stats)
/// is the one call that waits, for a reply from the stack thread.
///
/// Dropping the handle closes the association gracefully, as [`close`](Self::close) does; its
/// remaining packets and the final `Closed` event still reach the worker's mailbox.
///
/// The handle is neither `Send` nor `Sync`: it belongs to the worker thread that created it,
/// the thread that receives its events (see the crate docs on thread confinement).
///
/// ```compile_fail
/// fn assert_send<T: Send>() {}
/// assert_send::<usrsctp::Association>();
/// ```
pub struct Association {
    shared: Arc<AssocShared>,
    stack: Stack,
    _confined: PhantomData<*const ()>,
}

impl std::fmt::Debug for Association {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Association")
            .field("id", &self.shared.id)
            .field("state", &self.shared.state())
            .finish()
    }
}

impl Association {
    pub(crate) fn new(shared: Arc<AssocShared>, stack: Stack) -> Self {
        Association {
            shared,
            stack,
            _confined: PhantomData,
        }
    }

    /// The association's id, as found in its events.
    pub fn id(&self) -> AssocId {
        self.shared.id
    }

    /// Where it is in its life.
    pub fn state(&self) -> AssociationState {
        self.shared.state()
    }

    /// Bytes accepted by [`send`](Self::send) that SCTP has not taken yet.
    pub fn buffered_amount(&self) -> usize {
        self.shared.buffered()
    }

    /// The configuration it was created with.
    pub fn config(&self) -> &AssociationConfig {
        &self.shared.config
    }

    fn command(&self, cmd: Command) -> Result<(), Error> {
        self.stack.command(cmd)
    }

    fn check_open(&self) -> Result<(), Error> {
        match self.shared.state() {
            AssociationState::Closing | AssociationState::Closed => Err(Error::Closed {
                assoc: self.shared.id,
            }),
            _ => Ok(()),
        }
    }

    /// Feeds one SCTP packet received from the lower layer (DTLS) to the stack.
    ///
    /// Refused here with [`Error::MalformedPacket`] (and counted in
    /// [`Diagnostics::inputs_refused`](crate::Diagnostics::inputs_refused)): packets that cannot
    /// be SCTP (shorter than the 12-byte common header, longer than 64 KiB, a wrong CRC32c
    /// checksum — counted in [`Diagnostics::checksum_errors`](crate::Diagnostics::checksum_errors);
    /// SCTP drops such packets, so a caller may ignore this error), and INIT / INIT ACK
    /// packets that break RFC 9260's structure rules (bundled with other chunks, an INIT with a
    /// non-zero verification tag, malformed parameters) — usrsctp 0.9.5.0 can loop forever on
    /// some of those. Everything else is checked by usrsctp (checksum, verification tag, chunk
    /// parsing), which drops what is invalid.
    pub fn input(&self, packet: impl Into<Vec<u8>>) -> Result<(), Error> {
        let packet = packet.into();
        let assoc = self.shared.id;
        if self.shared.state() == AssociationState::Closed {
            return Err(Error::Closed { assoc });
        }
        if packet.len() < 12 {
            let reason = "shorter than the 12-byte SCTP common header";
            return Err(Error::MalformedPacket {
                assoc,
                len: packet.len(),
                reason,
            });
        }
        if packet.len() > 65_535 {
            let reason = "longer than the largest SCTP packet (65535 bytes)";
            return Err(Error::MalformedPacket {
                assoc,
                len: packet.len(),
                reason,
            });
        }
        if !crate::packet::checksum_ok(&packet) {
            registry::bump(&registry::COUNTERS.checksum_errors);
            let reason = "CRC32c checksum mismatch (corrupted in transit, or not SCTP)";
            return Err(Error::MalformedPacket {
                assoc,
                len: packet.len(),
                reason,
            });
        }
        if let Err(reason) = crate::packet::check(&packet) {
            registry::bump(&registry::COUNTERS.inputs_refused);
            tracing::debug!(assoc = %assoc, len = packet.len(), reason, "input refused");
            return Err(Error::MalformedPacket {
                assoc,
                len: packet.len(),
                reason,
            });
        }
        self.command(Command::Input { id: assoc, packet })
    }

    /// Queues one message on `stream` with payload protocol id `ppid`.
    ///
    /// Never blocks. Errors: [`Error::InvalidStream`] if `stream` is not below the number of
    /// outgoing streams, [`Error::MessageTooLarge`] above `max_message_size`,
    /// [`Error::WouldBlock`] when the send queue is above its high-water mark (an
    /// [`Event::BufferedAmountLow`](crate::Event::BufferedAmountLow) follows once it drains),
    /// [`Error::Closed`] after close.
    ///
    /// SCTP cannot carry an empty message; as WebRTC does, an empty payload with PPID 51
    /// (string) or 53 (binary) goes out as PPID 56 / 57 with one zero byte, and the receiver
    /// gets an empty message with PPID 56 / 57. Other PPIDs give [`Error::EmptyMessage`].
    ///
    /// Messages sent before the handshake completes are queued and go out when it does.
    pub fn send(
        &self,
        stream: u16,
        ppid: u32,
        payload: impl Into<Vec<u8>>,
        options: SendOptions,
    ) -> Result<MessageId, Error> {
        let assoc = self.shared.id;
        self.check_open()?;
        let streams = self.shared.outbound_streams();
        if stream >= streams {
            return Err(Error::InvalidStream {
                assoc,
                stream,
                streams,
            });
        }
        let mut data = payload.into();
        let max = self.shared.config.max_message_size;
        if data.len() > max {
            return Err(Error::MessageTooLarge {
                assoc,
                size: data.len(),
                max,
            });
        }
        let ppid = if data.is_empty() {
            let empty_form = match ppid {
                ppid::STRING | ppid::STRING_EMPTY => ppid::STRING_EMPTY,
                ppid::BINARY | ppid::BINARY_EMPTY => ppid::BINARY_EMPTY,
                _ => return Err(Error::EmptyMessage { assoc, ppid }),
            };
            data.push(0);
            empty_form
        } else {
            ppid
        };
        let len = data.len();
        self.shared.admit(len)?;
        let id = self.shared.next_message_id();
        let msg = Outgoing {
            stream,
            ppid,
            data,
            unordered: options.unordered,
            reliability: options.reliability,
            context: id.0,
        };
        if let Err(e) = self.command(Command::Send { id: assoc, msg }) {
            self.shared.dequeued(len);
            return Err(e);
        }
        Ok(id)
    }

    /// Resets the given outgoing streams (RFC 6525); an empty slice resets all of them.
    ///
    /// The peer sees [`Event::StreamsReset`](crate::Event::StreamsReset) with
    /// [`ResetDirection::Incoming`](crate::ResetDirection::Incoming); we see the outcome as an
    /// `Outgoing` one. Messages queued before the call are sent before the reset.
    pub fn reset_streams(&self, streams: &[u16]) -> Result<(), Error> {
        let assoc = self.shared.id;
        self.check_open()?;
        let limit = self.shared.outbound_streams();
        if let Some(&stream) = streams.iter().find(|&&s| s >= limit) {
            return Err(Error::InvalidStream {
                assoc,
                stream,
                streams: limit,
            });
        }
        self.command(Command::ResetStreams {
            id: assoc,
            streams: streams.to_vec(),
        })
    }

    /// Starts a graceful close: queued messages are sent, then the SHUTDOWN handshake runs. The
    /// worker sees `Closed { reason: Graceful }` when it completes (or `AbortedLocally` if it
    /// takes longer than `close_timeout`). Closing twice is harmless.
    pub fn close(&self) -> Result<(), Error> {
        if self.shared.set_closing() {
            return self.command(Command::Close { id: self.shared.id });
        }
        Ok(())
    }

    /// Aborts at once: an ABORT goes to the peer, queued messages are reported as failed.
    pub fn abort(&self) -> Result<(), Error> {
        if self.shared.state() == AssociationState::Closed {
            return Err(Error::Closed {
                assoc: self.shared.id,
            });
        }
        self.shared.set_closing();
        self.command(Command::Abort { id: self.shared.id })
    }

    /// Transport figures and counters. Waits for the stack thread to answer.
    pub fn stats(&self) -> Result<AssociationStats, Error> {
        let (tx, rx) = crossbeam_channel::bounded(1);
        self.command(Command::Stats {
            id: self.shared.id,
            reply: tx,
        })?;
        rx.recv().map_err(|_| Error::StackShutdown)?
    }
}

impl Drop for Association {
    fn drop(&mut self) {
        if self.shared.set_closing() {
            // A stack that is gone has closed everything already.
            let _ = self.command(Command::Close { id: self.shared.id });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shared(config: AssociationConfig) -> (AssocShared, crossbeam_channel::Receiver<Command>) {
        let (tx, rx) = crossbeam_channel::unbounded();
        (AssocShared::new(AssocId(1), config, tx), rx)
    }

    #[test]
    fn admission_blocks_above_high_water_and_low_event_follows_the_drain() {
        let cfg = AssociationConfig {
            max_message_size: 100,
            send_high_water: 300,
            ..Default::default()
        };
        let (s, _rx) = shared(cfg);
        for _ in 0..3 {
            s.admit(100).unwrap();
        }
        let err = s.admit(100).unwrap_err();
        assert!(err.is_would_block(), "{err}");
        assert_eq!(
            s.dequeued(100),
            None,
            "200 left: above the low-water mark of 150"
        );
        assert_eq!(s.dequeued(100), Some(100), "crossed 150 after a WouldBlock");
        assert_eq!(s.dequeued(100), None, "one event per WouldBlock");
        // An empty queue accepts any message up to max size.
        s.admit(100).unwrap();
    }

    #[test]
    fn explicit_threshold_fires_on_every_downward_crossing() {
        let cfg = AssociationConfig {
            max_message_size: 100,
            send_high_water: 1000,
            buffered_amount_low_threshold: Some(50),
            ..Default::default()
        };
        let (s, _rx) = shared(cfg);
        s.admit(100).unwrap();
        assert_eq!(s.dequeued(100), Some(0));
        s.admit(40).unwrap();
        assert_eq!(s.dequeued(40), None, "never above the threshold");
        s.admit(100).unwrap();
        s.admit(100).unwrap();
        assert_eq!(s.dequeued(100), None);
        assert_eq!(s.dequeued(100), Some(0));
    }

    #[test]
    fn credit_pauses_reading_and_the_consumer_resumes_it_once() {
        let cfg = AssociationConfig {
            receive_credit: 1000,
            ..Default::default()
        };
        let (s, rx) = shared(cfg);
        assert!(s.may_read());
        s.delivered(600);
        assert!(s.may_read());
        s.delivered(600);
        assert!(!s.may_read(), "1200 queued, credit 1000");
        s.release_credit(600);
        assert!(
            rx.try_recv().is_err(),
            "600 left is above half the credit: no resume yet"
        );
        s.release_credit(600);
        assert!(matches!(rx.try_recv(), Ok(Command::Resume { .. })));
        assert!(rx.try_recv().is_err(), "exactly one resume");
        assert!(s.may_read());
    }
}
