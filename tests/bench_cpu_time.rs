//! The clocks of the `cpu` benchmark group (benches/peers/cpu_time.rs) measure CPU, not wall
//! time: they advance while a thread computes and stand still while it sleeps.
//!
//! The other test of this binary only parses a string, so it cannot disturb the process clock.

#[allow(dead_code)]
#[path = "../benches/peers/cpu_time.rs"]
mod cpu_time;

use std::sync::mpsc;
use std::time::{Duration, Instant};

use cpu_time::{process_cpu, spin_cpu, stat_ticks, ThreadCpu};

/// Computes until this thread has used `d` of CPU (however long that takes on a loaded
/// machine; at most 30 s).
fn spin(d: Duration) {
    assert!(
        spin_cpu(d, Duration::from_secs(30)),
        "could not get {d:?} of CPU in 30 s"
    );
}

#[test]
fn cpu_clocks_advance_under_load_and_not_while_sleeping() {
    // Process clock, busy: 200 ms of computing on this thread all count (the process clock
    // covers every thread, so it cannot advance less than this thread's own).
    let before = process_cpu();
    spin(Duration::from_millis(200));
    let busy = process_cpu() - before;
    assert!(busy >= Duration::from_millis(200), "busy: {busy:?}");

    // Process clock, asleep: 300 ms of sleeping costs almost nothing.
    let before = process_cpu();
    std::thread::sleep(Duration::from_millis(300));
    let idle = process_cpu() - before;
    assert!(idle < Duration::from_millis(20), "asleep: {idle:?}");

    // Thread clocks, found by name: one thread computes 300 ms of CPU while another sleeps
    // 300 ms.
    let (ready_tx, ready_rx) = mpsc::channel();
    let (done_tx, done_rx) = mpsc::channel();
    let spawn = |name: &str, busy: bool| {
        let ready = ready_tx.clone();
        let done = done_tx.clone();
        let (go_tx2, go_rx2) = mpsc::channel::<()>();
        let handle = std::thread::Builder::new()
            .name(name.into())
            .spawn(move || {
                ready.send(()).unwrap();
                go_rx2.recv().unwrap();
                if busy {
                    spin(Duration::from_millis(300));
                } else {
                    std::thread::sleep(Duration::from_millis(300));
                }
                done.send(()).unwrap();
                // Stay alive (and idle) until the clocks were read.
                let _ = go_rx2.recv();
            })
            .unwrap();
        (handle, go_tx2)
    };
    let (busy_thread, busy_go) = spawn("cpu-probe-busy", true);
    let (idle_thread, idle_go) = spawn("cpu-probe-idle", false);
    ready_rx.recv().unwrap();
    ready_rx.recv().unwrap();
    let busy = ThreadCpu::find("cpu-probe-busy").expect("busy thread by name");
    let idle = ThreadCpu::find("cpu-probe-idle").expect("idle thread by name");
    assert_ne!(busy.tid(), idle.tid());
    assert_eq!(ThreadCpu::find("no-such-thread"), None);
    let (busy0, idle0) = (busy.precise_time().unwrap(), idle.precise_time().unwrap());
    let (busy0s, idle0s) = (busy.stat_time().unwrap(), idle.stat_time().unwrap());
    busy_go.send(()).unwrap();
    idle_go.send(()).unwrap();
    done_rx.recv().unwrap();
    done_rx.recv().unwrap();
    let busy_precise = busy.precise_time().unwrap() - busy0;
    let idle_precise = idle.precise_time().unwrap() - idle0;
    let busy_stat = busy.stat_time().unwrap() - busy0s;
    let idle_stat = idle.stat_time().unwrap() - idle0s;
    drop((busy_go, idle_go));
    busy_thread.join().unwrap();
    idle_thread.join().unwrap();
    assert!(
        busy_precise >= Duration::from_millis(300),
        "busy thread: {busy_precise:?}"
    );
    // stat counts whole clock ticks (10 ms at 100 Hz) sampled on the tick.
    assert!(
        busy_stat >= Duration::from_millis(250),
        "busy thread (stat): {busy_stat:?}"
    );
    assert!(
        idle_precise < Duration::from_millis(20),
        "sleeping thread: {idle_precise:?}"
    );
    assert!(
        idle_stat <= Duration::from_millis(20),
        "sleeping thread (stat): {idle_stat:?}"
    );
    // Once the thread has exited (the kernel releases it just after `join` returns), its clock
    // can no longer be read.
    let deadline = Instant::now() + Duration::from_secs(5);
    while busy.precise_time().is_some() {
        assert!(Instant::now() < deadline, "exited thread still readable");
        std::thread::yield_now();
    }
}

#[test]
fn stat_fields_are_counted_from_the_last_parenthesis() {
    // A command name with a space and a parenthesis; utime 1234, stime 56.
    let line = "4242 (we (ird) name) S 1 2 3 4 5 6 7 8 9 10 1234 56 0 0 20 0 1 0 99 0 0";
    assert_eq!(stat_ticks(line), Some(1290));
    assert_eq!(stat_ticks("4242 (short) S 1 2"), None);
    assert_eq!(stat_ticks("no parenthesis"), None);
}
