//! Functions of `usrsctp.h`, in header order, with the exact C signatures.

use libc::{c_char, c_int, c_uint, c_void, size_t, sockaddr, socklen_t, ssize_t};

use crate::types::{
    sctp_assoc_t, sctpstat, socket, usrsctp_conn_output_fn, usrsctp_debug_printf_fn,
    usrsctp_receive_cb, usrsctp_send_cb, usrsctp_upcall_fn,
};

extern "C" {
    /// Initialises the stack in threaded mode (timer thread, and for INET/INET6 builds receive
    /// threads). `udp_port` 0 disables UDP encapsulation.
    pub fn usrsctp_init(
        udp_port: u16,
        conn_output: Option<usrsctp_conn_output_fn>,
        debug_printf: Option<usrsctp_debug_printf_fn>,
    );

    /// Initialises the stack without any thread: the caller drives timers with
    /// [`usrsctp_handle_timers`].
    pub fn usrsctp_init_nothreads(
        udp_port: u16,
        conn_output: Option<usrsctp_conn_output_fn>,
        debug_printf: Option<usrsctp_debug_printf_fn>,
    );

    /// Creates a socket. With `receive_cb` set the socket uses the callback API; otherwise use
    /// [`usrsctp_recvv`]. Returns null on error (errno set).
    pub fn usrsctp_socket(
        domain: c_int,
        type_: c_int,
        protocol: c_int,
        receive_cb: Option<usrsctp_receive_cb>,
        send_cb: Option<usrsctp_send_cb>,
        sb_threshold: u32,
        ulp_info: *mut c_void,
    ) -> *mut socket;

    /// Sets a socket option; returns 0 or -1 (errno set).
    pub fn usrsctp_setsockopt(
        so: *mut socket,
        level: c_int,
        option_name: c_int,
        option_value: *const c_void,
        option_len: socklen_t,
    ) -> c_int;

    /// Reads a socket option; returns 0 or -1 (errno set).
    pub fn usrsctp_getsockopt(
        so: *mut socket,
        level: c_int,
        option_name: c_int,
        option_value: *mut c_void,
        option_len: *mut socklen_t,
    ) -> c_int;

    /// Reads a socket option for association `id`; returns 0 or -1 (errno set).
    pub fn usrsctp_opt_info(
        so: *mut socket,
        id: sctp_assoc_t,
        opt: c_int,
        arg: *mut c_void,
        size: *mut socklen_t,
    ) -> c_int;

    /// Returns the peer addresses of association `id` (free with [`usrsctp_freepaddrs`]).
    pub fn usrsctp_getpaddrs(
        so: *mut socket,
        id: sctp_assoc_t,
        raddrs: *mut *mut sockaddr,
    ) -> c_int;

    /// Frees addresses returned by [`usrsctp_getpaddrs`].
    pub fn usrsctp_freepaddrs(addrs: *mut sockaddr);

    /// Returns the local addresses of association `id` (free with [`usrsctp_freeladdrs`]).
    pub fn usrsctp_getladdrs(
        so: *mut socket,
        id: sctp_assoc_t,
        raddrs: *mut *mut sockaddr,
    ) -> c_int;

    /// Frees addresses returned by [`usrsctp_getladdrs`].
    pub fn usrsctp_freeladdrs(addrs: *mut sockaddr);

    /// Sends a message. `info`/`infolen`/`infotype` describe an optional `SCTP_SENDV_*`
    /// structure. Returns the number of bytes queued or -1 (errno set).
    pub fn usrsctp_sendv(
        so: *mut socket,
        data: *const c_void,
        len: size_t,
        to: *mut sockaddr,
        addrcnt: c_int,
        info: *mut c_void,
        infolen: socklen_t,
        infotype: c_uint,
        flags: c_int,
    ) -> ssize_t;

    /// Receives a message. On return `*infotype` says which `SCTP_RECVV_*` structure was written
    /// to `info` and `*msg_flags` holds `MSG_NOTIFICATION` / `MSG_EOR`. Returns the number of
    /// bytes or -1 (errno set).
    pub fn usrsctp_recvv(
        so: *mut socket,
        dbuf: *mut c_void,
        len: size_t,
        from: *mut sockaddr,
        fromlen: *mut socklen_t,
        info: *mut c_void,
        infolen: *mut socklen_t,
        infotype: *mut c_uint,
        msg_flags: *mut c_int,
    ) -> ssize_t;

    /// Binds the socket; returns 0 or -1 (errno set).
    pub fn usrsctp_bind(so: *mut socket, name: *mut sockaddr, namelen: socklen_t) -> c_int;

    /// Adds or removes (`SCTP_BINDX_*`) bound addresses; returns 0 or -1 (errno set).
    pub fn usrsctp_bindx(
        so: *mut socket,
        addrs: *mut sockaddr,
        addrcnt: c_int,
        flags: c_int,
    ) -> c_int;

    /// Marks the socket as listening; returns 0 or -1 (errno set).
    pub fn usrsctp_listen(so: *mut socket, backlog: c_int) -> c_int;

    /// Accepts an association; returns null on error (errno set).
    pub fn usrsctp_accept(
        so: *mut socket,
        aname: *mut sockaddr,
        anamelen: *mut socklen_t,
    ) -> *mut socket;

    /// Branches association `id` off a one-to-many socket into its own socket.
    pub fn usrsctp_peeloff(so: *mut socket, id: sctp_assoc_t) -> *mut socket;

    /// Starts an association; returns 0 or -1 (errno set, `EINPROGRESS` when non-blocking).
    pub fn usrsctp_connect(so: *mut socket, name: *mut sockaddr, namelen: socklen_t) -> c_int;

    /// Starts an association to several addresses; returns 0 or -1 (errno set).
    pub fn usrsctp_connectx(
        so: *mut socket,
        addrs: *const sockaddr,
        addrcnt: c_int,
        id: *mut sctp_assoc_t,
    ) -> c_int;

    /// Closes the socket (graceful shutdown of its association unless `SO_LINGER` says otherwise).
    pub fn usrsctp_close(so: *mut socket);

    /// Returns the association id for peer address `sa`, or 0.
    pub fn usrsctp_getassocid(so: *mut socket, sa: *mut sockaddr) -> sctp_assoc_t;

    /// Tears the stack down; returns 0 on success, -1 while sockets still exist.
    pub fn usrsctp_finish() -> c_int;

    /// Shuts down reading and/or writing (`SHUT_RD`, `SHUT_WR`, `SHUT_RDWR`).
    pub fn usrsctp_shutdown(so: *mut socket, how: c_int) -> c_int;

    /// Feeds one packet received for the AF_CONN address `addr` into the stack.
    pub fn usrsctp_conninput(
        addr: *mut c_void,
        buffer: *const c_void,
        length: size_t,
        ecn_bits: u8,
    );

    /// Sets (1) or clears (0) non-blocking mode; returns 0 or -1.
    pub fn usrsctp_set_non_blocking(so: *mut socket, onoff: c_int) -> c_int;

    /// Returns 1 if the socket is non-blocking, 0 if blocking, -1 on error.
    pub fn usrsctp_get_non_blocking(so: *mut socket) -> c_int;

    /// Registers an AF_CONN address token.
    pub fn usrsctp_register_address(addr: *mut c_void);

    /// Deregisters an AF_CONN address token.
    pub fn usrsctp_deregister_address(addr: *mut c_void);

    /// Replaces the socket's `ulp_info` pointer.
    pub fn usrsctp_set_ulpinfo(so: *mut socket, ulp_info: *mut c_void) -> c_int;

    /// Reads the socket's `ulp_info` pointer.
    pub fn usrsctp_get_ulpinfo(so: *mut socket, pulp_info: *mut *mut c_void) -> c_int;

    /// Installs an upcall run when the socket's state changes; returns 0 or -1.
    pub fn usrsctp_set_upcall(
        so: *mut socket,
        upcall: Option<usrsctp_upcall_fn>,
        arg: *mut c_void,
    ) -> c_int;

    /// Returns the socket's readiness as `SCTP_EVENT_*` bits, or -1.
    pub fn usrsctp_get_events(so: *mut socket) -> c_int;

    /// Advances the stack's timers by `elapsed_milliseconds` (for [`usrsctp_init_nothreads`]).
    pub fn usrsctp_handle_timers(elapsed_milliseconds: u32);

    /// Formats a packet as a text2pcap-compatible hex dump (free with
    /// [`usrsctp_freedumpbuffer`]); `outbound` is `SCTP_DUMP_OUTBOUND` or `SCTP_DUMP_INBOUND`.
    pub fn usrsctp_dumppacket(buf: *const c_void, len: size_t, outbound: c_int) -> *mut c_char;

    /// Frees a buffer returned by [`usrsctp_dumppacket`].
    pub fn usrsctp_freedumpbuffer(buf: *mut c_char);

    /// Stops computing the CRC32c of outgoing packets (the lower layer does it).
    pub fn usrsctp_enable_crc32c_offload();

    /// Computes the CRC32c of outgoing packets again.
    pub fn usrsctp_disable_crc32c_offload();

    /// Computes the CRC32c of a buffer.
    pub fn usrsctp_crc32c(buf: *mut c_void, len: size_t) -> u32;

    /// Copies the global statistics into `stat`.
    pub fn usrsctp_get_stat(stat: *mut sctpstat);
}

/// Declares `usrsctp_tunable_set_<name>` / `usrsctp_sysctl_get_<name>` pairs
/// (`USRSCTP_TUNABLE_DECL`): tunables must be set before `usrsctp_init`.
macro_rules! tunables {
    ($($name:ident => $set:ident, $get:ident;)*) => {
        extern "C" {
            $(
                #[doc = concat!("Sets tunable `", stringify!($name),
                    "` (before `usrsctp_init`); returns 0 or -1 (errno `EINVAL` when out of range).")]
                pub fn $set(value: u32) -> c_int;
                #[doc = concat!("Reads tunable `", stringify!($name), "`.")]
                pub fn $get() -> u32;
            )*
        }
    };
}

/// Declares `usrsctp_sysctl_set_<name>` / `usrsctp_sysctl_get_<name>` pairs
/// (`USRSCTP_SYSCTL_DECL`).
macro_rules! sysctls {
    ($($name:ident => $set:ident, $get:ident;)*) => {
        extern "C" {
            $(
                #[doc = concat!("Sets sysctl `", stringify!($name),
                    "`; returns 0 or -1 (errno `EINVAL` when out of range).")]
                pub fn $set(value: u32) -> c_int;
                #[doc = concat!("Reads sysctl `", stringify!($name), "`.")]
                pub fn $get() -> u32;
            )*
        }
    };
}

tunables! {
    sctp_hashtblsize => usrsctp_tunable_set_sctp_hashtblsize, usrsctp_sysctl_get_sctp_hashtblsize;
    sctp_pcbtblsize => usrsctp_tunable_set_sctp_pcbtblsize, usrsctp_sysctl_get_sctp_pcbtblsize;
    sctp_chunkscale => usrsctp_tunable_set_sctp_chunkscale, usrsctp_sysctl_get_sctp_chunkscale;
}

sysctls! {
    sctp_sendspace => usrsctp_sysctl_set_sctp_sendspace, usrsctp_sysctl_get_sctp_sendspace;
    sctp_recvspace => usrsctp_sysctl_set_sctp_recvspace, usrsctp_sysctl_get_sctp_recvspace;
    sctp_auto_asconf => usrsctp_sysctl_set_sctp_auto_asconf, usrsctp_sysctl_get_sctp_auto_asconf;
    sctp_ecn_enable => usrsctp_sysctl_set_sctp_ecn_enable, usrsctp_sysctl_get_sctp_ecn_enable;
    sctp_pr_enable => usrsctp_sysctl_set_sctp_pr_enable, usrsctp_sysctl_get_sctp_pr_enable;
    sctp_auth_enable => usrsctp_sysctl_set_sctp_auth_enable, usrsctp_sysctl_get_sctp_auth_enable;
    sctp_asconf_enable =>
        usrsctp_sysctl_set_sctp_asconf_enable, usrsctp_sysctl_get_sctp_asconf_enable;
    sctp_reconfig_enable =>
        usrsctp_sysctl_set_sctp_reconfig_enable, usrsctp_sysctl_get_sctp_reconfig_enable;
    sctp_nrsack_enable =>
        usrsctp_sysctl_set_sctp_nrsack_enable, usrsctp_sysctl_get_sctp_nrsack_enable;
    sctp_pktdrop_enable =>
        usrsctp_sysctl_set_sctp_pktdrop_enable, usrsctp_sysctl_get_sctp_pktdrop_enable;
    sctp_no_csum_on_loopback =>
        usrsctp_sysctl_set_sctp_no_csum_on_loopback, usrsctp_sysctl_get_sctp_no_csum_on_loopback;
    sctp_peer_chunk_oh =>
        usrsctp_sysctl_set_sctp_peer_chunk_oh, usrsctp_sysctl_get_sctp_peer_chunk_oh;
    sctp_max_burst_default =>
        usrsctp_sysctl_set_sctp_max_burst_default, usrsctp_sysctl_get_sctp_max_burst_default;
    sctp_max_chunks_on_queue =>
        usrsctp_sysctl_set_sctp_max_chunks_on_queue, usrsctp_sysctl_get_sctp_max_chunks_on_queue;
    sctp_min_split_point =>
        usrsctp_sysctl_set_sctp_min_split_point, usrsctp_sysctl_get_sctp_min_split_point;
    sctp_delayed_sack_time_default =>
        usrsctp_sysctl_set_sctp_delayed_sack_time_default,
        usrsctp_sysctl_get_sctp_delayed_sack_time_default;
    sctp_sack_freq_default =>
        usrsctp_sysctl_set_sctp_sack_freq_default, usrsctp_sysctl_get_sctp_sack_freq_default;
    sctp_system_free_resc_limit =>
        usrsctp_sysctl_set_sctp_system_free_resc_limit,
        usrsctp_sysctl_get_sctp_system_free_resc_limit;
    sctp_asoc_free_resc_limit =>
        usrsctp_sysctl_set_sctp_asoc_free_resc_limit,
        usrsctp_sysctl_get_sctp_asoc_free_resc_limit;
    sctp_heartbeat_interval_default =>
        usrsctp_sysctl_set_sctp_heartbeat_interval_default,
        usrsctp_sysctl_get_sctp_heartbeat_interval_default;
    sctp_pmtu_raise_time_default =>
        usrsctp_sysctl_set_sctp_pmtu_raise_time_default,
        usrsctp_sysctl_get_sctp_pmtu_raise_time_default;
    sctp_shutdown_guard_time_default =>
        usrsctp_sysctl_set_sctp_shutdown_guard_time_default,
        usrsctp_sysctl_get_sctp_shutdown_guard_time_default;
    sctp_secret_lifetime_default =>
        usrsctp_sysctl_set_sctp_secret_lifetime_default,
        usrsctp_sysctl_get_sctp_secret_lifetime_default;
    sctp_rto_max_default =>
        usrsctp_sysctl_set_sctp_rto_max_default, usrsctp_sysctl_get_sctp_rto_max_default;
    sctp_rto_min_default =>
        usrsctp_sysctl_set_sctp_rto_min_default, usrsctp_sysctl_get_sctp_rto_min_default;
    sctp_rto_initial_default =>
        usrsctp_sysctl_set_sctp_rto_initial_default, usrsctp_sysctl_get_sctp_rto_initial_default;
    sctp_init_rto_max_default =>
        usrsctp_sysctl_set_sctp_init_rto_max_default,
        usrsctp_sysctl_get_sctp_init_rto_max_default;
    sctp_valid_cookie_life_default =>
        usrsctp_sysctl_set_sctp_valid_cookie_life_default,
        usrsctp_sysctl_get_sctp_valid_cookie_life_default;
    sctp_init_rtx_max_default =>
        usrsctp_sysctl_set_sctp_init_rtx_max_default,
        usrsctp_sysctl_get_sctp_init_rtx_max_default;
    sctp_assoc_rtx_max_default =>
        usrsctp_sysctl_set_sctp_assoc_rtx_max_default,
        usrsctp_sysctl_get_sctp_assoc_rtx_max_default;
    sctp_path_rtx_max_default =>
        usrsctp_sysctl_set_sctp_path_rtx_max_default,
        usrsctp_sysctl_get_sctp_path_rtx_max_default;
    sctp_add_more_threshold =>
        usrsctp_sysctl_set_sctp_add_more_threshold, usrsctp_sysctl_get_sctp_add_more_threshold;
    sctp_nr_incoming_streams_default =>
        usrsctp_sysctl_set_sctp_nr_incoming_streams_default,
        usrsctp_sysctl_get_sctp_nr_incoming_streams_default;
    sctp_nr_outgoing_streams_default =>
        usrsctp_sysctl_set_sctp_nr_outgoing_streams_default,
        usrsctp_sysctl_get_sctp_nr_outgoing_streams_default;
    sctp_cmt_on_off => usrsctp_sysctl_set_sctp_cmt_on_off, usrsctp_sysctl_get_sctp_cmt_on_off;
    sctp_cmt_use_dac => usrsctp_sysctl_set_sctp_cmt_use_dac, usrsctp_sysctl_get_sctp_cmt_use_dac;
    sctp_use_cwnd_based_maxburst =>
        usrsctp_sysctl_set_sctp_use_cwnd_based_maxburst,
        usrsctp_sysctl_get_sctp_use_cwnd_based_maxburst;
    sctp_nat_friendly => usrsctp_sysctl_set_sctp_nat_friendly, usrsctp_sysctl_get_sctp_nat_friendly;
    sctp_L2_abc_variable =>
        usrsctp_sysctl_set_sctp_L2_abc_variable, usrsctp_sysctl_get_sctp_L2_abc_variable;
    sctp_mbuf_threshold_count =>
        usrsctp_sysctl_set_sctp_mbuf_threshold_count,
        usrsctp_sysctl_get_sctp_mbuf_threshold_count;
    sctp_do_drain => usrsctp_sysctl_set_sctp_do_drain, usrsctp_sysctl_get_sctp_do_drain;
    sctp_hb_maxburst => usrsctp_sysctl_set_sctp_hb_maxburst, usrsctp_sysctl_get_sctp_hb_maxburst;
    sctp_abort_if_one_2_one_hits_limit =>
        usrsctp_sysctl_set_sctp_abort_if_one_2_one_hits_limit,
        usrsctp_sysctl_get_sctp_abort_if_one_2_one_hits_limit;
    sctp_min_residual => usrsctp_sysctl_set_sctp_min_residual, usrsctp_sysctl_get_sctp_min_residual;
    sctp_max_retran_chunk =>
        usrsctp_sysctl_set_sctp_max_retran_chunk, usrsctp_sysctl_get_sctp_max_retran_chunk;
    sctp_logging_level =>
        usrsctp_sysctl_set_sctp_logging_level, usrsctp_sysctl_get_sctp_logging_level;
    sctp_default_cc_module =>
        usrsctp_sysctl_set_sctp_default_cc_module, usrsctp_sysctl_get_sctp_default_cc_module;
    sctp_default_frag_interleave =>
        usrsctp_sysctl_set_sctp_default_frag_interleave,
        usrsctp_sysctl_get_sctp_default_frag_interleave;
    sctp_mobility_base =>
        usrsctp_sysctl_set_sctp_mobility_base, usrsctp_sysctl_get_sctp_mobility_base;
    sctp_mobility_fasthandoff =>
        usrsctp_sysctl_set_sctp_mobility_fasthandoff,
        usrsctp_sysctl_get_sctp_mobility_fasthandoff;
    sctp_inits_include_nat_friendly =>
        usrsctp_sysctl_set_sctp_inits_include_nat_friendly,
        usrsctp_sysctl_get_sctp_inits_include_nat_friendly;
    sctp_udp_tunneling_port =>
        usrsctp_sysctl_set_sctp_udp_tunneling_port, usrsctp_sysctl_get_sctp_udp_tunneling_port;
    sctp_enable_sack_immediately =>
        usrsctp_sysctl_set_sctp_enable_sack_immediately,
        usrsctp_sysctl_get_sctp_enable_sack_immediately;
    sctp_vtag_time_wait =>
        usrsctp_sysctl_set_sctp_vtag_time_wait, usrsctp_sysctl_get_sctp_vtag_time_wait;
    sctp_blackhole => usrsctp_sysctl_set_sctp_blackhole, usrsctp_sysctl_get_sctp_blackhole;
    sctp_diag_info_code =>
        usrsctp_sysctl_set_sctp_diag_info_code, usrsctp_sysctl_get_sctp_diag_info_code;
    sctp_fr_max_burst_default =>
        usrsctp_sysctl_set_sctp_fr_max_burst_default,
        usrsctp_sysctl_get_sctp_fr_max_burst_default;
    sctp_path_pf_threshold =>
        usrsctp_sysctl_set_sctp_path_pf_threshold, usrsctp_sysctl_get_sctp_path_pf_threshold;
    sctp_default_ss_module =>
        usrsctp_sysctl_set_sctp_default_ss_module, usrsctp_sysctl_get_sctp_default_ss_module;
    sctp_rttvar_bw => usrsctp_sysctl_set_sctp_rttvar_bw, usrsctp_sysctl_get_sctp_rttvar_bw;
    sctp_rttvar_rtt => usrsctp_sysctl_set_sctp_rttvar_rtt, usrsctp_sysctl_get_sctp_rttvar_rtt;
    sctp_rttvar_eqret => usrsctp_sysctl_set_sctp_rttvar_eqret, usrsctp_sysctl_get_sctp_rttvar_eqret;
    sctp_steady_step => usrsctp_sysctl_set_sctp_steady_step, usrsctp_sysctl_get_sctp_steady_step;
    sctp_use_dccc_ecn => usrsctp_sysctl_set_sctp_use_dccc_ecn, usrsctp_sysctl_get_sctp_use_dccc_ecn;
    sctp_buffer_splitting =>
        usrsctp_sysctl_set_sctp_buffer_splitting, usrsctp_sysctl_get_sctp_buffer_splitting;
    sctp_initial_cwnd => usrsctp_sysctl_set_sctp_initial_cwnd, usrsctp_sysctl_get_sctp_initial_cwnd;
    sctp_debug_on => usrsctp_sysctl_set_sctp_debug_on, usrsctp_sysctl_get_sctp_debug_on;
}

// usrsctp.h 0.9.5.0 declares these, but the 0.9.5.0 library defines only
// `usrsctp_sysctl_get_sctp_multiple_asconfs` of them (upstream omission in user_socket.c). They
// are declared here because the header declares them; calling an undefined one fails to link.
extern "C" {
    /// Sets sysctl `sctp_multiple_asconfs`. **Not defined by the usrsctp 0.9.5.0 library**:
    /// calling it fails to link.
    pub fn usrsctp_sysctl_set_sctp_multiple_asconfs(value: u32) -> c_int;
    /// Reads sysctl `sctp_multiple_asconfs`.
    pub fn usrsctp_sysctl_get_sctp_multiple_asconfs() -> u32;
    /// Sets sysctl `sctp_sendall_limit`. **Not defined by the usrsctp 0.9.5.0 library**: calling
    /// it fails to link.
    pub fn usrsctp_sysctl_set_sctp_sendall_limit(value: u32) -> c_int;
    /// Reads sysctl `sctp_sendall_limit`. **Not defined by the usrsctp 0.9.5.0 library**:
    /// calling it fails to link.
    pub fn usrsctp_sysctl_get_sctp_sendall_limit() -> u32;
}
