//! OS-style error numbers as usrsctp reports them, printed by name.

use std::fmt;
use std::io;

/// An OS-style error number reported by usrsctp, printed by name.
#[derive(Copy, Clone, PartialEq, Eq, Hash)]
pub struct Errno(pub i32);

impl Errno {
    /// The symbolic name (`"EAGAIN"`), or `"E?"` for a number usrsctp does not use.
    pub fn name(self) -> &'static str {
        match self.0 {
            libc::EPERM => "EPERM",
            libc::ENOENT => "ENOENT",
            libc::EINTR => "EINTR",
            libc::EIO => "EIO",
            libc::EBADF => "EBADF",
            libc::EAGAIN => "EAGAIN",
            libc::ENOMEM => "ENOMEM",
            libc::EACCES => "EACCES",
            libc::EFAULT => "EFAULT",
            libc::EBUSY => "EBUSY",
            libc::EEXIST => "EEXIST",
            libc::EINVAL => "EINVAL",
            libc::ENOSPC => "ENOSPC",
            libc::EPIPE => "EPIPE",
            libc::ENOBUFS => "ENOBUFS",
            libc::EMSGSIZE => "EMSGSIZE",
            libc::ENOPROTOOPT => "ENOPROTOOPT",
            libc::EPROTONOSUPPORT => "EPROTONOSUPPORT",
            libc::EOPNOTSUPP => "EOPNOTSUPP",
            libc::EAFNOSUPPORT => "EAFNOSUPPORT",
            libc::EADDRINUSE => "EADDRINUSE",
            libc::EADDRNOTAVAIL => "EADDRNOTAVAIL",
            libc::ENETDOWN => "ENETDOWN",
            libc::ENETUNREACH => "ENETUNREACH",
            libc::ECONNABORTED => "ECONNABORTED",
            libc::ECONNRESET => "ECONNRESET",
            libc::EISCONN => "EISCONN",
            libc::ENOTCONN => "ENOTCONN",
            libc::ESHUTDOWN => "ESHUTDOWN",
            libc::ETIMEDOUT => "ETIMEDOUT",
            libc::ECONNREFUSED => "ECONNREFUSED",
            libc::EHOSTUNREACH => "EHOSTUNREACH",
            libc::EALREADY => "EALREADY",
            libc::EINPROGRESS => "EINPROGRESS",
            libc::ENOTSOCK => "ENOTSOCK",
            _ => "E?",
        }
    }

    /// The errno of the calling thread (usrsctp reports failures through it).
    pub(crate) fn last() -> Errno {
        Errno(io::Error::last_os_error().raw_os_error().unwrap_or(0))
    }

    /// True for EAGAIN / EWOULDBLOCK.
    pub(crate) fn is_would_block(self) -> bool {
        self.0 == libc::EAGAIN || self.0 == libc::EWOULDBLOCK
    }
}

impl fmt::Debug for Errno {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}({})", self.name(), self.0)
    }
}

impl fmt::Display for Errno {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let text = io::Error::from_raw_os_error(self.0);
        // io::Error's Display appends "(os error N)"; keep just the sentence.
        let text = text.to_string();
        let sentence = text.split(" (os error").next().unwrap_or("");
        write!(f, "{} ({sentence})", self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errno_prints_name_and_sentence() {
        let e = Errno(libc::EAGAIN);
        assert_eq!(e.name(), "EAGAIN");
        let shown = e.to_string();
        assert!(shown.starts_with("EAGAIN ("), "{shown}");
        assert!(!shown.contains("os error"), "{shown}");
        assert_eq!(
            format!("{:?}", Errno(libc::ECONNRESET)),
            format!("ECONNRESET({})", libc::ECONNRESET)
        );
    }
}
