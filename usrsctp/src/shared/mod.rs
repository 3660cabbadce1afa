//! What the worker side, the stack thread and the callbacks share: the command channel, the
//! per-association shared state, the mailboxes, the route table, the owners of the inner ports
//! and the process counters.
//!
//! Lower than both sides: nothing here calls usrsctp or knows about threads. Imports go
//! `counters`, `command` → `pending` → `assoc` → `mailbox` → `routes`.

pub(crate) mod assoc;
pub(crate) mod command;
pub(crate) mod counters;
pub(crate) mod id_hash;
pub(crate) mod instance;
pub(crate) mod mailbox;
pub(crate) mod pending;
pub(crate) mod port_owners;
pub(crate) mod recycle;
pub(crate) mod routes;
pub(crate) mod signal;
