//! End-to-end smoke test of the raw bindings: two AF_CONN sockets in one process, wired through
//! an in-memory packet queue, on a single thread (`usrsctp_init_nothreads` + timers driven by
//! the test). Simultaneous open, one message each way, clean close and `usrsctp_finish`.
//!
//! How AF_CONN addressing works here: `usrsctp_conninput(token, ..)` uses `token` as both the
//! source and the destination address of the packet, so each side names the link by its *own*
//! token: socket A binds to and connects to (5000, A), socket B to (5000, B). Packets usrsctp
//! emits for token A come from socket A and are fed to B as `usrsctp_conninput(B, ..)`, and the
//! other way round.

use std::collections::VecDeque;
use std::io;
use std::mem::{size_of, zeroed};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::ptr;
use std::sync::Mutex;
use std::thread::sleep;
use std::time::{Duration, Instant};

use libc::{c_int, c_uint, c_void, size_t, sockaddr, socklen_t};
use usrsctp_sys::*;

/// Address tokens of the two endpoints (any distinct non-null values work).
const TOKEN_A: usize = 0xA;
const TOKEN_B: usize = 0xB;
const PORT: u16 = 5000;
/// Payload protocol identifier used for both messages (WebRTC string).
const PPID: u32 = 51;
/// Upper bound for every wait in this test.
const DEADLINE: Duration = Duration::from_secs(10);

/// Packets emitted by usrsctp, tagged with the token they were emitted for.
static PACKETS: Mutex<VecDeque<(usize, Vec<u8>)>> = Mutex::new(VecDeque::new());

/// Output callback: copies the packet into [`PACKETS`]. It never calls back into usrsctp (that
/// would deadlock on the association lock usrsctp holds here) and never unwinds into C.
unsafe extern "C" fn conn_output(
    addr: *mut c_void,
    buffer: *mut c_void,
    length: size_t,
    _tos: u8,
    _set_df: u8,
) -> c_int {
    let queued = catch_unwind(AssertUnwindSafe(|| {
        // SAFETY: usrsctp passes a buffer of `length` readable bytes, valid during this call.
        let bytes = unsafe { std::slice::from_raw_parts(buffer as *const u8, length) }.to_vec();
        match PACKETS.lock() {
            Ok(mut queue) => {
                queue.push_back((addr as usize, bytes));
                true
            }
            Err(_) => false,
        }
    }));
    match queued {
        Ok(true) => 0,
        _ => -1,
    }
}

/// Delivers queued packets to the other side until the queue is empty. The queue lock is never
/// held while calling into usrsctp, since `usrsctp_conninput` may emit packets synchronously.
fn pump() -> usize {
    let mut delivered = 0;
    loop {
        let next = PACKETS.lock().expect("packet queue").pop_front();
        let Some((from, bytes)) = next else {
            return delivered;
        };
        let to = match from {
            TOKEN_A => TOKEN_B,
            TOKEN_B => TOKEN_A,
            other => panic!("packet for unknown token {other:#x}"),
        };
        // SAFETY: `bytes` is a live buffer of `bytes.len()` bytes; the token is registered.
        unsafe { usrsctp_conninput(to as *mut c_void, bytes.as_ptr().cast(), bytes.len(), 0) };
        delivered += 1;
    }
}

/// Drives the stack: delivers packets and advances timers by the real elapsed time.
struct Clock {
    last: Instant,
}

impl Clock {
    fn tick(&mut self) {
        pump();
        let elapsed = self.last.elapsed();
        let ms = elapsed.as_millis() as u32;
        if ms > 0 {
            self.last += Duration::from_millis(u64::from(ms));
            // SAFETY: the stack is initialised (nothreads mode) and this is the only thread.
            unsafe { usrsctp_handle_timers(ms) };
        }
        pump();
    }

    /// Ticks until `done` returns true, panicking after [`DEADLINE`].
    fn run_until(&mut self, what: &str, mut done: impl FnMut() -> bool) {
        let start = Instant::now();
        while !done() {
            assert!(start.elapsed() < DEADLINE, "timed out waiting for {what}");
            self.tick();
            sleep(Duration::from_millis(1));
        }
    }
}

fn conn_addr(token: usize) -> sockaddr_conn {
    sockaddr_conn {
        sconn_family: AF_CONN as u16,
        sconn_port: PORT.to_be(),
        sconn_addr: token as *mut c_void,
    }
}

/// Creates a non-blocking one-to-one socket bound to (PORT, token) with receive info enabled.
fn open_socket(token: usize) -> *mut socket {
    // SAFETY: plain FFI calls on a socket we own; all pointers refer to live locals.
    unsafe {
        let sock = usrsctp_socket(
            AF_CONN,
            libc::SOCK_STREAM,
            IPPROTO_SCTP,
            None,
            None,
            0,
            ptr::null_mut(),
        );
        assert!(
            !sock.is_null(),
            "usrsctp_socket: {}",
            io::Error::last_os_error()
        );
        assert_eq!(usrsctp_set_non_blocking(sock, 1), 0);
        assert_eq!(usrsctp_get_non_blocking(sock), 1);
        let on: c_int = 1;
        let rc = usrsctp_setsockopt(
            sock,
            IPPROTO_SCTP,
            SCTP_RECVRCVINFO,
            (&on as *const c_int).cast(),
            size_of::<c_int>() as socklen_t,
        );
        assert_eq!(rc, 0, "SCTP_RECVRCVINFO: {}", io::Error::last_os_error());
        let mut addr = conn_addr(token);
        let rc = usrsctp_bind(
            sock,
            (&mut addr as *mut sockaddr_conn).cast::<sockaddr>(),
            size_of::<sockaddr_conn>() as socklen_t,
        );
        assert_eq!(rc, 0, "usrsctp_bind: {}", io::Error::last_os_error());
        sock
    }
}

fn connect(sock: *mut socket, token: usize) {
    let mut addr = conn_addr(token);
    // SAFETY: `sock` is a live socket; `addr` is a valid sockaddr_conn of the given length.
    let rc = unsafe {
        usrsctp_connect(
            sock,
            (&mut addr as *mut sockaddr_conn).cast::<sockaddr>(),
            size_of::<sockaddr_conn>() as socklen_t,
        )
    };
    if rc != 0 {
        let err = io::Error::last_os_error();
        assert_eq!(
            err.raw_os_error(),
            Some(libc::EINPROGRESS),
            "usrsctp_connect: {err}"
        );
    }
}

fn state(sock: *mut socket) -> i32 {
    // SAFETY: `sctp_status` is plain old data; getsockopt writes at most `len` bytes into it.
    unsafe {
        let mut status: sctp_status = zeroed();
        let mut len = size_of::<sctp_status>() as socklen_t;
        let rc = usrsctp_getsockopt(
            sock,
            IPPROTO_SCTP,
            SCTP_STATUS,
            (&mut status as *mut sctp_status).cast(),
            &mut len,
        );
        if rc != 0 {
            return -1;
        }
        status.sstat_state
    }
}

fn send(sock: *mut socket, payload: &[u8]) {
    let mut info = sctp_sndinfo {
        snd_sid: 0,
        snd_flags: 0,
        snd_ppid: PPID.to_be(),
        snd_context: 0,
        snd_assoc_id: 0,
    };
    // SAFETY: `payload` and `info` are live for the call; lengths match the buffers.
    let sent = unsafe {
        usrsctp_sendv(
            sock,
            payload.as_ptr().cast(),
            payload.len(),
            ptr::null_mut(),
            0,
            (&mut info as *mut sctp_sndinfo).cast(),
            size_of::<sctp_sndinfo>() as socklen_t,
            SCTP_SENDV_SNDINFO,
            0,
        )
    };
    assert_eq!(
        sent,
        payload.len() as isize,
        "usrsctp_sendv: {}",
        io::Error::last_os_error()
    );
}

/// Tries to receive one message; `None` when nothing is ready yet (EWOULDBLOCK).
fn try_recv(sock: *mut socket) -> Option<(Vec<u8>, sctp_rcvinfo, c_uint, c_int)> {
    let mut buf = [0u8; 2048];
    // SAFETY: all out-pointers refer to live locals of the sizes passed alongside them.
    unsafe {
        let mut from: sockaddr_conn = zeroed();
        let mut fromlen = size_of::<sockaddr_conn>() as socklen_t;
        let mut info = sctp_rcvinfo::default();
        let mut infolen = size_of::<sctp_rcvinfo>() as socklen_t;
        let mut infotype: c_uint = 0;
        let mut flags: c_int = 0;
        let n = usrsctp_recvv(
            sock,
            buf.as_mut_ptr().cast(),
            buf.len(),
            (&mut from as *mut sockaddr_conn).cast::<sockaddr>(),
            &mut fromlen,
            (&mut info as *mut sctp_rcvinfo).cast(),
            &mut infolen,
            &mut infotype,
            &mut flags,
        );
        if n < 0 {
            let err = io::Error::last_os_error();
            assert_eq!(
                err.kind(),
                io::ErrorKind::WouldBlock,
                "usrsctp_recvv: {err}"
            );
            return None;
        }
        Some((buf[..n as usize].to_vec(), info, infotype, flags))
    }
}

fn expect_message(clock: &mut Clock, sock: *mut socket, expected: &[u8]) {
    let mut got = None;
    clock.run_until("a message", || {
        got = try_recv(sock);
        got.is_some()
    });
    let (data, info, infotype, flags) = got.expect("message");
    assert_eq!(flags & MSG_NOTIFICATION, 0, "unexpected notification");
    assert_ne!(flags & MSG_EOR, 0, "message should be complete");
    assert_eq!(infotype, SCTP_RECVV_RCVINFO);
    assert_eq!(u32::from_be(info.rcv_ppid), PPID);
    assert_eq!(info.rcv_sid, 0);
    assert_eq!(data, expected);
}

#[test]
fn two_af_conn_sockets_talk_on_one_thread() {
    // SAFETY: single-threaded use of the global stack; the callback is infallible and
    // unwind-free; tokens are plain integers, never dereferenced by usrsctp.
    unsafe {
        usrsctp_init_nothreads(0, Some(conn_output), None);
        // A sysctl round trip (SCTP_DEBUG builds, both vendored and Debian's, have this one).
        assert_eq!(usrsctp_sysctl_set_sctp_debug_on(SCTP_DEBUG_NONE), 0);
        assert_eq!(usrsctp_sysctl_get_sctp_debug_on(), SCTP_DEBUG_NONE);
        usrsctp_register_address(TOKEN_A as *mut c_void);
        usrsctp_register_address(TOKEN_B as *mut c_void);
    }
    let mut clock = Clock {
        last: Instant::now(),
    };

    let a = open_socket(TOKEN_A);
    let b = open_socket(TOKEN_B);

    // Simultaneous open: each side connects to the link named by its own token.
    connect(a, TOKEN_A);
    connect(b, TOKEN_B);
    clock.run_until("both associations established", || {
        state(a) == SCTP_ESTABLISHED && state(b) == SCTP_ESTABLISHED
    });
    // SAFETY: live sockets.
    unsafe {
        assert_ne!(usrsctp_get_events(a) & SCTP_EVENT_WRITE, 0);
        assert_ne!(usrsctp_get_events(b) & SCTP_EVENT_WRITE, 0);
    }

    send(a, b"hello from a");
    expect_message(&mut clock, b, b"hello from a");
    send(b, b"hello from b");
    expect_message(&mut clock, a, b"hello from b");

    // SAFETY: the sockets are not used after close.
    unsafe {
        usrsctp_close(a);
        usrsctp_close(b);
    }
    // Let the SHUTDOWN exchange run before the addresses go away.
    let start = Instant::now();
    while start.elapsed() < Duration::from_millis(200) {
        clock.tick();
        sleep(Duration::from_millis(1));
    }
    // SAFETY: the tokens were registered above.
    unsafe {
        usrsctp_deregister_address(TOKEN_A as *mut c_void);
        usrsctp_deregister_address(TOKEN_B as *mut c_void);
    }
    // SAFETY: all sockets are closed; finish is retried until the stack has torn down.
    clock.run_until("usrsctp_finish", || unsafe { usrsctp_finish() } == 0);
}
