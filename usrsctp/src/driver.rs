//! The stack thread: the only thread that calls usrsctp's API.
//!
//! It serves a command channel. Workers send it packets to feed, messages to send, closes;
//! usrsctp's upcalls send it "look at this socket" requests. It drains commands in batches (up
//! to `StackConfig::command_batch` per wake-up) and owns every socket, so no socket state is
//! shared and no lock guards it.
//!
//! It also drives usrsctp's timers. usrsctp is initialised with `usrsctp_init_nothreads`, so
//! no usrsctp timer thread exists: every `TIMER_TICK` the stack thread calls
//! `usrsctp_handle_timers` with the milliseconds elapsed, and retransmissions, SACK delays,
//! heartbeats and teardown timers run here, between commands. usrsctp's threaded mode is not
//! used because its timer thread races with the thread that calls the API: a timer that fires
//! while the API thread restarts and stops it again can be entered with its association pointer
//! already cleared, so the reference taken when it was started is never dropped. The
//! association then can never be freed, its endpoint stays, and `usrsctp_finish` fails for
//! the rest of the process (0.9.5.0 and master; found with a per-call-site reference-count
//! trace in the soak). With one thread for API calls and timers that interleaving cannot
//! happen. usrsctp still starts its iterator thread (address changes); it takes the same locks
//! as any caller.

use std::collections::{HashMap, HashSet, VecDeque};
use std::mem;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, RecvTimeoutError, Sender};
use tracing::{debug, trace, warn};
use usrsctp_sys as sys;

use crate::association::{AssocShared, AssociationStats};
use crate::config::{Reliability, StackConfig};
use crate::error::{Errno, Error};
use crate::event::{
    AssocId, CloseReason, Event, Message, MessageId, ResetDirection, ResetOutcome, SendFailure,
};
use crate::mailbox::{Envelope, MailboxSender};
use crate::notification::{self, Notification};
use crate::registry::{self, bump, COUNTERS};
use crate::sock::{self, RawSocket};

/// A message on its way from `Association::send` to usrsctp.
pub(crate) struct Outgoing {
    pub(crate) stream: u16,
    pub(crate) ppid: u32,
    pub(crate) data: Vec<u8>,
    pub(crate) unordered: bool,
    pub(crate) reliability: Reliability,
    pub(crate) context: u32,
}

/// What the stack thread is asked to do.
pub(crate) enum Command {
    Open {
        shared: Arc<AssocShared>,
        mailbox: MailboxSender,
        reply: Sender<Result<(), Error>>,
    },
    Input {
        id: AssocId,
        packet: Vec<u8>,
    },
    Send {
        id: AssocId,
        msg: Outgoing,
    },
    ResetStreams {
        id: AssocId,
        streams: Vec<u16>,
    },
    /// The consumer freed receive credit: read the socket again.
    Resume {
        id: AssocId,
    },
    /// usrsctp signalled readiness on the socket.
    Upcall {
        id: AssocId,
    },
    Close {
        id: AssocId,
    },
    Abort {
        id: AssocId,
    },
    /// A worker was dropped: abort these without telling anyone (their routes are gone).
    Discard {
        ids: Vec<AssocId>,
    },
    Stats {
        id: AssocId,
        reply: Sender<Result<AssociationStats, Error>>,
    },
    Shutdown {
        reply: Option<Sender<()>>,
    },
}

/// How often the thread advances usrsctp's timers (usrsctp's own timer thread, which the crate
/// does not start, ticks every 10 ms too). The thread wakes at least this often, which also
/// paces our own deadlines (graceful-close guards, reset retries).
const TIMER_TICK: Duration = Duration::from_millis(10);
/// One `recvv` reads at most this much; larger messages take several reads.
const READ_CHUNK: usize = 64 * 1024;

struct Sock {
    raw: RawSocket,
    shared: Arc<AssocShared>,
    mailbox: MailboxSender,
    /// Messages usrsctp has not accepted yet (its buffer was full, or not connected yet).
    pending: VecDeque<Outgoing>,
    /// The message being reassembled from partial reads.
    partial: Vec<u8>,
    /// The notification being reassembled.
    partial_notification: Vec<u8>,
    connected: bool,
    close_deadline: Option<Instant>,
    shutdown_sent: bool,
    /// Outgoing stream resets waiting for the queue to drain or for usrsctp to accept them.
    resets: Vec<u16>,
    reset_all: bool,
    /// The context of the last SendFailed reported (usrsctp reports once per chunk).
    last_failed: Option<u32>,
    /// `AssocShared::outputs` at the previous stall-probe scan.
    outputs_at_last_scan: u64,
}

impl Sock {
    fn post(&self, event: Event) {
        self.mailbox.post_event(event);
    }
}

pub(crate) struct Driver {
    config: StackConfig,
    rx: Receiver<Command>,
    socks: HashMap<AssocId, Sock>,
    /// The sockets with a close deadline or a stream reset to retry: the only ones the timer
    /// tick looks at, so a wake-up costs nothing per idle association.
    timed: HashSet<AssocId>,
    buf: Vec<u8>,
    /// When to look for stalled associations next (see `probe_stalls`).
    next_probe_scan: Instant,
    /// usrsctp's timers have been advanced up to this moment.
    timers: TimerClock,
}

/// usrsctp's clock, advanced by the stack thread (see the module docs).
struct TimerClock {
    /// The moment up to which usrsctp's timers have been run.
    at: Instant,
}

impl TimerClock {
    fn new() -> Self {
        TimerClock { at: Instant::now() }
    }

    /// How long until the next tick is due (zero if it is overdue).
    fn due_in(&self) -> Duration {
        (self.at + TIMER_TICK).saturating_duration_since(Instant::now())
    }

    /// Runs usrsctp's timers that fell due since the last call, if a tick has passed. Whole
    /// milliseconds only; the remainder carries over to the next call. Must not be called
    /// while holding any of the crate's locks (timer handlers call the output and upcall
    /// callbacks, which take the registry lock).
    fn advance(&mut self) {
        let elapsed = self.at.elapsed();
        if elapsed < TIMER_TICK {
            return;
        }
        let ms = u32::try_from(elapsed.as_millis()).unwrap_or(u32::MAX);
        // SAFETY: usrsctp was initialised with `usrsctp_init_nothreads` by this thread, which is
        // the only one that calls usrsctp's API, so no other call runs concurrently with the
        // timer handlers; no lock of ours is held here.
        unsafe { sys::usrsctp_handle_timers(ms) };
        self.at += Duration::from_millis(u64::from(ms));
    }
}

/// Applies the stack-wide settings (after `usrsctp_init`, which resets them).
fn apply_sysctls(c: &StackConfig) -> Result<(), Error> {
    macro_rules! set {
        ($f:ident, $v:expr) => {{
            // SAFETY: a plain setter of a usrsctp global; usrsctp is initialised.
            let rc = unsafe { sys::$f($v) };
            if rc != 0 {
                return Err(Error::Usrsctp {
                    op: stringify!($f),
                    assoc: None,
                    errno: Errno(libc::EINVAL),
                });
            }
        }};
    }
    set!(usrsctp_sysctl_set_sctp_pr_enable, u32::from(c.pr_enable));
    set!(usrsctp_sysctl_set_sctp_ecn_enable, u32::from(c.ecn_enable));
    if let Some(v) = c.auth_enable {
        set!(usrsctp_sysctl_set_sctp_auth_enable, u32::from(v));
    }
    if let Some(v) = c.asconf_enable {
        set!(usrsctp_sysctl_set_sctp_asconf_enable, u32::from(v));
    }
    set!(usrsctp_sysctl_set_sctp_rto_max_default, c.rto_max_ms);
    set!(usrsctp_sysctl_set_sctp_rto_min_default, c.rto_min_ms);
    set!(
        usrsctp_sysctl_set_sctp_rto_initial_default,
        c.rto_initial_ms
    );
    set!(
        usrsctp_sysctl_set_sctp_init_rto_max_default,
        c.init_rto_max_ms
    );
    set!(usrsctp_sysctl_set_sctp_init_rtx_max_default, c.init_rtx_max);
    set!(
        usrsctp_sysctl_set_sctp_assoc_rtx_max_default,
        c.assoc_rtx_max
    );
    set!(usrsctp_sysctl_set_sctp_path_rtx_max_default, c.path_rtx_max);
    set!(
        usrsctp_sysctl_set_sctp_heartbeat_interval_default,
        c.heartbeat_interval_ms
    );
    set!(
        usrsctp_sysctl_set_sctp_delayed_sack_time_default,
        c.delayed_sack_ms
    );
    set!(usrsctp_sysctl_set_sctp_initial_cwnd, c.initial_cwnd);
    set!(usrsctp_sysctl_set_sctp_sendspace, c.send_space);
    set!(usrsctp_sysctl_set_sctp_recvspace, c.recv_space);
    set!(
        usrsctp_sysctl_set_sctp_max_chunks_on_queue,
        c.max_chunks_on_queue
    );
    if let Some(cc) = c.default_cc_module {
        set!(usrsctp_sysctl_set_sctp_default_cc_module, cc);
    }
    Ok(())
}

/// Calls `usrsctp_finish` until it succeeds (it fails while associations are still being torn
/// down by usrsctp's timers, which keep running here meanwhile). Returns false if it never did
/// within `limit`.
fn finish_usrsctp(timers: &mut TimerClock, limit: Duration) -> bool {
    let start = Instant::now();
    loop {
        // SAFETY: called on the stack thread after every socket was closed.
        if unsafe { sys::usrsctp_finish() } == 0 {
            return true;
        }
        if start.elapsed() > limit {
            return false;
        }
        std::thread::sleep(timers.due_in());
        timers.advance();
    }
}

/// Set once `usrsctp_finish` gave up: usrsctp cannot be initialised again in this process.
pub(crate) static FINISH_FAILED: std::sync::atomic::AtomicBool =
    std::sync::atomic::AtomicBool::new(false);

/// The stack thread's body.
pub(crate) fn run(config: StackConfig, rx: Receiver<Command>, ready: Sender<Result<(), Error>>) {
    // SAFETY: usrsctp is not initialised (the previous stack thread, if any, finished it before
    // exiting, and `Stack::start` joined it). The callback is a plain function that only reads
    // the registry; no debug printer. No timer thread: this thread drives the timers (see the
    // module docs), and no receive threads or raw sockets even in INET builds.
    unsafe { sys::usrsctp_init_nothreads(0, Some(registry::on_output), None) };
    let mut timers = TimerClock::new();
    // Checksums are computed in the output callback and verified by `Association::input` on the
    // workers' threads, with the CPU's CRC instruction (see packet.rs).
    // SAFETY: sets a usrsctp global; usrsctp is initialised.
    unsafe { sys::usrsctp_enable_crc32c_offload() };
    if let Err(e) = apply_sysctls(&config) {
        let _ = ready.send(Err(e));
        finish_usrsctp(&mut timers, Duration::from_secs(5));
        return;
    }
    debug!(source = sys::SOURCE, "usrsctp stack thread started");
    let _ = ready.send(Ok(()));
    let mut driver = Driver {
        config,
        rx,
        socks: HashMap::new(),
        timed: HashSet::new(),
        buf: vec![0; READ_CHUNK],
        next_probe_scan: Instant::now(),
        timers,
    };
    let reply = driver.serve();
    driver.teardown();
    let finished = finish_usrsctp(&mut driver.timers, Duration::from_secs(30));
    if !finished {
        FINISH_FAILED.store(true, std::sync::atomic::Ordering::SeqCst);
        warn!("usrsctp_finish kept failing; usrsctp stays initialised for the life of the process");
    }
    debug!("usrsctp stack thread stopped");
    if let Some(reply) = reply {
        let _ = reply.send(());
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// What one step of a drain produced.
enum Read {
    /// A complete message was posted to the mailbox.
    Message,
    /// A complete notification, for the driver to act on before reading further.
    Notification(Notification),
    /// Nothing more for now: no data, no credit, or an error.
    Stop,
}

/// Reads until one message or notification is complete (or nothing is left).
fn read_one(id: AssocId, s: &mut Sock, buf: &mut [u8]) -> Read {
    loop {
        if !s.shared.may_read() {
            return Read::Stop;
        }
        let got = match s.raw.recvv(buf) {
            Ok(got) => got,
            Err(errno) => {
                if !errno.is_would_block() {
                    trace!(assoc = %id, %errno, "usrsctp_recvv");
                }
                return Read::Stop;
            }
        };
        let complete = got.flags & libc::MSG_EOR != 0;
        if got.len == 0 && !complete {
            return Read::Stop; // end of stream
        }
        let piece = &buf[..got.len];
        if got.flags & sys::MSG_NOTIFICATION != 0 {
            s.partial_notification.extend_from_slice(piece);
            if complete {
                let bytes = mem::take(&mut s.partial_notification);
                match notification::parse(&bytes) {
                    Ok(n) => return Read::Notification(n),
                    Err(reason) => warn!(assoc = %id, reason, "undecodable notification ignored"),
                }
            }
            continue;
        }
        s.partial.extend_from_slice(piece);
        if !complete {
            continue;
        }
        let mut data = mem::take(&mut s.partial);
        let info = got.info.unwrap_or_else(sock::zeroed_pod);
        let ppid = u32::from_be(info.rcv_ppid);
        if ppid == crate::ppid::STRING_EMPTY || ppid == crate::ppid::BINARY_EMPTY {
            data.clear();
        }
        let message = Message {
            stream: info.rcv_sid,
            ppid,
            unordered: info.rcv_flags & sys::SCTP_UNORDERED != 0,
            data,
        };
        trace!(assoc = %id, stream = message.stream, len = message.data.len(), "message");
        s.shared.delivered(message.data.len());
        s.mailbox.post(Envelope {
            event: Event::Message { assoc: id, message },
            credit: Some(s.shared.clone()),
        });
        return Read::Message;
    }
}

impl Driver {
    /// Serves commands until shutdown; returns whom to tell when the stack is down.
    fn serve(&mut self) -> Option<Sender<()>> {
        loop {
            let first = match self.rx.recv_timeout(self.wake_after()) {
                Ok(cmd) => Some(cmd),
                Err(RecvTimeoutError::Timeout) => None,
                Err(RecvTimeoutError::Disconnected) => return None,
            };
            let mut next = first;
            let mut handled = 0;
            while let Some(cmd) = next.take() {
                bump(&COUNTERS.commands);
                if let Command::Shutdown { reply } = cmd {
                    return reply;
                }
                self.handle(cmd);
                handled += 1;
                if handled >= self.config.command_batch {
                    break;
                }
                next = self.rx.try_recv().ok();
            }
            self.timers.advance();
            self.check_deadlines();
            self.probe_stalls();
        }
    }

    /// How long the thread may sleep waiting for a command: until usrsctp's next timer tick,
    /// or sooner for our own deadlines and the stall probe.
    fn wake_after(&self) -> Duration {
        let mut wait = self.timers.due_in();
        if self.config.stall_probe_ms > 0 && !self.socks.is_empty() {
            wait = wait.min(
                self.next_probe_scan
                    .saturating_duration_since(Instant::now())
                    .max(Duration::from_millis(1)),
            );
        }
        wait
    }

    /// The stall probe (`StackConfig::stall_probe_ms`): once per probe interval, each
    /// association whose output count has not moved since the previous scan (so usrsctp sent
    /// nothing for at least an interval), and that sent data since it was last found idle, is
    /// asked whether data is outstanding. If so, the DATA chunks of the last DATA packet it
    /// sent go to its owner's wire again: the peer acknowledges them (if the tail was lost) or
    /// reports the gaps (a duplicate is answered at once), and either SACK gets usrsctp going
    /// again. If not, the copy is dropped.
    fn probe_stalls(&mut self) {
        let interval = u64::from(self.config.stall_probe_ms);
        let now = Instant::now();
        if interval == 0 || now < self.next_probe_scan {
            return;
        }
        self.next_probe_scan = now + Duration::from_millis(interval);
        for (&id, s) in &mut self.socks {
            let outputs = s.shared.outputs.load(Relaxed);
            let silent = outputs == s.outputs_at_last_scan;
            s.outputs_at_last_scan = outputs;
            if !s.connected || !silent || lock(&s.shared.probe).is_empty() {
                continue;
            }
            // No lock is held across this call.
            let outstanding = s
                .raw
                .getsockopt::<sys::sctp_status>(
                    "getsockopt(SCTP_STATUS)",
                    sys::IPPROTO_SCTP,
                    sys::SCTP_STATUS,
                )
                .map(|st| st.sstat_unackdata > 0);
            let probe = {
                let mut slot = lock(&s.shared.probe);
                // The output callback counts a packet before it fills the slot: a packet sent
                // meanwhile shows here, and its copy must not be thrown away.
                let sent_meanwhile = s.shared.outputs.load(Relaxed) != outputs;
                match outstanding {
                    _ if sent_meanwhile => None,
                    Ok(true) => crate::packet::data_only(&slot),
                    _ => {
                        slot.clear();
                        None
                    }
                }
            };
            if let Some(packet) = probe {
                bump(&COUNTERS.stall_probes);
                debug!(assoc = %id, len = packet.len(), "stall probe: data outstanding and nothing sent; replaying data");
                s.post(Event::Transmit { assoc: id, packet });
            }
        }
    }

    fn check_deadlines(&mut self) {
        if self.timed.is_empty() {
            return;
        }
        let now = Instant::now();
        let timed: Vec<AssocId> = self.timed.iter().copied().collect();
        for id in timed {
            let Some(s) = self.socks.get(&id) else {
                self.timed.remove(&id);
                continue;
            };
            if s.close_deadline.is_some_and(|d| d <= now) {
                debug!(assoc = %id, "graceful close timed out; aborting");
                self.abort(id, true);
                continue;
            }
            self.try_resets(id);
            if let Some(s) = self.socks.get(&id) {
                if s.close_deadline.is_none() && s.resets.is_empty() && !s.reset_all {
                    self.timed.remove(&id);
                }
            }
        }
    }

    fn handle(&mut self, cmd: Command) {
        match cmd {
            Command::Open {
                shared,
                mailbox,
                reply,
            } => {
                let id = shared.id;
                let result = self.open(shared, mailbox);
                if let Err(e) = &result {
                    warn!(assoc = %id, error = %e, "association setup failed");
                }
                let _ = reply.send(result);
            }
            Command::Input { id, packet } => {
                if self.socks.contains_key(&id) {
                    bump(&COUNTERS.packets_in);
                    trace!(assoc = %id, len = packet.len(), "input");
                    sock::conninput(id, &packet);
                } else {
                    bump(&COUNTERS.inputs_dropped);
                }
            }
            Command::Send { id, msg } => match self.socks.get_mut(&id) {
                Some(s) => {
                    s.pending.push_back(msg);
                    self.flush(id);
                }
                // Closed in the meantime: its handle reports Closed; the message is dropped.
                None => drop(msg),
            },
            Command::ResetStreams { id, streams } => {
                if let Some(s) = self.socks.get_mut(&id) {
                    if streams.is_empty() {
                        s.reset_all = true;
                    } else {
                        s.resets.extend(streams);
                    }
                    self.timed.insert(id);
                    self.try_resets(id);
                }
            }
            Command::Resume { id } => self.drain(id),
            Command::Upcall { id } => {
                if let Some(s) = self.socks.get(&id) {
                    s.shared
                        .upcall_pending
                        .store(false, std::sync::atomic::Ordering::Release);
                    self.drain(id);
                    self.flush(id);
                    self.try_resets(id);
                }
            }
            Command::Close { id } => self.close(id),
            Command::Abort { id } => self.abort(id, true),
            Command::Discard { ids } => {
                for id in ids {
                    self.abort(id, false);
                }
            }
            Command::Stats { id, reply } => {
                let _ = reply.send(self.stats(id));
            }
            Command::Shutdown { .. } => unreachable!("handled in serve"),
        }
    }

    fn open(&mut self, shared: Arc<AssocShared>, mailbox: MailboxSender) -> Result<(), Error> {
        let id = shared.id;
        let cfg = &shared.config;
        let raw = RawSocket::open(id)?;
        let setup = raw
            .configure(cfg, self.config.heartbeat_interval_ms)
            .and_then(|()| {
                sock::register_address(id);
                raw.bind(cfg.local_port)?;
                raw.connect(cfg.remote_port)
            });
        if let Err(e) = setup {
            raw.close();
            sock::deregister_address(id);
            return Err(e);
        }
        bump(&COUNTERS.associations_opened);
        debug!(assoc = %id, local_port = cfg.local_port, remote_port = cfg.remote_port, "association connecting");
        self.socks.insert(
            id,
            Sock {
                raw,
                shared,
                mailbox,
                pending: VecDeque::new(),
                partial: Vec::new(),
                partial_notification: Vec::new(),
                connected: false,
                close_deadline: None,
                shutdown_sent: false,
                resets: Vec::new(),
                reset_all: false,
                last_failed: None,
                outputs_at_last_scan: 0,
            },
        );
        Ok(())
    }

    /// Hands queued messages to usrsctp until its buffer is full.
    fn flush(&mut self, id: AssocId) {
        let Some(s) = self.socks.get_mut(&id) else {
            return;
        };
        if !s.connected {
            return;
        }
        while let Some(msg) = s.pending.front() {
            match s.raw.sendv(msg) {
                Ok(()) => {
                    let len = msg.data.len();
                    s.pending.pop_front();
                    s.shared
                        .messages_sent
                        .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    s.shared
                        .bytes_sent
                        .fetch_add(len as u64, std::sync::atomic::Ordering::Relaxed);
                    if let Some(buffered) = s.shared.dequeued(len) {
                        s.post(Event::BufferedAmountLow {
                            assoc: id,
                            buffered,
                        });
                    }
                }
                Err(errno) if errno.is_would_block() => break,
                Err(errno) => {
                    let Some(msg) = s.pending.pop_front() else {
                        break;
                    };
                    debug!(assoc = %id, %errno, "usrsctp_sendv refused a message");
                    if let Some(buffered) = s.shared.dequeued(msg.data.len()) {
                        s.post(Event::BufferedAmountLow {
                            assoc: id,
                            buffered,
                        });
                    }
                    s.post(Event::SendFailed {
                        assoc: id,
                        message: MessageId(msg.context),
                        stream: msg.stream,
                        ppid: msg.ppid,
                        reason: SendFailure::Rejected(errno),
                    });
                }
            }
        }
        if s.pending.is_empty() && s.close_deadline.is_some() && !s.shutdown_sent {
            s.shutdown_sent = true;
            if let Err(e) = s.raw.shutdown_write() {
                debug!(assoc = %id, error = %e, "shutdown failed; aborting");
                self.abort(id, true);
            }
        }
    }

    fn try_resets(&mut self, id: AssocId) {
        let Some(s) = self.socks.get_mut(&id) else {
            return;
        };
        if !s.connected || !s.pending.is_empty() || (s.resets.is_empty() && !s.reset_all) {
            return;
        }
        let streams = if s.reset_all {
            Vec::new()
        } else {
            s.resets.clone()
        };
        match s.raw.reset_streams(&streams) {
            Ok(()) => {
                trace!(assoc = %id, ?streams, "stream reset requested");
                s.resets.clear();
                s.reset_all = false;
            }
            // A reset is already in flight, or the streams still have data: try again later.
            Err(Error::Usrsctp { errno, .. })
                if errno.is_would_block()
                    || errno.0 == libc::EALREADY
                    || errno.0 == libc::EBUSY => {}
            Err(e) => {
                debug!(assoc = %id, error = %e, "stream reset refused");
                s.resets.clear();
                s.reset_all = false;
                s.post(Event::StreamsReset {
                    assoc: id,
                    direction: ResetDirection::Outgoing,
                    streams,
                    outcome: ResetOutcome::Failed,
                });
            }
        }
    }

    /// Reads messages and notifications while the owner has credit, acting on each in the
    /// order usrsctp delivered it (a `Connected` is posted before the messages that follow it).
    fn drain(&mut self, id: AssocId) {
        loop {
            let Some(s) = self.socks.get_mut(&id) else {
                return;
            };
            match read_one(id, s, &mut self.buf) {
                Read::Message => {}
                Read::Notification(n) => self.notification(id, n),
                Read::Stop => return,
            }
        }
    }

    fn notification(&mut self, id: AssocId, n: Notification) {
        let Some(s) = self.socks.get_mut(&id) else {
            return;
        };
        trace!(assoc = %id, ?n, "notification");
        match n {
            Notification::AssocChange {
                state,
                outbound_streams,
                inbound_streams,
                peer_abort,
                error,
            } => match state {
                sys::SCTP_COMM_UP | sys::SCTP_RESTART => {
                    if state == sys::SCTP_RESTART {
                        bump(&COUNTERS.association_restarts);
                        warn!(assoc = %id, connected = s.connected, "usrsctp reported an association restart");
                    }
                    if !s.connected {
                        s.connected = true;
                        s.shared.set_open(outbound_streams);
                        debug!(assoc = %id, outbound_streams, inbound_streams, "association up");
                        s.post(Event::Connected {
                            assoc: id,
                            outbound_streams,
                            inbound_streams,
                        });
                    }
                    self.flush(id);
                    self.try_resets(id);
                }
                sys::SCTP_SHUTDOWN_COMP => self.finish(id, CloseReason::Graceful, true),
                sys::SCTP_CANT_STR_ASSOC => self.finish(id, CloseReason::ConnectFailed, true),
                _ => {
                    let reason = if peer_abort {
                        CloseReason::AbortedByPeer
                    } else {
                        CloseReason::CommunicationLost
                    };
                    debug!(assoc = %id, error, ?reason, "association lost");
                    self.finish(id, reason, true);
                }
            },
            Notification::ShutdownEvent => {
                // The peer started a graceful close: no new sends; SHUTDOWN_COMP follows.
                s.shared.set_closing();
            }
            Notification::SendFailed {
                sent,
                stream,
                ppid,
                context,
                ..
            } => {
                if s.last_failed != Some(context) {
                    s.last_failed = Some(context);
                    s.post(Event::SendFailed {
                        assoc: id,
                        message: MessageId(context),
                        stream,
                        ppid,
                        reason: SendFailure::Abandoned { sent },
                    });
                }
            }
            Notification::StreamReset { flags, streams } => {
                let outcome = if flags & sys::SCTP_STREAM_RESET_DENIED != 0 {
                    ResetOutcome::Denied
                } else if flags & sys::SCTP_STREAM_RESET_FAILED != 0 {
                    ResetOutcome::Failed
                } else {
                    ResetOutcome::Performed
                };
                if flags & sys::SCTP_STREAM_RESET_INCOMING_SSN != 0 {
                    s.post(Event::StreamsReset {
                        assoc: id,
                        direction: ResetDirection::Incoming,
                        streams: streams.clone(),
                        outcome,
                    });
                }
                if flags & sys::SCTP_STREAM_RESET_OUTGOING_SSN != 0 {
                    s.post(Event::StreamsReset {
                        assoc: id,
                        direction: ResetDirection::Outgoing,
                        streams,
                        outcome,
                    });
                }
            }
            Notification::PartialDeliveryAborted => s.partial.clear(),
            Notification::StreamChange { .. }
            | Notification::RemoteError { .. }
            | Notification::Other { .. } => {}
        }
    }

    /// Starts a graceful close: flush, then SHUTDOWN; abort if it takes too long.
    fn close(&mut self, id: AssocId) {
        let Some(s) = self.socks.get_mut(&id) else {
            return;
        };
        if s.close_deadline.is_some() {
            return;
        }
        if !s.connected {
            // Nothing to shut down gracefully yet.
            self.abort(id, true);
            return;
        }
        s.close_deadline = Some(Instant::now() + s.shared.config.close_timeout);
        self.timed.insert(id);
        debug!(assoc = %id, "graceful close");
        self.flush(id);
    }

    fn abort(&mut self, id: AssocId, notify: bool) {
        if let Some(s) = self.socks.get(&id) {
            if let Err(e) = s.raw.set_abortive_close() {
                debug!(assoc = %id, error = %e, "SO_LINGER failed; closing anyway");
            }
            self.finish(id, CloseReason::AbortedLocally, notify);
        }
    }

    /// Ends an association: reports queued messages as failed and `Closed`, closes the socket,
    /// then forgets the id. Callbacks for it after this are counted and dropped.
    fn finish(&mut self, id: AssocId, reason: CloseReason, notify: bool) {
        let Some(mut s) = self.socks.remove(&id) else {
            return;
        };
        s.shared.set_closed();
        for msg in s.pending.drain(..) {
            s.shared.dequeued(msg.data.len());
            if notify {
                s.mailbox.post_event(Event::SendFailed {
                    assoc: id,
                    message: MessageId(msg.context),
                    stream: msg.stream,
                    ppid: msg.ppid,
                    reason: SendFailure::AssociationClosed,
                });
            }
        }
        // Close while the route still exists, so an ABORT reaches the owner's wire.
        s.raw.close();
        sock::deregister_address(id);
        if notify {
            s.mailbox.post_event(Event::Closed { assoc: id, reason });
        }
        registry::remove(id);
        bump(&COUNTERS.associations_closed);
        debug!(assoc = %id, ?reason, "association closed");
    }

    fn stats(&self, id: AssocId) -> Result<AssociationStats, Error> {
        use std::sync::atomic::Ordering::Relaxed;
        let s = self.socks.get(&id).ok_or(Error::Closed { assoc: id })?;
        let status: sys::sctp_status = s.raw.getsockopt(
            "getsockopt(SCTP_STATUS)",
            sys::IPPROTO_SCTP,
            sys::SCTP_STATUS,
        )?;
        Ok(AssociationStats {
            srtt_ms: status.sstat_primary.spinfo_srtt,
            rto_ms: status.sstat_primary.spinfo_rto,
            cwnd: status.sstat_primary.spinfo_cwnd,
            peer_rwnd: status.sstat_rwnd,
            mtu: status.sstat_primary.spinfo_mtu,
            unacked_chunks: status.sstat_unackdata,
            pending_chunks: status.sstat_penddata,
            outbound_streams: status.sstat_outstrms,
            inbound_streams: status.sstat_instrms,
            buffered_amount: s.shared.buffered(),
            queued_messages: s.pending.len(),
            mailbox_bytes: s.shared.mailbox_bytes(),
            receive_paused: s.shared.receive_paused(),
            upcall_pending: s.shared.upcall_pending.load(Relaxed),
            messages_sent: s.shared.messages_sent.load(Relaxed),
            bytes_sent: s.shared.bytes_sent.load(Relaxed),
            messages_received: s.shared.messages_received.load(Relaxed),
            bytes_received: s.shared.bytes_received.load(Relaxed),
        })
    }

    /// Shutdown: every association ends with `Closed { StackShutdown }`.
    fn teardown(&mut self) {
        let ids: Vec<AssocId> = self.socks.keys().copied().collect();
        for id in ids {
            if let Some(s) = self.socks.get(&id) {
                let _ = s.raw.set_abortive_close();
            }
            self.finish(id, CloseReason::StackShutdown, true);
        }
        // Commands that raced with the shutdown: answer the ones that wait for an answer.
        while let Ok(cmd) = self.rx.try_recv() {
            match cmd {
                Command::Open { reply, .. } => {
                    let _ = reply.send(Err(Error::StackShutdown));
                }
                Command::Stats { reply, .. } => {
                    let _ = reply.send(Err(Error::StackShutdown));
                }
                Command::Shutdown { reply: Some(reply) } => {
                    let _ = reply.send(());
                }
                _ => {}
            }
        }
    }
}
