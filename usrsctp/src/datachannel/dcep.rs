//! The Data Channel Establishment Protocol wire format (RFC 8832 §5): `DATA_CHANNEL_OPEN` and
//! `DATA_CHANNEL_ACK`, carried in SCTP messages with PPID 50.
//!
//! ```text
//!  DATA_CHANNEL_OPEN                          DATA_CHANNEL_ACK
//!  0      1      2      3                     0
//! +------+------+------+------+              +------+
//! | 0x03 | type |   priority  |              | 0x02 |
//! +------+------+------+------+              +------+
//! |   reliability parameter   |
//! +-------------+-------------+
//! | label len   | protocol len|
//! +-------------+-------------+
//! | label ...   | protocol ...|
//! ```
//!
//! Decoding is strict: every length must match the buffer exactly, the label and protocol must
//! be UTF-8 (RFC 8832 §5.1), and unknown message or channel types are refused with an error
//! that says which byte was wrong.

use std::fmt;

use crate::config::{Reliability, SendOptions};

/// Message type of `DATA_CHANNEL_ACK` (RFC 8832 §8.2.1).
pub const MESSAGE_TYPE_ACK: u8 = 0x02;
/// Message type of `DATA_CHANNEL_OPEN` (RFC 8832 §8.2.1).
pub const MESSAGE_TYPE_OPEN: u8 = 0x03;
/// Length of the fixed part of `DATA_CHANNEL_OPEN`, before label and protocol.
pub const OPEN_HEADER_LEN: usize = 12;

/// Channel priorities suggested by RFC 8831 §6.4 (and the W3C `RTCPriorityType`).
pub mod priority {
    /// "very-low" / below normal.
    pub const BELOW_NORMAL: u16 = 128;
    /// "low" / normal: the default.
    pub const NORMAL: u16 = 256;
    /// "medium" / high.
    pub const HIGH: u16 = 512;
    /// "high" / extra high.
    pub const EXTRA_HIGH: u16 = 1024;
}

/// How a data channel delivers its messages: the channel type of `DATA_CHANNEL_OPEN`
/// (RFC 8832 §5.1) with its reliability parameter folded in.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
pub enum ChannelType {
    /// Reliable (`0x00`, or `0x80` unordered).
    Reliable {
        /// Unordered delivery.
        unordered: bool,
    },
    /// Partially reliable, limited by retransmissions (`0x01`, or `0x81` unordered).
    PartialReliableRexmit {
        /// Unordered delivery.
        unordered: bool,
        /// Retransmissions before a message is abandoned (0: sent once).
        max_retransmits: u32,
    },
    /// Partially reliable, limited by lifetime (`0x02`, or `0x82` unordered).
    PartialReliableTimed {
        /// Unordered delivery.
        unordered: bool,
        /// Milliseconds after which an unsent or unacknowledged message is abandoned.
        lifetime_ms: u32,
    },
}

impl Default for ChannelType {
    fn default() -> Self {
        ChannelType::Reliable { unordered: false }
    }
}

impl ChannelType {
    /// The channel type byte on the wire.
    pub fn wire_type(self) -> u8 {
        let (base, unordered) = match self {
            ChannelType::Reliable { unordered } => (0x00, unordered),
            ChannelType::PartialReliableRexmit { unordered, .. } => (0x01, unordered),
            ChannelType::PartialReliableTimed { unordered, .. } => (0x02, unordered),
        };
        if unordered {
            base | 0x80
        } else {
            base
        }
    }

    /// The reliability parameter on the wire (0 for reliable channels, RFC 8832 §5.1).
    pub fn reliability_parameter(self) -> u32 {
        match self {
            ChannelType::Reliable { .. } => 0,
            ChannelType::PartialReliableRexmit {
                max_retransmits, ..
            } => max_retransmits,
            ChannelType::PartialReliableTimed { lifetime_ms, .. } => lifetime_ms,
        }
    }

    /// Builds the type from its wire byte and reliability parameter. The parameter of a
    /// reliable channel is ignored, as RFC 8832 §5.1 says it must be.
    pub fn from_wire(wire_type: u8, reliability_parameter: u32) -> Result<Self, DcepError> {
        let unordered = wire_type & 0x80 != 0;
        match wire_type & 0x7f {
            0x00 => Ok(ChannelType::Reliable { unordered }),
            0x01 => Ok(ChannelType::PartialReliableRexmit {
                unordered,
                max_retransmits: reliability_parameter,
            }),
            0x02 => Ok(ChannelType::PartialReliableTimed {
                unordered,
                lifetime_ms: reliability_parameter,
            }),
            _ => Err(DcepError::UnknownChannelType(wire_type)),
        }
    }

    /// True if messages may be delivered out of order.
    pub fn is_unordered(self) -> bool {
        match self {
            ChannelType::Reliable { unordered }
            | ChannelType::PartialReliableRexmit { unordered, .. }
            | ChannelType::PartialReliableTimed { unordered, .. } => unordered,
        }
    }

    /// The SCTP send options of a user message on a channel of this type.
    pub fn send_options(self) -> SendOptions {
        let reliability = match self {
            ChannelType::Reliable { .. } => Reliability::Reliable,
            ChannelType::PartialReliableRexmit {
                max_retransmits, ..
            } => Reliability::MaxRetransmits(max_retransmits),
            ChannelType::PartialReliableTimed { lifetime_ms, .. } => {
                Reliability::MaxLifetime(lifetime_ms)
            }
        };
        SendOptions {
            unordered: self.is_unordered(),
            reliability,
        }
    }
}

/// A `DATA_CHANNEL_OPEN` message (RFC 8832 §5.1).
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct DataChannelOpen {
    /// Channel type and reliability parameter.
    pub channel_type: ChannelType,
    /// Priority (see [`priority`]).
    pub priority: u16,
    /// The label (UTF-8, at most 65535 bytes).
    pub label: String,
    /// The sub-protocol (UTF-8, at most 65535 bytes; IANA WebSocket subprotocol registry).
    pub protocol: String,
}

/// A decoded DCEP message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DcepMessage {
    /// `DATA_CHANNEL_OPEN`.
    Open(DataChannelOpen),
    /// `DATA_CHANNEL_ACK`.
    Ack,
}

/// Which variable-length field of `DATA_CHANNEL_OPEN` an error is about.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum DcepField {
    /// The label.
    Label,
    /// The protocol.
    Protocol,
}

impl fmt::Display for DcepField {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            DcepField::Label => "label",
            DcepField::Protocol => "protocol",
        })
    }
}

/// Why a DCEP message could not be encoded or decoded.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DcepError {
    /// The message has no bytes at all.
    Empty,
    /// The message type byte is neither OPEN (0x03) nor ACK (0x02).
    UnknownMessageType(u8),
    /// The channel type byte of an OPEN is not one RFC 8832 §5.1 defines.
    UnknownChannelType(u8),
    /// An OPEN shorter than its 12-byte fixed header.
    Truncated {
        /// Bytes present.
        len: usize,
    },
    /// A label or protocol length field points past the end of the message.
    LengthPastEnd {
        /// The field.
        field: DcepField,
        /// The length it declares.
        declared: usize,
        /// The bytes left for it.
        available: usize,
    },
    /// Bytes after the last field (an OPEN longer than its lengths say, or an ACK of more than
    /// one byte).
    TrailingBytes {
        /// The message type.
        message_type: u8,
        /// How many extra bytes.
        extra: usize,
    },
    /// The label or protocol is not UTF-8.
    InvalidUtf8 {
        /// The field.
        field: DcepField,
    },
    /// Encoding: the label or protocol is longer than a 16-bit length can say.
    FieldTooLong {
        /// The field.
        field: DcepField,
        /// Its length in bytes.
        len: usize,
    },
}

impl fmt::Display for DcepError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DcepError::Empty => write!(f, "empty DCEP message"),
            DcepError::UnknownMessageType(t) => write!(
                f,
                "unknown DCEP message type 0x{t:02x} (expected OPEN 0x03 or ACK 0x02)"
            ),
            DcepError::UnknownChannelType(t) => write!(
                f,
                "unknown data channel type 0x{t:02x} in DATA_CHANNEL_OPEN (RFC 8832 §5.1 defines \
                 0x00-0x02 and 0x80-0x82)"
            ),
            DcepError::Truncated { len } => write!(
                f,
                "DATA_CHANNEL_OPEN of {len} bytes is shorter than its {OPEN_HEADER_LEN}-byte header"
            ),
            DcepError::LengthPastEnd {
                field,
                declared,
                available,
            } => write!(
                f,
                "DATA_CHANNEL_OPEN {field} length {declared} runs past the end of the message \
                 ({available} bytes left)"
            ),
            DcepError::TrailingBytes {
                message_type,
                extra,
            } => write!(
                f,
                "DCEP message type 0x{message_type:02x} has {extra} unexpected trailing bytes"
            ),
            DcepError::InvalidUtf8 { field } => {
                write!(f, "DATA_CHANNEL_OPEN {field} is not valid UTF-8")
            }
            DcepError::FieldTooLong { field, len } => write!(
                f,
                "data channel {field} of {len} bytes does not fit DCEP's 16-bit length"
            ),
        }
    }
}

impl std::error::Error for DcepError {}

impl DataChannelOpen {
    /// Encodes the message.
    pub fn encode(&self) -> Result<Vec<u8>, DcepError> {
        let label = self.label.as_bytes();
        let protocol = self.protocol.as_bytes();
        let label_len = u16::try_from(label.len()).map_err(|_| DcepError::FieldTooLong {
            field: DcepField::Label,
            len: label.len(),
        })?;
        let protocol_len = u16::try_from(protocol.len()).map_err(|_| DcepError::FieldTooLong {
            field: DcepField::Protocol,
            len: protocol.len(),
        })?;
        let mut out = Vec::with_capacity(OPEN_HEADER_LEN + label.len() + protocol.len());
        out.push(MESSAGE_TYPE_OPEN);
        out.push(self.channel_type.wire_type());
        out.extend_from_slice(&self.priority.to_be_bytes());
        out.extend_from_slice(&self.channel_type.reliability_parameter().to_be_bytes());
        out.extend_from_slice(&label_len.to_be_bytes());
        out.extend_from_slice(&protocol_len.to_be_bytes());
        out.extend_from_slice(label);
        out.extend_from_slice(protocol);
        Ok(out)
    }

    fn decode_body(buf: &[u8]) -> Result<Self, DcepError> {
        if buf.len() < OPEN_HEADER_LEN {
            return Err(DcepError::Truncated { len: buf.len() });
        }
        let be16 = |i: usize| usize::from(u16::from_be_bytes([buf[i], buf[i + 1]]));
        let reliability = u32::from_be_bytes([buf[4], buf[5], buf[6], buf[7]]);
        let channel_type = ChannelType::from_wire(buf[1], reliability)?;
        let priority = u16::from_be_bytes([buf[2], buf[3]]);
        let (label_len, protocol_len) = (be16(8), be16(10));
        let rest = &buf[OPEN_HEADER_LEN..];
        if label_len > rest.len() {
            return Err(DcepError::LengthPastEnd {
                field: DcepField::Label,
                declared: label_len,
                available: rest.len(),
            });
        }
        let (label, rest) = rest.split_at(label_len);
        if protocol_len > rest.len() {
            return Err(DcepError::LengthPastEnd {
                field: DcepField::Protocol,
                declared: protocol_len,
                available: rest.len(),
            });
        }
        let (protocol, rest) = rest.split_at(protocol_len);
        if !rest.is_empty() {
            return Err(DcepError::TrailingBytes {
                message_type: MESSAGE_TYPE_OPEN,
                extra: rest.len(),
            });
        }
        let text = |bytes: &[u8], field| {
            std::str::from_utf8(bytes)
                .map(str::to_owned)
                .map_err(|_| DcepError::InvalidUtf8 { field })
        };
        Ok(DataChannelOpen {
            channel_type,
            priority,
            label: text(label, DcepField::Label)?,
            protocol: text(protocol, DcepField::Protocol)?,
        })
    }
}

impl DcepMessage {
    /// Encodes the message.
    pub fn encode(&self) -> Result<Vec<u8>, DcepError> {
        match self {
            DcepMessage::Open(open) => open.encode(),
            DcepMessage::Ack => Ok(vec![MESSAGE_TYPE_ACK]),
        }
    }

    /// Decodes one DCEP message (the whole payload of a PPID 50 SCTP message).
    pub fn decode(buf: &[u8]) -> Result<Self, DcepError> {
        match buf.first() {
            None => Err(DcepError::Empty),
            Some(&MESSAGE_TYPE_ACK) if buf.len() == 1 => Ok(DcepMessage::Ack),
            Some(&MESSAGE_TYPE_ACK) => Err(DcepError::TrailingBytes {
                message_type: MESSAGE_TYPE_ACK,
                extra: buf.len() - 1,
            }),
            Some(&MESSAGE_TYPE_OPEN) => DataChannelOpen::decode_body(buf).map(DcepMessage::Open),
            Some(&other) => Err(DcepError::UnknownMessageType(other)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn all_types() -> Vec<ChannelType> {
        let mut v = Vec::new();
        for unordered in [false, true] {
            v.push(ChannelType::Reliable { unordered });
            v.push(ChannelType::PartialReliableRexmit {
                unordered,
                max_retransmits: 7,
            });
            v.push(ChannelType::PartialReliableTimed {
                unordered,
                lifetime_ms: 0x0102_0304,
            });
        }
        v
    }

    #[test]
    fn open_roundtrips_every_channel_type_and_field() {
        let wire: Vec<u8> = all_types().iter().map(|t| t.wire_type()).collect();
        assert_eq!(wire, [0x00, 0x01, 0x02, 0x80, 0x81, 0x82]);
        for channel_type in all_types() {
            let open = DataChannelOpen {
                channel_type,
                priority: priority::HIGH,
                label: "chät".into(),
                protocol: "proto/1".into(),
            };
            let bytes = open.encode().unwrap();
            assert_eq!(bytes.len(), OPEN_HEADER_LEN + 5 + 7);
            assert_eq!(
                DcepMessage::decode(&bytes).unwrap(),
                DcepMessage::Open(open)
            );
        }
    }

    #[test]
    fn open_layout_is_network_byte_order() {
        let open = DataChannelOpen {
            channel_type: ChannelType::PartialReliableTimed {
                unordered: true,
                lifetime_ms: 0x0A0B_0C0D,
            },
            priority: 0x0102,
            label: "ab".into(),
            protocol: "c".into(),
        };
        assert_eq!(
            open.encode().unwrap(),
            [3, 0x82, 1, 2, 0x0A, 0x0B, 0x0C, 0x0D, 0, 2, 0, 1, b'a', b'b', b'c']
        );
    }

    #[test]
    fn reliable_channel_ignores_a_nonzero_reliability_parameter() {
        let mut bytes = DataChannelOpen::default().encode().unwrap();
        bytes[4..8].copy_from_slice(&9u32.to_be_bytes());
        let DcepMessage::Open(open) = DcepMessage::decode(&bytes).unwrap() else {
            panic!("not an OPEN")
        };
        assert_eq!(
            open.channel_type,
            ChannelType::Reliable { unordered: false }
        );
    }

    #[test]
    fn ack_is_one_byte() {
        assert_eq!(DcepMessage::Ack.encode().unwrap(), [2]);
        assert_eq!(DcepMessage::decode(&[2]).unwrap(), DcepMessage::Ack);
        assert_eq!(
            DcepMessage::decode(&[2, 0]),
            Err(DcepError::TrailingBytes {
                message_type: 2,
                extra: 1
            })
        );
    }

    #[test]
    fn empty_message_is_refused() {
        assert_eq!(DcepMessage::decode(&[]), Err(DcepError::Empty));
    }

    #[test]
    fn unknown_message_types_are_refused() {
        for t in [0x00u8, 0x01, 0x04, 0xfe, 0xff] {
            let err = DcepMessage::decode(&[t, 0, 0]).unwrap_err();
            assert_eq!(err, DcepError::UnknownMessageType(t));
            assert!(err.to_string().contains(&format!("0x{t:02x}")), "{err}");
        }
    }

    #[test]
    fn unknown_channel_types_are_refused() {
        for t in [0x03u8, 0x7f, 0x83, 0xff, 0x40] {
            let mut bytes = DataChannelOpen::default().encode().unwrap();
            bytes[1] = t;
            let err = DcepMessage::decode(&bytes).unwrap_err();
            assert_eq!(err, DcepError::UnknownChannelType(t));
            assert!(err.to_string().contains("channel type"), "{err}");
        }
    }

    #[test]
    fn open_shorter_than_its_header_is_refused() {
        let bytes = DataChannelOpen::default().encode().unwrap();
        for len in 1..OPEN_HEADER_LEN {
            assert_eq!(
                DcepMessage::decode(&bytes[..len]),
                Err(DcepError::Truncated { len })
            );
        }
    }

    #[test]
    fn label_length_past_the_end_is_refused() {
        let open = DataChannelOpen {
            label: "label".into(),
            ..Default::default()
        };
        let mut bytes = open.encode().unwrap();
        bytes[8..10].copy_from_slice(&6u16.to_be_bytes());
        let err = DcepMessage::decode(&bytes).unwrap_err();
        assert_eq!(
            err,
            DcepError::LengthPastEnd {
                field: DcepField::Label,
                declared: 6,
                available: 5
            }
        );
        assert!(err.to_string().contains("label length 6"), "{err}");
        // A length near u16::MAX must not overflow or allocate.
        bytes[8..10].copy_from_slice(&u16::MAX.to_be_bytes());
        assert!(matches!(
            DcepMessage::decode(&bytes),
            Err(DcepError::LengthPastEnd {
                declared: 65535,
                ..
            })
        ));
    }

    #[test]
    fn protocol_length_past_the_end_is_refused() {
        let open = DataChannelOpen {
            label: "l".into(),
            protocol: "p".into(),
            ..Default::default()
        };
        let mut bytes = open.encode().unwrap();
        bytes[10..12].copy_from_slice(&2u16.to_be_bytes());
        assert_eq!(
            DcepMessage::decode(&bytes),
            Err(DcepError::LengthPastEnd {
                field: DcepField::Protocol,
                declared: 2,
                available: 1
            })
        );
    }

    #[test]
    fn trailing_bytes_after_the_protocol_are_refused() {
        let mut bytes = DataChannelOpen::default().encode().unwrap();
        bytes.extend_from_slice(&[0, 0]);
        assert_eq!(
            DcepMessage::decode(&bytes),
            Err(DcepError::TrailingBytes {
                message_type: 3,
                extra: 2
            })
        );
    }

    #[test]
    fn non_utf8_label_or_protocol_is_refused() {
        let mut bytes = DataChannelOpen {
            label: "a".into(),
            protocol: "b".into(),
            ..Default::default()
        }
        .encode()
        .unwrap();
        bytes[12] = 0xff;
        assert_eq!(
            DcepMessage::decode(&bytes),
            Err(DcepError::InvalidUtf8 {
                field: DcepField::Label
            })
        );
        bytes[12] = b'a';
        bytes[13] = 0xc3; // a lone lead byte
        assert_eq!(
            DcepMessage::decode(&bytes),
            Err(DcepError::InvalidUtf8 {
                field: DcepField::Protocol
            })
        );
    }

    #[test]
    fn oversized_label_cannot_be_encoded() {
        let open = DataChannelOpen {
            label: "x".repeat(65_536),
            ..Default::default()
        };
        assert_eq!(
            open.encode(),
            Err(DcepError::FieldTooLong {
                field: DcepField::Label,
                len: 65_536
            })
        );
    }

    #[test]
    fn channel_types_map_to_send_options() {
        let t = ChannelType::PartialReliableRexmit {
            unordered: true,
            max_retransmits: 3,
        };
        assert_eq!(
            t.send_options(),
            SendOptions {
                unordered: true,
                reliability: Reliability::MaxRetransmits(3)
            }
        );
        let t = ChannelType::PartialReliableTimed {
            unordered: false,
            lifetime_ms: 150,
        };
        assert_eq!(t.send_options().reliability, Reliability::MaxLifetime(150));
        assert_eq!(
            ChannelType::default().send_options(),
            SendOptions::reliable()
        );
    }

    #[test]
    fn arbitrary_bytes_never_panic() {
        // Seeded xorshift: every prefix of random buffers, with OPEN and ACK type bytes forced.
        let mut x = 0x1234_5678_9abc_def0u64;
        for round in 0..2000 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let len = (x % 40) as usize;
            let mut buf: Vec<u8> = (0..len)
                .map(|i| (x >> ((i % 8) * 8)) as u8 ^ i as u8)
                .collect();
            if let Some(b) = buf.first_mut() {
                *b = [2, 3, 3, 9][round % 4];
            }
            let _ = DcepMessage::decode(&buf);
        }
    }
}
