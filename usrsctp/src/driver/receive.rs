//! Reading from usrsctp: messages and notifications arrive in pieces of up to `READ_CHUNK`
//! bytes, are reassembled here, and are read only while the owner has receive credit, so a
//! slow worker closes SCTP's receive window instead of growing memory.

use std::mem;
use std::os::raw::c_int;

use tracing::{debug, trace, warn};
use usrsctp_sys as sys;

use super::{Driver, Entry};
use crate::event::{AssocId, Event, Message};
use crate::ffi::pod::zeroed_pod;
use crate::notification::{self, Notification};
use crate::shared::counters::{bump, COUNTERS};
use crate::shared::mailbox::Envelope;

/// What a completed reassembly produced.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Piece {
    Message(Message),
    /// The bytes of a notification, to decode.
    Notification(Vec<u8>),
    /// A message larger than the limit ended; its bytes were dropped as they came.
    TooLarge {
        stream: u16,
        ppid: u32,
        size: usize,
    },
}

/// The message and the notification being put together from partial reads. usrsctp
/// interleaves neither: pieces of one message come in order, ending with `MSG_EOR`.
///
/// A message is held up to `max` bytes (the association's `max_message_size`); past that its
/// pieces are only counted, so a peer cannot make the stack thread hold more than that.
pub(super) struct Reassembly {
    max: usize,
    message: Vec<u8>,
    /// Bytes of a message over the limit, dropped so far (`None`: none is being dropped).
    dropping: Option<usize>,
    notification: Vec<u8>,
}

impl Reassembly {
    pub(super) fn new(max: usize) -> Self {
        Reassembly {
            max,
            message: Vec::new(),
            dropping: None,
            notification: Vec::new(),
        }
    }

    /// Takes one piece as `usrsctp_recvv` returned it (`flags`, and the receive info of a data
    /// piece); returns the message or notification it completes.
    pub(super) fn push(
        &mut self,
        piece: &[u8],
        flags: c_int,
        info: Option<sys::sctp_rcvinfo>,
    ) -> Option<Piece> {
        let complete = flags & libc::MSG_EOR != 0;
        if flags & sys::MSG_NOTIFICATION != 0 {
            self.notification.extend_from_slice(piece);
            return complete.then(|| Piece::Notification(mem::take(&mut self.notification)));
        }
        if self.dropping.is_none() && self.message.len() + piece.len() > self.max {
            // Over the limit: let go of what we hold, and from now on only count.
            self.dropping = Some(mem::take(&mut self.message).len());
        }
        match &mut self.dropping {
            Some(dropped) => *dropped += piece.len(),
            None => {
                if self.message.capacity() == 0 {
                    // A new message: in a buffer the stack thread is done with, if one fits.
                    self.message = crate::shared::recycle::take(piece.len());
                }
                self.message.extend_from_slice(piece)
            }
        }
        if !complete {
            return None;
        }
        let info = info.unwrap_or_else(zeroed_pod);
        let ppid = u32::from_be(info.rcv_ppid);
        if let Some(size) = self.dropping.take() {
            return Some(Piece::TooLarge {
                stream: info.rcv_sid,
                ppid,
                size,
            });
        }
        let mut data = mem::take(&mut self.message);
        if ppid == crate::ppid::STRING_EMPTY || ppid == crate::ppid::BINARY_EMPTY {
            data.clear();
        }
        Some(Piece::Message(Message {
            stream: info.rcv_sid,
            ppid,
            unordered: info.rcv_flags & sys::SCTP_UNORDERED != 0,
            data,
        }))
    }

    /// The peer abandoned the message being delivered (`SCTP_PARTIAL_DELIVERY_ABORTED`).
    pub(super) fn abandon_message(&mut self) {
        self.message.clear();
        self.dropping = None;
    }
}

/// What one step of a drain produced.
enum Read {
    /// A complete message was posted to the mailbox.
    Message,
    /// A complete notification, for the driver to act on before reading further.
    Notification(Notification),
    /// Nothing more for now: no data, no credit, or an error.
    Stop,
}

/// Reads until one message or notification is complete (or nothing is left). Only while the
/// owner has receive credit, unless `everything` (an aborted association: what usrsctp still
/// queues is bounded by its receive buffer, and must be read to learn the outcomes).
fn read_one(id: AssocId, e: &mut Entry, buf: &mut [u8], everything: bool) -> Read {
    loop {
        if !everything && !e.shared.may_read() {
            return Read::Stop;
        }
        let got = match e.raw.recvv(buf) {
            Ok(got) => got,
            Err(errno) => {
                if !errno.is_would_block() {
                    trace!(assoc = %id, %errno, "usrsctp_recvv");
                }
                return Read::Stop;
            }
        };
        if got.len == 0 && got.flags & libc::MSG_EOR == 0 {
            return Read::Stop; // end of stream
        }
        match e.inbound.push(&buf[..got.len], got.flags, got.info) {
            None => {}
            Some(Piece::Notification(bytes)) => match notification::parse(&bytes) {
                Ok(n) => return Read::Notification(n),
                Err(reason) => warn!(assoc = %id, reason, "undecodable notification ignored"),
            },
            Some(Piece::TooLarge { stream, ppid, size }) => {
                bump(&COUNTERS.messages_too_large);
                debug!(assoc = %id, stream, ppid, size, "message over max_message_size dropped");
                e.post(Event::MessageTooLarge {
                    assoc: id,
                    stream,
                    ppid,
                    size,
                    max: e.shared.config.max_message_size,
                });
                return Read::Message;
            }
            Some(Piece::Message(message)) => {
                trace!(assoc = %id, stream = message.stream, len = message.data.len(), "message");
                e.shared.delivered(message.data.len());
                e.mailbox.post(Envelope {
                    event: Event::Message { assoc: id, message },
                    credit: Some(e.shared.clone()),
                });
                return Read::Message;
            }
        }
    }
}

impl Driver {
    /// Reads messages and notifications while the owner has credit, acting on each in the
    /// order usrsctp delivered it (a `Connected` is posted before the messages that follow it).
    pub(super) fn drain(&mut self, id: AssocId) {
        self.read(id, false);
    }

    /// Reads everything usrsctp queued for an association it has aborted: the SEND_FAILED
    /// notifications for what it still held, and the COMM_LOST that ends it.
    pub(super) fn drain_aborted(&mut self, id: AssocId) {
        self.read(id, true);
    }

    fn read(&mut self, id: AssocId, everything: bool) {
        loop {
            let Some(e) = self.entries.get_mut(&id) else {
                return;
            };
            match read_one(id, e, &mut self.buf, everything) {
                Read::Message => {}
                Read::Notification(n) => self.notification(id, n),
                Read::Stop => return,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ppid;

    fn info(stream: u16, ppid: u32, unordered: bool) -> Option<sys::sctp_rcvinfo> {
        let mut i: sys::sctp_rcvinfo = zeroed_pod();
        i.rcv_sid = stream;
        i.rcv_ppid = ppid.to_be();
        i.rcv_flags = if unordered { sys::SCTP_UNORDERED } else { 0 };
        Some(i)
    }

    const EOR: c_int = libc::MSG_EOR;

    #[test]
    fn pieces_make_one_message_at_the_end_of_record() {
        let mut r = Reassembly::new(1 << 20);
        assert_eq!(r.push(b"hel", 0, info(3, ppid::STRING, false)), None);
        assert_eq!(r.push(b"lo ", 0, info(3, ppid::STRING, false)), None);
        let got = r.push(b"world", EOR, info(3, ppid::STRING, true));
        assert_eq!(
            got,
            Some(Piece::Message(Message {
                stream: 3,
                ppid: ppid::STRING,
                unordered: true,
                data: b"hello world".to_vec(),
            }))
        );
        // The next message starts empty.
        let got = r.push(b"x", EOR, info(1, ppid::BINARY, false));
        assert!(matches!(got, Some(Piece::Message(m)) if m.data == b"x"));
    }

    #[test]
    fn the_empty_forms_deliver_no_bytes() {
        let mut r = Reassembly::new(1 << 20);
        for p in [ppid::STRING_EMPTY, ppid::BINARY_EMPTY] {
            let got = r.push(&[0], EOR, info(0, p, false));
            assert!(
                matches!(&got, Some(Piece::Message(m)) if m.data.is_empty() && m.ppid == p),
                "{got:?}"
            );
        }
    }

    #[test]
    fn a_notification_interleaved_with_a_partial_message_is_kept_apart() {
        let mut r = Reassembly::new(1 << 20);
        assert_eq!(r.push(b"part", 0, info(2, ppid::BINARY, false)), None);
        assert_eq!(r.push(&[1, 2], sys::MSG_NOTIFICATION, None), None);
        assert_eq!(
            r.push(&[3], sys::MSG_NOTIFICATION | EOR, None),
            Some(Piece::Notification(vec![1, 2, 3]))
        );
        let got = r.push(b"-end", EOR, info(2, ppid::BINARY, false));
        assert!(matches!(got, Some(Piece::Message(m)) if m.data == b"part-end"));
    }

    #[test]
    fn an_abandoned_message_leaves_nothing_behind() {
        let mut r = Reassembly::new(1 << 20);
        assert_eq!(r.push(b"stale", 0, info(2, ppid::BINARY, false)), None);
        r.abandon_message();
        let got = r.push(b"new", EOR, info(2, ppid::BINARY, false));
        assert!(matches!(got, Some(Piece::Message(m)) if m.data == b"new"));
    }

    #[test]
    fn a_message_over_the_limit_is_counted_not_held() {
        let mut r = Reassembly::new(10);
        assert_eq!(r.push(&[1; 6], 0, info(4, ppid::BINARY, false)), None);
        assert_eq!(r.push(&[2; 6], 0, info(4, ppid::BINARY, false)), None);
        assert!(r.message.capacity() == 0, "the held part was let go");
        for _ in 0..1000 {
            assert_eq!(r.push(&[3; 64], 0, info(4, ppid::BINARY, false)), None);
            assert!(r.message.is_empty());
        }
        assert_eq!(
            r.push(&[4; 8], EOR, info(4, ppid::BINARY, false)),
            Some(Piece::TooLarge {
                stream: 4,
                ppid: ppid::BINARY,
                size: 12 + 64_000 + 8
            })
        );
        // The next message is delivered again, and one of exactly the limit fits.
        let got = r.push(&[5; 10], EOR, info(4, ppid::BINARY, false));
        assert!(matches!(got, Some(Piece::Message(m)) if m.data == [5; 10]));
        assert_eq!(
            r.push(&[6; 11], EOR, info(4, ppid::BINARY, false)),
            Some(Piece::TooLarge {
                stream: 4,
                ppid: ppid::BINARY,
                size: 11
            })
        );
    }

    #[test]
    fn a_message_without_receive_info_reads_as_stream_0_ppid_0() {
        let mut r = Reassembly::new(1 << 20);
        let got = r.push(b"?", EOR, None);
        assert!(matches!(got, Some(Piece::Message(m)) if m.stream == 0 && m.ppid == 0));
    }
}
