//! Feature `tokio`: waiting on a worker's mailbox from a tokio runtime, through an `AsyncFd`
//! over its eventfd.
//!
//! The eventfd is readable exactly while the mailbox is non-empty (`shared/signal.rs`), so the
//! usual readiness loop cannot lose a wake-up: take an event if there is one; otherwise wait
//! for readiness, take again, and clear tokio's readiness only when the take found nothing.
//! tokio clears it only if no newer readiness event arrived since the one the guard saw, so a
//! post that races with the clear still wakes us.

use std::cell::RefCell;
use std::sync::Arc;

use ::tokio::io::unix::AsyncFd;
use ::tokio::io::Interest;

use super::Worker;
use crate::error::Error;
use crate::event::Event;
use crate::shared::mailbox::MailboxFd;

/// A worker's registration with a tokio reactor: made on the first `recv_async`, with the
/// runtime that runs it, and dropped with the worker (or after the reactor failed).
#[derive(Default)]
pub(crate) struct AsyncSlot(RefCell<Option<Arc<AsyncFd<MailboxFd>>>>);

impl AsyncSlot {
    /// The registration, made now if there is none.
    fn get_or_register(&self, worker: &Worker) -> Result<Arc<AsyncFd<MailboxFd>>, Error> {
        if let Some(afd) = self.0.borrow().as_ref() {
            return Ok(afd.clone());
        }
        if ::tokio::runtime::Handle::try_current().is_err() {
            return Err(Error::Io {
                op: "registering the worker eventfd with tokio (recv_async outside a runtime)",
                source: std::io::Error::other("no tokio runtime on this thread"),
            });
        }
        // SAFETY: `MailboxFd` holds the mailbox's signal, which owns the eventfd, so the
        // descriptor stays open (and the same) for as long as the `AsyncFd` holds it, and
        // `as_raw_fd` always returns that one descriptor.
        let registered =
            unsafe { AsyncFd::register_with_interest(worker.mailbox_fd(), Interest::READABLE) };
        let afd = registered.map(Arc::new).map_err(|e| Error::Io {
            op: "registering the worker eventfd with tokio",
            source: e.into_parts().1,
        })?;
        *self.0.borrow_mut() = Some(afd.clone());
        Ok(afd)
    }

    /// Forgets the registration (the next `recv_async` registers with the runtime it runs on).
    fn reset(&self) {
        self.0.borrow_mut().take();
    }
}

impl Worker {
    /// Waits for the next event without blocking the thread: the async form of
    /// [`recv`](Self::recv), for a tokio runtime (feature `tokio`).
    ///
    /// The usual shape is one worker per thread, each thread running a current-thread runtime
    /// (`Builder::new_current_thread().enable_io()`); the future borrows the worker, which is
    /// not `Sync`, so it runs in `block_on` or a `LocalSet`, not in `tokio::spawn`. Cancelling
    /// it (for example in `select!`) loses no event: an event is only taken when the future
    /// returns it.
    ///
    /// The first call registers the worker's eventfd with the reactor of the runtime it runs
    /// on, and later calls use that registration. A worker that moves to another runtime keeps
    /// waiting on the first one's reactor: it works while that runtime runs and stops waking
    /// when it does not; once the first runtime is dropped, the next call fails with
    /// [`Error::Io`] and the call after registers anew. Keep a worker on one runtime. Do not
    /// also register [`as_raw_fd`](std::os::fd::AsRawFd::as_raw_fd) with the same runtime
    /// yourself (epoll refuses a descriptor twice); use one or the other.
    ///
    /// Errors: [`Error::Io`] when called outside a tokio runtime, or when the reactor fails
    /// (its runtime is shutting down or gone). Like tokio's own I/O types, it panics in a
    /// runtime built without I/O (`enable_io` / `enable_all`).
    ///
    /// ```
    /// use usrsctp::{AssociationConfig, Event, Stack};
    ///
    /// let worker = Stack::global()?.worker()?;
    /// let rt = tokio::runtime::Builder::new_current_thread().enable_io().build().unwrap();
    /// let first = rt.block_on(async {
    ///     let _assoc = worker.associate(AssociationConfig::default())?;
    ///     // The handshake's first packet (INIT) is output at once.
    ///     worker.recv_async().await
    /// })?;
    /// assert!(matches!(first, Event::Transmit { .. }));
    /// # Ok::<(), usrsctp::Error>(())
    /// ```
    pub async fn recv_async(&self) -> Result<Event, Error> {
        loop {
            if let Some(event) = self.try_recv() {
                return Ok(event);
            }
            let afd = self.async_slot().get_or_register(self)?;
            let mut guard = match afd.readable().await {
                Ok(guard) => guard,
                Err(source) => {
                    // The reactor is gone or shutting down: a later call registers anew.
                    self.async_slot().reset();
                    return Err(Error::Io {
                        op: "waiting for the worker eventfd",
                        source,
                    });
                }
            };
            match self.try_recv() {
                Some(event) => return Ok(event),
                // Readable only while non-empty: this was a stale readiness (or another
                // reader took the event). Clear it unless a newer one arrived meanwhile.
                None => guard.clear_ready(),
            }
        }
    }
}
