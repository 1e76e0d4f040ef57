//! Why a frame header was refused.

use std::{error, fmt};

use crate::CloseCode;

/// A frame header that breaks RFC 6455 or the configured limits.
///
/// Every variant is the peer's fault: the connection should be failed by sending a close
/// frame with [`FrameError::close_code`] (1002 protocol error, or 1009 for
/// [`FrameError::FrameTooLarge`]) and then closing the transport. No bytes of the offending
/// frame's payload need to be read.
#[non_exhaustive]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum FrameError {
    /// The opcode (the low 4 bits of byte 0, carried here) is one of the reserved values
    /// `0x3`-`0x7` or `0xB`-`0xF`.
    ReservedOpcode(u8),
    /// RSV bits were set that no negotiated extension allows; carries the offending bits
    /// (a subset of `0x70`, as in byte 0).
    ReservedBits(u8),
    /// A control frame (close, ping, pong) declared more than 125 bytes of payload;
    /// carries the declared length.
    ControlFrameTooLong(u64),
    /// A control frame had FIN = 0; control frames may not be fragmented.
    FragmentedControlFrame,
    /// A 64-bit extended payload length had its most significant bit set.
    InvalidLength,
    /// The declared payload length exceeds the configured maximum frame size.
    FrameTooLarge {
        /// The declared payload length.
        len: u64,
        /// The configured maximum ([`HeaderDecoder::max_frame_size`](crate::HeaderDecoder::max_frame_size)).
        max: u64,
    },
    /// We are a client and the server sent a masked frame (servers must not mask).
    MaskedFrameFromServer,
    /// We are a server and the client sent an unmasked frame (clients must mask).
    UnmaskedFrameFromClient,
}

impl FrameError {
    /// The close code to send when failing the connection because of this error:
    /// [`CloseCode::MESSAGE_TOO_BIG`] (1009) for [`FrameError::FrameTooLarge`],
    /// [`CloseCode::PROTOCOL_ERROR`] (1002) for everything else.
    pub fn close_code(&self) -> CloseCode {
        match self {
            FrameError::FrameTooLarge { .. } => CloseCode::MESSAGE_TOO_BIG,
            _ => CloseCode::PROTOCOL_ERROR,
        }
    }
}

impl fmt::Display for FrameError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            FrameError::ReservedOpcode(op) => write!(
                f,
                "received a frame with reserved opcode {op:#x} (RFC 6455 5.2)"
            ),
            FrameError::ReservedBits(bits) => write!(
                f,
                "received a frame with reserved bits {bits:#04x} set that no negotiated \
                 extension allows (RFC 6455 5.2)"
            ),
            FrameError::ControlFrameTooLong(len) => write!(
                f,
                "received a control frame declaring {len} bytes of payload; control frames \
                 carry at most 125 (RFC 6455 5.5)"
            ),
            FrameError::FragmentedControlFrame => f.write_str(
                "received a control frame with FIN = 0; control frames must not be \
                 fragmented (RFC 6455 5.5)",
            ),
            FrameError::InvalidLength => f.write_str(
                "received a frame whose 64-bit payload length has the most significant bit \
                 set (RFC 6455 5.2)",
            ),
            FrameError::FrameTooLarge { len, max } => write!(
                f,
                "received a frame declaring {len} bytes of payload, over the configured \
                 maximum frame size of {max} bytes; raise the limit if such frames are \
                 expected"
            ),
            FrameError::MaskedFrameFromServer => f.write_str(
                "received a masked frame from the server; servers must not mask \
                 (RFC 6455 5.1)",
            ),
            FrameError::UnmaskedFrameFromClient => f.write_str(
                "received an unmasked frame from the client; clients must mask every frame \
                 (RFC 6455 5.1)",
            ),
        }?;
        write!(
            f,
            "; failing the connection with close code {}",
            self.close_code()
        )
    }
}

impl error::Error for FrameError {}
