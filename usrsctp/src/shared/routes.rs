//! The route table: for each live association id, where its events go.
//!
//! usrsctp knows an association only by its id. Every callback looks the id up here, copies
//! what it needs, posts a message and returns. An id that is not here any more (closed
//! association, dropped worker) is counted and dropped — usrsctp does call the output callback
//! after close (sctplab/usrsctp#405) — and never dereferenced.
//!
//! # Lock order
//!
//! `ROUTES` is a **leaf** lock. usrsctp may hold its own locks while it calls us, so:
//! - no code holds `ROUTES` while calling into usrsctp;
//! - code that holds `ROUTES` only posts to non-blocking channels (crossbeam unbounded
//!   senders, the mailbox eventfd) and takes no other lock of ours except the leaf
//!   `AssocShared::probe` (see there);
//! - the stack lifecycle locks in `stack.rs` (`GLOBAL`, then `PREVIOUS`) are never taken by a
//!   callback and never held while waiting on `ROUTES`.

use std::sync::{Arc, PoisonError, RwLock};

use once_cell::sync::Lazy;

use super::assoc::AssocShared;
use super::command::CommandSender;
use super::id_hash::IdMap;
use super::mailbox::MailboxSender;
use crate::event::AssocId;

/// Identifies a `Worker` (its associations are removed together when it is dropped).
pub(crate) type WorkerId = u64;

/// Where the events of one association go.
pub(crate) struct Route {
    pub(crate) owner: WorkerId,
    pub(crate) mailbox: MailboxSender,
    pub(crate) shared: Arc<AssocShared>,
    /// The stack thread's command channel (upcalls are posted there).
    pub(crate) commands: CommandSender,
}

static ROUTES: Lazy<RwLock<IdMap<u64, Route>>> = Lazy::new(|| RwLock::new(IdMap::default()));

pub(crate) fn insert(id: AssocId, route: Route) {
    ROUTES
        .write()
        .unwrap_or_else(PoisonError::into_inner)
        .insert(id.0, route);
}

pub(crate) fn remove(id: AssocId) -> bool {
    ROUTES
        .write()
        .unwrap_or_else(PoisonError::into_inner)
        .remove(&id.0)
        .is_some()
}

/// Removes every route of `owner`, marks those associations closed (their handles refuse to
/// send from now on), and returns their ids.
pub(crate) fn remove_owner(owner: WorkerId) -> Vec<AssocId> {
    let mut routes = ROUTES.write().unwrap_or_else(PoisonError::into_inner);
    let ids: Vec<u64> = routes
        .iter()
        .filter(|(_, r)| r.owner == owner)
        .map(|(id, _)| *id)
        .collect();
    for id in &ids {
        if let Some(route) = routes.remove(id) {
            route.shared.set_closed();
        }
    }
    ids.into_iter().map(AssocId).collect()
}

/// The ids and shared state of every association of `owner`, in id order (oldest first).
pub(crate) fn ids_of(owner: WorkerId) -> Vec<(AssocId, Arc<AssocShared>)> {
    let routes = ROUTES.read().unwrap_or_else(PoisonError::into_inner);
    let mut ids: Vec<(AssocId, Arc<AssocShared>)> = routes
        .iter()
        .filter(|(_, r)| r.owner == owner)
        .map(|(id, r)| (AssocId(*id), r.shared.clone()))
        .collect();
    ids.sort_by_key(|(id, _)| *id);
    ids
}

/// The shared state and mailbox of a registered association.
pub(crate) fn endpoints(id: AssocId) -> Option<(Arc<AssocShared>, MailboxSender)> {
    with_route(id.0, |r| (r.shared.clone(), r.mailbox.clone()))
}

/// Removes every route whose commands go to the stack `commands` belongs to, and returns them.
pub(crate) fn remove_stack(commands: &CommandSender) -> Vec<Route> {
    let mut routes = ROUTES.write().unwrap_or_else(PoisonError::into_inner);
    let ids: Vec<u64> = routes
        .iter()
        .filter(|(_, r)| r.commands.same_channel(commands))
        .map(|(id, _)| *id)
        .collect();
    ids.iter().filter_map(|id| routes.remove(id)).collect()
}

/// Number of registered routes.
pub(crate) fn len() -> usize {
    ROUTES.read().unwrap_or_else(PoisonError::into_inner).len()
}

/// Runs `f` on the route of `id` under the (leaf) read lock.
pub(crate) fn with_route<R>(id: u64, f: impl FnOnce(&Route) -> R) -> Option<R> {
    let routes = ROUTES.read().unwrap_or_else(PoisonError::into_inner);
    routes.get(&id).map(f)
}

/// For unit tests: registers a route for `id` owned by worker `owner`; returns its shared
/// state, its mailbox, and the receiving end of the stack's command channel.
#[cfg(test)]
pub(crate) fn insert_for_test(
    id: AssocId,
    owner: u64,
) -> (
    Arc<AssocShared>,
    super::mailbox::Mailbox,
    crossbeam_channel::Receiver<super::command::Command>,
) {
    let (tx, mb) = super::mailbox::mailbox().expect("a mailbox");
    let (stack_tx, stack_rx) = crossbeam_channel::unbounded();
    let shared = Arc::new(AssocShared::new(
        id,
        crate::config::AssociationConfig::default(),
        stack_tx.clone(),
    ));
    insert(
        id,
        Route {
            owner,
            mailbox: tx,
            shared: shared.clone(),
            commands: stack_tx,
        },
    );
    (shared, mb, stack_rx)
}
