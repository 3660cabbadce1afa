//! str0m's sans-IO SCTP (`sctp-proto`), paired as its own tests pair it: a client `Endpoint`
//! and a server `Endpoint`, datagrams carried between them in memory, both driven by the
//! benchmark thread with the real clock (as str0m drives it: `handle`, `poll_transmit`,
//! `poll_timeout` / `handle_timeout`, `poll`).
//!
//! Settings (the fastest we found that keep the comparison fair): packets of at most 1200
//! bytes like the other peers (`EndpointConfig::max_payload_size` 1172 = 1200 − common header
//! − DATA chunk header), a 1 MiB receive buffer, the sender keeps at most 1 MiB buffered (the
//! wrapper's high-water mark), 256 KiB message size limit. `AckMode` is crate-private and stays
//! at its default. Every message is copied once from the caller's slice (`write_with_ppi`), and
//! copied once out of the reassembly queue on receipt (`Chunks::read`), as an application does.

use std::collections::VecDeque;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use sctp_proto::{
    Association, AssociationHandle, ClientConfig, DatagramEvent, Endpoint, EndpointConfig, Event,
    Payload, PayloadProtocolIdentifier, ServerConfig, TransportConfig,
};

use super::payload;

/// Largest SCTP packet, as for the other peers.
const MTU: u32 = 1200;
/// Receive buffer (advertised window) of each side.
const RECEIVE_BUFFER: u32 = 1024 * 1024;
/// The sender stops writing while this much is buffered (the wrapper's high-water mark).
const SEND_HIGH_WATER: usize = 1024 * 1024;
const MAX_MESSAGE: u32 = 256 * 1024;
const STREAM: u16 = 0;

struct Peer {
    endpoint: Endpoint,
    addr: SocketAddr,
    assoc: Option<(AssociationHandle, Association)>,
    inbox: VecDeque<Bytes>,
    connected: bool,
    /// Complete messages read since the last look.
    messages: u64,
}

impl Peer {
    fn new(endpoint: Endpoint, port: u16) -> Peer {
        Peer {
            endpoint,
            addr: SocketAddr::from((Ipv4Addr::LOCALHOST, port)),
            assoc: None,
            inbox: VecDeque::new(),
            connected: false,
            messages: 0,
        }
    }

    /// Feeds the inbox, runs due timers, and queues what the association sends on `out`.
    fn drive(&mut self, now: Instant, remote: SocketAddr, out: &mut VecDeque<Bytes>) {
        for data in self.inbox.drain(..) {
            match self.endpoint.handle(now, remote, None, None, data) {
                Some((ch, DatagramEvent::NewAssociation(assoc))) => self.assoc = Some((ch, assoc)),
                Some((_, DatagramEvent::AssociationEvent(event))) => {
                    if let Some((_, assoc)) = &mut self.assoc {
                        assoc.handle_event(event);
                    }
                }
                None => {}
            }
        }
        while let Some(t) = self.endpoint.poll_transmit() {
            push_payload(t.payload, out);
        }
        let Some((ch, assoc)) = &mut self.assoc else {
            return;
        };
        if assoc.poll_timeout().is_some_and(|t| t <= now) {
            assoc.handle_timeout(now);
        }
        while let Some(event) = assoc.poll_endpoint_event() {
            if let Some(event) = self.endpoint.handle_event(*ch, event) {
                assoc.handle_event(event);
            }
        }
        while let Some(t) = assoc.poll_transmit(now) {
            push_payload(t.payload, out);
        }
        while let Some(event) = assoc.poll() {
            if matches!(event, Event::Connected) {
                self.connected = true;
            }
        }
    }

    fn assoc(&mut self) -> &mut Association {
        &mut self.assoc.as_mut().expect("association").1
    }

    /// Writes `data` on the stream unless `SEND_HIGH_WATER` bytes are buffered already.
    fn try_write(&mut self, data: &[u8]) -> bool {
        let mut stream = self.assoc().stream(STREAM).expect("stream");
        if stream.buffered_amount().expect("buffered amount") >= SEND_HIGH_WATER {
            return false;
        }
        stream
            .write_with_ppi(data, PayloadProtocolIdentifier::Binary)
            .expect("write");
        true
    }

    /// Reads every complete message waiting on the stream into `buf`.
    fn read_all(&mut self, buf: &mut [u8]) {
        let Some((_, assoc)) = &mut self.assoc else {
            return;
        };
        let Ok(mut stream) = assoc.stream(STREAM) else {
            return;
        };
        while let Ok(Some(chunks)) = stream.read_sctp() {
            chunks.read(buf).expect("read");
            self.messages += 1;
        }
    }
}

fn push_payload(payload: Payload, out: &mut VecDeque<Bytes>) {
    if let Payload::RawEncode(contents) = payload {
        out.extend(contents);
    }
}

/// A connected client/server pair with stream 0 open both ways.
pub struct ProtoPair {
    client: Peer,
    server: Peer,
    data: Vec<u8>,
    buf: Vec<u8>,
}

impl ProtoPair {
    pub fn new(size: usize) -> ProtoPair {
        let mut endpoint_config = EndpointConfig::new();
        endpoint_config.max_payload_size(MTU - 12 - 16);
        let endpoint_config = Arc::new(endpoint_config);
        let transport = Arc::new(
            TransportConfig::default()
                .with_max_receive_buffer_size(RECEIVE_BUFFER)
                .with_max_send_message_size(MAX_MESSAGE)
                .with_max_receive_message_size(MAX_MESSAGE),
        );
        let mut server_config = ServerConfig::new();
        server_config.transport = transport.clone();
        let mut client = Peer::new(Endpoint::new(endpoint_config.clone(), None), 1);
        let server = Peer::new(
            Endpoint::new(endpoint_config, Some(Arc::new(server_config))),
            2,
        );
        let mut client_config = ClientConfig::new();
        client_config.transport = transport;
        let (ch, assoc) = client
            .endpoint
            .connect(client_config, server.addr)
            .expect("connect");
        client.assoc = Some((ch, assoc));
        let mut pair = ProtoPair {
            client,
            server,
            data: payload(size),
            buf: vec![0; MAX_MESSAGE as usize],
        };
        let deadline = Instant::now() + Duration::from_secs(10);
        while !(pair.client.connected && pair.server.connected) {
            pair.step();
            assert!(Instant::now() < deadline, "sctp-proto pair did not connect");
        }
        // Open stream 0 from the client; the server accepts it with the first message.
        pair.client
            .assoc()
            .open_stream(STREAM, PayloadProtocolIdentifier::Binary)
            .expect("open stream");
        assert!(pair.client.try_write(b"open"));
        while pair
            .server
            .assoc
            .as_mut()
            .is_some_and(|(_, a)| a.accept_stream().map(|s| s.stream_identifier()).is_none())
        {
            pair.step();
            assert!(Instant::now() < deadline, "stream 0 was not accepted");
        }
        while pair.server.messages == 0 {
            pair.step();
            pair.server.read_all(&mut pair.buf);
            assert!(Instant::now() < deadline, "first message did not arrive");
        }
        pair.server.messages = 0;
        pair
    }

    /// Drives both sides once and carries their packets.
    fn step(&mut self) {
        let now = Instant::now();
        let (client, server) = (&mut self.client, &mut self.server);
        client.drive(now, server.addr, &mut server.inbox);
        server.drive(now, client.addr, &mut client.inbox);
    }

    /// Sends `count` messages client → server and returns how long until all were read.
    pub fn transfer(&mut self, count: u64) -> Duration {
        let start = Instant::now();
        let mut sent = 0u64;
        self.server.messages = 0;
        while self.server.messages < count {
            while sent < count && self.client.try_write(&self.data) {
                sent += 1;
            }
            self.step();
            self.server.read_all(&mut self.buf);
        }
        start.elapsed()
    }

    /// Times `iters` round trips: the client sends, the server echoes, the client reads.
    pub fn ping(&mut self, iters: u64) -> Duration {
        let start = Instant::now();
        for _ in 0..iters {
            self.server.messages = 0;
            self.client.messages = 0;
            assert!(self.client.try_write(&self.data));
            while self.server.messages == 0 {
                self.step();
                self.server.read_all(&mut self.buf);
            }
            let n = self.data.len();
            assert!(self.server.try_write(&self.buf[..n]));
            while self.client.messages == 0 {
                self.step();
                self.client.read_all(&mut self.buf);
            }
        }
        start.elapsed()
    }
}
