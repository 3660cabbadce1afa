//! The crate's error type.

use std::fmt;
use std::io;

use crate::errno::Errno;
use crate::event::AssocId;

/// Everything that can go wrong in this crate.
///
/// Every variant that concerns one association carries its id, so a log line says which one.
#[derive(Debug)]
#[non_exhaustive]
pub enum Error {
    /// The stack thread is gone: it was shut down, or usrsctp could not be started.
    StackShutdown,
    /// [`Stack::start`](crate::Stack::start) was called while a stack is running.
    AlreadyRunning,
    /// The association is closed (or its worker was dropped); nothing was sent or queued.
    Closed {
        /// The association.
        assoc: AssocId,
    },
    /// The send queue is above its high-water mark; retry after
    /// [`Event::BufferedAmountLow`](crate::Event::BufferedAmountLow).
    WouldBlock {
        /// The association.
        assoc: AssocId,
        /// Bytes queued and not yet accepted by SCTP.
        buffered: usize,
        /// The configured high-water mark.
        high_water: usize,
    },
    /// The message is larger than the association's maximum message size.
    MessageTooLarge {
        /// The association.
        assoc: AssocId,
        /// The size of the rejected message.
        size: usize,
        /// The configured maximum.
        max: usize,
    },
    /// An empty message with a PPID that has no WebRTC empty form (only 51/53/56/57 do).
    EmptyMessage {
        /// The association.
        assoc: AssocId,
        /// The PPID given.
        ppid: u32,
    },
    /// The stream id is not below the number of outgoing streams.
    InvalidStream {
        /// The association.
        assoc: AssocId,
        /// The stream asked for.
        stream: u16,
        /// The number of outgoing streams (negotiated, or configured before the handshake).
        streams: u16,
    },
    /// A packet handed to [`Association::input`](crate::Association::input) cannot be SCTP.
    MalformedPacket {
        /// The association.
        assoc: AssocId,
        /// Its length in bytes.
        len: usize,
        /// Why it was refused.
        reason: &'static str,
    },
    /// A configuration value is out of range.
    InvalidConfig {
        /// The field.
        field: &'static str,
        /// What is wrong with it.
        reason: String,
    },
    /// A usrsctp call failed.
    Usrsctp {
        /// The usrsctp operation (`"usrsctp_bind"`, …).
        op: &'static str,
        /// The association, when the call concerned one.
        assoc: Option<AssocId>,
        /// The error number usrsctp set.
        errno: Errno,
    },
    /// An operating-system call of ours failed (eventfd, thread spawn).
    Io {
        /// What we were doing.
        op: &'static str,
        /// The underlying error.
        source: io::Error,
    },
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::StackShutdown => write!(f, "the usrsctp stack thread is not running"),
            Error::AlreadyRunning => write!(f, "a usrsctp stack is already running in this process"),
            Error::Closed { assoc } => write!(f, "{assoc} is closed"),
            Error::WouldBlock { assoc, buffered, high_water } => write!(
                f,
                "{assoc} send queue is full ({buffered} bytes buffered, high-water mark {high_water}); \
                 wait for BufferedAmountLow"
            ),
            Error::MessageTooLarge { assoc, size, max } => write!(
                f,
                "{assoc} cannot send a {size}-byte message: the maximum message size is {max} bytes"
            ),
            Error::EmptyMessage { assoc, ppid } => write!(
                f,
                "{assoc} cannot send an empty message with PPID {ppid}: SCTP carries no empty \
                 messages, and only the WebRTC PPIDs 51/53/56/57 have an empty form"
            ),
            Error::InvalidStream { assoc, stream, streams } => write!(
                f,
                "{assoc} has {streams} outgoing streams; stream id {stream} is out of range"
            ),
            Error::MalformedPacket { assoc, len, reason } => {
                write!(f, "{assoc} refused a {len}-byte input packet: {reason}")
            }
            Error::InvalidConfig { field, reason } => {
                write!(f, "invalid configuration: {field} {reason}")
            }
            Error::Usrsctp { op, assoc: Some(assoc), errno } => {
                write!(f, "{op} failed for {assoc}: {errno}")
            }
            Error::Usrsctp { op, assoc: None, errno } => write!(f, "{op} failed: {errno}"),
            Error::Io { op, source } => write!(f, "{op} failed: {source}"),
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Error::Io { source, .. } => Some(source),
            _ => None,
        }
    }
}

impl Error {
    /// True for [`Error::WouldBlock`]: try again after `BufferedAmountLow`.
    pub fn is_would_block(&self) -> bool {
        matches!(self, Error::WouldBlock { .. })
    }

    /// The association the error concerns, if any.
    pub fn assoc(&self) -> Option<AssocId> {
        match self {
            Error::Closed { assoc }
            | Error::WouldBlock { assoc, .. }
            | Error::MessageTooLarge { assoc, .. }
            | Error::EmptyMessage { assoc, .. }
            | Error::InvalidStream { assoc, .. }
            | Error::MalformedPacket { assoc, .. } => Some(*assoc),
            Error::Usrsctp { assoc, .. } => *assoc,
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_display_names_the_association() {
        let err = Error::Usrsctp {
            op: "usrsctp_bind",
            assoc: Some(AssocId(7)),
            errno: Errno(libc::EADDRINUSE),
        };
        let text = err.to_string();
        assert!(text.contains("usrsctp_bind"), "{text}");
        assert!(text.contains("assoc#7"), "{text}");
        assert!(text.contains("EADDRINUSE"), "{text}");
        assert_eq!(err.assoc(), Some(AssocId(7)));
        assert!(!err.is_would_block());
    }
}
