//! The `usrsctp-stress` harness: many workers on many threads carry data channels through
//! loss, duplication, reordering, corruption, injected garbage, worker teardown and stack
//! restarts, and prove that no reliable message is lost, duplicated, reordered or corrupted
//! and that no thread, file descriptor or memory leaks.
//!
//! The modules, lowest first (each imports only modules above it in this list):
//!
//! - [`cli`]: the flags (the contract of the binary).
//! - Parts: [`payload`]: message framing and checks, and the message plan; [`malformed`]:
//!   malformed packets and the run's budget of them; [`wire`]: fault injection;
//!   [`latency`]: the latency histogram; [`trace`]: the last packets of each association,
//!   printed when one fails; [`procstat`]: threads, fds and memory from `/proc`; `tamper`:
//!   `--debug-tamper`. The seeded generator and SCTP packet helpers come from
//!   `usrsctp-test-support`, shared with the workspace's tests.
//! - `books`: per-incarnation ledgers and their totals; `state`: what the run's threads share
//!   (counters, the round under way, the workers' channel messages).
//! - `pair_end`: one end of a pair (sends its share, checks what it receives); `worker`: one
//!   worker thread's loop.
//! - [`report`]: the JSON report (version 1) and its building; `watchdog`; `progress`.
//! - [`run`]: the orchestrator (rounds, churn, stack restarts).
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
