//! # ws-frame — the WebSocket frame layer, without I/O
//!
//! `ws-frame` is the lowest layer of aiowebsocket: it turns bytes into
//! [RFC 6455](https://www.rfc-editor.org/rfc/rfc6455) frame headers and back, and applies
//! the XOR masking that every client-to-server payload carries. It performs no I/O, never
//! reads the clock, never allocates on the decode path and depends on no other crate, so it
//! can be tested byte for byte and used under any runtime (or none).
//!
//! ```text
//!   bytes from the socket                               bytes to the socket
//!          │                                                     ▲
//!          ▼                                                     │
//!   HeaderDecoder::decode ──▶ FrameHeader          FrameHeader::encode ──▶ [u8; 14]
//!   (Incomplete / Complete     │  payload_len,             ▲                 + payload
//!    / FrameError + close      │  mask key                 │                   masked by
//!    code to send)             ▼                           │                 apply_mask
//!                  apply_mask(payload, key, offset)   ws-client::Connection
//!                  ──▶ ws-client (UTF-8, inflate,     (assembles and splits messages)
//!                      message assembly)
//! ```
//!
//! What lives here:
//! - [`HeaderDecoder`]: an incremental header decoder. Give it whatever bytes have arrived;
//!   it answers [`Decoded::Incomplete`] (with a lower bound on the bytes still needed),
//!   [`Decoded::Complete`] (the header and its length), or a [`FrameError`] as soon as the
//!   bytes that prove the frame is invalid are present. Each error names the
//!   [`CloseCode`] the connection should send ([`FrameError::close_code`]).
//! - [`FrameHeader::encode`]: writes a header (either role) into a caller buffer with the
//!   minimal length encoding, no allocation.
//! - [`apply_mask`]: XOR masking, resumable mid-payload, dispatched at run time to the
//!   fastest implementation this CPU has (see [`mask`]).
//! - [`OpCode`], [`CloseCode`] (with the RFC 6455 §7.4 "may this code be sent" table) and
//!   [`Role`].
//!
//! What does not live here: message assembly, fragmentation rules that need state across
//! frames (continuation ordering, RSV1 only on the first frame of a compressed message),
//! UTF-8 validation and compression. Those belong to `ws-client`.
//!
//! # Example
//!
//! ```
//! use ws_frame::{apply_mask, Decoded, FrameHeader, HeaderDecoder, OpCode, Role, MAX_HEADER_LEN};
//!
//! // A client sends a masked "Hello" text frame.
//! let key = [0x37, 0xfa, 0x21, 0x3d];
//! let header = FrameHeader {
//!     fin: true,
//!     rsv: 0,
//!     opcode: OpCode::Text,
//!     mask: Some(key),
//!     payload_len: 5,
//! };
//! let mut head = [0u8; MAX_HEADER_LEN];
//! let n = header.encode(&mut head);
//! assert_eq!(&head[..n], &[0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d]);
//!
//! let mut wire = head[..n].to_vec();
//! let mut payload = *b"Hello";
//! apply_mask(&mut payload, key, 0);
//! wire.extend_from_slice(&payload);
//! assert_eq!(&wire[n..], &[0x7f, 0x9f, 0x4d, 0x51, 0x58]); // RFC 6455 §5.7
//!
//! // The server decodes it, possibly from a partial read.
//! let decoder = HeaderDecoder::new(Role::Server).max_frame_size(1 << 20);
//! assert_eq!(decoder.decode(&wire[..1]), Ok(Decoded::Incomplete { needed: 1 }));
//! match decoder.decode(&wire)? {
//!     Decoded::Complete { header: got, header_len } => {
//!         assert_eq!(got, header);
//!         let mut body = wire[header_len..].to_vec();
//!         apply_mask(&mut body, got.mask.unwrap_or_default(), 0);
//!         assert_eq!(body, b"Hello");
//!     }
//!     Decoded::Incomplete { needed } => unreachable!("{needed} more bytes?"),
//! }
//!
//! // A client refuses a masked frame: the error says to close with 1002.
//! let err = HeaderDecoder::new(Role::Client).decode(&wire).unwrap_err();
//! assert_eq!(err.close_code().as_u16(), 1002);
//! # Ok::<(), ws_frame::FrameError>(())
//! ```
//!
//! # Safety
//!
//! `unsafe` is confined to the SIMD masking code in [`mask`]; every block there carries a
//! `// SAFETY:` comment. The rest of the crate is safe code.

#![deny(unsafe_code)]
#![deny(unsafe_op_in_unsafe_fn)]
#![deny(clippy::undocumented_unsafe_blocks)]
#![warn(missing_docs)]

mod close;
mod decode;
mod error;
mod header;
pub mod mask;
mod opcode;

pub use close::CloseCode;
pub use decode::{Decoded, HeaderDecoder};
pub use error::FrameError;
pub use header::FrameHeader;
pub use mask::{apply_mask, extend_masked};
pub use opcode::OpCode;

/// The longest a frame header can be: 2 fixed bytes, an 8-byte extended length and a
/// 4-byte masking key.
pub const MAX_HEADER_LEN: usize = 14;

/// The first reserved bit (`0x40` of byte 0); permessage-deflate uses it to mark a
/// compressed message.
pub const RSV1: u8 = 0x40;
/// The second reserved bit (`0x20` of byte 0); no registered extension uses it.
pub const RSV2: u8 = 0x20;
/// The third reserved bit (`0x10` of byte 0); no registered extension uses it.
pub const RSV3: u8 = 0x10;

/// Which end of the connection we are.
///
/// RFC 6455 §5.1: a client masks every frame it sends and a server never masks. A decoder
/// is built with *our* role, so a [`Role::Client`] decoder expects unmasked frames from the
/// server and a [`Role::Server`] decoder expects masked frames from the client.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Role {
    /// We opened the connection; we mask what we send and receive unmasked frames.
    Client,
    /// We accepted the connection; we send unmasked frames and receive masked ones.
    Server,
}

impl Role {
    /// The other end's role.
    pub fn peer(self) -> Role {
        match self {
            Role::Client => Role::Server,
            Role::Server => Role::Client,
        }
    }

    /// Whether frames *sent* by this role are masked (true for [`Role::Client`]).
    pub fn masks_outgoing(self) -> bool {
        matches!(self, Role::Client)
    }
}
