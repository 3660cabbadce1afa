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
