//! The books: what each incarnation of a pair sent and delivered, per direction, which of its
//! messages the sender was told failed, and the totals over incarnations that the report's
//! message counts come from.

use std::collections::BTreeMap;
use std::sync::atomic::Ordering::Acquire;
use std::sync::atomic::{AtomicBool, AtomicU64};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

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
    /// Which messages (by sequence number) have an outcome, per direction.
    outcomes: [Mutex<Outcomes>; 2],
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
            outcomes: Default::default(),
        }
    }

    /// The outcomes of direction `d` (0: A to B, 1: B to A).
    pub(crate) fn outcomes(&self, d: usize) -> MutexGuard<'_, Outcomes> {
        self.outcomes[d]
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }
}

/// A set of sequence numbers (a bitmap).
#[derive(Debug, Default)]
pub(crate) struct Seqs(Vec<u64>);

impl Seqs {
    /// Adds `seq`; false if it was in the set already.
    pub(crate) fn insert(&mut self, seq: u32) -> bool {
        let (word, bit) = ((seq / 64) as usize, seq % 64);
        if self.0.len() <= word {
            self.0.resize(word + 1, 0);
        }
        let fresh = self.0[word] & (1 << bit) == 0;
        self.0[word] |= 1 << bit;
        fresh
    }

    /// True if `seq` is in the set.
    pub(crate) fn contains(&self, seq: u32) -> bool {
        self.0
            .get((seq / 64) as usize)
            .is_some_and(|w| w & (1 << (seq % 64)) != 0)
    }
}

/// The outcomes of the messages of one direction of one incarnation, by sequence number: which
/// were delivered (distinct, intact) at the receiving end, and which the sending end was told
/// failed (`Event::SendFailed`). A message may have both only if the report says it had been
/// on the wire (`SendFailure::Abandoned { sent: true }`: delivered, but the acknowledgement did
/// not come back before its end or its partial-reliability limit).
#[derive(Debug, Default)]
pub(crate) struct Outcomes {
    delivered: Seqs,
    failed: Seqs,
    /// Reported failed for a reason that says it never was (wholly) on the wire.
    failed_unsent: Seqs,
    /// Sent with partial reliability.
    partial: Seqs,
    /// Distinct messages delivered.
    pub delivered_count: u64,
    /// Distinct messages reported failed.
    pub failed_count: u64,
    /// Messages both delivered and reported failed.
    pub delivered_and_reported: u64,
    /// Of those, messages delivered although a report said they never were on the wire: an
    /// outcome that cannot be true.
    pub delivered_but_reported_unsent: u64,
    /// Reports for a message reported already.
    pub reported_twice: u64,
}

impl Outcomes {
    /// Books the delivery of `seq`; false if it was delivered before (a duplicate).
    pub(crate) fn deliver(&mut self, seq: u32) -> bool {
        if !self.delivered.insert(seq) {
            return false;
        }
        self.delivered_count += 1;
        if self.failed.contains(seq) {
            self.delivered_and_reported += 1;
            if self.failed_unsent.contains(seq) {
                self.delivered_but_reported_unsent += 1;
            }
        }
        true
    }

    /// Notes that `seq` was sent with partial reliability.
    pub(crate) fn sent_partial(&mut self, seq: u32) {
        self.partial.insert(seq);
    }

    /// The first `max` of the first `accepted` sequence numbers with no outcome, each with
    /// whether it was partial.
    pub(crate) fn missing(&self, accepted: u64, max: usize) -> Vec<(u32, bool)> {
        (0..u32::try_from(accepted).unwrap_or(u32::MAX))
            .filter(|&q| !self.delivered.contains(q) && !self.failed.contains(q))
            .take(max)
            .map(|q| (q, self.partial.contains(q)))
            .collect()
    }

    /// Books a failure report for `seq`; `on_wire` says the report admits it had been sent
    /// (`Abandoned { sent: true }`).
    pub(crate) fn fail(&mut self, seq: u32, on_wire: bool) {
        let fresh = self.failed.insert(seq);
        let newly_unsent = !on_wire && self.failed_unsent.insert(seq);
        let delivered = self.delivered.contains(seq);
        if fresh {
            self.failed_count += 1;
            if delivered {
                self.delivered_and_reported += 1;
            }
        } else {
            self.reported_twice += 1;
        }
        if newly_unsent && delivered {
            self.delivered_but_reported_unsent += 1;
        }
    }
}

/// Which sequence number each `MessageId` a sending end's `send` returned stands for. The
/// crate numbers an association's messages consecutively, so the map is kept as runs (first
/// id → first sequence number, length): one entry while that holds, whatever the number of
/// messages, and still right if it does not.
#[derive(Debug, Default)]
pub(crate) struct IdMap {
    runs: BTreeMap<u32, (u32, u32)>,
    last: Option<u32>,
}

impl IdMap {
    /// Records that message `id` carries sequence number `seq`.
    pub(crate) fn insert(&mut self, id: u32, seq: u32) {
        if let Some(first) = self.last {
            if let Some(run) = self.runs.get_mut(&first) {
                let (first_seq, len) = *run;
                if first.checked_add(len) == Some(id) && first_seq.checked_add(len) == Some(seq) {
                    run.1 += 1;
                    return;
                }
            }
        }
        self.runs.insert(id, (seq, 1));
        self.last = Some(id);
    }

    /// The sequence number of message `id`, if this end sent it.
    pub(crate) fn get(&self, id: u32) -> Option<u32> {
        let (&first, &(seq, len)) = self.runs.range(..=id).next_back()?;
        let off = id - first;
        (off < len).then(|| seq + off)
    }

    /// Runs held (1 while ids are consecutive).
    #[cfg(test)]
    fn runs(&self) -> usize {
        self.runs.len()
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
    /// Distinct messages (reliable and partial) the sender was told failed.
    pub reported_failed: u64,
    /// Messages both delivered and reported failed (counted once, as delivered).
    pub delivered_and_reported: u64,
    /// Of those, ones whose report said they never were on the wire (an error).
    pub delivered_but_reported_unsent: u64,
    /// Accepted messages with neither a delivery nor a failure report.
    pub unaccounted: u64,
    /// Failure reports repeated for one message (the books count it once).
    pub reported_twice: u64,
}

impl Accounting {
    pub(crate) fn add(&mut self, o: &Accounting) {
        self.sent += o.sent;
        self.lost += o.lost;
        self.discarded_by_churn += o.discarded_by_churn;
        self.partial_sent += o.partial_sent;
        self.partial_delivered += o.partial_delivered;
        self.abandoned_partial += o.abandoned_partial;
        self.reported_failed += o.reported_failed;
        self.delivered_and_reported += o.delivered_and_reported;
        self.delivered_but_reported_unsent += o.delivered_but_reported_unsent;
        self.unaccounted += o.unaccounted;
        self.reported_twice += o.reported_twice;
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
                let o = l.outcomes(d);
                let accounted = o.delivered_count + o.failed_count - o.delivered_and_reported;
                a.unaccounted += (sent + ps).saturating_sub(accounted);
                a.reported_failed += o.failed_count;
                a.delivered_and_reported += o.delivered_and_reported;
                a.delivered_but_reported_unsent += o.delivered_but_reported_unsent;
                a.reported_twice += o.reported_twice;
            }
        }
        a
    }
}

/// Says, for up to `max` incarnation directions with unaccounted messages, which ones (the
/// first few sequence numbers, and whether they were partial): what a failed run needs to
/// be traced.
pub(crate) fn unaccounted_detail(ledgers: &[Arc<Ledger>], max: usize) -> Vec<String> {
    let mut out = Vec::new();
    for l in ledgers {
        for d in 0..2 {
            if out.len() >= max {
                return out;
            }
            let accepted = l.sent[d].load(Acquire) + l.sent_partial[d].load(Acquire);
            let o = l.outcomes(d);
            let missing = o.missing(accepted, 8);
            if missing.is_empty() {
                continue;
            }
            let seqs: Vec<String> = missing
                .iter()
                .map(|(q, partial)| {
                    if *partial {
                        format!("{q}p")
                    } else {
                        q.to_string()
                    }
                })
                .collect();
            out.push(format!(
                "slot {} gen {} dir {d} (churned {}, dead {}): no outcome for seq {} \
                 (p: partial) of {accepted} accepted; {} delivered, {} reported failed, {} both",
                l.slot,
                l.gen,
                l.churned.load(Acquire),
                l.dead.load(Acquire),
                seqs.join(" "),
                o.delivered_count,
                o.failed_count,
                o.delivered_and_reported
            ));
        }
    }
    out
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
        {
            // Direction 0 of `kept`: 0..9 delivered, 9 unaccounted. Direction 1: partial
            // 0..3 delivered, 3 and 4 abandoned and reported, 2 reported too (sent, late SACK).
            let mut o = kept.outcomes(0);
            (0..9).for_each(|s| assert!(o.deliver(s)));
            let mut o = kept.outcomes(1);
            (0..3).for_each(|s| assert!(o.deliver(s)));
            o.fail(2, true);
            o.fail(3, true);
            o.fail(4, false);
            // `churned`, direction 1: 4 delivered, 3 reported, one of them twice.
            let mut o = churned.outcomes(1);
            (0..4).for_each(|s| assert!(o.deliver(s)));
            (4..7).for_each(|s| o.fail(s, s == 4));
            o.fail(6, true);
        }
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
                reported_failed: 6,
                delivered_and_reported: 1,
                delivered_but_reported_unsent: 0,
                unaccounted: 1,
                reported_twice: 1,
            }
        );
    }

    #[test]
    fn outcomes_count_overlaps_in_either_order_and_flag_impossible_ones() {
        let mut o = Outcomes::default();
        assert!(o.deliver(1));
        assert!(!o.deliver(1), "a duplicate");
        o.fail(1, true); // delivered, then abandoned after it was sent: possible
        o.fail(2, true);
        assert!(o.deliver(2)); // reported, then delivered: the same
        o.fail(3, false);
        assert!(o.deliver(3)); // delivered although never sent: impossible
        assert!(o.deliver(4));
        o.fail(4, false);
        o.fail(4, false);
        o.sent_partial(6);
        assert_eq!(
            o.missing(8, 8),
            vec![(0, false), (5, false), (6, true), (7, false)]
        );
        assert_eq!(o.missing(8, 2), vec![(0, false), (5, false)]);
        assert_eq!(
            (
                o.delivered_count,
                o.failed_count,
                o.delivered_and_reported,
                o.delivered_but_reported_unsent,
                o.reported_twice
            ),
            (4, 4, 4, 2, 1)
        );
    }

    #[test]
    fn seqs_find_repeats_across_words() {
        let mut seen = Seqs::default();
        for seq in [0, 63, 64, 1000, 5] {
            assert!(seen.insert(seq), "{seq} is new");
        }
        for seq in [0, 63, 64, 1000, 5] {
            assert!(!seen.insert(seq), "{seq} was seen");
            assert!(seen.contains(seq));
        }
        assert!(!seen.contains(62) && !seen.contains(100_000));
        assert!(seen.insert(62));
        assert_eq!(seen.0.len(), 1000 / 64 + 1);
    }

    #[test]
    fn id_map_keeps_consecutive_ids_as_one_run_and_handles_gaps() {
        let mut m = IdMap::default();
        for seq in 0..1000 {
            m.insert(500 + seq, seq);
        }
        assert_eq!(m.runs(), 1);
        assert_eq!((m.get(500), m.get(1499)), (Some(0), Some(999)));
        assert_eq!((m.get(499), m.get(1500)), (None, None));
        // A gap in the ids (a send whose id was spent but refused), and ids near the top.
        m.insert(1502, 1000);
        m.insert(1503, 1001);
        m.insert(u32::MAX, 1002);
        m.insert(0, 1003);
        assert_eq!(m.runs(), 4);
        assert_eq!(m.get(1501), None);
        assert_eq!(m.get(1503), Some(1001));
        assert_eq!((m.get(u32::MAX), m.get(0)), (Some(1002), Some(1003)));
        assert_eq!(m.get(1), None);
    }
}
