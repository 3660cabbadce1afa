//! Time on the stack thread: usrsctp's clock, which this thread advances (usrsctp runs without
//! a timer thread), and our own deadlines (graceful-close guards, stream-reset retries).

use std::time::{Duration, Instant};

use tracing::debug;

use super::Driver;
use crate::event::{AssocId, CloseReason};
use crate::ffi;

/// How often the thread advances usrsctp's timers (usrsctp's own timer thread, which the crate
/// does not start, ticks every 10 ms too). The thread wakes at least this often, which also
/// paces our own deadlines.
pub(super) const TIMER_TICK: Duration = Duration::from_millis(10);

/// usrsctp's clock, advanced by the stack thread.
pub(super) struct TimerClock {
    /// The moment up to which usrsctp's timers have been run.
    at: Instant,
}

impl TimerClock {
    pub(super) fn new(now: Instant) -> Self {
        TimerClock { at: now }
    }

    /// How long after `now` the next tick is due (zero if it is overdue).
    pub(super) fn due_in(&self, now: Instant) -> Duration {
        (self.at + TIMER_TICK).saturating_duration_since(now)
    }

    /// The whole milliseconds to hand usrsctp at `now`, if a tick has passed, and the clock
    /// moved on by as much; the remainder carries over to the next call.
    pub(super) fn elapse(&mut self, now: Instant) -> Option<u32> {
        let elapsed = now.saturating_duration_since(self.at);
        if elapsed < TIMER_TICK {
            return None;
        }
        let ms = u32::try_from(elapsed.as_millis()).unwrap_or(u32::MAX);
        self.at += Duration::from_millis(u64::from(ms));
        Some(ms)
    }

    /// Runs usrsctp's timers that fell due since the last call. Must not be called while
    /// holding any of the crate's locks (timer handlers call the output and upcall callbacks,
    /// which take the route table's lock).
    pub(super) fn advance(&mut self) {
        if let Some(ms) = self.elapse(Instant::now()) {
            ffi::handle_timers(ms);
        }
    }
}

impl Driver {
    /// Acts on the deadlines that passed: a graceful close that took too long becomes an
    /// abort; a stream reset usrsctp refused for now is tried again.
    pub(super) fn check_deadlines(&mut self) {
        if self.timed.is_empty() {
            return;
        }
        let now = Instant::now();
        let timed: Vec<AssocId> = self.timed.iter().copied().collect();
        for id in timed {
            let Some(e) = self.entries.get(&id) else {
                self.timed.remove(&id);
                continue;
            };
            if e.close_deadline.is_some_and(|d| d <= now) {
                debug!(assoc = %id, "graceful close timed out; aborting");
                self.abort(id, CloseReason::AbortedLocally, true);
                continue;
            }
            self.try_resets(id);
            if let Some(e) = self.entries.get(&id) {
                if e.close_deadline.is_none() && e.resets.is_empty() {
                    self.timed.remove(&id);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_clock_hands_usrsctp_whole_milliseconds_once_a_tick_has_passed() {
        let t0 = Instant::now();
        let mut clock = TimerClock::new(t0);
        assert_eq!(clock.due_in(t0), TIMER_TICK);
        assert_eq!(clock.elapse(t0 + Duration::from_millis(9)), None);
        assert_eq!(
            clock.elapse(t0 + Duration::from_micros(25_700)),
            Some(25),
            "whole milliseconds"
        );
        // The clock stands at 25 ms now: the 0.7 ms remainder counts towards the next tick.
        assert_eq!(clock.elapse(t0 + Duration::from_micros(34_900)), None);
        assert_eq!(clock.elapse(t0 + Duration::from_millis(35)), Some(10));
        assert_eq!(
            clock.due_in(t0 + Duration::from_millis(40)),
            Duration::from_millis(5)
        );
        assert_eq!(
            clock.due_in(t0 + Duration::from_millis(90)),
            Duration::ZERO,
            "overdue"
        );
    }

    #[test]
    fn a_clock_earlier_than_its_start_does_not_move() {
        let t0 = Instant::now() + Duration::from_secs(1);
        let mut clock = TimerClock::new(t0);
        assert_eq!(clock.elapse(t0 - Duration::from_millis(500)), None);
        assert_eq!(clock.elapse(t0 + TIMER_TICK), Some(10));
    }
}
