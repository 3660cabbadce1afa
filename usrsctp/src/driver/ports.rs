//! The SCTP port each association's socket is bound to inside usrsctp, which is not the one
//! on the wire.
//!
//! usrsctp finds an endpoint by hashing its local port only, then walks every endpoint in that
//! bucket comparing addresses. WebRTC puts every association on the same port (SDP
//! `a=sctp-port`, 5000), so with one socket per association each `bind` walked all the
//! others, taking each one's lock: with 10,000 associations that was 60–70 % of the stack
//! thread while associations were set up, and `associate` cost grew linearly with the crowd.
//!
//! So each socket is bound to a port of its own, used only inside usrsctp: the stack thread
//! writes it into the destination port of every packet it feeds (when that port is the
//! configured `local_port`), and the output callback writes the configured `local_port` back
//! into the source port of every packet usrsctp sends (`packet::ports`). The peer never sees
//! the inner port. Nothing else in SCTP carries the ports; usrsctp's state cookie records the
//! inner ones and is only ever checked by usrsctp itself.
//!
//! Ports are handed out so that usrsctp's hash spreads them: it hashes the port as stored (in
//! network byte order) masked by the table size, so the n-th port given is the one whose
//! network-order value is n. usrsctp's 1,024-bucket table then holds about N / 1,024 endpoints
//! per bucket.
//!
//! The port is also how packets are told apart inside usrsctp: every socket with a port of its
//! own binds the same AF_CONN address (`shared::port_owners` says why and who owns each port).
//! When all 65,535 are in use, a new socket shares its configured port and gets an AF_CONN
//! address of its own (its id), as every socket did before: correct, only slower.

use std::collections::VecDeque;

/// Inner ports: never-used ones in hash order first, then freed ones, oldest first, so a port
/// is given again only after all the others were (a closed socket's late packet then finds
/// its port without an owner, `shared::port_owners`).
#[derive(Default)]
pub(super) struct PortPool {
    /// The network-order value of the last never-used port given (0: none yet).
    last: u16,
    freed: VecDeque<u16>,
}

impl PortPool {
    /// A port of its own for a new association's socket; `None` when all 65,535 are in use
    /// (the socket then shares its configured port).
    pub(super) fn take(&mut self) -> Option<u16> {
        if self.last < u16::MAX {
            self.last += 1;
            return Some(u16::from_be(self.last));
        }
        self.freed.pop_front()
    }

    /// Gives back a port from `take`.
    pub(super) fn put(&mut self, port: u16) {
        self.freed.push_back(port);
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use super::*;

    #[test]
    fn ports_are_distinct_and_spread_over_usrsctps_hash() {
        let mut pool = PortPool::default();
        let ports: Vec<u16> = (0..10_000).map(|_| pool.take().unwrap()).collect();
        let distinct: HashSet<u16> = ports.iter().copied().collect();
        assert_eq!(distinct.len(), ports.len());
        assert!(!ports.contains(&0));
        // usrsctp's endpoint hash: the port as stored (network order) & (1024 - 1).
        let mut buckets = [0usize; 1024];
        for p in &ports {
            buckets[usize::from(p.to_be()) & 1023] += 1;
        }
        let (min, max) = (buckets.iter().min(), buckets.iter().max());
        assert_eq!((min, max), (Some(&9), Some(&10)), "an even spread");
    }

    #[test]
    fn freed_ports_come_back_oldest_first_once_all_were_given() {
        let mut pool = PortPool::default();
        let first = pool.take().unwrap();
        let second = pool.take().unwrap();
        pool.put(second);
        pool.put(first);
        // Never-used ports go first.
        let third = pool.take().unwrap();
        assert!(third != first && third != second);
        for _ in 3..65_535 {
            assert!(pool.take().is_some());
        }
        // All given once: the freed ones, oldest first, then none (share).
        assert_eq!(pool.take(), Some(second));
        assert_eq!(pool.take(), Some(first));
        assert_eq!(pool.take(), None);
    }
}
