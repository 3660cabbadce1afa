//! The association handle a worker holds.

use std::marker::PhantomData;
use std::sync::Arc;

use crate::config::{AssociationConfig, SendOptions};
use crate::error::Error;
use crate::event::{ppid, AssocId, MessageId};
use crate::ffi::socket::SendInfo;
use crate::packet::{checksum, validate};
use crate::shared::assoc::{AssocShared, AssociationState, Release};
use crate::shared::command::{Command, Outgoing};
use crate::shared::counters::{bump, COUNTERS};
use crate::shared::routes;
use crate::stack::Stack;
use crate::stats::AssociationStats;

/// One SCTP association over AF_CONN, created by [`Worker::associate`](crate::Worker::associate).
///
/// Its events (packets to transmit, messages, …) arrive in the mailbox of the worker that
/// created it. No call blocks on the network: `send` queues (or says
/// [`Error::WouldBlock`]), `input` hands the packet to the stack thread, and no call waits for
/// the stack thread.
///
/// Every message [`send`](Self::send) accepts ends either delivered (acknowledged by the peer)
/// or reported to the worker as [`Event::SendFailed`](crate::Event::SendFailed), whichever
/// way the association ends.
///
/// **Closing and dropping.** A graceful close ([`close`](Self::close)) needs the handle until
/// the worker sees `Closed`: the peer's answers come in through [`input`](Self::input).
/// Dropping the handle therefore *aborts* the association (unless it has ended): an ABORT and a
/// `SendFailed` for every message not yet acknowledged still reach the worker's mailbox, then
/// `Closed { reason: AbortedLocally }`.
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
    /// SCTP drops such packets, so a caller may ignore this error), packets whose destination
    /// port is not the configured `local_port`, and INIT / INIT ACK
    /// packets that break RFC 9260's structure rules (bundled with other chunks, an INIT with a
    /// non-zero verification tag, malformed parameters) — usrsctp 0.9.5.0 can loop forever on
    /// some of those. Everything else is checked by usrsctp (checksum, verification tag, chunk
    /// parsing), which drops what is invalid.
    ///
    /// ```
    /// use usrsctp::{AssociationConfig, Error, Stack};
    ///
    /// let worker = Stack::global()?.worker()?;
    /// let assoc = worker.associate(AssociationConfig::default())?;
    /// // Packets from the peer go in as they come; what cannot be SCTP is refused before usrsctp.
    /// let err = assoc.input(vec![0u8; 8]).unwrap_err();
    /// assert!(matches!(err, Error::MalformedPacket { .. }));
    /// # Ok::<(), usrsctp::Error>(())
    /// ```
    pub fn input(&self, packet: impl Into<Vec<u8>>) -> Result<(), Error> {
        let packet = packet.into();
        let assoc = self.shared.id;
        if self.shared.state() == AssociationState::Closed {
            return Err(Error::Closed { assoc });
        }
        let len = packet.len();
        let refused = |reason| Err(Error::MalformedPacket { assoc, len, reason });
        if len < 12 {
            return refused("shorter than the 12-byte SCTP common header");
        }
        if len > 65_535 {
            return refused("longer than the largest SCTP packet (65535 bytes)");
        }
        if !checksum::checksum_ok(&packet) {
            bump(&COUNTERS.checksum_errors);
            return refused("CRC32c checksum mismatch (corrupted in transit, or not SCTP)");
        }
        if packet[2..4] != self.shared.config.local_port.to_be_bytes() {
            // Not for this association. Inside usrsctp, its socket shares an address with
            // every other one (`shared::port_owners`): such a packet must not get there.
            bump(&COUNTERS.inputs_refused);
            return refused("destination port is not the association's local_port");
        }
        if let Err(reason) = validate::check(&packet) {
            bump(&COUNTERS.inputs_refused);
            tracing::debug!(assoc = %assoc, len, reason, "input refused");
            return refused(reason);
        }
        if self.shared.pending.push_input(packet) {
            self.command(Command::Service { id: assoc })?;
        }
        Ok(())
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
    ///
    /// `a` and `b` are two associations on workers `wa` and `wb`, wired to each other in one
    /// thread and connected (hidden lines: `carry` takes one worker's events and carries its
    /// packets to the other association).
    ///
    /// ```
    /// # use std::time::{Duration, Instant}; use usrsctp::*;
    /// # fn carry(from: &Worker, to: &Association) -> Vec<Event> { let mut other = Vec::new(); while let Some(ev) = from.recv_timeout(Duration::from_millis(1)) { match ev { Event::Transmit { packet, .. } => { let _ = to.input(packet); } ev => other.push(ev) } } other }
    /// # fn closed(events: Vec<Event>) -> Option<CloseReason> { events.into_iter().find_map(|e| match e { Event::Closed { reason, .. } => Some(reason), _ => None }) }
    /// # let stack = Stack::global()?; let (wa, wb) = (stack.worker()?, stack.worker()?);
    /// # let (a, b) = (wa.associate(AssociationConfig::default())?, wb.associate(AssociationConfig::default())?);
    /// # let deadline = Instant::now() + Duration::from_secs(10); let (mut up_a, mut up_b) = (false, false);
    /// # while !(up_a && up_b) { assert!(Instant::now() < deadline); up_a |= carry(&wa, &b).iter().any(|e| matches!(e, Event::Connected { .. })); up_b |= carry(&wb, &a).iter().any(|e| matches!(e, Event::Connected { .. })); }
    /// let id = a.send(1, ppid::STRING, "hello", SendOptions::reliable())?;
    /// // `id` names the message in a `SendFailed`, should it not be delivered.
    /// let mut got = None;
    /// while got.is_none() && Instant::now() < deadline {
    ///     carry(&wa, &b);
    ///     for ev in carry(&wb, &a) {
    ///         if let Event::Message { message, .. } = ev {
    ///             got = Some(message);
    ///         }
    ///     }
    /// }
    /// let message = got.expect("delivered");
    /// assert_eq!((message.stream, &message.data[..]), (1, &b"hello"[..]));
    /// # let _ = id;
    /// # Ok::<(), usrsctp::Error>(())
    /// ```
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
            data,
            info: SendInfo {
                stream,
                ppid,
                unordered: options.unordered,
                reliability: options.reliability,
                context: id.0,
            },
        };
        let schedule = match self.shared.pending.push_send(msg) {
            Ok(schedule) => schedule,
            // The stack thread ended the association since `check_open`: not accepted (what
            // was accepted before is reported ahead of `Closed`).
            Err(_) => {
                self.shared.dequeued(len);
                return Err(Error::Closed { assoc });
            }
        };
        if schedule {
            if let Err(e) = self.command(Command::Service { id: assoc }) {
                // The stack is gone and will not take it: it was not accepted after all.
                // (If the stack's teardown took it first, it reports it.)
                if self.shared.pending.withdraw_send(id.0).is_some() {
                    self.shared.dequeued(len);
                    return Err(e);
                }
            }
        }
        Ok(id)
    }

    /// Resets the given outgoing streams (RFC 6525); an empty slice resets all of them.
    ///
    /// The peer sees [`Event::StreamsReset`](crate::Event::StreamsReset) with
    /// [`ResetDirection::Incoming`](crate::ResetDirection::Incoming); we see the outcome as an
    /// `Outgoing` one. Messages queued before the call are sent before the reset.
    ///
    /// `a` and `b` are two associations on workers `wa` and `wb`, wired to each other in one
    /// thread and connected (hidden lines: `carry` takes one worker's events and carries its
    /// packets to the other association).
    ///
    /// ```
    /// # use std::time::{Duration, Instant}; use usrsctp::*;
    /// # fn carry(from: &Worker, to: &Association) -> Vec<Event> { let mut other = Vec::new(); while let Some(ev) = from.recv_timeout(Duration::from_millis(1)) { match ev { Event::Transmit { packet, .. } => { let _ = to.input(packet); } ev => other.push(ev) } } other }
    /// # fn closed(events: Vec<Event>) -> Option<CloseReason> { events.into_iter().find_map(|e| match e { Event::Closed { reason, .. } => Some(reason), _ => None }) }
    /// # let stack = Stack::global()?; let (wa, wb) = (stack.worker()?, stack.worker()?);
    /// # let (a, b) = (wa.associate(AssociationConfig::default())?, wb.associate(AssociationConfig::default())?);
    /// # let deadline = Instant::now() + Duration::from_secs(10); let (mut up_a, mut up_b) = (false, false);
    /// # while !(up_a && up_b) { assert!(Instant::now() < deadline); up_a |= carry(&wa, &b).iter().any(|e| matches!(e, Event::Connected { .. })); up_b |= carry(&wb, &a).iter().any(|e| matches!(e, Event::Connected { .. })); }
    /// a.reset_streams(&[1])?;
    /// let mut seen = None;
    /// while seen.is_none() && Instant::now() < deadline {
    ///     carry(&wa, &b);
    ///     for ev in carry(&wb, &a) {
    ///         if let Event::StreamsReset { direction, streams, .. } = ev {
    ///             seen = Some((direction, streams));
    ///         }
    ///     }
    /// }
    /// assert_eq!(seen, Some((ResetDirection::Incoming, vec![1])));
    /// # Ok::<(), usrsctp::Error>(())
    /// ```
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

    /// Asks the peer for more streams (RFC 6525 Add Streams): `outbound` more outgoing streams
    /// of ours, and `inbound` more of the peer's outgoing ones (our incoming). A data channel
    /// uses the same stream id both ways, so a channel layer grows both.
    ///
    /// This is how an association starts small (`AssociationConfig::outbound_streams`, 256 by
    /// default: each outgoing stream costs usrsctp about 64 bytes, each incoming one 40, from
    /// the handshake on) and still reaches the 65,535 streams WebRTC allows. Both sides see
    /// [`Event::StreamsChanged`](crate::Event::StreamsChanged) with the new counts; sends may
    /// use the new streams once it arrives. The peer decides: it denies more incoming streams
    /// than its `inbound_streams` (a usrsctp peer); then the event carries
    /// `ResetOutcome::Denied` or `Failed` and the counts are unchanged. Requests made while one
    /// is outstanding are merged and sent after it.
    ///
    /// **Only for peers known to answer.** WebRTC does not require the request, and dcsctp
    /// (the SCTP stack of Chrome and Safari) never answers it: usrsctp then retransmits it
    /// until the association fails, and no stream reset can be made meanwhile (one request at
    /// a time). usrsctp-based peers answer (this crate, libdatachannel, Firefox with
    /// `media.peerconnection.sctp.use_dcsctp = false`). With any peer, more streams
    /// from the start (`AssociationConfig::outbound_streams`) always work.
    ///
    /// Errors: `Closed`; [`Error::InvalidStream`] if both counts are zero or either total
    /// would pass 65,535 (`stream` is the total asked for). Never blocks.
    ///
    /// `a` and `b` are two associations on workers `wa` and `wb`, made with `config`, wired to
    /// each other in one thread and connected (hidden lines as in
    /// [`reset_streams`](Self::reset_streams)).
    ///
    /// ```
    /// # use std::time::{Duration, Instant}; use usrsctp::*;
    /// # fn carry(from: &Worker, to: &Association) -> Vec<Event> { let mut other = Vec::new(); while let Some(ev) = from.recv_timeout(Duration::from_millis(1)) { match ev { Event::Transmit { packet, .. } => { let _ = to.input(packet); } ev => other.push(ev) } } other }
    /// # let stack = Stack::global()?; let (wa, wb) = (stack.worker()?, stack.worker()?);
    /// // Each end accepts up to 1,024 incoming streams (256 by default), so the other may
    /// // grow that far.
    /// let config = AssociationConfig {
    ///     inbound_streams: 1024,
    ///     ..AssociationConfig::default()
    /// };
    /// # let (a, b) = (wa.associate(config.clone())?, wb.associate(config)?);
    /// # let deadline = Instant::now() + Duration::from_secs(10); let (mut up_a, mut up_b) = (false, false);
    /// # while !(up_a && up_b) { assert!(Instant::now() < deadline); up_a |= carry(&wa, &b).iter().any(|e| matches!(e, Event::Connected { .. })); up_b |= carry(&wb, &a).iter().any(|e| matches!(e, Event::Connected { .. })); }
    /// assert_eq!(a.outbound_streams(), 256);
    /// a.add_streams(256, 256)?;
    /// let mut changed = None;
    /// while changed.is_none() && Instant::now() < deadline {
    ///     carry(&wb, &a);
    ///     for ev in carry(&wa, &b) {
    ///         if let Event::StreamsChanged { inbound, outbound, outcome, .. } = ev {
    ///             changed = Some((inbound, outbound, outcome));
    ///         }
    ///     }
    /// }
    /// assert_eq!(changed, Some((512, 512, ResetOutcome::Performed)));
    /// a.send(300, ppid::BINARY, &b"on a new stream"[..], SendOptions::reliable())?;
    /// # Ok::<(), usrsctp::Error>(())
    /// ```
    pub fn add_streams(&self, inbound: u16, outbound: u16) -> Result<(), Error> {
        let assoc = self.shared.id;
        self.check_open()?;
        let current = self.shared.outbound_streams();
        let total = u32::from(current) + u32::from(outbound);
        let inbound_total = u32::from(self.shared.status().inbound_streams) + u32::from(inbound);
        if (inbound, outbound) == (0, 0) || total > 65_535 || inbound_total > 65_535 {
            return Err(Error::InvalidStream {
                assoc,
                stream: total.min(u32::from(u16::MAX)) as u16,
                streams: current,
            });
        }
        self.command(Command::AddStreams {
            id: assoc,
            inbound,
            outbound,
            at_least: false,
        })
    }

    /// Asks for streams until there are at least `inbound` incoming and `outbound` outgoing
    /// (the data-channel layer's form of [`add_streams`](Self::add_streams): repeating it
    /// asks for nothing more). A `StreamsChanged` follows, also when nothing was missing.
    pub(crate) fn grow_streams_to(&self, inbound: u16, outbound: u16) -> Result<(), Error> {
        self.check_open()?;
        self.command(Command::AddStreams {
            id: self.shared.id,
            inbound,
            outbound,
            at_least: true,
        })
    }

    /// Outgoing streams sends may use now: negotiated at the handshake and grown by
    /// [`add_streams`](Self::add_streams); the configured count before the handshake.
    pub fn outbound_streams(&self) -> u16 {
        self.shared.outbound_streams()
    }

    /// Starts a graceful close: queued messages are sent, then the SHUTDOWN handshake runs. The
    /// worker sees `Closed { reason: Graceful }` when it completes (or `AbortedLocally` if it
    /// takes longer than `close_timeout`). Closing twice is harmless.
    ///
    /// `a` and `b` are two associations on workers `wa` and `wb`, wired to each other in one
    /// thread and connected (hidden lines: `carry` takes one worker's events and carries its
    /// packets to the other association).
    ///
    /// ```
    /// # use std::time::{Duration, Instant}; use usrsctp::*;
    /// # fn carry(from: &Worker, to: &Association) -> Vec<Event> { let mut other = Vec::new(); while let Some(ev) = from.recv_timeout(Duration::from_millis(1)) { match ev { Event::Transmit { packet, .. } => { let _ = to.input(packet); } ev => other.push(ev) } } other }
    /// # fn closed(events: Vec<Event>) -> Option<CloseReason> { events.into_iter().find_map(|e| match e { Event::Closed { reason, .. } => Some(reason), _ => None }) }
    /// # let stack = Stack::global()?; let (wa, wb) = (stack.worker()?, stack.worker()?);
    /// # let (a, b) = (wa.associate(AssociationConfig::default())?, wb.associate(AssociationConfig::default())?);
    /// # let deadline = Instant::now() + Duration::from_secs(10); let (mut up_a, mut up_b) = (false, false);
    /// # while !(up_a && up_b) { assert!(Instant::now() < deadline); up_a |= carry(&wa, &b).iter().any(|e| matches!(e, Event::Connected { .. })); up_b |= carry(&wb, &a).iter().any(|e| matches!(e, Event::Connected { .. })); }
    /// a.close()?; // keep the handle, and keep carrying packets, until Closed
    /// let (mut end_a, mut end_b) = (None, None);
    /// while (end_a.is_none() || end_b.is_none()) && Instant::now() < deadline {
    ///     end_a = end_a.or(closed(carry(&wa, &b)));
    ///     end_b = end_b.or(closed(carry(&wb, &a)));
    /// }
    /// assert_eq!(end_a, Some(CloseReason::Graceful));
    /// assert_eq!(end_b, Some(CloseReason::Graceful));
    /// # Ok::<(), usrsctp::Error>(())
    /// ```
    pub fn close(&self) -> Result<(), Error> {
        if self.shared.set_closing() {
            return self.command(Command::Close { id: self.shared.id });
        }
        Ok(())
    }

    /// Aborts at once: an ABORT goes to the peer, queued messages are reported as failed.
    ///
    /// `a` and `b` are two associations on workers `wa` and `wb`, wired to each other in one
    /// thread and connected (hidden lines: `carry` takes one worker's events and carries its
    /// packets to the other association).
    ///
    /// ```
    /// # use std::time::{Duration, Instant}; use usrsctp::*;
    /// # fn carry(from: &Worker, to: &Association) -> Vec<Event> { let mut other = Vec::new(); while let Some(ev) = from.recv_timeout(Duration::from_millis(1)) { match ev { Event::Transmit { packet, .. } => { let _ = to.input(packet); } ev => other.push(ev) } } other }
    /// # fn closed(events: Vec<Event>) -> Option<CloseReason> { events.into_iter().find_map(|e| match e { Event::Closed { reason, .. } => Some(reason), _ => None }) }
    /// # let stack = Stack::global()?; let (wa, wb) = (stack.worker()?, stack.worker()?);
    /// # let (a, b) = (wa.associate(AssociationConfig::default())?, wb.associate(AssociationConfig::default())?);
    /// # let deadline = Instant::now() + Duration::from_secs(10); let (mut up_a, mut up_b) = (false, false);
    /// # while !(up_a && up_b) { assert!(Instant::now() < deadline); up_a |= carry(&wa, &b).iter().any(|e| matches!(e, Event::Connected { .. })); up_b |= carry(&wb, &a).iter().any(|e| matches!(e, Event::Connected { .. })); }
    /// a.abort()?;
    /// let (mut end_a, mut end_b) = (None, None);
    /// while (end_a.is_none() || end_b.is_none()) && Instant::now() < deadline {
    ///     end_a = end_a.or(closed(carry(&wa, &b)));
    ///     end_b = end_b.or(closed(carry(&wb, &a)));
    /// }
    /// assert_eq!(end_a, Some(CloseReason::AbortedLocally));
    /// assert_eq!(end_b, Some(CloseReason::AbortedByPeer));
    /// # Ok::<(), usrsctp::Error>(())
    /// ```
    pub fn abort(&self) -> Result<(), Error> {
        if self.shared.state() == AssociationState::Closed {
            return Err(Error::Closed {
                assoc: self.shared.id,
            });
        }
        self.shared.set_closing();
        self.command(Command::Abort { id: self.shared.id })
    }

    /// Asks the stack thread to read usrsctp's status now; the figures arrive as
    /// [`Event::Stats`](crate::Event::Stats) in the worker's mailbox, in order with the other
    /// events.
    pub fn refresh_stats(&self) -> Result<(), Error> {
        self.command(Command::RefreshStatus {
            id: self.shared.id,
            notify: true,
        })
    }

    /// Transport figures and counters, without waiting for the stack thread: the counters are
    /// current, usrsctp's figures (RTT, window, MTU, …) a snapshot the stack thread takes at the
    /// handshake and at most every 200 ms while the association sends; a call that finds it
    /// older asks for a fresh one for the next call.
    ///
    /// `a` and `b` are two associations on workers `wa` and `wb`, wired to each other in one
    /// thread and connected (hidden lines: `carry` takes one worker's events and carries its
    /// packets to the other association).
    ///
    /// ```
    /// # use std::time::{Duration, Instant}; use usrsctp::*;
    /// # fn carry(from: &Worker, to: &Association) -> Vec<Event> { let mut other = Vec::new(); while let Some(ev) = from.recv_timeout(Duration::from_millis(1)) { match ev { Event::Transmit { packet, .. } => { let _ = to.input(packet); } ev => other.push(ev) } } other }
    /// # fn closed(events: Vec<Event>) -> Option<CloseReason> { events.into_iter().find_map(|e| match e { Event::Closed { reason, .. } => Some(reason), _ => None }) }
    /// # let stack = Stack::global()?; let (wa, wb) = (stack.worker()?, stack.worker()?);
    /// # let (a, b) = (wa.associate(AssociationConfig::default())?, wb.associate(AssociationConfig::default())?);
    /// # let deadline = Instant::now() + Duration::from_secs(10); let (mut up_a, mut up_b) = (false, false);
    /// # while !(up_a && up_b) { assert!(Instant::now() < deadline); up_a |= carry(&wa, &b).iter().any(|e| matches!(e, Event::Connected { .. })); up_b |= carry(&wb, &a).iter().any(|e| matches!(e, Event::Connected { .. })); }
    /// let stats = a.stats()?;
    /// assert_eq!(stats.outbound_streams, b.stats()?.inbound_streams);
    /// assert!(stats.cwnd > 0 && stats.mtu > 0);
    /// assert_eq!(stats.buffered_amount, 0);
    /// # Ok::<(), usrsctp::Error>(())
    /// ```
    pub fn stats(&self) -> Result<AssociationStats, Error> {
        use std::sync::atomic::Ordering::AcqRel;
        let s = &self.shared;
        let status = s.status();
        let old = status
            .at
            .is_none_or(|at| at.elapsed() >= crate::shared::assoc::STATUS_MAX_AGE);
        if old && s.state() == AssociationState::Open && !s.refresh_pending.swap(true, AcqRel) {
            // Ask for a fresher snapshot for next time; never wait for it.
            let _ = self.command(Command::RefreshStatus {
                id: s.id,
                notify: false,
            });
        }
        Ok(s.stats())
    }
}

impl Drop for Association {
    /// Aborts the association unless it has ended: dropping the handle cannot be a graceful
    /// close, since the peer's answers could no longer be fed in through [`input`](Self::input).
    /// The ABORT and a `SendFailed` for every message not yet acknowledged still reach the
    /// worker's mailbox, then `Closed { AbortedLocally }`.
    fn drop(&mut self) {
        if self.shared.state() != AssociationState::Closed {
            self.shared.set_closing();
            // A stack that is gone has closed everything already.
            let _ = self.command(Command::Abort { id: self.shared.id });
        }
        if self.shared.release(Release::HandleDropped) {
            routes::remove(self.shared.id);
        }
    }
}
