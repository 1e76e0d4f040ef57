//! Frame opcodes (RFC 6455 §5.2, §11.8).

use std::fmt;

/// A frame's opcode: what the payload is.
///
/// Only the six opcodes RFC 6455 defines exist here; the reserved values (`0x3`-`0x7` for
/// data, `0xB`-`0xF` for control) have no variant, and [`OpCode::from_u8`] returns `None`
/// for them (the decoder reports [`FrameError::ReservedOpcode`](crate::FrameError)).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum OpCode {
    /// `0x0`: a continuation fragment of the current data message.
    Continuation,
    /// `0x1`: the first frame of a text (UTF-8) message.
    Text,
    /// `0x2`: the first frame of a binary message.
    Binary,
    /// `0x8`: a close frame (control).
    Close,
    /// `0x9`: a ping (control).
    Ping,
    /// `0xA`: a pong (control).
    Pong,
}

impl OpCode {
    /// The opcode for the low 4 bits `v`, or `None` for reserved values and values above
    /// `0xF`.
    #[inline]
    pub fn from_u8(v: u8) -> Option<OpCode> {
        match v {
            0x0 => Some(OpCode::Continuation),
            0x1 => Some(OpCode::Text),
            0x2 => Some(OpCode::Binary),
            0x8 => Some(OpCode::Close),
            0x9 => Some(OpCode::Ping),
            0xA => Some(OpCode::Pong),
            _ => None,
        }
    }

    /// The 4-bit wire value.
    #[inline]
    pub fn as_u8(self) -> u8 {
        match self {
            OpCode::Continuation => 0x0,
            OpCode::Text => 0x1,
            OpCode::Binary => 0x2,
            OpCode::Close => 0x8,
            OpCode::Ping => 0x9,
            OpCode::Pong => 0xA,
        }
    }

    /// Close, Ping and Pong: at most 125 bytes of payload and never fragmented.
    #[inline]
    pub fn is_control(self) -> bool {
        matches!(self, OpCode::Close | OpCode::Ping | OpCode::Pong)
    }

    /// Continuation, Text and Binary: the frames that carry a message.
    #[inline]
    pub fn is_data(self) -> bool {
        !self.is_control()
    }
}

impl fmt::Display for OpCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let name = match self {
            OpCode::Continuation => "continuation",
            OpCode::Text => "text",
            OpCode::Binary => "binary",
            OpCode::Close => "close",
            OpCode::Ping => "ping",
            OpCode::Pong => "pong",
        };
        f.write_str(name)
    }
}

impl From<OpCode> for u8 {
    fn from(op: OpCode) -> u8 {
        op.as_u8()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_nibble_round_trips_or_is_reserved() {
        for v in 0u8..=255 {
            match OpCode::from_u8(v) {
                Some(op) => {
                    assert_eq!(op.as_u8(), v);
                    assert_eq!(op.is_control(), v >= 8);
                    assert_eq!(op.is_data(), v < 8);
                }
                None => assert!(matches!(v, 3..=7 | 0xB..), "{v:#x} should be an opcode"),
            }
        }
    }
}
