//! Helpers shared by the workspace's tests, the `usrsctp-stress` harness and the benchmarks,
//! so each exists once:
//!
//! - [`rng`]: a small seeded generator ([`Rng`]) and stateless hashes, so one seed gives one
//!   fault pattern;
//! - [`sctp`]: SCTP packet helpers: the CRC32c checksum (fill, verify), a walk over a packet's
//!   chunk headers, and the questions tests ask of it ([`sctp::has_data`]);
//! - [`pattern`]: deterministic message payloads a receiver can check.
//!
//! It depends on small crates only and not on `usrsctp`, which takes it as a dev-dependency.

#![warn(missing_docs)]

pub mod pattern;
pub mod rng;
pub mod sctp;

pub use pattern::{pattern, pattern_seq};
pub use rng::Rng;
pub use sctp::{checksum_ok, fill_checksum};
