//! Retiring a worker's association ends so that every message has an outcome: an end that is
//! churned or stops is aborted with its handle kept until it reports `Closed`, and the
//! `SendFailed` reports that arrive meanwhile (or after an end closed on its own) are booked.

use super::*;

impl Loop {
    /// Aborts one end and keeps it among the retiring ones until it reports `Closed`: the
    /// crate reports every message it had not delivered (`SendFailed`) before that, and
    /// messages it had received still arrive. With `churned`, its incarnation counts as torn
    /// down by churn (its undelivered reliable messages are `discarded_by_churn`, not `lost`).
    pub(super) fn retire(&mut self, key: (u32, u8), churned: bool) {
        let Some(local) = self.locals.remove(&key) else {
            return;
        };
        let id = local.assoc.id();
        self.by_id.remove(&id);
        if churned {
            local.ledger.churned.store(true, Release);
        }
        match local.assoc.abort() {
            // Closed already: its `Closed` event is on its way, after its reports.
            Ok(()) | Err(usrsctp::Error::Closed { .. }) => {}
            Err(e) => self.round.shared.note(format!(
                "worker {}: aborting slot {} gen {} side {} ({id}) failed: {e}",
                self.index,
                local.slot,
                local.ledger.gen,
                local.side_name()
            )),
        }
        self.retiring.insert(id, local);
    }

    /// Waits, at most `CLOSE_WAIT`, until every retiring end has reported `Closed`, booking
    /// their reports and messages on the way. An end that does not close in time fails the
    /// run: whatever it had not reported would go unaccounted.
    pub(super) fn drain_retiring(&mut self) {
        let shared = self.round.shared.clone();
        let deadline = Instant::now() + CLOSE_WAIT.min(shared.cfg.watchdog / 2);
        let mut events = std::mem::take(&mut self.events);
        while !self.retiring.is_empty() {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                break;
            }
            if self.worker.drain(&mut events, PASS) == 0 {
                if let Some(ev) = self
                    .worker
                    .recv_timeout(left.min(Duration::from_millis(50)))
                {
                    events.push(ev);
                }
            }
            for ev in events.drain(..) {
                self.event(ev);
            }
        }
        self.events = events;
        if !self.retiring.is_empty() {
            let n = self.retiring.len() as u64;
            shared.ends_not_closed.fetch_add(n, Relaxed);
            let ids: Vec<String> = self.retiring.keys().map(ToString::to_string).collect();
            shared.fail(format!(
                "worker {}: {n} aborted association(s) did not report Closed within {:.1} s: {}",
                self.index,
                CLOSE_WAIT.min(shared.cfg.watchdog / 2).as_secs_f64(),
                ids.join(", ")
            ));
        }
    }

    /// A live end reported `Closed`: unless churn replaced its incarnation, nobody closed it.
    /// With malformed input it is replaced; otherwise it is noted, with its last packets.
    pub(super) fn closed_on_its_own(&mut self, l: &Local, reason: CloseReason) {
        if l.ledger.churned.load(Acquire) {
            return;
        }
        l.ledger.dead.store(true, Release);
        self.round.shared.unexpected_closes.fetch_add(1, Relaxed);
        if self.malformed_mode {
            // Forged packets may legitimately end an association: replace it.
            if l.side == A {
                self.create_a(l.slot);
            } else {
                let _ = self.round.txs[l.peer].send(Inbound::Respawn {
                    slot: l.slot,
                    stale_gen: l.ledger.gen,
                });
            }
        } else {
            self.round.shared.note(format!(
                "slot {} gen {} side {}: association closed unexpectedly: {reason:?}",
                l.slot,
                l.ledger.gen,
                l.side_name()
            ));
            if self.round.shared.traces_printed.fetch_add(1, Relaxed) < 4 {
                eprintln!(
                    "usrsctp-stress: last packets of slot {} gen {} side {} ({}):\n{}",
                    l.slot,
                    l.ledger.gen,
                    l.side_name(),
                    l.assoc.id(),
                    l.trace
                );
            }
        }
    }

    /// Takes the last reports of the ends that closed. A command round trip on
    /// each one's handle (`stats`) passes every `send` this thread made on it before: the
    /// stack thread serves an association's commands in order, and reports a message that
    /// reached it after the end before it answers. So once the round trips are done, the
    /// mailbox holds every such report.
    pub(super) fn settle_gone(&mut self) {
        if self.gone.is_empty() {
            return;
        }
        for l in self.gone.values() {
            let _ = l.assoc.stats();
        }
        while let Some(ev) = self.worker.try_recv() {
            self.event(ev);
        }
    }

    /// An event of an end this worker aborted: its last messages are verified and booked, its
    /// failure reports booked, and its `Closed` ends it. Its packets (the ABORT) are not
    /// carried: its peer learns of the new incarnation (or the round's end) from the harness.
    pub(super) fn retiring_event(&mut self, ev: Event) {
        let id = ev.assoc();
        match ev {
            Event::Message { message, .. } => {
                if let Some(l) = self.retiring.get_mut(&id) {
                    l.verify(&self.round.shared, &mut self.hist, message);
                }
            }
            Event::SendFailed {
                message, reason, ..
            } => {
                if let Some(l) = self.retiring.get(&id) {
                    book_failure(&self.round.shared, l, message, reason);
                }
            }
            Event::Closed { .. } => {
                // It may have ended on its own before the abort reached it: then a `send`
                // that raced with that end is reported after this `Closed`.
                if let Some(mut l) = self.retiring.remove(&id) {
                    l.sample = None;
                    self.gone.insert(id, l);
                }
            }
            _ => {}
        }
    }
}

/// Books a `SendFailed` that end `l` received; one for a message it never sent is counted
/// (and fails the run).
pub(super) fn book_failure(shared: &Shared, l: &Local, message: MessageId, reason: SendFailure) {
    if !l.failed(message, reason) {
        shared.reports_unmatched.fetch_add(1, Relaxed);
        shared.note(format!(
            "slot {} gen {} side {}: SendFailed ({reason:?}) for message {}, which this end \
             never sent",
            l.slot,
            l.ledger.gen,
            l.side_name(),
            message.get()
        ));
    }
}
