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
//!
//! Targets: `struct sockaddr_conn` has the layout `usrsctp.h` gives it on each platform (with a
//! length byte on Apple targets and the BSDs, without one elsewhere). Windows is not supported:
//! the crate refuses to compile there, saying why.
#![allow(non_camel_case_types)]
#![warn(missing_docs)]

// On Windows usrsctp.h is built on Winsock: `socklen_t` and the sockaddr types come from
// ws2tcpip.h, `ssize_t` is defined as `int`/`__int64`, and the header sets its own `MSG_EOR`
// (0x8) and `SHUT_*` (1..3). These bindings take those from the `libc` crate, which has no
// `sockaddr_in`, `sockaddr_in6`, `sockaddr_storage`, `socklen_t` or `MSG_EOR` for Windows: they
// could not match the header there. (`sockaddr_conn` itself has the Linux layout on Windows.)
#[cfg(windows)]
compile_error!(
    "usrsctp-sys does not support Windows: usrsctp.h uses Winsock's types there (socklen_t, \
     sockaddr_in, sockaddr_in6, sockaddr_storage from ws2tcpip.h) and Windows-only values \
     (MSG_EOR = 0x8, SHUT_RD/WR/RDWR = 1/2/3), while these bindings take those from the libc \
     crate, which does not provide them for Windows. Supported: Linux, Android, and the other \
     Unix targets (Apple targets and the BSDs with their sconn_len form of sockaddr_conn)."
);

mod constants;
mod functions;
mod types;

pub use constants::*;
pub use functions::*;
pub use types::*;

/// Which usrsctp this crate links: `"vendored"` (compiled from a source tree by the build
/// script, AF_CONN only) or `"system"` (the library found through pkg-config, which on Debian is
/// built with `INET`/`INET6` and so may open raw SCTP sockets in threaded mode when run as root).
/// `"none"` in a documentation-only build (`DOCS_RS` set, as on docs.rs), which links nothing.
pub const SOURCE: &str = env!("USRSCTP_SYS_SOURCE");

/// The usrsctp release linked, as reported by the source tree's build files or by pkg-config
/// (`"0.9.5.0"` for the release these bindings are written against).
pub const VERSION: &str = env!("USRSCTP_SYS_VERSION");

/// Our own patches (from the repository's `vendor/patches/`) that the linked usrsctp carries, by
/// name; none for the system library or an unpatched source tree. The build script lists a
/// patch when the compiled source holds the marker the patch adds, so this reflects the code
/// actually built (see `vendor/README.md`):
/// - `pending-reset-after-cum-ack`: a peer's stream reset that waits for missing DATA
///   completes once the gap is filled;
/// - `callout-wheel`: a timer run visits only the timers of the ticks that passed, not every
///   pending one (idle cost no longer grows with the number of associations);
/// - `vrf-addr-hash`: 1,024 buckets for usrsctp's address table instead of 16 (registering one
///   AF_CONN address per association stays cheap with thousands of them).
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
    fn sockaddr_conn_new_fills_the_header_fields() {
        let token = 0x1234_usize as *mut core::ffi::c_void;
        let a = sockaddr_conn::new(5000, token);
        assert_eq!(i32::from(a.sconn_family), AF_CONN);
        assert_eq!(a.sconn_port, 5000u16.to_be());
        assert_eq!(u16::from_be(a.sconn_port), 5000);
        assert_eq!(a.sconn_addr, token);
        #[cfg(usrsctp_sconn_len)]
        assert_eq!(usize::from(a.sconn_len), size_of::<sockaddr_conn>());
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
