//! Over a wire that drops 30% of the packets each way, MaxRetransmits(0) and MaxLifetime
//! messages are abandoned without stalling the reliable messages sent among them, which all
//! arrive, in order and intact.

mod common;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::{pair, test_stack_config};
use usrsctp::{
    ppid, AssociationConfig, Event, Reliability, SendFailure, SendOptions, Stack, StackConfig,
};
use usrsctp_test_support::{pattern, pattern_seq};

const N: u32 = 300;
const RTX0: u16 = 1;
const TTL: u16 = 2;
const RELIABLE: u16 = 3;

#[test]
fn partial_reliability() {
    // 30% loss each way: allow more retransmissions than WebRTC's 5 before giving up, so the
    // handshake and the reliable stream cannot be declared lost by bad luck.
    let _stack = Stack::get_or_start(StackConfig {
        init_rtx_max: 30,
        assoc_rtx_max: 30,
        path_rtx_max: 30,
        ..test_stack_config()
    })
    .unwrap();
    let b_done = Arc::new(AtomicBool::new(false));
    let b_done_a = b_done.clone();
    let ((abandoned_rtx0, abandoned_ttl, abandoned_reliable), (rtx0_got, ttl_got)) = pair(
        AssociationConfig::default(),
        AssociationConfig::default(),
        0.30,
        move |ep| {
            ep.connected();
            for i in 0..N {
                let rtx0 = SendOptions::reliable().with_reliability(Reliability::MaxRetransmits(0));
                let ttl = SendOptions::unordered().with_reliability(Reliability::MaxLifetime(30));
                ep.assoc
                    .send(RTX0, ppid::BINARY, pattern(1, i, 300), rtx0)
                    .unwrap();
                ep.assoc
                    .send(TTL, ppid::BINARY, pattern(2, i, 300), ttl)
                    .unwrap();
                ep.assoc
                    .send(
                        RELIABLE,
                        ppid::BINARY,
                        pattern(3, i, 300),
                        SendOptions::reliable(),
                    )
                    .unwrap();
                if i % 20 == 0 {
                    ep.pump_for(Duration::from_millis(5));
                }
            }
            // Keep the wire going until the receiver has every reliable message.
            let deadline = Instant::now() + Duration::from_secs(90);
            while !b_done_a.load(Ordering::SeqCst) && Instant::now() < deadline {
                ep.pump_for(Duration::from_millis(10));
            }
            let abandoned_on = |on: u16| {
                ep.backlog
                    .iter()
                    .filter(|e| {
                        matches!(
                            e,
                            Event::SendFailed {
                                stream,
                                reason: SendFailure::Abandoned { .. },
                                ..
                            } if *stream == on
                        )
                    })
                    .count() as u32
            };
            (
                abandoned_on(RTX0),
                abandoned_on(TTL),
                abandoned_on(RELIABLE),
            )
        },
        move |ep| {
            ep.connected();
            let mut next_reliable = 0u32;
            let (mut rtx0, mut ttl) = (0u32, 0u32);
            let mut last_rtx0: Option<u32> = None;
            let deadline = Instant::now() + Duration::from_secs(90);
            while next_reliable < N {
                assert!(
                    Instant::now() < deadline,
                    "reliable stream stalled at {next_reliable} of {N}"
                );
                let Some(Event::Message { message: m, .. }) =
                    ep.next_event(Duration::from_millis(100))
                else {
                    continue;
                };
                let tag = m.stream as u8;
                let Some(seq) = pattern_seq(tag, &m.data) else {
                    panic!("corrupted message on stream {}", m.stream)
                };
                match m.stream {
                    RELIABLE => {
                        assert_eq!(
                            seq, next_reliable,
                            "reliable messages in order, none missing"
                        );
                        next_reliable += 1;
                    }
                    RTX0 => {
                        assert!(
                            last_rtx0.is_none_or(|l| seq > l),
                            "ordered partially reliable stream keeps order"
                        );
                        last_rtx0 = Some(seq);
                        rtx0 += 1;
                    }
                    TTL => ttl += 1,
                    s => panic!("unexpected stream {s}"),
                }
            }
            b_done.store(true, Ordering::SeqCst);
            (rtx0, ttl)
        },
    );
    assert!(
        rtx0_got < N,
        "with 30% loss some MaxRetransmits(0) messages must be abandoned ({rtx0_got}/{N} arrived)"
    );
    // The lifetime (30 ms) is below the minimum RTO (50 ms): a lost copy can only be
    // recovered by a fast retransmit in time, so some must expire, and some arrive.
    assert!(
        ttl_got < N && ttl_got > 0,
        "MaxLifetime(30): {ttl_got}/{N} arrived; expected some, not all"
    );
    assert_eq!(
        abandoned_reliable, 0,
        "reliable messages are never abandoned"
    );
    // Every partially reliable message has an outcome: delivered, or reported abandoned (a
    // message both delivered and reported was sent, its acknowledgement lost).
    assert!(
        rtx0_got + abandoned_rtx0 >= N,
        "MaxRetransmits(0): {rtx0_got} delivered + {abandoned_rtx0} abandoned < {N}"
    );
    assert!(
        ttl_got + abandoned_ttl >= N,
        "MaxLifetime: {ttl_got} delivered + {abandoned_ttl} abandoned < {N}"
    );
}
