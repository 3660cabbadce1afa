//! Raw FFI bindings to [usrsctp] 0.9.5.0, the userspace SCTP stack used by WebRTC data channels.
//!
//! Everything here is a hand-written transcription of `usrsctp.h` (no bindgen): types, structs
//! and functions keep their C names, fields keep their C names, constants keep their C names and
//! get the Rust type of the field or argument they are used with. Layouts and constant values
//! are checked against the real header by the `usrsctp-sys-systest` crate (ctest).
//!
//! Where the library comes from is decided by the build script: a source tree compiled for
//! AF_CONN only (`vendored`), or the system library found by pkg-config (`system`). [`SOURCE`]
//! and [`VERSION`] tell which one was linked.
//!
//! All functions are `unsafe`: they are the C API, with its pointer and threading rules. The safe
//! wrapper lives in the `usrsctp` crate.
//!
//! [usrsctp]: https://github.com/sctplab/usrsctp
#![allow(non_camel_case_types)]
#![warn(missing_docs)]

mod constants;
mod functions;
mod types;

pub use constants::*;
pub use functions::*;
pub use types::*;

/// Which usrsctp this crate links: `"vendored"` (compiled from a source tree by the build
/// script, AF_CONN only) or `"system"` (the library found through pkg-config, which on Debian is
/// built with `INET`/`INET6` and so may open raw SCTP sockets in threaded mode when run as root).
pub const SOURCE: &str = env!("USRSCTP_SYS_SOURCE");

/// The usrsctp release linked, as reported by the source tree's build files or by pkg-config
/// (`"0.9.5.0"` for the release these bindings are written against).
pub const VERSION: &str = env!("USRSCTP_SYS_VERSION");

/// Our own patches (from the repository's `vendor/patches/`) that the linked usrsctp carries, by
/// name; none for the system library or an unpatched source tree. The build script lists a
/// patch when the compiled source holds the marker the patch adds, so this reflects the code
/// actually built. `pending-reset-after-cum-ack`: a peer's stream reset that waits for missing
/// DATA completes once the gap is filled (see `vendor/README.md`).
///
/// (A function rather than a constant: the ctest layout check translates every constant to C.)
///
/// ```
/// let fixed = usrsctp_sys::patches().any(|p| p == "pending-reset-after-cum-ack");
/// println!("peer stream resets after a loss complete: {fixed}");
/// ```
pub fn patches() -> impl Iterator<Item = &'static str> {
    const NAMES: &str = match option_env!("USRSCTP_SYS_PATCHES") {
        Some(names) => names,
        None => "",
    };
    NAMES.split(',').filter(|name| !name.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;
    use core::mem::{align_of, offset_of, size_of};

    #[test]
    fn source_and_version_are_known() {
        assert!(SOURCE == "vendored" || SOURCE == "system", "{SOURCE}");
        #[cfg(usrsctp_vendored)]
        assert_eq!(SOURCE, "vendored");
        assert!(VERSION.starts_with("0.9.5"), "{VERSION}");
        if SOURCE == "system" {
            assert_eq!(
                patches().count(),
                0,
                "the system library carries none of our patches"
            );
        }
    }

    // A few spot checks that do not need a C compiler; the full check is usrsctp-sys-systest.
    #[test]
    fn spot_layouts() {
        assert_eq!(size_of::<sctp_common_header>(), 12);
        assert_eq!(align_of::<sctp_common_header>(), 1);
        assert_eq!(size_of::<sockaddr_conn>(), 16);
        assert_eq!(offset_of!(sockaddr_conn, sconn_addr), 8);
        assert_eq!(size_of::<sctp_rcvinfo>(), 28);
        assert_eq!(size_of::<sctp_sndinfo>(), 16);
        assert_eq!(size_of::<sctp_prinfo>(), 8);
        assert_eq!(size_of::<sctp_sendv_spa>(), 32);
        assert_eq!(size_of::<sctp_assoc_change>(), 20);
        assert_eq!(size_of::<sctp_prstatus>(), 24);
        assert_eq!(size_of::<sctp_sockstore>(), 32);
    }

    #[test]
    fn pr_sctp_helpers() {
        assert_eq!(PR_SCTP_POLICY(0x0103), SCTP_PR_SCTP_RTX);
        assert!(PR_SCTP_ENABLED(SCTP_PR_SCTP_TTL));
        assert!(!PR_SCTP_ENABLED(SCTP_PR_SCTP_NONE));
        assert!(PR_SCTP_TTL_ENABLED(SCTP_PR_SCTP_TTL));
        assert!(PR_SCTP_BUF_ENABLED(SCTP_PR_SCTP_BUF));
        assert!(PR_SCTP_RTX_ENABLED(SCTP_PR_SCTP_RTX));
        assert!(PR_SCTP_INVALID_POLICY(0x0004));
        assert!(INVALID_SINFO_FLAG(0x0040));
        assert!(!INVALID_SINFO_FLAG(SCTP_EOR | SCTP_UNORDERED));
    }
}
