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
