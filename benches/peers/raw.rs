//! usrsctp driven directly through `usrsctp-sys`, on one thread: the limit of the wrapper's
//! design. Same library, same `usrsctp_init_nothreads(0, ..)` with the timers advanced by the
//! benchmark thread every 10 ms (as the wrapper's stack thread does), same sysctls and socket
//! options as the wrapper's defaults; no stack thread, no mailboxes, no copies beyond
//! usrsctp's own.
//!
//! The output callback only queues packets (feeding them back from inside the callback would
//! deadlock on the locks usrsctp holds); the benchmark thread pumps the queue into
//! `usrsctp_conninput` of the other side between its sends and reads.

use std::collections::VecDeque;
use std::mem::{size_of, zeroed};
use std::os::raw::{c_int, c_uint, c_void};
use std::ptr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use usrsctp::{Stack, StackConfig};
use usrsctp_sys as sys;
use usrsctp_test_support::{checksum_ok, fill_checksum};

use super::payload;

const TOKEN_A: usize = 0xA;
const TOKEN_B: usize = 0xB;
const PORT: u16 = 5000;
/// Messages handed to usrsctp per burst between two pumps.
const SEND_BURST: usize = 256;
/// WebRTC binary PPID.
const PPID: u32 = 53;

static ACTIVE: AtomicBool = AtomicBool::new(false);
/// Packets usrsctp emitted, with the token (AF_CONN address) they were emitted for.
static PACKETS: Mutex<VecDeque<(usize, Vec<u8>)>> = Mutex::new(VecDeque::new());

/// The AF_CONN output callback: copies the packet into [`PACKETS`]; never calls usrsctp.
unsafe extern "C" fn raw_output(
    addr: *mut c_void,
    buffer: *mut c_void,
    length: usize,
    _tos: u8,
    _set_df: u8,
) -> c_int {
    let queued = std::panic::catch_unwind(|| {
        // SAFETY: usrsctp passes `length` readable bytes that live until we return; we copy.
        let mut bytes = unsafe { std::slice::from_raw_parts(buffer as *const u8, length) }.to_vec();
        fill_checksum(&mut bytes);
        match PACKETS.lock() {
            Ok(mut q) => {
                q.push_back((addr as usize, bytes));
                true
            }
            Err(_) => false,
        }
    });
    if matches!(queued, Ok(true)) {
        0
    } else {
        -1
    }
}

/// usrsctp initialised for the raw benchmark; `usrsctp_finish` on drop.
pub struct RawStack {
    /// When usrsctp's timers were last advanced (`usrsctp_init_nothreads`: this thread runs them).
    timers: Instant,
}

impl RawStack {
    /// True while the raw benchmark holds usrsctp.
    pub fn active() -> bool {
        ACTIVE.load(Ordering::SeqCst)
    }

    fn start() -> RawStack {
        assert!(
            Stack::running().is_none(),
            "shut the wrapper's Stack down before the raw benchmark"
        );
        assert!(
            !ACTIVE.swap(true, Ordering::SeqCst),
            "raw usrsctp started twice"
        );
        PACKETS.lock().expect("packet queue").clear();
        // SAFETY: usrsctp is not initialised (no Stack runs, no other RawStack); the callback
        // only copies and queues. Without threads, as the wrapper: this thread runs the timers.
        unsafe { sys::usrsctp_init_nothreads(0, Some(raw_output), None) };
        // The same CRC32c offload as the wrapper's stack (hardware CRC in our code instead of
        // usrsctp's software one): the checksum is filled in `raw_output` and verified before
        // `usrsctp_conninput`.
        // SAFETY: sets a usrsctp global; usrsctp is initialised.
        unsafe { sys::usrsctp_enable_crc32c_offload() };
        apply_sysctls(&StackConfig::default());
        // SAFETY: the tokens are integers usrsctp stores and compares, never dereferences.
        unsafe {
            sys::usrsctp_register_address(TOKEN_A as *mut c_void);
            sys::usrsctp_register_address(TOKEN_B as *mut c_void);
        }
        RawStack {
            timers: Instant::now(),
        }
    }

    /// Runs usrsctp's timers that fell due since the last call, once a tick has passed; whole
    /// milliseconds, the remainder carries over (as the wrapper's stack thread does).
    fn advance_timers(&mut self) {
        let elapsed = self.timers.elapsed();
        if elapsed < TIMER_TICK {
            return;
        }
        let ms = u32::try_from(elapsed.as_millis()).unwrap_or(u32::MAX);
        // SAFETY: usrsctp was initialised with `usrsctp_init_nothreads`; the benchmark thread is
        // the only one that calls usrsctp, and no lock of ours is held (the timers emit packets
        // through `raw_output`, which takes the queue lock).
        unsafe { sys::usrsctp_handle_timers(ms) };
        self.timers += Duration::from_millis(u64::from(ms));
    }
}

impl Drop for RawStack {
    fn drop(&mut self) {
        // SAFETY: the sockets were closed by the pair; the tokens were registered in start.
        unsafe {
            sys::usrsctp_deregister_address(TOKEN_A as *mut c_void);
            sys::usrsctp_deregister_address(TOKEN_B as *mut c_void);
        }
        let start = Instant::now();
        // SAFETY: every socket is closed; finish fails (and is retried, running the timers
        // between tries) while usrsctp's timers are still tearing associations down.
        while unsafe { sys::usrsctp_finish() } != 0 {
            PACKETS.lock().expect("packet queue").clear();
            assert!(
                start.elapsed() < Duration::from_secs(30),
                "usrsctp_finish kept failing"
            );
            std::thread::sleep(TIMER_TICK);
            self.advance_timers();
        }
        PACKETS.lock().expect("packet queue").clear();
        ACTIVE.store(false, Ordering::SeqCst);
    }
}

/// The same stack-wide settings the wrapper applies (its `StackConfig::default()`).
fn apply_sysctls(c: &StackConfig) {
    // SAFETY: plain setters of usrsctp globals; usrsctp is initialised.
    unsafe {
        sys::usrsctp_sysctl_set_sctp_pr_enable(u32::from(c.pr_enable));
        sys::usrsctp_sysctl_set_sctp_ecn_enable(u32::from(c.ecn_enable));
        sys::usrsctp_sysctl_set_sctp_rto_max_default(c.rto_max_ms);
        sys::usrsctp_sysctl_set_sctp_rto_min_default(c.rto_min_ms);
        sys::usrsctp_sysctl_set_sctp_rto_initial_default(c.rto_initial_ms);
        sys::usrsctp_sysctl_set_sctp_init_rto_max_default(c.init_rto_max_ms);
        sys::usrsctp_sysctl_set_sctp_init_rtx_max_default(c.init_rtx_max);
        sys::usrsctp_sysctl_set_sctp_assoc_rtx_max_default(c.assoc_rtx_max);
        sys::usrsctp_sysctl_set_sctp_path_rtx_max_default(c.path_rtx_max);
        sys::usrsctp_sysctl_set_sctp_heartbeat_interval_default(c.heartbeat_interval_ms);
        sys::usrsctp_sysctl_set_sctp_delayed_sack_time_default(c.delayed_sack_ms);
        sys::usrsctp_sysctl_set_sctp_initial_cwnd(c.initial_cwnd);
        sys::usrsctp_sysctl_set_sctp_sendspace(c.send_space);
        sys::usrsctp_sysctl_set_sctp_recvspace(c.recv_space);
        sys::usrsctp_sysctl_set_sctp_max_chunks_on_queue(c.max_chunks_on_queue);
    }
}

fn conn_addr(token: usize) -> sys::sockaddr_conn {
    sys::sockaddr_conn::new(PORT, token as *mut c_void)
}

fn setsockopt<T>(sock: *mut sys::socket, level: c_int, name: c_int, value: &T) {
    // SAFETY: `sock` is live; `value` is a readable T of the stated size for the call.
    let rc = unsafe {
        sys::usrsctp_setsockopt(
            sock,
            level,
            name,
            (value as *const T).cast(),
            size_of::<T>() as libc::socklen_t,
        )
    };
    assert_eq!(
        rc,
        0,
        "setsockopt {name}: {}",
        std::io::Error::last_os_error()
    );
}

/// A non-blocking one-to-one AF_CONN socket with the wrapper's per-association options
/// (RECVRCVINFO, NODELAY, the default stream counts, MTU 1200 without PMTUD), bound to
/// (PORT, token) and connecting (simultaneous open).
fn open_socket(token: usize) -> *mut sys::socket {
    let cfg = usrsctp::AssociationConfig::default();
    // SAFETY: plain call; NULL callbacks select the non-callback API; checked below.
    let sock = unsafe {
        sys::usrsctp_socket(
            sys::AF_CONN,
            libc::SOCK_STREAM,
            sys::IPPROTO_SCTP,
            None,
            None,
            0,
            ptr::null_mut(),
        )
    };
    assert!(!sock.is_null(), "usrsctp_socket failed");
    // SAFETY: `sock` is live.
    assert_eq!(unsafe { sys::usrsctp_set_non_blocking(sock, 1) }, 0);
    let on: c_int = 1;
    setsockopt(sock, sys::IPPROTO_SCTP, sys::SCTP_RECVRCVINFO, &on);
    setsockopt(sock, sys::IPPROTO_SCTP, sys::SCTP_NODELAY, &on);
    let init = sys::sctp_initmsg {
        sinit_num_ostreams: cfg.outbound_streams,
        sinit_max_instreams: cfg.inbound_streams,
        sinit_max_attempts: 0,
        sinit_max_init_timeo: 0,
    };
    setsockopt(sock, sys::IPPROTO_SCTP, sys::SCTP_INITMSG, &init);
    // SAFETY: sctp_paddrparams is plain C data (integers and a sockaddr_storage): all-zero is
    // a valid value.
    let mut paddr: sys::sctp_paddrparams = unsafe { zeroed() };
    paddr.spp_flags = sys::SPP_PMTUD_DISABLE | sys::SPP_HB_ENABLE;
    paddr.spp_pathmtu = cfg.mtu;
    paddr.spp_hbinterval = StackConfig::default().heartbeat_interval_ms;
    setsockopt(sock, sys::IPPROTO_SCTP, sys::SCTP_PEER_ADDR_PARAMS, &paddr);
    let addr = conn_addr(token);
    let len = size_of::<sys::sockaddr_conn>() as libc::socklen_t;
    // SAFETY: `sock` is live; `addr` is a valid sockaddr_conn of `len` bytes.
    let rc = unsafe {
        sys::usrsctp_bind(
            sock,
            (&addr as *const sys::sockaddr_conn) as *mut libc::sockaddr,
            len,
        )
    };
    assert_eq!(rc, 0, "usrsctp_bind: {}", std::io::Error::last_os_error());
    // SAFETY: as for bind.
    let rc = unsafe {
        sys::usrsctp_connect(
            sock,
            (&addr as *const sys::sockaddr_conn) as *mut libc::sockaddr,
            len,
        )
    };
    if rc != 0 {
        let err = std::io::Error::last_os_error();
        assert_eq!(
            err.raw_os_error(),
            Some(libc::EINPROGRESS),
            "connect: {err}"
        );
    }
    sock
}

fn established(sock: *mut sys::socket) -> bool {
    // SAFETY: sctp_status is plain C data (integers): all-zero is a valid value.
    let mut status: sys::sctp_status = unsafe { zeroed() };
    let mut len = size_of::<sys::sctp_status>() as libc::socklen_t;
    // SAFETY: `sock` is live; `status` is a writable sctp_status of `len` bytes.
    let rc = unsafe {
        sys::usrsctp_getsockopt(
            sock,
            sys::IPPROTO_SCTP,
            sys::SCTP_STATUS,
            (&mut status as *mut sys::sctp_status).cast(),
            &mut len,
        )
    };
    rc == 0 && status.sstat_state == sys::SCTP_ESTABLISHED
}

/// How often the benchmark thread runs usrsctp's timers (the wrapper's stack thread: the same).
const TIMER_TICK: Duration = Duration::from_millis(10);

/// Runs due timers, then feeds every queued packet to the other side; returns how many.
fn pump(scratch: &mut VecDeque<(usize, Vec<u8>)>, usrsctp: &mut RawStack) -> usize {
    usrsctp.advance_timers();
    let mut n = 0;
    loop {
        // Take the whole queue at once; never hold the lock while calling usrsctp (conninput
        // emits packets synchronously through the callback, which takes it).
        std::mem::swap(scratch, &mut *PACKETS.lock().expect("packet queue"));
        if scratch.is_empty() {
            return n;
        }
        for (from, bytes) in scratch.drain(..) {
            let to = if from == TOKEN_A { TOKEN_B } else { TOKEN_A };
            // Offload is on: verify here, as the wrapper's `Association::input` does.
            assert!(
                checksum_ok(&bytes),
                "a packet with a wrong checksum on the in-memory wire"
            );
            // SAFETY: `bytes` is live for the call; usrsctp copies it; the token is registered.
            unsafe {
                sys::usrsctp_conninput(to as *mut c_void, bytes.as_ptr().cast(), bytes.len(), 0)
            };
            n += 1;
        }
    }
}

/// Hands one message to usrsctp; false if its send buffer is full.
fn send(sock: *mut sys::socket, data: &[u8]) -> bool {
    let mut info = sys::sctp_sndinfo {
        snd_sid: 0,
        snd_flags: 0,
        snd_ppid: PPID.to_be(),
        snd_context: 0,
        snd_assoc_id: 0,
    };
    // SAFETY: `sock` is live; `data` and `info` are valid for the call and not kept.
    let n = unsafe {
        sys::usrsctp_sendv(
            sock,
            data.as_ptr().cast(),
            data.len(),
            ptr::null_mut(),
            0,
            (&mut info as *mut sys::sctp_sndinfo).cast(),
            size_of::<sys::sctp_sndinfo>() as libc::socklen_t,
            sys::SCTP_SENDV_SNDINFO,
            0,
        )
    };
    if n < 0 {
        let err = std::io::Error::last_os_error();
        assert_eq!(
            err.kind(),
            std::io::ErrorKind::WouldBlock,
            "usrsctp_sendv: {err}"
        );
        return false;
    }
    true
}

/// Reads one piece; `None` when nothing is ready, `Some((len, end_of_message))` otherwise.
fn recv(sock: *mut sys::socket, buf: &mut [u8]) -> Option<(usize, bool)> {
    let mut from = conn_addr(0);
    let mut fromlen = size_of::<sys::sockaddr_conn>() as libc::socklen_t;
    let mut info = sys::sctp_rcvinfo::default();
    let mut infolen = size_of::<sys::sctp_rcvinfo>() as libc::socklen_t;
    let mut infotype: c_uint = 0;
    let mut flags: c_int = 0;
    // SAFETY: every out-pointer refers to a live local of the stated size.
    let n = unsafe {
        sys::usrsctp_recvv(
            sock,
            buf.as_mut_ptr().cast(),
            buf.len(),
            (&mut from as *mut sys::sockaddr_conn).cast(),
            &mut fromlen,
            (&mut info as *mut sys::sctp_rcvinfo).cast(),
            &mut infolen,
            &mut infotype,
            &mut flags,
        )
    };
    if n < 0 {
        return None;
    }
    if flags & sys::MSG_NOTIFICATION != 0 {
        return Some((0, false));
    }
    Some((n as usize, flags & libc::MSG_EOR != 0))
}

/// Two connected sockets, A and B, and the buffers of the benchmark thread.
pub struct RawPair {
    a: *mut sys::socket,
    b: *mut sys::socket,
    data: Vec<u8>,
    buf: Vec<u8>,
    scratch: VecDeque<(usize, Vec<u8>)>,
    // Dropped last: usrsctp_finish after the sockets are closed.
    usrsctp: RawStack,
}

impl RawPair {
    /// Initialises usrsctp, connects A and B, and prepares messages of `size` bytes.
    pub fn new(size: usize) -> RawPair {
        let usrsctp = RawStack::start();
        let a = open_socket(TOKEN_A);
        let b = open_socket(TOKEN_B);
        let mut pair = RawPair {
            a,
            b,
            data: payload(size),
            buf: vec![0; 256 * 1024],
            scratch: VecDeque::new(),
            usrsctp,
        };
        let deadline = Instant::now() + Duration::from_secs(10);
        while !(established(pair.a) && established(pair.b)) {
            pump(&mut pair.scratch, &mut pair.usrsctp);
            assert!(Instant::now() < deadline, "raw pair did not connect");
            std::thread::yield_now();
        }
        pair
    }

    /// Pumps until one complete message was read from `sock`.
    fn read_message(&mut self, sock: *mut sys::socket) {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            pump(&mut self.scratch, &mut self.usrsctp);
            while let Some((_, eor)) = recv(sock, &mut self.buf) {
                if eor {
                    return;
                }
            }
            assert!(Instant::now() < deadline, "no message within 10 s");
        }
    }

    /// Sends `count` messages A → B and returns how long until B had them all.
    pub fn transfer(&mut self, count: u64) -> Duration {
        let start = Instant::now();
        let (mut sent, mut received) = (0u64, 0u64);
        while received < count {
            let mut burst = 0;
            while sent < count && burst < SEND_BURST && send(self.a, &self.data) {
                sent += 1;
                burst += 1;
            }
            pump(&mut self.scratch, &mut self.usrsctp);
            while let Some((n, eor)) = recv(self.b, &mut self.buf) {
                if eor && n > 0 {
                    received += 1;
                }
            }
            pump(&mut self.scratch, &mut self.usrsctp);
        }
        start.elapsed()
    }

    /// Times `iters` round trips: A sends, B reads and sends the same bytes back, A reads.
    pub fn ping(&mut self, iters: u64) -> Duration {
        let start = Instant::now();
        for _ in 0..iters {
            assert!(send(self.a, &self.data));
            self.read_message(self.b);
            assert!(send(self.b, &self.data));
            self.read_message(self.a);
        }
        start.elapsed()
    }
}

impl Drop for RawPair {
    fn drop(&mut self) {
        let linger = libc::linger {
            l_onoff: 1,
            l_linger: 0,
        };
        for sock in [self.a, self.b] {
            setsockopt(sock, libc::SOL_SOCKET, libc::SO_LINGER, &linger);
            // SAFETY: `sock` is live and closed exactly once.
            unsafe { sys::usrsctp_close(sock) };
        }
        pump(&mut self.scratch, &mut self.usrsctp);
    }
}
