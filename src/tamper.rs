//! `--debug-tamper`, a testing aid: spoils received messages above SCTP, before the checks,
//! so the stress tests can show that each check fires (a loss, a duplicate, a corrupted
//! message, a reordering) and fails the run.

use usrsctp::{ppid, Message};

/// Testing aid (`--debug-tamper`): spoils one received message in each of the ways the
/// checks must catch, above SCTP, before verification.
#[derive(Default)]
pub(crate) struct Tamper {
    seen: u64,
    held: Option<((u32, u8), Message)>,
    reordered: bool,
}

impl Tamper {
    /// Passes one message received by the end `key` through: returns what the checks see in
    /// its place. The 100th (if ordered and reliable) is dropped, the 200th doubled, the
    /// 300th's last byte flipped, and the first ordered reliable one after the 400th held back
    /// until the next ordered one of the same end and stream, which goes before it.
    pub(crate) fn apply(&mut self, key: (u32, u8), mut msg: Message) -> Vec<((u32, u8), Message)> {
        self.seen += 1;
        let ordered_reliable = msg.ppid == ppid::BINARY && !msg.unordered;
        let releases = self
            .held
            .as_ref()
            .is_some_and(|(k, h)| *k == key && h.stream == msg.stream && !msg.unordered);
        if releases {
            if let Some(held) = self.held.take() {
                return vec![(key, msg), held];
            }
        }
        match self.seen {
            100 if ordered_reliable => vec![],
            200 => vec![(key, msg.clone()), (key, msg)],
            300 => {
                if let Some(b) = msg.data.last_mut() {
                    *b ^= 0x40;
                }
                vec![(key, msg)]
            }
            n if n > 400 && ordered_reliable && !self.reordered => {
                self.reordered = true;
                self.held = Some((key, msg));
                vec![]
            }
            _ => vec![(key, msg)],
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn msg(seq: u8, unordered: bool) -> Message {
        Message {
            stream: 1,
            ppid: ppid::BINARY,
            data: vec![seq; 8],
            unordered,
        }
    }

    #[test]
    fn spoils_one_message_each_way_and_passes_the_rest() {
        let mut t = Tamper::default();
        let key = (3, 0);
        let mut out = Vec::new();
        for i in 1..=420u32 {
            let got = t.apply(key, msg(i as u8, false));
            out.push((i, got));
        }
        let count = |i: u32| out[i as usize - 1].1.len();
        assert_eq!(count(99), 1);
        assert_eq!(count(100), 0, "the 100th is lost");
        assert_eq!(count(200), 2, "the 200th is duplicated");
        let m300 = &out[299].1[0].1;
        assert_eq!(m300.data[..7], [44u8; 7]);
        assert_eq!(m300.data[7], 44 ^ 0x40, "the 300th is corrupted");
        assert_eq!(count(401), 0, "the 401st is held back");
        let after = &out[401].1;
        assert_eq!(after.len(), 2, "released behind the next one");
        assert_eq!((after[0].1.data[0], after[1].1.data[0]), (146, 145));
        assert!(out[402..].iter().all(|(_, got)| got.len() == 1));
        // Nothing else was touched.
        let delivered: usize = out.iter().map(|(_, got)| got.len()).sum();
        assert_eq!(delivered, 420);
    }

    #[test]
    fn unordered_messages_are_not_dropped_or_held() {
        let mut t = Tamper::default();
        for i in 1..=500u32 {
            let got = t.apply((0, 1), msg(i as u8, true));
            assert_eq!(got.len(), if i == 200 { 2 } else { 1 }, "message {i}");
        }
    }
}
