//! Stack-wide and per-association settings, with WebRTC-grade defaults.

use std::time::Duration;

use crate::error::Error;

/// The longest timeout any setting may name: one hour, in ms.
const MAX_TIMEOUT_MS: u32 = 3_600_000;
/// The longest graceful close.
pub(crate) const MAX_CLOSE_TIMEOUT: Duration = Duration::from_secs(3600);
/// The largest byte budget (send high-water mark, receive credit, message size): sums of two
/// of them cannot overflow.
const MAX_BUDGET: usize = 1 << 40;

/// Stack-wide settings, applied as usrsctp sysctls right after `usrsctp_init` (which resets
/// them all).
///
/// The defaults are those libdatachannel and mediasoup run browsers' data channels with:
/// PR-SCTP on, ECN off, a 200 ms minimum RTO, 5 retransmissions before giving up, a 20 ms
/// delayed SACK, an initial window of 10 MTUs and 1 MiB socket buffers.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StackConfig {
    /// Partial reliability (RFC 3758), needed by unreliable data channels.
    pub pr_enable: bool,
    /// Explicit congestion notification.
    pub ecn_enable: bool,
    /// SCTP-AUTH (RFC 4895); `None` keeps usrsctp's default.
    pub auth_enable: Option<bool>,
    /// Dynamic address reconfiguration; `None` keeps usrsctp's default.
    pub asconf_enable: Option<bool>,
    /// Minimum retransmission timeout.
    pub rto_min_ms: u32,
    /// Maximum retransmission timeout.
    pub rto_max_ms: u32,
    /// Initial retransmission timeout.
    pub rto_initial_ms: u32,
    /// Maximum RTO during the handshake.
    pub init_rto_max_ms: u32,
    /// INIT retransmissions before the connect fails.
    pub init_rtx_max: u32,
    /// Retransmissions before the association is declared lost.
    pub assoc_rtx_max: u32,
    /// Retransmissions before a path is declared unreachable.
    pub path_rtx_max: u32,
    /// Heartbeat interval.
    pub heartbeat_interval_ms: u32,
    /// Delayed SACK time.
    pub delayed_sack_ms: u32,
    /// Initial congestion window in MTUs.
    pub initial_cwnd: u32,
    /// Default socket send buffer in bytes.
    pub send_space: u32,
    /// Default socket receive buffer in bytes.
    pub recv_space: u32,
    /// Chunks an association may queue.
    pub max_chunks_on_queue: u32,
    /// Congestion control module (`usrsctp_sys::SCTP_CC_*`); `None` keeps usrsctp's default.
    pub default_cc_module: Option<u32>,
    /// usrsctp's debug mask (`SCTP_DEBUG_*`, the `sctp_debug_on` sysctl); 0 is silent. usrsctp
    /// prints only if it was compiled with `SCTP_DEBUG` (the vendored build is) and
    /// [`debug_printf`](Self::debug_printf) gives it somewhere to print.
    pub debug_mask: u32,
    /// Route usrsctp's debug output to stdout through the C library's `printf`. The output
    /// comes from the stack thread, unsynchronised with Rust's stdout.
    pub debug_printf: bool,
    /// Commands the stack thread handles per wake-up before it checks its timers
    /// (1..=65536).
    pub command_batch: usize,
    /// The stall probe, in ms (0 turns it off; otherwise at least 100). usrsctp can lose an
    /// association's retransmission timer while data is outstanding (sctplab/usrsctp#750,
    /// present in 0.9.5.0 and later; seen here under loss, duplication and reordering): the
    /// association then sends nothing and waits forever. When an association has had data
    /// outstanding and no packet output for at least this long (the stack thread looks once
    /// per interval, so a stall is found within two), the stack thread sends the DATA chunks
    /// of the last DATA packet it sent once more. The peer acknowledges them if they were lost,
    /// or reports its gaps at once if they are a duplicate; either SACK gets usrsctp going
    /// again. When the timer was only backing off, the probe is a harmless duplicate. Counted in
    /// [`Diagnostics::stall_probes`](crate::Diagnostics::stall_probes).
    pub stall_probe_ms: u32,
    /// Low-latency opt-in: before the stack thread parks waiting for work, it polls its
    /// command channel for at least this many microseconds (0, the default: only as long as
    /// `adaptive_spin_us` finds worth it; at most 1,000). Each wake-up of a parked thread
    /// costs tens of µs on virtual machines, and a round trip wakes the stack thread four
    /// times; spinning removes those wake-ups while traffic flows, at the price of up to this
    /// much CPU after each burst of commands, whatever the traffic (a stack with only timers
    /// to run still parks at once). BENCHMARKS.md has the measured round trip and CPU cost.
    pub spin_before_park_us: u32,
    /// The bound of the stack thread's adaptive poll before parking, in µs (0 turns it off;
    /// at most 1,000; default 50). While commands keep arriving soon after the thread ran
    /// dry, within this bound, it polls for them instead of parking: the window doubles each
    /// time a command came after it but within the bound, and halves each time the thread
    /// stayed idle longer than the bound (the rule of Linux's cpuidle-haltpoll governor), and
    /// it switches itself off for a while (256 idle periods, doubling up to 8,192 while that
    /// repeats) when fewer than two of its polls caught a command for each that missed (paced
    /// traffic: a burst of commands, then a long gap). A quiet stack, or one whose commands
    /// come further apart, parks at once; one idle period spends at most this much CPU
    /// polling. Off where the process may run on one CPU only
    /// (`std::thread::available_parallelism`: affinity, cgroup quota), where the poll would
    /// hold the CPU the awaited worker needs. `Diagnostics::spins_caught` and
    /// `spins_missed` count what the polls bought. BENCHMARKS.md has the measured effect.
    pub adaptive_spin_us: u32,
    /// The longest the stack thread lets usrsctp's timers wait while the stack is active, in
    /// ms (10..=1000; default 100). usrsctp's timer run walks every armed timer, due or not:
    /// two per idle association. The thread runs it every 10 ms while that costs under 2 % of
    /// its time and stretches the period as it grows (with 10,000 associations a run takes a
    /// few ms), up to this bound. A timer (retransmission, delayed SACK) fires at most one
    /// period late; a lower bound costs more CPU with many associations.
    ///
    /// While the stack is quiet (nothing but heartbeats), the period grows past this bound:
    /// up to a quarter of the quiet time, a quarter of `heartbeat_interval_ms`, and 1 s. A
    /// timer armed by the last activity then fires at most a quarter of its delay late, and
    /// the next send, packet or command ends the stretch.
    pub max_timer_tick_ms: u32,
    /// Hands the memory closed associations freed back to the system while the stack runs
    /// (glibc's `malloc_trim`), once at least this many associations have closed since their
    /// peak (or the last return) and the stack has been quiet (nothing but heartbeats) for
    /// 2 s. Default 1,000 (~37 MB of usrsctp's tables with the default streams); 0: only at
    /// shutdown. glibc otherwise keeps freed memory for reuse: after 10,000 associations had
    /// closed, RSS stayed 190–300 MB above its start. Does nothing with other allocators.
    pub return_memory_after_closed: u32,
}

impl Default for StackConfig {
    fn default() -> Self {
        StackConfig {
            pr_enable: true,
            ecn_enable: false,
            auth_enable: None,
            asconf_enable: None,
            rto_min_ms: 200,
            rto_max_ms: 10_000,
            rto_initial_ms: 1_000,
            init_rto_max_ms: 10_000,
            init_rtx_max: 5,
            assoc_rtx_max: 5,
            path_rtx_max: 5,
            heartbeat_interval_ms: 10_000,
            delayed_sack_ms: 20,
            initial_cwnd: 10,
            send_space: 1024 * 1024,
            recv_space: 1024 * 1024,
            max_chunks_on_queue: 10 * 1024,
            default_cc_module: None,
            debug_mask: 0,
            debug_printf: false,
            command_batch: 256,
            stall_probe_ms: 2_000,
            spin_before_park_us: 0,
            adaptive_spin_us: 50,
            max_timer_tick_ms: 100,
            return_memory_after_closed: 1_000,
        }
    }
}

impl StackConfig {
    pub(crate) fn validate(&self) -> Result<(), Error> {
        let bad = |field, reason: &str| {
            Err(Error::InvalidConfig {
                field,
                reason: reason.to_owned(),
            })
        };
        if self.rto_min_ms == 0 || self.rto_min_ms > self.rto_max_ms {
            return bad("rto_min_ms", "must be non-zero and not above rto_max_ms");
        }
        if self.rto_initial_ms < self.rto_min_ms || self.rto_initial_ms > self.rto_max_ms {
            return bad(
                "rto_initial_ms",
                "must lie between rto_min_ms and rto_max_ms",
            );
        }
        if self.rto_max_ms > MAX_TIMEOUT_MS || self.init_rto_max_ms > MAX_TIMEOUT_MS {
            return bad(
                "rto_max_ms/init_rto_max_ms",
                "must not exceed one hour (3600000 ms)",
            );
        }
        if self.init_rto_max_ms < self.rto_min_ms {
            return bad("init_rto_max_ms", "must not be below rto_min_ms");
        }
        if self.init_rtx_max == 0 || self.assoc_rtx_max == 0 || self.path_rtx_max == 0 {
            return bad(
                "init_rtx_max/assoc_rtx_max/path_rtx_max",
                "must be at least 1",
            );
        }
        if self.heartbeat_interval_ms > MAX_TIMEOUT_MS {
            return bad(
                "heartbeat_interval_ms",
                "must not exceed one hour (3600000 ms)",
            );
        }
        if self.delayed_sack_ms > 500 {
            return bad("delayed_sack_ms", "must not exceed 500 ms (RFC 9260 §6.2)");
        }
        if self.initial_cwnd == 0 {
            return bad("initial_cwnd", "must be at least 1 MTU");
        }
        if self.send_space < 64 * 1024 || self.recv_space < 64 * 1024 {
            return bad("send_space/recv_space", "must be at least 64 KiB");
        }
        if self.send_space > i32::MAX as u32 || self.recv_space > i32::MAX as u32 {
            return bad("send_space/recv_space", "must not exceed 2 GiB - 1");
        }
        if self.max_chunks_on_queue == 0 {
            return bad("max_chunks_on_queue", "must be at least 1");
        }
        if self.stall_probe_ms != 0 && !(100..=MAX_TIMEOUT_MS).contains(&self.stall_probe_ms) {
            return bad(
                "stall_probe_ms",
                "must be 0 (off) or between 100 ms (it is a last resort, not a timer) and one hour",
            );
        }
        if !(1..=65_536).contains(&self.command_batch) {
            return bad("command_batch", "must lie in 1..=65536");
        }
        if self.spin_before_park_us > 1_000 {
            return bad(
                "spin_before_park_us",
                "must be at most 1000 µs (longer spins only burn a core)",
            );
        }
        if self.adaptive_spin_us > 1_000 {
            return bad(
                "adaptive_spin_us",
                "must be at most 1000 µs (longer spins only burn a core)",
            );
        }
        if !(10..=1_000).contains(&self.max_timer_tick_ms) {
            return bad(
                "max_timer_tick_ms",
                "must lie in 10..=1000 (usrsctp's timers run at least every 10 ms, and at most \
                 one second late)",
            );
        }
        Ok(())
    }
}

/// Settings of one AF_CONN association.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AssociationConfig {
    /// Our SCTP port (WebRTC: 5000 unless SDP says otherwise).
    pub local_port: u16,
    /// The peer's SCTP port.
    pub remote_port: u16,
    /// Outgoing streams we ask for at the handshake (1..=65535; default 256). usrsctp allocates
    /// about 64 bytes per outgoing stream for the life of the association, and 40 per incoming
    /// stream the peer announces (up to `inbound_streams`); more can be added later with
    /// [`Association::add_streams`](crate::Association::add_streams) (RFC 6525), with a peer
    /// that answers such a request (usrsctp-based ones; not dcsctp, the stack of Chrome, Safari
    /// and today's Firefox). The data-channel layer asks only when told to
    /// (`DataChannels::with_stream_growth`).
    pub outbound_streams: u16,
    /// Incoming streams we accept (1..=65535; default 256). usrsctp allocates the smaller of
    /// this and the peer's announced outgoing streams for the life of the association, and a
    /// peer may add streams only up to it. Browsers announce 65,535 outgoing streams, so
    /// against them this sets the memory: ~40 bytes per stream.
    ///
    /// A data channel uses the same stream id both ways, so channels stop at the smaller of
    /// the two negotiated counts: incoming streams past `outbound_streams` serve no channel
    /// unless the outgoing ones grow too. Raise both together, on both ends for stream growth
    /// between two of this crate's associations (`DataChannels::with_stream_growth`).
    pub inbound_streams: u16,
    /// Path MTU; path MTU discovery is off (RFC 8261 §5). 1200 fits any DTLS path.
    pub mtu: u32,
    /// Socket send buffer; `None` uses [`StackConfig::send_space`].
    pub send_buffer: Option<u32>,
    /// Socket receive buffer; `None` uses [`StackConfig::recv_space`].
    pub recv_buffer: Option<u32>,
    /// Largest message `send` accepts (SDP `a=max-message-size`).
    pub max_message_size: usize,
    /// Bytes `send` may queue ahead of SCTP before it returns [`Error::WouldBlock`]. Each
    /// message counts 128 bytes on top of its payload, so many tiny messages are bounded too.
    pub send_high_water: usize,
    /// WebRTC `bufferedAmountLowThreshold`: when set, [`Event::BufferedAmountLow`] fires on every
    /// drop of the buffered amount from above this value to at most it, and after a
    /// `WouldBlock` as soon as the amount is at most it. When `None`, it fires only after a
    /// `WouldBlock`, once the queue is down to half the high-water mark.
    ///
    /// [`Event::BufferedAmountLow`]: crate::Event::BufferedAmountLow
    pub buffered_amount_low_threshold: Option<usize>,
    /// Bytes of received messages that may wait in the owner's mailbox, each message counting
    /// 128 bytes on top of its payload (so empty messages are bounded too). Past it the stack
    /// stops reading the socket, SCTP's receive window closes and the peer is pushed back.
    pub receive_credit: usize,
    /// How long a graceful close may take before the association is aborted (1 ms ..= 1 h).
    pub close_timeout: Duration,
}

impl Default for AssociationConfig {
    fn default() -> Self {
        AssociationConfig {
            local_port: 5000,
            remote_port: 5000,
            outbound_streams: 256,
            inbound_streams: 256,
            mtu: 1200,
            send_buffer: None,
            recv_buffer: None,
            max_message_size: 256 * 1024,
            send_high_water: 1024 * 1024,
            buffered_amount_low_threshold: None,
            receive_credit: 1024 * 1024,
            close_timeout: Duration::from_secs(10),
        }
    }
}

impl AssociationConfig {
    pub(crate) fn validate(&self) -> Result<(), Error> {
        let bad = |field, reason: String| Err(Error::InvalidConfig { field, reason });
        if self.local_port == 0 || self.remote_port == 0 {
            return bad("local_port/remote_port", "must be non-zero".into());
        }
        if self.outbound_streams == 0 || self.inbound_streams == 0 {
            return bad(
                "outbound_streams/inbound_streams",
                "must be at least 1".into(),
            );
        }
        if !(512..=65_535).contains(&self.mtu) {
            return bad("mtu", format!("must lie in 512..=65535, got {}", self.mtu));
        }
        if self.max_message_size == 0 {
            return bad("max_message_size", "must be at least 1".into());
        }
        if self.send_high_water > MAX_BUDGET || self.receive_credit > MAX_BUDGET {
            return bad(
                "send_high_water/receive_credit",
                format!("must not exceed {MAX_BUDGET} bytes"),
            );
        }
        if self.send_high_water < self.max_message_size {
            return bad(
                "send_high_water",
                format!(
                    "must be at least max_message_size ({})",
                    self.max_message_size
                ),
            );
        }
        if let Some(t) = self.buffered_amount_low_threshold {
            if t >= self.send_high_water {
                return bad(
                    "buffered_amount_low_threshold",
                    format!("must be below send_high_water ({})", self.send_high_water),
                );
            }
        }
        if let Some(b) = self.send_buffer {
            if (b as usize) < self.max_message_size {
                return bad(
                    "send_buffer",
                    "must hold at least one max_message_size message".into(),
                );
            }
        }
        if self.receive_credit == 0 {
            return bad("receive_credit", "must be at least 1".into());
        }
        if self.close_timeout < Duration::from_millis(1) || self.close_timeout > MAX_CLOSE_TIMEOUT {
            return bad(
                "close_timeout",
                format!(
                    "must lie between 1 ms and one hour, got {:?}",
                    self.close_timeout
                ),
            );
        }
        Ok(())
    }

    /// Checks the settings that depend on the stack's: without its own `send_buffer`, the
    /// association gets the stack's `send_space`, which must hold a largest message (usrsctp
    /// refuses a larger one with EMSGSIZE).
    pub(crate) fn validate_for(&self, stack: &StackConfig) -> Result<(), Error> {
        self.validate()?;
        if self.send_buffer.is_none() && self.max_message_size > stack.send_space as usize {
            return Err(Error::InvalidConfig {
                field: "max_message_size",
                reason: format!(
                    "exceeds the stack's send_space ({} bytes) and no send_buffer is set",
                    stack.send_space
                ),
            });
        }
        Ok(())
    }
}

/// How hard SCTP tries to deliver a message.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Default)]
pub enum Reliability {
    /// Retransmit until acknowledged.
    #[default]
    Reliable,
    /// Give up after this many retransmissions (0: send once).
    MaxRetransmits(u32),
    /// Give up when the message is older than this many milliseconds.
    MaxLifetime(u32),
}

/// Per-message options of [`Association::send`](crate::Association::send).
#[derive(Copy, Clone, Debug, PartialEq, Eq, Default)]
pub struct SendOptions {
    /// Deliver as soon as it arrives, ignoring stream order.
    pub unordered: bool,
    /// Partial reliability.
    pub reliability: Reliability,
}

impl SendOptions {
    /// Reliable and ordered (the default).
    pub fn reliable() -> Self {
        SendOptions::default()
    }

    /// Reliable, unordered.
    pub fn unordered() -> Self {
        SendOptions {
            unordered: true,
            ..SendOptions::default()
        }
    }

    /// This options value with another reliability.
    pub fn with_reliability(mut self, reliability: Reliability) -> Self {
        self.reliability = reliability;
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_valid() {
        StackConfig::default().validate().unwrap();
        AssociationConfig::default().validate().unwrap();
    }

    #[test]
    fn out_of_range_values_are_named() {
        let cfg = AssociationConfig {
            mtu: 100,
            ..Default::default()
        };
        let err = cfg.validate().unwrap_err().to_string();
        assert!(err.contains("mtu"), "{err}");

        let cfg = AssociationConfig {
            send_high_water: 10,
            ..Default::default()
        };
        let err = cfg.validate().unwrap_err().to_string();
        assert!(err.contains("send_high_water"), "{err}");

        let cfg = AssociationConfig {
            buffered_amount_low_threshold: Some(usize::MAX),
            ..Default::default()
        };
        assert!(cfg.validate().is_err());

        let cfg = StackConfig {
            rto_min_ms: 5000,
            rto_max_ms: 1000,
            ..Default::default()
        };
        let err = cfg.validate().unwrap_err().to_string();
        assert!(err.contains("rto_min_ms"), "{err}");

        let probe = |ms| StackConfig {
            stall_probe_ms: ms,
            ..Default::default()
        };
        let err = probe(10).validate().unwrap_err().to_string();
        assert!(err.contains("stall_probe_ms"), "{err}");
        assert!(probe(0).validate().is_ok());
        assert!(probe(100).validate().is_ok());

        // The two spin settings: 0..=1000 µs each.
        type With = fn(u32) -> StackConfig;
        let spins: [(&str, With); 2] = [
            ("spin_before_park_us", |us| StackConfig {
                spin_before_park_us: us,
                ..Default::default()
            }),
            ("adaptive_spin_us", |us| StackConfig {
                adaptive_spin_us: us,
                ..Default::default()
            }),
        ];
        for (field, with) in spins {
            let err = with(1_001).validate().unwrap_err().to_string();
            assert!(err.contains(field), "{err}");
            assert!(with(0).validate().is_ok(), "{field}");
            assert!(with(1_000).validate().is_ok(), "{field}");
        }
    }

    #[test]
    fn every_duration_and_budget_is_bounded() {
        let close = |close_timeout| AssociationConfig {
            close_timeout,
            ..Default::default()
        };
        for bad in [Duration::MAX, Duration::ZERO, MAX_CLOSE_TIMEOUT * 2] {
            let err = close(bad).validate().unwrap_err().to_string();
            assert!(err.contains("close_timeout"), "{err}");
        }
        assert!(close(MAX_CLOSE_TIMEOUT).validate().is_ok());
        let big = AssociationConfig {
            max_message_size: usize::MAX / 2,
            send_high_water: usize::MAX,
            ..Default::default()
        };
        assert!(big.validate().is_err());
        let stack = |f: fn(&mut StackConfig)| {
            let mut c = StackConfig::default();
            f(&mut c);
            c.validate().unwrap_err().to_string()
        };
        assert!(stack(|c| c.delayed_sack_ms = 501).contains("delayed_sack_ms"));
        assert!(stack(|c| c.initial_cwnd = 0).contains("initial_cwnd"));
        assert!(stack(|c| c.assoc_rtx_max = 0).contains("rtx_max"));
        assert!(stack(|c| c.heartbeat_interval_ms = u32::MAX).contains("heartbeat"));
        assert!(stack(|c| c.command_batch = usize::MAX).contains("command_batch"));
        assert!(stack(|c| c.stall_probe_ms = u32::MAX).contains("stall_probe_ms"));
        assert!(stack(|c| c.recv_space = u32::MAX).contains("recv_space"));
        assert!(stack(|c| c.max_timer_tick_ms = 9).contains("max_timer_tick_ms"));
        assert!(stack(|c| c.max_timer_tick_ms = 1_001).contains("max_timer_tick_ms"));
    }

    #[test]
    fn a_message_larger_than_the_stack_send_space_needs_its_own_buffer() {
        let stack = StackConfig::default();
        let cfg = AssociationConfig {
            max_message_size: stack.send_space as usize + 1,
            send_high_water: 4 * stack.send_space as usize,
            ..Default::default()
        };
        let err = cfg.validate_for(&stack).unwrap_err().to_string();
        assert!(err.contains("send_space"), "{err}");
        let own = AssociationConfig {
            send_buffer: Some(2 * stack.send_space),
            ..cfg
        };
        assert!(own.validate_for(&stack).is_ok());
    }
}
