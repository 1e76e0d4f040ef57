//! The permessage-deflate transform (RFC 7692 section 7.2), feature `deflate`.
//!
//! A sending endpoint compresses the whole payload of a data message as one raw DEFLATE
//! stream segment ending in a sync flush, drops the flush's trailing `00 00 ff ff`, and sets
//! RSV1 on the first frame. A receiving endpoint inflates the payloads of the message's
//! frames in order and, after the last frame, the `00 00 ff ff` the sender dropped.
//!
//! [`Connection`](crate::proto::Connection) does this itself once a handshake has
//! negotiated the extension ([`Config::deflate`](crate::proto::config::Config)).
//! [`PerMessageDeflate`] exposes the same transform for benchmarks, tests and users who move
//! frames themselves.
//!
//! * One compressor and one decompressor live as long as the connection; a message costs no
//!   set-up, only the reset that `*_no_context_takeover` requires (a reset keeps the
//!   allocations).
//! * Inflating writes at most 32 KiB at a time and stops as soon as the message grows past
//!   the caller's limit, so a "zip bomb" (a few KiB that inflate to gigabytes) costs at most
//!   the limit plus one step of memory. The output buffer doubles up to 1 MiB and then gets
//!   room up to the limit in one step (never a copy of a large buffer). Nothing is reserved from sizes the peer declares.
//! * An 8-bit window (allowed by RFC 7692) is compressed with a 9-bit window, since zlib
//!   cannot produce raw DEFLATE with a 256-byte window. See
//!   [`ws_handshake::permessage_deflate`].
//! * The decompressor always has a 32 KiB window, whatever the peer's negotiated window:
//!   zlib-rs allocates the full window in any case, and a 15-bit decompressor is the one
//!   flate2 can `reset` without re-allocating. So a peer that uses a larger window than it
//!   announced is not caught; the negotiated sizes still bound what *we* send.
//! * Flushing with a final block (`BFINAL = 1`, RFC 7692 section 7.2.3.4) is understood: the
//!   decompressor starts a fresh stream for whatever follows it.
//!
//! ```
//! use ws_client::proto::deflate::PerMessageDeflate;
//! use ws_frame::Role;
//! use ws_handshake::permessage_deflate::DeflateParams;
//!
//! let params = DeflateParams::default();
//! let mut client = PerMessageDeflate::new(&params, Role::Client);
//! let mut server = PerMessageDeflate::new(&params, Role::Server);
//!
//! let wire = client.compress(b"Hello")?;
//! assert_eq!(&wire[..], [0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00]); // RFC 7692 7.2.3.1
//! assert_eq!(&server.decompress(&wire, 1 << 20)?[..], b"Hello");
//! # Ok::<(), ws_client::proto::deflate::DeflateError>(())
//! ```

use std::fmt;

use bytes::{Bytes, BytesMut};
use flate2::{Compress, Compression, Decompress, FlushCompress, FlushDecompress, Status};
use ws_frame::{CloseCode, Role};
use ws_handshake::permessage_deflate::DeflateParams;

use crate::proto::buf::{freeze_vec, reserve_bounded};

/// What a sync flush ends with; dropped by the sender, appended by the receiver.
const TAIL: [u8; 4] = [0x00, 0x00, 0xff, 0xff];

/// The most output one inflate step writes (and so the most `out` can exceed a limit by).
const INFLATE_STEP: usize = 32 * 1024;

/// The smallest first inflate step (the first step is sized from the input).
const INFLATE_FIRST_STEP: usize = 1024;

/// The most output one deflate step writes.
const DEFLATE_STEP: usize = 64 * 1024;

/// The compression level [`PerMessageDeflate::new`] uses, the same as
/// [`Config::compression_level`](crate::Config::compression_level)'s default: 1, the fastest
/// real compression (zlib's own default, 6, shrinks JSON-like text only a little more for
/// several times the CPU).
pub const DEFAULT_LEVEL: u32 = 1;

/// Why a message could not be inflated (or, in theory, deflated).
///
/// Both variants are the peer's fault when they come from decompression;
/// [`close_code`](Self::close_code) gives the code to close the connection with.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum DeflateError {
    /// The message inflates to more than `limit` bytes (close with 1009, message too big).
    TooBig {
        /// The limit that was exceeded, in bytes.
        limit: usize,
    },
    /// The compressed data is not a valid DEFLATE stream, or uses a larger window than was
    /// negotiated (close with 1007, invalid payload). The string is zlib's description.
    Corrupt(String),
}

impl DeflateError {
    /// The close code to fail the connection with: 1009 for [`TooBig`](Self::TooBig), 1007
    /// for [`Corrupt`](Self::Corrupt).
    pub fn close_code(&self) -> CloseCode {
        match self {
            DeflateError::TooBig { .. } => CloseCode::MESSAGE_TOO_BIG,
            DeflateError::Corrupt(_) => CloseCode::INVALID_PAYLOAD,
        }
    }
}

impl fmt::Display for DeflateError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DeflateError::TooBig { limit } => write!(
                f,
                "permessage-deflate: a compressed message inflates to more than the limit of \
                 {limit} bytes (raise it with .max_message_size(..) if such messages are \
                 expected)"
            ),
            DeflateError::Corrupt(reason) => write!(
                f,
                "permessage-deflate: the peer sent a compressed message that does not inflate \
                 ({reason}); the peer's compressor is broken or ignores the negotiated window"
            ),
        }
    }
}

impl std::error::Error for DeflateError {}

/// The per-connection compressor and decompressor.
pub(crate) struct Deflate {
    compress: Compress,
    decompress: Decompress,
    /// Our `*_no_context_takeover`: reset the compressor after every message.
    reset_compress: bool,
    /// The peer's `*_no_context_takeover`: reset the decompressor after every message.
    reset_decompress: bool,
    /// The message being inflated has had at least one byte of input.
    inflating: bool,
    /// The compressor's window bits (for `Debug`).
    compress_bits: u8,
}

impl fmt::Debug for Deflate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Deflate")
            .field("compress_window_bits", &self.compress_bits)
            .field("reset_compress", &self.reset_compress)
            .field("reset_decompress", &self.reset_decompress)
            .finish()
    }
}

impl Deflate {
    /// Builds the transform for `role` (our role): a client compresses with the `client_*`
    /// parameters and decompresses with the `server_*` ones, a server the other way round.
    /// `level` is a zlib level, 0 (store) to 9 (smallest); larger values count as 9.
    pub(crate) fn new(params: &DeflateParams, role: Role, level: u32) -> Deflate {
        let (ours, reset_compress, reset_decompress) = match role {
            Role::Client => (
                params.client_max_window_bits,
                params.client_no_context_takeover,
                params.server_no_context_takeover,
            ),
            Role::Server => (
                params.server_max_window_bits,
                params.server_no_context_takeover,
                params.client_no_context_takeover,
            ),
        };
        // flate2 accepts 9..=15 (and panics otherwise); 8 becomes 9, see the module docs.
        let compress_bits = ours.clamp(9, 15);
        Deflate {
            compress: Compress::new_with_window_bits(
                Compression::new(level.min(9)),
                false,
                compress_bits,
            ),
            // Always 15 bits, whatever the peer's window: see the module docs.
            decompress: Decompress::new(false),
            reset_compress,
            reset_decompress,
            inflating: false,
            compress_bits,
        }
    }

    /// Compresses the whole payload of one message and appends it to `out`.
    ///
    /// Errors only if the compressor itself fails, which zlib does not do on valid use.
    pub(crate) fn compress(
        &mut self,
        payload: &[u8],
        out: &mut Vec<u8>,
    ) -> Result<(), DeflateError> {
        if payload.is_empty() {
            // An empty stored block without its LEN/NLEN (RFC 7692 section 7.2.3.6). It adds
            // nothing to the window, so it needs neither the compressor nor a reset.
            out.extend_from_slice(&[0x00]);
            return Ok(());
        }
        let start = out.len();
        let result = self.deflate_into(payload, out);
        if self.reset_compress || result.is_err() {
            self.compress.reset();
        }
        if let Err(e) = result {
            out.truncate(start);
            return Err(e);
        }
        if out[start..].ends_with(&TAIL) {
            out.truncate(out.len() - TAIL.len());
            Ok(())
        } else {
            out.truncate(start);
            self.compress.reset();
            Err(DeflateError::Corrupt(
                "internal: the compressor's sync flush did not end in 00 00 ff ff".to_owned(),
            ))
        }
    }

    /// Compresses into `out`'s spare capacity: flate2's `compress_vec` writes there without
    /// the buffer being zeroed first.
    fn deflate_into(&mut self, mut input: &[u8], out: &mut Vec<u8>) -> Result<(), DeflateError> {
        // Incompressible data grows by 5 bytes per stored block plus the flush.
        let step = input.len().saturating_add(64).min(DEFLATE_STEP);
        loop {
            let pos = out.len();
            out.reserve(step);
            let given = out.capacity() - pos;
            let in_before = self.compress.total_in();
            let result = self.compress.compress_vec(input, out, FlushCompress::Sync);
            let consumed = (self.compress.total_in() - in_before) as usize;
            let produced = out.len() - pos;
            input = &input[consumed..];
            result.map_err(|e| DeflateError::Corrupt(format!("internal compressor error: {e}")))?;
            // Done when all input is in and the flush fit in the space we gave.
            if input.is_empty() && produced < given {
                return Ok(());
            }
            if consumed == 0 && produced == 0 {
                return Err(DeflateError::Corrupt(
                    "internal: the compressor made no progress".to_owned(),
                ));
            }
        }
    }

    /// Inflates one frame's payload of a compressed message, appending to `out`; on the last
    /// frame (`fin`) also inflates the dropped `00 00 ff ff` and ends the message.
    ///
    /// Fails with [`DeflateError::TooBig`] as soon as `out.len()` would exceed `limit`: `out`
    /// then holds at most `limit + 1` bytes and its capacity stays below `limit` plus one
    /// 32 KiB step (unless it was larger on entry). After an error the decompressor is reset,
    /// and the connection should be failed.
    pub(crate) fn decompress(
        &mut self,
        input: &[u8],
        fin: bool,
        out: &mut Vec<u8>,
        limit: usize,
    ) -> Result<(), DeflateError> {
        let mut step = input
            .len()
            .saturating_mul(4)
            .clamp(INFLATE_FIRST_STEP, INFLATE_STEP);
        let mut result = Ok(());
        if !input.is_empty() {
            self.inflating = true;
            result = self.inflate_into(input, out, limit, &mut step);
        }
        // A message whose frames carry no byte at all is empty; the tail alone would leave
        // the decompressor inside a stored block.
        if fin && self.inflating && result.is_ok() {
            result = self.inflate_into(&TAIL, out, limit, &mut step);
        }
        if result.is_err() || (fin && self.reset_decompress) {
            self.decompress.reset(false);
        }
        if fin || result.is_err() {
            self.inflating = false;
        }
        result
    }

    /// Inflates into `out`'s spare capacity (flate2's `decompress_vec` writes there without
    /// the buffer being zeroed first). The capacity is grown in steps bounded by the limit,
    /// so it bounds what one call can write: memory never exceeds what
    /// [`reserve_bounded`] allows for `limit + 1` bytes.
    fn inflate_into(
        &mut self,
        mut input: &[u8],
        out: &mut Vec<u8>,
        limit: usize,
        step: &mut usize,
    ) -> Result<(), DeflateError> {
        let too_big = |out: &mut Vec<u8>| {
            // At most one byte past the limit is kept (the capacity may have room for more).
            out.truncate(limit.saturating_add(1));
            Err(DeflateError::TooBig { limit })
        };
        loop {
            if out.len() > limit {
                return too_big(out);
            }
            // Room for one byte past the limit, so that "exactly at the limit" and "over
            // it" can be told apart.
            let avail = (*step).min((limit - out.len()).saturating_add(1));
            reserve_bounded(out, avail, limit.saturating_add(1));
            let pos = out.len();
            let given = out.capacity() - pos;
            let in_before = self.decompress.total_in();
            let result = self
                .decompress
                .decompress_vec(input, out, FlushDecompress::None);
            let consumed = (self.decompress.total_in() - in_before) as usize;
            let produced = out.len() - pos;
            input = &input[consumed..];
            let status = result.map_err(|e| DeflateError::Corrupt(e.to_string()))?;
            if out.len() > limit {
                return too_big(out);
            }
            *step = step.saturating_mul(2).min(INFLATE_STEP);
            match status {
                Status::StreamEnd => {
                    // A final block (BFINAL = 1, RFC 7692 section 7.2.3.4): what follows, if
                    // anything, is a new DEFLATE stream.
                    self.decompress.reset(false);
                    if input.is_empty() {
                        return Ok(());
                    }
                }
                Status::Ok | Status::BufError => {
                    // Done when all input is in and the output did not fill the space given
                    // (otherwise zlib may hold more output).
                    if input.is_empty() && produced < given {
                        return Ok(());
                    }
                    if consumed == 0 && produced == 0 {
                        return Err(DeflateError::Corrupt(
                            "the decompressor made no progress".to_owned(),
                        ));
                    }
                }
            }
        }
    }
}

/// The permessage-deflate transform of one endpoint of a connection, for use outside
/// [`Connection`](crate::proto::Connection): benchmarks, tests, or frames moved by hand.
///
/// Give each connection its own value, built with the negotiated [`DeflateParams`] and our
/// [`Role`], and feed it every compressed message in order: with context takeover each
/// message may refer to the ones before it.
#[derive(Debug)]
pub struct PerMessageDeflate {
    inner: Deflate,
}

impl PerMessageDeflate {
    /// The transform for our `role` with the negotiated `params`, compressing at
    /// [`DEFAULT_LEVEL`].
    pub fn new(params: &DeflateParams, role: Role) -> Self {
        Self::with_level(params, role, DEFAULT_LEVEL)
    }

    /// Like [`new`](Self::new) with a zlib compression level: 0 (store only) to 9 (smallest
    /// output, slowest); larger values count as 9.
    pub fn with_level(params: &DeflateParams, role: Role, level: u32) -> Self {
        PerMessageDeflate {
            inner: Deflate::new(params, role, level),
        }
    }

    /// Compresses the payload of one message; the result is the payload of the message's
    /// frame(s), to be sent with RSV1 on the first frame.
    pub fn compress(&mut self, payload: &[u8]) -> Result<Bytes, DeflateError> {
        let mut out = Vec::new();
        self.inner.compress(payload, &mut out)?;
        Ok(Bytes::from(out))
    }

    /// Like [`compress`](Self::compress), appending to `out` (reusing its allocation).
    pub fn compress_into(
        &mut self,
        payload: &[u8],
        out: &mut BytesMut,
    ) -> Result<(), DeflateError> {
        on_vec(out, |v| self.inner.compress(payload, v))
    }

    /// Decompresses a whole message (the frames' payloads joined) of at most `limit` bytes
    /// once inflated.
    pub fn decompress(&mut self, message: &[u8], limit: usize) -> Result<Bytes, DeflateError> {
        let mut out = Vec::new();
        self.inner.decompress(message, true, &mut out, limit)?;
        Ok(freeze_vec(out))
    }

    /// Decompresses one frame of a message, appending to `out`; `fin` marks the message's
    /// last frame. `limit` bounds `out.len()` (including what `out` held on entry): past it
    /// the call fails with [`DeflateError::TooBig`], with `out.len()` at most `limit + 1` and
    /// its capacity at most `limit + 1` or 2 MiB, whichever is larger (unless it was larger on
    /// entry).
    ///
    /// A message whose frames carry no bytes at all is an empty message.
    pub fn decompress_frame(
        &mut self,
        frame: &[u8],
        fin: bool,
        out: &mut BytesMut,
        limit: usize,
    ) -> Result<(), DeflateError> {
        on_vec(out, |v| self.inner.decompress(frame, fin, v, limit))
    }
}

/// Runs `f` on `out` as a `Vec<u8>` and puts it back: no copy when `out` owns its whole
/// allocation (a `BytesMut` never split or frozen), a copy of its bytes otherwise.
fn on_vec<R>(out: &mut BytesMut, f: impl FnOnce(&mut Vec<u8>) -> R) -> R {
    let mut v = Vec::from(std::mem::take(out));
    let result = f(&mut v);
    // `From<Bytes> for BytesMut` reuses the allocation of a unique `Bytes`.
    *out = BytesMut::from(Bytes::from(v));
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params(client_nct: bool, server_nct: bool, bits: u8) -> DeflateParams {
        DeflateParams {
            client_max_window_bits: bits,
            server_max_window_bits: bits,
            client_no_context_takeover: client_nct,
            server_no_context_takeover: server_nct,
        }
    }

    #[test]
    fn role_picks_the_right_direction() {
        let p = DeflateParams {
            client_max_window_bits: 10,
            server_max_window_bits: 12,
            client_no_context_takeover: true,
            server_no_context_takeover: false,
        };
        let c = Deflate::new(&p, Role::Client, 6);
        assert_eq!(c.compress_bits, 10);
        assert!(c.reset_compress && !c.reset_decompress);
        let s = Deflate::new(&p, Role::Server, 6);
        assert_eq!(s.compress_bits, 12);
        assert!(!s.reset_compress && s.reset_decompress);
    }

    #[test]
    fn eight_bits_becomes_nine_and_out_of_range_is_clamped() {
        let d = Deflate::new(&params(false, false, 8), Role::Client, 6);
        assert_eq!(d.compress_bits, 9);
        let d = Deflate::new(&params(false, false, 200), Role::Server, 99);
        assert_eq!(d.compress_bits, 15);
    }

    #[test]
    fn appends_after_existing_content() {
        let mut c = Deflate::new(&params(false, false, 15), Role::Client, 6);
        let mut s = Deflate::new(&params(false, false, 15), Role::Server, 6);
        let mut wire = b"hdr".to_vec();
        c.compress(b"payload payload payload", &mut wire).unwrap();
        assert_eq!(&wire[..3], b"hdr");
        let mut out = b">>".to_vec();
        s.decompress(&wire[3..], true, &mut out, 1024).unwrap();
        assert_eq!(&out[..], b">>payload payload payload");
    }

    #[test]
    fn limit_counts_existing_content_and_exact_fit_passes() {
        let mut c = Deflate::new(&params(false, false, 15), Role::Client, 6);
        let mut s = Deflate::new(&params(false, false, 15), Role::Server, 6);
        let mut wire = Vec::new();
        c.compress(&[7u8; 100], &mut wire).unwrap();
        let mut out = Vec::new();
        s.decompress(&wire, true, &mut out, 100).unwrap();
        assert_eq!(out.len(), 100);

        let mut wire = Vec::new();
        c.compress(&[7u8; 101], &mut wire).unwrap();
        let mut out = Vec::new();
        assert_eq!(
            s.decompress(&wire, true, &mut out, 100),
            Err(DeflateError::TooBig { limit: 100 })
        );
    }

    #[test]
    fn close_codes() {
        assert_eq!(
            DeflateError::TooBig { limit: 1 }.close_code().as_u16(),
            1009
        );
        assert_eq!(
            DeflateError::Corrupt(String::new()).close_code().as_u16(),
            1007
        );
    }
}
