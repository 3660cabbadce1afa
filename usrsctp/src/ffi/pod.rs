//! Plain C data: the structs usrsctp reads and writes, zero-initialised and decoded from bytes
//! without undefined behaviour.

use std::mem::{size_of, zeroed};
use std::os::raw::c_int;
use std::ptr;

use usrsctp_sys as sys;

/// Plain C data (integers only): any bit pattern is a valid value, so it may be zero-initialised
/// and read from a byte buffer.
///
/// # Safety
/// Implement only for `#[repr(C)]` types whose fields are all integers or arrays of integers.
pub(crate) unsafe trait Pod: Copy {}

// SAFETY: all of these are #[repr(C)] structs of integer fields (layouts checked by systest).
unsafe impl Pod for sys::sctp_rcvinfo {}
unsafe impl Pod for sys::sctp_sendv_spa {}
unsafe impl Pod for sys::sctp_status {}
unsafe impl Pod for sys::sctp_initmsg {}
unsafe impl Pod for sys::sctp_assoc_value {}
unsafe impl Pod for sys::sctp_add_streams {}
unsafe impl Pod for sys::sctp_event {}
unsafe impl Pod for sys::sctp_paddrparams {}
unsafe impl Pod for sys::sctp_tlv {}
unsafe impl Pod for sys::sctp_assoc_change {}
unsafe impl Pod for sys::sctp_send_failed_event {}
unsafe impl Pod for sys::sctp_stream_reset_event {}
unsafe impl Pod for sys::sctp_stream_change_event {}
unsafe impl Pod for sys::sctp_remote_error {}
unsafe impl Pod for sys::sctp_pdapi_event {}
unsafe impl Pod for libc::linger {}
unsafe impl Pod for c_int {}

pub(crate) fn zeroed_pod<T: Pod>() -> T {
    // SAFETY: T is Pod: all-zero bytes are a valid value.
    unsafe { zeroed() }
}

/// Reads a `T` from the start of `bytes`, or `None` if `bytes` is too short.
pub(crate) fn read_pod<T: Pod>(bytes: &[u8]) -> Option<T> {
    if bytes.len() < size_of::<T>() {
        return None;
    }
    // SAFETY: the length was checked; T is Pod so any bytes are a valid T; read_unaligned
    // makes no alignment assumption about the buffer.
    Some(unsafe { ptr::read_unaligned(bytes.as_ptr() as *const T) })
}
