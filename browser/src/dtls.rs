//! DTLS 1.2, passive side (the server), over datagrams we carry ourselves: OpenSSL (the
//! `openssl` crate, which is what mediasoup's DTLS uses) with an in-memory transport.
//!
//! The browser is the DTLS client (`a=setup:passive` in our answer). Its certificate is
//! self-signed; it is accepted during the handshake and then checked against the
//! `a=fingerprint` of its offer (RFC 8122 §5) before any application data is used.

use std::collections::VecDeque;
use std::fmt;
use std::io::{self, Read, Write};

use foreign_types::ForeignTypeRef;
use openssl::asn1::Asn1Time;
use openssl::bn::{BigNum, MsbOption};
use openssl::ec::{EcGroup, EcKey};
use openssl::hash::MessageDigest;
use openssl::nid::Nid;
use openssl::pkey::{PKey, Private};
use openssl::ssl::{
    ErrorCode, Ssl, SslContext, SslContextBuilder, SslMethod, SslOptions, SslStream, SslVerifyMode,
    SslVersion,
};
use openssl::x509::{X509NameBuilder, X509};

/// DTLS path MTU for handshake fragmentation. SCTP packets are at most 1200 bytes
/// (`AssociationConfig::mtu`), so application records stay below it too.
const DTLS_MTU: u32 = 1200;

/// OpenSSL's `DTLS_CTRL_HANDLE_TIMEOUT` (ssl.h), what the `DTLSv1_handle_timeout` macro
/// expands to; the `openssl` crate does not wrap it.
const DTLS_CTRL_HANDLE_TIMEOUT: std::os::raw::c_int = 74;

/// Why DTLS failed.
#[derive(Debug)]
pub enum DtlsError {
    /// OpenSSL refused a setting or an operation.
    OpenSsl(openssl::error::ErrorStack),
    /// The handshake or a record failed.
    Ssl(String),
    /// The peer's certificate does not match the fingerprint of its offer.
    FingerprintMismatch {
        /// The fingerprint the offer announced.
        expected: String,
        /// The fingerprint of the certificate the peer presented.
        got: String,
    },
    /// The peer presented no certificate.
    NoPeerCertificate,
}

impl fmt::Display for DtlsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DtlsError::OpenSsl(e) => write!(f, "OpenSSL: {e}"),
            DtlsError::Ssl(e) => write!(f, "DTLS: {e}"),
            DtlsError::FingerprintMismatch { expected, got } => write!(
                f,
                "the peer's certificate has fingerprint {got}, its offer announced {expected}"
            ),
            DtlsError::NoPeerCertificate => write!(f, "the peer presented no certificate"),
        }
    }
}

impl std::error::Error for DtlsError {}

impl From<openssl::error::ErrorStack> for DtlsError {
    fn from(e: openssl::error::ErrorStack) -> Self {
        DtlsError::OpenSsl(e)
    }
}

/// Formats a digest as SDP writes it: upper-case hex pairs joined by colons.
pub fn format_fingerprint(digest: &[u8]) -> String {
    digest
        .iter()
        .map(|b| format!("{b:02X}"))
        .collect::<Vec<_>>()
        .join(":")
}

/// Parses an SDP fingerprint value (`AB:CD:…`) into bytes.
pub fn parse_fingerprint(text: &str) -> Option<Vec<u8>> {
    text.trim()
        .split(':')
        .map(|pair| {
            if pair.len() == 2 {
                u8::from_str_radix(pair, 16).ok()
            } else {
                None
            }
        })
        .collect()
}

/// Our self-signed certificate (ECDSA P-256, as browsers use) and the DTLS context built on
/// it. One per relay; every session shares it.
pub struct DtlsIdentity {
    context: SslContext,
    fingerprint: String,
}

impl fmt::Debug for DtlsIdentity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DtlsIdentity")
            .field("fingerprint", &self.fingerprint)
            .finish()
    }
}

impl DtlsIdentity {
    /// Generates a key and a self-signed certificate valid for 30 days.
    pub fn generate() -> Result<Self, DtlsError> {
        let group = EcGroup::from_curve_name(Nid::X9_62_PRIME256V1)?;
        let key = PKey::from_ec_key(EcKey::generate(&group)?)?;
        let cert = self_signed(&key)?;
        let fingerprint = format_fingerprint(&cert.digest(MessageDigest::sha256())?);

        let mut ctx = SslContextBuilder::new(SslMethod::dtls())?;
        ctx.set_min_proto_version(Some(SslVersion::DTLS1_2))?;
        ctx.set_certificate(&cert)?;
        ctx.set_private_key(&key)?;
        ctx.check_private_key()?;
        ctx.set_cipher_list(
            "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-ECDSA-AES256-GCM-SHA384:\
             ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-ECDSA-AES128-SHA:ECDHE-ECDSA-AES256-SHA",
        )?;
        // The browser's certificate is self-signed: accept it here and compare its digest with
        // the offer's fingerprint once the handshake is done (`DtlsSession::verify_peer`).
        ctx.set_verify_callback(
            SslVerifyMode::PEER | SslVerifyMode::FAIL_IF_NO_PEER_CERT,
            |_, _| true,
        );
        ctx.set_options(SslOptions::NO_QUERY_MTU);
        Ok(DtlsIdentity {
            context: ctx.build(),
            fingerprint,
        })
    }

    /// The SHA-256 fingerprint of our certificate, as `a=fingerprint:sha-256` carries it.
    pub fn fingerprint(&self) -> &str {
        &self.fingerprint
    }

    /// A new passive (server) session for a peer whose offer announced `peer_fingerprint`
    /// (SHA-256).
    pub fn session(&self, peer_fingerprint: Vec<u8>) -> Result<DtlsSession, DtlsError> {
        let mut ssl = Ssl::new(&self.context)?;
        ssl.set_mtu(DTLS_MTU)?;
        ssl.set_accept_state();
        let stream = SslStream::new(ssl, Datagrams::default())?;
        Ok(DtlsSession {
            stream,
            state: DtlsState::Handshaking,
            peer_fingerprint,
        })
    }
}

fn self_signed(key: &PKey<Private>) -> Result<X509, openssl::error::ErrorStack> {
    let mut name = X509NameBuilder::new()?;
    name.append_entry_by_nid(Nid::COMMONNAME, "usrsctp-browser")?;
    let name = name.build();
    let mut builder = X509::builder()?;
    builder.set_version(2)?;
    let mut serial = BigNum::new()?;
    serial.rand(63, MsbOption::MAYBE_ZERO, false)?;
    let serial = serial.to_asn1_integer()?;
    builder.set_serial_number(&serial)?;
    builder.set_subject_name(&name)?;
    builder.set_issuer_name(&name)?;
    builder.set_pubkey(key)?;
    let (not_before, not_after) = (Asn1Time::days_from_now(0)?, Asn1Time::days_from_now(30)?);
    builder.set_not_before(&not_before)?;
    builder.set_not_after(&not_after)?;
    builder.sign(key, MessageDigest::sha256())?;
    Ok(builder.build())
}

/// The in-memory transport under OpenSSL: one `read` returns one datagram, one `write` is one
/// datagram.
#[derive(Default)]
struct Datagrams {
    incoming: VecDeque<Vec<u8>>,
    outgoing: Vec<Vec<u8>>,
}

impl Read for Datagrams {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self.incoming.pop_front() {
            Some(d) => {
                let n = d.len().min(buf.len());
                buf[..n].copy_from_slice(&d[..n]);
                Ok(n)
            }
            None => Err(io::ErrorKind::WouldBlock.into()),
        }
    }
}

impl Write for Datagrams {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.outgoing.push(buf.to_vec());
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// Where a session is.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum DtlsState {
    /// The handshake is under way.
    Handshaking,
    /// Application data flows.
    Connected,
    /// The peer sent close_notify, or we closed, or it failed.
    Closed,
}

/// What feeding a datagram to a session produced.
#[derive(Debug, Default)]
pub struct DtlsOutput {
    /// Decrypted application data records (SCTP packets), in order.
    pub data: Vec<Vec<u8>>,
    /// True if the handshake completed during this call.
    pub connected: bool,
    /// True if the peer closed (close_notify) during this call.
    pub closed: bool,
}

/// One DTLS association with a browser.
pub struct DtlsSession {
    stream: SslStream<Datagrams>,
    state: DtlsState,
    peer_fingerprint: Vec<u8>,
}

impl fmt::Debug for DtlsSession {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DtlsSession")
            .field("state", &self.state)
            .finish()
    }
}

impl DtlsSession {
    /// Where the session is.
    pub fn state(&self) -> DtlsState {
        self.state
    }

    /// Feeds one datagram from the peer. Application data, if any, is in the output; records
    /// to send back are in [`take_outgoing`](Self::take_outgoing).
    pub fn input(&mut self, datagram: &[u8]) -> Result<DtlsOutput, DtlsError> {
        let mut out = DtlsOutput::default();
        if self.state == DtlsState::Closed {
            return Ok(out);
        }
        self.stream.get_mut().incoming.push_back(datagram.to_vec());
        if self.state == DtlsState::Handshaking {
            match self.stream.do_handshake() {
                Ok(()) => {
                    self.verify_peer()?;
                    self.state = DtlsState::Connected;
                    out.connected = true;
                }
                Err(e) if is_retry(&e) => return Ok(out),
                Err(e) => {
                    self.state = DtlsState::Closed;
                    return Err(DtlsError::Ssl(e.to_string()));
                }
            }
        }
        let mut buf = vec![0u8; 65_536];
        loop {
            match self.stream.ssl_read(&mut buf) {
                Ok(n) => out.data.push(buf[..n].to_vec()),
                Err(e) if e.code() == ErrorCode::ZERO_RETURN => {
                    self.state = DtlsState::Closed;
                    out.closed = true;
                    break;
                }
                Err(e) if is_retry(&e) => break,
                Err(e) => {
                    self.state = DtlsState::Closed;
                    return Err(DtlsError::Ssl(e.to_string()));
                }
            }
        }
        Ok(out)
    }

    /// Encrypts one application record (an SCTP packet).
    pub fn send(&mut self, data: &[u8]) -> Result<(), DtlsError> {
        if self.state != DtlsState::Connected {
            return Err(DtlsError::Ssl(format!(
                "cannot send application data in state {:?}",
                self.state
            )));
        }
        self.stream
            .ssl_write(data)
            .map(|_| ())
            .map_err(|e| DtlsError::Ssl(e.to_string()))
    }

    /// Sends close_notify (once).
    pub fn close(&mut self) {
        if self.state == DtlsState::Connected {
            // A failure here only means the alert is not sent; the session ends either way.
            let _ = self.stream.shutdown();
        }
        self.state = DtlsState::Closed;
    }

    /// Drives the handshake's retransmission timer (RFC 6347 §4.2.4): if it has expired, our
    /// last flight is queued again (see [`take_outgoing`](Self::take_outgoing)). Call it
    /// every few tens of milliseconds while handshaking; it does nothing otherwise.
    pub fn handle_timeout(&mut self) {
        if self.state != DtlsState::Handshaking {
            return;
        }
        let ssl = self.stream.ssl().as_ptr();
        // SAFETY: `ssl` is the live SSL object owned by `self.stream`, used on this thread
        // only. DTLS_CTRL_HANDLE_TIMEOUT takes no argument (0, null); when the timer has
        // expired it writes the buffered flight through the stream's BIO, whose callbacks
        // (the `openssl` crate's) catch panics and only append to our `Datagrams`.
        let _ = unsafe {
            openssl_sys::SSL_ctrl(ssl, DTLS_CTRL_HANDLE_TIMEOUT, 0, std::ptr::null_mut())
        };
    }

    /// Datagrams to send to the peer.
    pub fn take_outgoing(&mut self) -> Vec<Vec<u8>> {
        std::mem::take(&mut self.stream.get_mut().outgoing)
    }

    fn verify_peer(&mut self) -> Result<(), DtlsError> {
        let cert = self
            .stream
            .ssl()
            .peer_certificate()
            .ok_or(DtlsError::NoPeerCertificate)?;
        let digest = cert.digest(MessageDigest::sha256())?;
        if digest.as_ref() != self.peer_fingerprint.as_slice() {
            self.state = DtlsState::Closed;
            return Err(DtlsError::FingerprintMismatch {
                expected: format_fingerprint(&self.peer_fingerprint),
                got: format_fingerprint(&digest),
            });
        }
        Ok(())
    }
}

fn is_retry(e: &openssl::ssl::Error) -> bool {
    e.code() == ErrorCode::WANT_READ || e.code() == ErrorCode::WANT_WRITE
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fingerprint_round_trip() {
        let bytes: Vec<u8> = (0u8..32).collect();
        let text = format_fingerprint(&bytes);
        assert_eq!(&text[..8], "00:01:02");
        assert_eq!(parse_fingerprint(&text), Some(bytes));
        assert_eq!(parse_fingerprint("AB:C"), None);
        assert_eq!(parse_fingerprint("AB:ZZ"), None);
    }

    /// A lost server flight is sent again once the handshake timer expires (1 s).
    #[test]
    fn lost_flight_is_retransmitted() {
        let server = DtlsIdentity::generate().unwrap();
        let client_id = DtlsIdentity::generate().unwrap();
        let mut session = server
            .session(parse_fingerprint(client_id.fingerprint()).unwrap())
            .unwrap();
        let mut ssl = Ssl::new(&client_id.context).unwrap();
        ssl.set_mtu(DTLS_MTU).unwrap();
        ssl.set_connect_state();
        let mut client = SslStream::new(ssl, Datagrams::default()).unwrap();
        let _ = client.do_handshake();
        for d in std::mem::take(&mut client.get_mut().outgoing) {
            session.input(&d).unwrap();
        }
        let first = session.take_outgoing();
        assert!(!first.is_empty(), "the server answers the ClientHello");
        // `first` is lost. Nothing is resent before the timer runs out; then all of it is.
        session.handle_timeout();
        assert!(session.take_outgoing().is_empty());
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
        let resent = loop {
            session.handle_timeout();
            let out = session.take_outgoing();
            if !out.is_empty() || std::time::Instant::now() > deadline {
                break out;
            }
            std::thread::sleep(std::time::Duration::from_millis(20));
        };
        // The same records (OpenSSL may pack them into datagrams differently).
        let bytes = |v: &[Vec<u8>]| v.iter().map(Vec::len).sum::<usize>();
        assert_eq!(bytes(&resent), bytes(&first), "the whole flight is resent");
    }

    /// A DTLS client (OpenSSL too) completes a handshake with a session and exchanges a
    /// record; a client whose certificate is not the announced one is refused.
    #[test]
    fn handshake_and_fingerprint_check() {
        let server = DtlsIdentity::generate().unwrap();
        let client_id = DtlsIdentity::generate().unwrap();
        let client_fp = parse_fingerprint(client_id.fingerprint()).unwrap();
        for (announced, should_pass) in [(client_fp.clone(), true), (vec![0u8; 32], false)] {
            let mut session = server.session(announced).unwrap();
            // The client side: same key material type, active role.
            let mut ssl = Ssl::new(&client_id.context).unwrap();
            ssl.set_mtu(DTLS_MTU).unwrap();
            ssl.set_connect_state();
            let mut client = SslStream::new(ssl, Datagrams::default()).unwrap();
            let mut result = Ok(());
            for _ in 0..20 {
                let _ = client.do_handshake();
                let flight = std::mem::take(&mut client.get_mut().outgoing);
                for d in flight {
                    match session.input(&d) {
                        Ok(_) => {}
                        Err(e) => result = Err(e),
                    }
                }
                for d in session.take_outgoing() {
                    client.get_mut().incoming.push_back(d);
                }
                if session.state() != DtlsState::Handshaking {
                    break;
                }
            }
            if should_pass {
                result.unwrap();
                assert_eq!(session.state(), DtlsState::Connected);
                client.ssl_write(b"sctp packet").unwrap();
                let record = std::mem::take(&mut client.get_mut().outgoing);
                let out = session.input(&record[0]).unwrap();
                assert_eq!(out.data, vec![b"sctp packet".to_vec()]);
            } else {
                assert!(matches!(result, Err(DtlsError::FingerprintMismatch { .. })));
                assert_eq!(session.state(), DtlsState::Closed);
            }
        }
    }
}
