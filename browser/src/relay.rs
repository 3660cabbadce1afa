//! The SFU-shaped relay: N worker threads, each owning a UDP socket, the DTLS sessions, SCTP
//! associations and data channels of the browsers placed on it (round robin). A message a
//! browser sends on a channel is relayed to every other browser's channel of the same label,
//! across workers, as mediasoup pipes a DataProducer to DataConsumers.
//!
//! Each worker runs a mio loop on its UDP socket, its usrsctp mailbox's eventfd and a waker for
//! commands from the signalling thread and from other workers. Nothing is shared between
//! workers but those command channels and the counters.
//!
//! Every client association gets, besides the channels the browser opens:
//! - an in-band channel opened by the server, label [`SERVER_LABEL`] (odd stream id);
//! - a negotiated channel, label [`NEGOTIATED_LABEL`], stream [`NEGOTIATED_ID`].
//!
//! Messages on a channel labelled [`CONTROL_LABEL`] are not relayed: they are JSON commands to
//! the server (`{"op":"info"}`, `{"op":"close","label":…}`, `{"op":"open","label":…}`,
//! `{"op":"abort"}`), answered on the same channel. The browser test drives the server with them.

use std::collections::{HashMap, VecDeque};
use std::fmt;
use std::io;
use std::net::SocketAddr;
use std::os::fd::AsRawFd;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, Sender};
use mio::net::UdpSocket;
use mio::unix::SourceFd;
use mio::{Events, Interest, Poll, Token, Waker};
use serde_json::{json, Value};
use usrsctp::datachannel::{
    ChannelData, ChannelEvent, ChannelId, ChannelInit, ChannelManager, ChannelState, ChannelType,
    DtlsRole, Origin,
};
use usrsctp::{AssocId, Association, AssociationConfig, Event, Stack};

use crate::dtls::{DtlsIdentity, DtlsSession};
use crate::ice::{self, BindingRequest};
use crate::sdp::{self, Offer};

/// Label of the channel the server opens in band towards every client.
pub const SERVER_LABEL: &str = "server";
/// Label of the negotiated channel every client association has.
pub const NEGOTIATED_LABEL: &str = "negotiated";
/// Stream id of the negotiated channel.
pub const NEGOTIATED_ID: u16 = 100;
/// Label of the command channel (not relayed).
pub const CONTROL_LABEL: &str = "control";

/// Relayed bytes a client may have waiting for its association's send queue; past it, relayed
/// messages to that client are dropped (counted in `dropped`): a slow browser must not grow a
/// worker's memory without bound.
pub const BACKLOG_LIMIT: usize = 16 * 1024 * 1024;

const UDP: Token = Token(0);
const MAILBOX: Token = Token(1);
const WAKE: Token = Token(2);

/// Relay settings.
#[derive(Clone, Debug)]
pub struct RelayConfig {
    /// Worker threads.
    pub workers: usize,
    /// Our `a=max-message-size` and the associations' `max_message_size`.
    pub max_message_size: usize,
    /// A client that sends nothing (not even ICE consent checks, every 5 s) for this long is
    /// dropped.
    pub idle_timeout: Duration,
    /// Fault injection for tests: the fraction (0.0–1.0) of DTLS datagrams dropped, each way,
    /// as a lossy network would (STUN is spared). 0 in production.
    pub dtls_loss: f64,
}

impl Default for RelayConfig {
    fn default() -> Self {
        RelayConfig {
            workers: 3,
            max_message_size: 256 * 1024,
            idle_timeout: Duration::from_secs(30),
            dtls_loss: 0.0,
        }
    }
}

/// Why the relay failed.
#[derive(Debug)]
pub enum RelayError {
    /// A socket, poll or thread operation failed.
    Io(io::Error),
    /// The SCTP stack.
    Sctp(usrsctp::Error),
    /// DTLS setup.
    Dtls(crate::dtls::DtlsError),
    /// The offer was refused.
    Offer(String),
    /// The relay is shutting down.
    Stopped,
}

impl fmt::Display for RelayError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RelayError::Io(e) => write!(f, "I/O: {e}"),
            RelayError::Sctp(e) => write!(f, "SCTP: {e}"),
            RelayError::Dtls(e) => write!(f, "{e}"),
            RelayError::Offer(e) => write!(f, "{e}"),
            RelayError::Stopped => write!(f, "the relay is stopped"),
        }
    }
}

impl std::error::Error for RelayError {}

impl From<io::Error> for RelayError {
    fn from(e: io::Error) -> Self {
        RelayError::Io(e)
    }
}

impl From<usrsctp::Error> for RelayError {
    fn from(e: usrsctp::Error) -> Self {
        RelayError::Sctp(e)
    }
}

/// Counters of one worker.
#[derive(Debug, Default)]
pub struct WorkerStats {
    /// Clients placed on the worker and not yet freed.
    pub clients: AtomicUsize,
    /// Messages received from its clients on relayed channels.
    pub messages_in: AtomicU64,
    /// Messages it sent to its clients (relayed from any worker).
    pub messages_relayed: AtomicU64,
    /// Bytes it sent to its clients.
    pub bytes_relayed: AtomicU64,
    /// Relayed messages it could not deliver (no open channel of that label, or refused).
    pub dropped: AtomicU64,
    /// Protocol errors of its clients (DCEP, PPIDs, …).
    pub peer_errors: AtomicU64,
}

/// A snapshot of one worker's counters.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WorkerSnapshot {
    /// Worker index.
    pub worker: usize,
    /// See [`WorkerStats`].
    pub clients: usize,
    /// See [`WorkerStats`].
    pub messages_in: u64,
    /// See [`WorkerStats`].
    pub messages_relayed: u64,
    /// See [`WorkerStats`].
    pub bytes_relayed: u64,
    /// See [`WorkerStats`].
    pub dropped: u64,
    /// See [`WorkerStats`].
    pub peer_errors: u64,
}

/// The answer to an offer.
#[derive(Clone, Debug)]
pub struct Answer {
    /// The SDP answer.
    pub sdp: String,
    /// The worker the client was placed on.
    pub worker: usize,
    /// The client id.
    pub client: u64,
}

enum Command {
    Offer {
        client: u64,
        offer: Offer,
        reply: Sender<Result<String, String>>,
    },
    Relay {
        from: u64,
        label: Arc<str>,
        data: Arc<ChannelData>,
    },
}

struct WorkerHandle {
    tx: Sender<Command>,
    waker: Arc<Waker>,
    stats: Arc<WorkerStats>,
}

impl WorkerHandle {
    fn send(&self, cmd: Command) -> bool {
        if self.tx.send(cmd).is_err() {
            return false;
        }
        // A waker that fails means the worker is gone; its channel is then disconnected too.
        let _ = self.waker.wake();
        true
    }
}

/// State shared by the signalling thread and the workers.
struct Shared {
    workers: Vec<WorkerHandle>,
    next_worker: AtomicUsize,
    next_client: AtomicU64,
    /// Live clients: id → worker.
    clients: Mutex<HashMap<u64, usize>>,
    stop: AtomicBool,
}

/// A running relay. Dropping it stops the workers.
pub struct Relay {
    shared: Arc<Shared>,
    threads: Vec<JoinHandle<()>>,
}

impl fmt::Debug for Relay {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Relay")
            .field("workers", &self.shared.workers.len())
            .finish()
    }
}

impl Relay {
    /// Starts the workers (on the process-wide usrsctp stack).
    pub fn start(config: RelayConfig) -> Result<Relay, RelayError> {
        if config.workers == 0 {
            return Err(RelayError::Offer("at least one worker is needed".into()));
        }
        let stack = Stack::global()?;
        let identity = Arc::new(DtlsIdentity::generate().map_err(RelayError::Dtls)?);
        let mut polls = Vec::new();
        let mut handles = Vec::new();
        let mut receivers = Vec::new();
        for _ in 0..config.workers {
            let poll = Poll::new()?;
            let waker = Arc::new(Waker::new(poll.registry(), WAKE)?);
            let (tx, rx) = crossbeam_channel::unbounded();
            handles.push(WorkerHandle {
                tx,
                waker,
                stats: Arc::new(WorkerStats::default()),
            });
            polls.push(poll);
            receivers.push(rx);
        }
        let shared = Arc::new(Shared {
            workers: handles,
            next_worker: AtomicUsize::new(0),
            next_client: AtomicU64::new(1),
            clients: Mutex::new(HashMap::new()),
            stop: AtomicBool::new(false),
        });
        let mut threads = Vec::new();
        for (index, (poll, commands)) in polls.into_iter().zip(receivers).enumerate() {
            let socket = UdpSocket::bind(
                "127.0.0.1:0"
                    .parse()
                    .map_err(|_| RelayError::Io(io::Error::other("bad bind address")))?,
            )?;
            let sctp = stack.worker()?;
            let (shared, identity, config) = (shared.clone(), identity.clone(), config.clone());
            let spawn = move || {
                let worker = RelayWorker {
                    index,
                    poll,
                    socket,
                    sctp,
                    commands,
                    shared,
                    identity,
                    config,
                    peers: HashMap::new(),
                    by_ufrag: HashMap::new(),
                    by_addr: HashMap::new(),
                    by_assoc: HashMap::new(),
                    trace: std::env::var("USRSCTP_BROWSER_TRACE").as_deref() == Ok("1"),
                    loss_rng: 0x9E37_79B9_7F4A_7C15 ^ (index as u64 + 1),
                };
                if let Err(e) = worker.run() {
                    eprintln!("relay worker {index} failed: {e}");
                }
            };
            threads.push(
                std::thread::Builder::new()
                    .name(format!("relay-worker-{index}"))
                    .spawn(spawn)?,
            );
        }
        Ok(Relay { shared, threads })
    }

    /// Places a client whose offer is `offer_sdp` on the next worker (round robin) and returns
    /// the answer.
    pub fn offer(&self, offer_sdp: &str) -> Result<Answer, RelayError> {
        let offer = Offer::parse(offer_sdp).map_err(|e| RelayError::Offer(e.to_string()))?;
        let n = self.shared.workers.len();
        let worker = self.shared.next_worker.fetch_add(1, Ordering::Relaxed) % n;
        let client = self.shared.next_client.fetch_add(1, Ordering::Relaxed);
        let (reply, answer) = crossbeam_channel::bounded(1);
        if !self.shared.workers[worker].send(Command::Offer {
            client,
            offer,
            reply,
        }) {
            return Err(RelayError::Stopped);
        }
        match answer.recv_timeout(Duration::from_secs(5)) {
            Ok(Ok(sdp)) => Ok(Answer {
                sdp,
                worker,
                client,
            }),
            Ok(Err(e)) => Err(RelayError::Offer(e)),
            Err(_) => Err(RelayError::Stopped),
        }
    }

    /// The counters of every worker.
    pub fn stats(&self) -> Vec<WorkerSnapshot> {
        self.shared
            .workers
            .iter()
            .enumerate()
            .map(|(worker, w)| WorkerSnapshot {
                worker,
                clients: w.stats.clients.load(Ordering::Relaxed),
                messages_in: w.stats.messages_in.load(Ordering::Relaxed),
                messages_relayed: w.stats.messages_relayed.load(Ordering::Relaxed),
                bytes_relayed: w.stats.bytes_relayed.load(Ordering::Relaxed),
                dropped: w.stats.dropped.load(Ordering::Relaxed),
                peer_errors: w.stats.peer_errors.load(Ordering::Relaxed),
            })
            .collect()
    }

    /// Live clients and their workers, by client id.
    pub fn clients(&self) -> Vec<(u64, usize)> {
        let clients = self
            .shared
            .clients
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let mut v: Vec<(u64, usize)> = clients.iter().map(|(c, w)| (*c, *w)).collect();
        v.sort_unstable();
        v
    }

    /// Stops the workers and waits for them.
    pub fn shutdown(mut self) {
        self.stop();
    }

    fn stop(&mut self) {
        self.shared.stop.store(true, Ordering::Relaxed);
        for w in &self.shared.workers {
            let _ = w.waker.wake();
        }
        for t in self.threads.drain(..) {
            let _ = t.join();
        }
    }
}

impl Drop for Relay {
    fn drop(&mut self) {
        self.stop();
    }
}

/// One browser on a worker.
struct Peer {
    id: u64,
    ufrag: String,
    pwd: String,
    remote_ufrag: String,
    offer: Offer,
    /// The address the browser's checks come from (the nominated pair, once nominated).
    addr: Option<SocketAddr>,
    nominated: bool,
    dtls: DtlsSession,
    sctp: Option<(Association, ChannelManager)>,
    /// Relayed messages waiting for the association's send queue to drain.
    backlog: VecDeque<(Arc<str>, Arc<ChannelData>)>,
    /// Payload bytes in `backlog`.
    backlog_bytes: usize,
    last_heard: Instant,
    /// The browser's SCTP INIT, summarised (which SCTP implementation it runs shows there).
    peer_init: Option<String>,
    /// Freed at the end of this loop turn.
    dead: Option<String>,
}

struct RelayWorker {
    index: usize,
    poll: Poll,
    socket: UdpSocket,
    sctp: usrsctp::Worker,
    commands: Receiver<Command>,
    shared: Arc<Shared>,
    identity: Arc<DtlsIdentity>,
    config: RelayConfig,
    peers: HashMap<u64, Peer>,
    by_ufrag: HashMap<String, u64>,
    by_addr: HashMap<SocketAddr, u64>,
    by_assoc: HashMap<AssocId, u64>,
    /// `USRSCTP_BROWSER_TRACE=1`: log the chunks of every SCTP packet.
    trace: bool,
    /// xorshift64 state for [`RelayConfig::dtls_loss`].
    loss_rng: u64,
}

/// A random ICE credential of `len` characters from the ICE alphabet (RFC 8839 §5.4).
fn ice_token(len: usize) -> Result<String, RelayError> {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut bytes = vec![0u8; len];
    openssl::rand::rand_bytes(&mut bytes)
        .map_err(|e| RelayError::Dtls(crate::dtls::DtlsError::OpenSsl(e)))?;
    Ok(bytes
        .iter()
        .map(|b| ALPHABET[(*b as usize) % ALPHABET.len()] as char)
        .collect())
}

fn channel_type_json(t: ChannelType) -> Value {
    match t {
        ChannelType::Reliable { unordered } => {
            json!({"reliability": "reliable", "ordered": !unordered})
        }
        ChannelType::PartialReliableRexmit {
            unordered,
            max_retransmits,
        } => {
            json!({"reliability": "rexmit", "ordered": !unordered, "maxRetransmits": max_retransmits})
        }
        ChannelType::PartialReliableTimed {
            unordered,
            lifetime_ms,
        } => {
            json!({"reliability": "timed", "ordered": !unordered, "maxPacketLifeTime": lifetime_ms})
        }
    }
}

/// Lists the chunks of an SCTP packet (RFC 9260 §3.2), for `USRSCTP_BROWSER_TRACE=1`: DATA
/// with its stream, PPID, flags and length; other chunks by name.
pub fn describe_packet(packet: &[u8]) -> String {
    let mut out = Vec::new();
    let mut at = 12;
    while at + 4 <= packet.len() {
        let typ = packet[at];
        let flags = packet[at + 1];
        let len = u16::from_be_bytes([packet[at + 2], packet[at + 3]]) as usize;
        if len < 4 || at + len > packet.len() {
            out.push(format!("malformed chunk type {typ} length {len}"));
            break;
        }
        let name = match typ {
            0 if len >= 16 => {
                let stream = u16::from_be_bytes([packet[at + 8], packet[at + 9]]);
                let ppid = u32::from_be_bytes([
                    packet[at + 12],
                    packet[at + 13],
                    packet[at + 14],
                    packet[at + 15],
                ]);
                format!(
                    "DATA(s={stream} ppid={ppid} flags={flags:#x} len={})",
                    len - 16
                )
            }
            1 => "INIT".into(),
            2 => "INIT-ACK".into(),
            3 => "SACK".into(),
            4 => "HEARTBEAT".into(),
            5 => "HEARTBEAT-ACK".into(),
            6 => format!("ABORT(flags={flags:#x})"),
            7 => "SHUTDOWN".into(),
            8 => "SHUTDOWN-ACK".into(),
            9 => "ERROR".into(),
            10 => "COOKIE-ECHO".into(),
            11 => "COOKIE-ACK".into(),
            14 => "SHUTDOWN-COMPLETE".into(),
            0x82 => {
                // RE-CONFIG: list its parameter types (13 outgoing reset, 14 incoming, 16 response).
                let mut p = at + 4;
                let mut params = Vec::new();
                while p + 4 <= at + len {
                    let pt = u16::from_be_bytes([packet[p], packet[p + 1]]);
                    let pl = u16::from_be_bytes([packet[p + 2], packet[p + 3]]) as usize;
                    if pl < 4 {
                        break;
                    }
                    params.push(pt.to_string());
                    p += (pl + 3) & !3;
                }
                format!("RE-CONFIG({})", params.join(","))
            }
            0xc0 => "FORWARD-TSN".into(),
            0xc2 => "I-FORWARD-TSN".into(),
            0x40 => "I-DATA".into(),
            t => format!("chunk {t:#04x}"),
        };
        out.push(name);
        at += (len + 3) & !3;
    }
    out.join(" ")
}

/// Summarises an SCTP INIT chunk (RFC 9260 §3.3.2) if `packet` starts with one.
fn describe_init(packet: &[u8]) -> Option<String> {
    // Common header (12) + chunk header (4) + fixed INIT fields (16).
    if packet.len() < 32 || packet[12] != 1 {
        return None;
    }
    let u16_at = |i: usize| u16::from_be_bytes([packet[i], packet[i + 1]]);
    let u32_at =
        |i: usize| u32::from_be_bytes([packet[i], packet[i + 1], packet[i + 2], packet[i + 3]]);
    let chunk_len = (u16_at(14) as usize).min(packet.len() - 12);
    let mut s = format!(
        "INIT a_rwnd={} os={} mis={} params=[",
        u32_at(20),
        u16_at(24),
        u16_at(26)
    );
    let mut at = 12 + 20;
    let end = 12 + chunk_len;
    let mut first = true;
    while at + 4 <= end {
        let (typ, len) = (u16_at(at), u16_at(at + 2) as usize);
        if len < 4 || at + len > end {
            break;
        }
        if !first {
            s.push(' ');
        }
        first = false;
        s.push_str(&format!("{typ:#06x}"));
        if typ == 0x8008 {
            // Supported Extensions: the chunk types.
            let types: Vec<String> = packet[at + 4..at + len]
                .iter()
                .map(|t| format!("{t:#04x}"))
                .collect();
            s.push_str(&format!("(ext {})", types.join(",")));
        }
        at += (len + 3) & !3;
    }
    s.push(']');
    Some(s)
}

impl RelayWorker {
    fn run(mut self) -> Result<(), RelayError> {
        let fd = self.sctp.as_raw_fd();
        self.poll
            .registry()
            .register(&mut SourceFd(&fd), MAILBOX, Interest::READABLE)?;
        self.poll
            .registry()
            .register(&mut self.socket, UDP, Interest::READABLE)?;
        let mut events = Events::with_capacity(64);
        let mut buf = vec![0u8; 65_536];
        let mut last_housekeeping = Instant::now();
        while !self.shared.stop.load(Ordering::Relaxed) {
            match self.poll.poll(&mut events, Some(Duration::from_millis(50))) {
                Ok(()) => {}
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e.into()),
            }
            // Edge-triggered: drain every source on every wake-up.
            while let Ok(cmd) = self.commands.try_recv() {
                self.command(cmd);
            }
            loop {
                match self.socket.recv_from(&mut buf) {
                    Ok((n, from)) => {
                        let datagram = buf[..n].to_vec();
                        self.datagram(&datagram, from);
                    }
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                    // ICMP errors surface here on Linux (ECONNREFUSED from a closed port).
                    Err(_) => break,
                }
            }
            while let Some(ev) = self.sctp.try_recv() {
                self.sctp_event(ev);
            }
            let ids: Vec<u64> = self.peers.keys().copied().collect();
            for id in &ids {
                self.flush_backlog(*id);
                self.channel_events(*id);
                if let Some(peer) = self.peers.get_mut(id) {
                    if peer.dtls.state() == crate::dtls::DtlsState::Handshaking {
                        peer.dtls.handle_timeout();
                        self.flush_dtls(*id);
                    }
                }
            }
            if last_housekeeping.elapsed() >= Duration::from_millis(500) {
                last_housekeeping = Instant::now();
                for peer in self.peers.values_mut() {
                    if peer.dead.is_none() && peer.last_heard.elapsed() > self.config.idle_timeout {
                        peer.dead = Some("idle (no ICE consent checks)".into());
                    }
                }
            }
            self.free_dead();
        }
        let ids: Vec<u64> = self.peers.keys().copied().collect();
        for id in ids {
            if let Some(p) = self.peers.get_mut(&id) {
                p.dead = Some("relay stopping".into());
            }
        }
        self.free_dead();
        Ok(())
    }

    fn command(&mut self, cmd: Command) {
        match cmd {
            Command::Offer {
                client,
                offer,
                reply,
            } => {
                let result = self.add_peer(client, offer).map_err(|e| e.to_string());
                let _ = reply.send(result);
            }
            Command::Relay { from, label, data } => {
                let ids: Vec<u64> = self.peers.keys().copied().collect();
                for id in ids {
                    if id != from {
                        self.deliver(id, label.clone(), data.clone());
                    }
                }
            }
        }
    }

    fn add_peer(&mut self, client: u64, offer: Offer) -> Result<String, RelayError> {
        let ufrag = ice_token(8)?;
        let pwd = ice_token(24)?;
        let dtls = self
            .identity
            .session(offer.fingerprint.clone())
            .map_err(RelayError::Dtls)?;
        let candidate = self.socket.local_addr()?;
        let answer = sdp::answer(&sdp::AnswerParams {
            offer: &offer,
            ice_ufrag: &ufrag,
            ice_pwd: &pwd,
            fingerprint: self.identity.fingerprint(),
            candidate,
            sctp_port: 5000,
            max_message_size: self.config.max_message_size,
            session_id: client,
        });
        self.by_ufrag.insert(ufrag.clone(), client);
        self.peers.insert(
            client,
            Peer {
                id: client,
                ufrag,
                pwd,
                remote_ufrag: offer.ice_ufrag.clone(),
                offer,
                addr: None,
                nominated: false,
                dtls,
                sctp: None,
                backlog: VecDeque::new(),
                backlog_bytes: 0,
                last_heard: Instant::now(),
                peer_init: None,
                dead: None,
            },
        );
        self.shared
            .clients
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(client, self.index);
        self.stats().clients.fetch_add(1, Ordering::Relaxed);
        Ok(answer)
    }

    fn stats(&self) -> &WorkerStats {
        &self.shared.workers[self.index].stats
    }

    /// True if this DTLS datagram is to be dropped ([`RelayConfig::dtls_loss`]).
    fn lose(&mut self) -> bool {
        if self.config.dtls_loss <= 0.0 {
            return false;
        }
        let mut x = self.loss_rng;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.loss_rng = x;
        ((x >> 11) as f64 / (1u64 << 53) as f64) < self.config.dtls_loss
    }

    fn datagram(&mut self, datagram: &[u8], from: SocketAddr) {
        if ice::is_stun(datagram) {
            self.stun(datagram, from);
        } else if ice::is_dtls(datagram) {
            if self.lose() {
                return;
            }
            let Some(&id) = self.by_addr.get(&from) else {
                return; // Not from a checked address: dropped (RFC 8445 §7.3).
            };
            self.dtls_in(id, datagram);
        }
    }

    fn stun(&mut self, datagram: &[u8], from: SocketAddr) {
        let req = match BindingRequest::parse(datagram) {
            Ok(r) => r,
            Err(e) => {
                eprintln!("worker {}: STUN from {from} ignored: {e}", self.index);
                return;
            }
        };
        let Some(&id) = self.by_ufrag.get(&req.local_ufrag) else {
            return; // For a client that is gone.
        };
        let Some(peer) = self.peers.get_mut(&id) else {
            return;
        };
        if req.remote_ufrag != peer.remote_ufrag {
            eprintln!(
                "worker {}: client {id}: STUN USERNAME has remote ufrag {:?}, offer had {:?}",
                self.index, req.remote_ufrag, peer.remote_ufrag
            );
            return;
        }
        let use_candidate = req.use_candidate;
        match req.respond(&peer.pwd, from) {
            Ok(resp) => {
                peer.last_heard = Instant::now();
                // ICE-lite: the controlling browser picks the pair; before it nominates one,
                // the first address that passed a check is used.
                if peer.addr.is_none() || (use_candidate && !peer.nominated) {
                    if let Some(old) = peer.addr.replace(from) {
                        self.by_addr.remove(&old);
                    }
                    peer.nominated |= use_candidate;
                    self.by_addr.insert(from, id);
                }
                let _ = self.socket.send_to(&resp, from);
            }
            Err(e) => eprintln!("worker {}: client {id}: {e}", self.index),
        }
    }

    fn dtls_in(&mut self, id: u64, datagram: &[u8]) {
        let Some(peer) = self.peers.get_mut(&id) else {
            return;
        };
        peer.last_heard = Instant::now();
        let out = match peer.dtls.input(datagram) {
            Ok(o) => o,
            Err(e) => {
                peer.dead = Some(format!("DTLS failed: {e}"));
                self.flush_dtls(id);
                return;
            }
        };
        if out.connected {
            let config = AssociationConfig {
                remote_port: peer.offer.sctp_port,
                max_message_size: self.config.max_message_size,
                send_high_water: (self.config.max_message_size * 4).max(1024 * 1024),
                ..AssociationConfig::default()
            };
            match self.sctp.associate(config) {
                Ok(assoc) => {
                    let mut channels = ChannelManager::new(&assoc, DtlsRole::Server)
                        .with_remote_max_message_size(peer.offer.max_message_size);
                    let opened = channels
                        .open_channel(&assoc, ChannelInit::reliable(SERVER_LABEL))
                        .and_then(|_| {
                            channels.open_channel(
                                &assoc,
                                ChannelInit::reliable(NEGOTIATED_LABEL).negotiated(NEGOTIATED_ID),
                            )
                        });
                    if let Err(e) = opened {
                        peer.dead = Some(format!("cannot open the server's channels: {e}"));
                    }
                    self.by_assoc.insert(assoc.id(), id);
                    peer.sctp = Some((assoc, channels));
                }
                Err(e) => peer.dead = Some(format!("cannot create the association: {e}")),
            }
        }
        if let Some((assoc, _)) = &peer.sctp {
            for packet in out.data {
                if peer.peer_init.is_none() {
                    peer.peer_init = describe_init(&packet);
                }
                if self.trace {
                    eprintln!(
                        "worker {} client {id} <- {} {}",
                        self.index,
                        describe_packet(&packet),
                        describe_init(&packet).unwrap_or_default()
                    );
                }
                if let Err(e) = assoc.input(packet) {
                    eprintln!("worker {}: client {id}: SCTP input: {e}", self.index);
                }
            }
        }
        if out.closed && self.trace {
            eprintln!("worker {} client {id} <- DTLS close_notify", self.index);
        }
        if out.closed && peer.dead.is_none() {
            peer.dead = Some("the browser closed DTLS (close_notify)".into());
        }
        self.flush_dtls(id);
    }

    fn flush_dtls(&mut self, id: u64) {
        let Some(peer) = self.peers.get_mut(&id) else {
            return;
        };
        let Some(addr) = peer.addr else {
            return;
        };
        let out = peer.dtls.take_outgoing();
        for d in out {
            if self.lose() {
                continue;
            }
            // UDP on loopback: a failed send is a lost datagram, which DTLS and SCTP recover.
            let _ = self.socket.send_to(&d, addr);
        }
    }

    fn sctp_event(&mut self, ev: Event) {
        let Some(&id) = self.by_assoc.get(&ev.assoc()) else {
            return; // An association already freed.
        };
        let Some(peer) = self.peers.get_mut(&id) else {
            return;
        };
        match ev {
            Event::Transmit { packet, .. } => {
                if self.trace {
                    eprintln!(
                        "worker {} client {id} -> {} {}",
                        self.index,
                        describe_packet(&packet),
                        describe_init(&packet).unwrap_or_default()
                    );
                }
                if peer.dtls.send(&packet).is_ok() {
                    self.flush_dtls(id);
                }
            }
            Event::Closed { reason, .. } => {
                if let Some((assoc, channels)) = &mut peer.sctp {
                    channels.handle_event(assoc, &ev);
                }
                if peer.dead.is_none() {
                    peer.dead = Some(format!("association closed: {reason:?}"));
                }
            }
            other => {
                if let Some((assoc, channels)) = &mut peer.sctp {
                    channels.handle_event(assoc, &other);
                }
            }
        }
    }

    fn channel_events(&mut self, id: u64) {
        loop {
            let Some(peer) = self.peers.get_mut(&id) else {
                return;
            };
            let Some((assoc, channels)) = &mut peer.sctp else {
                return;
            };
            let Some(ev) = channels.poll_event() else {
                return;
            };
            match ev {
                ChannelEvent::Message { channel, data } => {
                    let label = channels
                        .channel(channel)
                        .map(|i| i.label.clone())
                        .unwrap_or_default();
                    if label == CONTROL_LABEL {
                        self.control(id, channel, data);
                    } else {
                        self.relay(id, label, data);
                    }
                }
                ChannelEvent::Opened { channel, info } => {
                    let _ = (assoc, channel, info);
                }
                ChannelEvent::Closed { .. } => {}
                ChannelEvent::PeerError(e) => {
                    self.stats().peer_errors.fetch_add(1, Ordering::Relaxed);
                    eprintln!("worker {}: client {id}: peer error: {e}", self.index);
                }
                // Per-channel flow control and failed sends: the relay's queue per client is
                // capped on its own, so these need no action here.
                _ => {}
            }
        }
    }

    fn relay(&mut self, from: u64, label: String, data: ChannelData) {
        self.stats().messages_in.fetch_add(1, Ordering::Relaxed);
        let label: Arc<str> = label.into();
        let data = Arc::new(data);
        for (w, handle) in self.shared.workers.iter().enumerate() {
            if w != self.index {
                handle.send(Command::Relay {
                    from,
                    label: label.clone(),
                    data: data.clone(),
                });
            }
        }
        let ids: Vec<u64> = self.peers.keys().copied().collect();
        for id in ids {
            if id != from {
                self.deliver(id, label.clone(), data.clone());
            }
        }
    }

    /// Sends a relayed message on the client's channel of that label, or queues it behind
    /// earlier ones that wait for the association's send queue.
    fn deliver(&mut self, id: u64, label: Arc<str>, data: Arc<ChannelData>) {
        let Some(peer) = self.peers.get_mut(&id) else {
            return;
        };
        let len = data.as_bytes().len();
        if peer.backlog_bytes + len > BACKLOG_LIMIT {
            self.stats().dropped.fetch_add(1, Ordering::Relaxed);
            return;
        }
        peer.backlog_bytes += len;
        peer.backlog.push_back((label, data));
        self.flush_backlog(id);
    }

    fn flush_backlog(&mut self, id: u64) {
        let index = self.index;
        let stats = self.shared.workers[index].stats.clone();
        let Some(peer) = self.peers.get_mut(&id) else {
            return;
        };
        let Some((assoc, channels)) = &mut peer.sctp else {
            return;
        };
        while let Some((label, data)) = peer.backlog.front() {
            let channel = channels.channel_ids().into_iter().find(|c| {
                channels
                    .channel(*c)
                    .is_some_and(|i| *i.label == **label && i.state == ChannelState::Open)
            });
            let Some(channel) = channel else {
                stats.dropped.fetch_add(1, Ordering::Relaxed);
                if let Some((_, d)) = peer.backlog.pop_front() {
                    peer.backlog_bytes -= d.as_bytes().len();
                }
                continue;
            };
            let sent = match &**data {
                ChannelData::Text(t) => channels.send_text(assoc, channel, t),
                ChannelData::Binary(b) => channels.send_binary(assoc, channel, b),
            };
            match sent {
                Ok(_) => {
                    stats.messages_relayed.fetch_add(1, Ordering::Relaxed);
                    stats
                        .bytes_relayed
                        .fetch_add(data.as_bytes().len() as u64, Ordering::Relaxed);
                }
                Err(e) if e.is_would_block() => return,
                Err(e) => {
                    stats.dropped.fetch_add(1, Ordering::Relaxed);
                    eprintln!("worker {index}: client {id}: relay on {label:?} refused: {e}");
                }
            }
            if let Some((_, d)) = peer.backlog.pop_front() {
                peer.backlog_bytes -= d.as_bytes().len();
            }
        }
    }

    fn control(&mut self, id: u64, channel: ChannelId, data: ChannelData) {
        let index = self.index;
        let Some(peer) = self.peers.get_mut(&id) else {
            return;
        };
        let Some((assoc, channels)) = &mut peer.sctp else {
            return;
        };
        let request: Value = match &data {
            ChannelData::Text(t) => serde_json::from_str(t).unwrap_or(Value::Null),
            ChannelData::Binary(_) => Value::Null,
        };
        let op = request.get("op").and_then(Value::as_str).unwrap_or("");
        let label = request.get("label").and_then(Value::as_str).unwrap_or("");
        let reply = match op {
            "info" => {
                let list: Vec<Value> = channels
                    .channel_ids()
                    .into_iter()
                    .filter_map(|c| channels.channel(c))
                    .map(|i| {
                        json!({
                            "id": i.id.stream(),
                            "label": i.label,
                            "protocol": i.protocol,
                            "type": channel_type_json(i.channel_type),
                            "negotiated": i.negotiated,
                            "origin": if i.origin == Origin::Local { "server" } else { "browser" },
                            "state": format!("{:?}", i.state),
                        })
                    })
                    .collect();
                json!({
                    "op": "info",
                    "client": peer.id,
                    "worker": index,
                    "channels": list,
                    "maxMessageSize": channels.max_message_size(assoc),
                    "peerInit": peer.peer_init,
                    // The negotiated streams each way: usrsctp's stream tables are this big.
                    "streams": assoc.stats().ok().map(|s| json!({
                        "inbound": s.inbound_streams,
                        "outbound": s.outbound_streams,
                    })),
                    "offerMaxMessageSize": peer.offer.max_message_size,
                    "ufrag": peer.ufrag,
                })
            }
            "close" => {
                let targets: Vec<ChannelId> = channels
                    .channel_ids()
                    .into_iter()
                    .filter(|c| channels.channel(*c).is_some_and(|i| i.label == label))
                    .collect();
                let mut closed = 0;
                for c in &targets {
                    if channels.close_channel(assoc, *c).is_ok() {
                        closed += 1;
                    }
                }
                json!({"op": "close", "label": label, "closed": closed})
            }
            "open" => match channels.open_channel(assoc, ChannelInit::reliable(label)) {
                Ok(c) => json!({"op": "open", "label": label, "id": c.stream()}),
                Err(e) => json!({"op": "open", "label": label, "error": e.to_string()}),
            },
            "abort" => {
                // The page learns of it when its channels close.
                let _ = assoc.abort();
                return;
            }
            _ => json!({"op": "error", "error": format!("unknown request {request}")}),
        };
        if let Err(e) = channels.send_text(assoc, channel, &reply.to_string()) {
            eprintln!("worker {index}: client {id}: control reply: {e}");
        }
    }

    fn free_dead(&mut self) {
        let dead: Vec<u64> = self
            .peers
            .iter()
            .filter(|(_, p)| p.dead.is_some())
            .map(|(id, _)| *id)
            .collect();
        for id in dead {
            let Some(mut peer) = self.peers.remove(&id) else {
                continue;
            };
            if let Some((assoc, _)) = peer.sctp.take() {
                self.by_assoc.remove(&assoc.id());
                if assoc.state() != usrsctp::AssociationState::Closed {
                    let _ = assoc.abort();
                }
            }
            peer.dtls.close();
            if let Some(addr) = peer.addr {
                for d in peer.dtls.take_outgoing() {
                    let _ = self.socket.send_to(&d, addr);
                }
                self.by_addr.remove(&addr);
            }
            self.by_ufrag.remove(&peer.ufrag);
            self.shared
                .clients
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .remove(&id);
            self.stats().clients.fetch_sub(1, Ordering::Relaxed);
            eprintln!(
                "worker {}: client {id} freed: {}",
                self.index,
                peer.dead.as_deref().unwrap_or("")
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn describes_an_init() {
        let mut p = vec![0u8; 12];
        // INIT chunk: type 1, flags 0, length 20 + 8 (one Supported Extensions param).
        p.extend_from_slice(&[1, 0, 0, 28]);
        p.extend_from_slice(&0x1234u32.to_be_bytes()); // initiate tag
        p.extend_from_slice(&131_072u32.to_be_bytes()); // a_rwnd
        p.extend_from_slice(&[0x04, 0x00, 0x04, 0x00]); // os, mis = 1024
        p.extend_from_slice(&7u32.to_be_bytes()); // initial TSN
        p.extend_from_slice(&[0x80, 0x08, 0x00, 0x07, 0xc0, 0x82, 0x80, 0x00]);
        assert_eq!(
            describe_init(&p).unwrap(),
            "INIT a_rwnd=131072 os=1024 mis=1024 params=[0x8008(ext 0xc0,0x82,0x80)]"
        );
        p[12] = 0; // DATA
        assert_eq!(describe_init(&p), None);
    }

    #[test]
    fn describes_packets() {
        let mut p = vec![0u8; 12];
        // DATA, flags B|E (0x03), length 16 + 2, stream 3, PPID 51, then padding.
        p.extend_from_slice(&[
            0, 0x03, 0, 18, 0, 0, 0, 1, 0, 3, 0, 0, 0, 0, 0, 51, b'h', b'i', 0, 0,
        ]);
        p.extend_from_slice(&[6, 0, 0, 4]); // ABORT
        assert_eq!(
            describe_packet(&p),
            "DATA(s=3 ppid=51 flags=0x3 len=2) ABORT(flags=0x0)"
        );
        p.extend_from_slice(&[3, 0, 0, 40]); // a SACK longer than the packet
        assert!(describe_packet(&p).ends_with("malformed chunk type 3 length 40"));
    }

    #[test]
    fn ice_tokens_are_long_enough_and_differ() {
        let a = ice_token(24).unwrap();
        assert_eq!(a.len(), 24);
        assert_ne!(a, ice_token(24).unwrap());
    }
}
