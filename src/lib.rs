//! The `usrsctp-stress` harness: many workers on many threads carry data channels through
//! loss, duplication, reordering, corruption, injected garbage, worker teardown and stack
//! restarts, and prove that no reliable message is lost, duplicated, reordered or corrupted
//! and that no thread, file descriptor or memory leaks.
//!
//! - [`cli`]: the flags (the contract of the binary).
//! - [`run`]: the orchestrator (rounds, churn, stack restarts, watchdog, accounting).
//! - [`payload`]: message framing and checks; [`wire`]: fault injection;
//!   [`malformed`]: malformed packets; [`procstat`]: threads, fds and memory from `/proc`;
//!   [`latency`]: the latency histogram; [`report`]: the JSON report (version 1);
//!   [`trace`]: the last packets of each association, printed when one fails.
//!
//! See `docs/STRESS.md` for the reliability gates built on it.

#![warn(missing_docs)]

mod books;
pub mod cli;
pub mod latency;
pub mod malformed;
mod pair_end;
pub mod payload;
pub mod procstat;
mod progress;
pub mod report;
pub mod run;
mod state;
mod tamper;
pub mod trace;
mod watchdog;
pub mod wire;
mod worker;
