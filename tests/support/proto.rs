//! Our association and an `sctp-proto` association (sans-IO) driven together on one thread,
//! joined by an in-memory wire with seeded loss.

use std::collections::VecDeque;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use sctp_proto::{
    AssociationHandle, ClientConfig, DatagramEvent, Endpoint, EndpointConfig, Event as ProtoEvent,
    Payload, ServerConfig, StreamEvent, TransportConfig,
};
use usrsctp::{Association, AssociationConfig, Event, Worker};

use usrsctp_test_support::Rng;

/// Which side of the handshake sctp-proto plays. We always send an INIT too (WebRTC
/// simultaneous open); as a client sctp-proto drops it and usrsctp answers sctp-proto's INIT.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum ProtoRole {
    /// sctp-proto initiates (`Endpoint::connect`).
    Client,
    /// sctp-proto accepts (`ServerConfig`).
    Server,
}

/// A message sctp-proto received.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProtoMessage {
    pub stream: u16,
    pub ppid: u32,
    pub data: Vec<u8>,
}

/// The sctp-proto side.
pub struct ProtoPeer {
    role: ProtoRole,
    /// Our INITs kept from a client-role sctp-proto (see `input`).
    pub inits_withheld: u64,
    endpoint: Endpoint,
    pub handle: Option<AssociationHandle>,
    pub assoc: Option<sctp_proto::Association>,
    remote: SocketAddr,
    /// Association events other than stream readability (which is consumed into `received`).
    pub events: VecDeque<ProtoEvent>,
    pub received: VecDeque<ProtoMessage>,
    out: VecDeque<Vec<u8>>,
    /// `EndpointEvent`s held back until the association is closed (see `drive`).
    held: Vec<sctp_proto::EndpointEvent>,
}

impl ProtoPeer {
    pub fn new(role: ProtoRole, transport: TransportConfig) -> Self {
        let transport = Arc::new(transport);
        let remote = SocketAddr::from((Ipv4Addr::LOCALHOST, 5000));
        let server = (role == ProtoRole::Server).then(|| {
            let mut cfg = ServerConfig::new();
            cfg.transport = transport.clone();
            Arc::new(cfg)
        });
        let mut endpoint = Endpoint::new(Arc::new(EndpointConfig::default()), server);
        let (handle, assoc) = if role == ProtoRole::Client {
            let mut cfg = ClientConfig::new();
            cfg.transport = transport;
            let (h, a) = endpoint.connect(cfg, remote).expect("sctp-proto connect");
            (Some(h), Some(a))
        } else {
            (None, None)
        };
        ProtoPeer {
            role,
            inits_withheld: 0,
            endpoint,
            handle,
            assoc,
            remote,
            events: VecDeque::new(),
            received: VecDeque::new(),
            out: VecDeque::new(),
            held: Vec::new(),
        }
    }

    pub fn assoc(&mut self) -> &mut sctp_proto::Association {
        self.assoc
            .as_mut()
            .expect("the sctp-proto association exists")
    }

    pub fn input(&mut self, now: Instant, packet: Vec<u8>) {
        // WORKAROUND (sctp-proto 0.10.8 bug): an endpoint without a ServerConfig panics in
        // `Endpoint::handle` (`self.server_config.as_ref().unwrap()`, endpoint/mod.rs:423) when
        // an INIT arrives that matches no association -- peer-controlled input that must never
        // panic. In WebRTC both sides send INIT (simultaneous open), so usrsctp's INIT reaches
        // a client-role sctp-proto; RFC 9260 §5.2.1 would have it answer with an INIT ACK, and
        // ignoring it would at least be safe. We withhold our INITs from it: the handshake
        // then completes from sctp-proto's INIT, which usrsctp answers from COOKIE-WAIT.
        if self.role == ProtoRole::Client && packet.get(12) == Some(&1) {
            self.inits_withheld += 1;
            return;
        }
        match self
            .endpoint
            .handle(now, self.remote, None, None, Bytes::from(packet))
        {
            Some((h, DatagramEvent::NewAssociation(a))) => {
                self.handle = Some(h);
                self.assoc = Some(a);
            }
            Some((_, DatagramEvent::AssociationEvent(ev))) => {
                if let Some(a) = self.assoc.as_mut() {
                    a.handle_event(ev);
                }
            }
            None => {}
        }
    }

    pub fn next_timeout(&self) -> Option<Instant> {
        self.assoc.as_ref().and_then(|a| a.poll_timeout())
    }

    /// Runs timers, collects packets and events.
    pub fn drive(&mut self, now: Instant) {
        while let Some(t) = self.endpoint.poll_transmit() {
            push_payload(&mut self.out, t.payload);
        }
        let (Some(a), Some(h)) = (self.assoc.as_mut(), self.handle) else {
            return;
        };
        if a.poll_timeout().is_some_and(|t| t <= now) {
            a.handle_timeout(now);
        }
        // sctp-proto emits `Drained` as soon as `shutdown()` is called, before the SHUTDOWN
        // handshake has run; handing it to the endpoint would unroute the peer's SHUTDOWN-ACK.
        // Routing is the driver's business: hold it until the association is closed.
        while let Some(ev) = a.poll_endpoint_event() {
            self.held.push(ev);
        }
        if a.is_closed() {
            for ev in self.held.drain(..) {
                if let Some(back) = self.endpoint.handle_event(h, ev) {
                    a.handle_event(back);
                }
            }
        }
        while let Some(t) = a.poll_transmit(now) {
            push_payload(&mut self.out, t.payload);
        }
        while let Some(ev) = a.poll() {
            match ev {
                ProtoEvent::Stream(StreamEvent::Readable { id }) => {
                    while let Ok(mut s) = a.stream(id) {
                        match s.read_sctp() {
                            Ok(Some(chunks)) => {
                                let mut data = vec![0; chunks.len()];
                                let n = chunks.read(&mut data).expect("buffer sized to fit");
                                data.truncate(n);
                                self.received.push_back(ProtoMessage {
                                    stream: id,
                                    ppid: chunks.ppi as u32,
                                    data,
                                });
                            }
                            _ => break,
                        }
                    }
                }
                ProtoEvent::Stream(StreamEvent::Opened { .. }) => {
                    while a.accept_stream().is_some() {}
                }
                other => self.events.push_back(other),
            }
        }
    }
}

fn push_payload(out: &mut VecDeque<Vec<u8>>, payload: Payload) {
    if let Payload::RawEncode(packets) = payload {
        out.extend(packets.into_iter().map(|b| b.to_vec()));
    }
}

/// Both sides, on the calling thread.
pub struct Link {
    pub worker: Worker,
    pub ours: Association,
    pub peer: ProtoPeer,
    /// Our events other than `Transmit`.
    pub our_events: VecDeque<Event>,
    rng: Rng,
    /// Fraction of packets lost, each way.
    pub loss: f64,
    pub dropped: u64,
}

impl Link {
    pub fn new(role: ProtoRole, ours: AssociationConfig, theirs: TransportConfig) -> Self {
        let worker = super::stack().worker().expect("worker");
        let assoc = worker.associate(ours).expect("associate");
        Link {
            worker,
            ours: assoc,
            peer: ProtoPeer::new(role, theirs),
            our_events: VecDeque::new(),
            rng: Rng::new(0x5EED),
            loss: 0.0,
            dropped: 0,
        }
    }

    fn lost(&mut self) -> bool {
        let lost = self.rng.chance(self.loss);
        self.dropped += u64::from(lost);
        lost
    }

    fn on_ours(&mut self, ev: Event, now: Instant) {
        match ev {
            Event::Transmit { packet, .. } => {
                if !self.lost() {
                    self.peer.input(now, packet);
                }
            }
            other => self.our_events.push_back(other),
        }
    }

    /// One round: our events, their timers and packets; waits up to 1 ms when idle.
    pub fn step(&mut self) {
        let now = Instant::now();
        let mut busy = false;
        while let Some(ev) = self.worker.try_recv() {
            busy = true;
            self.on_ours(ev, now);
        }
        self.peer.drive(now);
        while let Some(packet) = self.peer.out.pop_front() {
            busy = true;
            if !self.lost() {
                // Our side may be closed already; then the packet is lost.
                let _ = self.ours.input(packet);
            }
        }
        if !busy {
            let mut wait = Duration::from_millis(1);
            if let Some(t) = self.peer.next_timeout() {
                wait = wait.min(t.saturating_duration_since(now));
            }
            if let Some(ev) = self.worker.recv_timeout(wait) {
                self.on_ours(ev, Instant::now());
            }
        }
    }

    /// Steps until `done` holds; panics with `what` after `timeout`.
    pub fn until(
        &mut self,
        what: &str,
        timeout: Duration,
        mut done: impl FnMut(&mut Link) -> bool,
    ) {
        let deadline = Instant::now() + timeout;
        while !done(self) {
            assert!(
                Instant::now() < deadline,
                "timed out after {timeout:?} waiting for {what}; our events: {:?}; theirs: {:?}",
                self.our_events,
                self.peer.events
            );
            self.step();
        }
    }

    /// Steps for `d`.
    pub fn run_for(&mut self, d: Duration) {
        let deadline = Instant::now() + d;
        while Instant::now() < deadline {
            self.step();
        }
    }

    /// Removes and returns the first of our events that matches.
    pub fn take_ours(&mut self, pred: impl Fn(&Event) -> bool) -> Option<Event> {
        let i = self.our_events.iter().position(pred)?;
        self.our_events.remove(i)
    }

    /// Removes and returns the first sctp-proto event that matches.
    pub fn take_theirs(&mut self, pred: impl Fn(&ProtoEvent) -> bool) -> Option<ProtoEvent> {
        let i = self.peer.events.iter().position(pred)?;
        self.peer.events.remove(i)
    }

    /// Waits until both sides report the association up.
    pub fn connect(&mut self) {
        self.until("both sides connected", super::T, |l| {
            l.our_events
                .iter()
                .any(|e| matches!(e, Event::Connected { .. }))
                && l.peer
                    .events
                    .iter()
                    .any(|e| matches!(e, ProtoEvent::Connected))
        });
        self.take_ours(|e| matches!(e, Event::Connected { .. }));
        self.take_theirs(|e| matches!(e, ProtoEvent::Connected));
    }

    /// Our messages received so far (removed from the event queue).
    pub fn our_messages(&mut self) -> Vec<usrsctp::Message> {
        let mut out = Vec::new();
        self.our_events.retain(|e| match e {
            Event::Message { message, .. } => {
                out.push(message.clone());
                false
            }
            _ => true,
        });
        out
    }
}
