//! The crate-owned usrsctp stack: starting it, stopping it, and what it reports.
//!
//! # Lock order
//! `GLOBAL` (which stack is current) is taken first, then `PREVIOUS` (the last stopped stack
//! thread, to be joined). Neither is ever taken by a usrsctp callback, and neither is held
//! while calling into usrsctp (only the stack thread calls usrsctp, and it takes neither).
//! `start` waits for the new stack thread's `usrsctp_init` while holding `GLOBAL`; that thread
//! takes no lock of ours, so the wait cannot deadlock. `shared::routes::ROUTES` is a leaf below both.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError, Weak};
use std::thread::JoinHandle;

use crate::config::StackConfig;
use crate::driver;
use crate::errno::Errno;
use crate::error::Error;
use crate::shared::command::{Command, CommandSender};
use crate::shared::counters::COUNTERS;
use crate::shared::routes;

static GLOBAL: Mutex<Weak<StackInner>> = Mutex::new(Weak::new());
static PREVIOUS: Mutex<Option<JoinHandle<()>>> = Mutex::new(None);
static GENERATION: AtomicU64 = AtomicU64::new(0);

struct StackInner {
    tx: CommandSender,
    thread: Mutex<Option<JoinHandle<()>>>,
    alive: AtomicBool,
    generation: u64,
    config: StackConfig,
}

impl Drop for StackInner {
    fn drop(&mut self) {
        // The last handle is gone: stop the thread without waiting for it here (a worker's
        // drop should not block); the next `Stack::start` joins it before initialising again.
        if self.alive.swap(false, Ordering::SeqCst) {
            let _ = self.tx.send(Command::Shutdown { reply: None });
        }
        let handle = self
            .thread
            .get_mut()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        if let Some(handle) = handle {
            *PREVIOUS.lock().unwrap_or_else(PoisonError::into_inner) = Some(handle);
        }
    }
}

/// A handle to the process's usrsctp stack thread. Cheap to clone, `Send + Sync`.
///
/// The stack thread is owned by the crate, not by the thread that started it: it runs while any
/// handle (a `Stack`, a [`Worker`], an [`Association`](crate::Association)) exists, or until
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
            .field("running", &self.inner.alive.load(Ordering::Relaxed))
            .finish()
    }
}

impl Stack {
    /// Starts the stack thread with `config`. Fails with [`Error::AlreadyRunning`] if a stack is
    /// running; use [`get_or_start`](Self::get_or_start) to share it instead.
    pub fn start(config: StackConfig) -> Result<Stack, Error> {
        config.validate()?;
        let mut global = GLOBAL.lock().unwrap_or_else(PoisonError::into_inner);
        let existing = global.upgrade();
        if existing
            .as_ref()
            .is_some_and(|s| s.alive.load(Ordering::SeqCst))
        {
            drop(global);
            drop(existing);
            return Err(Error::AlreadyRunning);
        }
        let stack = Self::spawn(config)?;
        *global = Arc::downgrade(&stack.inner);
        drop(global);
        drop(existing);
        Ok(stack)
    }

    /// Returns the running stack, or starts one with `config`. A running stack keeps its own
    /// configuration.
    pub fn get_or_start(config: StackConfig) -> Result<Stack, Error> {
        config.validate()?;
        let mut global = GLOBAL.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(inner) = global.upgrade() {
            if inner.alive.load(Ordering::SeqCst) {
                return Ok(Stack { inner });
            }
            // Explicitly shut down but still referenced: start a fresh one. `inner` is not the
            // last reference (the caller of shutdown holds one), so dropping it here is cheap.
            drop(inner);
        }
        let stack = Self::spawn(config)?;
        *global = Arc::downgrade(&stack.inner);
        Ok(stack)
    }

    /// The running stack, or a new one with the default configuration.
    pub fn global() -> Result<Stack, Error> {
        Self::get_or_start(StackConfig::default())
    }

    /// The running stack, if there is one.
    pub fn running() -> Option<Stack> {
        let inner = GLOBAL
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .upgrade();
        inner
            .filter(|i| i.alive.load(Ordering::SeqCst))
            .map(|inner| Stack { inner })
    }

    fn spawn(config: StackConfig) -> Result<Stack, Error> {
        if driver::FINISH_FAILED.load(Ordering::SeqCst) {
            return Err(Error::Usrsctp {
                op: "usrsctp_finish",
                assoc: None,
                errno: Errno(libc::EBUSY),
            });
        }
        // The previous stack thread must have finished usrsctp before we initialise it again.
        let previous = PREVIOUS
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        if let Some(handle) = previous {
            let _ = handle.join();
        }
        let (tx, rx) = crossbeam_channel::unbounded();
        let (ready_tx, ready_rx) = crossbeam_channel::bounded(1);
        let thread_config = config.clone();
        let handle = std::thread::Builder::new()
            .name("usrsctp".into())
            .spawn(move || driver::run(thread_config, rx, ready_tx))
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
                alive: AtomicBool::new(true),
                generation,
                config,
            }),
        })
    }

    /// Stops the stack: every association ends with `Closed { reason: StackShutdown }`, usrsctp
    /// is finished, and the thread is joined. Handles that remain get [`Error::StackShutdown`].
    /// Calling it again is harmless.
    pub fn shutdown(&self) -> Result<(), Error> {
        if self.inner.alive.swap(false, Ordering::SeqCst) {
            let (tx, rx) = crossbeam_channel::bounded(1);
            if self
                .inner
                .tx
                .send(Command::Shutdown { reply: Some(tx) })
                .is_ok()
            {
                let _ = rx.recv();
            }
        }
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

    /// True until [`shutdown`](Self::shutdown).
    pub fn is_running(&self) -> bool {
        self.inner.alive.load(Ordering::SeqCst)
    }

    /// The configuration the stack was started with.
    pub fn config(&self) -> &StackConfig {
        &self.inner.config
    }

    /// Which usrsctp is linked, this stack's generation, and the process-wide counters.
    pub fn diagnostics(&self) -> Diagnostics {
        let mut d = Diagnostics::current();
        d.generation = self.inner.generation;
        d.running = self.is_running();
        d
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
/// Counters are process-wide and monotonic across stack restarts.
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
    /// Commands the stack thread handled.
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
    /// Packets refused by `Association::input` as structurally invalid before usrsctp saw them.
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
}

impl Diagnostics {
    /// The counters as they are now, whether or not a stack runs.
    pub fn current() -> Diagnostics {
        let get = |c: &AtomicU64| c.load(Ordering::Relaxed);
        let opened = get(&COUNTERS.associations_opened);
        let closed = get(&COUNTERS.associations_closed);
        Diagnostics {
            build: usrsctp_sys::SOURCE,
            version: usrsctp_sys::VERSION,
            generation: GENERATION.load(Ordering::SeqCst),
            running: GLOBAL
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .strong_count()
                > 0,
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
        }
    }

    /// Routes registered now (associations whose callbacks are delivered).
    pub fn registered() -> usize {
        routes::len()
    }
}
