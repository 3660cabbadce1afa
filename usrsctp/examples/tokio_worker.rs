//! Two workers, each on its own thread running a current-thread tokio runtime (the usual SFU
//! shape), exchange data-channel messages over an in-memory wire (tokio channels; in an SFU,
//! DTLS). Each loop waits with `Worker::recv_async` on its mailbox and on its wire at once.
//!
//! The client opens a channel and sends `MESSAGES` texts; the server echoes each one. When the
//! client has every echo it posts "done" to the server's `WorkerWaker` (as a router thread
//! would hand a worker a message) and both exit.
//!
//! Run: `cargo run -p usrsctp --example tokio_worker --features tokio`

use std::time::Duration;

use tokio::sync::mpsc::{unbounded_channel, UnboundedReceiver, UnboundedSender};
use usrsctp::datachannel::{ChannelData, ChannelEvent, ChannelInit, DataChannels, DtlsRole};
use usrsctp::{AssociationConfig, Event, Stack, Worker, WorkerWaker};

const MESSAGES: u32 = 10;
/// The value the client posts to the server's worker when it is finished.
const DONE: u64 = 1;

type Wire = (UnboundedSender<Vec<u8>>, UnboundedReceiver<Vec<u8>>);

/// What a loop turn produced for the application.
enum Turn {
    Channel(ChannelEvent),
    User(u64),
}

/// Waits for the next channel event or posted value, carrying packets both ways meanwhile.
async fn turn(worker: &Worker, dc: &mut DataChannels, wire: &mut Wire) -> Result<Turn, String> {
    loop {
        if let Some(ev) = dc.poll_event() {
            return Ok(Turn::Channel(ev));
        }
        tokio::select! {
            // The mailbox first: a value posted before the peer's wire closed is taken before
            // the close is seen.
            biased;
            ev = worker.recv_async() => {
                let ev = ev.map_err(|e| e.to_string())?;
                if let Event::User { value } = ev {
                    return Ok(Turn::User(value));
                }
                if let Event::Transmit { packet, .. } = &ev {
                    // A peer that has finished drops its end; the packet is then lost.
                    let _ = wire.0.send(packet.clone());
                }
                dc.handle_event(&ev);
            }
            packet = wire.1.recv() => match packet {
                Some(packet) => dc.assoc().input(packet).map_err(|e| e.to_string())?,
                None => return Err("the wire closed".into()),
            },
        }
    }
}

async fn client(worker: Worker, mut wire: Wire, server: WorkerWaker) -> Result<(), String> {
    let mut dc = DataChannels::associate(&worker, AssociationConfig::default(), DtlsRole::Client)
        .map_err(|e| e.to_string())?;
    let chat = dc
        .open_channel(ChannelInit::reliable("chat"))
        .map_err(|e| e.to_string())?;
    let mut echoes = 0;
    while echoes < MESSAGES {
        match turn(&worker, &mut dc, &mut wire).await? {
            Turn::Channel(ChannelEvent::Opened { channel, .. }) if channel == chat => {
                for i in 0..MESSAGES {
                    dc.send_text(chat, &format!("message {i}"))
                        .map_err(|e| e.to_string())?;
                }
            }
            Turn::Channel(ChannelEvent::Message {
                data: ChannelData::Text(text),
                ..
            }) => {
                if text != format!("echo: message {echoes}") {
                    return Err(format!("unexpected echo {text:?}"));
                }
                println!("client: {text}");
                echoes += 1;
            }
            _ => {}
        }
    }
    server.post(DONE).map_err(|e| e.to_string())
}

async fn server(worker: Worker, mut wire: Wire) -> Result<(), String> {
    let mut dc = DataChannels::associate(&worker, AssociationConfig::default(), DtlsRole::Server)
        .map_err(|e| e.to_string())?;
    loop {
        match turn(&worker, &mut dc, &mut wire).await? {
            Turn::Channel(ChannelEvent::Message {
                channel,
                data: ChannelData::Text(text),
            }) => {
                dc.send_text(channel, &format!("echo: {text}"))
                    .map_err(|e| e.to_string())?;
            }
            Turn::User(DONE) => {
                println!("server: the client is done");
                return Ok(());
            }
            _ => {}
        }
    }
}

/// Runs the future `f` makes on a new thread with a current-thread runtime, giving up after
/// 30 s. The future borrows its worker, which is not `Sync`, so it is made on that thread.
fn spawn<F, Fut>(f: F) -> std::thread::JoinHandle<Result<(), String>>
where
    F: FnOnce() -> Fut + Send + 'static,
    Fut: std::future::Future<Output = Result<(), String>>,
{
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| e.to_string())?;
        rt.block_on(async {
            tokio::time::timeout(Duration::from_secs(30), f())
                .await
                .map_err(|_| "timed out".to_string())?
        })
    })
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let stack = Stack::global()?;
    let (client_worker, server_worker) = (stack.worker()?, stack.worker()?);
    let server_waker = server_worker.waker();
    let (to_server, from_client) = unbounded_channel();
    let (to_client, from_server) = unbounded_channel();
    let c = spawn(move || client(client_worker, (to_server, from_server), server_waker));
    let s = spawn(move || server(server_worker, (to_client, from_client)));
    let c = c.join().map_err(|_| "client thread panicked")?;
    let s = s.join().map_err(|_| "server thread panicked")?;
    c?;
    s?;
    println!("done: {MESSAGES} messages echoed");
    Ok(())
}
