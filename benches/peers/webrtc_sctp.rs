//! webrtc-rs's SCTP (`webrtc-sctp`), paired as its own tests pair it: `Association::client`
//! and `Association::server` over an in-memory `Conn`, on a tokio runtime.
//!
//! Settings (the fastest we found that keep the comparison fair): a multi-threaded runtime with
//! 2 workers (one per core), an unbounded in-memory `Conn` (webrtc-util's `conn_pipe` holds 16
//! packets and was slower), packets of at most 1200 bytes like the other peers (`mtu`), the
//! default 1 MiB receive buffer, 256 KiB message size limit. Its send queue blocks the writer
//! above 128 KiB (a constant of the crate). `AckMode` is crate-private and stays at its
//! default. Each message is copied once from the caller's slice (`Bytes::copy_from_slice`) and
//! once into the reader's buffer (`read_sctp`).

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use bytes::Bytes;
use tokio::runtime::Runtime;
use tokio::sync::{mpsc, Mutex};
use webrtc_sctp::association::{Association, Config};
use webrtc_sctp::chunk::chunk_payload_data::PayloadProtocolIdentifier;
use webrtc_sctp::stream::Stream;
use webrtc_util::conn::Conn;

use super::payload;

const MTU: u32 = 1200;
const MAX_MESSAGE: u32 = 256 * 1024;
const STREAM: u16 = 0;
const PPI: PayloadProtocolIdentifier = PayloadProtocolIdentifier::Binary;

/// One end of an in-memory datagram wire.
struct MemConn {
    rx: Mutex<mpsc::UnboundedReceiver<Vec<u8>>>,
    tx: mpsc::UnboundedSender<Vec<u8>>,
}

fn mem_pair() -> (MemConn, MemConn) {
    let (a_tx, a_rx) = mpsc::unbounded_channel();
    let (b_tx, b_rx) = mpsc::unbounded_channel();
    (
        MemConn {
            rx: Mutex::new(a_rx),
            tx: b_tx,
        },
        MemConn {
            rx: Mutex::new(b_rx),
            tx: a_tx,
        },
    )
}

fn closed() -> webrtc_util::Error {
    webrtc_util::Error::ErrBufferClosed
}

#[async_trait]
impl Conn for MemConn {
    async fn connect(&self, _addr: SocketAddr) -> webrtc_util::Result<()> {
        Ok(())
    }

    async fn recv(&self, buf: &mut [u8]) -> webrtc_util::Result<usize> {
        let packet = self.rx.lock().await.recv().await.ok_or_else(closed)?;
        let n = packet.len().min(buf.len());
        buf[..n].copy_from_slice(&packet[..n]);
        Ok(n)
    }

    async fn recv_from(&self, buf: &mut [u8]) -> webrtc_util::Result<(usize, SocketAddr)> {
        let n = self.recv(buf).await?;
        Ok((n, SocketAddr::from(([0, 0, 0, 0], 0))))
    }

    async fn send(&self, buf: &[u8]) -> webrtc_util::Result<usize> {
        self.tx.send(buf.to_vec()).map_err(|_| closed())?;
        Ok(buf.len())
    }

    async fn send_to(&self, buf: &[u8], _target: SocketAddr) -> webrtc_util::Result<usize> {
        self.send(buf).await
    }

    fn local_addr(&self) -> webrtc_util::Result<SocketAddr> {
        Ok(SocketAddr::from(([0, 0, 0, 0], 0)))
    }

    fn remote_addr(&self) -> Option<SocketAddr> {
        None
    }

    async fn close(&self) -> webrtc_util::Result<()> {
        Ok(())
    }

    fn as_any(&self) -> &(dyn std::any::Any + Send + Sync) {
        self
    }
}

fn config(conn: MemConn, name: &str) -> Config {
    Config {
        net_conn: Arc::new(conn),
        max_receive_buffer_size: 0, // the default, 1 MiB
        max_message_size: MAX_MESSAGE,
        mtu: MTU,
        name: name.to_owned(),
        local_port: 5000,
        remote_port: 5000,
    }
}

/// A connected pair with stream 0 open: the client writes, the server reads (or echoes).
pub struct WebrtcPair {
    rt: Runtime,
    client: Arc<Association>,
    server: Arc<Association>,
    client_stream: Arc<Stream>,
    server_stream: Arc<Stream>,
    data: Bytes,
}

impl WebrtcPair {
    pub fn new(size: usize) -> WebrtcPair {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("tokio runtime");
        let (ca, cb) = mem_pair();
        let (client, server, client_stream, server_stream) = rt.block_on(async {
            let (client, server) = tokio::join!(
                Association::client(config(ca, "client")),
                Association::server(config(cb, "server")),
            );
            let (client, server) = (client.expect("client"), server.expect("server"));
            let client_stream = client.open_stream(STREAM, PPI).await.expect("open stream");
            client_stream
                .write_sctp(&Bytes::from_static(b"open"), PPI)
                .await
                .expect("write");
            let server_stream = server.accept_stream().await.expect("accept stream");
            let mut buf = vec![0; 64];
            server_stream.read_sctp(&mut buf).await.expect("read");
            (
                Arc::new(client),
                Arc::new(server),
                client_stream,
                server_stream,
            )
        });
        WebrtcPair {
            rt,
            client,
            server,
            client_stream,
            server_stream,
            data: Bytes::from(payload(size)),
        }
    }

    /// Sends `count` messages client → server and returns how long until all were read.
    pub fn transfer(&self, count: u64) -> Duration {
        let (cs, ss) = (self.client_stream.clone(), self.server_stream.clone());
        let data = self.data.clone();
        self.rt.block_on(async move {
            let start = Instant::now();
            let writer = tokio::spawn(async move {
                for _ in 0..count {
                    cs.write_sctp(&Bytes::copy_from_slice(&data), PPI)
                        .await
                        .expect("write");
                }
            });
            let reader = tokio::spawn(async move {
                let mut buf = vec![0; MAX_MESSAGE as usize];
                for _ in 0..count {
                    ss.read_sctp(&mut buf).await.expect("read");
                }
            });
            writer.await.expect("writer");
            reader.await.expect("reader");
            start.elapsed()
        })
    }

    /// Times `iters` round trips: the client sends, the server echoes, the client reads.
    pub fn ping(&self, iters: u64) -> Duration {
        let (cs, ss) = (self.client_stream.clone(), self.server_stream.clone());
        let data = self.data.clone();
        self.rt.block_on(async move {
            let echo = tokio::spawn(async move {
                let mut buf = vec![0; MAX_MESSAGE as usize];
                for _ in 0..iters {
                    let (n, ppi) = ss.read_sctp(&mut buf).await.expect("read");
                    ss.write_sctp(&Bytes::copy_from_slice(&buf[..n]), ppi)
                        .await
                        .expect("echo");
                }
            });
            let pinger = tokio::spawn(async move {
                let mut buf = vec![0; MAX_MESSAGE as usize];
                let start = Instant::now();
                for _ in 0..iters {
                    cs.write_sctp(&Bytes::copy_from_slice(&data), PPI)
                        .await
                        .expect("ping");
                    cs.read_sctp(&mut buf).await.expect("read");
                }
                start.elapsed()
            });
            echo.await.expect("echo");
            pinger.await.expect("pinger")
        })
    }
}

impl Drop for WebrtcPair {
    fn drop(&mut self) {
        let (client, server) = (self.client.clone(), self.server.clone());
        self.rt.block_on(async move {
            let _ = tokio::time::timeout(Duration::from_secs(2), client.close()).await;
            let _ = tokio::time::timeout(Duration::from_secs(2), server.close()).await;
        });
    }
}
