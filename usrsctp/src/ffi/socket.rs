//! One usrsctp socket (one association): safe wrappers over the socket calls.

use std::mem::size_of;
use std::os::raw::{c_int, c_uint, c_void};
use std::ptr;

use usrsctp_sys as sys;

use super::pod::{zeroed_pod, Pod};
use super::{check, id_to_addr, ConnAddr};
use crate::config::{AssociationConfig, Reliability};
use crate::errno::Errno;
use crate::error::Error;
use crate::event::AssocId;

/// How one message is to be sent: everything `usrsctp_sendv` needs besides the bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct SendInfo {
    pub(crate) stream: u16,
    /// Host byte order.
    pub(crate) ppid: u32,
    pub(crate) unordered: bool,
    pub(crate) reliability: Reliability,
    /// The SCTP send context: the message's `MessageId`, echoed in SEND_FAILED.
    pub(crate) context: u32,
}

fn conn_addr(port: u16, addr: ConnAddr) -> sys::sockaddr_conn {
    sys::sockaddr_conn::new(port, addr.as_ptr())
}

/// What one `recvv` returned.
pub(crate) struct Received {
    pub(crate) len: usize,
    pub(crate) flags: c_int,
    pub(crate) info: Option<sys::sctp_rcvinfo>,
}

/// An open usrsctp socket (one association). Not `Send`: it lives on the stack thread.
pub(crate) struct RawSocket {
    raw: *mut sys::socket,
    id: AssocId,
    /// The AF_CONN address it binds and connects to (the peer's is the same: one wire).
    addr: ConnAddr,
}

impl RawSocket {
    /// Creates a non-blocking one-to-one AF_CONN socket whose upcall is `upcall`, called with
    /// `id` as its argument, to be bound to `addr`.
    pub(crate) fn open(
        id: AssocId,
        addr: ConnAddr,
        upcall: sys::usrsctp_upcall_fn,
    ) -> Result<RawSocket, Error> {
        // SAFETY: plain call; NULL callbacks select upcall mode; we check the result.
        let raw = unsafe {
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
        if raw.is_null() {
            return Err(Error::Usrsctp {
                op: "usrsctp_socket",
                assoc: Some(id),
                errno: Errno::last(),
            });
        }
        let sock = RawSocket { raw, id, addr };
        // SAFETY: `raw` is a live socket; the upcall argument is an integer, never dereferenced.
        let rc = unsafe { sys::usrsctp_set_upcall(raw, Some(upcall), id_to_addr(id)) };
        check("usrsctp_set_upcall", id, rc)?;
        // SAFETY: `raw` is a live socket.
        let rc = unsafe { sys::usrsctp_set_non_blocking(raw, 1) };
        check("usrsctp_set_non_blocking", id, rc)?;
        Ok(sock)
    }

    pub(crate) fn setsockopt<T: Pod>(
        &self,
        op: &'static str,
        level: c_int,
        name: c_int,
        value: &T,
    ) -> Result<(), Error> {
        self.setsockopt_bytes(op, level, name, (value as *const T).cast(), size_of::<T>())
    }

    fn setsockopt_bytes(
        &self,
        op: &'static str,
        level: c_int,
        name: c_int,
        ptr: *const c_void,
        len: usize,
    ) -> Result<(), Error> {
        // SAFETY: `raw` is live; `ptr` points at `len` readable bytes for the call.
        let rc =
            unsafe { sys::usrsctp_setsockopt(self.raw, level, name, ptr, len as libc::socklen_t) };
        check(op, self.id, rc)
    }

    pub(crate) fn getsockopt<T: Pod>(
        &self,
        op: &'static str,
        level: c_int,
        name: c_int,
    ) -> Result<T, Error> {
        let mut value: T = zeroed_pod();
        let mut len = size_of::<T>() as libc::socklen_t;
        // SAFETY: `raw` is live; `value` is a writable T of `len` bytes.
        let rc = unsafe {
            sys::usrsctp_getsockopt(
                self.raw,
                level,
                name,
                (&mut value as *mut T).cast(),
                &mut len,
            )
        };
        check(op, self.id, rc)?;
        Ok(value)
    }

    /// Applies the per-association options, before `bind`/`connect`.
    pub(crate) fn configure(
        &self,
        cfg: &AssociationConfig,
        heartbeat_ms: u32,
    ) -> Result<(), Error> {
        let ipproto = sys::IPPROTO_SCTP;
        let on: c_int = 1;
        self.setsockopt(
            "setsockopt(SCTP_RECVRCVINFO)",
            ipproto,
            sys::SCTP_RECVRCVINFO,
            &on,
        )?;
        self.setsockopt("setsockopt(SCTP_NODELAY)", ipproto, sys::SCTP_NODELAY, &on)?;
        let reset = sys::sctp_assoc_value {
            assoc_id: sys::SCTP_ALL_ASSOC,
            // Stream resets (data channels close this way) and Add Streams requests
            // (RFC 6525 §5.1.5, §5.1.6; streams grown on demand).
            assoc_value: sys::SCTP_ENABLE_RESET_STREAM_REQ | sys::SCTP_ENABLE_CHANGE_ASSOC_REQ,
        };
        self.setsockopt(
            "setsockopt(SCTP_ENABLE_STREAM_RESET)",
            ipproto,
            sys::SCTP_ENABLE_STREAM_RESET,
            &reset,
        )?;
        for kind in [
            sys::SCTP_ASSOC_CHANGE,
            sys::SCTP_REMOTE_ERROR,
            sys::SCTP_SHUTDOWN_EVENT,
            sys::SCTP_PARTIAL_DELIVERY_EVENT,
            sys::SCTP_SEND_FAILED_EVENT,
            sys::SCTP_STREAM_RESET_EVENT,
            sys::SCTP_STREAM_CHANGE_EVENT,
        ] {
            let ev = sys::sctp_event {
                se_assoc_id: sys::SCTP_ALL_ASSOC,
                se_type: kind,
                se_on: 1,
            };
            self.setsockopt("setsockopt(SCTP_EVENT)", ipproto, sys::SCTP_EVENT, &ev)?;
        }
        let init = sys::sctp_initmsg {
            sinit_num_ostreams: cfg.outbound_streams,
            sinit_max_instreams: cfg.inbound_streams,
            sinit_max_attempts: 0,
            sinit_max_init_timeo: 0,
        };
        self.setsockopt(
            "setsockopt(SCTP_INITMSG)",
            ipproto,
            sys::SCTP_INITMSG,
            &init,
        )?;
        // RFC 8261 §5: no path MTU discovery over DTLS; a fixed MTU instead.
        let mut paddr: sys::sctp_paddrparams = zeroed_pod();
        paddr.spp_flags = sys::SPP_PMTUD_DISABLE | sys::SPP_HB_ENABLE;
        paddr.spp_pathmtu = cfg.mtu;
        paddr.spp_hbinterval = heartbeat_ms;
        self.setsockopt(
            "setsockopt(SCTP_PEER_ADDR_PARAMS)",
            ipproto,
            sys::SCTP_PEER_ADDR_PARAMS,
            &paddr,
        )?;
        if let Some(bytes) = cfg.send_buffer {
            let v = bytes.min(i32::MAX as u32) as c_int;
            self.setsockopt(
                "setsockopt(SO_SNDBUF)",
                libc::SOL_SOCKET,
                libc::SO_SNDBUF,
                &v,
            )?;
        }
        if let Some(bytes) = cfg.recv_buffer {
            let v = bytes.min(i32::MAX as u32) as c_int;
            self.setsockopt(
                "setsockopt(SO_RCVBUF)",
                libc::SOL_SOCKET,
                libc::SO_RCVBUF,
                &v,
            )?;
        }
        Ok(())
    }

    pub(crate) fn bind(&self, port: u16) -> Result<(), Error> {
        let addr = conn_addr(port, self.addr);
        let len = size_of::<sys::sockaddr_conn>() as libc::socklen_t;
        // SAFETY: `raw` is live; `addr` is a valid sockaddr_conn of `len` bytes.
        let rc = unsafe {
            sys::usrsctp_bind(
                self.raw,
                (&addr as *const sys::sockaddr_conn) as *mut libc::sockaddr,
                len,
            )
        };
        check("usrsctp_bind", self.id, rc)
    }

    /// Starts the handshake (EINPROGRESS is the expected non-blocking answer).
    pub(crate) fn connect(&self, port: u16) -> Result<(), Error> {
        let addr = conn_addr(port, self.addr);
        let len = size_of::<sys::sockaddr_conn>() as libc::socklen_t;
        // SAFETY: `raw` is live; `addr` is a valid sockaddr_conn of `len` bytes.
        let rc = unsafe {
            sys::usrsctp_connect(
                self.raw,
                (&addr as *const sys::sockaddr_conn) as *mut libc::sockaddr,
                len,
            )
        };
        if rc < 0 {
            let errno = Errno::last();
            if errno.0 != libc::EINPROGRESS {
                return Err(Error::Usrsctp {
                    op: "usrsctp_connect",
                    assoc: Some(self.id),
                    errno,
                });
            }
        }
        Ok(())
    }

    /// Hands one message to SCTP. Err(EAGAIN) means the socket buffer is full.
    pub(crate) fn sendv(&self, data: &[u8], msg: &SendInfo) -> Result<(), Errno> {
        let mut spa: sys::sctp_sendv_spa = zeroed_pod();
        spa.sendv_flags = sys::SCTP_SEND_SNDINFO_VALID;
        spa.sendv_sndinfo.snd_sid = msg.stream;
        spa.sendv_sndinfo.snd_flags = if msg.unordered {
            sys::SCTP_UNORDERED
        } else {
            0
        };
        // The PPID goes on the wire as given: usrsctp does no byte-order conversion.
        spa.sendv_sndinfo.snd_ppid = msg.ppid.to_be();
        spa.sendv_sndinfo.snd_context = msg.context;
        match msg.reliability {
            Reliability::Reliable => {}
            Reliability::MaxRetransmits(n) => {
                spa.sendv_flags |= sys::SCTP_SEND_PRINFO_VALID;
                spa.sendv_prinfo.pr_policy = sys::SCTP_PR_SCTP_RTX;
                spa.sendv_prinfo.pr_value = n;
            }
            Reliability::MaxLifetime(ms) => {
                spa.sendv_flags |= sys::SCTP_SEND_PRINFO_VALID;
                spa.sendv_prinfo.pr_policy = sys::SCTP_PR_SCTP_TTL;
                spa.sendv_prinfo.pr_value = ms;
            }
        }
        self.sendv_spa(data, &mut spa)
    }

    /// `usrsctp_sendv` with send parameters `spa`. usrsctp refuses a null data pointer
    /// (EFAULT) even with no data, so `data` is always a real slice.
    fn sendv_spa(&self, data: &[u8], spa: &mut sys::sctp_sendv_spa) -> Result<(), Errno> {
        let nothing = [0u8; 1];
        let ptr = if data.is_empty() {
            nothing.as_ptr()
        } else {
            data.as_ptr()
        };
        // SAFETY: `raw` is live; `ptr` points at `data.len()` readable bytes (or at a live byte
        // when there are none) and `spa` is valid for the call; usrsctp keeps neither.
        let n = unsafe {
            sys::usrsctp_sendv(
                self.raw,
                ptr.cast(),
                data.len(),
                ptr::null_mut(),
                0,
                (spa as *mut sys::sctp_sendv_spa).cast(),
                size_of::<sys::sctp_sendv_spa>() as libc::socklen_t,
                sys::SCTP_SENDV_SPA,
                0,
            )
        };
        if n < 0 {
            Err(Errno::last())
        } else {
            Ok(())
        }
    }

    /// Reads the next piece of a message or notification into `buf`.
    pub(crate) fn recvv(&self, buf: &mut [u8]) -> Result<Received, Errno> {
        let mut from = sys::sockaddr_conn::new(0, ptr::null_mut());
        let mut fromlen = size_of::<sys::sockaddr_conn>() as libc::socklen_t;
        let mut info: sys::sctp_rcvinfo = zeroed_pod();
        let mut infolen = size_of::<sys::sctp_rcvinfo>() as libc::socklen_t;
        let mut infotype: c_uint = 0;
        let mut flags: c_int = 0;
        // SAFETY: `raw` is live; every out-pointer refers to a local of the stated size.
        let n = unsafe {
            sys::usrsctp_recvv(
                self.raw,
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
            return Err(Errno::last());
        }
        let info = (infotype == sys::SCTP_RECVV_RCVINFO).then_some(info);
        Ok(Received {
            len: n as usize,
            flags,
            info,
        })
    }

    /// Requests an outgoing stream reset (RFC 6525); empty = all streams.
    pub(crate) fn reset_streams(&self, streams: &[u16]) -> Result<(), Error> {
        // struct sctp_reset_streams is a header followed by a flexible u16 array; build it in a
        // u16-aligned buffer.
        let header = size_of::<sys::sctp_reset_streams>();
        let total = header + 2 * streams.len();
        let mut words = vec![0u16; total.div_ceil(2)];
        let base = words.as_mut_ptr() as *mut u8;
        let head = sys::sctp_reset_streams {
            srs_assoc_id: sys::SCTP_ALL_ASSOC,
            srs_flags: sys::SCTP_STREAM_RESET_OUTGOING,
            srs_number_streams: streams.len() as u16,
            srs_stream_list: [],
        };
        // SAFETY: `words` holds `total` >= header bytes, aligned for u16 and (header being 4-byte
        // aligned) written unaligned; the list follows the header as the C layout has it.
        unsafe {
            ptr::write_unaligned(base as *mut sys::sctp_reset_streams, head);
            ptr::copy_nonoverlapping(
                streams.as_ptr() as *const u8,
                base.add(header),
                2 * streams.len(),
            );
        }
        self.setsockopt_bytes(
            "setsockopt(SCTP_RESET_STREAMS)",
            sys::IPPROTO_SCTP,
            sys::SCTP_RESET_STREAMS,
            base as *const c_void,
            total,
        )
    }

    /// Asks the peer for more streams (RFC 6525): `outbound` more of ours (Add Outgoing
    /// Streams) and `inbound` more of its, which are our incoming ones (Add Incoming Streams).
    /// The answer arrives as an `SCTP_STREAM_CHANGE_EVENT`. EALREADY while another request of
    /// ours is outstanding; EINVAL past 65,535 streams or our `inbound_streams`.
    pub(crate) fn add_streams(&self, inbound: u16, outbound: u16) -> Result<(), Error> {
        let add = sys::sctp_add_streams {
            // One-to-one socket: usrsctp takes its only association whatever the id.
            sas_assoc_id: 0,
            sas_instrms: inbound,
            sas_outstrms: outbound,
        };
        self.setsockopt(
            "setsockopt(SCTP_ADD_STREAMS)",
            sys::IPPROTO_SCTP,
            sys::SCTP_ADD_STREAMS,
            &add,
        )
    }

    /// Graceful shutdown of the sending side (SHUTDOWN once all data is acknowledged).
    pub(crate) fn shutdown_write(&self) -> Result<(), Error> {
        // SAFETY: `raw` is live.
        let rc = unsafe { sys::usrsctp_shutdown(self.raw, libc::SHUT_WR) };
        check("usrsctp_shutdown", self.id, rc)
    }

    /// Aborts the association now (`SCTP_ABORT`): an ABORT goes out, and usrsctp reports every
    /// message it still holds, sent or not, as a SEND_FAILED notification, then the end as an
    /// ASSOC_CHANGE (COMM_LOST), all readable from the socket. Fails with EINVAL before the
    /// handshake completed.
    pub(crate) fn abort_association(&self) -> Result<(), Errno> {
        let mut spa: sys::sctp_sendv_spa = zeroed_pod();
        spa.sendv_flags = sys::SCTP_SEND_SNDINFO_VALID;
        spa.sendv_sndinfo.snd_flags = sys::SCTP_ABORT;
        self.sendv_spa(&[], &mut spa)
    }

    /// Makes room in the receive buffer's limit for the SEND_FAILED notifications an abort
    /// produces. usrsctp drops a failed-message notification that does not fit the receive
    /// buffer (`sctp_sbspace_failedmsgs`), and each one carries its message's data, so an
    /// abort with a full send queue would lose reports. The limit is only an accounting bound
    /// (the data moves from the send queue to the notifications, it is not copied), so raising
    /// it by twice the send buffer costs nothing while the association ends; it also widens
    /// the window advertised meanwhile, which no longer matters.
    pub(crate) fn make_room_for_reports(&self) -> Result<(), Error> {
        let snd: c_int =
            self.getsockopt("getsockopt(SO_SNDBUF)", libc::SOL_SOCKET, libc::SO_SNDBUF)?;
        let rcv: c_int =
            self.getsockopt("getsockopt(SO_RCVBUF)", libc::SOL_SOCKET, libc::SO_RCVBUF)?;
        let room = i64::from(rcv) + 2 * i64::from(snd) + 64 * 1024;
        let v = room.min(i64::from(i32::MAX)) as c_int;
        self.setsockopt(
            "setsockopt(SO_RCVBUF)",
            libc::SOL_SOCKET,
            libc::SO_RCVBUF,
            &v,
        )
    }

    /// Raises the send buffer's limit by `extra` bytes, so usrsctp takes that much more queued
    /// data at once (see `Driver::start_drain`).
    pub(crate) fn grow_send_buffer(&self, extra: usize) -> Result<(), Error> {
        let snd: c_int =
            self.getsockopt("getsockopt(SO_SNDBUF)", libc::SOL_SOCKET, libc::SO_SNDBUF)?;
        let extra = i64::try_from(extra).unwrap_or(i64::MAX);
        let v = i64::from(snd)
            .saturating_add(extra)
            .min(i64::from(i32::MAX)) as c_int;
        self.setsockopt(
            "setsockopt(SO_SNDBUF)",
            libc::SOL_SOCKET,
            libc::SO_SNDBUF,
            &v,
        )
    }

    /// Makes the following close send ABORT instead of the SHUTDOWN handshake.
    pub(crate) fn set_abortive_close(&self) -> Result<(), Error> {
        let l = libc::linger {
            l_onoff: 1,
            l_linger: 0,
        };
        self.setsockopt(
            "setsockopt(SO_LINGER)",
            libc::SOL_SOCKET,
            libc::SO_LINGER,
            &l,
        )
    }

    /// Closes the socket (as dropping it does; the name says where it matters).
    pub(crate) fn close(self) {
        drop(self);
    }
}

impl Drop for RawSocket {
    /// A socket is closed on every path, including a setup step that failed after
    /// `usrsctp_socket` succeeded.
    fn drop(&mut self) {
        // SAFETY: `raw` is live (only this value owns it) and is closed exactly once, here.
        unsafe { sys::usrsctp_close(self.raw) };
    }
}
