//! Decoding of the SCTP notifications usrsctp delivers in-band (`MSG_NOTIFICATION`).
//!
//! Pure functions over bytes: every length is checked before a struct is read, so a short or
//! inconsistent notification gives an error, never an out-of-bounds read.

use std::mem::size_of;

use usrsctp_sys as sys;

use crate::ffi::pod::read_pod;

/// The notifications the stack thread acts on.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Notification {
    AssocChange {
        state: u16,
        error: u16,
        outbound_streams: u16,
        inbound_streams: u16,
        /// The peer's ABORT chunk is attached (the peer aborted).
        peer_abort: bool,
    },
    ShutdownEvent,
    SendFailed {
        /// Some of it had been on the wire.
        sent: bool,
        /// The report covers the message's last part (`SCTP_DATA_LAST_FRAG` in its flags):
        /// its last chunk, its unsent tail, or all of it.
        last: bool,
        error: u32,
        stream: u16,
        /// Host byte order.
        ppid: u32,
        context: u32,
    },
    StreamReset {
        flags: u16,
        streams: Vec<u16>,
    },
    StreamChange {
        inbound: u16,
        outbound: u16,
        flags: u16,
    },
    PartialDeliveryAborted,
    RemoteError {
        error: u16,
    },
    Other {
        kind: u16,
    },
}

pub(crate) fn parse(bytes: &[u8]) -> Result<Notification, &'static str> {
    let header: sys::sctp_tlv = read_pod(bytes).ok_or("shorter than a notification header")?;
    let claimed = header.sn_length as usize;
    if claimed > bytes.len() || claimed < size_of::<sys::sctp_tlv>() {
        return Err("notification length disagrees with its buffer");
    }
    let bytes = &bytes[..claimed];
    match header.sn_type {
        sys::SCTP_ASSOC_CHANGE => {
            let sac: sys::sctp_assoc_change = read_pod(bytes).ok_or("short assoc_change")?;
            Ok(Notification::AssocChange {
                state: sac.sac_state,
                error: sac.sac_error,
                outbound_streams: sac.sac_outbound_streams,
                inbound_streams: sac.sac_inbound_streams,
                peer_abort: (sac.sac_state == sys::SCTP_COMM_LOST
                    || sac.sac_state == sys::SCTP_CANT_STR_ASSOC)
                    && claimed > size_of::<sys::sctp_assoc_change>(),
            })
        }
        sys::SCTP_SHUTDOWN_EVENT => Ok(Notification::ShutdownEvent),
        sys::SCTP_SEND_FAILED_EVENT => {
            let ev: sys::sctp_send_failed_event =
                read_pod(bytes).ok_or("short send_failed_event")?;
            Ok(Notification::SendFailed {
                sent: ev.ssfe_flags & sys::SCTP_DATA_SENT != 0,
                last: ev.ssfe_info.snd_flags & sys::SCTP_DATA_LAST_FRAG != 0,
                error: ev.ssfe_error,
                stream: ev.ssfe_info.snd_sid,
                ppid: u32::from_be(ev.ssfe_info.snd_ppid),
                context: ev.ssfe_info.snd_context,
            })
        }
        sys::SCTP_STREAM_RESET_EVENT => {
            let ev: sys::sctp_stream_reset_event =
                read_pod(bytes).ok_or("short stream_reset_event")?;
            let list = &bytes[size_of::<sys::sctp_stream_reset_event>()..];
            let streams = list
                .chunks_exact(2)
                .map(|c| u16::from_ne_bytes([c[0], c[1]]))
                .collect();
            Ok(Notification::StreamReset {
                flags: ev.strreset_flags,
                streams,
            })
        }
        sys::SCTP_STREAM_CHANGE_EVENT => {
            let ev: sys::sctp_stream_change_event =
                read_pod(bytes).ok_or("short stream_change_event")?;
            Ok(Notification::StreamChange {
                inbound: ev.strchange_instrms,
                outbound: ev.strchange_outstrms,
                flags: ev.strchange_flags,
            })
        }
        sys::SCTP_PARTIAL_DELIVERY_EVENT => {
            let ev: sys::sctp_pdapi_event = read_pod(bytes).ok_or("short pdapi_event")?;
            if ev.pdapi_indication == sys::SCTP_PARTIAL_DELIVERY_ABORTED {
                Ok(Notification::PartialDeliveryAborted)
            } else {
                Ok(Notification::Other {
                    kind: header.sn_type,
                })
            }
        }
        sys::SCTP_REMOTE_ERROR => {
            let ev: sys::sctp_remote_error = read_pod(bytes).ok_or("short remote_error")?;
            Ok(Notification::RemoteError {
                error: ev.sre_error,
            })
        }
        kind => Ok(Notification::Other { kind }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bytes_of<T: Copy>(v: &T) -> Vec<u8> {
        // SAFETY: reading the bytes of a plain-data value for a test buffer.
        unsafe { std::slice::from_raw_parts(v as *const T as *const u8, size_of::<T>()) }.to_vec()
    }

    #[test]
    fn assoc_change_with_attached_abort_is_a_peer_abort() {
        let mut sac: sys::sctp_assoc_change = crate::ffi::pod::zeroed_pod();
        sac.sac_type = sys::SCTP_ASSOC_CHANGE;
        sac.sac_state = sys::SCTP_COMM_LOST;
        sac.sac_length = size_of::<sys::sctp_assoc_change>() as u32;
        let plain = bytes_of(&sac);
        assert!(matches!(
            parse(&plain),
            Ok(Notification::AssocChange {
                peer_abort: false,
                ..
            })
        ));
        let mut with_chunk = plain.clone();
        with_chunk.extend_from_slice(&[6, 0, 0, 4]);
        sac.sac_length += 4;
        with_chunk[..plain.len()].copy_from_slice(&bytes_of(&sac));
        assert!(matches!(
            parse(&with_chunk),
            Ok(Notification::AssocChange {
                peer_abort: true,
                ..
            })
        ));
    }

    #[test]
    fn stream_reset_lists_its_streams() {
        let mut ev: sys::sctp_stream_reset_event = crate::ffi::pod::zeroed_pod();
        ev.strreset_type = sys::SCTP_STREAM_RESET_EVENT;
        ev.strreset_flags = sys::SCTP_STREAM_RESET_INCOMING_SSN;
        let mut buf = bytes_of(&ev);
        for s in [1u16, 3, 65_534] {
            buf.extend_from_slice(&s.to_ne_bytes());
        }
        let len = buf.len() as u32;
        buf[4..8].copy_from_slice(&len.to_ne_bytes());
        assert_eq!(
            parse(&buf),
            Ok(Notification::StreamReset {
                flags: sys::SCTP_STREAM_RESET_INCOMING_SSN,
                streams: vec![1, 3, 65_534]
            })
        );
    }

    #[test]
    fn truncated_or_inconsistent_notifications_are_errors() {
        assert!(parse(&[]).is_err());
        assert!(parse(&[1, 0, 0]).is_err());
        // Claims 200 bytes in an 8-byte buffer.
        let mut buf = vec![0u8; 8];
        buf[0..2].copy_from_slice(&sys::SCTP_ASSOC_CHANGE.to_ne_bytes());
        buf[4..8].copy_from_slice(&200u32.to_ne_bytes());
        assert!(parse(&buf).is_err());
        // Consistent length but too short for an assoc_change.
        buf[4..8].copy_from_slice(&8u32.to_ne_bytes());
        assert_eq!(parse(&buf), Err("short assoc_change"));
        // Unknown kinds pass through.
        let mut other = vec![0u8; 8];
        other[0..2].copy_from_slice(&0x7777u16.to_ne_bytes());
        other[4..8].copy_from_slice(&8u32.to_ne_bytes());
        assert_eq!(parse(&other), Ok(Notification::Other { kind: 0x7777 }));
    }
}
