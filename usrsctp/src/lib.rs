//! SCTP over usrsctp for servers that run many worker threads: WebRTC data channels in
//! mediasoup-style SFUs, one worker per thread, all in one process.
//!
//! usrsctp keeps process-wide state and calls its callbacks on whichever thread is inside the
//! stack, including its own timer thread. Shared naively between workers, a callback set up by
//! worker A runs on worker B's thread, or after A is gone. This crate removes the cause:
//!
//! - usrsctp runs under **one thread the crate owns** (the [`Stack`]), whose life does not
//!   depend on any worker. It is the only thread that calls usrsctp, and it drives usrsctp's
//!   timers too: usrsctp starts no timer thread (its threaded mode leaks associations through
//!   a race between that thread and the API thread; see [`Stack`]).
//! - Every callback (packet output, socket upcalls, notifications) becomes a message in the
//!   **mailbox of the [`Worker`] that owns the association**. User code never runs on a usrsctp
//!   thread; a callback for an association already closed is counted and dropped, never
//!   dereferenced (usrsctp only ever sees an integer id, never a pointer).
//! - Both directions push back: [`Association::send`] never blocks and says
//!   [`Error::WouldBlock`] above a high-water mark; received messages are read from usrsctp only
//!   as the worker consumes its mailbox, so a slow worker closes SCTP's receive window instead of
//!   growing memory.
//!
//! # Example: two workers on two threads exchange a message
//!
//! The wire between them is a channel here; in an SFU it is DTLS.
//!
//! ```
//! use std::time::{Duration, Instant};
//! use usrsctp::{AssociationConfig, Event, SendOptions, Stack};
//!
//! let stack = Stack::global()?;
//! let (to_b, from_a) = crossbeam_channel::unbounded::<Vec<u8>>();
//! let (to_a, from_b) = crossbeam_channel::unbounded::<Vec<u8>>();
//!
//! let run = move |stack: Stack, wire_out: crossbeam_channel::Sender<Vec<u8>>,
//!                 wire_in: crossbeam_channel::Receiver<Vec<u8>>, greeting: &'static str| {
//!     std::thread::spawn(move || -> Result<String, usrsctp::Error> {
//!         let worker = stack.worker()?;
//!         let assoc = worker.associate(AssociationConfig::default())?;
//!         let deadline = Instant::now() + Duration::from_secs(20);
//!         while Instant::now() < deadline {
//!             for packet in wire_in.try_iter() {
//!                 assoc.input(packet)?;
//!             }
//!             match worker.recv_timeout(Duration::from_millis(5)) {
//!                 Some(Event::Transmit { packet, .. }) => { let _ = wire_out.send(packet); }
//!                 Some(Event::Connected { .. }) => {
//!                     assoc.send(0, usrsctp::ppid::STRING, greeting.as_bytes(), SendOptions::reliable())?;
//!                 }
//!                 Some(Event::Message { message, .. }) => {
//!                     // Keep carrying packets a moment so the peer gets its acknowledgement.
//!                     let until = Instant::now() + Duration::from_millis(200);
//!                     while Instant::now() < until {
//!                         for packet in wire_in.try_iter() { assoc.input(packet)?; }
//!                         if let Some(Event::Transmit { packet, .. }) = worker.recv_timeout(Duration::from_millis(5)) {
//!                             let _ = wire_out.send(packet);
//!                         }
//!                     }
//!                     return Ok(String::from_utf8_lossy(&message.data).into_owned());
//!                 }
//!                 _ => {}
//!             }
//!         }
//!         Ok(String::from("timed out"))
//!     })
//! };
//! let a = run(stack.clone(), to_b, from_b, "hello from A");
//! let b = run(stack.clone(), to_a, from_a, "hello from B");
//! assert_eq!(a.join().unwrap()?, "hello from B");
//! assert_eq!(b.join().unwrap()?, "hello from A");
//! # Ok::<(), usrsctp::Error>(())
//! ```
//!
//! # Waiting for events: blocking, epoll / mio, tokio
//!
//! A worker's loop waits on its mailbox with [`Worker::recv`] / [`Worker::recv_timeout`], or
//! on its eventfd ([`AsRawFd`](std::os::fd::AsRawFd)) from an epoll or mio loop: the eventfd
//! is readable while the mailbox holds an event and only then. With the cargo feature **`tokio`**,
//! `Worker::recv_async` waits in a tokio runtime (a `tokio::io::unix::AsyncFd` over that
//! eventfd, registered on first use with the runtime that runs it); the usual shape is one
//! current-thread runtime per worker thread (`examples/tokio_worker.rs`).
//!
//! Other threads (an SFU's router threads) reach a worker through a [`WorkerWaker`]
//! ([`Worker::waker`]): [`WorkerWaker::post`] puts [`Event::User`] into the same mailbox, in
//! order with the other events, and wakes the worker however it waits.
//!
//! # Thread confinement
//!
//! A [`Worker`] is `Send` but not `Sync`: create it anywhere, move it into the thread that
//! drives it, and drive it from that thread only. An [`Association`] is neither `Send` nor
//! `Sync`: it stays on the thread that created it. [`Stack`] is `Send + Sync` and cheap to
//! clone.
//!
//! What the types do not stop: moving a `Worker` to another thread *after* it created
//! associations leaves them behind. That compiles, works and is sound (every call is a message
//! to the stack thread; the events still arrive in the worker's mailbox, wherever it is), but
//! an association's calls and its events are then on different threads, and a send racing
//! with the worker's drop on the other thread may be accepted and go unreported. Keep a
//! worker and its associations on one thread.
//!
//! # Every message has an outcome
//!
//! A message [`Association::send`] accepted is either delivered (acknowledged by the peer) or
//! reported as [`Event::SendFailed`] — on a refusal by usrsctp, an expired partial-reliability
//! limit, a close, an abort (usrsctp's own buffer is reported too), the peer's abort or the
//! association's loss. Dropping an `Association` aborts it (a graceful close needs the handle
//! until `Closed`); dropping a `Worker` aborts its associations without reports, since their
//! mailbox is gone. [`Worker::abort_all`] before the drop aborts them with reports, and with
//! the ABORT packets in the mailbox for the lower layer to carry, so peers learn at once.
//!
//! # Bounded memory
//!
//! A peer cannot make the stack hold more than an association's `receive_credit` of received
//! messages (each charged 128 bytes on top of its payload, so empty messages count) plus one
//! message being reassembled, which is capped at `max_message_size`: a larger one is dropped as
//! it arrives and reported as [`Event::MessageTooLarge`]. On the sending side,
//! `send_high_water` bounds what a worker can queue, with the same per-message charge.
//!
//! # Which usrsctp
//!
//! `usrsctp-sys` compiles usrsctp from source (AF_CONN only: the stack opens no network socket
//! of its own) when a source tree is available, and otherwise links the system library.
//! [`Diagnostics::build`] says which one this process runs.

#![warn(missing_docs)]

// Layers, lowest first; a module imports only from the layers below it (docs/ARCHITECTURE.md).
// 1. Vocabulary, pure data: no usrsctp, no threads.
mod config;
mod errno;
mod error;
mod event;
mod stats;
// 2. Bytes and the FFI fence: packets, usrsctp's calls and structs, notification decoding.
mod ffi;
mod notification;
mod packet;
// 3. What both sides of the stack thread share, and the C callbacks that post into it.
mod callbacks;
mod shared;
// 4. The stack thread.
mod driver;
// 5. The handles users hold: the stack, associations, workers; data channels on top.
mod association;
pub mod datachannel;
mod stack;
mod worker;

pub use association::Association;
pub use config::{AssociationConfig, Reliability, SendOptions, StackConfig};
pub use errno::Errno;
pub use error::Error;
pub use event::{
    ppid, AssocId, CloseReason, Event, Message, MessageId, ResetDirection, ResetOutcome,
    SendFailure,
};
pub use shared::assoc::AssociationState;
pub use stack::{Diagnostics, Stack};
pub use stats::AssociationStats;
pub use worker::{Worker, WorkerGone, WorkerWaker};
