//! The crate-owned usrsctp stack: starting it, stopping it, and what it reports.
//!
//! # Lock order
//! `LIFECYCLE` (`shared/instance.rs`: which stack is current, whether a stack thread holds
//! usrsctp) is the only lock here; it is held briefly, never across a join or a wait (waiting
//! for usrsctp to be free is a `Condvar` wait), never by a callback, never while calling into
//! usrsctp. `shared::routes::ROUTES` is a leaf below it.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crate::config::{StackConfig, MAX_CLOSE_TIMEOUT};
use crate::driver;
use crate::errno::Errno;
use crate::error::Error;
use crate::shared::command::{Command, CommandSender};
use crate::shared::counters::COUNTERS;
use crate::shared::instance::{Registry, StackStatus};
use crate::shared::routes;

static LIFECYCLE: Registry<StackInner> = Registry::new();
static GENERATION: AtomicU64 = AtomicU64::new(0);

struct StackInner {
    tx: CommandSender,
    thread: Mutex<Option<JoinHandle<()>>>,
    status: Arc<StackStatus>,
    generation: u64,
    config: StackConfig,
}

impl Drop for StackInner {
    fn drop(&mut self) {
        // The last handle is gone: stop the thread without waiting for it (a worker's drop
        // should not block). It frees usrsctp when its `usrsctp_finish` has returned, and the
        // next start waits for that.
        if self.status.stop() {
            let _ = self.tx.send(Command::Shutdown { reply: None });
        }
    }
}

/// A handle to the process's usrsctp stack thread. Cheap to clone, `Send + Sync`.
///
/// The stack thread is owned by the crate, not by the thread that started it: it runs while any
/// handle (a `Stack`, a [`Worker`](crate::Worker), an [`Association`](crate::Association)) exists, or until
/// [`shutdown`](Self::shutdown). It is the only thread that calls usrsctp's API.
///
/// It also runs usrsctp's timers (retransmission, delayed SACK, heartbeat, teardown), every
/// 10 ms, between commands: usrsctp is initialised with `usrsctp_init_nothreads`. In usrsctp's
/// threaded mode its timer thread races with the thread that calls the API: a timer that
/// fires while the API thread starts and stops it again can be entered with its association
/// pointer already cleared, and the association reference taken when the timer was started is
/// never dropped. That association can then never be freed, and `usrsctp_finish` fails for the
/// rest of the process (0.9.5.0 and current master). With timers and API calls on one thread
/// the race cannot happen. The only thread usrsctp starts itself is its iterator thread, and
/// even the system library (built with IPv4/IPv6) opens no raw socket.
///
/// After a shutdown, the next start initialises usrsctp again (`usrsctp_finish` then
/// `usrsctp_init_nothreads`), which the `stack_restart` test exercises with traffic on every
/// cycle. If `usrsctp_finish` ever fails to complete (usrsctp still holds associations after
/// 30 s), usrsctp stays initialised and further starts fail with an error naming
/// `usrsctp_finish`.
#[derive(Clone)]
pub struct Stack {
    inner: Arc<StackInner>,
}

impl std::fmt::Debug for Stack {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Stack")
            .field("generation", &self.inner.generation)
            .field("running", &self.inner.status.is_alive())
            .finish()
    }
}

impl Stack {
    /// Starts the stack thread with `config`. Fails with [`Error::AlreadyRunning`] if a stack is
    /// running; use [`get_or_start`](Self::get_or_start) to share it instead. If a previous
    /// stack is still shutting down, waits until its usrsctp is finished.
    ///
    /// ```
    /// use usrsctp::{Error, Stack, StackConfig};
    ///
    /// let stack = Stack::start(StackConfig { rto_min_ms: 100, ..StackConfig::default() })?;
    /// assert!(matches!(Stack::start(StackConfig::default()), Err(Error::AlreadyRunning)));
    /// assert_eq!(stack.config().rto_min_ms, 100);
    /// stack.shutdown()?;
    /// # Ok::<(), usrsctp::Error>(())
    /// ```
    pub fn start(config: StackConfig) -> Result<Stack, Error> {
        Self::obtain(config, false)
    }

    /// Returns the running stack, or starts one with `config`. A running stack keeps its own
    /// configuration. If a previous stack is still shutting down, waits until its usrsctp is
    /// finished; if another thread is starting one, waits for it and returns it.
    ///
    /// ```
    /// use usrsctp::{Stack, StackConfig};
    ///
    /// let first = Stack::get_or_start(StackConfig { rto_min_ms: 100, ..StackConfig::default() })?;
    /// // Any later caller shares it, with the first configuration.
    /// let second = Stack::get_or_start(StackConfig::default())?;
    /// assert_eq!(second.config().rto_min_ms, 100);
    /// assert_eq!(first.diagnostics().generation, second.diagnostics().generation);
    /// # Ok::<(), usrsctp::Error>(())
    /// ```
    pub fn get_or_start(config: StackConfig) -> Result<Stack, Error> {
        Self::obtain(config, true)
    }

    fn obtain(config: StackConfig, share: bool) -> Result<Stack, Error> {
        config.validate()?;
        let mut state = LIFECYCLE.lock();
        let claim = loop {
            if let Some(inner) = state.current.upgrade().filter(|i| i.status.is_alive()) {
                return if share {
                    Ok(Stack { inner })
                } else {
                    Err(Error::AlreadyRunning)
                };
            }
            if let Some(claim) = LIFECYCLE.try_claim(&mut state) {
                break claim;
            }
            // usrsctp is still held by a stack thread that is shutting down, or another start
            // is under way: wait (the lock is released meanwhile).
            state = LIFECYCLE.wait(state);
        };
        drop(state);
        let started = Self::spawn(config, claim);
        let mut state = LIFECYCLE.lock();
        if let Ok(stack) = &started {
            state.current = Arc::downgrade(&stack.inner);
        }
        LIFECYCLE.start_ended(&mut state);
        drop(state);
        started
    }

    /// The running stack, or a new one with the default configuration.
    ///
    /// ```
    /// let stack = usrsctp::Stack::global()?;
    /// assert!(stack.is_running());
    /// let worker = stack.worker()?;
    /// # let _ = worker;
    /// # Ok::<(), usrsctp::Error>(())
    /// ```
    pub fn global() -> Result<Stack, Error> {
        Self::get_or_start(StackConfig::default())
    }

    /// The running stack, if there is one.
    pub fn running() -> Option<Stack> {
        let inner = LIFECYCLE.lock().current.upgrade();
        inner
            .filter(|i| i.status.is_alive())
            .map(|inner| Stack { inner })
    }

    /// Spawns the stack thread, which holds `claim` for its whole life, and waits (holding no
    /// lock) until usrsctp is initialised.
    fn spawn(
        config: StackConfig,
        claim: crate::shared::instance::Claim<StackInner>,
    ) -> Result<Stack, Error> {
        // usrsctp is free: the previous stack thread's `usrsctp_finish` has returned.
        if driver::FINISH_FAILED.load(Ordering::SeqCst) {
            return Err(Error::Usrsctp {
                op: "usrsctp_finish",
                assoc: None,
                errno: Errno(libc::EBUSY),
            });
        }
        let (tx, rx) = crossbeam_channel::unbounded();
        let own = tx.clone();
        let (ready_tx, ready_rx) = crossbeam_channel::bounded(1);
        let status = Arc::new(StackStatus::new_alive());
        let thread_config = config.clone();
        let thread_status = status.clone();
        let handle = std::thread::Builder::new()
            .name("usrsctp".into())
            .spawn(move || {
                let _claim = claim;
                // `run` contains panics of the serve loop itself; this catches the rest, so
                // the claim is released and the status says why in every case.
                let run = catch_unwind(AssertUnwindSafe(|| {
                    driver::run(thread_config, rx, own, ready_tx, &thread_status)
                }));
                if let Err(panic) = run {
                    thread_status.fail(driver::panic_message(&*panic));
                }
            })
            .map_err(|source| Error::Io {
                op: "spawning the usrsctp stack thread",
                source,
            })?;
        match ready_rx.recv() {
            Ok(Ok(())) => {}
            Ok(Err(e)) => {
                let _ = handle.join();
                return Err(e);
            }
            Err(_) => {
                let _ = handle.join();
                return Err(Error::StackShutdown);
            }
        }
        let generation = GENERATION.fetch_add(1, Ordering::SeqCst) + 1;
        tracing::info!(
            generation,
            build = usrsctp_sys::SOURCE,
            "usrsctp stack started"
        );
        Ok(Stack {
            inner: Arc::new(StackInner {
                tx,
                thread: Mutex::new(Some(handle)),
                status,
                generation,
                config,
            }),
        })
    }

    /// Stops the stack: every association ends with `Closed { reason: StackShutdown }`, usrsctp
    /// is finished, and the thread is joined. Handles that remain get [`Error::StackShutdown`].
    /// Calling it again is harmless. During a
    /// [`shutdown_graceful`](Self::shutdown_graceful) it cuts the wait short: what is left is
    /// aborted now.
    ///
    /// ```
    /// use std::time::Duration;
    /// use usrsctp::{AssociationConfig, CloseReason, Error, Event, SendOptions, Stack};
    ///
    /// let stack = Stack::global()?;
    /// let worker = stack.worker()?;
    /// let assoc = worker.associate(AssociationConfig::default())?;
    /// stack.shutdown()?;
    /// // Its associations end; the handles that remain say so.
    /// let mut reason = None;
    /// while let Some(ev) = worker.recv_timeout(Duration::from_secs(5)) {
    ///     if let Event::Closed { reason: r, .. } = ev {
    ///         reason = Some(r);
    ///         break;
    ///     }
    /// }
    /// assert_eq!(reason, Some(CloseReason::StackShutdown));
    /// assert!(assoc.send(0, 51, "late", SendOptions::reliable()).is_err());
    /// assert!(matches!(stack.worker(), Err(Error::StackShutdown)));
    /// # Ok::<(), usrsctp::Error>(())
    /// ```
    pub fn shutdown(&self) -> Result<(), Error> {
        // Sent even when the stack is already stopping: a graceful shutdown under way ends now.
        // If the thread is past serving, the command is answered by its teardown, or dropped
        // with the channel when the thread ends; either way the wait ends.
        self.inner.status.stop();
        let (tx, rx) = crossbeam_channel::bounded(1);
        if self
            .inner
            .tx
            .send(Command::Shutdown { reply: Some(tx) })
            .is_ok()
        {
            let _ = rx.recv();
        }
        self.join()
    }

    /// Shuts the stack down gracefully, waiting at most `deadline` for the associations to
    /// close, then as [`shutdown`](Self::shutdown) does.
    ///
    /// From the call on, [`worker`](Self::worker) and
    /// [`Worker::associate`](crate::Worker::associate) fail with [`Error::StackShutdown`]
    /// (an `associate` that raced with the call ends with `Closed { reason: StackShutdown }`),
    /// and the associations refuse new sends. Every open association is closed as
    /// [`Association::close`](crate::Association::close) closes it: the messages queued for
    /// it go out first, then the SCTP SHUTDOWN handshake; one still in its handshake is
    /// aborted at once. The queue is handed to usrsctp whole when the call begins (its send
    /// buffer grows to take it): once a peer's own SHUTDOWN arrives, usrsctp accepts no new
    /// data but still delivers what it holds, so a peer shutting down at the same time (both
    /// ends of a pair on this stack do) costs no queued message. Only a `send` still on its
    /// way to the stack thread when the call begins can then be refused (and is reported by
    /// `SendFailed`). The stack thread keeps serving
    /// meanwhile, so **the workers must keep running**: carrying their associations' packets
    /// (`Event::Transmit` out, [`Association::input`](crate::Association::input) in) and taking
    /// their events, or nothing can close gracefully. This call blocks until every association
    /// has ended or `deadline` has passed; what is left then is aborted as by `shutdown` (its
    /// messages not yet delivered are reported by [`Event::SendFailed`](crate::Event::SendFailed)),
    /// usrsctp is finished and the thread joined. Every message that `send` accepted thus ends
    /// delivered or reported failed.
    ///
    /// Owners see `Closed { reason: CloseReason::StackShutdown }` for every association the
    /// call ends, whether its SHUTDOWN completed in time or it was aborted at the deadline (the
    /// `SendFailed` reports tell which messages did not make it). An association that ends for
    /// a reason of its own meanwhile (the peer aborts, communication is lost) reports that
    /// reason, and one its owner was already closing ends as its own close does, or with
    /// `StackShutdown` if the deadline cuts it short.
    ///
    /// `deadline` may be zero (nothing waits; like `shutdown` after a SHUTDOWN attempt) and at
    /// most an hour; longer is [`Error::InvalidConfig`] and changes nothing. Calling it again
    /// while one runs waits for the same stop (the earlier deadline holds); calling
    /// [`shutdown`](Self::shutdown) meanwhile aborts what is left at once. While it runs,
    /// [`is_running`](Self::is_running) is false and a [`Stack::start`] waits for it to finish.
    ///
    /// ```
    /// use std::sync::mpsc::{channel, Receiver, Sender};
    /// use std::time::Duration;
    /// use usrsctp::{ppid, AssociationConfig, CloseReason, Event, SendOptions, Stack, Worker};
    ///
    /// // One side on its own thread (an association stays on the thread that created it): its
    /// // packets go out on `out`, the peer's come in on `inp`. It queues `say` at once (sent
    /// // when connected) and returns what it received, once closed.
    /// fn side(w: Worker, say: &'static str, out: Sender<Vec<u8>>, inp: Receiver<Vec<u8>>,
    ///         up: Sender<()>) -> std::thread::JoinHandle<Vec<Vec<u8>>> {
    ///     std::thread::spawn(move || {
    ///         let assoc = w.associate(AssociationConfig::default()).unwrap();
    ///         assoc.send(0, ppid::STRING, say, SendOptions::reliable()).unwrap();
    ///         let mut got = Vec::new();
    ///         loop {
    ///             for packet in inp.try_iter() {
    ///                 let _ = assoc.input(packet);
    ///             }
    ///             match w.recv_timeout(Duration::from_millis(1)) {
    ///                 Some(Event::Transmit { packet, .. }) => { let _ = out.send(packet); }
    ///                 Some(Event::Connected { .. }) => { let _ = up.send(()); }
    ///                 Some(Event::Message { message, .. }) => got.push(message.data),
    ///                 Some(Event::Closed { reason, .. }) => {
    ///                     assert_eq!(reason, CloseReason::StackShutdown);
    ///                     return got;
    ///                 }
    ///                 _ => {}
    ///             }
    ///         }
    ///     })
    /// }
    ///
    /// let stack = Stack::global()?;
    /// let ((a_out, b_in), (b_out, a_in), (up, connected)) = (channel(), channel(), channel());
    /// let a = side(stack.worker()?, "from a", a_out, a_in, up.clone());
    /// let b = side(stack.worker()?, "from b", b_out, b_in, up);
    /// for _ in 0..2 {
    ///     connected.recv_timeout(Duration::from_secs(10)).expect("connected");
    /// }
    /// // The workers keep running while the stack closes everything gracefully.
    /// stack.shutdown_graceful(Duration::from_secs(10))?;
    /// assert!(!stack.is_running());
    /// assert_eq!(a.join().unwrap(), vec![b"from b".to_vec()]);
    /// assert_eq!(b.join().unwrap(), vec![b"from a".to_vec()]);
    /// # Ok::<(), usrsctp::Error>(())
    /// ```
    pub fn shutdown_graceful(&self, deadline: Duration) -> Result<(), Error> {
        if deadline > MAX_CLOSE_TIMEOUT {
            return Err(Error::InvalidConfig {
                field: "deadline",
                reason: format!("{deadline:?} is longer than {MAX_CLOSE_TIMEOUT:?}"),
            });
        }
        let until = Instant::now()
            .checked_add(deadline)
            .ok_or_else(|| Error::InvalidConfig {
                field: "deadline",
                reason: format!("{deadline:?} from now is past what the clock can represent"),
            })?;
        // Sent even when the stack is already stopping: a graceful shutdown under way then
        // also answers this call (the earlier deadline holds); a thread past serving drops the
        // command, which ends the wait.
        self.inner.status.stop();
        let (tx, rx) = crossbeam_channel::bounded(1);
        let drain = Command::Drain {
            deadline: until,
            reply: tx,
        };
        if self.inner.tx.send(drain).is_ok() {
            // Answered when usrsctp is finished.
            let _ = rx.recv();
        }
        self.join()
    }

    /// Joins the stack thread (if no other caller has) and says whether usrsctp finished.
    fn join(&self) -> Result<(), Error> {
        let handle = self
            .inner
            .thread
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        if let Some(handle) = handle {
            let _ = handle.join();
        }
        if driver::FINISH_FAILED.load(Ordering::SeqCst) {
            return Err(Error::Usrsctp {
                op: "usrsctp_finish",
                assoc: None,
                errno: Errno(libc::EBUSY),
            });
        }
        Ok(())
    }

    /// True until [`shutdown`](Self::shutdown) (or until the stack thread failed: see
    /// [`failure`](Self::failure)).
    pub fn is_running(&self) -> bool {
        self.inner.status.is_alive()
    }

    /// Why the stack thread stopped on its own, if it did: a panic on the stack thread is
    /// caught, every association gets `Closed { reason: StackFailed }`, usrsctp is finished,
    /// and the message is kept here. The next [`Stack::global`] starts a fresh stack.
    pub fn failure(&self) -> Option<String> {
        self.inner.status.failure()
    }

    /// The configuration the stack was started with.
    pub fn config(&self) -> &StackConfig {
        &self.inner.config
    }

    /// Which usrsctp is linked, this stack's generation, and the process-wide counters.
    ///
    /// ```
    /// use usrsctp::{AssociationConfig, Stack};
    ///
    /// let stack = Stack::global()?;
    /// let worker = stack.worker()?;
    /// let _assoc = worker.associate(AssociationConfig::default())?;
    /// // Its INIT: the stack thread has set the association up.
    /// let _init = worker.recv();
    /// let d = stack.diagnostics();
    /// println!("usrsctp {} ({}), stack #{}", d.version, d.build, d.generation);
    /// assert!(d.running);
    /// assert!(d.associations_opened >= 1 || d.packets_out >= 1);
    /// assert_eq!(d.stack_panics, 0);
    /// # Ok::<(), usrsctp::Error>(())
    /// ```
    pub fn diagnostics(&self) -> Diagnostics {
        let mut d = Diagnostics::current();
        d.generation = self.inner.generation;
        d.running = self.is_running();
        d
    }

    /// Makes the stack thread panic, to exercise its panic containment (the crate's own
    /// tests). Not for production use: the stack stops, every association is closed with
    /// `CloseReason::StackFailed`.
    #[doc(hidden)]
    pub fn inject_panic_for_tests(&self) -> Result<(), Error> {
        self.command(Command::InjectPanic)
    }

    pub(crate) fn command(&self, cmd: Command) -> Result<(), Error> {
        self.inner.tx.send(cmd).map_err(|_| Error::StackShutdown)
    }

    pub(crate) fn sender(&self) -> CommandSender {
        self.inner.tx.clone()
    }
}

/// Which usrsctp is linked and what the stack has done, for logs and health checks.
///
/// Counters are process-wide and monotonic across stack restarts. `packets_out` and
/// `bytes_out` count a packet before its `Event::Transmit` can reach the worker.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Diagnostics {
    /// How usrsctp was linked: `"vendored"` (compiled from source, AF_CONN only) or `"system"`
    /// (the distribution's library, built with IPv4/IPv6 support, which it would use to open
    /// raw SCTP sockets in threaded mode; the stack runs it without usrsctp's threads, so it
    /// opens none).
    pub build: &'static str,
    /// usrsctp's version.
    pub version: &'static str,
    /// How many times a stack was started in this process (this stack's number, from
    /// [`Stack::diagnostics`]).
    pub generation: u64,
    /// Whether the stack is running.
    pub running: bool,
    /// Associations open now.
    pub associations: u64,
    /// Associations opened in all.
    pub associations_opened: u64,
    /// Associations closed in all.
    pub associations_closed: u64,
    /// Association restarts usrsctp reported (`SCTP_RESTART`: the peer restarted the
    /// association with new verification tags; data in flight may have been lost and is
    /// reported as failed sends).
    pub association_restarts: u64,
    /// Stall probes sent: a copy of an association's data, sent again because it had data
    /// outstanding and usrsctp had output nothing for it for `StackConfig::stall_probe_ms`
    /// (see there).
    pub stall_probes: u64,
    /// Commands the stack thread handled: one per batch of an association's packets and
    /// messages (not one per packet), plus closes, aborts, resets and the like.
    pub commands: u64,
    /// Calls of the output callback.
    pub output_callbacks: u64,
    /// Packets posted to a worker for transmission.
    pub packets_out: u64,
    /// Bytes of those packets.
    pub bytes_out: u64,
    /// Packets fed to usrsctp.
    pub packets_in: u64,
    /// Packets that arrived for an association already closed, and were dropped.
    pub inputs_dropped: u64,
    /// Packets refused by `Association::input` as structurally invalid or addressed to another
    /// port, before usrsctp saw them.
    pub inputs_refused: u64,
    /// Packets refused by `Association::input` for a wrong CRC32c checksum.
    pub checksum_errors: u64,
    /// Socket upcalls.
    pub upcalls: u64,
    /// Callbacks for an association already closed (or whose worker was dropped): counted and
    /// dropped, never dereferenced.
    pub late_callbacks_dropped: u64,
    /// Panics caught at the FFI boundary (should stay 0).
    pub callback_panics: u64,
    /// Panics caught on the stack thread (should stay 0): each one stopped its stack, closed
    /// its associations with `CloseReason::StackFailed` and finished usrsctp.
    pub stack_panics: u64,
    /// Messages from peers larger than their association's `max_message_size`, dropped as they
    /// arrived (`Event::MessageTooLarge`).
    pub messages_too_large: u64,
    /// Times the stack handed freed memory back to the system (glibc's `malloc_trim`): at
    /// each shutdown, and while running once `StackConfig::return_memory_after_closed`
    /// associations have closed and the stack has been quiet for 2 s. 0 without glibc.
    pub memory_returns: u64,
    /// Times the stack thread, polling for work before parking
    /// (`StackConfig::adaptive_spin_us`, `StackConfig::spin_before_park_us`), got a command
    /// and so did not park.
    pub spins_caught: u64,
    /// Times such a poll ended without a command and the thread parked: the CPU spent on it
    /// bought nothing.
    pub spins_missed: u64,
}

impl Diagnostics {
    /// The counters as they are now, whether or not a stack runs.
    ///
    /// ```
    /// use usrsctp::Diagnostics;
    ///
    /// // Whether or not a stack runs: for logs and health checks.
    /// let d = Diagnostics::current();
    /// assert!(d.build == "vendored" || d.build == "system");
    /// assert_eq!(d.callback_panics, 0);
    /// println!("{} packets out, {} in, {} refused", d.packets_out, d.packets_in, d.inputs_refused);
    /// # Ok::<(), usrsctp::Error>(())
    /// ```
    pub fn current() -> Diagnostics {
        let get = |c: &AtomicU64| c.load(Ordering::Relaxed);
        let opened = get(&COUNTERS.associations_opened);
        let closed = get(&COUNTERS.associations_closed);
        Diagnostics {
            build: usrsctp_sys::SOURCE,
            version: usrsctp_sys::VERSION,
            generation: GENERATION.load(Ordering::SeqCst),
            running: LIFECYCLE
                .lock()
                .current
                .upgrade()
                .is_some_and(|i| i.status.is_alive()),
            associations: opened.saturating_sub(closed),
            associations_opened: opened,
            associations_closed: closed,
            association_restarts: get(&COUNTERS.association_restarts),
            stall_probes: get(&COUNTERS.stall_probes),
            commands: get(&COUNTERS.commands),
            output_callbacks: get(&COUNTERS.output_callbacks),
            packets_out: get(&COUNTERS.packets_out),
            bytes_out: get(&COUNTERS.bytes_out),
            packets_in: get(&COUNTERS.packets_in),
            inputs_dropped: get(&COUNTERS.inputs_dropped),
            inputs_refused: get(&COUNTERS.inputs_refused),
            checksum_errors: get(&COUNTERS.checksum_errors),
            upcalls: get(&COUNTERS.upcalls),
            late_callbacks_dropped: get(&COUNTERS.late_callbacks_dropped),
            callback_panics: get(&COUNTERS.callback_panics),
            stack_panics: get(&COUNTERS.stack_panics),
            messages_too_large: get(&COUNTERS.messages_too_large),
            memory_returns: get(&COUNTERS.memory_returns),
            spins_caught: get(&COUNTERS.spins_caught),
            spins_missed: get(&COUNTERS.spins_missed),
        }
    }

    /// Routes registered now (associations whose callbacks are delivered).
    pub fn registered() -> usize {
        routes::len()
    }
}
