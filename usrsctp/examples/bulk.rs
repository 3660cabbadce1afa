//! Two workers on two threads: one sends a bulk of reliable ordered messages to the other over
//! an in-memory wire, the receiver verifies every byte, and both print what they measured.
//!
//! ```text
//! cargo run --release -p usrsctp --example bulk -- [MESSAGES] [SIZE]
//! ```

use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, Sender};
use usrsctp::{
    ppid, Association, AssociationConfig, Diagnostics, Error, Event, SendOptions, Stack, Worker,
};

/// Carries packets between the worker's mailbox and the wire; returns the first other event,
/// waiting up to `wait` for one.
fn pump(
    worker: &Worker,
    assoc: &Association,
    out: &Sender<Vec<u8>>,
    inp: &Receiver<Vec<u8>>,
    wait: Duration,
) -> Option<Event> {
    for packet in inp.try_iter() {
        // Input errors only happen once the association is closed; the loop notices that.
        let _ = assoc.input(packet);
    }
    loop {
        let event = match worker.try_recv() {
            Some(event) => event,
            None => worker.recv_timeout(wait)?,
        };
        match event {
            Event::Transmit { packet, .. } => {
                let _ = out.send(packet);
            }
            other => return Some(other),
        }
    }
}

fn payload(seq: u32, size: usize) -> Vec<u8> {
    let mut data: Vec<u8> = (0..size).map(|i| (i as u32 ^ seq) as u8).collect();
    data[..4].copy_from_slice(&seq.to_le_bytes());
    data
}

fn main() -> Result<(), Error> {
    let mut args = std::env::args().skip(1);
    let messages: u32 = args.next().and_then(|a| a.parse().ok()).unwrap_or(100_000);
    let size: usize = args
        .next()
        .and_then(|a| a.parse().ok())
        .unwrap_or(1024)
        .max(4);
    let stack = Stack::global()?;
    let (a_out, b_in) = crossbeam_channel::unbounded();
    let (b_out, a_in) = crossbeam_channel::unbounded();

    let sender_stack = stack.clone();
    let sender = std::thread::spawn(move || -> Result<u32, Error> {
        let worker = sender_stack.worker()?;
        let assoc = worker.associate(AssociationConfig::default())?;
        let (mut sent, mut blocked) = (0u32, 0u32);
        let mut connected = false;
        let deadline = Instant::now() + Duration::from_secs(120);
        while Instant::now() < deadline {
            // Queue a batch (until WouldBlock), then carry packets.
            let mut batch = 0;
            while connected && sent < messages && batch < 256 {
                match assoc.send(
                    0,
                    ppid::BINARY,
                    payload(sent, size),
                    SendOptions::reliable(),
                ) {
                    Ok(_) => sent += 1,
                    Err(e) if e.is_would_block() => {
                        blocked += 1;
                        break;
                    }
                    Err(e) => return Err(e),
                }
                batch += 1;
            }
            let wait = if batch == 256 {
                Duration::ZERO
            } else {
                Duration::from_micros(200)
            };
            match pump(&worker, &assoc, &a_out, &a_in, wait) {
                Some(Event::Connected { .. }) => connected = true,
                Some(Event::Closed { .. }) => break,
                _ => {}
            }
        }
        eprintln!("sender: {sent} messages queued, WouldBlock {blocked} times");
        Ok(sent)
    });

    let worker = stack.worker()?;
    let assoc = worker.associate(AssociationConfig::default())?;
    let mut received = 0u32;
    let mut started = None;
    let deadline = Instant::now() + Duration::from_secs(120);
    while received < messages && Instant::now() < deadline {
        if let Some(Event::Message { message, .. }) =
            pump(&worker, &assoc, &b_out, &b_in, Duration::from_millis(1))
        {
            started.get_or_insert_with(Instant::now);
            assert!(
                message.data == payload(received, size),
                "message {received} corrupted or out of order"
            );
            received += 1;
        }
    }
    let elapsed = started.map(|s| s.elapsed()).unwrap_or_default();
    assoc.close()?;
    while !matches!(
        pump(&worker, &assoc, &b_out, &b_in, Duration::from_millis(1)),
        Some(Event::Closed { .. })
    ) {}
    let sent = sender.join().expect("sender thread")?;
    let secs = elapsed.as_secs_f64().max(1e-9);
    println!(
        "{received}/{sent} messages of {size} B verified in {:.3} s: {:.0} msg/s, {:.1} MB/s (usrsctp {} {})",
        secs,
        f64::from(received) / secs,
        f64::from(received) * size as f64 / secs / 1e6,
        Diagnostics::current().build,
        Diagnostics::current().version,
    );
    let d = stack.diagnostics();
    println!(
        "stack: {} commands, {} packets out, {} packets in, {} late callbacks dropped",
        d.commands, d.packets_out, d.packets_in, d.late_callbacks_dropped
    );
    if received != messages {
        eprintln!("incomplete transfer");
        std::process::exit(1);
    }
    Ok(())
}
