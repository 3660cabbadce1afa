//! Issue 14: associations start with few streams (256 by default, ~26 KiB of usrsctp's memory
//! instead of ~104 KiB at 1024) and data channels can still reach ids past them: with stream
//! growth on, the channel layer asks for more with RFC 6525 Add Streams and opens the channel
//! when they arrive. Growth is off by default (dcsctp, in Chrome, Safari and Firefox, never
//! answers the request); then a channel past the streams is refused and nothing is asked. Two
//! real associations on one stack, joined in memory on one thread.

mod common;

use std::time::{Duration, Instant};

use usrsctp::datachannel::ChannelError;
use usrsctp::datachannel::{ChannelData, ChannelEvent, ChannelInit, DataChannels, DtlsRole};
use usrsctp::{AssociationConfig, Event, Worker};
use usrsctp_test_support::sctp;

const TIMEOUT: Duration = Duration::from_secs(10);

struct Side {
    worker: Worker,
    dc: DataChannels,
    events: Vec<ChannelEvent>,
    streams_changed: usize,
    /// RE-CONFIG chunks this side sent (stream resets and Add Streams requests).
    reconfigs_sent: usize,
}

/// RE-CONFIG (RFC 6525).
const CHUNK_RECONFIG: u8 = 130;

impl Side {
    fn new(cfg: AssociationConfig, role: DtlsRole, grow: bool) -> Side {
        let worker = common::stack().worker().expect("worker");
        let dc = DataChannels::associate(&worker, cfg, role)
            .expect("associate")
            .with_stream_growth(grow);
        Side {
            worker,
            dc,
            events: Vec::new(),
            streams_changed: 0,
            reconfigs_sent: 0,
        }
    }

    /// Takes this side's events, carrying its packets to `peer`.
    fn pump(&mut self, peer: &DataChannels) {
        let mut next = self.worker.recv_timeout(Duration::from_millis(1));
        while let Some(ev) = next {
            match &ev {
                Event::Transmit { packet, .. } => {
                    self.reconfigs_sent += sctp::chunks(packet)
                        .filter(|c| c.kind == CHUNK_RECONFIG)
                        .count();
                    let _ = peer.assoc().input(packet.clone());
                }
                Event::StreamsChanged { .. } => self.streams_changed += 1,
                Event::Closed { reason, .. } => panic!("association closed: {reason:?}"),
                _ => {}
            }
            self.dc.handle_event(&ev);
            next = self.worker.try_recv();
        }
        while let Some(ev) = self.dc.poll_event() {
            if let ChannelEvent::PeerError(e) = &ev {
                panic!("peer error: {e}");
            }
            self.events.push(ev);
        }
    }

    fn opened(&self, label: &str) -> Option<u16> {
        self.events.iter().find_map(|e| match e {
            ChannelEvent::Opened { channel, info } if info.label == label => Some(channel.0),
            _ => None,
        })
    }

    fn got(&self, stream: u16, text: &str) -> bool {
        self.events.iter().any(|e| {
            matches!(e, ChannelEvent::Message { channel, data: ChannelData::Text(t) }
                if channel.0 == stream && t == text)
        })
    }

    fn closed(&self, stream: u16) -> bool {
        self.events
            .iter()
            .any(|e| matches!(e, ChannelEvent::Closed { channel } if channel.0 == stream))
    }
}

/// Pumps both sides until `done`; panics with `what` after `TIMEOUT`.
fn run(a: &mut Side, b: &mut Side, what: &str, done: impl Fn(&Side, &Side) -> bool) {
    let deadline = Instant::now() + TIMEOUT;
    while !done(a, b) {
        assert!(
            Instant::now() < deadline,
            "timed out waiting for {what}; A saw {:?}; B saw {:?}",
            a.events,
            b.events
        );
        a.pump(&b.dc);
        b.pump(&a.dc);
    }
}

fn connected_pair(cfg: AssociationConfig, grow: bool) -> (Side, Side) {
    let mut a = Side::new(cfg.clone(), DtlsRole::Client, grow);
    let mut b = Side::new(cfg, DtlsRole::Server, grow);
    // A channel opened before the handshake opens with it: the sign both sides are up.
    a.dc.open_channel(ChannelInit::reliable("first"))
        .expect("open");
    run(&mut a, &mut b, "the handshake", |a, b| {
        a.opened("first").is_some() && b.opened("first").is_some()
    });
    (a, b)
}

#[test]
fn default_associations_start_with_256_streams_each_way() {
    let (a, b) = connected_pair(AssociationConfig::default(), false);
    assert_eq!(a.dc.assoc().outbound_streams(), 256);
    assert_eq!(b.dc.assoc().outbound_streams(), 256);
}

#[test]
fn channels_past_the_negotiated_streams_open_after_add_streams() {
    // 4 streams each way: the client has ids 0 and 2. Each side accepts up to 1,024 incoming
    // streams, so the other may grow that far.
    let cfg = AssociationConfig {
        outbound_streams: 4,
        inbound_streams: 1024,
        ..AssociationConfig::default()
    };
    let (mut a, mut b) = connected_pair(cfg, true);
    assert_eq!(a.dc.assoc().outbound_streams(), 4);
    a.dc.open_channel(ChannelInit::reliable("second"))
        .expect("open");
    let third =
        a.dc.open_channel(ChannelInit::reliable("third"))
            .expect("open");
    assert_eq!(third.0, 4, "past the 4 streams");
    // And one far past them (below the 1,024 incoming streams each side accepts), negotiated
    // out of band on both sides.
    let far = 1000;
    let cfg_far = |dc: &mut DataChannels| {
        dc.open_channel(ChannelInit::reliable("far").negotiated(far))
            .expect("open far")
    };
    cfg_far(&mut b.dc);
    cfg_far(&mut a.dc);
    run(&mut a, &mut b, "the channels past the streams", |a, b| {
        a.opened("third") == Some(4)
            && b.opened("third") == Some(4)
            && a.opened("far") == Some(far)
            && b.opened("far") == Some(far)
    });
    assert!(a.streams_changed >= 1 && b.streams_changed >= 1);
    assert!(a.dc.assoc().outbound_streams() > far);
    assert!(b.dc.assoc().outbound_streams() > far);
    // Both directions carry messages on the new streams.
    a.dc.send_text(third, "to b on 4").expect("send");
    b.dc.send_text(third, "to a on 4").expect("send");
    a.dc.send_text(usrsctp::datachannel::ChannelId(far), "to b far")
        .expect("send");
    run(&mut a, &mut b, "messages on the added streams", |a, b| {
        b.got(4, "to b on 4") && a.got(4, "to a on 4") && b.got(far, "to b far")
    });
}

#[test]
fn a_channel_past_the_inbound_streams_we_accept_is_closed_and_the_rest_works() {
    // The peer's `inbound_streams` (256 by default) caps how far we may grow: a channel on
    // 2000 cannot exist, and says so; the association and its other channels go on.
    let (mut a, mut b) = connected_pair(AssociationConfig::default(), true);
    let too_far =
        a.dc.open_channel(ChannelInit::reliable("too far").negotiated(2000))
            .expect("open");
    run(&mut a, &mut b, "the refusal", |a, _| a.closed(too_far.0));
    assert!(a.dc.channel(too_far).is_none());
    assert_eq!(a.dc.assoc().outbound_streams(), 256);
    let next =
        a.dc.open_channel(ChannelInit::reliable("next"))
            .expect("open");
    run(&mut a, &mut b, "the next channel", |_, b| {
        b.opened("next") == Some(next.0)
    });
    a.dc.send_text(next, "still fine").expect("send");
    run(&mut a, &mut b, "a message", |_, b| {
        b.got(next.0, "still fine")
    });
}

#[test]
fn without_stream_growth_a_channel_past_the_streams_is_refused_and_nothing_is_asked() {
    // The default: a peer such as Chrome's dcsctp never answers Add Streams, and an unanswered
    // request would stay outstanding until the association fails.
    let cfg = AssociationConfig {
        outbound_streams: 4,
        ..AssociationConfig::default()
    };
    let (mut a, mut b) = connected_pair(cfg, false);
    let second =
        a.dc.open_channel(ChannelInit::reliable("second"))
            .expect("open id 2");
    assert_eq!(second.0, 2);
    let err =
        a.dc.open_channel(ChannelInit::reliable("third"))
            .unwrap_err();
    assert!(
        matches!(err, ChannelError::NoFreeStream { limit: 4 }),
        "{err}"
    );
    let err =
        a.dc.open_channel(ChannelInit::reliable("far").negotiated(1000))
            .unwrap_err();
    assert!(
        matches!(
            err,
            ChannelError::StreamOutOfRange {
                stream: 1000,
                limit: 4
            }
        ),
        "{err}"
    );
    // The channel below the limit works; no RE-CONFIG went out, the streams stay as they were.
    run(&mut a, &mut b, "the second channel", |_, b| {
        b.opened("second") == Some(2)
    });
    a.dc.send_text(second, "fine").expect("send");
    run(&mut a, &mut b, "a message", |_, b| b.got(2, "fine"));
    assert_eq!((a.reconfigs_sent, b.reconfigs_sent), (0, 0));
    assert_eq!(a.dc.assoc().outbound_streams(), 4);
    assert_eq!(a.streams_changed, 0);
}
