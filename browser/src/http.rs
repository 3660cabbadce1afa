//! Signalling over HTTP/1.1 on 127.0.0.1: the page POSTs its offer and gets the answer. Also
//! serves the pages, the relay's counters, and takes the browser test's verdict.
//!
//! | Request          | Answer                                                        |
//! |------------------|---------------------------------------------------------------|
//! | `GET /`          | the chat page                                                 |
//! | `GET /test`      | the scripted test page (the browser test)                     |
//! | `POST /offer`    | body: SDP offer → JSON `{"sdp", "worker", "client"}`          |
//! | `GET /stats`     | JSON: per-worker counters and the live clients                |
//! | `POST /verdict`  | body: the test page's JSON verdict, handed to the caller      |
//!
//! One connection at a time, `Connection: close`, bounded sizes and timeouts: enough for a
//! demo and a test, not a web server.

use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use crossbeam_channel::{Receiver, Sender};
use serde_json::json;

use crate::relay::Relay;

/// The chat page.
pub const CHAT_PAGE: &str = include_str!("../static/chat.html");
/// The scripted test page.
pub const TEST_PAGE: &str = include_str!("../static/test.html");

const MAX_BODY: usize = 1024 * 1024;

/// The signalling server. Dropping it stops it.
pub struct Signalling {
    addr: SocketAddr,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
    verdicts: Receiver<String>,
}

impl std::fmt::Debug for Signalling {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Signalling")
            .field("addr", &self.addr)
            .finish()
    }
}

impl Signalling {
    /// Listens on `addr` (use port 0 for any free port) and serves `relay`.
    pub fn start(addr: SocketAddr, relay: Arc<Relay>) -> io::Result<Signalling> {
        if !addr.ip().is_loopback() {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "signalling listens on loopback only",
            ));
        }
        let listener = TcpListener::bind(addr)?;
        let addr = listener.local_addr()?;
        let stop = Arc::new(AtomicBool::new(false));
        let (verdict_tx, verdicts) = crossbeam_channel::unbounded();
        let thread = {
            let stop = stop.clone();
            std::thread::Builder::new()
                .name("signalling".into())
                .spawn(move || {
                    for conn in listener.incoming() {
                        if stop.load(Ordering::Relaxed) {
                            break;
                        }
                        let Ok(conn) = conn else { continue };
                        if let Err(e) = serve(conn, &relay, &verdict_tx) {
                            eprintln!("signalling: {e}");
                        }
                    }
                })?
        };
        Ok(Signalling {
            addr,
            stop,
            thread: Some(thread),
            verdicts,
        })
    }

    /// The address it listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Verdicts the test page posted, in arrival order.
    pub fn verdicts(&self) -> &Receiver<String> {
        &self.verdicts
    }
}

impl Drop for Signalling {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        // Wake the accept loop.
        let _ = TcpStream::connect_timeout(&self.addr, Duration::from_secs(1));
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn respond(conn: &mut TcpStream, status: &str, content_type: &str, body: &[u8]) -> io::Result<()> {
    let head = format!(
        "HTTP/1.1 {status}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\n\
         Cache-Control: no-store\r\nConnection: close\r\n\r\n",
        body.len()
    );
    conn.write_all(head.as_bytes())?;
    conn.write_all(body)?;
    conn.flush()
}

fn serve(mut conn: TcpStream, relay: &Relay, verdicts: &Sender<String>) -> io::Result<()> {
    conn.set_read_timeout(Some(Duration::from_secs(5)))?;
    conn.set_write_timeout(Some(Duration::from_secs(5)))?;
    let mut reader = BufReader::new(conn.try_clone()?);
    let mut request_line = String::new();
    if reader.read_line(&mut request_line)? == 0 {
        // A connection closed without a request (browsers open speculative ones).
        return Ok(());
    }
    let mut parts = request_line.split_whitespace();
    let (method, target) = match (parts.next(), parts.next()) {
        (Some(m), Some(t)) => (m.to_owned(), t.to_owned()),
        _ => {
            return respond(
                &mut conn,
                "400 Bad Request",
                "text/plain",
                b"bad request line",
            )
        }
    };
    let mut content_length = 0usize;
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line)? == 0 {
            break;
        }
        let line = line.trim_end();
        if line.is_empty() {
            break;
        }
        if let Some((name, value)) = line.split_once(':') {
            if name.trim().eq_ignore_ascii_case("content-length") {
                content_length = match value.trim().parse() {
                    Ok(n) if n <= MAX_BODY => n,
                    _ => {
                        return respond(
                            &mut conn,
                            "413 Content Too Large",
                            "text/plain",
                            b"body too large",
                        )
                    }
                };
            }
        }
    }
    let mut body = vec![0u8; content_length];
    reader.read_exact(&mut body)?;
    let path = target.split('?').next().unwrap_or("");
    match (method.as_str(), path) {
        ("GET", "/") => respond(
            &mut conn,
            "200 OK",
            "text/html; charset=utf-8",
            CHAT_PAGE.as_bytes(),
        ),
        ("GET", "/test") => respond(
            &mut conn,
            "200 OK",
            "text/html; charset=utf-8",
            TEST_PAGE.as_bytes(),
        ),
        ("GET", "/favicon.ico") => respond(&mut conn, "204 No Content", "text/plain", b""),
        ("POST", "/offer") => {
            let Ok(sdp) = String::from_utf8(body) else {
                return respond(
                    &mut conn,
                    "400 Bad Request",
                    "text/plain",
                    b"offer is not UTF-8",
                );
            };
            match relay.offer(&sdp) {
                Ok(a) => {
                    let body = json!({"sdp": a.sdp, "worker": a.worker, "client": a.client});
                    respond(
                        &mut conn,
                        "200 OK",
                        "application/json",
                        body.to_string().as_bytes(),
                    )
                }
                Err(e) => respond(
                    &mut conn,
                    "400 Bad Request",
                    "text/plain",
                    e.to_string().as_bytes(),
                ),
            }
        }
        ("GET", "/stats") => {
            let workers: Vec<_> = relay
                .stats()
                .into_iter()
                .map(|s| {
                    json!({
                        "worker": s.worker,
                        "clients": s.clients,
                        "messagesIn": s.messages_in,
                        "messagesRelayed": s.messages_relayed,
                        "bytesRelayed": s.bytes_relayed,
                        "dropped": s.dropped,
                        "peerErrors": s.peer_errors,
                    })
                })
                .collect();
            let clients: Vec<_> = relay
                .clients()
                .into_iter()
                .map(|(c, w)| json!({"client": c, "worker": w}))
                .collect();
            let body = json!({"workers": workers, "clients": clients});
            respond(
                &mut conn,
                "200 OK",
                "application/json",
                body.to_string().as_bytes(),
            )
        }
        ("POST", "/verdict") => {
            let text = String::from_utf8_lossy(&body).into_owned();
            let _ = verdicts.send(text);
            respond(&mut conn, "200 OK", "text/plain", b"thanks")
        }
        _ => respond(&mut conn, "404 Not Found", "text/plain", b"not found"),
    }
}
