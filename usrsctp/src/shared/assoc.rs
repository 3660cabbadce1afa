//! The state of one association that the worker side, the stack thread and the callbacks all
//! see: lifecycle state, send admission (the high-water mark), receive credit, counters and the
//! stall probe's seed. Atomics, and one leaf lock (`probe`).

use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, AtomicU8, AtomicUsize, Ordering};
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

use super::command::{Command, CommandSender};
use super::pending::Pending;
use crate::config::AssociationConfig;
use crate::error::Error;
use crate::event::{AssocId, MessageId};
use crate::stats::AssociationStats;

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
    pub(crate) fn from_u8(v: u8) -> Self {
        match v {
            0 => AssociationState::Connecting,
            1 => AssociationState::Open,
            2 => AssociationState::Closing,
            _ => AssociationState::Closed,
        }
    }
}

/// What one queued message costs besides its payload, in bytes: the event or command that
/// carries it, its allocation and its queue slot (measured: about 116 B for a 1-byte message on
/// the send side). The send high-water mark and the receive credit charge it per message.
pub(crate) const MESSAGE_OVERHEAD: usize = 128;

/// State shared by the handle (worker thread), the stack thread and the callbacks. Atomics,
/// and one leaf lock (`probe`, see there).
pub(crate) struct AssocShared {
    pub(crate) id: AssocId,
    pub(crate) config: AssociationConfig,
    /// Where `Resume` goes when the consumer frees credit.
    commands: CommandSender,
    state: AtomicU8,
    /// Bytes accepted by `send` that SCTP has not taken yet (payload: what users see).
    buffered: AtomicUsize,
    /// The same messages charged with [`MESSAGE_OVERHEAD`] each: what admission and the
    /// default low-water mark count, so a flood of tiny messages is bounded too.
    send_charge: AtomicUsize,
    /// A `WouldBlock` was returned and no `BufferedAmountLow` has followed yet.
    blocked: AtomicBool,
    /// Bytes of `Message` events posted to the mailbox and not yet taken, each charged with
    /// [`MESSAGE_OVERHEAD`] on top of its payload (an empty message is not free).
    recv_queued: AtomicUsize,
    /// The most `recv_queued` has been.
    recv_peak: AtomicUsize,
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
    /// Which of the two holders of the route let go: bit 0 the stack thread (the association
    /// ended), bit 1 the handle (dropped). See [`release`](Self::release).
    released: AtomicU8,
    /// The last status the stack thread read. A leaf lock: held only to copy the value.
    status: Mutex<Status>,
    /// A status refresh is queued for the stack thread (`stats` asks at most once at a time).
    pub(crate) refresh_pending: AtomicBool,
    /// Packets and messages the handle queued for the stack thread (a leaf lock inside).
    pub(crate) pending: Pending,
}

/// usrsctp's view of an association (`SCTP_STATUS`), as the stack thread last read it: at the
/// handshake, at most every [`STATUS_MAX_AGE`] while it sends, and when `stats` asks for a
/// fresher one. `stats` never waits for the stack thread.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Status {
    pub(crate) srtt_ms: u32,
    pub(crate) rto_ms: u32,
    pub(crate) cwnd: u32,
    pub(crate) peer_rwnd: u32,
    pub(crate) mtu: u32,
    pub(crate) unacked_chunks: u16,
    pub(crate) pending_chunks: u16,
    pub(crate) outbound_streams: u16,
    pub(crate) inbound_streams: u16,
    pub(crate) queued_messages: usize,
    /// When it was read (`None`: not yet).
    pub(crate) at: Option<Instant>,
}

/// How old a status snapshot may get while the association is busy before the stack thread
/// reads a new one.
pub(crate) const STATUS_MAX_AGE: Duration = Duration::from_millis(200);

/// One of the two parties whose end [`AssocShared::release`] waits for.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub(crate) enum Release {
    /// The stack thread ended the association.
    Ended = 1,
    /// The `Association` handle was dropped.
    HandleDropped = 2,
}

impl AssocShared {
    pub(crate) fn new(id: AssocId, config: AssociationConfig, commands: CommandSender) -> Self {
        AssocShared {
            id,
            config,
            commands,
            state: AtomicU8::new(0),
            buffered: AtomicUsize::new(0),
            send_charge: AtomicUsize::new(0),
            blocked: AtomicBool::new(false),
            recv_queued: AtomicUsize::new(0),
            recv_peak: AtomicUsize::new(0),
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
            released: AtomicU8::new(0),
            status: Mutex::new(Status::default()),
            refresh_pending: AtomicBool::new(false),
            pending: Pending::default(),
        }
    }

    /// Output callback side: usrsctp produced `packet` for this association (`has_data`: it
    /// carries DATA or I-DATA, and becomes the stall probe's seed).
    pub(crate) fn output_seen(&self, packet: &[u8], has_data: bool) {
        self.outputs.fetch_add(1, Ordering::Relaxed);
        if has_data {
            let mut probe = self.probe.lock().unwrap_or_else(PoisonError::into_inner);
            probe.clear();
            probe.extend_from_slice(packet);
        }
    }

    /// Records that `who` let go of the association; true for the second of the two, which
    /// removes the route. The route outlives the association while the handle lives, so a
    /// message `send` accepted just before the end is reported, not dropped.
    pub(crate) fn release(&self, who: Release) -> bool {
        let bit = who as u8;
        let before = self.released.fetch_or(bit, Ordering::AcqRel);
        before & bit == 0 && before | bit == 3
    }

    /// The figures `Association::stats` reports: the counters now, usrsctp's as last read.
    pub(crate) fn stats(&self) -> AssociationStats {
        use std::sync::atomic::Ordering::Relaxed;
        let s = self;
        let status = s.status();
        AssociationStats {
            srtt_ms: status.srtt_ms,
            rto_ms: status.rto_ms,
            cwnd: status.cwnd,
            peer_rwnd: status.peer_rwnd,
            mtu: status.mtu,
            unacked_chunks: status.unacked_chunks,
            pending_chunks: status.pending_chunks,
            outbound_streams: status.outbound_streams,
            inbound_streams: status.inbound_streams,
            buffered_amount: s.buffered(),
            queued_messages: status.queued_messages,
            mailbox_bytes: s.mailbox_bytes(),
            mailbox_peak_bytes: s.mailbox_peak_bytes(),
            receive_paused: s.receive_paused(),
            upcall_pending: s.upcall_pending.load(Relaxed),
            messages_sent: s.messages_sent.load(Relaxed),
            bytes_sent: s.bytes_sent.load(Relaxed),
            messages_received: s.messages_received.load(Relaxed),
            bytes_received: s.bytes_received.load(Relaxed),
        }
    }

    /// The last status snapshot.
    pub(crate) fn status(&self) -> Status {
        *self.status.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Stack side: a fresh snapshot.
    pub(crate) fn set_status(&self, status: Status) {
        *self.status.lock().unwrap_or_else(PoisonError::into_inner) = status;
    }

    pub(crate) fn state(&self) -> AssociationState {
        AssociationState::from_u8(self.state.load(Ordering::Acquire))
    }

    pub(crate) fn set_open(&self, outbound: u16) {
        self.set_outbound_streams(outbound);
        let _ = self
            .state
            .compare_exchange(0, 1, Ordering::AcqRel, Ordering::Acquire);
    }

    /// The outgoing streams changed (RFC 6525 Add Streams).
    pub(crate) fn set_outbound_streams(&self, outbound: u16) {
        self.negotiated_outbound
            .store(u32::from(outbound), Ordering::Release);
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

    pub(crate) fn mailbox_peak_bytes(&self) -> usize {
        self.recv_peak.load(Ordering::Relaxed)
    }

    pub(crate) fn receive_paused(&self) -> bool {
        self.recv_paused.load(Ordering::Acquire)
    }

    /// Worker side: reserves room for a message of `len` bytes, or says WouldBlock. The queue
    /// is charged `len` + [`MESSAGE_OVERHEAD`]; a message always fits into an empty queue, so
    /// a message of up to `max_message_size` can always be sent. Only the owner's thread admits
    /// (the handle is neither `Send` nor `Sync`); the stack thread only releases.
    pub(crate) fn admit(&self, len: usize) -> Result<(), Error> {
        let high = self.config.send_high_water;
        let charge = len + MESSAGE_OVERHEAD;
        let mut cur = self.send_charge.load(Ordering::SeqCst);
        loop {
            if cur > 0 && cur + charge > high {
                // Announce that we wait, then look again: a drain that raced with us either
                // sees the flag (and will post BufferedAmountLow) or has changed the charge.
                self.blocked.store(true, Ordering::SeqCst);
                let now = self.send_charge.load(Ordering::SeqCst);
                if now == cur {
                    return Err(Error::WouldBlock {
                        assoc: self.id,
                        buffered: self.buffered(),
                        high_water: high,
                    });
                }
                cur = now;
                continue;
            }
            match self.send_charge.compare_exchange(
                cur,
                cur + charge,
                Ordering::SeqCst,
                Ordering::SeqCst,
            ) {
                Ok(_) => {
                    self.buffered.fetch_add(len, Ordering::SeqCst);
                    return Ok(());
                }
                Err(v) => cur = v,
            }
        }
    }

    /// Stack side: a message of `len` bytes left our queue (taken by SCTP, or failed). Returns
    /// the new buffered amount if a `BufferedAmountLow` event is due:
    /// - with `buffered_amount_low_threshold` `t`, when the buffered amount drops from above
    ///   `t` to at most `t`, and also on the first release after a `WouldBlock` that finds it
    ///   at most `t` (admission counts per-message overhead, so a `WouldBlock` can come while
    ///   the amount is already at or below `t`: without this, no crossing would ever follow);
    /// - without, after a `WouldBlock`, once the charged queue is down to half the high-water
    ///   mark.
    pub(crate) fn dequeued(&self, len: usize) -> Option<usize> {
        let charge_after = self
            .send_charge
            .fetch_sub(len + MESSAGE_OVERHEAD, Ordering::SeqCst)
            - len
            - MESSAGE_OVERHEAD;
        let before = self.buffered.fetch_sub(len, Ordering::SeqCst);
        let after = before - len;
        match self.config.buffered_amount_low_threshold {
            Some(t) => {
                let crossed = before > t && after <= t;
                let waited = after <= t && self.blocked.swap(false, Ordering::SeqCst);
                (crossed || waited).then_some(after)
            }
            None => {
                let low = self.config.send_high_water / 2;
                (charge_after <= low && self.blocked.swap(false, Ordering::SeqCst)).then_some(after)
            }
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
        let charge = len + MESSAGE_OVERHEAD;
        let now = self.recv_queued.fetch_add(charge, Ordering::SeqCst) + charge;
        self.recv_peak.fetch_max(now, Ordering::Relaxed);
        self.messages_received.fetch_add(1, Ordering::Relaxed);
        self.bytes_received.fetch_add(len as u64, Ordering::Relaxed);
    }

    /// Worker side: a message of `len` bytes was taken from the mailbox.
    pub(crate) fn release_credit(&self, len: usize) {
        let charge = len + MESSAGE_OVERHEAD;
        let after = self.recv_queued.fetch_sub(charge, Ordering::SeqCst) - charge;
        if after <= self.config.receive_credit / 2
            && self.recv_paused.load(Ordering::SeqCst)
            && self.recv_paused.swap(false, Ordering::SeqCst)
        {
            // A closed stack has nothing left to resume.
            let _ = self.commands.send(Command::Resume { id: self.id });
        }
    }

    pub(crate) fn next_message_id(&self) -> MessageId {
        MessageId(self.next_context.fetch_add(1, Ordering::Relaxed))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shared(config: AssociationConfig) -> (AssocShared, crossbeam_channel::Receiver<Command>) {
        let (tx, rx) = crossbeam_channel::unbounded();
        (AssocShared::new(AssocId(1), config, tx), rx)
    }

    const OH: usize = MESSAGE_OVERHEAD;

    #[test]
    fn admission_blocks_above_high_water_and_low_event_follows_the_drain() {
        let cfg = AssociationConfig {
            max_message_size: 100,
            send_high_water: 3 * (100 + OH),
            ..Default::default()
        };
        let (s, _rx) = shared(cfg);
        for _ in 0..3 {
            s.admit(100).unwrap();
        }
        assert_eq!(s.buffered(), 300, "the buffered amount is payload");
        let err = s.admit(100).unwrap_err();
        assert!(err.is_would_block(), "{err}");
        assert_eq!(
            s.dequeued(100),
            None,
            "two messages left: above half the high-water mark"
        );
        assert_eq!(
            s.dequeued(100),
            Some(100),
            "down to half after a WouldBlock"
        );
        assert_eq!(s.dequeued(100), None, "one event per WouldBlock");
        // An empty queue accepts any message up to max size.
        s.admit(100).unwrap();
    }

    #[test]
    fn tiny_messages_are_charged_their_overhead() {
        let cfg = AssociationConfig {
            max_message_size: 1000,
            send_high_water: 64 * 1024,
            ..Default::default()
        };
        let (s, _rx) = shared(cfg);
        let mut admitted = 0;
        while s.admit(1).is_ok() {
            admitted += 1;
        }
        assert_eq!(
            admitted,
            64 * 1024 / (1 + OH),
            "not 65,536 one-byte messages"
        );
        assert_eq!(s.buffered(), admitted);
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
    fn a_would_block_at_or_below_the_threshold_is_still_followed_by_an_event() {
        // Issue 12 item 6: t >= high - len. The queue is full (by charge) while the buffered
        // amount is already at or below t, so no downward crossing of t can follow.
        let cfg = AssociationConfig {
            max_message_size: 100,
            send_high_water: 2 * (100 + OH),
            buffered_amount_low_threshold: Some(150),
            ..Default::default()
        };
        let (s, _rx) = shared(cfg);
        s.admit(100).unwrap();
        s.admit(10).unwrap();
        let err = s.admit(100).unwrap_err();
        assert!(err.is_would_block(), "{err}");
        assert!(
            s.buffered() <= 150,
            "blocked while at or below the threshold"
        );
        assert_eq!(s.dequeued(10), Some(100), "the waiting sender is told");
        assert_eq!(s.dequeued(100), None, "once");
    }

    #[test]
    fn credit_pauses_reading_and_the_consumer_resumes_it_once() {
        let cfg = AssociationConfig {
            receive_credit: 1000,
            ..Default::default()
        };
        let (s, rx) = shared(cfg);
        assert!(s.may_read());
        s.delivered(400);
        assert!(s.may_read());
        s.delivered(400);
        assert!(!s.may_read(), "1056 charged, credit 1000");
        s.release_credit(400);
        assert!(
            rx.try_recv().is_err(),
            "528 left is above half the credit: no resume yet"
        );
        s.release_credit(400);
        assert!(matches!(rx.try_recv(), Ok(Command::Resume { .. })));
        assert!(rx.try_recv().is_err(), "exactly one resume");
        assert!(s.may_read());
        assert_eq!(s.mailbox_peak_bytes(), 2 * (400 + OH));
    }

    #[test]
    fn empty_messages_use_up_the_credit_too() {
        let cfg = AssociationConfig {
            receive_credit: 64 * 1024,
            ..Default::default()
        };
        let (s, _rx) = shared(cfg);
        let mut read = 0;
        while s.may_read() {
            s.delivered(0);
            read += 1;
        }
        assert_eq!(read, 64 * 1024 / OH, "bounded by the per-message charge");
        assert!(s.receive_paused());
    }
}
