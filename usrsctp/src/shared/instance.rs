//! The process's one usrsctp instance: which stack thread holds it, and how a stack's life
//! ends. usrsctp is process-global state, so at most one stack thread may have it initialised
//! at a time, and a new one may call `usrsctp_init_nothreads` only after the previous one's
//! `usrsctp_finish` has returned.
//!
//! # Lock order
//! `LIFECYCLE` is taken by `Stack` start / shutdown / `running`, by `Diagnostics::current`,
//! and by the stack thread once, at its very end (dropping its [`Claim`]). It is never held
//! while calling into usrsctp, never taken by a usrsctp callback, and never held across a join
//! or a wait: waiting for the instance is a `Condvar` wait, which releases it. It is above the
//! leaf locks of `routes.rs`.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Condvar, Mutex, MutexGuard, PoisonError};

/// What a stack thread and its handles share about its life.
#[derive(Debug, Default)]
pub(crate) struct StackStatus {
    /// True from a successful start until shutdown, the last handle's drop, or a failure.
    alive: AtomicBool,
    /// Why the stack thread stopped on its own (a panic, caught), if it did.
    failure: Mutex<Option<String>>,
}

impl StackStatus {
    pub(crate) fn new_alive() -> Self {
        StackStatus {
            alive: AtomicBool::new(true),
            failure: Mutex::new(None),
        }
    }

    pub(crate) fn is_alive(&self) -> bool {
        self.alive.load(Ordering::SeqCst)
    }

    /// Marks the stack stopped; true if it was alive (the caller is the one who stopped it).
    pub(crate) fn stop(&self) -> bool {
        self.alive.swap(false, Ordering::SeqCst)
    }

    /// The stack thread failed: it stops, and says why.
    pub(crate) fn fail(&self, why: String) {
        self.stop();
        *self.failure.lock().unwrap_or_else(PoisonError::into_inner) = Some(why);
    }

    pub(crate) fn failure(&self) -> Option<String> {
        self.failure
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }
}

/// Who has usrsctp, guarded by `LIFECYCLE`.
pub(crate) struct Lifecycle<T> {
    /// The stack whose handles `Stack::running` hands out (a weak reference: handles keep a
    /// stack alive, the registry does not).
    pub(crate) current: std::sync::Weak<T>,
    /// A stack thread holds usrsctp (from before its init until after its finish).
    held: bool,
    /// A start is between claiming usrsctp and publishing its stack in `current`.
    pub(crate) starting: bool,
}

/// The lifecycle registry: a mutex and the condition "usrsctp was released or a start ended".
pub(crate) struct Registry<T> {
    state: Mutex<Lifecycle<T>>,
    changed: Condvar,
}

impl<T> Registry<T> {
    pub(crate) const fn new() -> Self {
        Registry {
            state: Mutex::new(Lifecycle {
                current: std::sync::Weak::new(),
                held: false,
                starting: false,
            }),
            changed: Condvar::new(),
        }
    }

    pub(crate) fn lock(&self) -> MutexGuard<'_, Lifecycle<T>> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Waits (releasing the lock) until something changed.
    pub(crate) fn wait<'a>(
        &self,
        guard: MutexGuard<'a, Lifecycle<T>>,
    ) -> MutexGuard<'a, Lifecycle<T>> {
        self.changed
            .wait(guard)
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// True if usrsctp is free and no start is under way: the caller may take it.
    pub(crate) fn try_claim(&'static self, state: &mut Lifecycle<T>) -> Option<Claim<T>> {
        if state.held || state.starting {
            return None;
        }
        state.held = true;
        state.starting = true;
        Some(Claim { registry: self })
    }

    /// A start ended (published a stack, or failed): wake the waiters.
    pub(crate) fn start_ended(&self, state: &mut Lifecycle<T>) {
        state.starting = false;
        self.changed.notify_all();
    }
}

/// The right to initialise usrsctp, held by one stack thread from before its init until after
/// its finish; dropping it (at the thread's end, also when unwinding) frees usrsctp for the
/// next start.
pub(crate) struct Claim<T: 'static> {
    registry: &'static Registry<T>,
}

impl<T> Drop for Claim<T> {
    fn drop(&mut self) {
        let mut state = self.registry.lock();
        state.held = false;
        self.registry.changed.notify_all();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    static REGISTRY: Registry<u8> = Registry::new();

    #[test]
    fn usrsctp_is_claimed_once_and_freed_by_the_claim() {
        let mut state = REGISTRY.lock();
        let claim = REGISTRY.try_claim(&mut state).expect("free at first");
        assert!(
            REGISTRY.try_claim(&mut state).is_none(),
            "a start is under way"
        );
        REGISTRY.start_ended(&mut state);
        assert!(
            REGISTRY.try_claim(&mut state).is_none(),
            "the stack thread still holds usrsctp"
        );
        drop(state);
        let waiter = std::thread::spawn(|| {
            let mut state = REGISTRY.lock();
            loop {
                if let Some(claim) = REGISTRY.try_claim(&mut state) {
                    REGISTRY.start_ended(&mut state);
                    return claim;
                }
                state = REGISTRY.wait(state);
            }
        });
        drop(claim);
        let second = waiter
            .join()
            .expect("the waiter gets usrsctp once it is free");
        drop(second);
        let mut state = REGISTRY.lock();
        let third = REGISTRY.try_claim(&mut state);
        // A claim frees usrsctp under the lock: release ours first.
        drop(state);
        assert!(third.is_some(), "free again once the second claim is gone");
    }

    #[test]
    fn a_failure_stops_the_stack_and_says_why() {
        let s = StackStatus::new_alive();
        assert!(s.is_alive());
        s.fail("boom".into());
        assert!(!s.is_alive());
        assert_eq!(s.failure().as_deref(), Some("boom"));
        assert!(!s.stop(), "already stopped");
    }
}
