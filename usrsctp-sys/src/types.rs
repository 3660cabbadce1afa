//! Types and structs of `usrsctp.h`, in header order.

use core::marker::{PhantomData, PhantomPinned};
use core::mem::{align_of, offset_of, size_of};

use libc::{c_char, c_int, c_void, size_t, sockaddr, sockaddr_in, sockaddr_in6, sockaddr_storage};

/// Association identifier (`typedef uint32_t sctp_assoc_t`).
pub type sctp_assoc_t = u32;

/// An opaque usrsctp socket (`struct socket`); only ever handled by pointer.
#[repr(C)]
pub struct socket {
    _private: [u8; 0],
    _marker: PhantomData<(*mut u8, PhantomPinned)>,
}

/// The common header that starts every SCTP packet (packed, 12 bytes).
#[repr(C, packed)]
#[derive(Copy, Clone, Debug)]
pub struct sctp_common_header {
    /// Source port, network byte order.
    pub source_port: u16,
    /// Destination port, network byte order.
    pub destination_port: u16,
    /// Verification tag, network byte order.
    pub verification_tag: u32,
    /// CRC32c checksum of the packet.
    pub crc32c: u32,
}

/// Address of the AF_CONN family: an opaque pointer chosen by the application.
///
/// The layout follows `usrsctp.h`, which matches it to the platform's other `sockaddr_*`
/// structures: on Apple targets and the BSDs (`__APPLE__`, `__FreeBSD__`, `__OpenBSD__`,
/// `__NetBSD__`, `__DragonFly__`) it starts with a length byte `sconn_len` and `sconn_family` is
/// a `u8`; everywhere else (Linux, Android, ...) there is no length byte and `sconn_family` is a
/// `u16`. [`sockaddr_conn::new`] fills either form. (The build script sets
/// `cfg(usrsctp_sconn_len)` for the targets of the first group.)
#[cfg(not(usrsctp_sconn_len))]
#[repr(C)]
#[derive(Copy, Clone, Debug)]
pub struct sockaddr_conn {
    /// Always `AF_CONN`.
    pub sconn_family: u16,
    /// Port, network byte order.
    pub sconn_port: u16,
    /// The application's address token, passed back to the output callback.
    pub sconn_addr: *mut c_void,
}

/// Address of the AF_CONN family: an opaque pointer chosen by the application.
///
/// The layout follows `usrsctp.h`, which matches it to the platform's other `sockaddr_*`
/// structures: on Apple targets and the BSDs (`__APPLE__`, `__FreeBSD__`, `__OpenBSD__`,
/// `__NetBSD__`, `__DragonFly__`) it starts with a length byte `sconn_len` and `sconn_family` is
/// a `u8`; everywhere else (Linux, Android, ...) there is no length byte and `sconn_family` is a
/// `u16`. [`sockaddr_conn::new`] fills either form. (The build script sets
/// `cfg(usrsctp_sconn_len)` for the targets of the first group.)
#[cfg(usrsctp_sconn_len)]
#[repr(C)]
#[derive(Copy, Clone, Debug)]
pub struct sockaddr_conn {
    /// Length of the structure (`size_of::<sockaddr_conn>()`).
    pub sconn_len: u8,
    /// Always `AF_CONN`.
    pub sconn_family: u8,
    /// Port, network byte order.
    pub sconn_port: u16,
    /// The application's address token, passed back to the output callback.
    pub sconn_addr: *mut c_void,
}

impl sockaddr_conn {
    /// An `AF_CONN` address for `port` (host byte order; stored in network byte order) and the
    /// application's token `addr`, with the length byte set on targets that have one.
    pub const fn new(port: u16, addr: *mut c_void) -> Self {
        sockaddr_conn {
            #[cfg(usrsctp_sconn_len)]
            sconn_len: size_of::<sockaddr_conn>() as u8,
            sconn_family: crate::AF_CONN as _,
            sconn_port: port.to_be(),
            sconn_addr: addr,
        }
    }
}

// The layout of usrsctp.h for this target, checked at compile time: two 16-bit halves (the
// length byte and family byte, or the 16-bit family; then the port), then the pointer at the
// next pointer-aligned offset. The full check against the C header is usrsctp-sys-systest.
const _: () = {
    let ptr = size_of::<*mut c_void>();
    let addr_offset = if ptr > 4 { ptr } else { 4 };
    #[cfg(usrsctp_sconn_len)]
    {
        assert!(offset_of!(sockaddr_conn, sconn_len) == 0);
        assert!(offset_of!(sockaddr_conn, sconn_family) == 1);
    }
    #[cfg(not(usrsctp_sconn_len))]
    assert!(offset_of!(sockaddr_conn, sconn_family) == 0);
    assert!(offset_of!(sockaddr_conn, sconn_port) == 2);
    assert!(offset_of!(sockaddr_conn, sconn_addr) == addr_offset);
    assert!(size_of::<sockaddr_conn>() == addr_offset + ptr);
    assert!(align_of::<sockaddr_conn>() == align_of::<*mut c_void>());
    // Linux x86_64 / aarch64, the layout systest checks in CI: 16 bytes, pointer at 8.
    #[cfg(all(target_os = "linux", target_pointer_width = "64"))]
    assert!(size_of::<sockaddr_conn>() == 16 && offset_of!(sockaddr_conn, sconn_addr) == 8);
};

/// Any address usrsctp can report (argument of the receive callback).
#[repr(C)]
#[derive(Copy, Clone)]
pub union sctp_sockstore {
    /// IPv4 view.
    pub sin: sockaddr_in,
    /// IPv6 view.
    pub sin6: sockaddr_in6,
    /// AF_CONN view.
    pub sconn: sockaddr_conn,
    /// Generic view: read `sa_family` to pick one of the others.
    pub sa: sockaddr,
}

impl core::fmt::Debug for sctp_sockstore {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        // Which member is valid depends on the family; leave reading it to the caller.
        f.debug_struct("sctp_sockstore").finish_non_exhaustive()
    }
}

/// Receive information (`SCTP_RECVV_RCVINFO`, also passed to the receive callback).
#[repr(C)]
#[derive(Copy, Clone, Debug, Default)]
pub struct sctp_rcvinfo {
    /// Stream identifier.
    pub rcv_sid: u16,
    /// Stream sequence number.
    pub rcv_ssn: u16,
    /// `SCTP_UNORDERED` etc.
    pub rcv_flags: u16,
    /// Payload protocol identifier, network byte order.
    pub rcv_ppid: u32,
    /// Transmission sequence number.
    pub rcv_tsn: u32,
    /// Cumulative TSN.
    pub rcv_cumtsn: u32,
    /// Context set with `SCTP_CONTEXT`.
    pub rcv_context: u32,
    /// Association the message belongs to.
    pub rcv_assoc_id: sctp_assoc_t,
}

/// Information about the next message (`SCTP_RECVV_NXTINFO`).
#[repr(C)]
#[derive(Copy, Clone, Debug, Default)]
pub struct sctp_nxtinfo {
    /// Stream identifier.
    pub nxt_sid: u16,
    /// `SCTP_NEXT_MSG_*` / `SCTP_UNORDERED` etc.
    pub nxt_flags: u16,
    /// Payload protocol identifier, network byte order.
    pub nxt_ppid: u32,
    /// Length of the next message.
    pub nxt_length: u32,
    /// Association of the next message.
    pub nxt_assoc_id: sctp_assoc_t,
}

/// Both receive and next-message information (`SCTP_RECVV_RN`).
#[repr(C)]
#[derive(Copy, Clone, Debug, Default)]
pub struct sctp_recvv_rn {
    /// Information about the received message.
    pub recvv_rcvinfo: sctp_rcvinfo,
    /// Information about the next message.
    pub recvv_nxtinfo: sctp_nxtinfo,
}

/// Result of an `SCTP_SENDALL` send.
#[repr(C)]
#[derive(Copy, Clone, Debug, Default)]
pub struct sctp_snd_all_completes {
    /// Stream used.
    pub sall_stream: u16,
    /// Flags used.
    pub sall_flags: u16,
    /// Payload protocol identifier.
    pub sall_ppid: u32,
    /// Context.
    pub sall_context: u32,
    /// Number of associations the message was sent on.
    pub sall_num_sent: u32,
    /// Number of associations the send failed on.
    pub sall_num_failed: u32,
}

/// Send information (`SCTP_SENDV_SNDINFO`, `SCTP_DEFAULT_SNDINFO`).
#[repr(C)]
#[derive(Copy, Clone, Debug, Default)]
pub struct sctp_sndinfo {
    /// Stream identifier.
    pub snd_sid: u16,
    /// `SCTP_UNORDERED`, `SCTP_EOR`, `SCTP_EOF`, `SCTP_ABORT`, ... (16 bits).
    pub snd_flags: u16,
    /// Payload protocol identifier, network byte order.
    pub snd_ppid: u32,
    /// Context reported back on failure.
    pub snd_context: u32,
    /// Association to send on (one-to-many sockets).
    pub snd_assoc_id: sctp_assoc_t,
}

/// Partial-reliability information (`SCTP_SENDV_PRINFO`).
#[repr(C)]
#[derive(Copy, Clone, Debug, Default)]
pub struct sctp_prinfo {
    /// `SCTP_PR_SCTP_*` policy.
    pub pr_policy: u16,
    /// Policy value (milliseconds for TTL, count for RTX).
    pub pr_value: u32,
}

/// Authentication information (`SCTP_SENDV_AUTHINFO`).
#[repr(C)]
#[derive(Copy, Clone, Debug, Default)]
pub struct sctp_authinfo {
    /// Shared key number to use.
    pub auth_keynumber: u16,
}

/// Several send informations at once (`SCTP_SENDV_SPA`).
#[repr(C)]
#[derive(Copy, Clone, Debug, Default)]
pub struct sctp_sendv_spa {
    /// `SCTP_SEND_*_VALID` bits saying which members are set.
    pub sendv_flags: u32,
    /// Send information.
    pub sendv_sndinfo: sctp_sndinfo,
    /// Partial-reliability information.
    pub sendv_prinfo: sctp_prinfo,
    /// Authentication information.
    pub sendv_authinfo: sctp_authinfo,
}

/// UDP encapsulation port of a peer address (`SCTP_REMOTE_UDP_ENCAPS_PORT`).
#[repr(C)]
#[derive(Copy, Clone)]
pub struct sctp_udpencaps {
    /// Peer address.
    pub sue_address: sockaddr_storage,
    /// Association.
    pub sue_assoc_id: u32,
    /// Remote UDP port, network byte order.
    pub sue_port: u16,
}

/// `SCTP_ASSOC_CHANGE` notification.
#[repr(C)]
#[derive(Copy, Clone, Debug)]
pub struct sctp_assoc_change {
    /// `SCTP_ASSOC_CHANGE`.
    pub sac_type: u16,
    /// Flags.
    pub sac_flags: u16,
    /// Length of the notification including `sac_info`.
    pub sac_length: u32,
    /// `SCTP_COMM_UP`, `SCTP_COMM_LOST`, ...
    pub sac_state: u16,
    /// Error cause, if any.
    pub sac_error: u16,
    /// Number of outbound streams.
    pub sac_outbound_streams: u16,
    /// Number of inbound streams.
    pub sac_inbound_streams: u16,
    /// Association.
    pub sac_assoc_id: sctp_assoc_t,
    /// Flexible array: `SCTP_ASSOC_SUPPORTS_*` bytes (or the ABORT chunk on loss).
    pub sac_info: [u8; 0],
}

/// `SCTP_PEER_ADDR_CHANGE` notification.
#[repr(C)]
#[derive(Copy, Clone)]
pub struct sctp_paddr_change {
    /// `SCTP_PEER_ADDR_CHANGE`.
    pub spc_type: u16,
    /// Flags.
    pub spc_flags: u16,
    /// Length of the notification.
    pub spc_length: u32,
    /// Affected address.
    pub spc_aaddr: sockaddr_storage,
    /// `SCTP_ADDR_*` state.
    pub spc_state: u32,
    /// Error cause.
    pub spc_error: u32,
    /// Association.
    pub spc_assoc_id: sctp_assoc_t,
    /// Padding.
    pub spc_padding: [u8; 4],
}

/// `SCTP_REMOTE_ERROR` notification.
#[repr(C)]
#[derive(Copy, Clone, Debug)]
pub struct sctp_remote_error {
    /// `SCTP_REMOTE_ERROR`.
    pub sre_type: u16,
    /// Flags.
    pub sre_flags: u16,
    /// Length of the notification including `sre_data`.
    pub sre_length: u32,
    /// Error cause code.
    pub sre_error: u16,
    /// Association.
    pub sre_assoc_id: sctp_assoc_t,
    /// Flexible array: the ERROR chunk.
    pub sre_data: [u8; 0],
}

/// `SCTP_SHUTDOWN_EVENT` notification.
#[repr(C)]
#[derive(Copy, Clone, Debug, Default)]
pub struct sctp_shutdown_event {
    /// `SCTP_SHUTDOWN_EVENT`.
    pub sse_type: u16,
    /// Flags.
    pub sse_flags: u16,
    /// Length of the notification.
    pub sse_length: u32,
    /// Association.
    pub sse_assoc_id: sctp_assoc_t,
}

/// `SCTP_ADAPTATION_INDICATION` notification.
#[repr(C)]
#[derive(Copy, Clone, Debug, Default)]
pub struct sctp_adaptation_event {
    /// `SCTP_ADAPTATION_INDICATION`.
    pub sai_type: u16,
    /// Flags.
    pub sai_flags: u16,
    /// Length of the notification.
    pub sai_length: u32,
    /// Peer's adaptation layer indication.
    pub sai_adaptation_ind: u32,
    /// Association.
    pub sai_assoc_id: sctp_assoc_t,
}

/// `SCTP_PARTIAL_DELIVERY_EVENT` notification.
#[repr(C)]
#[derive(Copy, Clone, Debug, Default)]
pub struct sctp_pdapi_event {
    /// `SCTP_PARTIAL_DELIVERY_EVENT`.
    pub pdapi_type: u16,
    /// Flags.
    pub pdapi_flags: u16,
    /// Length of the notification.
    pub pdapi_length: u32,
    /// `SCTP_PARTIAL_DELIVERY_ABORTED`.
    pub pdapi_indication: u32,
    /// Stream.
    pub pdapi_stream: u32,
    /// Stream sequence number.
    pub pdapi_seq: u32,
    /// Association.
    pub pdapi_assoc_id: sctp_assoc_t,
}

/// `SCTP_AUTHENTICATION_EVENT` notification.
#[repr(C)]
#[derive(Copy, Clone, Debug, Default)]
pub struct sctp_authkey_event {
    /// `SCTP_AUTHENTICATION_EVENT`.
    pub auth_type: u16,
    /// Flags.
    pub auth_flags: u16,
    /// Length of the notification.
    pub auth_length: u32,
    /// Key number.
    pub auth_keynumber: u16,
    /// `SCTP_AUTH_*` indication.
    pub auth_indication: u32,
    /// Association.
    pub auth_assoc_id: sctp_assoc_t,
}

/// `SCTP_SENDER_DRY_EVENT` notification.
#[repr(C)]
#[derive(Copy, Clone, Debug, Default)]
pub struct sctp_sender_dry_event {
    /// `SCTP_SENDER_DRY_EVENT`.
    pub sender_dry_type: u16,
    /// Flags.
    pub sender_dry_flags: u16,
    /// Length of the notification.
    pub sender_dry_length: u32,
    /// Association.
    pub sender_dry_assoc_id: sctp_assoc_t,
}

/// `SCTP_STREAM_RESET_EVENT` notification.
#[repr(C)]
#[derive(Copy, Clone, Debug)]
pub struct sctp_stream_reset_event {
    /// `SCTP_STREAM_RESET_EVENT`.
    pub strreset_type: u16,
    /// `SCTP_STREAM_RESET_*` flags.
    pub strreset_flags: u16,
    /// Length of the notification including the stream list.
    pub strreset_length: u32,
    /// Association.
    pub strreset_assoc_id: sctp_assoc_t,
    /// Flexible array: the reset stream identifiers.
    pub strreset_stream_list: [u16; 0],
}

/// `SCTP_ASSOC_RESET_EVENT` notification.
#[repr(C)]
#[derive(Copy, Clone, Debug, Default)]
pub struct sctp_assoc_reset_event {
    /// `SCTP_ASSOC_RESET_EVENT`.
    pub assocreset_type: u16,
    /// `SCTP_ASSOC_RESET_*` flags.
    pub assocreset_flags: u16,
    /// Length of the notification.
    pub assocreset_length: u32,
    /// Association.
    pub assocreset_assoc_id: sctp_assoc_t,
    /// New local TSN.
    pub assocreset_local_tsn: u32,
    /// New remote TSN.
    pub assocreset_remote_tsn: u32,
}

/// `SCTP_STREAM_CHANGE_EVENT` notification.
#[repr(C)]
#[derive(Copy, Clone, Debug, Default)]
pub struct sctp_stream_change_event {
    /// `SCTP_STREAM_CHANGE_EVENT`.
    pub strchange_type: u16,
    /// `SCTP_STREAM_CHANGE_*` flags.
    pub strchange_flags: u16,
    /// Length of the notification.
    pub strchange_length: u32,
    /// Association.
    pub strchange_assoc_id: sctp_assoc_t,
    /// New number of inbound streams.
    pub strchange_instrms: u16,
    /// New number of outbound streams.
    pub strchange_outstrms: u16,
}

/// `SCTP_SEND_FAILED_EVENT` notification.
#[repr(C)]
#[derive(Copy, Clone, Debug)]
pub struct sctp_send_failed_event {
    /// `SCTP_SEND_FAILED_EVENT`.
    pub ssfe_type: u16,
    /// `SCTP_DATA_UNSENT` or `SCTP_DATA_SENT`.
    pub ssfe_flags: u16,
    /// Length of the notification including `ssfe_data`.
    pub ssfe_length: u32,
    /// Error cause.
    pub ssfe_error: u32,
    /// Send information of the failed message.
    pub ssfe_info: sctp_sndinfo,
    /// Association.
    pub ssfe_assoc_id: sctp_assoc_t,
    /// Flexible array: the undelivered user data.
    pub ssfe_data: [u8; 0],
}

/// Subscription to one notification type (`SCTP_EVENT` socket option).
#[repr(C)]
#[derive(Copy, Clone, Debug, Default)]
pub struct sctp_event {
    /// Association (or `SCTP_FUTURE_ASSOC` etc.).
    pub se_assoc_id: sctp_assoc_t,
    /// Notification type (`SCTP_ASSOC_CHANGE`, ...).
    pub se_type: u16,
    /// 1 to subscribe, 0 to unsubscribe.
    pub se_on: u8,
}

/// The header shared by all notifications (`struct sctp_tlv`, member `sn_header`).
#[repr(C)]
#[derive(Copy, Clone, Debug, Default)]
pub struct sctp_tlv {
    /// Notification type.
    pub sn_type: u16,
    /// Flags.
    pub sn_flags: u16,
    /// Length of the notification.
    pub sn_length: u32,
}

/// Any notification (delivered as a message with `MSG_NOTIFICATION`); read `sn_header.sn_type`
/// first.
#[repr(C)]
#[derive(Copy, Clone)]
pub union sctp_notification {
    /// Common header.
    pub sn_header: sctp_tlv,
    /// `SCTP_ASSOC_CHANGE`.
    pub sn_assoc_change: sctp_assoc_change,
    /// `SCTP_PEER_ADDR_CHANGE`.
    pub sn_paddr_change: sctp_paddr_change,
    /// `SCTP_REMOTE_ERROR`.
    pub sn_remote_error: sctp_remote_error,
    /// `SCTP_SHUTDOWN_EVENT`.
    pub sn_shutdown_event: sctp_shutdown_event,
    /// `SCTP_ADAPTATION_INDICATION`.
    pub sn_adaptation_event: sctp_adaptation_event,
    /// `SCTP_PARTIAL_DELIVERY_EVENT`.
    pub sn_pdapi_event: sctp_pdapi_event,
    /// `SCTP_AUTHENTICATION_EVENT`.
    pub sn_auth_event: sctp_authkey_event,
    /// `SCTP_SENDER_DRY_EVENT`.
    pub sn_sender_dry_event: sctp_sender_dry_event,
    /// `SCTP_SEND_FAILED_EVENT`.
    pub sn_send_failed_event: sctp_send_failed_event,
    /// `SCTP_STREAM_RESET_EVENT`.
    pub sn_strreset_event: sctp_stream_reset_event,
    /// `SCTP_ASSOC_RESET_EVENT`.
    pub sn_assocreset_event: sctp_assoc_reset_event,
    /// `SCTP_STREAM_CHANGE_EVENT`.
    pub sn_strchange_event: sctp_stream_change_event,
}

impl core::fmt::Debug for sctp_notification {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        // Which member is valid depends on `sn_header.sn_type`; leave reading it to the caller.
        f.debug_struct("sctp_notification").finish_non_exhaustive()
    }
}

/// Old-style event subscription (`SCTP_EVENTS`, kept for completeness).
#[repr(C)]
#[derive(Copy, Clone, Debug, Default)]
pub struct sctp_event_subscribe {
    /// Data I/O events (receive information).
    pub sctp_data_io_event: u8,
    /// Association changes.
    pub sctp_association_event: u8,
    /// Peer address changes.
    pub sctp_address_event: u8,
    /// Send failures.
    pub sctp_send_failure_event: u8,
    /// Peer errors.
    pub sctp_peer_error_event: u8,
    /// Shutdowns.
    pub sctp_shutdown_event: u8,
    /// Partial delivery events.
    pub sctp_partial_delivery_event: u8,
    /// Adaptation layer indications.
    pub sctp_adaptation_layer_event: u8,
    /// Authentication events.
    pub sctp_authentication_event: u8,
    /// Sender dry events.
    pub sctp_sender_dry_event: u8,
    /// Stream reset events.
    pub sctp_stream_reset_event: u8,
}

/// `SCTP_INITMSG` socket option.
#[repr(C)]
#[derive(Copy, Clone, Debug, Default)]
pub struct sctp_initmsg {
    /// Requested number of outbound streams.
    pub sinit_num_ostreams: u16,
    /// Maximum number of inbound streams.
    pub sinit_max_instreams: u16,
    /// Maximum INIT retransmissions.
    pub sinit_max_attempts: u16,
    /// Maximum INIT timeout, milliseconds.
    pub sinit_max_init_timeo: u16,
}

/// `SCTP_RTOINFO` socket option.
#[repr(C)]
#[derive(Copy, Clone, Debug, Default)]
pub struct sctp_rtoinfo {
    /// Association.
    pub srto_assoc_id: sctp_assoc_t,
    /// Initial RTO, milliseconds.
    pub srto_initial: u32,
    /// Maximum RTO, milliseconds.
    pub srto_max: u32,
    /// Minimum RTO, milliseconds.
    pub srto_min: u32,
}

/// `SCTP_ASSOCINFO` socket option.
#[repr(C)]
#[derive(Copy, Clone, Debug, Default)]
pub struct sctp_assocparams {
    /// Association.
    pub sasoc_assoc_id: sctp_assoc_t,
    /// Peer's receive window.
    pub sasoc_peer_rwnd: u32,
    /// Local receive window.
    pub sasoc_local_rwnd: u32,
    /// Cookie lifetime, milliseconds.
    pub sasoc_cookie_life: u32,
    /// Maximum association retransmissions.
    pub sasoc_asocmaxrxt: u16,
    /// Number of peer destination addresses.
    pub sasoc_number_peer_destinations: u16,
}

/// `SCTP_PRIMARY_ADDR` socket option.
#[repr(C)]
#[derive(Copy, Clone)]
pub struct sctp_setprim {
    /// Address to make primary.
    pub ssp_addr: sockaddr_storage,
    /// Association.
    pub ssp_assoc_id: sctp_assoc_t,
    /// Padding.
    pub ssp_padding: [u8; 4],
}

/// `SCTP_ADAPTATION_LAYER` socket option.
#[repr(C)]
#[derive(Copy, Clone, Debug, Default)]
pub struct sctp_setadaptation {
    /// Adaptation layer indication to send.
    pub ssb_adaptation_ind: u32,
}

/// `SCTP_PEER_ADDR_PARAMS` socket option.
#[repr(C)]
#[derive(Copy, Clone)]
pub struct sctp_paddrparams {
    /// Peer address (or wildcard).
    pub spp_address: sockaddr_storage,
    /// Association.
    pub spp_assoc_id: sctp_assoc_t,
    /// Heartbeat interval, milliseconds.
    pub spp_hbinterval: u32,
    /// Path MTU.
    pub spp_pathmtu: u32,
    /// `SPP_*` flags.
    pub spp_flags: u32,
    /// IPv6 flow label.
    pub spp_ipv6_flowlabel: u32,
    /// Maximum path retransmissions.
    pub spp_pathmaxrxt: u16,
    /// DSCP.
    pub spp_dscp: u8,
}

/// Association id plus a value (`SCTP_MAXSEG`, `SCTP_MAX_BURST`, `SCTP_ENABLE_STREAM_RESET`,
/// `SCTP_CONTEXT`, ...).
#[repr(C)]
#[derive(Copy, Clone, Debug, Default)]
pub struct sctp_assoc_value {
    /// Association.
    pub assoc_id: sctp_assoc_t,
    /// Value.
    pub assoc_value: u32,
}

/// `SCTP_RESET_STREAMS` socket option (followed by the stream list).
#[repr(C)]
#[derive(Copy, Clone, Debug)]
pub struct sctp_reset_streams {
    /// Association.
    pub srs_assoc_id: sctp_assoc_t,
    /// `SCTP_STREAM_RESET_INCOMING` / `SCTP_STREAM_RESET_OUTGOING`.
    pub srs_flags: u16,
    /// Number of streams in the list; 0 means all.
    pub srs_number_streams: u16,
    /// Flexible array: the stream identifiers to reset.
    pub srs_stream_list: [u16; 0],
}

/// `SCTP_ADD_STREAMS` socket option.
#[repr(C)]
#[derive(Copy, Clone, Debug, Default)]
pub struct sctp_add_streams {
    /// Association.
    pub sas_assoc_id: sctp_assoc_t,
    /// Inbound streams to add.
    pub sas_instrms: u16,
    /// Outbound streams to add.
    pub sas_outstrms: u16,
}

/// `SCTP_HMAC_IDENT` socket option (followed by the identifiers).
#[repr(C)]
#[derive(Copy, Clone, Debug)]
pub struct sctp_hmacalgo {
    /// Number of identifiers.
    pub shmac_number_of_idents: u32,
    /// Flexible array: `SCTP_AUTH_HMAC_ID_*` values.
    pub shmac_idents: [u16; 0],
}

/// `SCTP_DELAYED_SACK` socket option.
#[repr(C)]
#[derive(Copy, Clone, Debug, Default)]
pub struct sctp_sack_info {
    /// Association.
    pub sack_assoc_id: sctp_assoc_t,
    /// Delayed-SACK timer, milliseconds.
    pub sack_delay: u32,
    /// Packets received before a SACK is sent.
    pub sack_freq: u32,
}

/// `SCTP_DEFAULT_PRINFO` socket option.
#[repr(C)]
#[derive(Copy, Clone, Debug, Default)]
pub struct sctp_default_prinfo {
    /// `SCTP_PR_SCTP_*` policy.
    pub pr_policy: u16,
    /// Policy value.
    pub pr_value: u32,
    /// Association.
    pub pr_assoc_id: sctp_assoc_t,
}

/// Peer address information (`SCTP_GET_PEER_ADDR_INFO`, part of `sctp_status`).
#[repr(C)]
#[derive(Copy, Clone)]
pub struct sctp_paddrinfo {
    /// Peer address.
    pub spinfo_address: sockaddr_storage,
    /// Association.
    pub spinfo_assoc_id: sctp_assoc_t,
    /// `SCTP_ACTIVE`, `SCTP_INACTIVE`, `SCTP_UNCONFIRMED`.
    pub spinfo_state: i32,
    /// Congestion window.
    pub spinfo_cwnd: u32,
    /// Smoothed RTT, milliseconds.
    pub spinfo_srtt: u32,
    /// Current RTO, milliseconds.
    pub spinfo_rto: u32,
    /// Path MTU.
    pub spinfo_mtu: u32,
}

/// `SCTP_STATUS` socket option.
#[repr(C)]
#[derive(Copy, Clone)]
pub struct sctp_status {
    /// Association.
    pub sstat_assoc_id: sctp_assoc_t,
    /// `SCTP_CLOSED` ... `SCTP_SHUTDOWN_PENDING`.
    pub sstat_state: i32,
    /// Peer's receive window.
    pub sstat_rwnd: u32,
    /// Unacknowledged DATA chunks.
    pub sstat_unackdata: u16,
    /// DATA chunks pending receipt.
    pub sstat_penddata: u16,
    /// Inbound streams.
    pub sstat_instrms: u16,
    /// Outbound streams.
    pub sstat_outstrms: u16,
    /// Fragmentation point.
    pub sstat_fragmentation_point: u32,
    /// Primary path.
    pub sstat_primary: sctp_paddrinfo,
}

/// `SCTP_PEER_AUTH_CHUNKS` / `SCTP_LOCAL_AUTH_CHUNKS` socket options (followed by the chunk
/// types).
#[repr(C)]
#[derive(Copy, Clone, Debug)]
pub struct sctp_authchunks {
    /// Association.
    pub gauth_assoc_id: sctp_assoc_t,
    /// Flexible array: chunk types.
    pub gauth_chunks: [u8; 0],
}

/// `SCTP_GET_ASSOC_ID_LIST` socket option (followed by the ids).
#[repr(C)]
#[derive(Copy, Clone, Debug)]
pub struct sctp_assoc_ids {
    /// Number of ids.
    pub gaids_number_of_ids: u32,
    /// Flexible array: association ids.
    pub gaids_assoc_id: [sctp_assoc_t; 0],
}

/// `SCTP_SET_PEER_PRIMARY_ADDR` socket option.
#[repr(C)]
#[derive(Copy, Clone)]
pub struct sctp_setpeerprim {
    /// Local address the peer should use as primary.
    pub sspp_addr: sockaddr_storage,
    /// Association.
    pub sspp_assoc_id: sctp_assoc_t,
    /// Padding.
    pub sspp_padding: [u8; 4],
}

/// `SCTP_AUTH_CHUNK` socket option.
#[repr(C)]
#[derive(Copy, Clone, Debug, Default)]
pub struct sctp_authchunk {
    /// Chunk type that must be authenticated.
    pub sauth_chunk: u8,
}

/// Verification tags of an association.
#[repr(C)]
#[derive(Copy, Clone, Debug, Default)]
pub struct sctp_get_nonce_values {
    /// Association.
    pub gn_assoc_id: sctp_assoc_t,
    /// Peer's verification tag.
    pub gn_peers_tag: u32,
    /// Local verification tag.
    pub gn_local_tag: u32,
}

/// `SCTP_AUTH_KEY` socket option (followed by the key).
#[repr(C)]
#[derive(Copy, Clone, Debug)]
pub struct sctp_authkey {
    /// Association.
    pub sca_assoc_id: sctp_assoc_t,
    /// Key number.
    pub sca_keynumber: u16,
    /// Key length in bytes.
    pub sca_keylength: u16,
    /// Flexible array: the key.
    pub sca_key: [u8; 0],
}

/// `SCTP_AUTH_ACTIVE_KEY`, `SCTP_AUTH_DELETE_KEY`, `SCTP_AUTH_DEACTIVATE_KEY` socket options.
#[repr(C)]
#[derive(Copy, Clone, Debug, Default)]
pub struct sctp_authkeyid {
    /// Association.
    pub scact_assoc_id: sctp_assoc_t,
    /// Key number.
    pub scact_keynumber: u16,
}

/// Congestion-control module option (`SCTP_CC_OPTION`).
#[repr(C)]
#[derive(Copy, Clone, Debug, Default)]
pub struct sctp_cc_option {
    /// `SCTP_CC_OPT_*`.
    pub option: c_int,
    /// Association and value.
    pub aid_value: sctp_assoc_value,
}

/// Per-stream value (`SCTP_SS_VALUE`).
#[repr(C)]
#[derive(Copy, Clone, Debug, Default)]
pub struct sctp_stream_value {
    /// Association.
    pub assoc_id: sctp_assoc_t,
    /// Stream.
    pub stream_id: u16,
    /// Scheduler value (e.g. priority).
    pub stream_value: u16,
}

/// `SCTP_TIMEOUTS` socket option.
#[repr(C)]
#[derive(Copy, Clone, Debug, Default)]
pub struct sctp_timeouts {
    /// Association.
    pub stimo_assoc_id: sctp_assoc_t,
    /// INIT timeouts.
    pub stimo_init: u32,
    /// DATA timeouts.
    pub stimo_data: u32,
    /// SACK timeouts.
    pub stimo_sack: u32,
    /// SHUTDOWN timeouts.
    pub stimo_shutdown: u32,
    /// HEARTBEAT timeouts.
    pub stimo_heartbeat: u32,
    /// COOKIE timeouts.
    pub stimo_cookie: u32,
    /// SHUTDOWN-ACK timeouts.
    pub stimo_shutdownack: u32,
}

/// `SCTP_PR_STREAM_STATUS` / `SCTP_PR_ASSOC_STATUS` socket options.
#[repr(C)]
#[derive(Copy, Clone, Debug, Default)]
pub struct sctp_prstatus {
    /// Association.
    pub sprstat_assoc_id: sctp_assoc_t,
    /// Stream.
    pub sprstat_sid: u16,
    /// `SCTP_PR_SCTP_*` policy.
    pub sprstat_policy: u16,
    /// Abandoned messages never sent.
    pub sprstat_abandoned_unsent: u64,
    /// Abandoned messages sent at least once.
    pub sprstat_abandoned_sent: u64,
}

/// Time stamp used in [`sctpstat`].
#[repr(C)]
#[derive(Copy, Clone, Debug, Default)]
pub struct sctp_timeval {
    /// Seconds.
    pub tv_sec: u32,
    /// Microseconds.
    pub tv_usec: u32,
}

macro_rules! sctpstat {
    ($($(#[$doc:meta])* $field:ident: $ty:ty,)*) => {
        /// Global statistics of the stack (`usrsctp_get_stat`).
        #[repr(C)]
        #[derive(Copy, Clone, Debug, Default)]
        pub struct sctpstat {
            $($(#[$doc])* pub $field: $ty,)*
        }
    };
}

sctpstat! {
    /// Time of the last discontinuity.
    sctps_discontinuitytime: sctp_timeval,
    /// Associations currently established.
    sctps_currestab: u32,
    /// Actively established associations.
    sctps_activeestab: u32,
    /// Restarted associations.
    sctps_restartestab: u32,
    /// Associations established by collision.
    sctps_collisionestab: u32,
    /// Passively established associations.
    sctps_passiveestab: u32,
    /// Aborted associations.
    sctps_aborted: u32,
    /// Gracefully shut down associations.
    sctps_shutdown: u32,
    /// Out-of-the-blue packets.
    sctps_outoftheblue: u32,
    /// Packets with checksum errors.
    sctps_checksumerrors: u32,
    /// Control chunks sent.
    sctps_outcontrolchunks: u32,
    /// Ordered chunks sent.
    sctps_outorderchunks: u32,
    /// Unordered chunks sent.
    sctps_outunorderchunks: u32,
    /// Control chunks received.
    sctps_incontrolchunks: u32,
    /// Ordered chunks received.
    sctps_inorderchunks: u32,
    /// Unordered chunks received.
    sctps_inunorderchunks: u32,
    /// Fragmented user messages.
    sctps_fragusrmsgs: u32,
    /// Reassembled user messages.
    sctps_reasmusrmsgs: u32,
    /// Packets sent.
    sctps_outpackets: u32,
    /// Packets received.
    sctps_inpackets: u32,
    /// Input packets.
    sctps_recvpackets: u32,
    /// Input datagrams.
    sctps_recvdatagrams: u32,
    /// Input packets with data.
    sctps_recvpktwithdata: u32,
    /// SACK chunks received.
    sctps_recvsacks: u32,
    /// DATA chunks received.
    sctps_recvdata: u32,
    /// Duplicate DATA chunks received.
    sctps_recvdupdata: u32,
    /// HEARTBEAT chunks received.
    sctps_recvheartbeat: u32,
    /// HEARTBEAT-ACK chunks received.
    sctps_recvheartbeatack: u32,
    /// ECNE chunks received.
    sctps_recvecne: u32,
    /// AUTH chunks received.
    sctps_recvauth: u32,
    /// Chunks missing AUTH.
    sctps_recvauthmissing: u32,
    /// Invalid HMAC ids received.
    sctps_recvivalhmacid: u32,
    /// Invalid key ids received.
    sctps_recvivalkeyid: u32,
    /// Failed authentications.
    sctps_recvauthfailed: u32,
    /// Fast-path single-chunk receives.
    sctps_recvexpress: u32,
    /// Fast-path multi-part receives.
    sctps_recvexpressm: u32,
    /// Unused.
    sctps_recv_spare: u32,
    /// Software CRC checks on receive.
    sctps_recvswcrc: u32,
    /// Hardware CRC checks on receive.
    sctps_recvhwcrc: u32,
    /// Packets sent.
    sctps_sendpackets: u32,
    /// SACKs sent.
    sctps_sendsacks: u32,
    /// DATA chunks sent.
    sctps_senddata: u32,
    /// Retransmitted DATA chunks.
    sctps_sendretransdata: u32,
    /// Fast-retransmitted DATA chunks.
    sctps_sendfastretrans: u32,
    /// Repeated fast retransmits of one chunk.
    sctps_sendmultfastretrans: u32,
    /// HEARTBEAT chunks sent.
    sctps_sendheartbeat: u32,
    /// ECNE chunks sent.
    sctps_sendecne: u32,
    /// AUTH chunks sent.
    sctps_sendauth: u32,
    /// Output errors.
    sctps_senderrors: u32,
    /// Unused.
    sctps_send_spare: u32,
    /// Software CRCs computed on send.
    sctps_sendswcrc: u32,
    /// Hardware CRC offloads on send.
    sctps_sendhwcrc: u32,
    /// PKTDROP from middle box.
    sctps_pdrpfmbox: u32,
    /// PKTDROP from end host.
    sctps_pdrpfehos: u32,
    /// PKTDROP with data.
    sctps_pdrpmbda: u32,
    /// PKTDROP non-data, non-endhost.
    sctps_pdrpmbct: u32,
    /// PKTDROP bandwidth report only.
    sctps_pdrpbwrpt: u32,
    /// PKTDROP too short for a chunk header.
    sctps_pdrpcrupt: u32,
    /// PKTDROP not enough data to confirm.
    sctps_pdrpnedat: u32,
    /// PKTDROP where processing stopped.
    sctps_pdrppdbrk: u32,
    /// PKTDROP TSN not found.
    sctps_pdrptsnnf: u32,
    /// PKTDROP reverse TSN lookup.
    sctps_pdrpdnfnd: u32,
    /// PKTDROP end host confirms zero rwnd.
    sctps_pdrpdiwnp: u32,
    /// PKTDROP middle box confirms no space.
    sctps_pdrpdizrw: u32,
    /// PKTDROP data did not match TSN.
    sctps_pdrpbadd: u32,
    /// PKTDROP TSNs marked for fast retransmit.
    sctps_pdrpmark: u32,
    /// Iterator timers fired.
    sctps_timoiterator: u32,
    /// T3 data timeouts.
    sctps_timodata: u32,
    /// Window probe timers fired.
    sctps_timowindowprobe: u32,
    /// INIT timers fired.
    sctps_timoinit: u32,
    /// SACK timers fired.
    sctps_timosack: u32,
    /// SHUTDOWN timers fired.
    sctps_timoshutdown: u32,
    /// HEARTBEAT timers fired.
    sctps_timoheartbeat: u32,
    /// Cookie timers fired.
    sctps_timocookie: u32,
    /// Cookie secret changes.
    sctps_timosecret: u32,
    /// PMTU timers fired.
    sctps_timopathmtu: u32,
    /// SHUTDOWN-ACK timers fired.
    sctps_timoshutdownack: u32,
    /// Shutdown guard timers fired.
    sctps_timoshutdownguard: u32,
    /// Stream reset timers fired.
    sctps_timostrmrst: u32,
    /// Early FR timers fired.
    sctps_timoearlyfr: u32,
    /// ASCONF timers fired.
    sctps_timoasconf: u32,
    /// Primary-deleted timers fired.
    sctps_timodelprim: u32,
    /// Autoclose timers fired.
    sctps_timoautoclose: u32,
    /// Association free timers fired.
    sctps_timoassockill: u32,
    /// Endpoint free timers fired.
    sctps_timoinpkill: u32,
    /// Former early FR counters.
    sctps_spare: [u32; 11],
    /// Packets shorter than the header.
    sctps_hdrops: u32,
    /// Checksum errors.
    sctps_badsum: u32,
    /// No endpoint for the port.
    sctps_noport: u32,
    /// Bad verification tag.
    sctps_badvtag: u32,
    /// Bad stream id.
    sctps_badsid: u32,
    /// Out of memory.
    sctps_nomem: u32,
    /// Multiple fast retransmits within one RTT.
    sctps_fastretransinrtt: u32,
    /// Chunks marked for retransmission.
    sctps_markedretrans: u32,
    /// Sends allowed by Nagle.
    sctps_naglesent: u32,
    /// Sends held by Nagle.
    sctps_naglequeued: u32,
    /// Sends held by max burst.
    sctps_maxburstqueued: u32,
    /// Sends queued after an interface or send error.
    sctps_ifnomemqueued: u32,
    /// Window probes sent.
    sctps_windowprobed: u32,
    /// Output errors that clamped the next send.
    sctps_lowlevelerr: u32,
    /// Send errors caused by a user send.
    sctps_lowlevelerrusr: u32,
    /// DATA drops at the chunk limit.
    sctps_datadropchklmt: u32,
    /// DATA drops at the rwnd limit.
    sctps_datadroprwnd: u32,
    /// cwnd reductions by ECN.
    sctps_ecnereducedcwnd: u32,
    /// Express lookups by vtag.
    sctps_vtagexpress: u32,
    /// Collisions in express lookup.
    sctps_vtagbogus: u32,
    /// Sender ran dry on the primary path.
    sctps_primary_randry: u32,
    /// Sender ran dry (CMT).
    sctps_cmt_randry: u32,
    /// SACKs processed the slow way.
    sctps_slowpath_sack: u32,
    /// Window-update-only SACKs sent.
    sctps_wu_sacks_sent: u32,
    /// Sends with flags.
    sctps_sends_with_flags: u32,
    /// Unordered sends.
    sctps_sends_with_unord: u32,
    /// Sends with EOF.
    sctps_sends_with_eof: u32,
    /// Sends with ABORT.
    sctps_sends_with_abort: u32,
    /// Protocol drain calls.
    sctps_protocol_drain_calls: u32,
    /// Protocol drains done.
    sctps_protocol_drains_done: u32,
    /// Receives with peek.
    sctps_read_peeks: u32,
    /// Cached chunks used.
    sctps_cached_chk: u32,
    /// Cached stream queue entries used.
    sctps_cached_strmoq: u32,
    /// Unread messages abandoned by close.
    sctps_left_abandon: u32,
    /// Unused.
    sctps_send_burst_avoid: u32,
    /// Sends avoided because cwnd was full.
    sctps_send_cwnd_avoid: u32,
    /// Map overruns via FORWARD-TSN.
    sctps_fwdtsn_map_over: u32,
    /// ECN chunks queued or updated.
    sctps_queue_upd_ecne: u32,
    /// Reserved for future counters.
    sctps_reserved: [u32; 31],
}

/// Output callback given to `usrsctp_init`: transmit `length` bytes at `buffer` to the AF_CONN
/// address `addr`. Returns 0 on success.
pub type usrsctp_conn_output_fn = unsafe extern "C" fn(
    addr: *mut c_void,
    buffer: *mut c_void,
    length: size_t,
    tos: u8,
    set_df: u8,
) -> c_int;

/// Debug printf callback given to `usrsctp_init` (printf-style, variadic).
pub type usrsctp_debug_printf_fn = unsafe extern "C" fn(format: *const c_char, ...);

/// Receive callback of `usrsctp_socket` (callback API). `data` must be freed by the callee with
/// `free()` when non-null. Returns 1 on success.
pub type usrsctp_receive_cb = unsafe extern "C" fn(
    sock: *mut socket,
    addr: sctp_sockstore,
    data: *mut c_void,
    datalen: size_t,
    rcv: sctp_rcvinfo,
    flags: c_int,
    ulp_info: *mut c_void,
) -> c_int;

/// Send callback of `usrsctp_socket` (callback API): called when `sb_free` bytes of send buffer
/// space are available (below `sb_threshold`).
pub type usrsctp_send_cb =
    unsafe extern "C" fn(sock: *mut socket, sb_free: u32, ulp_info: *mut c_void) -> c_int;

/// Upcall of `usrsctp_set_upcall`, called when the socket's state changes. The `c_int` is
/// usrsctp's internal wait flag, not the readiness: call `usrsctp_get_events` for `SCTP_EVENT_*`.
pub type usrsctp_upcall_fn =
    unsafe extern "C" fn(sock: *mut socket, arg: *mut c_void, flags: c_int);
