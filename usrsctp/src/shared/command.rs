//! What workers and callbacks ask of the stack thread.

use crossbeam_channel::Sender;

use crate::event::AssocId;
use crate::ffi::socket::SendInfo;

/// The sending end of the stack thread's command channel.
pub(crate) type CommandSender = Sender<Command>;

/// A message on its way from `Association::send` to usrsctp.
pub(crate) struct Outgoing {
    pub(crate) data: Vec<u8>,
    pub(crate) info: SendInfo,
}

#[cfg(test)]
impl Outgoing {
    /// For unit tests: a reliable 4-byte message on stream 0 with send context `context`.
    pub(crate) fn for_test(context: u32) -> Outgoing {
        Outgoing {
            data: vec![1; 4],
            info: SendInfo {
                stream: 0,
                ppid: 53,
                unordered: false,
                reliability: crate::config::Reliability::Reliable,
                context,
            },
        }
    }
}

/// What the stack thread is asked to do.
pub(crate) enum Command {
    /// Create the socket of an association whose route is registered (the route carries its
    /// shared state and mailbox). A failure is reported as `Closed { SetupFailed }`.
    Open {
        id: AssocId,
    },
    /// Take what the association's handle queued (`AssocShared::pending`: packets to feed,
    /// messages to send). Sent once per batch, on the edge described in `shared::pending`.
    Service {
        id: AssocId,
    },
    ResetStreams {
        id: AssocId,
        streams: Vec<u16>,
    },
    /// Ask the peer for more streams (RFC 6525 Add Incoming / Outgoing Streams).
    AddStreams {
        id: AssocId,
        inbound: u16,
        outbound: u16,
        /// The counts are totals to reach, not streams to add (the data-channel layer's
        /// requests: asking twice for the same total asks once).
        at_least: bool,
    },
    /// The consumer freed receive credit: read the socket again.
    Resume {
        id: AssocId,
    },
    /// usrsctp signalled readiness on the socket.
    Upcall {
        id: AssocId,
    },
    Close {
        id: AssocId,
    },
    Abort {
        id: AssocId,
    },
    /// A worker was dropped: abort these without telling anyone (their routes are gone).
    Discard {
        ids: Vec<AssocId>,
    },
    /// Read usrsctp's status of the association again (`Association::stats` found it old).
    RefreshStatus {
        id: AssocId,
        /// Post the figures as `Event::Stats` (`Association::refresh_stats`).
        notify: bool,
    },
    Shutdown {
        reply: Option<Sender<()>>,
    },
    /// Close every association gracefully; stop once all have ended or at `deadline`
    /// (`Stack::shutdown_graceful`). `reply` is answered when usrsctp is finished.
    Drain {
        deadline: std::time::Instant,
        reply: Sender<()>,
    },
    /// Panic on the stack thread (`Stack::inject_panic_for_tests`).
    InjectPanic,
}
