//! The books: what each incarnation of a pair sent and delivered, per direction, and the
//! totals over incarnations that the report's message counts come from.

use std::sync::atomic::Ordering::Acquire;
use std::sync::atomic::{AtomicBool, AtomicU64};
use std::sync::Arc;

/// The books of one incarnation of a pair, per direction (0: A to B, 1: B to A), shared by
/// both ends.
#[derive(Debug)]
pub(crate) struct Ledger {
    pub slot: u32,
    pub gen: u32,
    /// Reliable messages `send` accepted.
    pub sent: [AtomicU64; 2],
    /// Partial messages `send` accepted.
    pub sent_partial: [AtomicU64; 2],
    /// Distinct reliable messages delivered intact.
    pub delivered: [AtomicU64; 2],
    /// Distinct partial messages delivered intact.
    pub delivered_partial: [AtomicU64; 2],
    /// The sender has sent its share.
    pub finished: [AtomicBool; 2],
    /// Finished, and every reliable message arrived.
    pub done: [AtomicBool; 2],
    /// Torn down (or replaced) by churn.
    pub churned: AtomicBool,
    /// Ended without anyone closing it.
    pub dead: AtomicBool,
}

impl Ledger {
    pub(crate) fn new(slot: u32, gen: u32) -> Self {
        Ledger {
            slot,
            gen,
            sent: Default::default(),
            sent_partial: Default::default(),
            delivered: Default::default(),
            delivered_partial: Default::default(),
            finished: Default::default(),
            done: Default::default(),
            churned: AtomicBool::new(false),
            dead: AtomicBool::new(false),
        }
    }
}

/// Totals over incarnations.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Accounting {
    /// Reliable and partial messages accepted by `send`.
    pub sent: u64,
    /// Reliable messages never delivered, on incarnations churn did not tear down.
    pub lost: u64,
    /// Reliable messages never delivered, on incarnations churn tore down.
    pub discarded_by_churn: u64,
    /// Partial messages accepted.
    pub partial_sent: u64,
    /// Partial messages delivered.
    pub partial_delivered: u64,
    /// Partial messages not delivered.
    pub abandoned_partial: u64,
}

impl Accounting {
    pub(crate) fn add(&mut self, o: &Accounting) {
        self.sent += o.sent;
        self.lost += o.lost;
        self.discarded_by_churn += o.discarded_by_churn;
        self.partial_sent += o.partial_sent;
        self.partial_delivered += o.partial_delivered;
        self.abandoned_partial += o.abandoned_partial;
    }

    pub(crate) fn of(ledgers: &[Arc<Ledger>]) -> Accounting {
        let mut a = Accounting::default();
        for l in ledgers {
            let churned = l.churned.load(Acquire);
            for d in 0..2 {
                let sent = l.sent[d].load(Acquire);
                let undelivered = sent.saturating_sub(l.delivered[d].load(Acquire));
                if churned {
                    a.discarded_by_churn += undelivered;
                } else {
                    a.lost += undelivered;
                }
                let ps = l.sent_partial[d].load(Acquire);
                let pd = l.delivered_partial[d].load(Acquire);
                a.sent += sent + ps;
                a.partial_sent += ps;
                a.partial_delivered += pd;
                a.abandoned_partial += ps.saturating_sub(pd);
            }
        }
        a
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::Ordering::SeqCst;

    #[test]
    fn accounting_splits_undelivered_by_cause() {
        let kept = Arc::new(Ledger::new(0, 0));
        kept.sent[0].store(10, SeqCst);
        kept.delivered[0].store(9, SeqCst);
        kept.sent_partial[1].store(5, SeqCst);
        kept.delivered_partial[1].store(3, SeqCst);
        let churned = Arc::new(Ledger::new(0, 1));
        churned.sent[1].store(7, SeqCst);
        churned.delivered[1].store(4, SeqCst);
        churned.churned.store(true, SeqCst);
        let a = Accounting::of(&[kept, churned]);
        assert_eq!(
            a,
            Accounting {
                sent: 22,
                lost: 1,
                discarded_by_churn: 3,
                partial_sent: 5,
                partial_delivered: 3,
                abandoned_partial: 2,
            }
        );
    }
}
