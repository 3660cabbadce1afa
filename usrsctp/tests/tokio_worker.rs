//! Issue 15, items 1 and 3 (feature `tokio`): workers driven by `Worker::recv_async` on
//! current-thread runtimes, one per thread, and `WorkerWaker` posts from other threads.
//!
//! `tokio_worker`: A and B, each on its own thread and runtime, exchange data-channel messages
//! over an in-memory wire (tokio channels). Then A asks B (through B's `WorkerWaker`) to pause:
//! B stops reading the wire and says so through A's waker. A fills its channel until
//! `WouldBlock`, resumes B, and must then see the channel's `BufferedAmountLow` at or below its
//! threshold; every bulk message arrives intact and in order.

mod common;

use std::time::Duration;

use tokio::sync::mpsc::{unbounded_channel, UnboundedReceiver, UnboundedSender};
use tokio::time::Instant;
use usrsctp::datachannel::{ChannelData, ChannelEvent, ChannelInit, DataChannels, DtlsRole};
use usrsctp::{AssociationConfig, Event, Worker, WorkerWaker};
use usrsctp_test_support::pattern;

/// A → B: stop reading the wire.
const PAUSE: u64 = 1;
/// A → B: read the wire again.
const RESUME: u64 = 2;
/// B → A: B has stopped reading the wire.
const PAUSED: u64 = 3;

const BULK_SIZE: usize = 8 * 1024;
const THRESHOLD: usize = 32 * 1024;
/// Bound on the fill: far more than the high-water mark (256 KiB) allows.
const MAX_BULK: u32 = 1000;

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a current-thread runtime")
}

/// What one wait produced.
#[derive(Debug)]
enum Step {
    Channel(ChannelEvent),
    User(u64),
    WireClosed,
}

/// One side: its worker, its association with channels, and its ends of the wire.
struct Side {
    worker: Worker,
    dc: DataChannels,
    out: UnboundedSender<Vec<u8>>,
    inp: UnboundedReceiver<Vec<u8>>,
    deadline: Instant,
    name: &'static str,
}

impl Side {
    /// Carries packets both ways until a channel event, a user value or the end of the wire;
    /// reads the wire only if `read_wire`.
    async fn step(&mut self, read_wire: bool) -> Step {
        loop {
            if let Some(ev) = self.dc.poll_event() {
                if let ChannelEvent::PeerError(e) = &ev {
                    panic!("{}: peer error {e}", self.name);
                }
                return Step::Channel(ev);
            }
            tokio::select! {
                ev = self.worker.recv_async() => {
                    let ev = ev.expect("recv_async");
                    if let Event::User { value } = ev {
                        return Step::User(value);
                    }
                    if let Event::Transmit { packet, .. } = &ev {
                        // The peer's thread may have ended: the packet is then lost.
                        let _ = self.out.send(packet.clone());
                    }
                    self.dc.handle_event(&ev);
                }
                packet = self.inp.recv(), if read_wire => match packet {
                    Some(packet) => {
                        let _ = self.dc.assoc().input(packet);
                    }
                    None => return Step::WireClosed,
                },
                () = tokio::time::sleep_until(self.deadline) => panic!("{}: timed out", self.name),
            }
        }
    }
}

fn config() -> AssociationConfig {
    AssociationConfig {
        // SCTP takes at most 64 KiB: the rest waits in the association's queue.
        send_buffer: Some(64 * 1024),
        max_message_size: 16 * 1024,
        send_high_water: 256 * 1024,
        ..AssociationConfig::default()
    }
}

/// A: opens "chat", exchanges greetings, then the pause / fill / resume round. Returns how
/// many bulk messages it sent.
async fn run_a(mut a: Side, b_waker: WorkerWaker) -> u32 {
    let chat = a.dc.open_channel(ChannelInit::reliable("chat")).unwrap();
    a.dc.set_buffered_amount_low_threshold(chat, THRESHOLD)
        .unwrap();
    let (mut got_echo, mut got_hello) = (false, false);
    while !(got_echo && got_hello) {
        match a.step(true).await {
            Step::Channel(ChannelEvent::Opened { channel, .. }) if channel == chat => {
                a.dc.send_text(chat, "hello from A").unwrap();
            }
            Step::Channel(ChannelEvent::Message { channel, data }) if channel == chat => match data
            {
                ChannelData::Text(t) if t == "echo: hello from A" => got_echo = true,
                ChannelData::Text(t) if t == "hello from B" => got_hello = true,
                other => panic!("A: unexpected message {other:?}"),
            },
            Step::Channel(ChannelEvent::BufferedAmountLow { .. }) => {}
            other => panic!("A: unexpected {other:?}"),
        }
    }

    // Pause B, and wait until it says it stopped reading the wire.
    b_waker.post(PAUSE).expect("B is alive");
    loop {
        match a.step(true).await {
            Step::User(PAUSED) => break,
            Step::Channel(ChannelEvent::BufferedAmountLow { .. }) => {}
            other => panic!("A: unexpected {other:?} while pausing B"),
        }
    }
    // Fill the channel until pushed back: nothing can drain beyond SCTP's buffer.
    let mut sent = 0u32;
    loop {
        assert!(sent < MAX_BULK, "never pushed back after {sent} messages");
        match a.dc.send_binary(chat, &pattern(2, sent, BULK_SIZE)) {
            Ok(_) => sent += 1,
            Err(e) if e.is_would_block() => break,
            Err(e) => panic!("A: send: {e}"),
        }
    }
    let buffered = a.dc.buffered_amount(chat);
    assert!(
        buffered > THRESHOLD,
        "pushed back with {buffered} B buffered"
    );
    b_waker.post(RESUME).expect("B is alive");
    // The next thing A sees must be the channel's BufferedAmountLow.
    let low = match a.step(true).await {
        Step::Channel(ChannelEvent::BufferedAmountLow { channel, buffered }) => {
            assert_eq!(channel, chat);
            buffered
        }
        other => panic!("A: unexpected {other:?} while draining"),
    };
    assert!(
        low <= THRESHOLD,
        "BufferedAmountLow at {low} B, threshold {THRESHOLD} B"
    );

    // Tell B how many; B answers with how many it received.
    a.dc.send_text(chat, &format!("done:{sent}")).unwrap();
    loop {
        match a.step(true).await {
            Step::Channel(ChannelEvent::Message {
                data: ChannelData::Text(t),
                ..
            }) => {
                assert_eq!(t, format!("bye:{sent}"), "B received every bulk message");
                return sent;
            }
            Step::Channel(ChannelEvent::BufferedAmountLow { .. }) => {}
            other => panic!("A: unexpected {other:?} after done"),
        }
    }
}

/// B: echoes text, checks bulk messages, pauses on request. Returns how many bulk messages it
/// received, once A's end of the wire is gone.
async fn run_b(mut b: Side, a_waker: WorkerWaker) -> u32 {
    let mut paused = false;
    let mut received = 0u32;
    loop {
        match b.step(!paused).await {
            Step::Channel(ChannelEvent::Opened { channel, info }) => {
                assert_eq!(info.label, "chat");
                b.dc.send_text(channel, "hello from B").unwrap();
            }
            Step::Channel(ChannelEvent::Message { channel, data }) => match data {
                ChannelData::Text(t) => {
                    let reply = match t.strip_prefix("done:") {
                        Some(n) => {
                            assert_eq!(n.parse::<u32>().ok(), Some(received));
                            format!("bye:{received}")
                        }
                        None => format!("echo: {t}"),
                    };
                    b.dc.send_text(channel, &reply).unwrap();
                }
                ChannelData::Binary(d) => {
                    assert!(
                        d == pattern(2, received, BULK_SIZE),
                        "bulk message {received} intact, in order"
                    );
                    received += 1;
                }
            },
            Step::Channel(ChannelEvent::BufferedAmountLow { .. }) => {}
            Step::User(PAUSE) => {
                paused = true;
                a_waker.post(PAUSED).expect("A is alive");
            }
            Step::User(RESUME) => paused = false,
            Step::WireClosed => return received,
            other => panic!("B: unexpected {other:?}"),
        }
    }
}

#[test]
fn tokio_worker() {
    let stack = common::stack();
    let (wa, wb) = (stack.worker().unwrap(), stack.worker().unwrap());
    let (a_waker, b_waker) = (wa.waker(), wb.waker());
    let (a_out, b_in) = unbounded_channel();
    let (b_out, a_in) = unbounded_channel();
    let a = std::thread::spawn(move || {
        runtime().block_on(async move {
            let dc = DataChannels::associate(&wa, config(), DtlsRole::Client).unwrap();
            let side = Side {
                worker: wa,
                dc,
                out: a_out,
                inp: a_in,
                deadline: Instant::now() + Duration::from_secs(30),
                name: "A",
            };
            run_a(side, b_waker).await
        })
    });
    let b = std::thread::spawn(move || {
        runtime().block_on(async move {
            let dc = DataChannels::associate(&wb, config(), DtlsRole::Server).unwrap();
            let side = Side {
                worker: wb,
                dc,
                out: b_out,
                inp: b_in,
                deadline: Instant::now() + Duration::from_secs(30),
                name: "B",
            };
            run_b(side, a_waker).await
        })
    });
    let sent = a.join().expect("A's thread");
    let received = b.join().expect("B's thread");
    assert!(sent > 0);
    assert_eq!(sent, received);
}

/// A thread posts while the worker waits in `recv_async`: each post wakes it, in order, and
/// the user values keep their place among the association's events.
#[test]
fn waker_wakes_recv_async_in_order() {
    let worker = common::stack().worker().unwrap();
    let waker = worker.waker();
    let rt = runtime();
    let (go, ready) = std::sync::mpsc::channel::<()>();
    let poster = std::thread::spawn(move || {
        for value in 1..=3 {
            // Post only once the worker is about to wait again.
            ready.recv().expect("the worker asks for the next value");
            waker.post(value).expect("the worker is alive");
        }
        waker
    });
    rt.block_on(async {
        for value in 1..=3 {
            go.send(()).unwrap();
            let ev = tokio::time::timeout(Duration::from_secs(10), worker.recv_async())
                .await
                .expect("woken within 10 s")
                .expect("recv_async");
            assert_eq!(ev, Event::User { value });
        }
    });
    let waker = poster.join().unwrap();

    // First in, first out with the association's own events.
    waker.post(10).unwrap();
    let _assoc = worker.associate(AssociationConfig::default()).unwrap();
    // The INIT is output when the stack thread sets the association up: after 10, and a
    // post made once it arrived comes after it.
    let first: Vec<Event> = rt.block_on(async {
        vec![
            worker.recv_async().await.unwrap(),
            worker.recv_async().await.unwrap(),
        ]
    });
    assert_eq!(first[0], Event::User { value: 10 });
    assert!(matches!(first[1], Event::Transmit { .. }), "{:?}", first[1]);
    waker.post(11).unwrap();
    let last = rt.block_on(async { worker.recv_async().await.unwrap() });
    assert_eq!(last, Event::User { value: 11 });

    drop(worker);
    assert!(
        waker.post(12).is_err(),
        "a post after the worker is gone fails"
    );
}

/// A worker registered with one runtime that is then dropped: the next `recv_async` reports
/// the dead reactor, and the one after registers with the runtime it runs on.
#[test]
fn recv_async_moves_to_a_new_runtime_after_an_error() {
    let worker = common::stack().worker().unwrap();
    let waker = worker.waker();
    {
        let first = runtime();
        first.block_on(async {
            waker.post(1).unwrap();
            assert_eq!(worker.recv_async().await.unwrap(), Event::User { value: 1 });
            // Register: wait once with nothing there.
            let idle = tokio::time::timeout(Duration::from_millis(20), worker.recv_async()).await;
            assert!(idle.is_err(), "nothing was posted");
        });
    }
    let second = runtime();
    second.block_on(async {
        let err = tokio::time::timeout(Duration::from_secs(5), worker.recv_async()).await;
        match err {
            Ok(Err(usrsctp::Error::Io { .. })) => {}
            other => panic!("expected an I/O error from the dropped reactor, got {other:?}"),
        }
        waker.post(2).unwrap();
        let ev = tokio::time::timeout(Duration::from_secs(5), worker.recv_async()).await;
        assert_eq!(ev.unwrap().unwrap(), Event::User { value: 2 });
        // And it waits on the new reactor: a post from another thread wakes it.
        let w = waker.clone();
        let t = std::thread::spawn(move || w.post(3));
        let ev = tokio::time::timeout(Duration::from_secs(5), worker.recv_async()).await;
        assert_eq!(ev.unwrap().unwrap(), Event::User { value: 3 });
        t.join().unwrap().unwrap();
    });
}
