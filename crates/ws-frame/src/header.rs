//! The frame header and its encoder (RFC 6455 §5.2).

use crate::{OpCode, MAX_HEADER_LEN};

/// A decoded (or to-be-encoded) frame header.
///
/// ```text
///  0                   1                   2                   3
///  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
/// +-+-+-+-+-------+-+-------------+-------------------------------+
/// |F|R|R|R| opcode|M| Payload len |    Extended payload length    |
/// |I|S|S|S|  (4)  |A|     (7)     |             (16/64)           |
/// |N|V|V|V|       |S|             |   (if payload len==126/127)   |
/// | |1|2|3|       |K|             |                               |
/// +-+-+-+-+-------+-+-------------+ - - - - - - - - - - - - - - - +
/// |     Extended payload length continued, if payload len == 127  |
/// + - - - - - - - - - - - - - - - +-------------------------------+
/// |                               |Masking-key, if MASK set to 1  |
/// +-------------------------------+-------------------------------+
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct FrameHeader {
    /// FIN: this is the last frame of its message.
    pub fin: bool,
    /// The RSV bits exactly as they sit in byte 0 (a subset of `0x70`; see
    /// [`RSV1`](crate::RSV1), [`RSV2`](crate::RSV2), [`RSV3`](crate::RSV3)). Bits outside
    /// `0x70` are ignored by [`FrameHeader::encode`].
    pub rsv: u8,
    /// The opcode.
    pub opcode: OpCode,
    /// The masking key, present exactly when the frame is masked (client to server).
    pub mask: Option<[u8; 4]>,
    /// The payload length in bytes. Must be below 2^63 (RFC 6455 §5.2).
    pub payload_len: u64,
}

impl FrameHeader {
    /// The number of bytes [`FrameHeader::encode`] writes: 2, plus 2 or 8 for an extended
    /// length, plus 4 for a masking key (so 2..=14).
    #[inline]
    pub fn encoded_len(&self) -> usize {
        let ext = match self.payload_len {
            0..=125 => 0,
            126..=0xFFFF => 2,
            _ => 8,
        };
        let mask = if self.mask.is_some() { 4 } else { 0 };
        2 + ext + mask
    }

    /// Writes the header to the front of `out` and returns the number of bytes written
    /// (equal to [`FrameHeader::encoded_len`]). Uses the minimal length encoding, as RFC
    /// 6455 §5.2 requires of senders. Does not allocate.
    ///
    /// The header is written as given: the caller is responsible for masking exactly when
    /// it is the client, for keeping control frames at most 125 bytes and unfragmented,
    /// and for `payload_len < 2^63` (debug builds assert the last one).
    #[inline]
    pub fn encode(&self, out: &mut [u8; MAX_HEADER_LEN]) -> usize {
        debug_assert!(
            self.payload_len >> 63 == 0,
            "payload length must be below 2^63"
        );
        out[0] = (u8::from(self.fin) << 7) | (self.rsv & 0x70) | self.opcode.as_u8();
        let mask_bit = if self.mask.is_some() { 0x80 } else { 0 };
        let len = self.payload_len;
        let mut n = match len {
            0..=125 => {
                // `len` is at most 125 here, so the cast is lossless.
                out[1] = mask_bit | len as u8;
                2
            }
            126..=0xFFFF => {
                out[1] = mask_bit | 126;
                // `len` fits in 16 bits here, so the cast is lossless.
                out[2..4].copy_from_slice(&(len as u16).to_be_bytes());
                4
            }
            _ => {
                out[1] = mask_bit | 127;
                out[2..10].copy_from_slice(&len.to_be_bytes());
                10
            }
        };
        if let Some(key) = self.mask {
            out[n..n + 4].copy_from_slice(&key);
            n += 4;
        }
        n
    }
}
