//! Time on the stack thread: usrsctp's clock, which this thread advances (usrsctp runs without
//! a timer thread), and our own deadlines (graceful-close guards, stream-reset retries).

use std::time::{Duration, Instant};

use tracing::debug;

use super::Driver;
use crate::callbacks;
use crate::event::{AssocId, CloseReason};
use crate::ffi;

/// The finest tick: how often the thread advances usrsctp's timers while that is cheap
/// (usrsctp's own timer thread, which the crate does not start, ticks every 10 ms too).
pub(super) const TIMER_TICK: Duration = Duration::from_millis(10);

/// Each tick's walk may cost at most 1/`TICK_BUDGET` of the thread's time: a walk that takes
/// longer stretches the period (up to `StackConfig::max_timer_tick_ms`, more while the stack
/// is quiet: see [`QUIET_SHARE`]).
///
/// Why: usrsctp's `sctp_handle_tick` walks *every* armed timer on each call, due or not, and
/// an idle association keeps two armed (its heartbeat and its endpoint's cookie-secret
/// timer). With 10,000 associations that walk took 3.2 ms, a third of the stack thread at one
/// tick per 10 ms. At 1/50 the walk costs about 2 % of a core whatever the crowd.
const TICK_BUDGET: u32 = 50;

/// The walk's cost is taken as the cheapest of the last `COST_WINDOW` runs: a run also does
/// the work of the timers that fell due (a delayed SACK sent, a retransmission), which says
/// nothing about the walk and must not stretch the tick of a busy association.
const COST_WINDOW: usize = 16;

/// While the stack is quiet, the period grows with the quiet time: up to 1/`QUIET_SHARE` of
/// the time since the stack was last active, and never past [`QUIET_MAX`], whatever a walk
/// costs. So an idle stack wakes about once a second, with no association or with 10,000.
///
/// *Active* is anything but heartbeats: a command that changes an association (a send, an
/// open, a close, a reset), and any packet in or out that is not only HEARTBEAT or HEARTBEAT
/// ACK chunks. usrsctp arms a timer while it works for one of those (a retransmission or
/// delayed-SACK timer for data, a shutdown or reset timer for a command), or for a heartbeat,
/// whose next one is `heartbeat_interval_ms` away. A timer armed by the last activity with a
/// delay `d` is due `d` after it, when the quiet part of the period is at most
/// `d / QUIET_SHARE`: it fires at most a quarter of its delay late (10 ms at least), or one
/// `max_timer_tick_ms` when the walk's cost sets the period, as without the stretch.
/// Activity ends the stretch at once.
///
/// Why: with 10,000 idle associations the walk takes 2–3 ms, and the 2 % budget kept the
/// stack thread at 2–4 % of a core (the system library; the vendored build's timer wheel has
/// no walk); an empty stack woke 100 times a second. Heartbeats alone keep such a crowd
/// busy (one exchange per association every 10 s), which is why they are not activity.
const QUIET_SHARE: u32 = 4;

/// The longest period ever, however long the stack has been quiet. It is also held under a
/// quarter of `StackConfig::heartbeat_interval_ms`, so a heartbeat (armed by the previous
/// one, which is not activity) fires at most a quarter of its interval late.
const QUIET_MAX: Duration = Duration::from_secs(1);

/// usrsctp's clock, advanced by the stack thread, and the period it is advanced at.
pub(super) struct TimerClock {
    /// The moment up to which usrsctp's timers have been run.
    at: Instant,
    /// The current period: the longer of what the walk's cost asks for (`TIMER_TICK ..=
    /// max`) and what the quiet time allows (`TIMER_TICK ..= quiet_max`).
    period: Duration,
    /// The longest period the walk's cost may ask for (`StackConfig::max_timer_tick_ms`).
    max: Duration,
    /// The longest period of a quiet stack (`max ..= QUIET_MAX`).
    quiet_max: Duration,
    /// What the last `COST_WINDOW` runs of usrsctp's timers cost (a ring).
    costs: [Duration; COST_WINDOW],
    /// Runs recorded so far (the ring's next slot is `runs % COST_WINDOW`).
    runs: usize,
    /// When the stack was last seen active (see [`QUIET_SHARE`]).
    active_at: Instant,
    /// Activity noted by the driver since the last [`TimerClock::advance`].
    active: bool,
}

impl TimerClock {
    /// A clock at `now`: `max` is `StackConfig::max_timer_tick_ms`, `heartbeat` its
    /// `heartbeat_interval_ms`.
    pub(super) fn new(now: Instant, max: Duration, heartbeat: Duration) -> Self {
        let max = max.max(TIMER_TICK);
        TimerClock {
            at: now,
            period: TIMER_TICK,
            max,
            quiet_max: (heartbeat / QUIET_SHARE).min(QUIET_MAX).max(max),
            costs: [Duration::ZERO; COST_WINDOW],
            runs: 0,
            active_at: now,
            active: false,
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

    /// The stack did something other than heartbeats (a command, a packet): it counts at the
    /// next [`TimerClock::advance`], before the thread waits again.
    pub(super) fn note_activity(&mut self) {
        self.active = true;
    }

    /// How long the stack has been quiet at `now` (as of the last [`TimerClock::advance`]).
    pub(super) fn quiet_for(&self, now: Instant) -> Duration {
        now.saturating_duration_since(self.active_at)
    }

    /// The stack was active at `now`: the stretch ends at once (a tick that is due by the
    /// shorter period runs at this `advance`).
    fn activity(&mut self, now: Instant) {
        self.active_at = now;
        self.period = self.for_cost().max(TIMER_TICK);
    }

    /// The period the walk's cost asks for: the cheapest of the last `COST_WINDOW` runs
    /// (zero until that many were recorded) times `TICK_BUDGET`, within `TIMER_TICK ..= max`.
    fn for_cost(&self) -> Duration {
        let floor = if self.runs < COST_WINDOW {
            Duration::ZERO
        } else {
            self.costs.iter().copied().min().unwrap_or(Duration::ZERO)
        };
        (floor * TICK_BUDGET).clamp(TIMER_TICK, self.max)
    }

    /// The period the quiet time allows at `now`: a quarter of it, within `TIMER_TICK ..=
    /// quiet_max`.
    fn for_quiet(&self, now: Instant) -> Duration {
        let quiet = now.saturating_duration_since(self.active_at) / QUIET_SHARE;
        quiet.clamp(TIMER_TICK, self.quiet_max)
    }

    /// Records the cost of one run of usrsctp's timers at `now` and sets the next period:
    /// the finest tick while runs are cheap and the stack is active, longer as runs grow
    /// ([`TimerClock::for_cost`]) or as the stack stays quiet ([`TimerClock::for_quiet`]).
    pub(super) fn record_cost(&mut self, now: Instant, run: Duration) {
        self.costs[self.runs % COST_WINDOW] = run;
        self.runs += 1;
        self.period = self.for_cost().max(self.for_quiet(now));
    }

    /// Runs usrsctp's timers that fell due since the last call, and adapts the period to what
    /// that cost. Must not be called while holding any of the crate's locks (timer handlers
    /// call the output and upcall callbacks, which take the route table's lock).
    pub(super) fn advance(&mut self) {
        let now = Instant::now();
        // Packets usrsctp sent since the last call count, and so does what the driver noted.
        if callbacks::take_activity_here() | std::mem::take(&mut self.active) {
            self.activity(now);
        }
        if let Some(ms) = self.elapse(now) {
            ffi::handle_timers(ms);
            self.record_cost(now, now.elapsed());
        }
    }

    /// The finest tick from now on, whatever runs cost or how quiet the stack is (usrsctp is
    /// being finished: its last timers should run soon).
    pub(super) fn fine(&mut self) {
        self.period = TIMER_TICK;
        self.max = TIMER_TICK;
        self.quiet_max = TIMER_TICK;
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

    /// `StackConfig::heartbeat_interval_ms`'s default.
    const HEARTBEAT: Duration = Duration::from_secs(10);

    #[test]
    fn the_clock_hands_usrsctp_whole_milliseconds_once_a_tick_has_passed() {
        let t0 = Instant::now();
        let mut clock = TimerClock::new(t0, Duration::from_millis(100), HEARTBEAT);
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
        let mut clock = TimerClock::new(t0, Duration::from_millis(100), HEARTBEAT);
        assert_eq!(clock.elapse(t0 - Duration::from_millis(500)), None);
        assert_eq!(clock.elapse(t0 + TIMER_TICK), Some(10));
    }

    #[test]
    fn the_period_stretches_with_the_cost_of_a_run_and_stays_within_its_bounds() {
        let t0 = Instant::now();
        let max = Duration::from_millis(100);
        let mut clock = TimerClock::new(t0, max, HEARTBEAT);
        // Cheap runs (a few associations): the finest tick.
        for _ in 0..32 {
            clock.record_cost(t0, Duration::from_micros(20));
        }
        assert_eq!(clock.period(), TIMER_TICK);
        // Runs of 1 ms (a few thousand associations): 50 ms, once a whole window is that slow.
        for _ in 0..COST_WINDOW - 1 {
            clock.record_cost(t0, Duration::from_millis(1));
        }
        assert_eq!(
            clock.period(),
            TIMER_TICK,
            "one cheap run left in the window"
        );
        clock.record_cost(t0, Duration::from_millis(1));
        assert_eq!(clock.period(), Duration::from_millis(50));
        // A tick is due one period after the last run, not one `TIMER_TICK`.
        assert_eq!(clock.elapse(t0 + Duration::from_millis(30)), None);
        assert!(clock.elapse(t0 + Duration::from_millis(50)).is_some());
        // Runs of 5 ms would ask for 250 ms: capped.
        for _ in 0..COST_WINDOW {
            clock.record_cost(t0, Duration::from_millis(5));
        }
        assert_eq!(clock.period(), max);
        // Cheap again: one cheap run brings the finest tick back.
        clock.record_cost(t0, Duration::from_micros(20));
        assert_eq!(clock.period(), TIMER_TICK);
        clock.fine();
        assert_eq!(clock.period(), TIMER_TICK, "fine() resets the period");
    }

    #[test]
    fn runs_that_did_timer_work_do_not_stretch_the_tick() {
        // A busy association: most runs cheap, some sending SACKs or retransmissions.
        let t0 = Instant::now();
        let mut clock = TimerClock::new(t0, Duration::from_millis(100), HEARTBEAT);
        for i in 0..200 {
            let run = if i % 4 == 0 {
                Duration::from_millis(2)
            } else {
                Duration::from_micros(30)
            };
            clock.record_cost(t0, run);
            assert_eq!(clock.period(), TIMER_TICK, "run {i}");
        }
        // Too few runs recorded yet: the finest tick, however slow they were.
        let mut clock = TimerClock::new(t0, Duration::from_millis(100), HEARTBEAT);
        for _ in 0..COST_WINDOW - 1 {
            clock.record_cost(t0, Duration::from_secs(1));
        }
        assert_eq!(clock.period(), TIMER_TICK);
    }

    #[test]
    fn the_longest_period_is_never_below_the_finest_tick() {
        let t0 = Instant::now();
        let clock = TimerClock::new(t0, Duration::from_millis(1), HEARTBEAT);
        assert_eq!(clock.period(), TIMER_TICK);
        let mut clock = clock;
        for _ in 0..COST_WINDOW {
            clock.record_cost(t0, Duration::from_secs(1));
        }
        assert_eq!(clock.period(), TIMER_TICK);
    }

    /// Fills the cost window with runs of `run` at `now`; the period that gives.
    fn period_after(clock: &mut TimerClock, now: Instant, run: Duration) -> Duration {
        for _ in 0..COST_WINDOW {
            clock.record_cost(now, run);
        }
        clock.period()
    }

    #[test]
    fn a_quiet_stack_stretches_the_tick_past_its_bound_and_activity_brings_it_back() {
        let t0 = Instant::now();
        let max = Duration::from_millis(100);
        let mut clock = TimerClock::new(t0, max, HEARTBEAT);
        // Runs of 5 ms (10,000 idle associations) ask for 250 ms; the bound gives 100.
        assert_eq!(
            period_after(&mut clock, t0, Duration::from_millis(5)),
            max,
            "just active: the bound holds"
        );
        assert_eq!(
            period_after(
                &mut clock,
                t0 + Duration::from_millis(400),
                Duration::from_millis(5)
            ),
            max,
            "400 ms quiet allows 100 ms"
        );
        assert_eq!(
            period_after(
                &mut clock,
                t0 + Duration::from_secs(1),
                Duration::from_millis(5)
            ),
            Duration::from_millis(250),
            "1 s quiet allows 250 ms"
        );
        assert_eq!(
            period_after(
                &mut clock,
                t0 + Duration::from_secs(2),
                Duration::from_millis(5)
            ),
            Duration::from_millis(500)
        );
        assert_eq!(
            period_after(
                &mut clock,
                t0 + Duration::from_secs(60),
                Duration::from_millis(5)
            ),
            QUIET_MAX
        );
        // Activity: back within the bound at once, and a tick overdue by it runs now.
        let t1 = t0 + Duration::from_secs(60);
        assert!(clock.elapse(t1).is_some());
        let t2 = t1 + Duration::from_millis(300);
        assert_eq!(clock.elapse(t2), None, "quiet: 300 ms is inside the period");
        clock.activity(t2);
        assert_eq!(clock.period(), max);
        assert_eq!(clock.due_in(t2), Duration::ZERO);
        assert_eq!(clock.elapse(t2), Some(300));
        clock.record_cost(t2, Duration::from_millis(5));
        assert_eq!(clock.period(), max, "quiet time counts from the activity");
    }

    #[test]
    fn an_idle_stack_with_cheap_runs_wakes_about_once_a_second() {
        // No association (runs of a few µs): the finest tick while active, then the stretch.
        let t0 = Instant::now();
        let mut clock = TimerClock::new(t0, Duration::from_millis(100), HEARTBEAT);
        assert_eq!(
            period_after(&mut clock, t0, Duration::from_micros(3)),
            TIMER_TICK
        );
        assert_eq!(
            period_after(
                &mut clock,
                t0 + Duration::from_millis(60),
                Duration::from_micros(3)
            ),
            Duration::from_millis(15)
        );
        assert_eq!(
            period_after(
                &mut clock,
                t0 + Duration::from_secs(10),
                Duration::from_micros(3)
            ),
            QUIET_MAX
        );
        clock.activity(t0 + Duration::from_secs(10));
        assert_eq!(
            clock.period(),
            TIMER_TICK,
            "cheap runs: the finest tick again"
        );
        // Finishing usrsctp: the finest tick, however quiet.
        clock.fine();
        assert_eq!(
            period_after(
                &mut clock,
                t0 + Duration::from_secs(100),
                Duration::from_millis(5)
            ),
            TIMER_TICK
        );
    }

    #[test]
    fn the_quiet_stretch_keeps_under_a_quarter_of_the_heartbeat_interval() {
        let t0 = Instant::now();
        let max = Duration::from_millis(100);
        let late = t0 + Duration::from_secs(3600);
        let mut clock = TimerClock::new(t0, max, Duration::from_secs(2));
        assert_eq!(
            period_after(&mut clock, late, Duration::from_micros(3)),
            Duration::from_millis(500)
        );
        // No heartbeat interval: the stretch stops at the bound.
        let mut clock = TimerClock::new(t0, max, Duration::ZERO);
        assert_eq!(
            period_after(&mut clock, late, Duration::from_micros(3)),
            max
        );
    }

    #[test]
    fn a_timer_armed_by_the_last_activity_fires_at_most_a_quarter_of_its_delay_late() {
        // The stack thread's loop, simulated: it wakes when the tick is due, runs the timers
        // (a walk of `run`) and sets the next period. The stack was last active at `t0`, when
        // usrsctp armed a timer for `delay`; how late is the first run at or after it due?
        let max = Duration::from_millis(100);
        for run in [0, 3, 8, 30].map(Duration::from_millis) {
            for delay in [10, 200, 1_000, 3_000, 10_000, 60_000].map(Duration::from_millis) {
                let t0 = Instant::now();
                let mut clock = TimerClock::new(t0, max, HEARTBEAT);
                let due = t0 + delay;
                let mut now = t0;
                let fired = loop {
                    now += clock.due_in(now);
                    let ms = clock.elapse(now).expect("a tick is due when due_in says");
                    assert!(ms >= 10);
                    if now >= due {
                        break now;
                    }
                    clock.record_cost(now, run);
                };
                let bound = max.max(delay / 4);
                assert!(
                    fired - due <= bound,
                    "walk {run:?}, delay {delay:?}: {:?} late, bound {bound:?}",
                    fired - due
                );
            }
        }
    }
}
