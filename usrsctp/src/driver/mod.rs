//! The stack thread: the only thread that calls usrsctp's API.
//!
//! It serves a command channel. Handles queue packets and messages per association and send
//! one `Service` command per batch (`shared::pending`); closes, aborts and resets come as
//! commands of their own. Upcalls usrsctp makes during a call are served right after it
//! (`callbacks::collect_upcalls_here`). It drains commands in batches (up to
//! `StackConfig::command_batch` per wake-up), shares itself among busy associations in turns
//! ([`turns`]) and owns every socket, so no socket state is shared and no lock guards it.
//!
//! It also drives usrsctp's timers. usrsctp is initialised with `usrsctp_init_nothreads`, so
//! no usrsctp timer thread exists: every tick the stack thread calls `usrsctp_handle_timers`
//! with the milliseconds elapsed, and retransmissions, SACK delays, heartbeats and teardown
//! timers run here, between commands. The tick is 10 ms while a run of usrsctp's timers is
//! cheap, stretches as it grows with the number of associations, and grows further while the
//! stack sees nothing but heartbeats (`timers::TimerClock`).
//! usrsctp's threaded mode is not used because its timer thread races with the thread that
//! calls the API: a timer that fires while the API thread restarts and stops it again can be
//! entered with its association pointer already cleared, so the reference taken when it was
//! started is never dropped. The
//! association then can never be freed, its endpoint stays, and `usrsctp_finish` fails for
//! the rest of the process (0.9.5.0 and master; found with a per-call-site reference-count
//! trace in the soak). With one thread for API calls and timers that interleaving cannot
//! happen. usrsctp still starts its iterator thread (address changes); it takes the same locks
//! as any caller.
//!
//! The concerns, one module each: the serve loop (here), [`turns`], [`timers`] (usrsctp's
//! clock and our deadlines), [`receive`] (reading and reassembly under the receive credit),
//! [`send`] (the queue of messages usrsctp has not taken, stream resets and Add Streams),
//! [`notify`] (acting on usrsctp's notifications), [`lifecycle`] (open, close, abort, teardown,
//! `usrsctp_finish`), [`ports`] (the ports sockets are bound to inside usrsctp), [`probe`] (the
//! stall probe), [`memory`] (freed memory back to the system), [`spin`] (how long to poll for
//! a command before parking) and [`stats`].

mod lifecycle;
mod memory;
mod notify;
mod ports;
mod probe;
mod receive;
mod send;
mod spin;
mod stats;
mod timers;
mod turns;

use std::any::Any;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, RecvTimeoutError, Sender};
use tracing::{debug, error, warn};
use usrsctp_sys as sys;

use crate::callbacks;
use crate::config::StackConfig;
use crate::error::Error;
use crate::event::{AssocId, CloseReason, Event};
use crate::ffi::{self, socket::RawSocket};
use crate::shared::assoc::AssocShared;
use crate::shared::command::{Command, CommandSender};
use crate::shared::counters::{bump, COUNTERS};
use crate::shared::id_hash::{IdMap, IdSet};
use crate::shared::instance::StackStatus;
use crate::shared::mailbox::{self, MailboxSender};
use crate::shared::pending::Batch;
use crate::shared::routes;

pub(crate) use lifecycle::FINISH_FAILED;
use receive::Reassembly;
use send::{Outbox, PendingResets};
use spin::SpinWindow;
use timers::TimerClock;
use turns::Heavy;

/// One `recvv` reads at most this much; larger messages take several reads.
const READ_CHUNK: usize = 64 * 1024;

/// The stack thread's record of one association: its socket and everything about it that only
/// this thread touches.
struct Entry {
    raw: RawSocket,
    shared: Arc<AssocShared>,
    mailbox: MailboxSender,
    /// Messages usrsctp has not accepted yet (its buffer was full, or not connected yet).
    outbox: Outbox,
    /// The message and the notification being reassembled from partial reads.
    inbound: Reassembly,
    connected: bool,
    close_deadline: Option<Instant>,
    shutdown_sent: bool,
    /// Outgoing stream resets waiting for the queue to drain or for usrsctp to accept them.
    resets: PendingResets,
    /// The port its socket is bound to inside usrsctp (`ports`); `None`: the configured
    /// `local_port`, shared (all 65,535 in use).
    inner_port: Option<u16>,
    /// Stream totals (incoming, outgoing) to ask the peer for, waiting for usrsctp to accept
    /// the request (one RFC 6525 request may be outstanding at a time); (0, 0): none.
    adds: (u16, u16),
    /// `AssocShared::outputs` at the previous stall-probe scan.
    outputs_at_last_scan: u64,
    /// We are aborting it, for this reason: the COMM_LOST usrsctp reports is ours.
    aborting: Option<CloseReason>,
    /// The receive buffer was grown for the reports of an abort.
    room_for_reports: bool,
    /// Packets from the peer not fed to usrsctp yet (see `turns`).
    backlog: turns::Backlog,
    /// It is in `Driver::heavy`, waiting for its next turn.
    waiting_turn: bool,
}

impl Entry {
    fn post(&self, event: Event) {
        self.mailbox.post_event(event);
    }

    /// Before usrsctp ends the association (our abort, the peer's ABORT): room for all of its
    /// SEND_FAILED reports (see `RawSocket::make_room_for_reports`). Once per association.
    fn make_room_for_reports(&mut self, id: AssocId) {
        if !std::mem::replace(&mut self.room_for_reports, true) {
            if let Err(err) = self.raw.make_room_for_reports() {
                warn!(assoc = %id, error = %err, "could not grow the receive buffer for the reports");
            }
        }
    }
}

pub(crate) struct Driver {
    config: StackConfig,
    rx: Receiver<Command>,
    entries: IdMap<AssocId, Entry>,
    /// The associations with a close deadline or a stream reset to retry: the only ones the
    /// timer tick looks at, so a wake-up costs nothing per idle association.
    timed: IdSet<AssocId>,
    buf: Vec<u8>,
    /// The batch `service` takes from a handle's queue (kept for its capacity).
    batch: Batch,
    /// The upcalls `serve_upcalls` is serving (kept for its capacity).
    upcalls: Vec<u64>,
    /// Associations with packets left after their turn (see `turns`).
    heavy: Heavy,
    /// When to look for stalled associations next (see `probe.rs`).
    next_probe_scan: Instant,
    /// usrsctp's timers have been advanced up to this moment.
    timers: TimerClock,
    /// A graceful shutdown under way (`Stack::shutdown_graceful`).
    drain: Option<lifecycle::Drain>,
    /// The ports sockets are bound to inside usrsctp.
    ports: ports::PortPool,
    /// When to hand freed memory back while running.
    memory: memory::MemoryWatch,
    /// How long to poll for a command before parking.
    spin: SpinWindow,
}

/// The stack thread's body. `own` is a sender of the thread's own command channel: it
/// identifies this stack's routes.
pub(crate) fn run(
    config: StackConfig,
    rx: Receiver<Command>,
    own: CommandSender,
    ready: Sender<Result<(), Error>>,
    status: &StackStatus,
) {
    // SAFETY: usrsctp is not initialised (the caller holds the instance claim, released only
    // after the previous stack thread's `usrsctp_finish` returned), and this thread is the only
    // one that calls usrsctp until `finish_usrsctp` below. The callback only reads the route
    // table.
    unsafe { ffi::init(callbacks::on_output, config.debug_printf) };
    callbacks::collect_upcalls_here();
    mailbox::defer_wakeups_here();
    let mut timers = TimerClock::new(
        Instant::now(),
        Duration::from_millis(u64::from(config.max_timer_tick_ms)),
        Duration::from_millis(u64::from(config.heartbeat_interval_ms)),
    );
    if let Err(e) = ffi::apply_sysctls(&config) {
        let _ = ready.send(Err(e));
        lifecycle::finish_usrsctp(&mut timers, Duration::from_secs(5));
        return;
    }
    // The one AF_CONN address of every association with a port of its own.
    ffi::register_address(ffi::ConnAddr::Shared);
    debug!(source = sys::SOURCE, "usrsctp stack thread started");
    let _ = ready.send(Ok(()));
    let memory = memory::MemoryWatch::new(config.return_memory_after_closed);
    let mut driver = Driver {
        rx,
        entries: IdMap::default(),
        timed: IdSet::default(),
        buf: vec![0; READ_CHUNK],
        batch: Batch::default(),
        upcalls: Vec::new(),
        heavy: Heavy::default(),
        next_probe_scan: Instant::now(),
        timers,
        drain: None,
        ports: ports::PortPool::default(),
        memory,
        spin: SpinWindow::for_cpus(
            config.spin_before_park_us,
            config.adaptive_spin_us,
            std::thread::available_parallelism().map_or(1, |n| n.get()),
        ),
        config,
    };
    // A panic here is a bug of ours; it must not leave every association hanging and usrsctp
    // initialised. It is caught, the stack is marked failed, and the teardown runs as for a
    // shutdown (contained too: it works on what the panic left).
    let (reply, reason) = match catch_unwind(AssertUnwindSafe(|| driver.serve())) {
        Ok(reply) => (reply, CloseReason::StackShutdown),
        Err(panic) => {
            let why = panic_message(&*panic);
            bump(&COUNTERS.stack_panics);
            error!(panic = %why, "the usrsctp stack thread panicked; closing every association");
            status.fail(format!("the stack thread panicked: {why}"));
            (None, CloseReason::StackFailed)
        }
    };
    // What `serve` posted is raised now; the teardown's posts raise at once.
    mailbox::wake_deferred(true);
    if catch_unwind(AssertUnwindSafe(|| driver.teardown(reason))).is_err() {
        error!("the teardown after a stack-thread panic panicked too");
    }
    // Associations the teardown could not reach (their record was lost while unwinding) still
    // have a route: tell their owners, and forget them.
    for route in routes::remove_stack(&own) {
        if route.shared.state() != crate::shared::assoc::AssociationState::Closed {
            lifecycle::end_without_socket(route.shared.id, &route.shared, &route.mailbox, reason);
        }
    }
    ffi::deregister_address(ffi::ConnAddr::Shared);
    if !lifecycle::finish_usrsctp(&mut driver.timers, Duration::from_secs(30)) {
        FINISH_FAILED.store(true, std::sync::atomic::Ordering::SeqCst);
        warn!("usrsctp_finish kept failing; usrsctp stays initialised for the life of the process");
    }
    debug!("usrsctp stack thread stopped");
    driver.drain_ended();
    drop(driver);
    // Before the reply: `shutdown` returns once the thread has been joined, with the memory
    // back.
    memory::return_freed_memory();
    if let Some(reply) = reply {
        let _ = reply.send(());
    }
}

/// The text of a caught panic.
pub(crate) fn panic_message(panic: &(dyn Any + Send)) -> String {
    if let Some(s) = panic.downcast_ref::<&str>() {
        (*s).to_owned()
    } else if let Some(s) = panic.downcast_ref::<String>() {
        s.clone()
    } else {
        "a panic without a message".to_owned()
    }
}

impl Driver {
    /// Serves commands until shutdown; returns whom to tell when the stack is down.
    fn serve(&mut self) -> Option<Sender<()>> {
        // The last wake-up handled a command (not only timers): worth spinning for the next.
        let mut worked = false;
        loop {
            // With turns waiting, look at the channel without sleeping.
            let idle = self.heavy.is_empty();
            let wait = if idle {
                self.wake_after()
            } else {
                Duration::ZERO
            };
            // The idle period is measured for the spin window (`spin`) while there is an
            // association to serve: a stack without one always parks at once.
            let idle_since =
                (idle && self.spin.adapts() && !self.entries.is_empty()).then(Instant::now);
            let spun = if worked { self.spin(idle_since) } else { None };
            let first = match spun {
                Some(cmd) => Some(cmd),
                None => match self.rx.recv_timeout(wait) {
                    Ok(cmd) => Some(cmd),
                    Err(RecvTimeoutError::Timeout) => None,
                    Err(RecvTimeoutError::Disconnected) => return None,
                },
            };
            if let Some(since) = idle_since {
                self.spin.idle_ended(since.elapsed());
            }
            let mut next = first;
            let mut handled = 0;
            while let Some(cmd) = next.take() {
                bump(&COUNTERS.commands);
                if let Command::Shutdown { reply } = cmd {
                    return reply;
                }
                self.handle(cmd);
                self.serve_upcalls();
                mailbox::wake_deferred(false);
                handled += 1;
                if handled >= self.config.command_batch {
                    break;
                }
                next = self.rx.try_recv().ok();
            }
            worked = handled > 0;
            self.heavy_turns();
            self.timers.advance();
            self.serve_upcalls();
            self.check_deadlines();
            self.probe_stalls();
            // Before the thread waits again.
            mailbox::wake_deferred(false);
            // After the wake-ups: the trim holds the thread for tens of ms.
            let timers = &self.timers;
            if self
                .memory
                .due(self.entries.len(), || timers.quiet_for(Instant::now()))
            {
                memory::return_freed_memory();
            }
            if self.drain_over() {
                return None;
            }
        }
    }

    /// Polls the channel for a command as long as the spin window says (`spin`), counted from
    /// `idle_since` (the clock read the serve loop made as the thread ran dry) or now: no
    /// spinning while turns wait, or while no association exists; the caller spins only after
    /// a wake-up that handled a command, so a stack with only timers to run still parks.
    fn spin(&mut self, idle_since: Option<Instant>) -> Option<Command> {
        let spin = self.spin.spin_for();
        if spin.is_zero() || !self.heavy.is_empty() || self.entries.is_empty() {
            return None;
        }
        let until = idle_since.unwrap_or_else(Instant::now) + spin;
        let got = 'poll: loop {
            for _ in 0..64 {
                if let Ok(cmd) = self.rx.try_recv() {
                    break 'poll Some(cmd);
                }
                std::hint::spin_loop();
            }
            if Instant::now() >= until {
                break None;
            }
        };
        bump(if got.is_some() {
            &COUNTERS.spins_caught
        } else {
            &COUNTERS.spins_missed
        });
        self.spin.poll_ended(got.is_some());
        got
    }

    /// How long the thread may sleep waiting for a command: until usrsctp's next timer tick,
    /// or sooner for the stall probe, and at most `max_timer_tick_ms` while one of our own
    /// deadlines is pending (a graceful close or shutdown, a retried stream reset): the quiet
    /// stretch of usrsctp's tick (`timers`) does not delay those.
    fn wake_after(&self) -> Duration {
        let now = Instant::now();
        let mut wait = self.timers.due_in(now);
        if !self.timed.is_empty() || self.drain.is_some() {
            wait = wait.min(Duration::from_millis(u64::from(
                self.config.max_timer_tick_ms,
            )));
        }
        if self.config.stall_probe_ms > 0 && !self.entries.is_empty() {
            wait = wait.min(
                self.next_probe_scan
                    .saturating_duration_since(now)
                    .max(Duration::from_millis(1)),
            );
        }
        wait
    }

    /// Serves the upcalls usrsctp made on this thread during the last command or timer run
    /// (see `callbacks::collect_upcalls_here`), and those they cause in turn.
    fn serve_upcalls(&mut self) {
        loop {
            let mut ids = std::mem::take(&mut self.upcalls);
            callbacks::take_upcalls_here(&mut ids);
            if ids.is_empty() {
                self.upcalls = ids;
                return;
            }
            for &id in &ids {
                self.handle(Command::Upcall { id: AssocId(id) });
            }
            ids.clear();
            self.upcalls = ids;
        }
    }

    fn handle(&mut self, cmd: Command) {
        // Whatever changes an association is activity for the timer clock (`timers`); a
        // `Service` is, if it carries messages or packets other than heartbeats (`service`).
        if !matches!(
            cmd,
            Command::Service { .. } | Command::Upcall { .. } | Command::RefreshStatus { .. }
        ) {
            self.timers.note_activity();
        }
        match cmd {
            Command::Open { id } => {
                if let Err(e) = self.open(id) {
                    warn!(assoc = %id, error = %e, "association setup failed");
                    lifecycle::setup_failed(id, &e);
                }
            }
            Command::Service { id } => self.service(id),
            Command::ResetStreams { id, streams } => {
                // Messages sent before the reset go first (`try_resets` waits for the outbox).
                self.service(id);
                if let Some(e) = self.entries.get_mut(&id) {
                    e.resets.add(streams);
                    self.timed.insert(id);
                    self.try_resets(id);
                }
            }
            Command::AddStreams {
                id,
                inbound,
                outbound,
                at_least,
            } => self.add_streams(id, inbound, outbound, at_least),
            Command::Resume { id } => self.drain(id),
            Command::Upcall { id } => {
                if let Some(e) = self.entries.get(&id) {
                    e.shared
                        .upcall_pending
                        .store(false, std::sync::atomic::Ordering::Release);
                    self.drain(id);
                    self.flush(id);
                    self.try_resets(id);
                    self.try_adds(id);
                }
            }
            Command::Close { id } => {
                // Messages sent before the close go out before the SHUTDOWN.
                self.service(id);
                self.close(id);
            }
            Command::Abort { id } => self.abort(id, CloseReason::AbortedLocally, true),
            Command::Discard { ids } => {
                for id in ids {
                    self.abort(id, CloseReason::AbortedLocally, false);
                }
            }
            Command::RefreshStatus { id, notify } => self.refresh_status(id, notify),
            Command::Drain { deadline, reply } => self.start_drain(deadline, reply),
            Command::InjectPanic => panic!("injected by Stack::inject_panic_for_tests"),
            // `serve` returns on Shutdown before it gets here.
            Command::Shutdown { .. } => {}
        }
    }
}
