//! A minimal WebRTC data-channel endpoint around the `usrsctp` crate, server side, as an SFU
//! has one, and an SFU-shaped relay on top, for interop with real browsers.
//!
//! - [`ice`]: ICE-lite, answering the browser's STUN Binding checks (RFC 8445 §2.5, RFC 8489).
//! - [`dtls`]: DTLS 1.2 as the passive side with a self-signed certificate (OpenSSL).
//! - [`sdp`]: the browser's data-channel-only offer in, our answer out.
//! - [`relay`]: N worker threads, each owning its UDP socket, DTLS sessions, associations and
//!   data channels; messages are relayed to every other client across workers.
//! - [`http`]: signalling (offer/answer over HTTP on 127.0.0.1), the chat page and the test
//!   page.
//!
//! Run the demo with `cargo run --release --example browser_sfu`; `scripts/browser-test`
//! drives Chromium and Firefox against it headless.

#![warn(missing_docs)]

pub mod demo;
pub mod dtls;
pub mod http;
pub mod ice;
pub mod relay;
pub mod sdp;

pub use http::Signalling;
pub use relay::{Answer, Relay, RelayConfig, RelayError, WorkerSnapshot};
