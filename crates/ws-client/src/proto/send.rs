//! The send side of [`Connection`]: messages out as masked (client) frames, closes, pongs,
//! and the output buffer the driver writes from.

use super::*;

impl Connection {
    // ----- commands -----

    /// Queues a message: text and binary messages (compressed when permessage-deflate was
    /// negotiated and the payload reaches [`Config::compression_threshold`]; split into
    /// frames of at most [`Config::write_frame_size`]), pings and pongs (at most 125 bytes),
    /// or a close (same as [`close`](Self::close); `Close(None)` sends a close without a
    /// status code).
    ///
    /// Fails with [`ErrorKind::Closed`](crate::ErrorKind::Closed) once a close frame was sent or received or the
    /// connection failed, and with [`ErrorKind::Usage`](crate::ErrorKind::Usage) for an oversized control payload or an
    /// invalid close; nothing is queued then.
    pub fn send(&mut self, msg: Message) -> Result<(), Error> {
        self.send_inner(msg, true)
    }

    /// Like [`send`](Self::send), but never compresses (for payloads known to be
    /// incompressible, e.g. already compressed media).
    pub fn send_uncompressed(&mut self, msg: Message) -> Result<(), Error> {
        self.send_inner(msg, false)
    }

    fn send_inner(&mut self, msg: Message, compress: bool) -> Result<(), Error> {
        let (opcode, payload): (OpCode, Bytes) = match msg {
            Message::Close(Some(frame)) => return self.close(frame.code, frame.reason.as_str()),
            Message::Close(None) => return self.close_inner(None, ""),
            Message::Text(t) => (OpCode::Text, t.into_bytes()),
            Message::Binary(b) => (OpCode::Binary, b),
            Message::Ping(p) => (OpCode::Ping, p),
            Message::Pong(p) => (OpCode::Pong, p),
        };
        if !self.is_open() {
            return Err(Error::closed());
        }
        if opcode.is_control() {
            if payload.len() > MAX_CONTROL_PAYLOAD {
                return Err(UsageError::ControlPayloadTooLong(payload.len()).into());
            }
            self.write_frame(opcode, true, 0, &payload);
            return Ok(());
        }
        #[cfg(feature = "deflate")]
        if compress && payload.len() >= self.config.compression_threshold {
            if let Some(deflate) = self.deflate.as_mut() {
                let mut scratch = std::mem::take(&mut self.scratch);
                scratch.clear();
                if let Err(e) = deflate.compress(&payload, &mut scratch) {
                    // Nothing was queued; the compressor reset itself.
                    return Err(Error::internal(format!("compression failed: {e}")));
                }
                self.write_message(opcode, RSV1, &scratch, None);
                if scratch.capacity() <= SCRATCH_KEEP {
                    self.scratch = scratch;
                }
                return Ok(());
            }
        }
        #[cfg(not(feature = "deflate"))]
        let _ = compress;
        self.write_message(opcode, 0, &payload, Some(&payload));
        Ok(())
    }

    /// Starts the close handshake: queues a close frame with `code` and `reason`. The
    /// connection moves to [`State::ClosingLocal`]; messages still in flight from the peer
    /// are delivered, and the peer's close completes the handshake (or
    /// [`Config::close_timeout`] ends it).
    ///
    /// Idempotent: once a close was sent or received, or the connection failed, this does
    /// nothing and returns `Ok`. Fails with [`ErrorKind::Usage`](crate::ErrorKind::Usage) when `code` may not be sent
    /// (see [`CloseCode::is_sendable`]) or `reason` is longer than 123 bytes.
    pub fn close(&mut self, code: CloseCode, reason: &str) -> Result<(), Error> {
        if !code.is_sendable() {
            return Err(UsageError::InvalidCloseCode(code.as_u16()).into());
        }
        self.close_inner(Some(code), reason)
    }

    fn close_inner(&mut self, code: Option<CloseCode>, reason: &str) -> Result<(), Error> {
        if reason.len() > MAX_CLOSE_REASON {
            return Err(UsageError::CloseReasonTooLong(reason.len()).into());
        }
        if !self.is_open() {
            return Ok(());
        }
        self.flush_owed_pongs(true);
        self.write_close(code, reason);
        self.timers.close_arm_pending = self.config.close_timeout.is_some();
        self.timers.next_ping = None;
        self.timers.pong_deadline = None;
        Ok(())
    }

    /// Queues a close frame and marks it sent. `reason` is at most 123 bytes.
    pub(super) fn write_close(&mut self, code: Option<CloseCode>, reason: &str) {
        let mut payload = [0u8; MAX_CONTROL_PAYLOAD];
        let len = match code {
            Some(code) => {
                let reason = &reason.as_bytes()[..reason.len().min(MAX_CLOSE_REASON)];
                payload[..2].copy_from_slice(&code.as_u16().to_be_bytes());
                payload[2..2 + reason.len()].copy_from_slice(reason);
                2 + reason.len()
            }
            None => 0,
        };
        trace::debug!(
            in &self.span,
            code = code.map(|c| c.as_u16()),
            reason_len = len.saturating_sub(2),
            "sending close"
        );
        self.write_frame(OpCode::Close, true, 0, &payload[..len]);
        self.sent_close = true;
    }

    /// Queues a data message, split into frames of at most `write_frame_size`. `owned` is
    /// the payload itself when the caller owns it as [`Bytes`]: large frames are then
    /// queued by reference (see [`out`](super::out)) rather than copied whole.
    fn write_message(&mut self, opcode: OpCode, rsv: u8, payload: &[u8], owned: Option<&Bytes>) {
        let max = self.config.write_frame_size.max(1);
        if payload.len() <= max {
            self.write_data_frame(opcode, true, rsv, payload, owned);
            return;
        }
        let count = payload.len().div_ceil(max);
        for (i, chunk) in payload.chunks(max).enumerate() {
            let (op, rsv) = if i == 0 {
                (opcode, rsv)
            } else {
                (OpCode::Continuation, 0)
            };
            self.write_data_frame(op, i + 1 == count, rsv, chunk, owned);
        }
    }

    /// Queues one frame of a data message: a large payload owned as `Bytes` by reference,
    /// anything else copied.
    fn write_data_frame(
        &mut self,
        opcode: OpCode,
        fin: bool,
        rsv: u8,
        payload: &[u8],
        owned: Option<&Bytes>,
    ) {
        match owned {
            Some(bytes) if payload.len() >= LAZY_MIN => {
                let data = bytes.slice_ref(payload);
                self.write_header(opcode, fin, rsv, payload.len(), |out, key| {
                    out.push_payload(data, key)
                })
            }
            _ => self.write_frame(opcode, fin, rsv, payload),
        }
    }

    /// Encodes one frame into the output buffer: header, then the payload copied and masked
    /// in one pass (client role).
    pub(super) fn write_frame(&mut self, opcode: OpCode, fin: bool, rsv: u8, payload: &[u8]) {
        self.write_header(opcode, fin, rsv, payload.len(), |out, key| {
            let out = out.reserve(payload.len());
            match key {
                // One pass: each payload byte is read once and written once, masked.
                Some(key) => extend_masked(out, payload, key, 0),
                None => out.extend_from_slice(payload),
            }
        })
    }

    /// Queues the header of a frame with a `len`-byte payload (with a fresh masking key in
    /// the client role), then has `payload` queue the payload with that key.
    fn write_header(
        &mut self,
        opcode: OpCode,
        fin: bool,
        rsv: u8,
        len: usize,
        payload: impl FnOnce(&mut OutBuf, Option<[u8; 4]>),
    ) {
        trace::trace!(
            in &self.span,
            opcode = ?opcode,
            fin,
            len,
            rsv1 = rsv & RSV1 != 0,
            "frame queued"
        );
        let mask = match self.role {
            Role::Client => Some(mask_key()),
            Role::Server => None,
        };
        let header = FrameHeader {
            fin,
            rsv,
            opcode,
            mask,
            payload_len: len as u64,
        };
        let mut head = [0u8; MAX_HEADER_LEN];
        let n = header.encode(&mut head);
        self.out
            .reserve(n + len.min(LAZY_MIN))
            .extend_from_slice(&head[..n]);
        payload(&mut self.out, mask);
    }

    /// Answers a ping: now if the output buffer is below the high-water mark, else later
    /// (bounded queue, the oldest owed pong is dropped first).
    pub(super) fn queue_pong(&mut self, payload: Bytes) {
        self.owed_pongs.push_back(payload);
        while self.owed_pongs.len() > self.config.max_queued_pongs.max(1) {
            self.owed_pongs.pop_front();
        }
        self.flush_owed_pongs(false);
    }

    /// Encodes owed pongs while the output is below the high-water mark (all if `force`).
    pub(super) fn flush_owed_pongs(&mut self, force: bool) {
        while force || self.out.is_empty() || self.out.len() < self.config.write_buffer_high {
            let Some(p) = self.owed_pongs.pop_front() else {
                break;
            };
            self.write_frame(OpCode::Pong, true, 0, &p);
        }
    }

    // ----- output -----

    /// Bytes to write to the transport now, oldest first. Usually everything queued; when a
    /// large message is queued it is made ready a chunk at a time, so after
    /// [`consume_output`](Self::consume_output) more may follow: write while
    /// [`wants_write`](Self::wants_write). Empty exactly when nothing is queued.
    pub fn pending_output(&self) -> &[u8] {
        self.out.as_slice()
    }

    /// How many bytes are queued for the transport in all: [`pending_output`] and what
    /// follows it. Compare this, not `pending_output().len()`, with a high-water mark.
    ///
    /// [`pending_output`]: Self::pending_output
    pub fn output_len(&self) -> usize {
        self.out.len()
    }

    /// Marks the first `n` bytes of [`pending_output`](Self::pending_output) as written
    /// (`n` larger than what is pending counts as everything).
    pub fn consume_output(&mut self, n: usize) {
        self.out.consume(n);
        if !self.owed_pongs.is_empty() {
            self.flush_owed_pongs(false);
        }
    }

    /// Whether there are bytes to write.
    pub fn wants_write(&self) -> bool {
        !self.out.is_empty()
    }
}

/// A fresh masking key from a cryptographically secure generator: `rand`'s thread-local
/// ChaCha12 generator, seeded and periodically reseeded from the operating system. RFC 6455
/// §5.3 requires keys that an observer of earlier frames cannot predict (§10.3: otherwise a
/// client can be made to poison a transparent proxy's cache).
fn mask_key() -> [u8; 4] {
    key_rng().next_u32().to_ne_bytes()
}

/// The generator masking keys come from. `CryptoRng` in its type is the promise that it is
/// cryptographically secure; a test holds it to that.
pub(super) fn key_rng() -> impl rand::CryptoRng {
    rand::rng()
}
