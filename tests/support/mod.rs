//! In-memory drivers that pair our stack with independent SCTP implementations.
#![allow(dead_code)]

pub mod proto;
pub mod webrtc;

use std::time::Duration;

use usrsctp::{Stack, StackConfig};

/// Short timers so lossy tests finish in seconds; everything else WebRTC defaults.
pub fn stack() -> Stack {
    Stack::get_or_start(StackConfig {
        rto_min_ms: 50,
        rto_initial_ms: 200,
        rto_max_ms: 1000,
        init_rto_max_ms: 1000,
        delayed_sack_ms: 10,
        init_rtx_max: 30,
        assoc_rtx_max: 30,
        path_rtx_max: 30,
        ..StackConfig::default()
    })
    .expect("the usrsctp stack starts")
}

/// Default time limit of one wait in these tests.
pub const T: Duration = Duration::from_secs(20);

/// The harness's seeded, reproducible generator (for loss and payloads).
pub use usrsctp_harness::rng::Rng;

/// Deterministic payload of `len` bytes for message `seq`, its sequence number in front.
pub fn pattern(seq: u32, len: usize) -> Vec<u8> {
    let mut data: Vec<u8> = (0..len)
        .map(|i| {
            (i as u32)
                .wrapping_mul(31)
                .wrapping_add(seq.wrapping_mul(7)) as u8
        })
        .collect();
    if len >= 4 {
        data[..4].copy_from_slice(&seq.to_le_bytes());
    }
    data
}
