//! One end of one pair incarnation, as a worker holds it: its association, where its peer
//! lives, and what it has sent and received.

use std::sync::atomic::Ordering::{Acquire, Relaxed, Release};
use std::sync::Arc;

use usrsctp::{ppid, Association, Message, MessageId, Reliability, SendFailure, SendOptions};

use crate::books::{IdMap, Ledger};
use crate::latency::Histogram;
use crate::payload::{self, Header, STREAMS};
use crate::state::{Round, Shared};
use crate::trace::Trace;
use crate::wire::Dest;

/// Messages queued per association per pass before the worker moves on.
const SEND_BATCH: usize = 64;

/// Side A sends direction 0 and receives direction 1; side B the reverse.
pub(crate) const A: u8 = 0;
pub(crate) const B: u8 = 1;

/// One end of one pair incarnation.
pub(crate) struct Local {
    pub(crate) slot: u32,
    pub(crate) side: u8,
    pub(crate) ledger: Arc<Ledger>,
    pub(crate) assoc: Association,
    /// The worker the other end lives on.
    pub(crate) peer: usize,
    pub(crate) connected: bool,
    pub(crate) blocked: bool,
    pub(crate) next_seq: u32,
    /// The sequence number of each message `send` accepted, to book its `SendFailed`.
    pub(crate) ids: IdMap,
    /// Highest sequence number received per ordered stream.
    pub(crate) last_ordered: [Option<u32>; STREAMS as usize],
    /// A recent real packet of ours, the seed of malformed ones.
    pub(crate) sample: Option<Vec<u8>>,
    pub(crate) transmits: u64,
    /// The last packets it sent and received.
    pub(crate) trace: Trace,
    /// A failed reliable send was reported for it already.
    pub(crate) failure_noted: bool,
}

impl Local {
    /// A fresh end of `ledger`'s incarnation on `assoc`; its peer lives on worker `peer`.
    pub(crate) fn new(
        slot: u32,
        side: u8,
        ledger: Arc<Ledger>,
        assoc: Association,
        peer: usize,
    ) -> Self {
        Local {
            slot,
            side,
            ledger,
            assoc,
            peer,
            connected: false,
            blocked: false,
            next_seq: 0,
            ids: IdMap::default(),
            last_ordered: [None; STREAMS as usize],
            sample: None,
            transmits: 0,
            trace: Trace::default(),
            failure_noted: false,
        }
    }

    /// "A" or "B", for messages.
    pub(crate) fn side_name(&self) -> &'static str {
        if self.side == A {
            "A"
        } else {
            "B"
        }
    }

    /// Where packets for the other end of this incarnation go.
    pub(crate) fn dest_of_peer(&self) -> Dest {
        Dest {
            slot: self.slot,
            gen: self.ledger.gen,
            side: 1 - self.side,
        }
    }

    /// Checks a message this end received (framing and CRC, that it belongs to this
    /// incarnation, stream and direction, duplicates, order within its stream) and books it.
    pub(crate) fn verify(&mut self, shared: &Shared, hist: &mut Histogram, message: Message) {
        let dir = 1 - self.side;
        let header = match payload::decode(&message.data) {
            Ok(h) => h,
            Err(why) => {
                shared.corrupted.fetch_add(1, Relaxed);
                shared.note(format!("slot {}: corrupted message ({why:?})", self.slot));
                return;
            }
        };
        let expected_ppid = if header.partial {
            ppid::BINARY_PARTIAL
        } else {
            ppid::BINARY
        };
        let belongs = header.slot == self.slot
            && header.gen == self.ledger.gen
            && header.dir == dir
            && header.stream == message.stream
            && header.stream < STREAMS
            && header.unordered == message.unordered
            && message.ppid == expected_ppid
            && u64::from(header.seq) <= shared.cfg.messages;
        if !belongs {
            shared.corrupted.fetch_add(1, Relaxed);
            shared.note(format!(
                "slot {} gen {}: message that does not belong here: {header:?} on stream {} ppid {}",
                self.slot, self.ledger.gen, message.stream, message.ppid
            ));
            return;
        }
        let d = usize::from(dir);
        if !self.ledger.outcomes(d).deliver(header.seq) {
            shared.duplicated.fetch_add(1, Relaxed);
            return;
        }
        if !header.unordered {
            let last = &mut self.last_ordered[usize::from(header.stream)];
            if last.is_some_and(|prev| header.seq < prev) {
                shared.out_of_order.fetch_add(1, Relaxed);
            } else {
                *last = Some(header.seq);
            }
        }
        if header.partial {
            self.ledger.delivered_partial[d].fetch_add(1, Relaxed);
        } else {
            self.ledger.delivered[d].fetch_add(1, Release);
            let now = shared.now_us();
            hist.record(now.saturating_sub(header.sent_us));
        }
        shared.delivered.fetch_add(1, Relaxed);
        shared
            .bytes_delivered
            .fetch_add(message.data.len() as u64, Relaxed);
    }

    /// Queues up to a batch of this end's share of the slot's messages; marks its direction
    /// finished once the share is sent (or sending stopped). Returns the messages accepted.
    pub(crate) fn send_batch(&mut self, round: &Round, stop: bool) -> usize {
        let shared = &round.shared;
        let quota = shared.cfg.messages;
        let d = usize::from(self.side);
        let slot = &round.slots[self.slot as usize];
        if stop || slot.sent[d].load(Acquire) >= quota {
            self.ledger.finished[d].store(true, Release);
            return 0;
        }
        if !self.connected || self.blocked {
            return 0;
        }
        let mut sent = 0;
        let now = shared.now_us();
        for _ in 0..SEND_BATCH {
            let n = slot.sent[d].load(Acquire);
            if n >= quota {
                self.ledger.finished[d].store(true, Release);
                break;
            }
            let shape = shared.plan.shape(round.index, self.slot, d as u8, n);
            let header = Header {
                slot: self.slot,
                gen: self.ledger.gen,
                dir: d as u8,
                unordered: shape.unordered,
                partial: shape.partial,
                stream: shape.stream,
                seq: self.next_seq,
                len: shape.len,
                sent_us: now,
            };
            let (ppid, reliability) = if shape.partial {
                (ppid::BINARY_PARTIAL, Reliability::MaxRetransmits(0))
            } else {
                (ppid::BINARY, Reliability::Reliable)
            };
            let opts = SendOptions {
                unordered: shape.unordered,
                reliability,
            };
            match self
                .assoc
                .send(shape.stream, ppid, payload::encode(&header), opts)
            {
                Ok(id) => {
                    self.ids.insert(id.get(), self.next_seq);
                    self.next_seq += 1;
                    if shape.partial {
                        self.ledger.outcomes(d).sent_partial(self.next_seq - 1);
                        self.ledger.sent_partial[d].fetch_add(1, Release);
                    } else {
                        self.ledger.sent[d].fetch_add(1, Release);
                    }
                    slot.sent[d].fetch_add(1, Release);
                    shared.sent.fetch_add(1, Relaxed);
                    sent += 1;
                }
                Err(e) if e.is_would_block() => {
                    self.blocked = true;
                    break;
                }
                // Closed: its Closed event follows.
                Err(_) => break,
            }
        }
        sent
    }

    /// Books a `SendFailed` this end received for `message`: its sequence number joins the
    /// direction's reported failures. False if this end never sent such a message.
    pub(crate) fn failed(&self, message: MessageId, reason: SendFailure) -> bool {
        let Some(seq) = self.ids.get(message.get()) else {
            return false;
        };
        let on_wire = matches!(reason, SendFailure::Abandoned { sent: true });
        self.ledger
            .outcomes(usize::from(self.side))
            .fail(seq, on_wire);
        true
    }

    /// Prints (stderr) this end, with the crate's view of it, if its pair has not finished.
    pub(crate) fn dump(&self, worker: usize) {
        let ledger = &self.ledger;
        if ledger.done[0].load(Acquire) && ledger.done[1].load(Acquire) {
            return;
        }
        eprintln!(
            "  w{worker} slot {} gen {} side {}: id {} {:?} connected {} blocked {} next_seq {} \
             received {} stats {:?}",
            self.slot,
            ledger.gen,
            self.side_name(),
            self.assoc.id(),
            self.assoc.state(),
            self.connected,
            self.blocked,
            self.next_seq,
            ledger.outcomes(usize::from(1 - self.side)).delivered_count,
            self.assoc.stats(),
        );
        eprint!("{}", self.trace);
    }
}
