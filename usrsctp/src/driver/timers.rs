//! Time on the stack thread: usrsctp's clock, which this thread advances (usrsctp runs without
//! a timer thread), and our own deadlines (graceful-close guards, stream-reset retries).

use std::time::{Duration, Instant};

use tracing::debug;

use super::Driver;
use crate::event::{AssocId, CloseReason};
use crate::ffi;

/// The finest tick: how often the thread advances usrsctp's timers while that is cheap
/// (usrsctp's own timer thread, which the crate does not start, ticks every 10 ms too).
pub(super) const TIMER_TICK: Duration = Duration::from_millis(10);

/// Each tick's walk may cost at most 1/`TICK_BUDGET` of the thread's time: a walk that takes
/// longer stretches the period (up to `StackConfig::max_timer_tick_ms`).
///
/// Why: usrsctp's `sctp_handle_tick` walks *every* armed timer on each call, due or not, and
/// an idle association keeps two armed (its heartbeat and its endpoint's cookie-secret
/// timer). With 10,000 associations that walk took 3.2 ms, a third of the stack thread at one
/// tick per 10 ms. At 1/50 the walk costs about 2 % of a core whatever the crowd, and timers
/// fire at most one period late.
const TICK_BUDGET: u32 = 50;

/// The walk's cost is taken as the cheapest of the last `COST_WINDOW` runs: a run also does
/// the work of the timers that fell due (a delayed SACK sent, a retransmission), which says
/// nothing about the walk and must not stretch the tick of a busy association.
const COST_WINDOW: usize = 16;

/// usrsctp's clock, advanced by the stack thread, and the period it is advanced at.
pub(super) struct TimerClock {
    /// The moment up to which usrsctp's timers have been run.
    at: Instant,
    /// The current period: `TIMER_TICK` ..= `max`.
    period: Duration,
    /// The longest period (`StackConfig::max_timer_tick_ms`).
    max: Duration,
    /// What the last `COST_WINDOW` runs of usrsctp's timers cost (a ring).
    costs: [Duration; COST_WINDOW],
    /// Runs recorded so far (the ring's next slot is `runs % COST_WINDOW`).
    runs: usize,
}

impl TimerClock {
    pub(super) fn new(now: Instant, max: Duration) -> Self {
        TimerClock {
            at: now,
            period: TIMER_TICK,
            max: max.max(TIMER_TICK),
            costs: [Duration::ZERO; COST_WINDOW],
            runs: 0,
        }
    }

    /// How long after `now` the next tick is due (zero if it is overdue).
    pub(super) fn due_in(&self, now: Instant) -> Duration {
        (self.at + self.period).saturating_duration_since(now)
    }

    /// The current period.
    #[cfg(test)]
    pub(super) fn period(&self) -> Duration {
        self.period
    }

    /// The whole milliseconds to hand usrsctp at `now`, if a period has passed, and the clock
    /// moved on by as much; the remainder carries over to the next call.
    pub(super) fn elapse(&mut self, now: Instant) -> Option<u32> {
        let elapsed = now.saturating_duration_since(self.at);
        if elapsed < self.period {
            return None;
        }
        let ms = u32::try_from(elapsed.as_millis()).unwrap_or(u32::MAX);
        self.at += Duration::from_millis(u64::from(ms));
        Some(ms)
    }

    /// Records the cost of one run of usrsctp's timers and sets the period from the cheapest
    /// of the last `COST_WINDOW` (zero until that many were recorded): the finest tick while
    /// a run costs under 1/`TICK_BUDGET` of it, longer as runs grow, never past `max`.
    pub(super) fn record_cost(&mut self, run: Duration) {
        self.costs[self.runs % COST_WINDOW] = run;
        self.runs += 1;
        let floor = if self.runs < COST_WINDOW {
            Duration::ZERO
        } else {
            self.costs.iter().copied().min().unwrap_or(Duration::ZERO)
        };
        self.period = (floor * TICK_BUDGET).clamp(TIMER_TICK, self.max);
    }

    /// Runs usrsctp's timers that fell due since the last call, and adapts the period to what
    /// that cost. Must not be called while holding any of the crate's locks (timer handlers
    /// call the output and upcall callbacks, which take the route table's lock).
    pub(super) fn advance(&mut self) {
        let now = Instant::now();
        if let Some(ms) = self.elapse(now) {
            ffi::handle_timers(ms);
            self.record_cost(now.elapsed());
        }
    }

    /// Back to the finest tick (usrsctp is being finished: its last timers should run soon).
    pub(super) fn fine(&mut self) {
        self.period = TIMER_TICK;
    }
}

impl Driver {
    /// Acts on the deadlines that passed: a graceful close that took too long becomes an
    /// abort; a stream reset or an Add Streams request usrsctp refused for now is tried
    /// again.
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
            self.try_adds(id);
            if let Some(e) = self.entries.get(&id) {
                if e.close_deadline.is_none() && e.resets.is_empty() && e.adds == (0, 0) {
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
        let mut clock = TimerClock::new(t0, Duration::from_millis(100));
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
        let mut clock = TimerClock::new(t0, Duration::from_millis(100));
        assert_eq!(clock.elapse(t0 - Duration::from_millis(500)), None);
        assert_eq!(clock.elapse(t0 + TIMER_TICK), Some(10));
    }

    #[test]
    fn the_period_stretches_with_the_cost_of_a_run_and_stays_within_its_bounds() {
        let t0 = Instant::now();
        let max = Duration::from_millis(100);
        let mut clock = TimerClock::new(t0, max);
        // Cheap runs (a few associations): the finest tick.
        for _ in 0..32 {
            clock.record_cost(Duration::from_micros(20));
        }
        assert_eq!(clock.period(), TIMER_TICK);
        // Runs of 1 ms (a few thousand associations): 50 ms, once a whole window is that slow.
        for _ in 0..COST_WINDOW - 1 {
            clock.record_cost(Duration::from_millis(1));
        }
        assert_eq!(
            clock.period(),
            TIMER_TICK,
            "one cheap run left in the window"
        );
        clock.record_cost(Duration::from_millis(1));
        assert_eq!(clock.period(), Duration::from_millis(50));
        // A tick is due one period after the last run, not one `TIMER_TICK`.
        assert_eq!(clock.elapse(t0 + Duration::from_millis(30)), None);
        assert!(clock.elapse(t0 + Duration::from_millis(50)).is_some());
        // Runs of 5 ms would ask for 250 ms: capped.
        for _ in 0..COST_WINDOW {
            clock.record_cost(Duration::from_millis(5));
        }
        assert_eq!(clock.period(), max);
        // Cheap again: one cheap run brings the finest tick back.
        clock.record_cost(Duration::from_micros(20));
        assert_eq!(clock.period(), TIMER_TICK);
        clock.fine();
        assert_eq!(clock.period(), TIMER_TICK, "fine() resets the period");
    }

    #[test]
    fn runs_that_did_timer_work_do_not_stretch_the_tick() {
        // A busy association: most runs cheap, some sending SACKs or retransmissions.
        let mut clock = TimerClock::new(Instant::now(), Duration::from_millis(100));
        for i in 0..200 {
            let run = if i % 4 == 0 {
                Duration::from_millis(2)
            } else {
                Duration::from_micros(30)
            };
            clock.record_cost(run);
            assert_eq!(clock.period(), TIMER_TICK, "run {i}");
        }
        // Too few runs recorded yet: the finest tick, however slow they were.
        let mut clock = TimerClock::new(Instant::now(), Duration::from_millis(100));
        for _ in 0..COST_WINDOW - 1 {
            clock.record_cost(Duration::from_secs(1));
        }
        assert_eq!(clock.period(), TIMER_TICK);
    }

    #[test]
    fn the_longest_period_is_never_below_the_finest_tick() {
        let clock = TimerClock::new(Instant::now(), Duration::from_millis(1));
        assert_eq!(clock.period(), TIMER_TICK);
        let mut clock = clock;
        for _ in 0..COST_WINDOW {
            clock.record_cost(Duration::from_secs(1));
        }
        assert_eq!(clock.period(), TIMER_TICK);
    }
}
