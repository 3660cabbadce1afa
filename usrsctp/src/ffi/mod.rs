//! The FFI fence: every call into usrsctp goes through this module (and usrsctp calls us only
//! through `callbacks.rs`). Only the stack thread calls these functions; nothing here takes a
//! lock of ours or knows about workers.
//!
//! usrsctp knows an association only by integers, never a pointer into Rust memory: its id is
//! the upcall argument ([`id_to_addr`]), and its AF_CONN address is either the one every
//! association with an inner port shares or its id ([`ConnAddr`]).

pub(crate) mod pod;
pub(crate) mod socket;

use std::os::raw::{c_int, c_void};

use usrsctp_sys as sys;

use crate::config::StackConfig;
use crate::errno::Errno;
use crate::error::Error;
use crate::event::AssocId;

/// The id usrsctp hands back to us as an AF_CONN address or upcall argument.
pub(crate) fn id_to_addr(id: AssocId) -> *mut c_void {
    id.0 as usize as *mut c_void
}

/// The association id an AF_CONN address or upcall argument stands for.
pub(crate) fn addr_to_id(addr: *mut c_void) -> u64 {
    addr as usize as u64
}

/// The AF_CONN address of an association inside usrsctp.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum ConnAddr {
    /// One address for every association bound to a port of its own (`driver::ports`),
    /// registered once per stack; its packets are told apart by that port
    /// (`shared::port_owners`).
    Shared,
    /// The association's id, registered while it lives: for one that shares its port.
    Own(AssocId),
}

/// The integer of [`ConnAddr::Shared`]: no association id (ids count up from 1; reaching
/// this one would take 2^64 associations).
const SHARED_ADDR: usize = usize::MAX;

impl ConnAddr {
    /// The address of association `id`, bound to `inner_port` (None: it shares its port).
    pub(crate) fn of(id: AssocId, inner_port: Option<u16>) -> ConnAddr {
        match inner_port {
            Some(_) => ConnAddr::Shared,
            None => ConnAddr::Own(id),
        }
    }

    /// What usrsctp is given, and hands back to the output callback.
    pub(crate) fn as_ptr(self) -> *mut c_void {
        match self {
            ConnAddr::Shared => SHARED_ADDR as *mut c_void,
            ConnAddr::Own(id) => id_to_addr(id),
        }
    }

    /// The address usrsctp handed to the output callback.
    pub(crate) fn from_ptr(addr: *mut c_void) -> ConnAddr {
        match addr as usize {
            SHARED_ADDR => ConnAddr::Shared,
            _ => ConnAddr::Own(AssocId(addr_to_id(addr))),
        }
    }
}

fn check(op: &'static str, id: AssocId, rc: c_int) -> Result<(), Error> {
    if rc < 0 {
        Err(Error::Usrsctp {
            op,
            assoc: Some(id),
            errno: Errno::last(),
        })
    } else {
        Ok(())
    }
}

/// Initialises usrsctp without any thread of its own (the caller drives the timers with
/// [`handle_timers`]), with CRC32c offload on: checksums are ours (`packet::checksum`).
///
/// # Safety
/// usrsctp must not be initialised (the previous stack thread, if any, finished it), and the
/// caller must be the only thread calling usrsctp from now until [`finish`] succeeds.
pub(crate) unsafe fn init(output: sys::usrsctp_conn_output_fn, debug_printf: bool) {
    let printer = debug_printf.then_some(c_printf as sys::usrsctp_debug_printf_fn);
    // SAFETY: per this function's contract; the callbacks are plain functions.
    unsafe {
        sys::usrsctp_init_nothreads(0, Some(output), printer);
        sys::usrsctp_enable_crc32c_offload();
    }
}

extern "C" {
    /// The C library's `printf`, declared with usrsctp's debug-printer signature: usrsctp
    /// ignores the result, which the C calling conventions we support return in a register the
    /// caller does not read.
    #[link_name = "printf"]
    fn c_printf(format: *const std::os::raw::c_char, ...);
}

/// Tries once to tear usrsctp down; false while it still holds associations (their teardown
/// timers must run first).
pub(crate) fn finish() -> bool {
    // SAFETY: called on the stack thread after every socket was closed.
    unsafe { sys::usrsctp_finish() == 0 }
}

/// Runs usrsctp's timers that fell due in the last `ms` milliseconds. Must not be called while
/// holding any of the crate's locks: timer handlers call the output and upcall callbacks.
pub(crate) fn handle_timers(ms: u32) {
    // SAFETY: usrsctp was initialised with `init` (no timer thread) by this thread, which is the
    // only one that calls usrsctp's API, so no other call runs concurrently with the timer
    // handlers.
    unsafe { sys::usrsctp_handle_timers(ms) };
}

/// Applies the stack-wide settings (after `usrsctp_init`, which resets them).
pub(crate) fn apply_sysctls(c: &StackConfig) -> Result<(), Error> {
    macro_rules! set {
        ($f:ident, $v:expr) => {{
            // SAFETY: a plain setter of a usrsctp global; usrsctp is initialised.
            let rc = unsafe { sys::$f($v) };
            if rc != 0 {
                return Err(Error::Usrsctp {
                    op: stringify!($f),
                    assoc: None,
                    errno: Errno(libc::EINVAL),
                });
            }
        }};
    }
    set!(usrsctp_sysctl_set_sctp_pr_enable, u32::from(c.pr_enable));
    set!(usrsctp_sysctl_set_sctp_ecn_enable, u32::from(c.ecn_enable));
    if let Some(v) = c.auth_enable {
        set!(usrsctp_sysctl_set_sctp_auth_enable, u32::from(v));
    }
    if let Some(v) = c.asconf_enable {
        set!(usrsctp_sysctl_set_sctp_asconf_enable, u32::from(v));
    }
    set!(usrsctp_sysctl_set_sctp_rto_max_default, c.rto_max_ms);
    set!(usrsctp_sysctl_set_sctp_rto_min_default, c.rto_min_ms);
    set!(
        usrsctp_sysctl_set_sctp_rto_initial_default,
        c.rto_initial_ms
    );
    set!(
        usrsctp_sysctl_set_sctp_init_rto_max_default,
        c.init_rto_max_ms
    );
    set!(usrsctp_sysctl_set_sctp_init_rtx_max_default, c.init_rtx_max);
    set!(
        usrsctp_sysctl_set_sctp_assoc_rtx_max_default,
        c.assoc_rtx_max
    );
    set!(usrsctp_sysctl_set_sctp_path_rtx_max_default, c.path_rtx_max);
    set!(
        usrsctp_sysctl_set_sctp_heartbeat_interval_default,
        c.heartbeat_interval_ms
    );
    set!(
        usrsctp_sysctl_set_sctp_delayed_sack_time_default,
        c.delayed_sack_ms
    );
    set!(usrsctp_sysctl_set_sctp_initial_cwnd, c.initial_cwnd);
    set!(usrsctp_sysctl_set_sctp_sendspace, c.send_space);
    set!(usrsctp_sysctl_set_sctp_recvspace, c.recv_space);
    set!(
        usrsctp_sysctl_set_sctp_max_chunks_on_queue,
        c.max_chunks_on_queue
    );
    if let Some(cc) = c.default_cc_module {
        set!(usrsctp_sysctl_set_sctp_default_cc_module, cc);
    }
    set!(usrsctp_sysctl_set_sctp_debug_on, c.debug_mask);
    Ok(())
}

/// `addr` is known to usrsctp while registered.
pub(crate) fn register_address(addr: ConnAddr) {
    // SAFETY: the "address" is an integer usrsctp stores and compares, never dereferences.
    unsafe { sys::usrsctp_register_address(addr.as_ptr()) };
}

/// Forgets `addr`.
pub(crate) fn deregister_address(addr: ConnAddr) {
    // SAFETY: as for register_address.
    unsafe { sys::usrsctp_deregister_address(addr.as_ptr()) };
}

/// Feeds a packet received for the association at `addr` (whose destination port is the
/// association's port inside usrsctp).
pub(crate) fn conninput(addr: ConnAddr, packet: &[u8]) {
    // SAFETY: `packet` is valid for its length during the call; usrsctp copies it.
    unsafe { sys::usrsctp_conninput(addr.as_ptr(), packet.as_ptr().cast(), packet.len(), 0) };
}
