//! The SCTP peers the benchmarks compare, each paired with itself over an in-memory wire.
//!
//! - [`wrapper`]: this workspace's `usrsctp` crate, one worker thread per side (as an SFU runs
//!   it), the crate's stack thread in between.
//! - [`raw`]: the same linked usrsctp driven directly through `usrsctp-sys` on one thread: the
//!   limit of the wrapper's design.
//! - [`sctp_proto`]: str0m's sans-IO stack, both endpoints driven by one thread.
//! - [`webrtc_sctp`]: webrtc-rs's tokio-based stack.
//!
//! [`cpu_time`] is not a peer: it measures process and thread CPU time and RSS.
//!
//! usrsctp is process-global: the wrapper's `Stack` and the raw peer's `usrsctp_init` must not
//! overlap. [`wrapper::stack`] and [`raw::RawStack`] each check that the other is down.

// Also included by the `scale` and `fairness` benches (`#[path]`), which use the rest of it.
#[allow(dead_code)]
pub mod cpu_time;
// Many pairs on one worker; used by the `scale` and `fairness` benches only.
#[allow(dead_code)]
pub mod local;
pub mod raw;
pub mod sctp_proto;
pub mod webrtc_sctp;
pub mod wrapper;

use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::time::Duration;

/// A message payload of `size` bytes (a fixed pattern; receivers check the length).
pub fn payload(size: usize) -> Vec<u8> {
    (0..size).map(|i| (i * 7 + 3) as u8).collect()
}

/// An eventfd a thread sleeps on (with its mailbox's eventfd) and another thread rings after it
/// queued something for it. Readable from the ring until `clear`.
pub struct Doorbell {
    fd: OwnedFd,
}

impl Doorbell {
    pub fn new() -> io::Result<Doorbell> {
        // SAFETY: eventfd takes no pointers; a negative return is reported through errno.
        let fd = unsafe { libc::eventfd(0, libc::EFD_NONBLOCK | libc::EFD_CLOEXEC) };
        if fd < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: a fresh descriptor nothing else owns.
        Ok(Doorbell {
            fd: unsafe { OwnedFd::from_raw_fd(fd) },
        })
    }

    pub fn ring(&self) {
        let one: u64 = 1;
        // SAFETY: writes 8 bytes from a live u64 to an eventfd we own; EAGAIN (saturated counter)
        // leaves it readable, which is all a ring needs.
        unsafe { libc::write(self.fd.as_raw_fd(), (&one as *const u64).cast(), 8) };
    }

    pub fn clear(&self) {
        let mut buf: u64 = 0;
        // SAFETY: reads 8 bytes into a live u64 from a non-blocking eventfd we own.
        unsafe { libc::read(self.fd.as_raw_fd(), (&mut buf as *mut u64).cast(), 8) };
    }

    pub fn raw_fd(&self) -> RawFd {
        self.fd.as_raw_fd()
    }
}

/// Waits until one of `fds` is readable or `timeout` passes; returns which are readable.
pub fn wait_readable<const N: usize>(fds: [RawFd; N], timeout: Duration) -> [bool; N] {
    let mut pfds = fds.map(|fd| libc::pollfd {
        fd,
        events: libc::POLLIN,
        revents: 0,
    });
    // `ppoll`, not `poll`: the `paced` bench waits for gaps of tens of µs, which `poll`'s
    // millisecond timeout would round to a busy loop.
    let ts = libc::timespec {
        tv_sec: timeout.as_secs().min(i32::MAX as u64) as libc::time_t,
        tv_nsec: timeout.subsec_nanos() as libc::c_long,
    };
    // SAFETY: `pfds` is a live array of N pollfd structs, `ts` a live timespec; no signal mask.
    let n = unsafe { libc::ppoll(pfds.as_mut_ptr(), N as libc::nfds_t, &ts, std::ptr::null()) };
    if n <= 0 {
        return [false; N];
    }
    pfds.map(|p| p.revents & libc::POLLIN != 0)
}
