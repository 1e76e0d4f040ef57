//! The receive side of [`Connection`]: bytes in, frames decoded, messages assembled
//! (UTF-8, inflate, limits), control frames answered.

use super::*;

impl Connection {
    // ----- input -----

    pub(super) fn input_closed(&self) -> bool {
        self.failed || self.received_close || self.eof
    }

    /// Appends bytes received from the transport. Ignored once input is closed
    /// ([`wants_read`](Self::wants_read) is false).
    pub fn receive_data(&mut self, data: &[u8]) {
        if !self.input_closed() {
            if let Some(frame) = self.frame.filter(|f| f.mode != Mode::Stream) {
                // A frame buffered whole: room up to its end once it is large, so that the
                // buffer is not copied while large.
                reserve_bounded(&mut self.rbuf, data.len(), frame.len);
            }
            self.rbuf.extend_from_slice(data);
        }
    }

    /// The read buffer, to read from the transport straight into it (no copy). Only
    /// *append* to it; then call [`poll_message`](Self::poll_message). With a reader that
    /// needs an initialized `&mut [u8]`:
    ///
    /// ```
    /// # use ws_client::{Config, Connection, Role};
    /// # let mut conn = Connection::new(Role::Client, Config::default());
    /// # let mut socket: &[u8] = &[0x81, 0x02, b'h', b'i'];
    /// use std::io::Read;
    ///
    /// let buf = conn.read_buf();
    /// let len = buf.len();
    /// buf.resize(len + 16 * 1024, 0);
    /// let n = socket.read(&mut buf[len..])?;
    /// buf.truncate(len + n);
    /// if n == 0 {
    ///     conn.receive_eof();
    /// }
    /// assert_eq!(conn.poll_message().ok().flatten().and_then(|m| m.as_text().map(String::from)),
    ///            Some("hi".to_string()));
    /// # Ok::<(), std::io::Error>(())
    /// ```
    ///
    /// Once input is closed, the buffer is emptied at each call and its content ignored.
    pub fn read_buf(&mut self) -> &mut BytesMut {
        if self.input_closed() {
            self.rbuf.clear();
        }
        &mut self.rbuf
    }

    /// Payload bytes of the frame being received that have not arrived yet, when that
    /// frame is buffered whole in the read buffer (control frames and single-frame
    /// uncompressed messages); 0 otherwise. Lets a driver size a read for a large frame.
    pub(crate) fn buffered_frame_remaining(&self) -> usize {
        match self.frame {
            Some(f) if f.mode != Mode::Stream => f.len.saturating_sub(self.rbuf.len()),
            _ => 0,
        }
    }

    /// The transport reached end of stream. Without a completed close handshake this is an
    /// abnormal closure: the next [`poll_message`](Self::poll_message) returns
    /// [`ProtocolError::UnexpectedEof`] (close code 1006) after any complete messages still
    /// buffered. After the peer's close frame it is the normal end.
    pub fn receive_eof(&mut self) {
        self.eof = true;
    }

    // ----- events -----

    /// The next message, if one is complete.
    ///
    /// Parses everything buffered up to the next message: answers pings (the pong is queued
    /// before the ping is returned) and closes (the echo is queued before the close is
    /// returned). Returns `Ok(None)` when more bytes are needed, and also once the
    /// connection is over ([`is_closed`](Self::is_closed) tells them apart).
    ///
    /// An `Err` is returned once, when the connection fails: the peer broke the protocol
    /// ([`ErrorKind::Protocol`](crate::ErrorKind::Protocol), a close frame with its code is queued), the transport ended
    /// without a close handshake, or a timer expired ([`ErrorKind::Timeout`](crate::ErrorKind::Timeout)). Later calls return
    /// `Ok(None)`.
    pub fn poll_message(&mut self) -> Result<Option<Message>, Error> {
        if self.rbuf.is_empty() && !self.eof && self.pending_error.is_none() {
            // Nothing buffered: the common case of a driver polling before it reads.
            return Ok(None);
        }
        if let Some(e) = self.pending_error.take() {
            return Err(e);
        }
        if self.failed || self.received_close {
            self.rbuf.clear();
            return Ok(None);
        }
        loop {
            if self.frame.is_none() {
                match self.decoder.decode(&self.rbuf) {
                    Ok(Decoded::Complete { header, header_len }) => {
                        if let Err(e) = self.start_frame(header, header_len) {
                            return Err(self.fail(e));
                        }
                    }
                    Ok(Decoded::Incomplete { .. }) => return self.need_more(),
                    Err(e) => return Err(self.fail(ProtocolError::Frame(e))),
                }
            }
            match self.read_payload() {
                Ok(Some(msg)) => return Ok(Some(msg)),
                Ok(None) if self.frame.is_some() => return self.need_more(),
                Ok(None) => {}
                Err(e) => return Err(self.fail(e)),
            }
        }
    }

    /// All buffered bytes are processed: wait for more, or report EOF.
    fn need_more(&mut self) -> Result<Option<Message>, Error> {
        if !self.eof || self.failed || self.received_close {
            return Ok(None);
        }
        let mid_frame = self.frame.is_some() || !self.rbuf.is_empty();
        trace::debug!(
            in &self.span,
            mid_frame,
            "the transport closed without a close handshake"
        );
        self.terminate();
        Err(Error::from(ProtocolError::UnexpectedEof { mid_frame }))
    }

    /// Checks a new frame header against the message state and the limits, consumes it,
    /// and sets up `self.frame`.
    fn start_frame(&mut self, header: FrameHeader, header_len: usize) -> Result<(), ProtocolError> {
        let opcode = header.opcode;
        let rsv1 = header.rsv & RSV1 != 0;
        trace::trace!(
            in &self.span,
            opcode = ?opcode,
            fin = header.fin,
            len = header.payload_len,
            rsv1,
            "frame received"
        );
        let too_big = |size: u64, limit: usize| ProtocolError::MessageTooBig { size, limit };
        let msg_limit = self.config.max_message_size.unwrap_or(usize::MAX);
        let Ok(len) = usize::try_from(header.payload_len) else {
            return Err(too_big(header.payload_len, msg_limit));
        };
        let mode = if opcode.is_control() {
            if rsv1 {
                return Err(ProtocolError::UnexpectedRsv1 { opcode });
            }
            Mode::Control
        } else if opcode == OpCode::Continuation {
            let Some(msg) = self.msg.as_mut() else {
                return Err(ProtocolError::UnexpectedContinuation);
            };
            if rsv1 {
                return Err(ProtocolError::UnexpectedRsv1 { opcode });
            }
            msg.fragments += 1;
            if msg.fragments > self.config.max_fragments {
                return Err(ProtocolError::TooManyFragments {
                    limit: self.config.max_fragments,
                });
            }
            if len == 0 && !header.fin {
                msg.empty_run += 1;
                if msg.empty_run > self.config.max_empty_fragments {
                    return Err(ProtocolError::TooManyEmptyFragments {
                        limit: self.config.max_empty_fragments,
                    });
                }
            } else {
                msg.empty_run = 0;
            }
            msg.size += header.payload_len;
            if !msg.compressed && msg.size > msg_limit as u64 {
                return Err(too_big(msg.size, msg_limit));
            }
            Mode::Stream
        } else {
            if self.msg.is_some() {
                return Err(ProtocolError::ExpectedContinuation);
            }
            if rsv1 && !self.negotiated.compression() {
                // The decoder refuses RSV1 already; kept for defence in depth.
                return Err(ProtocolError::UnexpectedRsv1 { opcode });
            }
            if !rsv1 && len > msg_limit {
                return Err(too_big(header.payload_len, msg_limit));
            }
            self.utf8.reset();
            let text = opcode == OpCode::Text;
            if header.fin && !rsv1 {
                Mode::Single
            } else {
                self.msg = Some(InMessage {
                    text,
                    compressed: rsv1,
                    buf: Vec::new(),
                    size: header.payload_len,
                    fragments: 1,
                    empty_run: usize::from(len == 0 && !header.fin),
                });
                Mode::Stream
            }
        };
        self.rbuf.advance(header_len);
        self.frame = Some(InFrame {
            opcode,
            fin: header.fin,
            mask: header.mask,
            len,
            pos: 0,
            mode,
        });
        Ok(())
    }

    /// Processes the payload bytes of `self.frame` that have arrived. Returns a message when
    /// one is complete; clears `self.frame` when the frame is complete.
    fn read_payload(&mut self) -> Result<Option<Message>, ProtocolError> {
        let Some(mut frame) = self.frame else {
            return Ok(None);
        };
        match frame.mode {
            Mode::Control | Mode::Single => {
                let end = frame.len.min(self.rbuf.len());
                if end > frame.pos {
                    let chunk = &mut self.rbuf[frame.pos..end];
                    if let Some(key) = frame.mask {
                        apply_mask(chunk, key, frame.pos);
                    }
                    if frame.mode == Mode::Single && frame.opcode == OpCode::Text {
                        self.utf8
                            .feed(chunk)
                            .map_err(|_| ProtocolError::InvalidUtf8)?;
                    }
                    frame.pos = end;
                }
                if frame.pos < frame.len {
                    self.frame = Some(frame);
                    return Ok(None);
                }
                self.frame = None;
                let payload = if self.rbuf.len() == frame.len && frame.len > TAKE_MIN {
                    // The frame is all that is buffered (the common case): the message takes
                    // the whole buffer, with no reference count to share, and is freed
                    // when the user drops it. The next read gets fresh (cache-hot) memory.
                    std::mem::take(&mut self.rbuf).freeze()
                } else {
                    let payload = self.rbuf.split_to(frame.len).freeze();
                    self.release_idle_input();
                    payload
                };
                if frame.mode == Mode::Control {
                    return self.on_control(frame.opcode, payload);
                }
                if frame.opcode == OpCode::Text {
                    self.utf8.finish().map_err(|_| ProtocolError::InvalidUtf8)?;
                    Ok(Some(Message::Text(Utf8Bytes::from_validated(payload))))
                } else {
                    Ok(Some(Message::Binary(payload)))
                }
            }
            Mode::Stream => {
                let n = (frame.len - frame.pos).min(self.rbuf.len());
                let last = frame.pos + n == frame.len;
                if n > 0 || last {
                    let chunk = &mut self.rbuf[..n];
                    if let Some(key) = frame.mask {
                        apply_mask(chunk, key, frame.pos);
                    }
                    let Some(msg) = self.msg.as_mut() else {
                        // Unreachable: Stream frames belong to a message.
                        self.frame = None;
                        return Ok(None);
                    };
                    if msg.compressed {
                        #[cfg(feature = "deflate")]
                        {
                            let before = msg.buf.len();
                            inflate(
                                self.deflate.as_deref_mut(),
                                chunk,
                                frame.fin && last,
                                &mut msg.buf,
                                self.config.max_message_size,
                            )?;
                            if msg.text {
                                self.utf8
                                    .feed(&msg.buf[before..])
                                    .map_err(|_| ProtocolError::InvalidUtf8)?;
                            }
                        }
                    } else {
                        if msg.text {
                            self.utf8
                                .feed(chunk)
                                .map_err(|_| ProtocolError::InvalidUtf8)?;
                        }
                        // Room for what the frames so far announced (checked against the
                        // limit), or twice what is buffered, never past the limit: a
                        // fragmented message grows with its frames, not straight to the limit
                        // (a fresh mapping of 64 MiB per message costs a page fault per 4 KiB
                        // written, and never returns to the allocator's reusable memory).
                        let limit = self.config.max_message_size.unwrap_or(usize::MAX);
                        let announced = usize::try_from(msg.size).unwrap_or(usize::MAX);
                        let needed = msg.buf.len().saturating_add(chunk.len());
                        let bound = announced.max(needed.saturating_mul(2)).min(limit);
                        reserve_bounded(&mut msg.buf, chunk.len(), bound.max(needed));
                        msg.buf.extend_from_slice(chunk);
                    }
                    self.rbuf.advance(n);
                    frame.pos += n;
                }
                if !last {
                    self.frame = Some(frame);
                    return Ok(None);
                }
                self.frame = None;
                if !frame.fin {
                    return Ok(None);
                }
                let Some(msg) = self.msg.take() else {
                    return Ok(None);
                };
                self.release_idle_input();
                let payload = freeze_vec(msg.buf);
                if msg.text {
                    self.utf8.finish().map_err(|_| ProtocolError::InvalidUtf8)?;
                    Ok(Some(Message::Text(Utf8Bytes::from_validated(payload))))
                } else {
                    Ok(Some(Message::Binary(payload)))
                }
            }
        }
    }

    /// Handles a complete control frame.
    fn on_control(
        &mut self,
        opcode: OpCode,
        payload: Bytes,
    ) -> Result<Option<Message>, ProtocolError> {
        match opcode {
            OpCode::Ping => {
                if self.is_open() {
                    self.queue_pong(payload.clone());
                }
                Ok(Some(Message::Ping(payload)))
            }
            OpCode::Pong => {
                if self.timers.pong_deadline.is_some()
                    && payload.as_ref() == self.timers.ping_payload.as_slice()
                {
                    self.timers.pong_deadline = None;
                }
                Ok(Some(Message::Pong(payload)))
            }
            OpCode::Close => {
                let frame = parse_close(&payload)?;
                trace::debug!(
                    in &self.span,
                    code = frame.as_ref().map(|f| f.code.as_u16()),
                    reason_len = frame.as_ref().map_or(0, |f| f.reason.len()),
                    "close received"
                );
                self.received_close = true;
                self.peer_close.clone_from(&frame);
                self.frame = None;
                self.msg = None;
                self.rbuf.clear();
                self.timers.close_arm_pending = false;
                self.timers.close_deadline = None;
                if !self.sent_close {
                    self.flush_owed_pongs(true);
                    let code = frame.as_ref().map(|f| f.code);
                    self.write_close(code, "");
                }
                Ok(Some(Message::Close(frame)))
            }
            // Data opcodes never reach here (`Mode::Control` is for control opcodes only).
            _ => Ok(None),
        }
    }

    /// Fails the connection for a peer fault: queues our close frame (unless one was sent
    /// or the code may not be sent) and closes the connection.
    fn fail(&mut self, e: ProtocolError) -> Error {
        let code = e.close_code();
        trace::warn!(
            in &self.span,
            error = %e,
            close_code = code.as_u16(),
            "the peer broke the protocol: failing the connection"
        );
        if !self.sent_close && code.is_sendable() {
            self.owed_pongs.clear();
            self.write_close(Some(code), e.close_reason());
        }
        self.terminate();
        Error::from(e)
    }

    /// Drops all receive state: the connection is over.
    pub(super) fn terminate(&mut self) {
        self.failed = true;
        self.frame = None;
        self.msg = None;
        self.rbuf = BytesMut::new();
        self.owed_pongs.clear();
        self.timers.close_arm_pending = false;
        self.timers.close_deadline = None;
        self.timers.next_ping = None;
        self.timers.pong_deadline = None;
    }
}

/// Parses and validates a close frame payload (RFC 6455 §5.5.1, §7.4).
fn parse_close(payload: &Bytes) -> Result<Option<CloseFrame>, ProtocolError> {
    match payload.as_ref() {
        [] => Ok(None),
        [_] => Err(ProtocolError::InvalidClosePayload),
        [a, b, ..] => {
            let code = CloseCode::new(u16::from_be_bytes([*a, *b]));
            if !code.is_sendable() {
                return Err(ProtocolError::InvalidCloseCode(code.as_u16()));
            }
            let reason = Utf8Bytes::try_from(payload.slice(2..))
                .map_err(|_| ProtocolError::InvalidCloseReason)?;
            Ok(Some(CloseFrame { code, reason }))
        }
    }
}

/// Inflates one piece of a compressed message into `out`.
#[cfg(feature = "deflate")]
fn inflate(
    deflate: Option<&mut Deflate>,
    input: &[u8],
    fin: bool,
    out: &mut Vec<u8>,
    max: Option<usize>,
) -> Result<(), ProtocolError> {
    let Some(deflate) = deflate else {
        // Unreachable: RSV1 is refused unless deflate was negotiated.
        return Err(ProtocolError::BadCompressedData(
            "permessage-deflate was not negotiated".to_owned(),
        ));
    };
    let limit = max.unwrap_or(usize::MAX);
    match deflate.decompress(input, fin, out, limit) {
        Ok(()) if out.len() > limit => Err(ProtocolError::MessageTooBig {
            size: out.len() as u64,
            limit,
        }),
        Ok(()) => Ok(()),
        Err(DeflateError::TooBig { limit }) => Err(ProtocolError::MessageTooBig {
            size: (out.len() as u64).max(limit as u64 + 1),
            limit,
        }),
        Err(DeflateError::Corrupt(detail)) => Err(ProtocolError::BadCompressedData(detail)),
        #[allow(unreachable_patterns)]
        Err(e) => Err(ProtocolError::BadCompressedData(e.to_string())),
    }
}
