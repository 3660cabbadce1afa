//! One `SendFailed` per message, also for a large message usrsctp had started to send when the
//! association ended: usrsctp reports the chunks it holds first, then every stream's unsent
//! messages in stream order, including that message's unsent tail a second time.

mod common;

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use usrsctp::{ppid, AssociationConfig, Event, SendOptions};

#[test]
fn a_partly_sent_message_is_reported_once_when_the_association_is_aborted() {
    let stack = common::stack();
    let cfg = AssociationConfig::default;
    let mut pair = common::LocalPair::new(&stack, cfg(), cfg());
    pair.connect();
    // Nothing is carried from here on: usrsctp sends what its window allows of the large
    // message on stream 1 (it holds the rest), and the small ones on stream 0 wait behind it.
    let big = pair
        .assoc_a
        .send(
            1,
            ppid::BINARY,
            vec![7u8; 200 * 1024],
            SendOptions::reliable(),
        )
        .expect("send the large message");
    let small: Vec<u32> = (0..3)
        .map(|_| {
            pair.assoc_a
                .send(0, ppid::BINARY, &b"small"[..], SendOptions::reliable())
                .expect("send a small message")
                .get()
        })
        .collect();
    // Let the stack thread hand them to usrsctp and send what it can (A's packets are read
    // and dropped), then abort.
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut packets = 0;
    while packets < 3 {
        assert!(Instant::now() < deadline, "A sent {packets} packets");
        if let Some(Event::Transmit { .. }) = pair.a.recv_timeout(Duration::from_millis(100)) {
            packets += 1;
        }
    }
    pair.assoc_a.abort().expect("abort");
    let mut reports: BTreeMap<u32, usize> = BTreeMap::new();
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        assert!(Instant::now() < deadline, "no Closed; reports {reports:?}");
        match pair.a.recv_timeout(Duration::from_millis(100)) {
            Some(Event::SendFailed { message, .. }) => {
                *reports.entry(message.get()).or_default() += 1
            }
            Some(Event::Closed { .. }) => break,
            _ => {}
        }
    }
    let mut expected: BTreeMap<u32, usize> = small.iter().map(|&id| (id, 1)).collect();
    expected.insert(big.get(), 1);
    assert_eq!(reports, expected, "message id → reports");
}
