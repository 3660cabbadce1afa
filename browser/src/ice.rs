//! ICE-lite (RFC 8445 §2.5): we only answer the browser's connectivity checks, STUN Binding
//! requests (RFC 8489), with MESSAGE-INTEGRITY (short-term credentials: our ICE password) and
//! FINGERPRINT. The STUN codec is webrtc-rs's `stun` crate.

use std::fmt;
use std::net::SocketAddr;

use stun::attributes::{ATTR_USERNAME, ATTR_USE_CANDIDATE};
use stun::fingerprint::FINGERPRINT;
use stun::integrity::MessageIntegrity;
use stun::message::{Message, Setter, BINDING_REQUEST, BINDING_SUCCESS};
use stun::textattrs::TextAttribute;
use stun::xoraddr::XorMappedAddress;

/// RFC 7983 demultiplexing: a first byte of 0–3 is STUN.
pub fn is_stun(datagram: &[u8]) -> bool {
    datagram.len() >= 20 && datagram[0] < 4
}

/// RFC 7983 demultiplexing: a first byte of 20–63 is DTLS.
pub fn is_dtls(datagram: &[u8]) -> bool {
    !datagram.is_empty() && (20..=63).contains(&datagram[0])
}

/// Why a STUN message was not answered.
#[derive(Debug)]
pub enum IceError {
    /// Not a STUN message, or not a Binding request.
    NotBindingRequest(String),
    /// No USERNAME, or not of the form `ours:theirs`.
    BadUsername,
    /// FINGERPRINT is missing or wrong.
    BadFingerprint(String),
    /// MESSAGE-INTEGRITY is missing or wrong.
    BadIntegrity(String),
    /// The response could not be encoded.
    Encode(String),
}

impl fmt::Display for IceError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            IceError::NotBindingRequest(e) => write!(f, "not a STUN Binding request: {e}"),
            IceError::BadUsername => write!(f, "USERNAME missing or not `ours:theirs`"),
            IceError::BadFingerprint(e) => write!(f, "FINGERPRINT check failed: {e}"),
            IceError::BadIntegrity(e) => write!(f, "MESSAGE-INTEGRITY check failed: {e}"),
            IceError::Encode(e) => write!(f, "cannot encode the response: {e}"),
        }
    }
}

impl std::error::Error for IceError {}

/// A parsed Binding request whose credentials are not yet checked.
pub struct BindingRequest {
    message: Message,
    /// Our username fragment (the part before the colon): which peer it is for.
    pub local_ufrag: String,
    /// The browser's username fragment.
    pub remote_ufrag: String,
    /// USE-CANDIDATE: the controlling agent nominates this pair.
    pub use_candidate: bool,
}

impl BindingRequest {
    /// Parses a datagram; checks FINGERPRINT.
    pub fn parse(datagram: &[u8]) -> Result<BindingRequest, IceError> {
        let mut message = Message::new();
        message
            .unmarshal_binary(datagram)
            .map_err(|e| IceError::NotBindingRequest(e.to_string()))?;
        if message.typ != BINDING_REQUEST {
            return Err(IceError::NotBindingRequest(format!(
                "message type {}",
                message.typ
            )));
        }
        FINGERPRINT
            .check(&message)
            .map_err(|e| IceError::BadFingerprint(e.to_string()))?;
        let username = TextAttribute::get_from_as(&message, ATTR_USERNAME)
            .map_err(|_| IceError::BadUsername)?;
        let (local, remote) = username.text.split_once(':').ok_or(IceError::BadUsername)?;
        Ok(BindingRequest {
            local_ufrag: local.to_owned(),
            remote_ufrag: remote.to_owned(),
            use_candidate: message.contains(ATTR_USE_CANDIDATE),
            message,
        })
    }

    /// Checks MESSAGE-INTEGRITY with our password and, if it holds, returns the success
    /// response (XOR-MAPPED-ADDRESS = `from`, MESSAGE-INTEGRITY, FINGERPRINT).
    pub fn respond(mut self, local_pwd: &str, from: SocketAddr) -> Result<Vec<u8>, IceError> {
        let integrity = MessageIntegrity::new_short_term_integrity(local_pwd.to_owned());
        integrity
            .check(&mut self.message)
            .map_err(|e| IceError::BadIntegrity(e.to_string()))?;
        let mut response = Message::new();
        let setters: Vec<Box<dyn Setter>> = vec![
            Box::new(self.message),
            Box::new(BINDING_SUCCESS),
            Box::new(XorMappedAddress {
                ip: from.ip(),
                port: from.port(),
            }),
            Box::new(integrity),
            Box::new(FINGERPRINT),
        ];
        response
            .build(&setters)
            .map_err(|e| IceError::Encode(e.to_string()))?;
        Ok(response.raw)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use stun::agent::TransactionId;
    use stun::attributes::ATTR_PRIORITY;
    use stun::message::Getter;

    fn request(username: &str, pwd: &str, use_candidate: bool) -> Vec<u8> {
        let mut m = Message::new();
        let mut setters: Vec<Box<dyn Setter>> = vec![
            Box::new(TransactionId::new()),
            Box::new(BINDING_REQUEST),
            Box::new(TextAttribute::new(ATTR_USERNAME, username.to_owned())),
        ];
        if use_candidate {
            setters.push(Box::new(stun::attributes::RawAttribute {
                typ: ATTR_USE_CANDIDATE,
                length: 0,
                value: vec![],
            }));
        }
        setters.push(Box::new(stun::attributes::RawAttribute {
            typ: ATTR_PRIORITY,
            length: 4,
            value: vec![0x6e, 0, 0x1e, 0xff],
        }));
        setters.push(Box::new(MessageIntegrity::new_short_term_integrity(
            pwd.to_owned(),
        )));
        setters.push(Box::new(FINGERPRINT));
        m.build(&setters).unwrap();
        m.raw
    }

    #[test]
    fn answers_a_valid_check_and_refuses_a_bad_password() {
        let from: SocketAddr = "127.0.0.1:51234".parse().unwrap();
        let raw = request("srv:brw", "serverpassword", true);
        assert!(is_stun(&raw) && !is_dtls(&raw));
        let req = BindingRequest::parse(&raw).unwrap();
        assert_eq!(
            (req.local_ufrag.as_str(), req.remote_ufrag.as_str()),
            ("srv", "brw")
        );
        assert!(req.use_candidate);
        let resp = req.respond("serverpassword", from).unwrap();
        let mut m = Message::new();
        m.unmarshal_binary(&resp).unwrap();
        assert_eq!(m.typ, BINDING_SUCCESS);
        FINGERPRINT.check(&m).unwrap();
        MessageIntegrity::new_short_term_integrity("serverpassword".into())
            .check(&mut m)
            .unwrap();
        let mut mapped = XorMappedAddress::default();
        mapped.get_from(&m).unwrap();
        assert_eq!(SocketAddr::new(mapped.ip, mapped.port), from);

        let req = BindingRequest::parse(&request("srv:brw", "wrong", false)).unwrap();
        assert!(!req.use_candidate);
        assert!(matches!(
            req.respond("serverpassword", from),
            Err(IceError::BadIntegrity(_))
        ));
        let mut corrupt = request("srv:brw", "serverpassword", false);
        let n = corrupt.len();
        corrupt[n - 1] ^= 1;
        assert!(matches!(
            BindingRequest::parse(&corrupt),
            Err(IceError::BadFingerprint(_))
        ));
        assert!(matches!(
            BindingRequest::parse(&request("nocolon", "serverpassword", false)),
            Err(IceError::BadUsername)
        ));
    }
}
