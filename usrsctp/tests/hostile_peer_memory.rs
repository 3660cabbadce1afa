//! Issue 12, items 1 and 2: a peer cannot grow our memory without bound.
//! - One message larger than our `max_message_size` is read and dropped as it arrives, never
//!   reassembled; we get `MessageTooLarge`, and the association goes on.
//! - The receive credit charges every message a fixed overhead, so a flood of empty messages
//!   fills it as surely as large ones; the send high-water mark does the same for tiny sends.

mod common;

use std::time::{Duration, Instant};

use common::{test_stack_config, LocalPair};
use usrsctp::{ppid, AssociationConfig, Event, SendOptions, Stack};

const KIB: usize = 1024;
const MIB: usize = 1024 * KIB;

#[test]
fn hostile_peer_memory() {
    let stack = Stack::get_or_start(test_stack_config()).expect("stack");
    oversized_message_is_dropped_as_it_arrives(&stack);
    empty_messages_fill_the_receive_credit(&stack);
    tiny_sends_fill_the_high_water_mark(&stack);
}

fn oversized_message_is_dropped_as_it_arrives(stack: &Stack) {
    // The peer may send 8 MiB messages; we accept 64 KiB.
    let sender = AssociationConfig {
        max_message_size: 8 * MIB,
        send_high_water: 16 * MIB,
        send_buffer: Some(16 * MIB as u32),
        ..Default::default()
    };
    let receiver = AssociationConfig {
        max_message_size: 64 * KIB,
        receive_credit: 64 * KIB,
        ..Default::default()
    };
    let mut pair = LocalPair::new(stack, sender, receiver);
    pair.connect();
    let big = vec![0x5A; 8 * MIB];
    pair.assoc_a
        .send(1, ppid::BINARY, big, SendOptions::reliable())
        .expect("the sender may send it");
    pair.assoc_a
        .send(1, ppid::STRING, "after", SendOptions::reliable())
        .expect("send");
    pair.run_until(
        "the small message after the big one",
        Duration::from_secs(60),
        |p| {
            p.events_b
                .iter()
                .any(|e| matches!(e, Event::Message { message, .. } if message.data == b"after"))
        },
    );
    let too_large: Vec<_> = pair
        .events_b
        .iter()
        .filter_map(|e| match e {
            Event::MessageTooLarge {
                stream, size, max, ..
            } => Some((*stream, *size, *max)),
            _ => None,
        })
        .collect();
    assert_eq!(
        too_large,
        vec![(1, 8 * MIB, 64 * KIB)],
        "reported once, with its size"
    );
    let largest = pair
        .events_b
        .iter()
        .filter_map(|e| match e {
            Event::Message { message, .. } => Some(message.data.len()),
            _ => None,
        })
        .max();
    assert_eq!(
        largest,
        Some(5),
        "nothing over max_message_size is delivered"
    );
    let stats = pair.assoc_b.stats().expect("stats");
    assert!(
        stats.mailbox_peak_bytes <= 64 * KIB + 128 + 5,
        "the mailbox held {} bytes at most",
        stats.mailbox_peak_bytes
    );
}

fn empty_messages_fill_the_receive_credit(stack: &Stack) {
    const MESSAGES: usize = 20_000;
    let credit = 64 * KIB;
    let receiver = AssociationConfig {
        receive_credit: credit,
        ..Default::default()
    };
    let mut pair = LocalPair::new(stack, AssociationConfig::default(), receiver);
    pair.connect();
    let mut sent = 0;
    let mut received = 0;
    let mut most_waiting = 0;
    let deadline = Instant::now() + Duration::from_secs(60);
    while received < MESSAGES {
        assert!(
            Instant::now() < deadline,
            "{received} of {MESSAGES} received"
        );
        while sent < MESSAGES {
            match pair
                .assoc_a
                .send(0, ppid::BINARY, Vec::new(), SendOptions::reliable())
            {
                Ok(_) => sent += 1,
                Err(e) if e.is_would_block() => break,
                Err(e) => panic!("send: {e}"),
            }
        }
        // A carries everything; B is a slow consumer: at most 16 events per round.
        while let Some(ev) = pair.a.try_recv() {
            if let Event::Transmit { packet, .. } = ev {
                let _ = pair.assoc_b.input(packet);
            }
        }
        most_waiting = most_waiting.max(pair.b.pending());
        for _ in 0..16 {
            match pair.b.try_recv() {
                Some(Event::Transmit { packet, .. }) => {
                    let _ = pair.assoc_a.input(packet);
                }
                Some(Event::Message { message, .. }) => {
                    assert!(message.data.is_empty());
                    received += 1;
                }
                Some(_) => {}
                None => {
                    let _ = pair.a.recv_timeout(Duration::from_millis(1)).map(|ev| {
                        if let Event::Transmit { packet, .. } = ev {
                            let _ = pair.assoc_b.input(packet);
                        }
                    });
                    break;
                }
            }
        }
    }
    let stats = pair.assoc_b.stats().expect("stats");
    // The true maximum the stack ever queued for B (not a sample): the credit, plus one
    // message that was read when the credit was just short of it.
    assert!(
        stats.mailbox_peak_bytes < credit + 128,
        "the mailbox held {} charged bytes (credit {credit})",
        stats.mailbox_peak_bytes
    );
    assert!(
        most_waiting <= credit / 128 + 512,
        "{most_waiting} events waited in the mailbox at once"
    );
}

fn tiny_sends_fill_the_high_water_mark(stack: &Stack) {
    let worker = stack.worker().expect("worker");
    let assoc = worker
        .associate(AssociationConfig::default())
        .expect("associate");
    // Not connected: nothing leaves the queue.
    let mut admitted = 0usize;
    loop {
        match assoc.send(0, ppid::BINARY, vec![1], SendOptions::reliable()) {
            Ok(_) => admitted += 1,
            Err(e) if e.is_would_block() => break,
            Err(e) => panic!("send: {e}"),
        }
        assert!(admitted <= MIB, "the high-water mark never pushed back");
    }
    let high = AssociationConfig::default().send_high_water;
    assert_eq!(
        admitted,
        high / (1 + 128),
        "one-byte messages are charged their overhead"
    );
}
