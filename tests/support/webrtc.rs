//! Our data channel layer on a thread of its own, joined in memory to webrtc-rs
//! (`webrtc-sctp` + `webrtc-data`) through a `Conn` over channels.

use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use crossbeam_channel::{Receiver, Sender};
use tokio::sync::{mpsc, Mutex};
use usrsctp::datachannel::{
    ChannelEvent, ChannelId, ChannelInfo, ChannelInit, ChannelManager, DtlsRole,
};
use usrsctp::{AssociationConfig, Event};
use webrtc_util::conn::Conn;

/// webrtc-sctp's end of the wire.
pub struct MemConn {
    rx: Mutex<mpsc::UnboundedReceiver<Vec<u8>>>,
    tx: Sender<Vec<u8>>,
}

fn addr() -> SocketAddr {
    SocketAddr::from((Ipv4Addr::LOCALHOST, 5000))
}

#[async_trait]
impl Conn for MemConn {
    async fn connect(&self, _addr: SocketAddr) -> webrtc_util::Result<()> {
        Ok(())
    }
    async fn recv(&self, buf: &mut [u8]) -> webrtc_util::Result<usize> {
        let packet = self
            .rx
            .lock()
            .await
            .recv()
            .await
            .ok_or(webrtc_util::Error::ErrUseClosedNetworkConn)?;
        let n = packet.len().min(buf.len());
        buf[..n].copy_from_slice(&packet[..n]);
        Ok(n)
    }
    async fn recv_from(&self, buf: &mut [u8]) -> webrtc_util::Result<(usize, SocketAddr)> {
        Ok((self.recv(buf).await?, addr()))
    }
    async fn send(&self, buf: &[u8]) -> webrtc_util::Result<usize> {
        // Our side may be gone: then the packet is lost, as on a network.
        let _ = self.tx.send(buf.to_vec());
        Ok(buf.len())
    }
    async fn send_to(&self, buf: &[u8], _target: SocketAddr) -> webrtc_util::Result<usize> {
        self.send(buf).await
    }
    fn local_addr(&self) -> webrtc_util::Result<SocketAddr> {
        Ok(addr())
    }
    fn remote_addr(&self) -> Option<SocketAddr> {
        Some(addr())
    }
    async fn close(&self) -> webrtc_util::Result<()> {
        Ok(())
    }
    fn as_any(&self) -> &(dyn std::any::Any + Send + Sync) {
        self
    }
}

/// What the test asks of our side.
pub enum Cmd {
    Open(ChannelInit, Sender<Result<ChannelId, String>>),
    Text(ChannelId, String),
    Binary(ChannelId, Vec<u8>),
    Close(ChannelId),
    Info(ChannelId, Sender<Option<ChannelInfo>>),
}

/// Our side: a worker thread owning the association and its channel manager.
pub struct OurSide {
    cmds: Option<Sender<Cmd>>,
    pub events: mpsc::UnboundedReceiver<ChannelEvent>,
    thread: Option<JoinHandle<()>>,
}

impl OurSide {
    /// Starts our side as DTLS `role`; returns it and the `Conn` to give webrtc-sctp.
    pub fn start(role: DtlsRole) -> (OurSide, Arc<dyn Conn + Send + Sync>) {
        let (to_ours, from_webrtc) = crossbeam_channel::unbounded::<Vec<u8>>();
        let (to_webrtc, from_ours) = mpsc::unbounded_channel::<Vec<u8>>();
        let (cmd_tx, cmd_rx) = crossbeam_channel::unbounded();
        let (ev_tx, ev_rx) = mpsc::unbounded_channel();
        let thread = std::thread::Builder::new()
            .name("usrsctp-side".into())
            .spawn(move || run(role, from_webrtc, to_webrtc, cmd_rx, ev_tx))
            .expect("spawn");
        let conn = Arc::new(MemConn {
            rx: Mutex::new(from_ours),
            tx: to_ours,
        });
        (
            OurSide {
                cmds: Some(cmd_tx),
                events: ev_rx,
                thread: Some(thread),
            },
            conn,
        )
    }

    fn cmd(&self, c: Cmd) {
        self.cmds
            .as_ref()
            .expect("running")
            .send(c)
            .expect("our side is running");
    }

    pub fn open(&self, init: ChannelInit) -> ChannelId {
        let (tx, rx) = crossbeam_channel::bounded(1);
        self.cmd(Cmd::Open(init, tx));
        rx.recv_timeout(Duration::from_secs(5))
            .expect("answer")
            .expect("open_channel")
    }

    pub fn send_text(&self, ch: ChannelId, text: &str) {
        self.cmd(Cmd::Text(ch, text.into()));
    }

    pub fn send_binary(&self, ch: ChannelId, data: &[u8]) {
        self.cmd(Cmd::Binary(ch, data.into()));
    }

    pub fn close(&self, ch: ChannelId) {
        self.cmd(Cmd::Close(ch));
    }

    pub fn info(&self, ch: ChannelId) -> Option<ChannelInfo> {
        let (tx, rx) = crossbeam_channel::bounded(1);
        self.cmd(Cmd::Info(ch, tx));
        rx.recv_timeout(Duration::from_secs(5)).expect("answer")
    }

    /// The next channel event that matches, skipping others; panics after `timeout`.
    pub async fn wait(
        &mut self,
        what: &str,
        timeout: Duration,
        pred: impl Fn(&ChannelEvent) -> bool,
    ) -> ChannelEvent {
        let deadline = tokio::time::Instant::now() + timeout;
        let mut skipped = Vec::new();
        loop {
            match tokio::time::timeout_at(deadline, self.events.recv()).await {
                Ok(Some(ev)) if pred(&ev) => return ev,
                Ok(Some(ev)) => skipped.push(ev),
                Ok(None) => panic!("our side stopped while waiting for {what}"),
                Err(_) => panic!("timed out waiting for {what}; skipped {skipped:?}"),
            }
        }
    }
}

impl Drop for OurSide {
    fn drop(&mut self) {
        drop(self.cmds.take());
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn run(
    role: DtlsRole,
    wire_in: Receiver<Vec<u8>>,
    wire_out: mpsc::UnboundedSender<Vec<u8>>,
    cmds: Receiver<Cmd>,
    events: mpsc::UnboundedSender<ChannelEvent>,
) {
    let worker = super::stack().worker().expect("worker");
    let assoc = worker
        .associate(AssociationConfig::default())
        .expect("associate");
    let mut channels = ChannelManager::new(&assoc, role);
    let deadline = Instant::now() + Duration::from_secs(120);
    while Instant::now() < deadline {
        for packet in wire_in.try_iter() {
            let _ = assoc.input(packet);
        }
        loop {
            match cmds.try_recv() {
                Ok(Cmd::Open(init, reply)) => {
                    let _ = reply.send(
                        channels
                            .open_channel(&assoc, init)
                            .map_err(|e| e.to_string()),
                    );
                }
                Ok(Cmd::Text(ch, text)) => {
                    channels.send_text(&assoc, ch, &text).expect("send_text");
                }
                Ok(Cmd::Binary(ch, data)) => {
                    channels
                        .send_binary(&assoc, ch, &data)
                        .expect("send_binary");
                }
                Ok(Cmd::Close(ch)) => channels.close_channel(&assoc, ch).expect("close_channel"),
                Ok(Cmd::Info(ch, reply)) => {
                    let _ = reply.send(channels.channel(ch).cloned());
                }
                Err(crossbeam_channel::TryRecvError::Empty) => break,
                // The test is over; let the last packets out, then stop.
                Err(crossbeam_channel::TryRecvError::Disconnected) => return,
            }
        }
        if let Some(ev) = worker.recv_timeout(Duration::from_millis(1)) {
            match ev {
                Event::Transmit { packet, .. } => {
                    let _ = wire_out.send(packet);
                }
                other => {
                    channels.handle_event(&assoc, &other);
                }
            }
        }
        while let Some(ev) = channels.poll_event() {
            let _ = events.send(ev);
        }
    }
}
