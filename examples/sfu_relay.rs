//! An SFU in miniature: a producer's data channel on worker A is relayed to consumers on
//! workers B and C, as an SFU pipes a DataProducer to DataConsumers.
//!
//! Three SFU worker threads each run a mio event loop on their usrsctp worker's eventfd (and a
//! `mio::Waker` for their in-memory wires and relay pipes). Three "clients" (a producer and two
//! consumers, all on one client thread) attach to different workers. The producer opens a
//! channel in band (DCEP); each consumer's worker opens one towards its consumer. What the
//! producer sends on A is handed to B and C, which send it on their consumer channels.
//!
//! Run: `cargo run --example sfu_relay`

use std::collections::HashMap;
use std::os::fd::AsRawFd;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, Sender};
use mio::unix::SourceFd;
use mio::{Events, Interest, Poll, Token, Waker};
use usrsctp::datachannel::{ChannelData, ChannelEvent, ChannelInit, DataChannels, DtlsRole};
use usrsctp::{AssociationConfig, Event, Stack, Worker};

/// Messages the producer sends.
const MESSAGES: u32 = 20;
const MAILBOX: Token = Token(0);
const WAKE: Token = Token(1);

type Packet = Vec<u8>;

/// A channel whose sends wake the receiving SFU worker's mio loop.
struct Waking<T> {
    tx: Sender<T>,
    waker: Arc<Waker>,
}

impl<T> Waking<T> {
    fn send(&self, value: T) {
        // A receiver that is gone has finished; the value is dropped.
        if self.tx.send(value).is_ok() {
            let _ = self.waker.wake();
        }
    }
}

/// What a worker does with its client.
enum Role {
    /// Receives the producer's channel and relays its messages to the consumers' workers.
    Producer { consumers: Vec<Waking<ChannelData>> },
    /// Opens a channel to its consumer and sends what the producer's worker relays.
    Consumer { relayed: Receiver<ChannelData> },
}

/// One SFU worker thread's inputs.
struct SfuWorker {
    name: &'static str,
    client: &'static str,
    poll: Poll,
    worker: Worker,
    from_client: Receiver<Packet>,
    to_client: Sender<Packet>,
    role: Role,
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let started = Instant::now();
    let stack = Stack::global()?;

    let mut polls = Vec::new();
    let mut wakers = Vec::new();
    for _ in 0..3 {
        let poll = Poll::new()?;
        wakers.push(Arc::new(Waker::new(poll.registry(), WAKE)?));
        polls.push(poll);
    }
    // Relay pipes from worker A to workers B and C.
    let (to_b, relayed_b) = crossbeam_channel::unbounded();
    let (to_c, relayed_c) = crossbeam_channel::unbounded();
    let mut roles = vec![
        Role::Producer {
            consumers: vec![
                Waking {
                    tx: to_b,
                    waker: wakers[1].clone(),
                },
                Waking {
                    tx: to_c,
                    waker: wakers[2].clone(),
                },
            ],
        },
        Role::Consumer { relayed: relayed_b },
        Role::Consumer { relayed: relayed_c },
    ]
    .into_iter();

    let mut client_ports = Vec::new();
    let mut sfu_threads = Vec::new();
    let names = [("A", "producer"), ("B", "consumer-1"), ("C", "consumer-2")];
    for ((name, client), (poll, waker)) in names.into_iter().zip(polls.into_iter().zip(wakers)) {
        let (to_sfu, from_client) = crossbeam_channel::unbounded();
        let (to_client, from_sfu) = crossbeam_channel::unbounded();
        client_ports.push((client, Waking { tx: to_sfu, waker }, from_sfu));
        let sfu = SfuWorker {
            name,
            client,
            poll,
            worker: stack.worker()?,
            from_client,
            to_client,
            role: roles.next().ok_or("three roles")?,
        };
        sfu_threads.push(
            std::thread::Builder::new()
                .name(format!("sfu-worker-{name}"))
                .spawn(move || sfu.run())?,
        );
    }

    let received = run_clients(&stack, client_ports)?;
    for t in sfu_threads {
        t.join().map_err(|_| "an SFU worker panicked")??;
    }
    for (name, msgs) in &received {
        println!("{name} received {} messages", msgs.len());
        assert_eq!(msgs.len() as u32, MESSAGES, "{name} got every message");
    }
    println!(
        "relayed {MESSAGES} messages from worker A to workers B and C in {:?}",
        started.elapsed()
    );
    Ok(())
}

impl SfuWorker {
    /// The event loop: wakes on the usrsctp mailbox's eventfd or on the waker.
    fn run(mut self) -> Result<(), String> {
        let name = self.name;
        let err = |e: &dyn std::fmt::Display| format!("worker {name}: {e}");
        // The SFU is the DTLS server of every client.
        let mut channels =
            DataChannels::associate(&self.worker, AssociationConfig::default(), DtlsRole::Server)
                .map_err(|e| err(&e))?;
        let consumer_channel = match self.role {
            Role::Consumer { .. } => Some(
                channels
                    .open_channel(ChannelInit::reliable("consumer"))
                    .map_err(|e| err(&e))?,
            ),
            Role::Producer { .. } => None,
        };
        let fd = self.worker.as_raw_fd();
        self.poll
            .registry()
            .register(&mut SourceFd(&fd), MAILBOX, Interest::READABLE)
            .map_err(|e| err(&e))?;
        let mut events = Events::with_capacity(16);
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if Instant::now() > deadline {
                return Err(err(&"timed out"));
            }
            // Edge-triggered: drain everything on every wake-up.
            self.poll
                .poll(&mut events, Some(Duration::from_millis(100)))
                .map_err(|e| err(&e))?;
            for packet in self.from_client.try_iter() {
                let _ = channels.assoc().input(packet);
            }
            if let (Role::Consumer { relayed }, Some(ch)) = (&self.role, consumer_channel) {
                for data in relayed.try_iter() {
                    let sent = match &data {
                        ChannelData::Text(t) => channels.send_text(ch, t),
                        ChannelData::Binary(b) => channels.send_binary(ch, b),
                    };
                    sent.map_err(|e| err(&e))?;
                    println!("worker {name}: sent {data:?} to {}", self.client);
                }
            }
            while let Some(ev) = self.worker.try_recv() {
                // Every event goes to the channels (a Transmit tells them how far the send
                // queue has drained); the packet is still ours to carry.
                channels.handle_event(&ev);
                match ev {
                    Event::Transmit { packet, .. } => {
                        let _ = self.to_client.send(packet);
                    }
                    Event::Closed { .. } => return Ok(()),
                    _ => {}
                }
            }
            while let Some(ev) = channels.poll_event() {
                match (ev, &self.role) {
                    (ChannelEvent::Opened { info, .. }, _) => {
                        println!(
                            "worker {name}: channel {:?} open with {}",
                            info.label, self.client
                        );
                    }
                    (ChannelEvent::Message { data, .. }, Role::Producer { consumers }) => {
                        println!(
                            "worker {name}: producer sent {data:?}; relaying to workers B and C"
                        );
                        for c in consumers {
                            c.send(data.clone());
                        }
                    }
                    (ChannelEvent::PeerError(e), _) => return Err(err(&e)),
                    _ => {}
                }
            }
        }
    }
}

/// The three clients on one thread: the producer sends, the consumers collect. Returns what
/// each consumer received, after closing every association gracefully.
fn run_clients(
    stack: &Stack,
    ports: Vec<(&'static str, Waking<Packet>, Receiver<Packet>)>,
) -> Result<HashMap<&'static str, Vec<ChannelData>>, Box<dyn std::error::Error>> {
    let worker = stack.worker()?;
    let mut clients = Vec::new();
    for (name, out, inp) in ports {
        let channels =
            DataChannels::associate(&worker, AssociationConfig::default(), DtlsRole::Client)?;
        clients.push((name, channels, out, inp));
    }
    let producer = clients[0]
        .1
        .open_channel(ChannelInit::reliable("producer"))?;
    let mut received: HashMap<&'static str, Vec<ChannelData>> = HashMap::new();
    let (mut sent, mut producer_open) = (0u32, false);
    let deadline = Instant::now() + Duration::from_secs(30);
    let done = |r: &HashMap<&'static str, Vec<ChannelData>>| {
        r.len() == 2 && r.values().all(|v| v.len() as u32 == MESSAGES)
    };
    while !done(&received) {
        if Instant::now() > deadline {
            return Err("clients timed out".into());
        }
        for (_, channels, _, inp) in &clients {
            for packet in inp.try_iter() {
                let _ = channels.assoc().input(packet);
            }
        }
        if let Some(ev) = worker.recv_timeout(Duration::from_millis(1)) {
            let Some(i) = clients.iter().position(|c| c.1.id() == ev.assoc()) else {
                continue;
            };
            let (name, channels, out, _) = &mut clients[i];
            channels.handle_event(&ev);
            if let Event::Transmit { packet, .. } = ev {
                out.send(packet);
            }
            while let Some(ev) = channels.poll_event() {
                match ev {
                    ChannelEvent::Opened { channel, .. } if channel == producer && i == 0 => {
                        producer_open = true;
                    }
                    ChannelEvent::Message { data, .. } => {
                        received.entry(*name).or_default().push(data)
                    }
                    ChannelEvent::PeerError(e) => return Err(format!("{name}: {e}").into()),
                    _ => {}
                }
            }
        }
        if producer_open && sent < MESSAGES {
            let channels = &mut clients[0].1;
            if sent % 2 == 0 {
                channels.send_text(producer, &format!("tick {sent}"))?;
            } else {
                channels.send_binary(producer, &sent.to_be_bytes())?;
            }
            sent += 1;
        }
    }
    // Close every association and keep carrying packets until the SFU side has seen it.
    for (_, channels, _, _) in &clients {
        channels.assoc().close()?;
    }
    let mut closed = 0;
    while closed < clients.len() && Instant::now() < deadline {
        for (_, channels, _, inp) in &clients {
            for packet in inp.try_iter() {
                let _ = channels.assoc().input(packet);
            }
        }
        match worker.recv_timeout(Duration::from_millis(1)) {
            Some(Event::Transmit { assoc, packet }) => {
                if let Some(c) = clients.iter().find(|c| c.1.id() == assoc) {
                    c.2.send(packet);
                }
            }
            Some(Event::Closed { .. }) => closed += 1,
            _ => {}
        }
    }
    Ok(received)
}
