//! The incremental header decoder.

use crate::{FrameError, FrameHeader, OpCode, Role};

/// The result of [`HeaderDecoder::decode`] when the input holds no error.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Decoded {
    /// The buffer holds only the start of a header (possibly nothing at all). At least
    /// `needed` more bytes (always >= 1) are required before the header is complete; call
    /// again with the same bytes plus more.
    Incomplete {
        /// A lower bound on the number of further bytes the header needs. Once the
        /// second byte is present it is exact.
        needed: usize,
    },
    /// A whole, valid header sits at the front of the buffer.
    Complete {
        /// The header.
        header: FrameHeader,
        /// How many bytes it took (2..=14); the payload starts right after.
        header_len: usize,
    },
}

/// Decodes frame headers from whatever bytes have arrived so far.
///
/// The decoder is a small `Copy` configuration value: it keeps no state between calls.
/// Call [`HeaderDecoder::decode`] with all the unconsumed bytes at the front of your read
/// buffer (the header and any payload bytes after it); when it answers
/// [`Decoded::Incomplete`], read more and call again with the longer buffer.
///
/// # Guarantees
///
/// - **Prefix consistency.** For any byte string, every prefix gives either
///   `Incomplete`, or exactly the answer the whole string gives. Splitting the input at any
///   byte boundary never changes the outcome.
/// - **Early errors.** An error is returned by the first call whose buffer contains the
///   bytes that decide it: a reserved opcode, reserved RSV bits or a fragmented control
///   frame with byte 0; a mask bit that does not fit the role with byte 1; a 64-bit length
///   with its top bit set with byte 2. The errors that carry the declared length
///   ([`FrameError::ControlFrameTooLong`], [`FrameError::FrameTooLarge`]) are decided when
///   the length field is complete, before the masking key and before any payload, so a
///   huge declared length never causes buffering.
///   When one header has several faults, the one decided by the earliest byte is reported
///   (within byte 0: RSV bits, then opcode, then fragmentation; within byte 1: masking).
/// - **No allocation, no panic** on any input.
///
/// # Accepted
///
/// Non-minimal length encodings (e.g. a 5-byte payload announced with the 16-bit form) are
/// accepted: RFC 6455 §5.2 requires the minimal form of senders only, and the encoded value
/// is what counts; the length checks apply to the value. RSV bits are checked against
/// [`HeaderDecoder::allowed_rsv`] only; rules that need more context (RSV1 is valid only on
/// the first data frame of a compressed message, continuation ordering) belong to the
/// caller.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct HeaderDecoder {
    role: Role,
    allowed_rsv: u8,
    max_frame_size: u64,
}

impl HeaderDecoder {
    /// A decoder for frames received by `role` (*our* role): a [`Role::Client`] decoder
    /// requires unmasked frames, a [`Role::Server`] decoder masked ones. No RSV bits are
    /// allowed and the maximum frame size is `2^63 - 1` (no limit beyond the RFC's).
    pub fn new(role: Role) -> HeaderDecoder {
        HeaderDecoder {
            role,
            allowed_rsv: 0,
            max_frame_size: u64::MAX >> 1,
        }
    }

    /// Allows the RSV bits in `bits` (a combination of [`RSV1`](crate::RSV1),
    /// [`RSV2`](crate::RSV2), [`RSV3`](crate::RSV3); other bits are ignored), as negotiated
    /// extensions require (permessage-deflate: `RSV1`).
    pub fn allowed_rsv(mut self, bits: u8) -> Self {
        self.set_allowed_rsv(bits);
        self
    }

    /// Refuses frames whose declared payload is longer than `max` bytes
    /// ([`FrameError::FrameTooLarge`], close code 1009). The check uses the header alone.
    pub fn max_frame_size(mut self, max: u64) -> Self {
        self.max_frame_size = max;
        self
    }

    /// In-place form of [`HeaderDecoder::allowed_rsv`], for when extensions are negotiated
    /// after the decoder was built.
    pub fn set_allowed_rsv(&mut self, bits: u8) {
        self.allowed_rsv = bits & 0x70;
    }

    /// Our role, as given to [`HeaderDecoder::new`].
    pub fn role(&self) -> Role {
        self.role
    }

    /// Decodes the header at the front of `buf`. See the type docs for the guarantees.
    ///
    /// Returns [`Decoded::Incomplete`] while `buf` holds only part of a valid-so-far
    /// header, [`Decoded::Complete`] once it holds a whole valid header (bytes after it are
    /// ignored), and an error as soon as the bytes present prove the header invalid.
    #[inline]
    pub fn decode(&self, buf: &[u8]) -> Result<Decoded, FrameError> {
        // Byte 0: FIN, RSV, opcode.
        let Some(&b0) = buf.first() else {
            return Ok(Decoded::Incomplete { needed: 2 });
        };
        let fin = b0 & 0x80 != 0;
        let rsv = b0 & 0x70;
        let bad_rsv = rsv & !self.allowed_rsv;
        if bad_rsv != 0 {
            return Err(FrameError::ReservedBits(bad_rsv));
        }
        let opcode = OpCode::from_u8(b0 & 0x0F).ok_or(FrameError::ReservedOpcode(b0 & 0x0F))?;
        let control = opcode.is_control();
        if control && !fin {
            return Err(FrameError::FragmentedControlFrame);
        }

        // Byte 1: MASK, 7-bit length.
        let Some(&b1) = buf.get(1) else {
            return Ok(Decoded::Incomplete { needed: 1 });
        };
        let masked = b1 & 0x80 != 0;
        match (self.role, masked) {
            (Role::Client, true) => return Err(FrameError::MaskedFrameFromServer),
            (Role::Server, false) => return Err(FrameError::UnmaskedFrameFromClient),
            _ => {}
        }
        let len7 = b1 & 0x7F;
        let ext_len = match len7 {
            126 => 2,
            127 => 8,
            _ => 0,
        };
        let header_len = 2 + ext_len + if masked { 4 } else { 0 };

        // Extended length.
        if len7 == 127 {
            if let Some(&b2) = buf.get(2) {
                if b2 & 0x80 != 0 {
                    return Err(FrameError::InvalidLength);
                }
            }
        }
        let payload_len = match len7 {
            126 => match buf.get(2..4) {
                Some(&[a, b]) => u64::from(u16::from_be_bytes([a, b])),
                _ => return Ok(incomplete(header_len, buf.len())),
            },
            127 => match buf.get(2..10).and_then(|s| <[u8; 8]>::try_from(s).ok()) {
                Some(bytes) => u64::from_be_bytes(bytes),
                None => return Ok(incomplete(header_len, buf.len())),
            },
            n => u64::from(n),
        };
        if control && payload_len > 125 {
            return Err(FrameError::ControlFrameTooLong(payload_len));
        }
        if payload_len > self.max_frame_size {
            return Err(FrameError::FrameTooLarge {
                len: payload_len,
                max: self.max_frame_size,
            });
        }

        // Masking key.
        let mask = if masked {
            let at = 2 + ext_len;
            match buf
                .get(at..at + 4)
                .and_then(|s| <[u8; 4]>::try_from(s).ok())
            {
                Some(key) => Some(key),
                None => return Ok(incomplete(header_len, buf.len())),
            }
        } else {
            None
        };

        Ok(Decoded::Complete {
            header: FrameHeader {
                fin,
                rsv,
                opcode,
                mask,
                payload_len,
            },
            header_len,
        })
    }
}

#[inline]
fn incomplete(header_len: usize, have: usize) -> Decoded {
    Decoded::Incomplete {
        needed: header_len - have,
    }
}
