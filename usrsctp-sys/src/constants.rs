//! Constants of `usrsctp.h`, in header order. Each gets the Rust type of the field or argument it
//! is used with.
#![allow(non_snake_case)]

use libc::{c_int, c_uint};

use crate::types::sctp_assoc_t;

/// Flag of a received message that is a notification (`union sctp_notification`).
pub const MSG_NOTIFICATION: c_int = 0x2000;
/// End of record (re-exported from libc): with `SCTP_EXPLICIT_EOR`, marks the last part of a
/// message.
pub const MSG_EOR: c_int = libc::MSG_EOR;
/// IANA protocol number of SCTP.
pub const IPPROTO_SCTP: c_int = 132;
/// Address family of [`sockaddr_conn`](crate::sockaddr_conn): packets go through the
/// application's output callback and `usrsctp_conninput`.
pub const AF_CONN: c_int = 123;

/// Association id meaning "associations created later" (socket options).
pub const SCTP_FUTURE_ASSOC: sctp_assoc_t = 0;
/// Association id meaning "all current associations" (socket options).
pub const SCTP_CURRENT_ASSOC: sctp_assoc_t = 1;
/// Association id meaning "current and future associations" (socket options).
pub const SCTP_ALL_ASSOC: sctp_assoc_t = 2;

/// `usrsctp_get_events`: the socket is readable.
pub const SCTP_EVENT_READ: c_int = 0x0001;
/// `usrsctp_get_events`: the socket is writable.
pub const SCTP_EVENT_WRITE: c_int = 0x0002;
/// `usrsctp_get_events`: the socket has an error.
pub const SCTP_EVENT_ERROR: c_int = 0x0004;

/// Reserved alignment padding.
pub const SCTP_ALIGN_RESV_PAD: c_int = 92;
/// Reserved alignment padding (short form).
pub const SCTP_ALIGN_RESV_PAD_SHORT: c_int = 76;

/// `nxt_flags`: no next message.
pub const SCTP_NO_NEXT_MSG: u16 = 0x0000;
/// `nxt_flags`: a next message is available.
pub const SCTP_NEXT_MSG_AVAIL: u16 = 0x0001;
/// `nxt_flags`: the next message is complete.
pub const SCTP_NEXT_MSG_ISCOMPLETE: u16 = 0x0002;
/// `nxt_flags`: the next message is unordered.
pub const SCTP_NEXT_MSG_IS_UNORDERED: u16 = 0x0004;
/// `nxt_flags`: the next message is a notification.
pub const SCTP_NEXT_MSG_IS_NOTIFICATION: u16 = 0x0008;

/// `usrsctp_recvv` info type: nothing returned.
pub const SCTP_RECVV_NOINFO: c_uint = 0;
/// `usrsctp_recvv` info type: [`sctp_rcvinfo`](crate::sctp_rcvinfo).
pub const SCTP_RECVV_RCVINFO: c_uint = 1;
/// `usrsctp_recvv` info type: [`sctp_nxtinfo`](crate::sctp_nxtinfo).
pub const SCTP_RECVV_NXTINFO: c_uint = 2;
/// `usrsctp_recvv` info type: [`sctp_recvv_rn`](crate::sctp_recvv_rn).
pub const SCTP_RECVV_RN: c_uint = 3;

/// `usrsctp_sendv` info type: no info.
pub const SCTP_SENDV_NOINFO: c_uint = 0;
/// `usrsctp_sendv` info type: [`sctp_sndinfo`](crate::sctp_sndinfo).
pub const SCTP_SENDV_SNDINFO: c_uint = 1;
/// `usrsctp_sendv` info type: [`sctp_prinfo`](crate::sctp_prinfo).
pub const SCTP_SENDV_PRINFO: c_uint = 2;
/// `usrsctp_sendv` info type: [`sctp_authinfo`](crate::sctp_authinfo).
pub const SCTP_SENDV_AUTHINFO: c_uint = 3;
/// `usrsctp_sendv` info type: [`sctp_sendv_spa`](crate::sctp_sendv_spa).
pub const SCTP_SENDV_SPA: c_uint = 4;

/// `sendv_flags`: `sendv_sndinfo` is valid.
pub const SCTP_SEND_SNDINFO_VALID: u32 = 0x0000_0001;
/// `sendv_flags`: `sendv_prinfo` is valid.
pub const SCTP_SEND_PRINFO_VALID: u32 = 0x0000_0002;
/// `sendv_flags`: `sendv_authinfo` is valid.
pub const SCTP_SEND_AUTHINFO_VALID: u32 = 0x0000_0004;

/// Notification type: association change.
pub const SCTP_ASSOC_CHANGE: u16 = 0x0001;
/// Notification type: peer address change.
pub const SCTP_PEER_ADDR_CHANGE: u16 = 0x0002;
/// Notification type: remote error.
pub const SCTP_REMOTE_ERROR: u16 = 0x0003;
/// Notification type: send failed (old API).
pub const SCTP_SEND_FAILED: u16 = 0x0004;
/// Notification type: peer sent SHUTDOWN.
pub const SCTP_SHUTDOWN_EVENT: u16 = 0x0005;
/// Notification type: adaptation layer indication.
pub const SCTP_ADAPTATION_INDICATION: u16 = 0x0006;
/// Notification type: partial delivery event.
pub const SCTP_PARTIAL_DELIVERY_EVENT: u16 = 0x0007;
/// Notification type: authentication event.
pub const SCTP_AUTHENTICATION_EVENT: u16 = 0x0008;
/// Notification type: stream reset.
pub const SCTP_STREAM_RESET_EVENT: u16 = 0x0009;
/// Notification type: sender has no more user data queued.
pub const SCTP_SENDER_DRY_EVENT: u16 = 0x000a;
/// Notification type: notifications stopped.
pub const SCTP_NOTIFICATIONS_STOPPED_EVENT: u16 = 0x000b;
/// Notification type: association reset.
pub const SCTP_ASSOC_RESET_EVENT: u16 = 0x000c;
/// Notification type: number of streams changed.
pub const SCTP_STREAM_CHANGE_EVENT: u16 = 0x000d;
/// Notification type: send failed.
pub const SCTP_SEND_FAILED_EVENT: u16 = 0x000e;

/// `sac_state`: association is up.
pub const SCTP_COMM_UP: u16 = 0x0001;
/// `sac_state`: association is lost.
pub const SCTP_COMM_LOST: u16 = 0x0002;
/// `sac_state`: peer restarted.
pub const SCTP_RESTART: u16 = 0x0003;
/// `sac_state`: graceful shutdown completed.
pub const SCTP_SHUTDOWN_COMP: u16 = 0x0004;
/// `sac_state`: association could not be started.
pub const SCTP_CANT_STR_ASSOC: u16 = 0x0005;

/// `sac_info` byte: PR-SCTP supported.
pub const SCTP_ASSOC_SUPPORTS_PR: u8 = 0x01;
/// `sac_info` byte: AUTH supported.
pub const SCTP_ASSOC_SUPPORTS_AUTH: u8 = 0x02;
/// `sac_info` byte: ASCONF supported.
pub const SCTP_ASSOC_SUPPORTS_ASCONF: u8 = 0x03;
/// `sac_info` byte: multiple buffers supported.
pub const SCTP_ASSOC_SUPPORTS_MULTIBUF: u8 = 0x04;
/// `sac_info` byte: stream reconfiguration supported.
pub const SCTP_ASSOC_SUPPORTS_RE_CONFIG: u8 = 0x05;
/// `sac_info` byte: message interleaving supported.
pub const SCTP_ASSOC_SUPPORTS_INTERLEAVING: u8 = 0x06;
/// Highest `SCTP_ASSOC_SUPPORTS_*` value.
pub const SCTP_ASSOC_SUPPORTS_MAX: u8 = 0x06;

/// `spc_state`: address available.
pub const SCTP_ADDR_AVAILABLE: u32 = 0x0001;
/// `spc_state`: address unreachable.
pub const SCTP_ADDR_UNREACHABLE: u32 = 0x0002;
/// `spc_state`: address removed.
pub const SCTP_ADDR_REMOVED: u32 = 0x0003;
/// `spc_state`: address added.
pub const SCTP_ADDR_ADDED: u32 = 0x0004;
/// `spc_state`: address made primary.
pub const SCTP_ADDR_MADE_PRIM: u32 = 0x0005;
/// `spc_state`: address confirmed.
pub const SCTP_ADDR_CONFIRMED: u32 = 0x0006;

/// `pdapi_indication`: partial delivery aborted.
pub const SCTP_PARTIAL_DELIVERY_ABORTED: u32 = 0x0001;

/// `auth_indication`: new key.
pub const SCTP_AUTH_NEW_KEY: u32 = 0x0001;
/// `auth_indication`: peer does not support AUTH.
pub const SCTP_AUTH_NO_AUTH: u32 = 0x0002;
/// `auth_indication`: key freed.
pub const SCTP_AUTH_FREE_KEY: u32 = 0x0003;

/// `strreset_flags`: incoming streams were reset.
pub const SCTP_STREAM_RESET_INCOMING_SSN: u16 = 0x0001;
/// `strreset_flags`: outgoing streams were reset.
pub const SCTP_STREAM_RESET_OUTGOING_SSN: u16 = 0x0002;
/// `strreset_flags`: the reset was denied.
pub const SCTP_STREAM_RESET_DENIED: u16 = 0x0004;
/// `strreset_flags`: the reset failed.
pub const SCTP_STREAM_RESET_FAILED: u16 = 0x0008;
/// `strreset_flags`: stream change denied.
pub const SCTP_STREAM_CHANGED_DENIED: u16 = 0x0010;

/// `srs_flags`: reset incoming streams.
pub const SCTP_STREAM_RESET_INCOMING: u16 = 0x0000_0001;
/// `srs_flags`: reset outgoing streams.
pub const SCTP_STREAM_RESET_OUTGOING: u16 = 0x0000_0002;

/// `assocreset_flags`: association reset denied.
pub const SCTP_ASSOC_RESET_DENIED: u16 = 0x0004;
/// `assocreset_flags`: association reset failed.
pub const SCTP_ASSOC_RESET_FAILED: u16 = 0x0008;

/// `strchange_flags`: stream change denied.
pub const SCTP_STREAM_CHANGE_DENIED: u16 = 0x0004;
/// `strchange_flags`: stream change failed.
pub const SCTP_STREAM_CHANGE_FAILED: u16 = 0x0008;

/// `ssfe_flags`: the data was never sent.
pub const SCTP_DATA_UNSENT: u16 = 0x0001;
/// `ssfe_flags`: the data was on the wire.
pub const SCTP_DATA_SENT: u16 = 0x0002;

/// Send flag: tail part of the message could not be sent.
pub const SCTP_DATA_LAST_FRAG: u16 = 0x0001;
/// Send flag: complete message could not be sent.
pub const SCTP_DATA_NOT_FRAG: u16 = 0x0003;
/// Flag: next message is a notification.
pub const SCTP_NOTIFICATION: u16 = 0x0010;
/// Flag: next message is complete.
pub const SCTP_COMPLETE: u16 = 0x0020;
/// Send flag: start the shutdown procedure.
pub const SCTP_EOF: u16 = 0x0100;
/// Send flag: send an ABORT to the peer.
pub const SCTP_ABORT: u16 = 0x0200;
/// Send flag: unordered message.
pub const SCTP_UNORDERED: u16 = 0x0400;
/// Send flag: override the primary address.
pub const SCTP_ADDR_OVER: u16 = 0x0800;
/// Send flag: send on all associations.
pub const SCTP_SENDALL: u16 = 0x1000;
/// Send flag: end of message.
pub const SCTP_EOR: u16 = 0x2000;
/// Send flag: set the SACK-IMMEDIATELY bit.
pub const SCTP_SACK_IMMEDIATELY: u16 = 0x4000;

/// `INVALID_SINFO_FLAG(x)`: whether `x` has bits other than the allowed send flags above the
/// low nibble.
pub const fn INVALID_SINFO_FLAG(x: u16) -> bool {
    let allowed = SCTP_EOF
        | SCTP_ABORT
        | SCTP_UNORDERED
        | SCTP_ADDR_OVER
        | SCTP_SENDALL
        | SCTP_EOR
        | SCTP_SACK_IMMEDIATELY;
    (x & 0xfff0 & !allowed) != 0
}

/// PR-SCTP policy: reliable.
pub const SCTP_PR_SCTP_NONE: u16 = 0x0000;
/// PR-SCTP policy: time to live.
pub const SCTP_PR_SCTP_TTL: u16 = 0x0001;
/// PR-SCTP policy: buffer based.
pub const SCTP_PR_SCTP_BUF: u16 = 0x0002;
/// PR-SCTP policy: limited retransmissions.
pub const SCTP_PR_SCTP_RTX: u16 = 0x0003;

/// `PR_SCTP_POLICY(x)`: the policy part of a flags/policy value.
pub const fn PR_SCTP_POLICY(x: u16) -> u16 {
    x & 0x0f
}
/// `PR_SCTP_ENABLED(x)`: any PR-SCTP policy.
pub const fn PR_SCTP_ENABLED(x: u16) -> bool {
    PR_SCTP_POLICY(x) != SCTP_PR_SCTP_NONE
}
/// `PR_SCTP_TTL_ENABLED(x)`.
pub const fn PR_SCTP_TTL_ENABLED(x: u16) -> bool {
    PR_SCTP_POLICY(x) == SCTP_PR_SCTP_TTL
}
/// `PR_SCTP_BUF_ENABLED(x)`.
pub const fn PR_SCTP_BUF_ENABLED(x: u16) -> bool {
    PR_SCTP_POLICY(x) == SCTP_PR_SCTP_BUF
}
/// `PR_SCTP_RTX_ENABLED(x)`.
pub const fn PR_SCTP_RTX_ENABLED(x: u16) -> bool {
    PR_SCTP_POLICY(x) == SCTP_PR_SCTP_RTX
}
/// `PR_SCTP_INVALID_POLICY(x)`.
pub const fn PR_SCTP_INVALID_POLICY(x: u16) -> bool {
    PR_SCTP_POLICY(x) > SCTP_PR_SCTP_RTX
}

// Socket options, read-write.
/// Socket option: [`sctp_rtoinfo`](crate::sctp_rtoinfo).
pub const SCTP_RTOINFO: c_int = 0x0000_0001;
/// Socket option: [`sctp_assocparams`](crate::sctp_assocparams).
pub const SCTP_ASSOCINFO: c_int = 0x0000_0002;
/// Socket option: [`sctp_initmsg`](crate::sctp_initmsg).
pub const SCTP_INITMSG: c_int = 0x0000_0003;
/// Socket option: disable Nagle (`int`).
pub const SCTP_NODELAY: c_int = 0x0000_0004;
/// Socket option: autoclose seconds (`int`).
pub const SCTP_AUTOCLOSE: c_int = 0x0000_0005;
/// Socket option: [`sctp_setprim`](crate::sctp_setprim).
pub const SCTP_PRIMARY_ADDR: c_int = 0x0000_0007;
/// Socket option: [`sctp_setadaptation`](crate::sctp_setadaptation).
pub const SCTP_ADAPTATION_LAYER: c_int = 0x0000_0008;
/// Socket option: disable fragmentation (`int`).
pub const SCTP_DISABLE_FRAGMENTS: c_int = 0x0000_0009;
/// Socket option: [`sctp_paddrparams`](crate::sctp_paddrparams).
pub const SCTP_PEER_ADDR_PARAMS: c_int = 0x0000_000a;
/// Socket option: report IPv4 addresses as v4-mapped (`int`).
pub const SCTP_I_WANT_MAPPED_V4_ADDR: c_int = 0x0000_000d;
/// Socket option: maximum segment size ([`sctp_assoc_value`](crate::sctp_assoc_value)).
pub const SCTP_MAXSEG: c_int = 0x0000_000e;
/// Socket option: [`sctp_sack_info`](crate::sctp_sack_info).
pub const SCTP_DELAYED_SACK: c_int = 0x0000_000f;
/// Socket option: fragment interleave level (`int`).
pub const SCTP_FRAGMENT_INTERLEAVE: c_int = 0x0000_0010;
/// Socket option: partial delivery point (`uint32_t`).
pub const SCTP_PARTIAL_DELIVERY_POINT: c_int = 0x0000_0011;
/// Socket option: [`sctp_hmacalgo`](crate::sctp_hmacalgo).
pub const SCTP_HMAC_IDENT: c_int = 0x0000_0014;
/// Socket option: [`sctp_authkeyid`](crate::sctp_authkeyid).
pub const SCTP_AUTH_ACTIVE_KEY: c_int = 0x0000_0015;
/// Socket option: automatic ASCONF (`int`).
pub const SCTP_AUTO_ASCONF: c_int = 0x0000_0018;
/// Socket option: maximum burst ([`sctp_assoc_value`](crate::sctp_assoc_value)).
pub const SCTP_MAX_BURST: c_int = 0x0000_0019;
/// Socket option: context ([`sctp_assoc_value`](crate::sctp_assoc_value)).
pub const SCTP_CONTEXT: c_int = 0x0000_001a;
/// Socket option: explicit end-of-record (`int`).
pub const SCTP_EXPLICIT_EOR: c_int = 0x0000_001b;
/// Socket option: port reuse (`int`).
pub const SCTP_REUSE_PORT: c_int = 0x0000_001c;
/// Socket option: [`sctp_event`](crate::sctp_event).
pub const SCTP_EVENT: c_int = 0x0000_001e;
/// Socket option: deliver [`sctp_rcvinfo`](crate::sctp_rcvinfo) with `usrsctp_recvv` (`int`).
pub const SCTP_RECVRCVINFO: c_int = 0x0000_001f;
/// Socket option: deliver [`sctp_nxtinfo`](crate::sctp_nxtinfo) with `usrsctp_recvv` (`int`).
pub const SCTP_RECVNXTINFO: c_int = 0x0000_0020;
/// Socket option: [`sctp_sndinfo`](crate::sctp_sndinfo).
pub const SCTP_DEFAULT_SNDINFO: c_int = 0x0000_0021;
/// Socket option: [`sctp_default_prinfo`](crate::sctp_default_prinfo).
pub const SCTP_DEFAULT_PRINFO: c_int = 0x0000_0022;
/// Socket option: [`sctp_udpencaps`](crate::sctp_udpencaps).
pub const SCTP_REMOTE_UDP_ENCAPS_PORT: c_int = 0x0000_0024;
/// Socket option: ECN ([`sctp_assoc_value`](crate::sctp_assoc_value)).
pub const SCTP_ECN_SUPPORTED: c_int = 0x0000_0025;
/// Socket option: PR-SCTP ([`sctp_assoc_value`](crate::sctp_assoc_value)).
pub const SCTP_PR_SUPPORTED: c_int = 0x0000_0026;
/// Socket option: AUTH ([`sctp_assoc_value`](crate::sctp_assoc_value)).
pub const SCTP_AUTH_SUPPORTED: c_int = 0x0000_0027;
/// Socket option: ASCONF ([`sctp_assoc_value`](crate::sctp_assoc_value)).
pub const SCTP_ASCONF_SUPPORTED: c_int = 0x0000_0028;
/// Socket option: stream reconfiguration ([`sctp_assoc_value`](crate::sctp_assoc_value)).
pub const SCTP_RECONFIG_SUPPORTED: c_int = 0x0000_0029;
/// Socket option: NR-SACK ([`sctp_assoc_value`](crate::sctp_assoc_value)).
pub const SCTP_NRSACK_SUPPORTED: c_int = 0x0000_0030;
/// Socket option: PKTDROP ([`sctp_assoc_value`](crate::sctp_assoc_value)).
pub const SCTP_PKTDROP_SUPPORTED: c_int = 0x0000_0031;
/// Socket option: maximum congestion window ([`sctp_assoc_value`](crate::sctp_assoc_value)).
pub const SCTP_MAX_CWND: c_int = 0x0000_0032;
/// Socket option: `SCTP_ENABLE_*` bits ([`sctp_assoc_value`](crate::sctp_assoc_value)).
pub const SCTP_ENABLE_STREAM_RESET: c_int = 0x0000_0900;
/// Socket option: stream scheduler `SCTP_SS_*` ([`sctp_assoc_value`](crate::sctp_assoc_value)).
pub const SCTP_PLUGGABLE_SS: c_int = 0x0000_1203;
/// Socket option: per-stream scheduler value ([`sctp_stream_value`](crate::sctp_stream_value)).
pub const SCTP_SS_VALUE: c_int = 0x0000_1204;

// Socket options, read-only.
/// Socket option: [`sctp_status`](crate::sctp_status).
pub const SCTP_STATUS: c_int = 0x0000_0100;
/// Socket option: [`sctp_paddrinfo`](crate::sctp_paddrinfo).
pub const SCTP_GET_PEER_ADDR_INFO: c_int = 0x0000_0101;
/// Socket option: [`sctp_authchunks`](crate::sctp_authchunks) of the peer.
pub const SCTP_PEER_AUTH_CHUNKS: c_int = 0x0000_0102;
/// Socket option: local [`sctp_authchunks`](crate::sctp_authchunks).
pub const SCTP_LOCAL_AUTH_CHUNKS: c_int = 0x0000_0103;
/// Socket option: number of associations (`uint32_t`).
pub const SCTP_GET_ASSOC_NUMBER: c_int = 0x0000_0104;
/// Socket option: [`sctp_assoc_ids`](crate::sctp_assoc_ids).
pub const SCTP_GET_ASSOC_ID_LIST: c_int = 0x0000_0105;
/// Socket option: [`sctp_timeouts`](crate::sctp_timeouts).
pub const SCTP_TIMEOUTS: c_int = 0x0000_0106;
/// Socket option: per-stream [`sctp_prstatus`](crate::sctp_prstatus).
pub const SCTP_PR_STREAM_STATUS: c_int = 0x0000_0107;
/// Socket option: per-association [`sctp_prstatus`](crate::sctp_prstatus).
pub const SCTP_PR_ASSOC_STATUS: c_int = 0x0000_0108;

// Socket options, write-only.
/// Socket option: [`sctp_setpeerprim`](crate::sctp_setpeerprim).
pub const SCTP_SET_PEER_PRIMARY_ADDR: c_int = 0x0000_0006;
/// Socket option: [`sctp_authchunk`](crate::sctp_authchunk).
pub const SCTP_AUTH_CHUNK: c_int = 0x0000_0012;
/// Socket option: [`sctp_authkey`](crate::sctp_authkey).
pub const SCTP_AUTH_KEY: c_int = 0x0000_0013;
/// Socket option: [`sctp_authkeyid`](crate::sctp_authkeyid).
pub const SCTP_AUTH_DEACTIVATE_KEY: c_int = 0x0000_001d;
/// Socket option: [`sctp_authkeyid`](crate::sctp_authkeyid).
pub const SCTP_AUTH_DELETE_KEY: c_int = 0x0000_0016;
/// Socket option: [`sctp_reset_streams`](crate::sctp_reset_streams).
pub const SCTP_RESET_STREAMS: c_int = 0x0000_0901;
/// Socket option: reset the association (`sctp_assoc_t`).
pub const SCTP_RESET_ASSOC: c_int = 0x0000_0902;
/// Socket option: [`sctp_add_streams`](crate::sctp_add_streams).
pub const SCTP_ADD_STREAMS: c_int = 0x0000_0903;

/// `spp_flags`: enable heartbeats.
pub const SPP_HB_ENABLE: u32 = 0x0000_0001;
/// `spp_flags`: disable heartbeats.
pub const SPP_HB_DISABLE: u32 = 0x0000_0002;
/// `spp_flags`: send a heartbeat now.
pub const SPP_HB_DEMAND: u32 = 0x0000_0004;
/// `spp_flags`: enable path MTU discovery.
pub const SPP_PMTUD_ENABLE: u32 = 0x0000_0008;
/// `spp_flags`: disable path MTU discovery.
pub const SPP_PMTUD_DISABLE: u32 = 0x0000_0010;
/// `spp_flags`: heartbeat interval is zero.
pub const SPP_HB_TIME_IS_ZERO: u32 = 0x0000_0080;
/// `spp_flags`: `spp_ipv6_flowlabel` is valid.
pub const SPP_IPV6_FLOWLABEL: u32 = 0x0000_0100;
/// `spp_flags`: `spp_dscp` is valid.
pub const SPP_DSCP: u32 = 0x0000_0200;

/// `SCTP_ENABLE_STREAM_RESET` value: allow stream reset requests.
pub const SCTP_ENABLE_RESET_STREAM_REQ: u32 = 0x0000_0001;
/// `SCTP_ENABLE_STREAM_RESET` value: allow association reset requests.
pub const SCTP_ENABLE_RESET_ASSOC_REQ: u32 = 0x0000_0002;
/// `SCTP_ENABLE_STREAM_RESET` value: allow add-stream requests.
pub const SCTP_ENABLE_CHANGE_ASSOC_REQ: u32 = 0x0000_0004;
/// `SCTP_ENABLE_STREAM_RESET` value: mask of all bits.
pub const SCTP_ENABLE_VALUE_MASK: u32 = 0x0000_0007;

/// HMAC id: reserved.
pub const SCTP_AUTH_HMAC_ID_RSVD: u16 = 0x0000;
/// HMAC id: SHA-1 (default, mandatory).
pub const SCTP_AUTH_HMAC_ID_SHA1: u16 = 0x0001;
/// HMAC id: SHA-256.
pub const SCTP_AUTH_HMAC_ID_SHA256: u16 = 0x0003;
/// HMAC id: SHA-224.
pub const SCTP_AUTH_HMAC_ID_SHA224: u16 = 0x0004;
/// HMAC id: SHA-384.
pub const SCTP_AUTH_HMAC_ID_SHA384: u16 = 0x0005;
/// HMAC id: SHA-512.
pub const SCTP_AUTH_HMAC_ID_SHA512: u16 = 0x0006;

/// `sstat_state`: closed.
pub const SCTP_CLOSED: i32 = 0x0000;
/// `sstat_state`: bound.
pub const SCTP_BOUND: i32 = 0x1000;
/// `sstat_state`: listening.
pub const SCTP_LISTEN: i32 = 0x2000;
/// `sstat_state`: INIT sent.
pub const SCTP_COOKIE_WAIT: i32 = 0x0002;
/// `sstat_state`: COOKIE-ECHO sent.
pub const SCTP_COOKIE_ECHOED: i32 = 0x0004;
/// `sstat_state`: established.
pub const SCTP_ESTABLISHED: i32 = 0x0008;
/// `sstat_state`: SHUTDOWN sent.
pub const SCTP_SHUTDOWN_SENT: i32 = 0x0010;
/// `sstat_state`: SHUTDOWN received.
pub const SCTP_SHUTDOWN_RECEIVED: i32 = 0x0020;
/// `sstat_state`: SHUTDOWN-ACK sent.
pub const SCTP_SHUTDOWN_ACK_SENT: i32 = 0x0040;
/// `sstat_state`: shutdown pending.
pub const SCTP_SHUTDOWN_PENDING: i32 = 0x0080;

/// `spinfo_state`: path reachable.
pub const SCTP_ACTIVE: i32 = 0x0001;
/// `spinfo_state`: path neither reachable nor unconfirmed.
pub const SCTP_INACTIVE: i32 = 0x0002;
/// `spinfo_state`: path unconfirmed.
pub const SCTP_UNCONFIRMED: i32 = 0x0200;

/// Chunk type: DATA.
pub const SCTP_DATA: u8 = 0x00;
/// Chunk type: INIT.
pub const SCTP_INITIATION: u8 = 0x01;
/// Chunk type: INIT-ACK.
pub const SCTP_INITIATION_ACK: u8 = 0x02;
/// Chunk type: SACK.
pub const SCTP_SELECTIVE_ACK: u8 = 0x03;
/// Chunk type: HEARTBEAT.
pub const SCTP_HEARTBEAT_REQUEST: u8 = 0x04;
/// Chunk type: HEARTBEAT-ACK.
pub const SCTP_HEARTBEAT_ACK: u8 = 0x05;
/// Chunk type: ABORT.
pub const SCTP_ABORT_ASSOCIATION: u8 = 0x06;
/// Chunk type: SHUTDOWN.
pub const SCTP_SHUTDOWN: u8 = 0x07;
/// Chunk type: SHUTDOWN-ACK.
pub const SCTP_SHUTDOWN_ACK: u8 = 0x08;
/// Chunk type: ERROR.
pub const SCTP_OPERATION_ERROR: u8 = 0x09;
/// Chunk type: COOKIE-ECHO.
pub const SCTP_COOKIE_ECHO: u8 = 0x0a;
/// Chunk type: COOKIE-ACK.
pub const SCTP_COOKIE_ACK: u8 = 0x0b;
/// Chunk type: ECNE.
pub const SCTP_ECN_ECHO: u8 = 0x0c;
/// Chunk type: CWR.
pub const SCTP_ECN_CWR: u8 = 0x0d;
/// Chunk type: SHUTDOWN-COMPLETE.
pub const SCTP_SHUTDOWN_COMPLETE: u8 = 0x0e;
/// Chunk type: AUTH (RFC 4895).
pub const SCTP_AUTHENTICATION: u8 = 0x0f;
/// Chunk type: NR-SACK.
pub const SCTP_NR_SELECTIVE_ACK: u8 = 0x10;
/// Chunk type: ASCONF-ACK (RFC 5061).
pub const SCTP_ASCONF_ACK: u8 = 0x80;
/// Chunk type: PKTDROP.
pub const SCTP_PACKET_DROPPED: u8 = 0x81;
/// Chunk type: RE-CONFIG.
pub const SCTP_STREAM_RESET: u8 = 0x82;
/// Chunk type: PAD (RFC 4820).
pub const SCTP_PAD_CHUNK: u8 = 0x84;
/// Chunk type: FORWARD-TSN (RFC 3758).
pub const SCTP_FORWARD_CUM_TSN: u8 = 0xc0;
/// Chunk type: ASCONF (RFC 5061).
pub const SCTP_ASCONF: u8 = 0xc1;

/// Congestion control: standard (RFC 2581).
pub const SCTP_CC_RFC2581: u32 = 0x0000_0000;
/// Congestion control: HighSpeed TCP.
pub const SCTP_CC_HSTCP: u32 = 0x0000_0001;
/// Congestion control: H-TCP.
pub const SCTP_CC_HTCP: u32 = 0x0000_0002;
/// Congestion control: RTCC.
pub const SCTP_CC_RTCC: u32 = 0x0000_0003;

/// `sctp_cc_option.option`: RTCC set mode.
pub const SCTP_CC_OPT_RTCC_SETMODE: u32 = 0x0000_2000;
/// `sctp_cc_option.option`: use DCCC ECN.
pub const SCTP_CC_OPT_USE_DCCC_EC: u32 = 0x0000_2001;
/// `sctp_cc_option.option`: steady step.
pub const SCTP_CC_OPT_STEADY_STEP: u32 = 0x0000_2002;

/// CMT: off.
pub const SCTP_CMT_OFF: u32 = 0;
/// CMT: base.
pub const SCTP_CMT_BASE: u32 = 1;
/// CMT: resource pooling v1.
pub const SCTP_CMT_RPV1: u32 = 2;
/// CMT: resource pooling v2.
pub const SCTP_CMT_RPV2: u32 = 3;
/// CMT: MPTCP-like.
pub const SCTP_CMT_MPTCP: u32 = 4;
/// CMT: highest value.
pub const SCTP_CMT_MAX: u32 = SCTP_CMT_MPTCP;

/// Stream scheduler: default simple round-robin.
pub const SCTP_SS_DEFAULT: u32 = 0x0000_0000;
/// Stream scheduler: real round-robin.
pub const SCTP_SS_ROUND_ROBIN: u32 = 0x0000_0001;
/// Stream scheduler: round-robin per packet.
pub const SCTP_SS_ROUND_ROBIN_PACKET: u32 = 0x0000_0002;
/// Stream scheduler: priority.
pub const SCTP_SS_PRIORITY: u32 = 0x0000_0003;
/// Stream scheduler: fair bandwidth (sic, C spelling).
pub const SCTP_SS_FAIR_BANDWITH: u32 = 0x0000_0004;
/// Stream scheduler: first come, first served.
pub const SCTP_SS_FIRST_COME: u32 = 0x0000_0005;

/// `usrsctp_bindx` flag: add the addresses.
pub const SCTP_BINDX_ADD_ADDR: c_int = 0x0000_8001;
/// `usrsctp_bindx` flag: remove the addresses.
pub const SCTP_BINDX_REM_ADDR: c_int = 0x0000_8002;

/// `usrsctp_dumppacket` direction: outbound.
pub const SCTP_DUMP_OUTBOUND: c_int = 1;
/// `usrsctp_dumppacket` direction: inbound.
pub const SCTP_DUMP_INBOUND: c_int = 0;

/// `usrsctp_sysctl_set_sctp_debug_on` value: no debug output.
pub const SCTP_DEBUG_NONE: u32 = 0x0000_0000;
/// `usrsctp_sysctl_set_sctp_debug_on` value: all debug output.
pub const SCTP_DEBUG_ALL: u32 = 0xffff_ffff;
