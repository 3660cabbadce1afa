//! Our data channel layer (usrsctp + `usrsctp::datachannel`) against webrtc-rs (`webrtc-sctp` +
//! `webrtc-data`), joined in memory: channels opened in band both ways (DCEP), text, binary and
//! empty messages both ways, and closing by stream reset both ways. No mocks: both sides are
//! the real crates.

mod support;

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use support::webrtc::OurSide;
use usrsctp::datachannel::{
    priority, ChannelData, ChannelEvent, ChannelInit, ChannelType, DtlsRole, Origin,
};
use webrtc_data::data_channel::{Config as DcConfig, DataChannel};
use webrtc_data::message::message_channel_open::ChannelType as WebrtcType;
use webrtc_sctp::association::{Association as WebrtcAssociation, Config as SctpConfig};
use webrtc_util::conn::Conn;

const T: Duration = Duration::from_secs(20);

async fn webrtc_association(conn: Arc<dyn Conn + Send + Sync>) -> Arc<WebrtcAssociation> {
    let config = SctpConfig {
        net_conn: conn,
        max_receive_buffer_size: 0,
        max_message_size: 0,
        mtu: 0,
        name: "webrtc-rs".into(),
        remote_port: 5000,
        local_port: 5000,
    };
    let assoc = tokio::time::timeout(T, WebrtcAssociation::server(config))
        .await
        .expect("webrtc-sctp handshake in time")
        .expect("webrtc-sctp handshake");
    Arc::new(assoc)
}

/// Reads one message from a webrtc-rs channel: (bytes, is_string).
async fn webrtc_read(dc: &DataChannel) -> (Vec<u8>, bool) {
    let mut buf = vec![0; 65_536];
    let (n, is_string) = tokio::time::timeout(T, dc.read_data_channel(&mut buf))
        .await
        .expect("a message in time")
        .expect("read_data_channel");
    buf.truncate(n);
    (buf, is_string)
}

fn message(ev: ChannelEvent) -> ChannelData {
    match ev {
        ChannelEvent::Message { data, .. } => data,
        other => panic!("not a message: {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn channel_opened_by_us_carries_text_and_binary_and_closes() {
    let (mut ours, conn) = OurSide::start(DtlsRole::Client);
    let ch = ours.open(
        ChannelInit::reliable("from-usrsctp")
            .with_protocol("chat/1")
            .with_priority(priority::HIGH),
    );
    assert_eq!(ch.stream() % 2, 0, "the DTLS client opens even stream ids");
    let assoc = webrtc_association(conn).await;
    let dc = tokio::time::timeout(
        T,
        DataChannel::accept(&assoc, DcConfig::default(), &[] as &[DataChannel]),
    )
    .await
    .expect("accept in time")
    .expect("webrtc-data accepts our DATA_CHANNEL_OPEN");
    assert_eq!(dc.stream_identifier(), ch.stream());
    assert_eq!(dc.config.label, "from-usrsctp");
    assert_eq!(dc.config.protocol, "chat/1");
    assert_eq!(dc.config.priority, priority::HIGH);
    assert_eq!(dc.config.channel_type, WebrtcType::Reliable);
    ours.wait("our channel opened", T, |e| matches!(e, ChannelEvent::Opened { channel, info } if *channel == ch && info.origin == Origin::Local))
        .await;

    // Ours -> webrtc-rs: text, binary, both empty forms.
    ours.send_text(ch, "hello webrtc-rs");
    ours.send_binary(ch, &[0, 1, 2, 255]);
    ours.send_text(ch, "");
    ours.send_binary(ch, &[]);
    assert_eq!(webrtc_read(&dc).await, (b"hello webrtc-rs".to_vec(), true));
    assert_eq!(webrtc_read(&dc).await, (vec![0, 1, 2, 255], false));
    assert_eq!(
        webrtc_read(&dc).await,
        (Vec::new(), true),
        "PPID 56: empty string"
    );
    assert_eq!(
        webrtc_read(&dc).await,
        (Vec::new(), false),
        "PPID 57: empty binary"
    );

    // webrtc-rs -> ours.
    dc.write_data_channel(&Bytes::from_static(b"hello usrsctp"), true)
        .await
        .unwrap();
    dc.write_data_channel(&Bytes::from_static(&[9, 8, 7]), false)
        .await
        .unwrap();
    dc.write_data_channel(&Bytes::new(), true).await.unwrap();
    dc.write_data_channel(&Bytes::new(), false).await.unwrap();
    let is_msg = |e: &ChannelEvent| matches!(e, ChannelEvent::Message { .. });
    assert_eq!(
        message(ours.wait("text", T, is_msg).await),
        ChannelData::Text("hello usrsctp".into())
    );
    assert_eq!(
        message(ours.wait("binary", T, is_msg).await),
        ChannelData::Binary(vec![9, 8, 7])
    );
    assert_eq!(
        message(ours.wait("empty text", T, is_msg).await),
        ChannelData::Text(String::new())
    );
    assert_eq!(
        message(ours.wait("empty binary", T, is_msg).await),
        ChannelData::Binary(Vec::new())
    );
    assert!(
        ours.info(ch).expect("channel exists").acked,
        "webrtc-data answered our OPEN with DATA_CHANNEL_ACK"
    );

    // We close: our reset, webrtc-rs resets its side in return, both directions end.
    ours.close(ch);
    let mut buf = vec![0; 64];
    let (n, _) = tokio::time::timeout(T, dc.read_data_channel(&mut buf))
        .await
        .expect("webrtc-rs sees the close in time")
        .expect("read after reset");
    assert_eq!(
        n, 0,
        "webrtc-data reports the incoming reset as end of stream"
    );
    ours.wait(
        "our channel closed",
        T,
        |e| matches!(e, ChannelEvent::Closed { channel } if *channel == ch),
    )
    .await;
    assert!(ours.info(ch).is_none(), "the id is free again");
    let _ = assoc.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn channel_opened_by_webrtc_is_accepted_and_closed_by_webrtc() {
    let (mut ours, conn) = OurSide::start(DtlsRole::Client);
    let assoc = webrtc_association(conn).await;
    // webrtc-rs is the DTLS server here: odd stream ids.
    let config = DcConfig {
        channel_type: WebrtcType::PartialReliableRexmitUnordered,
        negotiated: false,
        priority: priority::EXTRA_HIGH,
        reliability_parameter: 3,
        label: "from-webrtc".into(),
        protocol: "proto".into(),
        max_message_size: 0,
    };
    let dc = tokio::time::timeout(T, DataChannel::dial(&assoc, 1, config))
        .await
        .expect("dial in time")
        .expect("webrtc-data sends DATA_CHANNEL_OPEN");
    let opened = ours
        .wait("the remote channel", T, |e| {
            matches!(e, ChannelEvent::Opened { .. })
        })
        .await;
    let ChannelEvent::Opened { channel, info } = opened else {
        unreachable!()
    };
    assert_eq!(channel.stream(), 1);
    assert_eq!(info.origin, Origin::Remote);
    assert_eq!(info.label, "from-webrtc");
    assert_eq!(info.protocol, "proto");
    assert_eq!(info.priority, priority::EXTRA_HIGH);
    assert_eq!(
        info.channel_type,
        ChannelType::PartialReliableRexmit {
            unordered: true,
            max_retransmits: 3
        }
    );

    dc.write_data_channel(&Bytes::from_static(b"ping"), true)
        .await
        .unwrap();
    assert_eq!(
        message(
            ours.wait("ping", T, |e| matches!(e, ChannelEvent::Message { .. }))
                .await
        ),
        ChannelData::Text("ping".into())
    );
    ours.send_text(channel, "pong");
    // webrtc-data consumes our DATA_CHANNEL_ACK inside read_data_channel, then the reply.
    assert_eq!(webrtc_read(&dc).await, (b"pong".to_vec(), true));

    // webrtc-rs closes: it resets its outgoing stream, we reset ours in return.
    dc.close().await.unwrap();
    ours.wait(
        "the channel closed by webrtc-rs",
        T,
        |e| matches!(e, ChannelEvent::Closed { channel: c } if *c == channel),
    )
    .await;
    let _ = assoc.close().await;
}
