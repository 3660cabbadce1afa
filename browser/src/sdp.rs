//! The SDP we need: read a browser's data-channel-only offer, write our answer (RFC 8866,
//! RFC 8841 for SCTP over DTLS, RFC 8839 for ICE, RFC 8122 for the fingerprint).

use std::fmt;
use std::fmt::Write as _;
use std::net::SocketAddr;

/// What we take from an offer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Offer {
    /// `a=mid` of the application m-section.
    pub mid: String,
    /// True if the offer groups its m-sections with `a=group:BUNDLE`.
    pub bundle: bool,
    /// The browser's ICE username fragment.
    pub ice_ufrag: String,
    /// The browser's ICE password.
    pub ice_pwd: String,
    /// The SHA-256 digest of the browser's DTLS certificate.
    pub fingerprint: Vec<u8>,
    /// The browser's SCTP port (`a=sctp-port`, 5000 if absent).
    pub sctp_port: u16,
    /// The browser's `a=max-message-size` (65536 if absent, RFC 8841 §6.1; 0 means no limit).
    pub max_message_size: usize,
}

/// Why an offer was refused.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SdpError(pub String);

impl fmt::Display for SdpError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "bad offer: {}", self.0)
    }
}

impl std::error::Error for SdpError {}

fn bad<T>(why: impl Into<String>) -> Result<T, SdpError> {
    Err(SdpError(why.into()))
}

impl Offer {
    /// Parses an offer. It must have exactly one m-section, `m=application … UDP/DTLS/SCTP
    /// webrtc-datachannel`, with ICE credentials, a SHA-256 fingerprint and `a=setup:actpass`
    /// or `active` (we answer passive).
    pub fn parse(sdp: &str) -> Result<Offer, SdpError> {
        if sdp.len() > 64 * 1024 {
            return bad("longer than 64 KiB");
        }
        let mut sections = 0;
        let mut in_media = false;
        let (mut mid, mut bundle) = (None, false);
        let (mut ufrag, mut pwd, mut fingerprint, mut setup) = (None, None, None, None);
        let (mut sctp_port, mut max_message_size) = (5000u16, 65_536usize);
        for line in sdp.lines() {
            let line = line.trim_end_matches('\r');
            if let Some(m) = line.strip_prefix("m=") {
                sections += 1;
                let fields: Vec<&str> = m.split_whitespace().collect();
                if fields.len() < 4
                    || fields[0] != "application"
                    || fields[2] != "UDP/DTLS/SCTP"
                    || fields[3] != "webrtc-datachannel"
                {
                    return bad(format!(
                        "only a data-channel m-section (m=application <port> UDP/DTLS/SCTP \
                         webrtc-datachannel) is supported, got m={m}"
                    ));
                }
                in_media = true;
                continue;
            }
            let Some(attr) = line.strip_prefix("a=") else {
                continue;
            };
            let (name, value) = attr.split_once(':').unwrap_or((attr, ""));
            match name {
                "group" if value.starts_with("BUNDLE") => bundle = true,
                "mid" if in_media => mid = Some(value.to_owned()),
                "ice-ufrag" => ufrag = Some(value.to_owned()),
                "ice-pwd" => pwd = Some(value.to_owned()),
                "fingerprint" => {
                    let Some((hash, fp)) = value.split_once(' ') else {
                        return bad(format!("a=fingerprint:{value} has no hash function"));
                    };
                    if hash.eq_ignore_ascii_case("sha-256") {
                        match crate::dtls::parse_fingerprint(fp) {
                            Some(d) if d.len() == 32 => fingerprint = Some(d),
                            _ => return bad(format!("a=fingerprint:{value} does not parse")),
                        }
                    }
                }
                "setup" => setup = Some(value.to_owned()),
                "sctp-port" => {
                    sctp_port = match value.trim().parse() {
                        Ok(p) if p != 0 => p,
                        _ => return bad(format!("a=sctp-port:{value} is not a port")),
                    }
                }
                "max-message-size" => {
                    max_message_size = match value.trim().parse() {
                        Ok(n) => n,
                        Err(_) => return bad(format!("a=max-message-size:{value} is not a size")),
                    }
                }
                _ => {}
            }
        }
        if sections != 1 {
            return bad(format!(
                "expected exactly one m-section (data channels only), got {sections}"
            ));
        }
        let ice_ufrag = ufrag.ok_or_else(|| SdpError("no a=ice-ufrag".into()))?;
        let ice_pwd = pwd.ok_or_else(|| SdpError("no a=ice-pwd".into()))?;
        if ice_ufrag.is_empty() || ice_ufrag.contains(':') || ice_pwd.is_empty() {
            return bad("invalid ICE credentials");
        }
        match setup.as_deref() {
            Some("actpass") | Some("active") => {}
            other => {
                return bad(format!(
                    "a=setup:{} — we are DTLS server and need actpass or active",
                    other.unwrap_or("(none)")
                ))
            }
        }
        Ok(Offer {
            mid: mid.unwrap_or_else(|| "0".into()),
            bundle,
            ice_ufrag,
            ice_pwd,
            fingerprint: fingerprint.ok_or_else(|| SdpError("no a=fingerprint:sha-256".into()))?,
            sctp_port,
            max_message_size,
        })
    }
}

/// What goes into our answer.
#[derive(Clone, Debug)]
pub struct AnswerParams<'a> {
    /// The offer answered.
    pub offer: &'a Offer,
    /// Our ICE username fragment.
    pub ice_ufrag: &'a str,
    /// Our ICE password.
    pub ice_pwd: &'a str,
    /// Our certificate's SHA-256 fingerprint.
    pub fingerprint: &'a str,
    /// Our (only) ICE candidate: the worker's UDP socket.
    pub candidate: SocketAddr,
    /// Our SCTP port.
    pub sctp_port: u16,
    /// Our `a=max-message-size`: the largest message we accept.
    pub max_message_size: usize,
    /// A session id for the o= line.
    pub session_id: u64,
}

/// Writes the answer: ICE-lite, DTLS passive, one host candidate.
pub fn answer(p: &AnswerParams<'_>) -> String {
    let ip_kind = if p.candidate.is_ipv4() { "IP4" } else { "IP6" };
    let ip = p.candidate.ip();
    let mut s = String::new();
    // Writing into a String cannot fail.
    let _ = write!(
        s,
        "v=0\r\no=usrsctp-browser {} 2 IN {ip_kind} {ip}\r\ns=-\r\nt=0 0\r\n",
        p.session_id
    );
    if p.offer.bundle {
        let _ = write!(s, "a=group:BUNDLE {}\r\n", p.offer.mid);
    }
    let _ = write!(
        s,
        "a=ice-lite\r\n\
         m=application {port} UDP/DTLS/SCTP webrtc-datachannel\r\n\
         c=IN {ip_kind} {ip}\r\n\
         a=mid:{mid}\r\n\
         a=ice-ufrag:{ufrag}\r\n\
         a=ice-pwd:{pwd}\r\n\
         a=fingerprint:sha-256 {fp}\r\n\
         a=setup:passive\r\n\
         a=sctp-port:{sctp}\r\n\
         a=max-message-size:{mms}\r\n\
         a=candidate:1 1 udp 2130706431 {ip} {port} typ host\r\n\
         a=end-of-candidates\r\n",
        port = p.candidate.port(),
        mid = p.offer.mid,
        ufrag = p.ice_ufrag,
        pwd = p.ice_pwd,
        fp = p.fingerprint,
        sctp = p.sctp_port,
        mms = p.max_message_size,
    );
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    const CHROMIUM_OFFER: &str = "v=0\r\no=- 123 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\n\
        a=group:BUNDLE 0\r\na=extmap-allow-mixed\r\na=msid-semantic: WMS\r\n\
        m=application 9 UDP/DTLS/SCTP webrtc-datachannel\r\nc=IN IP4 0.0.0.0\r\n\
        a=ice-ufrag:AbCd\r\na=ice-pwd:0123456789012345678901\r\na=ice-options:trickle\r\n\
        a=fingerprint:sha-256 00:01:02:03:04:05:06:07:08:09:0A:0B:0C:0D:0E:0F:10:11:12:13:14:15:16:17:18:19:1A:1B:1C:1D:1E:1F\r\n\
        a=setup:actpass\r\na=mid:0\r\na=sctp-port:5000\r\na=max-message-size:262144\r\n";

    #[test]
    fn parses_a_chromium_style_offer() {
        let o = Offer::parse(CHROMIUM_OFFER).unwrap();
        assert_eq!(o.mid, "0");
        assert!(o.bundle);
        assert_eq!(o.ice_ufrag, "AbCd");
        assert_eq!(o.fingerprint, (0u8..32).collect::<Vec<_>>());
        assert_eq!(o.sctp_port, 5000);
        assert_eq!(o.max_message_size, 262_144);
    }

    #[test]
    fn refuses_what_it_cannot_answer() {
        let audio = CHROMIUM_OFFER.replace(
            "m=application 9 UDP/DTLS/SCTP webrtc-datachannel",
            "m=audio 9 UDP/TLS/RTP/SAVPF 111",
        );
        assert!(Offer::parse(&audio).unwrap_err().0.contains("m=audio"));
        let passive = CHROMIUM_OFFER.replace("a=setup:actpass", "a=setup:passive");
        assert!(Offer::parse(&passive).is_err());
        let no_fp = CHROMIUM_OFFER.replace("a=fingerprint", "a=x-fingerprint");
        assert!(Offer::parse(&no_fp).is_err());
        let bad_port = CHROMIUM_OFFER.replace("a=sctp-port:5000", "a=sctp-port:70000");
        assert!(Offer::parse(&bad_port).is_err());
        assert!(Offer::parse("v=0\r\n").is_err());
    }

    #[test]
    fn answer_has_what_browsers_need() {
        let o = Offer::parse(CHROMIUM_OFFER).unwrap();
        let a = answer(&AnswerParams {
            offer: &o,
            ice_ufrag: "srv1",
            ice_pwd: "serverpasswordserverpw",
            fingerprint: "AA:BB",
            candidate: "127.0.0.1:40000".parse().unwrap(),
            sctp_port: 5000,
            max_message_size: 262_144,
            session_id: 7,
        });
        for needle in [
            "a=group:BUNDLE 0\r\n",
            "a=ice-lite\r\n",
            "m=application 40000 UDP/DTLS/SCTP webrtc-datachannel\r\n",
            "a=setup:passive\r\n",
            "a=sctp-port:5000\r\n",
            "a=max-message-size:262144\r\n",
            "a=candidate:1 1 udp 2130706431 127.0.0.1 40000 typ host\r\n",
        ] {
            assert!(a.contains(needle), "{needle:?} missing from {a}");
        }
    }
}
