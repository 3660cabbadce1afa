//! A receiver stops reading for a while, then reads slowly. The sender sees WouldBlock and then
//! BufferedAmountLow; the receiver's mailbox never holds more than its receive credit plus one
//! message; SCTP's receive window pushes back on the sender; every message arrives intact.

mod common;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::pair;
use usrsctp::{ppid, AssociationConfig, Error, Event, SendOptions};
use usrsctp_test_support::pattern;

const N: u32 = 2000;
const SIZE: usize = 1024;

fn config() -> AssociationConfig {
    AssociationConfig {
        send_buffer: Some(128 * 1024),
        recv_buffer: Some(128 * 1024),
        max_message_size: 4096,
        send_high_water: 64 * 1024,
        receive_credit: 32 * 1024,
        ..AssociationConfig::default()
    }
}

#[test]
fn slow_consumer_backpressure() {
    // Each queued message is charged 128 bytes on top of its payload, on both sides.
    const OVERHEAD: usize = 128;
    let bound = config().receive_credit + config().max_message_size + OVERHEAD;
    let paused = Arc::new(AtomicBool::new(true));
    let paused_a = paused.clone();
    let ((would_block, low_events, min_rwnd), max_mailbox) = pair(
        config(),
        config(),
        0.0,
        move |a| {
            a.connected();
            let (mut would_block, mut low, mut min_rwnd) = (0u32, 0u32, u32::MAX);
            let mut i = 0;
            let mut asked = 0;
            let deadline = Instant::now() + Duration::from_secs(60);
            while i < N {
                assert!(Instant::now() < deadline, "sender stuck at {i}");
                match a.assoc.send(
                    1,
                    ppid::BINARY,
                    pattern(9, i, SIZE),
                    SendOptions::reliable(),
                ) {
                    Ok(_) => i += 1,
                    Err(Error::WouldBlock {
                        buffered,
                        high_water,
                        ..
                    }) => {
                        let charged = buffered + buffered / SIZE * OVERHEAD;
                        assert!(charged + SIZE + OVERHEAD > high_water);
                        would_block += 1;
                        // The window is likely closed now: ask for usrsctp's figures (they
                        // arrive as an event, in the backlog).
                        a.assoc.refresh_stats().unwrap();
                        asked += 1;
                        a.wait_for("BufferedAmountLow", Duration::from_secs(30), |e| {
                            matches!(e, Event::BufferedAmountLow { .. })
                        });
                        low += 1;
                    }
                    Err(e) => panic!("send: {e}"),
                }
                if i % 64 == 0 && !paused_a.load(Ordering::SeqCst) {
                    a.assoc.refresh_stats().unwrap();
                    asked += 1;
                }
            }
            // Every request is answered, in order with the other events.
            for _ in 0..asked {
                let ev = a.wait_for("Stats", Duration::from_secs(10), |e| {
                    matches!(e, Event::Stats { .. })
                });
                if let Event::Stats { stats, .. } = ev {
                    min_rwnd = min_rwnd.min(stats.peer_rwnd);
                }
            }
            (would_block, low, min_rwnd)
        },
        move |b| {
            b.connected();
            // Stop reading for a second: nothing is taken from the mailbox. (The sleep is the
            // slowness under test, not a synchronisation.)
            std::thread::sleep(Duration::from_secs(1));
            paused.store(false, Ordering::SeqCst);
            // Then read slowly.
            let mut next = 0u32;
            let deadline = Instant::now() + Duration::from_secs(60);
            while next < N {
                assert!(Instant::now() < deadline, "receiver got {next} of {N}");
                if let Some(Event::Message { message, .. }) =
                    b.next_event(Duration::from_millis(50))
                {
                    assert!(
                        message.data == pattern(9, next, SIZE),
                        "message {next} intact and in order"
                    );
                    next += 1;
                    if next % 16 == 0 {
                        std::thread::sleep(Duration::from_millis(1));
                    }
                }
            }
            // The true maximum the stack queued for this mailbox, not a sample.
            b.assoc.stats().unwrap().mailbox_peak_bytes
        },
    );
    eprintln!(
        "WouldBlock {would_block}x, BufferedAmountLow {low_events}x, min peer rwnd {min_rwnd} B, \
         max mailbox {max_mailbox} B (bound {bound} B)"
    );
    assert!(would_block > 0, "the sender was pushed back");
    assert_eq!(
        low_events, would_block,
        "each WouldBlock is followed by BufferedAmountLow"
    );
    assert!(
        max_mailbox <= bound,
        "mailbox held {max_mailbox} B, above the bound {bound} B"
    );
    assert!(
        max_mailbox > config().receive_credit / 2,
        "the receiver's mailbox filled towards its credit while it read slowly ({max_mailbox} B)"
    );
    assert!(
        min_rwnd < 64 * 1024,
        "the receive window closed toward the sender (min {min_rwnd})"
    );
}
