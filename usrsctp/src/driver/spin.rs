//! How long the stack thread polls its command channel before it parks (pure state).
//!
//! Parking costs little on bare metal and a great deal on virtual machines: a parked thread
//! whose vCPU halted is woken by an inter-processor interrupt through the hypervisor, tens of µs
//! of latency and several µs of CPU on both sides (the waker's futex call, the sleeper's
//! context switch). While traffic flows, a worker's next command usually arrives within tens of
//! µs of the stack thread running dry; polling that long is cheaper than parking.
//!
//! The window adapts by the rule of Linux's cpuidle-haltpoll governor. After each idle period
//! (from the moment the thread ran dry until the next command, or the wake-up without one):
//! - ended within the window: the spin paid off; the window stays;
//! - ended after the window but within the bound: a longer spin would have caught it; the window
//!   doubles (from [`GROW_START`]) up to the bound;
//! - longer than the bound: spinning would not have paid; the window halves, and drops to zero
//!   below [`GROW_START`].
//!
//! The rule alone misjudges one common pattern. Parked, the thread sees a command only after
//! its own wake-up, so an idle period looks longer than it was; and paced traffic (a message
//! every few hundred µs) comes in bursts of a few commands (the send, the packets it causes)
//! with a long gap after each. The window regrows within every burst and the poll at its end
//! runs the whole window for nothing: measured (`cargo bench --bench paced`), a message every
//! 300 µs cost the stack thread twice its CPU. So the window also has to pay its way:
//! - the polls of the adaptive window are counted in epochs of [`EPOCH`]; an epoch in which
//!   fewer than two polls caught a command for each that missed switches the window off for a
//!   cooldown of idle periods ([`COOLDOWN_START`], doubling while the next epochs fail too, up
//!   to [`COOLDOWN_MAX`]); after it, the window may grow again and the next epoch decides.
//!
//! So a stack whose commands keep arriving in quick succession (a round trip, a setup, bulk
//! transfer) keeps polling; a quiet one, one whose commands come further apart than the bound,
//! or one whose polls mostly miss, parks at once. The CPU one idle period can waste is at most
//! the bound, and while polls do not pay, one idle period in more than [`COOLDOWN_START`] /
//! [`EPOCH`] at worst. `StackConfig::spin_before_park_us` is a fixed floor under the window (the
//! low-latency opt-in, never switched off); `StackConfig::adaptive_spin_us` is the bound (0
//! turns the adaptive window off).

use std::time::Duration;

/// The window the first growth starts from.
pub(crate) const GROW_START: Duration = Duration::from_micros(10);
/// Polls of the adaptive window per verdict on whether it pays.
pub(crate) const EPOCH: u32 = 32;
/// Idle periods without the adaptive window after an epoch that did not pay (doubling while
/// the following epochs fail too, up to `COOLDOWN_MAX`).
pub(crate) const COOLDOWN_START: u32 = 256;
pub(crate) const COOLDOWN_MAX: u32 = 8_192;

/// The spin window and its bounds.
#[derive(Debug)]
pub(crate) struct SpinWindow {
    /// `StackConfig::spin_before_park_us`: the thread spins at least this long.
    floor: Duration,
    /// `StackConfig::adaptive_spin_us`: the adaptive window's bound (zero: no adaptive window).
    bound: Duration,
    /// The adaptive window now.
    window: Duration,
    /// Polls of this epoch (of the adaptive window, beyond the floor) that caught a command,
    /// and that ran out.
    caught: u32,
    missed: u32,
    /// Idle periods left before the window may grow again.
    cooldown: u32,
    /// The next cooldown's length.
    next_cooldown: u32,
}

impl SpinWindow {
    /// The window for `StackConfig::spin_before_park_us` (`floor_us`) and
    /// `StackConfig::adaptive_spin_us` (`bound_us`) on a process that may run on `cpus` CPUs.
    /// With one CPU the adaptive window stays off: the stack thread would poll on the CPU the
    /// worker it waits for needs. The floor is the user's explicit choice and stays.
    pub(crate) fn for_cpus(floor_us: u32, bound_us: u32, cpus: usize) -> SpinWindow {
        SpinWindow::new(floor_us, if cpus > 1 { bound_us } else { 0 })
    }

    pub(crate) fn new(floor_us: u32, bound_us: u32) -> SpinWindow {
        SpinWindow {
            floor: Duration::from_micros(u64::from(floor_us)),
            bound: Duration::from_micros(u64::from(bound_us)),
            window: Duration::ZERO,
            caught: 0,
            missed: 0,
            cooldown: 0,
            next_cooldown: COOLDOWN_START,
        }
    }

    /// How long to poll for a command before parking.
    pub(crate) fn spin_for(&self) -> Duration {
        self.floor.max(self.window)
    }

    /// Whether idle periods need measuring (the window can change).
    pub(crate) fn adapts(&self) -> bool {
        !self.bound.is_zero()
    }

    /// The thread was idle for `idle` (spin and sleep together) before its next command or
    /// wake-up.
    pub(crate) fn idle_ended(&mut self, idle: Duration) {
        if self.cooldown > 0 {
            self.cooldown -= 1;
            return;
        }
        if !self.adapts() || idle <= self.spin_for() {
            return;
        }
        if idle <= self.bound {
            self.window = (self.window * 2).max(GROW_START).min(self.bound);
        } else {
            self.window /= 2;
            if self.window < GROW_START {
                self.window = Duration::ZERO;
            }
        }
    }

    /// A poll of `spin_for()` ended: with a command (`caught`) or without. Only polls that ran
    /// longer than the floor count (the adaptive window's own).
    pub(crate) fn poll_ended(&mut self, caught: bool) {
        if self.window <= self.floor {
            return;
        }
        if caught {
            self.caught += 1;
        } else {
            self.missed += 1;
        }
        if self.caught + self.missed < EPOCH {
            return;
        }
        if self.caught >= 2 * self.missed {
            self.next_cooldown = COOLDOWN_START;
        } else {
            self.window = Duration::ZERO;
            self.cooldown = self.next_cooldown;
            self.next_cooldown = (self.next_cooldown * 2).min(COOLDOWN_MAX);
        }
        self.caught = 0;
        self.missed = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn us(n: u64) -> Duration {
        Duration::from_micros(n)
    }

    #[test]
    fn the_window_grows_while_commands_come_soon_after_the_thread_ran_dry() {
        let mut spin = SpinWindow::new(0, 50);
        assert_eq!(spin.spin_for(), Duration::ZERO, "starts by parking at once");
        // Replies 30 µs after the thread ran dry (parked, so they were seen a little late).
        spin.idle_ended(us(45));
        assert_eq!(spin.spin_for(), us(10));
        spin.idle_ended(us(45));
        assert_eq!(spin.spin_for(), us(20));
        spin.idle_ended(us(45));
        assert_eq!(spin.spin_for(), us(40));
        // Caught by the spin now: the window stays.
        spin.idle_ended(us(30));
        assert_eq!(spin.spin_for(), us(40));
        spin.idle_ended(us(45));
        assert_eq!(spin.spin_for(), us(50), "never past the bound");
        spin.idle_ended(us(50));
        assert_eq!(spin.spin_for(), us(50));
    }

    #[test]
    fn the_window_shrinks_to_nothing_while_the_stack_is_quiet() {
        let mut spin = SpinWindow::new(0, 50);
        for _ in 0..4 {
            spin.idle_ended(us(50));
        }
        assert_eq!(spin.spin_for(), us(50));
        spin.idle_ended(Duration::from_millis(10));
        assert_eq!(spin.spin_for(), us(25));
        spin.idle_ended(Duration::from_millis(10));
        assert_eq!(spin.spin_for(), us(12) + Duration::from_nanos(500));
        spin.idle_ended(Duration::from_secs(1));
        assert_eq!(
            spin.spin_for(),
            Duration::ZERO,
            "below the start it parks at once"
        );
        spin.idle_ended(Duration::from_secs(1));
        assert_eq!(spin.spin_for(), Duration::ZERO);
    }

    #[test]
    fn commands_further_apart_than_the_bound_never_start_a_spin() {
        let mut spin = SpinWindow::new(0, 50);
        for gap in [51, 80, 200, 1_000, 51] {
            spin.idle_ended(us(gap));
            assert_eq!(spin.spin_for(), Duration::ZERO, "gap {gap} µs");
        }
    }

    #[test]
    fn the_fixed_floor_holds_and_a_zero_bound_turns_adapting_off() {
        let mut fixed = SpinWindow::new(200, 0);
        assert!(!fixed.adapts());
        for idle in [us(5), us(300), Duration::from_secs(1)] {
            fixed.idle_ended(idle);
            assert_eq!(fixed.spin_for(), us(200));
        }

        // With both, the window only matters above the floor, and shrinking stops at it.
        let mut both = SpinWindow::new(20, 100);
        both.idle_ended(us(15));
        assert_eq!(both.spin_for(), us(20), "caught within the floor");
        both.idle_ended(us(60));
        assert_eq!(both.spin_for(), us(20), "window 10 µs, under the floor");
        both.idle_ended(us(60));
        both.idle_ended(us(60));
        assert_eq!(both.spin_for(), us(40));
        for _ in 0..8 {
            both.idle_ended(Duration::from_millis(5));
        }
        assert_eq!(both.spin_for(), us(20));

        let mut off = SpinWindow::new(0, 0);
        off.idle_ended(us(5));
        assert_eq!(off.spin_for(), Duration::ZERO);
    }

    #[test]
    fn one_cpu_turns_the_adaptive_window_off_but_keeps_the_floor() {
        let mut one = SpinWindow::for_cpus(0, 50, 1);
        assert!(!one.adapts());
        one.idle_ended(us(30));
        assert_eq!(one.spin_for(), Duration::ZERO);
        assert_eq!(SpinWindow::for_cpus(100, 50, 1).spin_for(), us(100));

        let mut two = SpinWindow::for_cpus(0, 50, 2);
        assert!(two.adapts());
        two.idle_ended(us(30));
        assert_eq!(two.spin_for(), GROW_START);
    }

    /// Grows the window to the bound (commands 45 µs after the thread ran dry).
    fn grown() -> SpinWindow {
        let mut spin = SpinWindow::new(0, 50);
        for _ in 0..4 {
            spin.idle_ended(us(45));
        }
        assert_eq!(spin.spin_for(), us(50));
        spin
    }

    #[test]
    fn polls_that_keep_catching_keep_the_window() {
        let mut spin = grown();
        for _ in 0..10 * EPOCH {
            spin.poll_ended(true);
            spin.idle_ended(us(20));
        }
        // One miss in four still pays.
        for i in 0..4 * EPOCH {
            spin.poll_ended(i % 4 != 0);
            spin.idle_ended(us(20));
        }
        assert_eq!(spin.spin_for(), us(50));
    }

    /// Paced traffic: each burst regrows the window and the poll at its end misses.
    #[test]
    fn polls_that_mostly_miss_switch_the_window_off_for_a_growing_cooldown() {
        let mut spin = grown();
        let epoch = |spin: &mut SpinWindow| {
            for i in 0..EPOCH {
                spin.poll_ended(i % 2 == 0); // half caught: not enough
            }
        };
        epoch(&mut spin);
        assert_eq!(spin.spin_for(), Duration::ZERO, "off after a losing epoch");
        // Short idle periods would regrow it, but not during the cooldown.
        for _ in 0..COOLDOWN_START {
            spin.idle_ended(us(45));
            assert_eq!(spin.spin_for(), Duration::ZERO);
        }
        spin.idle_ended(us(45));
        assert_eq!(
            spin.spin_for(),
            GROW_START,
            "grows again after the cooldown"
        );

        // Another losing epoch: twice the cooldown.
        for _ in 0..3 {
            spin.idle_ended(us(45));
        }
        epoch(&mut spin);
        for _ in 0..2 * COOLDOWN_START {
            spin.idle_ended(us(45));
            assert_eq!(spin.spin_for(), Duration::ZERO);
        }
        spin.idle_ended(us(45));
        assert_eq!(spin.spin_for(), GROW_START);

        // A winning epoch resets the cooldown to its start.
        for _ in 0..3 {
            spin.idle_ended(us(45));
        }
        for _ in 0..EPOCH {
            spin.poll_ended(true);
        }
        epoch(&mut spin);
        for _ in 0..COOLDOWN_START {
            spin.idle_ended(us(45));
        }
        spin.idle_ended(us(45));
        assert_eq!(spin.spin_for(), GROW_START);
    }

    #[test]
    fn the_cooldown_stops_doubling_at_its_maximum_and_never_touches_the_floor() {
        let mut spin = SpinWindow::new(20, 100);
        let mut cooldowns = Vec::new();
        for _ in 0..10 {
            for _ in 0..4 {
                spin.idle_ended(us(90));
            }
            assert!(spin.spin_for() > us(20));
            for _ in 0..EPOCH {
                spin.poll_ended(false);
            }
            assert_eq!(spin.spin_for(), us(20), "the floor stays");
            let mut n = 0;
            while spin.cooldown > 0 {
                spin.idle_ended(us(90));
                n += 1;
            }
            cooldowns.push(n);
        }
        assert_eq!(cooldowns[0], COOLDOWN_START);
        assert_eq!(cooldowns[1], 2 * COOLDOWN_START);
        assert_eq!(*cooldowns.last().unwrap(), COOLDOWN_MAX);

        // Polls within the floor are not the window's: they do not count.
        let mut floor_only = SpinWindow::new(20, 100);
        for _ in 0..4 * EPOCH {
            floor_only.poll_ended(false);
        }
        assert_eq!(floor_only.cooldown, 0);
    }

    /// The CPU an idle period can waste is bounded by the bound, whatever the gaps: a simulated
    /// stream of idle periods, each spinning `min(window, gap)` before the command.
    #[test]
    fn no_idle_period_spins_longer_than_the_bound() {
        let mut spin = SpinWindow::new(0, 50);
        let mut seed = 0x2545_f491_4f6c_dd1du64;
        for _ in 0..10_000 {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            let gap = us(seed % 400);
            assert!(spin.spin_for() <= us(50));
            spin.idle_ended(gap);
        }
    }
}
