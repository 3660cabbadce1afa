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
//! So a stack with traffic arriving in quick succession keeps polling; a quiet one, or one whose
//! commands come further apart than the bound, parks at once after a few idle periods. The CPU
//! one idle period can waste is at most the bound. `StackConfig::spin_before_park_us` is a fixed
//! floor under the window (the low-latency opt-in); `StackConfig::adaptive_spin_us` is the
//! bound (0 turns the adaptive window off).

use std::time::Duration;

/// The window the first growth starts from.
pub(crate) const GROW_START: Duration = Duration::from_micros(10);

/// The spin window and its bounds.
#[derive(Debug)]
pub(crate) struct SpinWindow {
    /// `StackConfig::spin_before_park_us`: the thread spins at least this long.
    floor: Duration,
    /// `StackConfig::adaptive_spin_us`: the adaptive window's bound (zero: no adaptive window).
    bound: Duration,
    /// The adaptive window now.
    window: Duration,
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
