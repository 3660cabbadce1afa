//! Issue 14: associations start with few streams (256 by default, ~26 KiB of usrsctp's memory
//! instead of ~104 KiB at 1024) and data channels still reach ids past them: the channel
//! layer asks for more with RFC 6525 Add Streams and opens the channel when they arrive. Two
//! real associations on one stack, joined in memory on one thread.

mod common;

use std::time::{Duration, Instant};

use usrsctp::datachannel::{ChannelData, ChannelEvent, ChannelInit, DataChannels, DtlsRole};
use usrsctp::{AssociationConfig, Event, Worker};

const TIMEOUT: Duration = Duration::from_secs(10);

struct Side {
    worker: Worker,
    dc: DataChannels,
    events: Vec<ChannelEvent>,
    streams_changed: usize,
}

impl Side {
    fn new(cfg: AssociationConfig, role: DtlsRole) -> Side {
        let worker = common::stack().worker().expect("worker");
        let dc = DataChannels::associate(&worker, cfg, role).expect("associate");
        Side {
            worker,
            dc,
            events: Vec::new(),
            streams_changed: 0,
        }
    }

    /// Takes this side's events, carrying its packets to `peer`.
    fn pump(&mut self, peer: &DataChannels) {
        let mut next = self.worker.recv_timeout(Duration::from_millis(1));
        while let Some(ev) = next {
            match &ev {
                Event::Transmit { packet, .. } => {
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

fn connected_pair(cfg: AssociationConfig) -> (Side, Side) {
    let mut a = Side::new(cfg.clone(), DtlsRole::Client);
    let mut b = Side::new(cfg, DtlsRole::Server);
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
    let (a, b) = connected_pair(AssociationConfig::default());
    assert_eq!(a.dc.assoc().outbound_streams(), 256);
    assert_eq!(b.dc.assoc().outbound_streams(), 256);
}

#[test]
fn channels_past_the_negotiated_streams_open_after_add_streams() {
    // 4 streams each way: the client has ids 0 and 2.
    let cfg = AssociationConfig {
        outbound_streams: 4,
        ..AssociationConfig::default()
    };
    let (mut a, mut b) = connected_pair(cfg);
    assert_eq!(a.dc.assoc().outbound_streams(), 4);
    a.dc.open_channel(ChannelInit::reliable("second"))
        .expect("open");
    let third =
        a.dc.open_channel(ChannelInit::reliable("third"))
            .expect("open");
    assert_eq!(third.0, 4, "past the 4 streams");
    // And one far past them (below the 1,024 incoming streams each side accepts),
    // negotiated out of band on both sides.
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
    // Our `inbound_streams` (1,024 by default) caps how far we may grow: a channel on 2000
    // cannot exist, and says so; the association and its other channels go on.
    let (mut a, mut b) = connected_pair(AssociationConfig::default());
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
